/* tunnel: a way into a SOCKS5 proxy for code that opens its own sockets
 * (libwebsockets: Debian's build has no SOCKS5). A tunnel listens on an
 * abstract Unix socket (a name with no file, "@megafs-tunnel-<random>");
 * each connection to it is carried through the proxy to one target,
 * HOST:PORT, the name resolved by the proxy (net/dial's
 * mfs_dial_start_name: no DNS query leaves this process), and relayed byte
 * for byte both ways until either side closes, when both are closed.
 *
 * Only this process may come in: a connection from another process
 * (SO_PEERCRED's pid) is closed at once, so another local user cannot ride
 * the proxy's credentials or circuits. The local side is not read before
 * the proxy opened the tunnel (what the caller sent waits in the socket);
 * a dial that fails is told through fail with net/dial's sentence, then
 * the local side is closed. At most 4 connections are carried at once
 * (one caller connects once at a time); more are closed.
 *
 * The tunnel has no timer: the code that connects bounds its own connect
 * and closes its side, which closes the proxy's.
 *
 * Loop thread only. The proxy (borrowed) must outlive the tunnel. */
#ifndef MFS_TUNNEL_H
#define MFS_TUNNEL_H

#include <stdint.h>
#include <uv.h>

#include "net/socks5.h"

struct mfs_tunnel;

/* Why a dial through the proxy failed (valid during the call only). */
typedef void (*mfs_tunnel_fail_cb)(void *ctx, const char *why);

/* Listens, at once. host: an address literal or a name (copied). fail may
 * be NULL. 0, -EINVAL (host empty or longer than 255 bytes, port 0),
 * -ENOMEM or -errno (the socket). */
int mfs_tunnel_new(struct mfs_tunnel **out, uv_loop_t *loop, const struct mfs_socks5_proxy *proxy,
		   const char *host, uint16_t port, mfs_tunnel_fail_cb fail, void *ctx);

/* The address to connect to as libwebsockets names a Unix socket
 * ("+@megafs-tunnel-..."); valid until mfs_tunnel_free. */
const char *mfs_tunnel_lws_address(const struct mfs_tunnel *t);

/* Closes the listener and every connection; the memory goes once their
 * handles are closed (the loop must run on). No fail callback comes after
 * the call. NULL-safe. */
void mfs_tunnel_free(struct mfs_tunnel *t);

#endif
