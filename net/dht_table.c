#include "net/dht_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"

#define BUCKETS (8 * MFS_KRPC_ID_BYTES)

struct entry {
	struct mfs_krpc_node n;
	uint64_t heard; /* when we last heard from it */
	uint8_t fails;  /* unanswered queries in a row */
	uint8_t used;
};

struct mfs_dht_table {
	uint8_t self[MFS_KRPC_ID_BYTES];
	size_t count;
	struct entry b[BUCKETS][MFS_DHT_K];
};

int mfs_dht_table_new(struct mfs_dht_table **out, const uint8_t self[static MFS_KRPC_ID_BYTES])
{
	struct mfs_dht_table *t = calloc(1, sizeof *t);

	*out = t;
	if (!t)
		return -ENOMEM;
	memcpy(t->self, self, MFS_KRPC_ID_BYTES);
	return 0;
}

void mfs_dht_table_free(struct mfs_dht_table *t)
{
	free(t);
}

/* The index of the first bit where id differs from self, or -1. */
static int bucket_of(const uint8_t self[static MFS_KRPC_ID_BYTES],
		     const uint8_t id[static MFS_KRPC_ID_BYTES])
{
	for (int i = 0; i < MFS_KRPC_ID_BYTES; i++) {
		unsigned x = self[i] ^ id[i];

		if (x)
			return i * 8 + __builtin_clz(x) - 24;
	}
	return -1;
}

static int is_bad(const struct entry *e)
{
	return e->fails >= MFS_DHT_BAD_FAILS;
}

static int same_address(const struct mfs_krpc_node *a, const struct mfs_krpc_node *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

static struct entry *find(struct entry *bucket, const uint8_t id[static MFS_KRPC_ID_BYTES])
{
	for (int i = 0; i < MFS_DHT_K; i++)
		if (bucket[i].used && memcmp(bucket[i].n.id, id, MFS_KRPC_ID_BYTES) == 0)
			return &bucket[i];
	return NULL;
}

int mfs_dht_table_heard(struct mfs_dht_table *t, const struct mfs_krpc_node *n, uint64_t now)
{
	int bi = bucket_of(t->self, n->id);
	struct entry *bucket, *e, *slot = NULL;

	if (bi < 0 || (n->family != 4 && n->family != 6))
		return -EINVAL;
	bucket = t->b[bi];
	e = find(bucket, n->id);
	if (e && !same_address(&e->n, n) && !is_bad(e))
		return MFS_E_EXISTS;
	for (int i = 0; !e && i < MFS_DHT_K; i++) {
		if (!bucket[i].used) {
			e = &bucket[i];
			t->count++;
		} else if (is_bad(&bucket[i]) && !slot) {
			slot = &bucket[i];
		}
	}
	if (!e)
		e = slot;
	if (!e)
		return MFS_E_FULL;
	*e = (struct entry){.n = *n, .heard = now, .used = 1};
	return 0;
}

void mfs_dht_table_failed(struct mfs_dht_table *t, const uint8_t id[static MFS_KRPC_ID_BYTES])
{
	int bi = bucket_of(t->self, id);
	struct entry *e = bi < 0 ? NULL : find(t->b[bi], id);

	if (e && e->fails < UINT8_MAX)
		e->fails++;
}

int mfs_dht_table_stalest(const struct mfs_dht_table *t, const uint8_t id[static MFS_KRPC_ID_BYTES],
			  uint64_t now, struct mfs_krpc_node *out)
{
	int bi = bucket_of(t->self, id);
	const struct entry *old = NULL;

	for (int i = 0; bi >= 0 && i < MFS_DHT_K; i++) {
		const struct entry *e = &t->b[bi][i];

		if (e->used && (!old || e->heard < old->heard))
			old = e;
	}
	if (!old || (!is_bad(old) && now >= old->heard && now - old->heard < MFS_DHT_GOOD_SECS))
		return MFS_E_NOTFOUND;
	*out = old->n;
	return 0;
}

/* <0 when a is nearer to target than b, 0 when as near, >0 when farther. */
static int nearer(const uint8_t *a, const uint8_t *b, const uint8_t *target)
{
	for (int i = 0; i < MFS_KRPC_ID_BYTES; i++) {
		int da = a[i] ^ target[i], db = b[i] ^ target[i];

		if (da != db)
			return da - db;
	}
	return 0;
}

size_t mfs_dht_table_closest(const struct mfs_dht_table *t,
			     const uint8_t target[static MFS_KRPC_ID_BYTES],
			     struct mfs_krpc_node *out, size_t max)
{
	size_t n = 0;

	for (int bi = 0; bi < BUCKETS; bi++) {
		for (int i = 0; i < MFS_DHT_K; i++) {
			const struct entry *e = &t->b[bi][i];
			size_t at;

			if (!e->used || is_bad(e))
				continue;
			/* Insertion into out, kept sorted; the farthest falls off. */
			at = n;
			while (at > 0 && nearer(e->n.id, out[at - 1].id, target) < 0)
				at--;
			if (at >= max)
				continue;
			if (n < max)
				n++;
			memmove(&out[at + 1], &out[at], (n - 1 - at) * sizeof out[0]);
			out[at] = e->n;
		}
	}
	return n;
}

size_t mfs_dht_table_count(const struct mfs_dht_table *t)
{
	return t->count;
}
