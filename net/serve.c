/* serve: answering peers (net/node.h, "Serving" and "Memory"; the split of
 * the node in net/node_int.h).
 *
 * Owns: the lookups of REQUESTs and WANTs on libuv's thread pool, the
 * REQUESTs deferred for want of memory, the answers being sent in turns
 * (a piece at a time as the queue drains, SERVE_AHEAD), each connection's
 * WANT budget, and cutting off the connection that holds the most memory.
 * Promises: a REQUEST taken is answered once (RESPONSE and its SEGMENTs,
 * or NOT_FOUND) while its connection lasts, unless cancelled: a CANCEL is
 * answered CANCELLED, after which nothing of that request is sent; answers
 * go out whole, one after another, in the order their REQUESTs came
 * (NOT_FOUND as soon as it is known); at most REQUEST_JOBS_MAX
 * blobs are read at once, none while the budget is spent; a WANT over its
 * limits is dropped, not queued; a connection that asks more than its
 * hello allowed, or does not read its answers, is closed.
 *
 * Threads: the loop thread, except job_run, which runs on a pool thread
 * and touches only its job, the node's config (read-only), the blob source
 * and the budget (atomics); never node->lock. A job names its connection
 * by generation, since the connection may be gone when the job is done. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/node_int.h"

/* Per connection: what it may hold (its queue, the blobs of its answers
 * and the body it is sending us) before a further REQUEST closes it as not
 * reading its answers. */
#define MAX_CONN_MEMORY (32u << 20)
/* Answers are queued a piece at a time while the connection's queue holds
 * less than this: what is not queued yet can still be cancelled, and an
 * answer asked later does not wait behind megabytes already encrypted. */
#define SERVE_AHEAD (128u << 10)
#define REQUEST_JOBS_MAX 4u   /* blobs being read for answers at once (libuv's pool) */
/* WANTs served: ids a second per connection (and the burst, in
 * node_int.h), lookups in flight per connection and in all. Beyond, a
 * WANT is dropped unanswered. */
#define WANT_IDS_PER_S 4096u
#define WANT_JOBS_PER_CONN 1u
#define WANT_JOBS_MAX 4u

struct job {
	uv_work_t work;
	struct mfs_netnode *node;
	uint64_t gen;                 /* the asking connection */
	int want;                     /* WANT (else REQUEST) */
	uint32_t rid;
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint32_t first, count;        /* REQUEST: the segments asked */
	uint8_t *ids;                 /* WANT: asked, then the ones held */
	size_t n_ids;
	uint8_t *blob;
	size_t len;
	uint8_t *leaves;              /* REQUEST: the blob's, from the source or computed here */
	int rc;
};

/* A REQUEST being looked up (not ready), or its answer being sent (loop
 * thread). */
struct answer {
	struct answer *next;
	int ready;                    /* looked up: the blob is here */
	uint32_t rid;
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint8_t *blob;                /* charged to the budget until freed */
	size_t len;
	uint8_t *leaves;
	uint32_t first, at, end;      /* the segments asked; the next to send */
	int head_sent;
};

/* What c holds for the peer: its queue and the blobs of its answers. */
static size_t conn_memory(const struct conn *c)
{
	return mfs_peer_memory(c->peer) + c->answer_bytes;
}

/* The blob's leaves for its RESPONSE (pool thread), hashed when the source
 * gave none. 0, -ERANGE when the first segment asked is past the blob's
 * last, or -ENOMEM. */
static int leaves_of(struct job *j)
{
	size_t n = mfs_blob_leaf_count(j->len);

	if (j->first >= n)
		return -ERANGE;
	if (j->leaves)
		return 0;
	if (!(j->leaves = malloc(n * MFS_BLOB_ID_BYTES)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		mfs_blob_leaf(j->leaves + i * MFS_BLOB_ID_BYTES, j->blob + i * MFS_BLOB_LEAF_BYTES,
			      mfs_blob_leaf_len(j->len, i));
	return 0;
}

static void answer_free(struct mfs_netnode *n, struct conn *c, struct answer *a)
{
	c->answer_bytes -= a->len;
	mfs_peer_budget_release(&n->budget, a->len);
	free(a->blob);
	free(a->leaves);
	free(a);
}

/* Queues the next pieces of c's answers, the oldest first, while the queue
 * holds less than SERVE_AHEAD; with more to send, asks to be told when it
 * drains. */
static void serve_pump(struct conn *c)
{
	struct mfs_netnode *n = c->node;
	uint64_t sent = 0, whole = 0;

	while (c->answers && c->answers->ready && !c->evicted &&
	       mfs_peer_queued(c->peer) < SERVE_AHEAD) {
		struct answer *a = c->answers;
		struct mfs_wire_msg m = {.type = MFS_WIRE_SEGMENT, .request_id = a->rid};

		if (!a->head_sent) {
			m = (struct mfs_wire_msg){
				.type = MFS_WIRE_RESPONSE, .request_id = a->rid,
				.blob_len = (uint32_t)a->len, .segment = a->first, .data = a->leaves,
				.len = mfs_blob_leaf_count(a->len) * MFS_BLOB_ID_BYTES};
			memcpy(m.blob_id, a->id, sizeof m.blob_id);
		} else {
			m.segment = a->at;
			m.data = a->blob + (size_t)a->at * MFS_BLOB_LEAF_BYTES;
			m.len = mfs_blob_leaf_len(a->len, a->at);
		}
		if (mfs_peer_send(c->peer, &m) != 0)
			break; /* closing: the answers go with the connection */
		if (!a->head_sent) {
			a->head_sent = 1;
		} else {
			a->at++;
			sent += m.len;
		}
		if (a->head_sent && a->at == a->end) {
			c->answers = a->next;
			c->serving--;
			answer_free(n, c, a);
			whole++;
		}
	}
	if (c->answers && c->answers->ready && !c->evicted)
		mfs_peer_drained_below(c->peer, SERVE_AHEAD);
	if (sent) {
		pthread_mutex_lock(&n->lock);
		n->stats.blobs_served += whole;
		n->stats.bytes_served += sent;
		pthread_mutex_unlock(&n->lock);
	}
}

void serve_drained(struct conn *c)
{
	serve_pump(c);
}

void serve_conn_gone(struct conn *c)
{
	while (c->answers) {
		struct answer *a = c->answers;
		c->answers = a->next;
		answer_free(c->node, c, a);
	}
}

/* A place for rid's answer after the others of c. NULL when out of memory. */
static struct answer *answer_reserve(struct conn *c, uint32_t rid)
{
	struct answer *a = calloc(1, sizeof *a), **tail = &c->answers;

	if (!a)
		return NULL;
	a->rid = rid;
	while (*tail)
		tail = &(*tail)->next;
	*tail = a;
	return a;
}

/* The place of rid's answer still being looked up, unlinked when unlink;
 * NULL when there is none (cancelled). */
static struct answer *answer_pending(struct conn *c, uint32_t rid, int unlink)
{
	for (struct answer **p = &c->answers; *p; p = &(*p)->next)
		if (!(*p)->ready && (*p)->rid == rid) {
			struct answer *a = *p;
			if (unlink)
				*p = a->next;
			return a;
		}
	return NULL;
}

/* j's blob fills its place a (j gives up its blob and leaves). */
static void answer_fill(struct conn *c, struct answer *a, struct job *j)
{
	const size_t leaves = mfs_blob_leaf_count(j->len);

	memcpy(a->id, j->id, sizeof a->id);
	a->blob = j->blob;
	a->len = j->len;
	a->leaves = j->leaves;
	a->first = a->at = j->first;
	a->end = (uint32_t)(leaves - j->first < j->count ? leaves : (size_t)j->first + j->count);
	a->ready = 1;
	j->blob = j->leaves = NULL;
	c->answer_bytes += a->len;
}

static void job_run(uv_work_t *w)
{
	struct job *j = w->data;
	const struct mfs_serve_source *src = &j->node->cfg.source;

	if (!j->want) {
		j->rc = src->get(src->ctx, j->id, &j->blob, &j->len, &j->leaves);
		if (j->rc == 0 && j->len > MFS_BLOB_MAX_BYTES)
			j->rc = MFS_E_NOTFOUND; /* no blob: nothing to answer with */
		if (j->rc == 0)
			j->rc = leaves_of(j);
		/* Counted from now: answers being read are memory too. */
		if (j->blob)
			mfs_peer_budget_charge(&j->node->budget, j->len);
		return;
	}
	size_t held = 0;
	for (size_t i = 0; i < j->n_ids; i++)
		if (src->has(src->ctx, j->ids + i * MFS_BLOB_ID_BYTES) == 1)
			memmove(j->ids + held++ * MFS_BLOB_ID_BYTES, j->ids + i * MFS_BLOB_ID_BYTES,
				MFS_BLOB_ID_BYTES);
	j->n_ids = held;
}

static void job_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct mfs_netnode *n = j->node;
	struct conn *c = node_conn_by_gen(n, j->gen);
	struct answer *a = NULL;

	n->jobs--;
	if (!j->want) {
		n->request_jobs--;
		/* No place left: cancelled, CANCELLED said already. */
		a = c ? answer_pending(c, j->rid, j->rc != 0 || status != 0) : NULL;
	} else {
		n->want_jobs--;
		if (c)
			c->want_jobs--;
	}
	if (c && j->want && status == 0) {
		struct mfs_wire_msg m = {.type = MFS_WIRE_HAVE, .data = j->ids,
					 .len = j->n_ids * MFS_BLOB_ID_BYTES};
		if (j->n_ids)
			mfs_peer_send(c->peer, &m);
	} else if (a && j->rc == 0 && status == 0) {
		answer_fill(c, a, j); /* the answer holds the blob's charge now */
		serve_pump(c);
	} else if (a) {
		struct mfs_wire_msg m = {.type = MFS_WIRE_NOT_FOUND, .request_id = j->rid};
		memcpy(m.blob_id, j->id, sizeof m.blob_id);
		free(a);
		c->serving--;
		if (j->rc == -ERANGE)
			mfs_peer_close(c->peer, MFS_E_FORMAT, MFS_WIRE_ERR_PROTOCOL,
				       "a segment past the blob's end");
		else if (status == 0)
			mfs_peer_send(c->peer, &m);
		serve_pump(c); /* the next may be ready */
	}
	if (j->blob)
		mfs_peer_budget_release(&n->budget, j->len);
	free(j->blob);
	free(j->leaves);
	free(j->ids);
	free(j);
	if (!node_stopping(n))
		serve_deferred(n);
	node_maybe_finish_stop(n);
}

/* 0, or libuv's error (j freed). */
static int queue_job(struct mfs_netnode *n, struct job *j)
{
	int rc;

	j->node = n;
	j->work.data = j;
	if ((rc = uv_queue_work(mfs_loop_uv(n->loop), &j->work, job_run, job_done)) != 0) {
		free(j->ids);
		free(j);
		return rc;
	}
	n->jobs++;
	return 0;
}

/* REQUEST rid answered NOT_FOUND at once, without a lookup. */
static void not_found(struct conn *c, uint32_t rid, const uint8_t *id)
{
	struct mfs_wire_msg answer = {.type = MFS_WIRE_NOT_FOUND, .request_id = rid};

	memcpy(answer.blob_id, id, sizeof answer.blob_id);
	mfs_peer_send(c->peer, &answer);
}

/* 1 while the node's memory is under its budget. */
static int memory_left(struct mfs_netnode *n)
{
	return mfs_peer_budget_used(&n->budget) < n->budget.limit;
}

/* 1 when another REQUEST may be looked up now: each reads a whole blob
 * (up to 16 MiB) before it is counted, so only a few at once. */
static int request_slot(struct mfs_netnode *n)
{
	return n->request_jobs < REQUEST_JOBS_MAX && memory_left(n);
}

/* Queues the lookup of a REQUEST counted in c->serving (j: zeroed), its
 * answer's place after the others of c. */
static void start_request(struct conn *c, struct job *j, const struct req *r)
{
	struct answer *a = answer_reserve(c, r->rid);

	j->gen = c->gen;
	j->rid = r->rid;
	j->first = r->segment;
	j->count = r->count;
	memcpy(j->id, r->id, sizeof j->id);
	if (!a) {
		free(j);
	} else if (queue_job(c->node, j) != 0) { /* j freed */
		struct answer **p = &c->answers;
		while (*p != a)
			p = &(*p)->next;
		*p = a->next;
		free(a);
		a = NULL;
	}
	if (!a) {
		c->serving--;
		not_found(c, r->rid, r->id);
		return;
	}
	c->node->request_jobs++;
}

/* c holds too much and does not read: cut off at once, its queue
 * dropped (an ERROR would wait behind that queue). */
static void cut_off(struct mfs_netnode *n, struct conn *c)
{
	c->evicted = 1;
	pthread_mutex_lock(&n->lock);
	n->stats.peers_evicted++;
	pthread_mutex_unlock(&n->lock);
	mfs_peer_abort(c->peer, -ENOBUFS);
}

/* The connection holding the most memory, if it holds more than a quarter
 * of the budget and is not c: it is cut off, so that connections that do
 * not read cannot keep the others waiting. */
static void evict_hog(struct mfs_netnode *n, const struct conn *c)
{
	struct conn *hog = NULL;
	size_t most = n->budget.limit / 4;

	for (struct conn *k = n->conns; k; k = k->next)
		if (k->peer && !k->evicted && conn_memory(k) > most) {
			most = conn_memory(k);
			hog = k;
		}
	if (hog && hog != c)
		cut_off(n, hog);
}

/* The node is out of memory or reading REQUEST_JOBS_MAX blobs already:
 * the REQUEST waits (answered later, in order, by serve_deferred) rather
 * than being refused. */
static void defer_request(struct conn *c, const struct req *asked)
{
	struct mfs_netnode *n = c->node;

	if (c->n_deferred == MAX_DEFERRED) { /* max_requests above 64: no room */
		c->serving--;
		not_found(c, asked->rid, asked->id);
		return;
	}
	c->deferred[c->n_deferred++] = *asked;
	pthread_mutex_lock(&n->lock);
	n->stats.requests_deferred++;
	pthread_mutex_unlock(&n->lock);
	if (!memory_left(n))
		evict_hog(n, c);
}

/* One connection after another, so that none waits behind another's
 * backlog. */
void serve_deferred(struct mfs_netnode *n)
{
	int started = 1, waiting = 0;

	while (started && request_slot(n)) {
		started = 0;
		for (struct conn *c = n->conns; c && request_slot(n); c = c->next) {
			struct job *j;

			if (!c->n_deferred || !c->peer || c->evicted || !(j = calloc(1, sizeof *j)))
				continue;
			struct req r = c->deferred[0];
			memmove(c->deferred, c->deferred + 1, --c->n_deferred * sizeof *c->deferred);
			start_request(c, j, &r);
			started = 1;
		}
	}
	for (struct conn *c = n->conns; c; c = c->next)
		waiting += c->n_deferred > 0 && !c->evicted;
	/* Still waiting for memory: whoever holds the most (not reading) goes. */
	if (waiting && !memory_left(n))
		evict_hog(n, NULL);
}

void serve_request(struct conn *c, const struct mfs_wire_msg *m)
{
	struct mfs_netnode *n = c->node;
	struct req r = {.rid = m->request_id, .segment = m->segment, .count = m->count};
	struct job *j;

	memcpy(r.id, m->blob_id, sizeof r.id);
	if (c->serving >= n->cfg.max_requests) {
		mfs_peer_close(c->peer, MFS_E_FORMAT, MFS_WIRE_ERR_BUSY,
			       "more requests than the hello allowed");
		return;
	}
	/* A peer that keeps asking but does not read what it is sent must not
	 * grow our memory. */
	if (conn_memory(c) > MAX_CONN_MEMORY) {
		cut_off(n, c);
		return;
	}
	if (!n->cfg.source.get) {
		not_found(c, m->request_id, m->blob_id);
		return;
	}
	c->serving++;
	if (c->n_deferred || !request_slot(n)) {
		defer_request(c, &r);
		return;
	}
	if (!(j = calloc(1, sizeof *j))) {
		c->serving--;
		not_found(c, m->request_id, m->blob_id);
		return;
	}
	start_request(c, j, &r);
}

/* 1 when c may have n_ids ids looked up now (taking them from its budget). */
static int want_allowed(struct conn *c, size_t n_ids)
{
	uint64_t now = node_now_ms();

	c->want_tokens += (now - c->want_refill_ms) * WANT_IDS_PER_S / 1000u;
	if (c->want_tokens > WANT_IDS_BURST)
		c->want_tokens = WANT_IDS_BURST;
	c->want_refill_ms = now;
	if (c->want_jobs >= WANT_JOBS_PER_CONN || c->node->want_jobs >= WANT_JOBS_MAX ||
	    c->want_tokens < n_ids)
		return 0;
	c->want_tokens -= n_ids;
	return 1;
}

/* A WANT is a hint (the asker requests anyway): one over the limits is
 * dropped unanswered, and counted. */
void serve_want(struct conn *c, const struct mfs_wire_msg *m)
{
	struct mfs_netnode *n = c->node;
	size_t n_ids = m->len / MFS_BLOB_ID_BYTES;
	struct job *j = NULL;

	if (!n->cfg.source.has)
		return;
	if (conn_memory(c) > MAX_CONN_MEMORY || !want_allowed(c, n_ids) ||
	    !(j = calloc(1, sizeof *j)) || !(j->ids = malloc(m->len))) {
		free(j);
		pthread_mutex_lock(&n->lock);
		n->stats.wants_dropped++;
		pthread_mutex_unlock(&n->lock);
		return;
	}
	j->want = 1;
	j->gen = c->gen;
	j->n_ids = n_ids;
	memcpy(j->ids, m->data, m->len);
	if (queue_job(n, j) == 0) {
		c->want_jobs++;
		n->want_jobs++;
		pthread_mutex_lock(&n->lock);
		n->stats.wants_served++;
		n->stats.want_ids += n_ids;
		pthread_mutex_unlock(&n->lock);
	}
}


void serve_cancel(struct conn *c, const struct mfs_wire_msg *m)
{
	struct mfs_netnode *n = c->node;
	const struct mfs_wire_msg told = {.type = MFS_WIRE_CANCELLED, .request_id = m->request_id};
	int found = 0;

	/* Each CANCEL queues a CANCELLED: one that does not read them goes
	 * as one that does not read its answers. */
	if (conn_memory(c) > MAX_CONN_MEMORY) {
		cut_off(n, c);
		return;
	}
	for (unsigned i = 0; i < c->n_deferred && !found; i++)
		if (c->deferred[i].rid == m->request_id) {
			memmove(c->deferred + i, c->deferred + i + 1,
				(c->n_deferred - i - 1) * sizeof *c->deferred);
			c->n_deferred--;
			found = 1;
		}
	for (struct answer **p = &c->answers; *p && !found; p = &(*p)->next)
		if ((*p)->rid == m->request_id) {
			struct answer *a = *p;
			*p = a->next;
			answer_free(n, c, a);
			found = 1;
			break;
		}
	/* Not found: answered whole already, or never asked; said all the
	 * same, so the asker can forget it. */
	if (found) {
		c->serving--;
		pthread_mutex_lock(&n->lock);
		n->stats.cancels_served++;
		pthread_mutex_unlock(&n->lock);
	}
	mfs_peer_send(c->peer, &told);
	serve_pump(c);
}
