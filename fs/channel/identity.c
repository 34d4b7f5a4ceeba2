#include "fs/channel/identity.h"

#include <errno.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

static const char name[] = "\0identity";
#define NAME_LEN (sizeof name - 1)

int mfs_identity_get(struct mfs_vtxn *t, int create, uint8_t pk[static MFS_BOX_KEY_BYTES],
		     uint8_t *sk)
{
	uint8_t *secret = mfs_secure_alloc(MFS_BOX_KEY_BYTES);
	uint64_t len = 0;
	int rc;

	if (!secret)
		return -ENOMEM;
	rc = mfs_obj_size(t, name, NAME_LEN, &len);
	if (rc == 0 && len != MFS_BOX_KEY_BYTES)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		rc = mfs_obj_read(t, name, NAME_LEN, 0, secret, MFS_BOX_KEY_BYTES);
	if (rc == 0)
		rc = mfs_box_public(pk, secret);
	else if (rc == MFS_E_NOTFOUND && create) {
		mfs_box_keypair(pk, secret);
		rc = mfs_obj_write(t, name, NAME_LEN, secret, MFS_BOX_KEY_BYTES);
	}
	if (rc == 0 && sk)
		memcpy(sk, secret, MFS_BOX_KEY_BYTES);
	mfs_secure_free(secret);
	return rc;
}
