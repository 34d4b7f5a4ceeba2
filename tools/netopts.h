/* netopts: the network options mount, serve and fetch share, and starting
 * the swarm (net/swarm) they describe.
 *
 *   --tracker URL      a tracker (wss://HOST:PORT/#sha256=PIN, or plain
 *                      ws://HOST:PORT); many allowed; remembered whole (its
 *                      pin too) per channel in the volume and used again later
 *   --listen HOST:PORT serve blobs to peers here (PORT 0: any free port)
 *   --peer ADDR        a peer to dial, HOST:PORT or HOST:PORT#NODEKEY
 *   --bootstrap FILE   the trackers and peers a bootstrap file (net/bootstrap)
 *                      lists, taken as if each were given with --tracker or
 *                      --peer (and so remembered too); many allowed
 *   --dht              find and announce the channels in the Mainline DHT
 *                      (net/swarm_dht)
 *   --dht-bootstrap HOST:PORT  a DHT node to start from (many allowed; they
 *                      replace the saved table and the well-known routers;
 *                      implies --dht)
 *   --dht-interval S   a subscriber looks for a newer pointer every S
 *                      seconds (default 60; implies --dht)
 *   --dht-port PORT    the DHT's UDP port (0: any free one); without it the
 *                      port saved with the routing table when free, else
 *                      any (implies --dht)
 *   --proxy URL        every peer and tracker dial through this SOCKS5
 *                      proxy, socks5://[USER:PASS@]HOST:PORT; refused with
 *                      the DHT options (UDP)
 *   --transport tcp|tls|obfs4  how peers talk: plain TCP (the default);
 *                      tls: TLS 1.3 and a WebSocket that look like a web
 *                      page (net/tls_link), for every peer dialled and
 *                      accepted; then each --peer needs its #KEY, and a
 *                      listener needs --tls-cert FILE and --tls-key FILE
 *                      (PEM); --tls-sni NAME: the name the ClientHello
 *                      shows; obfs4 (with --pt PATH): every peer connection
 *                      through the pluggable transport PATH (Tor's PT spec:
 *                      net/pt); peers are bridges,
 *                      HOST:PORT[#KEY];cert=...;iat-mode=N; with --listen,
 *                      the PT listens there in front of the node; refused
 *                      with --proxy, the DHT options and --tracker (none can
 *                      carry a bridge's arguments)
 *   --mode direct|obfs|tor  seed 000's connection modes as presets of the
 *                      above, applied after them: direct refuses --proxy;
 *                      obfs is --transport tls (unless --transport is given)
 *                      and refuses ws:// trackers and the DHT (their bytes
 *                      say what they are); tor is --proxy
 *                      socks5://127.0.0.1:9050 (Tor's port, unless --proxy
 *                      is given) and refuses --listen and a pluggable
 *                      transport */
#ifndef MFS_NETOPTS_H
#define MFS_NETOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "net/socks5.h"
#include "net/swarm.h"
#include "tools/cli.h"

#define NET_MAX_TRACKERS 16
#define NET_MAX_PEERS 128
#define NET_MAX_DHT_BOOTSTRAP 16

#define NET_OPTIONS                                                  \
	{"tracker", required_argument, NULL, OPT_TRACKER},           \
	{"listen", required_argument, NULL, OPT_LISTEN},             \
	{"peer", required_argument, NULL, OPT_PEER},                 \
	{"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},       \
	{"dht", no_argument, NULL, OPT_DHT},                         \
	{"dht-bootstrap", required_argument, NULL, OPT_DHT_BOOTSTRAP}, \
	{"dht-interval", required_argument, NULL, OPT_DHT_INTERVAL}, \
	{"dht-port", required_argument, NULL, OPT_DHT_PORT},         \
	{"proxy", required_argument, NULL, OPT_PROXY},               \
	{"transport", required_argument, NULL, OPT_TRANSPORT},       \
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},         \
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},           \
	{"tls-sni", required_argument, NULL, OPT_TLS_SNI},           \
	{"pt", required_argument, NULL, OPT_PT},                     \
	{"mode", required_argument, NULL, OPT_MODE}

struct net_opts {
	const char *trackers[NET_MAX_TRACKERS];
	size_t n_trackers;
	const char *peers[NET_MAX_PEERS];
	size_t n_peers;
	const char *listen;
	int dht;
	const char *dht_bootstrap[NET_MAX_DHT_BOOTSTRAP];
	size_t n_dht_bootstrap;
	unsigned dht_interval_s;     /* 0: the default */
	int dht_port_given;          /* --dht-port: dht_port (0: any) */
	uint16_t dht_port;
	/* --proxy, in guarded memory, wiped and freed at exit; NULL: none. */
	const struct mfs_socks5_proxy *proxy;
	int tls;                     /* --transport tls */
	const char *tls_cert, *tls_key, *tls_sni;
	/* Made by net_check for --transport tls, freed at exit; NULL: tcp. */
	const struct mfs_tls_link_ctx *tls_ctx;
	const char *transport;       /* --transport obfs4: "obfs4", else NULL */
	const char *pt;              /* --pt: the pluggable transport's binary */
	int transport_given;         /* --transport, whichever */
	const char *mode;            /* --mode: "direct", "obfs", "tor", or NULL */
};

/* 1 when opt was a network option (taken), 0 when not, 2 after a usage
 * error (printed). */
int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg);

/* After the options: checks what only the whole says (--transport obfs4
 * needs --pt and refuses --proxy, the DHT and --tracker; a peer is a
 * bridge exactly when a pluggable transport is given; --tls-* without
 * --transport tls; a tls listener without its certificate; a tls --peer
 * without its key) and makes the tls context (reading the certificate).
 * 0, else the exit status to return (said: 2 for a usage error, 1 for a
 * file that cannot be used). */
int net_check(struct cli *c, struct net_opts *n);


/* The network part of a swarm's config (listen, trackers, peers, DHT)
 * from n; n must outlive the swarm's start. */
void net_swarm_config(const struct net_opts *n, struct mfs_swarm_config *cfg);

/* 1 when n asks for a network (trackers, peers, a listen address, the
 * DHT). */
int net_wanted(const struct net_opts *n);

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
