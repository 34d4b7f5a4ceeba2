/* index: the index blobs of a large file (fs/blob/fileentry.h), read by
 * mfs_chunk_cursor_get and mfs_entry_foreach_blob.
 *
 *   byte 0       depth of the tree, 1 + (byte % MFS_INDEX_MAX_DEPTH)
 *   bytes 1-8    the file's size, little-endian (made to need more than
 *                MFS_ENTRY_INLINE_MAX chunks of 64 KiB)
 *   bytes 9-16   a chunk number the cursor looks up (besides first, last)
 *   then nodes   each a u16 little-endian length and that many bytes of
 *                index node plaintext (header and 68-byte records), at
 *                most MAX_NODES of them
 *
 * The entry is made through mfs_entry_from_json, as a manifest's would be.
 * Index nodes are sealed under one fixed key; every record's key field is
 * set to it before sealing (a record with another key only fails to open,
 * which teaches nothing). The blob source hands out the nodes in the order
 * they are asked for, whatever id is asked, then says "not found". A
 * chunk the cursor finds must have the length its place in the file says.
 * Each node is sealed once per input, when first asked for, and handed out
 * as a copy after that: the four walks ask for the same nodes, and sealing
 * was nine tenths of the target's time (550 runs/s). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "tests/fuzz/fuzz.h"

#define CHUNK_SIZE MFS_CHUNK_SIZE_MIN
#define MAX_NODES 16

struct nodes {
	const uint8_t *data[MAX_NODES];
	size_t len[MAX_NODES];
	uint8_t *sealed[MAX_NODES];
	size_t sealed_len[MAX_NODES];
	size_t count, next;
	uint8_t key[MFS_CHUNK_KEY_BYTES];
};

static int seal_node(struct nodes *n, size_t i)
{
	uint8_t *copy;
	size_t plain_len = n->len[i];

	if (!(copy = malloc(plain_len)))
		return -ENOMEM;
	memcpy(copy, n->data[i], plain_len);
	for (size_t off = MFS_INDEX_HEADER; off + MFS_INDEX_RECORD <= plain_len;
	     off += MFS_INDEX_RECORD)
		memcpy(copy + off + MFS_BLOB_ID_BYTES, n->key, MFS_CHUNK_KEY_BYTES);
	n->sealed_len[i] = mfs_blob_len(mfs_chunk_padded_len(plain_len));
	n->sealed[i] = malloc(n->sealed_len[i]);
	if (n->sealed[i])
		mfs_chunk_seal(n->sealed[i], copy, plain_len, n->key);
	free(copy);
	return n->sealed[i] ? 0 : -ENOMEM;
}

static int get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
	       size_t *len)
{
	struct nodes *n = ctx;
	size_t i;
	int rc;

	(void)id;
	if (n->next >= n->count)
		return MFS_E_NOTFOUND;
	i = n->next++;
	if (n->len[i] == 0 || n->len[i] > CHUNK_SIZE)
		return MFS_E_NOTFOUND;
	if (!n->sealed[i] && (rc = seal_node(n, i)) != 0)
		return rc;
	if (!(*blob = malloc(n->sealed_len[i])))
		return -ENOMEM;
	memcpy(*blob, n->sealed[i], n->sealed_len[i]);
	*len = n->sealed_len[i];
	return 0;
}

static int count_blob(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	(void)id;
	++*(uint64_t *)ctx;
	return 0;
}

static int entry_of(struct mfs_file_entry *e, uint32_t depth, uint64_t size, size_t root_len,
		    const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	char hex[2 * MFS_CHUNK_KEY_BYTES + 1], why[160];
	json_t *json;
	int rc;

	mfs_hex_encode(hex, key, MFS_CHUNK_KEY_BYTES);
	json = json_pack("{s:I, s:{s:I, s:s, s:s, s:I}, s:s, s:I, s:s, s:I}", "chunkSize",
			 (json_int_t)CHUNK_SIZE, "index", "depth", (json_int_t)depth, "id", hex,
			 "key", hex, "length", (json_int_t)root_len, "mode", "random", "mtime",
			 (json_int_t)0, "name", "f", "size", (json_int_t)size);
	if (!json)
		abort();
	rc = mfs_entry_from_json(e, json, why, sizeof why);
	json_decref(json);
	return rc;
}

static void look_up(const struct mfs_file_entry *e, struct nodes *n, uint64_t index)
{
	struct mfs_blob_source src = {.get = get, .ctx = n};
	struct mfs_chunk_cursor *c;
	struct mfs_chunk_ref ref;
	uint64_t want;

	n->next = 0;
	if (mfs_chunk_cursor_new(&c, e, &src) != 0)
		abort();
	if (mfs_chunk_cursor_get(c, index, &ref) == 0) {
		want = index + 1 < e->chunk_count ? e->chunk_size : e->size - index * e->chunk_size;
		if (index >= e->chunk_count || ref.length != want)
			abort();
	}
	mfs_chunk_cursor_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nodes n = {.count = 0};
	struct mfs_file_entry e;
	struct mfs_blob_source src = {.get = get, .ctx = &n};
	uint64_t file_size, index, named = 0;
	uint32_t depth;

	if (mfs_crypto_init() != 0)
		abort();
	if (size < 17)
		return 0;
	depth = 1 + data[0] % MFS_INDEX_MAX_DEPTH;
	file_size = mfs_le_get(data + 1, 8) & INT64_MAX;
	if (file_size <= (uint64_t)MFS_ENTRY_INLINE_MAX * CHUNK_SIZE)
		file_size += (uint64_t)MFS_ENTRY_INLINE_MAX * CHUNK_SIZE + 1;
	index = mfs_le_get(data + 9, 8);
	for (size_t off = 17; off + 2 <= size && n.count < MAX_NODES;) {
		size_t len = (size_t)mfs_le_get(data + off, 2);

		off += 2;
		if (len > size - off)
			len = size - off;
		n.data[n.count] = data + off;
		n.len[n.count++] = len;
		off += len;
	}
	if (n.count == 0 || n.len[0] == 0)
		return 0;
	memset(n.key, 0x5a, sizeof n.key);
	if (entry_of(&e, depth, file_size, n.len[0], n.key) != 0)
		return 0;
	look_up(&e, &n, 0);
	look_up(&e, &n, e.chunk_count - 1);
	look_up(&e, &n, index % e.chunk_count);
	n.next = 0;
	mfs_entry_foreach_blob(&e, &src, count_blob, &named);
	mfs_entry_clear(&e);
	for (size_t i = 0; i < n.count; i++)
		free(n.sealed[i]);
	return 0;
}
