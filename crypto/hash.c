#include "crypto/hash.h"

#include <sodium.h>

void mfs_blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *data, size_t len)
{
	crypto_generichash(id, MFS_BLOB_ID_BYTES, data, len, NULL, 0);
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
