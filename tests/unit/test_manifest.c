/* crypto/manifest: signing, verification, and every way to be refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

static uint8_t pk[32], sk[64], other_pk[32], other_sk[64];

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	mfs_sign_keypair(pk, sk);
	mfs_sign_keypair(other_pk, other_sk);
}

TestSuite(manifest, .init = setup);

static json_t *sample_collections(void)
{
	return json_pack("[{s:[s, {s:s, s:I}], s:s}]", "items",
			 "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "name",
			 "film.mkv", "size", (json_int_t)42, "title", "Season 1");
}

static char *signed_manifest(uint64_t seq, size_t *len)
{
	json_t *cols = sample_collections();
	char *text = NULL;

	cr_assert_eq(mfs_manifest_sign(&text, len, seq, 1700000000000ull, cols, pk, sk), 0);
	json_decref(cols);
	return text;
}

static int verify(const char *text, size_t len, const uint8_t *want_pk, uint64_t last,
		  char *why)
{
	struct mfs_manifest m;
	int rc = mfs_manifest_verify(&m, text, len, want_pk, last, why, 160);

	if (rc == 0)
		mfs_manifest_clear(&m);
	return rc;
}

Test(manifest, valid_is_accepted)
{
	struct mfs_manifest m;
	size_t len;
	char *text = signed_manifest(7, &len), why[160];

	cr_assert_eq(mfs_manifest_verify(&m, text, len, pk, 6, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.sequence, 7);
	cr_assert_eq(m.timestamp, 1700000000000ull);
	cr_assert_arr_eq(m.public_key, pk, 32);
	cr_assert_eq(json_array_size(m.collections), 1);
	mfs_manifest_clear(&m);
	cr_assert_eq(verify(text, len, NULL, 0, why), 0, "any channel when none is expected");
	free(text);
}

Test(manifest, every_flipped_byte_is_rejected)
{
	size_t len;
	char *text = signed_manifest(1, &len), why[160];

	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			int rc;

			text[i] ^= (char)(1 << bit);
			rc = verify(text, len, pk, 0, why);
			cr_assert_neq(rc, 0, "flip of bit %d at byte %zu accepted", bit, i);
			cr_assert(rc == MFS_E_AUTH || rc == MFS_E_FORMAT || rc == MFS_E_NOTCANON,
				  "byte %zu: unexpected %d", i, rc);
			text[i] ^= (char)(1 << bit);
		}
	}
	cr_assert_eq(verify(text, len, pk, 0, why), 0, "restored manifest verifies again");
	free(text);
}

Test(manifest, wrong_key_is_rejected)
{
	size_t len;
	char *text = signed_manifest(1, &len), why[160];
	json_t *cols = sample_collections();
	char *forged = NULL;
	size_t forged_len;

	cr_assert_eq(verify(text, len, other_pk, 0, why), MFS_E_AUTH);
	cr_assert(strstr(why, "another channel"), "%s", why);
	/* Signed with another key but claiming ours. */
	cr_assert_eq(mfs_manifest_sign(&forged, &forged_len, 2, 1, cols, pk, other_sk), 0);
	cr_assert_eq(verify(forged, forged_len, pk, 0, why), MFS_E_AUTH);
	cr_assert(strstr(why, "signature"), "%s", why);
	json_decref(cols);
	free(forged);
	free(text);
}

/* Re-encodes a manifest after an edit (signature left as it was). */
static char *edited(const char *text, size_t len, void (*edit)(json_t *), size_t *out_len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	char *out = NULL;

	cr_assert_not_null(j);
	edit(j);
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	cr_assert_not_null(out);
	*out_len = strlen(out);
	json_decref(j);
	return out;
}

static void drop_sequence(json_t *j) { json_object_del(j, "sequence"); }
static void drop_signature(json_t *j) { json_object_del(j, "signature"); }
static void add_field(json_t *j) { json_object_set_new(j, "extra", json_integer(1)); }
static void real_timestamp(json_t *j) { json_object_set_new(j, "timestamp", json_real(1.5)); }
static void bad_item(json_t *j)
{
	json_t *items = json_object_get(json_array_get(json_object_get(j, "collections"), 0), "items");
	json_array_append_new(items, json_integer(3));
}

Test(manifest, malformed_is_rejected_with_a_reason)
{
	size_t len, n;
	char *text = signed_manifest(1, &len), why[160], *bad;

	bad = edited(text, len, drop_sequence, &n);
	cr_assert_eq(verify(bad, n, pk, 0, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "missing field 'sequence'"), "%s", why);
	free(bad);
	bad = edited(text, len, drop_signature, &n);
	cr_assert_eq(verify(bad, n, pk, 0, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "signature"), "%s", why);
	free(bad);
	bad = edited(text, len, add_field, &n);
	cr_assert_eq(verify(bad, n, pk, 0, why), MFS_E_FORMAT);
	free(bad);
	bad = edited(text, len, real_timestamp, &n);
	cr_assert_eq(verify(bad, n, pk, 0, why), MFS_E_FORMAT);
	free(bad);
	bad = edited(text, len, bad_item, &n);
	cr_assert_eq(verify(bad, n, pk, 0, why), MFS_E_FORMAT);
	free(bad);
	cr_assert_eq(verify("[]", 2, pk, 0, why), MFS_E_FORMAT);
	cr_assert_eq(verify("", 0, pk, 0, why), MFS_E_FORMAT);
	free(text);
}

Test(manifest, duplicate_key_is_rejected)
{
	size_t len;
	char *text = signed_manifest(1, &len), why[160];
	char *dup = malloc(len + 32);

	/* {"collections":...  ->  {"sequence":1,"collections":... */
	cr_assert_eq(text[0], '{');
	sprintf(dup, "{\"sequence\":1,%s", text + 1);
	cr_assert_eq(verify(dup, strlen(dup), pk, 0, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "duplicate"), "%s", why);
	free(dup);
	free(text);
}

Test(manifest, non_canonical_is_rejected)
{
	size_t len;
	char *text = signed_manifest(1, &len), why[160];
	json_t *j = json_loadb(text, len, 0, NULL);
	char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	char *spaced = malloc(len + 2);

	cr_assert_eq(verify(pretty, strlen(pretty), pk, 0, why), MFS_E_NOTCANON);
	cr_assert(strstr(why, "canonical"), "%s", why);
	memcpy(spaced, text, len);
	spaced[len] = ' ';
	cr_assert_eq(verify(spaced, len + 1, pk, 0, why), MFS_E_NOTCANON);
	json_decref(j);
	free(pretty);
	free(spaced);
	free(text);
}

Test(manifest, replay_and_rollback_are_rejected)
{
	size_t len;
	char *text = signed_manifest(5, &len), why[160];

	cr_assert_eq(verify(text, len, pk, 4, why), 0);
	cr_assert_eq(verify(text, len, pk, 5, why), MFS_E_REPLAY, "same sequence again");
	cr_assert(strstr(why, "replay"), "%s", why);
	cr_assert_eq(verify(text, len, pk, 9, why), MFS_E_REPLAY, "older than the last seen");
	free(text);
}

Test(manifest, sign_refuses_bad_input)
{
	json_t *cols = sample_collections(), *bad = json_pack("[i]", 1);
	char *text = NULL;
	size_t len;

	cr_assert_eq(mfs_manifest_sign(&text, &len, 0, 1, cols, pk, sk), MFS_E_FORMAT, "sequence 0");
	cr_assert_eq(mfs_manifest_sign(&text, &len, 1, 1, bad, pk, sk), MFS_E_FORMAT);
	json_decref(cols);
	json_decref(bad);
	/* Not an array; a real number inside an item (canonical JSON has none). */
	bad = json_pack("{s:[]}", "title");
	cr_assert_eq(mfs_manifest_sign(&text, &len, 1, 1, bad, pk, sk), MFS_E_FORMAT);
	json_decref(bad);
	bad = json_pack("[{s:[{s:f}], s:s}]", "items", "size", 1.5, "title", "");
	cr_assert_eq(mfs_manifest_sign(&text, &len, 1, 1, bad, pk, sk), MFS_E_FORMAT);
	json_decref(bad);
	cr_assert_null(text);
	mfs_manifest_clear(NULL); /* NULL-safe, as every release */
}
