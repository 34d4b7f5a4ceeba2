/* fs: the FUSE handlers of a mount, its open handles, and its life.
 *
 * Each handler parses what the kernel sent, calls one part of the mount
 * (the tree under tree_lock, publish.c, writer.c, the reader) and replies
 * exactly once, through reply_err for errors, as libfuse's hello_ll does.
 * What is more than that belongs in a part: see fs_internal.h, which also
 * gives the lock order.
 *
 * Owns: the handles of open files (fs->handles, for the end of a mount the
 * kernel never released), and the reader and session cache. Threads:
 * handlers on any of libfuse's workers; mfs_fs_new, mfs_fs_start and
 * mfs_fs_free on the thread that serves the mount. */
#include "fs/fuse/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/fuse/errno_map.h"
#include "fs/fuse/fs_internal.h"
#include "fs/fuse/reader.h"

#define TIMEOUT 1.0
#define DEFAULT_CACHE (UINT64_C(1) << 30)

enum handle_kind { H_READ, H_WRITE, H_MAGNET };

/* An open file: what fi->fh points at. */
struct handle {
	enum handle_kind kind;
	struct mfs_rfile *rfile;
	struct writer *writer;
	char *text;                    /* a magnet file's content */
	size_t text_len;
	pid_t opener;                  /* the thread that opened it (FUSE's pid) */
	struct handle *prev, *next;    /* protected by fs->handles_lock */
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

/* ---- the tree: nodes, numbers, attributes ---- */

static void fill_attr(const struct mfs_fs *fs, struct stat *st, uint64_t ino,
		      enum mfs_node_kind kind, uint64_t size, int64_t mtime, size_t children)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	/* The preferred I/O size: a chunk. cp writes max(128 KiB, st_blksize)
	 * at a time, and a FUSE write costs a round trip to this daemon (cp
	 * of 1 GiB: 376-389 MiB/s with 64 KiB here, 396-413 with 1 MiB). */
	st->st_blksize = MFS_CHUNK_SIZE_DEFAULT;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = mtime;
	if (kind == MFS_NODE_DIR) {
		st->st_mode = S_IFDIR | (fs->cfg.writable ? 0755 : 0555);
		st->st_nlink = 2 + children;
	} else {
		st->st_mode = S_IFREG | (fs->cfg.writable ? 0644 : 0444);
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

/* The directory numbered ino. tree_lock held. */
static int dir_of(struct mfs_fs *fs, uint64_t ino, const struct mfs_node **dir)
{
	*dir = mfs_tree_by_ino(fs->tree, ino);
	if (!*dir)
		return -ENOENT;
	return (*dir)->kind == MFS_NODE_DIR ? 0 : -ENOTDIR;
}

/* The entry parent/name, for lookup and the replies that create a name.
 * tree_lock held. */
static int entry_of(struct mfs_fs *fs, uint64_t parent, const char *name,
		    struct fuse_entry_param *e)
{
	const struct mfs_node *dir, *n = NULL;
	int rc = dir_of(fs, parent, &dir);

	if (rc == 0 && !(n = mfs_tree_child(dir, name)))
		rc = -ENOENT;
	if (rc == 0) {
		e->ino = n->ino;
		node_attr(fs, n, &e->attr);
	}
	return rc;
}

/* What a published writer became (the kernel may still call it by the
 * number create gave it): a file or a magnet link, or NULL once it is
 * gone. tree_lock held. */
static const struct mfs_node *published_as(struct mfs_fs *fs, const struct writer *w)
{
	const struct mfs_node *dir = mfs_tree_by_ino(fs->tree, w->parent);
	const struct mfs_node *n = dir ? mfs_tree_child(dir, w->name) : NULL;

	return n && n->kind != MFS_NODE_DIR ? n : NULL;
}

/* Attributes of a file being written, or of what it became. */
static int pending_attr(struct mfs_fs *fs, fuse_ino_t ino, struct stat *st)
{
	struct writer *w = mfs__writer_find(fs, ino);
	const struct mfs_node *n;
	uint64_t written = 0;
	enum writer_state state = w ? mfs__writer_state(w, &written) : W_FAILED;
	int rc = 0;

	if (state == W_OPEN) {
		fill_attr(fs, st, w->ino, MFS_NODE_FILE, written, w->mtime, 0);
	} else if (state == W_FAILED) {
		rc = -ENOENT;
	} else {
		pthread_rwlock_rdlock(&fs->tree_lock);
		n = published_as(fs, w);
		if (n)
			fill_attr(fs, st, w->ino, MFS_NODE_FILE, n->size, n->mtime, 0);
		else
			rc = -ENOENT;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	return rc;
}

/* Attributes of inode ino: a tree node, or a file being written. */
static int ino_attr(struct mfs_fs *fs, fuse_ino_t ino, struct stat *st)
{
	const struct mfs_node *n;
	int rc = 0;

	if (ino >= MFS_PENDING_INO)
		return pending_attr(fs, ino, st);
	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_by_ino(fs->tree, ino);
	if (n)
		node_attr(fs, n, st);
	else
		rc = -ENOENT;
	pthread_rwlock_unlock(&fs->tree_lock);
	return rc;
}

/* The path of directory ino (a copy), for an edit. */
static int dir_path(struct mfs_fs *fs, fuse_ino_t ino, char **out)
{
	const struct mfs_node *dir;
	int rc;

	pthread_rwlock_rdlock(&fs->tree_lock);
	rc = dir_of(fs, ino, &dir);
	if (rc == 0 && !(*out = strdup(dir->path)))
		rc = -ENOMEM;
	pthread_rwlock_unlock(&fs->tree_lock);
	return rc;
}

/* ---- open handles ---- */

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

static void close_handle(struct mfs_fs *fs, struct handle *h)
{
	mfs_rfile_close(h->rfile);
	if (h->writer)
		mfs__writer_close(fs, h->writer);
	free(h->text);
	free(h);
}

/* Opens tree node n for reading into h. */
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

/* The number create gave a file: once published, it stands for what the
 * file became (until the kernel learns the new number); before, the file
 * is not readable, and it is never writable again. */
static int open_pending(struct mfs_fs *fs, fuse_ino_t ino, int writing, struct handle *h)
{
	struct writer *w = mfs__writer_find(fs, ino);
	const struct mfs_node *n;
	uint64_t written;
	int rc = -EBUSY;

	if (w && !writing && mfs__writer_state(w, &written) == W_PUBLISHED) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		n = published_as(fs, w);
		rc = n ? open_node(fs, n, h) : -ENOENT;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	return rc;
}

/* Tree node ino, opened to be written anew: files are written whole. */
static int open_to_write(struct mfs_fs *fs, fuse_ino_t ino, int flags, struct handle *h)
{
	const struct mfs_node *n;
	char *dir = NULL, name[MFS_NAME_MAX + 1];
	uint64_t parent = 0;
	int rc;

	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_by_ino(fs->tree, ino);
	/* EROFS first: nothing is writable on a read-only mount. */
	rc = n ? refuse_read_only(fs) : -ENOENT;
	if (rc == 0 && n->kind == MFS_NODE_DIR)
		rc = -EISDIR; /* a file or a magnet link is written anew, whole */
	else if (rc == 0 && !(flags & O_TRUNC) && n->size > 0)
		rc = -EPERM; /* open with O_TRUNC */
	else if (rc == 0 && !(dir = strdup(n->parent->path)))
		rc = -ENOMEM;
	if (rc == 0) {
		snprintf(name, sizeof name, "%s", n->name);
		parent = n->parent->ino;
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	if (rc == 0) {
		h->kind = H_WRITE;
		/* No lookup: the kernel knows this file by its old number. */
		rc = mfs__writer_new(&h->writer, fs, parent, dir, name, 0);
	}
	free(dir);
	return rc;
}

/* Opens inode ino into h: for reading, or to write it anew. */
static int open_ino(struct mfs_fs *fs, fuse_ino_t ino, int flags, struct handle *h)
{
	const struct mfs_node *n;
	int rc, writing = (flags & O_ACCMODE) != O_RDONLY;

	if (ino >= MFS_PENDING_INO)
		return open_pending(fs, ino, writing, h);
	if (writing)
		return open_to_write(fs, ino, flags, h);
	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_by_ino(fs->tree, ino);
	rc = n ? open_node(fs, n, h) : -ENOENT;
	pthread_rwlock_unlock(&fs->tree_lock);
	return rc;
}

/* A new file parent/name, written through h. */
static int create_in(struct mfs_fs *fs, fuse_ino_t parent, const char *name, int flags,
		     struct handle *h)
{
	const struct mfs_node *dir, *existing = NULL;
	char *path = NULL;
	int rc = refuse_read_only(fs);

	if (rc == 0 && !mfs_entry_name_valid(name))
		rc = -EINVAL;
	if (rc == 0) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		rc = dir_of(fs, parent, &dir);
		if (rc == 0)
			existing = mfs_tree_child(dir, name);
		if (existing && existing->kind == MFS_NODE_DIR)
			rc = -EISDIR;
		else if (existing && (flags & O_EXCL))
			rc = -EEXIST;
		else if (rc == 0 && !(path = strdup(dir->path)))
			rc = -ENOMEM;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	if (rc == 0) {
		h->kind = H_WRITE;
		/* create's reply counts as a lookup. */
		rc = mfs__writer_new(&h->writer, fs, parent, path, name, 1);
	}
	free(path);
	return rc;
}

/* An edit of parent/name (and to_parent/to_name for a rename), published. */
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
		rc = mfs__publish_edit(fs, &ed);
	}
	free(dir);
	free(to_dir);
	return rc;
}

/* ---- the handlers ---- */

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
	int rc;

	pthread_rwlock_rdlock(&fs->tree_lock);
	rc = entry_of(fs, parent, name, &e);
	pthread_rwlock_unlock(&fs->tree_lock);
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino >= MFS_PENDING_INO)
		mfs__writer_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
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
	if (rc == 0 && to_set && ino < MFS_PENDING_INO)
		rc = refuse_read_only(fs);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) {
		struct writer *w = ino >= MFS_PENDING_INO ? mfs__writer_find(fs, ino) : NULL;

		/* A file being written may grow (cp ends a sparse file with
		 * ftruncate); nothing may shrink or change once published. */
		rc = w ? mfs__writer_grow(fs, w, (uint64_t)attr->st_size) : -EPERM;
		if (rc == 0)
			rc = ino_attr(fs, ino, &st);
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
	int rc = buf ? 0 : -ENOMEM;

	(void)fi;
	if (rc == 0) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		rc = dir_of(fs, ino, &dir);
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
	}
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = calloc(1, sizeof *h);
	int rc = h ? open_ino(fs, ino, fi->flags, h) : -ENOMEM;

	if (rc != 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	h->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = h->kind == H_READ; /* content never changes under a number */
	track(fs, h);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* The open was interrupted: the kernel will not release it. */
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
	struct handle *h = calloc(1, sizeof *h);
	int rc = h ? create_in(fs, parent, name, fi->flags, h) : -ENOMEM;

	(void)mode;
	if (rc != 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	e.ino = h->writer->ino;
	fill_attr(fs, &e.attr, e.ino, MFS_NODE_FILE, 0, h->writer->mtime, 0);
	h->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uint64_t)(uintptr_t)h;
	track(fs, h);
	fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mfs_fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct mfs_rread rr;
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
	/* Straight from the segment cache to the kernel: one copy, and no
	 * plaintext in a buffer of ordinary memory to wipe. */
	got = mfs_rfile_read_pinned(h->rfile, (uint64_t)off, size, &rr);
	if (got < 0) {
		mfs_log(fs, "a read failed: %s", mfs_strerror((int)got));
		/* A blob found nowhere is a failed read of a file that exists. */
		reply_err(req, got == MFS_E_NOTFOUND || got == -ENOENT ? -EIO : (int)got);
	} else {
		fuse_reply_iov(req, rr.iov, rr.count);
	}
	mfs_rread_release(&rr);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int rc = h->kind == H_WRITE ? mfs__writer_write(fs_of(req), h->writer, data, size, (uint64_t)off)
				    : -EBADF;

	(void)ino;
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	/* Every close(2) of every copy of the descriptor flushes, and a file
	 * is published once, whole. The opener's close publishes it, so that
	 * the next open by path finds it (the release that follows is not
	 * waited for); another process's close is that of a copy it
	 * inherited (a child's in "{ cat a; cat b; } > f") while the opener
	 * may still write, and the release publishes what the opener did not. */
	if (h->kind != H_WRITE)
		reply_err(req, 0);
	else
		reply_err(req, mfs__writer_flush(fs_of(req), h->writer,
						 fuse_req_ctx(req)->pid == h->opener));
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

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct mfs_fs *fs = fs_of(req);
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
	int rc = edit_in(fs, E_MKDIR, parent, name, 0, NULL);

	(void)mode;
	if (rc == 0) {
		pthread_rwlock_rdlock(&fs->tree_lock);
		/* Published but not shown: the directory exists, the reply fails. */
		rc = entry_of(fs, parent, name, &e) == 0 ? 0 : -EIO;
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	if (rc != 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, edit_in(fs_of(req), E_REMOVE, parent, name, 0, NULL));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, edit_in(fs_of(req), E_RMDIR, parent, name, 0, NULL));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct mfs_fs *fs = fs_of(req);
	const struct mfs_node *dir;
	int rc = 0;

	if (flags & ~RENAME_NOREPLACE)
		rc = -EINVAL; /* RENAME_EXCHANGE: not supported */
	if (rc == 0 && (flags & RENAME_NOREPLACE)) {
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
		sv.f_blocks = st.slot_count * (MFS_SLOT_DATA / 4096);
		sv.f_bfree = sv.f_bavail = st.free_slots * (MFS_SLOT_DATA / 4096);
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
 * workers (they mostly wait on peers, not on a core). The segment cache
 * stays at the reader's floor, one stream's window: a stream fills the
 * cache to its bound, and (12 + 2) x 2 MiB was most of a streaming mount's
 * memory (peak RSS 87.6 against 66.2 MiB streaming 1 GiB, no slower). */
static const struct mfs_reader_config network_reading = {
	.readahead_chunks = 12,
	.workers = 8,
	.cache_bytes = 16u << 20,
};

struct mfs_session_cache *mfs_fs_session_cache(struct mfs_fs *fs)
{
	return fs->cache;
}

int mfs_fs_start(struct mfs_fs *fs, struct mfs_store *store, struct mfs_volume *vol,
		 struct fuse_session *se)
{
	int rc;

	(void)store; /* the volume's: borrowed with it */
	fs->vol = vol;
	fs->se = se;
	/* Before the tree is read: what is stored meanwhile is not missed. */
	mfs_volume_refresh(vol, &fs->seen_generation);
	rc = mfs_session_cache_open(&fs->cache, fs->cfg.store_dir, fs->cfg.cache_bytes);
	if (rc == 0)
		rc = mfs_reader_new(&fs->reader, vol, fs->cache,
				    fs->cfg.fetcher.fetch ? &fs->cfg.fetcher : NULL,
				    fs->cfg.fetcher.fetch ? &network_reading : NULL);
	if (rc == 0)
		rc = mfs__publish_refresh(fs, 0);
	if (rc == 0)
		rc = mfs__watch_start(fs);
	return rc;
}

void mfs_fs_free(struct mfs_fs *fs)
{
	if (!fs)
		return;
	mfs__watch_stop(fs);
	/* Handles the kernel never released (a signal ended the loop): files
	 * being written are not published, their blobs are given back. */
	while (fs->handles) {
		struct handle *h = fs->handles;

		fs->handles = h->next;
		if (h->writer)
			mfs__writer_abandon(h->writer);
		close_handle(fs, h);
	}
	mfs__writer_free_all(fs);
	mfs_reader_free(fs->reader);
	/* The wipe: the key goes, the file goes. */
	mfs_session_cache_close(fs->cache);
	mfs_tree_free(fs->tree);
	mfs_inodes_free(fs->inodes);
	pthread_cond_destroy(&fs->watch_wake);
	pthread_mutex_destroy(&fs->watch_lock);
	pthread_mutex_destroy(&fs->handles_lock);
	pthread_mutex_destroy(&fs->writers_lock);
	pthread_mutex_destroy(&fs->publish_lock);
	pthread_rwlock_destroy(&fs->tree_lock);
	free(fs);
}
