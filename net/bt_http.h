/* bt_http: one HTTP connection of the tracker's BitTorrent announce
 * listener (a raw libwebsockets connection: lws does TCP, and TLS when the
 * tracker has a certificate, but not HTTP, whose parser would decode the
 * query, and refuses "%00" in it, before net/bt_announce could read it).
 *
 * A connection carries one request: its head (at most MFS_BT_HEAD_MAX
 * bytes, up to the blank line) is read, answered with one response
 * (net/bt_announce: peers, or a failure reason), and the connection is
 * closed once the response is written. Bytes after the head are ignored.
 * The caller closes a connection whose request is not complete in time.
 *
 * Threads: the tracker's loop thread. A conn is the caller's, from
 * mfs_bt_http_new to mfs_bt_http_free. */
#ifndef MFS_BT_HTTP_H
#define MFS_BT_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>

#include "net/bt_announce.h"
#include "net/bt_swarm.h"

struct mfs_bt_http;

/* 0 or -ENOMEM. */
int mfs_bt_http_new(struct mfs_bt_http **out);
/* NULL-safe. */
void mfs_bt_http_free(struct mfs_bt_http *h);

/* What answering needs: the swarm, who is asking, the interval to tell. */
struct mfs_bt_http_ctx {
	struct mfs_bt_swarm *swarm;
	const struct mfs_bt_source *source; /* its port: the query's is used */
	unsigned interval;
	unsigned per_range_in_torrent; /* for the refusal's text */
	uint64_t now_ms;
};

/* Adds received bytes. Returns 1 when a response is ready to write (ask
 * lws for a writeable callback), 0 when more bytes are needed (or a
 * response is already on its way), -ENOMEM. */
int mfs_bt_http_receive(struct mfs_bt_http *h, const void *in, size_t len,
			const struct mfs_bt_http_ctx *ctx);

/* At a writeable callback: writes the response and asks for another
 * writeable callback (0); at that one, when lws has sent it all, or after
 * a failed write: -1, close. */
int mfs_bt_http_write(struct mfs_bt_http *h, struct lws *wsi);

#endif
