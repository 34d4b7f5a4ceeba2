/* fs_internal: what the parts of a mount share, for fs/fuse alone
 * (layer-internal, like libuv's uv__ tier: nothing outside fs/fuse includes
 * it but the unit tests of these parts).
 *
 * A mount is one struct mfs_fs, worked on by these files:
 *   fs.c       the FUSE handlers (each parses, calls one of the parts below,
 *              replies exactly once), open handles, and the mount's life
 *   publish.c  manifests in and out: the newest one shown as the tree, and
 *              an edit signed and stored as the next one (mkdir, rename...)
 *   writer.c   files being written through the mount, from create until the
 *              kernel forgets them; published on close through publish.c
 *   watch.c    the watcher thread: notices manifests stored by others, and
 *              tells the kernel what changed (never from inside a handler)
 *
 * Names: functions shared here are mfs__<part>_<verb>, so that none can
 * clash with a library's; the types (struct writer, edit, notice) are the
 * parts' own.
 *
 * Threads: handlers run on libfuse's worker threads, any number at once;
 * the watcher on its own. Every function here may be called from any of
 * them unless it says otherwise.
 *
 * Lock order. A thread holding a lock may take only locks further down
 * this list; the last three are leaves (nothing is taken while one is held):
 *   1. writer->lock      one file being written: its ingest, sink, size and
 *                        state. A thread holds at most one writer's lock.
 *   2. publish_lock      one edit (or refresh) at a time in this process,
 *                        held across read, edit, sign, store and show, so
 *                        that trees are shown in the order their manifests
 *                        were signed, each with its own inode moves.
 *   3. tree_lock (rw)    the tree shown, its sequence, the inode table.
 *   -  writers_lock      the list of writers and their kernel references.
 *   -  handles_lock      the list of open handles.
 *   -  watch_lock        the watcher's notices and its stop flag.
 * Below every one of these: the volume's own locks and transactions (a
 * write transaction is opened inside publish_lock and inside writer->lock),
 * and the reader's. None is held while calling libfuse's notify functions:
 * the kernel may be holding a directory's lock while it waits on a handler
 * that waits on us. */
#ifndef MFS_FS_INTERNAL_H
#define MFS_FS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/fuse/fs.h"
#include "fs/fuse/tree.h"

/* Inode numbers of files being written start here, far above any tree's. */
#define MFS_PENDING_INO (UINT64_C(1) << 62)

enum writer_state {
	W_OPEN,      /* being written */
	W_PUBLISHED, /* final: the tree has it at parent/name */
	W_FAILED,    /* final: not published, what it stored is gone */
};

/* A file being written through the mount, until the kernel forgets it. */
struct writer {
	/* Set at creation, then read-only: read them with no lock. */
	uint64_t ino;
	uint64_t parent;               /* the directory's inode at create */
	char *dir;                     /* the directory's path */
	char name[MFS_NAME_MAX + 1];
	int64_t mtime;

	pthread_mutex_t lock;
	/* A NAME.magnet file holds one magnet link: its bytes gather here
	 * (text non-NULL, no ingest) and are checked and published as a
	 * magnet item on close. */
	char *text;                    /* protected by lock */
	size_t text_len;               /* protected by lock */
	struct mfs_ingest *ingest;     /* protected by lock */
	struct mfs_volume_sink sink;   /* protected by lock */
	uint64_t written;              /* protected by lock */
	enum writer_state state;       /* protected by lock */
	int error;                     /* protected by lock; what finishing returned */

	unsigned opens;                /* protected by fs->writers_lock */
	uint64_t lookups;              /* protected by fs->writers_lock */
	struct writer *next;           /* protected by fs->writers_lock */
};

/* Something to tell the kernel, by the watcher thread. */
struct notice {
	struct mfs_tree *old;          /* a tree that was replaced: tell the diff */
	uint64_t parent;               /* or one entry to forget */
	char *name;
	struct notice *next;
};

struct handle; /* fs.c's: an open file */

struct mfs_fs {
	/* Set by mfs_fs_new and mfs_fs_start, then read-only. */
	struct mfs_fs_config cfg;
	struct mfs_volume *vol;        /* borrowed from mfs_fs_start's caller */
	struct mfs_session_cache *cache;
	struct mfs_reader *reader;
	struct fuse_session *se;       /* NULL: no kernel to tell (unit tests) */
	uid_t uid;
	gid_t gid;
	int told_read_only;            /* atomic: the EROFS reason was logged */

	pthread_rwlock_t tree_lock;
	struct mfs_tree *tree;         /* protected by tree_lock */
	uint64_t sequence;             /* protected by tree_lock: the tree's manifest */
	struct mfs_inodes *inodes;     /* protected by tree_lock, held for writing */

	pthread_mutex_t publish_lock;  /* protects no field: it orders edits */

	pthread_mutex_t writers_lock;
	struct writer *writers;        /* protected by writers_lock */
	uint64_t next_pending;         /* protected by writers_lock */

	pthread_mutex_t handles_lock;
	struct handle *handles;        /* protected by handles_lock */

	pthread_mutex_t watch_lock;
	pthread_cond_t watch_wake;     /* with watch_lock: notices or stop changed */
	struct notice *notices;        /* protected by watch_lock */
	int poked;                     /* protected by watch_lock: look at the volume now */
	int stop;                      /* protected by watch_lock */
	int started;                   /* the watcher runs: start's and free's thread alone */
	pthread_t watcher;
	uint64_t seen_generation;      /* the watcher's alone, once it runs */
};

/* ---- publish.c: manifests and the tree ---- */

enum edit_kind { E_ADD, E_REMOVE, E_MKDIR, E_RMDIR, E_RENAME };

/* One change to the manifest, as tree.h's edits take it. All borrowed. */
struct edit {
	enum edit_kind kind;
	const char *dir, *name;        /* E_ADD: dir only (the entry has the name) */
	const char *to_dir, *to_name;  /* E_RENAME */
	json_t *entry;                 /* E_ADD: a FileEntry object or a magnet link string */
	int parents;                   /* E_ADD: make the directories on the way */
	/* E_ADD (may be NULL): the sink that pinned the entry's blobs; the
	 * manifest takes its pins over in the same transaction. */
	struct mfs_volume_sink *sink;
};

/* Reads the newest manifest, applies ed, signs and stores the next one,
 * unpins what it dropped and settles ed->sink, in one volume write
 * transaction; then tells
 * cfg.published and shows the new tree. Nothing changes on an error (the
 * tree's errors are -errno, as the file operation returns them). Takes
 * publish_lock and, inside it, tree_lock and watch_lock: call it holding
 * nothing but (at most) one writer's lock. */
int mfs__publish_edit(struct mfs_fs *fs, const struct edit *ed);
/* Shows the store's newest manifest, if it is newer than the tree. With
 * announce, on a writable mount, a newer manifest shown (stored by another
 * process: `megafs channel add`) also goes to cfg.published, so that
 * the trackers get it. Takes publish_lock and, inside it, tree_lock and
 * watch_lock: call it holding nothing. */
int mfs__publish_refresh(struct mfs_fs *fs, int announce);

/* ---- writer.c: files being written ---- */

/* A new file dir/name (parent: dir's inode) being written, numbered from
 * MFS_PENDING_INO, with one open and lookups kernel references. -EROFS
 * when the volume does not own the channel. A name ending in .magnet makes
 * a magnet item, not a file: at most MFS_MAGNET_MAX bytes (and a newline),
 * published only if they are a magnet link (fs/channel/magnet) that shows
 * as that very name; else the close fails with EINVAL (-EFBIG for a write
 * past the limit) and the log says why. Takes writers_lock. */
int mfs__writer_new(struct writer **out, struct mfs_fs *fs, uint64_t parent, const char *dir,
	       const char *name, uint64_t lookups);
/* The writer numbered ino, or NULL. The pointer stays good while the
 * kernel holds a reference (a lookup or an open) to ino. */
struct writer *mfs__writer_find(struct mfs_fs *fs, uint64_t ino);
/* Where w stands, and (while W_OPEN) how many bytes it has. */
enum writer_state mfs__writer_state(struct writer *w, uint64_t *written);
/* Appends size bytes at off: writes must go forward (-EIO otherwise); a
 * gap is a hole, filled with zeros. A store error fails the file. */
int mfs__writer_write(struct mfs_fs *fs, struct writer *w, const void *data, size_t size,
		 uint64_t off);
/* ftruncate while being written: it may only grow (with zeros); -EPERM for
 * any other size, or once the file is no longer being written. */
int mfs__writer_grow(struct mfs_fs *fs, struct writer *w, uint64_t size);
/* close(): with publish (the opener's close), publishes the file if
 * anything was written (a close of an empty file is a shell's
 * dup-and-close: it waits for a later close); later calls return the first
 * result. Without (a copy of the descriptor closed elsewhere): the
 * writer's failure if it failed, else 0, and it stays open. */
int mfs__writer_flush(struct mfs_fs *fs, struct writer *w, int publish);
/* The last close of a handle: publishes the file if it was not yet, and
 * drops the handle's open. w may be freed on return. */
void mfs__writer_close(struct mfs_fs *fs, struct writer *w);
/* The kernel forgot nlookup references to ino; frees its writer when no
 * reference and no open is left. */
void mfs__writer_forget(struct mfs_fs *fs, uint64_t ino, uint64_t nlookup);
/* The mount ends with w still open: it is not published, what it stored
 * goes. */
void mfs__writer_abandon(struct writer *w);
/* Frees every writer left, at the end (one thread, no handler running). */
void mfs__writer_free_all(struct mfs_fs *fs);

/* ---- watch.c: the watcher thread ---- */

/* Queues n (taken) for the watcher to tell. */
void mfs__watch_queue(struct mfs_fs *fs, struct notice *n);
/* Queues "forget parent/name" (best effort: the kernel's entry times out
 * anyway if memory runs out). */
void mfs__watch_queue_entry(struct mfs_fs *fs, uint64_t parent, const char *name);
/* Starts the watcher; fs->seen_generation must be the volume's generation
 * from before the tree was loaded, so that nothing stored since is missed. */
int mfs__watch_start(struct mfs_fs *fs);
/* Stops and joins the watcher, and drops notices not told. NULL-safe for a
 * watcher never started. Notices queued later are dropped at once. */
void mfs__watch_stop(struct mfs_fs *fs);

#endif
