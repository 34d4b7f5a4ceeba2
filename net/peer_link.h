/* peer_link: the byte stream under one peer connection (net/peer), over a
 * connected libuv TCP stream: plain (tcp: the stream itself) or dressed as
 * a web page (net/tls_link: TLS 1.3, then an HTTP/1.1 WebSocket upgrade,
 * then binary frames). The peer sees the same stream either way: it opens
 * the link, reads, writes one vector at a time, shuts the write side, and
 * closes the TCP handle itself.
 *
 * A link is embedded in its owner (struct mfs_peer_link), set up with
 * mfs_peer_link_tcp or mfs_tls_link_init on the owner's uv_tcp_t, whose
 * data then points to the link (the owner finds itself from link->owner; its
 * own close callback on the handle gets the link as data too). The owner
 * closes the handle (uv_close) whenever it likes: writes under way then
 * end with UV_ECANCELED before its close callback, and mfs_peer_link_free
 * frees the transport's state after that.
 *
 * The order: mfs_peer_link_open once the stream is connected (dialled or
 * accepted); opened comes once (status 0: bytes may flow; an error: the
 * link is unusable, the owner closes the handle). Then
 * mfs_peer_link_read_start (alloc and read come as libuv's would: UV_EOF at
 * the end, a negative error); one mfs_peer_link_write at a time (written
 * comes when it is on the wire or failed); mfs_peer_link_shutdown once
 * (shut comes).
 *
 * Threads: the loop's only. Callbacks may close the handle. */
#ifndef MFS_PEER_LINK_H
#define MFS_PEER_LINK_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

struct mfs_peer_link;

struct mfs_peer_link_callbacks {
	void (*opened)(struct mfs_peer_link *l, int status);
	/* A buffer for the next bytes (never of length 0). */
	void (*alloc)(struct mfs_peer_link *l, uv_buf_t *buf);
	/* nread bytes were put in the last buffer given; or UV_EOF, or an error. */
	void (*read)(struct mfs_peer_link *l, ssize_t nread);
	void (*written)(struct mfs_peer_link *l, int status);
	void (*shut)(struct mfs_peer_link *l, int status);
};

struct mfs_peer_link_ops {
	int (*open)(struct mfs_peer_link *l);
	int (*read_start)(struct mfs_peer_link *l);
	int (*write)(struct mfs_peer_link *l, const uv_buf_t bufs[], unsigned n);
	int (*shutdown)(struct mfs_peer_link *l);
	size_t (*backlog)(const struct mfs_peer_link *l);
	void (*free)(struct mfs_peer_link *l);
};

struct mfs_peer_link {
	const struct mfs_peer_link_ops *ops;
	const struct mfs_peer_link_callbacks *cb;
	void *owner;
	uv_tcp_t *tcp;          /* the owner's; its data is this link */
	void *impl;             /* the transport's state (NULL for tcp) */
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
};

/* Makes l the plain link on tcp: bytes go as they are. */
void mfs_peer_link_tcp(struct mfs_peer_link *l, uv_tcp_t *tcp,
		       const struct mfs_peer_link_callbacks *cb, void *owner);

/* Bytes handed to the kernel and not yet acknowledged by the far end
 * (SIOCOUTQ of the socket; 0 when not known). */
size_t mfs_peer_link_socket_backlog(const struct mfs_peer_link *l);

/* Each returns 0 or a negative error at once; the outcome comes through
 * the callbacks. */
static inline int mfs_peer_link_open(struct mfs_peer_link *l)
{
	return l->ops->open(l);
}

static inline int mfs_peer_link_read_start(struct mfs_peer_link *l)
{
	return l->ops->read_start(l);
}

static inline int mfs_peer_link_write(struct mfs_peer_link *l, const uv_buf_t bufs[], unsigned n)
{
	return l->ops->write(l, bufs, n);
}

static inline int mfs_peer_link_shutdown(struct mfs_peer_link *l)
{
	return l->ops->shutdown(l);
}

/* Bytes written by the owner and not yet acknowledged by the far end
 * (what the transport still holds, and the socket's backlog). */
static inline size_t mfs_peer_link_backlog(const struct mfs_peer_link *l)
{
	return l->ops->backlog(l);
}

/* Frees the transport's state, after the handle's close callback.
 * NULL-safe, twice-safe. */
static inline void mfs_peer_link_free(struct mfs_peer_link *l)
{
	if (l && l->ops && l->ops->free)
		l->ops->free(l);
}

#endif
