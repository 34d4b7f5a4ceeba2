/* keyring: the channels a volume knows, owned and subscribed.
 *
 * Kept as one volume object ("\0keyring"). An owned channel carries its
 * Ed25519 secret key and its convergence secret; both stay in guarded memory
 * (mfs_channel_list.secrets) and are wiped by mfs_keyring_clear. A channel's
 * link is "megafs://" followed by its public key in lower-case hex; a
 * private channel's link adds "#" and its read key (64 hex digits), or
 * "#grant" for a volume that reads it by a grant to its own key (the
 * fragment never leaves the machine: trackers are given the key alone).
 *
 * A private (sealed) channel's entry keeps its read key, when the volume
 * has one, among the secrets. Records of older keyrings (no private flag)
 * read as public channels. */
#ifndef MFS_KEYRING_H
#define MFS_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/store/volume.h"

#define MFS_TITLE_MAX 255
#define MFS_LINK_PREFIX "megafs://"
#define MFS_LINK_BYTES (sizeof MFS_LINK_PREFIX - 1 + 2 * MFS_SIGN_PK_BYTES + 1)
#define MFS_READ_KEY_LEN 32
/* A link with its fragment: "#" and 64 hex digits at most. */
#define MFS_LINK_FULL_BYTES (MFS_LINK_BYTES + 1 + 2 * MFS_READ_KEY_LEN)
#define MFS_LINK_GRANT "grant"

struct mfs_channel_secret {
	uint8_t sk[MFS_SIGN_SK_BYTES];
	uint8_t convergence[32];
	uint8_t read_key[MFS_READ_KEY_LEN]; /* when has_read_key */
};

struct mfs_channel {
	uint8_t pk[MFS_SIGN_PK_BYTES];
	int owned;
	int sealed;                 /* private: its manifests are sealed */
	int has_read_key;           /* sealed, and the secret holds its read key */
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
/* Makes a new owned private channel with a fresh read key. */
int mfs_keyring_new_private(struct mfs_vtxn *t, const char *title,
			    uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* Adds a subscription; MFS_E_EXISTS when the channel is already known. */
int mfs_keyring_subscribe(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			  const char *title);
/* Marks known channel pk private (sealed), with read_key (NULL: none, the
 * volume reads by grant; an owned channel keeps its own) as its new read
 * key. MFS_E_NOTFOUND when the volume does not know pk. */
int mfs_keyring_set_private(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			    const uint8_t *read_key);

/* A parsed link: the channel, and what its fragment gives. */
enum mfs_link_kind { MFS_LINK_PUBLIC, MFS_LINK_READ_KEY, MFS_LINK_BY_GRANT };
struct mfs_link {
	uint8_t pk[MFS_SIGN_PK_BYTES];
	enum mfs_link_kind kind;
	uint8_t read_key[MFS_READ_KEY_LEN]; /* MFS_LINK_READ_KEY: keep in guarded memory */
};

void mfs_link_format(char out[static MFS_LINK_BYTES], const uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* The link a holder of the read key (or of a grant, read_key NULL) uses. */
void mfs_link_format_private(char out[static MFS_LINK_FULL_BYTES],
			     const uint8_t pk[static MFS_SIGN_PK_BYTES], const uint8_t *read_key);
/* Parses "megafs://<64 hex>" (or the bare hex), with an optional fragment
 * "#<64 hex>" or "#grant", strictly (lower-case hex, nothing more).
 * MFS_E_FORMAT otherwise. */
int mfs_link_parse_full(struct mfs_link *out, const char *link);
/* mfs_link_parse_full, keeping only the channel. */
int mfs_link_parse(uint8_t pk[static MFS_SIGN_PK_BYTES], const char *link);

#endif
