#include "fs/blob/ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

struct index_level {
	uint8_t *node;   /* guarded: header + records (they hold keys) */
	uint32_t count;
};

struct mfs_ingest {
	struct mfs_ingest_opts opts;
	uint8_t convergence[32];
	struct mfs_blob_sink sink;
	char name[MFS_NAME_MAX + 1];
	uint8_t *chunk;        /* guarded, chunk_size bytes of plaintext */
	size_t filled;
	uint8_t *blob;         /* one sealed blob */
	uint64_t size;
	uint64_t chunk_count;
	uint32_t fanout;
	struct mfs_chunk_ref *inline_refs; /* guarded, first MFS_ENTRY_INLINE_MAX refs */
	struct index_level level[MFS_INDEX_MAX_DEPTH];
};

static void ingest_free(struct mfs_ingest *w)
{
	if (!w)
		return;
	mfs_secure_free(w->chunk);
	free(w->blob);
	mfs_secure_free(w->inline_refs);
	for (int i = 0; i < MFS_INDEX_MAX_DEPTH; i++)
		mfs_secure_free(w->level[i].node);
	mfs_memzero(w->convergence, sizeof w->convergence);
	free(w);
}

int mfs_ingest_begin(struct mfs_ingest **out, const char *name, const struct mfs_ingest_opts *o,
		     const struct mfs_blob_sink *sink)
{
	struct mfs_ingest *w;
	uint32_t cs = o->chunk_size ? o->chunk_size : MFS_CHUNK_SIZE_DEFAULT;

	if (!mfs_chunk_size_valid(cs) || !mfs_entry_name_valid(name) ||
	    (o->mode == MFS_MODE_CONVERGENT && !o->convergence))
		return MFS_E_FORMAT;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->opts = *o;
	w->opts.chunk_size = cs;
	w->opts.convergence = NULL;
	if (o->convergence)
		memcpy(w->convergence, o->convergence, sizeof w->convergence);
	w->sink = *sink;
	strcpy(w->name, name);
	w->fanout = mfs_index_fanout(cs);
	w->chunk = mfs_secure_alloc(cs);
	w->blob = malloc(mfs_blob_len(cs));
	w->inline_refs = mfs_secure_alloc(MFS_ENTRY_INLINE_MAX * sizeof *w->inline_refs);
	if (!w->chunk || !w->blob || !w->inline_refs) {
		ingest_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

/* Seals plain into a blob, hands it to the sink and describes it in ref. */
static int emit_blob(struct mfs_ingest *w, const uint8_t *plain, size_t len,
		     struct mfs_chunk_ref *ref)
{
	size_t blob_len = mfs_blob_len(mfs_chunk_padded_len(len));

	if (w->opts.mode == MFS_MODE_CONVERGENT)
		mfs_chunk_key_convergent(ref->key, plain, len, w->convergence);
	else
		mfs_chunk_key_random(ref->key);
	mfs_chunk_seal(w->blob, plain, len, ref->key);
	mfs_blob_id(ref->id, w->blob, blob_len);
	ref->length = (uint32_t)len;
	return w->sink.put(w->sink.ctx, ref->id, w->blob, blob_len);
}

static int push_ref(struct mfs_ingest *w, uint32_t l, const struct mfs_chunk_ref *ref);

/* Seals the node of level l as an index blob and pushes its ref upward. */
static int flush_level(struct mfs_ingest *w, uint32_t l)
{
	struct index_level *lv = &w->level[l];
	struct mfs_chunk_ref ref;
	size_t len = MFS_INDEX_HEADER + (size_t)lv->count * MFS_INDEX_RECORD;
	int rc;

	lv->node[0] = (uint8_t)l;
	memset(lv->node + 1, 0, 3);
	mfs_le_put(lv->node + 4, lv->count, 4);
	rc = emit_blob(w, lv->node, len, &ref);
	lv->count = 0;
	if (rc == 0)
		rc = push_ref(w, l + 1, &ref);
	mfs_memzero(&ref, sizeof ref);
	return rc;
}

static int push_ref(struct mfs_ingest *w, uint32_t l, const struct mfs_chunk_ref *ref)
{
	struct index_level *lv;
	uint8_t *p;

	if (l >= MFS_INDEX_MAX_DEPTH)
		return -EFBIG;
	lv = &w->level[l];
	if (!lv->node && !(lv->node = mfs_secure_alloc(w->opts.chunk_size)))
		return -ENOMEM;
	p = lv->node + MFS_INDEX_HEADER + (size_t)lv->count * MFS_INDEX_RECORD;
	memcpy(p, ref->id, MFS_BLOB_ID_BYTES);
	memcpy(p + MFS_BLOB_ID_BYTES, ref->key, MFS_CHUNK_KEY_BYTES);
	mfs_le_put(p + MFS_BLOB_ID_BYTES + MFS_CHUNK_KEY_BYTES, ref->length, 4);
	if (++lv->count == w->fanout)
		return flush_level(w, l);
	return 0;
}

static int seal_chunk(struct mfs_ingest *w)
{
	struct mfs_chunk_ref ref;
	int rc = emit_blob(w, w->chunk, w->filled, &ref);

	if (rc == 0 && w->chunk_count < MFS_ENTRY_INLINE_MAX)
		w->inline_refs[w->chunk_count] = ref;
	if (rc == 0)
		rc = push_ref(w, 0, &ref);
	mfs_memzero(&ref, sizeof ref);
	w->chunk_count++;
	w->filled = 0;
	return rc;
}

int mfs_ingest_write(struct mfs_ingest *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t n = w->opts.chunk_size - w->filled;

		if (n > len)
			n = len;
		memcpy(w->chunk + w->filled, p, n);
		w->filled += n;
		w->size += n;
		p += n;
		len -= n;
		if (w->filled == w->opts.chunk_size)
			rc = seal_chunk(w);
	}
	return rc;
}

/* Closes the index tree bottom up; the root is the first level above the
 * leaves that holds a single ref with nothing above it. */
static int finish_index(struct mfs_ingest *w, struct mfs_file_entry *e)
{
	for (uint32_t l = 0; l < MFS_INDEX_MAX_DEPTH; l++) {
		int above = 0;
		int rc;

		for (uint32_t m = l + 1; m < MFS_INDEX_MAX_DEPTH; m++)
			above |= w->level[m].count != 0;
		if (l > 0 && !above && w->level[l].count == 1) {
			const uint8_t *p = w->level[l].node + MFS_INDEX_HEADER;

			memcpy(e->index.id, p, MFS_BLOB_ID_BYTES);
			memcpy(e->index.key, p + MFS_BLOB_ID_BYTES, MFS_CHUNK_KEY_BYTES);
			e->index.length = (uint32_t)mfs_le_get(p + 64, 4);
			e->index_depth = l;
			return 0;
		}
		if (w->level[l].count > 0) {
			rc = flush_level(w, l);
			if (rc != 0)
				return rc;
		}
	}
	return -EFBIG;
}

int mfs_ingest_finish(struct mfs_ingest *w, int64_t mtime, struct mfs_file_entry *out)
{
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (w->filled > 0)
		rc = seal_chunk(w);
	if (rc == 0) {
		strcpy(out->name, w->name);
		out->size = w->size;
		out->mtime = mtime;
		out->chunk_size = w->opts.chunk_size;
		out->mode = w->opts.mode;
		out->chunk_count = w->chunk_count;
		if (w->chunk_count <= MFS_ENTRY_INLINE_MAX) {
			out->chunks = mfs_secure_alloc((w->chunk_count ? w->chunk_count : 1) *
						       sizeof *out->chunks);
			if (!out->chunks)
				rc = -ENOMEM;
			else
				memcpy(out->chunks, w->inline_refs,
				       w->chunk_count * sizeof *out->chunks);
		} else {
			rc = finish_index(w, out);
		}
	}
	if (rc != 0)
		mfs_entry_clear(out);
	ingest_free(w);
	return rc;
}

void mfs_ingest_abort(struct mfs_ingest *w)
{
	ingest_free(w);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mfs_extract_fd(const struct mfs_file_entry *e, const struct mfs_blob_source *src, int fd)
{
	struct mfs_chunk_cursor *cur = NULL;
	struct mfs_chunk_ref ref;
	uint8_t *plain = mfs_secure_alloc(e->chunk_size);
	int rc = plain ? mfs_chunk_cursor_new(&cur, e, src) : -ENOMEM;

	for (uint64_t i = 0; rc == 0 && i < e->chunk_count; i++) {
		rc = mfs_chunk_cursor_get(cur, i, &ref);
		if (rc == 0)
			rc = mfs_chunk_read(src, &ref, 0, ref.length, plain);
		if (rc == 0)
			rc = write_all(fd, plain, ref.length);
	}
	mfs_memzero(&ref, sizeof ref);
	mfs_chunk_cursor_free(cur);
	mfs_secure_free(plain);
	return rc;
}
