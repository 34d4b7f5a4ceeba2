#include "crypto/hash.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "crypto/sha256x2.h"

static const uint8_t LEAF_TAG = 0x00, LIST_TAG = 0x01;

/* The hash list through OpenSSL's EVP, each leaf kept in leaves when it is
 * not NULL; leaves two at a time through SHA-NI where the CPU has it
 * (crypto/sha256x2.h: 1.3x here). 0, or -1 when OpenSSL fails (no memory):
 * the caller then computes the same bytes with libsodium. */
static int blob_id_evp(uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t *leaves, const uint8_t *data,
		       size_t len)
{
	EVP_MD_CTX *list = EVP_MD_CTX_new(), *leaf = EVP_MD_CTX_new();
	const EVP_MD *sha256 = EVP_sha256();
	const size_t count = mfs_blob_leaf_count(len);
	const int pairs = mfs_sha256x2_available();
	uint8_t h[2][32];
	int ok = list && leaf && EVP_DigestInit_ex(list, sha256, NULL) == 1 &&
		 EVP_DigestUpdate(list, &LIST_TAG, 1) == 1;

	for (size_t i = 0; ok && i < count;) {
		const size_t off = i * MFS_BLOB_LEAF_BYTES, n = mfs_blob_leaf_len(len, i);
		const size_t two = pairs && i + 1 < count ? 2 : 1;

		if (two == 2) {
			const struct mfs_sha256x2_msg m[2] = {
				{&LEAF_TAG, 1, data + off, n},
				{&LEAF_TAG, 1, data + off + n, mfs_blob_leaf_len(len, i + 1)}};

			mfs_sha256x2(h, m);
		} else {
			ok = EVP_DigestInit_ex(leaf, sha256, NULL) == 1 &&
			     EVP_DigestUpdate(leaf, &LEAF_TAG, 1) == 1 &&
			     EVP_DigestUpdate(leaf, data + off, n) == 1 &&
			     EVP_DigestFinal_ex(leaf, h[0], NULL) == 1;
		}
		ok = ok && EVP_DigestUpdate(list, h, two * sizeof h[0]) == 1;
		if (ok && leaves)
			memcpy(leaves + i * MFS_BLOB_ID_BYTES, h, two * sizeof h[0]);
		i += two;
	}
	ok = ok && EVP_DigestFinal_ex(list, id, NULL) == 1;
	EVP_MD_CTX_free(leaf);
	EVP_MD_CTX_free(list);
	return ok ? 0 : -1;
}

static void blob_id_sodium(uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t *leaves,
			   const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state list, leaf;
	uint8_t h[32];
	size_t off = 0;

	crypto_hash_sha256_init(&list);
	crypto_hash_sha256_update(&list, &LIST_TAG, 1);
	do {
		size_t n = len - off < MFS_BLOB_LEAF_BYTES ? len - off : MFS_BLOB_LEAF_BYTES;

		crypto_hash_sha256_init(&leaf);
		crypto_hash_sha256_update(&leaf, &LEAF_TAG, 1);
		crypto_hash_sha256_update(&leaf, data + off, n);
		crypto_hash_sha256_final(&leaf, h);
		crypto_hash_sha256_update(&list, h, sizeof h);
		if (leaves)
			memcpy(leaves + off / MFS_BLOB_LEAF_BYTES * MFS_BLOB_ID_BYTES, h, sizeof h);
		off += n;
	} while (off < len);
	crypto_hash_sha256_final(&list, id);
}

void mfs_blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *data, size_t len)
{
	if (blob_id_evp(id, NULL, data, len) != 0)
		blob_id_sodium(id, NULL, data, len);
}

void mfs_blob_id_leaves(uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t *leaves,
			const uint8_t *data, size_t len)
{
	if (blob_id_evp(id, leaves, data, len) != 0)
		blob_id_sodium(id, leaves, data, len);
}

size_t mfs_blob_leaf_count(size_t len)
{
	return len == 0 ? 1 : (len - 1) / MFS_BLOB_LEAF_BYTES + 1;
}

size_t mfs_blob_leaf_len(size_t len, size_t i)
{
	size_t off = i * MFS_BLOB_LEAF_BYTES;

	if (off >= len)
		return 0;
	return len - off < MFS_BLOB_LEAF_BYTES ? len - off : MFS_BLOB_LEAF_BYTES;
}

/* SHA-256(tag || data), through EVP, else libsodium. */
static void tagged_sha256(uint8_t out[static 32], uint8_t tag, const uint8_t *data, size_t len)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	crypto_hash_sha256_state st;
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, &tag, 1) == 1 && EVP_DigestUpdate(c, data, len) == 1 &&
		 EVP_DigestFinal_ex(c, out, NULL) == 1;

	EVP_MD_CTX_free(c);
	if (ok)
		return;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &tag, 1);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void mfs_blob_leaf(uint8_t leaf[static MFS_BLOB_ID_BYTES], const uint8_t *piece, size_t len)
{
	tagged_sha256(leaf, LEAF_TAG, piece, len);
}

void mfs_blob_id_of_leaves(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *leaves,
			   size_t n)
{
	tagged_sha256(id, LIST_TAG, leaves, n * MFS_BLOB_ID_BYTES);
}

void mfs_hash32(uint8_t out[static 32], const void *data, size_t len)
{
	crypto_generichash(out, 32, data, len, NULL, 0);
}

static int hmac_evp(uint8_t out[static 32], const uint8_t key[static 32], const void *part1,
		    size_t len1, const void *part2, size_t len2)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t n = 0;
	int ok = c && EVP_MAC_init(c, key, 32, params) == 1 &&
		 EVP_MAC_update(c, part1, len1) == 1 &&
		 (!part2 || EVP_MAC_update(c, part2, len2) == 1) &&
		 EVP_MAC_final(c, out, &n, 32) == 1 && n == 32;

	EVP_MAC_CTX_free(c); /* OpenSSL wipes the keyed state it frees */
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

void mfs_hmac_sha256(uint8_t out[static 32], const uint8_t key[static 32], const void *part1,
		     size_t len1, const void *part2, size_t len2)
{
	crypto_auth_hmacsha256_state st;

	if (hmac_evp(out, key, part1, len1, part2, len2) == 0)
		return;
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, part1, len1);
	if (part2)
		crypto_auth_hmacsha256_update(&st, part2, len2);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

void mfs_keyed_hash(uint8_t *out, size_t outlen, const uint8_t key[static 32],
		    const void *part1, size_t len1, const void *part2, size_t len2)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, outlen);
	crypto_generichash_update(&st, part1, len1);
	if (part2)
		crypto_generichash_update(&st, part2, len2);
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof st);
}

int mfs_sha1(uint8_t out[static 20], const void *part1, size_t len1, const void *part2,
	     size_t len2)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, part1, len1) == 1 &&
		 (!part2 || EVP_DigestUpdate(ctx, part2, len2) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 20;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}
