/* node_store: the node's ties to fs/store (net/node.h: mfs_node_identity,
 * mfs_store_source_new).
 *
 * Owns: the node's static key as an object of the volume, and the blob
 * source that serves a volume's blobs and its session cache's, with an
 * index of the held blobs' id prefixes so that "have" decrypts nothing.
 * Promises: what net/node.h says of the source; the index is compared
 * with the volume's blob count and bytes at most every HELD_CHECK_MS and
 * rebuilt when they changed or HELD_REBUILD_MS passed; its ids are 8-byte
 * prefixes, so a false "have" is possible (and harmless: a REQUEST then
 * gets NOT_FOUND).
 *
 * Threads: the source's get and has run on pool threads, any number at
 * once: the index is under store_source->lock (under which LMDB read
 * transactions run); the session cache and the volume lock themselves.
 * mfs_node_identity runs on its caller's thread, in its transaction. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/blobstore.h"
#include "net/node_int.h"

/* The index of held blobs: compared with the volume at most this often,
 * rebuilt when it changed or at the latest after HELD_REBUILD_MS. */
#define HELD_CHECK_MS 2000u
#define HELD_REBUILD_MS 60000u

/* ---- the node's key ---- */

static const char identity_name[] = "\0node";

int mfs_node_identity(struct mfs_vtxn *t, uint8_t sk[static MFS_NOISE_KEY_BYTES])
{
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	uint8_t *data = NULL;
	uint64_t len = 0;
	int rc = mfs_obj_get(t, identity_name, sizeof identity_name - 1, &data, &len);

	if (rc == 0 && len == MFS_NOISE_KEY_BYTES) {
		memcpy(sk, data, MFS_NOISE_KEY_BYTES);
	} else if (rc == MFS_E_NOTFOUND) {
		mfs_noise_keypair(pk, sk);
		rc = mfs_obj_write(t, identity_name, sizeof identity_name - 1, sk,
				   MFS_NOISE_KEY_BYTES);
	} else if (rc == 0) {
		rc = MFS_E_CORRUPT;
	}
	if (data) {
		mfs_memzero(data, (size_t)len);
		free(data);
	}
	return rc;
}

/* ---- the blob source ---- */

/* The blobs a volume holds, as 8-byte id prefixes in an open-addressing
 * table (0: empty), so "have" costs a lookup and not the decryption of the
 * blob's first slot (64 KiB) that mfs_blob_has needs. */
struct store_source {
	struct mfs_volume *vol;
	struct mfs_session_cache *cache;
	pthread_mutex_t lock;
	uint64_t *held;               /* under lock; NULL until built */
	size_t held_cap;              /* a power of two */
	uint64_t held_count, held_bytes; /* the volume's blob count and bytes it reflects */
	uint64_t checked_ms, built_ms;
	uint64_t builds;
};

static void held_insert(uint64_t *table, size_t cap, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);

	while (table[i] && table[i] != key)
		i = (i + 1) & (cap - 1);
	table[i] = key;
}

static int held_lookup(const uint64_t *table, size_t cap, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);

	for (size_t probes = 0; table[i] && probes < cap; probes++, i = (i + 1) & (cap - 1))
		if (table[i] == key)
			return 1;
	return 0;
}

struct held_build {
	uint64_t *table;
	size_t cap;
};

static int held_add(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins)
{
	struct held_build *b = ctx;

	(void)size;
	(void)pins;
	held_insert(b->table, b->cap, node_id_prefix(id));
	return 0;
}

/* Brings s->held up to date when it is due (lock held). 0 or an error. */
static int held_refresh(struct store_source *s)
{
	struct mfs_blob_stats st;
	struct held_build b = {0};
	struct mfs_vtxn *t;
	uint64_t now = node_now_ms();
	int rc;

	if (s->held && now - s->checked_ms < HELD_CHECK_MS)
		return 0;
	if ((rc = mfs_vtxn_begin(s->vol, 0, &t)) < 0)
		return rc;
	s->checked_ms = now;
	mfs_blob_stats(t, &st);
	if (s->held && st.count == s->held_count && st.bytes == s->held_bytes &&
	    now - s->built_ms < HELD_REBUILD_MS) {
		mfs_vtxn_abort(t);
		return 0;
	}
	/* At most half full: lookups of absent ids stop early. */
	for (b.cap = 1024; b.cap < 2 * st.count; b.cap *= 2)
		;
	rc = (b.table = calloc(b.cap, sizeof *b.table)) ? mfs_blob_foreach(t, held_add, &b)
							: -ENOMEM;
	mfs_vtxn_abort(t);
	if (rc != 0) {
		free(b.table);
		return rc;
	}
	free(s->held);
	s->held = b.table;
	s->held_cap = b.cap;
	s->held_count = st.count;
	s->held_bytes = st.bytes;
	s->built_ms = now;
	s->builds++;
	return 0;
}

/* A blob of the session cache comes without leaves (the cache does not
 * keep them); the volume's slots keep theirs. */
static int store_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		     size_t *len, uint8_t **leaves)
{
	struct store_source *s = ctx;
	struct mfs_vtxn *t;
	int rc = MFS_E_NOTFOUND;

	*leaves = NULL;
	if (s->cache)
		rc = mfs_session_cache_get(s->cache, id, blob, len);
	if (rc == 0)
		return 0;
	rc = mfs_vtxn_begin(s->vol, 0, &t);
	if (rc < 0)
		return rc;
	rc = mfs_blob_get_leaves(t, id, blob, len, leaves);
	mfs_vtxn_abort(t);
	return rc;
}

static int store_has(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	struct store_source *s = ctx;
	int held;

	if (s->cache && mfs_session_cache_has(s->cache, id) == 1)
		return 1;
	pthread_mutex_lock(&s->lock);
	held = held_refresh(s) == 0 && held_lookup(s->held, s->held_cap, node_id_prefix(id));
	pthread_mutex_unlock(&s->lock);
	return held;
}

uint64_t mfs_store_source_builds(const struct mfs_serve_source *src)
{
	struct store_source *s = src->ctx;
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->builds;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int mfs_store_source_new(struct mfs_serve_source *out, struct mfs_volume *vol,
			 struct mfs_session_cache *cache)
{
	struct store_source *s = calloc(1, sizeof *s);

	if (!s)
		return -ENOMEM;
	s->vol = vol;
	s->cache = cache;
	pthread_mutex_init(&s->lock, NULL);
	*out = (struct mfs_serve_source){.get = store_get, .has = store_has, .ctx = s};
	return 0;
}

void mfs_store_source_free(struct mfs_serve_source *src)
{
	struct store_source *s = src ? src->ctx : NULL;

	if (s) {
		pthread_mutex_destroy(&s->lock);
		free(s->held);
		free(s);
		src->ctx = NULL;
	}
}
