/* tracker_server: the tracker (net/tracker_proto.h has the protocol) as a
 * WebSocket server on the caller's libuv loop: plain (ws://) or, given a
 * certificate and its key, TLS 1.3 only (wss://, net/tls), where a client
 * speaking anything else than TLS is closed at its first bytes.
 *
 * It keeps, per channel key, the subscribed connections and the announced
 * peers in memory, and the newest verified manifest in a plain LMDB
 * environment (tracker state is public: key = the 32-byte public key,
 * value = the canonical manifest), so a restarted tracker still serves
 * the newest manifest and still refuses replays. A manifest is pushed to
 * every subscriber at once (one copy in memory, however many); a
 * subscriber that does not read is cut off rather than let its queue grow
 * past 4 x max_message (at least 4 MiB). Every limit in the config is
 * enforced; a misbehaving client gets an "error" or is closed, and the
 * others are served meanwhile.
 *
 * Connections: at most max_connections (4,096) in all and max_per_range
 * (64) from one range of addresses (a /24 of IPv4, a /64 of IPv6, as
 * net/addr tells). A connection is idle when its WebSocket handshake is
 * done and it holds nothing: no subscription, no announced peer. One idle
 * for idle_timeout seconds (60) since its last message is closed. A new
 * connection over a limit takes the place of the connection idle the
 * longest (of its own range when its range is full), closed with 1001
 * "idle, its slot taken"; only with none idle is the newcomer refused
 * (closed before its handshake). Every TCP connection counts, its TLS
 * handshake included: the limits above apply at accept, before TLS. The
 * TLS handshake must be done within 10 s of the accept, and the WebSocket
 * handshake within 10 s of that; a connection still shaking hands is not
 * idle, so it never gives its slot but cannot outstay those 10 s. TLS
 * adds OpenSSL's buffers per connection (a record is at most 16 KiB, and
 * buffers are released while a connection is quiet); the message and
 * queue limits count the bytes inside TLS, as with ws://.
 *
 * Storage: the database keeps at most max_keys manifests (100,000) of
 * max_bytes in all (256 MiB, a quarter of the 1 GiB map), and of those
 * last published from one range at most max_keys_per_range (256) of
 * max_bytes_per_range (16 MiB); a table "meta" in the same environment
 * keeps, per key, when it was last published (milliseconds) and from which
 * range (so a seized database tells each channel's publishing network;
 * man/megafs.7, "On the network"), so the counts survive a restart (a manifest stored before quotas
 * counts as published long ago from no range). A publish past its range's
 * quota is refused ("limit": "tracker full for your address range...").
 * One past the whole quota drops, in the transaction that stores it, the
 * manifests of channels nobody is subscribed to, least recently published
 * first, as many as needed; when those are not enough it is refused
 * ("limit": "tracker full: ..."), and so is one that finds the map full.
 * An update of a stored channel counts only its change of size. Finding
 * what to drop walks the channels stored and sorts the unsubscribed ones;
 * it happens only when the tracker is full.
 *
 * Announces: a channel holds at most max_announced_per_range (8) peers
 * announced from one range; a further new one is refused ("limit": "at
 * most 8 peers of one channel from one address range"), besides the limit
 * per connection (max_subscriptions). An answer of W peers is drawn across
 * ranges: the records in a random order, the first of each range, then
 * the second of each, and so on, so one range holds at most one place in
 * W when W ranges or more have peers.
 *
 * BitTorrent: with cfg.http, a second listener on http_port (a vhost of
 * raw connections: net/bt_http reads HTTP, lws does TCP and TLS with the
 * same certificate) takes BEP 3 announces into net/bt_swarm, one request
 * per connection, each connection counted and limited as above and closed
 * 10 s after its accept if its request is not whole. WebTorrent announces
 * arrive on the WebSocket (net/webtorrent); a connection in a WebTorrent
 * swarm holds something, so it is not idle.
 *
 * Threads: everything, start and stop included, on the loop's thread. */
#ifndef MFS_TRACKER_SERVER_H
#define MFS_TRACKER_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mfs_tracker_server;

struct mfs_tracker_server_config {
	const char *host;            /* numeric IPv4/IPv6 address or "localhost";
				      * "0.0.0.0" or "::" for every interface */
	uint16_t port;               /* 0: any free port (see mfs_tracker_server_port) */
	const char *db_dir;          /* LMDB environment; made (0700) if missing */
	size_t max_message;          /* bytes per message; 0: 1 MiB, at most
				      * MFS_TRACKER_MESSAGE_MAX (1 MiB) */
	unsigned max_subscriptions;  /* keys per connection (subscribe, announce each); 0: 256 */
	unsigned max_per_range;      /* connections per range of addresses; 0: 64 */
	unsigned range_bits_v4;      /* an IPv4 range's prefix; 0: 24 (32: per address) */
	unsigned range_bits_v6;      /* an IPv6 range's prefix; 0: 64 */
	unsigned max_connections;    /* in all; 0: 4096 */
	unsigned idle_timeout;       /* seconds a connection holding nothing stays; 0: 60 */
	unsigned max_announced_per_range; /* peers of one channel from one range; 0: 8 */
	size_t max_keys;             /* manifests stored in all; 0: 100,000 */
	size_t max_bytes;            /* their bytes in all; 0: 256 MiB */
	size_t max_keys_per_range;   /* stored for publishers of one range; 0: 256 */
	size_t max_bytes_per_range;  /* 0: 16 MiB */
	unsigned interval;           /* announce interval in seconds; 0: 60 */
	size_t map_size;             /* LMDB map size; 0: 1 GiB */
	const char *tls_cert;        /* PEM certificate (chain may follow): wss://; NULL: ws:// */
	const char *tls_key;         /* its PEM private key (both or neither) */
	int http;                    /* also take BitTorrent announces (BEP 3) on http_port */
	uint16_t http_port;          /* 0: any free port (see mfs_tracker_server_http_port) */
};

#define MFS_TRACKER_DEFAULT_MAX_MESSAGE (1u << 20)
#define MFS_TRACKER_DEFAULT_MAX_SUBSCRIPTIONS 256
#define MFS_TRACKER_DEFAULT_MAX_PER_RANGE 64
#define MFS_TRACKER_DEFAULT_IDLE_TIMEOUT 60
#define MFS_TRACKER_DEFAULT_MAX_ANNOUNCED_PER_RANGE 8
#define MFS_TRACKER_DEFAULT_MAX_KEYS 100000
#define MFS_TRACKER_DEFAULT_MAX_BYTES ((size_t)256 << 20)
#define MFS_TRACKER_DEFAULT_MAX_KEYS_PER_RANGE 256
#define MFS_TRACKER_DEFAULT_MAX_BYTES_PER_RANGE ((size_t)16 << 20)
#define MFS_TRACKER_DEFAULT_MAX_CONNECTIONS 4096
#define MFS_TRACKER_DEFAULT_INTERVAL 60

/* Opens the database and listens. Returns 0, -EINVAL (bad host or
 * limits, or a certificate and key mfs_tls_server_check refuses: call it
 * first to say why), -ENOENT (no such certificate or key file),
 * -EADDRINUSE and other -errno of socket/bind, MFS_E_LMDB or
 * MFS_E_CORRUPT (the database), -ENOMEM. On failure nothing is left
 * listening, but the loop must still run once for lws to finish closing
 * (uv_run returns at once when nothing else is on it). */
int mfs_tracker_server_start(struct mfs_tracker_server **out, uv_loop_t *loop,
			     const struct mfs_tracker_server_config *cfg);

/* The port it listens on (the real one when the config asked for 0). */
uint16_t mfs_tracker_server_port(const struct mfs_tracker_server *s);

/* The port of the BitTorrent listener, 0 when it has none. */
uint16_t mfs_tracker_server_http_port(const struct mfs_tracker_server *s);

/* Counters, for tests and logs. */
struct mfs_tracker_server_stats {
	size_t connections;          /* open TCP connections (WebSocket or not yet) */
	size_t keys;                 /* keys with subscribers or peers in memory */
	uint64_t published;          /* manifests accepted since start */
	uint64_t refused;            /* connections refused by a limit */
	uint64_t evicted;            /* idle connections closed to make room */
	size_t stored, stored_bytes; /* manifests in the database, their bytes */
	uint64_t dropped;            /* manifests dropped to make room */
};
void mfs_tracker_server_stats(const struct mfs_tracker_server *s,
			      struct mfs_tracker_server_stats *out);

/* Closes every connection and the listening socket, then the database, and
 * frees s once lws's handles are closed; uv_run returns when nothing else
 * is left on the loop. NULL-safe; s is not to be used after the call. */
void mfs_tracker_server_stop(struct mfs_tracker_server *s);

#endif
