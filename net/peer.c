#include "net/peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/dial.h"
#include "net/peer_link.h"
#include "net/tls_link.h"
#include "net/tcpopt.h"

#define LEN_BYTES 2u /* the length before each Noise message */
#define FRAME_MAX (LEN_BYTES + MFS_NOISE_MAX_MSG)
#define FRAME_OVERHEAD (LEN_BYTES + MFS_NOISE_TAG_BYTES)
#define PIECE MFS_NOISE_MAX_PLAIN /* plaintext bytes per transport message */
#define HS_MSG_MAX MFS_NOISE_XX_MSG2_OVERHEAD /* the largest, with empty payloads */
#define HANDSHAKE_TIMEOUT_MS 10000u
/* How long a closing connection may take to flush its queue and see the
 * peer's end of stream before it is cut. */
#define LINGER_MS 2000u
#define WRITE_BATCH 64 /* queued blocks per uv_write */
#define SMALL_BODY 64u /* bodies up to this size need no allocation */

enum { H_TCP = 1, H_DEADLINE = 2, H_IDLE = 4 };

/* One queued message (or handshake message): its Noise messages, each with
 * its length, ready for the socket. */
struct out_block {
	struct out_block *next;
	size_t len;
	uint8_t bytes[];
};

/* What a queued block holds of memory, as queued and the budget count it:
 * its bytes and its head (a flood of small messages, CANCELLED's 27 bytes
 * each, held twice as much as their bytes alone). */
static size_t block_cost(const struct out_block *b)
{
	return sizeof *b + b->len;
}

struct mfs_peer {
	struct mfs_dial dial;  /* its tcp is the connection's stream, dialled or accepted */
	struct mfs_peer_link link;  /* the bytes on that stream: plain, or net/tls_link */
	uv_timer_t deadline; /* the handshake timeout, then the close linger */
	uv_timer_t idle;
	unsigned handles;      /* H_* initialised and not yet closed */

	struct mfs_peer_callbacks cb;
	void *ctx;
	struct mfs_peer_budget *budget; /* may be NULL */
	uint16_t listen_port;
	uint16_t max_requests;
	unsigned idle_ms;
	unsigned handshake_ms;
	uint64_t last_rx;      /* uv_now of the last byte received */

	int initiator;
	int has_expected;
	uint8_t expected_pk[MFS_NOISE_KEY_BYTES];
	uint8_t remote_pk[MFS_NOISE_KEY_BYTES];
	struct mfs_wire_hello remote_hello;
	struct mfs_noise_hs *hs;          /* until the split */
	struct mfs_noise_transport *tx;   /* after it */

	int connected;         /* the link is open: bytes flow */
	int ready;             /* both hellos through */
	int closing;           /* no callback but closed from now on */
	int shutting;          /* uv_shutdown issued */
	int hard;              /* uv_close issued */
	int silent;            /* setup failed: free with no closed callback */
	int reason;
	char dial_why[160];    /* why the dial failed; "" when it did not */
	int dial_refused;      /* the dial's answer was a refusal */

	struct out_block *out_head, *out_tail;
	size_t queued;         /* bytes in the blocks below */
	unsigned writing;      /* blocks at out_head in the uv_write under way */
	int over_soft;         /* queued passed MFS_PEER_QUEUE_SOFT since drained */
	size_t low_mark;       /* drained once queued falls below it (0: not asked) */
	uint64_t sent, received;
	uint64_t read_bytes;   /* from the socket, as they come */

	/* The message being reassembled: its head, then its body. */
	uint8_t head[MFS_WIRE_HEAD_BYTES];
	size_t head_got;
	enum mfs_wire_type body_type;
	uint8_t *body;         /* small_body or malloc'ed, exactly body_len */
	size_t body_charged;   /* of body_len, charged to the budget */
	size_t body_len, body_got;
	uint8_t small_body[SMALL_BODY];

	/* Bytes received and not yet taken: at most one whole Noise message. */
	size_t rx_len;
	uint8_t rx[FRAME_MAX];
};

static void put_be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t get_be16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* ---- the budget ---- */

/* Raises b->peak to used when it is higher. */
static void note_peak(struct mfs_peer_budget *b, size_t used)
{
	size_t peak = __atomic_load_n(&b->peak, __ATOMIC_RELAXED);

	while (used > peak && !__atomic_compare_exchange_n(&b->peak, &peak, used, 1,
							   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void mfs_peer_budget_charge(struct mfs_peer_budget *b, size_t n)
{
	if (b && n)
		note_peak(b, __atomic_add_fetch(&b->used, n, __ATOMIC_RELAXED));
}

int mfs_peer_budget_try(struct mfs_peer_budget *b, size_t n)
{
	size_t used;

	if (!b)
		return 0;
	used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
	do {
		if (b->limit && (n > b->limit || used > b->limit - n)) {
			__atomic_add_fetch(&b->refused, 1, __ATOMIC_RELAXED);
			return -ENOBUFS;
		}
	} while (!__atomic_compare_exchange_n(&b->used, &used, used + n, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	note_peak(b, used + n);
	return 0;
}

void mfs_peer_budget_release(struct mfs_peer_budget *b, size_t n)
{
	if (b && n)
		__atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
}

size_t mfs_peer_budget_used(const struct mfs_peer_budget *b)
{
	return b ? __atomic_load_n(&b->used, __ATOMIC_RELAXED) : 0;
}

/* ---- closing ---- */

static void free_peer(struct mfs_peer *p)
{
	struct out_block *b, *next;

	for (b = p->out_head; b; b = next) {
		next = b->next;
		mfs_peer_budget_release(p->budget, block_cost(b));
		free(b);
	}
	if (p->body != p->small_body)
		free(p->body);
	mfs_peer_budget_release(p->budget, p->body_charged);
	mfs_noise_hs_free(p->hs);
	mfs_noise_transport_free(p->tx);
	mfs_peer_link_free(&p->link);
	/* rx and small_body held plaintext. */
	mfs_memzero(p, sizeof *p);
	free(p);
}

static void handle_gone(struct mfs_peer *p, unsigned handle)
{
	p->handles &= ~handle;
	if (p->handles)
		return;
	if (!p->silent && p->cb.closed)
		p->cb.closed(p, p->reason, p->ctx);
	free_peer(p);
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct mfs_peer_link *l = h->data; /* the stream's data is its link's */

	handle_gone(l->owner, H_TCP);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct mfs_peer *p = h->data;

	handle_gone(p, h == (uv_handle_t *)&p->deadline ? H_DEADLINE : H_IDLE);
}

/* Closes every handle now (pending writes are cancelled); the last close
 * callback tells the owner. The first reason given wins. */
static void hard_close(struct mfs_peer *p, int reason)
{
	if (!p->closing) {
		p->closing = 1;
		p->reason = reason;
	}
	if (p->hard)
		return;
	p->hard = 1;
	if (p->handles & H_TCP)
		uv_close((uv_handle_t *)&p->dial.tcp, on_tcp_closed);
	if (p->handles & H_DEADLINE)
		uv_close((uv_handle_t *)&p->deadline, on_handle_closed);
	if (p->handles & H_IDLE)
		uv_close((uv_handle_t *)&p->idle, on_handle_closed);
}

static void on_shut(struct mfs_peer_link *l, int status)
{
	struct mfs_peer *p = l->owner;

	/* Success: wait for the peer's end of stream (or the linger timer). */
	if (status < 0)
		hard_close(p, status);
}

static void start_shutdown(struct mfs_peer *p)
{
	int err;

	if (p->shutting || p->hard)
		return;
	p->shutting = 1;
	err = mfs_peer_link_shutdown(&p->link);
	if (err)
		hard_close(p, err);
}

static int queue_message(struct mfs_peer *p, const struct mfs_wire_msg *m);

/* Queues ERROR(code, why), why cut to MFS_WIRE_MAX_TEXT bytes at a
 * character boundary. Best effort: a why that is not UTF-8 sends nothing. */
static void queue_error(struct mfs_peer *p, uint16_t code, const char *why)
{
	size_t len = strlen(why);
	struct mfs_wire_msg m = { .type = MFS_WIRE_ERROR, .code = code };

	if (len > MFS_WIRE_MAX_TEXT) {
		len = MFS_WIRE_MAX_TEXT;
		while (len && ((uint8_t)why[len] & 0xc0) == 0x80)
			len--;
	}
	m.data = (const uint8_t *)why;
	m.len = len;
	(void)queue_message(p, &m);
}

static void on_deadline(uv_timer_t *t);

/* Closes after what is queued (and ERROR when why is not NULL) is written,
 * then half-closes and waits for the peer's end of stream, at most
 * LINGER_MS. Without a transport there is nothing to flush. */
static void close_gracefully(struct mfs_peer *p, int reason, uint16_t code, const char *why)
{
	int err;

	if (p->closing)
		return;
	if (!p->tx || !p->connected) {
		hard_close(p, reason);
		return;
	}
	p->closing = 1;
	p->reason = reason;
	uv_timer_stop(&p->idle);
	if (why)
		queue_error(p, code, why);
	if (p->hard)
		return;
	err = uv_timer_start(&p->deadline, on_deadline, LINGER_MS, 0);
	if (err) {
		hard_close(p, err);
		return;
	}
	if (!p->writing && !p->out_head)
		start_shutdown(p);
}

/* The one way a failure closes: a malformed message earns an ERROR first,
 * and so does one that does not fit in memory. */
static void fail(struct mfs_peer *p, int err)
{
	if (err == MFS_E_FORMAT)
		close_gracefully(p, err, MFS_WIRE_ERR_PROTOCOL, "malformed or unexpected message");
	else if (err == -ENOBUFS)
		close_gracefully(p, err, MFS_WIRE_ERR_BUSY, "no memory for that message now");
	else
		hard_close(p, err);
}

static void on_deadline(uv_timer_t *t)
{
	struct mfs_peer *p = t->data;

	/* Closing: the linger is over. Otherwise: the handshake took too long,
	 * or the dial (a proxy that accepts and never answers). */
	if (!p->closing && p->initiator && !p->connected)
		snprintf(p->dial_why, sizeof p->dial_why, "%s did not connect within %u ms",
			 p->dial.through_proxy ? "the proxy" : "the peer", p->handshake_ms);
	hard_close(p, -ETIMEDOUT);
}

static void on_idle(uv_timer_t *t)
{
	struct mfs_peer *p = t->data;
	uint64_t quiet = uv_now(t->loop) - p->last_rx;

	if (p->closing)
		return;
	if (quiet >= p->idle_ms) {
		hard_close(p, -ETIMEDOUT);
		return;
	}
	if (uv_timer_start(&p->idle, on_idle, p->idle_ms - quiet, 0))
		hard_close(p, -ETIMEDOUT);
}

/* ---- output ---- */

/* Hands the queue's first blocks to one uv_write, unless one is under way. */
static void pump(struct mfs_peer *p)
{
	uv_buf_t bufs[WRITE_BATCH];
	unsigned n = 0;
	int err;

	if (p->writing || !p->connected || p->hard)
		return;
	for (struct out_block *b = p->out_head; b && n < WRITE_BATCH; b = b->next)
		bufs[n++] = uv_buf_init((char *)b->bytes, (unsigned)b->len);
	if (!n)
		return;
	err = mfs_peer_link_write(&p->link, bufs, n);
	if (err) {
		hard_close(p, err);
		return;
	}
	p->writing = n;
}

static void on_written(struct mfs_peer_link *l, int status)
{
	struct mfs_peer *p = l->owner;

	for (; p->writing; p->writing--) {
		struct out_block *b = p->out_head;

		p->out_head = b->next;
		if (!p->out_head)
			p->out_tail = NULL;
		p->queued -= block_cost(b);
		mfs_peer_budget_release(p->budget, block_cost(b));
		free(b);
	}
	if (status < 0) {
		hard_close(p, status); /* when closing already, its reason stays */
		return;
	}
	if (p->closing) {
		if (p->out_head)
			pump(p);
		else
			start_shutdown(p);
		return;
	}
	pump(p);
	if (!p->closing && ((p->over_soft && p->queued < MFS_PEER_QUEUE_SOFT / 2) ||
			    (p->low_mark && p->queued < p->low_mark))) {
		p->over_soft = 0;
		p->low_mark = 0;
		if (p->cb.drained)
			p->cb.drained(p, p->ctx);
	}
}

static void append(struct mfs_peer *p, struct out_block *b)
{
	b->next = NULL;
	if (p->out_tail)
		p->out_tail->next = b;
	else
		p->out_head = b;
	p->out_tail = b;
	p->queued += block_cost(b);
	mfs_peer_budget_charge(p->budget, block_cost(b));
	if (p->queued > MFS_PEER_QUEUE_SOFT)
		p->over_soft = 1;
	pump(p);
}

/* Queues a handshake message: its length, then msg. */
static int queue_hs_message(struct mfs_peer *p, const uint8_t *msg, size_t len)
{
	struct out_block *b = malloc(sizeof *b + LEN_BYTES + len);

	if (!b)
		return -ENOMEM;
	b->len = LEN_BYTES + len;
	put_be16(b->bytes, len);
	memcpy(b->bytes + LEN_BYTES, msg, len);
	append(p, b);
	return 0;
}

/* Encodes m and cuts it into transport messages, all in one block:
 *
 *   len | ciphertext(piece 0) tag | len | ciphertext(piece 1) tag | ...
 *
 * The plaintext is encoded at the block's end, FRAME_OVERHEAD bytes per
 * piece from its start; each piece then moves down to its frame and is
 * encrypted in place. Frame i ends at or before piece i+1 starts, so no
 * piece is overwritten before it moves, and no second buffer is needed.
 * A failed encryption breaks the stream (nonces were used): it closes. */
static int queue_message(struct mfs_peer *p, const struct mfs_wire_msg *m)
{
	size_t plain = mfs_wire_encoded_len(m), frames, spare;
	struct out_block *b;
	int err;

	if (!plain)
		return MFS_E_FORMAT;
	frames = (plain + PIECE - 1) / PIECE;
	spare = frames * FRAME_OVERHEAD;
	b = malloc(sizeof *b + spare + plain);
	if (!b)
		return -ENOMEM;
	b->len = spare + plain;
	if (mfs_wire_encode(b->bytes + spare, plain, m) != plain) {
		free(b);
		return MFS_E_FORMAT;
	}
	for (size_t i = 0; i < frames; i++) {
		size_t piece = plain - i * PIECE < PIECE ? plain - i * PIECE : PIECE;
		uint8_t *frame = b->bytes + i * (PIECE + FRAME_OVERHEAD);

		memmove(frame + LEN_BYTES, b->bytes + spare + i * PIECE, piece);
		put_be16(frame, piece + MFS_NOISE_TAG_BYTES);
		err = mfs_noise_encrypt(p->tx, frame + LEN_BYTES, frame + LEN_BYTES, piece);
		if (err) {
			free(b);
			hard_close(p, err);
			return err;
		}
	}
	p->sent += plain;
	append(p, b);
	return 0;
}

static int send_hello(struct mfs_peer *p, enum mfs_wire_type type)
{
	struct mfs_wire_msg m = {
		.type = type,
		.hello = { MFS_WIRE_VERSION, p->listen_port, p->max_requests },
	};

	return queue_message(p, &m);
}

/* ---- the handshake ---- */

/* Noise failures as close reasons: authentication stays, the rest (a bad
 * length, a payload where none belongs, a message out of turn) is format. */
static int hs_error(int err)
{
	return err == MFS_E_AUTH || err == -ENOMEM ? err : MFS_E_FORMAT;
}

static int write_hs_message(struct mfs_peer *p)
{
	uint8_t msg[HS_MSG_MAX];
	size_t len;
	int err = mfs_noise_hs_write(p->hs, msg, sizeof msg, &len, NULL, 0);

	return err ? hs_error(err) : queue_hs_message(p, msg, len);
}

static int split(struct mfs_peer *p)
{
	uint8_t hash[MFS_NOISE_HASH_BYTES];
	int err = mfs_noise_hs_split(p->hs, &p->tx, hash, p->remote_pk);

	mfs_memzero(hash, sizeof hash);
	mfs_noise_hs_free(p->hs);
	p->hs = NULL;
	return err;
}

/* The initiator has read message 2: it makes message 3 and splits, but
 * sends message 3 only when the responder's key is the one expected, so
 * a wrong responder learns nothing of this side. */
static int initiator_finish(struct mfs_peer *p)
{
	uint8_t msg3[HS_MSG_MAX];
	size_t len;
	int err = mfs_noise_hs_write(p->hs, msg3, sizeof msg3, &len, NULL, 0);

	if (err)
		return hs_error(err);
	err = split(p);
	if (err)
		return err;
	if (p->has_expected && !mfs_memeq(p->remote_pk, p->expected_pk, MFS_NOISE_KEY_BYTES))
		return MFS_E_AUTH;
	err = queue_hs_message(p, msg3, len);
	return err ? err : send_hello(p, MFS_WIRE_HANDSHAKE);
}

static int handshake_frame(struct mfs_peer *p, const uint8_t *msg, size_t len)
{
	size_t payload_len;
	int err = mfs_noise_hs_read(p->hs, NULL, 0, &payload_len, msg, len);

	if (err)
		return hs_error(err);
	if (p->initiator)
		return initiator_finish(p);
	if (!mfs_noise_hs_done(p->hs))
		return write_hs_message(p); /* message 2 */
	return split(p);                    /* then wait for HANDSHAKE */
}

/* ---- incoming messages ---- */

static void release_body(struct mfs_peer *p)
{
	if (p->body != p->small_body)
		free(p->body);
	mfs_peer_budget_release(p->budget, p->body_charged);
	p->body_charged = 0;
	p->body = NULL;
	p->head_got = 0;
}

/* Whether a message of this type and length may come now, decided from its
 * head alone: before ready only the hello this side waits for (or, to an
 * initiator, the responder's ERROR); after, no hello, and what the owner
 * admits. Then room for the body. 0, MFS_E_FORMAT, -ENOBUFS or the owner's
 * error. */
static int admit(struct mfs_peer *p, enum mfs_wire_type type, size_t body_len)
{
	int err;

	if (!p->ready) {
		enum mfs_wire_type want = p->initiator ? MFS_WIRE_HANDSHAKE_ACK
						       : MFS_WIRE_HANDSHAKE;

		if (type != want && !(p->initiator && type == MFS_WIRE_ERROR))
			return MFS_E_FORMAT;
	} else if (type == MFS_WIRE_HANDSHAKE || type == MFS_WIRE_HANDSHAKE_ACK) {
		return MFS_E_FORMAT;
	} else if (p->cb.admit && (err = p->cb.admit(p, type, body_len, p->ctx)) != 0) {
		return err;
	}
	if (body_len > SMALL_BODY) {
		if ((err = mfs_peer_budget_try(p->budget, body_len)) != 0)
			return err;
		p->body_charged = body_len;
	}
	return 0;
}

static int become_ready(struct mfs_peer *p)
{
	p->ready = 1;
	uv_timer_stop(&p->deadline);
	if (p->cb.ready)
		p->cb.ready(p, p->ctx);
	return 0;
}

static int take_hello(struct mfs_peer *p, const struct mfs_wire_msg *m)
{
	enum mfs_wire_type want = p->initiator ? MFS_WIRE_HANDSHAKE_ACK : MFS_WIRE_HANDSHAKE;
	int err;

	/* The responder's refusal of our version, instead of its ACK. */
	if (p->initiator && m->type == MFS_WIRE_ERROR && m->code == MFS_WIRE_ERR_VERSION)
		return -EPROTONOSUPPORT;
	if (m->type != want)
		return MFS_E_FORMAT;
	if (m->hello.version != MFS_WIRE_VERSION) {
		close_gracefully(p, -EPROTONOSUPPORT, MFS_WIRE_ERR_VERSION,
				 "unsupported wire version");
		return 0;
	}
	p->remote_hello = m->hello;
	if (!p->initiator) {
		err = send_hello(p, MFS_WIRE_HANDSHAKE_ACK);
		if (err || p->closing)
			return err;
	}
	return become_ready(p);
}

static int deliver(struct mfs_peer *p)
{
	struct mfs_wire_msg m;
	int err = mfs_wire_parse(&m, p->body_type, p->body, p->body_len);

	if (!err) {
		p->received += MFS_WIRE_HEAD_BYTES + p->body_len;
		if (!p->ready)
			err = take_hello(p, &m);
		else if (m.type == MFS_WIRE_HANDSHAKE || m.type == MFS_WIRE_HANDSHAKE_ACK)
			err = MFS_E_FORMAT;
		else if (p->cb.message)
			p->cb.message(p, &m, p->ctx);
	}
	release_body(p);
	return err;
}

/* Feeds decrypted bytes to the reassembler: a head, then its body. */
static int feed(struct mfs_peer *p, const uint8_t *in, size_t len)
{
	int err;

	while (len && !p->closing) {
		size_t n;

		if (p->head_got < MFS_WIRE_HEAD_BYTES) {
			n = MFS_WIRE_HEAD_BYTES - p->head_got;
			n = n < len ? n : len;
			memcpy(p->head + p->head_got, in, n);
			p->head_got += n;
			in += n;
			len -= n;
			if (p->head_got < MFS_WIRE_HEAD_BYTES)
				break;
			err = mfs_wire_head_parse(p->head, &p->body_type, &p->body_len);
			if (!err)
				err = admit(p, p->body_type, p->body_len);
			if (err)
				return err;
			/* Bounded by the head's checks; the pages of a large
			 * body are touched only as its bytes arrive. */
			p->body = p->body_len <= SMALL_BODY ? p->small_body : malloc(p->body_len);
			if (!p->body)
				return -ENOMEM;
			p->body_got = 0;
		} else {
			n = p->body_len - p->body_got;
			n = n < len ? n : len;
			memcpy(p->body + p->body_got, in, n);
			p->body_got += n;
			in += n;
			len -= n;
		}
		if (p->body_got == p->body_len) {
			err = deliver(p);
			if (err)
				return err;
		}
	}
	return 0;
}

static int transport_frame(struct mfs_peer *p, uint8_t *msg, size_t len)
{
	size_t plain;
	int err;

	if (len < MFS_NOISE_TAG_BYTES)
		return MFS_E_FORMAT;
	plain = len - MFS_NOISE_TAG_BYTES;
	/* A piece wholly inside the body decrypts straight into it. */
	if (p->head_got == MFS_WIRE_HEAD_BYTES && plain &&
	    p->body_len - p->body_got >= plain) {
		err = mfs_noise_decrypt(p->tx, p->body + p->body_got, msg, len);
		if (err)
			return err;
		p->body_got += plain;
		return p->body_got == p->body_len ? deliver(p) : 0;
	}
	err = mfs_noise_decrypt(p->tx, msg, msg, len);
	return err ? err : feed(p, msg, plain);
}

/* Takes every whole Noise message in rx, keeps the partial rest. */
static int take_frames(struct mfs_peer *p)
{
	size_t off = 0;
	int err = 0;

	while (!err && !p->closing && p->rx_len - off >= LEN_BYTES) {
		size_t len = get_be16(p->rx + off);
		uint8_t *msg = p->rx + off + LEN_BYTES;

		if (p->rx_len - off - LEN_BYTES < len)
			break;
		off += LEN_BYTES + len;
		err = p->tx ? transport_frame(p, msg, len) : handshake_frame(p, msg, len);
	}
	if (err || p->closing) {
		p->rx_len = 0;
		return err;
	}
	memmove(p->rx, p->rx + off, p->rx_len - off);
	p->rx_len -= off;
	return 0;
}

static void on_alloc(struct mfs_peer_link *l, uv_buf_t *buf)
{
	struct mfs_peer *p = l->owner;

	/* Never full: a full rx holds a whole message, taken on each read. */
	*buf = uv_buf_init((char *)p->rx + p->rx_len, (unsigned)(sizeof p->rx - p->rx_len));
}

static void on_read(struct mfs_peer_link *l, ssize_t nread)
{
	struct mfs_peer *p = l->owner;
	int err;

	if (nread < 0) {
		int clean = p->ready && !p->rx_len && !p->head_got;

		if (nread != UV_EOF)
			hard_close(p, (int)nread);
		else
			hard_close(p, clean ? 0 : -ECONNRESET);
		return;
	}
	if (p->closing) { /* lingering: nothing more is read */
		p->rx_len = 0;
		return;
	}
	if (nread == 0)
		return;
	p->last_rx = uv_now(p->dial.tcp.loop);
	p->read_bytes += (uint64_t)nread;
	p->rx_len += (size_t)nread;
	err = take_frames(p);
	if (err)
		fail(p, err);
}

/* ---- setup ---- */

static int start_io(struct mfs_peer *p)
{
	int err;

	p->connected = 1;
	err = mfs_peer_link_read_start(&p->link);
	p->last_rx = uv_now(p->dial.tcp.loop);
	if (!err && p->idle_ms)
		err = uv_timer_start(&p->idle, on_idle, p->idle_ms, 0);
	return err;
}

/* The link is open (at once for plain TCP; after TLS and the upgrade for
 * tls): the Noise handshake starts, the initiator writing message 1. */
static void on_opened(struct mfs_peer_link *l, int status)
{
	struct mfs_peer *p = l->owner;
	int err = status;

	if (p->closing)
		return;
	if (!err)
		err = start_io(p);
	if (!err && p->initiator)
		err = write_hs_message(p); /* message 1 */
	if (err)
		fail(p, err);
}

/* The stream is connected: the link opens on it. */
static int open_link(struct mfs_peer *p)
{
	int err;

	(void)mfs_tcp_bound_backoff(&p->dial.tcp); /* best effort: see net/tcpopt.h */
	(void)mfs_tcp_limit_unsent(&p->dial.tcp);
	err = uv_tcp_nodelay(&p->dial.tcp, 1);
	return err ? err : mfs_peer_link_open(&p->link);
}

static void on_dialled(struct mfs_dial *d, int status, const char *why, void *ctx)
{
	struct mfs_peer *p = ctx;
	int err;

	(void)d;
	if (p->closing) /* also a cancelled dial */
		return;
	if (status < 0) {
		snprintf(p->dial_why, sizeof p->dial_why, "%s", why);
		p->dial_refused = 1;
		hard_close(p, status);
		return;
	}
	err = open_link(p);
	if (err)
		fail(p, err);
}

static const struct mfs_peer_link_callbacks link_callbacks = {
	.opened = on_opened,
	.alloc = on_alloc,
	.read = on_read,
	.written = on_written,
	.shut = on_shut,
};

static int new_peer(struct mfs_peer **out, uv_loop_t *loop, int initiator,
		    const uint8_t *expected_pk, const struct mfs_peer_config *config,
		    const struct mfs_peer_callbacks *cb, void *ctx)
{
	static const char prologue[] = MFS_PEER_PROLOGUE;
	struct mfs_peer *p = calloc(1, sizeof *p);
	int err;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	err = mfs_noise_hs_new(&p->hs, initiator, config->static_sk, (const uint8_t *)prologue,
			       sizeof prologue - 1);
	if (!err)
		err = uv_tcp_init(loop, &p->dial.tcp);
	if (err) {
		free_peer(p);
		return err;
	}
	p->handles = H_TCP;
	if (config->tls)
		err = mfs_tls_link_init(&p->link, &p->dial.tcp, config->tls, initiator, expected_pk,
					config->static_sk, &link_callbacks, p);
	else
		mfs_peer_link_tcp(&p->link, &p->dial.tcp, &link_callbacks, p);
	if (uv_timer_init(loop, &p->deadline) == 0)
		p->handles |= H_DEADLINE;
	if (uv_timer_init(loop, &p->idle) == 0)
		p->handles |= H_IDLE;
	p->deadline.data = p;
	p->idle.data = p;
	p->cb = *cb;
	p->ctx = ctx;
	p->budget = config->budget;
	p->listen_port = config->listen_port;
	p->max_requests = config->max_requests;
	p->idle_ms = config->idle_timeout_ms;
	p->initiator = initiator;
	if (expected_pk) {
		p->has_expected = 1;
		memcpy(p->expected_pk, expected_pk, MFS_NOISE_KEY_BYTES);
	}
	*out = p;
	if (err)
		return err;
	if (p->handles != (H_TCP | H_DEADLINE | H_IDLE))
		return -ENOMEM;
	p->handshake_ms = config->handshake_timeout_ms ? config->handshake_timeout_ms
						       : HANDSHAKE_TIMEOUT_MS;
	return uv_timer_start(&p->deadline, on_deadline, p->handshake_ms, 0);
}

/* A setup failure after handles exist: they close, the peer is freed with
 * no callback, the caller gets err. */
static int abandon(struct mfs_peer *p, int err)
{
	p->silent = 1;
	hard_close(p, err);
	return err;
}

int mfs_peer_connect(struct mfs_peer **out, uv_loop_t *loop, const struct sockaddr *addr,
		     const uint8_t *expected_pk, const struct mfs_peer_config *config,
		     const struct mfs_peer_callbacks *cb, void *ctx)
{
	struct mfs_peer *p;
	int err = new_peer(&p, loop, 1, expected_pk, config, cb, ctx);

	*out = NULL;
	if (err)
		return p ? abandon(p, err) : err;
	if (config->bind_addr && (err = uv_tcp_bind(&p->dial.tcp, config->bind_addr, 0)) != 0)
		return abandon(p, err);
	err = mfs_dial_start(&p->dial, addr, config->proxy, on_dialled, p);
	if (err)
		return abandon(p, err);
	*out = p;
	return 0;
}

int mfs_peer_accept(struct mfs_peer **out, uv_stream_t *server,
		    const struct mfs_peer_config *config, const struct mfs_peer_callbacks *cb,
		    void *ctx)
{
	struct mfs_peer *p;
	int err = new_peer(&p, server->loop, 0, NULL, config, cb, ctx);

	*out = NULL;
	if (err)
		return p ? abandon(p, err) : err;
	err = uv_accept(server, (uv_stream_t *)&p->dial.tcp);
	if (!err)
		err = open_link(p);
	if (err)
		return abandon(p, err);
	*out = p;
	return 0;
}

/* ---- the owner's calls ---- */

int mfs_peer_send(struct mfs_peer *p, const struct mfs_wire_msg *m)
{
	if (!p->ready || p->closing)
		return -ENOTCONN;
	/* The hellos are this module's; a second one would be refused. */
	if (m->type == MFS_WIRE_HANDSHAKE || m->type == MFS_WIRE_HANDSHAKE_ACK)
		return MFS_E_FORMAT;
	return queue_message(p, m);
}

size_t mfs_peer_queued(const struct mfs_peer *p)
{
	return p->queued;
}

void mfs_peer_drained_below(struct mfs_peer *p, size_t mark)
{
	p->low_mark = mark;
}

size_t mfs_peer_kernel_backlog(const struct mfs_peer *p)
{
	return p->connected ? mfs_peer_link_backlog(&p->link) : 0;
}

int mfs_peer_acked(const struct mfs_peer *p, uint64_t *acked, uint32_t *unacked)
{
	if (!p->connected)
		return -ENOTCONN;
	return mfs_tcp_acked((uv_tcp_t *)&p->dial.tcp, acked, unacked);
}

size_t mfs_peer_memory(const struct mfs_peer *p)
{
	return p->queued + p->body_charged + sizeof *p;
}

void mfs_peer_close(struct mfs_peer *p, int reason, uint16_t code, const char *why)
{
	if (p)
		close_gracefully(p, reason, code, why);
}

void mfs_peer_abort(struct mfs_peer *p, int reason)
{
	if (p)
		hard_close(p, reason);
}

const uint8_t *mfs_peer_remote_key(const struct mfs_peer *p)
{
	return p->remote_pk;
}

const struct mfs_wire_hello *mfs_peer_hello(const struct mfs_peer *p)
{
	return &p->remote_hello;
}

int mfs_peer_remote_addr(const struct mfs_peer *p, struct sockaddr_storage *out)
{
	int len = (int)sizeof *out;

	return uv_tcp_getpeername(&p->dial.tcp, (struct sockaddr *)out, &len);
}

const char *mfs_peer_dial_why(const struct mfs_peer *p)
{
	return p->dial_why[0] ? p->dial_why : NULL;
}

int mfs_peer_dial_refused(const struct mfs_peer *p)
{
	return p->dial_refused;
}

int mfs_peer_is_initiator(const struct mfs_peer *p)
{
	return p->initiator;
}

uint64_t mfs_peer_read_bytes(const struct mfs_peer *p)
{
	return p->read_bytes;
}

void mfs_peer_counters(const struct mfs_peer *p, uint64_t *sent, uint64_t *received)
{
	*sent = p->sent;
	*received = p->received;
}
