/* lookup: one file of a channel by its path, as a mount shows it.
 *
 * The path is resolved in the tree (fs/fuse/tree) of the channel's newest
 * manifest in the volume, with the tree's rules (a directory wins a clash,
 * the earlier item another), so `megafs fetch` and libmegafs find the file
 * a mount of the channel shows at that path. Any thread; it reads in a
 * volume read transaction of its own. */
#ifndef MFS_LOOKUP_H
#define MFS_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/blob/fileentry.h"
#include "fs/store/volume.h"

/* The FileEntry at path ("dir/name") in the newest manifest of channel pk
 * into *out (mfs_entry_clear it; untouched on an error). MFS_E_NOTFOUND when
 * the volume holds no manifest of pk or the path names no file (a
 * directory, a magnet link, nothing); MFS_E_CORRUPT or MFS_E_FORMAT (why
 * receives a one-line reason; may be NULL) for a manifest or an entry that
 * does not read; -ENOMEM; the volume's errors. */
int mfs_lookup_entry(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     const char *path, struct mfs_file_entry *out, char *why, size_t why_len);

#endif
