#include "fs/blob/pinlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/le.h"
#include "crypto/mfs_error.h"

#define LIST_NAME "\0pinlogs"
#define LIST_NAME_LEN 8
#define PAGE_NAME_LEN 19 /* "\0pinlog" || u64 token || u32 page */
#define PAGE_BYTES (MFS_PINLOG_PAGE_IDS * MFS_BLOB_ID_BYTES)

static size_t page_name(uint8_t name[static PAGE_NAME_LEN], uint64_t token, size_t page)
{
	memcpy(name, "\0pinlog", 7);
	mfs_le_put(name + 7, token, 8);
	mfs_le_put(name + 15, page, 4);
	return PAGE_NAME_LEN;
}

static size_t pages_for(size_t count)
{
	return (count + MFS_PINLOG_PAGE_IDS - 1) / MFS_PINLOG_PAGE_IDS;
}

/* An object as a malloc'ed array of *n units of unit bytes (*out NULL and
 * *n 0 when absent). */
static int load_units(struct mfs_vtxn *t, const void *name, size_t name_len, size_t unit,
		      uint8_t **out, size_t *n)
{
	uint64_t len = 0;
	int rc = mfs_obj_get(t, name, name_len, out, &len);

	*n = 0;
	if (rc == MFS_E_NOTFOUND) {
		*out = NULL;
		return 0;
	}
	if (rc == 0 && (len % unit != 0 || len == 0)) {
		free(*out);
		rc = MFS_E_CORRUPT;
	}
	if (rc != 0)
		*out = NULL;
	else
		*n = len / unit;
	return rc;
}

int mfs_pinlog_tokens(struct mfs_vtxn *t, uint64_t **tokens, size_t *count)
{
	uint8_t *raw;
	int rc = load_units(t, LIST_NAME, LIST_NAME_LEN, 8, &raw, count);

	*tokens = NULL;
	if (rc == 0 && *count > 0 && !(*tokens = malloc(*count * sizeof **tokens)))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < *count; i++)
		(*tokens)[i] = mfs_le_get(raw + 8 * i, 8);
	if (rc != 0)
		*count = 0;
	free(raw);
	return rc;
}

int mfs_pinlog_read(struct mfs_vtxn *t, uint64_t token, uint8_t (**ids)[MFS_BLOB_ID_BYTES],
		    size_t *count)
{
	uint8_t name[PAGE_NAME_LEN], *all = NULL, *page;
	size_t n = 0, in_page = MFS_PINLOG_PAGE_IDS;
	int rc = 0;

	/* Pages are full but the last; the first one missing ends the record. */
	for (size_t p = 0; rc == 0 && in_page == MFS_PINLOG_PAGE_IDS; p++) {
		rc = load_units(t, name, page_name(name, token, p), MFS_BLOB_ID_BYTES, &page,
				&in_page);
		if (rc == 0 && in_page > MFS_PINLOG_PAGE_IDS)
			rc = MFS_E_CORRUPT;
		if (rc == 0 && in_page > 0) {
			uint8_t *grown = realloc(all, (n + in_page) * MFS_BLOB_ID_BYTES);

			if (grown) {
				all = grown;
				memcpy(all + n * MFS_BLOB_ID_BYTES, page, in_page * MFS_BLOB_ID_BYTES);
				n += in_page;
			} else {
				rc = -ENOMEM;
			}
		}
		free(page);
	}
	if (rc != 0) {
		free(all);
		all = NULL;
		n = 0;
	}
	*ids = (uint8_t(*)[MFS_BLOB_ID_BYTES])all;
	*count = n;
	return rc;
}

/* Adds token to the list (listed: 1) or takes it out (0). */
static int list_set(struct mfs_vtxn *t, uint64_t token, int listed)
{
	uint8_t *raw;
	size_t n, at;
	int rc = load_units(t, LIST_NAME, LIST_NAME_LEN, 8, &raw, &n);

	for (at = 0; rc == 0 && at < n && mfs_le_get(raw + 8 * at, 8) != token; at++)
		;
	if (rc != 0 || (at < n) == listed) {
		free(raw);
		return rc;
	}
	if (listed) {
		uint8_t *grown = realloc(raw, 8 * (n + 1));

		if (!grown) {
			free(raw);
			return -ENOMEM;
		}
		raw = grown;
		mfs_le_put(raw + 8 * n++, token, 8);
	} else {
		memmove(raw + 8 * at, raw + 8 * (at + 1), 8 * (n - at - 1));
		n--;
	}
	rc = n > 0 ? mfs_obj_write(t, LIST_NAME, LIST_NAME_LEN, raw, 8 * n)
		   : mfs_obj_delete(t, LIST_NAME, LIST_NAME_LEN);
	free(raw);
	return rc;
}

int mfs_pinlog_write(struct mfs_vtxn *t, uint64_t token, const uint8_t (*ids)[MFS_BLOB_ID_BYTES],
		     size_t count, size_t old_count)
{
	uint8_t name[PAGE_NAME_LEN];
	size_t keep = (count < old_count ? count : old_count) / MFS_PINLOG_PAGE_IDS;
	int rc = 0;

	/* Pages before keep are full and unchanged; the rest are written again. */
	for (size_t p = keep; rc == 0 && p < pages_for(count); p++) {
		size_t n = count - p * MFS_PINLOG_PAGE_IDS;

		rc = mfs_obj_write(t, name, page_name(name, token, p), ids[p * MFS_PINLOG_PAGE_IDS],
				   (n < MFS_PINLOG_PAGE_IDS ? n : MFS_PINLOG_PAGE_IDS) *
					   MFS_BLOB_ID_BYTES);
	}
	for (size_t p = pages_for(count); rc == 0 && p < pages_for(old_count); p++) {
		rc = mfs_obj_delete(t, name, page_name(name, token, p));
		if (rc == MFS_E_NOTFOUND)
			rc = 0;
	}
	if (rc == 0)
		rc = list_set(t, token, count > 0);
	return rc;
}
