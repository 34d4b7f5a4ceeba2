/* sha256x2: the paired SHA-256 against libsodium's, one message at a time,
 * on bytes a peer could send (blob ids are computed over them). Input: two
 * prefix lengths (bytes 0 and 1, up to 130: past 128 the pair steps aside),
 * a split point (bytes 2-3), then the data, cut there into two messages
 * whose prefixes are their own first bytes. Also the HMAC pair, and the blob
 * id of the whole input against the hash list's definition. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/sha256x2.h"
#include "tests/fuzz/fuzz.h"

static void one(uint8_t out[32], const uint8_t *p, size_t pl, const uint8_t *d, size_t l)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, p, pl);
	crypto_hash_sha256_update(&st, d, l);
	crypto_hash_sha256_final(&st, out);
}

static void blob_id_definition(uint8_t id[32], const uint8_t *d, size_t len)
{
	const size_t n = mfs_blob_leaf_count(len);
	uint8_t *leaves = malloc(n * 32), tag = 0x00, list = 0x01;

	if (!leaves)
		abort();
	for (size_t i = 0; i < n; i++)
		one(leaves + i * 32, &tag, 1, d + i * MFS_BLOB_LEAF_BYTES, mfs_blob_leaf_len(len, i));
	one(id, &list, 1, leaves, n * 32);
	free(leaves);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {7, 7, 7};
	struct mfs_sha256x2_msg m[2];
	uint8_t out[2][32], ref[32], id[32];
	size_t split, rest;
	const uint8_t *d;

	if (size < 4 || sodium_init() < 0)
		return 0;
	d = data + 4;
	rest = size - 4;
	split = ((size_t)data[2] << 8 | data[3]) % (rest + 1);
	m[0] = (struct mfs_sha256x2_msg){d, data[0] % 131 < split ? data[0] % 131 : split, NULL, 0};
	m[0].data = d + m[0].prefix_len;
	m[0].len = split - m[0].prefix_len;
	m[1] = (struct mfs_sha256x2_msg){d + split, data[1] % 131 < rest - split ? data[1] % 131
										     : rest - split,
					 NULL, 0};
	m[1].data = m[1].prefix + m[1].prefix_len;
	m[1].len = rest - split - m[1].prefix_len;
	mfs_sha256x2(out, m);
	for (int i = 0; i < 2; i++) {
		one(ref, m[i].prefix, m[i].prefix_len, m[i].data, m[i].len);
		if (memcmp(ref, out[i], 32) != 0)
			abort();
	}
	mfs_hmac_sha256x2(out, key, m);
	for (int i = 0; i < 2; i++) {
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, key, sizeof key);
		crypto_auth_hmacsha256_update(&st, m[i].prefix, m[i].prefix_len);
		crypto_auth_hmacsha256_update(&st, m[i].data, m[i].len);
		crypto_auth_hmacsha256_final(&st, ref);
		if (memcmp(ref, out[i], 32) != 0)
			abort();
	}
	mfs_blob_id(id, data, size);
	blob_id_definition(ref, data, size);
	if (memcmp(ref, id, 32) != 0)
		abort();
	return 0;
}
