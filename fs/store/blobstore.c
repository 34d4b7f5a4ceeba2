#include "fs/store/blobstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define ENTRY_BYTES (MFS_BLOB_ID_BYTES + 4 + 4 + 8)
#define BUCKET_TARGET 1024 /* entries per bucket on average before doubling */

struct entry {
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint32_t size;
	uint32_t pins;     /* references from file entries; 0: an evictable cache entry */
	uint64_t tick;
};

struct bucket {
	uint32_t index;
	size_t count;
	struct entry *entries;
};

size_t mfs_blob_object_name(uint8_t name[static MFS_BLOB_OBJ_NAME_MAX],
			    const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	name[0] = 'b';
	memcpy(name + 1, id, MFS_BLOB_ID_BYTES);
	return 1 + MFS_BLOB_ID_BYTES;
}

size_t mfs_blob_table_object_name(uint8_t name[static MFS_BLOB_OBJ_NAME_MAX], uint32_t index)
{
	memcpy(name, "\0bt", 3);
	mfs_le_put(name + 3, index, 4);
	return 7;
}

static uint32_t bucket_of(const uint8_t *id, uint32_t bucket_count)
{
	return (uint32_t)mfs_le_get(id, 4) & (bucket_count - 1);
}

static int bucket_load(struct mfs_vtxn *t, uint32_t index, struct bucket *b)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	uint8_t *raw = NULL;
	uint64_t len;
	int rc = mfs_obj_get(t, name, mfs_blob_table_object_name(name, index), &raw, &len);

	b->index = index;
	b->count = 0;
	b->entries = NULL;
	if (rc == MFS_E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len % ENTRY_BYTES != 0) {
		free(raw);
		return MFS_E_CORRUPT;
	}
	b->count = len / ENTRY_BYTES;
	b->entries = calloc(b->count ? b->count : 1, sizeof *b->entries);
	if (!b->entries) {
		free(raw);
		b->count = 0;
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->count; i++) {
		const uint8_t *p = raw + i * ENTRY_BYTES;
		struct entry *e = &b->entries[i];

		memcpy(e->id, p, MFS_BLOB_ID_BYTES);
		e->size = (uint32_t)mfs_le_get(p + 32, 4);
		e->pins = (uint32_t)mfs_le_get(p + 36, 4);
		e->tick = mfs_le_get(p + 40, 8);
	}
	free(raw);
	return 0;
}

static int bucket_store(struct mfs_vtxn *t, const struct bucket *b)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	size_t n = mfs_blob_table_object_name(name, b->index);
	uint8_t *raw;
	int rc;

	if (b->count == 0) {
		rc = mfs_obj_delete(t, name, n);
		return rc == MFS_E_NOTFOUND ? 0 : rc;
	}
	raw = malloc(b->count * ENTRY_BYTES);
	if (!raw)
		return -ENOMEM;
	for (size_t i = 0; i < b->count; i++) {
		uint8_t *p = raw + i * ENTRY_BYTES;
		const struct entry *e = &b->entries[i];

		memcpy(p, e->id, MFS_BLOB_ID_BYTES);
		mfs_le_put(p + 32, e->size, 4);
		mfs_le_put(p + 36, e->pins, 4);
		mfs_le_put(p + 40, e->tick, 8);
	}
	rc = mfs_obj_write(t, name, n, raw, b->count * ENTRY_BYTES);
	free(raw);
	return rc;
}

static struct entry *bucket_find(struct bucket *b, const uint8_t *id)
{
	for (size_t i = 0; i < b->count; i++)
		if (memcmp(b->entries[i].id, id, MFS_BLOB_ID_BYTES) == 0)
			return &b->entries[i];
	return NULL;
}

static int bucket_append(struct bucket *b, const struct entry *e)
{
	struct entry *grown = realloc(b->entries, (b->count + 1) * sizeof *grown);

	if (!grown)
		return -ENOMEM;
	b->entries = grown;
	b->entries[b->count++] = *e;
	return 0;
}

/* Loads the bucket holding id and finds its entry (NULL when absent). */
static int lookup(struct mfs_vtxn *t, const uint8_t *id, struct bucket *b, struct entry **e)
{
	int rc = bucket_load(t, bucket_of(id, mfs_vtxn_sb(t)->bucket_count), b);

	*e = rc == 0 ? bucket_find(b, id) : NULL;
	return rc;
}

/* Doubles the table: bucket i splits into i and i + old count. */
static int grow_table(struct mfs_vtxn *t)
{
	struct mfs_superblock *sb = mfs_vtxn_sb(t);
	const uint32_t old = sb->bucket_count;
	int rc = 0;

	if (old > (UINT32_C(1) << 30))
		return 0;
	for (uint32_t i = 0; i < old && rc == 0; i++) {
		struct bucket lo, hi = {.index = i + old};

		rc = bucket_load(t, i, &lo);
		if (rc != 0)
			break;
		for (size_t j = 0; j < lo.count && rc == 0;) {
			if (bucket_of(lo.entries[j].id, old * 2) == i + old) {
				rc = bucket_append(&hi, &lo.entries[j]);
				lo.entries[j] = lo.entries[--lo.count];
			} else {
				j++;
			}
		}
		if (rc == 0)
			rc = bucket_store(t, &lo);
		if (rc == 0)
			rc = bucket_store(t, &hi);
		free(lo.entries);
		free(hi.entries);
	}
	if (rc == 0) {
		sb->bucket_count = old * 2;
		mfs_vtxn_sb_dirty(t);
	}
	return rc;
}

static int remove_blob(struct mfs_vtxn *t, struct bucket *b, struct entry *e)
{
	struct mfs_superblock *sb = mfs_vtxn_sb(t);
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	int rc = mfs_obj_delete(t, name, mfs_blob_object_name(name, e->id));

	if (rc != 0)
		return rc;
	sb->blob_count--;
	sb->blob_bytes -= e->size;
	if (e->pins > 0)
		sb->pinned_bytes -= e->size;
	mfs_vtxn_sb_dirty(t);
	*e = b->entries[--b->count];
	return bucket_store(t, b);
}

/* Evicts least recently used unpinned blobs until `incoming` more unpinned
 * bytes fit under the cap (or none is left to evict). */
static int evict_for(struct mfs_vtxn *t, uint64_t incoming)
{
	struct mfs_superblock *sb = mfs_vtxn_sb(t);

	while (sb->blob_bytes - sb->pinned_bytes + incoming > sb->cache_cap) {
		uint32_t best_bucket = 0;
		uint64_t best_tick = UINT64_MAX;
		uint8_t best_id[MFS_BLOB_ID_BYTES];
		int found = 0, rc = 0;

		for (uint32_t i = 0; i < sb->bucket_count && rc == 0; i++) {
			struct bucket b;

			rc = bucket_load(t, i, &b);
			for (size_t j = 0; rc == 0 && j < b.count; j++)
				if (b.entries[j].pins == 0 && b.entries[j].tick < best_tick) {
					best_tick = b.entries[j].tick;
					best_bucket = i;
					memcpy(best_id, b.entries[j].id, sizeof best_id);
					found = 1;
				}
			free(b.entries);
		}
		if (rc != 0)
			return rc;
		if (!found)
			return 0;
		struct bucket b;
		struct entry *e;

		rc = bucket_load(t, best_bucket, &b);
		e = rc == 0 ? bucket_find(&b, best_id) : NULL;
		if (rc == 0)
			rc = e ? remove_blob(t, &b, e) : MFS_E_CORRUPT;
		free(b.entries);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Adds delta (+1 or -1) to a blob's pin count. */
static int change_pins(struct mfs_vtxn *t, struct bucket *b, struct entry *e, int delta)
{
	struct mfs_superblock *sb = mfs_vtxn_sb(t);

	if (delta < 0 && e->pins == 0)
		return -EINVAL;
	if (delta > 0 && e->pins == UINT32_MAX)
		return -EOVERFLOW;
	if (delta > 0 && e->pins == 0)
		sb->pinned_bytes += e->size;
	e->pins = delta > 0 ? e->pins + 1 : e->pins - 1;
	if (e->pins == 0) {
		sb->pinned_bytes -= e->size;
		e->tick = ++sb->tick;
	}
	mfs_vtxn_sb_dirty(t);
	return bucket_store(t, b);
}

/* Stores a blob given in clear (blob) or sealed for this volume (sealed). */
static int put_blob(struct mfs_vtxn *t, const uint8_t *id, const uint8_t *blob,
		    const uint8_t *leaves, const uint8_t *sealed, size_t len, int pin, int *what)
{
	struct mfs_superblock *sb = mfs_vtxn_sb(t);
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	struct bucket b;
	struct entry *e, fresh;
	int rc;

	if (what)
		*what = 0;
	if (len == 0 || len > MFS_BLOB_MAX_BYTES)
		return MFS_E_FORMAT;
	rc = lookup(t, id, &b, &e);
	if (rc != 0)
		return rc;
	if (e) {
		/* Already here: content addressing makes the copy identical. */
		if (pin) {
			rc = change_pins(t, &b, e, +1);
			if (rc == 0 && what)
				*what = MFS_BLOB_PINNED_NOW;
		}
		free(b.entries);
		return rc;
	}
	if (!pin) {
		/* Eviction rewrites buckets: look ours up again after it. */
		free(b.entries);
		rc = evict_for(t, len);
		if (rc == 0)
			rc = lookup(t, id, &b, &e);
		if (rc != 0)
			return rc;
	}
	if (sealed)
		rc = mfs_obj_insert_sealed(t, name, mfs_blob_object_name(name, id), sealed, len);
	else
		rc = mfs_obj_write_leaves(t, name, mfs_blob_object_name(name, id), blob, len,
					  leaves);
	memcpy(fresh.id, id, MFS_BLOB_ID_BYTES);
	fresh.size = (uint32_t)len;
	fresh.pins = pin ? 1 : 0;
	fresh.tick = ++sb->tick;
	if (rc == 0)
		rc = bucket_append(&b, &fresh);
	if (rc == 0)
		rc = bucket_store(t, &b);
	free(b.entries);
	if (rc != 0)
		return rc;
	sb->blob_count++;
	sb->blob_bytes += len;
	if (pin)
		sb->pinned_bytes += len;
	mfs_vtxn_sb_dirty(t);
	if (what)
		*what = MFS_BLOB_ADDED | (pin ? MFS_BLOB_PINNED_NOW : 0);
	if (sb->blob_count > (uint64_t)sb->bucket_count * BUCKET_TARGET)
		rc = grow_table(t);
	return rc;
}

int mfs_blob_put_hashed(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			const uint8_t *blob, size_t len, int pin, int *what)
{
	return put_blob(t, id, blob, NULL, NULL, len, pin, what);
}

int mfs_blob_put_sealed(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			const uint8_t *sealed, size_t len, int pin, int *what)
{
	return put_blob(t, id, NULL, NULL, sealed, len, pin, what);
}

size_t mfs_blob_sealed_bytes(struct mfs_volume *v, size_t len)
{
	return (size_t)mfs_obj_sealed_slots(v, len) * MFS_SLOT_BYTES;
}

size_t mfs_blob_seal_scratch(struct mfs_volume *v, size_t len)
{
	return mfs_obj_seal_scratch(v, len);
}

void mfs_blob_seal(struct mfs_volume *v, uint8_t *sealed, uint8_t *scratch,
		   const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *leaves,
		   const uint8_t *blob, size_t len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];

	mfs_obj_seal(v, sealed, scratch, name, mfs_blob_object_name(name, id), blob, len, leaves);
}

/* The id of bytes that may be anyone's, checked, and their leaves, which
 * the slots keep (malloc'ed into *leaves). */
static int check_id(const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *blob, size_t len,
		    uint8_t **leaves)
{
	uint8_t actual[MFS_BLOB_ID_BYTES];

	*leaves = len > MFS_BLOB_MAX_BYTES ? NULL
					   : malloc(mfs_blob_leaf_count(len) * MFS_BLOB_ID_BYTES);
	if (!*leaves)
		return len > MFS_BLOB_MAX_BYTES ? MFS_E_FORMAT : -ENOMEM;
	mfs_blob_id_leaves(actual, *leaves, blob, len);
	if (mfs_memeq(actual, id, sizeof actual))
		return 0;
	free(*leaves);
	*leaves = NULL;
	return MFS_E_CORRUPT;
}

int mfs_blob_put(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		 const uint8_t *blob, size_t len, int pin, int *what)
{
	uint8_t *leaves;
	int rc = check_id(id, blob, len, &leaves);

	if (rc == 0)
		rc = put_blob(t, id, blob, leaves, NULL, len, pin, what);
	free(leaves);
	return rc;
}

int mfs_blob_restore(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		     const uint8_t *blob, size_t len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX], *leaves;
	struct bucket b;
	struct entry *e;
	int rc = check_id(id, blob, len, &leaves);

	if (rc != 0)
		return rc;
	rc = lookup(t, id, &b, &e);
	if (rc == 0 && !e)
		rc = MFS_E_NOTFOUND;
	if (rc == 0 && e->size != len)
		rc = MFS_E_CORRUPT; /* the table is damaged, or the bytes are another blob's */
	free(b.entries);
	if (rc == 0)
		rc = mfs_obj_write_leaves(t, name, mfs_blob_object_name(name, id), blob, len, leaves);
	free(leaves);
	return rc;
}

int mfs_blob_has(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	uint64_t len;
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	int rc = mfs_obj_size(t, name, mfs_blob_object_name(name, id), &len);

	return rc == 0 ? 1 : rc == MFS_E_NOTFOUND ? 0 : rc;
}

int mfs_blob_size(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t *len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	uint64_t n;
	int rc = mfs_obj_size(t, name, mfs_blob_object_name(name, id), &n);

	if (rc == 0)
		*len = (size_t)n;
	return rc;
}

int mfs_blob_read(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], uint64_t off,
		  void *buf, size_t len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];

	return mfs_obj_read(t, name, mfs_blob_object_name(name, id), off, buf, len);
}

int mfs_blob_read_known(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			size_t blob_len, uint64_t off, void *buf, size_t len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];

	return mfs_obj_read_known(t, name, mfs_blob_object_name(name, id), blob_len, off, buf, len);
}

int mfs_blob_prefetch(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		      size_t blob_len)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];

	return mfs_obj_prefetch(t, name, mfs_blob_object_name(name, id), blob_len);
}

int mfs_blob_get(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		 size_t *len)
{
	return mfs_blob_get_leaves(t, id, blob, len, NULL);
}

int mfs_blob_get_leaves(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			uint8_t **blob, size_t *len, uint8_t **leaves)
{
	uint8_t name[MFS_BLOB_OBJ_NAME_MAX];
	uint64_t n;
	int rc = mfs_obj_get_leaves(t, name, mfs_blob_object_name(name, id), blob, &n, leaves);

	if (rc == 0)
		*len = (size_t)n;
	return rc;
}

static int change_entry(struct mfs_vtxn *t, const uint8_t *id, int op)
{
	struct bucket b;
	struct entry *e;
	int rc = lookup(t, id, &b, &e);

	if (rc == 0 && !e)
		rc = MFS_E_NOTFOUND;
	if (rc == 0) {
		switch (op) {
		case 'p':
			rc = change_pins(t, &b, e, +1);
			break;
		case 'u':
			rc = change_pins(t, &b, e, -1);
			break;
		case 'q':
			rc = e->pins > INT32_MAX ? INT32_MAX : (int)e->pins;
			break;
		case 't':
			if (e->pins == 0) {
				e->tick = ++mfs_vtxn_sb(t)->tick;
				mfs_vtxn_sb_dirty(t);
				rc = bucket_store(t, &b);
			}
			break;
		case 'd':
			rc = remove_blob(t, &b, e);
			break;
		}
	}
	free(b.entries);
	return rc;
}

int mfs_blob_pin(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	return change_entry(t, id, 'p');
}

int mfs_blob_unpin(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	int rc = change_entry(t, id, 'u');

	return rc == 0 ? evict_for(t, 0) : rc;
}

int mfs_blob_pin_count(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	return change_entry(t, id, 'q');
}

int mfs_blob_touch(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	return change_entry(t, id, 't');
}

int mfs_blob_delete(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	return change_entry(t, id, 'd');
}

int mfs_blob_set_cap(struct mfs_vtxn *t, uint64_t cap)
{
	mfs_vtxn_sb(t)->cache_cap = cap;
	mfs_vtxn_sb_dirty(t);
	return evict_for(t, 0);
}

void mfs_blob_stats(struct mfs_vtxn *t, struct mfs_blob_stats *out)
{
	const struct mfs_superblock *sb = mfs_vtxn_sb(t);

	out->count = sb->blob_count;
	out->bytes = sb->blob_bytes;
	out->pinned_bytes = sb->pinned_bytes;
	out->cap = sb->cache_cap;
}

int mfs_blob_foreach(struct mfs_vtxn *t,
		     int (*fn)(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins), void *ctx)
{
	int rc = 0;

	for (uint32_t i = 0; i < mfs_vtxn_sb(t)->bucket_count && rc == 0; i++) {
		struct bucket b;

		rc = bucket_load(t, i, &b);
		for (size_t j = 0; rc == 0 && j < b.count; j++)
			rc = fn(ctx, b.entries[j].id, b.entries[j].size, b.entries[j].pins);
		free(b.entries);
	}
	return rc;
}
