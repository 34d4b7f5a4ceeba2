/* fileentry: what a manifest says of one file, and how to find its chunks.
 *
 *   {"chunkSize":N,"chunks":[{"id":HEX,"key":HEX,"length":N},...],
 *    "mode":"convergent"|"random","mtime":S,"name":"...","size":N}
 *
 * A file of more than MFS_ENTRY_INLINE_MAX chunks carries, instead of
 * "chunks", "index":{"depth":D,"id":HEX,"key":HEX,"length":N}: the root of a
 * tree of index blobs, sealed like chunks, each holding up to
 * mfs_index_fanout() 68-byte records (id, key, u32 length) after an 8-byte
 * header (u8 level, 3 zero bytes, u32 count). Level-0 records are chunks;
 * higher ones are index blobs. So a manifest stays small however large the
 * file, and chunk i is found in D blob reads (fewer with a cursor's cache).
 *
 * Blobs come from a mfs_blob_source: the local volume now, peers later. */
#ifndef MFS_FILEENTRY_H
#define MFS_FILEENTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/chunk.h"
#include "crypto/hash.h"

#define MFS_ENTRY_INLINE_MAX 32
#define MFS_INDEX_MAX_DEPTH 8
#define MFS_INDEX_HEADER 8
#define MFS_INDEX_RECORD (MFS_BLOB_ID_BYTES + MFS_CHUNK_KEY_BYTES + 4)
#define MFS_NAME_MAX 255

enum mfs_key_mode { MFS_MODE_CONVERGENT, MFS_MODE_RANDOM };

struct mfs_chunk_ref {
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint8_t key[MFS_CHUNK_KEY_BYTES];
	uint32_t length; /* plaintext bytes of the chunk or index node */
};

struct mfs_file_entry {
	char name[MFS_NAME_MAX + 1];
	uint64_t size;
	int64_t mtime;
	uint32_t chunk_size;
	enum mfs_key_mode mode;
	uint64_t chunk_count;          /* ceil(size / chunk_size) */
	struct mfs_chunk_ref *chunks;  /* guarded memory; chunk_count refs, or NULL */
	uint32_t index_depth;          /* 0 when chunks are inline */
	struct mfs_chunk_ref index;    /* root of the index tree when depth > 0 */
};

struct mfs_blob_source {
	/* Fills *blob (malloc'ed, caller frees) with the blob's bytes. */
	int (*get)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		   size_t *len);
	/* Optional (NULL): asks ahead for a blob of len bytes that get will
	 * be asked for soon, without waiting. */
	void (*prefetch)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len);
	void *ctx;
	/* get may run on several threads at once (a volume's source: each
	 * call its own transaction); else one call at a time. */
	int concurrent;
};

uint32_t mfs_index_fanout(uint32_t chunk_size);
/* 1 when name is a valid file name (non-empty, no '/', not . or ..). */
int mfs_entry_name_valid(const char *name);

int mfs_entry_to_json(json_t **out, const struct mfs_file_entry *e);
/* Validates and decodes; MFS_E_FORMAT with a reason in why. */
int mfs_entry_from_json(struct mfs_file_entry *out, const json_t *json, char *why,
			size_t why_len);
void mfs_entry_clear(struct mfs_file_entry *e); /* wipes keys; NULL-safe */
/* A deep copy (its own guarded chunk list). */
int mfs_entry_copy(struct mfs_file_entry *out, const struct mfs_file_entry *e);

/* Finds chunk refs, caching one decoded index node per level. */
struct mfs_chunk_cursor;
int mfs_chunk_cursor_new(struct mfs_chunk_cursor **out, const struct mfs_file_entry *e,
			 const struct mfs_blob_source *src);
void mfs_chunk_cursor_free(struct mfs_chunk_cursor *c);
/* MFS_E_CORRUPT when an index blob is inconsistent; MFS_E_AUTH when one does
 * not open with its key. */
int mfs_chunk_cursor_get(struct mfs_chunk_cursor *c, uint64_t index, struct mfs_chunk_ref *out);

/* Calls fn once per blob reference of the file, index blobs included (a
 * chunk that appears twice is named twice: pins are references). */
int mfs_entry_foreach_blob(const struct mfs_file_entry *e, const struct mfs_blob_source *src,
			   int (*fn)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES]),
			   void *ctx);

/* Opens bytes [off, off+len) of chunk ref, whose blob (blob_len bytes) is
 * at blob, into out: MFS_E_CORRUPT for a blob too short for the chunk,
 * MFS_E_AUTH for one its key does not open. */
int mfs_chunk_open_blob(const struct mfs_chunk_ref *ref, const uint8_t *blob, size_t blob_len,
			size_t off, size_t len, uint8_t *out);

/* Opens bytes [off, off+len) of chunk ref from src into out. */
int mfs_chunk_read(const struct mfs_blob_source *src, const struct mfs_chunk_ref *ref, size_t off,
		   size_t len, uint8_t *out);

#endif
