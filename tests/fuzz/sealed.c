/* sealed: mfs_sealed_open on any envelope, for the channel, sequence, read
 * key and grantee of tests/vectors/sealed-manifest.json (so the seed opens
 * and mutations reach every check past the wraps). The input is taken as
 * the envelope's bytes (base64-encoded here) and as base64 text. An opened
 * body must be shorter than the envelope and end in a NUL. Then the
 * input, as a manifest's collections, through mfs_sealed_find. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sealed.h"
#include "crypto/secure.h"
#include "tests/fuzz/fuzz.h"

static void fill(uint8_t *p, size_t len, uint8_t first)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

static void open_one(const char *b64, size_t len, const uint8_t *pk, const uint8_t *rk,
		     const uint8_t *g_sk, const uint8_t *g_pk)
{
	uint8_t *body = NULL;
	size_t body_len = 0;

	if (mfs_sealed_open(&body, &body_len, b64, len, pk, 1, rk, g_sk, g_pk) == 0) {
		if (!body || body_len >= len || body[body_len] != 0)
			abort();
	} else if (body || body_len) {
		abort();
	}
	mfs_secure_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[32], sk[64], rk[32], g_sk[32], g_pk[32];
	size_t b64_len;
	char *b64;
	json_t *cols;
	const char *found;
	size_t found_len;

	if (mfs_crypto_init() != 0)
		abort();
	fill(seed, sizeof seed, 0);
	crypto_sign_seed_keypair(pk, sk, seed);
	fill(rk, sizeof rk, 0x40);
	fill(g_sk, sizeof g_sk, 0x60);
	if (mfs_box_public(g_pk, g_sk) != 0)
		abort();
	b64_len = sodium_base64_encoded_len(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	b64 = malloc(b64_len);
	if (!b64)
		abort();
	sodium_bin2base64(b64, b64_len, data, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	open_one(b64, strlen(b64), pk, rk, NULL, NULL);
	open_one(b64, strlen(b64), pk, NULL, g_sk, g_pk);
	free(b64);
	open_one((const char *)data, size, pk, rk, g_sk, g_pk);
	cols = json_loadb((const char *)data, size, 0, NULL);
	if (cols && mfs_sealed_find(cols, &found, &found_len) == 1 && (!found || !found_len))
		abort();
	json_decref(cols);
	return 0;
}
