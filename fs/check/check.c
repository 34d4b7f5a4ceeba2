#include "fs/check/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"

#define SAY_MAX 512

struct check {
	struct mfs_volume *v;
	int repair;
	const struct mfs_check_refetch *refetch;
	void (*say)(void *ctx, const char *line);
	void *ctx;
	struct mfs_check_report *rep;
	uint8_t (*blobs)[MFS_BLOB_ID_BYTES]; /* every blob the table lists */
	size_t nblobs, blobs_cap;
	uint8_t (*bad)[MFS_BLOB_ID_BYTES];   /* the damaged ones, sorted */
	size_t nbad;
};

static void say(struct check *c, const char *fmt, ...)
{
	char line[SAY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->say(c->ctx, line);
}

static int write_again(struct mfs_volume *v, const void *name, size_t len)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc != 0)
		return rc;
	rc = mfs_obj_rewrite(t, name, len);
	if (rc != 0) {
		mfs_vtxn_abort(t);
		return rc;
	}
	return mfs_vtxn_commit(t);
}

/* Checks one object (repairing it if asked): 1 when it is damaged, 0 when
 * it reads or is absent, else the error that stopped the check. */
static int check_object(struct check *c, const void *name, size_t len, const char *what)
{
	struct mfs_vtxn *t;
	uint64_t lost = 0;
	int rc = mfs_vtxn_begin(c->v, 0, &t);

	if (rc != 0)
		return rc;
	rc = mfs_obj_check(t, name, len, &lost);
	mfs_vtxn_abort(t);
	if (rc == MFS_E_NOTFOUND)
		return 0;
	if (rc != 0 && rc != MFS_E_CORRUPT)
		return rc;
	c->rep->objects++;
	c->rep->lost_slots += lost;
	if (rc == MFS_E_CORRUPT) {
		c->rep->damaged++;
		if (what)
			say(c, "damaged    %s", what);
		return 1;
	}
	if (lost == 0)
		return 0;
	c->rep->rebuilt++;
	if (!c->repair)
		return 0;
	rc = write_again(c->v, name, len);
	if (rc != 0)
		return rc;
	c->rep->repaired++;
	return 0;
}

static int collect_blob(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins)
{
	struct check *c = ctx;

	(void)size;
	(void)pins;
	if (c->nblobs == c->blobs_cap) {
		size_t cap = c->blobs_cap ? 2 * c->blobs_cap : 256;
		void *grown = realloc(c->blobs, cap * sizeof *c->blobs);

		if (!grown)
			return -ENOMEM;
		c->blobs = grown;
		c->blobs_cap = cap;
	}
	memcpy(c->blobs[c->nblobs++], id, MFS_BLOB_ID_BYTES);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MFS_BLOB_ID_BYTES);
}

/* Writes damaged blob id again with bytes from refetch: 0 when it then
 * reads, else why not. */
static int refetch_one(struct check *c, const uint8_t *id, const char **why)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX], *blob = NULL;
	struct mfs_vtxn *t;
	uint64_t lost = 0;
	size_t len = 0;
	int rc = c->refetch->fetch(c->refetch->ctx, id, &blob, &len);

	*why = "no peer sent it";
	if (rc == 0) {
		*why = "writing it again failed";
		rc = mfs_vtxn_begin(c->v, 1, &t);
	}
	if (rc == 0) {
		rc = mfs_blob_restore(t, id, blob, len);
		if (rc == MFS_E_CORRUPT)
			*why = "the bytes sent are not this blob, refused";
		rc = rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), rc);
	}
	free(blob);
	if (rc == 0) {
		*why = "it does not read back";
		rc = mfs_vtxn_begin(c->v, 0, &t);
	}
	if (rc == 0) {
		rc = mfs_obj_check(t, name, mfs_blob_object_name(name, id), &lost);
		mfs_vtxn_abort(t);
	}
	return rc;
}

/* Asks refetch for every damaged blob; those written again leave the list
 * of damaged ones. A blob no peer sends stays damaged, and so does the check
 * go on: one missing blob costs one line. */
static void refetch_bad(struct check *c)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->nbad; i++) {
		char hex[2 * MFS_BLOB_ID_BYTES + 1];
		const char *why;
		int rc = refetch_one(c, c->bad[i], &why);

		mfs_hex_encode(hex, c->bad[i], MFS_BLOB_ID_BYTES);
		if (rc == 0) {
			c->rep->refetched++;
			say(c, "refetched  blob %s: written again with a peer's copy", hex);
		} else {
			say(c, "not found  blob %s: %s (%s)", hex, why, mfs_strerror(rc));
			memmove(c->bad[kept++], c->bad[i], MFS_BLOB_ID_BYTES);
		}
	}
	c->nbad = kept;
}

/* The blob table's buckets, then every blob they list. */
static int check_blobs(struct check *c)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	struct mfs_vtxn *t;
	uint32_t buckets;
	int rc = mfs_vtxn_begin(c->v, 0, &t), listed;

	if (rc != 0)
		return rc;
	buckets = mfs_vtxn_sb(t)->bucket_count;
	mfs_vtxn_abort(t);
	for (uint32_t b = 0; b < buckets; b++) {
		char what[128];

		snprintf(what, sizeof what, "blob table bucket %u (the blobs it lists are lost to "
			 "this volume)", b);
		rc = check_object(c, name, mfs_blob_table_object_name(name, b), what);
		if (rc < 0)
			return rc;
	}
	rc = mfs_vtxn_begin(c->v, 0, &t);
	if (rc != 0)
		return rc;
	listed = mfs_blob_foreach(t, collect_blob, c);
	mfs_vtxn_abort(t);
	if (listed != 0 && listed != MFS_E_CORRUPT)
		return listed;
	c->bad = malloc((c->nblobs ? c->nblobs : 1) * sizeof *c->bad);
	if (!c->bad)
		return -ENOMEM;
	for (size_t i = 0; i < c->nblobs; i++) {
		char what[32 + 2 * MFS_BLOB_ID_BYTES];

		strcpy(what, "blob ");
		mfs_hex_encode(what + 5, c->blobs[i], MFS_BLOB_ID_BYTES);
		rc = check_object(c, name, mfs_blob_object_name(name, c->blobs[i]), what);
		if (rc < 0)
			return rc;
		if (rc == 1)
			memcpy(c->bad[c->nbad++], c->blobs[i], MFS_BLOB_ID_BYTES);
	}
	if (c->repair && c->refetch)
		refetch_bad(c);
	qsort(c->bad, c->nbad, sizeof *c->bad, id_cmp);
	return 0;
}

struct bad_count {
	const struct check *c;
	size_t *bad;
};

static int count_bad(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	struct bad_count *b = ctx;

	*b->bad += bsearch(id, b->c->bad, b->c->nbad, sizeof *b->c->bad, id_cmp) != NULL;
	return 0;
}

struct file_damage {
	struct check *c;
	const struct mfs_channel *ch;
	struct mfs_blob_source src;
};

/* Names a file that references damaged blobs (an index blob that does not
 * read hides the rest: it counts). */
static int name_if_damaged(void *ctx, const struct mfs_file_entry *e)
{
	struct file_damage *d = ctx;
	size_t bad = 0;
	int walked = mfs_entry_foreach_blob(e, &d->src, count_bad, &(struct bad_count){d->c, &bad});

	if (walked == MFS_E_CORRUPT || walked == MFS_E_AUTH)
		say(d->c, "damaged    channel \"%s\": %s (an index blob of it)", d->ch->title,
		    e->name);
	else if (bad > 0)
		say(d->c, "damaged    channel \"%s\": %s (%zu of its blobs)", d->ch->title, e->name,
		    bad);
	return 0;
}

/* Names the files of a channel's newest manifest that reference damaged
 * blobs. */
static int name_damaged_files(struct check *c, const struct mfs_channel *ch)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(c->v, 0, &t);

	if (rc != 0)
		return rc;
	rc = mfs_channel_foreach_entry(t, ch->pk, name_if_damaged,
				       &(struct file_damage){c, ch, mfs_txn_source(t)});
	mfs_vtxn_abort(t);
	/* A manifest that does not read was named when its object was checked. */
	return rc == MFS_E_NOTFOUND || rc == MFS_E_CORRUPT ? 0 : rc;
}

/* The keyring, each channel's records, and the files damaged blobs belong to. */
static int check_channels(struct check *c, struct mfs_channel_list *list)
{
	uint8_t name[1 + MFS_SIGN_PK_BYTES];
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < list->count; i++) {
		const struct mfs_channel *ch = &list->items[i];
		char what[MFS_TITLE_MAX + 64];

		memcpy(name + 1, ch->pk, MFS_SIGN_PK_BYTES);
		name[0] = 'm';
		snprintf(what, sizeof what, "the manifest of channel \"%s\"", ch->title);
		rc = check_object(c, name, sizeof name, what);
		if (rc >= 0) {
			name[0] = 'n';
			snprintf(what, sizeof what, "the peers and trackers remembered for channel \"%s\"",
				 ch->title);
			rc = check_object(c, name, sizeof name, what);
		}
		if (rc >= 0 && ch->sealed) {
			name[0] = 'o';
			snprintf(what, sizeof what, "the opened manifest of channel \"%s\"", ch->title);
			rc = check_object(c, name, sizeof name, what);
		}
		if (rc >= 0 && ch->sealed && ch->owned) {
			name[0] = 'g';
			snprintf(what, sizeof what, "the grants of channel \"%s\"", ch->title);
			rc = check_object(c, name, sizeof name, what);
		}
		if (rc >= 0 && c->nbad > 0)
			rc = name_damaged_files(c, ch);
	}
	return rc < 0 ? rc : 0;
}

int mfs_check_volume(struct mfs_volume *v, int repair, const struct mfs_check_refetch *refetch,
		     void (*say_fn)(void *ctx, const char *line), void *ctx,
		     struct mfs_check_report *out)
{
	struct check c = {.v = v, .repair = repair, .refetch = refetch, .say = say_fn, .ctx = ctx,
			  .rep = out};
	struct mfs_channel_list list = {0};
	struct mfs_vtxn *t;
	int rc, keyring;

	memset(out, 0, sizeof *out);
	keyring = check_object(&c, "\0keyring", 8, "the keyring (channels, their keys)");
	rc = keyring < 0 ? keyring : check_object(&c, "\0protect", 8, "the outer volume's key");
	if (rc >= 0)
		rc = check_object(&c, "\0node", 5, "the node key");
	if (rc >= 0)
		rc = check_object(&c, "\0identity", 9, "the subscriber key (megafs id)");
	if (rc >= 0)
		rc = check_object(&c, "\0pinlogs", 8, "the list of files being ingested (megafs gc)");
	if (rc >= 0)
		rc = check_blobs(&c);
	if (rc >= 0 && keyring == 0 && (rc = mfs_vtxn_begin(v, 0, &t)) == 0) {
		rc = mfs_keyring_load(t, &list);
		mfs_vtxn_abort(t);
		if (rc == 0)
			rc = check_channels(&c, &list);
	}
	mfs_keyring_clear(&list);
	free(c.blobs);
	free(c.bad);
	return rc < 0 ? rc : 0;
}
