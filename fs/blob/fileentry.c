#include "fs/blob/fileentry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

uint32_t mfs_index_fanout(uint32_t chunk_size)
{
	return (chunk_size - MFS_INDEX_HEADER) / MFS_INDEX_RECORD;
}

int mfs_entry_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= MFS_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

static uint64_t chunks_for(uint64_t size, uint32_t chunk_size)
{
	return size / chunk_size + (size % chunk_size ? 1 : 0);
}

static json_t *ref_json(const struct mfs_chunk_ref *r)
{
	char id[2 * MFS_BLOB_ID_BYTES + 1], key[2 * MFS_CHUNK_KEY_BYTES + 1];
	json_t *j;

	mfs_hex_encode(id, r->id, MFS_BLOB_ID_BYTES);
	mfs_hex_encode(key, r->key, MFS_CHUNK_KEY_BYTES);
	j = json_pack("{s:s, s:s, s:I}", "id", id, "key", key, "length", (json_int_t)r->length);
	mfs_memzero(key, sizeof key);
	return j;
}

int mfs_entry_to_json(json_t **out, const struct mfs_file_entry *e)
{
	json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:I}", "chunkSize", (json_int_t)e->chunk_size,
			      "mode", e->mode == MFS_MODE_CONVERGENT ? "convergent" : "random",
			      "mtime", (json_int_t)e->mtime, "name", e->name, "size",
			      (json_int_t)e->size);
	int rc = 0;

	if (!j)
		return -ENOMEM;
	if (e->index_depth > 0) {
		json_t *idx = ref_json(&e->index);

		if (!idx || json_object_set_new(idx, "depth", json_integer(e->index_depth)) != 0 ||
		    json_object_set_new(j, "index", idx) != 0)
			rc = -ENOMEM;
	} else {
		json_t *arr = json_array();

		for (uint64_t i = 0; arr && i < e->chunk_count && rc == 0; i++)
			if (json_array_append_new(arr, ref_json(&e->chunks[i])) != 0)
				rc = -ENOMEM;
		if (!arr || json_object_set_new(j, "chunks", arr) != 0)
			rc = -ENOMEM;
	}
	if (rc != 0) {
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

static int bad(char *why, size_t why_len, const char *what)
{
	if (why && why_len)
		snprintf(why, why_len, "file entry: %s", what);
	return MFS_E_FORMAT;
}

static int ref_from_json(struct mfs_chunk_ref *r, const json_t *j, size_t extra_fields)
{
	const json_t *id = json_object_get(j, "id"), *key = json_object_get(j, "key");
	const json_t *len = json_object_get(j, "length");

	if (!json_is_object(j) || json_object_size(j) != 3 + extra_fields || !json_is_string(id) ||
	    !json_is_string(key) || !json_is_integer(len) || json_integer_value(len) < 1 ||
	    json_integer_value(len) > MFS_CHUNK_SIZE_MAX)
		return MFS_E_FORMAT;
	if (mfs_hex_decode(r->id, MFS_BLOB_ID_BYTES, json_string_value(id)) != 0 ||
	    mfs_hex_decode(r->key, MFS_CHUNK_KEY_BYTES, json_string_value(key)) != 0)
		return MFS_E_FORMAT;
	r->length = (uint32_t)json_integer_value(len);
	return 0;
}

int mfs_entry_from_json(struct mfs_file_entry *out, const json_t *json, char *why,
			size_t why_len)
{
	const json_t *name = json_object_get(json, "name"), *size = json_object_get(json, "size");
	const json_t *mtime = json_object_get(json, "mtime"), *cs = json_object_get(json, "chunkSize");
	const json_t *mode = json_object_get(json, "mode"), *chunks = json_object_get(json, "chunks");
	const json_t *index = json_object_get(json, "index");
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (!json_is_object(json) || json_object_size(json) != 6)
		return bad(why, why_len, "expected exactly chunkSize, chunks|index, mode, mtime, name, size");
	if (!json_is_string(name) || !mfs_entry_name_valid(json_string_value(name)))
		return bad(why, why_len, "'name' must be a file name (no '/', not . or ..)");
	if (!json_is_integer(size) || json_integer_value(size) < 0 || !json_is_integer(mtime))
		return bad(why, why_len, "'size' and 'mtime' must be integers, size >= 0");
	if (!json_is_integer(cs) || json_integer_value(cs) > MFS_CHUNK_SIZE_MAX ||
	    !mfs_chunk_size_valid((size_t)json_integer_value(cs)))
		return bad(why, why_len, "'chunkSize' must be a power of two from 64 KiB to 16 MiB");
	if (!json_is_string(mode) || (strcmp(json_string_value(mode), "convergent") != 0 &&
				      strcmp(json_string_value(mode), "random") != 0))
		return bad(why, why_len, "'mode' must be \"convergent\" or \"random\"");
	strcpy(out->name, json_string_value(name));
	out->size = (uint64_t)json_integer_value(size);
	out->mtime = (int64_t)json_integer_value(mtime);
	out->chunk_size = (uint32_t)json_integer_value(cs);
	out->mode = strcmp(json_string_value(mode), "convergent") == 0 ? MFS_MODE_CONVERGENT
								       : MFS_MODE_RANDOM;
	out->chunk_count = chunks_for(out->size, out->chunk_size);
	if (chunks) {
		if (!json_is_array(chunks) || json_array_size(chunks) != out->chunk_count ||
		    out->chunk_count > MFS_ENTRY_INLINE_MAX)
			return bad(why, why_len, "'chunks' must list ceil(size / chunkSize) chunks (at most 32)");
		out->chunks = mfs_secure_alloc((out->chunk_count ? out->chunk_count : 1) *
					       sizeof *out->chunks);
		if (!out->chunks)
			return -ENOMEM;
		for (uint64_t i = 0; i < out->chunk_count && rc == 0; i++) {
			uint64_t want = i + 1 < out->chunk_count ? out->chunk_size
								 : out->size - i * out->chunk_size;

			rc = ref_from_json(&out->chunks[i], json_array_get(chunks, i), 0);
			if (rc == 0 && out->chunks[i].length != want)
				rc = MFS_E_FORMAT;
		}
		if (rc != 0) {
			mfs_entry_clear(out);
			return bad(why, why_len, "a chunk has a bad id, key or length");
		}
		return 0;
	}
	if (!index || out->chunk_count <= MFS_ENTRY_INLINE_MAX)
		return bad(why, why_len, "'index' goes with files of more than 32 chunks, 'chunks' with the others");
	{
		const json_t *depth = json_object_get(index, "depth");

		if (!json_is_integer(depth) || json_integer_value(depth) < 1 ||
		    json_integer_value(depth) > MFS_INDEX_MAX_DEPTH ||
		    ref_from_json(&out->index, index, 1) != 0 ||
		    out->index.length > out->chunk_size)
			return bad(why, why_len, "'index' must be {depth, id, key, length}");
		out->index_depth = (uint32_t)json_integer_value(depth);
	}
	return 0;
}

void mfs_entry_clear(struct mfs_file_entry *e)
{
	if (!e)
		return;
	mfs_secure_free(e->chunks);
	mfs_memzero(e, sizeof *e);
}

int mfs_entry_copy(struct mfs_file_entry *out, const struct mfs_file_entry *e)
{
	*out = *e;
	out->chunks = NULL;
	if (e->chunks) {
		size_t bytes = (e->chunk_count ? e->chunk_count : 1) * sizeof *e->chunks;

		out->chunks = mfs_secure_alloc(bytes);
		if (!out->chunks) {
			mfs_memzero(out, sizeof *out);
			return -ENOMEM;
		}
		memcpy(out->chunks, e->chunks, e->chunk_count * sizeof *e->chunks);
	}
	return 0;
}

int mfs_chunk_read(const struct mfs_blob_source *src, const struct mfs_chunk_ref *ref, size_t off,
		   size_t len, uint8_t *out)
{
	uint8_t *blob = NULL;
	size_t blob_len;
	int rc;

	if (off > ref->length || len > ref->length - off)
		return MFS_E_FORMAT;
	rc = src->get(src->ctx, ref->id, &blob, &blob_len);
	if (rc != 0)
		return rc;
	rc = mfs_chunk_open_blob(ref, blob, blob_len, off, len, out);
	free(blob);
	return rc;
}

int mfs_chunk_open_blob(const struct mfs_chunk_ref *ref, const uint8_t *blob, size_t blob_len,
			size_t off, size_t len, uint8_t *out)
{
	if (off > ref->length || len > ref->length - off)
		return MFS_E_FORMAT;
	/* A blob too short for the chunk it should hold is damaged. */
	if (mfs_blob_padded_len(blob_len) < mfs_chunk_padded_len(ref->length))
		return MFS_E_CORRUPT;
	return mfs_chunk_open_range(out, blob, blob_len, off, len, ref->key);
}

struct level_cache {
	int valid;
	uint64_t node_no;   /* which node of this level */
	uint32_t count;
	uint8_t *plain;     /* node plaintext, guarded */
};

struct mfs_chunk_cursor {
	const struct mfs_file_entry *entry;
	struct mfs_blob_source src;
	uint32_t fanout;
	struct level_cache level[MFS_INDEX_MAX_DEPTH];
};

int mfs_chunk_cursor_new(struct mfs_chunk_cursor **out, const struct mfs_file_entry *e,
			 const struct mfs_blob_source *src)
{
	struct mfs_chunk_cursor *c = calloc(1, sizeof *c);

	if (!c)
		return -ENOMEM;
	c->entry = e;
	c->src = *src;
	c->fanout = mfs_index_fanout(e->chunk_size);
	*out = c;
	return 0;
}

void mfs_chunk_cursor_free(struct mfs_chunk_cursor *c)
{
	if (!c)
		return;
	for (int i = 0; i < MFS_INDEX_MAX_DEPTH; i++)
		mfs_secure_free(c->level[i].plain);
	free(c);
}

static void ref_decode(struct mfs_chunk_ref *r, const uint8_t *p)
{
	memcpy(r->id, p, MFS_BLOB_ID_BYTES);
	memcpy(r->key, p + MFS_BLOB_ID_BYTES, MFS_CHUNK_KEY_BYTES);
	r->length = (uint32_t)mfs_le_get(p + MFS_BLOB_ID_BYTES + MFS_CHUNK_KEY_BYTES, 4);
}

/* Loads node node_no of level l from ref into the cache. */
static int load_node(struct mfs_chunk_cursor *c, uint32_t l, uint64_t node_no,
		     const struct mfs_chunk_ref *ref)
{
	struct level_cache *lc = &c->level[l];
	uint32_t count;
	int rc;

	if (ref->length < MFS_INDEX_HEADER || ref->length > c->entry->chunk_size)
		return MFS_E_CORRUPT;
	if (!lc->plain && !(lc->plain = mfs_secure_alloc(c->entry->chunk_size)))
		return -ENOMEM;
	lc->valid = 0;
	rc = mfs_chunk_read(&c->src, ref, 0, ref->length, lc->plain);
	if (rc != 0)
		return rc;
	count = (uint32_t)mfs_le_get(lc->plain + 4, 4);
	if (lc->plain[0] != l || lc->plain[1] || lc->plain[2] || lc->plain[3] || count == 0 ||
	    count > c->fanout || ref->length != MFS_INDEX_HEADER + (uint64_t)count * MFS_INDEX_RECORD)
		return MFS_E_CORRUPT;
	lc->count = count;
	lc->node_no = node_no;
	lc->valid = 1;
	return 0;
}

int mfs_chunk_cursor_get(struct mfs_chunk_cursor *c, uint64_t index, struct mfs_chunk_ref *out)
{
	const struct mfs_file_entry *e = c->entry;
	uint64_t span[MFS_INDEX_MAX_DEPTH + 1];
	struct mfs_chunk_ref ref;
	uint32_t depth = e->index_depth;

	if (index >= e->chunk_count)
		return MFS_E_FORMAT;
	if (depth == 0) {
		*out = e->chunks[index];
		return 0;
	}
	/* span[l] = chunks under one node of level l. */
	span[0] = c->fanout;
	for (uint32_t l = 1; l <= depth; l++)
		span[l] = span[l - 1] > UINT64_MAX / c->fanout ? UINT64_MAX : span[l - 1] * c->fanout;
	if (index >= span[depth - 1])
		return MFS_E_CORRUPT; /* the tree is too shallow for this file */
	ref = e->index;
	for (uint32_t l = depth; l-- > 0;) {
		struct level_cache *lc = &c->level[l];
		uint64_t node_no = index / span[l];
		uint64_t slot = l == 0 ? index % c->fanout : (index / span[l - 1]) % c->fanout;
		int rc = 0;

		if (!lc->valid || lc->node_no != node_no)
			rc = load_node(c, l, node_no, &ref);
		if (rc != 0)
			return rc;
		if (slot >= lc->count)
			return MFS_E_CORRUPT;
		ref_decode(&ref, lc->plain + MFS_INDEX_HEADER + slot * MFS_INDEX_RECORD);
	}
	{
		uint64_t want = index + 1 < e->chunk_count ? e->chunk_size
							   : e->size - index * e->chunk_size;

		if (ref.length != want)
			return MFS_E_CORRUPT;
	}
	*out = ref;
	mfs_memzero(&ref, sizeof ref);
	return 0;
}

/* Names node ref, then (level >= 0: it is an index node of that level) all
 * it refers to. */
static int walk(const struct mfs_file_entry *e, const struct mfs_blob_source *src,
		const struct mfs_chunk_ref *ref, int level,
		int (*fn)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES]), void *ctx)
{
	uint8_t *node;
	uint32_t count;
	int rc = fn(ctx, ref->id);

	if (rc != 0 || level < 0)
		return rc;
	if (ref->length < MFS_INDEX_HEADER || ref->length > e->chunk_size)
		return MFS_E_CORRUPT;
	node = mfs_secure_alloc(ref->length);
	if (!node)
		return -ENOMEM;
	rc = mfs_chunk_read(src, ref, 0, ref->length, node);
	count = rc == 0 ? (uint32_t)mfs_le_get(node + 4, 4) : 0;
	if (rc == 0 && (node[0] != level ||
			ref->length != MFS_INDEX_HEADER + (uint64_t)count * MFS_INDEX_RECORD))
		rc = MFS_E_CORRUPT;
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		struct mfs_chunk_ref child;

		ref_decode(&child, node + MFS_INDEX_HEADER + (size_t)i * MFS_INDEX_RECORD);
		rc = walk(e, src, &child, level - 1, fn, ctx);
		mfs_memzero(&child, sizeof child);
	}
	mfs_secure_free(node);
	return rc;
}

int mfs_entry_foreach_blob(const struct mfs_file_entry *e, const struct mfs_blob_source *src,
			   int (*fn)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES]),
			   void *ctx)
{
	int rc = 0;

	if (e->index_depth > 0)
		return walk(e, src, &e->index, (int)e->index_depth - 1, fn, ctx);
	for (uint64_t i = 0; rc == 0 && i < e->chunk_count; i++)
		rc = fn(ctx, e->chunks[i].id);
	return rc;
}
