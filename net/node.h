/* node: this process as a peer: it serves blobs to peers that ask and
 * fetches blobs from peers for local readers.
 *
 * Serving: when listening, accepted connections (net/peer) may REQUEST any
 * blob the blob source holds (RESPONSE, else NOT_FOUND) and ask with WANT
 * which of a list it holds (HAVE). Lookups run on libuv's thread pool, never
 * on the loop thread. Limits: max_peers connections in all (64), at most
 * max_per_range (8) accepted from one range of addresses (a /24 of IPv4, a
 * /64 of IPv6: one host of IPv6 holds a /64, and an IPv4 attacker rarely
 * holds many /24s; IPv4-mapped addresses count as IPv4), max_requests
 * outstanding per connection (as told in the hello; a peer asking for
 * more is dropped). An accepted connection, once through its handshake
 * (10 s at most), that has nothing in flight either way (no request of
 * ours or its, no WANT being looked up, nothing queued to it, nothing in
 * the kernel's send queue: on a slow link megabytes sit there) for
 * idle_timeout_ms (60 s) is closed with ERROR BUSY "idle". A newcomer
 * over a limit takes the slot of the accepted connection idle the longest
 * (of its own range, when its range is full), which is closed the same
 * way; only when every one is busy or in its handshake is the newcomer
 * closed at once, before its handshake. So idle hosts cannot hold the
 * slots, and a busy attacker needs max_peers / max_per_range = 8 ranges
 * to fill them. The counters peers_idle_closed and peers_refused tell.
 *
 * WANTs (up to 1,024 ids each) are looked up one at a time per connection and 4 at a time in all, and a
 * connection may have at most 4,096 ids a second looked up (a burst of
 * 4,096): a WANT beyond any of these is dropped unanswered, not queued
 * (HAVE only steers requests; the asker requests anyway), and counted in
 * wants_dropped. So a WANT flood costs at most 4,096 lookups a second per
 * connection, and with the store source each lookup is a hash probe.
 *
 * Memory: one budget for the node (memory_budget, 256 MiB by default)
 * counts every connection's queued output and the bodies being received
 * (net/peer), and the blobs read for answers not yet wholly queued
 * (answers go out whole, one after another per connection, queued a piece
 * at a time while less than 128 KiB waits in the queue). A REQUEST that
 * comes while the budget is spent waits (answered later, in order, as
 * memory frees: every 100 ms and after each answer) instead of being
 * refused, and the connection holding the most memory, if more than a
 * quarter of the budget, is cut off at once (its queue dropped, no ERROR:
 * it would wait behind that queue) so that peers that do not read cannot
 * starve the others. The budget can be passed by at most the
 * blobs being read at once (libuv's 4 pool threads, up to 16 MiB each) and
 * the hellos and errors the peer module always queues. A connection whose
 * memory (its queue, counting each queued message's head, and its answers'
 * blobs) passes 32 MiB is cut off at its next REQUEST or CANCEL (its
 * answers are not being read; counted as evicted), and its WANTs are
 * dropped. A body too
 * large for what is left is refused from its head (the connection closes,
 * ERROR BUSY), and RESPONSE, NOT_FOUND or CANCELLED while no request of
 * ours is in flight on that connection is refused from its head as
 * malformed, before anything is allocated.
 *
 * Fetching: mfs_node_fetch blocks its caller (any thread but the loop's)
 * until peers delivered every segment of the blob (net/wire: the answer's
 * leaves are checked against the id, each segment against its leaf as it
 * arrives, on the loop thread). A request cut off midway is asked again
 * from the first segment missing, of any peer: what arrived is kept. Requests are
 * spread over the ready peers, at most max_requests (the peer's hello) in
 * flight per peer, urgent ones ahead of read-ahead ones; one fetch per blob
 * however many threads want it. A peer that answers NOT_FOUND is not asked
 * for that blob again; a request whose connection received nothing for
 * request_timeout_ms is asked of another peer too (never again of the
 * same one), and that peer is tried last for it; one that sends leaves or
 * a segment not matching the blob's id, or anything malformed,
 * is disconnected and never dialled again by this node. Requests in flight
 * on a connection that drops go to other peers (or to the same one once it
 * is back: dialled peers are redialled with backoff; one the peer closed
 * as idle is redialled only when a fetch finds no connection). A fetch
 * fails with MFS_E_NOTFOUND when every peer known said NOT_FOUND and no
 * connection is pending, or -ETIMEDOUT when no byte came for it for
 * fetch_timeout_ms, or 20 of them after it began, or MFS_E_PROXY when
 * every peer known (at least one, or none while every tracker is refused
 * too: mfs_node_set_discovery_refused) is dialled through the proxy and
 * its last 4 dials in a row were refused there (the proxy's port closed,
 * its credentials refused, or its SOCKS error for that peer: about 2 s of
 * redials, so a proxy that restarts is waited for; one that never answers
 * is a silence, waited for as above). A fetch waiting for a connection
 * sits out the dials of its peers: its silence does not count while one
 * is being dialled (or waits to be) and fewer than three of that peer's
 * dials in a row failed, and starts over when a connection is ready (a
 * dial's deadline doubles per failure; a peer that never answers fails
 * the fetch when its third dial ends). Silence, not time: bytes
 * arriving on a connection (counted as read) carry every request on it,
 * so a slow or lossy link that keeps delivering is waited for. But bytes
 * are not answers: a request on a connection where no answer of ours (a
 * head or a segment) arrived whole for two request_timeout_ms since it
 * was asked (a peer sending keep-alives, or a segment a few bytes at a
 * time) is asked of another peer too when a ready one can take it, and
 * the slow peer keeps its request but is tried last for it (stats:
 * requests_slow). A peer alone is waited for as above. Sockets bound
 * TCP's retransmission backoff (net/tcpopt.h).
 *
 * Cancelling (net/wire: CANCEL, CANCELLED): when a fetch a read waits for
 * (urgent) is asked of a connection, the read-ahead requests on it asked
 * before are taken back and their fetches asked again at once (behind the
 * urgent one), unless at the connection's rate (its answers timed) it
 * arrives within 25 ms; a request taken back waits for CANCELLED, and
 * what comes of it meanwhile is taken as any answer. A peer's CANCEL drops its request
 * wherever it is (waiting, being read, partly sent), and is answered
 * CANCELLED. Stats: cancels_sent, cancels_served.
 *
 * Stalls: a dialled connection that began answering a request (the blob's
 * head came) and then received nothing for two request_timeout_ms is
 * closed and dialled again; its requests are asked again from the first
 * segment missing, and their fetches' silence starts over (their whole
 * time still bounded as above). At heavy loss a TCP connection's
 * congestion state can collapse to nothing arriving for tens of seconds
 * while a new connection streams at once; a peer still looking a blob up
 * is silent before its head, and is waited for.
 *
 * Lossy links: a dialled peer's connection silent for a second in the
 * middle of an answer has a gap; three gaps within 30 s make the link
 * lossy, and while it is (a minute after its last gap) the peer gets
 * four connections in all (lanes, each proving the same key). When a
 * lane is ready, the requests its siblings have not begun answering are
 * taken back (CANCEL) and asked again, spread over them all; a lane idle
 * for half a second takes over the second half of what a sibling still
 * has to send of a blob. A request whose next segment came another way is
 * taken back, and so are the requests for a blob made whole. At heavy
 * loss a TCP connection spends its time in retransmission timeouts, so
 * several carry several times as much; a lane that closes is not dialled
 * again for 5 s. But a slow link has gaps too (its full queue drops
 * packets), and there more connections only share one rate: the lanes
 * are on trial for their first 10 busy seconds (a request of ours in
 * flight), and unless the peer's rate grew by half over its rate before
 * them (the higher of its busy seconds' and its rate since the first gap,
 * which spans whole cycles of burst and gap) they close, and the peer
 * gets none for 10 minutes. Stats: lanes_dialled, lanes_dropped,
 * segments_stolen.
 *
 * Dead peers: a connection whose bytes sent have had no acknowledgement
 * from TCP for unacked_timeout_ms is closed (and a dialled one dialled
 * again). TCP's own give-up is put off (net/tcpopt.h): it counts from the
 * first retransmission still outstanding, which at heavy loss is always
 * one, and it cut connections that were delivering. Through a proxy or a
 * pluggable transport the acknowledgements are the proxy's, so there only
 * the stall rule tells. Stats: peers_unacked.
 *
 * Peers come from mfs_node_add_peer (the command line, the volume's memory
 * of earlier peers) and mfs_node_add_learnt_peer (a tracker's answer: no
 * special address unless allowed, 128 at most, dropped after 4 dials that
 * never answered). A peer's address comes with the static key it must
 * prove (Noise XX, net/peer), when known; a learnt peer named without one
 * must prove, from its first handshake on, the key it showed then (told
 * to learnt_key).
 *
 * Threads: mfs_node_fetch and mfs_node_add_peer from any thread; start and
 * stop as documented. All sockets live on the loop's thread. */
#ifndef MFS_NODE_H
#define MFS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"
#include "crypto/noise.h"
#include "fs/store/session_cache.h"
#include "fs/store/volume.h"
#include "net/loop.h"
#include "net/socks5.h"

struct mfs_tls_link_ctx; /* net/tls_link */

/* Where served blobs come from. Called on thread-pool threads. */
struct mfs_serve_source {
	/* The whole blob, malloc'ed; MFS_E_NOTFOUND when not held. *leaves,
	 * when the source keeps them, receives the id's leaves (malloc'ed,
	 * mfs_blob_leaf_count(*len) of them), else NULL: serving computes
	 * them. */
	int (*get)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		   size_t *len, uint8_t **leaves);
	/* 1 when held, else 0. */
	int (*has)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES]);
	void *ctx;
};

struct mfs_node_config {
	const uint8_t *static_sk;      /* the node's Noise key (borrowed, guarded) */
	const char *listen;            /* "HOST:PORT" (PORT may be 0) or NULL: do not listen */
	struct mfs_serve_source source; /* get NULL: serve nothing */
	unsigned max_peers;            /* connections in all; 0: 64 */
	unsigned max_per_range;        /* accepted from one range; 0: 8 */
	unsigned range_bits_v4;        /* an IPv4 range's prefix; 0: 24 (32: per address) */
	unsigned range_bits_v6;        /* an IPv6 range's prefix; 0: 64 */
	unsigned idle_timeout_ms;      /* an accepted connection idle this long is
					* closed; 0: 60000 */
	unsigned max_requests;         /* served at once per connection; 0: 16 */
	unsigned request_timeout_ms;   /* silence before asking another peer; 0: 5000 */
	unsigned fetch_timeout_ms;     /* silence before a fetch fails; 0: 30000 */
	/* Bytes sent and none of them acknowledged for this long: the
	 * connection is dead and closed ("Dead peers" above); 0: 60000. */
	unsigned unacked_timeout_ms;
	/* A dial's deadline to connect and finish its handshake, doubled by
	 * each of its dials in a row that failed (16 times at most); 0: 10000. */
	unsigned handshake_timeout_ms;
	size_t memory_budget;          /* bytes for every connection; 0: 256 MiB */
	/* Every dial goes through this SOCKS5 proxy (borrowed, outlives the
	 * node); NULL: straight. Incoming connections are not affected. */
	const struct mfs_socks5_proxy *proxy;
	/* Every connection, dialled and accepted, speaks the tls transport
	 * (net/tls_link; the listener needs its server context); NULL: plain
	 * TCP. Borrowed, outlives the node. A peer named without its key is
	 * then refused (-EINVAL): the upgrade's path comes from the key. */
	const struct mfs_tls_link_ctx *tls;
	/* The proxy is a pluggable transport's SOCKS5 port (net/pt): each
	 * peer is dialled with the bridge arguments of its address
	 * ("HOST:PORT[#KEY];ARGS") as the username and one NUL byte as the
	 * password. A peer named without them is then refused, and one named
	 * with them is refused when this is 0 (-EPROTONOSUPPORT both). */
	int proxy_takes_bridge_args;
	/* A blob that mfs_node_fetch_segment callers left before it was
	 * whole, made whole: lent (verified, valid during the call) on a
	 * thread-pool thread, e.g. to keep in a session cache; may be NULL
	 * (dropped). */
	void (*fetched)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *blob,
			size_t len);
	void *fetched_ctx;
	/* Told, on the loop thread, why a dial through the proxy failed (not
	 * which peer's), once per peer until it answers; may be NULL. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* Told, on the loop thread, when a peer someone else named without
	 * its key (mfs_node_add_learnt_peer "HOST:PORT": a DHT's get_peers)
	 * first proved one in a handshake: "HOST:PORT#KEY", as a tracker
	 * names a peer (never this node's own key: a node that found its own
	 * announcement); may be NULL. */
	void (*learnt_key)(void *ctx, const char *text);
	void *learnt_key_ctx;
};

struct mfs_netnode;

/* Starts the node on loop (listening, if asked, before returning).
 * Errors: -errno (e.g. -EADDRINUSE), -EINVAL for a bad listen address. */
int mfs_node_start(struct mfs_netnode **out, struct mfs_loop *loop,
		   const struct mfs_node_config *config);
/* Closes every connection and frees the node; fetches still waiting fail
 * with -ESHUTDOWN. Call before mfs_loop_stop, from any thread but the
 * loop's, or after mfs_node_shutdown (then also after mfs_loop_stop).
 * NULL-safe. */
void mfs_node_stop(struct mfs_netnode *n);
/* mfs_node_stop's first half: closes every connection, fails the fetches
 * waiting, and from then on refuses fetches (-ESHUTDOWN) and new peers,
 * but keeps the node's memory, so that callbacks still to come on the
 * loop (a tracker's peers, the DHT's) and threads still to call
 * mfs_node_fetch find a stopped node, not a freed one. Once only; before
 * mfs_loop_stop, from any thread but the loop's. NULL-safe. */
void mfs_node_shutdown(struct mfs_netnode *n);

/* The port listened on (0 when not listening). */
uint16_t mfs_node_port(const struct mfs_netnode *n);
/* This node's static public key. */
const uint8_t *mfs_node_public_key(const struct mfs_netnode *n);

/* Adds a peer to dial: "HOST:PORT", with the static key it must prove
 * (NULL: any key). A peer already known (same address) is kept as it is;
 * a banned key is ignored. 0, -EINVAL (bad address), -EPROTONOSUPPORT
 * (the node wants bridge arguments: proxy_takes_bridge_args), -ENOKEY
 * (no key over tls, whose WebSocket path is made from it) or
 * -ESHUTDOWN. */
int mfs_node_add_peer(struct mfs_netnode *n, const char *addr, const uint8_t *pk);
/* Parses "HOST:PORT" or "HOST:PORT#<64 hex key>", either followed by
 * ";ARGS", a bridge's arguments (net/pt: mfs_pt_peer_split), and adds it;
 * -EPROTONOSUPPORT when the arguments are there and the node's proxy
 * takes none, or missing and it wants them. */
int mfs_node_add_peer_text(struct mfs_netnode *n, const char *text);
/* Adds, as mfs_node_add_peer_text, a peer that someone else named (a
 * tracker): unless allow_special, one at a special address (net/addr:
 * loopback, private, link local...) is refused (-EPERM): a tracker must
 * not turn nodes into a scanner of their own networks. At most 128 such
 * peers are known at once: a newcomer takes the place of the one that
 * never answered and failed most, else is refused (-ENOSPC). One that
 * never answered 4 dials (250 ms, 0.5, 1 s apart) is dropped, and its
 * address refused (-EAGAIN) for 10 minutes. Counted in peers_declined and
 * peers_dropped. */
int mfs_node_add_learnt_peer(struct mfs_netnode *n, const char *text, int allow_special);
/* Tells the node whether every way it could learn peers (the trackers,
 * through the proxy) is refused by the proxy: then, with no peer known, a
 * fetch fails with MFS_E_PROXY instead of waiting for peers that cannot
 * come. Only with a proxy. Loop thread only. */
void mfs_node_set_discovery_refused(struct mfs_netnode *n, int refused);

/* Fetches a blob (see above). *blob is malloc'ed and matches id. urgent:
 * a reader waits for it now (else read-ahead). Never from the loop thread. */
int mfs_node_fetch(struct mfs_netnode *n, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		   uint8_t **blob, size_t *len);
/* Segment index of blob id (piece index of its hash list: crypto/hash.h),
 * copied to out (cap bytes, at least its length) as soon as it arrived and
 * matched its leaf; *len its length. The fetch of the rest goes on after
 * the call: a later call for another segment of the blob joins it, and the
 * blob made whole goes to the config's fetched (then is dropped from the
 * node). At most 16 such fetches go on with nobody waiting; past that the
 * call waits for the whole blob first. MFS_E_CORRUPT for an index past
 * the blob's end, -ENOBUFS when cap is too small; else as mfs_node_fetch.
 * Never from the loop thread. */
int mfs_node_fetch_segment(struct mfs_netnode *n, const uint8_t id[static MFS_BLOB_ID_BYTES],
			   int urgent, uint32_t index, uint8_t *out, size_t cap, size_t *len);

struct mfs_node_stats {
	uint64_t blobs_fetched, bytes_fetched;  /* verified */
	uint64_t blobs_served, bytes_served;
	unsigned peers_ready, peers_banned;
	uint64_t bad_blobs, timeouts;
	uint64_t requests_slow;                 /* asked of another peer: no answer came */
	uint64_t wants_served, wants_dropped;   /* WANTs looked up, and dropped */
	uint64_t want_ids;                      /* ids looked up for WANTs */
	size_t memory_used, memory_peak;        /* of the memory budget */
	uint64_t memory_refused;                /* bodies refused for want of memory */
	uint64_t requests_deferred;             /* REQUESTs that waited for memory */
	uint64_t peers_evicted;                 /* closed for holding too much */
	uint64_t peers_idle_closed;             /* closed idle (timeout, or slot taken) */
	uint64_t peers_stalled;                 /* dialled again, stalled mid-answer */
	uint64_t peers_unacked;                 /* closed: nothing acknowledged (dead) */
	uint64_t lanes_dialled;                 /* connections besides a peer's first */
	uint64_t lanes_dropped;                 /* lanes closed: they did not help */
	uint64_t segments_stolen;               /* asked of a lane from a sibling's answer */
	uint64_t peers_refused;                 /* newcomers refused: full, none idle */
	unsigned peers_known;                   /* peers to dial (given and learnt) */
	uint64_t peers_declined;                /* learnt peers not taken */
	uint64_t peers_dropped;                 /* learnt peers dropped, never answering */
	uint64_t cancels_sent;                  /* our requests taken back (CANCEL) */
	uint64_t cancels_served;                /* theirs, dropped before answered whole */
};
void mfs_node_stats(struct mfs_netnode *n, struct mfs_node_stats *out);

/* The node's static key, kept in the volume (object "\0node"; a hidden
 * volume has its own, so peers cannot link the two): loaded, or made and
 * written on first use, in the write transaction t (the caller commits it,
 * with whatever else it writes there: one commit on the way to a mount's
 * first byte). sk must be guarded memory of MFS_NOISE_KEY_BYTES. */
int mfs_node_identity(struct mfs_vtxn *t, uint8_t sk[static MFS_NOISE_KEY_BYTES]);

/* A blob source over a volume's blob store and (may be NULL) a session
 * cache. *out is malloc'ed; free it with mfs_store_source_free.
 * Its has() never decrypts blob contents: it looks the id up in the session
 * cache's index and in an index of the volume's blobs kept in memory (8
 * bytes per blob, twice over: 16 MiB for a million blobs), built from the
 * blob table when first needed, compared with the volume (its blob count
 * and bytes, one superblock read) at most every 2 s and rebuilt when they
 * changed, or after a minute. So a blob stored by this or another process
 * is answered "have" within about 2 s, and one deleted may still be for as
 * long (a REQUEST for it then gets NOT_FOUND). Index ids are 8-byte
 * prefixes: a false "have" is possible and as harmless. */
int mfs_store_source_new(struct mfs_serve_source *out, struct mfs_volume *vol,
			 struct mfs_session_cache *cache);
void mfs_store_source_free(struct mfs_serve_source *src);
/* How many times the source's blob index was built (for tests). */
uint64_t mfs_store_source_builds(const struct mfs_serve_source *src);

#endif
