/* check: reads every object a volume holds, says what is damaged, and
 * writes again what its parity rebuilt or peers sent again (megafs fsck).
 *
 * The objects are those megafs(7) lists under Objects: the keyring, the
 * protect key, the node key, each known channel's manifest and network
 * record, the blob table's buckets and every blob it lists. A damaged blob
 * is named by the files of the channels whose manifests reference it. An
 * object that still reads but lost slots (a hidden volume's parity made up
 * for them) is "rebuilt"; with repair it is written again, every slot and
 * its parity at fresh positions, so later damage starts from whole stripes.
 *
 * Each object is checked in a transaction of its own: a mount or a seeder
 * may use the volume meanwhile. */
#ifndef MFS_CHECK_H
#define MFS_CHECK_H

#include <stdint.h>

#include "crypto/hash.h"
#include "fs/store/volume.h"

struct mfs_check_report {
	uint64_t objects;    /* checked */
	uint64_t rebuilt;    /* read in full, some of their slots lost */
	uint64_t damaged;    /* do not read (refetched ones included) */
	uint64_t repaired;   /* rebuilt objects written again */
	uint64_t refetched;  /* damaged blobs written again with a peer's bytes */
	uint64_t lost_slots; /* slots that did not open, all objects together */
};

/* Where a repair gets damaged blobs again (megafs fsck --repair: from the
 * channels' peers). fetch fills *blob (malloc'ed) with bytes that should be
 * blob id; they are checked against id before they are stored. */
struct mfs_check_refetch {
	int (*fetch)(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		     size_t *len);
	void *ctx;
};

/* say(ctx, line) receives one line per damaged object and per file with
 * damaged blobs (no newline). With repair and refetch (may be NULL), each
 * damaged blob is asked of refetch and, when it comes, written again and
 * checked; the files named are those still damaged after that. Returns 0
 * when the check ran (whatever it found: see the report), or the error that
 * stopped it. */
int mfs_check_volume(struct mfs_volume *v, int repair, const struct mfs_check_refetch *refetch,
		     void (*say)(void *ctx, const char *line), void *ctx,
		     struct mfs_check_report *out);

#endif
