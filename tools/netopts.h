/* netopts: the network options mount, serve and fetch share, and starting
 * the swarm (net/swarm) they describe.
 *
 *   --tracker URL      a tracker (wss://HOST:PORT/#sha256=PIN, or plain
 *                      ws://HOST:PORT); many allowed; remembered whole (its
 *                      pin too) per channel in the volume and used again later
 *   --listen HOST:PORT serve blobs to peers here (PORT 0: any free port)
 *   --peer ADDR        a peer to dial, HOST:PORT or HOST:PORT#NODEKEY
 *   --proxy URL        every peer dial through this SOCKS5 proxy,
 *                      socks5://[USER:PASS@]HOST:PORT; refused with --tracker
 *                      (trackers cannot go through it yet) */
#ifndef MFS_NETOPTS_H
#define MFS_NETOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "net/socks5.h"
#include "net/swarm.h"
#include "tools/cli.h"

#define NET_MAX_TRACKERS 16
#define NET_MAX_PEERS 64

#define NET_OPTIONS                                                  \
	{"tracker", required_argument, NULL, OPT_TRACKER},           \
	{"listen", required_argument, NULL, OPT_LISTEN},             \
	{"peer", required_argument, NULL, OPT_PEER},                 \
	{"proxy", required_argument, NULL, OPT_PROXY}

struct net_opts {
	const char *trackers[NET_MAX_TRACKERS];
	size_t n_trackers;
	const char *peers[NET_MAX_PEERS];
	size_t n_peers;
	const char *listen;
	/* --proxy, in guarded memory, wiped and freed at exit; NULL: none. */
	const struct mfs_socks5_proxy *proxy;
};

/* 1 when opt was a network option (taken), 0 when not, 2 after a usage
 * error (printed). */
int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg);

/* Starts the swarm for channels; log (may be NULL) gets its lines, else
 * they go to stderr as "megafs CMD: ...". Prints the error and returns
 * non-zero on failure. */
int net_start(struct cli *c, const struct net_opts *n, struct mfs_volume *vol,
	      struct mfs_session_cache *cache, const uint8_t (*channels)[MFS_SIGN_PK_BYTES],
	      size_t n_channels, void (*log)(void *ctx, const char *line), void *log_ctx,
	      struct mfs_swarm **out);

/* Every channel the volume knows (free *out): a seeder serves their blobs,
 * a repair asks their peers. Prints the error and returns non-zero on
 * failure. */
int net_all_channels(struct cli *c, struct mfs_volume *vol, uint8_t (**out)[MFS_SIGN_PK_BYTES],
		     size_t *count);

#endif
