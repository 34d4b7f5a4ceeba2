/* Allocation failures in crypto/: every allocation crypto/ makes, failed in
 * turn. The binary is linked with --wrap for malloc, calloc, realloc,
 * sodium_malloc and crypto_pwhash (whose Argon2 memory is its own
 * allocation) (tests/CMakeLists.txt), so the calls of megafs's own code
 * (and of jansson, which crypto/secure hands our malloc) go through the
 * counters below; libc's, libsodium's and OpenSSL's own do not.
 *
 * For each operation: fail its first allocation, run it, then its second,
 * and so on until a run makes fewer allocations than the one failed (the
 * failure never came: it must then succeed). A run whose allocation failed
 * must answer -ENOMEM (not "malformed", not a forged tag), leave its
 * outputs unset, and free what it took (the sanitizer build's leak check
 * sees every run); the run after it must work as if nothing happened. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/chunk.h"
#include "crypto/kdf.h"
#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/noise.h"
#include "crypto/sealed.h"
#include "crypto/secure.h"
#include "crypto/sign.h"
#include "tests/unit/testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_sodium_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_sodium_malloc(size_t n);
int __real_crypto_pwhash(unsigned char *out, unsigned long long outlen, const char *passwd,
			 unsigned long long passwdlen, const unsigned char *salt,
			 unsigned long long opslimit, size_t memlimit, int alg);
int __wrap_crypto_pwhash(unsigned char *out, unsigned long long outlen, const char *passwd,
			 unsigned long long passwdlen, const unsigned char *salt,
			 unsigned long long opslimit, size_t memlimit, int alg);

static long fail_at = -1; /* the allocation (from 0) to fail; -1: none */
static long allocs;       /* allocations made since the counter was set */

static int should_fail(void)
{
	return fail_at >= 0 && allocs++ == fail_at;
}

void *__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

void *__wrap_sodium_malloc(size_t n)
{
	return should_fail() ? NULL : __real_sodium_malloc(n);
}

/* Argon2's memory is libsodium's own allocation: it fails as one here. */
int __wrap_crypto_pwhash(unsigned char *out, unsigned long long outlen, const char *passwd,
			 unsigned long long passwdlen, const unsigned char *salt,
			 unsigned long long opslimit, size_t memlimit, int alg)
{
	if (should_fail())
		return -1;
	return __real_crypto_pwhash(out, outlen, passwd, passwdlen, salt, opslimit, memlimit, alg);
}

/* An operation: 0 when it worked and gave what it should, else its code
 * (a wrong result is -EBADMSG: never what a failed allocation may say). */
typedef int (*operation)(void);

/* Fails each allocation of op in turn; returns how many op makes. */
static long fail_each(const char *name, operation op)
{
	long n;
	int rc;

	for (n = 0;; n++) {
		allocs = 0;
		fail_at = n;
		rc = op();
		fail_at = -1;
		if (allocs <= n) {
			cr_assert_eq(rc, 0, "%s: %ld allocations, none failed, and it said %d", name,
				     allocs, rc);
			break;
		}
		cr_assert_eq(rc, -ENOMEM, "%s: allocation %ld of %ld failed, and it said %d (%s)",
			     name, n + 1, allocs, rc, mfs_strerror(rc));
	}
	cr_assert_eq(op(), 0, "%s: after the failures", name);
	return n;
}

static uint8_t pk[MFS_SIGN_PK_BYTES], sk[MFS_SIGN_SK_BYTES];
static uint8_t read_key[32], g_pk[2][32], g_sk[2][32];

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	mfs_sign_keypair(pk, sk);
	tu_fill_random(read_key, sizeof read_key, 7);
	for (int i = 0; i < 2; i++)
		mfs_box_keypair(g_pk[i], g_sk[i]);
}

TestSuite(crypto_faults, .init = setup, .timeout = 300);

/* Canonical: it parses, and encodes back to the same bytes. */
static const char doc[] = "{\"a\":\"x\",\"b\":[1,2,{\"a\":null,\"z\":\"y\"}],\"c\":-7}";

static int canon_round_trip(void)
{
	json_t *json = NULL;
	char *text = NULL, why[128];
	size_t len = 0;
	int rc;

	if ((rc = mfs_cjson_parse(&json, doc, strlen(doc), why, sizeof why)) != 0) {
		cr_assert_null(json);
		return rc;
	}
	rc = mfs_cjson_encode(&text, &len, json);
	json_decref(json);
	if (rc != 0) {
		cr_assert_null(text);
		return rc;
	}
	rc = len == strlen(doc) && memcmp(text, doc, len) == 0 ? 0 : -EBADMSG;
	mfs_wipe_free(text);
	return rc;
}

Test(crypto_faults, canonical_json_parse_and_encode)
{
	cr_assert_gt(fail_each("canonical JSON", canon_round_trip), 0);
}

static json_t *collections(void)
{
	return json_pack("[{s:s, s:[s, s]}]", "title", "Films", "items", "magnet:?xt=urn:btih:1",
			 "magnet:?xt=urn:btih:2");
}

static int manifest_sign_verify(void)
{
	json_t *cols = NULL;
	char *text = NULL, why[160];
	size_t len = 0;
	struct mfs_manifest m;
	int rc;

	/* The collections are the caller's, made outside the failures. */
	long saved = fail_at;

	fail_at = -1;
	cols = collections();
	fail_at = saved;
	cr_assert_not_null(cols);
	rc = mfs_manifest_sign(&text, &len, 9, 1700000000000ull, cols, pk, sk);
	json_decref(cols);
	if (rc != 0) {
		cr_assert_null(text);
		return rc;
	}
	rc = mfs_manifest_verify(&m, text, len, pk, 8, why, sizeof why);
	mfs_wipe_free(text);
	if (rc != 0)
		return rc;
	rc = m.sequence == 9 && json_array_size(m.collections) == 1 ? 0 : -EBADMSG;
	mfs_manifest_clear(&m);
	return rc;
}

Test(crypto_faults, manifest_sign_and_verify)
{
	cr_assert_gt(fail_each("manifest", manifest_sign_verify), 0);
}

static const char body[] = "[{\"items\":[\"magnet:?xt=urn:btih:1\"],\"title\":\"Private\"}]";

/* Seals for the read key and two grants, then opens as the read key's
 * holder and as the second grant. */
static int sealed_round_trip(void)
{
	const uint8_t(*grants)[32] = g_pk;
	struct mfs_seal_to to = {read_key, grants, 2};
	char *b64 = NULL;
	uint8_t *out = NULL;
	size_t len = 0, out_len = 0;
	int rc;

	if ((rc = mfs_sealed_seal(&b64, &len, (const uint8_t *)body, strlen(body), pk, 3, &to,
				  NULL)) != 0) {
		cr_assert_null(b64);
		return rc;
	}
	for (int as = 0; as < 2 && rc == 0; as++) {
		rc = as == 0 ? mfs_sealed_open(&out, &out_len, b64, len, pk, 3, read_key, NULL, NULL)
			     : mfs_sealed_open(&out, &out_len, b64, len, pk, 3, NULL, g_sk[1],
					       g_pk[1]);
		if (rc != 0) {
			cr_assert_null(out);
			break;
		}
		if (out_len != strlen(body) || memcmp(out, body, out_len) != 0)
			rc = -EBADMSG;
		mfs_secure_free(out);
		out = NULL;
	}
	free(b64);
	return rc;
}

Test(crypto_faults, sealed_seal_and_open)
{
	cr_assert_gt(fail_each("sealed manifest", sealed_round_trip), 0);
}

/* A whole XX handshake, the split, and one message each way. */
static int noise_session(void)
{
	uint8_t s_pk[2][32], s_sk[2][32], hash[2][64], rs[2][32];
	uint8_t msg[256], got[256], ct[64 + 16], pt[64];
	struct mfs_noise_hs *hs[2] = {NULL, NULL};
	struct mfs_noise_transport *t[2] = {NULL, NULL};
	size_t len, got_len;
	int rc = 0;

	for (int side = 0; side < 2; side++) {
		mfs_noise_keypair(s_pk[side], s_sk[side]);
		if ((rc = mfs_noise_hs_new(&hs[side], side == 0, s_sk[side], (const uint8_t *)"p",
					   1)) != 0)
			goto out;
	}
	for (int i = 0; i < 3 && rc == 0; i++) {
		int from = i % 2, to = 1 - from;

		rc = mfs_noise_hs_write(hs[from], msg, sizeof msg, &len, NULL, 0);
		if (rc == 0)
			rc = mfs_noise_hs_read(hs[to], got, sizeof got, &got_len, msg, len);
	}
	for (int side = 0; side < 2 && rc == 0; side++)
		rc = mfs_noise_hs_split(hs[side], &t[side], hash[side], rs[side]);
	if (rc != 0)
		goto out;
	if (memcmp(hash[0], hash[1], sizeof hash[0]) != 0 ||
	    memcmp(rs[0], s_pk[1], 32) != 0 || memcmp(rs[1], s_pk[0], 32) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	memset(msg, 0x42, sizeof pt);
	for (int from = 0; from < 2 && rc == 0; from++) {
		rc = mfs_noise_encrypt(t[from], ct, msg, sizeof pt);
		if (rc == 0)
			rc = mfs_noise_decrypt(t[1 - from], pt, ct, sizeof ct);
		if (rc == 0 && memcmp(pt, msg, sizeof pt) != 0)
			rc = -EBADMSG;
	}
out:
	for (int side = 0; side < 2; side++) {
		mfs_noise_hs_free(hs[side]);
		mfs_noise_transport_free(t[side]);
	}
	return rc;
}

Test(crypto_faults, noise_handshake_and_transport)
{
	cr_assert_gt(fail_each("Noise", noise_session), 0);
}

/* A range across a segment boundary of a 200,000-byte chunk. */
static int chunk_range(void)
{
	static uint8_t plain[200000], *blob, out[5000];
	static size_t blob_len;
	uint8_t key[MFS_CHUNK_KEY_BYTES];
	int rc;

	memset(key, 0x33, sizeof key);
	if (!blob) {
		long saved = fail_at;

		fail_at = -1;
		tu_fill_random(plain, sizeof plain, 5);
		blob_len = mfs_blob_len(mfs_chunk_padded_len(sizeof plain));
		blob = malloc(blob_len);
		cr_assert_not_null(blob);
		mfs_chunk_seal(blob, plain, sizeof plain, key);
		fail_at = saved;
	}
	if ((rc = mfs_chunk_open_range(out, blob, blob_len, 65536 - 2500, sizeof out, key)) != 0)
		return rc;
	return memcmp(out, plain + 65536 - 2500, sizeof out) == 0 ? 0 : -EBADMSG;
}

Test(crypto_faults, chunk_open_range)
{
	cr_assert_gt(fail_each("chunk range", chunk_range), 0);
}

static int password_key(void)
{
	static const uint8_t salt[MFS_KDF_SALT_BYTES] = {9};
	uint8_t key[MFS_KEY_BYTES];
	struct mfs_kdf_limits fast;
	int rc;

	cr_assert_eq(mfs_kdf_preset(&fast, "fast"), 0);
	rc = mfs_kdf_password(key, "pw", 2, salt, &fast);
	mfs_memzero(key, sizeof key);
	return rc;
}

Test(crypto_faults, password_kdf)
{
	cr_assert_eq(fail_each("password KDF", password_key), 1);
}
