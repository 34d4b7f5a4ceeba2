/* fetch: the fetch scheduler (net/node.h, "Fetching"; the split of the
 * node in net/node_int.h).
 *
 * Owns: the fetches (one per blob, however many threads wait for it),
 * our requests in flight on each connection (conn.reqs) and the ids each
 * connection said it has (conn.have). Promises: a fetch ends OK only with
 * bytes that hash to its id; urgent fetches are asked before read-ahead
 * ones, and read-ahead asked of a connection before an urgent fetch is
 * taken back (CANCEL) and asked again behind it; no connection gets more
 * than its limit (requests taken back not counted); a peer that said
 * NOT_FOUND is not asked again for that blob, one that timed out is asked
 * last, one that sent wrong leaves or a wrong segment is reported (node.c
 * bans it); segments that arrived are kept, and a blob is asked again from
 * its first missing one.
 *
 * Threads: mfs_node_fetch blocks on its caller's thread; everything else
 * runs on the loop thread. Fetches change only under node->lock; the loop
 * thread hashes what arrives before it takes the lock. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/chunk.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/blobstore.h"
#include "net/node_int.h"

#define MAX_TRIED 16u         /* peers remembered per fetch as "has it not" */
/* However steadily bytes trickle in, a fetch ends after this many
 * fetch_timeout_ms (10 minutes by default): a peer sending one byte in
 * each window cannot hold a reader forever. */
#define PATIENCE_WINDOWS 20u
/* Silence in the middle of an answer, in request timeouts, that replaces
 * a dialled connection (fetch_conn_stalled). */
#define STALL_WINDOWS 2u
/* Request timeouts with no answer arriving whole on a request's
 * connection before it is asked of another peer too (ask_past_slow): a
 * segment in two windows is 6.5 KB/s at the default 5 s, slower than any
 * peer worth waiting for alone while another can serve. */
#define SLOW_WINDOWS 2u
/* A lane idle this long takes over half of a sibling's answer (a reader
 * between two blobs is not that idle). */
#define STEAL_IDLE_MS 500u
/* Fetches that go on with nobody waiting (mfs_node_fetch_segment's). */
#define MAX_STREAMED 16u
/* A read waits behind read-ahead asked before it of the same connection
 * rather than have it taken back when, at the connection's rate, that
 * read-ahead arrives within this: taking back costs the peer the blob's
 * read and hashing again, and on a fast link (loopback streams took back
 * every blob once) that costs more than the wait. */
#define CANCEL_WORTH_MS 25u
#define RATE_MIN_SEGMENTS 4u
#define DEFAULT_CHUNK_LEAVES (MFS_CHUNK_SIZE_DEFAULT / MFS_BLOB_LEAF_BYTES + 1)

enum fetch_state {
	FETCH_QUEUED,     /* waiting for a peer to ask */
	FETCH_ASKED,      /* asked; answer pending */
	FETCH_OK,         /* every segment arrived and matched its leaf */
	FETCH_FAILED,
};

/* Under node->lock, all of it. */
struct fetch {
	struct fetch *next;
	uint8_t id[MFS_BLOB_ID_BYTES];
	int urgent;
	enum fetch_state state;
	int result;                       /* FETCH_FAILED */
	/* From the first answer's head on: its leaves (checked against the
	 * id), room for every segment, and which have arrived (checked each
	 * against its leaf). len is known once the last segment came. */
	uint8_t *leaves;
	size_t n_leaves;
	uint8_t *blob;
	uint8_t *got;
	size_t n_got;
	size_t len;
	unsigned waiters;
	pthread_cond_t changed;
	uint64_t started_ms, asked_ms;
	uint64_t progress_ms;             /* bytes last arrived on a connection
					   * asked for it (or, queued for want of
					   * room, on any carrying our requests) */
	unsigned asks;                    /* requests in flight for it */
	int wanted;                       /* WANT sent for it */
	/* A segment waiter left before it was whole: it goes on with nobody
	 * waiting, and once whole is lent to the config's fetched (handing:
	 * a pool job has it; that job frees it). */
	int streamed, handing;
	/* The first segment a segment waiter waits for (UINT32_MAX: none):
	 * asked first, so that a seek into a blob does not wait for the
	 * segments before it. */
	uint32_t wanted_from;
	uint8_t avoid[MFS_NOISE_KEY_BYTES]; /* a peer that timed out on it */
	int has_avoid;
	uint8_t tried[MAX_TRIED][MFS_NOISE_KEY_BYTES]; /* said NOT_FOUND, or lied */
	unsigned n_tried;
};

static struct fetch *fetch_find(struct mfs_netnode *n, const uint8_t *id)
{
	for (struct fetch *f = n->fetches; f; f = f->next)
		if (memcmp(f->id, id, MFS_BLOB_ID_BYTES) == 0)
			return f;
	return NULL;
}

static int tried(const struct fetch *f, const uint8_t *pk)
{
	for (unsigned i = 0; i < f->n_tried; i++)
		if (memcmp(f->tried[i], pk, MFS_NOISE_KEY_BYTES) == 0)
			return 1;
	return 0;
}

static void note_tried(struct fetch *f, const uint8_t *pk)
{
	if (!tried(f, pk) && f->n_tried < MAX_TRIED)
		memcpy(f->tried[f->n_tried++], pk, MFS_NOISE_KEY_BYTES);
}

/* The segment to ask from: the first not yet arrived. */
static uint32_t first_missing(const struct fetch *f)
{
	size_t i = 0;

	while (f->got && i < f->n_leaves && f->got[i])
		i++;
	return (uint32_t)i;
}

/* 1 when segment i of f has arrived. */
static int got_segment(const struct fetch *f, uint32_t i)
{
	return f->got && i < f->n_leaves && f->got[i];
}

/* 1 while f still wants bytes. */
static int fetch_waiting(const struct fetch *f)
{
	return f && (f->state == FETCH_QUEUED || f->state == FETCH_ASKED);
}

/* The segments to ask next: from the one a segment waiter waits for, else
 * from the first missing, up to the next one that arrived (all the rest
 * while the leaves are unknown). */
static void next_run(const struct fetch *f, uint32_t *from, uint32_t *count)
{
	uint32_t end;

	*from = f->wanted_from != UINT32_MAX && !got_segment(f, f->wanted_from) &&
			(!f->leaves || f->wanted_from < f->n_leaves)
		? f->wanted_from
		: first_missing(f);
	end = *from + 1;
	while (end < (f->leaves ? f->n_leaves : MFS_WIRE_MAX_LEAVES) && !got_segment(f, end))
		end++;
	*count = end - *from;
}

static void sweep_alone(struct mfs_netnode *n);
static void settle_alone(struct mfs_netnode *n, struct fetch *f);

static void fail_fetch(struct fetch *f, int err)
{
	f->state = FETCH_FAILED;
	f->result = err;
	pthread_cond_broadcast(&f->changed);
}

/* ---- the scheduler (loop thread, lock held) ---- */

static int conn_has(const struct conn *c, const uint8_t *id)
{
	uint64_t key = node_id_prefix(id);
	for (unsigned i = (unsigned)(key % HAVE_SLOTS), probes = 0; probes < HAVE_SLOTS;
	     i = (i + 1) % HAVE_SLOTS, probes++) {
		if (c->have[i] == key)
			return 1;
		if (c->have[i] == 0)
			return 0;
	}
	return 0;
}

static void conn_note_have(struct conn *c, const uint8_t *id)
{
	uint64_t key = node_id_prefix(id);
	if (conn_has(c, id))
		return;
	if (c->have_count >= HAVE_SLOTS / 2) { /* a hint, not a record: start over */
		memset(c->have, 0, sizeof c->have);
		c->have_count = 0;
	}
	unsigned i = (unsigned)(key % HAVE_SLOTS);
	while (c->have[i])
		i = (i + 1) % HAVE_SLOTS;
	c->have[i] = key;
	c->have_count++;
}

/* 1 when c has a request for id in flight (not taken back). */
static int conn_asked(const struct conn *c, const uint8_t *id)
{
	for (unsigned i = 0; i < c->in_flight; i++)
		if (!c->reqs[i].cancelled && memcmp(c->reqs[i].id, id, MFS_BLOB_ID_BYTES) == 0)
			return 1;
	return 0;
}

/* 1 when c takes one more request: under its limit, not counting the ones
 * taken back (their answerer stopped counting them on the CANCEL, which
 * it reads before the next REQUEST), and with room to remember it. */
static int conn_has_room(const struct conn *c)
{
	return c->in_flight - c->cancelled < c->limit &&
	       c->in_flight < sizeof c->reqs / sizeof c->reqs[0];
}

/* The best ready connection to ask for f, or NULL. One already asked for
 * it is not asked twice: it answers in order, and on a slow link a second
 * copy would only double the bytes the first one waits behind. */
static struct conn *pick(struct mfs_netnode *n, const struct fetch *f, int *any_untried)
{
	struct conn *best = NULL;
	long best_score = 0;

	*any_untried = 0;
	for (struct conn *c = n->conns; c; c = c->next) {
		const uint8_t *pk;
		if (!c->ready || c->closing)
			continue;
		pk = mfs_peer_remote_key(c->peer);
		if (tried(f, pk) || node_banned(n, pk))
			continue;
		*any_untried = 1;
		if (!conn_has_room(c) || conn_asked(c, f->id))
			continue;
		long score = (long)(c->in_flight - c->cancelled) * 4;
		if (conn_has(c, f->id))
			score -= 2;
		if (f->has_avoid && memcmp(f->avoid, pk, MFS_NOISE_KEY_BYTES) == 0)
			score += 1000;
		if (!best || score < best_score) {
			best = c;
			best_score = score;
		}
	}
	return best;
}

/* Asks c for count segments of f from segment from. 0, or the error of
 * mfs_peer_send (f stays as it was). */
static int ask_run(struct conn *c, struct fetch *f, uint32_t from, uint32_t count)
{
	struct mfs_wire_msg m = {.type = MFS_WIRE_REQUEST, .request_id = ++c->next_rid,
				 .segment = from, .count = count};
	struct req *r;
	int rc;

	memcpy(m.blob_id, f->id, sizeof m.blob_id);
	if ((rc = mfs_peer_send(c->peer, &m)) != 0)
		return rc;
	r = &c->reqs[c->in_flight++];
	*r = (struct req){.rid = m.request_id, .segment = m.segment, .count = m.count,
			  .asked_ms = node_now_ms()};
	memcpy(r->id, f->id, sizeof r->id);
	f->state = FETCH_ASKED;
	f->asks++;
	f->asked_ms = node_now_ms();
	return 0;
}

/* 0, or the error of mfs_peer_send (f stays queued). */
static int ask(struct conn *c, struct fetch *f)
{
	uint32_t from, count;

	next_run(f, &from, &count);
	return ask_run(c, f, from, count);
}

/* WANT for the blobs just queued, to every ready peer: their HAVE answers
 * steer the next requests to peers that hold the blobs. */
static void send_wants(struct mfs_netnode *n)
{
	uint8_t ids[64 * MFS_BLOB_ID_BYTES];
	size_t count = 0, ready = 0;

	for (struct conn *c = n->conns; c; c = c->next)
		ready += c->ready;
	if (ready < 2)
		return;
	for (struct fetch *f = n->fetches; f && count < 64; f = f->next)
		if (!f->wanted && (f->state == FETCH_QUEUED || f->state == FETCH_ASKED)) {
			f->wanted = 1;
			memcpy(ids + count++ * MFS_BLOB_ID_BYTES, f->id, MFS_BLOB_ID_BYTES);
		}
	if (!count)
		return;
	struct mfs_wire_msg m = {.type = MFS_WIRE_WANT, .data = ids,
				 .len = count * MFS_BLOB_ID_BYTES};
	for (struct conn *c = n->conns; c; c = c->next)
		if (c->ready)
			mfs_peer_send(c->peer, &m);
}

static void ask_ended(struct fetch *f);

/* 1 while a read waits for f (an urgent fetch that went on alone, its
 * reader gone, is read-ahead now). */
static int read_waits(const struct fetch *f)
{
	return f->urgent && f->waiters > 0;
}

/* Takes r on c back (CANCEL): its fetch is asked again, of whichever peer,
 * while r stays until CANCELLED (what comes of it meanwhile is kept). */
static void cancel_request(struct mfs_netnode *n, struct conn *c, struct req *r)
{
	const struct mfs_wire_msg m = {.type = MFS_WIRE_CANCEL, .request_id = r->rid};

	if (mfs_peer_send(c->peer, &m) != 0)
		return; /* closing: fetch_conn_lost takes it back */
	r->cancelled = 1;
	c->cancelled++;
	n->stats.cancels_sent++;
	ask_ended(fetch_find(n, r->id));
}

/* The segments of r's answer still to come that have not arrived by
 * another way, past the one on its way now. */
static uint32_t still_to_come(const struct fetch *f, const struct req *r, uint32_t *end)
{
	uint32_t missing = 0;

	*end = f->n_leaves - r->segment < r->count ? (uint32_t)f->n_leaves : r->segment + r->count;
	for (uint32_t i = r->next_segment + 1; i < *end; i++)
		missing += !got_segment(f, i);
	return missing;
}

/* About the bytes c still has to send of what was asked of it before
 * urgent and would be taken back (whole pieces: an estimate). */
static uint64_t bytes_ahead(struct mfs_netnode *n, const struct conn *c,
			    const struct fetch *urgent)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < c->in_flight; i++) {
		const struct req *r = &c->reqs[i];
		const struct fetch *f;
		uint32_t end;

		if (r->cancelled || r->ended || memcmp(r->id, urgent->id, MFS_BLOB_ID_BYTES) == 0)
			continue;
		f = fetch_find(n, r->id);
		if (!f || read_waits(f))
			continue;
		/* Before its head the blob's length is unknown: taken as
		 * a chunk of the default size. */
		if (r->answered && f->leaves)
			bytes += (uint64_t)(still_to_come(f, r, &end) + 1) * MFS_BLOB_LEAF_BYTES;
		else
			bytes += r->count < DEFAULT_CHUNK_LEAVES ? (uint64_t)r->count * MFS_BLOB_LEAF_BYTES
								 : MFS_CHUNK_SIZE_DEFAULT;
	}
	return bytes;
}

/* A fetch a read waits for was just asked of c: what was
 * asked of c before it and no read waits for (read-ahead, or the rest of
 * a blob whose read took its segment and left) is taken back, since c
 * answers in order and on a slow link the read would wait behind all of
 * it. It is asked again at once, now behind the urgent one (pick spreads
 * it over the peers as any other). */
static void cancel_behind(struct mfs_netnode *n, struct conn *c, const struct fetch *urgent)
{
	if (c->rx_rate && bytes_ahead(n, c, urgent) * 1000 <= (uint64_t)c->rx_rate * CANCEL_WORTH_MS)
		return;
	for (unsigned i = 0; i < c->in_flight; i++) {
		struct req *r = &c->reqs[i];
		const struct fetch *f;

		if (r->cancelled || r->ended || memcmp(r->id, urgent->id, MFS_BLOB_ID_BYTES) == 0)
			continue;
		f = fetch_find(n, r->id);
		if (!f || !read_waits(f))
			cancel_request(n, c, r);
	}
}

void fetch_conn_ready(struct mfs_netnode *n, struct conn *ready)
{
	uint64_t now = node_now_ms();

	for (struct fetch *f = n->fetches; f; f = f->next)
		if (f->state == FETCH_QUEUED && f->asks == 0 && f->progress_ms < now)
			f->progress_ms = now;
	if (!ready->lane)
		return;
	for (struct conn *c = n->conns; c; c = c->next) {
		if (c == ready || c->dial != ready->dial || !c->ready || c->closing)
			continue;
		for (unsigned i = 0; i < c->in_flight; i++) {
			struct req *r = &c->reqs[i];

			if (!r->cancelled && !r->ended && !r->answered)
				cancel_request(n, c, r);
		}
	}
}

/* A fetch fails when no byte has come for it for fetch_timeout_ms, or
 * after PATIENCE_WINDOWS of them in all: the timeout follows the link's
 * pace (a 1 MiB blob takes 33 s at 256 kbit/s, longer at 40 % loss)
 * instead of a constant tuned for fast links. A fetch waiting for a
 * connection does not count its silence while a peer's dial is under way
 * (node_dial_awaited): the dial's own deadline bounds it. */
static int fetch_expired(const struct mfs_netnode *n, const struct fetch *f, uint64_t now)
{
	uint64_t since = f->progress_ms > f->started_ms ? f->progress_ms : f->started_ms;
	int silent = now - since >= n->cfg.fetch_timeout_ms;

	if (silent && f->asks == 0 && node_dial_awaited(n))
		silent = 0;
	return silent || now - f->started_ms >= (uint64_t)n->cfg.fetch_timeout_ms * PATIENCE_WINDOWS;
}

/* 1 when c carries none of our requests but the ones taken back. */
static int conn_idle(const struct conn *c)
{
	return c->ready && !c->closing && c->in_flight == c->cancelled;
}

/* On a lossy link (a peer with lanes: net/node.h, "Lossy links"), a
 * connection left with nothing to ask takes over the second half of what
 * a sibling still has to send of a blob: each connection there is slow,
 * and the last blob would otherwise wait on one of them. The sibling's
 * request is taken back once it reaches a segment that came this way
 * (answer_segment). Every tick. */
static void steal_for_lanes(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		struct fetch *best = NULL;
		uint32_t best_missing = 1, best_end = 0;

		if (!c->dial || !conn_idle(c) || now - c->active_ms < STEAL_IDLE_MS)
			continue;
		for (struct conn *o = n->conns; o; o = o->next) {
			if (o == c || o->dial != c->dial || !(o->lane || c->lane))
				continue;
			for (unsigned i = 0; i < o->in_flight; i++) {
				const struct req *r = &o->reqs[i];
				struct fetch *f;
				uint32_t end, missing;

				if (r->cancelled || r->ended || !r->answered)
					continue;
				f = fetch_find(n, r->id);
				if (!fetch_waiting(f) || !f->leaves || conn_asked(c, f->id))
					continue;
				missing = still_to_come(f, r, &end);
				if (missing > best_missing) {
					best = f;
					best_missing = missing;
					best_end = end;
				}
			}
		}
		if (best) {
			uint32_t from = best_end, half = 0;

			while (half < best_missing / 2)
				half += !got_segment(best, --from);
			if (ask_run(c, best, from, best_end - from) == 0)
				n->stats.segments_stolen += best_missing / 2;
		}
	}
}

/* f is whole: requests for it still under way elsewhere are taken back. */
static void finish_others(struct mfs_netnode *n, const struct fetch *f, const struct req *done)
{
	for (struct conn *c = n->conns; c; c = c->next)
		for (unsigned i = 0; i < c->in_flight; i++) {
			struct req *r = &c->reqs[i];

			if (r != done && !r->cancelled && !r->ended &&
			    memcmp(r->id, f->id, MFS_BLOB_ID_BYTES) == 0)
				cancel_request(n, c, r);
		}
}

void fetch_pump_locked(struct mfs_netnode *n)
{
	uint64_t now = node_now_ms();

	for (int pass = 1; pass >= 0; pass--)
		for (struct fetch *f = n->fetches; f; f = f->next) {
			int any_untried;
			if (f->state != FETCH_QUEUED || f->urgent != pass)
				continue;
			if (fetch_expired(n, f, now)) {
				fail_fetch(f, -ETIMEDOUT);
				continue;
			}
			struct conn *c = pick(n, f, &any_untried);
			if (c) {
				if (ask(c, f) == 0 && read_waits(f))
					cancel_behind(n, c, f);
				continue;
			}
			/* Waiting for room on peers that are delivering: that
			 * is progress too. */
			if (any_untried && n->rx_ms > f->progress_ms)
				f->progress_ms = n->rx_ms;
			n->wake_parked = 1;
			if (any_untried || f->asks > 0)
				continue;
			if (node_proxy_refused(n)) {
				/* Every way to the blob goes through a proxy
				 * that refuses: waiting out the timeout would
				 * only hide why. */
				fail_fetch(f, MFS_E_PROXY);
			} else if ((f->n_tried > 0 || n->dials) && !node_peers_pending(n)) {
				/* Nobody left to ask: all said no, or every peer
				 * known failed to prove its key. */
				fail_fetch(f, MFS_E_NOTFOUND);
			}
		}
	send_wants(n);
}

void fetch_pump(struct mfs_netnode *n)
{
	pthread_mutex_lock(&n->lock);
	n->kick_posted = 0;
	fetch_pump_locked(n);
	sweep_alone(n); /* whole ones their last reader left (fetch_leave) */
	pthread_mutex_unlock(&n->lock);
	node_wake_parked(n);
}

static void on_kick(void *arg)
{
	fetch_pump(arg);
}

/* A new or newly urgent fetch, or one left whole: one pump on the loop
 * thread, however many threads ask before it runs. Lock held. */
static void kick(struct mfs_netnode *n)
{
	if (!n->kick_posted && mfs_loop_post(n->loop, on_kick, n) == 0)
		n->kick_posted = 1;
}

/* Bytes arriving on a connection carry every request on it forward: the
 * peer answers in order, so the last request waits behind the others. */
static void note_progress(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		if (!c->ready || !c->in_flight || !c->rx_new)
			continue;
		c->rx_ms = now;
		n->rx_ms = now;
		for (unsigned i = 0; i < c->in_flight; i++) {
			struct fetch *f = fetch_find(n, c->reqs[i].id);
			if (f)
				f->progress_ms = now;
		}
	}
}

/* A ready connection to another peer than c's that can be asked for f
 * (not asked for it yet, not said NOT_FOUND, not banned, with room). */
static int other_peer_for(struct mfs_netnode *n, const struct fetch *f, const struct conn *c)
{
	const uint8_t *slow = mfs_peer_remote_key(c->peer);

	for (struct conn *o = n->conns; o; o = o->next) {
		const uint8_t *pk;

		if (!o->ready || o->closing || !conn_has_room(o) || conn_asked(o, f->id))
			continue;
		pk = mfs_peer_remote_key(o->peer);
		if (memcmp(pk, slow, MFS_NOISE_KEY_BYTES) != 0 && !tried(f, pk) &&
		    !node_banned(n, pk))
			return 1;
	}
	return 0;
}

/* Bytes are not answers: a connection that sends anything but the
 * answers it owes (keep-alives, a segment a few bytes at a time) keeps
 * its requests from the silence rule below, so a request on which no
 * answer arrived whole for SLOW_WINDOWS request timeouts since it was
 * asked is asked of another peer too, when one can take it; the slow
 * peer keeps its request (it may still be the faster) and is tried last.
 * A request that waits its turn behind answers arriving on its
 * connection is not slow. */
static void ask_past_slow(struct mfs_netnode *n, uint64_t now)
{
	const uint64_t patience = (uint64_t)n->cfg.request_timeout_ms * SLOW_WINDOWS;

	for (struct conn *c = n->conns; c; c = c->next) {
		if (!c->ready || c->closing)
			continue;
		for (unsigned i = 0; i < c->in_flight; i++) {
			struct req *r = &c->reqs[i];
			uint64_t since = r->asked_ms > c->answer_ms ? r->asked_ms : c->answer_ms;
			struct fetch *f;

			if (r->cancelled || r->ended || r->passed_over || now - since < patience)
				continue;
			f = fetch_find(n, r->id);
			if (!f || f->state != FETCH_ASKED || !other_peer_for(n, f, c))
				continue;
			/* Once: the peer asked next has its own request, slow or
			 * not, and every peer in turn would double the bytes. */
			r->passed_over = 1;
			n->stats.requests_slow++;
			f->state = FETCH_QUEUED;
			memcpy(f->avoid, mfs_peer_remote_key(c->peer), MFS_NOISE_KEY_BYTES);
			f->has_avoid = 1;
		}
	}
}

/* A peer silent on a request for request_timeout_ms may still answer: the
 * fetch is asked of another peer too (never of the same one again),
 * without cancelling the request in flight. Silent, not slow: a request
 * whose connection is delivering waits its turn. */
void fetch_tick(struct mfs_netnode *n)
{
	uint64_t now;

	pthread_mutex_lock(&n->lock);
	/* Read under the lock: a fetch another thread added meanwhile has a
	 * start no later than now (read before the lock, now - started_ms
	 * wrapped around and the fetch timed out at once). */
	now = node_now_ms();
	note_progress(n, now);
	for (struct fetch *f = n->fetches; f; f = f->next) {
		uint64_t heard = f->progress_ms > f->asked_ms ? f->progress_ms : f->asked_ms;

		if (f->state == FETCH_ASKED && now - heard >= n->cfg.request_timeout_ms) {
			n->stats.timeouts++;
			f->state = FETCH_QUEUED;
			/* Whoever holds a request for it is avoided next. */
			for (struct conn *c = n->conns; c; c = c->next)
				if (conn_asked(c, f->id)) {
					memcpy(f->avoid, mfs_peer_remote_key(c->peer),
					       MFS_NOISE_KEY_BYTES);
					f->has_avoid = 1;
				}
		}
		if ((f->state == FETCH_QUEUED || f->state == FETCH_ASKED) && fetch_expired(n, f, now))
			fail_fetch(f, -ETIMEDOUT);
	}
	ask_past_slow(n, now);
	fetch_pump_locked(n);
	steal_for_lanes(n, now);
	sweep_alone(n);
	pthread_mutex_unlock(&n->lock);
}

uint64_t fetch_conn_silence(const struct conn *c, uint64_t now)
{
	int streaming = 0;

	if (!c->ready)
		return 0;
	for (unsigned i = 0; i < c->in_flight; i++)
		streaming |= c->reqs[i].answered && !c->reqs[i].ended;
	return streaming && now > c->rx_ms ? now - c->rx_ms : 0;
}

/* Silence in the middle of an answer is the link's, not the peer's: once
 * a blob's head has come, the peer sends the rest from memory. Replacing
 * the connection is for a TCP connection whose state collapsed at heavy
 * loss (its congestion control down to a segment every few seconds, or
 * nothing at all for 30 s), where a new one streams at once; the fetches
 * on it get a whole fetch_timeout_ms for that, within their
 * PATIENCE_WINDOWS. */
int fetch_conn_stalled(struct mfs_netnode *n, struct conn *c, uint64_t now)
{
	if (fetch_conn_silence(c, now) < (uint64_t)n->cfg.request_timeout_ms * STALL_WINDOWS)
		return 0;
	for (unsigned i = 0; i < c->in_flight; i++) {
		struct fetch *f = fetch_find(n, c->reqs[i].id);
		if (f)
			f->progress_ms = now;
	}
	return 1;
}

/* A request for f ended: with none left in flight, f is asked again. */
static void ask_ended(struct fetch *f)
{
	if (f && f->asks > 0 && --f->asks == 0 && f->state == FETCH_ASKED)
		f->state = FETCH_QUEUED;
}

void fetch_conn_lost(struct mfs_netnode *n, struct conn *c)
{
	for (unsigned i = 0; i < c->in_flight; i++)
		if (!c->reqs[i].cancelled)
			ask_ended(fetch_find(n, c->reqs[i].id));
}

void fetch_fail_all(struct mfs_netnode *n, int err)
{
	for (struct fetch *f = n->fetches; f; f = f->next)
		if (f->state != FETCH_OK && f->state != FETCH_FAILED)
			fail_fetch(f, err);
	sweep_alone(n); /* nobody waits for those: freed now */
}

/* ---- answers to our requests (loop thread) ---- */

static struct req *find_request(struct conn *c, uint32_t rid)
{
	for (unsigned i = 0; i < c->in_flight; i++)
		if (c->reqs[i].rid == rid)
			return &c->reqs[i];
	return NULL;
}

/* Our request r on c has ended (answered whole, NOT_FOUND, or a lie): it
 * leaves c, and its fetch, if still waiting, is asked again when nothing
 * else is in flight for it. Lock held. */
static void request_ended(struct mfs_netnode *n, struct conn *c, struct req *r)
{
	struct fetch *f = fetch_find(n, r->id);
	int cancelled = r->cancelled;

	*r = c->reqs[--c->in_flight];
	if (cancelled)
		c->cancelled--; /* its fetch was asked again when it was taken back */
	else
		ask_ended(f);
}

/* r's answer is whole, or NOT_FOUND: it ends, unless taken back, when it
 * waits for CANCELLED and nothing more of it may come. Lock held. */
static void answer_ended(struct mfs_netnode *n, struct conn *c, struct req *r)
{
	if (r->cancelled)
		r->ended = 1;
	else
		request_ended(n, c, r);
}

/* The peer sent what does not match the blob id (leaves or a segment): it
 * is never asked for this blob again, and banned and cut off (node.c). */
static void lied(struct mfs_netnode *n, struct conn *c, struct req *r, struct fetch *f)
{
	const uint8_t *pk = mfs_peer_remote_key(c->peer);

	n->stats.bad_blobs++;
	if (f)
		note_tried(f, pk);
	node_report_bad(n, pk);
	request_ended(n, c, r);
	mfs_peer_close(c->peer, MFS_E_CORRUPT, MFS_WIRE_ERR_PROTOCOL,
		       "a blob that does not match its id");
}

/* The answer's head: its leaves, checked against the id, give the fetch
 * room for every segment. Lock held. */
static void answer_head(struct mfs_netnode *n, struct conn *c, struct req *r,
			const struct mfs_wire_msg *m, int leaves_match)
{
	struct fetch *f = fetch_find(n, r->id);
	size_t count = m->len / MFS_BLOB_ID_BYTES;

	if (!leaves_match) {
		lied(n, c, r, f);
		return;
	}
	r->answered = 1;
	r->head_ns = uv_hrtime();
	r->blob_len = m->blob_len;
	r->next_segment = m->segment;
	if (!fetch_waiting(f) || f->leaves)
		return; /* equal leaves: the id fixes them */
	f->leaves = malloc(m->len);
	f->blob = malloc(count * MFS_BLOB_LEAF_BYTES);
	f->got = calloc(count, 1);
	if (!f->leaves || !f->blob || !f->got) {
		free(f->leaves);
		free(f->blob);
		free(f->got);
		f->leaves = f->blob = f->got = NULL;
		fail_fetch(f, -ENOMEM);
		return;
	}
	memcpy(f->leaves, m->data, m->len);
	f->n_leaves = count;
	pthread_cond_broadcast(&f->changed); /* a segment past the end is known now */
}

/* Each stretch of RATE_MIN_SEGMENTS segments of an answer (fewer are too
 * quick to time) tells c's rate, whether or not the answer ends (one
 * taken back may never). */
static void note_rate(struct conn *c, struct req *r)
{
	uint64_t now, took, sample;

	if (r->rx_bytes < RATE_MIN_SEGMENTS * (uint64_t)MFS_BLOB_LEAF_BYTES)
		return;
	now = uv_hrtime();
	took = now - r->head_ns;
	if (took > 0) {
		sample = r->rx_bytes * 1000000000u / took;
		c->rx_rate = c->rx_rate ? (3 * c->rx_rate + sample) / 4 : sample;
	}
	r->head_ns = now;
	r->rx_bytes = 0;
}

/* A segment, hashed (leaf) by the caller outside the lock. Lock held. */
static void answer_segment(struct mfs_netnode *n, struct conn *c, struct req *r,
			   const struct mfs_wire_msg *m, const uint8_t *leaf)
{
	struct fetch *f = fetch_find(n, r->id);
	const size_t i = m->segment;
	const size_t leaves = mfs_blob_leaf_count(r->blob_len);
	const size_t end = leaves - r->segment < r->count ? leaves : (size_t)r->segment + r->count;
	const int last_of_request = ++r->next_segment == end;
	int whole = 0;

	if (fetch_waiting(f) && f->leaves) {
		if (!mfs_memeq(leaf, f->leaves + i * MFS_BLOB_ID_BYTES, MFS_BLOB_ID_BYTES)) {
			lied(n, c, r, f);
			return;
		}
		if (!f->got[i]) {
			memcpy(f->blob + i * MFS_BLOB_LEAF_BYTES, m->data, m->len);
			f->got[i] = 1;
			if (f->wanted_from == i)
				f->wanted_from = UINT32_MAX;
			if (i == f->n_leaves - 1)
				f->len = i * MFS_BLOB_LEAF_BYTES + m->len;
			if (++f->n_got == f->n_leaves) {
				f->state = FETCH_OK;
				n->stats.blobs_fetched++;
				n->stats.bytes_fetched += f->len;
				finish_others(n, f, r);
				whole = 1;
			}
			/* Segment waiters take it now; the others at the end. */
			if (f->waiters)
				pthread_cond_broadcast(&f->changed);
		}
	}
	r->rx_bytes += m->len;
	note_rate(c, r);
	if (last_of_request)
		answer_ended(n, c, r);
	else if (!r->cancelled && fetch_waiting(f) && got_segment(f, r->next_segment))
		cancel_request(n, c, r); /* what it sends next came another way */
	/* Whole with nobody waiting: lent (or freed) now, not at the next
	 * tick; on a fast link a tick's worth of whole blobs is megabytes. */
	if (whole)
		settle_alone(n, f);
}

void fetch_answer(struct conn *c, const struct mfs_wire_msg *m)
{
	struct mfs_netnode *n = c->node;
	struct req *r = find_request(c, m->request_id);
	uint8_t hash[MFS_BLOB_ID_BYTES];
	const char *wrong = NULL;

	/* Each answer in its turn: a head once, for the blob and from the
	 * segment asked; then each segment in order, of the length the head's
	 * blob length gives it. */
	if (!r || r->ended)
		wrong = "an answer to no request";
	else if (m->type != MFS_WIRE_SEGMENT &&
		 (r->answered || memcmp(r->id, m->blob_id, MFS_BLOB_ID_BYTES) != 0))
		wrong = "an answer to no request";
	else if (m->type == MFS_WIRE_RESPONSE && m->segment != r->segment)
		wrong = "an answer from another segment than asked";
	else if (m->type == MFS_WIRE_SEGMENT &&
		 (!r->answered || m->segment != r->next_segment ||
		  m->len != mfs_blob_leaf_len(r->blob_len, m->segment)))
		wrong = "a segment out of turn";
	if (wrong) {
		mfs_peer_close(c->peer, MFS_E_FORMAT, MFS_WIRE_ERR_PROTOCOL, wrong);
		return;
	}
	/* Hashing outside the lock: readers wait on it. */
	if (m->type == MFS_WIRE_RESPONSE)
		mfs_blob_id_of_leaves(hash, m->data, m->len / MFS_BLOB_ID_BYTES);
	else if (m->type == MFS_WIRE_SEGMENT)
		mfs_blob_leaf(hash, m->data, m->len);
	pthread_mutex_lock(&n->lock);
	c->answer_ms = node_now_ms();
	if (m->type == MFS_WIRE_RESPONSE) {
		answer_head(n, c, r, m, mfs_memeq(hash, r->id, sizeof hash));
	} else if (m->type == MFS_WIRE_SEGMENT) {
		answer_segment(n, c, r, m, hash);
	} else {
		struct fetch *f = fetch_find(n, r->id);
		if (f)
			note_tried(f, mfs_peer_remote_key(c->peer));
		answer_ended(n, c, r);
	}
	fetch_pump_locked(n);
	pthread_mutex_unlock(&n->lock);
}

void fetch_cancelled(struct conn *c, const struct mfs_wire_msg *m)
{
	struct mfs_netnode *n = c->node;
	struct req *r = find_request(c, m->request_id);

	if (!r || !r->cancelled) {
		mfs_peer_close(c->peer, MFS_E_FORMAT, MFS_WIRE_ERR_PROTOCOL,
			       "CANCELLED for no request taken back");
		return;
	}
	pthread_mutex_lock(&n->lock);
	request_ended(n, c, r);
	fetch_pump_locked(n);
	pthread_mutex_unlock(&n->lock);
}

void fetch_have(struct conn *c, const struct mfs_wire_msg *m)
{
	for (size_t i = 0; i < m->len / MFS_BLOB_ID_BYTES; i++)
		conn_note_have(c, m->data + i * MFS_BLOB_ID_BYTES);
	fetch_pump(c->node);
}

/* ---- fetching (caller threads) ---- */

/* Unlinks and frees f. Lock held. */
static void fetch_free(struct mfs_netnode *n, struct fetch *f)
{
	for (struct fetch **p = &n->fetches; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	free(f->blob);
	free(f->leaves);
	free(f->got);
	pthread_cond_destroy(&f->changed);
	free(f);
	if (!n->fetches)
		pthread_cond_broadcast(&n->quiet);
}

/* 1 when f goes on with nobody waiting. Lock held. */
static int fetch_alone(const struct fetch *f)
{
	return f->streamed && f->waiters == 0;
}

/* The last waiter frees f, unless it goes on alone or is being lent.
 * Lock held. */
static void fetch_leave(struct mfs_netnode *n, struct fetch *f)
{
	if (--f->waiters || f->handing) /* a lend job frees it when done */
		return;
	if (f->streamed && f->state == FETCH_OK)
		kick(n); /* whole: lent by the loop thread's sweep_alone */
	if (f->streamed && f->state != FETCH_FAILED)
		return; /* goes on alone, or is lent */
	fetch_free(n, f);
}

struct lend_job {
	uv_work_t work;
	struct mfs_netnode *node;
	struct fetch *f;
};

static void lend_run(uv_work_t *w)
{
	struct lend_job *j = w->data;
	const struct mfs_node_config *cfg = &j->node->cfg;

	/* OK and handing: nothing changes f's blob, nobody frees f. */
	cfg->fetched(cfg->fetched_ctx, j->f->id, j->f->blob, j->f->len);
}

static void lend_done(uv_work_t *w, int status)
{
	struct lend_job *j = w->data;
	struct mfs_netnode *n = j->node;

	(void)status;
	pthread_mutex_lock(&n->lock);
	n->jobs--;
	j->f->handing = 0;
	j->f->streamed = 0; /* lent: a waiter that came meanwhile frees it */
	if (j->f->waiters == 0)
		fetch_free(n, j->f);
	pthread_mutex_unlock(&n->lock);
	free(j);
	node_maybe_finish_stop(n);
}

/* f, when it ended going on alone: dropped when it failed, a whole one
 * lent to the config's fetched first (loop thread, lock held; f may be
 * freed). */
static void settle_alone(struct mfs_netnode *n, struct fetch *f)
{
	struct lend_job *j;

	if (!fetch_alone(f) || f->handing || (f->state != FETCH_OK && f->state != FETCH_FAILED))
		return;
	if (f->state == FETCH_OK && n->cfg.fetched && !n->stopping && (j = calloc(1, sizeof *j))) {
		*j = (struct lend_job){.node = n, .f = f};
		j->work.data = j;
		if (uv_queue_work(mfs_loop_uv(n->loop), &j->work, lend_run, lend_done) == 0) {
			f->handing = 1;
			n->jobs++;
			return;
		}
		free(j);
	}
	fetch_free(n, f);
}

/* Every fetch that ended going on alone (loop thread, lock held). */
static void sweep_alone(struct mfs_netnode *n)
{
	for (struct fetch *f = n->fetches, *next; f; f = next) {
		next = f->next;
		settle_alone(n, f);
	}
}

static unsigned count_alone(const struct mfs_netnode *n)
{
	unsigned count = 0;

	for (const struct fetch *f = n->fetches; f; f = f->next)
		count += fetch_alone(f);
	return count;
}

/* f, found or made, with one more waiter. NULL: -ENOMEM. Lock held. */
static struct fetch *fetch_join(struct mfs_netnode *n, const uint8_t *id, int urgent)
{
	struct fetch *f = fetch_find(n, id);

	if (!f) {
		if (!(f = calloc(1, sizeof *f)))
			return NULL;
		memcpy(f->id, id, sizeof f->id);
		pthread_cond_init(&f->changed, NULL);
		f->started_ms = node_now_ms();
		f->wanted_from = UINT32_MAX;
		f->next = n->fetches;
		n->fetches = f;
		kick(n);
	}
	if (urgent && !f->urgent) {
		f->urgent = 1;
		kick(n);
	}
	f->waiters++;
	return f;
}

int mfs_node_fetch(struct mfs_netnode *n, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		   uint8_t **blob, size_t *len)
{
	struct fetch *f;
	int rc;

	*blob = NULL;
	*len = 0;
	pthread_mutex_lock(&n->lock);
	if (n->stopping || !(f = fetch_join(n, id, urgent))) {
		rc = n->stopping ? -ESHUTDOWN : -ENOMEM;
		pthread_mutex_unlock(&n->lock);
		return rc;
	}
	while (f->state != FETCH_OK && f->state != FETCH_FAILED)
		pthread_cond_wait(&f->changed, &n->lock);
	rc = f->state == FETCH_OK ? 0 : f->result;
	if (rc == 0 && f->waiters == 1 && !f->handing) {
		/* Room was made for whole segments: give back the last one's
		 * slack. */
		uint8_t *fit = realloc(f->blob, f->len ? f->len : 1);
		*blob = fit ? fit : f->blob;
		f->blob = NULL;
		f->streamed = 0; /* taken: nothing to lend */
	} else if (rc == 0 && (*blob = malloc(f->len ? f->len : 1))) {
		memcpy(*blob, f->blob, f->len);
	} else if (rc == 0) {
		rc = -ENOMEM;
	}
	if (rc == 0)
		*len = f->len;
	fetch_leave(n, f);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* 1 once segment index of f is known: arrived, or past the blob's end. */
static int segment_known(const struct fetch *f, uint32_t index)
{
	return f->state == FETCH_OK || f->state == FETCH_FAILED ||
	       (f->leaves && (index >= f->n_leaves || f->got[index]));
}

int mfs_node_fetch_segment(struct mfs_netnode *n, const uint8_t id[static MFS_BLOB_ID_BYTES],
			   int urgent, uint32_t index, uint8_t *out, size_t cap, size_t *len)
{
	struct fetch *f;
	int rc = 0, whole;

	*len = 0;
	pthread_mutex_lock(&n->lock);
	if (n->stopping || !(f = fetch_join(n, id, urgent))) {
		rc = n->stopping ? -ESHUTDOWN : -ENOMEM;
		pthread_mutex_unlock(&n->lock);
		return rc;
	}
	/* Too many going on alone already: this one is waited for whole. */
	whole = !f->streamed && f->state != FETCH_OK && count_alone(n) >= MAX_STREAMED;
	if (!whole && !segment_known(f, index) && index < f->wanted_from)
		f->wanted_from = index;
	while (whole ? f->state != FETCH_OK && f->state != FETCH_FAILED : !segment_known(f, index))
		pthread_cond_wait(&f->changed, &n->lock);
	if (f->state == FETCH_FAILED) {
		rc = f->result;
	} else if (index >= f->n_leaves) {
		rc = MFS_E_CORRUPT;
	} else {
		/* The last piece's length is known once it arrived. */
		size_t piece = index + 1 < f->n_leaves ? MFS_BLOB_LEAF_BYTES
						       : f->len - (size_t)index * MFS_BLOB_LEAF_BYTES;
		if (piece > cap) {
			rc = -ENOBUFS;
		} else {
			memcpy(out, f->blob + (size_t)index * MFS_BLOB_LEAF_BYTES, piece);
			*len = piece;
		}
	}
	if (f->state != FETCH_OK && f->state != FETCH_FAILED)
		f->streamed = 1;
	fetch_leave(n, f);
	pthread_mutex_unlock(&n->lock);
	return rc;
}
