/* volume_io: blobs in and out of a volume, in the shapes fs/blob consumes.
 *
 * The sink gathers blobs (sealed for the volume when they come through
 * prepare) and stores them a batch at a time, each batch in one write
 * transaction: begun and committed within one call of the caller's, or on
 * the sink's committer thread, which chains the commits of a run of
 * batches (mfs_vtxn_commit_chained) and alone holds the chain's
 * transaction. No transaction outlives a call of the caller's, so
 * successive calls may come from different threads (FUSE serves
 * one file's writes on any of its threads; a write transaction holds locks
 * its thread must release). A batch is MFS_SINK_BATCH_BYTES of slots: a
 * write transaction holds the store's lock (other writers, other processes
 * wait) and its new slots need free positions until it commits (megafs(7),
 * Commits), so batches stay small. The sink remembers what it added or
 * pinned, so a failed ingest can be rolled back whole: after
 * mfs_volume_sink_rollback the volume holds what it held before. A sink that
 * pins writes its pins down with each batch (fs/blob/pinlog: a process
 * killed mid-file leaves a record `megafs gc` undoes) until they have an
 * owner: mfs_volume_sink_finish (the caller keeps the FileEntry) or
 * mfs_volume_sink_settle (a manifest takes it, in the caller's
 * transaction). One thread at a time per sink; a full batch is committed
 * on a thread of the sink's own while the caller gathers the next (a
 * commit waits on the disk twice; gathering only copies a blob, or keeps
 * a prepared blob's buffer and hands back a spare), and every other
 * call first waits for that commit: an error of it is the next call's.
 * The source reads a blob in its own short read transaction. */
#ifndef MFS_VOLUME_IO_H
#define MFS_VOLUME_IO_H

#include <stddef.h>
#include <stdint.h>

#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/store/volume.h"

#define MFS_SINK_BATCH_BYTES (24u << 20)

struct mfs_sink_change {
	uint8_t id[MFS_BLOB_ID_BYTES];
	int what; /* MFS_BLOB_ADDED | MFS_BLOB_PINNED_NOW */
};

struct mfs_pending_blob;
struct mfs_sink_committer;

/* Blobs gathered, not stored yet. */
struct mfs_sink_batch {
	struct mfs_pending_blob *pending;
	size_t pending_count, pending_cap;
	uint8_t *buf;                  /* copied blobs' bytes, kept for the next batch */
	size_t buf_used, buf_cap;
	size_t bytes;                  /* slots the batch will take, in bytes */
};

struct mfs_volume_sink {
	struct mfs_volume *vol;
	int pin;
	struct mfs_sink_batch batch;   /* being gathered */
	struct mfs_sink_batch full;    /* being committed by the committer, or
					* its buffers kept for the next */
	struct mfs_sink_committer *committer; /* started with the first full batch */
	uint8_t **spare;               /* buffers of spare_size bytes, given in
					* exchange for prepared blobs kept */
	size_t spare_count, spare_cap, spare_size;
	int failed;                    /* a background commit's error, until rollback */
	struct mfs_sink_change *changes;
	size_t count, cap;
	uint64_t token;                /* the pinlog's, once claimed */
	int claimed;                   /* this process holds the claim on token */
	size_t logged;                 /* pins the committed pinlog names */
	uint64_t blobs_added;          /* statistics for the caller */
	uint64_t blobs_deduplicated;
};

void mfs_volume_sink_init(struct mfs_volume_sink *s, struct mfs_volume *v, int pin);
struct mfs_blob_sink mfs_volume_sink_as_sink(struct mfs_volume_sink *s);
/* Stores the gathered batch: everything put so far is durable. */
int mfs_volume_sink_commit(struct mfs_volume_sink *s);
/* Stores the last batch and, in the same transaction, drops the pinlog:
 * the pins now belong to the FileEntry the caller holds. */
int mfs_volume_sink_finish(struct mfs_volume_sink *s);
/* Drops the pinlog in t, a write transaction that gives the pins an owner
 * (the manifest the entry is published in). Everything put must have been
 * committed; once t commits, the sink is only cleared. */
int mfs_volume_sink_settle(struct mfs_volume_sink *s, struct mfs_vtxn *t);
/* Undoes every change this sink made, committed or not. */
int mfs_volume_sink_rollback(struct mfs_volume_sink *s);
/* Drops a batch not stored and the claim: a pinlog still written (neither
 * finished, settled nor rolled back) is then gc's to undo. */
void mfs_volume_sink_clear(struct mfs_volume_sink *s);

struct mfs_blob_source mfs_volume_source(struct mfs_volume *v);
/* A source that reads in t, a transaction the caller keeps open meanwhile. */
struct mfs_blob_source mfs_txn_source(struct mfs_vtxn *t);

#endif
