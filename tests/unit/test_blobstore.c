/* fs/store/blobstore: seed 001's BlobStore surface on a volume. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "fs/store/blobstore.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;

static void setup(void)
{
	tu_fixture_open(&fx, 4096);
}

static void teardown(void)
{
	tu_fixture_close(&fx);
}

TestSuite(blobstore, .init = setup, .fini = teardown);

static struct mfs_vtxn *w(void)
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	return t;
}

static void make_blob(uint8_t *blob, size_t len, uint8_t id[32], uint64_t seed)
{
	tu_fill_random(blob, len, seed);
	mfs_blob_id(id, blob, len);
}

Test(blobstore, put_verifies_get_has_stats)
{
	uint8_t blob[5000], id[32], bad_id[32], *got;
	struct mfs_blob_stats st;
	struct mfs_vtxn *t = w();
	size_t len;
	int what;

	make_blob(blob, sizeof blob, id, 1);
	memcpy(bad_id, id, 32);
	bad_id[0] ^= 1;
	cr_assert_eq(mfs_blob_put(t, bad_id, blob, sizeof blob, 1, &what), MFS_E_CORRUPT,
		     "a blob must match its id");
	cr_assert_eq(mfs_blob_has(t, bad_id), 0);
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 1, &what), 0);
	cr_assert_eq(what, MFS_BLOB_ADDED | MFS_BLOB_PINNED_NOW);
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 1, &what), 0);
	cr_assert_eq(what, MFS_BLOB_PINNED_NOW, "a second put stores nothing, adds a pin");
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	cr_assert_eq(mfs_blob_has(t, id), 1);
	cr_assert_eq(mfs_blob_get(t, id, &got, &len), 0);
	cr_assert_eq(len, sizeof blob);
	cr_assert_arr_eq(got, blob, len);
	free(got);
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.count, 1);
	cr_assert_eq(st.bytes, sizeof blob);
	cr_assert_eq(st.pinned_bytes, sizeof blob);
	cr_assert_eq(mfs_blob_pin_count(t, id), 2, "two references");
	mfs_vtxn_abort(t);
}

/* A checked put keeps the leaves it hashed to check the id: the slots hold
 * the id's leaves, as a seeder sends them. */
Test(blobstore, a_put_keeps_the_leaves_it_checked)
{
	const size_t len = 2 * MFS_BLOB_LEAF_BYTES + 100, n = mfs_blob_leaf_count(len);
	uint8_t *blob = malloc(len), id[32], want[3 * 32], *got, *leaves;
	struct mfs_vtxn *t = w();
	size_t got_len;

	cr_assert_eq(n, 3);
	tu_fill_random(blob, len, 4);
	mfs_blob_id_leaves(id, want, blob, len);
	cr_assert_eq(mfs_blob_put(t, id, blob, len, 1, NULL), 0);
	cr_assert_eq(mfs_blob_restore(t, id, blob, len), 0, "written again from the same bytes");
	cr_assert_eq(mfs_blob_get_leaves(t, id, &got, &got_len, &leaves), 0);
	cr_assert_eq(got_len, len);
	cr_assert_arr_eq(got, blob, len);
	cr_assert_arr_eq(leaves, want, n * 32);
	free(got);
	free(leaves);
	blob[len - 1] ^= 1;
	cr_assert_eq(mfs_blob_restore(t, id, blob, len), MFS_E_CORRUPT);
	mfs_vtxn_abort(t);
	free(blob);
}

Test(blobstore, pins_are_references)
{
	uint8_t blob[3000], id[32];
	struct mfs_blob_stats st;
	struct mfs_vtxn *t = w();

	make_blob(blob, sizeof blob, id, 77);
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 1, NULL), 0); /* file A */
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 1, NULL), 0); /* file B, same chunk */
	cr_assert_eq(mfs_blob_unpin(t, id), 0);                            /* A deleted */
	cr_assert_eq(mfs_blob_pin_count(t, id), 1, "still B's");
	cr_assert_eq(mfs_blob_set_cap(t, 0), 0);
	cr_assert_eq(mfs_blob_has(t, id), 1, "a pinned blob is never evicted");
	cr_assert_eq(mfs_blob_unpin(t, id), 0);                            /* B deleted */
	cr_assert_eq(mfs_blob_has(t, id), 0, "unpinned under a zero cap: evicted");
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.pinned_bytes, 0);
	cr_assert_eq(mfs_blob_put(t, id, blob, sizeof blob, 0, NULL), 0);
	cr_assert_eq(mfs_blob_set_cap(t, 1u << 20), 0);
	cr_assert_eq(mfs_blob_unpin(t, id), -EINVAL, "no pin to take away");
	mfs_vtxn_commit(t);
}

Test(blobstore, lru_evicts_unpinned_only)
{
	uint8_t blob[10][3000], id[10][32];
	struct mfs_blob_stats st;
	struct mfs_vtxn *t = w();

	cr_assert_eq(mfs_blob_set_cap(t, 3 * 3000), 0);
	for (int i = 0; i < 4; i++) {
		make_blob(blob[i], 3000, id[i], 100 + (uint64_t)i);
		cr_assert_eq(mfs_blob_put(t, id[i], blob[i], 3000, i == 0, NULL), 0);
	}
	/* 0 pinned; 1,2,3 cached = 9000 bytes, at the cap. Use 1, then add 4. */
	cr_assert_eq(mfs_blob_touch(t, id[1]), 0);
	make_blob(blob[4], 3000, id[4], 104);
	cr_assert_eq(mfs_blob_put(t, id[4], blob[4], 3000, 0, NULL), 0);
	cr_assert_eq(mfs_blob_has(t, id[2]), 0, "least recently used goes first");
	cr_assert_eq(mfs_blob_has(t, id[1]), 1, "touched survives");
	cr_assert_eq(mfs_blob_has(t, id[0]), 1, "pinned survives");
	cr_assert_eq(mfs_blob_has(t, id[3]), 1);
	cr_assert_eq(mfs_blob_has(t, id[4]), 1);
	cr_assert_eq(mfs_blob_pin(t, id[3]), 0);
	cr_assert_eq(mfs_blob_unpin(t, id[0]), 0);
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.pinned_bytes, 3000);
	cr_assert_leq(st.bytes - st.pinned_bytes, 3 * 3000);
	cr_assert_eq(mfs_blob_set_cap(t, 0), 0);
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.count, 1, "cap 0 leaves only the pinned one");
	cr_assert_eq(mfs_blob_has(t, id[3]), 1);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

static int count_cb(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins)
{
	(void)id;
	(void)size;
	(void)pins;
	++*(int *)ctx;
	return 0;
}

Test(blobstore, table_grows_and_finds_everything, .timeout = 120)
{
	enum { N = 2200 };
	static uint8_t ids[N][32];
	struct mfs_vtxn *t = w();
	uint8_t blob[64];
	int seen = 0;

	for (int i = 0; i < N; i++) {
		make_blob(blob, sizeof blob, ids[i], 1000 + (uint64_t)i);
		cr_assert_eq(mfs_blob_put(t, ids[i], blob, sizeof blob, 1, NULL), 0, "put %d", i);
		if (i % 500 == 499) {
			cr_assert_eq(mfs_vtxn_commit(t), 0);
			t = w();
		}
	}
	cr_assert_geq(mfs_vtxn_sb(t)->bucket_count, 2, "the table doubled");
	for (int i = 0; i < N; i++)
		cr_assert_eq(mfs_blob_pin_count(t, ids[i]), 1, "blob %d after growth", i);
	cr_assert_eq(mfs_blob_foreach(t, count_cb, &seen), 0);
	cr_assert_eq(seen, N);
	cr_assert_eq(mfs_blob_delete(t, ids[5]), 0);
	cr_assert_eq(mfs_blob_has(t, ids[5]), 0);
	cr_assert_eq(mfs_blob_delete(t, ids[5]), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}
