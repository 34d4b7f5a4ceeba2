/* kdf: password hashing (Argon2id) and subkey derivation (BLAKE2b).
 *
 * A store records its Argon2id limits in its header, so a store made with
 * the "fast" preset (tests only) opens fast and a default one stays costly. */
#ifndef MFS_KDF_H
#define MFS_KDF_H

#include <stddef.h>
#include <stdint.h>

#define MFS_KDF_SALT_BYTES 16
#define MFS_KEY_BYTES 32

struct mfs_kdf_limits {
	uint64_t ops;   /* Argon2id passes */
	uint64_t mem;   /* bytes */
};

/* Presets: "fast" (tests only), "interactive", "moderate" (default),
 * "sensitive". Returns 0 or MFS_E_FORMAT for an unknown name. */
int mfs_kdf_preset(struct mfs_kdf_limits *out, const char *name);
/* The most a store may ask of every open: the header is not secret and not
 * keyed, so whoever can write it could otherwise make every open take
 * hours or all memory. The largest preset ("sensitive") is 4 passes, 1 GiB. */
#define MFS_KDF_OPS_MAX 32
#define MFS_KDF_MEM_MAX (UINT64_C(4) << 30)

/* 0 when limits are within what Argon2id accepts and the caps above, else
 * MFS_E_FORMAT. */
int mfs_kdf_limits_check(const struct mfs_kdf_limits *limits);

/* key = Argon2id(password, salt, limits). Returns 0, -ENOMEM or MFS_E_FORMAT. */
int mfs_kdf_password(uint8_t key[static MFS_KEY_BYTES], const char *password,
		     size_t password_len, const uint8_t salt[static MFS_KDF_SALT_BYTES],
		     const struct mfs_kdf_limits *limits);

/* out = subkey number id of key in the 8-character context ctx. */
void mfs_kdf_subkey(uint8_t out[static MFS_KEY_BYTES], uint64_t id, const char ctx[static 8],
		    const uint8_t key[static MFS_KEY_BYTES]);

#endif
