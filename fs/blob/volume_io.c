#include "fs/blob/volume_io.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/pinlog.h"
#include "fs/store/blobstore.h"

void mfs_volume_sink_init(struct mfs_volume_sink *s, struct mfs_volume *v, int pin)
{
	memset(s, 0, sizeof *s);
	s->vol = v;
	s->pin = pin;
}

static int remember(struct mfs_volume_sink *s, const uint8_t *id, int what)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct mfs_sink_change *grown = realloc(s->changes, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->changes = grown;
		s->cap = cap;
	}
	memcpy(s->changes[s->count].id, id, MFS_BLOB_ID_BYTES);
	s->changes[s->count].what = what;
	s->count++;
	return 0;
}

/* A blob gathered for the next batch: its bytes (at offset in the batch
 * buffer, or in a buffer of its own taken from put_prepared's caller),
 * sealed for the volume or in clear. */
struct mfs_pending_blob {
	uint8_t id[MFS_BLOB_ID_BYTES];
	size_t len;
	size_t offset;
	uint8_t *owned;   /* NULL: in the batch buffer */
	size_t owned_cap;
	int sealed;
};

/* Stores the sink's full batch while its caller gathers the next. The
 * commits of a run of batches are chained (mfs_vtxn_commit_chained): a
 * batch's syncs run while the next one's slots are written, and the
 * committer keeps the chain's write transaction (and with it the store's
 * lock) open between them. The chain ends when a call of the sink waits
 * for it, when another writer waits for the lock (at the next commit),
 * when no batch came for CHAIN_IDLE_MS, and after CHAIN_LINKS batches. */
#define CHAIN_IDLE_MS 100
#define CHAIN_LINKS 8u
struct mfs_sink_committer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int busy;        /* the full batch is being stored */
	int chained;     /* the committer holds a chained transaction */
	int drain;       /* a call waits for the chain to end */
	int quit;
	int rc;          /* an error of the committer's, until a wait takes it */
	struct mfs_vtxn *chain;   /* committer thread only */
	unsigned links;           /* batches in the chain so far */
};

/* Keeps buf (spare_size bytes) to give in exchange for a prepared blob. */
static void spare_give(struct mfs_volume_sink *s, uint8_t *buf, size_t size)
{
	if (size == s->spare_size && s->spare_count == s->spare_cap) {
		size_t cap = s->spare_cap ? s->spare_cap * 2 : 32;
		uint8_t **grown = realloc(s->spare, cap * sizeof *grown);

		if (grown) {
			s->spare = grown;
			s->spare_cap = cap;
		}
	}
	if (size == s->spare_size && s->spare_count < s->spare_cap)
		s->spare[s->spare_count++] = buf;
	else
		free(buf);
}

static void spare_free(struct mfs_volume_sink *s)
{
	while (s->spare_count > 0)
		free(s->spare[--s->spare_count]);
}

/* A buffer of size bytes for put_prepared's caller: a spare, else a new one
 * (NULL when there is no memory: the blob is then copied). */
static uint8_t *spare_take(struct mfs_volume_sink *s, size_t size)
{
	if (size != s->spare_size) {
		spare_free(s);
		s->spare_size = size;
	}
	return s->spare_count > 0 ? s->spare[--s->spare_count] : malloc(size);
}

/* Forgets a batch's blobs (stored or not); its buffers stay for the next
 * one, the blobs' own buffers go back to the spares. The sink's thread
 * only: the committer leaves a batch it stored as it is. */
static void drop_batch(struct mfs_volume_sink *s, struct mfs_sink_batch *b)
{
	for (size_t i = 0; i < b->pending_count; i++)
		if (b->pending[i].owned)
			spare_give(s, b->pending[i].owned, b->pending[i].owned_cap);
	b->pending_count = 0;
	b->bytes = 0;
	b->buf_used = 0;
}

static void free_batch(struct mfs_sink_batch *b)
{
	for (size_t i = 0; i < b->pending_count; i++)
		free(b->pending[i].owned);
	free(b->pending);
	free(b->buf);
	memset(b, 0, sizeof *b);
}

/* Writes in t the pinlog of the first count changes (none: drops it);
 * *logged receives how many pins it names. */
static int log_pins(struct mfs_volume_sink *s, struct mfs_vtxn *t, size_t count, size_t *logged)
{
	uint8_t (*ids)[MFS_BLOB_ID_BYTES] = NULL;
	size_t n = 0;
	int rc;

	*logged = s->logged;
	if (!s->claimed)
		return 0; /* nothing was ever logged */
	if (count > 0 && !(ids = malloc(count * sizeof *ids)))
		return -ENOMEM;
	for (size_t i = 0; i < count; i++)
		if (s->changes[i].what & MFS_BLOB_PINNED_NOW)
			memcpy(ids[n++], s->changes[i].id, MFS_BLOB_ID_BYTES);
	rc = mfs_pinlog_write(t, s->token, (const uint8_t(*)[MFS_BLOB_ID_BYTES])ids, n, s->logged);
	free(ids);
	if (rc == 0)
		*logged = n;
	return rc;
}

/* Stores batch b; settle: the pins get their owner in this same
 * transaction (a batch that is the first and the last needs no pinlog at
 * all). c: the committer's, to store it in the chain's transaction and
 * chain the commit (NULL: begun and committed here). */
static int store_batch(struct mfs_volume_sink *s, struct mfs_sink_batch *b, int settle,
		       struct mfs_sink_committer *c)
{
	struct mfs_vtxn *t = NULL;
	size_t first = s->count, logged = 0;
	uint64_t added = 0, dedup = 0;
	int rc = 0;

	if (b->pending_count == 0 && !(settle && s->logged > 0))
		return 0;
	if (s->pin && !settle && !s->claimed) {
		mfs_random(&s->token, sizeof s->token);
		rc = mfs_store_claim(mfs_volume_store(s->vol), s->token);
		s->claimed = rc == 0;
	}
	if (c && c->chain) {
		t = c->chain;
		c->chain = NULL;
	} else if (rc == 0) {
		rc = mfs_vtxn_begin(s->vol, 1, &t);
	}
	for (size_t i = 0; rc == 0 && i < b->pending_count; i++) {
		struct mfs_pending_blob *p = &b->pending[i];
		const uint8_t *bytes = p->owned ? p->owned : b->buf + p->offset;
		int what = 0;

		rc = p->sealed ? mfs_blob_put_sealed(t, p->id, bytes, p->len, s->pin, &what)
			       : mfs_blob_put_hashed(t, p->id, bytes, p->len, s->pin, &what);
		if (rc == 0 && what)
			rc = remember(s, p->id, what);
		if (what & MFS_BLOB_ADDED)
			added++;
		else
			dedup++;
	}
	if (rc == 0)
		rc = log_pins(s, t, settle ? 0 : s->count, &logged);
	if (rc == 0 && c && ++c->links < CHAIN_LINKS) {
		rc = mfs_vtxn_commit_chained(t, &c->chain);
		if (!c->chain)
			c->links = 0; /* committed in full: someone waits for the lock */
	} else if (rc == 0) {
		rc = mfs_vtxn_commit(t);
		if (c)
			c->links = 0;
	} else {
		mfs_vtxn_abort(t);
	}
	if (rc == 0) {
		s->blobs_added += added;
		s->blobs_deduplicated += dedup;
		s->logged = logged;
	} else {
		s->count = first; /* those changes died with the transaction */
	}
	return rc;
}

/* Commits the chain's open transaction (it holds nothing of its own
 * unless a batch failed in it): the commits before it are then durable. */
static int end_chain(struct mfs_sink_committer *c)
{
	struct mfs_vtxn *t = c->chain;

	c->chain = NULL;
	c->links = 0;
	return t ? mfs_vtxn_commit(t) : 0;
}

static void committer_error(struct mfs_sink_committer *c, int rc)
{
	if (rc != 0 && c->rc == 0)
		c->rc = rc;
}

static void *committer_main(void *arg)
{
	struct mfs_volume_sink *s = arg;
	struct mfs_sink_committer *c = s->committer;
	struct timespec idle_until;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		int rc, timed_out = 0;

		while (!c->busy && !c->quit && !(c->chained && (c->drain || timed_out)))
			if (c->chained)
				timed_out = pthread_cond_timedwait(&c->changed, &c->lock,
								   &idle_until) == ETIMEDOUT;
			else
				pthread_cond_wait(&c->changed, &c->lock);
		if (c->busy) {
			pthread_mutex_unlock(&c->lock);
			rc = store_batch(s, &s->full, 0, c);
			pthread_mutex_lock(&c->lock);
			committer_error(c, rc);
			c->busy = 0;
			c->chained = c->chain != NULL;
			clock_gettime(CLOCK_REALTIME, &idle_until);
			idle_until.tv_nsec += CHAIN_IDLE_MS * 1000000L;
			idle_until.tv_sec += idle_until.tv_nsec / 1000000000L;
			idle_until.tv_nsec %= 1000000000L;
		} else if (c->chained) {
			pthread_mutex_unlock(&c->lock);
			rc = end_chain(c);
			pthread_mutex_lock(&c->lock);
			committer_error(c, rc);
			c->chained = 0;
		} else {
			break; /* quit */
		}
		pthread_cond_broadcast(&c->changed);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int committer_start(struct mfs_volume_sink *s)
{
	struct mfs_sink_committer *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	s->committer = c;
	rc = -pthread_create(&c->thread, NULL, committer_main, s);
	if (rc != 0) {
		pthread_cond_destroy(&c->changed);
		pthread_mutex_destroy(&c->lock);
		free(c);
		s->committer = NULL;
	}
	return rc;
}

/* Waits until no batch is being committed and, with drain, until the
 * chain has ended (every batch durable, the store's lock given back); the
 * sink's error (a background commit's, kept until a rollback), or 0. */
static int committer_wait_for(struct mfs_volume_sink *s, int drain)
{
	struct mfs_sink_committer *c = s->committer;

	if (c) {
		pthread_mutex_lock(&c->lock);
		c->drain += drain;
		pthread_cond_broadcast(&c->changed);
		while (c->busy || (drain && c->chained))
			pthread_cond_wait(&c->changed, &c->lock);
		c->drain -= drain;
		if (c->rc != 0 && s->failed == 0)
			s->failed = c->rc;
		c->rc = 0;
		pthread_mutex_unlock(&c->lock);
	}
	return s->failed;
}

static int committer_wait(struct mfs_volume_sink *s)
{
	return committer_wait_for(s, 1);
}

static void committer_stop(struct mfs_volume_sink *s)
{
	struct mfs_sink_committer *c = s->committer;

	if (!c)
		return;
	committer_wait(s);
	pthread_mutex_lock(&c->lock);
	c->quit = 1;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->lock);
	free(c);
	s->committer = NULL;
}

/* The gathered batch goes to the committer (once the one before it is
 * stored) and gathering goes on in the buffers that one left: the disk's
 * two syncs per commit no longer stop the caller. Without a thread the
 * batch is stored here. */
static int commit_behind(struct mfs_volume_sink *s)
{
	struct mfs_sink_batch gathered = s->batch;
	int rc = committer_wait_for(s, 0);

	if (rc != 0)
		return rc;
	if (!s->committer && committer_start(s) != 0) {
		rc = store_batch(s, &s->batch, 0, NULL);
		drop_batch(s, &s->batch);
		return rc;
	}
	s->batch = s->full;
	s->full = gathered;
	drop_batch(s, &s->batch);
	pthread_mutex_lock(&s->committer->lock);
	s->committer->busy = 1;
	pthread_cond_broadcast(&s->committer->changed);
	pthread_mutex_unlock(&s->committer->lock);
	return 0;
}

/* Stores the gathered batch here, after the committer's. */
static int store_here(struct mfs_volume_sink *s, int settle)
{
	int rc = committer_wait(s);

	if (rc == 0) {
		rc = store_batch(s, &s->batch, settle, NULL);
		drop_batch(s, &s->batch);
	}
	return rc;
}

int mfs_volume_sink_commit(struct mfs_volume_sink *s)
{
	return store_here(s, 0);
}

int mfs_volume_sink_finish(struct mfs_volume_sink *s)
{
	return store_here(s, 1);
}

int mfs_volume_sink_settle(struct mfs_volume_sink *s, struct mfs_vtxn *t)
{
	size_t logged;
	int rc = committer_wait(s);

	if (rc != 0)
		return rc;
	return s->batch.pending_count > 0 ? -EINVAL : log_pins(s, t, 0, &logged);
}

/* Adds one blob to the batch being gathered: owned (a buffer of owned_cap
 * bytes the batch keeps), or bytes copied (the caller reuses its buffers).
 * The copies go to one buffer kept from batch to batch: a megabyte
 * malloc'ed and freed per blob is an mmap and 256 page faults each time
 * (more than the copy costs). */
static int gather(struct mfs_volume_sink *s, const uint8_t *id, const uint8_t *bytes,
		  size_t bytes_len, size_t blob_len, int sealed, uint8_t *owned, size_t owned_cap)
{
	struct mfs_sink_batch *b = &s->batch;
	struct mfs_pending_blob *p;

	if (b->pending_count == b->pending_cap) {
		size_t cap = b->pending_cap ? b->pending_cap * 2 : 16;
		struct mfs_pending_blob *grown = realloc(b->pending, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		b->pending = grown;
		b->pending_cap = cap;
	}
	if (!owned && bytes_len > b->buf_cap - b->buf_used) {
		size_t cap = b->buf_used + bytes_len;
		uint8_t *grown;

		/* Room for a whole batch and the blob that ends it. */
		if (cap < MFS_SINK_BATCH_BYTES + bytes_len)
			cap = MFS_SINK_BATCH_BYTES + bytes_len;
		if (!(grown = realloc(b->buf, cap)))
			return -ENOMEM;
		b->buf = grown;
		b->buf_cap = cap;
	}
	p = &b->pending[b->pending_count];
	p->owned = owned;
	p->owned_cap = owned_cap;
	p->offset = b->buf_used;
	if (!owned && bytes_len > 0) {
		memcpy(b->buf + p->offset, bytes, bytes_len);
		b->buf_used += bytes_len;
	}
	memcpy(p->id, id, MFS_BLOB_ID_BYTES);
	p->len = blob_len;
	p->sealed = sealed;
	b->pending_count++;
	/* Count what the store pays: whole slots (a 64 KiB chunk takes two, and
	 * as many again for parity in a redundant volume). */
	b->bytes += mfs_blob_sealed_bytes(s->vol, blob_len);
	return 0;
}

/* Stores the batch once it is full. */
static int gathered(struct mfs_volume_sink *s)
{
	return s->batch.bytes >= MFS_SINK_BATCH_BYTES ? commit_behind(s) : 0;
}

static int sink_put(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *blob,
		    size_t len)
{
	int rc = gather(ctx, id, blob, len, len, 0, NULL, 0);

	return rc != 0 ? rc : gathered(ctx);
}

/* The sealed slots, then the scratch mfs_blob_seal needs (it holds a
 * blob, which is ciphertext: no need for guarded memory). */
static void sink_prepare(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES],
			 const uint8_t *leaves, const uint8_t *blob, size_t len, uint8_t *prepared)
{
	struct mfs_volume_sink *s = ctx;

	mfs_blob_seal(s->vol, prepared, prepared + mfs_blob_sealed_bytes(s->vol, len), id, leaves,
		      blob, len);
}

static size_t sink_prepared_bytes(void *ctx, size_t blob_len)
{
	struct mfs_volume_sink *s = ctx;

	return mfs_blob_sealed_bytes(s->vol, blob_len) + mfs_blob_seal_scratch(s->vol, blob_len);
}

/* Keeps the caller's buffer and gives it a spare: the sealed slots are not
 * copied again (a megabyte per chunk), and the batch's memory stays what
 * it was, one buffer per blob in flight instead of one large buffer. */
static int sink_put_prepared(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len,
			     uint8_t **prepared, size_t prepared_cap)
{
	struct mfs_volume_sink *s = ctx;
	const size_t sealed_len = mfs_blob_sealed_bytes(s->vol, len);
	uint8_t *spare = spare_take(s, prepared_cap);
	int rc;

	rc = gather(s, id, *prepared, sealed_len, len, 1, spare ? *prepared : NULL, prepared_cap);
	if (rc == 0 && spare)
		*prepared = spare;
	else if (spare)
		spare_give(s, spare, prepared_cap);
	return rc != 0 ? rc : gathered(s);
}

struct mfs_blob_sink mfs_volume_sink_as_sink(struct mfs_volume_sink *s)
{
	return (struct mfs_blob_sink){
		.put = sink_put,
		.prepared_bytes = sink_prepared_bytes,
		.prepare = sink_prepare,
		.put_prepared = sink_put_prepared,
		.ctx = s,
	};
}

/* Undoes one change. Rollback commits about one batch's worth of slots per
 * transaction, so the store's lock is never held for a whole file. */
static int undo_change(struct mfs_vtxn *t, const struct mfs_sink_change *c, size_t *slots)
{
	size_t len = 0;
	int rc = mfs_blob_size(t, c->id, &len);

	if (rc == 0 && (c->what & MFS_BLOB_PINNED_NOW))
		rc = mfs_blob_unpin(t, c->id);
	/* A blob this sink stored goes unless another file pinned it meanwhile. */
	if ((rc == 0 || rc == -EINVAL) && (c->what & MFS_BLOB_ADDED) &&
	    mfs_blob_pin_count(t, c->id) == 0) {
		rc = mfs_blob_delete(t, c->id);
		*slots += (size_t)mfs_obj_slots_for(len); /* data slots: paces the rollback */
	}
	return rc == MFS_E_NOTFOUND || rc == -EINVAL ? 0 : rc;
}

int mfs_volume_sink_rollback(struct mfs_volume_sink *s)
{
	size_t most = SIZE_MAX; /* changes a transaction may undo */
	int rc = 0;

	committer_wait(s); /* its error is why we are here */
	drop_batch(s, &s->batch);
	while (rc == 0 && s->count > 0) {
		struct mfs_vtxn *t = NULL;
		size_t slots = 0, done = 0, logged = 0;

		rc = mfs_vtxn_begin(s->vol, 1, &t);
		while (rc == 0 && done < s->count && done < most &&
		       slots * MFS_SLOT_BYTES < MFS_SINK_BATCH_BYTES)
			rc = undo_change(t, &s->changes[s->count - 1 - done++], &slots);
		/* The pinlog shrinks with the pins, in the same transaction. */
		if (rc == 0)
			rc = log_pins(s, t, s->count - done, &logged);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
		if (rc == 0) {
			s->count -= done;
			s->logged = logged;
		} else if (rc == MFS_E_FULL && done > 1) {
			/* Undoing is copy on write too: in a full store the slots
			 * it frees come back only at its commit, and the room a
			 * volume keeps for deleting covers a few blobs at once,
			 * not a batch of small ones. Fewer per transaction. */
			most = done / 2;
			rc = 0;
		}
	}
	if (rc == 0)
		s->failed = 0;
	return rc;
}

void mfs_volume_sink_clear(struct mfs_volume_sink *s)
{
	committer_stop(s);
	if (s->claimed)
		mfs_store_unclaim(mfs_volume_store(s->vol), s->token);
	free_batch(&s->batch);
	free_batch(&s->full);
	spare_free(s);
	free(s->spare);
	free(s->changes);
	memset(s, 0, sizeof *s);
}

static int source_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		      size_t *len)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(ctx, 0, &t);

	if (rc != 0)
		return rc;
	rc = mfs_blob_get(t, id, blob, len);
	mfs_vtxn_abort(t);
	return rc;
}

/* A hint: a state a moment old does as well (mfs_vtxn_begin_known). */
static void source_prefetch(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len)
{
	struct mfs_vtxn *t;

	if (mfs_vtxn_begin_known(ctx, &t) == 0) {
		mfs_blob_prefetch(t, id, len);
		mfs_vtxn_abort(t);
	}
}

struct mfs_blob_source mfs_volume_source(struct mfs_volume *v)
{
	return (struct mfs_blob_source){
		.get = source_get, .prefetch = source_prefetch, .ctx = v, .concurrent = 1};
}

static int txn_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		   size_t *len)
{
	return mfs_blob_get(ctx, id, blob, len);
}

static void txn_prefetch(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len)
{
	mfs_blob_prefetch(ctx, id, len);
}

struct mfs_blob_source mfs_txn_source(struct mfs_vtxn *t)
{
	return (struct mfs_blob_source){.get = txn_get, .prefetch = txn_prefetch, .ctx = t};
}
