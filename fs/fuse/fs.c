#include "fs/fuse/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/fuse/errno_map.h"
#include "fs/fuse/reader.h"
#include "fs/fuse/tree.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"
#include "fs/store/session_cache.h"

#define TIMEOUT 1.0
#define PENDING_INO (UINT64_C(1) << 62) /* numbers of files being written start here */
#define WATCH_MS 200
#define DEFAULT_CACHE (UINT64_C(1) << 30)

enum writer_state { W_OPEN, W_PUBLISHED, W_FAILED };

/* A file being written through the mount, until the kernel forgets it. */
struct writer {
	uint64_t ino;
	uint64_t parent;               /* the directory's inode at create */
	char *dir;                     /* the directory's path */
	char name[MFS_NAME_MAX + 1];
	pthread_mutex_t lock;          /* the fields below */
	struct mfs_ingest *ingest;
	struct mfs_volume_sink sink;
	uint64_t written;
	int64_t mtime;
	enum writer_state state;
	int error;
	unsigned opens;                /* protected by fs->writers_lock */
	uint64_t lookups;              /* protected by fs->writers_lock */
	struct writer *next;           /* protected by fs->writers_lock */
};

enum handle_kind { H_READ, H_WRITE, H_MAGNET };

struct handle {
	enum handle_kind kind;
	struct mfs_rfile *rfile;
	struct writer *writer;
	char *text;                    /* a magnet file's content */
	size_t text_len;
	struct handle *prev, *next;    /* fs->handles, protected by fs->handles_lock */
};

/* Something to tell the kernel, from the watcher thread (never from inside
 * an operation: the kernel may hold the directory's lock meanwhile). */
struct notice {
	struct mfs_tree *old;          /* a tree that was replaced: tell the diff */
	uint64_t parent;               /* or one entry to forget */
	char *name;
	struct notice *next;
};

struct mfs_fs {
	struct mfs_fs_config cfg;
	struct mfs_store *store;
	struct mfs_volume *vol;
	struct mfs_session_cache *cache;
	struct mfs_reader *reader;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	int told_read_only;

	pthread_rwlock_t tree_lock;    /* tree, sequence */
	struct mfs_tree *tree;
	struct mfs_inodes *inodes;     /* only touched with tree_lock held for writing */
	uint64_t sequence;

	pthread_mutex_t publish_lock;  /* one edit at a time in this process */

	pthread_mutex_t writers_lock;
	struct writer *writers;
	uint64_t next_pending;

	pthread_mutex_t handles_lock;
	struct handle *handles;

	pthread_mutex_t watch_lock;    /* notices, stop, wake */
	pthread_cond_t watch_wake;
	struct notice *notices;
	int stop;
	int started;
	pthread_t watcher;
	uint64_t seen_generation;   /* the volume's, when the tree was last built */
};

void mfs_log(const struct mfs_fs *fs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fs && fs->cfg.syslog) {
		vsyslog(LOG_NOTICE, fmt, ap);
	} else {
		fputs("megafs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* The one way a handler answers with an error (or 0): rc is 0, -errno or
 * a megafs code, mapped to errno by fs/fuse/errno_map. */
static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, mfs_fuse_errno(rc));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the manifest and the tree ---- */

/* The newest collections of the channel (a new reference; [] when none)
 * and their sequence and timestamp, read in t. */
static int read_manifest(struct mfs_fs *fs, struct mfs_vtxn *t, json_t **collections,
			 uint64_t *sequence, int64_t *timestamp_ms)
{
	char *text = NULL;
	size_t len;
	json_t *root;
	int rc = mfs_channel_manifest(t, fs->cfg.pk, &text, &len);

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

static void queue_notice(struct mfs_fs *fs, struct notice *n)
{
	pthread_mutex_lock(&fs->watch_lock);
	n->next = fs->notices;
	fs->notices = n;
	pthread_cond_signal(&fs->watch_wake);
	pthread_mutex_unlock(&fs->watch_lock);
}

/* Makes collections (sequence) the tree; the old one goes to the watcher,
 * which tells the kernel what changed. A rename (moved_from, moved_to; may
 * be NULL) keeps its inode numbers. */
static int set_tree(struct mfs_fs *fs, json_t *collections, uint64_t sequence, int64_t ts_ms,
		    const char *moved_from, const char *moved_to)
{
	struct mfs_tree *tree, *old;
	struct notice *n = calloc(1, sizeof *n);
	int rc;

	if (!n)
		return -ENOMEM;
	pthread_rwlock_wrlock(&fs->tree_lock);
	if (fs->tree && sequence <= fs->sequence) {
		pthread_rwlock_unlock(&fs->tree_lock);
		free(n);
		return 0; /* not newer than what is shown */
	}
	if (moved_from)
		mfs_inodes_move(fs->inodes, moved_from, moved_to);
	/* A channel with no manifest yet is dated by the mount. */
	rc = mfs_tree_build(&tree, collections, ts_ms ? ts_ms / 1000 : time(NULL), fs->inodes);
	if (rc == 0) {
		old = fs->tree;
		fs->tree = tree;
		fs->sequence = sequence;
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (rc != 0 || !old) {
		free(n);
		return rc;
	}
	n->old = old;
	queue_notice(fs, n);
	return 0;
}

/* Loads the newest manifest from the store if it is newer than the tree. */
static int refresh(struct mfs_fs *fs)
{
	struct mfs_vtxn *t;
	json_t *cols = NULL;
	uint64_t seq;
	int64_t ts;
	int rc = mfs_vtxn_begin(fs->vol, 0, &t);

	if (rc != 0)
		return rc;
	rc = read_manifest(fs, t, &cols, &seq, &ts);
	mfs_vtxn_abort(t);
	if (rc == 0)
		rc = set_tree(fs, cols, seq, ts, NULL, NULL);
	json_decref(cols);
	return rc;
}

/* ---- publishing ---- */

enum edit_kind { E_ADD, E_REMOVE, E_MKDIR, E_RMDIR, E_RENAME };

struct edit {
	enum edit_kind kind;
	const char *dir, *name, *to_dir, *to_name;
	json_t *entry;
};

struct txn_source {
	struct mfs_vtxn *t;
};

static int txn_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		   size_t *len)
{
	return mfs_blob_get(((struct txn_source *)ctx)->t, id, blob, len);
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
	struct txn_source ts = {.t = t};
	struct mfs_blob_source src = {.get = txn_get, .ctx = &ts};
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

static int apply(const struct edit *ed, json_t **next, json_t **removed, json_t *cols)
{
	switch (ed->kind) {
	case E_ADD:
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

static char *join_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (p)
		snprintf(p, a + b + 2, "%s%s%s", dir, a ? "/" : "", name);
	return p;
}

/* Reads the newest manifest, edits it, signs and stores the next one, and
 * unpins what it dropped: all in one volume transaction. Then shows it. */
static int publish(struct mfs_fs *fs, const struct edit *ed)
{
	json_t *cols = NULL, *next = NULL, *removed = NULL;
	struct mfs_vtxn *t = NULL;
	char *from = NULL, *to = NULL, *signed_json = NULL;
	size_t signed_len = 0;
	uint64_t seq;
	int64_t ts, stamp = now_ms();
	int rc;

	pthread_mutex_lock(&fs->publish_lock);
	rc = mfs_vtxn_begin(fs->vol, 1, &t);
	if (rc == 0)
		rc = read_manifest(fs, t, &cols, &seq, &ts);
	if (rc == 0)
		rc = apply(ed, &next, &removed, cols);
	if (rc == 0)
		rc = mfs_channel_publish(t, fs->cfg.pk, next, (uint64_t)(stamp > ts ? stamp : ts + 1),
					 &seq);
	if (rc == 0 && removed)
		rc = unpin_item(t, removed);
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
		from = join_path(ed->dir, ed->name);
		to = join_path(ed->to_dir, ed->to_name);
		if (!from || !to)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = set_tree(fs, next, seq, stamp > ts ? stamp : ts + 1, from, to);
	free(from);
	free(to);
	pthread_mutex_unlock(&fs->publish_lock);
	json_decref(cols);
	json_decref(next);
	json_decref(removed);
	return rc;
}

/* ---- nodes and attributes ---- */

static void fill_attr(const struct mfs_fs *fs, struct stat *st, uint64_t ino,
		      enum mfs_node_kind kind, uint64_t size, int64_t mtime, size_t children)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 65536;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = mtime;
	if (kind == MFS_NODE_DIR) {
		st->st_mode = S_IFDIR | (fs->cfg.writable ? 0755 : 0555);
		st->st_nlink = 2 + children;
	} else {
		st->st_mode = S_IFREG | (fs->cfg.writable && kind == MFS_NODE_FILE ? 0644 : 0444);
		st->st_nlink = 1;
	}
}

static void node_attr(const struct mfs_fs *fs, const struct mfs_node *n, struct stat *st)
{
	size_t dirs = 0;

	for (size_t i = 0; n->kind == MFS_NODE_DIR && i < n->child_count; i++)
		dirs += n->children[i]->kind == MFS_NODE_DIR;
	fill_attr(fs, st, n->ino, n->kind, n->size, n->mtime, dirs);
}

static struct writer *writer_find(struct mfs_fs *fs, uint64_t ino)
{
	struct writer *w;

	pthread_mutex_lock(&fs->writers_lock);
	for (w = fs->writers; w && w->ino != ino; w = w->next)
		;
	pthread_mutex_unlock(&fs->writers_lock);
	return w;
}

/* Attributes of a file being written, or, once published, of what it
 * became (the kernel may still call it by its first number). */
static int writer_attr(struct mfs_fs *fs, struct writer *w, struct stat *st)
{
	const struct mfs_node *dir, *n = NULL;
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	fill_attr(fs, st, w->ino, MFS_NODE_FILE, w->written, w->mtime, 0);
	if (w->state == W_PUBLISHED) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		dir = mfs_tree_by_ino(fs->tree, w->parent);
		n = dir ? mfs_tree_child(dir, w->name) : NULL;
		if (n && n->kind == MFS_NODE_FILE)
			fill_attr(fs, st, w->ino, MFS_NODE_FILE, n->size, n->mtime, 0);
		else
			rc = -ENOENT;
		pthread_rwlock_unlock(&fs->tree_lock);
	} else if (w->state == W_FAILED) {
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Writes zeros up to offset end (a hole, or ftruncate to a larger size).
 * Called with w->lock held. */
static int writer_zero_to(struct writer *w, uint64_t end)
{
	static const uint8_t zeros[65536];
	int rc = 0;

	while (rc == 0 && end > w->written) {
		size_t n = end - w->written < sizeof zeros ? (size_t)(end - w->written) : sizeof zeros;

		rc = mfs_ingest_write(w->ingest, zeros, n);
		if (rc == 0)
			w->written += n;
	}
	return rc;
}

/* A write failed for lack of room or a store error: this file will not be
 * published, and what it stored goes. Called with w->lock held. */
static void writer_fail(struct writer *w, int rc)
{
	mfs_ingest_abort(w->ingest);
	w->ingest = NULL;
	mfs_volume_sink_rollback(&w->sink);
	mfs_volume_sink_clear(&w->sink);
	w->state = W_FAILED;
	w->error = rc;
}

/* ---- operations ---- */

static struct mfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int refuse_read_only(struct mfs_fs *fs)
{
	if (fs->cfg.writable)
		return 0;
	if (!__atomic_exchange_n(&fs->told_read_only, 1, __ATOMIC_RELAXED))
		mfs_log(fs, "this mount is read-only: the volume does not own the channel, or "
			    "the mount asked for ro; writes fail with EROFS");
	return -EROFS;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mfs_fs *fs = fs_of(req);
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
	const struct mfs_node *dir, *n;

	pthread_rwlock_rdlock(&fs->tree_lock);
	dir = mfs_tree_by_ino(fs->tree, parent);
	n = dir && dir->kind == MFS_NODE_DIR ? mfs_tree_child(dir, name) : NULL;
	if (n) {
		e.ino = n->ino;
		node_attr(fs, n, &e.attr);
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (!n)
		reply_err(req, dir && dir->kind != MFS_NODE_DIR ? -ENOTDIR : -ENOENT);
	else
		fuse_reply_entry(req, &e);
}

/* Drops kernel references (forget) or one open (release) of the writer
 * for inode ino; frees it when neither is left. */
static void writer_unref(struct mfs_fs *fs, uint64_t ino, uint64_t lookups, unsigned opens)
{
	struct writer **p, *gone = NULL;

	pthread_mutex_lock(&fs->writers_lock);
	for (p = &fs->writers; *p; p = &(*p)->next)
		if ((*p)->ino == ino) {
			struct writer *w = *p;

			w->lookups = w->lookups > lookups ? w->lookups - lookups : 0;
			w->opens = w->opens > opens ? w->opens - opens : 0;
			if (w->lookups == 0 && w->opens == 0) {
				gone = w;
				*p = w->next;
			}
			break;
		}
	pthread_mutex_unlock(&fs->writers_lock);
	if (gone) {
		free(gone->dir);
		pthread_mutex_destroy(&gone->lock);
		free(gone);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino >= PENDING_INO)
		writer_unref(fs_of(req), ino, nlookup, 0);
	fuse_reply_none(req);
}

/* Attributes of inode ino: a tree node, or a file being written. */
static int ino_attr(struct mfs_fs *fs, fuse_ino_t ino, struct stat *st)
{
	const struct mfs_node *n;
	struct writer *w;
	int rc = 0;

	if (ino >= PENDING_INO) {
		w = writer_find(fs, ino);
		return w ? writer_attr(fs, w, st) : -ENOENT;
	}
	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_by_ino(fs->tree, ino);
	if (n)
		node_attr(fs, n, st);
	else
		rc = -ENOENT;
	pthread_rwlock_unlock(&fs->tree_lock);
	return rc;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = ino_attr(fs_of(req), ino, &st);

	(void)fi;
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct stat st;
	int rc = ino_attr(fs, ino, &st);

	(void)fi;
	/* Modes, owners and times are the manifest's: accepted and ignored (so
	 * cp -p and touch work). Sizes change only by writing a file whole. A
	 * file being written may be "changed" (cp does); a published one only
	 * on a writable mount. */
	if (rc == 0 && to_set && ino < PENDING_INO)
		rc = refuse_read_only(fs);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) {
		struct writer *w = ino >= PENDING_INO ? writer_find(fs, ino) : NULL;

		/* A file being written may grow (cp ends a sparse file with
		 * ftruncate); nothing may shrink or change once published. */
		rc = -EPERM;
		if (w) {
			pthread_mutex_lock(&w->lock);
			if (w->state == W_OPEN && (uint64_t)attr->st_size > w->written) {
				rc = writer_zero_to(w, (uint64_t)attr->st_size);
				if (rc != 0)
					writer_fail(w, rc);
			}
			pthread_mutex_unlock(&w->lock);
			if (rc == 0)
				rc = ino_attr(fs, ino, &st);
		}
	}
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	const struct mfs_node *dir;
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	int rc = 0;

	(void)fi;
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&fs->tree_lock);
	dir = mfs_tree_by_ino(fs->tree, ino);
	if (!dir)
		rc = -ENOENT;
	else if (dir->kind != MFS_NODE_DIR)
		rc = -ENOTDIR;
	/* Offsets: 1 ".", 2 "..", 3 + i the i-th child. */
	for (off_t i = off; rc == 0 && i < (off_t)dir->child_count + 2; i++) {
		struct stat st = {0};
		const char *name = i == 0 ? "." : i == 1 ? ".." : dir->children[i - 2]->name;
		size_t need;

		if (i < 2) {
			st.st_ino = i == 0 || !dir->parent ? dir->ino : dir->parent->ino;
			st.st_mode = S_IFDIR;
		} else {
			node_attr(fs, dir->children[i - 2], &st);
		}
		need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void track(struct mfs_fs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->handles_lock);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->handles_lock);
}

static void untrack(struct mfs_fs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->handles_lock);
}

static struct writer *writer_new(struct mfs_fs *fs, uint64_t parent, const char *dir,
				 const char *name, int *rc)
{
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT};
	struct mfs_channel_list list = {0};
	struct mfs_blob_sink sink;
	struct writer *w = calloc(1, sizeof *w);
	struct mfs_vtxn *t;
	long i;

	*rc = w ? 0 : -ENOMEM;
	if (w && !(w->dir = strdup(dir)))
		*rc = -ENOMEM;
	if (*rc == 0)
		*rc = mfs_vtxn_begin(fs->vol, 0, &t);
	if (*rc == 0) {
		*rc = mfs_keyring_load(t, &list);
		mfs_vtxn_abort(t);
	}
	/* Convergent keys under the channel's own secret: the same file twice
	 * in this channel costs nothing, and says nothing outside it. */
	i = *rc == 0 ? mfs_keyring_find(&list, fs->cfg.pk) : -1;
	if (*rc == 0 && (i < 0 || !list.items[i].owned))
		*rc = -EROFS;
	if (*rc == 0) {
		o.convergence = list.secrets[i].convergence;
		snprintf(w->name, sizeof w->name, "%s", name);
		pthread_mutex_init(&w->lock, NULL);
		mfs_volume_sink_init(&w->sink, fs->vol, 1);
		sink = mfs_volume_sink_as_sink(&w->sink);
		*rc = mfs_ingest_begin(&w->ingest, name, &o, &sink);
		if (*rc != 0)
			pthread_mutex_destroy(&w->lock);
	}
	mfs_keyring_clear(&list);
	if (*rc != 0) {
		if (w)
			free(w->dir);
		free(w);
		return NULL;
	}
	w->parent = parent;
	w->mtime = time(NULL);
	w->opens = 1;
	pthread_mutex_lock(&fs->writers_lock);
	w->ino = PENDING_INO + fs->next_pending++;
	w->next = fs->writers;
	fs->writers = w;
	pthread_mutex_unlock(&fs->writers_lock);
	return w;
}

/* Seals the file and publishes it (first flush or close); later calls
 * return the first result. Called with w->lock held. */
static int writer_finish(struct mfs_fs *fs, struct writer *w)
{
	struct mfs_file_entry e;
	struct edit ed = {.kind = E_ADD, .dir = w->dir};
	json_t *entry = NULL;
	int rc;

	if (w->state != W_OPEN)
		return w->error;
	rc = mfs_ingest_finish(w->ingest, w->mtime, &e);
	w->ingest = NULL;
	if (rc == 0)
		rc = mfs_volume_sink_commit(&w->sink);
	if (rc == 0)
		rc = mfs_entry_to_json(&entry, &e);
	if (rc == 0) {
		ed.entry = entry;
		rc = publish(fs, &ed);
	}
	if (rc != 0) {
		/* The previous manifest stays in force; what this file added goes. */
		mfs_volume_sink_rollback(&w->sink);
		mfs_log(fs, "a file written to the mount was not published: %s", mfs_strerror(rc));
	}
	mfs_volume_sink_clear(&w->sink);
	mfs_entry_clear(&e);
	json_decref(entry);
	w->state = rc == 0 ? W_PUBLISHED : W_FAILED;
	w->error = rc;
	if (rc == 0) {
		struct notice *n = calloc(1, sizeof *n);

		/* The kernel knows the name by the number create gave it. */
		if (n && (n->name = strdup(w->name))) {
			n->parent = w->parent;
			queue_notice(fs, n);
		} else {
			free(n);
		}
	}
	return rc;
}

static int open_node(struct mfs_fs *fs, const struct mfs_node *n, struct handle *h)
{
	struct mfs_file_entry e;
	int rc;

	if (n->kind == MFS_NODE_DIR)
		return -EISDIR;
	if (n->kind == MFS_NODE_MAGNET) {
		const char *link = json_string_value(n->item);

		h->kind = H_MAGNET;
		h->text_len = strlen(link) + 1;
		h->text = malloc(h->text_len);
		if (!h->text)
			return -ENOMEM;
		memcpy(h->text, link, h->text_len - 1);
		h->text[h->text_len - 1] = '\n';
		return 0;
	}
	rc = mfs_entry_from_json(&e, n->item, NULL, 0);
	if (rc == 0) {
		h->kind = H_READ;
		rc = mfs_rfile_open(&h->rfile, fs->reader, &e);
		mfs_entry_clear(&e);
	}
	return rc;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = calloc(1, sizeof *h);
	const struct mfs_node *n;
	int rc = h ? 0 : -ENOMEM, writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	char *dir = NULL, name[MFS_NAME_MAX + 1] = "";
	uint64_t parent = 0;

	if (rc == 0 && ino >= PENDING_INO) {
		/* The number create gave a file: once published, it stands for what
		 * the file became (until the kernel learns the new number); before,
		 * the file is not readable. */
		struct writer *w = writer_find(fs, ino);
		const struct mfs_node *parent_dir;

		rc = -EBUSY;
		if (w && !writing) {
			pthread_mutex_lock(&w->lock);
			if (w->state == W_PUBLISHED) {
				pthread_rwlock_rdlock(&fs->tree_lock);
				parent_dir = mfs_tree_by_ino(fs->tree, w->parent);
				n = parent_dir ? mfs_tree_child(parent_dir, w->name) : NULL;
				rc = n && n->kind == MFS_NODE_FILE ? open_node(fs, n, h) : -ENOENT;
				pthread_rwlock_unlock(&fs->tree_lock);
			}
			pthread_mutex_unlock(&w->lock);
		}
	} else if (rc == 0) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		n = mfs_tree_by_ino(fs->tree, ino);
		if (!n) {
			rc = -ENOENT;
		} else if (writing && (rc = refuse_read_only(fs)) != 0) {
			/* EROFS first: nothing is writable on a read-only mount. */
		} else if (writing) {
			if (n->kind != MFS_NODE_FILE)
				rc = n->kind == MFS_NODE_DIR ? -EISDIR : -EPERM;
			else if (!(fi->flags & O_TRUNC) && n->size > 0)
				rc = -EPERM; /* files are written whole: open with O_TRUNC */
			else if (!(dir = strdup(n->parent->path)))
				rc = -ENOMEM;
			snprintf(name, sizeof name, "%s", n->name);
			parent = n->parent ? n->parent->ino : 0;
		} else {
			rc = open_node(fs, n, h);
		}
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	if (rc == 0 && writing && (rc = refuse_read_only(fs)) == 0) {
		h->kind = H_WRITE;
		h->writer = writer_new(fs, parent, dir, name, &rc);
		if (h->writer) {
			pthread_mutex_lock(&fs->writers_lock);
			h->writer->lookups = 0; /* the kernel knows this file by its old number */
			pthread_mutex_unlock(&fs->writers_lock);
		}
	}
	free(dir);
	if (rc != 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = h->kind == H_READ; /* content never changes under a number */
	track(fs, h);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		untrack(fs, h);
		mfs_rfile_close(h->rfile);
		free(h->text);
		free(h);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
	const struct mfs_node *dir, *existing;
	struct handle *h = NULL;
	char *path = NULL;
	int rc = refuse_read_only(fs);

	(void)mode;
	if (rc == 0 && !mfs_entry_name_valid(name))
		rc = -EINVAL;
	if (rc == 0) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		dir = mfs_tree_by_ino(fs->tree, parent);
		existing = dir ? mfs_tree_child(dir, name) : NULL;
		if (!dir || dir->kind != MFS_NODE_DIR)
			rc = dir ? -ENOTDIR : -ENOENT;
		else if (existing && existing->kind == MFS_NODE_DIR)
			rc = -EISDIR;
		else if (existing && (fi->flags & O_EXCL))
			rc = -EEXIST;
		else if (!(path = strdup(dir->path)))
			rc = -ENOMEM;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	if (rc == 0 && !(h = calloc(1, sizeof *h)))
		rc = -ENOMEM;
	if (rc == 0) {
		h->kind = H_WRITE;
		h->writer = writer_new(fs, parent, path, name, &rc);
	}
	free(path);
	if (rc != 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	pthread_mutex_lock(&fs->writers_lock);
	h->writer->lookups = 1; /* create's reply counts as a lookup */
	pthread_mutex_unlock(&fs->writers_lock);
	e.ino = h->writer->ino;
	fill_attr(fs, &e.attr, e.ino, MFS_NODE_FILE, 0, h->writer->mtime, 0);
	fi->fh = (uint64_t)(uintptr_t)h;
	track(fs, h);
	fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint8_t *buf;
	ssize_t got;

	(void)ino;
	if (h->kind == H_MAGNET) {
		size_t n = (size_t)off >= h->text_len ? 0 : h->text_len - (size_t)off;

		fuse_reply_buf(req, h->text + (n ? off : 0), n < size ? n : size);
		return;
	}
	if (h->kind != H_READ) {
		reply_err(req, -EBADF);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	got = mfs_rfile_read(h->rfile, (uint64_t)off, size, buf);
	if (got < 0) {
		mfs_log(fs, "a read failed: %s", mfs_strerror((int)got));
		/* A blob found nowhere is a failed read of a file that exists. */
		reply_err(req, got == MFS_E_NOTFOUND || got == -ENOENT ? -EIO : (int)got);
	} else {
		fuse_reply_buf(req, (const char *)buf, (size_t)got);
		mfs_memzero(buf, (size_t)got); /* file content, in ordinary memory */
	}
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct writer *w = h->writer;
	int rc = 0;

	(void)ino;
	if (h->kind != H_WRITE) {
		reply_err(req, -EBADF);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->state != W_OPEN) {
		rc = -EIO; /* written after it was published, or after a failure */
	} else if ((uint64_t)off < w->written) {
		rc = -EIO;
		mfs_log(fs, "a write went back in a file: files are encrypted as they are "
			    "written and published whole, so writes must go forward");
	}
	/* A hole (sparse copy): zeros up to the write. */
	if (rc == 0)
		rc = writer_zero_to(w, (uint64_t)off);
	if (rc == 0)
		rc = mfs_ingest_write(w->ingest, data, size);
	if (rc == 0)
		w->written += size;
	if (rc != 0 && w->state == W_OPEN && rc != -EIO)
		writer_fail(w, rc);
	pthread_mutex_unlock(&w->lock);
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	/* close() of a written file publishes it, so that the next open by
	 * path finds it (the release that follows is not waited for). A close
	 * before anything was written is a shell's dup-and-close (echo x > f):
	 * the file is published at a later close or at release. */
	if (h->kind == H_WRITE) {
		pthread_mutex_lock(&h->writer->lock);
		if (h->writer->written > 0 || h->writer->state != W_OPEN)
			rc = writer_finish(fs, h->writer);
		pthread_mutex_unlock(&h->writer->lock);
	}
	reply_err(req, rc);
}

static void close_handle(struct mfs_fs *fs, struct handle *h)
{
	struct writer *w = h->writer;

	if (h->kind == H_READ)
		mfs_rfile_close(h->rfile);
	if (w) {
		pthread_mutex_lock(&w->lock);
		writer_finish(fs, w);
		pthread_mutex_unlock(&w->lock);
		writer_unref(fs, w->ino, 0, 1);
	}
	free(h->text);
	free(h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	untrack(fs, h);
	close_handle(fs, h);
	reply_err(req, 0);
}

/* The path of directory ino (a copy), for an edit. */
static int dir_path(struct mfs_fs *fs, fuse_ino_t ino, char **out)
{
	const struct mfs_node *dir;
	int rc = 0;

	pthread_rwlock_rdlock(&fs->tree_lock);
	dir = mfs_tree_by_ino(fs->tree, ino);
	if (!dir)
		rc = -ENOENT;
	else if (dir->kind != MFS_NODE_DIR)
		rc = -ENOTDIR;
	else if (!(*out = strdup(dir->path)))
		rc = -ENOMEM;
	pthread_rwlock_unlock(&fs->tree_lock);
	return rc;
}

static void reply_entry_at(fuse_req_t req, struct mfs_fs *fs, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
	const struct mfs_node *dir, *n;

	pthread_rwlock_rdlock(&fs->tree_lock);
	dir = mfs_tree_by_ino(fs->tree, parent);
	n = dir ? mfs_tree_child(dir, name) : NULL;
	if (n) {
		e.ino = n->ino;
		node_attr(fs, n, &e.attr);
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (n)
		fuse_reply_entry(req, &e);
	else
		reply_err(req, -EIO);
}

static int edit_in(struct mfs_fs *fs, enum edit_kind kind, fuse_ino_t parent, const char *name,
		   fuse_ino_t to_parent, const char *to_name)
{
	struct edit ed = {.kind = kind, .name = name, .to_name = to_name};
	char *dir = NULL, *to_dir = NULL;
	int rc = refuse_read_only(fs);

	if (rc == 0)
		rc = dir_path(fs, parent, &dir);
	if (rc == 0 && kind == E_RENAME)
		rc = dir_path(fs, to_parent, &to_dir);
	if (rc == 0) {
		ed.dir = dir;
		ed.to_dir = to_dir;
		rc = publish(fs, &ed);
	}
	free(dir);
	free(to_dir);
	return rc;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct mfs_fs *fs = fs_of(req);
	int rc = edit_in(fs, E_MKDIR, parent, name, 0, NULL);

	(void)mode;
	if (rc != 0)
		reply_err(req, rc);
	else
		reply_entry_at(req, fs, parent, name);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = edit_in(fs_of(req), E_REMOVE, parent, name, 0, NULL);

	reply_err(req, rc);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = edit_in(fs_of(req), E_RMDIR, parent, name, 0, NULL);

	reply_err(req, rc);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct mfs_fs *fs = fs_of(req);
	const struct mfs_node *dir;
	int rc = 0;

	if (flags & ~RENAME_NOREPLACE) {
		reply_err(req, -EINVAL); /* RENAME_EXCHANGE: not supported */
		return;
	}
	if (flags & RENAME_NOREPLACE) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		dir = mfs_tree_by_ino(fs->tree, newparent);
		if (dir && mfs_tree_child(dir, newname))
			rc = -EEXIST;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	if (rc == 0)
		rc = edit_in(fs, E_RENAME, parent, name, newparent, newname);
	reply_err(req, rc);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mfs_fs *fs = fs_of(req);
	struct mfs_volume_stats st;
	struct statvfs sv = {0};

	(void)ino;
	if (mfs_volume_stats(fs->vol, &st) == 0) {
		sv.f_bsize = sv.f_frsize = 4096;
		sv.f_blocks = st.slot_count * (MFS_SLOT_PAYLOAD / 4096);
		sv.f_bfree = sv.f_bavail = st.free_slots * (MFS_SLOT_PAYLOAD / 4096);
	}
	pthread_rwlock_rdlock(&fs->tree_lock);
	sv.f_files = mfs_tree_node_count(fs->tree);
	pthread_rwlock_unlock(&fs->tree_lock);
	sv.f_namemax = MFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.statfs = op_statfs,
};

const struct fuse_lowlevel_ops *mfs_fs_ops(void)
{
	return &ops;
}

/* ---- the watcher ---- */

static const struct mfs_node *node_at(const struct mfs_tree *t, const char *path)
{
	const struct mfs_node *n = mfs_tree_root(t);
	const char *p = path;
	char part[MFS_NAME_MAX + 1];

	while (n && *p) {
		size_t len = strcspn(p, "/");

		if (len > MFS_NAME_MAX)
			return NULL;
		memcpy(part, p, len);
		part[len] = '\0';
		n = mfs_tree_child(n, part);
		p += len + (p[len] == '/');
	}
	return n;
}

/* Tells the kernel what differs between old and the current tree: names
 * that went or now mean something else, directories whose listing changed. */
static void tell_diff(struct mfs_fs *fs, const struct mfs_tree *old, const struct mfs_node *dir)
{
	const struct mfs_node *now;
	int listing_changed = 0;

	pthread_rwlock_rdlock(&fs->tree_lock);
	now = node_at(fs->tree, dir->path);
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
		now = node_at(fs->tree, dir->path);
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
	if (n->old) {
		tell_diff(fs, n->old, mfs_tree_root(n->old));
		mfs_tree_free(n->old);
	} else {
		fuse_lowlevel_notify_inval_entry(fs->se, n->parent, n->name, strlen(n->name));
		free(n->name);
	}
	free(n);
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
		if (!fs->notices)
			pthread_cond_timedwait(&fs->watch_wake, &fs->watch_lock, &until);
		if (fs->stop)
			break;
		list = fs->notices;
		fs->notices = NULL;
		pthread_mutex_unlock(&fs->watch_lock);
		/* Another process (or `channel import`) may have stored a newer
		 * manifest: the volume's newest superblock tells. */
		if (mfs_volume_refresh(fs->vol, &generation) == 0 &&
		    generation != fs->seen_generation) {
			fs->seen_generation = generation;
			if (refresh(fs) != 0)
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

/* ---- life ---- */

int mfs_fs_new(struct mfs_fs **out, const struct mfs_fs_config *config)
{
	struct mfs_fs *fs = calloc(1, sizeof *fs);
	int rc;

	if (!fs)
		return -ENOMEM;
	fs->cfg = *config;
	if (!fs->cfg.cache_bytes)
		fs->cfg.cache_bytes = DEFAULT_CACHE;
	fs->uid = getuid();
	fs->gid = getgid();
	pthread_rwlock_init(&fs->tree_lock, NULL);
	pthread_mutex_init(&fs->publish_lock, NULL);
	pthread_mutex_init(&fs->writers_lock, NULL);
	pthread_mutex_init(&fs->handles_lock, NULL);
	pthread_mutex_init(&fs->watch_lock, NULL);
	pthread_cond_init(&fs->watch_wake, NULL);
	rc = mfs_inodes_new(&fs->inodes);
	if (rc != 0) {
		mfs_fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

/* Blobs from the network arrive in parallel: more read-ahead, and more
 * workers (they mostly wait on peers, not on a core). */
static const struct mfs_reader_config network_reading = {
	.readahead_chunks = 12,
	.workers = 8,
};

struct mfs_session_cache *mfs_fs_session_cache(struct mfs_fs *fs)
{
	return fs->cache;
}

int mfs_fs_start(struct mfs_fs *fs, struct mfs_store *store, struct mfs_volume *vol,
		 struct fuse_session *se)
{
	int rc;

	fs->store = store;
	fs->vol = vol;
	fs->se = se;
	mfs_volume_refresh(vol, &fs->seen_generation);
	rc = mfs_session_cache_open(&fs->cache, fs->cfg.store_dir, fs->cfg.cache_bytes);
	if (rc == 0)
		rc = mfs_reader_new(&fs->reader, vol, fs->cache,
				    fs->cfg.fetcher.fetch ? &fs->cfg.fetcher : NULL,
				    fs->cfg.fetcher.fetch ? &network_reading : NULL);
	if (rc == 0)
		rc = refresh(fs);
	if (rc == 0 && pthread_create(&fs->watcher, NULL, watcher_main, fs) != 0)
		rc = -EAGAIN;
	if (rc == 0)
		fs->started = 1;
	return rc;
}

void mfs_fs_free(struct mfs_fs *fs)
{
	if (!fs)
		return;
	if (fs->started) {
		pthread_mutex_lock(&fs->watch_lock);
		fs->stop = 1;
		pthread_cond_signal(&fs->watch_wake);
		pthread_mutex_unlock(&fs->watch_lock);
		pthread_join(fs->watcher, NULL);
	}
	/* Handles the kernel never released (a signal ended the loop): files
	 * being written are not published, their blobs are given back. */
	while (fs->handles) {
		struct handle *h = fs->handles;

		fs->handles = h->next;
		if (h->writer && h->writer->state == W_OPEN) {
			mfs_ingest_abort(h->writer->ingest);
			h->writer->ingest = NULL;
			mfs_volume_sink_rollback(&h->writer->sink);
			mfs_volume_sink_clear(&h->writer->sink);
			h->writer->state = W_FAILED;
		}
		close_handle(fs, h);
	}
	while (fs->writers) {
		struct writer *w = fs->writers;

		fs->writers = w->next;
		free(w->dir);
		pthread_mutex_destroy(&w->lock);
		free(w);
	}
	while (fs->notices) {
		struct notice *n = fs->notices;

		fs->notices = n->next;
		mfs_tree_free(n->old);
		free(n->name);
		free(n);
	}
	mfs_reader_free(fs->reader);
	/* The wipe: the key goes, the file goes. */
	mfs_session_cache_close(fs->cache);
	mfs_tree_free(fs->tree);
	mfs_inodes_free(fs->inodes);
	mfs_volume_close(fs->vol);
	mfs_store_close(fs->store);
	pthread_cond_destroy(&fs->watch_wake);
	pthread_mutex_destroy(&fs->watch_lock);
	pthread_mutex_destroy(&fs->handles_lock);
	pthread_mutex_destroy(&fs->writers_lock);
	pthread_mutex_destroy(&fs->publish_lock);
	pthread_rwlock_destroy(&fs->tree_lock);
	free(fs);
}
