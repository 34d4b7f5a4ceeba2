#include "crypto/canon_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define MAX_DEPTH 32

static int has_real(const json_t *json, int depth)
{
	const char *key;
	json_t *value;
	size_t i;

	if (depth > MAX_DEPTH)
		return 1;
	switch (json_typeof(json)) {
	case JSON_REAL:
		return 1;
	case JSON_OBJECT:
		json_object_foreach((json_t *)json, key, value)
			if (has_real(value, depth + 1))
				return 1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach(json, i, value)
			if (has_real(value, depth + 1))
				return 1;
		return 0;
	default:
		return 0;
	}
}

int mfs_cjson_encode(char **out, size_t *out_len, const json_t *json)
{
	char *text;

	if (has_real(json, 0))
		return MFS_E_FORMAT;
	text = json_dumps(json, CANON_FLAGS);
	if (!text)
		return -ENOMEM;
	*out = text;
	*out_len = strlen(text);
	return 0;
}

static void say(char *why, size_t why_len, const char *fmt, const char *detail)
{
	if (why && why_len)
		snprintf(why, why_len, fmt, detail);
}

int mfs_cjson_parse(json_t **out, const char *buf, size_t len, char *why, size_t why_len)
{
	json_error_t err;
	json_t *json = NULL;
	char *again = NULL;
	size_t again_len = 0;
	int rc;

	*out = NULL;
	if (len > MFS_CJSON_MAX_BYTES) {
		say(why, why_len, "%s", "document too large");
		return MFS_E_FORMAT;
	}
	mfs_json_alloc_watch();
	json = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!json) {
		say(why, why_len, "invalid JSON: %s", err.text);
		rc = MFS_E_FORMAT;
		goto fail;
	}
	if (has_real(json, 0)) {
		say(why, why_len, "%s", "real numbers (or nesting too deep) are not allowed");
		rc = MFS_E_FORMAT;
		goto fail;
	}
	rc = mfs_cjson_encode(&again, &again_len, json);
	if (rc != 0)
		goto fail;
	if (again_len != len || memcmp(again, buf, len) != 0) {
		say(why, why_len, "%s", "not canonical (sorted keys, compact, ASCII, integers)");
		rc = MFS_E_NOTCANON;
		goto fail;
	}
	mfs_wipe_free(again);
	*out = json;
	return 0;
fail:
	/* jansson may also go on without what it could not allocate: a
	 * member or an element missing makes the text seem not canonical. */
	if (mfs_json_alloc_failed()) {
		say(why, why_len, "%s", "out of memory");
		rc = -ENOMEM;
	}
	mfs_wipe_free(again);
	json_decref(json);
	return rc;
}
