#include "net/tunnel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h> /* struct ucred: _GNU_SOURCE, set for every file */
#include <sys/un.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/dial.h"

#define MAX_RELAYS 4
#define RELAY_BUF_BYTES 16384
#define NAME_RANDOM_BYTES 8

/* One connection carried through the proxy. Each direction has one buffer
 * and at most one write in flight: its side is not read until the other
 * took what was read (the slower side sets the pace). */
struct relay {
	struct relay *next;
	struct mfs_tunnel *tunnel;
	uv_pipe_t local;
	struct mfs_dial dial;          /* dial.tcp: the stream to the proxy */
	uv_write_t up_req, down_req;
	int closing;
	int handles;                   /* of local and dial.tcp, not yet closed */
	char up[RELAY_BUF_BYTES];      /* local -> proxy */
	char down[RELAY_BUF_BYTES];    /* proxy -> local */
};

struct mfs_tunnel {
	uv_loop_t *loop;
	const struct mfs_socks5_proxy *proxy;
	char host[MFS_SOCKS5_FIELD_MAX + 1];
	uint16_t port;
	mfs_tunnel_fail_cb fail;
	void *ctx;
	uv_pipe_t listener;
	int listener_open;
	int freeing;
	struct relay *relays;
	unsigned n_relays;
	/* "+@megafs-tunnel-" and 16 hex digits */
	char lws_address[2 + sizeof "megafs-tunnel-" + 2 * NAME_RANDOM_BYTES];
};

static void maybe_free(struct mfs_tunnel *t)
{
	if (t->freeing && !t->listener_open && !t->relays)
		free(t);
}

/* ---- a relay ---------------------------------------------------------- */

static void relay_handle_closed(uv_handle_t *h)
{
	struct relay *r = h->data;
	struct mfs_tunnel *t = r->tunnel;

	if (--r->handles > 0)
		return;
	for (struct relay **p = &t->relays; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	t->n_relays--;
	free(r);
	maybe_free(t);
}

static void relay_close(struct relay *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	uv_close((uv_handle_t *)&r->local, relay_handle_closed);
	uv_close((uv_handle_t *)&r->dial.tcp, relay_handle_closed);
}

static void relay_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct relay *r = h->data;

	(void)suggested;
	*buf = uv_buf_init(r->up, sizeof r->up);
}

static void on_down_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct relay *r = h->data;

	(void)suggested;
	*buf = uv_buf_init(r->down, sizeof r->down);
}

/* The other side took what from was read: from is read again. */
static void on_written(uv_write_t *req, int status)
{
	struct relay *r = req->data;
	int up = req == &r->up_req;
	uv_stream_t *from = up ? (uv_stream_t *)&r->local : (uv_stream_t *)&r->dial.tcp;

	if (r->closing)
		return;
	if (status < 0 || uv_read_start(from, up ? on_up_alloc : on_down_alloc, relay_read) != 0)
		relay_close(r);
}

static void relay_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct relay *r = s->data;
	int up = s == (uv_stream_t *)&r->local;
	uv_stream_t *to = up ? (uv_stream_t *)&r->dial.tcp : (uv_stream_t *)&r->local;
	uv_buf_t out;

	if (nread == 0 || r->closing)
		return;
	if (nread < 0) { /* either side gone: both go */
		relay_close(r);
		return;
	}
	uv_read_stop(s);
	out = uv_buf_init(buf->base, (unsigned)nread);
	if (uv_write(up ? &r->up_req : &r->down_req, to, &out, 1, on_written) != 0)
		relay_close(r);
}

static void on_dialled(struct mfs_dial *d, int status, const char *why, void *ctx)
{
	struct relay *r = ctx;
	struct mfs_tunnel *t = r->tunnel;

	(void)d;
	if (r->closing) /* abandoned: the caller closed its side first */
		return;
	if (status < 0) {
		if (t->fail && !t->freeing)
			t->fail(t->ctx, why);
		relay_close(r);
		return;
	}
	if (uv_read_start((uv_stream_t *)&r->local, on_up_alloc, relay_read) != 0 ||
	    uv_read_start((uv_stream_t *)&r->dial.tcp, on_down_alloc, relay_read) != 0)
		relay_close(r);
}

/* 1 when the connection on fd comes from this process. */
static int from_this_process(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred &&
	       cred.pid == getpid();
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct mfs_tunnel *t = listener->data;
	struct relay *r;
	uv_os_fd_t fd;
	int err;

	if (status < 0 || t->freeing || !(r = calloc(1, sizeof *r)))
		return;
	r->tunnel = t;
	r->up_req.data = r->down_req.data = r;
	uv_pipe_init(t->loop, &r->local, 0);
	uv_tcp_init(t->loop, &r->dial.tcp);
	r->local.data = r->dial.tcp.data = r;
	r->handles = 2;
	r->next = t->relays;
	t->relays = r;
	t->n_relays++;
	err = uv_accept(listener, (uv_stream_t *)&r->local);
	if (!err)
		err = uv_fileno((uv_handle_t *)&r->local, &fd);
	if (!err && (!from_this_process(fd) || t->n_relays > MAX_RELAYS))
		err = -EPERM;
	if (!err)
		err = mfs_dial_start_name(&r->dial, t->host, t->port, t->proxy, on_dialled, r);
	if (err) {
		if (err != -EPERM && t->fail) {
			char why[160];

			snprintf(why, sizeof why, "the proxy: %s", mfs_strerror(err));
			t->fail(t->ctx, why);
		}
		relay_close(r);
	}
}

/* ---- the tunnel -------------------------------------------------------- */

static void listener_closed(uv_handle_t *h)
{
	struct mfs_tunnel *t = h->data;

	t->listener_open = 0;
	maybe_free(t);
}

/* A listening abstract Unix socket named after t->lws_address. */
static int listen_socket(struct mfs_tunnel *t)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t random[NAME_RANDOM_BYTES];
	char hex[2 * NAME_RANDOM_BYTES + 1];
	size_t name_len;
	int fd, err = 0;

	mfs_random(random, sizeof random);
	mfs_hex_encode(hex, random, sizeof random);
	snprintf(t->lws_address, sizeof t->lws_address, "+@megafs-tunnel-%s", hex);
	/* sun_path[0] 0: abstract; the name follows, not NUL-terminated. */
	name_len = strlen(t->lws_address + 2);
	memcpy(sa.sun_path + 1, t->lws_address + 2, name_len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_len)) != 0 ||
	    listen(fd, MAX_RELAYS) != 0)
		err = -errno;
	if (!err)
		err = uv_pipe_open(&t->listener, fd);
	if (err) {
		close(fd);
		return err;
	}
	return 0;
}

int mfs_tunnel_new(struct mfs_tunnel **out, uv_loop_t *loop, const struct mfs_socks5_proxy *proxy,
		   const char *host, uint16_t port, mfs_tunnel_fail_cb fail, void *ctx)
{
	struct mfs_tunnel *t;
	size_t host_len = strlen(host);
	int err;

	*out = NULL;
	if (host_len == 0 || host_len > MFS_SOCKS5_FIELD_MAX || port == 0 || !proxy)
		return -EINVAL;
	if (!(t = calloc(1, sizeof *t)))
		return -ENOMEM;
	t->loop = loop;
	t->proxy = proxy;
	memcpy(t->host, host, host_len + 1);
	t->port = port;
	t->fail = fail;
	t->ctx = ctx;
	uv_pipe_init(loop, &t->listener, 0);
	t->listener.data = t;
	t->listener_open = 1;
	err = listen_socket(t);
	if (!err)
		err = uv_listen((uv_stream_t *)&t->listener, MAX_RELAYS, on_connection);
	if (err) {
		t->freeing = 1;
		uv_close((uv_handle_t *)&t->listener, listener_closed);
		return err;
	}
	*out = t;
	return 0;
}

const char *mfs_tunnel_lws_address(const struct mfs_tunnel *t)
{
	return t->lws_address;
}

void mfs_tunnel_free(struct mfs_tunnel *t)
{
	if (!t || t->freeing)
		return;
	t->freeing = 1;
	for (struct relay *r = t->relays; r; r = r->next)
		relay_close(r);
	uv_close((uv_handle_t *)&t->listener, listener_closed);
}
