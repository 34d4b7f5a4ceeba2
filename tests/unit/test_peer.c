/* net/peer: real connections on 127.0.0.1 in a real libuv loop run by the
 * test: the handshake and hellos, a blob-sized response and many small
 * messages in order, and every way a connection is refused or dropped.
 * Misbehaving peers are "raw" endpoints: blocking sockets in a thread that
 * do the Noise handshake by hand with crypto/noise and then break a rule on
 * purpose. Raw threads never assert (criterion asserts belong to the test's
 * thread); they record what they saw, checked after the join. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
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
#include "net/wire.h"
#include "tests/unit/testutil.h"

#define GUARD_MS 30000
#define KEY MFS_NOISE_KEY_BYTES

static uint8_t *sk[2];
static uint8_t pk[2][KEY];

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	/* libuv writes with write(2): a peer gone must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		sk[i] = mfs_secure_alloc(KEY);
		cr_assert_not_null(sk[i]);
		mfs_noise_keypair(pk[i], sk[i]);
	}
}

static void teardown(void)
{
	mfs_secure_free(sk[0]);
	mfs_secure_free(sk[1]);
}

TestSuite(peer, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the harness: one loop, a listener, two sides ---- */

struct side {
	struct mfs_peer *p;
	int ready, closed, reason, drained;
	unsigned messages;
	uint8_t remote_pk[KEY];
	struct mfs_wire_hello hello;
	uint64_t sent, received;  /* counters, taken when closed */
	uint64_t ready_at, closed_at;
	void (*on_ready)(struct side *s);
	void (*on_message)(struct side *s, const struct mfs_wire_msg *m);
	void *data;
};

static struct harness {
	struct tu_peer_pair pp; /* side 0 dials, side 1 is accepted */
	struct side side[2];
} h;

static void cb_ready(struct mfs_peer *p, void *ctx)
{
	struct side *s = ctx;
	struct sockaddr_storage ss;

	cr_assert_eq(s->p, p);
	cr_assert_eq(s->ready, 0, "ready once");
	cr_assert_eq(s->closed, 0);
	s->ready = 1;
	s->ready_at = uv_now(&h.pp.loop);
	memcpy(s->remote_pk, mfs_peer_remote_key(p), KEY);
	s->hello = *mfs_peer_hello(p);
	cr_assert_eq(mfs_peer_is_initiator(p), s == &h.side[0]);
	cr_assert_eq(mfs_peer_remote_addr(p, &ss), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	if (s->on_ready)
		s->on_ready(s);
}

static void cb_message(struct mfs_peer *p, const struct mfs_wire_msg *m, void *ctx)
{
	struct side *s = ctx;

	cr_assert_eq(s->p, p);
	cr_assert(s->ready, "no message before ready");
	cr_assert(m->type != MFS_WIRE_HANDSHAKE && m->type != MFS_WIRE_HANDSHAKE_ACK);
	s->messages++;
	if (s->on_message)
		s->on_message(s, m);
}

static void cb_drained(struct mfs_peer *p, void *ctx)
{
	struct side *s = ctx;

	cr_assert_eq(s->p, p);
	cr_assert_lt(mfs_peer_queued(p), MFS_PEER_QUEUE_SOFT / 2);
	s->drained++;
}

static void cb_closed(struct mfs_peer *p, int reason, void *ctx)
{
	struct side *s = ctx;

	cr_assert_eq(s->p, p);
	cr_assert_eq(s->closed, 0, "closed once");
	s->closed = 1;
	s->reason = reason;
	s->closed_at = uv_now(&h.pp.loop);
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
	h.pp.cb = (struct mfs_peer_callbacks){ cb_ready, cb_message, cb_drained, cb_closed, NULL };
	for (int i = 0; i < 2; i++) {
		h.pp.cfg[i] = (struct mfs_peer_config){
			.static_sk = sk[i],
			.listen_port = (uint16_t)(1000 + i),
			.max_requests = (uint16_t)(8 + i),
		};
	}
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

/* ---- raw endpoints ---- */

struct raw {
	struct tu_raw w;       /* the socket, the Noise transport */
	int listen_fd;         /* raw responder: accepts here first */
	int initiator;
	const uint8_t *sk;
	int param;
	void (*script)(struct raw *r);
	pthread_t thread;
	/* what the script saw */
	int ok;                /* it got as far as it meant to */
	int got_ack;
	int got_error;
	uint16_t error_code;
	size_t tail;           /* bytes read at the end, before end of stream */
	int eof;               /* the peer closed (rather than a read timeout) */
};

/* Reads until the peer closes; counts what came. */
static void drain(struct raw *r)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = recv(r->w.fd, buf, sizeof buf, 0)) > 0)
		r->tail += (size_t)n;
	r->eof = n == 0;
}

static int raw_handshake(struct raw *r)
{
	return tu_raw_handshake(&r->w, r->initiator, r->sk);
}

static int send_hello(struct raw *r, enum mfs_wire_type type, uint16_t version)
{
	struct mfs_wire_msg m = { .type = type, .hello = { version, 7000, 3 } };

	return tu_raw_send_msg(&r->w, &m, -1);
}

/* The usual opening of a raw initiator: handshake, HANDSHAKE, the ACK. */
static int open_ready(struct raw *r)
{
	struct mfs_wire_msg m;

	if (raw_handshake(r) || send_hello(r, MFS_WIRE_HANDSHAKE, MFS_WIRE_VERSION) ||
	    tu_raw_recv_msg(&r->w, &m))
		return -1;
	r->got_ack = m.type == MFS_WIRE_HANDSHAKE_ACK && m.hello.version == MFS_WIRE_VERSION &&
		     m.hello.listen_port == 1001 && m.hello.max_requests == 9;
	return r->got_ack ? 0 : -1;
}

/* Expects ERROR(code) and then the end of the stream. */
static void expect_error_then_eof(struct raw *r, uint16_t code)
{
	struct mfs_wire_msg m;

	if (tu_raw_recv_msg(&r->w, &m) == 0 && m.type == MFS_WIRE_ERROR) {
		r->got_error = 1;
		r->error_code = m.code;
	}
	drain(r);
	r->ok = r->got_error && r->error_code == code && r->eof;
}

static void *raw_main(void *arg)
{
	struct raw *r = arg;

	if (r->listen_fd >= 0) {
		r->w.fd = accept(r->listen_fd, NULL, NULL);
		if (r->w.fd < 0)
			return NULL;
		tu_raw_set_timeouts(r->w.fd);
	}
	r->script(r);
	tu_raw_close(&r->w);
	return NULL;
}

/* A raw initiator dialling the harness's listener, as sk[0]. */
static void raw_client(struct raw *r, void (*script)(struct raw *), int param)
{
	memset(r, 0, sizeof *r);
	r->listen_fd = -1;
	r->initiator = 1;
	r->sk = sk[0];
	r->script = script;
	r->param = param;
	r->w.fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(r->w.fd, 0);
	tu_raw_set_timeouts(r->w.fd);
	/* The kernel completes the connection from the listen backlog. */
	cr_assert_eq(connect(r->w.fd, (struct sockaddr *)&h.pp.addr, sizeof h.pp.addr), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, raw_main, r), 0);
}

/* A plain listening socket on 127.0.0.1 (h.pp.addr), not yet accepted. */
static int plain_listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&h.pp.addr, &len), 0);
	tu_raw_set_timeouts(fd);
	return fd;
}

/* A raw responder, as sk[1], on a plain listener that h.pp.addr points to. */
static void raw_server(struct raw *r, void (*script)(struct raw *), int param)
{
	memset(r, 0, sizeof *r);
	r->w.fd = -1;
	r->listen_fd = plain_listener();
	r->sk = sk[1];
	r->script = script;
	r->param = param;
	cr_assert_eq(pthread_create(&r->thread, NULL, raw_main, r), 0);
}

static void raw_join(struct raw *r)
{
	cr_assert_eq(pthread_join(r->thread, NULL), 0);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
}

/* ---- connecting ---- */

static void close_on_ready(struct side *s)
{
	mfs_peer_close(s->p, 0, 0, NULL);
}

static void initiator_sees_responder_ready(struct side *s)
{
	cr_assert(h.side[1].ready, "the responder is ready first (it answers HANDSHAKE)");
	close_on_ready(s);
}

Test(peer, both_sides_become_ready_and_learn_the_keys)
{
	/* Once expecting the responder's key, once learning it. */
	for (int round = 0; round < 2; round++) {
		h_start();
		h_listen();
		h.side[0].on_ready = initiator_sees_responder_ready;
		h_dial(round == 0 ? pk[1] : NULL);
		cr_assert_eq(mfs_peer_send(h.side[0].p, &(struct mfs_wire_msg){
							   .type = MFS_WIRE_REQUEST }),
			     -ENOTCONN, "nothing before ready");
		h_run();

		for (int i = 0; i < 2; i++) {
			struct side *s = &h.side[i];

			cr_assert(s->ready && s->closed, "side %d", i);
			cr_assert_eq(s->reason, 0, "side %d: clean close, %s", i,
				     mfs_strerror(s->reason));
			cr_assert_arr_eq(s->remote_pk, pk[1 - i], KEY);
			cr_assert_eq(s->hello.version, MFS_WIRE_VERSION);
			cr_assert_eq(s->hello.listen_port, 1000 + (1 - i));
			cr_assert_eq(s->hello.max_requests, 8 + (1 - i));
			cr_assert_eq(s->messages, 0);
			/* One hello each way: 5 + 6 bytes. */
			cr_assert_eq(s->sent, 11);
			cr_assert_eq(s->received, 11);
		}
	}
}

Test(peer, responder_closing_at_ready_is_clean_on_both_sides)
{
	h_start();
	h_listen();
	h.side[1].on_ready = close_on_ready;
	h_dial(NULL);
	h_run();
	cr_assert(h.side[0].ready && h.side[1].ready);
	cr_assert_eq(h.side[0].reason, 0, "%s", mfs_strerror(h.side[0].reason));
	cr_assert_eq(h.side[1].reason, 0, "%s", mfs_strerror(h.side[1].reason));
}

Test(peer, refused_connection_reports_the_error)
{
	int fd;

	h_start();
	fd = plain_listener();
	close(fd); /* its port now refuses */
	h_dial(NULL);
	h_run();
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[0].reason, -ECONNREFUSED, "%s", mfs_strerror(h.side[0].reason));
}

Test(peer, a_bad_address_fails_at_once_with_no_callback)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	struct mfs_peer *p = (struct mfs_peer *)(uintptr_t)1;

	h_start();
	cr_assert_eq(mfs_peer_connect(&p, &h.pp.loop, (struct sockaddr *)&ss, NULL, &h.pp.cfg[0],
				      &h.pp.cb, &h.side[0]),
		     -EINVAL);
	cr_assert_null(p);
	h_run();
	cr_assert_eq(h.side[0].closed, 0);
}

Test(peer, closing_while_connecting_calls_closed_once)
{
	int fd;

	h_start();
	fd = plain_listener(); /* accepts nothing: the connect may hang */
	h_dial(NULL);
	mfs_peer_close(h.side[0].p, -ECANCELED, MFS_WIRE_ERR_INTERNAL, "bye");
	mfs_peer_close(h.side[0].p, -EIO, 0, NULL); /* a second call changes nothing */
	cr_assert_eq(mfs_peer_send(h.side[0].p, &(struct mfs_wire_msg){ .type = MFS_WIRE_REQUEST, .count = 1 }),
		     -ENOTCONN);
	h_run();
	cr_assert_eq(h.side[0].closed, 1);
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[0].reason, -ECANCELED);
	close(fd);
}

/* ---- exchanging ---- */

#define REQUESTS 2000u
#define HAVE_AFTER (REQUESTS / 2)

static uint8_t *blob;
static uint8_t blob_id_of[MFS_BLOB_ID_BYTES];

static int is_big(uint32_t id)
{
	return id % 1000 == 7;
}

static void request_blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], uint32_t n)
{
	if (is_big(n)) {
		memcpy(id, blob_id_of, MFS_BLOB_ID_BYTES);
		return;
	}
	memset(id, 0xa5, MFS_BLOB_ID_BYTES);
	memcpy(id, &n, sizeof n);
}

struct exchange {
	uint32_t next;      /* responder: next request id; initiator: next answer */
	uint32_t segment;   /* initiator: the next segment of a blob answer, +1 */
	unsigned haves;
	size_t peak_queued;
};

static void exchange_ready(struct side *s)
{
	static uint8_t ids[MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES];
	struct mfs_wire_msg m = { .type = MFS_WIRE_REQUEST, .count = 1 };

	for (uint32_t i = 0; i < REQUESTS; i++) {
		if (i == HAVE_AFTER) {
			for (size_t k = 0; k < sizeof ids; k++)
				ids[k] = (uint8_t)(k * 13);
			cr_assert_eq(mfs_peer_send(s->p, &(struct mfs_wire_msg){
								 .type = MFS_WIRE_HAVE,
								 .data = ids,
								 .len = sizeof ids }),
				     0);
			memset(ids, 0, sizeof ids); /* the send copied it */
		}
		m.request_id = i;
		request_blob_id(m.blob_id, i);
		cr_assert_eq(mfs_peer_send(s->p, &m), 0);
	}
}

static void exchange_serve(struct side *s, const struct mfs_wire_msg *m)
{
	struct exchange *x = s->data;
	uint8_t want[MFS_BLOB_ID_BYTES];

	if (m->type == MFS_WIRE_HAVE) {
		cr_assert_eq(x->next, HAVE_AFTER, "HAVE arrives between the requests it was sent between");
		cr_assert_eq(m->len, MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES);
		for (size_t k = 0; k < m->len; k++)
			cr_assert_eq(m->data[k], (uint8_t)(k * 13));
		x->haves++;
		return;
	}
	cr_assert_eq(m->type, MFS_WIRE_REQUEST);
	cr_assert_eq(m->request_id, x->next, "requests in order");
	request_blob_id(want, m->request_id);
	cr_assert_arr_eq(m->blob_id, want, MFS_BLOB_ID_BYTES);
	x->next++;

	struct mfs_wire_msg r = { .type = MFS_WIRE_NOT_FOUND, .request_id = m->request_id };
	static uint8_t leaves[MFS_WIRE_MAX_LEAVES * MFS_BLOB_ID_BYTES];

	memcpy(r.blob_id, m->blob_id, MFS_BLOB_ID_BYTES);
	if (is_big(m->request_id)) { /* the largest blob: a head and 256 segments */
		r.type = MFS_WIRE_RESPONSE;
		r.blob_len = MFS_BLOB_MAX_BYTES;
		r.data = leaves;
		r.len = sizeof leaves;
		cr_assert_eq(mfs_peer_send(s->p, &r), 0);
		r.type = MFS_WIRE_SEGMENT;
		r.len = MFS_BLOB_LEAF_BYTES;
		for (uint32_t i = 0; i < MFS_WIRE_MAX_LEAVES; i++) {
			r.segment = i;
			r.data = blob + (size_t)i * MFS_BLOB_LEAF_BYTES;
			cr_assert_eq(mfs_peer_send(s->p, &r), 0);
		}
	} else {
		cr_assert_eq(mfs_peer_send(s->p, &r), 0);
	}
	if (mfs_peer_queued(s->p) > x->peak_queued)
		x->peak_queued = mfs_peer_queued(s->p);
}

static void exchange_check(struct side *s, const struct mfs_wire_msg *m)
{
	struct exchange *x = s->data;
	uint8_t want[MFS_BLOB_ID_BYTES];

	cr_assert_eq(m->request_id, x->next, "answers in order");
	if (x->segment) { /* inside a blob answer */
		const uint32_t i = x->segment - 1;
		cr_assert_eq(m->type, MFS_WIRE_SEGMENT);
		cr_assert_eq(m->segment, i);
		cr_assert_eq(m->len, MFS_BLOB_LEAF_BYTES);
		cr_assert(memcmp(m->data, blob + (size_t)i * MFS_BLOB_LEAF_BYTES, m->len) == 0,
			  "the blob arrives intact");
		if (++x->segment <= MFS_WIRE_MAX_LEAVES)
			return;
		x->segment = 0;
	} else {
		request_blob_id(want, m->request_id);
		cr_assert_arr_eq(m->blob_id, want, MFS_BLOB_ID_BYTES);
		if (is_big(m->request_id)) {
			cr_assert_eq(m->type, MFS_WIRE_RESPONSE);
			cr_assert_eq(m->blob_len, MFS_BLOB_MAX_BYTES);
			x->segment = 1;
			return;
		}
		cr_assert_eq(m->type, MFS_WIRE_NOT_FOUND);
	}
	if (++x->next == REQUESTS)
		mfs_peer_close(s->p, 0, 0, NULL);
}

Test(peer, blob_sized_response_and_many_small_messages_in_order)
{
	struct exchange x[2] = { { 0 }, { 0 } };
	uint64_t wire_out;

	blob = malloc(MFS_BLOB_MAX_BYTES);
	cr_assert_not_null(blob);
	tu_fill_random(blob, MFS_BLOB_MAX_BYTES, 42);
	mfs_blob_id(blob_id_of, blob, MFS_BLOB_MAX_BYTES);

	h_start();
	h_listen();
	h.side[0].on_ready = exchange_ready;
	h.side[0].on_message = exchange_check;
	h.side[0].data = &x[0];
	h.side[1].on_message = exchange_serve;
	h.side[1].data = &x[1];
	h_dial(pk[1]);
	h_run();

	cr_assert_eq(x[0].next, REQUESTS);
	cr_assert_eq(x[1].next, REQUESTS);
	cr_assert_eq(x[1].haves, 1);
	cr_assert_eq(h.side[0].messages, REQUESTS + 2 * MFS_WIRE_MAX_LEAVES);
	cr_assert_eq(h.side[1].messages, REQUESTS + 1);
	cr_assert_eq(h.side[0].reason, 0, "%s", mfs_strerror(h.side[0].reason));
	cr_assert_eq(h.side[1].reason, 0, "%s", mfs_strerror(h.side[1].reason));
	/* Backpressure: the blob passed the soft limit, and the queue drained. */
	cr_assert_geq(x[1].peak_queued, MFS_BLOB_MAX_BYTES);
	cr_assert_geq(h.side[1].drained, 1);
	/* Every byte sent was received, both ways. */
	cr_assert_eq(h.side[0].sent, h.side[1].received);
	cr_assert_eq(h.side[1].sent, h.side[0].received);
	wire_out = 11 + (REQUESTS * 49) + 5 + MFS_WIRE_MAX_IDS * 32;
	cr_assert_eq(h.side[0].sent, wire_out);
	/* NOT_FOUNDs, and two heads with their segments. */
	cr_assert_eq(h.side[1].sent,
		     11 + (REQUESTS - 2) * 41 +
			     2 * (5 + 44 + MFS_WIRE_MAX_LEAVES * 32 + MFS_WIRE_MAX_LEAVES * 13 +
				  (uint64_t)MFS_BLOB_MAX_BYTES));
	free(blob);
}

/* Messages cut across Noise messages at every kind of boundary: several
 * messages in one, a head split in two, a large body in many. */
#define REASM_COUNT 200u
#define REASM_BIG_AT 53u
#define REASM_BIG MFS_BLOB_LEAF_BYTES /* the largest body: many Noise messages */

static void reasm_msg(unsigned k, struct mfs_wire_msg *m, uint8_t *data)
{
	memset(m, 0, sizeof *m);
	m->request_id = k * 2654435761u;
	for (unsigned i = 0; i < MFS_BLOB_ID_BYTES; i++)
		m->blob_id[i] = (uint8_t)(k + i);
	switch (k % 5) {
	case 0:
		m->type = MFS_WIRE_REQUEST;
		m->count = 1;
		break;
	case 1:
		m->type = MFS_WIRE_HAVE;
		m->len = (k % 4 + 1) * MFS_BLOB_ID_BYTES;
		break;
	case 2:
		m->type = MFS_WIRE_NOT_FOUND;
		break;
	case 3:
		m->type = MFS_WIRE_SEGMENT;
		m->len = k == REASM_BIG_AT ? REASM_BIG : k;
		m->segment = k % MFS_WIRE_MAX_LEAVES;
		break;
	default:
		m->type = k % 10 == 4 ? MFS_WIRE_WANT : MFS_WIRE_ERROR;
		m->len = k % 10 == 4 ? MFS_BLOB_ID_BYTES : k % 20;
		m->code = (uint16_t)k;
		break;
	}
	for (size_t i = 0; i < m->len; i++)
		data[i] = (uint8_t)(m->type == MFS_WIRE_ERROR ? 'a' + (k + i) % 26 : k * 31 + i * 7);
	m->data = m->len ? data : NULL;
	if (m->type == MFS_WIRE_HAVE || m->type == MFS_WIRE_WANT)
		memset(m->blob_id, 0, sizeof m->blob_id), m->request_id = 0;
	if (m->type == MFS_WIRE_ERROR)
		memset(m->blob_id, 0, sizeof m->blob_id), m->request_id = 0;
	if (m->type == MFS_WIRE_SEGMENT)
		memset(m->blob_id, 0, sizeof m->blob_id);
}

static void reasm_script(struct raw *r)
{
	static const size_t cuts[] = { 1, 2, 3, 4, 5, 6, 7, 11, 36, 41, 64, 100, 1000, 4096,
				       MFS_NOISE_MAX_PLAIN, 9, MFS_NOISE_MAX_PLAIN - 1, 40000 };
	uint8_t *stream = malloc(REASM_BIG + REASM_COUNT * 2048), *data = malloc(REASM_BIG);
	size_t len = 0, off = 0, c = 0;
	struct mfs_wire_msg m;

	if (!stream || !data || open_ready(r))
		goto out;
	for (unsigned k = 0; k < REASM_COUNT; k++) {
		reasm_msg(k, &m, data);
		len += mfs_wire_encode(stream + len, REASM_BIG + REASM_COUNT * 2048 - len, &m);
	}
	while (off < len) {
		size_t n = cuts[c++ % (sizeof cuts / sizeof cuts[0])];

		n = n < len - off ? n : len - off;
		if (tu_raw_send_plain(&r->w, stream + off, n, -1))
			goto out;
		off += n;
	}
	shutdown(r->w.fd, SHUT_WR);
	drain(r);
	r->ok = r->eof;
out:
	free(stream);
	free(data);
}

static void reasm_check(struct side *s, const struct mfs_wire_msg *m)
{
	static uint8_t data[REASM_BIG];
	unsigned *next = s->data;
	struct mfs_wire_msg want;

	reasm_msg(*next, &want, data);
	cr_assert_eq(m->type, want.type, "message %u", *next);
	cr_assert_eq(m->request_id, want.request_id, "message %u", *next);
	cr_assert_arr_eq(m->blob_id, want.blob_id, MFS_BLOB_ID_BYTES);
	cr_assert_eq(m->len, want.len, "message %u", *next);
	cr_assert(m->len == 0 || memcmp(m->data, want.data, m->len) == 0, "message %u", *next);
	if (m->type == MFS_WIRE_ERROR)
		cr_assert_eq(m->code, want.code);
	(*next)++;
}

Test(peer, messages_reassemble_across_any_noise_message_boundaries)
{
	struct raw r;
	unsigned next = 0;

	h_start();
	h_listen();
	h.side[1].on_message = reasm_check;
	h.side[1].data = &next;
	raw_client(&r, reasm_script, 0);
	h_run();
	raw_join(&r);
	cr_assert(r.ok);
	cr_assert_eq(next, REASM_COUNT);
	cr_assert_eq(h.side[1].reason, 0, "end of stream at a boundary is clean: %s",
		     mfs_strerror(h.side[1].reason));
}

/* ---- authentication ---- */

static void responder_to_msg2_then_listen(struct raw *r)
{
	struct mfs_noise_hs *hs;
	uint8_t msg[256];
	size_t len, plen;

	if (mfs_noise_hs_new(&hs, 0, r->sk, (const uint8_t *)MFS_PEER_PROLOGUE,
			     strlen(MFS_PEER_PROLOGUE)))
		return;
	if (tu_raw_recv_frame(&r->w, &len) == 0 &&
	    mfs_noise_hs_read(hs, NULL, 0, &plen, r->w.frame, len) == 0 &&
	    mfs_noise_hs_write(hs, msg, sizeof msg, &len, NULL, 0) == 0 &&
	    tu_raw_send_frame(&r->w, msg, len) == 0) {
		drain(r);
		r->ok = r->eof;
	}
	mfs_noise_hs_free(hs);
}

Test(peer, wrong_responder_key_stops_before_message_3)
{
	struct raw r;

	/* The wrong key: nothing, not even message 3, reaches the responder. */
	h_start();
	raw_server(&r, responder_to_msg2_then_listen, 0);
	h_dial(pk[0]);
	h_run();
	raw_join(&r);
	cr_assert(r.ok);
	cr_assert_eq(r.tail, 0, "%zu bytes after message 2", r.tail);
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[0].reason, MFS_E_AUTH, "%s", mfs_strerror(h.side[0].reason));

	/* The right key, for contrast: message 3 and HANDSHAKE come, then the
	 * handshake times out waiting for an ACK. */
	h_start();
	h.pp.cfg[0].handshake_timeout_ms = 300;
	raw_server(&r, responder_to_msg2_then_listen, 0);
	h_dial(pk[1]);
	h_run();
	raw_join(&r);
	cr_assert(r.ok);
	cr_assert_eq(r.tail, 2 + MFS_NOISE_XX_MSG3_OVERHEAD + 2 + 11 + MFS_NOISE_TAG_BYTES);
	cr_assert_eq(h.side[0].reason, -ETIMEDOUT, "%s", mfs_strerror(h.side[0].reason));
}

Test(peer, wrong_key_between_real_peers_lets_nothing_through)
{
	uint8_t other[KEY];

	memcpy(other, pk[1], KEY);
	other[31] ^= 0x40;
	h_start();
	h_listen();
	h_dial(other);
	h_run();
	cr_assert_eq(h.side[0].reason, MFS_E_AUTH, "%s", mfs_strerror(h.side[0].reason));
	cr_assert_eq(h.side[0].ready, 0);
	cr_assert_eq(h.side[1].ready, 0);
	cr_assert_eq(h.side[1].messages, 0);
	cr_assert(h.side[1].closed);
	cr_assert_neq(h.side[1].reason, 0, "the handshake did not end cleanly");
	cr_assert_eq(h.side[1].received, 0);
}

/* param: which ciphertext byte to flip; param < 0: flip in the HANDSHAKE. */
static void tamper_script(struct raw *r)
{
	struct mfs_wire_msg m = { .type = MFS_WIRE_REQUEST, .request_id = 1, .count = 1 };

	if (r->param < 0) {
		if (raw_handshake(r))
			return;
		struct mfs_wire_msg hello = { .type = MFS_WIRE_HANDSHAKE, .hello = { 1, 0, 0 } };
		if (tu_raw_send_msg(&r->w, &hello, -r->param - 1))
			return;
	} else {
		if (open_ready(r) || tu_raw_send_msg(&r->w, &m, r->param))
			return;
	}
	drain(r);
	r->ok = r->eof;
}

Test(peer, a_tampered_transport_message_is_an_authentication_failure)
{
	/* First ciphertext byte, a middle one, the last tag byte. */
	const int flips[] = { 0, 20, 41 + MFS_NOISE_TAG_BYTES - 1, -1, -(11 + 16) };

	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		struct raw r;

		h_start();
		h_listen();
		raw_client(&r, tamper_script, flips[i]);
		h_run();
		raw_join(&r);
		cr_assert(r.ok, "case %zu", i);
		cr_assert_eq(h.side[1].reason, MFS_E_AUTH, "case %zu: %s", i,
			     mfs_strerror(h.side[1].reason));
		cr_assert_eq(h.side[1].ready, flips[i] >= 0, "case %zu", i);
		cr_assert_eq(h.side[1].messages, 0, "case %zu: nothing tampered is delivered", i);
	}
}

/* ---- malformed input ---- */

enum garbage { RANDOM, HTTP, LOW_ORDER_KEY, RANDOM_MSG3, PAYLOAD_IN_MSG1, EMPTY_FRAME };

static void garbage_script(struct raw *r)
{
	uint8_t buf[70000];
	size_t len = 0;

	switch (r->param) {
	case RANDOM:
		tu_fill_random(buf, sizeof buf, 9);
		len = sizeof buf;
		break;
	case HTTP:
		len = (size_t)snprintf((char *)buf, sizeof buf,
				       "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
		break;
	case LOW_ORDER_KEY: /* e = 0: every Diffie-Hellman with it is zero */
		memset(buf, 0, 34);
		buf[1] = 32;
		len = 34;
		break;
	case RANDOM_MSG3: /* a plausible message 1, then garbage as message 3 */
		tu_fill_random(buf, 2 + 32 + 2 + 64, 3);
		buf[0] = 0, buf[1] = 32;
		buf[34] = 0, buf[35] = 64;
		len = 2 + 32 + 2 + 64;
		break;
	case PAYLOAD_IN_MSG1:
		tu_fill_random(buf, 2 + 40, 4);
		buf[0] = 0, buf[1] = 40;
		len = 2 + 40;
		break;
	case EMPTY_FRAME:
		memset(buf, 0, 2);
		len = 2;
		break;
	}
	/* The responder may drop us before all is written: only its side counts. */
	(void)tu_raw_write_all(r->w.fd, buf, len);
	shutdown(r->w.fd, SHUT_WR);
	drain(r);
	r->ok = 1;
}

Test(peer, garbage_instead_of_a_handshake_closes)
{
	const int want[] = {
		[RANDOM] = 0, /* any failure: depends on the bytes */
		[HTTP] = -ECONNRESET,   /* waits for 18245 bytes, then the end */
		[LOW_ORDER_KEY] = MFS_E_AUTH,
		[RANDOM_MSG3] = MFS_E_AUTH,
		[PAYLOAD_IN_MSG1] = MFS_E_FORMAT,
		[EMPTY_FRAME] = MFS_E_FORMAT,
	};

	for (int g = RANDOM; g <= EMPTY_FRAME; g++) {
		struct raw r;

		h_start();
		h_listen();
		raw_client(&r, garbage_script, g);
		h_run();
		raw_join(&r);
		cr_assert(r.ok, "case %d", g);
		cr_assert_eq(h.side[1].ready, 0, "case %d", g);
		cr_assert_neq(h.side[1].reason, 0, "case %d", g);
		if (want[g])
			cr_assert_eq(h.side[1].reason, want[g], "case %d: %s", g,
				     mfs_strerror(h.side[1].reason));
	}
}

enum bad_message { HUGE_HEAD, UNKNOWN_TYPE, HAVE_33, BAD_UTF8, EARLY_REQUEST, SECOND_HELLO,
		   ACK_FROM_INITIATOR, EARLY_RESPONSE, RESPONSE_OVER_BUDGET };

static void bad_message_script(struct raw *r)
{
	uint8_t head[MFS_WIRE_HEAD_BYTES + 8] = { 0 };
	struct mfs_wire_msg m = { .type = MFS_WIRE_REQUEST, .count = 1 };
	int err;

	if (r->param == EARLY_RESPONSE) {
		/* The largest SEGMENT a head may announce, before the hello. */
		head[0] = MFS_WIRE_SEGMENT;
		head[1] = (uint8_t)(MFS_WIRE_MAX_BODY >> 24);
		head[2] = (uint8_t)(MFS_WIRE_MAX_BODY >> 16);
		head[3] = (uint8_t)(MFS_WIRE_MAX_BODY >> 8);
		head[4] = (uint8_t)MFS_WIRE_MAX_BODY;
		if (raw_handshake(r) == 0 && tu_raw_send_plain(&r->w, head, MFS_WIRE_HEAD_BYTES, -1) == 0)
			expect_error_then_eof(r, MFS_WIRE_ERR_PROTOCOL);
		return;
	}
	if (r->param == RESPONSE_OVER_BUDGET) {
		/* Ready, then the largest SEGMENT to a side with 48 KiB to spare. */
		head[0] = MFS_WIRE_SEGMENT;
		head[1] = (uint8_t)(MFS_WIRE_MAX_BODY >> 24);
		head[2] = (uint8_t)(MFS_WIRE_MAX_BODY >> 16);
		head[3] = (uint8_t)(MFS_WIRE_MAX_BODY >> 8);
		head[4] = (uint8_t)MFS_WIRE_MAX_BODY;
		if (open_ready(r) == 0 && tu_raw_send_plain(&r->w, head, MFS_WIRE_HEAD_BYTES, -1) == 0)
			expect_error_then_eof(r, MFS_WIRE_ERR_BUSY);
		return;
	}
	if (r->param == EARLY_REQUEST || r->param == ACK_FROM_INITIATOR) {
		err = raw_handshake(r);
		if (!err)
			err = r->param == EARLY_REQUEST
				      ? tu_raw_send_msg(&r->w, &m, -1)
				      : send_hello(r, MFS_WIRE_HANDSHAKE_ACK, MFS_WIRE_VERSION);
	} else {
		err = open_ready(r);
	}
	if (err)
		return;
	switch (r->param) {
	case HUGE_HEAD: /* a SEGMENT one byte over the largest */
		head[0] = MFS_WIRE_SEGMENT;
		head[1] = (uint8_t)((MFS_WIRE_MAX_BODY + 1) >> 24);
		head[2] = (uint8_t)((MFS_WIRE_MAX_BODY + 1) >> 16);
		head[3] = (uint8_t)((MFS_WIRE_MAX_BODY + 1) >> 8);
		head[4] = (uint8_t)(MFS_WIRE_MAX_BODY + 1);
		err = tu_raw_send_plain(&r->w, head, MFS_WIRE_HEAD_BYTES, -1);
		break;
	case UNKNOWN_TYPE:
		head[0] = 9, head[4] = 6;
		err = tu_raw_send_plain(&r->w, head, MFS_WIRE_HEAD_BYTES + 6, -1);
		break;
	case HAVE_33:
		head[0] = MFS_WIRE_HAVE, head[4] = 33;
		err = tu_raw_send_plain(&r->w, head, MFS_WIRE_HEAD_BYTES, -1);
		break;
	case BAD_UTF8: {
		const uint8_t e[] = { 7, 0, 0, 0, 4, 0, 1, 0xc0, 0x80 };

		err = tu_raw_send_plain(&r->w, e, sizeof e, -1);
		break;
	}
	case SECOND_HELLO:
		err = send_hello(r, MFS_WIRE_HANDSHAKE, MFS_WIRE_VERSION);
		break;
	default:
		break;
	}
	if (!err)
		expect_error_then_eof(r, MFS_WIRE_ERR_PROTOCOL);
}

Test(peer, malformed_or_unexpected_messages_close_with_format)
{
	for (int b = HUGE_HEAD; b <= ACK_FROM_INITIATOR; b++) {
		struct raw r;
		int early = b == EARLY_REQUEST || b == ACK_FROM_INITIATOR;

		h_start();
		h_listen();
		raw_client(&r, bad_message_script, b);
		h_run();
		raw_join(&r);
		cr_assert(r.ok, "case %d: ERROR(PROTOCOL) then the end of stream", b);
		cr_assert_eq(h.side[1].reason, MFS_E_FORMAT, "case %d: %s", b,
			     mfs_strerror(h.side[1].reason));
		cr_assert_eq(h.side[1].ready, !early, "case %d", b);
		cr_assert_eq(h.side[1].messages, 0, "case %d", b);
	}
}

Test(peer, a_body_is_checked_from_its_head_before_it_is_allocated)
{
	struct mfs_peer_budget budget = {.limit = 1u << 20};
	struct raw r;

	/* The largest head before the hello: malformed, nothing allocated. */
	h_start();
	h.pp.cfg[1].budget = &budget;
	h_listen();
	raw_client(&r, bad_message_script, EARLY_RESPONSE);
	h_run();
	raw_join(&r);
	cr_assert(r.ok, "ERROR(PROTOCOL) then the end of stream");
	cr_assert_eq(h.side[1].reason, MFS_E_FORMAT, "%s", mfs_strerror(h.side[1].reason));
	cr_assert_eq(h.side[1].ready, 0);
	/* Only the handshake's own messages and the ERROR were ever held. */
	cr_assert_lt(budget.peak, 4096, "%zu bytes held", budget.peak);
	cr_assert_eq(budget.used, 0);
	cr_assert_eq(budget.refused, 0);

	/* Ready, then a body larger than the budget has left: ERROR(BUSY). */
	budget = (struct mfs_peer_budget){.limit = 48u << 10};
	h_start();
	h.pp.cfg[1].budget = &budget;
	h_listen();
	raw_client(&r, bad_message_script, RESPONSE_OVER_BUDGET);
	h_run();
	raw_join(&r);
	cr_assert(r.ok, "ERROR(BUSY) then the end of stream");
	cr_assert_eq(h.side[1].reason, -ENOBUFS, "%s", mfs_strerror(h.side[1].reason));
	cr_assert_eq(h.side[1].ready, 1);
	cr_assert_eq(budget.refused, 1);
	cr_assert_lt(budget.peak, 4096, "%zu bytes held", budget.peak);
	cr_assert_eq(budget.used, 0, "everything released with the connection");
}

/* ---- versions ---- */

static void client_version_1(struct raw *r)
{
	if (raw_handshake(r) == 0 && send_hello(r, MFS_WIRE_HANDSHAKE, 1) == 0)
		expect_error_then_eof(r, MFS_WIRE_ERR_VERSION);
}

/* param 0: answers ACK version 1 (BLAKE2b blob ids); 1: answers ERROR(VERSION). */
static void server_version_1(struct raw *r)
{
	struct mfs_wire_msg m;

	if (raw_handshake(r) || tu_raw_recv_msg(&r->w, &m) || m.type != MFS_WIRE_HANDSHAKE ||
	    m.hello.version != MFS_WIRE_VERSION || m.hello.listen_port != 1000)
		return;
	if (r->param == 0) {
		if (send_hello(r, MFS_WIRE_HANDSHAKE_ACK, 1) == 0)
			expect_error_then_eof(r, MFS_WIRE_ERR_VERSION);
		return;
	}
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .code = MFS_WIRE_ERR_VERSION,
				   .data = (const uint8_t *)"v3 only", .len = 7 };
	if (tu_raw_send_msg(&r->w, &m, -1) == 0) {
		drain(r);
		r->ok = r->eof;
	}
}

Test(peer, a_version_mismatch_is_refused_with_error_version)
{
	struct raw r;

	h_start();
	h_listen();
	raw_client(&r, client_version_1, 0);
	h_run();
	raw_join(&r);
	cr_assert(r.ok, "the responder sent ERROR(VERSION), then closed");
	cr_assert_eq(h.side[1].ready, 0);
	cr_assert_eq(h.side[1].reason, -EPROTONOSUPPORT, "%s", mfs_strerror(h.side[1].reason));

	for (int param = 0; param < 2; param++) {
		h_start();
		raw_server(&r, server_version_1, param);
		h_dial(pk[1]);
		h_run();
		raw_join(&r);
		cr_assert(r.ok, "case %d", param);
		cr_assert_eq(h.side[0].ready, 0);
		cr_assert_eq(h.side[0].reason, -EPROTONOSUPPORT, "case %d: %s", param,
			     mfs_strerror(h.side[0].reason));
	}
}

/* ---- timeouts ---- */

static void silent_script(struct raw *r)
{
	if (r->param && raw_handshake(r))
		return;
	drain(r);
	r->ok = r->eof;
}

Test(peer, the_handshake_times_out)
{
	struct raw r;

	/* A client that says nothing; one that stops after the Noise handshake. */
	for (int param = 0; param < 2; param++) {
		h_start();
		h_listen();
		h.pp.cfg[1].handshake_timeout_ms = 200;
		raw_client(&r, silent_script, param);
		h_run();
		raw_join(&r);
		cr_assert(r.ok);
		cr_assert_eq(h.side[1].reason, -ETIMEDOUT, "case %d: %s", param,
			     mfs_strerror(h.side[1].reason));
	}

	/* A server that accepts and never answers. */
	h_start();
	h.pp.cfg[0].handshake_timeout_ms = 200;
	raw_server(&r, silent_script, 0);
	h_dial(NULL);
	h_run();
	raw_join(&r);
	cr_assert(r.ok);
	cr_assert_eq(r.tail, 2 + MFS_NOISE_XX_MSG1_OVERHEAD, "message 1 only");
	cr_assert_eq(h.side[0].reason, -ETIMEDOUT, "%s", mfs_strerror(h.side[0].reason));
}

struct ticker {
	uv_timer_t timer;
	struct side *s;
	int ticks;
};

static void on_tick(uv_timer_t *t)
{
	struct ticker *k = t->data;
	uint8_t id[MFS_BLOB_ID_BYTES] = { 1 };

	cr_assert_eq(mfs_peer_send(k->s->p, &(struct mfs_wire_msg){ .type = MFS_WIRE_WANT,
								    .data = id,
								    .len = sizeof id }),
		     0);
	if (++k->ticks == 5)
		uv_close((uv_handle_t *)t, NULL);
}

static void start_ticking(struct side *s)
{
	struct ticker *k = s->data;

	k->s = s;
	cr_assert_eq(uv_timer_init(&h.pp.loop, &k->timer), 0);
	k->timer.data = k;
	cr_assert_eq(uv_timer_start(&k->timer, on_tick, 100, 100), 0);
}

Test(peer, an_idle_connection_times_out_and_traffic_keeps_it_alive)
{
	struct ticker k = { 0 };

	h_start();
	h_listen();
	h.pp.cfg[1].idle_timeout_ms = 300;
	h.side[0].on_ready = start_ticking;
	h.side[0].data = &k;
	h_dial(NULL);
	h_run();
	cr_assert_eq(k.ticks, 5);
	cr_assert_eq(h.side[1].messages, 5);
	cr_assert_eq(h.side[1].reason, -ETIMEDOUT, "%s", mfs_strerror(h.side[1].reason));
	/* Five sends 100 ms apart, then 300 ms of quiet. */
	cr_assert_geq(h.side[1].closed_at - h.side[1].ready_at, 700);
	cr_assert_eq(h.side[0].reason, 0, "the other side saw a clean end");
}

/* ---- the owner's side ---- */

static void busy_on_ready(struct side *s)
{
	mfs_peer_close(s->p, 0, MFS_WIRE_ERR_BUSY, "too busy");
	cr_assert_eq(mfs_peer_send(s->p, &(struct mfs_wire_msg){ .type = MFS_WIRE_REQUEST, .count = 1 }),
		     -ENOTCONN);
}

static void record_error(struct side *s, const struct mfs_wire_msg *m)
{
	cr_assert_eq(m->type, MFS_WIRE_ERROR);
	cr_assert_eq(m->code, MFS_WIRE_ERR_BUSY);
	cr_assert_eq(m->len, 8);
	cr_assert_arr_eq(m->data, "too busy", 8);
	(void)s;
}

Test(peer, close_sends_its_error_first)
{
	h_start();
	h_listen();
	h.side[1].on_ready = busy_on_ready;
	h.side[0].on_message = record_error;
	h_dial(NULL);
	h_run();
	cr_assert(h.side[0].ready);
	cr_assert_eq(h.side[0].messages, 1);
	cr_assert_eq(h.side[0].reason, 0);
	cr_assert_eq(h.side[1].reason, 0);
}

static void send_rules(struct side *s)
{
	uint8_t id[MFS_BLOB_ID_BYTES] = { 0 };
	uint8_t text[MFS_WIRE_MAX_TEXT + 1];
	struct mfs_wire_msg m = { .type = MFS_WIRE_HANDSHAKE, .hello = { 1, 0, 0 } };

	cr_assert_eq(mfs_peer_send(s->p, &m), MFS_E_FORMAT, "the hellos are the peer's own");
	m.type = MFS_WIRE_HANDSHAKE_ACK;
	cr_assert_eq(mfs_peer_send(s->p, &m), MFS_E_FORMAT);
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_HAVE, .data = id, .len = 0 };
	cr_assert_eq(mfs_peer_send(s->p, &m), MFS_E_FORMAT);
	memset(text, 'x', sizeof text);
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .data = text, .len = sizeof text };
	cr_assert_eq(mfs_peer_send(s->p, &m), MFS_E_FORMAT);
	m = (struct mfs_wire_msg){ .type = (enum mfs_wire_type)11 };
	cr_assert_eq(mfs_peer_send(s->p, &m), MFS_E_FORMAT);
	uint64_t sent, received;

	mfs_peer_counters(s->p, &sent, &received);
	cr_assert_eq(sent, 11, "only the hello went out");
	cr_assert_eq(received, 11);
	for (int i = 0; i < 10; i++) {
		m = (struct mfs_wire_msg){ .type = MFS_WIRE_WANT, .data = id, .len = sizeof id };
		cr_assert_eq(mfs_peer_send(s->p, &m), 0);
	}
}

static void close_on_first(struct side *s, const struct mfs_wire_msg *m)
{
	(void)m;
	mfs_peer_close(s->p, -ECANCELED, 0, NULL);
	mfs_peer_close(s->p, -EIO, MFS_WIRE_ERR_INTERNAL, "again");
	cr_assert_eq(mfs_peer_send(s->p, m), -ENOTCONN);
}

Test(peer, send_checks_its_message_and_close_stops_callbacks)
{
	h_start();
	h_listen();
	h.side[0].on_ready = send_rules;
	h.side[1].on_message = close_on_first;
	h_dial(NULL);
	h_run();
	cr_assert_eq(h.side[1].messages, 1, "no message after close");
	cr_assert_eq(h.side[1].reason, -ECANCELED);
	cr_assert_eq(h.side[0].reason, 0);
	cr_assert_eq(h.side[0].sent, 11 + 10 * (5 + 32));
}
