/* grant: who, besides holders of the read key, may read an owned private
 * channel's next manifests.
 *
 * A grant is a subscriber's X25519 key (its `megafs id`) and an expiry
 * (milliseconds since the epoch). The owner's grants of channel pk are the
 * volume object "g" + pk: u32 LE count, then per grant the key and the
 * expiry (u64 LE), sorted by key, one grant per key. Publishing wraps each
 * manifest's content key for the grants whose expiry is after the
 * manifest's timestamp (fs/channel); a revoked or expired grant reads
 * nothing published after that, and keeps what it read. */
#ifndef MFS_GRANT_H
#define MFS_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sealed.h"
#include "fs/store/volume.h"

struct mfs_grant {
	uint8_t key[MFS_BOX_KEY_BYTES];
	uint64_t expires_ms;
};

struct mfs_grant_list {
	size_t count;
	struct mfs_grant *items; /* malloc'ed */
};

/* The grants of channel pk (none: an empty list). 0, MFS_E_CORRUPT, -ENOMEM
 * or the volume's errors. */
int mfs_grants_load(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		    struct mfs_grant_list *out);
void mfs_grants_clear(struct mfs_grant_list *l);

/* Adds or renews key's grant. MFS_E_FULL past MFS_SEALED_MAX_GRANTS. */
int mfs_grants_put(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		   const uint8_t key[static MFS_BOX_KEY_BYTES], uint64_t expires_ms);
/* Removes key's grant: MFS_E_NOTFOUND when it has none. */
int mfs_grants_remove(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      const uint8_t key[static MFS_BOX_KEY_BYTES]);

/* The keys of l valid at now_ms, into *keys (malloc'ed; free()). */
int mfs_grants_valid(const struct mfs_grant_list *l, uint64_t now_ms,
		     uint8_t (**keys)[MFS_BOX_KEY_BYTES], size_t *n);

#endif
