/* mfs-bench-hostile: N hostile connections to a megafs node, each doing one
 * attack at full speed until SIGTERM or SIGINT (tools/bench/hostile.sh).
 *
 *   mfs-bench-hostile MODE HOST:PORT#KEY N [STORE PASSWORD]
 *
 * Connection i dials from 127.0.(i+1).1: each in an address range of its
 * own (the node's per-range limit counts a /24), none in the honest
 * client's 127.0.0.0/24. A connection the node closes is dialled again at
 * once (20 ms later). Modes (the attacks of issue 11 on the peer wire):
 *   idle    Noise handshake and hello, then nothing: holds a slot
 *   silent  TCP only, never a byte: holds a slot in its handshake
 *   junk    TCP, then a Noise handshake of random bytes: a first message
 *           the node answers (its key exchange done), a third that fails
 *   want    WANTs of 1,024 random ids, the output queue kept full
 *   body    an unsolicited RESPONSE with a 1 MiB blob, at once after the
 *           hello; refused (ERROR), it drops the connection and dials again
 *   hog     REQUESTs of the store's blobs (16 in flight, as told in its
 *           hello), never reading the answers: needs STORE and PASSWORD
 *           (a copy of the seeder's store: the attacker knows the ids)
 * On exit, one line: the mode, dials, handshakes completed, closes by the
 * node, messages sent. */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/blobstore.h"
#include "net/hostport.h"
#include "net/peer.h"
#include "net/loop.h"
#include "net/wire.h"

#define MAX_CONNS 250
#define REDIAL_MS 20
/* A first handshake message (an ephemeral key: any 32 bytes are one), then a
 * third of random bytes, each behind its 2-byte length. */
#define JUNK_BYTES (2 + MFS_NOISE_XX_MSG1_OVERHEAD + 2 + MFS_NOISE_XX_MSG3_OVERHEAD)
#define BODY_BYTES MFS_BLOB_LEAF_BYTES /* the largest body: a whole segment */
#define HOG_IN_FLIGHT 16u
#define HOG_IDS 4096u

enum mode { IDLE, SILENT, JUNK, WANT, BODY, HOG };
static const char *const mode_names[] = {"idle", "silent", "junk", "want", "body", "hog"};

struct conn {
	struct hostile *h;
	struct sockaddr_in from;
	struct mfs_peer *peer;    /* Noise modes */
	uv_tcp_t tcp;             /* raw modes */
	uv_connect_t connect_req;
	uv_write_t write_req;
	uv_timer_t redial;
	uint8_t junk[JUNK_BYTES];
	uint8_t rx[4096];
	int raw_open;
	uint32_t next_request;
};

struct hostile {
	enum mode mode;
	struct mfs_loop *loop;
	struct sockaddr_in to;
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	uint8_t *sk;
	uint8_t *want_ids;        /* MFS_WIRE_MAX_IDS random ids */
	uint8_t *body;            /* BODY_BYTES random bytes */
	uint8_t (*ids)[MFS_BLOB_ID_BYTES]; /* hog: the store's blob ids */
	size_t n_ids;
	int n, stopping;
	struct conn conns[MAX_CONNS];
	unsigned long dials, handshakes, closes, sent;
};

static void dial(struct conn *c);

static void on_redial(uv_timer_t *t)
{
	dial(t->data);
}

static void later(struct conn *c)
{
	if (c->h->stopping)
		return;
	c->h->closes++;
	uv_timer_start(&c->redial, on_redial, REDIAL_MS, 0);
}

/* ---- the Noise modes ---- */

static void send_msg(struct conn *c, const struct mfs_wire_msg *m)
{
	if (mfs_peer_send(c->peer, m) == 0)
		c->h->sent++;
}

static void pump(struct conn *c)
{
	struct hostile *h = c->h;

	if (h->mode == WANT) {
		struct mfs_wire_msg m = {.type = MFS_WIRE_WANT, .data = h->want_ids,
					 .len = MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES};

		while (c->peer && mfs_peer_queued(c->peer) < MFS_PEER_QUEUE_SOFT)
			send_msg(c, &m);
	} else if (h->mode == HOG) {
		for (uint32_t i = 0; c->peer && i < HOG_IN_FLIGHT; i++) {
			struct mfs_wire_msg m = {.type = MFS_WIRE_REQUEST,
						 .request_id = ++c->next_request,
						 .count = MFS_WIRE_MAX_LEAVES};

			memcpy(m.blob_id, h->ids[c->next_request % h->n_ids], MFS_BLOB_ID_BYTES);
			send_msg(c, &m);
		}
	}
}

static void on_ready(struct mfs_peer *p, void *ctx)
{
	struct conn *c = ctx;
	struct mfs_wire_msg m = {.type = MFS_WIRE_SEGMENT, .request_id = 1};

	(void)p;
	c->h->handshakes++;
	if (c->h->mode == BODY) {
		m.data = c->h->body;
		m.len = BODY_BYTES;
		send_msg(c, &m);
	}
	pump(c);
}

static void on_message(struct mfs_peer *p, const struct mfs_wire_msg *m, void *ctx)
{
	struct conn *c = ctx;

	/* Refused: at full speed it does not wait for the node's linger. */
	if (c->h->mode == BODY && m->type == MFS_WIRE_ERROR)
		mfs_peer_abort(p, 0);
}

static void on_drained(struct mfs_peer *p, void *ctx)
{
	(void)p;
	if (((struct conn *)ctx)->h->mode == WANT)
		pump(ctx);
}

static void on_closed(struct mfs_peer *p, int reason, void *ctx)
{
	struct conn *c = ctx;

	(void)p;
	(void)reason;
	c->peer = NULL;
	later(c);
}

/* ---- the raw modes ---- */

static void on_raw_closed(uv_handle_t *handle)
{
	struct conn *c = handle->data;

	c->raw_open = 0;
	later(c);
}

static void raw_close(struct conn *c)
{
	if (c->raw_open && !uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_raw_closed);
}

static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	struct conn *c = handle->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->rx, sizeof c->rx);
}

static void on_raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	if (n < 0)
		raw_close(((uv_handle_t *)s)->data);
}

static void on_written(uv_write_t *req, int status)
{
	if (status == 0)
		((struct conn *)req->data)->h->sent++;
}

static void on_raw_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (status != 0 || c->h->stopping) {
		raw_close(c);
		return;
	}
	if (c->h->mode == JUNK) {
		uv_buf_t b = uv_buf_init((char *)c->junk, sizeof c->junk);

		mfs_random(c->junk, sizeof c->junk);
		c->junk[0] = 0;
		c->junk[1] = MFS_NOISE_XX_MSG1_OVERHEAD;
		c->junk[2 + MFS_NOISE_XX_MSG1_OVERHEAD] = 0;
		c->junk[3 + MFS_NOISE_XX_MSG1_OVERHEAD] = MFS_NOISE_XX_MSG3_OVERHEAD;
		c->write_req.data = c;
		if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
			raw_close(c);
			return;
		}
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_raw_read) != 0)
		raw_close(c);
}

static void dial(struct conn *c)
{
	struct hostile *h = c->h;

	if (h->stopping)
		return;
	h->dials++;
	if (h->mode == SILENT || h->mode == JUNK) {
		if (uv_tcp_init(mfs_loop_uv(h->loop), &c->tcp) != 0) {
			later(c);
			return;
		}
		c->tcp.data = c;
		c->raw_open = 1;
		c->connect_req.data = c;
		if (uv_tcp_bind(&c->tcp, (const struct sockaddr *)&c->from, 0) != 0 ||
		    uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&h->to,
				   on_raw_connect) != 0)
			raw_close(c);
		return;
	}
	static const struct mfs_peer_callbacks cb = {.ready = on_ready, .message = on_message,
						     .drained = on_drained, .closed = on_closed};
	struct mfs_peer_config cfg = {.static_sk = h->sk, .max_requests = HOG_IN_FLIGHT,
				      .bind_addr = (const struct sockaddr *)&c->from};

	c->next_request = 0;
	/* A refused dial comes back through on_closed (and is dialled again). */
	if (mfs_peer_connect(&c->peer, mfs_loop_uv(h->loop), (const struct sockaddr *)&h->to,
			     h->pk, &cfg, &cb, c) != 0)
		later(c);
}

static int start_all(void *arg)
{
	struct hostile *h = arg;

	for (int i = 0; i < h->n; i++) {
		struct conn *c = &h->conns[i];

		c->h = h;
		c->from.sin_family = AF_INET;
		c->from.sin_addr.s_addr = htonl(0x7f000001u | (uint32_t)(i + 1) << 8);
		uv_timer_init(mfs_loop_uv(h->loop), &c->redial);
		c->redial.data = c;
		dial(c);
	}
	return 0;
}

static int stop_all(void *arg)
{
	struct hostile *h = arg;

	h->stopping = 1;
	for (int i = 0; i < h->n; i++) {
		struct conn *c = &h->conns[i];

		uv_timer_stop(&c->redial);
		if (c->peer)
			mfs_peer_close(c->peer, 0, 0, NULL);
		raw_close(c);
	}
	return 0;
}

/* ---- hog: the blob ids of a copy of the seeder's store ---- */

static int add_id(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins)
{
	struct hostile *h = ctx;

	(void)size;
	(void)pins;
	if (h->n_ids < HOG_IDS)
		memcpy(h->ids[h->n_ids++], id, MFS_BLOB_ID_BYTES);
	return 0;
}

static int load_ids(struct hostile *h, const char *dir, const char *password)
{
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_vtxn *t = NULL;
	int rc = (h->ids = calloc(HOG_IDS, MFS_BLOB_ID_BYTES)) ? 0 : -ENOMEM;

	if (rc == 0)
		rc = mfs_store_open(&store, dir);
	if (rc == 0)
		rc = mfs_volume_open(&vol, store, password, strlen(password), NULL, 0);
	if (rc == 0)
		rc = mfs_vtxn_begin(vol, 0, &t);
	if (rc == 0) {
		rc = mfs_blob_foreach(t, add_id, h);
		mfs_vtxn_abort(t);
	}
	if (rc == 0 && h->n_ids == 0)
		rc = MFS_E_NOTFOUND;
	mfs_volume_close(vol);
	mfs_store_close(store);
	return rc;
}

int main(int argc, char **argv)
{
	static struct hostile h;
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;
	const char *key;
	sigset_t stop;
	int sig, rc = 0;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: %s idle|silent|junk|want|body|hog HOST:PORT#KEY N "
			"[STORE PASSWORD]\n", argv[0]);
		return 2;
	}
	h.mode = (enum mode)-1;
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (strcmp(argv[1], mode_names[i]) == 0)
			h.mode = (enum mode)i;
	h.n = atoi(argv[3]);
	key = strchr(argv[2], '#');
	if ((int)h.mode < 0 || h.n < 1 || h.n > MAX_CONNS || !key ||
	    mfs_hex_decode(h.pk, sizeof h.pk, key + 1) != 0 ||
	    mfs_hostport_parse(host, &port, argv[2], (size_t)(key - argv[2]), 0) != 0 ||
	    inet_pton(AF_INET, host, &h.to.sin_addr) != 1 || (h.mode == HOG && argc != 6)) {
		fprintf(stderr, "%s: bad arguments (a mode, 127.0.0.1:PORT#KEY, 1 to %d; hog "
			"needs STORE PASSWORD)\n", argv[0], MAX_CONNS);
		return 2;
	}
	h.to.sin_family = AF_INET;
	h.to.sin_port = htons(port);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (mfs_crypto_init() != 0 || !(h.sk = mfs_secure_alloc(MFS_NOISE_KEY_BYTES)) ||
	    !(h.want_ids = malloc(MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES)) ||
	    !(h.body = malloc(BODY_BYTES)))
		rc = -ENOMEM;
	if (rc == 0) {
		uint8_t pk[MFS_NOISE_KEY_BYTES];

		mfs_noise_keypair(pk, h.sk);
		mfs_random(h.want_ids, MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES);
		mfs_random(h.body, BODY_BYTES);
		if (h.mode == HOG)
			rc = load_ids(&h, argv[4], argv[5]);
	}
	if (rc == 0)
		rc = mfs_loop_start(&h.loop);
	if (rc == 0)
		rc = mfs_loop_call(h.loop, start_all, &h);
	if (rc == 0) {
		sigwait(&stop, &sig);
		mfs_loop_call(h.loop, stop_all, &h);
		printf("%s: %lu dials, %lu handshakes, %lu closed by the node, %lu messages sent\n",
		       mode_names[h.mode], h.dials, h.handshakes, h.closes, h.sent);
	} else {
		fprintf(stderr, "mfs-bench-hostile: %s\n", mfs_strerror(rc));
	}
	mfs_loop_stop(h.loop);
	mfs_secure_free(h.sk);
	free(h.want_ids);
	free(h.body);
	free(h.ids);
	return rc ? 1 : 0;
}
