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

/* The saved form's magic: MDT2 (with our port) is written; MDT1 (without)
 * is read too. */
#define SAVE_MAGIC "MDT2"
#define SAVE_MAGIC_V1 "MDT1"

const uint8_t *mfs_dht_table_id(const struct mfs_dht_table *t)
{
	return t->self;
}

int mfs_dht_table_save(const struct mfs_dht_table *t, uint16_t port, uint8_t *out, size_t cap,
		       size_t *len)
{
	size_t at = MFS_DHT_TABLE_HEAD;

	*len = 0;
	if (cap < at)
		return -ENOBUFS;
	memcpy(out, SAVE_MAGIC, 4);
	memcpy(out + 4, t->self, MFS_KRPC_ID_BYTES);
	out[4 + MFS_KRPC_ID_BYTES] = (uint8_t)(port >> 8);
	out[4 + MFS_KRPC_ID_BYTES + 1] = (uint8_t)port;
	for (int bi = 0; bi < BUCKETS; bi++) {
		for (int i = 0; i < MFS_DHT_K; i++) {
			const struct entry *e = &t->b[bi][i];
			uint8_t one[MFS_KRPC_NODE6_BYTES];
			size_t n;

			if (!e->used || is_bad(e))
				continue;
			n = mfs_krpc_node_put(one, &e->n);
			if (cap - at < 1 + n)
				return -ENOBUFS;
			out[at] = e->n.family;
			memcpy(out + at + 1, one, n);
			at += 1 + n;
		}
	}
	*len = at;
	return 0;
}

int mfs_dht_table_load(struct mfs_dht_table **out, uint16_t *port, const uint8_t *bytes,
		       size_t len, uint64_t now, char *why, size_t why_len)
{
	struct mfs_dht_table *t = NULL;
	size_t at = 4 + MFS_KRPC_ID_BYTES;
	uint16_t saved_port = 0;
	int rc;

	*out = NULL;
	if (port)
		*port = 0;
	if (len >= MFS_DHT_TABLE_HEAD && memcmp(bytes, SAVE_MAGIC, 4) == 0) {
		saved_port = (uint16_t)(bytes[at] << 8 | bytes[at + 1]);
		at += 2;
	} else if (len < at || memcmp(bytes, SAVE_MAGIC_V1, 4) != 0) {
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "DHT table: no MDT2 (or MDT1) header");
	}
	rc = mfs_dht_table_new(&t, bytes + 4);
	while (rc == 0 && at < len) {
		int family = bytes[at];
		size_t size = family == 4 ? MFS_KRPC_NODE4_BYTES : MFS_KRPC_NODE6_BYTES;
		struct mfs_krpc_node n;

		if ((family != 4 && family != 6) || len - at - 1 < size) {
			rc = mfs_error_why(why, why_len, MFS_E_FORMAT,
					   "DHT table: a bad node entry at byte %zu", at);
			break;
		}
		mfs_krpc_node_at(&n, bytes + at + 1, size, family, 0);
		/* Entries that do not fit (our id, a full bucket, an id twice)
		 * are skipped: the bytes may come from another version's table. */
		(void)mfs_dht_table_heard(t, &n, now);
		at += 1 + size;
	}
	if (rc != 0) {
		mfs_dht_table_free(t);
		return rc;
	}
	if (port)
		*port = saved_port;
	*out = t;
	return 0;
}
