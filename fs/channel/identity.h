/* identity: this volume's subscriber key (X25519), which owners grant to.
 *
 * Kept as the volume record "\0identity" (its 32-byte secret; the public
 * half is derived), made the first time it is asked for with create set.
 * The secret is returned in guarded memory only. `megafs id` prints the
 * public half as 64 hex digits. */
#ifndef MFS_IDENTITY_H
#define MFS_IDENTITY_H

#include <stdint.h>

#include "crypto/sealed.h"
#include "fs/store/volume.h"

/* pk (and sk, may be NULL: guarded memory of MFS_BOX_KEY_BYTES) of the
 * volume's identity. With create set (t must be a write transaction) a
 * volume that has none gets one; without, MFS_E_NOTFOUND. MFS_E_CORRUPT
 * when the record is damaged. */
int mfs_identity_get(struct mfs_vtxn *t, int create, uint8_t pk[static MFS_BOX_KEY_BYTES],
		     uint8_t *sk);

#endif
