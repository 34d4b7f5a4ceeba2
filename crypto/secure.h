/* secure: process-wide crypto setup, guarded memory for secrets, randomness,
 * constant-time helpers and hex. The only gate to libsodium's utilities.
 *
 * mfs_crypto_init() must succeed once before any other crypto call (and
 * before any JSON is made: it makes jansson wipe what it frees); it is
 * idempotent. Call it before starting threads. Memory from mfs_secure_alloc is locked, guarded
 * and zeroed when freed; mfs_secure_free(NULL) is a no-op. */
#ifndef MFS_SECURE_H
#define MFS_SECURE_H

#include <stddef.h>
#include <stdint.h>

int mfs_crypto_init(void);

void *mfs_secure_alloc(size_t len);   /* NULL on failure */
void mfs_secure_free(void *p);
void mfs_memzero(void *p, size_t len);
/* Guarded, locked (as far as RLIMIT_MEMLOCK lets: like mfs_secure_alloc),
 * kept out of core dumps, wiped when unmapped; of huge pages when len is
 * 2 MiB or more (where the kernel has them): for large buffers of secrets
 * (the reader's segment cache). Unlike mfs_secure_alloc it writes nothing
 * into them. mfs_secure_unmap takes the length given to mfs_secure_map;
 * NULL is a no-op. */
void *mfs_secure_map(size_t len);
void mfs_secure_unmap(void *p, size_t len);
/* Wipes a malloc'ed block (all of it, as malloc sized it) and frees it;
 * NULL-safe. For ordinary memory that held secrets: JSON text with chunk
 * keys (what mfs_cjson_encode and json_dumps return), manifests. */
void mfs_wipe_free(void *p);
/* Whether an allocation of jansson's (on this thread) failed since
 * mfs_json_alloc_watch(): jansson reports some of them as errors in the
 * input it parses. */
void mfs_json_alloc_watch(void);
int mfs_json_alloc_failed(void);

/* Cryptographic random bytes (OpenSSL's DRBG; libsodium's as fallback). */
void mfs_random(void *buf, size_t len);
uint32_t mfs_random_uniform(uint32_t bound); /* 0 <= r < bound */

/* Constant-time equality: 1 when equal, 0 otherwise. */
int mfs_memeq(const void *a, const void *b, size_t len);

/* hex: writes 2*len+1 bytes (NUL-terminated) into out. */
void mfs_hex_encode(char *out, const uint8_t *in, size_t len);
/* Decodes exactly outlen bytes from a string of exactly 2*outlen hex digits;
 * returns 0 or MFS_E_FORMAT. */
int mfs_hex_decode(uint8_t *out, size_t outlen, const char *hex);
/* The value of one hex digit of either case (what %XX escapes and
 * fingerprints use), or -1. */
int mfs_hex_digit(char c);

#endif
