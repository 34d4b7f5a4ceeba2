#include "net/bt_swarm.h"

#include <errno.h>
#include <search.h> /* twalk_r, tdestroy: _GNU_SOURCE, as the build defines */
#include <stdlib.h>
#include <string.h>

#include "crypto/secure.h"

#define DEFAULT_PER_RANGE_IN_TORRENT 8
#define DEFAULT_INTERVAL 60

struct range {
	uint8_t key[MFS_ADDR_RANGE_BYTES]; /* first: tree_get reads it there */
	size_t peers;                 /* records over all torrents */
};

struct record {
	uint8_t peer_id[MFS_BT_HASH_BYTES];
	struct mfs_bt_peer peer;
	struct range *range;
	int seed;                     /* left was 0 */
	uint64_t expires_ms;
};

struct torrent {
	uint8_t info_hash[MFS_BT_HASH_BYTES]; /* first: tree_get reads it there */
	struct record *recs;
	size_t n, cap;
};

struct mfs_bt_swarm {
	struct mfs_bt_swarm_limits lim;
	void *torrents, *ranges;      /* tsearch trees (balanced: no hash to flood) */
	size_t ntorrents, npeers;
	uint64_t next_sweep_ms;
};

/* Both compare keys as bytes: a key is first in its struct, and tree_get
 * looks up by the bare key (no struct around it to align). */
static int torrent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MFS_BT_HASH_BYTES);
}

static int range_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MFS_ADDR_RANGE_BYTES);
}

int mfs_bt_swarm_new(struct mfs_bt_swarm **out, const struct mfs_bt_swarm_limits *limits)
{
	struct mfs_bt_swarm *s = calloc(1, sizeof *s);

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->lim = *limits;
	if (!s->lim.per_range_in_torrent)
		s->lim.per_range_in_torrent = DEFAULT_PER_RANGE_IN_TORRENT;
	if (!s->lim.per_range)
		s->lim.per_range = MFS_BT_DEFAULT_PER_RANGE;
	if (!s->lim.max_peers)
		s->lim.max_peers = MFS_BT_DEFAULT_MAX_PEERS;
	if (!s->lim.interval)
		s->lim.interval = DEFAULT_INTERVAL;
	*out = s;
	return 0;
}

static void torrent_free(void *p)
{
	struct torrent *t = p;

	free(t->recs);
	free(t);
}

void mfs_bt_swarm_free(struct mfs_bt_swarm *s)
{
	if (!s)
		return;
	tdestroy(s->torrents, torrent_free);
	tdestroy(s->ranges, free);
	free(s);
}

/* The object of tree *root whose key (its first key_len bytes) is key; when
 * missing and create is set, a new zeroed one of size bytes holding it
 * (*made = 1). NULL: missing, or -ENOMEM. cmp reads only the key. */
static void *tree_get(void **root, const uint8_t *key, size_t key_len, size_t size,
		      int (*cmp)(const void *, const void *), int create, int *made)
{
	void **found = tfind(key, root, cmp), *obj;

	*made = 0;
	if (found)
		return *found;
	if (!create || !(obj = calloc(1, size)))
		return NULL;
	memcpy(obj, key, key_len);
	if (!tsearch(obj, root, cmp)) {
		free(obj);
		return NULL;
	}
	*made = 1;
	return obj;
}

static struct range *range_get(struct mfs_bt_swarm *s, const uint8_t *key, int create)
{
	int made;

	return tree_get(&s->ranges, key, MFS_ADDR_RANGE_BYTES, sizeof(struct range), range_cmp,
			create, &made);
}

static void remove_record(struct mfs_bt_swarm *s, struct torrent *t, size_t i)
{
	struct range *r = t->recs[i].range;

	if (--r->peers == 0) {
		tdelete(r, &s->ranges, range_cmp);
		free(r);
	}
	s->npeers--;
	t->recs[i] = t->recs[--t->n];
}

static void prune(struct mfs_bt_swarm *s, struct torrent *t, uint64_t now)
{
	for (size_t i = 0; i < t->n;)
		if (t->recs[i].expires_ms <= now)
			remove_record(s, t, i);
		else
			i++;
}

static void torrent_drop(struct mfs_bt_swarm *s, struct torrent *t)
{
	tdelete(t, &s->torrents, torrent_cmp);
	torrent_free(t);
	s->ntorrents--;
}

struct sweep {
	struct mfs_bt_swarm *s;
	uint64_t now;
	struct torrent **empty;
	size_t nempty;
};

static void sweep_one(const void *node, VISIT which, void *arg)
{
	struct sweep *w = arg;
	struct torrent *t = *(struct torrent *const *)node;

	if (which != postorder && which != leaf)
		return;
	prune(w->s, t, w->now);
	if (t->n == 0 && w->empty)
		w->empty[w->nempty++] = t;
}

/* Drops every expired record and the torrents left empty, once an
 * interval: records of torrents nobody announces again go too. */
static void sweep(struct mfs_bt_swarm *s, uint64_t now)
{
	struct sweep w = {s, now, NULL, 0};

	if (now < s->next_sweep_ms)
		return;
	s->next_sweep_ms = now + 1000ull * s->lim.interval;
	w.empty = malloc((s->ntorrents + 1) * sizeof *w.empty); /* NULL: prune only */
	twalk_r(s->torrents, sweep_one, &w);
	for (size_t i = 0; i < w.nempty; i++)
		torrent_drop(s, w.empty[i]);
	free(w.empty);
}

static struct torrent *torrent_get(struct mfs_bt_swarm *s, const uint8_t *info_hash, int create)
{
	int made;
	struct torrent *t = tree_get(&s->torrents, info_hash, MFS_BT_HASH_BYTES,
				     sizeof(struct torrent), torrent_cmp, create, &made);

	s->ntorrents += made;
	return t;
}

static int same_peer(const struct record *r, const struct mfs_bt_announce *a,
		     const struct mfs_bt_source *src)
{
	return mfs_memeq(r->peer_id, a->peer_id, MFS_BT_HASH_BYTES) &&
	       r->peer.v6 == src->peer.v6 && r->peer.port == src->peer.port &&
	       memcmp(r->peer.addr, src->peer.addr, sizeof r->peer.addr) == 0;
}

/* Records or refreshes src's peer in t. 0, -EDQUOT, -EPERM or -ENOMEM. */
static int record(struct mfs_bt_swarm *s, struct torrent *t, const struct mfs_bt_announce *a,
		  const struct mfs_bt_source *src, uint64_t now)
{
	struct range *r;
	size_t i, in_range = 0;

	for (i = 0; i < t->n && !same_peer(&t->recs[i], a, src); i++)
		;
	if (i == t->n) {
		r = range_get(s, src->range, 0);
		for (size_t k = 0; r && k < t->n; k++)
			in_range += t->recs[k].range == r;
		if (in_range >= s->lim.per_range_in_torrent)
			return -EDQUOT;
		if ((r && r->peers >= s->lim.per_range) || s->npeers >= s->lim.max_peers)
			return -EPERM;
		if (t->n == t->cap) {
			size_t ncap = t->cap ? 2 * t->cap : 4;
			struct record *p = realloc(t->recs, ncap * sizeof *p);

			if (!p)
				return -ENOMEM;
			t->recs = p;
			t->cap = ncap;
		}
		if (!r && !(r = range_get(s, src->range, 1)))
			return -ENOMEM;
		memset(&t->recs[i], 0, sizeof t->recs[i]);
		memcpy(t->recs[i].peer_id, a->peer_id, MFS_BT_HASH_BYTES);
		t->recs[i].peer = src->peer;
		t->recs[i].range = r;
		r->peers++;
		s->npeers++;
		t->n++;
	}
	t->recs[i].seed = a->left == 0;
	t->recs[i].expires_ms = now + 3000ull * s->lim.interval;
	return 0;
}

/* Up to a->numwant peers of t but the asker, mixed across ranges. 0 or
 * -ENOMEM. */
static int sample(struct torrent *t, const struct mfs_bt_announce *a,
		  const struct mfs_bt_source *src, struct mfs_bt_answer *out)
{
	const uint8_t **range = malloc((t->n + 1) * sizeof *range);
	uint8_t *skip = malloc(t->n + 1);
	size_t pick[MFS_BT_MAX_PEERS];
	int rc = -ENOMEM;

	if (range && skip) {
		for (size_t i = 0; i < t->n; i++) {
			range[i] = t->recs[i].range->key;
			skip[i] = (uint8_t)same_peer(&t->recs[i], a, src);
		}
		rc = mfs_addr_mix(pick, &out->count, a->numwant, t->n, range, skip);
		for (size_t i = 0; rc == 0 && i < out->count; i++)
			out->peers[i] = t->recs[pick[i]].peer;
	}
	free(range);
	free(skip);
	return rc;
}

int mfs_bt_swarm_announce(struct mfs_bt_swarm *s, struct mfs_bt_answer *out,
			  const struct mfs_bt_announce *a, const struct mfs_bt_source *src,
			  uint64_t now_ms)
{
	struct torrent *t;
	int rc = 0;

	out->count = 0;
	out->complete = out->incomplete = 0;
	sweep(s, now_ms);
	t = torrent_get(s, a->info_hash, a->event != MFS_BT_EVENT_STOPPED);
	if (!t)
		return a->event == MFS_BT_EVENT_STOPPED ? 0 : -ENOMEM;
	prune(s, t, now_ms);
	if (a->event == MFS_BT_EVENT_STOPPED) {
		for (size_t i = 0; i < t->n; i++)
			if (same_peer(&t->recs[i], a, src)) {
				remove_record(s, t, i);
				break;
			}
	} else {
		rc = record(s, t, a, src, now_ms);
	}
	if (rc == 0) {
		for (size_t i = 0; i < t->n; i++)
			*(t->recs[i].seed ? &out->complete : &out->incomplete) += 1;
		rc = sample(t, a, src, out);
	}
	if (t->n == 0)
		torrent_drop(s, t);
	return rc;
}

void mfs_bt_swarm_counts(const struct mfs_bt_swarm *s, size_t *torrents, size_t *peers)
{
	*torrents = s->ntorrents;
	*peers = s->npeers;
}
