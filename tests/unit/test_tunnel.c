/* net/tunnel: a real tunnel on a loop thread (net/loop), entered from this
 * process with a blocking Unix socket, and a SOCKS5 "proxy" that is a
 * blocking socket in a thread: it records the CONNECT it was sent, opens
 * the tunnel and echoes what comes through. Another process (a forked
 * child) is shut out; a proxy that refuses is told through fail. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/secure.h"
#include "net/loop.h"
#include "net/tunnel.h"
#include "tests/unit/testutil.h"

struct echo_proxy {
	int listener;
	uint16_t port;
	uint8_t connect[4 + 1 + 255 + 2]; /* the CONNECT request read */
	size_t connect_len;
	pthread_t thread;
};

static int read_all(int fd, uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t r = read(fd, buf, n);

		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Greeting (no authentication), CONNECT with a domain name, success, then
 * an echo until the tunnel closes. Records the CONNECT; never asserts. */
static void *echo_proxy_thread(void *arg)
{
	static const uint8_t chosen[2] = {5, 0}, opened[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct echo_proxy *p = arg;
	uint8_t greeting[3], buf[256];
	int fd = accept(p->listener, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (read_all(fd, greeting, 3) == 0 && write(fd, chosen, 2) == 2 &&
	    read_all(fd, p->connect, 5) == 0 && p->connect[3] == 3 &&
	    read_all(fd, p->connect + 5, (size_t)p->connect[4] + 2) == 0 &&
	    write(fd, opened, sizeof opened) == (ssize_t)sizeof opened) {
		p->connect_len = 5 + (size_t)p->connect[4] + 2;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
	}
	close(fd);
	return NULL;
}

struct fixture {
	struct mfs_loop *loop;
	struct mfs_tunnel *tunnel;
	struct mfs_socks5_proxy proxy;
	const char *host;
	uint16_t port;
	char why[160];
	int failed; /* atomic: fail was called (why written first) */
};

static void on_fail(void *ctx, const char *why)
{
	struct fixture *f = ctx;

	snprintf(f->why, sizeof f->why, "%s", why);
	__atomic_store_n(&f->failed, 1, __ATOMIC_RELEASE);
}

static int start_on_loop(void *arg)
{
	struct fixture *f = arg;

	return mfs_tunnel_new(&f->tunnel, mfs_loop_uv(f->loop), &f->proxy, f->host, f->port,
			      on_fail, f);
}

static int free_on_loop(void *arg)
{
	struct fixture *f = arg;

	mfs_tunnel_free(f->tunnel);
	return 0;
}

static void start(struct fixture *f, uint16_t proxy_port, const char *host, uint16_t port)
{
	memset(f, 0, sizeof *f);
	snprintf(f->proxy.host, sizeof f->proxy.host, "127.0.0.1");
	f->proxy.port = proxy_port;
	f->host = host;
	f->port = port;
	cr_assert_eq(mfs_loop_start(&f->loop), 0);
	cr_assert_eq(mfs_loop_call(f->loop, start_on_loop, f), 0);
}

static void stop(struct fixture *f)
{
	mfs_loop_call(f->loop, free_on_loop, f);
	mfs_loop_stop(f->loop);
}

/* A blocking connection to the tunnel (its lws address: "+@name"). */
static int enter(const struct fixture *f)
{
	const char *name = mfs_tunnel_lws_address(f->tunnel) + 2;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(sa.sun_path + 1, name, strlen(name));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) != 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(mfs_crypto_init(), 0);
}

TestSuite(tunnel, .init = setup, .timeout = 30);

Test(tunnel, carries_bytes_both_ways_to_a_name_the_proxy_resolves)
{
	static const char msg[] = "GET / HTTP/1.1\r\nHost: tracker.example\r\n\r\n";
	struct echo_proxy p;
	struct fixture f;
	char back[sizeof msg];
	int fd;

	p.listener = tu_loopback_socket(&p.port, 4);
	p.connect_len = 0;
	cr_assert_eq(pthread_create(&p.thread, NULL, echo_proxy_thread, &p), 0);
	start(&f, p.port, "tracker.example", 443);
	cr_assert_eq(strncmp(mfs_tunnel_lws_address(f.tunnel), "+@megafs-tunnel-", 16), 0);
	cr_assert_eq(strlen(mfs_tunnel_lws_address(f.tunnel)), 16 + 16);
	fd = enter(&f);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, msg, sizeof msg - 1), (ssize_t)sizeof msg - 1);
	cr_assert_eq(read_all(fd, (uint8_t *)back, sizeof msg - 1), 0, "no echo through the tunnel");
	cr_assert_eq(memcmp(back, msg, sizeof msg - 1), 0);
	close(fd);
	pthread_join(p.thread, NULL);
	/* CONNECT, ATYP 3 (a name), "tracker.example", port 443. */
	cr_assert_eq(p.connect_len, 5 + 15 + 2);
	cr_assert_eq(memcmp(p.connect, "\x05\x01\x00\x03\x0ftracker.example\x01\xbb", 22), 0);
	cr_assert_eq(__atomic_load_n(&f.failed, __ATOMIC_ACQUIRE), 0);
	stop(&f);
	close(p.listener);
}

Test(tunnel, another_process_is_shut_out_before_any_dial)
{
	struct fixture f;
	uint16_t proxy_port;
	int listener = tu_loopback_socket(&proxy_port, 0), status; /* never listening */
	pid_t child;

	start(&f, proxy_port, "tracker.example", 80);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		char c;
		int fd = enter(&f);

		/* Closed at once: the end of the stream, not a timeout. */
		_exit(fd >= 0 && read(fd, &c, 1) == 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child's connection was not closed at once");
	/* Not dialled: a dial would have been refused and told. */
	usleep(200 * 1000);
	cr_assert_eq(__atomic_load_n(&f.failed, __ATOMIC_ACQUIRE), 0, "dialled: %s", f.why);
	stop(&f);
	close(listener);
}

Test(tunnel, a_refusing_proxy_is_told_and_the_connection_closed)
{
	struct fixture f;
	uint16_t proxy_port;
	char c, want[64];
	int fd;

	close(tu_loopback_socket(&proxy_port, 0)); /* nothing listens there */
	start(&f, proxy_port, "tracker.example", 80);
	fd = enter(&f);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, &c, 1), 0, "the connection was not closed");
	cr_assert_eq(__atomic_load_n(&f.failed, __ATOMIC_ACQUIRE), 1);
	snprintf(want, sizeof want, "the proxy at 127.0.0.1:%u: ", proxy_port);
	cr_assert_eq(strncmp(f.why, want, strlen(want)), 0, "told: %s", f.why);
	close(fd);
	stop(&f);
}

Test(tunnel, refuses_a_bad_target)
{
	struct mfs_tunnel *t = (void *)1;
	struct mfs_socks5_proxy proxy = {.host = "127.0.0.1", .port = 1080};
	uv_loop_t loop;

	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(mfs_tunnel_new(&t, &loop, &proxy, "", 80, NULL, NULL), -EINVAL);
	cr_assert_null(t);
	cr_assert_eq(mfs_tunnel_new(&t, &loop, &proxy, "tracker.example", 0, NULL, NULL), -EINVAL);
	cr_assert_eq(mfs_tunnel_new(&t, &loop, NULL, "tracker.example", 80, NULL, NULL), -EINVAL);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
