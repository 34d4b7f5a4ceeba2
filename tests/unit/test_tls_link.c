/* net/tls_link: peers over the tls transport, both ends in this process on
 * 127.0.0.1 in a real libuv loop: they open, exchange megabytes both ways
 * and close cleanly; and the other side of the disguise: a prober's TLS
 * request gets a web page, a client that does not know the peer's key
 * gets the page too, garbage and a plain-TCP peer are closed, and the
 * ClientHello carries the SNI and ALPN a browser's would. Probers are
 * blocking sockets in a thread (OpenSSL's client, or raw bytes); they
 * record what they saw, checked after the join. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/noise.h"
#include "crypto/secure.h"
#include "net/peer.h"
#include "net/tls_link.h"
#include "net/wire.h"
#include "tests/unit/testutil.h"

#define GUARD_MS 30000
#define KEY MFS_NOISE_KEY_BYTES
#define SNI "cdn.example.org"
#define SEGMENTS 64u /* each way: about 4 MiB */

static uint8_t *sk[3];
static uint8_t pk[3][KEY];
static char *dir;
static struct mfs_tls_link_ctx tls;

static void setup(void)
{
	char cmd[1024], why[384];

	cr_assert_eq(mfs_crypto_init(), 0);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++) {
		sk[i] = mfs_secure_alloc(KEY);
		cr_assert_not_null(sk[i]);
		mfs_noise_keypair(pk[i], sk[i]);
	}
	dir = tu_tempdir();
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-subj /CN=" SNI " -days 2 -keyout %s/k.pem -out %s/c.pem 2>/dev/null",
		 dir, dir);
	cr_assert_eq(system(cmd), 0, "openssl req made the certificate");
	snprintf(cmd, sizeof cmd, "%s/c.pem", dir);
	snprintf(cmd + 512, 512, "%s/k.pem", dir);
	cr_assert_eq(mfs_tls_link_ctx_init(&tls, SNI, cmd, cmd + 512, why, sizeof why), 0, "%s",
		     why);
}

static void teardown(void)
{
	mfs_tls_link_ctx_clear(&tls);
	tu_rmtree(dir);
	free(dir);
	for (int i = 0; i < 3; i++)
		mfs_secure_free(sk[i]);
}

TestSuite(tls_link, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the harness: one loop, a listener, two sides ---- */

struct side {
	struct mfs_peer *p;
	int ready, closed, reason;
	unsigned segments;       /* received in order, intact */
	int broken;              /* one arrived out of order or altered */
	uint64_t sent, received;
};

static struct harness {
	struct tu_peer_pair pp; /* side 0 dials, side 1 is accepted */
	struct side side[2];
	int exchange;        /* ready sides send SEGMENTS segments */
} h;

static uint8_t segment_byte(unsigned side, unsigned i, size_t k)
{
	return (uint8_t)(side * 101 + i * 7 + k * 13 + (k >> 9));
}

static void send_segments(struct side *s)
{
	unsigned me = (unsigned)(s - h.side);
	uint8_t *data = malloc(MFS_BLOB_LEAF_BYTES);
	struct mfs_wire_msg m = { .type = MFS_WIRE_SEGMENT, .len = MFS_BLOB_LEAF_BYTES };

	cr_assert_not_null(data);
	for (unsigned i = 0; i < SEGMENTS; i++) {
		for (size_t k = 0; k < MFS_BLOB_LEAF_BYTES; k++)
			data[k] = segment_byte(me, i, k);
		m.request_id = i;
		m.segment = i;
		m.data = data;
		cr_assert_eq(mfs_peer_send(s->p, &m), 0);
	}
	free(data);
}

static void cb_ready(struct mfs_peer *p, void *ctx)
{
	struct side *s = ctx;

	cr_assert_eq(s->p, p);
	s->ready = 1;
	if (h.exchange)
		send_segments(s);
	else
		mfs_peer_close(p, 0, 0, NULL);
}

static void cb_message(struct mfs_peer *p, const struct mfs_wire_msg *m, void *ctx)
{
	struct side *s = ctx;
	unsigned other = (unsigned)(1 - (s - h.side));

	(void)p;
	if (m->type != MFS_WIRE_SEGMENT || m->segment != s->segments ||
	    m->len != MFS_BLOB_LEAF_BYTES) {
		s->broken = 1;
		return;
	}
	for (size_t k = 0; k < m->len; k++)
		if (m->data[k] != segment_byte(other, s->segments, k)) {
			s->broken = 1;
			return;
		}
	/* The responder closes once it has everything; the initiator's side
	 * then ends when the responder's own segments are through. */
	if (++s->segments == SEGMENTS && s == &h.side[1])
		mfs_peer_close(s->p, 0, 0, NULL);
}

static void cb_closed(struct mfs_peer *p, int reason, void *ctx)
{
	struct side *s = ctx;

	cr_assert_eq(s->p, p);
	cr_assert_eq(s->closed, 0, "closed once");
	s->closed = 1;
	s->reason = reason;
	mfs_peer_counters(p, &s->sent, &s->received);
	s->p = NULL;
}

static void h_start(void)
{
	memset(&h, 0, sizeof h);
	tu_peer_pair_start(&h.pp, GUARD_MS);
	for (int i = 0; i < 2; i++) {
		h.pp.peer[i] = &h.side[i].p;
		h.pp.ctx[i] = &h.side[i];
	}
	h.pp.cb = (struct mfs_peer_callbacks){ .ready = cb_ready, .message = cb_message,
					       .closed = cb_closed };
	for (int i = 0; i < 2; i++)
		h.pp.cfg[i] = (struct mfs_peer_config){ .static_sk = sk[i], .tls = &tls,
							.handshake_timeout_ms = 5000 };
}

static void h_listen(void)
{
	tu_peer_pair_listen(&h.pp);
}

static void h_dial(const uint8_t *expected)
{
	tu_peer_pair_dial(&h.pp, expected);
}

/* Runs until every peer is gone, then checks nothing was left behind. */
static void h_run(void)
{
	tu_peer_pair_run(&h.pp);
}

/* ---- peers over tls ---- */

Test(tls_link, peers_exchange_megabytes_both_ways_and_close_cleanly)
{
	const uint64_t plain = 11 + SEGMENTS * (13 + (uint64_t)MFS_BLOB_LEAF_BYTES);

	h_start();
	h.exchange = 1;
	h_listen();
	h_dial(pk[1]);
	h_run();
	for (int i = 0; i < 2; i++) {
		struct side *s = &h.side[i];

		cr_assert(s->ready && s->closed, "side %d", i);
		cr_assert_eq(s->broken, 0, "side %d: every segment in order and intact", i);
		cr_assert_eq(s->segments, SEGMENTS, "side %d", i);
		cr_assert_eq(s->reason, 0, "side %d: %s", i, mfs_strerror(s->reason));
		cr_assert_eq(s->sent, plain, "side %d", i);
		cr_assert_eq(s->received, plain, "side %d", i);
	}
}

Test(tls_link, a_client_must_know_the_peers_key)
{
	struct mfs_peer *p = (struct mfs_peer *)(uintptr_t)1;

	h_start();
	cr_assert_eq(uv_ip4_addr("127.0.0.1", 9, &h.pp.addr), 0);
	cr_assert_eq(mfs_peer_connect(&p, &h.pp.loop, (struct sockaddr *)&h.pp.addr, NULL,
				      &h.pp.cfg[0], &h.pp.cb, &h.side[0]),
		     -EINVAL, "the path comes from the key");
	cr_assert_null(p);
	h_run();
	cr_assert_eq(h.side[0].closed, 0, "no callback");
}

Test(tls_link, a_client_with_another_key_sees_only_a_web_server)
{
	h_start();
	h_listen();
	h_dial(pk[2]); /* the path of another node */
	h_run();
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[1].ready, 0);
	cr_assert_eq(h.side[0].reason, MFS_E_FORMAT, "no 101: %s",
		     mfs_strerror(h.side[0].reason));
	cr_assert_eq(h.side[1].reason, MFS_E_FORMAT, "answered with the page: %s",
		     mfs_strerror(h.side[1].reason));
}

Test(tls_link, a_tls_client_and_a_plain_peer_do_not_connect)
{
	h_start();
	h.pp.cfg[1].tls = NULL;
	h_listen();
	h_dial(pk[1]);
	h_run();
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[1].ready, 0);
	cr_assert(h.side[0].closed && h.side[1].closed);
	cr_assert_neq(h.side[0].reason, 0);
	cr_assert_neq(h.side[1].reason, 0);
}

/* ---- probers ---- */

struct prober {
	uint16_t port;
	const char *request;     /* sent after the TLS handshake; NULL: raw */
	const uint8_t *raw;      /* raw bytes instead of TLS */
	size_t raw_len;
	pthread_t thread;
	/* what it saw */
	int tls_ok;
	char alpn[16];
	char answer[4096];
	size_t answer_len;
	int eof;
};

static int dial_blocking(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A browser-like client: TLS with ALPN, one request, the answer to the end. */
static void probe_tls(struct prober *pr, int fd)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	const unsigned char *sel;
	unsigned sel_len;
	int n = 0;

	if (!ssl)
		goto out;
	SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1);
	SSL_set_tlsext_host_name(ssl, "www.example.com");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		goto out;
	pr->tls_ok = SSL_version(ssl) == TLS1_3_VERSION;
	SSL_get0_alpn_selected(ssl, &sel, &sel_len);
	if (sel_len < sizeof pr->alpn) {
		memcpy(pr->alpn, sel, sel_len);
		pr->alpn[sel_len] = '\0';
	}
	if (SSL_write(ssl, pr->request, (int)strlen(pr->request)) <= 0)
		goto out;
	while (pr->answer_len < sizeof pr->answer - 1 &&
	       (n = SSL_read(ssl, pr->answer + pr->answer_len,
			     (int)(sizeof pr->answer - 1 - pr->answer_len))) > 0)
		pr->answer_len += (size_t)n;
	pr->eof = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN ||
		  SSL_get_error(ssl, n) == SSL_ERROR_SYSCALL;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

static void *prober_main(void *arg)
{
	struct prober *pr = arg;
	int fd = dial_blocking(pr->port);
	char buf[512];
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (pr->request) {
		probe_tls(pr, fd);
	} else if (send(fd, pr->raw, pr->raw_len, MSG_NOSIGNAL) == (ssize_t)pr->raw_len) {
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			pr->answer_len += (size_t)n;
		pr->eof = n == 0 || (n < 0 && errno == ECONNRESET);
	}
	close(fd);
	return NULL;
}

/* Runs the responder against one prober; the answer is in pr. */
static void probe(struct prober *pr)
{
	h_start();
	h_listen();
	pr->port = ntohs(h.pp.addr.sin_port);
	cr_assert_eq(pthread_create(&pr->thread, NULL, prober_main, pr), 0);
	h_run();
	pthread_join(pr->thread, NULL);
	pr->answer[pr->answer_len < sizeof pr->answer ? pr->answer_len : 0] = '\0';
	cr_assert_eq(h.side[1].ready, 0);
	cr_assert(h.side[1].closed);
}

Test(tls_link, a_prober_gets_an_ordinary_web_page)
{
	static const char *requests[] = {
		"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88.1\r\n"
		"Accept: */*\r\n\r\n",
		/* a WebSocket upgrade on a path of its own guess */
		"GET /live/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof requests / sizeof *requests; i++) {
		struct prober pr = { .request = requests[i] };

		probe(&pr);
		cr_assert(pr.tls_ok, "TLS 1.3");
		cr_assert_str_eq(pr.alpn, "http/1.1", "a web server without HTTP/2");
		cr_assert(pr.eof, "then the end");
		cr_assert(strncmp(pr.answer, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", pr.answer);
		cr_assert_not_null(strstr(pr.answer, "Server: nginx\r\n"));
		cr_assert_not_null(strstr(pr.answer, "Content-Type: text/html\r\n"));
		cr_assert_not_null(strstr(pr.answer, "<h1>Welcome to nginx!</h1>"));
		cr_assert_null(strcasestr(pr.answer, "megafs"));
		cr_assert_eq(h.side[1].reason, MFS_E_FORMAT);
	}
}

Test(tls_link, a_malformed_request_gets_400_and_head_gets_no_body)
{
	struct prober bad = { .request = "BLAH\r\n\r\n" };
	struct prober head = { .request = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" };

	probe(&bad);
	cr_assert(strncmp(bad.answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", bad.answer);
	cr_assert_not_null(strstr(bad.answer, "<center>nginx</center>"));
	probe(&head);
	cr_assert(strncmp(head.answer, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", head.answer);
	cr_assert_null(strstr(head.answer, "<html>"), "no body after HEAD");
}

Test(tls_link, garbage_instead_of_a_client_hello_closes)
{
	uint8_t junk[1000];
	struct prober pr = { .raw = junk, .raw_len = sizeof junk };

	tu_fill_random(junk, sizeof junk, 7);
	probe(&pr);
	cr_assert(pr.eof, "the server closed");
	cr_assert_eq(h.side[1].reason, MFS_E_FORMAT, "%s", mfs_strerror(h.side[1].reason));
}

/* ---- the ClientHello ---- */

struct hello_catcher {
	int fd;
	uint8_t bytes[4096];
	size_t len;
	pthread_t thread;
};

static void *catch_hello(void *arg)
{
	struct hello_catcher *c = arg;
	int fd = accept(c->fd, NULL, NULL);
	struct timeval tv = { .tv_sec = 5 };
	ssize_t n;

	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* One record: its 5-byte head says how long. */
	while ((n = recv(fd, c->bytes + c->len, sizeof c->bytes - c->len, 0)) > 0) {
		c->len += (size_t)n;
		if (c->len >= 5 && c->len >= 5 + ((size_t)c->bytes[3] << 8 | c->bytes[4]))
			break;
	}
	close(fd);
	return NULL;
}

Test(tls_link, the_client_hello_names_the_sni_and_offers_h2_and_http11)
{
	struct hello_catcher c = { 0 };
	uint16_t port;
	static const uint8_t alpn[] = "\x02h2\x08http/1.1";

	c.fd = tu_loopback_socket(&port, 1);
	cr_assert_geq(c.fd, 0);
	cr_assert_eq(pthread_create(&c.thread, NULL, catch_hello, &c), 0);
	h_start();
	cr_assert_eq(uv_ip4_addr("127.0.0.1", port, &h.pp.addr), 0);
	h_dial(pk[1]);
	h_run();
	pthread_join(c.thread, NULL);
	close(c.fd);
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_geq(c.len, 5);
	cr_assert_eq(c.bytes[0], 22, "a handshake record");
	cr_assert_eq(c.bytes[5], 1, "a ClientHello");
	cr_assert_not_null(memmem(c.bytes, c.len, SNI, strlen(SNI)), "the SNI");
	cr_assert_not_null(memmem(c.bytes, c.len, alpn, sizeof alpn - 1), "ALPN h2, http/1.1");
	cr_assert_null(memmem(c.bytes, c.len, "megafs", 6));
}
