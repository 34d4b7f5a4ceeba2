/* fs/store/volmap: format 6 of a volume, held to golden vectors made once
 * from fixed keys (tests/vectors/volume-format-6.txt; slot-format-5.bin: a
 * sealed slot of 17 pages),
 * so a silent change of slot ids, candidates, the superblock, map pages or
 * the slot seal fails here. MFS_WRITE_VECTORS=1 writes the files instead
 * (only when the format changes on purpose, with a new version). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/secure.h"
#include "fs/store/volmap.h"
#include "tests/unit/testutil.h"

#ifndef MFS_SOURCE_DIR
#define MFS_SOURCE_DIR "."
#endif
#define VECTORS MFS_SOURCE_DIR "/tests/vectors/volume-format-6.txt"
#define SLOT_VECTOR MFS_SOURCE_DIR "/tests/vectors/slot-format-5.bin"

static struct vol_keys *fixed_keys(void)
{
	struct vol_keys *k = mfs_secure_alloc(sizeof *k);

	cr_assert_not_null(k);
	for (int i = 0; i < 32; i++)
		k->master[i] = (uint8_t)(i + 1);
	volmap_keys_from_master(k);
	return k;
}

static void slot_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k, const void *name,
		     size_t len, uint32_t index)
{
	struct volmap_obj o;

	volmap_obj_init(&o, k, name, len);
	volmap_obj_vid(vid, k, &o, index);
}

static void hex_line(FILE *out, const char *label, const uint8_t *b, size_t len)
{
	char *hex = malloc(2 * len + 1);

	mfs_hex_encode(hex, b, len);
	fprintf(out, "%s %s\n", label, hex);
	free(hex);
}

/* Every deterministic output of the format, one line each. */
static char *format_lines(size_t *len)
{
	struct vol_keys *k = fixed_keys();
	struct side sd;
	struct view *v = volmap_view_new(2);
	struct page *p = volmap_page_new(3);
	uint8_t vid[VID_BYTES], *payload = calloc(1, MFS_SLOT_PAYLOAD), digest[32];
	const char *names[] = {"\0keyring", "\0protect", "\0bt\0\0\0\0"};
	const size_t name_lens[] = {8, 8, 7};
	char *text;
	FILE *out = open_memstream(&text, len);

	for (int n = 0; n < 3; n++)
		for (uint32_t i = 0; i < 2; i++) {
			char label[32];

			slot_vid(vid, k, names[n], name_lens[n], i);
			snprintf(label, sizeof label, "slot_id_%d_%u", n, i);
			hex_line(out, label, vid, sizeof vid);
		}
	volmap_meta_vid(vid, k, "superblock", 0);
	hex_line(out, "superblock_id", vid, sizeof vid);
	volmap_meta_vid(vid, k, "map", 1);
	hex_line(out, "map_id_1", vid, sizeof vid);
	volmap_side_init(&sd, k, 4096);
	fprintf(out, "candidates_4096");
	for (unsigned j = 0; j < sd.ncand; j++)
		fprintf(out, " %u", sd.cand[j]);
	fprintf(out, "\n");
	/* A map page and a superblock naming it. */
	for (uint32_t i = 0; i < 3; i++) {
		memset(p->e[i].vid, 0, VID_BYTES);
		p->e[i].vid[0] = 1; /* bucket 1 of 2 */
		p->e[i].vid[15] = (uint8_t)i;
		p->e[i].pos = 100 + i;
		p->e[i].gen = 7 + i;
	}
	p->pos[0] = 42;
	p->gen = 0x1122334455ull;
	v->pages[1] = p;
	v->gen = 0x123456789abull;
	v->sb = (struct mfs_superblock){.blob_count = 3, .blob_bytes = 4, .pinned_bytes = 5,
					.cache_cap = 6, .tick = 7, .bucket_count = 8};
	v->entries = 3;
	volmap_page_encode(payload, p);
	hex_line(out, "map_page_head", payload, PAGE_HEAD + 3 * ENTRY_BYTES);
	mfs_blob_id(digest, payload, MFS_SLOT_PAYLOAD);
	hex_line(out, "map_page_digest", digest, sizeof digest);
	volmap_sb_encode(payload, v);
	hex_line(out, "superblock_head", payload, SB_HEAD + 2 * SB_DIR_BYTES(1));
	mfs_blob_id(digest, payload, MFS_SLOT_PAYLOAD);
	hex_line(out, "superblock_digest", digest, sizeof digest);
	/* A redundant volume: copies of each map page (16 in a small map),
	 * parity slots. */
	v->redundant = 1;
	v->copies = MAP_COPIES;
	for (unsigned c = 1; c < volmap_copies(v); c++)
		p->pos[c] = 42 + c;
	volmap_sb_encode(payload, v);
	hex_line(out, "redundant_superblock_head", payload, SB_HEAD + 2 * SB_DIR_BYTES(volmap_copies(v)));
	slot_vid(vid, k, names[0], name_lens[0], 0x80000000u | 1);
	hex_line(out, "parity_slot_id_0_1", vid, sizeof vid);
	fclose(out);
	volmap_view_unref(v);
	free(payload);
	mfs_secure_free(k);
	return text;
}

Test(volmap, ids_candidates_superblock_and_map_pages_match_the_golden_vectors)
{
	size_t len, want_len;
	char *got, *want;

	cr_assert_eq(mfs_crypto_init(), 0);
	got = format_lines(&len);
	if (getenv("MFS_WRITE_VECTORS")) {
		FILE *f = fopen(VECTORS, "w");

		cr_assert_not_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
	}
	want = (char *)tu_read_file(VECTORS, &want_len);
	cr_assert_not_null(want, "%s", VECTORS);
	cr_assert_eq(len, want_len, "got:\n%s", got);
	cr_assert_arr_eq(got, want, len, "got:\n%s", got);
	free(got);
	free(want);
}

/* A slot sealed once under the fixed keys (payload: object slot 0 of
 * "format 5", at generation 5): it must still open, to the same bytes. */
Test(volmap, a_slot_sealed_by_format_5_still_opens)
{
	struct vol_keys *k;
	struct mfs_store *s;
	uint8_t vid[VID_BYTES], *payload = calloc(1, MFS_SLOT_PAYLOAD);
	uint8_t *raw = malloc(MFS_SLOT_BYTES), *opened = malloc(MFS_SLOT_PAYLOAD), *golden;
	size_t len;
	char *dir;

	cr_assert_eq(mfs_crypto_init(), 0);
	k = fixed_keys();
	slot_vid(vid, k, "vector", 6, 0);
	payload[0] = 8; /* u64 length, then the bytes */
	memcpy(payload + 8, "format 5", 8);
	if (getenv("MFS_WRITE_VECTORS")) {
		FILE *f = fopen(SLOT_VECTOR, "wb");

		volmap_seal_slot(raw, payload, k, vid, 5);
		cr_assert_not_null(f);
		fwrite(raw, 1, MFS_SLOT_BYTES, f);
		fclose(f);
	}
	golden = tu_read_file(SLOT_VECTOR, &len);
	cr_assert_not_null(golden);
	cr_assert_eq(len, MFS_SLOT_BYTES);
	tu_store(&dir, 16);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_slot_write(s, 3, golden), 0);
	mfs_store_unlock(s);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 5, opened), 0);
	cr_assert_arr_eq(opened, payload, MFS_SLOT_PAYLOAD);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 6, opened), E_STALE,
		     "another generation does not open");
	slot_vid(vid, k, "vector", 6, 1);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 5, opened), E_STALE,
		     "nor another slot id");
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
	free(golden);
	free(payload);
	free(raw);
	free(opened);
	mfs_secure_free(k);
}

/* The superblock seeds of the volmap fuzz corpus (tests/fuzz/make_corpus.py)
 * with the verdict each must get: a copy count out of range, a directory
 * that does not fit, an outer volume with copies, format 3, are refused. */
Test(volmap, superblocks_with_a_bad_copy_count_are_refused)
{
	static const struct {
		const char *seed;
		int ok;
	} cases[] = {
		{"superblock", 1},
		{"superblock-redundant", 1},
		{"superblock-redundant-5", 1},
		{"superblock-bad-nb", 0},
		{"superblock-copies-0", 0},
		{"superblock-copies-17", 0},
		{"superblock-outer-copies-2", 1},
		{"superblock-outer-copies-3", 0},
		{"superblock-dir-too-big", 0},
		{"superblock-version-4", 0},
		{"superblock-version-5", 0},
	};
	uint8_t *payload = calloc(1, MFS_SLOT_PAYLOAD);

	cr_assert_not_null(payload);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[512];
		FILE *f;
		size_t n;

		snprintf(path, sizeof path, MFS_SOURCE_DIR "/tests/fuzz/corpus/volmap/%s",
			 cases[i].seed);
		f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		memset(payload, 0, MFS_SLOT_PAYLOAD);
		cr_assert_eq(fseek(f, 6, SEEK_SET), 0); /* the harness's head */
		n = fread(payload, 1, MFS_SLOT_PAYLOAD, f);
		fclose(f);
		cr_assert_gt(n, SB_HEAD);
		cr_assert_eq(volmap_sb_check(payload, 4096), cases[i].ok ? 0 : MFS_E_CORRUPT, "%s",
			     cases[i].seed);
	}
	free(payload);
}
