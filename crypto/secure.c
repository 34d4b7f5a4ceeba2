#include "crypto/secure.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "crypto/mfs_error.h"

void mfs_wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

int mfs_crypto_init(void)
{
	if (sodium_init() < 0)
		return -EIO;
	/* jansson holds file entries, chunk keys included, in ordinary
	 * memory: every block it frees is wiped first. */
	json_set_alloc_funcs(malloc, mfs_wipe_free);
	return 0;
}

void *mfs_secure_alloc(size_t len)
{
	return sodium_malloc(len);
}

void mfs_secure_free(void *p)
{
	if (p)
		sodium_free(p);
}

void mfs_memzero(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void mfs_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

uint32_t mfs_random_uniform(uint32_t bound)
{
	return randombytes_uniform(bound);
}

int mfs_memeq(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void mfs_hex_encode(char *out, const uint8_t *in, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

int mfs_hex_decode(uint8_t *out, size_t outlen, const char *hex)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * outlen)
		return MFS_E_FORMAT;
	/* Lower case only: one spelling per value keeps signed formats canonical. */
	for (size_t i = 0; i < 2 * outlen; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return MFS_E_FORMAT;
	if (sodium_hex2bin(out, outlen, hex, 2 * outlen, NULL, &bin_len, &end) != 0 ||
	    bin_len != outlen || *end != '\0')
		return MFS_E_FORMAT;
	return 0;
}
