/* fs/fuse/lookup: the file at a path of a channel's newest manifest, as a
 * mount shows it; the manifests are published with no mount
 * (mfs_fs_publish_item), a file's pins taken over from its sink. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/magnet.h"
#include "fs/fuse/fs.h"
#include "fs/fuse/lookup.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static uint8_t pk[MFS_SIGN_PK_BYTES];

static void setup(void)
{
	tu_fixture_open(&fx, 512);
	tu_channel_new(fx.vol, pk);
}

static void teardown(void)
{
	tu_fixture_close(&fx);
}

TestSuite(lookup, .init = setup, .fini = teardown, .timeout = 300);

/* Publishes len bytes of seed as dir/name with no mount; the file's first
 * blob into first_blob. */
static void publish_file(const char *dir, const char *name, size_t len, uint64_t seed,
			 uint8_t first_blob[MFS_BLOB_ID_BYTES])
{
	struct mfs_volume_sink sink;
	struct mfs_file_entry e;
	json_t *item;

	mfs_volume_sink_init(&sink, fx.vol, 1);
	tu_ingest_random(&sink, name, len, seed, &e);
	cr_assert_eq(mfs_volume_sink_commit(&sink), 0);
	cr_assert_eq(mfs_entry_to_json(&item, &e), 0);
	cr_assert_eq(mfs_fs_publish_item(fx.vol, pk, dir, item, &sink, NULL), 0);
	mfs_volume_sink_clear(&sink);
	memcpy(first_blob, e.chunks[0].id, MFS_BLOB_ID_BYTES);
	json_decref(item);
	mfs_entry_clear(&e);
}

Test(lookup, finds_files_by_path_and_nothing_else)
{
	static const char magnet[] = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"
				     "&dn=linux.iso";
	struct mfs_file_entry e = {0};
	uint8_t blob[MFS_BLOB_ID_BYTES];
	char why[160];
	json_t *item;

	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "a.bin", &e, why, sizeof why), MFS_E_NOTFOUND,
		     "no manifest yet");
	publish_file("Season 1", "a.bin", 100000, 1, blob);
	cr_assert_eq(tu_pin_count(fx.vol, blob), 1, "the manifest took the sink's pin over");
	cr_assert_not_null(item = json_string(magnet));
	cr_assert_eq(mfs_fs_publish_item(fx.vol, pk, "", item, NULL, NULL), 0);
	json_decref(item);

	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "Season 1/a.bin", &e, why, sizeof why), 0);
	cr_assert_str_eq(e.name, "a.bin");
	cr_assert_eq(e.size, 100000);
	cr_assert_eq(memcmp(e.chunks[0].id, blob, sizeof blob), 0);
	mfs_entry_clear(&e);
	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "Season 1", &e, NULL, 0), MFS_E_NOTFOUND,
		     "a directory is no file");
	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "linux.iso.magnet", &e, NULL, 0), MFS_E_NOTFOUND,
		     "nor a magnet link");
	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "a.bin", &e, NULL, 0), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "Season 1/a.bin/x", &e, NULL, 0), MFS_E_NOTFOUND);
}

Test(lookup, a_file_published_again_at_its_path_is_the_new_one)
{
	struct mfs_file_entry e = {0};
	uint8_t first[MFS_BLOB_ID_BYTES], second[MFS_BLOB_ID_BYTES];

	publish_file("", "f", 5000, 1, first);
	publish_file("", "f", 7000, 2, second);
	cr_assert_eq(mfs_lookup_entry(fx.vol, pk, "f", &e, NULL, 0), 0);
	cr_assert_eq(e.size, 7000);
	cr_assert_eq(memcmp(e.chunks[0].id, second, sizeof second), 0);
	mfs_entry_clear(&e);
	cr_assert_eq(tu_pin_count(fx.vol, second), 1);
	cr_assert_lt(tu_pin_count(fx.vol, first), 1, "the replaced file's blob is unpinned");
}
