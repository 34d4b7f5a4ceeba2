#include "net/dht_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/addr.h"

#define RATE_SOURCES 256 /* addresses whose writes are counted at once */

struct peer_entry {
	uint8_t info_hash[20];
	struct mfs_dht_peer p;
	uint64_t written;
};

struct source {
	uint8_t key[MFS_ADDR_RANGE_BYTES]; /* the whole address (no range) */
	uint64_t window;                   /* when its window began */
	unsigned writes;
	int used;
};

struct mfs_dht_store {
	struct mfs_dht_limits lim;
	struct mfs_dht_stored *items; /* grows up to lim.items */
	size_t n_items, cap_items, item_bytes;
	struct peer_entry *peers;
	size_t n_peers, cap_peers;
	struct source sources[RATE_SOURCES];
};

int mfs_dht_store_new(struct mfs_dht_store **out, const struct mfs_dht_limits *limits)
{
	struct mfs_dht_store *s = calloc(1, sizeof *s);

	*out = s;
	if (!s)
		return -ENOMEM;
	if (limits)
		s->lim = *limits;
	if (!s->lim.items)
		s->lim.items = 1000;
	if (!s->lim.item_bytes)
		s->lim.item_bytes = 512 * 1024;
	if (!s->lim.peers)
		s->lim.peers = 10000;
	if (!s->lim.peers_per_hash)
		s->lim.peers_per_hash = 200;
	if (!s->lim.writes)
		s->lim.writes = 30;
	return 0;
}

void mfs_dht_store_free(struct mfs_dht_store *s)
{
	if (!s)
		return;
	free(s->items);
	free(s->peers);
	free(s);
}

int mfs_dht_store_charge(struct mfs_dht_store *s, const struct sockaddr *from, uint64_t now)
{
	uint8_t key[MFS_ADDR_RANGE_BYTES];
	struct source *src = NULL, *oldest = &s->sources[0];

	if (mfs_addr_range(key, from, 32, 128) != 0)
		return -EAGAIN;
	for (int i = 0; i < RATE_SOURCES && !src; i++) {
		struct source *c = &s->sources[i];

		if (c->used && memcmp(c->key, key, sizeof key) == 0)
			src = c;
		else if (!c->used || (oldest->used && c->window < oldest->window))
			oldest = c;
	}
	if (src && (now < src->window || now - src->window >= MFS_DHT_RATE_WINDOW)) {
		src->window = now;
		src->writes = 0;
	}
	if (!src) {
		/* The source whose window began longest ago gives its place:
		 * an address forgotten this way starts a fresh count. */
		src = oldest;
		*src = (struct source){.window = now, .used = 1};
		memcpy(src->key, key, sizeof key);
	}
	if (src->writes >= s->lim.writes)
		return -EAGAIN;
	src->writes++;
	return 0;
}

/* Doubles the array *p of *cap elements of size bytes, to at most limit
 * (memory is taken as the store fills, not at once). 0 or -ENOMEM. */
static int grow(void **p, size_t *cap, size_t limit, size_t size)
{
	size_t more = *cap ? 2 * *cap : 16;
	void *q;

	if (more > limit)
		more = limit;
	q = realloc(*p, more * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = more;
	return 0;
}

static struct mfs_dht_stored *find_item(const struct mfs_dht_store *s, const uint8_t *target)
{
	for (size_t i = 0; i < s->n_items; i++)
		if (memcmp(s->items[i].target, target, 20) == 0)
			return &s->items[i];
	return NULL;
}

/* A slot for a new item of v_len bytes, or NULL (MFS_E_FULL / -ENOMEM in *rc). */
static struct mfs_dht_stored *new_item(struct mfs_dht_store *s, size_t v_len, int *rc)
{
	if (s->n_items >= s->lim.items || s->item_bytes + v_len > s->lim.item_bytes) {
		*rc = MFS_E_FULL;
		return NULL;
	}
	if (s->n_items == s->cap_items && grow((void **)&s->items, &s->cap_items, s->lim.items,
					       sizeof *s->items) != 0) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = 0;
	return &s->items[s->n_items++];
}

/* Puts v into it (held or new), keeping the byte count. */
static void set_value(struct mfs_dht_store *s, struct mfs_dht_stored *it, const uint8_t *v,
		      size_t v_len)
{
	s->item_bytes = s->item_bytes - it->v_len + v_len;
	memcpy(it->v, v, v_len);
	it->v_len = v_len;
}

int mfs_dht_store_put_immutable(struct mfs_dht_store *s, const uint8_t target[static 20],
				const uint8_t *v, size_t v_len, uint64_t now)
{
	struct mfs_dht_stored *it = find_item(s, target);
	int rc = 0;

	if (v_len > MFS_DHT_VALUE_MAX)
		return MFS_E_FORMAT;
	if (it && it->is_mutable)
		return MFS_E_EXISTS; /* a SHA-1 collision with a mutable target */
	if (!it) {
		it = new_item(s, v_len, &rc);
		if (!it)
			return rc;
		memset(it, 0, sizeof *it);
		memcpy(it->target, target, 20);
		set_value(s, it, v, v_len);
	}
	it->written = now; /* the same target is the same value: a refresh */
	return 0;
}

int mfs_dht_store_put_mutable(struct mfs_dht_store *s, const uint8_t target[static 20],
			      const uint8_t k[static MFS_SIGN_PK_BYTES],
			      const uint8_t sig[static MFS_SIGN_BYTES],
			      const struct mfs_dht_mutable *item, int has_cas, int64_t cas,
			      uint64_t now)
{
	struct mfs_dht_stored *it = find_item(s, target);
	int replace = 1, rc;

	if (item->v_len > MFS_DHT_VALUE_MAX || item->salt_len > MFS_DHT_SALT_MAX)
		return MFS_E_FORMAT;
	if (it && !it->is_mutable)
		return MFS_E_EXISTS; /* a SHA-1 collision of an immutable target */
	rc = mfs_dht_item_put_rule(&replace, it != NULL, it ? it->seq : 0, item->seq, has_cas,
				   cas);
	if (rc != 0)
		return rc;
	if (it && replace && it->v_len < item->v_len &&
	    s->item_bytes + item->v_len - it->v_len > s->lim.item_bytes)
		return MFS_E_FULL;
	if (!it) {
		it = new_item(s, item->v_len, &rc);
		if (!it)
			return rc;
		memset(it, 0, sizeof *it);
		memcpy(it->target, target, 20);
		it->is_mutable = 1;
	}
	if (replace) {
		memcpy(it->k, k, MFS_SIGN_PK_BYTES);
		memcpy(it->sig, sig, MFS_SIGN_BYTES);
		it->seq = item->seq;
		if (item->salt_len)
			memcpy(it->salt, item->salt, item->salt_len);
		it->salt_len = item->salt_len;
		set_value(s, it, item->v, item->v_len);
	}
	it->written = now;
	return 0;
}

const struct mfs_dht_stored *mfs_dht_store_get(const struct mfs_dht_store *s,
					       const uint8_t target[static 20])
{
	return find_item(s, target);
}

static int same_peer(const struct mfs_dht_peer *a, const struct mfs_dht_peer *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

int mfs_dht_store_announce(struct mfs_dht_store *s, const uint8_t info_hash[static 20],
			   const struct mfs_dht_peer *peer, uint64_t now)
{
	size_t of_hash = 0;

	if (peer->family != 4 && peer->family != 6)
		return -EINVAL;
	for (size_t i = 0; i < s->n_peers; i++) {
		struct peer_entry *e = &s->peers[i];

		if (memcmp(e->info_hash, info_hash, 20) != 0)
			continue;
		if (same_peer(&e->p, peer)) {
			e->written = now;
			return 0;
		}
		of_hash++;
	}
	if (s->n_peers >= s->lim.peers || of_hash >= s->lim.peers_per_hash)
		return MFS_E_FULL;
	if (s->n_peers == s->cap_peers &&
	    grow((void **)&s->peers, &s->cap_peers, s->lim.peers, sizeof *s->peers) != 0)
		return -ENOMEM;
	s->peers[s->n_peers] = (struct peer_entry){.p = *peer, .written = now};
	memcpy(s->peers[s->n_peers].info_hash, info_hash, 20);
	s->n_peers++;
	return 0;
}

size_t mfs_dht_store_peers(const struct mfs_dht_store *s, const uint8_t info_hash[static 20],
			   int family, struct mfs_dht_peer *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_peers && n < max; i++)
		if (s->peers[i].p.family == family &&
		    memcmp(s->peers[i].info_hash, info_hash, 20) == 0)
			out[n++] = s->peers[i].p;
	return n;
}

static int expired(uint64_t written, uint64_t now)
{
	return now >= written && now - written >= MFS_DHT_STORE_LIFE;
}

void mfs_dht_store_expire(struct mfs_dht_store *s, uint64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_items; i++) {
		if (expired(s->items[i].written, now)) {
			s->item_bytes -= s->items[i].v_len;
			continue;
		}
		if (kept != i)
			s->items[kept] = s->items[i];
		kept++;
	}
	s->n_items = kept;
	kept = 0;
	for (size_t i = 0; i < s->n_peers; i++) {
		if (expired(s->peers[i].written, now))
			continue;
		s->peers[kept++] = s->peers[i];
	}
	s->n_peers = kept;
}

void mfs_dht_store_counts(const struct mfs_dht_store *s, size_t *items, size_t *peers,
			  size_t *item_bytes)
{
	if (items)
		*items = s->n_items;
	if (peers)
		*peers = s->n_peers;
	if (item_bytes)
		*item_bytes = s->item_bytes;
}
