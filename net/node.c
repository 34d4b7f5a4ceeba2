/* node: the node's life and its connections (net/node.h; the split of the
 * node in net/node_int.h).
 *
 * Owns: starting and stopping the node, the listener and the tick; every
 * connection (accepted or dialled), its slot among max_peers and
 * max_per_range, idle closing and eviction of the idlest; the peers to
 * dial (given and learnt), their redial backoff and parking, the learnt
 * peers' limits and the addresses dropped; the banned keys. The peer
 * callbacks live here and hand each message to fetch.c or serve.c.
 * Promises: what net/node.h says of connections and peers; a stop ends
 * only when every handle, connection and pool job is gone.
 *
 * Threads: the loop thread, except the public calls, which hand their work
 * to it (mfs_loop_call) or take node->lock (mfs_node_stats). */
#include "net/node.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/hostport.h"
#include "net/node_int.h"
#include "net/pt.h"
#include "net/tcpopt.h"

#define TICK_MS 100u
#define DEFAULT_MEMORY_BUDGET ((size_t)256 << 20)
#define REDIAL_MIN_MS 250u
#define REDIAL_MAX_MS 10000u
#define HANDSHAKE_MS 10000u    /* a first dial's deadline (config's default) */
#define HANDSHAKE_DOUBLINGS 4u  /* then doubled per failed dial in a row, 4 times at most */
#define DIALS_AWAITED 3u       /* failed dials in a row a waiting fetch sits out */
#define DEFAULT_IDLE_MS 60000u /* an accepted connection with nothing in flight */
#define MAX_LEARNT 128u       /* dials of peers others named, at once */
#define LEARNT_TRIES 4u       /* failed dials before such a peer that never answered goes */
/* Dials in a row that the proxy refused before a peer counts as out of
 * reach through it: the redial backoff spaces them 0.25, 0.5 and 1 s apart,
 * so a proxy that restarts within about 2 s is waited for. */
#define PROXY_TRIES 4u
#define DEAD_MS (10u * 60u * 1000u) /* how long a dropped learnt peer's address is refused */
/* Lossy links (net/node.h, "Lossy links"). */
#define LANES 4u              /* connections to a dialled peer on a lossy link, in all */
#define GAP_MS 1000u          /* silence in the middle of an answer that is a gap */
#define GAPS_LOSSY 3u         /* gaps within GAP_WINDOW_MS that make a link lossy */
#define GAP_WINDOW_MS 30000u
#define LOSSY_KEEP_MS 60000u  /* a link is lossy this long after its last gap */
#define LANE_PAUSE_MS 5000u   /* no lane dialled this soon after one closed or failed */
#define RATE_SECONDS 10u      /* busy seconds a peer's rate is measured over */
#define LANES_GAIN_PCT 150u   /* lanes stay when they bring this much of the rate before */
#define NO_LANES_MS (10u * 60u * 1000u) /* no lanes to a peer after they did not help */

enum lane_trial {
	TRIAL_NONE,
	TRIAL_WAITING,        /* lanes dialled, none ready yet */
	TRIAL_RUNNING,        /* measuring the rate with them */
	TRIAL_PASSED,         /* they helped: kept while the link is lossy */
};

/* A peer to dial (loop thread only). */
struct dial {
	struct dial *next;
	char addr[64];
	struct sockaddr_storage sa;
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	int has_pk;
	struct conn *conn;
	unsigned failures;
	int banned;
	int learnt;                   /* named by a tracker, not by the user */
	int parked;                   /* closed idle by the peer: dialled when wanted */
	int answered;                 /* was ready once */
	int told_why;                 /* a failed dial through the proxy was logged */
	unsigned proxy_refusals;      /* dials in a row the proxy refused */
	char bridge[MFS_PT_ARGS_MAX + 1]; /* its bridge arguments; "" when none */
	/* Lossy links: gaps counted since gap_window_ms, the first of them at
	 * first_gap_ms with rx_total then first_gap_bytes; lossy_ms, the last
	 * gap once the link proved lossy (0: never); lanes, the connections
	 * besides conn (open or opening; each conn->lane). */
	unsigned gaps;
	uint64_t gap_window_ms, lossy_ms, lanes_paused_until;
	uint64_t first_gap_ms, first_gap_bytes;
	unsigned lanes;
	/* What its connections received: rx_total in all; per_second, the
	 * bytes of each of its last busy seconds (a request of ours in flight
	 * on one of them); second_bytes, rx_total when this second began. The
	 * lanes' trial: the rate before them (bytes a busy second), what came
	 * in the busy seconds since the first lane was ready; no_lanes_until,
	 * set when they did not help. */
	uint64_t rx_total, second_start_ms, second_bytes;
	uint64_t per_second[RATE_SECONDS];
	unsigned n_seconds, next_second;
	int second_busy;
	enum lane_trial trial;
	uint64_t rate_before, trial_bytes, no_lanes_until;
	unsigned trial_seconds;
	uv_timer_t retry;
	struct mfs_netnode *node;
};

int node_stopping(struct mfs_netnode *n)
{
	pthread_mutex_lock(&n->lock);
	int stopping = n->stopping;
	pthread_mutex_unlock(&n->lock);
	return stopping;
}

int node_banned(const struct mfs_netnode *n, const uint8_t *pk)
{
	for (unsigned i = 0; i < n->n_banned; i++)
		if (memcmp(n->banned[i], pk, MFS_NOISE_KEY_BYTES) == 0)
			return 1;
	return 0;
}

static void ban_key(struct mfs_netnode *n, const uint8_t *pk)
{
	if (node_banned(n, pk))
		return;
	if (n->n_banned < MAX_BANNED)
		memcpy(n->banned[n->n_banned++], pk, MFS_NOISE_KEY_BYTES);
	else /* full: the newest entry gives way */
		memcpy(n->banned[n->n_banned - 1], pk, MFS_NOISE_KEY_BYTES);
	pthread_mutex_lock(&n->lock);
	n->stats.peers_banned++;
	pthread_mutex_unlock(&n->lock);
	for (struct dial *d = n->dials; d; d = d->next)
		if (d->has_pk && memcmp(d->pk, pk, MFS_NOISE_KEY_BYTES) == 0)
			d->banned = 1;
}

int node_proxy_refused(const struct mfs_netnode *n)
{
	int any = 0;

	if (!n->cfg.proxy)
		return 0;
	for (const struct dial *d = n->dials; d; d = d->next) {
		if (d->banned)
			continue;
		if (d->conn || d->proxy_refusals < PROXY_TRIES)
			return 0;
		any = 1;
	}
	return any || n->discovery_refused;
}

void mfs_node_set_discovery_refused(struct mfs_netnode *n, int refused)
{
	n->discovery_refused = refused;
	if (refused)
		fetch_pump(n);
}

int node_peers_pending(const struct mfs_netnode *n)
{
	for (const struct dial *d = n->dials; d; d = d->next)
		if (!d->banned && (!d->conn || !d->conn->ready))
			return 1;
	return 0;
}

int node_dial_awaited(const struct mfs_netnode *n)
{
	for (const struct dial *d = n->dials; d; d = d->next)
		if (!d->banned && !d->parked && (!d->conn || !d->conn->ready) &&
		    d->failures < DIALS_AWAITED)
			return 1;
	return 0;
}

static void dial_now(struct mfs_netnode *n, struct dial *d);

/* A peer that closed us as idle is dialled again only when a fetch found
 * no connection to ask: not at every idle timeout. */
void node_wake_parked(struct mfs_netnode *n)
{
	int wake;

	pthread_mutex_lock(&n->lock);
	wake = n->wake_parked;
	n->wake_parked = 0;
	pthread_mutex_unlock(&n->lock);
	if (!wake)
		return;
	for (struct dial *d = n->dials; d; d = d->next)
		if (d->parked) {
			d->parked = 0;
			dial_now(n, d);
		}
}

static void close_idle(struct mfs_netnode *n, uint64_t now);
static void replace_stalled(struct mfs_netnode *n, uint64_t now);
static void close_unacked(struct mfs_netnode *n, uint64_t now);
static void watch_gaps(struct mfs_netnode *n, uint64_t now);
static void measure_rates(struct mfs_netnode *n, uint64_t now);

/* What each connection received since the last tick, read once for all
 * who ask (fetch.c's silences, the dials' rates). */
static void count_received(struct mfs_netnode *n)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		uint64_t got = c->peer ? mfs_peer_read_bytes(c->peer) : c->rx_read;

		c->rx_new = got - c->rx_read;
		c->rx_read = got;
	}
}

static void on_tick(uv_timer_t *t)
{
	struct mfs_netnode *n = t->data;
	uint64_t now = node_now_ms();

	count_received(n);
	fetch_tick(n);
	replace_stalled(n, now);
	close_unacked(n, now);
	measure_rates(n, now);
	watch_gaps(n, now);
	serve_deferred(n);
	close_idle(n, now);
	node_wake_parked(n);
}

/* ---- connections ---- */

static void on_redial(uv_timer_t *t);

struct conn *node_conn_by_gen(struct mfs_netnode *n, uint64_t gen)
{
	for (struct conn *c = n->conns; c; c = c->next)
		if (c->gen == gen)
			return c;
	return NULL;
}

static struct conn *conn_new(struct mfs_netnode *n, struct dial *d)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->node = n;
	c->dial = d;
	c->gen = ++n->next_gen;
	c->want_tokens = WANT_IDS_BURST;
	c->want_refill_ms = node_now_ms();
	c->active_ms = c->want_refill_ms;
	c->next = n->conns;
	n->conns = c;
	return c;
}

static void conn_unlink(struct mfs_netnode *n, struct conn *c)
{
	for (struct conn **p = &n->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			return;
		}
}

/* Frees an unlinked connection whose peer is closed (or never was). */
static void conn_free(struct conn *c)
{
	serve_conn_gone(c);
	mfs_secure_free(c->bridge_proxy);
	free(c);
}

/* A learnt peer named without a key proved d->pk: the owner hears of it
 * as "HOST:PORT#KEY" (to remember it as a tracker's peer). */
static void tell_learnt_key(struct mfs_netnode *n, const struct dial *d)
{
	char text[sizeof d->addr + 1 + 2 * MFS_NOISE_KEY_BYTES + 1];
	size_t at = strlen(d->addr);

	if (!n->cfg.learnt_key || memcmp(d->pk, n->pk, MFS_NOISE_KEY_BYTES) == 0)
		return;
	memcpy(text, d->addr, at);
	text[at++] = '#';
	mfs_hex_encode(text + at, d->pk, MFS_NOISE_KEY_BYTES);
	n->cfg.learnt_key(n->cfg.learnt_key_ctx, text);
}

static void on_ready(struct mfs_peer *p, void *ctx)
{
	struct conn *c = ctx;
	struct mfs_netnode *n = c->node;
	const uint8_t *pk = mfs_peer_remote_key(p);

	if (node_banned(n, pk)) {
		mfs_peer_close(p, 0, MFS_WIRE_ERR_BUSY, "refused");
		return;
	}
	c->ready = 1;
	c->active_ms = c->acked_ms = node_now_ms();
	c->limit = mfs_peer_hello(p)->max_requests;
	if (c->limit > MAX_IN_FLIGHT)
		c->limit = MAX_IN_FLIGHT;
	if (c->limit == 0)
		c->limit = 1;
	if (c->dial) {
		c->dial->failures = 0;
		c->dial->answered = 1;
		c->dial->told_why = 0;
		c->dial->proxy_refusals = 0;
		if (!c->dial->has_pk) { /* learnt: from now on the peer must prove it */
			memcpy(c->dial->pk, pk, MFS_NOISE_KEY_BYTES);
			c->dial->has_pk = 1;
			if (c->dial->learnt)
				tell_learnt_key(n, c->dial);
		}
	}
	if (c->lane && c->dial->trial == TRIAL_WAITING) {
		c->dial->trial = TRIAL_RUNNING;
		c->dial->trial_bytes = 0;
		c->dial->trial_seconds = 0;
	}
	pthread_mutex_lock(&n->lock);
	n->stats.peers_ready++;
	fetch_conn_ready(n, c);
	fetch_pump_locked(n);
	pthread_mutex_unlock(&n->lock);
}

static void on_dial_closed(uv_handle_t *h);

/* Forgets dial d (not connected): its timer closes, then it is freed. */
static void drop_dial(struct mfs_netnode *n, struct dial *d)
{
	for (struct dial **p = &n->dials; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	__atomic_sub_fetch(&n->n_dials, 1, __ATOMIC_RELAXED);
	if (d->learnt)
		n->n_learnt--;
	for (struct conn *c = n->conns; c; c = c->next)
		if (c->dial == d) { /* its lanes: d is freed before they close */
			c->dial = NULL;
			c->lane = 0;
			mfs_peer_close(c->peer, 0, 0, NULL);
		}
	uv_timer_stop(&d->retry);
	uv_close((uv_handle_t *)&d->retry, on_dial_closed);
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(a, b, sizeof(struct sockaddr_in)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0 &&
	       ((const struct sockaddr_in6 *)a)->sin6_port ==
		       ((const struct sockaddr_in6 *)b)->sin6_port;
}

static int recently_dead(const struct mfs_netnode *n, const struct sockaddr_storage *sa)
{
	uint64_t now = node_now_ms();

	for (unsigned i = 0; i < DEAD_SLOTS; i++)
		if (n->dead[i].since_ms && now - n->dead[i].since_ms < DEAD_MS &&
		    same_address(&n->dead[i].sa, sa))
			return 1;
	return 0;
}

/* A learnt peer that never answered LEARNT_TRIES dials, or is banned, is
 * dropped, and its address not taken again for DEAD_MS. 1 when d was. */
static int gave_up(struct mfs_netnode *n, struct dial *d)
{
	if (!d->learnt || (!d->banned && (d->answered || d->failures + 1 < LEARNT_TRIES)))
		return 0;
	n->dead[n->dead_next].sa = d->sa;
	n->dead[n->dead_next].since_ms = node_now_ms();
	n->dead_next = (n->dead_next + 1) % DEAD_SLOTS;
	pthread_mutex_lock(&n->lock);
	n->stats.peers_dropped++;
	pthread_mutex_unlock(&n->lock);
	drop_dial(n, d);
	return 1;
}

static void on_closed(struct mfs_peer *p, int reason, void *ctx)
{
	struct conn *c = ctx;
	struct mfs_netnode *n = c->node;
	struct dial *d = c->dial;
	const char *why = mfs_peer_dial_why(p);

	if (d && !c->lane && why && n->cfg.proxy && n->cfg.log && !d->told_why) {
		char line[256];

		d->told_why = 1;
		/* The reason, not the peer: no log says whom this node dials. */
		snprintf(line, sizeof line, "%s: %s",
			 d->bridge[0] ? "dialling a bridge through the pluggable transport"
				      : "dialling a peer through the proxy", why);
		n->cfg.log(n->cfg.log_ctx, line);
	}
	if (d && !c->lane && !c->ready)
		d->proxy_refusals = n->cfg.proxy && mfs_peer_dial_refused(p) ?
			d->proxy_refusals + 1 : 0;
	/* A peer that broke the protocol or failed to prove its key is not
	 * asked again. */
	if (reason == MFS_E_AUTH || reason == MFS_E_FORMAT) {
		if (c->ready)
			ban_key(n, mfs_peer_remote_key(p));
		if (d)
			d->banned = 1;
	}
	pthread_mutex_lock(&n->lock);
	if (c->ready)
		n->stats.peers_ready--;
	fetch_conn_lost(n, c);
	pthread_mutex_unlock(&n->lock);
	conn_unlink(n, c);
	if (d && c->lane) {
		/* Not dialled again: watch_gaps dials lanes while the link is
		 * lossy, after a pause (a peer refusing them is not hammered). */
		d->lanes--;
		d->lanes_paused_until = node_now_ms() + LANE_PAUSE_MS;
	} else if (d) {
		d->conn = NULL;
		if (c->told_idle && c->ready && reason == 0 && !d->banned) {
			/* Nothing was wanted from it: dialled again when something is. */
			d->parked = 1;
		} else if (!node_stopping(n) && !gave_up(n, d) && !d->banned) {
			unsigned delay = REDIAL_MIN_MS << (d->failures < 6 ? d->failures : 6);
			if (delay > REDIAL_MAX_MS)
				delay = REDIAL_MAX_MS;
			d->failures++;
			uv_timer_start(&d->retry, on_redial, delay, 0);
		}
	}
	conn_free(c);
	fetch_pump(n);
	node_maybe_finish_stop(n);
}

static void on_redial(uv_timer_t *t)
{
	struct dial *d = t->data;
	dial_now(d->node, d);
}

/* ---- what a peer sends ---- */

/* Answers only while we are waiting for one: an unasked RESPONSE or
 * SEGMENT is refused from its head, before it is received. */
static int on_admit(struct mfs_peer *p, enum mfs_wire_type type, size_t body_len, void *ctx)
{
	struct conn *c = ctx;

	(void)p;
	(void)body_len;
	if ((type == MFS_WIRE_RESPONSE || type == MFS_WIRE_SEGMENT ||
	     type == MFS_WIRE_NOT_FOUND || type == MFS_WIRE_CANCELLED) && c->in_flight == 0)
		return MFS_E_FORMAT;
	return 0;
}

static void on_message(struct mfs_peer *p, const struct mfs_wire_msg *m, void *ctx)
{
	struct conn *c = ctx;
	(void)p;

	c->active_ms = node_now_ms();
	switch (m->type) {
	case MFS_WIRE_REQUEST:
		serve_request(c, m);
		break;
	case MFS_WIRE_RESPONSE:
	case MFS_WIRE_SEGMENT:
	case MFS_WIRE_NOT_FOUND:
		fetch_answer(c, m);
		break;
	case MFS_WIRE_HAVE:
		fetch_have(c, m);
		break;
	case MFS_WIRE_WANT:
		serve_want(c, m);
		break;
	case MFS_WIRE_CANCEL:
		serve_cancel(c, m);
		break;
	case MFS_WIRE_CANCELLED:
		fetch_cancelled(c, m);
		break;
	case MFS_WIRE_ERROR:
		/* The peer tells why it is about to close, or that it is busy:
		 * either way, the requests in flight go elsewhere. */
		c->told_idle = m->code == MFS_WIRE_ERR_BUSY && m->len >= 4 &&
			       memcmp(m->data, "idle", 4) == 0;
		mfs_peer_close(c->peer, 0, 0, NULL);
		break;
	default:
		mfs_peer_close(c->peer, MFS_E_FORMAT, MFS_WIRE_ERR_PROTOCOL, "unexpected message");
		break;
	}
}

static void on_drained(struct mfs_peer *p, void *ctx)
{
	(void)p;
	serve_drained(ctx);
}

/* ---- dialling and listening ---- */

/* The node's proxy with d's bridge arguments as the SOCKS5 username and
 * one NUL byte as the password, as a pluggable transport's client takes
 * them; in guarded memory. NULL when out of memory. */
static struct mfs_socks5_proxy *bridge_proxy(const struct mfs_netnode *n, const struct dial *d)
{
	struct mfs_socks5_proxy *p = mfs_secure_alloc(sizeof *p);

	if (!p)
		return NULL;
	*p = *n->cfg.proxy;
	p->has_auth = 1;
	p->user_len = strlen(d->bridge);
	memcpy(p->user, d->bridge, p->user_len);
	p->pass[0] = '\0';
	p->pass_len = 1;
	return p;
}

/* The deadline grows with the failures in a row because a link, not a
 * constant, decides how long a dial takes: on a veth that loses 40 % of the
 * packets each way, TCP's own SYN and retransmission backoff alone often
 * take longer than 10 s (tools/bench/transport.sh's loss40 row: 1 MiB over
 * tcp came in 1 of 3 runs with a fixed 10 s, in 2 of 3 with this), and a
 * dead peer fails fast all the same (refused or unreachable is no timeout). */
static unsigned handshake_deadline(const struct mfs_netnode *n, const struct dial *d)
{
	return n->cfg.handshake_timeout_ms
	       << (d->failures < HANDSHAKE_DOUBLINGS ? d->failures : HANDSHAKE_DOUBLINGS);
}

/* A new connection to d's peer (through its bridge when it has one); on
 * failure it is gone again. 0 or -1. */
static int connect_to_dial(struct mfs_netnode *n, struct dial *d, struct conn *c)
{
	struct mfs_peer_config pc = n->peer_cfg;

	pc.handshake_timeout_ms = handshake_deadline(n, d);
	memcpy(&c->addr, &d->sa, sizeof c->addr);
	if (d->bridge[0])
		pc.proxy = c->bridge_proxy = bridge_proxy(n, d);
	if ((d->bridge[0] && !pc.proxy) ||
	    mfs_peer_connect(&c->peer, mfs_loop_uv(n->loop), (const struct sockaddr *)&d->sa,
			     d->has_pk ? d->pk : NULL, &pc, &n->peer_cb, c) != 0) {
		conn_unlink(n, c);
		conn_free(c);
		return -1;
	}
	return 0;
}

static void dial_now(struct mfs_netnode *n, struct dial *d)
{
	struct conn *c;

	if (d->conn || d->banned || node_stopping(n) || !(c = conn_new(n, d)))
		return;
	d->conn = c;
	if (connect_to_dial(n, d, c) != 0) {
		d->conn = NULL;
		if (gave_up(n, d))
			return;
		d->failures++;
		uv_timer_start(&d->retry, on_redial, REDIAL_MAX_MS, 0);
	}
}

/* One more connection to d's peer, which must prove the key its first one
 * proved; 0 or -1. */
static int dial_lane(struct mfs_netnode *n, struct dial *d)
{
	struct conn *c = conn_new(n, d);

	if (c)
		c->lane = 1;
	if (!c || connect_to_dial(n, d, c) != 0) {
		d->lanes_paused_until = node_now_ms() + LANE_PAUSE_MS;
		return -1;
	}
	d->lanes++;
	pthread_mutex_lock(&n->lock);
	n->stats.lanes_dialled++;
	pthread_mutex_unlock(&n->lock);
	return 0;
}

/* What d's connections received a busy second, over the last ones. */
static uint64_t peer_rate(const struct dial *d)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < d->n_seconds; i++)
		sum += d->per_second[i];
	return d->n_seconds ? sum / d->n_seconds : 0;
}

/* d's rate before lanes, for their trial. A link with gaps stops for over
 * a second at a time, so a few one-second samples alias: four of them may
 * hold one pause or two, and the rate they give is off by a quarter or a
 * half. Measured from the first gap that made the link lossy, the window
 * spans whole cycles of burst and gap; it counts idle time too, so the
 * higher of the two estimates is the one the lanes must beat. */
static uint64_t rate_before_lanes(const struct dial *d, uint64_t now)
{
	uint64_t rate = peer_rate(d);

	if (d->gaps >= 2 && now > d->first_gap_ms) {
		uint64_t cycles = (d->rx_total - d->first_gap_bytes) * 1000u / (now - d->first_gap_ms);

		if (cycles > rate)
			rate = cycles;
	}
	return rate;
}

/* Counts the gaps (GAP_MS of silence in the middle of an answer) on each
 * dialled peer's connections. GAPS_LOSSY of them within GAP_WINDOW_MS
 * make its link lossy, and a peer whose link is lossy gets LANES
 * connections in all (net/node.h, "Lossy links"). */
static void watch_gaps(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		struct dial *d = c->dial;
		uint64_t silent;

		if (!d || !c->ready || c->closing)
			continue;
		pthread_mutex_lock(&n->lock);
		silent = fetch_conn_silence(c, now);
		pthread_mutex_unlock(&n->lock);
		if (silent < GAP_MS) {
			c->in_gap = 0;
			continue;
		}
		if (c->in_gap)
			continue;
		c->in_gap = 1;
		if (now - d->gap_window_ms > GAP_WINDOW_MS) {
			d->gap_window_ms = now;
			d->gaps = 0;
		}
		if (d->gaps == 0) {
			d->first_gap_ms = now;
			d->first_gap_bytes = d->rx_total;
		}
		if (++d->gaps >= GAPS_LOSSY || (d->lossy_ms && now - d->lossy_ms < LOSSY_KEEP_MS))
			d->lossy_ms = now;
	}
	for (struct dial *d = n->dials; d; d = d->next) {
		int lossy = d->lossy_ms && now - d->lossy_ms < LOSSY_KEEP_MS;

		if (!lossy && !d->lanes)
			d->trial = TRIAL_NONE;
		if (!lossy || now < d->no_lanes_until || now < d->lanes_paused_until ||
		    !d->conn || !d->conn->ready || d->banned || node_stopping(n))
			continue;
		if (d->trial == TRIAL_NONE) {
			d->trial = TRIAL_WAITING;
			d->rate_before = rate_before_lanes(d, now);
		}
		while (d->lanes + 1 < LANES && dial_lane(n, d) == 0)
			;
	}
}

/* d's lanes have run RATE_SECONDS busy seconds: they stay if the peer's
 * rate grew by LANES_GAIN_PCT, else they close (their requests are asked
 * again of the first connection) and d gets none for NO_LANES_MS. A link
 * that is slow, not lossy, has gaps too (a full queue drops packets), and
 * there more connections only share the same rate. */
static void judge_lanes(struct mfs_netnode *n, struct dial *d, uint64_t now)
{
	uint64_t rate = d->trial_bytes / d->trial_seconds;

	if (rate * 100u >= d->rate_before * LANES_GAIN_PCT) {
		d->trial = TRIAL_PASSED;
		return;
	}
	d->trial = TRIAL_NONE;
	d->lossy_ms = 0;
	d->no_lanes_until = now + NO_LANES_MS;
	for (struct conn *c = n->conns; c; c = c->next)
		if (c->dial == d && c->lane && !c->closing) {
			c->closing = 1;
			mfs_peer_close(c->peer, 0, 0, NULL);
		}
	pthread_mutex_lock(&n->lock);
	n->stats.lanes_dropped++;
	pthread_mutex_unlock(&n->lock);
}

/* Counts what each dialled peer's connections receive, by busy second
 * (a second with one of our requests in flight on them), for the lanes'
 * trial. */
static void measure_rates(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		if (!c->dial)
			continue;
		c->dial->rx_total += c->rx_new;
		if (c->in_flight > c->cancelled)
			c->dial->second_busy = 1;
	}
	for (struct dial *d = n->dials; d; d = d->next) {
		uint64_t bytes = d->rx_total - d->second_bytes;

		if (now - d->second_start_ms < 1000u)
			continue;
		if (d->second_busy) {
			d->per_second[d->next_second] = bytes;
			d->next_second = (d->next_second + 1) % RATE_SECONDS;
			if (d->n_seconds < RATE_SECONDS)
				d->n_seconds++;
			if (d->trial == TRIAL_RUNNING) {
				d->trial_bytes += bytes;
				if (++d->trial_seconds >= RATE_SECONDS)
					judge_lanes(n, d, now);
			}
		}
		d->second_start_ms = now;
		d->second_bytes = d->rx_total;
		d->second_busy = 0;
	}
}

/* Nothing of ours or theirs in flight, nothing waiting to be written. */
static int conn_busy(const struct conn *c)
{
	return c->in_flight || c->serving || c->want_jobs || c->n_deferred ||
	       mfs_peer_queued(c->peer) > 0 || mfs_peer_kernel_backlog(c->peer) > 0;
}

static void close_quietly(struct mfs_netnode *n, struct conn *c, const char *why)
{
	c->closing = 1;
	pthread_mutex_lock(&n->lock);
	n->stats.peers_idle_closed++;
	pthread_mutex_unlock(&n->lock);
	mfs_peer_close(c->peer, 0, MFS_WIRE_ERR_BUSY, why);
}

/* A dialled connection stalled in the middle of an answer is closed and
 * dialled again (net/node.h, "Stalls"); its requests go back to the queue
 * (fetch_conn_lost), asked again from the first segment missing. */
static void replace_stalled(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		int stalled;

		if (!c->dial || c->closing)
			continue;
		pthread_mutex_lock(&n->lock);
		stalled = fetch_conn_stalled(n, c, now);
		if (stalled)
			n->stats.peers_stalled++;
		pthread_mutex_unlock(&n->lock);
		if (stalled) {
			c->closing = 1;
			mfs_peer_close(c->peer, 0, MFS_WIRE_ERR_BUSY, "stalled");
		}
	}
}

/* A connection whose bytes sent got no acknowledgement for
 * unacked_timeout_ms is dead (net/node.h, "Dead peers"): aborted, as
 * nothing sent on it would arrive. The closed callback redials a dialled
 * one and takes its requests back. */
static void close_unacked(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		uint64_t acked;
		uint32_t unacked;

		if (!c->ready || c->closing || mfs_peer_acked(c->peer, &acked, &unacked) != 0)
			continue;
		if (!unacked || acked != c->acked_seen) {
			c->acked_seen = acked;
			c->acked_ms = now;
		} else if (now - c->acked_ms >= n->cfg.unacked_timeout_ms) {
			c->closing = 1;
			pthread_mutex_lock(&n->lock);
			n->stats.peers_unacked++;
			pthread_mutex_unlock(&n->lock);
			mfs_peer_abort(c->peer, -ETIMEDOUT);
		}
	}
}

/* Accepted connections idle for idle_timeout_ms are closed (the peer
 * dials again when it wants something); busy ones are marked active. */
static void close_idle(struct mfs_netnode *n, uint64_t now)
{
	for (struct conn *c = n->conns, *next; c; c = next) {
		next = c->next;
		if (c->dial || !c->ready || c->closing)
			continue;
		if (conn_busy(c))
			c->active_ms = now;
		else if (now - c->active_ms >= n->cfg.idle_timeout_ms)
			close_quietly(n, c, "idle");
	}
}

/* The accepted, ready connection idle the longest (in range when not
 * NULL), or NULL when every one is busy or still in its handshake. */
static struct conn *idlest(struct mfs_netnode *n, const struct conn *except,
			   const uint8_t *range)
{
	struct conn *best = NULL;

	for (struct conn *o = n->conns; o; o = o->next) {
		if (o == except || o->dial || !o->ready || o->closing || conn_busy(o))
			continue;
		if (range && memcmp(o->range, range, MFS_ADDR_RANGE_BYTES) != 0)
			continue;
		if (!best || o->active_ms < best->active_ms)
			best = o;
	}
	return best;
}

/* A newcomer over a limit takes the slot of the idlest connection (of its
 * own range when its range is full); with none idle it is refused. */
static void on_connection(uv_stream_t *server, int status)
{
	struct mfs_netnode *n = server->data;
	unsigned total = 0, in_range = 0;
	struct conn *c, *victim = NULL;
	int over = 0;

	if (status < 0 || !(c = conn_new(n, NULL)))
		return;
	if (mfs_peer_accept(&c->peer, server, &n->peer_cfg, &n->peer_cb, c) != 0) {
		conn_unlink(n, c);
		conn_free(c);
		return;
	}
	mfs_peer_remote_addr(c->peer, &c->addr);
	mfs_addr_range(c->range, (const struct sockaddr *)&c->addr, n->cfg.range_bits_v4,
		       n->cfg.range_bits_v6);
	for (struct conn *o = n->conns; o; o = o->next) {
		if (o == c || o->closing)
			continue;
		total++;
		if (!o->dial && memcmp(o->range, c->range, MFS_ADDR_RANGE_BYTES) == 0)
			in_range++;
	}
	if (in_range >= n->cfg.max_per_range) {
		over = 1;
		victim = idlest(n, c, c->range);
	} else if (total >= n->cfg.max_peers) {
		over = 1;
		victim = idlest(n, c, NULL);
	}
	if (victim) {
		close_quietly(n, victim, "idle, its slot taken");
	} else if (over) {
		c->closing = 1;
		pthread_mutex_lock(&n->lock);
		n->stats.peers_refused++;
		pthread_mutex_unlock(&n->lock);
		mfs_peer_close(c->peer, 0, MFS_WIRE_ERR_BUSY, "too many connections");
	}
}

/* ---- life ---- */

void node_maybe_finish_stop(struct mfs_netnode *n)
{
	pthread_mutex_lock(&n->lock);
	if (n->stopping && n->handles == 0 && n->jobs == 0 && !n->conns) {
		n->stopped = 1;
		pthread_cond_broadcast(&n->quiet);
	}
	pthread_mutex_unlock(&n->lock);
}

static void on_node_handle_closed(uv_handle_t *h)
{
	struct mfs_netnode *n = h->data;
	n->handles--;
	node_maybe_finish_stop(n);
}

static void on_dial_closed(uv_handle_t *h)
{
	struct dial *d = h->data;
	struct mfs_netnode *n = d->node;

	mfs_memzero(d->bridge, sizeof d->bridge); /* a bridge's cert opens it to anyone */
	free(d);
	n->handles--;
	node_maybe_finish_stop(n);
}

static int stop_on_loop(void *arg)
{
	struct mfs_netnode *n = arg;

	pthread_mutex_lock(&n->lock);
	n->stopping = 1;
	fetch_fail_all(n, -ESHUTDOWN);
	pthread_mutex_unlock(&n->lock);
	if (n->listening)
		uv_close((uv_handle_t *)&n->listener, on_node_handle_closed);
	uv_close((uv_handle_t *)&n->tick, on_node_handle_closed);
	for (struct dial *d = n->dials, *next; d; d = next) {
		next = d->next;
		uv_close((uv_handle_t *)&d->retry, on_dial_closed);
	}
	n->dials = NULL;
	for (struct conn *c = n->conns; c; c = c->next) {
		c->dial = NULL;
		mfs_peer_close(c->peer, 0, 0, NULL);
	}
	node_maybe_finish_stop(n);
	return 0;
}

static int start_on_loop(void *arg)
{
	struct mfs_netnode *n = arg;
	uv_loop_t *uv = mfs_loop_uv(n->loop);
	struct sockaddr_storage sa;
	int rc;

	uv_timer_init(uv, &n->tick);
	n->tick.data = n;
	n->handles++;
	uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
	if (!n->cfg.listen)
		return 0;
	rc = mfs_hostport_resolve_numeric(&sa, n->cfg.listen);
	if (rc < 0)
		return rc;
	uv_tcp_init(uv, &n->listener);
	n->listener.data = n;
	n->listening = 1;
	n->handles++;
	rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		(void)mfs_tcp_bound_backoff(&n->listener); /* inherited by what it accepts */
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
	if (rc == 0) {
		struct sockaddr_storage bound;
		int blen = sizeof bound;
		rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&bound, &blen);
		n->port = ntohs(bound.ss_family == AF_INET
					? ((struct sockaddr_in *)&bound)->sin_port
					: ((struct sockaddr_in6 *)&bound)->sin6_port);
	}
	return rc;
}

static void node_free(struct mfs_netnode *n)
{
	pthread_cond_destroy(&n->quiet);
	pthread_mutex_destroy(&n->lock);
	mfs_secure_free(n->sk);
	free(n);
}

/* A config's 0 means "the default". */
static void or_default(unsigned *v, unsigned def)
{
	if (!*v)
		*v = def;
}

int mfs_node_start(struct mfs_netnode **out, struct mfs_loop *loop,
		   const struct mfs_node_config *config)
{
	struct mfs_netnode *n = calloc(1, sizeof *n);
	int rc;

	*out = NULL;
	if (!n)
		return -ENOMEM;
	n->sk = mfs_secure_alloc(MFS_NOISE_KEY_BYTES);
	if (!n->sk) {
		free(n);
		return -ENOMEM;
	}
	memcpy(n->sk, config->static_sk, MFS_NOISE_KEY_BYTES);
	mfs_noise_public_key(n->pk, n->sk);
	n->loop = loop;
	n->cfg = *config;
	or_default(&n->cfg.max_peers, 64);
	or_default(&n->cfg.max_per_range, 8);
	or_default(&n->cfg.idle_timeout_ms, DEFAULT_IDLE_MS);
	or_default(&n->cfg.max_requests, 16);
	or_default(&n->cfg.request_timeout_ms, 5000);
	or_default(&n->cfg.unacked_timeout_ms, 60000);
	or_default(&n->cfg.fetch_timeout_ms, 30000);
	or_default(&n->cfg.handshake_timeout_ms, HANDSHAKE_MS);
	if (n->cfg.handshake_timeout_ms > UINT_MAX >> HANDSHAKE_DOUBLINGS)
		n->cfg.handshake_timeout_ms = UINT_MAX >> HANDSHAKE_DOUBLINGS;
	if (!n->cfg.memory_budget)
		n->cfg.memory_budget = DEFAULT_MEMORY_BUDGET;
	n->budget.limit = n->cfg.memory_budget;
	n->peer_cfg = (struct mfs_peer_config){
		.static_sk = n->sk,
		.max_requests = (uint16_t)n->cfg.max_requests,
		.handshake_timeout_ms = n->cfg.handshake_timeout_ms, /* dials: handshake_deadline */
		.budget = &n->budget,
		.proxy = n->cfg.proxy,
		.tls = n->cfg.tls,
	};
	n->peer_cb = (struct mfs_peer_callbacks){
		.ready = on_ready, .message = on_message, .closed = on_closed, .admit = on_admit,
		.drained = on_drained};
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->quiet, NULL);
	rc = mfs_loop_call(loop, start_on_loop, n);
	n->peer_cfg.listen_port = n->port;
	if (rc < 0) {
		mfs_node_stop(n);
		return rc;
	}
	*out = n;
	return 0;
}

void mfs_node_shutdown(struct mfs_netnode *n)
{
	if (!n || n->shut)
		return;
	n->shut = 1;
	if (mfs_loop_call(n->loop, stop_on_loop, n) == 0) {
		pthread_mutex_lock(&n->lock);
		while (!n->stopped || n->fetches)
			pthread_cond_wait(&n->quiet, &n->lock);
		pthread_mutex_unlock(&n->lock);
	}
}

void mfs_node_stop(struct mfs_netnode *n)
{
	if (!n)
		return;
	mfs_node_shutdown(n);
	node_free(n);
}

uint16_t mfs_node_port(const struct mfs_netnode *n)
{
	return n->port;
}

const uint8_t *mfs_node_public_key(const struct mfs_netnode *n)
{
	return n->pk;
}

/* ---- peers ---- */

struct add_peer_job {
	struct mfs_netnode *node;
	char addr[64];
	struct sockaddr_storage sa;
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	int has_pk;
	int learnt;
	char bridge[MFS_PT_ARGS_MAX + 1];
};

/* Room for one more learnt dial: 0, or -ENOSPC when every learnt dial
 * answered once or has not failed yet. Makes room by dropping the learnt
 * dial, never answered, with the most failures. */
static int learnt_room(struct mfs_netnode *n)
{
	struct dial *worst = NULL;

	if (n->n_learnt < MAX_LEARNT)
		return 0;
	for (struct dial *d = n->dials; d; d = d->next)
		if (d->learnt && !d->answered && !d->conn && d->failures > 0 &&
		    (!worst || d->failures > worst->failures))
			worst = d;
	if (!worst)
		return -ENOSPC;
	pthread_mutex_lock(&n->lock);
	n->stats.peers_dropped++;
	pthread_mutex_unlock(&n->lock);
	drop_dial(n, worst);
	return 0;
}

static int add_peer_on_loop(void *arg)
{
	struct add_peer_job *j = arg;
	struct mfs_netnode *n = j->node;
	struct dial *d;

	if (j->has_pk && (node_banned(n, j->pk) || memcmp(j->pk, n->pk, sizeof n->pk) == 0))
		return 0;
	for (d = n->dials; d; d = d->next)
		if (strcmp(d->addr, j->addr) == 0)
			return 0;
	if (node_stopping(n))
		return -ESHUTDOWN;
	if (j->learnt) {
		int rc = recently_dead(n, &j->sa) ? -EAGAIN : learnt_room(n);

		if (rc != 0) {
			pthread_mutex_lock(&n->lock);
			n->stats.peers_declined++;
			pthread_mutex_unlock(&n->lock);
			return rc;
		}
	}
	if (!(d = calloc(1, sizeof *d)))
		return -ENOMEM;
	d->learnt = j->learnt;
	__atomic_add_fetch(&n->n_dials, 1, __ATOMIC_RELAXED);
	n->n_learnt += d->learnt != 0;
	d->node = n;
	memcpy(d->addr, j->addr, sizeof d->addr);
	d->sa = j->sa;
	memcpy(d->pk, j->pk, sizeof d->pk);
	d->has_pk = j->has_pk;
	memcpy(d->bridge, j->bridge, sizeof d->bridge);
	uv_timer_init(mfs_loop_uv(n->loop), &d->retry);
	d->retry.data = d;
	n->handles++;
	d->next = n->dials;
	n->dials = d;
	dial_now(n, d);
	return 0;
}

/* bridge: the peer's bridge arguments, "" when none. */
static int add_peer(struct mfs_netnode *n, const char *addr, const uint8_t *pk,
		    const char *bridge, int learnt, int allow_special)
{
	struct add_peer_job j = {.node = n, .learnt = learnt};

	if (strlen(addr) >= sizeof j.addr || mfs_hostport_resolve_numeric(&j.sa, addr) != 0)
		return -EINVAL;
	if (n->cfg.tls && !pk) /* over tls, the path to ask for comes from the key */
		return -ENOKEY;
	/* A bridge is reached through its transport alone, and that
	 * transport reaches nothing but bridges. */
	if (!bridge[0] != !n->cfg.proxy_takes_bridge_args)
		return -EPROTONOSUPPORT;
	strcpy(j.bridge, bridge);
	if (learnt && !allow_special && mfs_addr_is_special((const struct sockaddr *)&j.sa)) {
		pthread_mutex_lock(&n->lock);
		n->stats.peers_declined++;
		pthread_mutex_unlock(&n->lock);
		return -EPERM;
	}
	strcpy(j.addr, addr);
	if (pk) {
		memcpy(j.pk, pk, sizeof j.pk);
		j.has_pk = 1;
	}
	return mfs_loop_call(n->loop, add_peer_on_loop, &j);
}

int mfs_node_add_peer(struct mfs_netnode *n, const char *addr, const uint8_t *pk)
{
	return add_peer(n, addr, pk, "", 0, 1);
}

/* "HOST:PORT[#KEY][;ARGS]": split, then add_peer. 0 or a negative errno. */
static int add_peer_text(struct mfs_netnode *n, const char *text, int learnt, int allow_special)
{
	char head[MFS_PT_PEER_TEXT_MAX], bridge[MFS_PT_ARGS_MAX + 1];
	const char *hash;
	size_t alen;
	char addr[64];
	uint8_t pk[MFS_NOISE_KEY_BYTES];

	if (mfs_pt_peer_split(head, sizeof head, bridge, text) != 0)
		return -EINVAL;
	hash = strchr(head, '#');
	alen = hash ? (size_t)(hash - head) : strlen(head);
	if (alen >= sizeof addr)
		return -EINVAL;
	memcpy(addr, head, alen);
	addr[alen] = '\0';
	if (hash && (strlen(hash + 1) != 2 * MFS_NOISE_KEY_BYTES ||
		     mfs_hex_decode(pk, MFS_NOISE_KEY_BYTES, hash + 1) != 0))
		return -EINVAL;
	return add_peer(n, addr, hash ? pk : NULL, bridge, learnt, allow_special);
}

int mfs_node_add_learnt_peer(struct mfs_netnode *n, const char *text, int allow_special)
{
	return add_peer_text(n, text, 1, allow_special);
}

int mfs_node_add_peer_text(struct mfs_netnode *n, const char *text)
{
	return add_peer_text(n, text, 0, 1);
}

/* ---- bad blobs ---- */

struct bad_report {
	struct mfs_netnode *node;
	uint8_t pk[MFS_NOISE_KEY_BYTES];
};

static void on_bad_report(void *arg)
{
	struct bad_report *b = arg;
	struct mfs_netnode *n = b->node;

	ban_key(n, b->pk);
	for (struct conn *c = n->conns; c; c = c->next)
		if (c->ready && memcmp(mfs_peer_remote_key(c->peer), b->pk, sizeof b->pk) == 0)
			mfs_peer_close(c->peer, MFS_E_CORRUPT, MFS_WIRE_ERR_PROTOCOL,
				       "a blob that does not match its id");
	free(b);
	fetch_pump(n);
}

int node_report_bad(struct mfs_netnode *n, const uint8_t *pk)
{
	struct bad_report *b = malloc(sizeof *b);
	int rc;

	if (!b)
		return -ENOMEM;
	b->node = n;
	memcpy(b->pk, pk, sizeof b->pk);
	if ((rc = mfs_loop_post(n->loop, on_bad_report, b)) != 0)
		free(b);
	return rc;
}

void mfs_node_stats(struct mfs_netnode *n, struct mfs_node_stats *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->stats;
	pthread_mutex_unlock(&n->lock);
	out->memory_used = mfs_peer_budget_used(&n->budget);
	out->memory_peak = __atomic_load_n(&n->budget.peak, __ATOMIC_RELAXED);
	out->memory_refused = __atomic_load_n(&n->budget.refused, __ATOMIC_RELAXED);
	out->peers_known = __atomic_load_n(&n->n_dials, __ATOMIC_RELAXED);
}
