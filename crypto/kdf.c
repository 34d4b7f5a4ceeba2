#include "crypto/kdf.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/mfs_error.h"

int mfs_kdf_preset(struct mfs_kdf_limits *out, const char *name)
{
	if (strcmp(name, "fast") == 0) {
		out->ops = crypto_pwhash_argon2id_OPSLIMIT_MIN;
		out->mem = 64 * 1024;
	} else if (strcmp(name, "interactive") == 0) {
		out->ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
		out->mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
	} else if (strcmp(name, "moderate") == 0) {
		out->ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
		out->mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
	} else if (strcmp(name, "sensitive") == 0) {
		out->ops = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
		out->mem = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
	} else {
		return MFS_E_FORMAT;
	}
	return 0;
}

int mfs_kdf_limits_check(const struct mfs_kdf_limits *limits)
{
	if (limits->ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || limits->ops > MFS_KDF_OPS_MAX ||
	    limits->ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
	    limits->mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || limits->mem > MFS_KDF_MEM_MAX ||
	    limits->mem > (uint64_t)crypto_pwhash_argon2id_MEMLIMIT_MAX)
		return MFS_E_FORMAT;
	return 0;
}

int mfs_kdf_password(uint8_t key[static MFS_KEY_BYTES], const char *password,
		     size_t password_len, const uint8_t salt[static MFS_KDF_SALT_BYTES],
		     const struct mfs_kdf_limits *limits)
{
	if (mfs_kdf_limits_check(limits) != 0)
		return MFS_E_FORMAT;
	if (crypto_pwhash(key, MFS_KEY_BYTES, password, password_len, salt, limits->ops,
			  (size_t)limits->mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

void mfs_kdf_subkey(uint8_t out[static MFS_KEY_BYTES], uint64_t id, const char ctx[static 8],
		    const uint8_t key[static MFS_KEY_BYTES])
{
	crypto_kdf_derive_from_key(out, MFS_KEY_BYTES, id, ctx, key);
}
