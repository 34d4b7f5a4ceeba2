#include "crypto/aead.h"

#include <sodium.h>

#include "crypto/mfs_error.h"

void mfs_aead_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, ad,
							    ad_len, NULL, nonce, key);
}

int mfs_aead_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		  const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32])
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, in + len, ad,
								ad_len, nonce, key) != 0) {
		sodium_memzero(out, len);
		return MFS_E_AUTH;
	}
	return 0;
}
