/* sign: Ed25519 channel keys. A channel is its 32-byte public key; its owner
 * holds the 64-byte secret key (keep it in mfs_secure_alloc memory). */
#ifndef MFS_SIGN_H
#define MFS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define MFS_SIGN_PK_BYTES 32
#define MFS_SIGN_SK_BYTES 64
#define MFS_SIGN_BYTES 64

void mfs_sign_keypair(uint8_t pk[static MFS_SIGN_PK_BYTES], uint8_t sk[static MFS_SIGN_SK_BYTES]);
void mfs_sign(uint8_t sig[static MFS_SIGN_BYTES], const uint8_t *msg, size_t len,
	      const uint8_t sk[static MFS_SIGN_SK_BYTES]);
/* 0, or MFS_E_AUTH when the signature does not verify. */
int mfs_sign_verify(const uint8_t sig[static MFS_SIGN_BYTES], const uint8_t *msg, size_t len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* 0 when sk's public half is pk, else MFS_E_AUTH. */
int mfs_sign_check_pair(const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t sk[static MFS_SIGN_SK_BYTES]);

#endif
