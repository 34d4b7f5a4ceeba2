/* fs/check/gc and fs/blob/pinlog: gc frees what a killed ingest pinned and
 * what nothing references, and never what a manifest, a pin or an ingest
 * at work still needs. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/ingest.h"
#include "fs/blob/pinlog.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/check/gc.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

#define CHUNK (64u << 10)

static struct tu_fixture fx;
static const uint8_t secret[32] = {5, 5};

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	tu_fixture_open(&fx, 2048);
}

static void teardown(void)
{
	tu_fixture_close(&fx);
}

TestSuite(gc, .init = setup, .fini = teardown, .timeout = 300);

static struct mfs_blob_stats blobs(void)
{
	struct mfs_blob_stats st;
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	mfs_blob_stats(t, &st);
	mfs_vtxn_abort(t);
	return st;
}

static struct mfs_gc_report gc(void)
{
	struct mfs_gc_report r;
	int rc = mfs_gc_volume(fx.vol, NULL, NULL, &r);

	cr_assert_eq(rc, 0, "gc: %s", mfs_strerror(rc));
	return r;
}

static size_t pinlogs(void)
{
	uint64_t *tokens;
	struct mfs_vtxn *t;
	size_t n;

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	cr_assert_eq(mfs_pinlog_tokens(t, &tokens, &n), 0);
	mfs_vtxn_abort(t);
	free(tokens);
	return n;
}

/* Starts an ingest of len bytes of seed into sink and writes them all,
 * every whole chunk in the sink (the caller may commit it); the caller
 * finishes it, or abandons it as a killed process would. */
static struct mfs_ingest *ingest_all(struct mfs_volume_sink *sink, size_t len, uint64_t seed)
{
	struct mfs_ingest_opts o = {.chunk_size = CHUNK, .mode = MFS_MODE_CONVERGENT,
				    .convergence = secret};
	struct mfs_blob_sink as;
	struct mfs_ingest *w;
	uint8_t *data = malloc(len);

	tu_fill_random(data, len, seed);
	mfs_volume_sink_init(sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(sink);
	cr_assert_eq(mfs_ingest_begin(&w, "file.bin", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write(w, data, len), 0);
	cr_assert_eq(mfs_ingest_flush(w), 0);
	free(data);
	return w;
}

/* A finished ingest: its entry kept by the caller, as `megafs ingest`. */
static void ingest_kept(size_t len, uint64_t seed, struct mfs_file_entry *e)
{
	struct mfs_volume_sink sink;
	struct mfs_ingest *w = ingest_all(&sink, len, seed);

	cr_assert_eq(mfs_ingest_finish(w, 0, e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
}

/* An ingest whose process dies after one committed batch. */
static void ingest_killed(size_t len, uint64_t seed)
{
	struct mfs_volume_sink sink;
	struct mfs_ingest *w = ingest_all(&sink, len, seed);

	cr_assert_eq(mfs_volume_sink_commit(&sink), 0);
	mfs_ingest_abort(w);
	mfs_volume_sink_clear(&sink); /* the claim goes, the pinlog stays */
}

static void extract_same(const struct mfs_file_entry *e, size_t len, uint64_t seed)
{
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	uint8_t *want = malloc(len), *got = malloc(CHUNK);

	tu_fill_random(want, len, seed);
	for (uint64_t i = 0; i < e->chunk_count; i++) {
		size_t n = e->chunks[i].length;

		cr_assert_eq(mfs_chunk_read(&src, &e->chunks[i], 0, n, got), 0, "chunk %lu reads",
			     (unsigned long)i);
		cr_assert_arr_eq(got, want + i * CHUNK, n, "chunk %lu is the file's", (unsigned long)i);
	}
	free(want);
	free(got);
}

/* Publishes e alone in a new channel owned by the fixture's volume. */
static void publish_entry(const struct mfs_file_entry *e)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	json_t *entry, *cols;

	tu_channel_new(fx.vol, pk);
	cr_assert_eq(mfs_entry_to_json(&entry, e), 0);
	cols = json_pack("[{s:[o], s:s}]", "items", entry, "title", "");
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_publish(t, pk, cols, 1700000000000ull, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	json_decref(cols);
}

Test(gc, a_killed_ingest_s_blobs_are_freed_and_a_finished_one_s_are_kept)
{
	struct mfs_file_entry kept;
	struct mfs_blob_stats before, killed, after;
	struct mfs_gc_report r;

	ingest_kept(20 * CHUNK + 100, 1, &kept);
	before = blobs();
	ingest_killed(30 * CHUNK, 2);
	killed = blobs();
	cr_assert_gt(killed.count, before.count, "the killed ingest committed a batch");
	cr_assert_eq(pinlogs(), 1, "and left its pinlog");
	r = gc();
	cr_assert_eq(r.pinlogs_dead, 1);
	cr_assert_eq(r.pinlogs_live, 0);
	cr_assert_eq(r.pins_dropped, killed.count - before.count);
	cr_assert_eq(r.blobs_freed, killed.count - before.count);
	cr_assert_eq(r.bytes_freed, killed.bytes - before.bytes);
	after = blobs();
	cr_assert_eq(after.count, before.count, "what the finished ingest pinned stays");
	cr_assert_eq(after.pinned_bytes, before.pinned_bytes);
	cr_assert_eq(pinlogs(), 0, "the pinlog is gone");
	extract_same(&kept, 20 * CHUNK + 100, 1);
	r = gc();
	cr_assert_eq(r.blobs_freed + r.pinlogs_dead + r.pins_dropped, 0, "a second gc frees nothing");
	cr_assert_eq(r.blobs_kept, before.count);
	mfs_entry_clear(&kept);
}

Test(gc, an_ingest_at_work_is_left_alone_and_leaves_no_pinlog_once_finished)
{
	struct mfs_volume_sink sink;
	struct mfs_file_entry e;
	struct mfs_gc_report r;
	struct mfs_ingest *w = ingest_all(&sink, 25 * CHUNK, 3);

	cr_assert_eq(mfs_volume_sink_commit(&sink), 0);
	r = gc();
	cr_assert_eq(r.pinlogs_live, 1, "its process holds the claim");
	cr_assert_eq(r.blobs_freed, 0);
	cr_assert_eq(mfs_ingest_finish(w, 0, &e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	cr_assert_eq(pinlogs(), 0, "finishing drops the pinlog with the last batch");
	mfs_volume_sink_clear(&sink);
	r = gc();
	cr_assert_eq(r.pinlogs_dead + r.blobs_freed, 0);
	extract_same(&e, 25 * CHUNK, 3);
	mfs_entry_clear(&e);
}

Test(gc, a_rolled_back_ingest_leaves_no_pinlog)
{
	struct mfs_volume_sink sink;
	struct mfs_ingest *w = ingest_all(&sink, 25 * CHUNK, 4);

	cr_assert_eq(mfs_volume_sink_commit(&sink), 0);
	cr_assert_eq(pinlogs(), 1);
	mfs_ingest_abort(w);
	cr_assert_eq(mfs_volume_sink_rollback(&sink), 0);
	mfs_volume_sink_clear(&sink);
	cr_assert_eq(pinlogs(), 0);
	cr_assert_eq(blobs().count, 0);
}

Test(gc, unpinned_blobs_go_unless_a_manifest_references_them)
{
	uint8_t blob[1000], ids[2][MFS_BLOB_ID_BYTES];
	struct mfs_file_entry e;
	struct mfs_gc_report r;
	struct mfs_vtxn *t;

	ingest_kept(3 * CHUNK, 5, &e);
	publish_entry(&e);
	/* Its blobs as cache only: a subscriber's, say. */
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	for (uint64_t i = 0; i < e.chunk_count; i++)
		cr_assert_eq(mfs_blob_unpin(t, e.chunks[i].id), 0);
	for (int i = 0; i < 2; i++) {
		tu_fill_random(blob, sizeof blob, 50 + i);
		mfs_blob_id(ids[i], blob, sizeof blob);
		cr_assert_eq(mfs_blob_put(t, ids[i], blob, sizeof blob, i, NULL), 0);
	}
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	r = gc();
	cr_assert_eq(r.blobs_freed, 1, "the unpinned blob nothing references");
	cr_assert_eq(r.bytes_freed, sizeof blob);
	cr_assert_eq(tu_pin_count(fx.vol, ids[0]), MFS_E_NOTFOUND);
	cr_assert_eq(tu_pin_count(fx.vol, ids[1]), 1,
		     "a pinned blob stays: an entry kept elsewhere may name it");
	extract_same(&e, 3 * CHUNK, 5);
	mfs_entry_clear(&e);
}

Test(gc, a_dead_pinlog_never_unpins_a_blob_a_manifest_references)
{
	struct mfs_file_entry e;
	struct mfs_gc_report r;

	ingest_kept(30 * CHUNK, 6, &e);
	publish_entry(&e);
	ingest_killed(30 * CHUNK, 6); /* the same file again: the same blobs */
	cr_assert_eq(tu_pin_count(fx.vol, e.chunks[0].id), 2);
	r = gc();
	cr_assert_eq(r.pinlogs_dead, 1);
	cr_assert_gt(r.pins_kept, 0);
	cr_assert_eq(r.pins_dropped, 0);
	cr_assert_eq(r.blobs_freed, 0);
	cr_assert_eq(tu_pin_count(fx.vol, e.chunks[0].id), 2,
		     "the pin stays: space, not correctness");
	extract_same(&e, 30 * CHUNK, 6);
	mfs_entry_clear(&e);
}

Test(gc, an_owned_file_whose_index_does_not_read_stops_gc_before_it_frees_anything)
{
	uint8_t blob[1000], id[MFS_BLOB_ID_BYTES];
	struct mfs_file_entry e;
	struct mfs_gc_report r;
	struct mfs_vtxn *t;

	ingest_kept((MFS_ENTRY_INLINE_MAX + 8) * CHUNK, 7, &e);
	cr_assert_gt(e.index_depth, 0, "the file has an index tree");
	publish_entry(&e);
	tu_fill_random(blob, sizeof blob, 70);
	mfs_blob_id(id, blob, sizeof blob);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 0, NULL), 0);
	cr_assert_eq(mfs_blob_delete(t, e.index.id), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_gc_volume(fx.vol, NULL, NULL, &r), MFS_E_CORRUPT);
	cr_assert_eq(r.blobs_freed, 0);
	cr_assert_eq(tu_pin_count(fx.vol, id), 0,
		     "the unreferenced blob is still there: nothing was freed");
	mfs_entry_clear(&e);
}

Test(gc, a_pinlog_of_several_pages_reads_back_whole_and_shrinks_page_by_page)
{
	const size_t n = 2 * MFS_PINLOG_PAGE_IDS + 10;
	uint8_t (*ids)[MFS_BLOB_ID_BYTES] = malloc(n * MFS_BLOB_ID_BYTES), (*back)[MFS_BLOB_ID_BYTES];
	struct mfs_vtxn *t;
	size_t got;

	tu_fill_random(ids, n * MFS_BLOB_ID_BYTES, 80);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_pinlog_write(t, 99, (const uint8_t(*)[MFS_BLOB_ID_BYTES])ids, 10, 0), 0);
	cr_assert_eq(mfs_pinlog_write(t, 99, (const uint8_t(*)[MFS_BLOB_ID_BYTES])ids, n, 10), 0);
	cr_assert_eq(mfs_pinlog_read(t, 99, &back, &got), 0);
	cr_assert_eq(got, n);
	cr_assert_arr_eq(back, ids, n * MFS_BLOB_ID_BYTES);
	free(back);
	cr_assert_eq(mfs_pinlog_write(t, 99, (const uint8_t(*)[MFS_BLOB_ID_BYTES])ids,
				      MFS_PINLOG_PAGE_IDS, n), 0);
	cr_assert_eq(mfs_pinlog_read(t, 99, &back, &got), 0);
	cr_assert_eq(got, MFS_PINLOG_PAGE_IDS, "one full page left, the others deleted");
	free(back);
	cr_assert_eq(mfs_pinlog_write(t, 99, NULL, 0, MFS_PINLOG_PAGE_IDS), 0);
	cr_assert_eq(mfs_pinlog_read(t, 99, &back, &got), 0);
	cr_assert_eq(got, 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(pinlogs(), 0);
	free(ids);
}
