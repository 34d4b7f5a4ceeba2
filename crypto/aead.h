/* aead: XChaCha20-Poly1305 (IETF) sealing of a buffer, and the RFC 8439
 * ChaCha20-Poly1305 under it (12-byte nonce; Noise's cipher).
 *
 * out holds len + MFS_AEAD_TAG_BYTES bytes: ciphertext then tag. A failed
 * open returns MFS_E_AUTH and says nothing more (no oracle); out is then
 * wiped. in and out may be the same buffer. */
#ifndef MFS_AEAD_H
#define MFS_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define MFS_AEAD_TAG_BYTES 16
#define MFS_AEAD_NONCE_BYTES 24
#define MFS_AEAD_IETF_NONCE_BYTES 12

void mfs_aead_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32]);
/* in holds len + tag bytes; writes len bytes of plaintext to out. */
int mfs_aead_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		  const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32]);

/* Plaintext bytes [from, from + len) of an XChaCha20-Poly1305 ciphertext
 * (in holds those bytes of it), without reading or checking the tag: only for
 * bytes whose authenticity something else has shown (a MAC over them, or
 * their hash against an id that was). ChaCha20 alone, so a tampered byte
 * gives a wrong byte, not an error. in and out may be the same buffer. */
void mfs_aead_decrypt_unchecked(uint8_t *out, const uint8_t *in, size_t len, uint64_t from,
				const uint8_t nonce[static MFS_AEAD_NONCE_BYTES],
				const uint8_t key[static 32]);

/* XChaCha20's split: the HChaCha20 subkey of key and nonce's first 16
 * bytes, and the RFC 8439 nonce under it (0^4 || nonce's last 8 bytes).
 * mfs_aead_ietf_* under these give mfs_aead_*'s bytes; other first four
 * bytes of ietf_nonce give further messages under the same nonce (the
 * volume's slot pieces). Wipe subkey after use. */
void mfs_aead_xsplit(uint8_t subkey[static 32], uint8_t ietf_nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		     const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32]);

/* RFC 8439 ChaCha20-Poly1305, the same conventions. */
void mfs_aead_ietf_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
			size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
			const uint8_t key[static 32]);
int mfs_aead_ietf_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
		       size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		       const uint8_t key[static 32]);

#endif
