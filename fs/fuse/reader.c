#include "fs/fuse/reader.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crypto/chunk.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/outfile.h"
#include "fs/store/blobstore.h"

#define SEG MFS_SEGMENT_BYTES
/* The default cache holds what two sequential readers have in flight
 * (read-ahead, the chunk being read and the one before it) of 1 MiB
 * chunks, at least 16 MiB. It is guarded memory, locked when allocated:
 * 64 MiB (the old default) made every mount 64 MiB resident and took about
 * 100 ms to lock before the first read. */
#define DEFAULT_CACHE_MIN (16u << 20)
#define CACHE_PER_CHUNK (2u * MFS_CHUNK_SIZE_DEFAULT)
#define DEFAULT_AHEAD 8
/* Queued chunks a worker asks the disk for before it loads its own (see
 * ask_disk_ahead). */
#define ASK_AHEAD 8
/* The cache grows by blocks of this many segments (2 MiB: one huge page,
 * see mfs_secure_map), as reads need them, up to cache_bytes. */
#define BLOCK_SEGS 32
#define MAX_WORKERS 16
#define JOB_MAX 64
#define SEEK_WINDOW 2 /* chunks either side of the reading position */
/* A read that is not sequential and at most this long loads only the bytes
 * it reads of each segment (a random reader's page); a longer one loads
 * whole segments, which the reads after it (ffprobe's, a player's) use. */
#define PART_MAX (SEG / 2)
/* Whole-chunk loads tracked at once: the workers and FUSE's threads. */
#define LOADS_MAX (MAX_WORKERS + 16)

enum seg_state { SEG_FREE, SEG_LOADING, SEG_READY };

/* One decrypted segment. Key, state, refs, tick and hnext are protected by
 * mfs_reader.lock; data is written only by the thread that set LOADING, and
 * read only while refs > 0. */
struct seg {
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint32_t index;
	uint32_t lo, hi; /* the plaintext bytes data holds: all (0, SEG), or a seek's */
	enum seg_state state;
	unsigned refs;
	uint64_t tick;
	struct seg *hnext;
	uint8_t *data;
};

struct job {
	struct mfs_rfile *file;
	uint64_t chunk;
	uint64_t generation;
	int asked; /* its slots were asked of the disk (ask_disk_ahead) */
};

struct mfs_reader {
	struct mfs_volume *vol;
	struct mfs_session_cache *cache;
	struct mfs_blob_fetcher fetcher;
	struct mfs_reader_config cfg;

	pthread_mutex_t lock;
	pthread_cond_t seg_changed;     /* a segment left LOADING */
	pthread_cond_t job_queued;      /* a job was queued, or stop */
	pthread_cond_t chunk_loaded;    /* a whole-chunk load ended */
	/* The blobs being loaded whole (load_chunk), so that a reader of the
	 * same chunk waits for that copy instead of reading the blob again.
	 * Protected by lock. */
	uint8_t loading[LOADS_MAX][MFS_BLOB_ID_BYTES];
	unsigned char loading_used[LOADS_MAX];
	/* The cache's memory is guarded and locked, and grows a block at a
	 * time as reads need it, never shrinking: one guarded arena of 16-28
	 * MiB locked at the mount's start held the process's memory map lock
	 * for 8-21 ms (every thread's page fault and thread start waited), and
	 * kept that much resident whatever was read. Segments of blocks not
	 * allocated yet have no data; without memory for a block, segments are
	 * decrypted into buffers of their own, uncached. Under lock. */
	uint8_t **blocks;               /* seg_count / BLOCK_SEGS, NULL until grown */
	size_t seg_have;                /* segments with data: the blocks grown */
	int cannot_grow;                /* a block's allocation failed: no more tries */
	struct seg *segs;
	size_t seg_count;               /* a multiple of BLOCK_SEGS */
	struct seg **hash;
	size_t hash_size;
	uint64_t tick;
	struct job jobs[JOB_MAX];       /* ring */
	size_t job_head, job_count;
	pthread_t workers[MAX_WORKERS];
	unsigned worker_count;
	int stop;
	struct mfs_reader_stats stats;
};

struct mfs_rfile {
	struct mfs_reader *r;
	struct mfs_file_entry entry;
	struct mfs_blob_source src;
	pthread_mutex_t cursor_lock;
	struct mfs_chunk_cursor *cursor; /* protected by cursor_lock */
	/* protected by r->lock: */
	unsigned refs;                   /* the opener's, plus one per job */
	uint64_t generation;             /* bumped by a seek: older jobs are dropped */
	uint64_t next_off;               /* where a sequential reader goes on */
	int near_last;                   /* the last read fell in the window too */
	uint64_t ahead;                  /* first chunk not queued for read-ahead */
	int in_order;                    /* one reader, each byte once, in order (a copy) */
};

/* ---- where blobs come from ---- */

/* A whole blob: session cache, volume, then the fetcher (checked, cached). */
/* The whole blob: from the session cache, the volume, else the peers
 * (then *fetched is 1, when fetched is not NULL). */
static int blob_get(struct mfs_reader *r, const uint8_t *id, int urgent, uint8_t **blob,
		    size_t *len, int *fetched)
{
	uint8_t actual[MFS_BLOB_ID_BYTES];
	struct mfs_vtxn *t;
	int rc = MFS_E_NOTFOUND;

	if (r->cache)
		rc = mfs_session_cache_get(r->cache, id, blob, len);
	/* A damaged cache record is dropped by the cache: fetch the blob anew. */
	if (rc != MFS_E_NOTFOUND && rc != MFS_E_CORRUPT)
		return rc;
	rc = mfs_vtxn_begin(r->vol, 0, &t);
	if (rc == 0) {
		rc = mfs_blob_get(t, id, blob, len);
		mfs_vtxn_abort(t);
	}
	if (rc != MFS_E_NOTFOUND || !r->fetcher.fetch)
		return rc;
	rc = r->fetcher.fetch(r->fetcher.ctx, id, urgent, blob, len);
	if (rc != 0)
		return rc;
	if (fetched)
		*fetched = 1;
	if (!r->fetcher.verifies)
		mfs_blob_id(actual, *blob, *len);
	if (!r->fetcher.verifies && !mfs_memeq(actual, id, sizeof actual)) {
		free(*blob);
		*blob = NULL;
		return MFS_E_CORRUPT;
	}
	if (r->cache)
		mfs_session_cache_put(r->cache, id, *blob, *len); /* a cache: failure is fine */
	return 0;
}

static int source_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		      size_t *len)
{
	return blob_get(ctx, id, 1, blob, len, NULL);
}

static void cache_other_segments(struct mfs_reader *r, const struct mfs_chunk_ref *ref,
				 const uint8_t *blob, uint32_t except);

/* The sealed bytes of segment index: from the volume without reading the
 * rest of the blob when it is there; from the peers as soon as that segment
 * arrived, when the fetcher has fetch_segment and the blob is not in the
 * session cache either; else out of the whole blob (whose other segments
 * then go to the cache too, when it came from the peers: all of them when
 * cached is 0, the caller keeping segment index in no cache slot). */
static int sealed_segment(struct mfs_reader *r, const struct mfs_chunk_ref *ref, uint32_t index,
			  size_t blob_off, size_t sealed_len, uint8_t *out, int cached)
{
	size_t blob_len = mfs_blob_len(mfs_chunk_padded_len(ref->length)), got;
	uint8_t *blob = NULL;
	struct mfs_vtxn *t;
	int rc = MFS_E_NOTFOUND, fetched = 0;

	if (!r->cache || !mfs_session_cache_has(r->cache, ref->id)) {
		rc = mfs_vtxn_begin(r->vol, 0, &t);
		if (rc == 0) {
			rc = mfs_blob_read_known(t, ref->id, blob_len, blob_off, out, sealed_len);
			mfs_vtxn_abort(t);
		}
		if (rc != MFS_E_NOTFOUND)
			return rc;
		/* Held nowhere here: this segment as soon as it arrives. */
		if (r->fetcher.fetch_segment && r->fetcher.verifies) {
			rc = r->fetcher.fetch_segment(r->fetcher.ctx, ref->id, 1, index, out,
						      sealed_len, &got);
			return rc == 0 && got != sealed_len ? MFS_E_CORRUPT : rc;
		}
	}
	rc = blob_get(r, ref->id, 1, &blob, &got, &fetched);
	if (rc == 0 && (got != blob_len || blob_off + sealed_len > got))
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		memcpy(out, blob + blob_off, sealed_len);
	/* Only what crossed the network: a blob in the session cache is read
	 * again at the cost of a lookup, and decrypting its other segments
	 * would make each random read decrypt the whole chunk. */
	if (rc == 0 && fetched)
		cache_other_segments(r, ref, blob, cached ? index : UINT32_MAX);
	free(blob);
	return rc;
}

/* ---- the segment cache ---- */

static size_t seg_hash(const struct mfs_reader *r, const uint8_t *id, uint32_t index)
{
	uint64_t h;

	memcpy(&h, id, sizeof h);
	return (size_t)((h ^ (index * 0x9E3779B97F4A7C15ull)) % r->hash_size);
}

static struct seg *hash_find(struct mfs_reader *r, const uint8_t *id, uint32_t index)
{
	for (struct seg *s = r->hash[seg_hash(r, id, index)]; s; s = s->hnext)
		if (s->index == index && memcmp(s->id, id, MFS_BLOB_ID_BYTES) == 0)
			return s;
	return NULL;
}

static void hash_remove(struct mfs_reader *r, struct seg *victim)
{
	struct seg **p = &r->hash[seg_hash(r, victim->id, victim->index)];

	for (; *p; p = &(*p)->hnext)
		if (*p == victim) {
			*p = victim->hnext;
			victim->hnext = NULL;
			return;
		}
}

/* One more block of cache slots, free, at segs[seg_have]. Lock held: a
 * block (one huge page, locked, not written) costs about 0.2 ms here, at
 * most seg_count / BLOCK_SEGS times in a mount's life. */
static int grow_locked(struct mfs_reader *r)
{
	size_t b = r->seg_have / BLOCK_SEGS;
	uint8_t *block;

	if (r->cannot_grow || r->seg_have >= r->seg_count)
		return -ENOSPC;
	if (!(block = mfs_secure_map((size_t)BLOCK_SEGS * SEG))) {
		r->cannot_grow = 1;
		return -ENOMEM;
	}
	r->blocks[b] = block;
	for (size_t i = 0; i < BLOCK_SEGS; i++)
		r->segs[r->seg_have + i].data = block + i * SEG;
	r->seg_have += BLOCK_SEGS;
	return 0;
}

/* A free slot, else a new block's, else the least recently used slot
 * nobody holds, taken for loading segment index of id (refs 1, LOADING);
 * NULL when every slot is in use and the cache cannot grow. Lock held. */
static struct seg *claim_slot_locked(struct mfs_reader *r, const uint8_t *id, uint32_t index)
{
	struct seg *victim = NULL;

	for (size_t i = 0; i < r->seg_have; i++) {
		struct seg *c = &r->segs[i];

		if (c->refs == 0 && c->state != SEG_LOADING && (!victim || c->tick < victim->tick))
			victim = c;
	}
	if ((!victim || victim->state == SEG_READY) && grow_locked(r) == 0)
		victim = &r->segs[r->seg_have - BLOCK_SEGS];
	if (victim) {
		if (victim->state == SEG_READY)
			hash_remove(r, victim);
		memcpy(victim->id, id, MFS_BLOB_ID_BYTES);
		victim->index = index;
		victim->state = SEG_LOADING;
		victim->refs = 1;
		victim->tick = ++r->tick;
		victim->hnext = r->hash[seg_hash(r, id, index)];
		r->hash[seg_hash(r, id, index)] = victim;
	}
	return victim;
}

/* The cached segment, when it holds bytes [lo, hi) (refs taken; *load 0),
 * or a slot claimed for loading it (refs taken, LOADING; *load 1): a new
 * one, or the cached one when it holds only part of them and nobody reads
 * it. NULL when that part is in use or every slot is (*load 1: the caller
 * decrypts into a buffer of its own). */
static struct seg *seg_acquire(struct mfs_reader *r, const uint8_t *id, uint32_t index,
			       uint32_t lo, uint32_t hi, int *load)
{
	struct seg *s, *victim;

	pthread_mutex_lock(&r->lock);
	*load = 1;
	while ((s = hash_find(r, id, index)) && s->state == SEG_LOADING)
		pthread_cond_wait(&r->seg_changed, &r->lock);
	if (s && s->lo <= lo && hi <= s->hi) {
		s->refs++;
		s->tick = ++r->tick;
		r->stats.segment_hits++;
		pthread_mutex_unlock(&r->lock);
		*load = 0;
		return s;
	}
	if (s) {
		victim = s->refs == 0 ? s : NULL;
		if (victim) {
			victim->state = SEG_LOADING;
			victim->refs = 1;
			victim->tick = ++r->tick;
			r->stats.segment_loads++;
		}
		pthread_mutex_unlock(&r->lock);
		return victim;
	}
	victim = claim_slot_locked(r, id, index);
	r->stats.segment_loads++;
	pthread_mutex_unlock(&r->lock);
	return victim;
}

/* A slot claimed for loading segment index of id (refs taken, LOADING),
 * or NULL when it is cached or being loaded already, or no slot is free
 * now: never waits. */
static struct seg *seg_try_claim(struct mfs_reader *r, const uint8_t *id, uint32_t index)
{
	struct seg *s = NULL;

	pthread_mutex_lock(&r->lock);
	if (!hash_find(r, id, index) && (s = claim_slot_locked(r, id, index)))
		r->stats.segment_loads++;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* Ends a load: READY holding bytes [lo, hi) on success, else the slot is
 * freed. */
static void seg_loaded(struct mfs_reader *r, struct seg *s, int ok, uint32_t lo, uint32_t hi)
{
	pthread_mutex_lock(&r->lock);
	if (ok) {
		s->state = SEG_READY;
		s->lo = lo;
		s->hi = hi;
	} else {
		hash_remove(r, s);
		s->state = SEG_FREE;
	}
	pthread_cond_broadcast(&r->seg_changed);
	pthread_mutex_unlock(&r->lock);
}

/* A copy (mfs_rfile_copy_fd) read s to its end: s goes first when room is
 * made, before the read-ahead it has not reached (loaded earlier than s was
 * read, plain LRU evicted that first and the chunk was loaded again: a
 * download with 6 chunks of cache loaded 48 chunks 62 to 91 times). Only a
 * copy: a mount's reads come from the kernel's read-ahead on several
 * threads, out of order, and the part of s before the end may still be
 * asked for (a streaming mount that did this for every sequential read
 * peaked at 98 to 112 MiB against 52 to 56 without, re-reading blobs from the
 * session cache). */
static void seg_consumed(struct mfs_reader *r, struct seg *s)
{
	pthread_mutex_lock(&r->lock);
	s->tick = 0;
	pthread_mutex_unlock(&r->lock);
}

static void seg_release(struct mfs_reader *r, struct seg *s)
{
	pthread_mutex_lock(&r->lock);
	s->refs--;
	pthread_mutex_unlock(&r->lock);
}

/* The segments but except (UINT32_MAX: all) of a whole blob just got, decrypted into free
 * cache slots (a slot being loaded by another thread, or none free, is
 * skipped). Without this a read that finds the next segment missing gets
 * the whole blob again: over the network, once per segment (a 1 MiB chunk
 * read from its start fetched its blob 16 times). */
static void cache_other_segments(struct mfs_reader *r, const struct mfs_chunk_ref *ref,
				 const uint8_t *blob, uint32_t except)
{
	size_t padded = mfs_chunk_padded_len(ref->length), at, sealed_len;

	for (uint32_t i = 0; i * (size_t)SEG < ref->length; i++) {
		struct seg *s;

		if (i == except || mfs_chunk_segment_span(padded, i, &at, &sealed_len) == 0 ||
		    !(s = seg_try_claim(r, ref->id, i)))
			continue;
		seg_loaded(r, s,
			   mfs_chunk_decrypt_segment(s->data, blob + at, sealed_len, i, padded,
						     ref->key) == 0,
			   0, SEG);
		seg_release(r, s);
	}
}

/* ---- files ---- */

static void rfile_unref(struct mfs_rfile *f)
{
	struct mfs_reader *r = f->r;
	unsigned left;

	pthread_mutex_lock(&r->lock);
	left = --f->refs;
	pthread_mutex_unlock(&r->lock);
	if (left)
		return;
	mfs_chunk_cursor_free(f->cursor);
	pthread_mutex_destroy(&f->cursor_lock);
	mfs_entry_clear(&f->entry);
	free(f);
}

int mfs_rfile_open(struct mfs_rfile **out, struct mfs_reader *r, const struct mfs_file_entry *e)
{
	struct mfs_rfile *f = calloc(1, sizeof *f);
	int rc;

	if (!f)
		return -ENOMEM;
	rc = mfs_entry_copy(&f->entry, e);
	if (rc != 0) {
		free(f);
		return rc;
	}
	f->r = r;
	f->refs = 1;
	f->src = (struct mfs_blob_source){.get = source_get, .ctx = r};
	pthread_mutex_init(&f->cursor_lock, NULL);
	rc = mfs_chunk_cursor_new(&f->cursor, &f->entry, &f->src);
	if (rc != 0) {
		rfile_unref(f);
		return rc;
	}
	*out = f;
	return 0;
}

void mfs_rfile_close(struct mfs_rfile *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->r->lock);
	f->generation++; /* queued read-ahead for it is moot */
	pthread_mutex_unlock(&f->r->lock);
	rfile_unref(f);
}

static int chunk_ref(struct mfs_rfile *f, uint64_t chunk, struct mfs_chunk_ref *ref)
{
	int rc;

	pthread_mutex_lock(&f->cursor_lock);
	rc = mfs_chunk_cursor_get(f->cursor, chunk, ref);
	pthread_mutex_unlock(&f->cursor_lock);
	return rc;
}

static void piece_release(struct mfs_reader *r, struct mfs_rpiece *piece);

/* Bytes [at, at + n) of segment index of chunk ref, decrypted into
 * data + at from the volume, which reads and opens only the slot's pieces
 * that hold them: a seek's few KiB cost a piece, not 64 KiB twice.
 * MFS_E_NOTFOUND when the volume does not hold the blob. */
static int part_from_volume(struct mfs_reader *r, const struct mfs_chunk_ref *ref, uint32_t index,
			    size_t blob_off, size_t at, size_t n, uint8_t *data)
{
	size_t padded = mfs_chunk_padded_len(ref->length);
	struct mfs_vtxn *t;
	/* Not found here falls back to sealed_segment, which asks anew. */
	int rc = mfs_vtxn_begin_known(r->vol, &t);

	/* The sealed bytes land where their plaintext goes, and are decrypted
	 * there. */
	if (rc == 0) {
		rc = mfs_blob_read_known(t, ref->id, mfs_blob_len(padded), blob_off + at, data + at,
					 n);
		mfs_vtxn_abort(t);
	}
	if (rc == 0)
		rc = mfs_chunk_decrypt_part(data + at, data + at, at, n, index, padded, ref->key);
	return rc;
}

/* Segment index of chunk ref, decrypted: pinned in the cache (piece->seg),
 * or, when every cache slot is in use, in a guarded buffer of the piece's
 * own (piece->own). *plain points at it until piece_release. A seek
 * (part) needs only bytes [at, at + n): those alone are loaded when the
 * blob is in the volume (not the session cache), and the cache keeps them
 * as a part that a later read of the rest loads whole. */
static int acquire_segment(struct mfs_reader *r, const struct mfs_chunk_ref *ref, uint32_t index,
			   size_t at, size_t n, int part, struct mfs_rpiece *piece,
			   const uint8_t **plain)
{
	size_t padded = mfs_chunk_padded_len(ref->length), blob_off, sealed_len;
	uint32_t lo = part ? (uint32_t)at : 0, hi = part ? (uint32_t)(at + n) : SEG;
	uint8_t *sealed = NULL, *data;
	int load, rc = MFS_E_NOTFOUND;
	struct seg *s;

	piece->seg = NULL;
	piece->own = NULL;
	if (mfs_chunk_segment_span(padded, index, &blob_off, &sealed_len) == 0)
		return MFS_E_CORRUPT;
	s = seg_acquire(r, ref->id, index, lo, hi, &load);
	data = s ? s->data : NULL;
	if (load) {
		if (!data)
			data = mfs_secure_alloc(SEG);
		if (data && part && (!r->cache || mfs_session_cache_has(r->cache, ref->id) != 1))
			rc = part_from_volume(r, ref, index, blob_off, at, n, data);
		if (rc == MFS_E_NOTFOUND) {
			lo = 0;
			hi = SEG;
			sealed = malloc(sealed_len);
			rc = sealed && data ? sealed_segment(r, ref, index, blob_off, sealed_len, sealed,
							     s != NULL)
					    : -ENOMEM;
			if (rc == 0)
				rc = mfs_chunk_decrypt_segment(data, sealed, sealed_len, index, padded,
							       ref->key);
			free(sealed);
		}
		if (s)
			seg_loaded(r, s, rc == 0, lo, hi);
	} else {
		rc = 0;
	}
	if (s)
		piece->seg = s;
	else
		piece->own = data;
	if (rc != 0) {
		piece_release(r, piece);
		return rc;
	}
	*plain = data;
	return 0;
}

static void piece_release(struct mfs_reader *r, struct mfs_rpiece *piece)
{
	if (piece->seg)
		seg_release(r, piece->seg);
	mfs_secure_free(piece->own);
	piece->seg = NULL;
	piece->own = NULL;
}

/* Queues chunks [from, to) of f for read-ahead (r->lock held). */
static void queue_ahead(struct mfs_reader *r, struct mfs_rfile *f, uint64_t from, uint64_t to)
{
	if (f->ahead > from)
		from = f->ahead;
	for (uint64_t c = from; c < to && c < f->entry.chunk_count && r->job_count < JOB_MAX; c++) {
		struct job *j = &r->jobs[(r->job_head + r->job_count++) % JOB_MAX];

		j->file = f;
		j->chunk = c;
		j->generation = f->generation;
		j->asked = 0;
		f->refs++;
		f->ahead = c + 1;
		pthread_cond_signal(&r->job_queued);
	}
}

static void load_chunk(struct mfs_reader *r, struct mfs_rfile *f, uint64_t chunk, int urgent);

/* 1 when the blob is in the session cache or the volume, or there is no
 * fetch_segment: then a sequential reader loads the chunk whole, else it
 * takes each segment as it arrives from the peers. */
static int blob_held(struct mfs_reader *r, const uint8_t *id)
{
	struct mfs_vtxn *t;
	int held = 0;

	if (!r->fetcher.fetch_segment || (r->cache && mfs_session_cache_has(r->cache, id) == 1))
		return 1;
	if (mfs_vtxn_begin(r->vol, 0, &t) == 0) {
		held = mfs_blob_has(t, id) == 1;
		mfs_vtxn_abort(t);
	}
	return held;
}

/* Whether segment index of the blob is cached whole (or being loaded). */
static int segment_cached_locked(struct mfs_reader *r, const uint8_t *id, uint32_t index)
{
	const struct seg *s = hash_find(r, id, index);

	return s && (s->state == SEG_LOADING || (s->lo == 0 && s->hi == SEG));
}

static int segment_cached(struct mfs_reader *r, const struct mfs_chunk_ref *ref, uint32_t index)
{
	int found;

	pthread_mutex_lock(&r->lock);
	found = segment_cached_locked(r, ref->id, index);
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* Where a read's pieces go: emit(ctx, piece, bytes, n) takes the piece
 * (releases it or keeps it), also when it fails. */
typedef int (*emit_fn)(void *ctx, struct mfs_rpiece *piece, const uint8_t *bytes, size_t n);

/* The bytes [off, off + len) of f (len already cut at the end of the
 * file), segment piece by segment piece, in order. */
static int read_range(struct mfs_rfile *f, uint64_t off, size_t len, emit_fn emit, void *ctx)
{
	const struct mfs_file_entry *e = &f->entry;
	struct mfs_reader *r = f->r;
	struct mfs_chunk_ref ref;
	struct mfs_rpiece piece;
	const uint8_t *plain = NULL;
	uint64_t pos = off, end;
	int near, sequential, rc = 0;

	end = off + len;
	pthread_mutex_lock(&r->lock);
	/* The kernel's own readahead arrives on several threads, a little out
	 * of order: only a jump out of a window around the reading position is
	 * a seek. A seek drops what was queued for the old place; read-ahead
	 * resumes once reading goes on from the new one. A read is sequential
	 * when it and the read before it both fell in the window: a random
	 * reader lands in it by chance now and then, and loading the chunk
	 * and the next ones for it read 5 MiB for 4 KiB (the first read of a
	 * file, or after a seek, takes only the segments it needs). */
	near = off + SEEK_WINDOW * e->chunk_size >= f->next_off &&
	       off <= f->next_off + SEEK_WINDOW * (uint64_t)e->chunk_size;
	sequential = near && f->near_last;
	f->near_last = near;
	if (near) {
		if (end > f->next_off)
			f->next_off = end;
	} else {
		f->generation++;
		f->ahead = off / e->chunk_size;
		f->next_off = end;
	}
	pthread_mutex_unlock(&r->lock);

	while (pos < end && rc == 0) {
		uint64_t chunk = pos / e->chunk_size;
		size_t in_chunk = (size_t)(pos % e->chunk_size);

		rc = chunk_ref(f, chunk, &ref);
		/* A sequential reader ahead of the read-ahead: load the chunk whole
		 * (its slots asked of the disk at once) rather than segment by
		 * segment (a wait for each). */
		if (rc == 0 && sequential && !segment_cached(r, &ref, (uint32_t)(in_chunk / SEG)) &&
		    blob_held(r, ref.id))
			load_chunk(r, f, chunk, 1);
		while (rc == 0 && pos < end && in_chunk < ref.length) {
			uint32_t index = (uint32_t)(in_chunk / SEG);
			size_t at = in_chunk % SEG, n = SEG - at;

			if (n > end - pos)
				n = (size_t)(end - pos);
			if (n > ref.length - in_chunk)
				n = ref.length - in_chunk;
			rc = acquire_segment(r, &ref, index, at, n, !sequential && len <= PART_MAX,
					     &piece, &plain);
			if (rc == 0 && f->in_order && piece.seg &&
			    (at + n == SEG || in_chunk + n == ref.length))
				seg_consumed(r, piece.seg);
			if (rc == 0)
				rc = emit(ctx, &piece, plain + at, n);
			pos += n;
			in_chunk += n;
		}
	}
	mfs_memzero(&ref, sizeof ref);
	if (rc != 0)
		return rc;
	if (sequential) {
		uint64_t last = (end - 1) / e->chunk_size;

		pthread_mutex_lock(&r->lock);
		queue_ahead(r, f, last, last + 1 + r->cfg.readahead_chunks);
		pthread_mutex_unlock(&r->lock);
	}
	return 0;
}

struct copy_sink {
	struct mfs_reader *r;
	uint8_t *at;
};

static int emit_copy(void *ctx, struct mfs_rpiece *piece, const uint8_t *bytes, size_t n)
{
	struct copy_sink *c = ctx;

	memcpy(c->at, bytes, n);
	c->at += n;
	piece_release(c->r, piece);
	return 0;
}

/* Cuts a read at the end of the file: the bytes to read, 0 past it. */
static size_t read_len(const struct mfs_rfile *f, uint64_t off, size_t len)
{
	if (off >= f->entry.size)
		return 0;
	return len > f->entry.size - off ? (size_t)(f->entry.size - off) : len;
}

ssize_t mfs_rfile_read(struct mfs_rfile *f, uint64_t off, size_t len, uint8_t *buf)
{
	struct copy_sink c = {f->r, buf};
	int rc;

	if ((len = read_len(f, off, len)) == 0)
		return 0;
	rc = read_range(f, off, len, emit_copy, &c);
	return rc != 0 ? rc : (ssize_t)len;
}

static int emit_pin(void *ctx, struct mfs_rpiece *piece, const uint8_t *bytes, size_t n)
{
	struct mfs_rread *rr = ctx;

	/* read_pinned sized the arrays for every piece the read can have;
	 * checked all the same, as every length is. */
	if (rr->count == rr->cap) {
		piece_release(rr->r, piece);
		return MFS_E_CORRUPT;
	}
	rr->pieces[rr->count] = *piece;
	rr->iov[rr->count].iov_base = (void *)bytes;
	rr->iov[rr->count++].iov_len = n;
	return 0;
}

/* rr empty, with arrays for pieces pieces: its own, or one allocation. */
static int rread_init(struct mfs_rread *rr, struct mfs_reader *r, size_t pieces)
{
	rr->r = r;
	rr->count = 0;
	rr->cap = MFS_RREAD_INLINE;
	rr->iov = rr->iov_inline;
	rr->pieces = rr->pieces_inline;
	if (pieces <= MFS_RREAD_INLINE)
		return 0;
	rr->iov = malloc(pieces * (sizeof *rr->iov + sizeof *rr->pieces));
	if (!rr->iov) {
		rr->iov = rr->iov_inline;
		return -ENOMEM;
	}
	rr->pieces = (struct mfs_rpiece *)(rr->iov + pieces);
	rr->cap = (int)pieces;
	return 0;
}

ssize_t mfs_rfile_read_pinned(struct mfs_rfile *f, uint64_t off, size_t len, struct mfs_rread *rr)
{
	int rc;

	rread_init(rr, f->r, 0); /* no allocation: cannot fail */
	if ((len = read_len(f, off, len)) == 0)
		return 0;
	/* A piece per segment touched: whole ones, and one more at each end. */
	rc = rread_init(rr, f->r, len / SEG + 2);
	if (rc == 0)
		rc = read_range(f, off, len, emit_pin, rr);
	if (rc != 0) {
		mfs_rread_release(rr);
		return rc;
	}
	return (ssize_t)len;
}

void mfs_rread_release(struct mfs_rread *rr)
{
	for (int i = 0; i < rr->count; i++)
		piece_release(rr->r, &rr->pieces[i]);
	if (rr->iov != rr->iov_inline)
		free(rr->iov);
	rread_init(rr, rr->r, 0);
}

/* Writes iov[0..n) to fd whole. The iovecs are advanced as they go out. */
static int write_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int mfs_rfile_copy_fd(struct mfs_rfile *f, uint64_t off, uint64_t len, int fd,
		      int (*progress)(void *ctx, uint64_t done), void *ctx, uint64_t *done)
{
	/* Where fd writes from, to start the disk on what it wrote (-1: not
	 * a file, nothing to start). */
	off_t at = lseek(fd, 0, SEEK_CUR);
	uint64_t copied = 0;
	int rc = 0;

	f->in_order = 1; /* the file is the copy's alone (see seg_consumed) */

	while (rc == 0 && copied < len) {
		size_t want = len - copied < MFS_RFILE_COPY_PIECE ? (size_t)(len - copied)
								   : MFS_RFILE_COPY_PIECE;
		struct mfs_rread rr;
		ssize_t n = mfs_rfile_read_pinned(f, off + copied, want, &rr);

		if (n <= 0) {
			rc = n < 0 ? (int)n : MFS_E_CORRUPT;
		} else {
			/* Partial writes are not counted: done says what is whole. */
			rc = write_iov(fd, rr.iov, rr.count);
			if (rc == 0 && at >= 0)
				mfs_outfile_start_writeback(fd, (uint64_t)at + copied, (uint64_t)n);
			if (rc == 0)
				copied += (uint64_t)n;
		}
		mfs_rread_release(&rr);
		if (rc == 0 && progress && progress(ctx, copied) != 0)
			rc = -ECANCELED;
	}
	if (done)
		*done = copied;
	return rc;
}

struct mfs_reader_config mfs_reader_download_config(size_t chunk_size)
{
	return (struct mfs_reader_config){
		.readahead_chunks = MFS_READER_DOWNLOAD_AHEAD,
		.workers = 8,
		.cache_bytes = (MFS_READER_DOWNLOAD_AHEAD + 1) * chunk_size,
	};
}

/* ---- read-ahead workers ---- */

/* The entry of r->loading that holds id, or -1. Lock held. */
static int loading_find(const struct mfs_reader *r, const uint8_t *id)
{
	for (int i = 0; i < LOADS_MAX; i++)
		if (r->loading_used[i] && memcmp(r->loading[i], id, MFS_BLOB_ID_BYTES) == 0)
			return i;
	return -1;
}

/* Loads every segment of one chunk that is not cached yet, from one copy of
 * the blob. urgent: a reader waits for it (else read-ahead). When another
 * thread is loading the chunk already, a reader waits for it to end and
 * read-ahead leaves it: FUSE's threads take the kernel's read-ahead of one
 * chunk at once, and each read the whole blob (a cold 512 MiB dd opened
 * every blob 2.3 times). */
static void load_chunk(struct mfs_reader *r, struct mfs_rfile *f, uint64_t chunk, int urgent)
{
	struct mfs_chunk_ref ref;
	uint8_t *blob = NULL;
	size_t blob_len, padded;
	int missing = 0, entry = -1;

	if (chunk_ref(f, chunk, &ref) != 0)
		return;
	pthread_mutex_lock(&r->lock);
	if (loading_find(r, ref.id) >= 0) {
		while (urgent && loading_find(r, ref.id) >= 0)
			pthread_cond_wait(&r->chunk_loaded, &r->lock);
		pthread_mutex_unlock(&r->lock);
		goto out;
	}
	/* With every entry taken the load goes on untracked. */
	for (int i = 0; entry < 0 && i < LOADS_MAX; i++)
		if (!r->loading_used[i])
			entry = i;
	if (entry >= 0) {
		memcpy(r->loading[entry], ref.id, MFS_BLOB_ID_BYTES);
		r->loading_used[entry] = 1;
	}
	pthread_mutex_unlock(&r->lock);

	padded = mfs_chunk_padded_len(ref.length);
	for (uint32_t i = 0; !missing && i * (size_t)SEG < ref.length; i++) {
		pthread_mutex_lock(&r->lock);
		missing = !segment_cached_locked(r, ref.id, i);
		pthread_mutex_unlock(&r->lock);
	}
	if (missing && blob_get(r, ref.id, urgent, &blob, &blob_len, NULL) == 0 &&
	    blob_len == mfs_blob_len(padded)) {
		cache_other_segments(r, &ref, blob, UINT32_MAX);
		pthread_mutex_lock(&r->lock);
		r->stats.readahead_chunks++;
		pthread_mutex_unlock(&r->lock);
	}
	free(blob);
	if (entry >= 0) {
		pthread_mutex_lock(&r->lock);
		r->loading_used[entry] = 0;
		pthread_cond_broadcast(&r->chunk_loaded);
		pthread_mutex_unlock(&r->lock);
	}
out:
	mfs_memzero(&ref, sizeof ref);
}

/* A chunk load waits for the disk most of its time (its slots sit at
 * random places), and a worker asks for one chunk's slots at once: with
 * one load per core the disk had two chunks to read and sat idle between
 * them (a cold 1 GiB dd: 670 MiB/s; the kernel reads a plain file at
 * 1,079). So a worker that takes a job first asks the disk for the slots
 * of the chunks queued behind it that nobody asked for yet (up to
 * ASK_AHEAD), and they are in the page cache, or on their way, when a
 * worker takes them: 905 MiB/s (medians of 5; 12 workers without asking
 * ahead reached 820-930, with 12 MiB more memory). Blobs the volume does
 * not hold (the session cache's, a peer's) are not found and cost a
 * lookup each. Called and returns with r->lock held; drops it meanwhile. */
static void ask_disk_ahead(struct mfs_reader *r)
{
	struct mfs_rfile *files[ASK_AHEAD];
	uint64_t chunks[ASK_AHEAD];
	struct mfs_chunk_ref refs[ASK_AHEAD];
	int have[ASK_AHEAD];
	unsigned n = 0, asked = 0;
	struct mfs_vtxn *t;

	for (size_t k = 0; k < r->job_count && n < ASK_AHEAD; k++) {
		struct job *j = &r->jobs[(r->job_head + k) % JOB_MAX];

		if (j->asked || j->generation != j->file->generation)
			continue;
		j->asked = 1;
		j->file->refs++;
		files[n] = j->file;
		chunks[n++] = j->chunk;
	}
	if (n == 0)
		return;
	pthread_mutex_unlock(&r->lock);
	/* The refs first: a file's index may need blobs read in transactions
	 * of their own. */
	for (unsigned i = 0; i < n; i++) {
		have[i] = chunk_ref(files[i], chunks[i], &refs[i]) == 0;
		rfile_unref(files[i]);
	}
	if (mfs_vtxn_begin(r->vol, 0, &t) == 0) {
		for (unsigned i = 0; i < n; i++) {
			size_t blob_len;

			if (!have[i])
				continue;
			blob_len = mfs_blob_len(mfs_chunk_padded_len(refs[i].length));
			asked += mfs_blob_prefetch(t, refs[i].id, blob_len) > 0;
		}
		mfs_vtxn_abort(t);
	}
	mfs_memzero(refs, sizeof refs);
	pthread_mutex_lock(&r->lock);
	r->stats.asked_ahead += asked;
}

static void *worker_main(void *arg)
{
	struct mfs_reader *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct job j;

		while (!r->stop && r->job_count == 0)
			pthread_cond_wait(&r->job_queued, &r->lock);
		if (r->stop)
			break;
		int current;

		j = r->jobs[r->job_head];
		r->job_head = (r->job_head + 1) % JOB_MAX;
		r->job_count--;
		current = j.generation == j.file->generation;
		if (current)
			ask_disk_ahead(r);
		pthread_mutex_unlock(&r->lock);
		if (current)
			load_chunk(r, j.file, j.chunk, 0);
		rfile_unref(j.file);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int mfs_reader_new(struct mfs_reader **out, struct mfs_volume *vol,
		   struct mfs_session_cache *cache, const struct mfs_blob_fetcher *fetcher,
		   const struct mfs_reader_config *config)
{
	struct mfs_reader *r = calloc(1, sizeof *r);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r->vol = vol;
	r->cache = cache;
	if (fetcher)
		r->fetcher = *fetcher;
	if (config)
		r->cfg = *config;
	if (!r->cfg.readahead_chunks)
		r->cfg.readahead_chunks = DEFAULT_AHEAD;
	if (!r->cfg.cache_bytes) {
		r->cfg.cache_bytes = (size_t)(r->cfg.readahead_chunks + 2) * CACHE_PER_CHUNK;
		if (r->cfg.cache_bytes < DEFAULT_CACHE_MIN)
			r->cfg.cache_bytes = DEFAULT_CACHE_MIN;
	}
	if (!r->cfg.workers)
		r->cfg.workers = cores < 1 ? 1 : cores > 4 ? 4 : (unsigned)cores;
	if (r->cfg.workers > MAX_WORKERS)
		r->cfg.workers = MAX_WORKERS;
	r->seg_count = (r->cfg.cache_bytes / SEG + BLOCK_SEGS - 1) / BLOCK_SEGS * BLOCK_SEGS;
	if (r->seg_count < BLOCK_SEGS)
		r->seg_count = BLOCK_SEGS;
	r->hash_size = r->seg_count * 2 + 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->seg_changed, NULL);
	pthread_cond_init(&r->job_queued, NULL);
	pthread_cond_init(&r->chunk_loaded, NULL);
	r->segs = calloc(r->seg_count, sizeof *r->segs);
	r->hash = calloc(r->hash_size, sizeof *r->hash);
	r->blocks = calloc(r->seg_count / BLOCK_SEGS, sizeof *r->blocks);
	if (!r->segs || !r->hash || !r->blocks)
		rc = -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < r->cfg.workers; i++) {
		if (pthread_create(&r->workers[i], NULL, worker_main, r) != 0)
			rc = -EAGAIN;
		else
			r->worker_count++;
	}
	if (rc != 0) {
		mfs_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void mfs_reader_free(struct mfs_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->job_queued);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->worker_count; i++)
		pthread_join(r->workers[i], NULL);
	/* Jobs never run still hold their files. */
	while (r->job_count > 0) {
		struct mfs_rfile *f = r->jobs[r->job_head].file;

		r->job_head = (r->job_head + 1) % JOB_MAX;
		r->job_count--;
		rfile_unref(f);
	}
	for (size_t b = 0; b < r->seg_have / BLOCK_SEGS; b++)
		mfs_secure_unmap(r->blocks[b], (size_t)BLOCK_SEGS * SEG);
	free(r->blocks);
	free(r->segs);
	free(r->hash);
	pthread_cond_destroy(&r->job_queued);
	pthread_cond_destroy(&r->chunk_loaded);
	pthread_cond_destroy(&r->seg_changed);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void mfs_reader_stats(struct mfs_reader *r, struct mfs_reader_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	out->cache_held_bytes = (uint64_t)r->seg_have * SEG;
	pthread_mutex_unlock(&r->lock);
}
