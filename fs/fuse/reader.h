/* reader: reading files of a channel, byte ranges at a time, for the mount.
 *
 * A read fetches only the chunks, and within them only the 64 KiB segments,
 * it needs: a 4 KiB read decrypts one segment. Decrypted segments live in a
 * bounded LRU (guarded memory, grown 1 MiB at a time as reads need it, up
 * to cache_bytes), so memory stays bounded whatever the file sizes and
 * small when little is read; a segment another thread is loading is
 * waited for, never decrypted twice.
 * Sequential reads make worker threads load the next readahead_chunks
 * chunks whole (asking the disk early for the queued ones' slots); a seek
 * serves the wanted segment first (on the reader's own thread) and drops
 * read-ahead queued for the old position.
 *
 * Blobs come from, in order: the session cache (blobs fetched this mount),
 * the volume (pinned or cached blobs), then the fetcher, the seam where the
 * network plugs in (NULL: a missing blob is an error, MFS_E_NOTFOUND). A
 * fetched blob is checked against its id before anything uses it; with
 * the fetcher's fetch_segment, a read takes its segments as they arrive
 * (each checked against the blob's hash list) instead of waiting for the
 * whole blob.
 * Every one of those sources shows its bytes authentic before the reader
 * sees them (the volume's and the session cache's own tags, the blob id, a
 * leaf), so segments are decrypted without checking their tags again
 * (mfs_chunk_decrypt_segment).
 *
 * Threads: every call may come from any thread. */
#ifndef MFS_READER_H
#define MFS_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fs/blob/fileentry.h"
#include "fs/store/session_cache.h"
#include "fs/store/volume.h"

struct mfs_blob_fetcher {
	/* Fills *blob (malloc'ed) with the blob's bytes from elsewhere. urgent:
	 * a reader is waiting for it now (else it is read-ahead). */
	int (*fetch)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		     uint8_t **blob, size_t *len);
	/* Optional, with verifies: segment index of the blob (its sealed
	 * bytes, cap at least their length) as soon as it arrived and was
	 * checked, the rest still coming (net/node.h,
	 * mfs_node_fetch_segment). A read of a blob not held locally waits
	 * for its segment only, not for the whole blob. */
	int (*fetch_segment)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
			     uint32_t index, uint8_t *out, size_t cap, size_t *len);
	void *ctx;
	int verifies;  /* fetch itself checks blobs against their ids */
};

struct mfs_reader_config {
	size_t cache_bytes;          /* decrypted segments kept; 0: what two sequential
	                              * readers have in flight, at least 16 MiB */
	unsigned readahead_chunks;   /* chunks loaded ahead of a sequential reader; 0: 8 */
	unsigned workers;            /* read-ahead threads; 0: one per core, at most 4;
	                              * at most 16 (more help when blobs come from peers) */
};

struct mfs_reader;
struct mfs_rfile;

/* cache and fetcher may be NULL. */
int mfs_reader_new(struct mfs_reader **out, struct mfs_volume *vol,
		   struct mfs_session_cache *cache, const struct mfs_blob_fetcher *fetcher,
		   const struct mfs_reader_config *config);
/* Stops the workers; every rfile must be closed first. NULL-safe. */
void mfs_reader_free(struct mfs_reader *r);

/* Opens a file for reading; the rfile keeps its own copy of the entry. */
int mfs_rfile_open(struct mfs_rfile **out, struct mfs_reader *r, const struct mfs_file_entry *e);
void mfs_rfile_close(struct mfs_rfile *f); /* NULL-safe */
/* Reads up to len bytes at off into buf: the bytes read (fewer only at the
 * end of the file), or a negative error (MFS_E_AUTH for a chunk that does
 * not open with its key, MFS_E_NOTFOUND for a blob found nowhere). */
ssize_t mfs_rfile_read(struct mfs_rfile *f, uint64_t off, size_t len, uint8_t *buf);

/* A read left where its bytes are: count pieces of the reader's segment
 * cache, pinned (never evicted nor written) until mfs_rread_release, for
 * a reply that copies them once (fuse_reply_iov) instead of through a
 * buffer. A piece is a guarded buffer of its own when every cache slot
 * was pinned. The pointers in iov are valid until the release; a read
 * longer than 1 MiB takes one allocation for its arrays. */
/* One piece: a segment pinned in the cache (seg), or a guarded buffer of
 * its own (own). The reader's. */
struct mfs_rpiece {
	void *seg;
	uint8_t *own;
};
/* Pieces a read of up to 1 MiB needs at most (16 whole segments and one
 * straddled), held in the struct itself: no allocation per read. */
#define MFS_RREAD_INLINE 18
struct mfs_rread {
	struct iovec *iov;            /* count pieces */
	int count;
	/* the reader's: */
	struct mfs_reader *r;
	struct mfs_rpiece *pieces;
	int cap;
	struct iovec iov_inline[MFS_RREAD_INLINE];
	struct mfs_rpiece pieces_inline[MFS_RREAD_INLINE];
};

/* mfs_rfile_read's bytes as pinned pieces into *rr (emptied first): the
 * bytes read (0 and no piece at or past the end of the file) or a
 * negative error (as mfs_rfile_read; nothing is held then). Release with
 * mfs_rread_release in every case. */
ssize_t mfs_rfile_read_pinned(struct mfs_rfile *f, uint64_t off, size_t len, struct mfs_rread *rr);
/* Unpins rr's pieces (wiping and freeing those of their own) and frees
 * its arrays; rr is empty after, and may be released again. */
void mfs_rread_release(struct mfs_rread *rr);

/* Bytes [off, off + len) of f written to fd, a piece of at most
 * MFS_RFILE_COPY_PIECE at a time straight from the pinned segments
 * (writev; no copy through a buffer), each write finished across short
 * writes and EINTR. progress (may be NULL) is told the bytes written after
 * each piece; a nonzero return stops the copy with -ECANCELED. *done (may
 * be NULL) receives the bytes written, also on an error. 0, the read's
 * error (MFS_E_CORRUPT when the file ends before off + len), -errno of a
 * write, or -ECANCELED. Each piece written to a file is handed to the
 * disk at once (mfs_outfile_start_writeback). A download's copy: megafs
 * fetch, libmegafs. From then on f is read in order, once: segments it
 * read through leave the cache first (read f no other way meanwhile). */
#define MFS_RFILE_COPY_PIECE (1u << 20)
int mfs_rfile_copy_fd(struct mfs_rfile *f, uint64_t off, uint64_t len, int fd,
		      int (*progress)(void *ctx, uint64_t done), void *ctx, uint64_t *done);

/* A reader's settings for a download, which reads each byte once: many
 * chunks in flight across the peers (MFS_READER_DOWNLOAD_AHEAD chunks of
 * read-ahead, 8 workers waiting on peers, not cores), and a segment cache
 * holding only that window and the chunk being copied, not a mount's (what
 * the copy read through is evicted first, so read-ahead is seldom loaded
 * twice). 5 MiB in flight covers ~100 MiB/s from one peer at a 50 ms round
 * trip; on loopback (1 GiB from one seeder, medians of 3) 8 fetched at 301 MiB/s with a peak RSS of
 * 26.0 MiB, 6 at 295 MiB/s and 23.0 MiB, 5 at 272 MiB/s and 22.0 MiB
 * (6 beside it: 275, 23.0; aria2c: about 24). */
#define MFS_READER_DOWNLOAD_AHEAD 5u
struct mfs_reader_config mfs_reader_download_config(size_t chunk_size);

/* Statistics, for tests and benchmarks. */
struct mfs_reader_stats {
	uint64_t segment_hits, segment_loads, readahead_chunks;
	uint64_t asked_ahead;        /* queued chunks whose slots were asked of the disk
	                              * before a worker took them (those the volume holds) */
	uint64_t cache_held_bytes;   /* the segment cache's memory so far */
};
void mfs_reader_stats(struct mfs_reader *r, struct mfs_reader_stats *out);

#endif
