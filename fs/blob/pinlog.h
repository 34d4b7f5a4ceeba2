/* pinlog: the pins a sink at work holds, written down in the volume in the
 * same transactions that add them, so that what a killed process pinned can
 * be told from what a finished one did (megafs gc undoes the first).
 *
 * A sink that pins (fs/blob/volume_io: `megafs ingest`, a file written
 * through a mount) takes a random 64-bit token and a claim on it
 * (mfs_store_claim: the kernel drops it when the process ends). With every
 * batch it stores, it writes the ids it has pinned so far (one per pin, in
 * order) in pages of MFS_PINLOG_PAGE_IDS, the objects
 * "\0pinlog" || u64(token) || u32(page) (one slot each: a batch rewrites
 * only the pages it touched, so the record costs the same per batch
 * however large the file), and lists the token in "\0pinlogs" (u64 tokens). When its pins have an owner (the FileEntry is
 * published in a manifest, or printed by ingest) or are undone (rollback),
 * it removes both in that same transaction. So a token listed whose claim
 * nobody holds belongs to a process that died with its pins unowned.
 *
 * All calls work in a volume transaction the caller owns (write for
 * mfs_pinlog_write). Arrays handed out are malloc'ed (free()). */
#ifndef MFS_PINLOG_H
#define MFS_PINLOG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"
#include "fs/store/volume.h"

#define MFS_PINLOG_PAGE_IDS 2045 /* 65,440 bytes: one slot */

/* Records that token's sink holds one pin on each of ids[0..count), when
 * the record held the first old_count of them (0: none yet), and lists the
 * token; count 0 removes the record (of old_count ids) and the listing
 * (neither need exist). */
int mfs_pinlog_write(struct mfs_vtxn *t, uint64_t token, const uint8_t (*ids)[MFS_BLOB_ID_BYTES],
		     size_t count, size_t old_count);
/* The tokens listed (*tokens NULL and *count 0 when none). MFS_E_CORRUPT
 * when the list is not a whole number of tokens. */
int mfs_pinlog_tokens(struct mfs_vtxn *t, uint64_t **tokens, size_t *count);
/* The ids token's record names (none when it has no record). */
int mfs_pinlog_read(struct mfs_vtxn *t, uint64_t token, uint8_t (**ids)[MFS_BLOB_ID_BYTES],
		    size_t *count);

#endif
