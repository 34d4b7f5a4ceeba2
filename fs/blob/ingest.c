#include "fs/blob/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "crypto/sha256x2.h"
#include "fs/blob/outfile.h"

/* Chunks in flight between the caller and the storer. When the storer
 * itself waited on the disk for each batch's commit (two syncs), 8 left
 * the workers idle a third of the time (a 1 GiB cp in 273 MiB/s, 16:
 * 366); now the sink commits on a thread of its own (fs/blob/volume_io.h)
 * and 8 do as well as 16 (361 and 359 MiB/s, medians of 5) with 17 MiB
 * less at the peak. A slot is its plaintext and the sink's prepared bytes
 * (2.2 MiB for 1 MiB chunks); the sealed blob a worker prepares from is
 * the worker's own. */
#define RING 8
#define MAX_WORKERS 4
/* The leaves of the largest chunk's blob (16 MiB in 64 KiB segments). */
#define MAX_LEAVES (MFS_CHUNK_SIZE_MAX / MFS_SEGMENT_BYTES)
#define READ_BYTES (1u << 20) /* what mfs_ingest_write_fd reads at a time */

struct index_level {
	uint8_t *node;   /* guarded: header + records (they hold keys) */
	uint32_t count;
};

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_SEALING, SLOT_SEALED };

/* One chunk on its way: filled by the caller, sealed by a worker, handed to
 * the sink by the storer in chunk order. */
struct ring_slot {
	enum slot_state state;   /* protected by mfs_ingest.lock */
	uint8_t *plain;          /* guarded, chunk_size bytes */
	size_t len;
	uint8_t *blob;           /* NULL when the sink prepares (the worker's own) */
	uint8_t *prepared;       /* the sink's prepare output, or NULL */
	struct mfs_chunk_ref ref;
};

struct mfs_ingest {
	struct mfs_ingest_opts opts;
	uint8_t convergence[32];
	struct mfs_blob_sink sink;
	char name[MFS_NAME_MAX + 1];
	uint64_t size;
	uint64_t chunk_count;      /* chunks handed to the sink */
	uint32_t fanout;
	struct mfs_chunk_ref *inline_refs; /* guarded, first MFS_ENTRY_INLINE_MAX refs */
	struct index_level level[MFS_INDEX_MAX_DEPTH];
	uint8_t *node_blob;        /* index blobs: sealed by the storer while the
				    * file is written, by the caller at finish */

	pthread_mutex_t lock;
	pthread_cond_t changed;    /* any slot changed state, or stop */
	pthread_t workers[MAX_WORKERS];
	uint8_t *worker_blob[MAX_WORKERS]; /* when the sink prepares */
	size_t prepared_cap;       /* bytes of each ring slot's prepared buffer */
	int worker_count;
	int workers_begun;         /* each takes its worker_blob; under lock */
	pthread_t storer;          /* the one thread that uses the sink until finish */
	int storer_running;
	int stop;                  /* protected by lock */
	struct ring_slot ring[RING];
	uint64_t next_fill;        /* chunk number being filled */
	size_t filled;             /* bytes in the slot being filled */
	uint64_t next_drain;       /* chunk number the sink gets next; under lock */
	int store_failed;          /* the storer's first error; under lock */
	int failed;                /* the caller's first error; everything after fails with it */
};

static void derive_key(const struct mfs_ingest *w, const uint8_t *plain, size_t len,
		       uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	if (w->opts.mode == MFS_MODE_CONVERGENT)
		mfs_chunk_key_convergent(key, plain, len, w->convergence);
	else
		mfs_chunk_key_random(key);
}

/* The keys of n (1 or 2) chunks: two convergent keys hash together. */
static void derive_keys(const struct mfs_ingest *w, struct ring_slot *const slot[2], int n)
{
	if (w->opts.mode != MFS_MODE_CONVERGENT || n == 1) {
		for (int i = 0; i < n; i++)
			derive_key(w, slot[i]->plain, slot[i]->len, slot[i]->ref.key);
	} else {
		const uint8_t *const plain[2] = {slot[0]->plain, slot[1]->plain};
		const size_t len[2] = {slot[0]->len, slot[1]->len};
		uint8_t key[2][MFS_CHUNK_KEY_BYTES];

		mfs_chunk_keys_convergent2(key, plain, len, w->convergence);
		memcpy(slot[0]->ref.key, key[0], MFS_CHUNK_KEY_BYTES);
		memcpy(slot[1]->ref.key, key[1], MFS_CHUNK_KEY_BYTES);
		mfs_memzero(key, sizeof key);
	}
}

/* A chunk's blob and its ref, its key derived; with leaves (not NULL), the
 * blob id's leaves too, for a sink that stores them with the blob. */
static void seal(const uint8_t *plain, size_t len, uint8_t *blob, struct mfs_chunk_ref *ref,
		 uint8_t *leaves)
{
	mfs_chunk_seal(blob, plain, len, ref->key);
	mfs_blob_id_leaves(ref->id, leaves, blob, mfs_blob_len(mfs_chunk_padded_len(len)));
	ref->length = (uint32_t)len;
}

static void *worker_main(void *arg)
{
	struct mfs_ingest *w = arg;
	uint8_t *own_blob, leaves[MAX_LEAVES * MFS_BLOB_ID_BYTES];

	pthread_mutex_lock(&w->lock);
	own_blob = w->worker_blob[w->workers_begun++];
	while (!w->stop) {
		struct ring_slot *slot[2] = {NULL, NULL};
		int filled = 0, n;

		for (int i = 0; i < RING; i++)
			if (w->ring[i].state == SLOT_FILLED && filled++ < 2)
				slot[filled - 1] = &w->ring[i];
		if (filled == 0) {
			pthread_cond_wait(&w->changed, &w->lock);
			continue;
		}
		/* Two at once only when their convergent keys hash together
		 * (random keys gain nothing) and a third waits for another
		 * worker: else the other worker would idle. */
		n = filled >= 3 && w->opts.mode == MFS_MODE_CONVERGENT && mfs_sha256x2_available()
			? 2 : 1;
		for (int i = 0; i < n; i++)
			slot[i]->state = SLOT_SEALING;
		pthread_mutex_unlock(&w->lock);
		derive_keys(w, slot, n);
		for (int i = 0; i < n; i++) {
			struct ring_slot *s = slot[i];
			uint8_t *blob = s->blob ? s->blob : own_blob;

			seal(s->plain, s->len, blob, &s->ref, s->prepared ? leaves : NULL);
			if (s->prepared)
				w->sink.prepare(w->sink.ctx, s->ref.id, leaves, blob,
						mfs_blob_len(mfs_chunk_padded_len(s->len)), s->prepared);
			pthread_mutex_lock(&w->lock);
			s->state = SLOT_SEALED;
			pthread_cond_broadcast(&w->changed);
			if (i + 1 < n)
				pthread_mutex_unlock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Stops the sealing workers and the storer (each after the chunk in its
 * hands); afterwards the caller's thread owns the sink and the index. */
static void stop_threads(struct mfs_ingest *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->worker_count; i++)
		pthread_join(w->workers[i], NULL);
	w->worker_count = 0;
	if (w->storer_running)
		pthread_join(w->storer, NULL);
	w->storer_running = 0;
}

static void ingest_free(struct mfs_ingest *w)
{
	if (!w)
		return;
	stop_threads(w);
	for (int i = 0; i < RING; i++) {
		mfs_secure_free(w->ring[i].plain);
		free(w->ring[i].blob);
		free(w->ring[i].prepared);
		mfs_memzero(&w->ring[i].ref, sizeof w->ring[i].ref);
	}
	for (int i = 0; i < MAX_WORKERS; i++)
		free(w->worker_blob[i]);
	free(w->node_blob);
	mfs_secure_free(w->inline_refs);
	for (int i = 0; i < MFS_INDEX_MAX_DEPTH; i++)
		mfs_secure_free(w->level[i].node);
	mfs_memzero(w->convergence, sizeof w->convergence);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	mfs_secure_free(w);
}

static void *storer_main(void *arg);

int mfs_ingest_begin(struct mfs_ingest **out, const char *name, const struct mfs_ingest_opts *o,
		     const struct mfs_blob_sink *sink)
{
	struct mfs_ingest *w;
	uint32_t cs = o->chunk_size ? o->chunk_size : MFS_CHUNK_SIZE_DEFAULT;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0;

	if (!mfs_chunk_size_valid(cs) || !mfs_entry_name_valid(name) ||
	    (o->mode == MFS_MODE_CONVERGENT && !o->convergence))
		return MFS_E_FORMAT;
	/* The writer holds the convergence secret and the keys of chunks in
	 * flight: all of it lives in guarded memory. */
	w = mfs_secure_alloc(sizeof *w);
	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	w->opts = *o;
	w->opts.chunk_size = cs;
	w->opts.convergence = NULL;
	if (o->convergence)
		memcpy(w->convergence, o->convergence, sizeof w->convergence);
	w->sink = *sink;
	strcpy(w->name, name);
	w->fanout = mfs_index_fanout(cs);
	if (sink->prepare)
		w->prepared_cap = sink->prepared_bytes(sink->ctx, mfs_blob_len(cs));
	for (int i = 0; i < RING; i++) {
		w->ring[i].plain = mfs_secure_alloc(cs);
		if (!w->ring[i].plain)
			rc = -ENOMEM;
		if (sink->prepare && !(w->ring[i].prepared = malloc(w->prepared_cap)))
			rc = -ENOMEM;
		if (!sink->prepare && !(w->ring[i].blob = malloc(mfs_blob_len(cs))))
			rc = -ENOMEM;
	}
	for (int i = 0; sink->prepare && i < MAX_WORKERS; i++)
		if (!(w->worker_blob[i] = malloc(mfs_blob_len(cs))))
			rc = -ENOMEM;
	w->node_blob = malloc(mfs_blob_len(cs));
	w->inline_refs = mfs_secure_alloc(MFS_ENTRY_INLINE_MAX * sizeof *w->inline_refs);
	if (!w->node_blob || !w->inline_refs)
		rc = -ENOMEM;
	/* Sealing is the CPU work: one worker per core. Storing waits on the
	 * disk (a batch's writes and syncs): a thread of its own, so neither
	 * the caller nor the sealing waits for it while the ring has room. */
	for (long i = 0; rc == 0 && i < (cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : cores);
	     i++) {
		if (pthread_create(&w->workers[w->worker_count], NULL, worker_main, w) != 0)
			rc = -EAGAIN;
		else
			w->worker_count++;
	}
	if (rc == 0) {
		if (pthread_create(&w->storer, NULL, storer_main, w) != 0)
			rc = -EAGAIN;
		else
			w->storer_running = 1;
	}
	if (rc != 0) {
		ingest_free(w);
		return rc;
	}
	*out = w;
	return 0;
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
	derive_key(w, lv->node, len, ref.key);
	seal(lv->node, len, w->node_blob, &ref, NULL);
	rc = w->sink.put(w->sink.ctx, ref.id, w->node_blob, mfs_blob_len(mfs_chunk_padded_len(len)));
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

/* Hands a sealed chunk to the sink and its ref to the index (storer
 * thread). */
static int store_one(struct mfs_ingest *w, struct ring_slot *slot)
{
	size_t blob_len = mfs_blob_len(mfs_chunk_padded_len(slot->len));
	int rc;

	if (slot->prepared)
		rc = w->sink.put_prepared(w->sink.ctx, slot->ref.id, blob_len, &slot->prepared,
					  w->prepared_cap);
	else
		rc = w->sink.put(w->sink.ctx, slot->ref.id, slot->blob, blob_len);
	if (rc == 0 && w->chunk_count < MFS_ENTRY_INLINE_MAX)
		w->inline_refs[w->chunk_count] = slot->ref;
	if (rc == 0)
		rc = push_ref(w, 0, &slot->ref);
	mfs_memzero(&slot->ref, sizeof slot->ref);
	w->chunk_count++;
	return rc;
}

/* The storer: takes sealed chunks in chunk order until stopped or until a
 * store fails (the caller then fails with that error). */
static void *storer_main(void *arg)
{
	struct mfs_ingest *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct ring_slot *slot = &w->ring[w->next_drain % RING];
		int rc;

		while (!w->stop && slot->state != SLOT_SEALED)
			pthread_cond_wait(&w->changed, &w->lock);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		rc = store_one(w, slot);
		pthread_mutex_lock(&w->lock);
		slot->state = SLOT_FREE;
		w->next_drain++;
		w->store_failed = rc;
		pthread_cond_broadcast(&w->changed);
		if (rc != 0)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Queues the slot being filled for sealing, then waits until the slot of
 * the next chunk is free. */
static int submit(struct mfs_ingest *w)
{
	struct ring_slot *slot = &w->ring[w->next_fill % RING];
	int rc;

	pthread_mutex_lock(&w->lock);
	slot->len = w->filled;
	slot->state = SLOT_FILLED;
	pthread_cond_broadcast(&w->changed);
	w->next_fill++;
	w->filled = 0;
	while (w->store_failed == 0 && w->next_drain + RING <= w->next_fill)
		pthread_cond_wait(&w->changed, &w->lock);
	rc = w->store_failed;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Waits until every submitted chunk is stored, then stops the threads:
 * the index and the sink are the caller's again. */
static int drain_all(struct mfs_ingest *w)
{
	int rc = mfs_ingest_flush(w);

	stop_threads(w);
	return rc;
}

int mfs_ingest_flush(struct mfs_ingest *w)
{
	int rc;

	if (w->failed)
		return w->failed;
	pthread_mutex_lock(&w->lock);
	while (w->store_failed == 0 && w->next_drain < w->next_fill)
		pthread_cond_wait(&w->changed, &w->lock);
	rc = w->store_failed;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int mfs_ingest_write(struct mfs_ingest *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0 && w->failed == 0) {
		struct ring_slot *slot = &w->ring[w->next_fill % RING];
		size_t n = w->opts.chunk_size - w->filled;

		if (n > len)
			n = len;
		memcpy(slot->plain + w->filled, p, n);
		w->filled += n;
		w->size += n;
		p += n;
		len -= n;
		if (w->filled == w->opts.chunk_size)
			w->failed = submit(w);
	}
	return w->failed;
}

int mfs_ingest_write_fd(struct mfs_ingest *w, int fd)
{
	uint8_t *buf = mfs_secure_alloc(READ_BYTES);
	int rc = buf ? 0 : -ENOMEM;

	while (rc == 0) {
		ssize_t n = read(fd, buf, READ_BYTES);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			break;
		else
			rc = mfs_ingest_write(w, buf, (size_t)n);
	}
	mfs_secure_free(buf);
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
	rc = w->failed;
	if (rc == 0 && w->filled > 0)
		rc = submit(w);
	if (rc == 0)
		rc = drain_all(w);
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

/* Chunks whose blobs extract asks of its source before it reads them: the
 * disk fetches them while the chunks before are opened and written. */
#define EXTRACT_AHEAD 2u
/* Threads extract works on when its source allows more than one. */
#define EXTRACT_THREADS_MAX 4

/* One extract: each worker claims the next chunk, reads its blob, opens it
 * into its own buffer and writes it when the chunks before it are written
 * (the writes take turns in file order: the output may be a pipe). */
struct extract_job {
	const struct mfs_file_entry *e;
	const struct mfs_blob_source *src;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t turned;
	struct mfs_chunk_cursor *cur; /* the index, read under mu */
	uint64_t next;                /* the next chunk to claim */
	uint64_t asked;               /* chunks asked of the source ahead */
	uint64_t turn;                /* the chunk whose bytes go out next */
	uint64_t written;             /* bytes out: the turn's holder's alone */
	uint64_t failed_at;           /* the first chunk that failed, else chunk_count */
	int rc;                       /* its error */
};

/* Under x->mu: claims the next chunk into *i and *ref, and asks the source
 * for the chunks up to EXTRACT_AHEAD past it that it was not asked for yet
 * (a hint: an index node that does not read stops the asking; the chunk's
 * own claim then fails on it). 1 when claimed; 0 when no chunk is left or
 * one failed; <0 when chunk *i's place in the index could not be read. */
static int extract_claim(struct extract_job *x, uint64_t *i, struct mfs_chunk_ref *ref)
{
	const struct mfs_blob_source *src = x->src;
	struct mfs_chunk_ref ahead;
	int rc;

	if (x->next >= x->failed_at)
		return 0;
	*i = x->next++;
	for (; src->prefetch && x->asked < x->e->chunk_count && x->asked <= *i + EXTRACT_AHEAD;
	     x->asked++) {
		if (mfs_chunk_cursor_get(x->cur, x->asked, &ahead) != 0)
			break;
		src->prefetch(src->ctx, ahead.id, mfs_blob_len(mfs_chunk_padded_len(ahead.length)));
	}
	mfs_memzero(&ahead, sizeof ahead);
	rc = mfs_chunk_cursor_get(x->cur, *i, ref);
	return rc == 0 ? 1 : rc;
}

/* Under x->mu: chunk i ended with rc; the first failure in file order is
 * the one that counts. */
static void extract_done(struct extract_job *x, uint64_t i, int rc)
{
	if (rc != 0 && i < x->failed_at) {
		x->failed_at = i;
		x->rc = rc;
	}
	if (rc == 0)
		x->turn = i + 1;
	pthread_cond_broadcast(&x->turned);
}

static int extract_chunk(struct extract_job *x, uint64_t i, const struct mfs_chunk_ref *ref,
			 uint8_t *plain)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	int rc = x->src->get(x->src->ctx, ref->id, &blob, &blob_len);

	if (rc == 0)
		rc = mfs_chunk_open_blob(ref, blob, blob_len, 0, ref->length, plain);
	free(blob);
	pthread_mutex_lock(&x->mu);
	while (rc == 0 && x->turn != i && i < x->failed_at)
		pthread_cond_wait(&x->turned, &x->mu);
	/* A chunk after one that failed is not written: the output ends with
	 * the last chunk before the failure. */
	if (rc == 0 && i >= x->failed_at)
		rc = x->rc;
	pthread_mutex_unlock(&x->mu);
	if (rc == 0)
		rc = write_all(x->fd, plain, ref->length);
	if (rc == 0) {
		/* The turn makes x->written this thread's alone. */
		mfs_outfile_start_writeback(x->fd, x->written, ref->length);
		x->written += ref->length;
	}
	return rc;
}

struct extract_worker {
	struct extract_job *x;
	uint8_t *plain; /* one chunk, guarded */
	pthread_t thread;
	int started;
};

static void *extract_work(void *arg)
{
	struct extract_worker *w = arg;
	struct extract_job *x = w->x;
	struct mfs_chunk_ref ref;
	uint64_t i = 0;
	int claimed;

	pthread_mutex_lock(&x->mu);
	while ((claimed = extract_claim(x, &i, &ref)) == 1) {
		int rc;

		pthread_mutex_unlock(&x->mu);
		rc = extract_chunk(x, i, &ref, w->plain);
		pthread_mutex_lock(&x->mu);
		extract_done(x, i, rc);
	}
	if (claimed < 0)
		extract_done(x, i, claimed);
	pthread_mutex_unlock(&x->mu);
	mfs_memzero(&ref, sizeof ref);
	return NULL;
}

int mfs_extract_fd(const struct mfs_file_entry *e, const struct mfs_blob_source *src, int fd)
{
	struct extract_job x = {.e = e, .src = src, .fd = fd, .failed_at = e->chunk_count};
	struct extract_worker w[EXTRACT_THREADS_MAX] = {{0}};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int n = !src->concurrent ? 1 : cores < 2 ? 1 : cores > EXTRACT_THREADS_MAX
		? EXTRACT_THREADS_MAX : (int)cores;
	int rc = mfs_chunk_cursor_new(&x.cur, e, src);

	for (int k = 0; rc == 0 && k < n; k++) {
		w[k].x = &x;
		if (!(w[k].plain = mfs_secure_alloc(e->chunk_size)))
			rc = -ENOMEM;
	}
	if (rc == 0 && (rc = -pthread_mutex_init(&x.mu, NULL)) == 0 &&
	    (rc = -pthread_cond_init(&x.turned, NULL)) != 0)
		pthread_mutex_destroy(&x.mu);
	if (rc == 0) {
		/* The caller's thread is the first worker; a thread that does
		 * not start leaves the work to those that did. */
		for (int k = 1; k < n; k++)
			w[k].started = pthread_create(&w[k].thread, NULL, extract_work, &w[k]) == 0;
		extract_work(&w[0]);
		for (int k = 1; k < n; k++)
			if (w[k].started)
				pthread_join(w[k].thread, NULL);
		rc = x.rc;
		pthread_cond_destroy(&x.turned);
		pthread_mutex_destroy(&x.mu);
	}
	for (int k = 0; k < n; k++)
		mfs_secure_free(w[k].plain);
	mfs_chunk_cursor_free(x.cur);
	return rc;
}
