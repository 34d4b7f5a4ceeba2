/* tls: TLS 1.3 for the tracker's WebSocket (wss://): the OpenSSL contexts
 * libwebsockets uses, the client's check of a tracker's certificate, the
 * server's certificate files, and the text of a pin.
 *
 * A fronted tracker (wss://HOST/#front=NAME, domain fronting) is dialled at
 * NAME with NAME as the SNI, and HOST only in the HTTP Host header, inside
 * TLS: an observer of the path sees NAME, a CDN's, and the CDN routes by
 * Host to the tracker behind it.
 *
 * A pin is the SHA-256 of the tracker's certificate, DER-encoded: what
 * `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints (with
 * colons) and `megafs tracker --tls-cert` prints at start (as
 * "sha256=<64 hex digits>"). A URL carries it as its fragment:
 * wss://HOST:PORT/#sha256=HEX. A new certificate (even with the same key)
 * has a new pin: the operator hands out the new URL.
 *
 * The client's check (done for the whole chain at once, in place of
 * OpenSSL's, so libwebsockets' own verify callback never runs):
 *   pinned:   the leaf's pin must equal the URL's; nothing else counts (no
 *             CA, no name, no dates: the operator vouched for those bytes);
 *   unpinned: the chain must verify against the system's CAs (OpenSSL's
 *             default paths, so SSL_CERT_FILE / SSL_CERT_DIR name others)
 *             and name the URL's host (DNS name, or IP address for a
 *             numeric host), as a browser checks.
 * Both ends speak TLS 1.3 only.
 *
 * Memory: a client context is owned by one tracker client and freed by
 * mfs_tls_client_clear, after libwebsockets is done with it. Threads: a
 * client's context and its why[] on the loop's thread only; the rest is
 * pure. */
#ifndef MFS_TLS_H
#define MFS_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#define MFS_TLS_PIN_BYTES 32
/* "sha256=" + 64 hex digits + '\0' */
#define MFS_TLS_PIN_TEXT_MAX (7 + 2 * MFS_TLS_PIN_BYTES + 1)
#define MFS_TLS_WHY_MAX 384

/* Reads text[0..len) as "sha256=HEX": 64 hex digits, either case, maybe
 * with a ':' between every two (as openssl prints a fingerprint). 0 or
 * -EINVAL (anything else: another hash, a digit missing or too many). */
int mfs_tls_pin_parse(uint8_t pin[static MFS_TLS_PIN_BYTES], const char *text, size_t len);

/* Writes "sha256=<64 lowercase hex digits>". */
void mfs_tls_pin_format(char out[static MFS_TLS_PIN_TEXT_MAX],
			const uint8_t pin[static MFS_TLS_PIN_BYTES]);

/* The pin of cert: SHA-256 of its DER encoding. 0 or -EINVAL. */
int mfs_tls_cert_pin(uint8_t pin[static MFS_TLS_PIN_BYTES], X509 *cert);

/* One tracker client's TLS: embedded in its owner, zeroed to begin. */
struct mfs_tls_client {
	SSL_CTX *ctx;                 /* NULL until init */
	int pinned;
	uint8_t pin[MFS_TLS_PIN_BYTES];
	char sni[254];                /* the name sent in its place; "" : none */
	/* Why the last handshake's check refused the tracker; "" when it did
	 * not (the owner empties it before each connect). */
	char why[MFS_TLS_WHY_MAX];
};

/* Makes t->ctx for a tracker at host (as the URL names it, without
 * brackets): TLS 1.3 only, the check above installed, the system's CAs
 * loaded unless pin (NULL: none) is given. With sni_is_host, host is a
 * front's name (domain fronting): every handshake of the context sends it
 * as the SNI, whatever name libwebsockets gave the connection (the Host
 * header's), and the unpinned check wants it in the certificate. 0,
 * -ENOMEM, or -EIO (OpenSSL refused a setting, or host is an address or
 * too long to be an SNI). On failure t holds nothing to clear. t must not
 * move while the context lives. */
int mfs_tls_client_init(struct mfs_tls_client *t, const char *host,
			const uint8_t pin[MFS_TLS_PIN_BYTES], int sni_is_host);

/* Frees t->ctx. NULL-safe, twice-safe. */
void mfs_tls_client_clear(struct mfs_tls_client *t);

/* Loads the tracker's certificate (PEM; a chain may follow it) and its
 * private key (PEM) the way the server will, checks that they belong
 * together, and gives the certificate's pin. 0, or -EINVAL with why[]
 * saying which file is wrong and how (a missing file: -ENOENT...). */
int mfs_tls_server_check(uint8_t pin[static MFS_TLS_PIN_BYTES], const char *cert_path,
			 const char *key_path, char *why, size_t why_len);

/* Settings for the server's context (made by libwebsockets from the two
 * files): TLS 1.3 only, buffers released while a connection is idle. 0 or
 * -EIO. */
int mfs_tls_server_setup(SSL_CTX *ctx);

#endif
