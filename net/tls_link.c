#include "net/tls_link.h"

#include <errno.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/noise.h"
#include "crypto/secure.h"
#include "net/http_head.h"
#include "net/tls.h"
#include "net/ws_frame.h"

#define READ_BUF (64u << 10)   /* ciphertext per read */
#define RECORD 16384u          /* plaintext per SSL_write and SSL_read */
#define FLUSH_AT (1u << 20)    /* ciphertext held before it goes out mid-write */
#define PATH_PREFIX "/live/"
#define PATH_DOMAIN "megafs tls path"

/* What the client offers, in Chrome's order (OpenSSL cannot send GREASE,
 * nor order extensions as Chrome does). */
#define CLIENT_SUITES_13 \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define CLIENT_CIPHERS_12                                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                  \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                  \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                  \
	"ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:"                \
	"AES256-GCM-SHA384:AES128-SHA:AES256-SHA"
#define CLIENT_GROUPS "X25519:P-256:P-384"
#define CLIENT_SIGALGS                                                                \
	"ECDSA+SHA256:rsa_pss_rsae_sha256:RSA+SHA256:ECDSA+SHA384:"                   \
	"rsa_pss_rsae_sha384:RSA+SHA384:rsa_pss_rsae_sha512:RSA+SHA512"
static const unsigned char alpn_offer[] = "\x02h2\x08http/1.1";

enum phase { P_TLS, P_HTTP, P_OPEN, P_REFUSING, P_FAILED };

/* What a finished write of ciphertext does next. */
enum after { A_NOTHING, A_OWNER, A_REFUSED, A_FAIL };

struct tls_state {
	struct mfs_peer_link *l;
	SSL *ssl;
	BIO *net_in;            /* ciphertext read from the socket, for OpenSSL */
	BIO *net_out;           /* ciphertext OpenSSL made, for the socket */
	int initiator;
	enum phase phase;
	int told_opened;
	int reading;            /* the owner's read started */
	int fail_reason;        /* for A_FAIL and A_REFUSED */
	char host[MFS_TLS_LINK_SNI_MAX];
	char path[MFS_TLS_LINK_PATH_TEXT];
	char key[MFS_WS_KEY_TEXT];
	size_t unsent;          /* ciphertext in uv_writes under way */
	struct mfs_ws_reader ws;
	size_t head_got;
	uint8_t head[MFS_HTTP_HEAD_MAX];
	uint8_t plain[RECORD];
	uint8_t cipher_in[READ_BUF];
};

struct tls_write {
	uv_write_t req;
	struct tls_state *t;
	enum after after;
	size_t len;
	uint8_t bytes[];
};

/* ---- the context ---- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	/* As a web server without HTTP/2: http/1.1 when offered, else none. */
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof http11 - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

static int sni_ok(const char *sni)
{
	size_t len = strlen(sni);

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = sni[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int client_ctx(SSL_CTX **out)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	*out = c;
	if (!c)
		return -ENOMEM;
	if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(c, CLIENT_SUITES_13) != 1 ||
	    SSL_CTX_set_cipher_list(c, CLIENT_CIPHERS_12) != 1 ||
	    SSL_CTX_set1_groups_list(c, CLIENT_GROUPS) != 1 ||
	    SSL_CTX_set1_sigalgs_list(c, CLIENT_SIGALGS) != 1 ||
	    SSL_CTX_set_alpn_protos(c, alpn_offer, sizeof alpn_offer - 1) != 0)
		return -EIO;
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION);
	/* The certificate is not what authenticates the peer: Noise is. */
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	return 0;
}

static int server_ctx(SSL_CTX **out, const char *cert_path, const char *key_path, char *why,
		      size_t why_len)
{
	uint8_t pin[MFS_TLS_PIN_BYTES];
	SSL_CTX *c;
	int rc = mfs_tls_server_check(pin, cert_path, key_path, why, why_len);

	*out = NULL;
	if (rc)
		return rc;
	if (!(c = *out = SSL_CTX_new(TLS_server_method())))
		return -ENOMEM;
	if (mfs_tls_server_setup(c) != 0 ||
	    SSL_CTX_use_certificate_chain_file(c, cert_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		snprintf(why, why_len, "--tls-cert %s, --tls-key %s: OpenSSL refused them",
			 cert_path, key_path);
		return -EIO;
	}
	SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
	return 0;
}

int mfs_tls_link_ctx_init(struct mfs_tls_link_ctx *t, const char *sni, const char *cert_path,
			  const char *key_path, char *why, size_t why_len)
{
	int rc;

	memset(t, 0, sizeof *t);
	why[0] = '\0';
	if (!sni)
		sni = MFS_TLS_LINK_DEFAULT_SNI;
	if (!sni_ok(sni)) {
		snprintf(why, why_len, "--tls-sni %s: a host name (letters, digits, '-', '.')",
			 sni);
		return -EINVAL;
	}
	snprintf(t->sni, sizeof t->sni, "%s", sni);
	rc = client_ctx(&t->client);
	if (!rc && cert_path && key_path)
		rc = server_ctx(&t->server, cert_path, key_path, why, why_len);
	if (rc) {
		if (!why[0])
			snprintf(why, why_len, "OpenSSL refused the TLS settings");
		mfs_tls_link_ctx_clear(t);
	}
	ERR_clear_error();
	return rc;
}

void mfs_tls_link_ctx_clear(struct mfs_tls_link_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->client);
	SSL_CTX_free(t->server);
	t->client = t->server = NULL;
}

void mfs_tls_link_path(char out[static MFS_TLS_LINK_PATH_TEXT], const uint8_t node_pk[static 32])
{
	uint8_t h[16];

	crypto_generichash(h, sizeof h, node_pk, 32, (const uint8_t *)PATH_DOMAIN,
			   sizeof PATH_DOMAIN - 1);
	memcpy(out, PATH_PREFIX, sizeof PATH_PREFIX - 1);
	sodium_bin2base64(out + sizeof PATH_PREFIX - 1,
			  MFS_TLS_LINK_PATH_TEXT - (sizeof PATH_PREFIX - 1), h, sizeof h,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- writing ciphertext ---- */

static void fail(struct tls_state *t, int err);

static int stopped(const struct tls_state *t)
{
	return t->phase == P_FAILED || uv_is_closing((const uv_handle_t *)t->l->tcp);
}

static void on_refused_shut(uv_shutdown_t *req, int status)
{
	struct mfs_peer_link *l = req->data;
	struct tls_state *t = l->impl;

	(void)status;
	fail(t, t->fail_reason);
}

static void on_flushed(uv_write_t *req, int status)
{
	struct tls_write *w = req->data;
	struct tls_state *t = w->t;
	struct mfs_peer_link *l = t->l;
	enum after after = w->after;

	t->unsent -= w->len;
	free(w);
	switch (after) {
	case A_OWNER:
		l->cb->written(l, status);
		break;
	case A_REFUSED:
		/* The page is out: the write side shuts, then the owner closes. */
		l->shutdown_req.data = l;
		if (status < 0 || uv_shutdown(&l->shutdown_req, (uv_stream_t *)l->tcp,
					      on_refused_shut) != 0)
			fail(t, t->fail_reason);
		break;
	case A_FAIL:
		fail(t, t->fail_reason);
		break;
	case A_NOTHING:
		if (status < 0 && status != UV_ECANCELED)
			fail(t, status);
		break;
	}
}

/* Hands what OpenSSL wrote to one uv_write, after which comes after. */
static int flush(struct tls_state *t, enum after after)
{
	size_t len = BIO_ctrl_pending(t->net_out);
	struct tls_write *w;
	uv_buf_t buf;
	int err;

	if (!len && after == A_NOTHING)
		return 0;
	if (!(w = malloc(sizeof *w + len)))
		return -ENOMEM;
	if (len && BIO_read(t->net_out, w->bytes, (int)len) != (int)len) {
		free(w);
		return -EIO;
	}
	w->t = t;
	w->after = after;
	w->len = len;
	w->req.data = w;
	buf = uv_buf_init((char *)w->bytes, (unsigned)len);
	err = uv_write(&w->req, (uv_stream_t *)t->l->tcp, &buf, 1, on_flushed);
	if (err) {
		free(w);
		return err;
	}
	t->unsent += len;
	return 0;
}

static int write_plain(struct tls_state *t, const void *buf, size_t len)
{
	ERR_clear_error();
	if (len && SSL_write(t->ssl, buf, (int)len) != (int)len) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

/* ---- the owner's calls ---- */

/* One binary frame carrying bufs, masked from the client, cut into
 * records of RECORD bytes. */
static int tls_write(struct mfs_peer_link *l, const uv_buf_t bufs[], unsigned n)
{
	struct tls_state *t = l->impl;
	uint8_t mask[4], stage[RECORD];
	uint64_t total = 0, payload_off = 0;
	size_t fill;
	int err = 0;

	if (t->phase != P_OPEN)
		return -ENOTCONN;
	for (unsigned i = 0; i < n; i++)
		total += bufs[i].len;
	if (t->initiator)
		randombytes_buf(mask, sizeof mask);
	fill = mfs_ws_head(stage, MFS_WS_OP_BINARY, total, t->initiator ? mask : NULL);
	for (unsigned i = 0; i < n && !err; i++) {
		const uint8_t *p = (const uint8_t *)bufs[i].base;
		size_t left = bufs[i].len;

		while (left && !err) {
			size_t take = RECORD - fill < left ? RECORD - fill : left;

			memcpy(stage + fill, p, take);
			if (t->initiator)
				mfs_ws_mask(stage + fill, take, mask, (size_t)(payload_off % 4));
			fill += take;
			p += take;
			left -= take;
			payload_off += take;
			if (fill == RECORD) {
				err = write_plain(t, stage, fill);
				fill = 0;
				if (!err && BIO_ctrl_pending(t->net_out) >= FLUSH_AT)
					err = flush(t, A_NOTHING);
			}
		}
	}
	if (!err)
		err = write_plain(t, stage, fill);
	mfs_memzero(stage, sizeof stage);
	return err ? err : flush(t, A_OWNER);
}

static void on_owner_shut(uv_shutdown_t *req, int status)
{
	struct mfs_peer_link *l = req->data;

	l->cb->shut(l, status);
}

/* A close frame and close_notify, then the write side shuts. */
static int tls_shutdown(struct mfs_peer_link *l)
{
	struct tls_state *t = l->impl;
	uint8_t head[MFS_WS_HEAD_MAX], mask[4];
	size_t len;
	int err = 0;

	if (t->phase == P_OPEN) {
		randombytes_buf(mask, sizeof mask);
		len = mfs_ws_head(head, MFS_WS_OP_CLOSE, 0, t->initiator ? mask : NULL);
		err = write_plain(t, head, len);
		if (!err)
			(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
		if (!err)
			err = flush(t, A_NOTHING);
	}
	if (err)
		return err;
	l->shutdown_req.data = l;
	return uv_shutdown(&l->shutdown_req, (uv_stream_t *)l->tcp, on_owner_shut);
}

static size_t tls_backlog(const struct mfs_peer_link *l)
{
	const struct tls_state *t = l->impl;

	return t->unsent + mfs_peer_link_socket_backlog(l);
}

static void tls_free(struct mfs_peer_link *l)
{
	struct tls_state *t = l->impl;

	if (!t)
		return;
	SSL_free(t->ssl); /* and its BIOs */
	mfs_memzero(t, sizeof *t);
	free(t);
	l->impl = NULL;
}

/* ---- reading ---- */

/* The link fails: before it opened, the owner hears it as opened's status;
 * after, as a read error. */
static void fail(struct tls_state *t, int err)
{
	struct mfs_peer_link *l = t->l;

	if (t->phase == P_FAILED)
		return;
	t->phase = P_FAILED;
	if (!t->told_opened) {
		t->told_opened = 1;
		l->cb->opened(l, err);
	} else if (t->reading) {
		l->cb->read(l, err);
	}
}

/* Writes the alert or page OpenSSL or this side made, then fails with err
 * (shutting the write side first when refusing). */
static void fail_after_flush(struct tls_state *t, int err, enum after after)
{
	t->fail_reason = err;
	t->phase = P_REFUSING;
	if (flush(t, after) != 0)
		fail(t, err);
}

static void open_now(struct tls_state *t)
{
	t->phase = P_OPEN;
	t->told_opened = 1;
	t->l->cb->opened(t->l, 0);
}

/* Hands data to the owner, as much at a time as its buffer takes. */
static void deliver(struct tls_state *t, const uint8_t *data, size_t len)
{
	struct mfs_peer_link *l = t->l;

	while (len && !stopped(t)) {
		uv_buf_t buf;
		size_t n;

		l->cb->alloc(l, &buf);
		if (!buf.len) { /* an owner that takes nothing would never end */
			fail(t, -ENOBUFS);
			return;
		}
		n = buf.len < len ? buf.len : len;
		memcpy(buf.base, data, n);
		data += n;
		len -= n;
		l->cb->read(l, (ssize_t)n);
	}
}

static void take_frames(struct tls_state *t, uint8_t *buf, size_t len)
{
	while (len && !stopped(t)) {
		size_t used, off, n;
		int rc = mfs_ws_read(&t->ws, buf, len, &used, &off, &n);

		if (rc < 0) {
			fail(t, rc);
			return;
		}
		if (rc == 1) { /* a close frame: the end of the stream */
			if (t->reading)
				t->l->cb->read(t->l, UV_EOF);
			t->phase = P_FAILED;
			return;
		}
		if (n && !t->reading) { /* nothing comes before the owner reads */
			fail(t, MFS_E_FORMAT);
			return;
		}
		deliver(t, buf + off, n);
		buf += used;
		len -= used;
	}
}

/* The server read a whole request head: the upgrade, or a web page. */
static void take_request(struct tls_state *t, size_t head_len)
{
	struct mfs_http_request req;
	char out[2048];
	size_t len;
	int bad = mfs_http_request_parse(&req, t->head, head_len) != 0;

	if (!bad && mfs_http_request_is_upgrade(&req, t->path)) {
		len = mfs_http_upgrade_answer(out, sizeof out, req.key);
		if (!len || write_plain(t, out, len) != 0 || flush(t, A_NOTHING) != 0) {
			fail(t, -EIO);
			return;
		}
		open_now(t);
		return;
	}
	len = mfs_http_page(out, sizeof out, bad, req.is_head);
	if (len && write_plain(t, out, len) == 0)
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
	fail_after_flush(t, MFS_E_FORMAT, A_REFUSED);
}

/* Plaintext while the heads are read: the server's request, the client's
 * answer; what follows a head is frames. */
static void take_head_bytes(struct tls_state *t, uint8_t *buf, size_t len)
{
	size_t room = sizeof t->head - t->head_got, n = len < room ? len : room, head_len;
	char accept[MFS_WS_ACCEPT_TEXT];

	memcpy(t->head + t->head_got, buf, n);
	t->head_got += n;
	head_len = mfs_http_head_len(t->head, t->head_got);
	if (!head_len) {
		if (t->head_got < sizeof t->head)
			return;
		if (t->initiator)
			fail(t, MFS_E_FORMAT);
		else
			take_request(t, t->head_got); /* too long: a 400 */
		return;
	}
	if (t->initiator) {
		mfs_ws_accept(accept, t->key);
		if (mfs_http_response_check(t->head, head_len, accept) != 0) {
			fail(t, MFS_E_FORMAT);
			return;
		}
		open_now(t);
	} else {
		take_request(t, head_len);
	}
	/* Bytes past the head are the first frames: those kept with it, then
	 * those that did not fit. */
	if (t->phase == P_OPEN)
		take_frames(t, t->head + head_len, t->head_got - head_len);
	if (t->phase == P_OPEN)
		take_frames(t, buf + n, len - n);
}

static int send_request(struct tls_state *t)
{
	char out[1024];
	size_t len;

	mfs_ws_key_new(t->key);
	len = mfs_http_upgrade_request(out, sizeof out, t->host, t->path, t->key);
	if (!len)
		return -EIO;
	return write_plain(t, out, len);
}

/* The TLS handshake is over: TLS 1.3 and http/1.1, or nothing. */
static int handshake_done(struct tls_state *t)
{
	const unsigned char *alpn;
	unsigned alpn_len;

	if (SSL_version(t->ssl) != TLS1_3_VERSION)
		return MFS_E_FORMAT;
	if (t->initiator) {
		SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
		if (alpn_len != 8 || memcmp(alpn, "http/1.1", 8) != 0)
			return MFS_E_FORMAT;
		t->phase = P_HTTP;
		return send_request(t);
	}
	t->phase = P_HTTP;
	return 0;
}

/* Moves the TLS handshake on; 1 while it goes on. */
static int handshake(struct tls_state *t)
{
	int rc, err;

	ERR_clear_error();
	rc = SSL_do_handshake(t->ssl);
	if (rc != 1) {
		err = SSL_get_error(t->ssl, rc);
		ERR_clear_error();
		if (err == SSL_ERROR_WANT_READ) {
			if (flush(t, A_NOTHING) != 0)
				fail(t, -EIO);
			return 1;
		}
		/* An alert for the other side, then the end. */
		fail_after_flush(t, MFS_E_FORMAT, A_FAIL);
		return 1;
	}
	err = handshake_done(t);
	if (!err)
		err = flush(t, A_NOTHING);
	if (err)
		fail(t, err);
	return 0;
}

static void take_plain(struct tls_state *t, uint8_t *buf, size_t len)
{
	if (t->phase == P_HTTP)
		take_head_bytes(t, buf, len);
	else if (t->phase == P_OPEN)
		take_frames(t, buf, len);
}

static void progress(struct tls_state *t)
{
	if (t->phase == P_TLS && handshake(t))
		return;
	while (!stopped(t) && (t->phase == P_HTTP || t->phase == P_OPEN)) {
		int rc, err;

		ERR_clear_error();
		rc = SSL_read(t->ssl, t->plain, sizeof t->plain);
		if (rc > 0) {
			take_plain(t, t->plain, (size_t)rc);
			continue;
		}
		err = SSL_get_error(t->ssl, rc);
		ERR_clear_error();
		if (err == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_ZERO_RETURN && t->phase == P_OPEN && t->reading) {
			t->phase = P_FAILED;
			t->l->cb->read(t->l, UV_EOF);
		} else {
			fail(t, err == SSL_ERROR_ZERO_RETURN ? -ECONNRESET : MFS_E_FORMAT);
		}
		break;
	}
	/* A post-handshake message (a session ticket's ack, a key update)
	 * may have left bytes to send. */
	if (!stopped(t) && t->phase != P_REFUSING && flush(t, A_NOTHING) != 0)
		fail(t, -EIO);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mfs_peer_link *l = h->data;
	struct tls_state *t = l->impl;

	(void)suggested;
	*buf = uv_buf_init((char *)t->cipher_in, sizeof t->cipher_in);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mfs_peer_link *l = s->data;
	struct tls_state *t = l->impl;

	(void)buf;
	if (t->phase == P_FAILED || t->phase == P_REFUSING)
		return; /* what comes now is not read: the end is under way */
	if (nread < 0) {
		if (t->phase == P_OPEN && t->reading) {
			t->phase = P_FAILED;
			l->cb->read(l, nread);
		} else {
			fail(t, nread == UV_EOF ? -ECONNRESET : (int)nread);
		}
		return;
	}
	if (nread == 0)
		return;
	if (BIO_write(t->net_in, t->cipher_in, (int)nread) != (int)nread) {
		fail(t, -ENOMEM);
		return;
	}
	progress(t);
}

static int tls_open(struct mfs_peer_link *l)
{
	struct tls_state *t = l->impl;
	int err = uv_read_start((uv_stream_t *)l->tcp, on_alloc, on_read);

	if (err)
		return err;
	if (!t->initiator)
		return 0; /* the ClientHello comes */
	(void)handshake(t); /* the ClientHello goes */
	return 0;
}

/* The owner reads from now on: it was already reading the stream. */
static int tls_read_start(struct mfs_peer_link *l)
{
	struct tls_state *t = l->impl;

	t->reading = 1;
	return 0;
}

static const struct mfs_peer_link_ops tls_ops = {
	.open = tls_open,
	.read_start = tls_read_start,
	.write = tls_write,
	.shutdown = tls_shutdown,
	.backlog = tls_backlog,
	.free = tls_free,
};

int mfs_tls_link_init(struct mfs_peer_link *l, uv_tcp_t *tcp, const struct mfs_tls_link_ctx *ctx,
		      int initiator, const uint8_t *server_pk, const uint8_t *static_sk,
		      const struct mfs_peer_link_callbacks *cb, void *owner)
{
	uint8_t own_pk[MFS_NOISE_KEY_BYTES];
	struct tls_state *t;

	mfs_peer_link_tcp(l, tcp, cb, owner); /* closable whatever follows */
	if (initiator ? !server_pk || !ctx->client : !ctx->server)
		return -EINVAL;
	if (!(t = calloc(1, sizeof *t)))
		return -ENOMEM;
	t->l = l;
	t->initiator = initiator;
	t->ssl = SSL_new(initiator ? ctx->client : ctx->server);
	t->net_in = BIO_new(BIO_s_mem());
	t->net_out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->net_in || !t->net_out) {
		BIO_free(t->net_in);
		BIO_free(t->net_out);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_bio(t->ssl, t->net_in, t->net_out);
	l->ops = &tls_ops;
	l->impl = t;
	mfs_ws_reader_init(&t->ws, !initiator);
	if (initiator) {
		mfs_tls_link_path(t->path, server_pk);
		snprintf(t->host, sizeof t->host, "%s", ctx->sni);
		SSL_set_connect_state(t->ssl);
		if (SSL_set_tlsext_host_name(t->ssl, t->host) != 1)
			return -ENOMEM;
		SSL_set_tlsext_status_type(t->ssl, TLSEXT_STATUSTYPE_ocsp);
	} else {
		mfs_noise_public_key(own_pk, static_sk);
		mfs_tls_link_path(t->path, own_pk);
		SSL_set_accept_state(t->ssl);
	}
	return 0;
}
