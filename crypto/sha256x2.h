/* sha256x2: SHA-256 of two messages at once, with the CPU's SHA extensions.
 *
 * SHA-NI computes two rounds per instruction, but each waits for the one
 * before it: one message leaves the unit idle most of the time, and two
 * interleaved messages run in little more time than one. Used where the data
 * come in pairs: a blob's leaves, and the convergent keys of two chunks.
 * Where the CPU lacks the instructions, mfs_sha256x2_available() says 0 and
 * the callers hash one message at a time (OpenSSL); the functions here still
 * answer, one message after the other. Every result is plain SHA-256's
 * (tests compare with libsodium's). Messages are prefix || data, the
 * prefix in pairs at most two blocks: a tag byte, or HMAC's padded key and
 * a length. */
#ifndef MFS_SHA256X2_H
#define MFS_SHA256X2_H

#include <stddef.h>
#include <stdint.h>

struct mfs_sha256x2_msg {
	const uint8_t *prefix; /* NULL with prefix_len 0 */
	size_t prefix_len;
	const uint8_t *data;
	size_t len;
};

/* 1 when this CPU runs mfs_sha256x2 (SHA, SSSE3 and SSE4.1), else 0. */
int mfs_sha256x2_available(void);

/* out[i] = SHA-256(m[i].prefix || m[i].data) for i = 0, 1: in pairs when
 * available and each prefix is at most 128 bytes, else (libsodium) one after
 * the other. */
void mfs_sha256x2(uint8_t out[2][32], const struct mfs_sha256x2_msg m[2]);

/* out[i] = HMAC-SHA-256 keyed with key over m[i].prefix || m[i].data: in
 * pairs when available and each prefix is at most 64 bytes, else
 * (mfs_hmac_sha256) one after the other. */
void mfs_hmac_sha256x2(uint8_t out[2][32], const uint8_t key[static 32],
		       const struct mfs_sha256x2_msg m[2]);

#endif
