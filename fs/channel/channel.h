/* channel: a channel's manifests inside a volume, and publishing new ones.
 *
 * The newest accepted manifest of each channel the volume knows is kept as
 * the volume object "m" + public key, byte for byte as signed (canonical
 * JSON); the keyring entry's sequence is that manifest's sequence. A
 * private channel's manifests are sealed (crypto/sealed): accepting one
 * opens it with the entry's read key or the volume's identity
 * (fs/channel/identity) and keeps the opened form too, as "o" + public key
 * (the signed fields but the signature, collections in clear: the volume
 * is encrypted), so readers never need a key again; one that no key opens
 * is refused (MFS_E_NOKEY) and the older one stays. Publishing an owned
 * private channel seals for its read key and the grants valid at the
 * manifest's timestamp (fs/channel/grant). A
 * manifest is accepted only if crypto/manifest verifies it against the
 * keyring's sequence (newer only: replays and rollbacks are refused) and
 * every item is a string (a magnet link) or a valid FileEntry
 * (fs/blob/fileentry). Publishing signs collections with the channel's
 * secret key as sequence + 1 and stores the result the same way.
 *
 * The calls on manifests work in a volume transaction the caller owns
 * (write for the changing ones), so reading the newest manifest, changing
 * it and storing the next is atomic even with other processes on the same
 * store. Looking channels up (mfs_channel_find, mfs_channel_list_read)
 * takes a read transaction of its own: the keyring as it was then. */
#ifndef MFS_CHANNEL_H
#define MFS_CHANNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/manifest.h"
#include "fs/blob/fileentry.h"
#include "fs/store/keyring.h"
#include "fs/store/volume.h"

/* 1 when title can title a collection: a directory path, "" (the root) or
 * names (mfs_entry_name_valid) joined by single slashes, none at either
 * end; else 0. The mount's tree (fs/fuse/tree) shows no other. */
int mfs_channel_title_valid(const char *title);

/* Channel pk as the volume knows it: *out (may be NULL) receives its
 * keyring entry, *secret (may be NULL) its secrets, zero when the volume
 * does not own it; secret must be guarded memory (mfs_secure_alloc).
 * 0, MFS_E_NOTFOUND when the volume does not know pk, or the volume's
 * errors (nothing written then). */
int mfs_channel_find(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     struct mfs_channel *out, struct mfs_channel_secret *secret);

/* Every channel the volume knows, owned and subscribed, into *out
 * (mfs_keyring_clear it; it is empty after an error). 0 or the volume's
 * errors. */
int mfs_channel_list_read(struct mfs_volume *vol, struct mfs_channel_list *out);
/* The public keys of every channel the volume knows, into *out (malloc'ed:
 * free() it; room for one at least) and *count: what a seeder serves. 0,
 * -ENOMEM or the volume's errors. */
int mfs_channel_list_keys(struct mfs_volume *vol, uint8_t (**out)[MFS_SIGN_PK_BYTES],
			  size_t *count);

/* The newest manifest of channel pk: malloc'ed canonical JSON (free()).
 * MFS_E_NOTFOUND when the volume holds none. */
int mfs_channel_manifest(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			 char **json, size_t *len);

/* The newest manifest as a reader sees it (opened when private): canonical
 * JSON without a signature for a private channel, the signed one for a
 * public channel (free()). MFS_E_NOTFOUND when the volume holds none. */
int mfs_channel_plain(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      char **json, size_t *len);

/* The newest manifest of pk, opened: out's collections are the readable
 * ones (mfs_manifest_clear it). MFS_E_NOTFOUND, MFS_E_CORRUPT. */
int mfs_channel_open(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     struct mfs_manifest *out);

/* Calls fn for each FileEntry of channel pk's newest manifest, in order
 * (magnet links skipped; e is valid during the call); stops at fn's first
 * non-zero value and returns it. MFS_E_NOTFOUND when the volume holds no
 * manifest of pk, MFS_E_CORRUPT when the one it holds does not verify. */
int mfs_channel_foreach_entry(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			      int (*fn)(void *ctx, const struct mfs_file_entry *e), void *ctx);

/* Verifies and stores a manifest received from elsewhere (a file, another
 * process, later a tracker). A channel the volume does not know is
 * subscribed to when subscribe_unknown is set, else refused
 * (MFS_E_NOTFOUND). out (may be NULL) receives the parsed manifest
 * (mfs_manifest_clear it; its collections are the signed ones). Errors as
 * mfs_manifest_verify, plus MFS_E_FORMAT for a bad file entry, MFS_E_NOKEY
 * for a sealed manifest no key of the volume opens, MFS_E_AUTH for a sealed
 * body that does not open with a key that should; why receives a one-line
 * reason. */
int mfs_channel_accept(struct mfs_vtxn *t, const char *json, size_t len, int subscribe_unknown,
		       struct mfs_manifest *out, char *why, size_t why_len);

/* Signs collections (borrowed) as the next manifest of owned channel pk,
 * stamped timestamp_ms, and stores it; *sequence (may be NULL) receives its
 * sequence; a private channel's is sealed. -EPERM when the volume does not
 * own pk, MFS_E_NOTFOUND when it does not know it. */
int mfs_channel_publish(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			json_t *collections, uint64_t timestamp_ms, uint64_t *sequence);

/* Makes the volume know link's channel: subscribes (titled title) when it
 * does not (*subscribed set), and keeps the read key the link carries (it
 * replaces the one kept: the owner rotated it) or marks the channel read by
 * grant. A channel the volume owns is left as it is. *owned (may be NULL)
 * says whether the volume owns it. 0 or the volume's errors. */
int mfs_channel_know(struct mfs_volume *vol, const struct mfs_link *link, const char *title,
		     int *subscribed, int *owned);
/* mfs_channel_know in two steps, for a caller that commits the change
 * with others (a mount: in its swarm's start transaction). The first says
 * whether link would change the volume (1, else 0; or an error) and
 * whether the volume owns the channel; the second makes the change in t
 * (the same rules as mfs_channel_know; nothing when there is none). */
int mfs_channel_needs_recording(struct mfs_volume *vol, const struct mfs_link *link, int *owned);
int mfs_channel_record(struct mfs_vtxn *t, const struct mfs_link *link, const char *title,
		       int *subscribed);

#endif
