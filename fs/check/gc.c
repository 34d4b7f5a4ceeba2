#include "fs/check/gc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/pinlog.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"

#define RESTART 1    /* a manifest changed since the references were read */
#define ATTEMPTS 3

struct candidate {
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint32_t size;
};

struct gc {
	struct mfs_volume *v;
	void (*say)(void *ctx, const char *line);
	void *ctx;
	struct mfs_gc_report *rep;
	struct mfs_channel_list keyring;      /* as the references were read */
	uint8_t (*refs)[MFS_BLOB_ID_BYTES];   /* what the manifests reference, sorted */
	size_t nrefs, refs_cap;
	struct candidate *cands;              /* unpinned and unreferenced */
	size_t ncands, cands_cap;
	const struct mfs_channel *ch;         /* the channel being walked */
	struct mfs_blob_source src;
	int said;                             /* walk_entry said why it stopped */
};

static void say(struct gc *g, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!g->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	g->say(g->ctx, line);
}

/* p while it has room for n + 1 elements of size bytes, else p grown
 * (NULL, p untouched: no memory). */
static void *room_for_one(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? 2 * *cap : 1024;

	if (n < *cap)
		return p;
	p = realloc(p, c * size);
	if (p)
		*cap = c;
	return p;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MFS_BLOB_ID_BYTES);
}

static int referenced(const struct gc *g, const uint8_t *id)
{
	/* (bsearch and qsort take no NULL array, even empty.) */
	return g->nrefs > 0 && bsearch(id, g->refs, g->nrefs, sizeof *g->refs, id_cmp) != NULL;
}

static int add_ref(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	struct gc *g = ctx;
	void *room = room_for_one(g->refs, g->nrefs, &g->refs_cap, sizeof *g->refs);

	if (!room)
		return -ENOMEM;
	g->refs = room;
	memcpy(g->refs[g->nrefs++], id, MFS_BLOB_ID_BYTES);
	return 0;
}

static int walk_entry(void *ctx, const struct mfs_file_entry *e)
{
	struct gc *g = ctx;
	int rc = mfs_entry_foreach_blob(e, &g->src, add_ref, g);

	if (rc != MFS_E_NOTFOUND && rc != MFS_E_AUTH && rc != MFS_E_CORRUPT)
		return rc;
	/* A subscriber fetches lazily: what an index it lacks names is cache. */
	if (!g->ch->owned)
		return 0;
	g->said = 1;
	say(g, "channel \"%s\": %s: an index blob does not read, so its blobs cannot be told "
	       "(megafs fsck names the damage); nothing more was freed", g->ch->title, e->name);
	return MFS_E_CORRUPT;
}

/* The keyring, and every blob the newest manifests reference. */
static int read_refs(struct gc *g)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(g->v, 0, &t);

	if (rc == 0) {
		rc = mfs_keyring_load(t, &g->keyring);
		mfs_vtxn_abort(t);
	}
	for (size_t i = 0; rc == 0 && i < g->keyring.count; i++) {
		g->ch = &g->keyring.items[i];
		rc = mfs_vtxn_begin(g->v, 0, &t);
		if (rc != 0)
			break;
		g->src = mfs_txn_source(t);
		rc = mfs_channel_foreach_entry(t, g->ch->pk, walk_entry, g);
		mfs_vtxn_abort(t);
		if (rc == MFS_E_NOTFOUND)
			rc = 0; /* no manifest yet */
		else if (rc == MFS_E_CORRUPT && !g->said)
			say(g, "channel \"%s\": its manifest does not read (megafs fsck); nothing "
			       "more was freed", g->ch->title);
	}
	if (rc == 0 && g->nrefs > 0)
		qsort(g->refs, g->nrefs, sizeof *g->refs, id_cmp);
	return rc;
}

/* RESTART when t's keyring differs from the one the references were read
 * at (a manifest stored, a channel added), else 0 or an error. */
static int check_keyring(struct gc *g, struct mfs_vtxn *t)
{
	struct mfs_channel_list now = {0};
	int rc = mfs_keyring_load(t, &now);

	if (rc == 0 && now.count != g->keyring.count)
		rc = RESTART;
	for (size_t i = 0; rc == 0 && i < now.count; i++)
		if (memcmp(now.items[i].pk, g->keyring.items[i].pk, MFS_SIGN_PK_BYTES) != 0 ||
		    now.items[i].sequence != g->keyring.items[i].sequence)
			rc = RESTART;
	mfs_keyring_clear(&now);
	return rc;
}

static int unpin_ok(struct mfs_vtxn *t, const uint8_t *id)
{
	int rc = mfs_blob_unpin(t, id);

	/* Gone already, or its pins dropped another way: nothing to undo. */
	return rc == MFS_E_NOTFOUND || rc == -EINVAL ? 0 : rc;
}

/* Undoes the pinlog of token, whose process is gone, in one transaction. */
static int undo_pinlog(struct gc *g, uint64_t token)
{
	uint8_t (*ids)[MFS_BLOB_ID_BYTES] = NULL;
	uint64_t dropped = 0, kept = 0;
	struct mfs_vtxn *t;
	size_t n = 0;
	int rc = mfs_vtxn_begin(g->v, 1, &t);

	if (rc != 0)
		return rc;
	rc = check_keyring(g, t);
	if (rc == 0)
		rc = mfs_pinlog_read(t, token, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (referenced(g, ids[i])) {
			kept++;
		} else {
			rc = unpin_ok(t, ids[i]);
			dropped++;
		}
	}
	if (rc == 0)
		rc = mfs_pinlog_write(t, token, NULL, 0, n);
	free(ids);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc == 0) {
		g->rep->pinlogs_dead++;
		g->rep->pins_dropped += dropped;
		g->rep->pins_kept += kept;
	}
	return rc;
}

/* Each pinlog: left alone while its process runs, undone once it died. */
static int undo_dead_pinlogs(struct gc *g)
{
	struct mfs_store *s = mfs_volume_store(g->v);
	uint64_t *tokens = NULL;
	struct mfs_vtxn *t;
	size_t n = 0;
	int rc = mfs_vtxn_begin(g->v, 0, &t);

	if (rc == 0) {
		rc = mfs_pinlog_tokens(t, &tokens, &n);
		mfs_vtxn_abort(t);
	}
	g->rep->pinlogs_live = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* A sink claims its token before its first pinlog is written, so
		 * a pinlog nobody claims has nobody left to own it. */
		rc = mfs_store_claimed(s, tokens[i]);
		if (rc == 1) {
			g->rep->pinlogs_live++;
			rc = 0;
		} else if (rc == 0) {
			rc = undo_pinlog(g, tokens[i]);
		}
	}
	free(tokens);
	return rc;
}

static int add_candidate(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins)
{
	struct gc *g = ctx;
	void *room;

	if (pins > 0 || referenced(g, id))
		return 0;
	room = room_for_one(g->cands, g->ncands, &g->cands_cap, sizeof *g->cands);
	if (!room)
		return -ENOMEM;
	g->cands = room;
	memcpy(g->cands[g->ncands].id, id, MFS_BLOB_ID_BYTES);
	g->cands[g->ncands++].size = size;
	return 0;
}

/* Deletes candidates from *next on, MFS_SINK_BATCH_BYTES of slots at most. */
static int delete_batch(struct gc *g, size_t *next)
{
	uint64_t freed = 0, bytes = 0, slots = 0;
	struct mfs_vtxn *t;
	size_t i = *next;
	int rc = mfs_vtxn_begin(g->v, 1, &t);

	if (rc != 0)
		return rc;
	rc = check_keyring(g, t);
	for (; rc == 0 && i < g->ncands && slots * MFS_SLOT_BYTES < MFS_SINK_BATCH_BYTES; i++) {
		const struct candidate *c = &g->cands[i];
		/* Pinned since it was listed (an ingest storing the same chunk)? */
		int pins = mfs_blob_pin_count(t, c->id);

		if (pins == MFS_E_NOTFOUND)
			continue; /* evicted meanwhile */
		if (pins != 0) {
			rc = pins < 0 ? pins : 0;
			continue;
		}
		rc = mfs_blob_delete(t, c->id);
		freed++;
		bytes += c->size;
		slots += mfs_obj_slots_for(c->size);
	}
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc == 0) {
		g->rep->blobs_freed += freed;
		g->rep->bytes_freed += bytes;
		*next = i;
	}
	return rc;
}

static int delete_unreferenced(struct gc *g)
{
	struct mfs_vtxn *t;
	size_t next = 0;
	int rc = mfs_vtxn_begin(g->v, 0, &t);

	if (rc != 0)
		return rc;
	g->ncands = 0;
	rc = mfs_blob_foreach(t, add_candidate, g);
	mfs_vtxn_abort(t);
	while (rc == 0 && next < g->ncands)
		rc = delete_batch(g, &next);
	return rc;
}

static void forget_refs(struct gc *g)
{
	mfs_keyring_clear(&g->keyring);
	memset(&g->keyring, 0, sizeof g->keyring);
	g->nrefs = 0;
}

static int remaining(struct gc *g)
{
	struct mfs_blob_stats st;
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(g->v, 0, &t);

	if (rc != 0)
		return rc;
	mfs_blob_stats(t, &st);
	mfs_vtxn_abort(t);
	g->rep->blobs_kept = st.count;
	g->rep->bytes_kept = st.bytes;
	return 0;
}

int mfs_gc_volume(struct mfs_volume *v, void (*say_fn)(void *ctx, const char *line), void *ctx,
		  struct mfs_gc_report *out)
{
	struct gc g = {.v = v, .say = say_fn, .ctx = ctx, .rep = out};
	int rc = RESTART;

	memset(out, 0, sizeof *out);
	for (int attempt = 0; rc == RESTART && attempt < ATTEMPTS; attempt++) {
		forget_refs(&g);
		rc = read_refs(&g);
		if (rc == 0)
			rc = undo_dead_pinlogs(&g);
		if (rc == 0)
			rc = delete_unreferenced(&g);
	}
	if (rc == RESTART) {
		say(&g, "the channels kept changing while gc ran; run it again");
		rc = -EAGAIN;
	}
	if (rc == 0)
		rc = remaining(&g);
	forget_refs(&g);
	free(g.refs);
	free(g.cands);
	return rc;
}
