/* gc: frees the blobs nothing references any more (megafs gc).
 *
 * A blob is referenced by
 *   - the newest manifest of a channel in the keyring: each FileEntry's
 *     chunks and index blobs, read through the volume;
 *   - a pin: what `megafs ingest` printed (an entry the user keeps
 *     elsewhere) and the files a mount published hold one per reference;
 *   - a pinlog (fs/blob/pinlog) of an ingest or a file being written
 *     through a mount, while its process runs: its blobs are pinned.
 * A pinlog whose claim no process holds is a dead one's (kill -9, a crash,
 * a mount that ended with a file half written): nothing will ever own its
 * pins. So gc
 *   1. undoes each dead pinlog: drops the pins it names, except on blobs a
 *      manifest references (such a pin stays: space, not correctness; gc
 *      never lowers the pins of a blob a manifest names), then removes it;
 *   2. deletes every blob that has no pin and that no manifest references.
 * It never deletes a pinned blob, nor one a manifest references; a pinlog
 * whose process runs is left alone, so gc is safe beside a mount, an
 * ingest or a seeder on the same store. It works in short transactions:
 * one read transaction per channel to learn the references, one write
 * transaction per dead pinlog and per MFS_SINK_BATCH_BYTES of blobs
 * deleted. Each write transaction first checks that the keyring's channels
 * and sequences are those the references were read at (a manifest stored
 * meanwhile starts gc over, up to three times) and each blob's pins at
 * its deletion.
 *
 * An owned channel's file whose index blob does not read stops gc before it
 * changes anything (MFS_E_CORRUPT, said through say): its blobs cannot be
 * told. A subscribed channel's missing index blob is no error (a mount
 * fetches lazily); what it would name is only a cache then. */
#ifndef MFS_GC_H
#define MFS_GC_H

#include <stdint.h>

#include "fs/store/volume.h"

struct mfs_gc_report {
	uint64_t pinlogs_live;  /* ingests and mount writers at work: left alone */
	uint64_t pinlogs_dead;  /* left by processes that died: undone */
	uint64_t pins_dropped;  /* of dead pinlogs */
	uint64_t pins_kept;     /* of dead pinlogs, on blobs a manifest references */
	uint64_t blobs_freed;
	uint64_t bytes_freed;   /* the blobs' bytes */
	uint64_t blobs_kept;    /* what remains: referenced, pinned, or both */
	uint64_t bytes_kept;
};

/* Collects garbage in v as above. say (may be NULL) receives a line (no
 * newline) for what stops it. Returns 0 or an error: MFS_E_CORRUPT (an
 * owned file's index blob, or a manifest, does not read: run megafs fsck),
 * -EAGAIN (the channels kept changing), or the volume's. What was done
 * before an error stays done and is in the report. */
int mfs_gc_volume(struct mfs_volume *v, void (*say)(void *ctx, const char *line), void *ctx,
		  struct mfs_gc_report *out);

#endif
