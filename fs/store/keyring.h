/* keyring: the channels a volume knows, owned and subscribed.
 *
 * Kept as one volume object ("\0keyring"). An owned channel carries its
 * Ed25519 secret key and its convergence secret; both stay in guarded memory
 * (mfs_channel_list.secrets) and are wiped by mfs_keyring_clear. A channel's
 * link is "megafs://" followed by its public key in lower-case hex. */
#ifndef MFS_KEYRING_H
#define MFS_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/store/volume.h"

#define MFS_TITLE_MAX 255
#define MFS_LINK_PREFIX "megafs://"
#define MFS_LINK_BYTES (sizeof MFS_LINK_PREFIX - 1 + 2 * MFS_SIGN_PK_BYTES + 1)

struct mfs_channel_secret {
	uint8_t sk[MFS_SIGN_SK_BYTES];
	uint8_t convergence[32];
};

struct mfs_channel {
	uint8_t pk[MFS_SIGN_PK_BYTES];
	int owned;
	uint64_t sequence;          /* newest manifest seen or published; 0 none */
	char title[MFS_TITLE_MAX + 1];
};

struct mfs_channel_list {
	size_t count;
	struct mfs_channel *items;         /* malloc'ed */
	struct mfs_channel_secret *secrets; /* guarded, count entries (zero when not owned) */
};

int mfs_keyring_load(struct mfs_vtxn *t, struct mfs_channel_list *out);
int mfs_keyring_store(struct mfs_vtxn *t, const struct mfs_channel_list *list);
void mfs_keyring_clear(struct mfs_channel_list *list); /* wipes secrets */
/* Index of pk in list, or -1. */
long mfs_keyring_find(const struct mfs_channel_list *list, const uint8_t pk[static MFS_SIGN_PK_BYTES]);

/* Makes a new owned channel; pk receives its public key. */
int mfs_keyring_new_channel(struct mfs_vtxn *t, const char *title,
			    uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* Adds a subscription; MFS_E_EXISTS when the channel is already known. */
int mfs_keyring_subscribe(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			  const char *title);

void mfs_link_format(char out[static MFS_LINK_BYTES], const uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* Parses "megafs://<64 hex>" (or the bare hex). MFS_E_FORMAT otherwise. */
int mfs_link_parse(uint8_t pk[static MFS_SIGN_PK_BYTES], const char *link);

#endif
