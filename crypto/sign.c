#include "crypto/sign.h"

#include <sodium.h>

#include "crypto/mfs_error.h"

void mfs_sign_keypair(uint8_t pk[static MFS_SIGN_PK_BYTES], uint8_t sk[static MFS_SIGN_SK_BYTES])
{
	crypto_sign_keypair(pk, sk);
}

void mfs_sign(uint8_t sig[static MFS_SIGN_BYTES], const uint8_t *msg, size_t len,
	      const uint8_t sk[static MFS_SIGN_SK_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, sk);
}

int mfs_sign_verify(const uint8_t sig[static MFS_SIGN_BYTES], const uint8_t *msg, size_t len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : MFS_E_AUTH;
}

int mfs_sign_check_pair(const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t sk[static MFS_SIGN_SK_BYTES])
{
	uint8_t derived[MFS_SIGN_PK_BYTES];
	int rc;

	crypto_sign_ed25519_sk_to_pk(derived, sk);
	rc = sodium_memcmp(derived, pk, sizeof derived) == 0 ? 0 : MFS_E_AUTH;
	return rc;
}
