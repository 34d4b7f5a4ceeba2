/* fs: a channel as a FUSE low-level filesystem.
 *
 * The tree is the channel's newest manifest in the volume (fs/fuse/tree).
 * Reads go through fs/fuse/reader (lazy, segment by segment, read-ahead,
 * session cache). On a channel the volume owns, a mount is writable: files
 * are ingested as they are written (constant memory, no plaintext on disk)
 * and published on close; mkdir, rmdir, unlink and rename publish too. Each
 * publication reads the newest manifest, edits it, signs the next sequence
 * and stores it in one volume transaction, and unpins what it dropped. A
 * file being written is invisible to others until it is published. A mount
 * of a channel it does not own refuses writes with EROFS (and says why in
 * the log, once).
 *
 * A watcher thread notices new manifests in the store (another process
 * published, `megafs channel import`) and swaps the tree, telling the kernel
 * what changed. Unmounting wipes the session cache.
 *
 * Life: mfs_fs_new (no threads, no store: safe before fork), then, in the
 * process that serves the mount, mfs_fs_start; mfs_fs_free after the loop.
 * The store and volume are the caller's: opened before mfs_fs_start,
 * closed after mfs_fs_free. Handlers may run on any number of threads;
 * the other calls on the one that serves the mount. */
#ifndef MFS_FS_H
#define MFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <jansson.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/blob/volume_io.h"
#include "fs/fuse/reader.h"
#include "fs/store/session_cache.h"
#include "fs/store/volume.h"

struct mfs_fs_config {
	const char *store_dir;         /* absolute */
	uint8_t pk[MFS_SIGN_PK_BYTES];
	int writable;                  /* the volume owns the channel and ro was not asked */
	uint64_t cache_bytes;          /* session cache cap; 0: 1 GiB */
	int syslog;                    /* log to syslog (daemon) rather than stderr */
	/* Where blobs missing locally come from (fetch NULL: nowhere); the
	 * network plugs in here. */
	struct mfs_blob_fetcher fetcher;
	/* Told each manifest this mount published (canonical JSON, borrowed
	 * for the call), after it is stored, and on a writable mount each
	 * newer one another process stored in the volume (`megafs channel
	 * add`); may be NULL. */
	void (*published)(void *ctx, const char *json, size_t len);
	void *published_ctx;
};

struct mfs_fs;

int mfs_fs_new(struct mfs_fs **out, const struct mfs_fs_config *config);
/* Borrows the opened store and volume (they must outlive the fs), loads
 * the manifest, starts the reader, the session cache and the watcher. se
 * may be NULL: no kernel to tell what changed (tests drive the fs's parts
 * directly). */
int mfs_fs_start(struct mfs_fs *fs, struct mfs_store *store, struct mfs_volume *vol,
		 struct fuse_session *se);
void mfs_fs_free(struct mfs_fs *fs); /* NULL-safe; wipes the session cache */
/* A manifest was just stored in the volume (by the network, in this
 * process): the watcher looks now rather than at its next period. Any
 * thread; a void *ctx for net/swarm's stored hook. */
void mfs_fs_poke(void *fs);
/* Shows the channel's newest manifest in the volume now, from the calling
 * thread (the watcher would within its next look): 0 or an error. */
int mfs_fs_show_stored(struct mfs_fs *fs);
/* The mount's session cache (after mfs_fs_start), e.g. to serve from it. */
struct mfs_session_cache *mfs_fs_session_cache(struct mfs_fs *fs);
const struct fuse_lowlevel_ops *mfs_fs_ops(void);

/* Publishes item into directory dir ("" the root; made, with the ones on
 * the way, when missing) of channel pk, with no mount: the same pipeline
 * as a write through one (newest manifest, edit, sign, store, in one write
 * transaction). item is a magnet link string the caller checked
 * (fs/channel/magnet), or a FileEntry object whose blobs sink (else NULL)
 * stored and pinned: the manifest takes its pins over in the same
 * transaction (mfs_volume_sink_settle; on an error the caller rolls the
 * sink back). An item shown under the same name is replaced.
 * Mounts of pk in the volume show it within a watch period. *sequence
 * (may be NULL) receives the new sequence. Errors: -EPERM (the volume does
 * not own pk), MFS_E_NOTFOUND (it does not know pk), -EINVAL, -EEXIST,
 * -EISDIR, -ENOTDIR as the tree's edits (fs/fuse/tree.h), the volume's. */
int mfs_fs_publish_item(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const char *dir, json_t *item, struct mfs_volume_sink *sink,
			uint64_t *sequence);

/* Logging for the mount: stderr, or syslog once daemonised. No file names,
 * no content: what happened, not what was read or written. */
void mfs_log(const struct mfs_fs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
