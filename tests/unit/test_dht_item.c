/* net/dht_item: BEP 44's items. The BEP's own test vectors
 * (tests/vectors/bep44.json) byte for byte: signed buffer, targets, and the
 * signature, which is reproduced here from the BEP's expanded private key
 * with libsodium's Ed25519 primitives; items made by python3-cryptography
 * and hashlib (tests/vectors/bep44-interop.json, from
 * make_bep44_interop.py); forged items, the limits and the storing node's
 * seq/cas rule. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_item.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

static json_t *load(const char *name)
{
	char path[512];
	json_error_t err;
	json_t *j;

	snprintf(path, sizeof path, "%s/%s", MFS_VECTORS_DIR, name);
	j = json_load_file(path, 0, &err);
	cr_assert_not_null(j, "%s: %s", path, err.text);
	return j;
}

static const char *field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	cr_assert_not_null(s, "no string '%s'", key);
	return s;
}

/* Decodes hex field key of o into out[cap]; returns its length. */
static size_t hex(uint8_t *out, size_t cap, json_t *o, const char *key)
{
	const char *s = field(o, key);
	size_t len = 0;

	cr_assert_eq(sodium_hex2bin(out, cap, s, strlen(s), NULL, &len, NULL), 0, "%s", key);
	return len;
}

/* Ed25519 signing from a 64-byte expanded key (scalar a, nonce prefix), as
 * libtorrent keeps its keys and BEP 44 prints them: r = H(prefix || m),
 * R = rB, S = r + H(R || A || m) a (mod L). */
static void sign_expanded(uint8_t sig[64], uint8_t pk[32], const uint8_t *m, size_t len,
			  const uint8_t expanded[64])
{
	uint8_t a[32], wide[64], r[32], k[32], ka[32];
	crypto_hash_sha512_state st;

	memset(wide, 0, sizeof wide);
	memcpy(wide, expanded, 32);
	crypto_core_ed25519_scalar_reduce(a, wide);
	cr_assert_eq(crypto_scalarmult_ed25519_base_noclamp(pk, a), 0);
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, expanded + 32, 32);
	crypto_hash_sha512_update(&st, m, len);
	crypto_hash_sha512_final(&st, wide);
	crypto_core_ed25519_scalar_reduce(r, wide);
	cr_assert_eq(crypto_scalarmult_ed25519_base_noclamp(sig, r), 0);
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, sig, 32);
	crypto_hash_sha512_update(&st, pk, 32);
	crypto_hash_sha512_update(&st, m, len);
	crypto_hash_sha512_final(&st, wide);
	crypto_core_ed25519_scalar_reduce(k, wide);
	crypto_core_ed25519_scalar_mul(ka, k, a);
	crypto_core_ed25519_scalar_add(sig + 32, ka, r);
}

Test(dht_item, the_test_vectors_of_bep44_come_out_byte_for_byte)
{
	json_t *doc = load("bep44.json"), *c;
	size_t i, n = 0;

	cr_assert_eq(sodium_init() < 0, 0);
	json_array_foreach(json_object_get(doc, "mutable"), i, c) {
		const char *value = field(c, "value"), *salt = field(c, "salt");
		const char *want = field(c, "signed");
		struct mfs_dht_mutable item = {
			.salt = (const uint8_t *)salt, .salt_len = strlen(salt),
			.seq = json_integer_value(json_object_get(c, "seq")),
			.v = (const uint8_t *)value, .v_len = strlen(value)};
		uint8_t pk[32], sk[64], sig[64], target[20], want_target[20], buf[MFS_DHT_SIGNED_MAX];
		uint8_t mine[64], derived[32];
		size_t len;

		cr_assert_eq(hex(pk, sizeof pk, c, "public_key"), 32);
		cr_assert_eq(hex(sk, sizeof sk, c, "private_key"), 64);
		cr_assert_eq(hex(sig, sizeof sig, c, "signature"), 64);
		cr_assert_eq(hex(want_target, sizeof want_target, c, "target"), 20);
		cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf, &len, &item), 0);
		cr_assert_eq(len, strlen(want), "%s", field(c, "name"));
		cr_assert_arr_eq(buf, want, len, "%s: %.*s", field(c, "name"), (int)len, buf);
		cr_assert_eq(mfs_dht_item_mutable_target(target, pk, item.salt, item.salt_len), 0);
		cr_assert_arr_eq(target, want_target, 20, "%s", field(c, "name"));
		cr_assert_eq(mfs_dht_item_verify(sig, &item, pk), 0, "%s", field(c, "name"));
		sign_expanded(mine, derived, buf, len, sk);
		cr_assert_arr_eq(derived, pk, 32, "%s: the key pair", field(c, "name"));
		cr_assert_arr_eq(mine, sig, 64, "%s: the signature", field(c, "name"));
		n++;
	}
	json_array_foreach(json_object_get(doc, "immutable"), i, c) {
		const char *value = field(c, "value");
		uint8_t target[20], want_target[20];

		hex(want_target, sizeof want_target, c, "target");
		cr_assert_eq(mfs_dht_item_immutable_target(target, (const uint8_t *)value,
							   strlen(value)), 0);
		cr_assert_arr_eq(target, want_target, 20);
		n++;
	}
	cr_assert_eq(n, 3);
	json_decref(doc);
}

Test(dht_item, items_made_by_python_cryptography_and_hashlib_match_ours)
{
	json_t *doc = load("bep44-interop.json"), *c;
	size_t i, n = 0;

	cr_assert_eq(sodium_init() < 0, 0);
	json_array_foreach(json_object_get(doc, "mutable"), i, c) {
		uint8_t seed[32], pk[32], want_pk[32], sk[64], salt[64], v[1000], sig[64];
		uint8_t want_sig[64], target[20], want_target[20];
		uint8_t buf[MFS_DHT_SIGNED_MAX], want_buf[MFS_DHT_SIGNED_MAX];
		size_t len, want_len;
		struct mfs_dht_mutable item = {.salt = salt, .v = v};

		cr_assert_eq(hex(seed, sizeof seed, c, "seed"), 32);
		hex(want_pk, sizeof want_pk, c, "public_key");
		item.salt_len = hex(salt, sizeof salt, c, "salt");
		item.v_len = hex(v, sizeof v, c, "value");
		item.seq = json_integer_value(json_object_get(c, "seq"));
		hex(want_sig, sizeof want_sig, c, "signature");
		hex(want_target, sizeof want_target, c, "target");
		want_len = hex(want_buf, sizeof want_buf, c, "signed");
		crypto_sign_seed_keypair(pk, sk, seed);
		cr_assert_arr_eq(pk, want_pk, 32, "%s", field(c, "name"));
		cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf, &len, &item), 0);
		cr_assert_eq(len, want_len, "%s", field(c, "name"));
		cr_assert_arr_eq(buf, want_buf, len, "%s", field(c, "name"));
		cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
		cr_assert_arr_eq(sig, want_sig, 64, "%s", field(c, "name"));
		cr_assert_eq(mfs_dht_item_verify(want_sig, &item, pk), 0);
		cr_assert_eq(mfs_dht_item_mutable_target(target, pk, salt, item.salt_len), 0);
		cr_assert_arr_eq(target, want_target, 20, "%s", field(c, "name"));
		sodium_memzero(sk, sizeof sk);
		n++;
	}
	json_array_foreach(json_object_get(doc, "immutable"), i, c) {
		uint8_t v[1000], target[20], want_target[20];
		size_t v_len = hex(v, sizeof v, c, "value");

		hex(want_target, sizeof want_target, c, "target");
		cr_assert_eq(mfs_dht_item_immutable_target(target, v, v_len), 0);
		cr_assert_arr_eq(target, want_target, 20, "%s", field(c, "name"));
	}
	cr_assert_eq(n, 6);
	json_decref(doc);
}

Test(dht_item, a_forged_or_altered_item_does_not_verify)
{
	uint8_t pk[32], sk[64], other_pk[32], other_sk[64], sig[64], bad[64];
	static const uint8_t salt[] = "channel salt", v[] = "d1:ai1ee";
	struct mfs_dht_mutable item = {.salt = salt, .salt_len = sizeof salt - 1, .seq = 7,
				       .v = v, .v_len = sizeof v - 1};
	struct mfs_dht_mutable alt;

	cr_assert_eq(sodium_init() < 0, 0);
	mfs_sign_keypair(pk, sk);
	mfs_sign_keypair(other_pk, other_sk);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	cr_assert_eq(mfs_dht_item_verify(sig, &item, pk), 0);
	cr_assert_eq(mfs_dht_item_verify(sig, &item, other_pk), MFS_E_AUTH);
	for (size_t i = 0; i < 64; i++) {
		memcpy(bad, sig, 64);
		bad[i] ^= 0x01;
		cr_assert_eq(mfs_dht_item_verify(bad, &item, pk), MFS_E_AUTH, "byte %zu", i);
	}
	alt = item;
	alt.seq = 8;
	cr_assert_eq(mfs_dht_item_verify(sig, &alt, pk), MFS_E_AUTH);
	alt = item;
	alt.salt_len--;
	cr_assert_eq(mfs_dht_item_verify(sig, &alt, pk), MFS_E_AUTH);
	alt = item;
	alt.salt_len = 0;
	cr_assert_eq(mfs_dht_item_verify(sig, &alt, pk), MFS_E_AUTH);
	alt = item;
	alt.v = (const uint8_t *)"d1:ai2ee";
	cr_assert_eq(mfs_dht_item_verify(sig, &alt, pk), MFS_E_AUTH);
	/* An empty salt is no salt: NULL or not, the same signature. */
	alt = item;
	alt.salt_len = 0;
	cr_assert_eq(mfs_dht_item_sign(sig, &alt, sk), 0);
	alt.salt = NULL;
	cr_assert_eq(mfs_dht_item_verify(sig, &alt, pk), 0);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(other_sk, sizeof other_sk);
}

Test(dht_item, values_and_salts_beyond_bep44s_limits_or_not_bencoded_are_refused)
{
	static uint8_t v[1100], salt[65];
	uint8_t pk[32] = {0}, sk[64], sig[64] = {0}, target[20], buf[MFS_DHT_SIGNED_MAX];
	struct mfs_dht_mutable item = {.salt = salt, .salt_len = 64, .seq = INT64_MIN, .v = v};
	char why[160] = "";
	size_t len;

	cr_assert_eq(sodium_init() < 0, 0);
	mfs_sign_keypair(pk, sk);
	memcpy(v, "996:", 4);
	memset(v + 4, 'x', 996);
	item.v_len = 1000;
	cr_assert_eq(mfs_dht_item_check_value(v, 1000, why, sizeof why), 0, "%s", why);
	/* The longest signed buffer is exactly MFS_DHT_SIGNED_MAX. */
	cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf, &len, &item), 0);
	cr_assert_eq(len, MFS_DHT_SIGNED_MAX);
	cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf - 1, &len, &item), -ENOBUFS);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	cr_assert_eq(mfs_dht_item_verify(sig, &item, pk), 0);
	/* 1,001 bytes. */
	memcpy(v, "997:", 4);
	memset(v + 4, 'x', 997);
	item.v_len = 1001;
	cr_assert_eq(mfs_dht_item_check_value(v, 1001, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "1001 bytes, more than the 1000"), "%s", why);
	cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf, &len, &item), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_verify(sig, &item, pk), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_immutable_target(target, v, 1001), MFS_E_FORMAT);
	/* Not one canonical value. */
	static const char *const not_values[] = {"", "Hello", "12:Hello World", "i1ei2e",
						 "d1:bi1e1:ai2ee", "i01e"};
	for (size_t i = 0; i < sizeof not_values / sizeof not_values[0]; i++) {
		const uint8_t *p = (const uint8_t *)not_values[i];
		size_t n = strlen(not_values[i]);

		cr_assert_eq(mfs_dht_item_check_value(p, n, why, sizeof why), MFS_E_FORMAT, "%s",
			     not_values[i]);
		cr_assert(strncmp(why, "bencode: ", 9) == 0, "%s", why);
		cr_assert_eq(mfs_dht_item_immutable_target(target, p, n), MFS_E_FORMAT);
	}
	/* A salt of 65 bytes. */
	item.v = (const uint8_t *)"i1e";
	item.v_len = 3;
	item.salt_len = 65;
	cr_assert_eq(mfs_dht_item_check_salt(65, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "salt of 65 bytes"), "%s", why);
	cr_assert_eq(mfs_dht_item_check_salt(64, NULL, 0), 0);
	cr_assert_eq(mfs_dht_item_mutable_target(target, pk, salt, 65), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_signed_bytes(buf, sizeof buf, &len, &item), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_item_verify(sig, &item, pk), MFS_E_FORMAT);
	sodium_memzero(sk, sizeof sk);
}

Test(dht_item, a_getter_accepts_only_items_that_match_the_target_it_asked_for)
{
	json_t *doc = load("bep44.json");
	json_t *c = json_array_get(json_object_get(doc, "mutable"), 1); /* with salt */
	const char *value = field(c, "value"), *salt = field(c, "salt");
	uint8_t pk[32], sig[64], target[20], imm_target[20];
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)salt, .salt_len = strlen(salt),
				       .seq = 1, .v = (const uint8_t *)value,
				       .v_len = strlen(value)}, alt;

	cr_assert_eq(sodium_init() < 0, 0);
	hex(pk, sizeof pk, c, "public_key");
	hex(sig, sizeof sig, c, "signature");
	hex(target, sizeof target, c, "target");
	hex(imm_target, sizeof imm_target,
	    json_array_get(json_object_get(doc, "immutable"), 0), "target");
	cr_assert_eq(mfs_dht_item_check_got(target, pk, sig, &item), 0);
	cr_assert_eq(mfs_dht_item_check_got(imm_target, NULL, NULL, &item), 0);
	/* An item for another target: an immutable one under the mutable
	 * target, the mutable one under the immutable target. */
	cr_assert_eq(mfs_dht_item_check_got(target, NULL, NULL, &item), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_item_check_got(imm_target, pk, sig, &item), MFS_E_AUTH);
	/* Asked with another salt: the key no longer leads to the target. */
	alt = item;
	alt.salt_len = 0;
	cr_assert_eq(mfs_dht_item_check_got(target, pk, sig, &alt), MFS_E_AUTH);
	/* A node that answers with its own value, or a higher seq, under the key. */
	alt = item;
	alt.v = (const uint8_t *)"12:Hello World?";
	cr_assert_eq(mfs_dht_item_check_got(target, pk, sig, &alt), MFS_E_AUTH);
	alt = item;
	alt.seq = 2;
	cr_assert_eq(mfs_dht_item_check_got(target, pk, sig, &alt), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_item_check_got(target, pk, NULL, &item), MFS_E_FORMAT);
	alt = item;
	alt.v = (const uint8_t *)"Hello World!";
	alt.v_len = 12;
	cr_assert_eq(mfs_dht_item_check_got(imm_target, NULL, NULL, &alt), MFS_E_FORMAT);
	json_decref(doc);
}

Test(dht_item, a_storing_node_refuses_lower_seq_and_cas_mismatch)
{
	static const struct {
		int held;
		int64_t held_seq, seq;
		int has_cas;
		int64_t cas;
		int rc, replace;
	} rules[] = {
		{0, 0, 1, 0, 0, 0, 1},          /* nothing held: store */
		{0, 0, 1, 1, 99, 0, 1},         /* nothing held: cas ignored */
		{1, 5, 6, 0, 0, 0, 1},          /* newer: replace */
		{1, 5, 5, 0, 0, 0, 0},          /* same seq: keep the held item */
		{1, 5, 4, 0, 0, MFS_E_REPLAY, 0}, /* older: 302 */
		{1, 5, INT64_MIN, 0, 0, MFS_E_REPLAY, 0},
		{1, 5, 6, 1, 5, 0, 1},          /* cas matches */
		{1, 5, 6, 1, 4, MFS_E_CAS, 0},  /* cas mismatch: 301 */
		{1, 5, 4, 1, 4, MFS_E_CAS, 0},  /* both wrong: cas first */
		{1, 5, 5, 1, 5, 0, 0},
		{1, INT64_MAX, INT64_MAX, 0, 0, 0, 0},
	};

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		int replace = -1;
		int rc = mfs_dht_item_put_rule(&replace, rules[i].held, rules[i].held_seq,
					       rules[i].seq, rules[i].has_cas, rules[i].cas);

		cr_assert_eq(rc, rules[i].rc, "rule %zu: %d", i, rc);
		cr_assert_eq(replace, rules[i].replace, "rule %zu", i);
	}
	cr_assert_str_eq(mfs_strerror(MFS_E_CAS),
			 "the item changed since it was read (its sequence number is not the one "
			 "given as cas): read it again and retry");
}
