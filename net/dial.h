/* dial: the one way out of this process to a peer: a connected TCP stream
 * to an address, either straight (tcp) or through a SOCKS5 proxy's CONNECT
 * (net/socks5). The caller above gets the same stream either way and does
 * not know which; with a proxy, the only connection this side opens is to
 * the proxy, and the target goes to it as an address literal, or as a name
 * the proxy resolves (mfs_dial_start_name: nothing is resolved here).
 *
 * A dial is embedded in its owner, and holds the uv_tcp_t it connects: the
 * owner initialises it (uv_tcp_init, and binds it if it wants), sets its
 * data, uses it as its stream and closes it; the dial never touches data
 * (it finds itself from the handle's address). The callback comes once: status 0 (the stream is
 * connected end to end; it is not being read, and no byte past the proxy's
 * reply was read), or an error (-errno from the socket, or net/socks5's
 * errors, why saying which). To abandon a dial, close the stream: the
 * callback may then come with an error, or not at all, before the close
 * callback; ignore it. The dial has no timer of its own: the owner bounds
 * the whole dial with its own (net/peer's handshake deadline starts before
 * the dial). Loop thread only. */
#ifndef MFS_DIAL_H
#define MFS_DIAL_H

#include <sys/socket.h>
#include <uv.h>

#include "net/socks5.h"

struct mfs_dial;

/* why: a sentence for the error (NULL when status is 0); valid during the
 * call only. */
typedef void (*mfs_dial_cb)(struct mfs_dial *d, int status, const char *why, void *ctx);

struct mfs_dial {
	uv_tcp_t tcp;           /* the owner's stream, whatever the dial did */
	mfs_dial_cb cb;
	void *ctx;
	uv_connect_t connect_req;
	uv_write_t write_req;
	int through_proxy;
	struct mfs_socks5_client socks;
	uint8_t out[MFS_SOCKS5_OUT_MAX]; /* being written (may hold credentials) */
	size_t greeting_len;
	uint8_t in[MFS_SOCKS5_REPLY_MAX];
	char why[160];
};

/* Dials to (an IPv4 or IPv6 address) from d->tcp, through proxy when it
 * is not NULL (borrowed until the callback). 0 (the outcome comes through
 * cb), or -errno at once (no callback then). */
int mfs_dial_start(struct mfs_dial *d, const struct sockaddr *to,
		   const struct mfs_socks5_proxy *proxy, mfs_dial_cb cb, void *ctx);

/* Dials host:port through proxy (required): host, an address literal or a
 * name (1 to 255 bytes), goes to the proxy as it is, and the proxy
 * resolves a name (no DNS query leaves this process). As mfs_dial_start;
 * -EINVAL also for no proxy, port 0 or a host net/socks5 refuses. */
int mfs_dial_start_name(struct mfs_dial *d, const char *host, uint16_t port,
			const struct mfs_socks5_proxy *proxy, mfs_dial_cb cb, void *ctx);

#endif
