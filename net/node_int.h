/* node_int: the node's parts, for net/node.c, net/fetch.c and net/serve.c
 * alone (layer-internal, like libuv's uv__ tier: nothing outside net/
 * includes it; net/node.h is the API).
 *
 * One struct mfs_netnode, three modules, each owning its part of it:
 *   node.c   the node's life (start, stop) and its connections: accepting,
 *            dialling and redialling, slots per range, idle closing, bans,
 *            the learnt peers; the peer callbacks, which hand each message
 *            to the module whose it is.
 *   fetch.c  the fetch scheduler: readers' fetches, which ready peer is
 *            asked for what (urgent first, at most its limit in flight),
 *            the WANTs we send and the HAVEs we note, re-asking on timeout.
 *   serve.c  answering peers: REQUESTs and WANTs looked up on libuv's
 *            thread pool, within the memory budget and the WANT limits.
 * (node_store.c, the blob source over fs/store and the node's key, uses
 * only the two helpers at the end.)
 *
 * Threads: everything here runs on the loop thread, except what is said
 * to be under node->lock (also taken by mfs_node_fetch and mfs_node_stats
 * on their callers' threads) and the pool jobs of serve.c (which touch
 * only their job, the blob source and the budget's atomics).
 *
 * Lock order. Mutexes, and what each protects:
 *   node->lock (struct mfs_netnode.lock): the fetch list and every fetch in
 *     it, kick_posted, stopping, stopped, wake_parked and stats. The
 *     condition variables fetch->changed and node->quiet wait on it.
 *   the loop's lock (net/loop.c): its queue of posted work; a leaf.
 *   store_source->lock (node_store.c): the index of held blobs.
 *   the session cache's and the volume's own locks (fs/store).
 * Which may be taken while holding which:
 *   node->lock -> the loop's lock (mfs_loop_post of a kick or a bad
 *     report while a fetch is updated). Nothing else is taken under
 *     node->lock: mfs_peer_send, called under it by the scheduler, takes
 *     no lock and never calls back into the node (the closed callback
 *     comes from a later turn of the loop). node->lock is never held
 *     across a blocking call, nor while the loop thread hashes what
 *     arrived (net/fetch.c hashes, then locks).
 *   store_source->lock -> the volume's locks (LMDB read transactions that
 *     rebuild the index). The session cache is asked before, not under it.
 *   Pool jobs never take node->lock, and the loop thread never holds it
 *   while it hands work to the pool; so node->lock and the store's locks
 *   are never held together.
 *   The public calls that wait for the loop thread (mfs_node_start, stop,
 *   add_peer*: mfs_loop_call) must hold no lock the loop thread takes.
 * Not locks: the memory budget (net/peer, atomics, charged by pool jobs)
 * and node->n_dials (atomic: read by mfs_node_stats). */
#ifndef MFS_NODE_INT_H
#define MFS_NODE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "net/addr.h"
#include "net/node.h"
#include "net/peer.h"

/* What sizes or seeds the shared structures below. */
#define MAX_IN_FLIGHT 32u     /* our requests on one connection, whatever it offers */
#define HAVE_SLOTS 1024u      /* blob-id prefixes a connection said it has */
#define MAX_DEFERRED 64u      /* REQUESTs of one connection waiting their turn */
#define MAX_BANNED 64u
#define DEAD_SLOTS 256u       /* addresses of learnt peers dropped, remembered */
#define WANT_IDS_BURST 4096u  /* ids a connection may have looked up at once */
/* Our requests on one connection, taken back (CANCEL) but not yet said
 * CANCELLED, besides the ones in flight. */
#define MAX_CANCELLED MAX_IN_FLIGHT

struct fetch;                 /* fetch.c's */
struct dial;                  /* node.c's: a peer we dial */
struct answer;                /* serve.c's: an answer being sent in turns */

struct req {
	uint32_t rid;
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint32_t segment;             /* the first segment asked */
	uint32_t count;               /* segments asked from it */
	/* fetch.c, ours: the answer's head came (its blob's length), and the
	 * segment expected next; the request ends after the blob's last. */
	int answered;
	uint32_t blob_len;
	uint32_t next_segment;
	uint64_t head_ns;             /* fetch.c: when the head or the stretch's */
	uint64_t rx_bytes;            /* last segment came; the bytes since */
	/* fetch.c, ours: taken back with CANCEL; it stays until CANCELLED,
	 * and what comes of it meanwhile is taken as any answer. ended: its
	 * answer is whole (or NOT_FOUND), nothing more of it may come. */
	int cancelled, ended;
	uint64_t asked_ms;            /* fetch.c: when it was sent */
	int passed_over;              /* fetch.c: its blob asked elsewhere for its slowness */
};

/* One peer-wire connection (loop thread only). */
struct conn {
	struct conn *next;
	struct mfs_netnode *node;
	struct mfs_peer *peer;
	struct dial *dial;            /* NULL when accepted */
	/* Guarded: the node's proxy with the dial's bridge arguments as its
	 * username (net/dial borrows it until the peer closed); NULL: none. */
	struct mfs_socks5_proxy *bridge_proxy;
	uint64_t gen;                 /* names it in thread-pool jobs */
	int ready;
	struct sockaddr_storage addr;
	uint8_t range[MFS_ADDR_RANGE_BYTES]; /* its address's /24 or /64 */
	int closing;                  /* we closed it (idle, or room made): not counted */
	int lane;                     /* dialled besides its dial's first (a lossy link) */
	int in_gap;                   /* node.c: silent mid-answer, the gap counted */
	/* node.c, once a tick: its bytes read in all, and those read since
	 * the tick before (for fetch.c's silences and its dial's rate). */
	uint64_t rx_read, rx_new;
	/* fetch.c: the bytes a second its answers' segments arrived at,
	 * timed over stretches of 4 (from the head on), smoothed; 0 until
	 * one. What cancel_behind weighs a wait with. */
	uint64_t rx_rate;
	/* fetch.c: when an answer to us (a head or a segment) last arrived
	 * whole on it: bytes that complete none are not answers. */
	uint64_t answer_ms;
	int told_idle;                /* the peer closes it as idle */
	uint64_t active_ms;           /* when it last had anything in flight */

	/* fetch.c: our requests to it, and what it said it has */
	unsigned limit;               /* requests it takes at once */
	unsigned in_flight;           /* in reqs, cancelled ones too */
	unsigned cancelled;           /* of which taken back: not counted in limit */
	struct req reqs[MAX_IN_FLIGHT + MAX_CANCELLED];
	uint32_t next_rid;
	uint64_t have[HAVE_SLOTS];    /* id prefixes (0: empty) */
	unsigned have_count;
	uint64_t rx_ms;               /* the last tick it received anything */
	/* node.c: TCP's count of our bytes acknowledged, at the last tick,
	 * and the last tick it grew or nothing waited for it. */
	uint64_t acked_seen;
	uint64_t acked_ms;

	/* serve.c: its requests to us */
	unsigned serving;             /* its requests we are answering */
	unsigned want_jobs;           /* its WANTs being looked up */
	uint64_t want_tokens;         /* ids it may still ask about now */
	uint64_t want_refill_ms;      /* when want_tokens was last topped up */
	struct req deferred[MAX_DEFERRED]; /* REQUESTs waiting for memory, oldest first */
	unsigned n_deferred;
	/* Its REQUESTs being looked up or answered, in the order they came;
	 * sent in turns as the queue drains. */
	struct answer *answers;
	size_t answer_bytes;          /* the blobs those hold */
	int evicted;                  /* closed for holding too much */
};

struct mfs_netnode {
	struct mfs_loop *loop;
	struct mfs_node_config cfg;   /* defaults filled in; read-only once started */
	uint8_t *sk;                  /* guarded copy */
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	struct mfs_peer_config peer_cfg;
	struct mfs_peer_callbacks peer_cb;

	pthread_mutex_t lock;
	pthread_cond_t quiet;         /* stop: the loop side is finished, no fetch left */
	struct fetch *fetches;        /* under lock (fetch.c) */
	uint64_t rx_ms;               /* under lock: the last tick a connection
				       * carrying our requests saw bytes arrive */
	int kick_posted;              /* under lock (fetch.c) */
	int stopping;                 /* under lock */
	int shut;                     /* mfs_node_shutdown ran (owner's thread) */
	int stopped;                  /* under lock: loop side all closed */
	int wake_parked;              /* under lock: a fetch waits, dial parked peers */
	struct mfs_node_stats stats;  /* under lock */

	/* loop thread only */
	uv_tcp_t listener;
	int listening;
	uint16_t port;
	uv_timer_t tick;
	struct conn *conns;
	struct dial *dials;
	uint64_t next_gen;
	unsigned handles;             /* our own handles not yet closed */
	uint8_t banned[MAX_BANNED][MFS_NOISE_KEY_BYTES];
	unsigned n_banned;
	unsigned n_dials;             /* dials (atomic: read by mfs_node_stats) */
	unsigned n_learnt;            /* of which learnt */
	struct {
		struct sockaddr_storage sa;
		uint64_t since_ms;        /* 0: empty */
	} dead[DEAD_SLOTS];           /* learnt peers dropped for never answering */
	unsigned dead_next;
	int discovery_refused;        /* the proxy refuses every tracker too */

	/* loop thread only (serve.c) */
	unsigned jobs;                /* thread-pool jobs not yet finished */
	unsigned want_jobs;           /* of which WANT lookups */
	unsigned request_jobs;        /* and REQUEST lookups */
	struct mfs_peer_budget budget; /* every connection's memory, and answers being read */
};

/* ---- node.c (loop thread) ---- */

/* 1 once mfs_node_stop began (takes node->lock). */
int node_stopping(struct mfs_netnode *n);
/* 1 when pk was banned. */
int node_banned(const struct mfs_netnode *n, const uint8_t *pk);
/* The connection a thread-pool job named, or NULL when it is gone. */
struct conn *node_conn_by_gen(struct mfs_netnode *n, uint64_t gen);
/* 1 while a known peer is being dialled or waits to be redialled. */
int node_peers_pending(const struct mfs_netnode *n);
/* 1 while a known peer is being dialled, or waits to be, and fewer than
 * DIALS_AWAITED of its dials in a row failed: a fetch with no request in
 * flight waits for it without counting its silence (on a lossy link, or
 * through a pluggable transport, one dial can take longer than a fetch's
 * timeout; each failed one doubles the next one's deadline). */
int node_dial_awaited(const struct mfs_netnode *n);
/* 1 when every peer known is dialled through the proxy and its last
 * PROXY_TRIES dials were refused there (the proxy's port closed, or its
 * SOCKS error for the peer), and none is connected or being dialled; with
 * no peer known, when discovery_refused. */
int node_proxy_refused(const struct mfs_netnode *n);
/* Dials the parked peers if a fetch asked for it (node->wake_parked). */
void node_wake_parked(struct mfs_netnode *n);
/* Ends the stop once nothing of the loop side is left. */
void node_maybe_finish_stop(struct mfs_netnode *n);
/* From any thread (node->lock may be held): the peer with key pk sent a
 * blob that does not match its id; it is banned and cut off on the loop
 * thread. 0 or a negative errno (the report is lost, as a ban is a hint). */
int node_report_bad(struct mfs_netnode *n, const uint8_t *pk);

/* ---- fetch.c (loop thread) ---- */

/* Asks ready peers for queued fetches; node->lock held. */
void fetch_pump_locked(struct mfs_netnode *n);
/* The same, taking node->lock, then dials parked peers if wanted. */
void fetch_pump(struct mfs_netnode *n);
/* Every tick: fetches past their request timeout are asked again, past
 * their whole timeout fail; then pump. Takes node->lock. */
void fetch_tick(struct mfs_netnode *n);
/* 1 when c stalled in the middle of an answer (net/node.h, "Stalls"): the
 * fetches asked of it then start their silence over, for the connection
 * that replaces it. node->lock held. */
int fetch_conn_stalled(struct mfs_netnode *n, struct conn *c, uint64_t now);
/* How long c has received nothing in the middle of an answer (0 when no
 * answer of ours is under way on it), as of the last tick. node->lock
 * held. */
uint64_t fetch_conn_silence(const struct conn *c, uint64_t now);
/* c is ready. The fetches waiting for a connection start their silence
 * over (they sat out its dial: node_dial_awaited). When c is a new lane
 * to a peer, the requests its siblings have not begun answering are taken
 * back (CANCEL) to be asked again, spread over them all. node->lock held;
 * pump after. */
void fetch_conn_ready(struct mfs_netnode *n, struct conn *c);
/* c closed: its requests in flight go back to the queue; node->lock held. */
void fetch_conn_lost(struct mfs_netnode *n, struct conn *c);
/* Every fetch not finished fails with err; node->lock held. */
void fetch_fail_all(struct mfs_netnode *n, int err);
/* RESPONSE, SEGMENT or NOT_FOUND from c. */
void fetch_answer(struct conn *c, const struct mfs_wire_msg *m);
/* CANCELLED from c: a request we took back is over. */
void fetch_cancelled(struct conn *c, const struct mfs_wire_msg *m);
/* HAVE from c: its ids steer the next requests. */
void fetch_have(struct conn *c, const struct mfs_wire_msg *m);

/* ---- serve.c (loop thread) ---- */

/* REQUEST from c: looked up on the pool, or deferred, or refused. */
void serve_request(struct conn *c, const struct mfs_wire_msg *m);
/* WANT from c: looked up on the pool, or dropped. */
void serve_want(struct conn *c, const struct mfs_wire_msg *m);
/* Starts deferred REQUESTs while there is memory (every tick, and after
 * each answer). */
void serve_deferred(struct mfs_netnode *n);
/* CANCEL from c: the request is dropped wherever it is (deferred, being
 * looked up, being sent), and CANCELLED said. */
void serve_cancel(struct conn *c, const struct mfs_wire_msg *m);
/* c's queue drained below the mark: the answers' next pieces are queued. */
void serve_drained(struct conn *c);
/* c is being freed: its answers not sent are dropped. */
void serve_conn_gone(struct conn *c);

/* ---- helpers (any thread) ---- */

static inline uint64_t node_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A blob id's first 8 bytes, never 0 (0 marks an empty slot of a table). */
static inline uint64_t node_id_prefix(const uint8_t *id)
{
	uint64_t v;
	memcpy(&v, id, sizeof v);
	return v ? v : 1;
}

#endif
