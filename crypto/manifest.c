#include "crypto/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

static const char *const fields[] = {"collections", "publicKey", "sequence", "signature",
				     "timestamp"};

static int fail(char *why, size_t why_len, int rc, const char *fmt, const char *detail)
{
	if (why && why_len)
		snprintf(why, why_len, fmt, detail);
	return rc;
}

/* Canonical bytes of the manifest without its signature field. */
static int signed_bytes(char **out, size_t *out_len, json_t *root)
{
	json_t *copy = json_copy(root);
	int rc;

	/* jansson's copy of an object skips a member it could not add when
	 * memory ran out: a short copy would be refused as a bad signature. */
	if (!copy || json_object_size(copy) != json_object_size(root)) {
		json_decref(copy);
		return -ENOMEM;
	}
	json_object_del(copy, "signature");
	rc = mfs_cjson_encode(out, out_len, copy);
	json_decref(copy);
	return rc;
}

static int check_collections(json_t *collections, char *why, size_t why_len)
{
	size_t i, j;
	json_t *c, *item;

	if (!json_is_array(collections))
		return fail(why, why_len, MFS_E_FORMAT, "%s", "'collections' is not an array");
	json_array_foreach(collections, i, c) {
		json_t *title = json_object_get(c, "title");
		json_t *items = json_object_get(c, "items");

		if (!json_is_object(c) || json_object_size(c) != 2 || !json_is_string(title) ||
		    !json_is_array(items))
			return fail(why, why_len, MFS_E_FORMAT, "%s",
				    "a collection must be exactly {\"items\":[...],\"title\":\"...\"}");
		json_array_foreach(items, j, item)
			if (!json_is_object(item) && !json_is_string(item))
				return fail(why, why_len, MFS_E_FORMAT, "%s",
					    "an item must be a file entry or a magnet link");
	}
	return 0;
}

/* The manifest without its signature: *root is a new reference. */
static int unsigned_root(json_t **root, uint64_t sequence, uint64_t timestamp, json_t *collections,
			 const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	char pk_hex[2 * MFS_SIGN_PK_BYTES + 1];
	int rc;

	*root = NULL;
	if (sequence == 0 || sequence > INT64_MAX || timestamp > INT64_MAX)
		return MFS_E_FORMAT;
	rc = check_collections(collections, NULL, 0);
	if (rc != 0)
		return rc;
	mfs_hex_encode(pk_hex, pk, MFS_SIGN_PK_BYTES);
	*root = json_pack("{s:O, s:s, s:I, s:I}", "collections", collections, "publicKey", pk_hex,
			  "sequence", (json_int_t)sequence, "timestamp", (json_int_t)timestamp);
	return *root ? 0 : -ENOMEM;
}

int mfs_manifest_unsigned(char **out, size_t *out_len, uint64_t sequence, uint64_t timestamp,
			  json_t *collections, const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	json_t *root;
	int rc = unsigned_root(&root, sequence, timestamp, collections, pk);

	if (rc == 0)
		rc = mfs_cjson_encode(out, out_len, root);
	json_decref(root);
	return rc;
}

int mfs_manifest_sign(char **out, size_t *out_len, uint64_t sequence, uint64_t timestamp,
		      json_t *collections, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      const uint8_t sk[static MFS_SIGN_SK_BYTES])
{
	char sig_hex[2 * MFS_SIGN_BYTES + 1];
	uint8_t sig[MFS_SIGN_BYTES];
	char *body = NULL;
	size_t body_len;
	json_t *root;
	int rc;

	rc = unsigned_root(&root, sequence, timestamp, collections, pk);
	if (rc != 0)
		return rc;
	rc = signed_bytes(&body, &body_len, root);
	if (rc != 0)
		goto out;
	mfs_sign(sig, (const uint8_t *)body, body_len, sk);
	mfs_hex_encode(sig_hex, sig, sizeof sig);
	if (json_object_set_new(root, "signature", json_string(sig_hex)) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = mfs_cjson_encode(out, out_len, root);
out:
	free(body);
	json_decref(root);
	return rc;
}

int mfs_manifest_verify(struct mfs_manifest *out, const char *buf, size_t len,
			const uint8_t *expected_pk, uint64_t last_sequence, char *why,
			size_t why_len)
{
	uint8_t sig[MFS_SIGN_BYTES];
	json_t *root = NULL, *seq, *ts, *pk, *sg;
	char *body = NULL;
	size_t body_len;
	int rc;

	memset(out, 0, sizeof *out);
	rc = mfs_cjson_parse(&root, buf, len, why, why_len);
	if (rc != 0)
		return rc;
	if (!json_is_object(root)) {
		rc = fail(why, why_len, MFS_E_FORMAT, "%s", "a manifest is a JSON object");
		goto out;
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!json_object_get(root, fields[i])) {
			rc = fail(why, why_len, MFS_E_FORMAT, "missing field '%s'", fields[i]);
			goto out;
		}
	if (json_object_size(root) != sizeof fields / sizeof fields[0]) {
		rc = fail(why, why_len, MFS_E_FORMAT, "%s", "unknown field in manifest");
		goto out;
	}
	pk = json_object_get(root, "publicKey");
	sg = json_object_get(root, "signature");
	seq = json_object_get(root, "sequence");
	ts = json_object_get(root, "timestamp");
	if (!json_is_string(pk) || mfs_hex_decode(out->public_key, MFS_SIGN_PK_BYTES,
						  json_string_value(pk)) != 0) {
		rc = fail(why, why_len, MFS_E_FORMAT, "%s", "'publicKey' is not 64 lower-case hex digits");
		goto out;
	}
	if (!json_is_string(sg) ||
	    mfs_hex_decode(sig, sizeof sig, json_string_value(sg)) != 0) {
		rc = fail(why, why_len, MFS_E_FORMAT, "%s", "'signature' is not 128 lower-case hex digits");
		goto out;
	}
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_integer(ts) ||
	    json_integer_value(ts) < 0) {
		rc = fail(why, why_len, MFS_E_FORMAT, "%s",
			  "'sequence' must be an integer >= 1 and 'timestamp' one >= 0");
		goto out;
	}
	rc = check_collections(json_object_get(root, "collections"), why, why_len);
	if (rc != 0)
		goto out;
	if (expected_pk && !mfs_memeq(expected_pk, out->public_key, MFS_SIGN_PK_BYTES)) {
		rc = fail(why, why_len, MFS_E_AUTH, "%s", "manifest is signed for another channel");
		goto out;
	}
	rc = signed_bytes(&body, &body_len, root);
	if (rc != 0)
		goto out;
	if (mfs_sign_verify(sig, (const uint8_t *)body, body_len, out->public_key) != 0) {
		rc = fail(why, why_len, MFS_E_AUTH, "%s", "signature does not verify");
		goto out;
	}
	out->sequence = (uint64_t)json_integer_value(seq);
	out->timestamp = (uint64_t)json_integer_value(ts);
	if (out->sequence <= last_sequence) {
		char detail[64];

		snprintf(detail, sizeof detail, "%llu <= last seen %llu",
			 (unsigned long long)out->sequence, (unsigned long long)last_sequence);
		rc = fail(why, why_len, MFS_E_REPLAY, "sequence %s (replay or rollback)", detail);
		goto out;
	}
	out->root = root;
	out->collections = json_object_get(root, "collections");
	root = NULL;
out:
	free(body);
	json_decref(root);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}

void mfs_manifest_clear(struct mfs_manifest *m)
{
	if (!m)
		return;
	json_decref(m->root);
	memset(m, 0, sizeof *m);
}
