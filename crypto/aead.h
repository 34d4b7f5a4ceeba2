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

/* RFC 8439 ChaCha20-Poly1305, the same conventions. */
void mfs_aead_ietf_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
			size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
			const uint8_t key[static 32]);
int mfs_aead_ietf_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
		       size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		       const uint8_t key[static 32]);

#endif
