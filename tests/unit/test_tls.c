/* net/tls: the pin's text, a certificate's pin against the golden vector
 * (tests/vectors/tls-tracker.pem, a test-only certificate and key, and
 * tls-tracker.fingerprint, what `openssl x509 -noout -fingerprint -sha256`
 * printed for it), the server's file checks, and tracker URLs with pins. */
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "net/tracker_client.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

#define HEX "ad2d57fb8dc7659994eba464568530991a82269bb6dcb00a7a64781ff6debca9"

static const char *vector(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	cr_assert(snprintf(p, sizeof path[0], "%s/%s", MFS_VECTORS_DIR, name) < (int)sizeof path[0]);
	return p;
}

static int parse(const char *text, uint8_t pin[MFS_TLS_PIN_BYTES])
{
	return mfs_tls_pin_parse(pin, text, strlen(text));
}

Test(tls, pin_text_reads_hex_either_case_or_openssls_colons)
{
	uint8_t a[MFS_TLS_PIN_BYTES], b[MFS_TLS_PIN_BYTES];
	char text[MFS_TLS_PIN_TEXT_MAX], colons[300], line[256];
	FILE *f = fopen(vector("tls-tracker.fingerprint"), "r");

	cr_assert(f);
	cr_assert(fgets(line, sizeof line, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	cr_assert(strncmp(line, "sha256 Fingerprint=", 19) == 0);
	snprintf(colons, sizeof colons, "sha256=%s", line + 19);

	cr_assert_eq(parse("sha256=" HEX, a), 0);
	cr_assert_eq(parse(colons, b), 0, "openssl's form: %s", colons);
	cr_assert_eq(memcmp(a, b, sizeof a), 0);
	mfs_tls_pin_format(text, a);
	cr_assert_str_eq(text, "sha256=" HEX);
	for (char *p = colons; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	cr_assert_eq(parse(colons, b), 0, "lowercase with colons");
}

Test(tls, pin_text_refuses_anything_else)
{
	static const char *const bad[] = {
		"",
		"sha256=",
		"sha1=" HEX,
		"SHA256=" HEX,
		"sha256=" HEX "00",
		"sha256=" HEX "0",
		"sha256=ad2d57fb8dc7659994eba464568530991a82269bb6dcb00a7a64781ff6debca",
		"sha256=zd2d57fb8dc7659994eba464568530991a82269bb6dcb00a7a64781ff6debca9",
		"sha256= " HEX,
		/* colons not between every two digits */
		"sha256=ad2:d57fb8dc7659994eba464568530991a82269bb6dcb00a7a64781ff6debca9",
		"sha256=AD:2D:57:FB:8D:C7:65:99:94:EB:A4:64:56:85:30:99:1A:82:26:9B:B6:DC:B0:0A:7A:64:"
		"78:1F:F6:DE:BCA9:",
		"sha256=:AD:2D:57:FB:8D:C7:65:99:94:EB:A4:64:56:85:30:99:1A:82:26:9B:B6:DC:B0:0A:7A:64:"
		"78:1F:F6:DE:BC:A",
	};
	uint8_t pin[MFS_TLS_PIN_BYTES];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(parse(bad[i], pin), -EINVAL, "accepted '%s'", bad[i]);
}

Test(tls, a_certificates_pin_is_the_sha256_of_its_der_as_openssl_prints_it)
{
	uint8_t pin[MFS_TLS_PIN_BYTES], want[MFS_TLS_PIN_BYTES];
	FILE *f = fopen(vector("tls-tracker.pem"), "r");
	X509 *cert;

	cr_assert(f);
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert(cert);
	cr_assert_eq(mfs_tls_cert_pin(pin, cert), 0);
	cr_assert_eq(parse("sha256=" HEX, want), 0);
	cr_assert_eq(memcmp(pin, want, sizeof pin), 0);
	X509_free(cert);
	cr_assert_eq(mfs_tls_cert_pin(pin, NULL), -EINVAL);
}

Test(tls, the_server_check_names_the_wrong_file)
{
	char why[256], tmp[] = "/tmp/mfs-tls-XXXXXX";
	uint8_t pin[MFS_TLS_PIN_BYTES], want[MFS_TLS_PIN_BYTES];
	const char *cert = vector("tls-tracker.pem"), *key = vector("tls-tracker.key");
	char other_key[64];
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *f;

	cr_assert_eq(mfs_tls_server_check(pin, cert, key, why, sizeof why), 0);
	cr_assert_eq(parse("sha256=" HEX, want), 0);
	cr_assert_eq(memcmp(pin, want, sizeof pin), 0);

	cr_assert_eq(mfs_tls_server_check(pin, "/nonexistent/cert.pem", key, why, sizeof why),
		     -ENOENT);
	cr_assert(strstr(why, "--tls-cert /nonexistent/cert.pem"), "%s", why);
	cr_assert_eq(mfs_tls_server_check(pin, cert, "/nonexistent/key.pem", why, sizeof why),
		     -ENOENT);
	cr_assert(strstr(why, "--tls-key"), "%s", why);
	/* The key given as the certificate, the certificate as the key. */
	cr_assert_eq(mfs_tls_server_check(pin, key, cert, why, sizeof why), -EINVAL);
	cr_assert(strstr(why, "not a PEM certificate"), "%s", why);
	cr_assert_eq(mfs_tls_server_check(pin, cert, cert, why, sizeof why), -EINVAL);
	cr_assert(strstr(why, "not an unencrypted PEM private key"), "%s", why);

	/* Another key: refused before anything listens. */
	cr_assert(k);
	cr_assert(mkdtemp(tmp));
	snprintf(other_key, sizeof other_key, "%s/other.key", tmp);
	cr_assert((f = fopen(other_key, "w")));
	cr_assert_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	cr_assert_eq(mfs_tls_server_check(pin, cert, other_key, why, sizeof why), -EINVAL);
	cr_assert(strstr(why, "is not the key of the certificate"), "%s", why);
	unlink(other_key);
	rmdir(tmp);
	EVP_PKEY_free(k);
}

Test(tls, client_contexts_speak_tls13_only)
{
	struct mfs_tls_client t = {0};
	uint8_t pin[MFS_TLS_PIN_BYTES] = {1};

	cr_assert_eq(mfs_tls_client_init(&t, "127.0.0.1", NULL, 0), 0);
	cr_assert_eq(SSL_CTX_get_min_proto_version(t.ctx), TLS1_3_VERSION);
	mfs_tls_client_clear(&t);
	cr_assert_eq(mfs_tls_client_init(&t, "tracker.example", pin, 0), 0);
	cr_assert(t.pinned);
	cr_assert_eq(SSL_CTX_get_min_proto_version(t.ctx), TLS1_3_VERSION);
	mfs_tls_client_clear(&t);
	mfs_tls_client_clear(&t);
	cr_assert_null(t.ctx);
}

Test(tls, tracker_urls_take_a_pin_on_wss_only)
{
	cr_assert_eq(mfs_tracker_url_check("wss://tracker.example"), 0);
	cr_assert_eq(mfs_tracker_url_check("wss://tracker.example:443/"), 0);
	cr_assert_eq(mfs_tracker_url_check("wss://127.0.0.1:7000/#sha256=" HEX), 0);
	cr_assert_eq(mfs_tracker_url_check("wss://[::1]:7000/t#sha256=" HEX), 0);
	cr_assert_eq(mfs_tracker_url_check("WSS://tracker.example#sha256=" HEX), 0);
	cr_assert_eq(mfs_tracker_url_check("ws://127.0.0.1:7000/#sha256=" HEX), -EINVAL,
		     "a pin on ws:// would promise what it cannot keep");
	cr_assert_eq(mfs_tracker_url_check("wss://127.0.0.1:7000/#sha256=00"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://127.0.0.1:7000/#"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://127.0.0.1:7000/#fp=" HEX), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://127.0.0.1:0/"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("https://tracker.example"), -EPROTONOSUPPORT);
}

Test(tls, a_front_rides_in_the_fragment_beside_the_pin)
{
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=cdn.example"), 0);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example:8443/t#front=cdn.example&sha256="
					   HEX), 0);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#sha256=" HEX
					   "&front=cdn.example"), 0);
	cr_assert_eq(mfs_tracker_url_check("ws://hidden.example/#front=cdn.example"), -EINVAL,
		     "fronting needs TLS: the Host header travels inside it");
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front="), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=cdn.example:443"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=a.example&front=b.example"),
		     -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=cdn.example&"), -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=cdn.example&&sha256=" HEX),
		     -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#sha256=" HEX "&sha256=" HEX),
		     -EINVAL);
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=192.0.2.7"), -EINVAL,
		     "an address cannot be an SNI");
	cr_assert_eq(mfs_tracker_url_check("wss://hidden.example/#front=[2001:db8::7]"), -EINVAL);
}

static char sni_seen[256];

static int record_sni(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	(void)arg;
	snprintf(sni_seen, sizeof sni_seen, "%s", name ? name : "(none)");
	return SSL_TLSEXT_ERR_OK;
}

/* Moves what each side wrote to the other until neither wants more. */
static void shake(SSL *client, SSL *server)
{
	for (int round = 0; round < 20; round++) {
		int c = SSL_do_handshake(client), s = SSL_do_handshake(server);

		if (c == 1 && s == 1)
			return;
	}
	cr_assert_fail("the handshake did not finish");
}

/* The SNI a client context of net/tls sends when libwebsockets set another
 * name on the connection first (as it does: the Host header's). */
static void sni_sent(const char *ctx_host, int sni_is_host, const char *lws_name)
{
	struct mfs_tls_client t = {0};
	uint8_t pin[MFS_TLS_PIN_BYTES];
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL *client, *server;
	BIO *cb, *sb;
	X509 *cert;
	FILE *f;

	cr_assert_not_null(f = fopen(vector("tls-tracker.pem"), "r"));
	cr_assert_not_null(cert = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	cr_assert_eq(mfs_tls_cert_pin(pin, cert), 0);
	X509_free(cert);
	cr_assert_eq(SSL_CTX_use_certificate_chain_file(sctx, vector("tls-tracker.pem")), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(sctx, vector("tls-tracker.key"), SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_tlsext_servername_callback(sctx, record_sni);
	cr_assert_eq(mfs_tls_client_init(&t, ctx_host, pin, sni_is_host), 0);
	client = SSL_new(t.ctx);
	server = SSL_new(sctx);
	cr_assert_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(client, cb, cb);
	SSL_set_bio(server, sb, sb);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	SSL_set_tlsext_host_name(client, lws_name);
	sni_seen[0] = '\0';
	shake(client, server);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(sctx);
	mfs_tls_client_clear(&t);
}

Test(tls, a_fronted_handshake_names_the_front_and_never_the_tracker)
{
	sni_sent("cdn.example", 1, "hidden.example");
	cr_assert_str_eq(sni_seen, "cdn.example");
	/* Not fronted: the name libwebsockets set goes out as it is. */
	sni_sent("hidden.example", 0, "hidden.example");
	cr_assert_str_eq(sni_seen, "hidden.example");
	/* A front that is an address cannot be an SNI: refused at init. */
	struct mfs_tls_client t = {0};
	cr_assert_eq(mfs_tls_client_init(&t, "192.0.2.7", NULL, 1), -EIO);
	cr_assert_null(t.ctx);
}
