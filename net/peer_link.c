#include "net/peer_link.h"

#include <sys/ioctl.h>
#include <linux/sockios.h>

/* The plain link: libuv's stream calls, the callbacks passed through. */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mfs_peer_link *l = h->data;

	(void)suggested;
	l->cb->alloc(l, buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mfs_peer_link *l = s->data;

	(void)buf;
	l->cb->read(l, nread);
}

static void on_write(uv_write_t *req, int status)
{
	struct mfs_peer_link *l = req->data;

	l->cb->written(l, status);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct mfs_peer_link *l = req->data;

	l->cb->shut(l, status);
}

static int tcp_open(struct mfs_peer_link *l)
{
	l->cb->opened(l, 0);
	return 0;
}

static int tcp_read_start(struct mfs_peer_link *l)
{
	return uv_read_start((uv_stream_t *)l->tcp, on_alloc, on_read);
}

static int tcp_write(struct mfs_peer_link *l, const uv_buf_t bufs[], unsigned n)
{
	l->write_req.data = l;
	return uv_write(&l->write_req, (uv_stream_t *)l->tcp, bufs, n, on_write);
}

static int tcp_shutdown(struct mfs_peer_link *l)
{
	l->shutdown_req.data = l;
	return uv_shutdown(&l->shutdown_req, (uv_stream_t *)l->tcp, on_shutdown);
}

size_t mfs_peer_link_socket_backlog(const struct mfs_peer_link *l)
{
	uv_os_fd_t fd;
	int n = 0;

	if (uv_fileno((const uv_handle_t *)l->tcp, &fd) != 0 || ioctl(fd, SIOCOUTQ, &n) != 0 ||
	    n < 0)
		return 0;
	return (size_t)n;
}

static const struct mfs_peer_link_ops tcp_ops = {
	.open = tcp_open,
	.read_start = tcp_read_start,
	.write = tcp_write,
	.shutdown = tcp_shutdown,
	.backlog = mfs_peer_link_socket_backlog,
	.free = NULL,
};

void mfs_peer_link_tcp(struct mfs_peer_link *l, uv_tcp_t *tcp,
		       const struct mfs_peer_link_callbacks *cb, void *owner)
{
	l->ops = &tcp_ops;
	l->cb = cb;
	l->owner = owner;
	l->tcp = tcp;
	l->impl = NULL;
	tcp->data = l;
}
