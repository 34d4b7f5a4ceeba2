/* publish: the channel's manifests, in and out of a mount.
 *
 * Owns: the tree shown (fs->tree, its sequence, the inode table) and every
 * change of it; the publish pipeline (read the newest manifest, edit it,
 * sign and store the next, unpin what left it, settle the pins of what
 * joined it). Promises: one volume write
 * transaction per edit, so another process on the same store never sees
 * half of one, and nothing changes when an edit fails; a tree is only ever
 * replaced by a newer one; every replaced tree goes to the watcher, which
 * tells the kernel what changed.
 *
 * Threads: any. publish_lock orders edits and refreshes, tree_lock guards
 * the tree (see fs_internal.h for the order). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/fuse/fs_internal.h"
#include "fs/store/blobstore.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The newest collections of channel pk (a new reference; [] when none)
 * and their sequence and timestamp, read in t. */
static int read_manifest(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			 json_t **collections, uint64_t *sequence, int64_t *timestamp_ms)
{
	char *text = NULL;
	size_t len;
	json_t *root;
	int rc = mfs_channel_plain(t, pk, &text, &len);

	*sequence = 0;
	*timestamp_ms = 0;
	if (rc == MFS_E_NOTFOUND) {
		*collections = json_array();
		return *collections ? 0 : -ENOMEM;
	}
	if (rc != 0)
		return rc;
	root = json_loadb(text, len, 0, NULL);
	mfs_wipe_free(text);
	if (!root || !json_is_array(json_object_get(root, "collections"))) {
		json_decref(root);
		return MFS_E_CORRUPT;
	}
	*collections = json_incref(json_object_get(root, "collections"));
	*sequence = (uint64_t)json_integer_value(json_object_get(root, "sequence"));
	*timestamp_ms = (int64_t)json_integer_value(json_object_get(root, "timestamp"));
	json_decref(root);
	return 0;
}

/* Makes collections (sequence) the tree; the old one goes to the watcher.
 * A rename (moved_from, moved_to; may be NULL) keeps its inode numbers.
 * *replaced (may be NULL): 1 when the tree shown was older. */
static int show(struct mfs_fs *fs, json_t *collections, uint64_t sequence, int64_t ts_ms,
		const char *moved_from, const char *moved_to, int *replaced)
{
	struct mfs_tree *tree, *old = NULL;
	/* Allocated first: once the tree is swapped, telling must not fail. */
	struct notice *n = calloc(1, sizeof *n);
	int rc = 0;

	if (!n)
		return -ENOMEM;
	pthread_rwlock_wrlock(&fs->tree_lock);
	/* Not newer than what is shown: the watcher got there first. */
	if (!fs->tree || sequence > fs->sequence) {
		if (moved_from)
			mfs_inodes_move(fs->inodes, moved_from, moved_to);
		/* A channel with no manifest yet is dated by the mount. */
		rc = mfs_tree_build(&tree, collections, ts_ms ? ts_ms / 1000 : time(NULL),
				    fs->inodes);
		if (rc == 0) {
			old = fs->tree;
			fs->tree = tree;
			fs->sequence = sequence;
		}
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (replaced)
		*replaced = old != NULL;
	if (old) {
		n->old = old;
		mfs__watch_queue(fs, n);
	} else {
		free(n);
	}
	return rc;
}

int mfs__publish_refresh(struct mfs_fs *fs, int announce)
{
	struct mfs_vtxn *t;
	json_t *cols = NULL;
	char *signed_json = NULL;
	size_t signed_len = 0;
	uint64_t seq;
	int64_t ts;
	int rc, replaced = 0;

	/* Only the owner's manifests are passed on: a subscriber's come from
	 * the trackers, which have them. */
	announce = announce && fs->cfg.writable && fs->cfg.published;
	/* Never between an edit's commit and its show: the edit's manifest,
	 * shown from here, would lose a rename's inode numbers (and the kernel
	 * would find the file it renamed stale). */
	pthread_mutex_lock(&fs->publish_lock);
	rc = mfs_vtxn_begin(fs->vol, 0, &t);
	if (rc == 0) {
		rc = read_manifest(t, fs->cfg.pk, &cols, &seq, &ts);
		if (rc == 0 && announce && seq > 0 &&
		    mfs_channel_manifest(t, fs->cfg.pk, &signed_json, &signed_len) != 0)
			signed_json = NULL;
		mfs_vtxn_abort(t);
	}
	if (rc == 0)
		rc = show(fs, cols, seq, ts, NULL, NULL, &replaced);
	if (rc == 0 && replaced && signed_json)
		fs->cfg.published(fs->cfg.published_ctx, signed_json, signed_len);
	pthread_mutex_unlock(&fs->publish_lock);
	free(signed_json);
	json_decref(cols);
	return rc;
}

static int unpin_one(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	int rc = mfs_blob_unpin(ctx, id);

	/* A blob gone or unpinned already (another copy of the entry): fine. */
	return rc == MFS_E_NOTFOUND || rc == -EINVAL ? 0 : rc;
}

/* Unpins every blob of a file entry that left the manifest. */
static int unpin_item(struct mfs_vtxn *t, json_t *item)
{
	struct mfs_blob_source src = mfs_txn_source(t);
	struct mfs_file_entry e;
	int rc;

	if (!json_is_object(item))
		return 0; /* a magnet link holds no blobs of ours */
	rc = mfs_entry_from_json(&e, item, NULL, 0);
	if (rc != 0)
		return 0;
	rc = mfs_entry_foreach_blob(&e, &src, unpin_one, t);
	mfs_entry_clear(&e);
	/* Index blobs we cannot read cannot be unpinned: space, not correctness. */
	return rc == MFS_E_NOTFOUND || rc == MFS_E_AUTH || rc == MFS_E_CORRUPT ? 0 : rc;
}

/* E_ADD with parents: the directories on the way are made first. */
static int add_with_parents(const struct edit *ed, json_t **next, json_t **removed, json_t *cols)
{
	json_t *with_dirs = NULL;
	int rc = mfs_tree_mkdir_p(&with_dirs, cols, ed->dir);

	if (rc == 0)
		rc = mfs_tree_add_file(next, removed, with_dirs, ed->dir, ed->entry);
	json_decref(with_dirs);
	return rc;
}

static int apply(const struct edit *ed, json_t **next, json_t **removed, json_t *cols)
{
	switch (ed->kind) {
	case E_ADD:
		if (ed->parents)
			return add_with_parents(ed, next, removed, cols);
		return mfs_tree_add_file(next, removed, cols, ed->dir, ed->entry);
	case E_REMOVE:
		return mfs_tree_remove_file(next, removed, cols, ed->dir, ed->name);
	case E_MKDIR:
		return mfs_tree_mkdir(next, cols, ed->dir, ed->name);
	case E_RMDIR:
		return mfs_tree_rmdir(next, cols, ed->dir, ed->name);
	case E_RENAME:
		return mfs_tree_rename(next, removed, cols, ed->dir, ed->name, ed->to_dir,
				       ed->to_name);
	}
	return -EINVAL;
}

/* The pipeline, in write transaction t: reads the newest manifest of pk,
 * applies ed, signs and stores the next one (*next its collections, a new
 * reference; *seq and *stamp its sequence and timestamp), unpins what it
 * dropped and settles ed->sink. */
static int edit_txn(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		    const struct edit *ed, json_t **next, uint64_t *seq, int64_t *stamp)
{
	json_t *cols = NULL, *removed = NULL;
	int64_t ts;
	int rc = read_manifest(t, pk, &cols, seq, &ts);

	*stamp = now_ms();
	/* Timestamps only go forward, whatever the clock says. */
	if (rc == 0 && *stamp <= ts)
		*stamp = ts + 1;
	if (rc == 0)
		rc = apply(ed, next, &removed, cols);
	if (rc == 0)
		rc = mfs_channel_publish(t, pk, *next, (uint64_t)*stamp, seq);
	if (rc == 0 && removed)
		rc = unpin_item(t, removed);
	if (rc == 0 && ed->sink)
		rc = mfs_volume_sink_settle(ed->sink, t);
	json_decref(cols);
	json_decref(removed);
	return rc;
}

int mfs_fs_publish_item(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const char *dir, json_t *item, struct mfs_volume_sink *sink,
			uint64_t *sequence)
{
	struct edit ed = {.kind = E_ADD, .dir = dir, .entry = item, .parents = 1, .sink = sink};
	struct mfs_vtxn *t = NULL;
	json_t *next = NULL;
	uint64_t seq = 0;
	int64_t stamp;
	int rc = mfs_vtxn_begin(vol, 1, &t);

	if (rc == 0)
		rc = edit_txn(t, pk, &ed, &next, &seq, &stamp);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	json_decref(next);
	if (rc == 0 && sequence)
		*sequence = seq;
	return rc;
}

int mfs__publish_edit(struct mfs_fs *fs, const struct edit *ed)
{
	json_t *next = NULL;
	struct mfs_vtxn *t = NULL;
	char *from = NULL, *to = NULL, *signed_json = NULL;
	size_t signed_len = 0;
	uint64_t seq;
	int64_t stamp = 0;
	int rc;

	pthread_mutex_lock(&fs->publish_lock);
	rc = mfs_vtxn_begin(fs->vol, 1, &t);
	if (rc == 0)
		rc = edit_txn(t, fs->cfg.pk, ed, &next, &seq, &stamp);
	if (rc == 0 && fs->cfg.published)
		rc = mfs_channel_manifest(t, fs->cfg.pk, &signed_json, &signed_len);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc == 0 && signed_json)
		fs->cfg.published(fs->cfg.published_ctx, signed_json, signed_len);
	free(signed_json);
	if (rc == 0 && ed->kind == E_RENAME) {
		from = mfs_path_join(ed->dir, ed->name);
		to = mfs_path_join(ed->to_dir, ed->to_name);
		if (!from || !to)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = show(fs, next, seq, stamp, from, to, NULL);
	free(from);
	free(to);
	pthread_mutex_unlock(&fs->publish_lock);
	json_decref(next);
	return rc;
}
