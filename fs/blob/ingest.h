/* ingest: turns a byte stream into blobs and a FileEntry; extract undoes it.
 *
 * Streaming: mfs_ingest_write takes any amount of data and keeps at most 16
 * chunks of plaintext (guarded memory) and 16 blobs in flight (their
 * prepared form when the sink prepares), whatever the file size, so the same writer serves `megafs ingest` and writes through a
 * mount. The caller's thread only copies: sealing (key, encryption, blob id)
 * runs on worker threads, one per core up to four, and blobs reach the
 * mfs_blob_sink on a storer thread of the writer's own, in chunk order, so
 * a batch's disk writes overlap the sealing and the caller's next writes.
 * Between begin and finish (or abort) the sink is used by that thread
 * alone; afterwards by the caller again. Index blobs for files of more than
 * MFS_ENTRY_INLINE_MAX chunks are built as the data arrives. A writer is
 * used by one thread at a time. */
#ifndef MFS_INGEST_H
#define MFS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "fs/blob/fileentry.h"

struct mfs_blob_sink {
	int (*put)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *blob,
		   size_t len);
	/* Optional (prepare NULL: none). Work a sink can do on any thread,
	 * without its lock, before put: prepare writes at most
	 * prepared_bytes(blob_len) bytes for a blob of up to blob_len bytes;
	 * put_prepared then stores the blob from them alone (the blob's
	 * buffer is another's by then) on the caller's thread. It may keep
	 * the buffer (malloc'ed, of prepared_cap bytes) rather than copy it:
	 * on return *prepared holds a buffer of prepared_cap bytes that is
	 * the caller's (to free()), the same or another. Ingest runs
	 * prepare on its workers, so a store's sealing runs in parallel.
	 * prepare is given the id's leaves (mfs_blob_id_leaves) with the id. */
	size_t (*prepared_bytes)(void *ctx, size_t blob_len);
	void (*prepare)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *leaves,
			const uint8_t *blob, size_t len, uint8_t *prepared);
	int (*put_prepared)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len,
			    uint8_t **prepared, size_t prepared_cap);
	void *ctx;
};

struct mfs_ingest_opts {
	uint32_t chunk_size;              /* 0: MFS_CHUNK_SIZE_DEFAULT */
	enum mfs_key_mode mode;
	const uint8_t *convergence;       /* 32-byte secret; required for convergent */
};

struct mfs_ingest;

int mfs_ingest_begin(struct mfs_ingest **out, const char *name, const struct mfs_ingest_opts *o,
		     const struct mfs_blob_sink *sink);
int mfs_ingest_write(struct mfs_ingest *w, const void *buf, size_t len);
/* mfs_ingest_write of everything fd reads until its end (through guarded
 * memory: the bytes are plaintext). 0, -errno of a read, or the write's. */
int mfs_ingest_write_fd(struct mfs_ingest *w, int fd);
/* Waits until every whole chunk written so far is in the sink: until the
 * next write, the caller may use the sink (commit what it gathered). */
int mfs_ingest_flush(struct mfs_ingest *w);
/* Seals the last chunk and the index; fills *out (mfs_entry_clear it) and
 * frees w whatever the result. */
int mfs_ingest_finish(struct mfs_ingest *w, int64_t mtime, struct mfs_file_entry *out);
void mfs_ingest_abort(struct mfs_ingest *w); /* NULL-safe */

/* Writes the whole file of entry e, from blobs of src, to fd (a file or a
 * pipe: written in order). On one thread per core (at most 4) when src is
 * concurrent, else on the caller's alone: each thread reads a chunk's blob,
 * opens it and writes it when the chunks before it are written; the source
 * is asked a few chunks ahead. The first error in file order (a blob
 * missing or damaged, a chunk that does not open, a failed write) stops
 * them all: every chunk before it is written, nothing of it or after. */
int mfs_extract_fd(const struct mfs_file_entry *e, const struct mfs_blob_source *src, int fd);

#endif
