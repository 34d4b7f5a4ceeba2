/* fs/check: a volume-wide check names damaged blobs by channel and file,
 * counts what parity rebuilt in a hidden volume, and writes it again. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/check/check.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

#define CHUNK 65536
#define BLOB_LEN 70000 /* two slots */

struct said {
	char text[4096];
};

static void collect(void *ctx, const char *line)
{
	struct said *s = ctx;

	strncat(s->text, line, sizeof s->text - strlen(s->text) - 2);
	strcat(s->text, "\n");
}

/* Stores n pinned random blobs and returns a file entry of n chunks
 * naming them (ids in ids). */
static json_t *file_of_blobs(struct mfs_volume *v, const char *name, unsigned n, uint64_t seed,
			     uint8_t ids[][MFS_BLOB_ID_BYTES])
{
	json_t *chunks = json_array();
	uint8_t *blob = malloc(BLOB_LEN);
	char hex[2 * MFS_BLOB_ID_BYTES + 1];
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	for (unsigned i = 0; i < n; i++) {
		tu_fill_random(blob, BLOB_LEN, seed + i);
		mfs_blob_id(ids[i], blob, BLOB_LEN);
		cr_assert_eq(mfs_blob_put(t, ids[i], blob, BLOB_LEN, 1, NULL), 0);
		mfs_hex_encode(hex, ids[i], MFS_BLOB_ID_BYTES);
		json_array_append_new(chunks, json_pack("{s:s, s:s, s:i}", "id", hex, "key",
							"00000000000000000000000000000000"
							"00000000000000000000000000000000",
							"length", CHUNK));
	}
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	free(blob);
	return json_pack("{s:i, s:o, s:s, s:i, s:s, s:I}", "chunkSize", CHUNK, "chunks", chunks,
			 "mode", "convergent", "mtime", 0, "name", name, "size",
			 (json_int_t)n * CHUNK);
}

/* A channel "Films" holding a.bin (3 blobs) and b.bin (1 blob). */
static void films(struct mfs_volume *v, uint8_t a[3][MFS_BLOB_ID_BYTES],
		  uint8_t b[1][MFS_BLOB_ID_BYTES])
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	json_t *cols;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_keyring_new_channel(t, "Films", pk), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cols = json_pack("[{s:[o, o], s:s}]", "items", file_of_blobs(v, "a.bin", 3, 100, a),
			 file_of_blobs(v, "b.bin", 1, 200, b), "title", "");
	cr_assert_not_null(cols);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_channel_publish(t, pk, cols, 1700000000000ull, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	json_decref(cols);
}

/* Writes random bytes over slot index of blob id. */
static void write_over_blob_slot(struct mfs_store *s, struct mfs_volume *v,
				 const uint8_t id[static MFS_BLOB_ID_BYTES], uint32_t index)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	struct mfs_vtxn *t;
	uint32_t pos;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_obj_slot_position(t, name, mfs_blob_object_name(name, id), index, &pos), 0);
	mfs_vtxn_abort(t);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_slot_wipe(s, pos), 0);
	mfs_store_unlock(s);
}

Test(check, a_damaged_blob_is_named_by_its_channel_and_file)
{
	struct tu_fixture f;
	uint8_t a[3][MFS_BLOB_ID_BYTES], b[1][MFS_BLOB_ID_BYTES];
	struct mfs_check_report r;
	struct said said = {{0}};

	cr_assert_eq(mfs_crypto_init(), 0);
	tu_fixture_open(&f, 256);
	films(f.vol, a, b);
	cr_assert_eq(mfs_check_volume(f.vol, 0, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.damaged, 0, "%s", said.text);
	cr_assert_eq(r.rebuilt, 0);
	cr_assert_geq(r.objects, 4 + 3, "keyring, table, manifest, four blobs");
	write_over_blob_slot(f.store, f.vol, a[1], 1);
	cr_assert_eq(mfs_check_volume(f.vol, 1, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.damaged, 1);
	cr_assert_eq(r.repaired, 0, "an outer volume has no parity to repair from");
	cr_assert_not_null(strstr(said.text, "damaged    channel \"Films\": a.bin (1 of its blobs)"),
			   "%s", said.text);
	cr_assert_null(strstr(said.text, "b.bin"), "%s", said.text);
	tu_fixture_close(&f);
}

/* A peer for the repair: it has blob a[1] of films() (seed 101) and sends
 * another blob's bytes for everything else. */
struct peer {
	uint8_t honest[MFS_BLOB_ID_BYTES];
	unsigned asked;
};

static int peer_fetch(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		      size_t *len)
{
	struct peer *p = ctx;

	p->asked++;
	*blob = malloc(BLOB_LEN);
	*len = BLOB_LEN;
	tu_fill_random(*blob, BLOB_LEN, memcmp(id, p->honest, MFS_BLOB_ID_BYTES) == 0 ? 101 : 999);
	return 0;
}

Test(check, repair_writes_damaged_blobs_again_from_a_peer_and_refuses_wrong_bytes)
{
	struct tu_fixture f;
	uint8_t a[3][MFS_BLOB_ID_BYTES], b[1][MFS_BLOB_ID_BYTES], id[MFS_BLOB_ID_BYTES], *got;
	struct mfs_check_report r;
	struct said said = {{0}};
	struct peer peer = {.asked = 0};
	const struct mfs_check_refetch from_peer = {.fetch = peer_fetch, .ctx = &peer};
	struct mfs_vtxn *t;
	size_t len;

	cr_assert_eq(mfs_crypto_init(), 0);
	tu_fixture_open(&f, 256);
	films(f.vol, a, b);
	memcpy(peer.honest, a[1], sizeof peer.honest);
	write_over_blob_slot(f.store, f.vol, a[1], 0);
	write_over_blob_slot(f.store, f.vol, b[0], 1);

	/* Without --repair nobody is asked. */
	cr_assert_eq(mfs_check_volume(f.vol, 0, &from_peer, collect, &said, &r), 0);
	cr_assert_eq(r.damaged, 2);
	cr_assert_eq(peer.asked, 0);

	said.text[0] = 0;
	cr_assert_eq(mfs_check_volume(f.vol, 1, &from_peer, collect, &said, &r), 0);
	cr_assert_eq(peer.asked, 2);
	cr_assert_eq(r.damaged, 2, "%s", said.text);
	cr_assert_eq(r.refetched, 1, "%s", said.text);
	cr_assert_not_null(strstr(said.text, "refetched  blob "), "%s", said.text);
	cr_assert_not_null(strstr(said.text, "not found  blob "), "%s", said.text);
	cr_assert_not_null(strstr(said.text, ": the bytes sent are not this blob, refused ("), "%s",
			   said.text);
	/* a.bin is whole again: only b.bin is named. */
	cr_assert_null(strstr(said.text, "a.bin"), "%s", said.text);
	cr_assert_not_null(strstr(said.text, "damaged    channel \"Films\": b.bin (1 of its blobs)"),
			   "%s", said.text);

	/* The blob reads back as it was, with its pin; the wrong bytes did not
	 * go in. */
	cr_assert_eq(mfs_vtxn_begin(f.vol, 0, &t), 0);
	cr_assert_eq(mfs_blob_get(t, a[1], &got, &len), 0);
	mfs_blob_id(id, got, len);
	cr_assert_arr_eq(id, a[1], MFS_BLOB_ID_BYTES);
	free(got);
	cr_assert_eq(mfs_blob_pin_count(t, a[1]), 1);
	cr_assert_eq(mfs_blob_get(t, b[0], &got, &len), MFS_E_CORRUPT);
	mfs_vtxn_abort(t);
	said.text[0] = 0;
	cr_assert_eq(mfs_check_volume(f.vol, 0, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.damaged, 1, "%s", said.text);

	/* A blob whose slot 0 (its length) is gone can still be deleted: the
	 * slots the map lists for it are freed, all of them. */
	{
		struct mfs_volume_stats before, after;

		write_over_blob_slot(f.store, f.vol, a[0], 0);
		cr_assert_eq(mfs_volume_stats(f.vol, &before), 0);
		cr_assert_eq(mfs_vtxn_begin(f.vol, 1, &t), 0);
		cr_assert_eq(mfs_blob_delete(t, a[0]), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
		cr_assert_eq(mfs_volume_stats(f.vol, &after), 0);
		cr_assert_geq(before.used_slots - after.used_slots, 2, "both of its slots freed");
	}
	tu_fixture_close(&f);
}

Test(check, a_hidden_volume_rebuilds_then_repairs_what_was_written_over)
{
	uint8_t a[3][MFS_BLOB_ID_BYTES], b[1][MFS_BLOB_ID_BYTES], *got;
	struct mfs_volume *outer, *hidden;
	struct mfs_check_report r;
	struct said said = {{0}};
	struct mfs_store *s;
	struct mfs_vtxn *t;
	size_t len;
	char *dir;

	cr_assert_eq(mfs_crypto_init(), 0);
	tu_store(&dir, 300);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	outer = tu_volume(s, "outer", NULL);
	mfs_volume_close(outer);
	hidden = tu_volume(s, "hidden", "outer");
	films(hidden, a, b);
	write_over_blob_slot(s, hidden, a[0], 0);
	write_over_blob_slot(s, hidden, b[0], MFS_OBJ_PARITY_INDEX | 2);
	cr_assert_eq(mfs_check_volume(hidden, 0, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.damaged, 0, "%s", said.text);
	cr_assert_eq(r.rebuilt, 2);
	cr_assert_eq(r.lost_slots, 2);
	cr_assert_eq(r.repaired, 0);
	cr_assert_eq(mfs_check_volume(hidden, 1, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.repaired, 2);
	cr_assert_eq(mfs_check_volume(hidden, 0, NULL, collect, &said, &r), 0);
	cr_assert_eq(r.rebuilt, 0, "written again, whole: %s", said.text);
	cr_assert_eq(r.lost_slots, 0);
	cr_assert_eq(mfs_vtxn_begin(hidden, 0, &t), 0);
	cr_assert_eq(mfs_blob_get(t, a[0], &got, &len), 0);
	cr_assert_eq(len, BLOB_LEN);
	{
		uint8_t id[MFS_BLOB_ID_BYTES];

		mfs_blob_id(id, got, len);
		cr_assert_arr_eq(id, a[0], MFS_BLOB_ID_BYTES, "the same bytes came back");
	}
	free(got);
	mfs_vtxn_abort(t);
	mfs_volume_close(hidden);
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
}
