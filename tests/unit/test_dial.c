/* net/dial: real dials on 127.0.0.1 in a real libuv loop, straight and
 * through a SOCKS5 "proxy" that is a blocking socket in a thread playing a
 * script: it checks the bytes it is sent against golden ones and answers
 * what the test says, then (when it opened the tunnel) at once sends the
 * tunnel's first bytes, which the dial must leave for the owner to read.
 * The thread never asserts; it records what it saw, checked after the join. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "net/dial.h"

#define TUNNEL "hello from the peer"

struct script {
	int listener;
	uint16_t port;
	const uint8_t *answer;  /* the method choice, then the CONNECT reply */
	size_t answer_len;
	int close_at_once;      /* accept, then close without a byte */
	uint8_t got[64];        /* what the proxy read */
	size_t got_len;
	pthread_t thread;
};

struct owner {
	struct mfs_dial dial;
	uv_loop_t loop;
	int status;
	int called;
	char why[160];
	char tunnel[64];
	size_t tunnel_len;
};

static int listen_any(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Reads exactly n bytes into s->got (0, or -1 at the end of the stream). */
static int read_n(struct script *s, int fd, size_t n)
{
	while (n) {
		ssize_t r = read(fd, s->got + s->got_len, n);

		if (r <= 0)
			return -1;
		s->got_len += (size_t)r;
		n -= (size_t)r;
	}
	return 0;
}

static void *proxy_thread(void *arg)
{
	struct script *s = arg;
	int fd = accept(s->listener, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (!s->close_at_once && read_n(s, fd, 3) == 0 &&
	    write(fd, s->answer, 2) == 2 && s->answer[1] == 0 &&
	    read_n(s, fd, 10) == 0) { /* CONNECT to an IPv4 address */
		if (write(fd, s->answer + 2, s->answer_len - 2) < 0 ||
		    write(fd, TUNNEL, sizeof TUNNEL - 1) < 0)
			s->got_len = 0;
		shutdown(fd, SHUT_WR);
		while (read(fd, s->got + s->got_len, 1) > 0) /* until the owner closes */
			;
	}
	close(fd);
	return NULL;
}

static void start_proxy(struct script *s)
{
	s->listener = listen_any(&s->port);
	cr_assert_eq(pthread_create(&s->thread, NULL, proxy_thread, s), 0);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct owner *o = h->data;

	(void)suggested;
	*buf = uv_buf_init(o->tunnel + o->tunnel_len, (unsigned)(sizeof o->tunnel - o->tunnel_len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct owner *o = st->data;

	(void)buf;
	if (n > 0)
		o->tunnel_len += (size_t)n;
	else if (n < 0)
		uv_close((uv_handle_t *)st, on_closed);
}

static void on_dialled(struct mfs_dial *d, int status, const char *why, void *ctx)
{
	struct owner *o = ctx;

	o->called++;
	o->status = status;
	snprintf(o->why, sizeof o->why, "%s", why ? why : "");
	cr_assert_eq(d->tcp.data, o, "the owner's data pointer is untouched");
	if (status == 0)
		uv_read_start((uv_stream_t *)&d->tcp, on_alloc, on_read);
	else
		uv_close((uv_handle_t *)&d->tcp, on_closed);
}

/* Dials 10.0.0.7:7000 (straight: to) through proxy, runs the loop out. */
static void dial(struct owner *o, const struct sockaddr *to, const struct mfs_socks5_proxy *proxy)
{
	memset(o, 0, sizeof *o);
	cr_assert_eq(uv_loop_init(&o->loop), 0);
	cr_assert_eq(uv_tcp_init(&o->loop, &o->dial.tcp), 0);
	o->dial.tcp.data = o;
	cr_assert_eq(mfs_dial_start(&o->dial, to, proxy, on_dialled, o), 0);
	cr_assert_eq(uv_run(&o->loop, UV_RUN_DEFAULT), 0);
	cr_assert_eq(o->called, 1, "the callback comes once");
	cr_assert_eq(uv_loop_close(&o->loop), 0);
}

static const struct sockaddr_in target = {
	.sin_family = AF_INET, .sin_port = 0x581b /* 7000 */, .sin_addr.s_addr = 0x0700000a};

static void proxy_at(struct mfs_socks5_proxy *p, uint16_t port)
{
	memset(p, 0, sizeof *p);
	strcpy(p->host, "127.0.0.1");
	p->port = port;
}

/* Dials target through a proxy playing s, until the proxy is done (its
 * port closed after). */
static void dial_through(struct script *s, struct mfs_socks5_proxy *p, struct owner *o)
{
	start_proxy(s);
	proxy_at(p, s->port);
	dial(o, (const struct sockaddr *)&target, p);
	pthread_join(s->thread, NULL);
	close(s->listener);
}

static void ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(dial, .init = ignore_sigpipe, .timeout = 30);

Test(dial, through_a_proxy_leaves_the_tunnel_bytes_to_the_owner)
{
	static const uint8_t answer[] = {5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39};
	static const uint8_t want[] = {5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 7, 0x1b, 0x58};
	struct script s = {.answer = answer, .answer_len = sizeof answer};
	struct mfs_socks5_proxy p;
	struct owner o;

	dial_through(&s, &p, &o);
	cr_assert_eq(o.status, 0, "%s", o.why);
	cr_assert_eq(s.got_len, sizeof want);
	cr_assert_arr_eq(s.got, want, sizeof want, "greeting, then CONNECT 10.0.0.7:7000");
	cr_assert_eq(o.tunnel_len, sizeof TUNNEL - 1, "the owner read every tunnel byte");
	cr_assert_arr_eq(o.tunnel, TUNNEL, sizeof TUNNEL - 1);
}

Test(dial, a_proxy_reply_code_fails_with_its_words)
{
	static const uint8_t answer[] = {5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0};
	struct script s = {.answer = answer, .answer_len = sizeof answer};
	struct mfs_socks5_proxy p;
	struct owner o;

	dial_through(&s, &p, &o);
	cr_assert_eq(o.status, -EHOSTUNREACH);
	cr_assert(strstr(o.why, "host unreachable (SOCKS5 reply 4)"), "%s", o.why);
}

Test(dial, a_proxy_that_hangs_up_or_is_not_there)
{
	struct script s = {.close_at_once = 1};
	struct mfs_socks5_proxy p;
	struct owner o;

	dial_through(&s, &p, &o);
	cr_assert(o.status == -ECONNRESET || o.status == UV_EPIPE, "%d %s", o.status, o.why);
	cr_assert(strstr(o.why, "the proxy"), "%s", o.why);
	/* The same port, now closed. */
	dial(&o, (const struct sockaddr *)&target, &p);
	cr_assert_eq(o.status, UV_ECONNREFUSED);
	cr_assert(strstr(o.why, "the proxy at 127.0.0.1:"), "%s", o.why);
}

Test(dial, straight_without_a_proxy)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct script peer = {.close_at_once = 1}; /* accepts, then ends the stream */
	struct owner o;

	start_proxy(&peer);
	to.sin_port = htons(peer.port);
	dial(&o, (const struct sockaddr *)&to, NULL);
	pthread_join(peer.thread, NULL);
	close(peer.listener);
	cr_assert_eq(o.status, 0, "%s", o.why);
	cr_assert_eq(peer.got_len, 0, "not a byte sent straight");
}
