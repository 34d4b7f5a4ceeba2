#include "net/dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/tcpopt.h"

/* The dial that holds stream h. */
static struct mfs_dial *dial_of(uv_handle_t *h)
{
	return (struct mfs_dial *)(void *)((char *)h - offsetof(struct mfs_dial, tcp));
}

static void finish(struct mfs_dial *d, int status)
{
	mfs_socks5_client_free(&d->socks);
	mfs_memzero(d->out, sizeof d->out);
	if (status == 0)
		d->why[0] = '\0';
	else if (!d->why[0])
		snprintf(d->why, sizeof d->why, "%s%s", d->through_proxy ? "the proxy: " : "",
			 mfs_strerror(status));
	d->cb(d, status, status ? d->why : NULL, d->ctx);
}

static void on_written(uv_write_t *req, int status);

static void send_out(struct mfs_dial *d, size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)d->out, (unsigned)len);
	int err = uv_write(&d->write_req, (uv_stream_t *)&d->tcp, &buf, 1, on_written);

	if (err)
		finish(d, err);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mfs_dial *d = dial_of(h);
	size_t want = mfs_socks5_client_wanted(&d->socks);

	(void)suggested;
	/* Exactly what the answer still lacks: the read never takes a byte of
	 * the tunnel, which is the owner's to read. */
	*buf = uv_buf_init((char *)d->in, (unsigned)(want <= sizeof d->in ? want : 0));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mfs_dial *d = dial_of((uv_handle_t *)s);
	size_t used, out_len;
	int rc;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		uv_read_stop(s);
		if (nread == UV_EOF) {
			snprintf(d->why, sizeof d->why,
				 "the proxy closed the connection before it answered");
			finish(d, -ECONNRESET);
		} else {
			finish(d, (int)nread);
		}
		return;
	}
	rc = mfs_socks5_client_input(&d->socks, d->in, (size_t)nread, &used, d->out, &out_len,
				     d->why, sizeof d->why);
	if (rc == 0 && !out_len)
		return; /* more of the answer to come */
	uv_read_stop(s);
	if (rc == 0)
		send_out(d, out_len);
	else
		finish(d, rc < 0 ? rc : 0);
}

static void on_written(uv_write_t *req, int status)
{
	struct mfs_dial *d = req->data;
	int err;

	mfs_memzero(d->out, sizeof d->out); /* the credentials, maybe */
	if (status < 0) {
		finish(d, status);
		return;
	}
	err = uv_read_start((uv_stream_t *)&d->tcp, on_alloc, on_read);
	if (err)
		finish(d, err);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct mfs_dial *d = req->data;
	if (status < 0) {
		if (d->through_proxy)
			snprintf(d->why, sizeof d->why, "the proxy at %.64s:%u: %s",
				 d->socks.proxy->host, d->socks.proxy->port, mfs_strerror(status));
		finish(d, status);
		return;
	}
	if (!d->through_proxy) {
		finish(d, 0);
		return;
	}
	send_out(d, d->greeting_len);
}

/* The target as the proxy should see it: an address literal. */
static int target_text(char *out, size_t cap, uint16_t *port, const struct sockaddr *to)
{
	if (to->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)to;

		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap) ? 0 : -EINVAL;
	}
	if (to->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)to;

		/* A zone names one of this host's interfaces: meaningless to a proxy. */
		if (in6->sin6_scope_id)
			return -EINVAL;
		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap) ? 0 : -EINVAL;
	}
	return -EAFNOSUPPORT;
}

/* Everything but the owner's stream, then the callback. */
static void reset(struct mfs_dial *d, mfs_dial_cb cb, void *ctx)
{
	memset((char *)d + sizeof d->tcp, 0, sizeof *d - sizeof d->tcp);
	d->cb = cb;
	d->ctx = ctx;
	d->connect_req.data = d;
	d->write_req.data = d;
}

/* Connects d->tcp to to (the target, or the proxy once d->socks holds the
 * greeting). */
static int connect_to(struct mfs_dial *d, const struct sockaddr *to)
{
	int err = uv_tcp_connect(&d->connect_req, &d->tcp, to, on_connected);

	if (!err)
		(void)mfs_tcp_bound_backoff(&d->tcp); /* the SYN's retries too */
	if (err) {
		mfs_socks5_client_free(&d->socks);
		mfs_memzero(d->out, sizeof d->out);
	}
	return err;
}

/* To the proxy, with a CONNECT to host (a literal or a name) and port. */
static int via_proxy(struct mfs_dial *d, const struct mfs_socks5_proxy *proxy, const char *host,
		     uint16_t port)
{
	struct sockaddr_storage proxy_addr;
	int err;

	d->through_proxy = 1;
	err = mfs_hostport_sockaddr(&proxy_addr, NULL, proxy->host, proxy->port);
	if (!err)
		err = mfs_socks5_client_start(&d->socks, d->out, &d->greeting_len, proxy, host, port);
	if (err) {
		mfs_socks5_client_free(&d->socks);
		mfs_memzero(d->out, sizeof d->out);
		return err;
	}
	return connect_to(d, (const struct sockaddr *)&proxy_addr);
}

int mfs_dial_start(struct mfs_dial *d, const struct sockaddr *to,
		   const struct mfs_socks5_proxy *proxy, mfs_dial_cb cb, void *ctx)
{
	char target[INET6_ADDRSTRLEN];
	uint16_t port = 0;
	int err;

	reset(d, cb, ctx);
	if (!proxy)
		return connect_to(d, to);
	err = target_text(target, sizeof target, &port, to);
	return err ? err : via_proxy(d, proxy, target, port);
}

int mfs_dial_start_name(struct mfs_dial *d, const char *host, uint16_t port,
			const struct mfs_socks5_proxy *proxy, mfs_dial_cb cb, void *ctx)
{
	if (!proxy || port == 0)
		return -EINVAL;
	reset(d, cb, ctx);
	return via_proxy(d, proxy, host, port);
}
