/* swarm: everything one process does on the network for a set of channels.
 *
 * It runs the loop thread (net/loop), the node (net/node: serving blobs
 * from the volume and the session cache, fetching for readers) and one
 * tracker client per tracker (net/tracker_client): it subscribes to each
 * channel, announces this node for it, dials the peers the trackers name,
 * and sends this process's publications to every tracker. Peers a tracker
 * names go through mfs_node_add_learnt_peer: those at special addresses
 * (net/addr) are dialled only when the tracker's own connection is to a
 * special address (so tests and LANs work, and a public tracker cannot aim
 * nodes at their own networks); the number kept is bounded and those that
 * never answer are dropped (net/node.h).
 *
 * Manifests pushed by a tracker are verified and stored in the volume
 * (fs/channel: newer only, signature checked) on the thread pool; a mount's
 * watcher then shows them. Verification comes first, outside any write
 * transaction (the sequence is compared in a read transaction), so a flood
 * of junk never holds the store's write lock; only a manifest that passed
 * is stored, in a write transaction that checks it again. Each (tracker,
 * channel) keeps at most one manifest waiting, the newest by the sequence
 * it claims, and each channel has one on the thread pool at a time: a
 * flood costs at most 2 x trackers x channels x MFS_TRACKER_MANIFEST_MAX
 * bytes, and one lying tracker cannot push out another's manifest. A newer
 * manifest learnt from one tracker is passed on to the others, so trackers
 * need not all be reachable by the publisher.
 *
 * With the DHT (net/swarm_dht) the channels' pointers are put (owned) or
 * got (others), and the manifests they lead to take the same path as a
 * tracker's: the DHT is one more source of manifests, as untrusted.
 *
 * What worked is remembered per channel in the volume (object "n" + public
 * key, canonical JSON {"peers":[...],"trackers":[...]}): trackers given once
 * are used again by every later mount, serve or fetch of that channel, and
 * the peers met are dialled at the next start even when every tracker is
 * down and no DHT runs. A peer is remembered as "HOST:PORT#KEY": one given
 * with its key, one a tracker named (the node took it: net/node's learnt
 * peer rules, special addresses included), and one the DHT named that
 * proved its key in a handshake (net/node's learnt_key); at most 32 a run,
 * written to each of the swarm's channels at the stop, newest first, 32 a
 * channel.
 *
 * Threads: start and stop from the owning thread; fetch, publish and
 * wait_manifest from any thread but the loop's. The node's key is made
 * (net/node: mfs_node_identity) only when a network is started. */
#ifndef MFS_SWARM_H
#define MFS_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/store/session_cache.h"
#include "fs/store/volume.h"
#include "net/node.h"

struct mfs_swarm_config {
	struct mfs_volume *vol;
	struct mfs_session_cache *cache;     /* also served from; may be NULL */
	const char *listen;                  /* "HOST:PORT" or NULL: serve nobody */
	const char *const *trackers;         /* URLs to use (and remember) */
	size_t n_trackers;
	const char *const *peers;            /* "HOST:PORT[#KEY]" to dial */
	size_t n_peers;
	const uint8_t (*channels)[MFS_SIGN_PK_BYTES]; /* borrowed until mfs_swarm_stop */
	size_t n_channels;
	unsigned fetch_timeout_ms;           /* 0: net/node's default */
	/* The Mainline DHT (net/swarm_dht): run when dht is set, bootstrapped
	 * from dht_bootstrap ("HOST:PORT"; none: the volume's saved table,
	 * else the well-known routers); a subscriber gets the channels'
	 * pointers every dht_interval_s (0: 60 s). */
	int dht;
	const char *const *dht_bootstrap;
	size_t n_dht_bootstrap;
	unsigned dht_interval_s;
	/* The DHT's UDP port when dht_port_given (0: any free one), else the
	 * one saved with the table when free, else any (net/swarm_dht.h). */
	int dht_port_given;
	uint16_t dht_port;
	/* Every peer and tracker dial through this SOCKS5 proxy (borrowed,
	 * outlives the swarm); NULL: straight. A tracker's host name is
	 * resolved by the proxy. Never with dht (UDP). */
	const struct mfs_socks5_proxy *proxy;
	/* Peers speak the tls transport (net/tls_link; borrowed, outlives the
	 * swarm); NULL: plain TCP. Trackers are not affected (wss:// is
	 * theirs). */
	const struct mfs_tls_link_ctx *tls;
	/* A pluggable transport (net/pt, net/swarm_pt) for every peer
	 * connection: pt_path the binary, pt_transport its transport
	 * ("obfs4"); NULL: none. Never with proxy or dht. Client (when there
	 * are peers to dial): every dial goes through its SOCKS5 port with
	 * the peer's bridge arguments ("HOST:PORT[#KEY];ARGS"); a remembered
	 * peer without them is skipped, a given one refused. Server (listen
	 * set): the PT listens on listen and relays to the node, which
	 * listens on 127.0.0.1 (every peer then comes from there: the
	 * per-range limit is lifted to the node's); its identity is kept in
	 * the volume. Trackers are not used: a tracker names a peer by its
	 * address and node key, with no bridge arguments, and would be
	 * reached around the transport. */
	const char *pt_path;
	const char *pt_transport;
	/* Only wss:// trackers are dialled (--mode obfs): a remembered ws://
	 * one is skipped, with a line, and stays remembered. */
	int wss_only;
	/* Told, on the loop thread, each time a manifest from a tracker was
	 * stored in the volume (a mount then shows it at once, not at its
	 * next look at the volume); may be NULL. */
	void (*stored)(void *ctx);
	void *stored_ctx;
	/* One line about the network (no content, no blob ids); may be NULL. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* Writes the caller's own changes into the start's write transaction
	 * (a mount's new subscription), so that they cost no commit of their
	 * own on the way to the first byte; may be NULL. An error fails the
	 * start, with nothing of the transaction committed. */
	int (*in_start)(void *ctx, struct mfs_vtxn *t);
	void *in_start_ctx;
};

struct mfs_swarm;

/* *out is NULL (and 0 returned) when there is nothing to do: no listen
 * address, no DHT, and no tracker or peer given or remembered for the channels
 * (in_start has run and its changes are committed then too).
 * Errors: -errno (a listen address in use...), -EINVAL for a bad tracker
 * URL or peer address (logged with the culprit). */
int mfs_swarm_start(struct mfs_swarm **out, const struct mfs_swarm_config *config);
/* Remembers trackers and peers, closes every connection, stops the loop.
 * NULL-safe. */
void mfs_swarm_stop(struct mfs_swarm *s);

/* 1 when the volume remembers a tracker or a peer for channel pk (a
 * start with nothing given would still run a network). */
int mfs_swarm_remembers(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES]);

/* Forgets what the volume remembers for channel pk (no swarm need run):
 * each tracker URL or peer what[] names (a peer by "HOST:PORT#KEY" as
 * kept, or by its "HOST:PORT" alone; a bridge also by its text without
 * its arguments), or every tracker and peer when n is
 * 0; said(ctx, "tracker" or "peer", text) for each one forgotten (may be
 * NULL). 0; MFS_E_NOTFOUND when what[*unknown] names nothing remembered
 * (then nothing is forgotten); -ENOMEM or the volume's errors. */
int mfs_swarm_forget(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     const char *const *what, size_t n,
		     void (*said)(void *ctx, const char *kind, const char *text), void *ctx,
		     size_t *unknown);

/* Hands what the volume remembers for channel pk to said(ctx, "tracker"
 * or "peer", text), trackers first, each newest first. 0, or the volume's
 * errors (nothing remembered is 0 and no call). */
int mfs_swarm_remembered(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			 void (*said)(void *ctx, const char *kind, const char *text), void *ctx);

/* mfs_node_fetch on the swarm's node (blobs checked against their ids). */
int mfs_swarm_fetch(struct mfs_swarm *s, const uint8_t id[static MFS_BLOB_ID_BYTES],
		    int urgent, uint8_t **blob, size_t *len);
/* mfs_node_fetch_segment on the swarm's node: a blob made whole for
 * segment callers gone goes to the session cache (when the swarm has one;
 * else it is dropped, and fetched again if asked again). */
int mfs_swarm_fetch_segment(struct mfs_swarm *s, const uint8_t id[static MFS_BLOB_ID_BYTES],
			    int urgent, uint32_t index, uint8_t *out, size_t cap, size_t *len);
/* A fetch function for fs/fuse/reader's struct mfs_blob_fetcher: ctx is
 * a struct mfs_swarm *. */
int mfs_swarm_fetcher(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		      uint8_t **blob, size_t *len);
/* Sends a signed manifest (canonical JSON; copied) to every tracker. */
void mfs_swarm_publish(struct mfs_swarm *s, const char *json, size_t len);
/* Publishes the stored manifest of each of the swarm's channels the volume
 * owns (one published by a command while no network ran: megafs channel
 * grant, revoke, rekey). */
void mfs_swarm_publish_owned(struct mfs_swarm *s);
/* Waits until the volume holds a manifest of pk (stored before, or pushed
 * by a tracker): 0, MFS_E_NOKEY as soon as a pushed one is refused for
 * want of a key (a private channel: fs/channel), MFS_E_PROXY as soon as
 * the proxy refused 4 connects in a row to every tracker (with --proxy;
 * nothing else could bring one), or -ETIMEDOUT after timeout_ms (at once
 * when the swarm has no tracker and no DHT: nothing could bring one). */
int mfs_swarm_wait_manifest(struct mfs_swarm *s, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			    unsigned timeout_ms);
/* A bridge's line (with pt_path and listen): "HOST:PORT#KEY;ARGS", the
 * peer address a subscriber gives to --peer, HOST the address the PT
 * listens on, into out[cap]. 0, or -ENOENT (no bridge), -ENOBUFS. */
int mfs_swarm_bridge_line(const struct mfs_swarm *s, char *out, size_t cap);
/* The port served on (the PT's, with pt_path; 0 when not listening) and
 * the node's key. */
uint16_t mfs_swarm_port(const struct mfs_swarm *s);
const uint8_t *mfs_swarm_node_key(const struct mfs_swarm *s);
void mfs_swarm_stats(struct mfs_swarm *s, struct mfs_node_stats *out);

/* What became of the manifests trackers pushed (any thread). */
struct mfs_swarm_manifest_stats {
	uint64_t received;            /* pushed for one of the channels */
	uint64_t dropped;             /* not newer than one stored or waiting, or superseded */
	uint64_t refused;             /* verified and refused (bad, replayed...) */
	uint64_t write_transactions;  /* opened to store one (only after verifying) */
	uint64_t stored;
};
void mfs_swarm_manifest_stats(struct mfs_swarm *s, struct mfs_swarm_manifest_stats *out);

#endif
