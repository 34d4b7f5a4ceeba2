#include "net/tls.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secure.h"

int mfs_tls_pin_parse(uint8_t pin[static MFS_TLS_PIN_BYTES], const char *text, size_t len)
{
	static const char prefix[] = "sha256=";
	const size_t plen = sizeof prefix - 1;
	const char *h = text + plen;
	size_t step;

	if (len < plen || strncmp(text, prefix, plen) != 0)
		return -EINVAL;
	/* 64 digits, or 32 pairs with a ':' between each two. */
	if (len - plen == 2 * MFS_TLS_PIN_BYTES)
		step = 2;
	else if (len - plen == 3 * MFS_TLS_PIN_BYTES - 1)
		step = 3;
	else
		return -EINVAL;
	for (size_t n = 0; n < MFS_TLS_PIN_BYTES; n++) {
		const char *p = h + n * step;
		int hi = mfs_hex_digit(p[0]), lo = mfs_hex_digit(p[1]);

		if (hi < 0 || lo < 0 || (step == 3 && n > 0 && p[-1] != ':'))
			return -EINVAL;
		pin[n] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void mfs_tls_pin_format(char out[static MFS_TLS_PIN_TEXT_MAX],
			const uint8_t pin[static MFS_TLS_PIN_BYTES])
{
	memcpy(out, "sha256=", 7);
	mfs_hex_encode(out + 7, pin, MFS_TLS_PIN_BYTES);
}

int mfs_tls_cert_pin(uint8_t pin[static MFS_TLS_PIN_BYTES], X509 *cert)
{
	unsigned int len = 0;

	if (!cert || X509_digest(cert, EVP_sha256(), pin, &len) != 1 || len != MFS_TLS_PIN_BYTES)
		return -EINVAL;
	return 0;
}

/* ---- the client ------------------------------------------------------------ */

/* Keeps OpenSSL's verdict at each depth: the first failure stops the walk. */
static int keep_verdict(int ok, X509_STORE_CTX *x)
{
	(void)x;
	return ok;
}

/* In place of X509_verify_cert for the whole chain (SSL_CTX's
 * cert_verify_callback): 1 accepts, 0 refuses with t->why set. */
static int check_chain(X509_STORE_CTX *x, void *arg)
{
	struct mfs_tls_client *t = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	char got[MFS_TLS_PIN_TEXT_MAX], want[MFS_TLS_PIN_TEXT_MAX];
	uint8_t pin[MFS_TLS_PIN_BYTES];
	int err;

	t->why[0] = '\0';
	if (t->pinned) {
		if (mfs_tls_cert_pin(pin, leaf) != 0) {
			snprintf(t->why, sizeof t->why, "the tracker sent no usable certificate");
			X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
			return 0;
		}
		if (CRYPTO_memcmp(pin, t->pin, sizeof pin) == 0) {
			X509_STORE_CTX_set_error(x, X509_V_OK);
			return 1;
		}
		mfs_tls_pin_format(got, pin);
		mfs_tls_pin_format(want, t->pin);
		snprintf(t->why, sizeof t->why,
			 "the tracker's certificate is not the pinned one (it has %s, the URL "
			 "pins %s): a new certificate, or someone in between; ask the "
			 "tracker's operator for its fingerprint", got, want);
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_verify_cb(x, keep_verdict);
	if (X509_verify_cert(x) == 1)
		return 1;
	err = X509_STORE_CTX_get_error(x);
	snprintf(t->why, sizeof t->why,
		 "the tracker's certificate is not trusted: %s (no CA of this system vouches "
		 "for it under this name; a tracker with a certificate of its own is reached "
		 "with its fingerprint in the URL, wss://HOST:PORT/#sha256=..., as `megafs "
		 "tracker` prints it)", X509_verify_cert_error_string(err));
	return 0;
}

/* The SNI of a fronted tracker (info callback): libwebsockets names the
 * Host header's host when it makes the SSL; the handshake's start, inside
 * SSL_connect and before the ClientHello is written, puts the front's name
 * in its place. */
static void name_the_front(const SSL *ssl, int where, int ret)
{
	const struct mfs_tls_client *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	(void)ret;
	/* OpenSSL hands the connection as const to its info callbacks; it is
	 * the same connection, being set up, that the handshake is about to use. */
	if ((where & SSL_CB_HANDSHAKE_START) && t && t->sni[0])
		SSL_set_tlsext_host_name((SSL *)ssl, t->sni);
}

int mfs_tls_client_init(struct mfs_tls_client *t, const char *host,
			const uint8_t pin[MFS_TLS_PIN_BYTES], int sni_is_host)
{
	X509_VERIFY_PARAM *param;
	int rc = -EIO;

	t->why[0] = '\0';
	t->pinned = pin != NULL;
	if (pin)
		memcpy(t->pin, pin, MFS_TLS_PIN_BYTES);
	if (!(t->ctx = SSL_CTX_new(TLS_client_method())))
		return -ENOMEM;
	if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) != 1)
		goto fail;
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(t->ctx, check_chain, t);
	t->sni[0] = '\0';
	if (sni_is_host) {
		/* An address is never an SNI (RFC 6066); a name too long is refused. */
		if (strlen(host) >= sizeof t->sni || strchr(host, ':') ||
		    strspn(host, "0123456789.") == strlen(host))
			goto fail;
		memcpy(t->sni, host, strlen(host) + 1);
		SSL_CTX_set_app_data(t->ctx, t);
		SSL_CTX_set_info_callback(t->ctx, name_the_front);
	}
	if (!pin) {
		/* The name to find in the certificate: an address or a DNS name. */
		param = SSL_CTX_get0_param(t->ctx);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1 &&
		    X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
			goto fail;
		/* Without any CA file the chain check fails, and says so. */
		SSL_CTX_set_default_verify_paths(t->ctx);
	}
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	mfs_tls_client_clear(t);
	return rc;
}

void mfs_tls_client_clear(struct mfs_tls_client *t)
{
	SSL_CTX_free(t->ctx);
	t->ctx = NULL;
}

/* ---- the server ------------------------------------------------------------ */

/* why = fmt with path and OpenSSL's last reason; -EINVAL. */
static int openssl_reason(char *why, size_t why_len, const char *fmt, const char *path)
{
	const char *reason = ERR_reason_error_string(ERR_peek_last_error());

	snprintf(why, why_len, fmt, path, reason ? reason : "no PEM data");
	ERR_clear_error();
	return -EINVAL;
}

int mfs_tls_server_check(uint8_t pin[static MFS_TLS_PIN_BYTES], const char *cert_path,
			 const char *key_path, char *why, size_t why_len)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	FILE *f;
	int rc;

	ERR_clear_error();
	if (!(f = fopen(cert_path, "r"))) {
		rc = -errno;
		snprintf(why, why_len, "--tls-cert %s: %s", cert_path, strerror(errno));
		goto out;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert) {
		rc = openssl_reason(why, why_len,
				    "--tls-cert %s: not a PEM certificate (%s); make one with "
				    "`openssl req -x509 ...`", cert_path);
		goto out;
	}
	if (!(f = fopen(key_path, "r"))) {
		rc = -errno;
		snprintf(why, why_len, "--tls-key %s: %s", key_path, strerror(errno));
		goto out;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		rc = openssl_reason(why, why_len,
				    "--tls-key %s: not an unencrypted PEM private key (%s)",
				    key_path);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		snprintf(why, why_len, "--tls-key %s is not the key of the certificate %s",
			 key_path, cert_path);
		rc = -EINVAL;
		goto out;
	}
	rc = mfs_tls_cert_pin(pin, cert);
	if (rc != 0)
		snprintf(why, why_len, "--tls-cert %s: cannot hash the certificate", cert_path);
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int mfs_tls_server_setup(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		return -EIO;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}
