/* tls_link: the tls peer transport (net/peer_link), a peer connection that
 * looks like a browser's visit to a web page:
 *
 *   1. TLS 1.3 (OpenSSL over memory BIOs on the libuv stream). The client's
 *      ClientHello is shaped like a browser's where OpenSSL allows: SNI
 *      (mfs_tls_link_ctx.sni), ALPN "h2","http/1.1", TLS 1.2 and 1.3
 *      suites and groups in Chrome's order, a status request; it goes on
 *      only when TLS 1.3 and "http/1.1" are chosen. The server's
 *      certificate is not checked: the peer's key is authenticated by the
 *      Noise handshake inside, which is what counts.
 *   2. HTTP/1.1 (net/http_head): the client asks GET PATH with a
 *      WebSocket upgrade, PATH = "/live/" + 22 base64url characters of
 *      BLAKE2b-128("megafs tls path", the server's node key): known to
 *      whoever knows the peer's key, not to a prober. The server answers
 *      101 with the right Sec-WebSocket-Accept (checked), or, to any other
 *      request, an ordinary web page (nginx's welcome page; 400 for a
 *      malformed one) and closes: a prober sees a web server.
 *   3. The peer's bytes in binary WebSocket frames (net/ws_frame), one per
 *      write, masked from the client as RFC 6455 asks; a close frame and
 *      TLS close_notify before the write side shuts.
 *
 * The whole of 1 and 2 runs under the owner's handshake deadline
 * (net/peer's): there is no timer here.
 *
 * Memory: a context is made once (mfs_tls_link_ctx_init), borrowed by every
 * link, and cleared after the last link is freed. A link holds its SSL,
 * a 64 KiB read buffer, the head being read (8 KiB) and the ciphertext of
 * writes under way. Threads: a link on its loop's thread only; a context
 * is read-only once made (OpenSSL's SSL_CTX is shared safely). */
#ifndef MFS_TLS_LINK_H
#define MFS_TLS_LINK_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "net/peer_link.h"

#define MFS_TLS_LINK_SNI_MAX 256          /* with its NUL */
#define MFS_TLS_LINK_PATH_TEXT 29         /* "/live/" + 22 + NUL */
#define MFS_TLS_LINK_DEFAULT_SNI "www.example.com"

struct mfs_tls_link_ctx {
	SSL_CTX *client;                    /* dialling */
	SSL_CTX *server;                    /* accepting; NULL: no certificate given */
	char sni[MFS_TLS_LINK_SNI_MAX];     /* the name the client sends */
};

/* Makes t: the client's context with sni (NULL: MFS_TLS_LINK_DEFAULT_SNI),
 * and the server's from cert_path and key_path (PEM, as `megafs tracker
 * --tls-cert` reads them) when both are given. 0, -ENOMEM, -EIO (OpenSSL
 * refused a setting), or -EINVAL / -ENOENT... with why[] saying which file
 * is wrong and how, or that the name is not one (empty, over 253 bytes, or
 * a byte that is not a letter, digit, '-' or '.'). On failure t holds
 * nothing to clear. */
int mfs_tls_link_ctx_init(struct mfs_tls_link_ctx *t, const char *sni, const char *cert_path,
			  const char *key_path, char *why, size_t why_len);

/* Frees t's contexts. NULL-safe, twice-safe. */
void mfs_tls_link_ctx_clear(struct mfs_tls_link_ctx *t);

/* The upgrade's path for the node whose static key is node_pk. */
void mfs_tls_link_path(char out[static MFS_TLS_LINK_PATH_TEXT], const uint8_t node_pk[static 32]);

/* Makes l a tls link on tcp (as mfs_peer_link_tcp), the client when initiator
 * (server_pk: the responder's key, required) else the server (its path
 * from the public key of static_sk; t->server required). l is usable for
 * closing even when this fails. 0, -EINVAL (no server_pk, no server
 * context), -ENOMEM. */
int mfs_tls_link_init(struct mfs_peer_link *l, uv_tcp_t *tcp, const struct mfs_tls_link_ctx *t,
		      int initiator, const uint8_t *server_pk, const uint8_t *static_sk,
		      const struct mfs_peer_link_callbacks *cb, void *owner);

#endif
