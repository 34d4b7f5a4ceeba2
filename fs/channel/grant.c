#include "fs/channel/grant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"

#define RECORD (MFS_BOX_KEY_BYTES + 8)
#define NAME_LEN (1 + MFS_SIGN_PK_BYTES)

static void grants_name(uint8_t name[static NAME_LEN], const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	name[0] = 'g';
	memcpy(name + 1, pk, MFS_SIGN_PK_BYTES);
}

void mfs_grants_clear(struct mfs_grant_list *l)
{
	if (!l)
		return;
	free(l->items);
	memset(l, 0, sizeof *l);
}

int mfs_grants_load(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		    struct mfs_grant_list *out)
{
	uint8_t name[NAME_LEN], *raw = NULL;
	uint64_t len = 0;
	size_t count = 0;
	int rc;

	memset(out, 0, sizeof *out);
	grants_name(name, pk);
	rc = mfs_obj_size(t, name, sizeof name, &len);
	if (rc == MFS_E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len < 4 || len > 4 + (uint64_t)MFS_SEALED_MAX_GRANTS * RECORD)
		return MFS_E_CORRUPT;
	raw = malloc((size_t)len);
	if (!raw)
		return -ENOMEM;
	rc = mfs_obj_read(t, name, sizeof name, 0, raw, (size_t)len);
	if (rc == 0) {
		count = (size_t)mfs_le_get(raw, 4);
		if (len != 4 + (uint64_t)count * RECORD)
			rc = MFS_E_CORRUPT;
	}
	if (rc == 0 && count) {
		out->items = calloc(count, sizeof *out->items);
		if (!out->items)
			rc = -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		memcpy(out->items[i].key, raw + 4 + i * RECORD, MFS_BOX_KEY_BYTES);
		out->items[i].expires_ms = mfs_le_get(raw + 4 + i * RECORD + MFS_BOX_KEY_BYTES, 8);
	}
	if (rc == 0)
		out->count = count;
	else
		mfs_grants_clear(out);
	free(raw);
	return rc;
}

static int grants_store(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const struct mfs_grant_list *l)
{
	uint8_t name[NAME_LEN], *raw = malloc(4 + l->count * RECORD);
	int rc;

	if (!raw)
		return -ENOMEM;
	grants_name(name, pk);
	mfs_le_put(raw, l->count, 4);
	for (size_t i = 0; i < l->count; i++) {
		memcpy(raw + 4 + i * RECORD, l->items[i].key, MFS_BOX_KEY_BYTES);
		mfs_le_put(raw + 4 + i * RECORD + MFS_BOX_KEY_BYTES, l->items[i].expires_ms, 8);
	}
	rc = mfs_obj_write(t, name, sizeof name, raw, 4 + l->count * RECORD);
	free(raw);
	return rc;
}

static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct mfs_grant *)a)->key, ((const struct mfs_grant *)b)->key,
		      MFS_BOX_KEY_BYTES);
}

static long find(const struct mfs_grant_list *l, const uint8_t *key)
{
	for (size_t i = 0; i < l->count; i++)
		if (memcmp(l->items[i].key, key, MFS_BOX_KEY_BYTES) == 0)
			return (long)i;
	return -1;
}

int mfs_grants_put(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		   const uint8_t key[static MFS_BOX_KEY_BYTES], uint64_t expires_ms)
{
	struct mfs_grant_list l;
	struct mfs_grant *grown;
	long i;
	int rc = mfs_grants_load(t, pk, &l);

	if (rc != 0)
		return rc;
	i = find(&l, key);
	if (i >= 0) {
		l.items[i].expires_ms = expires_ms;
	} else if (l.count >= MFS_SEALED_MAX_GRANTS) {
		rc = MFS_E_FULL;
	} else if (!(grown = realloc(l.items, (l.count + 1) * sizeof *grown))) {
		rc = -ENOMEM;
	} else {
		l.items = grown;
		memcpy(l.items[l.count].key, key, MFS_BOX_KEY_BYTES);
		l.items[l.count].expires_ms = expires_ms;
		l.count++;
		qsort(l.items, l.count, sizeof *l.items, by_key);
	}
	if (rc == 0)
		rc = grants_store(t, pk, &l);
	mfs_grants_clear(&l);
	return rc;
}

int mfs_grants_remove(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      const uint8_t key[static MFS_BOX_KEY_BYTES])
{
	struct mfs_grant_list l;
	long i;
	int rc = mfs_grants_load(t, pk, &l);

	if (rc != 0)
		return rc;
	i = find(&l, key);
	if (i < 0) {
		rc = MFS_E_NOTFOUND;
	} else {
		memmove(&l.items[i], &l.items[i + 1], (l.count - (size_t)i - 1) * sizeof *l.items);
		l.count--;
		rc = grants_store(t, pk, &l);
	}
	mfs_grants_clear(&l);
	return rc;
}

int mfs_grants_valid(const struct mfs_grant_list *l, uint64_t now_ms,
		     uint8_t (**keys)[MFS_BOX_KEY_BYTES], size_t *n)
{
	*keys = malloc((l->count ? l->count : 1) * sizeof **keys);
	*n = 0;
	if (!*keys)
		return -ENOMEM;
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].expires_ms > now_ms)
			memcpy((*keys)[(*n)++], l->items[i].key, MFS_BOX_KEY_BYTES);
	return 0;
}
