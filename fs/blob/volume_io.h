/* volume_io: blobs in and out of a volume, in the shapes fs/blob consumes.
 *
 * The sink writes blobs in batched write transactions (one commit per
 * MFS_SINK_BATCH_BYTES of slots taken: LMDB reuses a page freed in one
 * transaction only two transactions later, and the store's slack is sized
 * for about three batches) and remembers what it added or pinned, so a failed
 * ingest can be rolled back whole: after mfs_volume_sink_rollback the volume
 * holds what it held before. The source reads a blob in its own short read
 * transaction. */
#ifndef MFS_VOLUME_IO_H
#define MFS_VOLUME_IO_H

#include <stddef.h>
#include <stdint.h>

#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/store/volume.h"

#define MFS_SINK_BATCH_BYTES (12u << 20)

struct mfs_sink_change {
	uint8_t id[MFS_BLOB_ID_BYTES];
	int what; /* MFS_BLOB_ADDED | MFS_BLOB_PINNED_NOW */
};

struct mfs_volume_sink {
	struct mfs_volume *vol;
	int pin;
	struct mfs_vtxn *txn;          /* open batch, or NULL */
	size_t batch_bytes;
	size_t batch_start;            /* first change of the open batch */
	struct mfs_sink_change *changes;
	size_t count, cap;
	uint64_t blobs_added;          /* statistics for the caller */
	uint64_t blobs_deduplicated;
};

void mfs_volume_sink_init(struct mfs_volume_sink *s, struct mfs_volume *v, int pin);
struct mfs_blob_sink mfs_volume_sink_as_sink(struct mfs_volume_sink *s);
/* Commits the open batch: everything put so far is durable. */
int mfs_volume_sink_commit(struct mfs_volume_sink *s);
/* Undoes every change this sink made, committed or not. */
int mfs_volume_sink_rollback(struct mfs_volume_sink *s);
void mfs_volume_sink_clear(struct mfs_volume_sink *s); /* aborts an open batch */

struct mfs_blob_source mfs_volume_source(struct mfs_volume *v);

#endif
