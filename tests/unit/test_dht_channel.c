/* net/dht_channel: the derivations and the sealed pointer against
 * tests/vectors/dht-channel.json (made by make_dht_channel.py with hashlib
 * and python3-cryptography, not megafs's code), then what a pointer from
 * the DHT must pass: a wrong key, channel or seq, a truncated or tampered
 * v, an unknown version or absurd length are refused; the manifest blob
 * round-trips and refuses another length, id or key. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "net/dht_channel.h"
#include "net/dht_item.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

static json_t *vec;

static void load(void)
{
	json_error_t err;

	vec = json_load_file(MFS_VECTORS_DIR "/dht-channel.json", 0, &err);
	cr_assert_not_null(vec, "%s", err.text);
}

static void unload(void)
{
	json_decref(vec);
}

/* Decodes hex field key into out[cap]; returns its length. */
static size_t hex(uint8_t *out, size_t cap, const char *key)
{
	const char *s = json_string_value(json_object_get(vec, key));
	size_t len = 0;

	cr_assert_not_null(s, "no '%s'", key);
	cr_assert_eq(sodium_hex2bin(out, cap, s, strlen(s), NULL, &len, NULL), 0, "%s", key);
	return len;
}

static int64_t seq_of(void)
{
	return (int64_t)json_integer_value(json_object_get(vec, "seq"));
}

TestSuite(dht_channel, .init = load, .fini = unload);

Test(dht_channel, derivations_match_the_golden_vector)
{
	uint8_t secret[32], pk[32], salt[32], seal[32], ih[20], target[20], t[20];
	struct mfs_dht_channel_keys k;

	hex(secret, 32, "secret");
	hex(pk, 32, "pk");
	hex(salt, 32, "salt");
	hex(seal, 32, "seal_key");
	hex(ih, 20, "info_hash");
	hex(target, 20, "target");
	mfs_dht_channel_derive(&k, secret, pk);
	cr_assert_arr_eq(k.salt, salt, 32);
	cr_assert_arr_eq(k.seal_key, seal, 32);
	cr_assert_arr_eq(k.info_hash, ih, 20);
	/* The BEP 44 target under that salt, as the DHT sees it. */
	cr_assert_eq(mfs_dht_item_mutable_target(t, pk, k.salt, sizeof k.salt), 0);
	cr_assert_arr_eq(t, target, 20);
	/* Another secret (the public key, as for a public channel) gives
	 * other keys: a private channel's target is not the public one's. */
	mfs_dht_channel_derive(&k, pk, pk);
	cr_assert_arr_neq(k.salt, salt, 32);
	cr_assert_arr_neq(k.info_hash, ih, 20);
}

/* The vector's keys and pointer. */
static void vector_pointer(struct mfs_dht_channel_keys *k, uint8_t pk[32],
			   struct mfs_dht_pointer *p)
{
	uint8_t secret[32];

	hex(secret, 32, "secret");
	hex(pk, 32, "pk");
	mfs_dht_channel_derive(k, secret, pk);
	hex(p->blob_id, 32, "blob_id");
	hex(p->blob_key, 32, "blob_key");
	p->length = (uint64_t)json_integer_value(json_object_get(vec, "length"));
}

Test(dht_channel, the_sealed_pointer_matches_the_golden_vector_and_opens)
{
	uint8_t pk[32], nonce[24], v[MFS_DHT_POINTER_V_BYTES], want[MFS_DHT_POINTER_V_BYTES + 1];
	struct mfs_dht_channel_keys k;
	struct mfs_dht_pointer p, got;

	vector_pointer(&k, pk, &p);
	hex(nonce, 24, "nonce");
	cr_assert_eq(hex(want, sizeof want, "v"), MFS_DHT_POINTER_V_BYTES);
	mfs_dht_pointer_seal(v, &p, &k, pk, seq_of(), nonce);
	cr_assert_arr_eq(v, want, sizeof v);
	/* v is one canonical bencoded value within BEP 44's 1,000 bytes. */
	cr_assert_leq(sizeof v, MFS_DHT_VALUE_MAX);
	cr_assert_eq(mfs_dht_item_check_value(v, sizeof v, NULL, 0), 0);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, seq_of()), 0);
	cr_assert_arr_eq(got.blob_id, p.blob_id, 32);
	cr_assert_arr_eq(got.blob_key, p.blob_key, 32);
	cr_assert_eq(got.length, p.length);
}

Test(dht_channel, a_pointer_under_another_key_channel_or_seq_is_refused)
{
	uint8_t pk[32], nonce[24] = {0}, v[MFS_DHT_POINTER_V_BYTES], other[32];
	struct mfs_dht_channel_keys k, wrong;
	struct mfs_dht_pointer p, got;

	vector_pointer(&k, pk, &p);
	mfs_dht_pointer_seal(v, &p, &k, pk, 5, nonce);
	memset(other, 0x77, sizeof other);
	mfs_dht_channel_derive(&wrong, other, pk);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &wrong, pk, 5), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, other, 5), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 6), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 5), 0);
}

Test(dht_channel, truncated_tampered_or_misspelt_pointers_are_refused)
{
	uint8_t pk[32], nonce[24] = {1}, v[MFS_DHT_POINTER_V_BYTES + 1], t[sizeof v];
	struct mfs_dht_channel_keys k;
	struct mfs_dht_pointer p, got;

	vector_pointer(&k, pk, &p);
	mfs_dht_pointer_seal(v, &p, &k, pk, 9, nonce);
	for (size_t len = 0; len < MFS_DHT_POINTER_V_BYTES; len++)
		cr_assert_eq(mfs_dht_pointer_open(&got, v, len, &k, pk, 9), MFS_E_FORMAT, "%zu", len);
	v[MFS_DHT_POINTER_V_BYTES] = 'x';
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 9), MFS_E_FORMAT);
	/* Every byte flipped: the prefix is refused as form, the rest as AEAD. */
	for (size_t i = 0; i < MFS_DHT_POINTER_V_BYTES; i++) {
		memcpy(t, v, sizeof t);
		t[i] ^= 0x01;
		cr_assert_neq(mfs_dht_pointer_open(&got, t, MFS_DHT_POINTER_V_BYTES, &k, pk, 9), 0,
			      "byte %zu", i);
	}
	/* Another spelling of a string of the same bytes is not canonical. */
	memcpy(t, "0113:", 5);
	memcpy(t + 5, v + 4, MFS_DHT_POINTER_SEALED_BYTES);
	cr_assert_eq(mfs_dht_pointer_open(&got, t, 5 + MFS_DHT_POINTER_SEALED_BYTES, &k, pk, 9),
		     MFS_E_FORMAT);
}

/* A pointer sealed by hand with a given plain text (the version or length
 * the sealing function would never write). */
static void seal_plain(uint8_t v[MFS_DHT_POINTER_V_BYTES], const uint8_t *plain,
		       const struct mfs_dht_channel_keys *k, const uint8_t *pk, int64_t seq)
{
	uint8_t ad[40];

	memcpy(ad, pk, 32);
	mfs_le_put(ad + 32, (uint64_t)seq, 8);
	memcpy(v, "113:", 4);
	memset(v + 4, 3, 24);
	mfs_aead_seal(v + 28, plain, MFS_DHT_POINTER_PLAIN_BYTES, ad, sizeof ad, v + 4,
		      k->seal_key);
}

Test(dht_channel, an_unknown_version_or_absurd_length_is_refused_after_opening)
{
	uint8_t pk[32], plain[MFS_DHT_POINTER_PLAIN_BYTES] = {0}, v[MFS_DHT_POINTER_V_BYTES];
	struct mfs_dht_channel_keys k;
	struct mfs_dht_pointer p, got;
	const uint64_t lengths[] = {0, 16, MFS_DHT_MANIFEST_MAX + 17, UINT64_MAX};

	vector_pointer(&k, pk, &p);
	plain[0] = 2;
	mfs_le_put(plain + 65, 100, 8);
	seal_plain(v, plain, &k, pk, 1);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 1), MFS_E_FORMAT);
	plain[0] = 1;
	seal_plain(v, plain, &k, pk, 1);
	cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 1), 0);
	for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
		mfs_le_put(plain + 65, lengths[i], 8);
		seal_plain(v, plain, &k, pk, 1);
		cr_assert_eq(mfs_dht_pointer_open(&got, v, sizeof v, &k, pk, 1), MFS_E_FORMAT);
	}
}

Test(dht_channel, the_manifest_blob_matches_the_vector_and_refuses_changes)
{
	uint8_t pk[32], want[256], *blob = NULL;
	char manifest[128], *json = NULL;
	size_t want_len = hex(want, sizeof want, "manifest_blob"), mlen, blob_len, len;
	struct mfs_dht_channel_keys k;
	struct mfs_dht_pointer p, ptr;
	uint8_t mkey[32];

	vector_pointer(&k, pk, &p);
	mlen = hex((uint8_t *)manifest, sizeof manifest, "manifest");
	hex(mkey, 32, "manifest_blob_key");
	cr_assert_eq(mfs_dht_manifest_blob(&blob, &blob_len, &ptr, manifest, mlen, &k), 0);
	cr_assert_eq(blob_len, want_len);
	cr_assert_arr_eq(blob, want, want_len);
	cr_assert_arr_eq(ptr.blob_key, mkey, 32);
	cr_assert_eq(ptr.length, blob_len);
	cr_assert_eq(mfs_dht_manifest_open(&json, &len, blob, blob_len, &ptr), 0);
	cr_assert_eq(len, mlen);
	cr_assert_arr_eq(json, manifest, mlen);
	cr_assert_eq(json[len], '\0');
	free(json);
	cr_assert_eq(mfs_dht_manifest_open(&json, &len, blob, blob_len - 1, &ptr), MFS_E_FORMAT);
	blob[3] ^= 1; /* the id no longer matches */
	cr_assert_eq(mfs_dht_manifest_open(&json, &len, blob, blob_len, &ptr), MFS_E_FORMAT);
	mfs_blob_id(ptr.blob_id, blob, blob_len); /* the id matches, the tag does not */
	cr_assert_eq(mfs_dht_manifest_open(&json, &len, blob, blob_len, &ptr), MFS_E_AUTH);
	cr_assert_null(json);
	free(blob);
	cr_assert_eq(mfs_dht_manifest_blob(&blob, &blob_len, &ptr, manifest, 0, &k), MFS_E_FORMAT);
	cr_assert_null(blob);
}
