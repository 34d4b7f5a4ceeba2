/* writer: files being written through the mount.
 *
 * Owns: every file from create (or open with O_TRUNC) until the kernel has
 * forgotten its number and closed its last handle, with its ingest (the
 * file is encrypted and stored as it is written: constant memory, no
 * plaintext on disk) and the blobs it stored. Promises: a file is
 * published whole at its first close that follows a write, or not at all;
 * a file that fails or is abandoned gives back what it stored; nobody else
 * sees it before it is published. Writes must go forward (a gap is a hole
 * of zeros): the content is sealed as it comes. A NAME.magnet file is no
 * file: its few bytes gather in memory and become a magnet item of the
 * manifest, if they are a magnet link that shows as NAME.magnet.
 *
 * Threads: any. Each writer's lock guards its content; writers_lock the
 * list and the kernel's references (see fs_internal.h for the order). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/channel/magnet.h"
#include "fs/fuse/fs_internal.h"

/* The convergence secret of fs's channel, into secret and o (which points
 * at it); -EROFS when the volume does not own the channel. */
static int channel_convergence(struct mfs_fs *fs, struct mfs_channel_secret *secret,
			       struct mfs_ingest_opts *o)
{
	struct mfs_channel ch;
	int rc = secret ? mfs_channel_find(fs->vol, fs->cfg.pk, &ch, secret) : -ENOMEM;

	if (rc == MFS_E_NOTFOUND || (rc == 0 && !ch.owned))
		return -EROFS;
	if (rc != 0)
		return rc;
	/* Convergent keys under the channel's own secret: the same file twice
	 * in this channel costs nothing, and says nothing outside it. */
	o->convergence = secret->convergence;
	return 0;
}

static void writer_free(struct writer *w)
{
	mfs_volume_sink_clear(&w->sink); /* cleared already, but where ingest never began */
	free(w->text);
	free(w->dir);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int mfs__writer_new(struct writer **out, struct mfs_fs *fs, uint64_t parent, const char *dir,
	       const char *name, uint64_t lookups)
{
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT};
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret);
	struct mfs_blob_sink sink;
	struct writer *w = calloc(1, sizeof *w);
	int rc = w ? 0 : -ENOMEM;

	if (rc == 0) {
		pthread_mutex_init(&w->lock, NULL);
		mfs_volume_sink_init(&w->sink, fs->vol, 1);
		snprintf(w->name, sizeof w->name, "%s", name);
		w->parent = parent;
		w->mtime = time(NULL);
		w->opens = 1;
		w->lookups = lookups;
		if (!(w->dir = strdup(dir)))
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = channel_convergence(fs, secret, &o);
	/* Room for the longest link and "\r\n": a longer write fails. */
	if (rc == 0 && mfs_magnet_is_name(name) && !(w->text = malloc(MFS_MAGNET_MAX + 2)))
		rc = -ENOMEM;
	if (rc == 0 && !w->text) {
		sink = mfs_volume_sink_as_sink(&w->sink);
		rc = mfs_ingest_begin(&w->ingest, name, &o, &sink);
	}
	mfs_secure_free(secret);
	if (rc != 0) {
		if (w)
			writer_free(w);
		return rc;
	}
	pthread_mutex_lock(&fs->writers_lock);
	w->ino = MFS_PENDING_INO + fs->next_pending++;
	w->next = fs->writers;
	fs->writers = w;
	pthread_mutex_unlock(&fs->writers_lock);
	*out = w;
	return 0;
}

struct writer *mfs__writer_find(struct mfs_fs *fs, uint64_t ino)
{
	struct writer *w;

	pthread_mutex_lock(&fs->writers_lock);
	for (w = fs->writers; w && w->ino != ino; w = w->next)
		;
	pthread_mutex_unlock(&fs->writers_lock);
	return w;
}

enum writer_state mfs__writer_state(struct writer *w, uint64_t *written)
{
	enum writer_state s;

	pthread_mutex_lock(&w->lock);
	s = w->state;
	*written = w->written;
	pthread_mutex_unlock(&w->lock);
	return s;
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

/* Appends data[size] to a .magnet file's bytes (data NULL: zeros).
 * Called with w->lock held. */
static int text_append(struct mfs_fs *fs, struct writer *w, const void *data, size_t size)
{
	if (size > MFS_MAGNET_MAX + 2 - w->text_len) {
		mfs_log(fs, "a .magnet file was not published: it is longer than the %d bytes a "
			"magnet link may be, and it holds one magnet link", MFS_MAGNET_MAX);
		return -EFBIG;
	}
	if (data)
		memcpy(w->text + w->text_len, data, size);
	else
		memset(w->text + w->text_len, 0, size);
	w->text_len += size;
	return 0;
}

/* Writes zeros up to offset end (a hole, or ftruncate to a larger size).
 * Called with w->lock held. */
static int writer_zero_to(struct mfs_fs *fs, struct writer *w, uint64_t end)
{
	static const uint8_t zeros[65536];
	int rc = 0;

	if (w->text && end > w->written) {
		/* Anything past the limit fails: a size_t holds that much. */
		rc = text_append(fs, w, NULL, (size_t)(end - w->written > MFS_MAGNET_MAX + 3
							? MFS_MAGNET_MAX + 3 : end - w->written));
		if (rc == 0)
			w->written = end;
		return rc;
	}
	while (rc == 0 && end > w->written) {
		size_t n = end - w->written < sizeof zeros ? (size_t)(end - w->written) : sizeof zeros;

		rc = mfs_ingest_write(w->ingest, zeros, n);
		if (rc == 0)
			w->written += n;
	}
	return rc;
}

int mfs__writer_write(struct mfs_fs *fs, struct writer *w, const void *data, size_t size,
		 uint64_t off)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (w->state != W_OPEN) {
		rc = -EIO; /* written after it was published, or after a failure */
	} else if (off < w->written) {
		rc = -EIO; /* the file stays as it is: it may still be closed whole */
		mfs_log(fs, "a write went back in a file: files are encrypted as they are "
			    "written and published whole, so writes must go forward");
	}
	if (rc == 0)
		rc = writer_zero_to(fs, w, off);
	if (rc == 0)
		rc = w->text ? text_append(fs, w, data, size) : mfs_ingest_write(w->ingest, data, size);
	if (rc == 0)
		w->written += size;
	if (rc != 0 && w->state == W_OPEN && rc != -EIO)
		writer_fail(w, rc);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int mfs__writer_grow(struct mfs_fs *fs, struct writer *w, uint64_t size)
{
	int rc = -EPERM;

	pthread_mutex_lock(&w->lock);
	if (w->state == W_OPEN && size > w->written) {
		rc = writer_zero_to(fs, w, size);
		if (rc != 0)
			writer_fail(w, rc);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* A .magnet file's bytes as the magnet item *entry: -EINVAL (and the log
 * says why) unless they are a magnet link that shows as the file's name.
 * Called with w->lock held. */
static int text_item(struct mfs_fs *fs, struct writer *w, json_t **entry)
{
	struct mfs_magnet m;
	char why[200];

	if (mfs_magnet_parse(&m, w->text, w->text_len, why, sizeof why) != 0) {
		mfs_log(fs, "a .magnet file was not published: it must hold one magnet link "
			"(magnet:?xt=urn:btih:...): %s", why);
		return -EINVAL;
	}
	if (strcmp(m.name, w->name) != 0) {
		mfs_log(fs, "a .magnet file was not published: its link shows under another "
			"name (its dn parameter, else its info hash, then .magnet); write it "
			"under that name");
		return -EINVAL;
	}
	*entry = json_stringn(w->text, m.len);
	return *entry ? 0 : -ENOMEM;
}

/* The file's FileEntry as JSON, its blobs committed. Called with w->lock
 * held. */
static int file_item(struct writer *w, struct mfs_file_entry *e, json_t **entry)
{
	int rc = mfs_ingest_finish(w->ingest, w->mtime, e);

	w->ingest = NULL;
	if (rc == 0)
		rc = mfs_volume_sink_commit(&w->sink);
	if (rc == 0)
		rc = mfs_entry_to_json(entry, e);
	return rc;
}

/* Seals the file and publishes it; later calls return the first result.
 * Called with w->lock held. */
static int writer_finish(struct mfs_fs *fs, struct writer *w)
{
	struct mfs_file_entry e = {0};
	struct edit ed = {.kind = E_ADD, .dir = w->dir};
	json_t *entry = NULL;
	int rc;

	if (w->state != W_OPEN)
		return w->error;
	rc = w->text ? text_item(fs, w, &entry) : file_item(w, &e, &entry);
	if (rc == 0) {
		ed.entry = entry;
		ed.sink = &w->sink;
		rc = mfs__publish_edit(fs, &ed);
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
	/* The kernel knows the name by the number create gave it. */
	if (rc == 0)
		mfs__watch_queue_entry(fs, w->parent, w->name);
	return rc;
}

int mfs__writer_flush(struct mfs_fs *fs, struct writer *w, int publish)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (!publish)
		rc = w->state == W_FAILED ? w->error : 0;
	else if (w->written > 0 || w->state != W_OPEN)
		rc = writer_finish(fs, w);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Drops kernel references (forget) or opens (release) of the writer for
 * inode ino; frees it when neither is left. */
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
	if (gone)
		writer_free(gone);
}

void mfs__writer_close(struct mfs_fs *fs, struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	writer_finish(fs, w);
	pthread_mutex_unlock(&w->lock);
	writer_unref(fs, w->ino, 0, 1);
}

void mfs__writer_forget(struct mfs_fs *fs, uint64_t ino, uint64_t nlookup)
{
	writer_unref(fs, ino, nlookup, 0);
}

void mfs__writer_abandon(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	if (w->state == W_OPEN)
		writer_fail(w, -ECANCELED);
	pthread_mutex_unlock(&w->lock);
}

void mfs__writer_free_all(struct mfs_fs *fs)
{
	while (fs->writers) {
		struct writer *w = fs->writers;

		fs->writers = w->next;
		writer_free(w);
	}
}
