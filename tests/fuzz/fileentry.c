/* fileentry: mfs_entry_from_json on any JSON text (a manifest's items pass
 * through canonical JSON first; any JSON is a superset of that). An accepted
 * entry must be self-consistent, survive mfs_entry_to_json and decode again
 * to the same entry, and copy. */
#include <stdlib.h>
#include <string.h>

#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "tests/fuzz/fuzz.h"

static int same_ref(const struct mfs_chunk_ref *a, const struct mfs_chunk_ref *b)
{
	return memcmp(a->id, b->id, sizeof a->id) == 0 &&
	       memcmp(a->key, b->key, sizeof a->key) == 0 && a->length == b->length;
}

static int same_entry(const struct mfs_file_entry *a, const struct mfs_file_entry *b)
{
	if (strcmp(a->name, b->name) != 0 || a->size != b->size || a->mtime != b->mtime ||
	    a->chunk_size != b->chunk_size || a->mode != b->mode ||
	    a->chunk_count != b->chunk_count || a->index_depth != b->index_depth ||
	    !a->chunks != !b->chunks)
		return 0;
	if (a->index_depth > 0)
		return same_ref(&a->index, &b->index);
	for (uint64_t i = 0; i < a->chunk_count; i++)
		if (!same_ref(&a->chunks[i], &b->chunks[i]))
			return 0;
	return 1;
}

static void check(const struct mfs_file_entry *e)
{
	struct mfs_file_entry back, copy;
	json_t *json = NULL;
	char why[160];

	if (!mfs_entry_name_valid(e->name) ||
	    (e->index_depth == 0) != (e->chunk_count <= MFS_ENTRY_INLINE_MAX) ||
	    (e->index_depth == 0 && e->chunk_count > 0 && !e->chunks))
		abort();
	if (mfs_entry_to_json(&json, e) != 0 ||
	    mfs_entry_from_json(&back, json, why, sizeof why) != 0 || !same_entry(e, &back))
		abort();
	if (mfs_entry_copy(&copy, e) != 0 || !same_entry(e, &copy))
		abort();
	mfs_entry_clear(&copy);
	mfs_entry_clear(&back);
	json_decref(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_file_entry e;
	json_error_t err;
	json_t *json;
	char why[160];

	if (mfs_crypto_init() != 0)
		abort();
	json = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!json)
		return 0;
	if (mfs_entry_from_json(&e, json, why, sizeof why) == 0) {
		check(&e);
		mfs_entry_clear(&e);
	}
	json_decref(json);
	return 0;
}
