/* watch: the watcher thread, the one that talks to the kernel unasked.
 *
 * Owns: the thread, and the queue of notices (replaced trees, entries to
 * forget). Promises: manifests stored by another process (or `megafs
 * channel import`) are shown within WATCH_MS, those this process's network
 * stored at once (mfs_fs_poke); the kernel is told which
 * names went or changed and which listings changed, from this thread only:
 * a handler that told it itself could deadlock, as the kernel may hold the
 * directory's lock while it waits for that handler's reply. With no FUSE
 * session (fs->se NULL: unit tests) notices are dropped untold.
 *
 * Threads: watch_queue and watch_queue_entry from any; watch_start and
 * watch_stop from the thread that starts and frees the mount. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fuse/fs_internal.h"

#define WATCH_MS 200

static void notice_free(struct notice *n)
{
	mfs_tree_free(n->old);
	free(n->name);
	free(n);
}

void mfs__watch_queue(struct mfs_fs *fs, struct notice *n)
{
	pthread_mutex_lock(&fs->watch_lock);
	if (fs->stop) {
		notice_free(n); /* nobody is left to tell */
	} else {
		n->next = fs->notices;
		fs->notices = n;
		pthread_cond_signal(&fs->watch_wake);
	}
	pthread_mutex_unlock(&fs->watch_lock);
}

void mfs__watch_queue_entry(struct mfs_fs *fs, uint64_t parent, const char *name)
{
	struct notice *n = calloc(1, sizeof *n);

	if (n && (n->name = strdup(name))) {
		n->parent = parent;
		mfs__watch_queue(fs, n);
	} else {
		free(n);
	}
}

/* Tells the kernel what differs between old and the current tree: names
 * that went or now mean something else, directories whose listing changed.
 * tree_lock is taken for each look only: never held while telling. */
static void tell_diff(struct mfs_fs *fs, const struct mfs_tree *old, const struct mfs_node *dir)
{
	const struct mfs_node *now;
	int listing_changed = 0;

	pthread_rwlock_rdlock(&fs->tree_lock);
	now = mfs_tree_at(fs->tree, dir->path);
	if (now && now->kind == MFS_NODE_DIR) {
		listing_changed = now->child_count != dir->child_count;
		for (size_t i = 0; !listing_changed && i < now->child_count; i++)
			listing_changed = !mfs_tree_child(dir, now->children[i]->name);
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	for (size_t i = 0; i < dir->child_count; i++) {
		const struct mfs_node *c = dir->children[i], *nc;
		int changed;

		pthread_rwlock_rdlock(&fs->tree_lock);
		now = mfs_tree_at(fs->tree, dir->path);
		nc = now && now->kind == MFS_NODE_DIR ? mfs_tree_child(now, c->name) : NULL;
		changed = !nc || nc->ino != c->ino;
		pthread_rwlock_unlock(&fs->tree_lock);
		if (changed)
			fuse_lowlevel_notify_inval_entry(fs->se, dir->ino, c->name, strlen(c->name));
		if (c->kind == MFS_NODE_DIR && !changed)
			tell_diff(fs, old, c);
	}
	if (listing_changed)
		fuse_lowlevel_notify_inval_inode(fs->se, dir->ino, 0, 0);
}

static void tell(struct mfs_fs *fs, struct notice *n)
{
	if (fs->se && n->old)
		tell_diff(fs, n->old, mfs_tree_root(n->old));
	else if (fs->se)
		fuse_lowlevel_notify_inval_entry(fs->se, n->parent, n->name, strlen(n->name));
	notice_free(n);
}

void mfs_fs_poke(void *arg)
{
	struct mfs_fs *fs = arg;

	pthread_mutex_lock(&fs->watch_lock);
	fs->poked = 1;
	pthread_cond_signal(&fs->watch_wake);
	pthread_mutex_unlock(&fs->watch_lock);
}

int mfs_fs_show_stored(struct mfs_fs *fs)
{
	return mfs__publish_refresh(fs, 0);
}

static void *watcher_main(void *arg)
{
	struct mfs_fs *fs = arg;

	pthread_mutex_lock(&fs->watch_lock);
	while (!fs->stop) {
		struct timespec until;
		struct notice *list;
		uint64_t generation;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += WATCH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!fs->notices && !fs->poked)
			pthread_cond_timedwait(&fs->watch_wake, &fs->watch_lock, &until);
		if (fs->stop)
			break;
		fs->poked = 0;
		list = fs->notices;
		fs->notices = NULL;
		pthread_mutex_unlock(&fs->watch_lock);
		/* Another process (or `channel import`) may have stored a newer
		 * manifest: the volume's newest superblock tells. */
		if (mfs_volume_refresh(fs->vol, &generation) == 0 &&
		    generation != fs->seen_generation) {
			fs->seen_generation = generation;
			if (mfs__publish_refresh(fs, 1) != 0)
				mfs_log(fs, "could not read the channel's newest manifest");
		}
		while (list) {
			struct notice *next = list->next;

			tell(fs, list);
			list = next;
		}
		pthread_mutex_lock(&fs->watch_lock);
	}
	pthread_mutex_unlock(&fs->watch_lock);
	return NULL;
}

int mfs__watch_start(struct mfs_fs *fs)
{
	if (pthread_create(&fs->watcher, NULL, watcher_main, fs) != 0)
		return -EAGAIN;
	fs->started = 1;
	return 0;
}

void mfs__watch_stop(struct mfs_fs *fs)
{
	pthread_mutex_lock(&fs->watch_lock);
	fs->stop = 1;
	pthread_cond_signal(&fs->watch_wake);
	pthread_mutex_unlock(&fs->watch_lock);
	if (fs->started)
		pthread_join(fs->watcher, NULL);
	fs->started = 0;
	while (fs->notices) {
		struct notice *n = fs->notices;

		fs->notices = n->next;
		notice_free(n);
	}
}
