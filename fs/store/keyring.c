#include "fs/store/keyring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define KEYRING_NAME "\0keyring"
#define KEYRING_NAME_LEN 8
#define RECORD_FIXED (1 + MFS_SIGN_PK_BYTES + MFS_SIGN_SK_BYTES + 32 + 8 + 1)
#define RECORD_MAX (RECORD_FIXED + MFS_TITLE_MAX + MFS_READ_KEY_LEN)
/* The first byte of a record. Older keyrings hold only F_OWNED. */
#define F_OWNED 1
#define F_SEALED 2
#define F_READ_KEY 4
#define MAX_CHANNELS 100000

void mfs_keyring_clear(struct mfs_channel_list *list)
{
	if (!list)
		return;
	free(list->items);
	mfs_secure_free(list->secrets);
	memset(list, 0, sizeof *list);
}

static int list_alloc(struct mfs_channel_list *list, size_t count)
{
	list->count = count;
	list->items = calloc(count ? count : 1, sizeof *list->items);
	list->secrets = mfs_secure_alloc((count ? count : 1) * sizeof *list->secrets);
	if (!list->items || !list->secrets) {
		mfs_keyring_clear(list);
		return -ENOMEM;
	}
	memset(list->secrets, 0, (count ? count : 1) * sizeof *list->secrets);
	return 0;
}

int mfs_keyring_load(struct mfs_vtxn *t, struct mfs_channel_list *out)
{
	uint8_t *raw = NULL;
	uint64_t len;
	size_t pos = 4, count;
	int rc = mfs_obj_size(t, KEYRING_NAME, KEYRING_NAME_LEN, &len);

	memset(out, 0, sizeof *out);
	if (rc == MFS_E_NOTFOUND)
		return list_alloc(out, 0);
	if (rc != 0)
		return rc;
	if (len < 4 || len > (uint64_t)MAX_CHANNELS * RECORD_MAX)
		return MFS_E_CORRUPT;
	raw = mfs_secure_alloc((size_t)len);
	if (!raw)
		return -ENOMEM;
	rc = mfs_obj_read(t, KEYRING_NAME, KEYRING_NAME_LEN, 0, raw, (size_t)len);
	count = rc == 0 ? (size_t)mfs_le_get(raw, 4) : 0;
	if (rc == 0 && count > MAX_CHANNELS)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		rc = list_alloc(out, count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct mfs_channel *c = &out->items[i];
		const uint8_t *p = raw + pos;
		size_t title_len;

		if (len - pos < RECORD_FIXED) {
			rc = MFS_E_CORRUPT;
			break;
		}
		if ((p[0] & ~(F_OWNED | F_SEALED | F_READ_KEY)) ||
		    ((p[0] & F_READ_KEY) && !(p[0] & F_SEALED))) {
			rc = MFS_E_CORRUPT;
			break;
		}
		c->owned = p[0] & F_OWNED;
		c->sealed = !!(p[0] & F_SEALED);
		c->has_read_key = !!(p[0] & F_READ_KEY);
		memcpy(c->pk, p + 1, MFS_SIGN_PK_BYTES);
		memcpy(out->secrets[i].sk, p + 33, MFS_SIGN_SK_BYTES);
		memcpy(out->secrets[i].convergence, p + 97, 32);
		c->sequence = mfs_le_get(p + 129, 8);
		title_len = p[137];
		if (len - pos - RECORD_FIXED < title_len) {
			rc = MFS_E_CORRUPT;
			break;
		}
		memcpy(c->title, p + RECORD_FIXED, title_len);
		c->title[title_len] = '\0';
		pos += RECORD_FIXED + title_len;
		if (c->has_read_key) {
			if (len - pos < MFS_READ_KEY_LEN) {
				rc = MFS_E_CORRUPT;
				break;
			}
			memcpy(out->secrets[i].read_key, raw + pos, MFS_READ_KEY_LEN);
			pos += MFS_READ_KEY_LEN;
		}
	}
	mfs_secure_free(raw);
	if (rc != 0)
		mfs_keyring_clear(out);
	return rc;
}

int mfs_keyring_store(struct mfs_vtxn *t, const struct mfs_channel_list *list)
{
	size_t cap = 4 + list->count * RECORD_MAX, pos = 4;
	uint8_t *raw = mfs_secure_alloc(cap);
	int rc;

	if (!raw)
		return -ENOMEM;
	mfs_le_put(raw, list->count, 4);
	for (size_t i = 0; i < list->count; i++) {
		const struct mfs_channel *c = &list->items[i];
		size_t title_len = strnlen(c->title, MFS_TITLE_MAX);
		uint8_t *p = raw + pos;

		p[0] = (uint8_t)((c->owned ? F_OWNED : 0) | (c->sealed ? F_SEALED : 0) |
				 (c->sealed && c->has_read_key ? F_READ_KEY : 0));
		memcpy(p + 1, c->pk, MFS_SIGN_PK_BYTES);
		memcpy(p + 33, list->secrets[i].sk, MFS_SIGN_SK_BYTES);
		memcpy(p + 97, list->secrets[i].convergence, 32);
		mfs_le_put(p + 129, c->sequence, 8);
		p[137] = (uint8_t)title_len;
		memcpy(p + RECORD_FIXED, c->title, title_len);
		pos += RECORD_FIXED + title_len;
		if (c->sealed && c->has_read_key) {
			memcpy(raw + pos, list->secrets[i].read_key, MFS_READ_KEY_LEN);
			pos += MFS_READ_KEY_LEN;
		}
	}
	rc = mfs_obj_write(t, KEYRING_NAME, KEYRING_NAME_LEN, raw, pos);
	mfs_secure_free(raw);
	return rc;
}

long mfs_keyring_find(const struct mfs_channel_list *list, const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	for (size_t i = 0; i < list->count; i++)
		if (memcmp(list->items[i].pk, pk, MFS_SIGN_PK_BYTES) == 0)
			return (long)i;
	return -1;
}

/* Appends a channel (secret may be NULL) and stores the keyring. */
static int add_channel(struct mfs_vtxn *t, const struct mfs_channel *c,
		       const struct mfs_channel_secret *secret)
{
	struct mfs_channel_list old, grown;
	int rc = mfs_keyring_load(t, &old);

	if (rc != 0)
		return rc;
	if (mfs_keyring_find(&old, c->pk) >= 0) {
		mfs_keyring_clear(&old);
		return MFS_E_EXISTS;
	}
	rc = list_alloc(&grown, old.count + 1);
	if (rc == 0) {
		memcpy(grown.items, old.items, old.count * sizeof *old.items);
		memcpy(grown.secrets, old.secrets, old.count * sizeof *old.secrets);
		grown.items[old.count] = *c;
		if (secret)
			grown.secrets[old.count] = *secret;
		rc = mfs_keyring_store(t, &grown);
		mfs_keyring_clear(&grown);
	}
	mfs_keyring_clear(&old);
	return rc;
}

static void set_title(struct mfs_channel *c, const char *title)
{
	size_t n = title ? strnlen(title, MFS_TITLE_MAX) : 0;

	memcpy(c->title, title ? title : "", n);
	c->title[n] = '\0';
}

static int new_channel(struct mfs_vtxn *t, const char *title, int sealed,
		       uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret);
	struct mfs_channel c = {.owned = 1, .sealed = sealed, .has_read_key = sealed};
	int rc;

	if (!secret)
		return -ENOMEM;
	if (title && strlen(title) > MFS_TITLE_MAX) {
		mfs_secure_free(secret);
		return MFS_E_FORMAT;
	}
	memset(secret, 0, sizeof *secret);
	mfs_sign_keypair(c.pk, secret->sk);
	mfs_random(secret->convergence, sizeof secret->convergence);
	if (sealed)
		mfs_random(secret->read_key, sizeof secret->read_key);
	set_title(&c, title);
	rc = add_channel(t, &c, secret);
	if (rc == 0)
		memcpy(pk, c.pk, MFS_SIGN_PK_BYTES);
	mfs_secure_free(secret);
	return rc;
}

int mfs_keyring_new_channel(struct mfs_vtxn *t, const char *title,
			    uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	return new_channel(t, title, 0, pk);
}

int mfs_keyring_new_private(struct mfs_vtxn *t, const char *title,
			    uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	return new_channel(t, title, 1, pk);
}

int mfs_keyring_set_private(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			    const uint8_t *read_key)
{
	struct mfs_channel_list list;
	long i;
	int rc = mfs_keyring_load(t, &list);

	if (rc != 0)
		return rc;
	i = mfs_keyring_find(&list, pk);
	if (i < 0) {
		rc = MFS_E_NOTFOUND;
	} else {
		list.items[i].sealed = 1;
		if (read_key) {
			memcpy(list.secrets[i].read_key, read_key, MFS_READ_KEY_LEN);
			list.items[i].has_read_key = 1;
		}
		rc = mfs_keyring_store(t, &list);
	}
	mfs_keyring_clear(&list);
	return rc;
}

int mfs_keyring_subscribe(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			  const char *title)
{
	struct mfs_channel c = {.owned = 0};

	if (title && strlen(title) > MFS_TITLE_MAX)
		return MFS_E_FORMAT;
	memcpy(c.pk, pk, MFS_SIGN_PK_BYTES);
	set_title(&c, title);
	return add_channel(t, &c, NULL);
}

void mfs_link_format(char out[static MFS_LINK_BYTES], const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	memcpy(out, MFS_LINK_PREFIX, sizeof MFS_LINK_PREFIX - 1);
	mfs_hex_encode(out + sizeof MFS_LINK_PREFIX - 1, pk, MFS_SIGN_PK_BYTES);
}

void mfs_link_format_private(char out[static MFS_LINK_FULL_BYTES],
			     const uint8_t pk[static MFS_SIGN_PK_BYTES], const uint8_t *read_key)
{
	size_t n;

	mfs_link_format(out, pk);
	n = strlen(out);
	out[n++] = '#';
	if (read_key)
		mfs_hex_encode(out + n, read_key, MFS_READ_KEY_LEN);
	else
		memcpy(out + n, MFS_LINK_GRANT, sizeof MFS_LINK_GRANT);
}

int mfs_link_parse_full(struct mfs_link *out, const char *link)
{
	char hex[2 * MFS_SIGN_PK_BYTES + 1];
	const char *hash;
	int rc;

	memset(out, 0, sizeof *out);
	if (strncmp(link, MFS_LINK_PREFIX, sizeof MFS_LINK_PREFIX - 1) == 0)
		link += sizeof MFS_LINK_PREFIX - 1;
	hash = strchr(link, '#');
	if (!hash)
		return mfs_hex_decode(out->pk, MFS_SIGN_PK_BYTES, link);
	if ((size_t)(hash - link) != 2 * MFS_SIGN_PK_BYTES)
		return MFS_E_FORMAT;
	memcpy(hex, link, 2 * MFS_SIGN_PK_BYTES);
	hex[2 * MFS_SIGN_PK_BYTES] = '\0';
	rc = mfs_hex_decode(out->pk, MFS_SIGN_PK_BYTES, hex);
	if (rc == 0 && strcmp(hash + 1, MFS_LINK_GRANT) == 0)
		out->kind = MFS_LINK_BY_GRANT;
	else if (rc == 0 && (rc = mfs_hex_decode(out->read_key, MFS_READ_KEY_LEN, hash + 1)) == 0)
		out->kind = MFS_LINK_READ_KEY;
	if (rc != 0)
		mfs_memzero(out, sizeof *out);
	return rc;
}

int mfs_link_parse(uint8_t pk[static MFS_SIGN_PK_BYTES], const char *link)
{
	struct mfs_link *l = mfs_secure_alloc(sizeof *l);
	int rc;

	if (!l)
		return -ENOMEM;
	rc = mfs_link_parse_full(l, link);
	if (rc == 0)
		memcpy(pk, l->pk, MFS_SIGN_PK_BYTES);
	mfs_secure_free(l);
	return rc;
}
