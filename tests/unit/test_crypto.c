/* crypto/: KDF, AEAD, signatures, the blob (chunk) format, canonical JSON. */
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h> /* the reference the AEAD is held to */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/canon_json.h"
#include "crypto/chunk.h"
#include "crypto/hash.h"
#include "crypto/sha256x2.h"
#include "crypto/kdf.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "crypto/sign.h"
#include "tests/unit/testutil.h"

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
}

TestSuite(crypto, .init = setup);

Test(crypto, kdf_is_deterministic_and_salted)
{
	struct mfs_kdf_limits fast;
	uint8_t salt[MFS_KDF_SALT_BYTES] = {1}, salt2[MFS_KDF_SALT_BYTES] = {2};
	uint8_t a[32], b[32], c[32], d[32];

	cr_assert_eq(mfs_kdf_preset(&fast, "fast"), 0);
	cr_assert_eq(mfs_kdf_password(a, "pw", 2, salt, &fast), 0);
	cr_assert_eq(mfs_kdf_password(b, "pw", 2, salt, &fast), 0);
	cr_assert_eq(mfs_kdf_password(c, "pw", 2, salt2, &fast), 0);
	cr_assert_eq(mfs_kdf_password(d, "pX", 2, salt, &fast), 0);
	cr_assert_arr_eq(a, b, 32);
	cr_assert_arr_neq(a, c, 32);
	cr_assert_arr_neq(a, d, 32);
	cr_assert_eq(mfs_kdf_preset(&fast, "nonsense"), MFS_E_FORMAT);
	fast.mem = 1; /* below Argon2id's minimum */
	cr_assert_eq(mfs_kdf_password(a, "pw", 2, salt, &fast), MFS_E_FORMAT);
}

Test(crypto, subkeys_differ_by_id_and_context)
{
	uint8_t key[32] = {7}, a[32], b[32], c[32];

	mfs_kdf_subkey(a, 1, "ctx_one_", key);
	mfs_kdf_subkey(b, 2, "ctx_one_", key);
	mfs_kdf_subkey(c, 1, "ctx_two_", key);
	cr_assert_arr_neq(a, b, 32);
	cr_assert_arr_neq(a, c, 32);
}

Test(crypto, aead_round_trip_and_tamper)
{
	uint8_t key[32], nonce[24], msg[100], box[100 + MFS_AEAD_TAG_BYTES], out[100];

	mfs_random(key, sizeof key);
	mfs_random(nonce, sizeof nonce);
	tu_fill_random(msg, sizeof msg, 1);
	mfs_aead_seal(box, msg, sizeof msg, (const uint8_t *)"ad", 2, nonce, key);
	cr_assert_eq(mfs_aead_open(out, box, sizeof msg, (const uint8_t *)"ad", 2, nonce, key), 0);
	cr_assert_arr_eq(out, msg, sizeof msg);
	cr_assert_eq(mfs_aead_open(out, box, sizeof msg, (const uint8_t *)"AD", 2, nonce, key),
		     MFS_E_AUTH);
	box[50] ^= 1;
	cr_assert_eq(mfs_aead_open(out, box, sizeof msg, (const uint8_t *)"ad", 2, nonce, key),
		     MFS_E_AUTH);
}

/* crypto/aead computes XChaCha20-Poly1305, and the IETF ChaCha20-Poly1305
 * Noise uses, through OpenSSL: both must give libsodium's bytes exactly, for every length class (empty, under, at and
 * over ChaCha20's 64-byte block and Poly1305's 16, a slot payload, a
 * segment, a chunk), any associated data, and in place. */
/* The premise of the run: OpenSSL's ciphers and hashes are there (the
 * fast path), or, under tests/unit/openssl-null.cnf
 * (unit_*_without_openssl), none is, so every test of this run went
 * through libsodium's path and still matched. */
Test(crypto, openssl_runs_as_the_run_expects)
{
	EVP_CIPHER *chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	const int none = getenv("MFS_EXPECT_NO_OPENSSL") != NULL;

	cr_assert_eq(chacha == NULL, none, "ChaCha20-Poly1305 %s", chacha ? "there" : "absent");
	cr_assert_eq(sha256 == NULL, none, "SHA-256 %s", sha256 ? "there" : "absent");
	EVP_CIPHER_free(chacha);
	EVP_MD_free(sha256);
}

Test(crypto, aead_matches_libsodium_byte_for_byte)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 1000, 65560, 65536,
				      (1u << 20) + 4096};
	static const size_t ad_lens[] = {0, 1, 24, 100};
	uint8_t key[32], nonce[24], ad[100];
	const size_t max = (1u << 20) + 4096;
	uint8_t *msg = malloc(max), *ours = malloc(max + 16), *theirs = malloc(max + 16);
	uint8_t *back = malloc(max);

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (size_t j = 0; j < sizeof ad_lens / sizeof ad_lens[0]; j++) {
			size_t len = lens[i];

			mfs_random(key, sizeof key);
			mfs_random(nonce, sizeof nonce);
			mfs_random(ad, sizeof ad);
			mfs_random(msg, len);
			mfs_aead_seal(ours, msg, len, ad, ad_lens[j], nonce, key);
			crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
				theirs, theirs + len, NULL, msg, len, ad, ad_lens[j], NULL, nonce, key);
			cr_assert_arr_eq(ours, theirs, len + 16, "len %zu ad %zu", len, ad_lens[j]);
			cr_assert_eq(mfs_aead_open(back, theirs, len, ad, ad_lens[j], nonce, key), 0);
			cr_assert_arr_eq(back, msg, len);
			/* In place, both ways. */
			memcpy(ours, msg, len);
			mfs_aead_seal(ours, ours, len, ad, ad_lens[j], nonce, key);
			cr_assert_arr_eq(ours, theirs, len + 16, "in place, len %zu", len);
			cr_assert_eq(mfs_aead_open(ours, ours, len, ad, ad_lens[j], nonce, key), 0);
			cr_assert_arr_eq(ours, msg, len, "opened in place, len %zu", len);
			if (len > 0) {
				theirs[len - 1] ^= 0x80;
				cr_assert_eq(mfs_aead_open(back, theirs, len, ad, ad_lens[j], nonce, key),
					     MFS_E_AUTH);
				for (size_t b = 0; b < len; b++)
					cr_assert_eq(back[b], 0, "a failed open leaves nothing");
			}
			/* The RFC 8439 cipher under it (Noise's), the same way. */
			mfs_aead_ietf_seal(ours, msg, len, ad, ad_lens[j], nonce, key);
			crypto_aead_chacha20poly1305_ietf_encrypt_detached(
				theirs, theirs + len, NULL, msg, len, ad, ad_lens[j], NULL, nonce, key);
			cr_assert_arr_eq(ours, theirs, len + 16, "ietf, len %zu ad %zu", len, ad_lens[j]);
			cr_assert_eq(mfs_aead_ietf_open(ours, ours, len, ad, ad_lens[j], nonce, key), 0);
			cr_assert_arr_eq(ours, msg, len, "ietf, opened in place, len %zu", len);
			theirs[len] ^= 0x01; /* the tag */
			cr_assert_eq(mfs_aead_ietf_open(back, theirs, len, ad, ad_lens[j], nonce, key),
				     MFS_E_AUTH);
			for (size_t b = 0; b < len; b++)
				cr_assert_eq(back[b], 0, "a failed ietf open leaves nothing");
		}
	free(msg);
	free(ours);
	free(theirs);
	free(back);
}

/* Any range of a message, decrypted alone without its tag, is the same
 * range of what libsodium's open gives: ranges starting on, before and past
 * ChaCha20's block boundaries, of every length class, in place or not (the
 * run without OpenSSL holds libsodium's path to the same). It checks
 * nothing: a flipped tag changes no byte, a flipped ciphertext byte flips
 * the same plaintext byte and no other. */
Test(crypto, aead_decrypt_unchecked_gives_any_range_of_the_plaintext)
{
	static const size_t froms[] = {0, 1, 17, 63, 64, 65, 4095, 4096, 60000};
	static const size_t lens[] = {0, 1, 15, 47, 63, 64, 65, 130, 4096, 5000};
	const size_t len = 65536;
	uint8_t key[32], nonce[24], ad[8] = {1};
	uint8_t *msg = malloc(len), *sealed = malloc(len + 16), *part = malloc(len);

	cr_assert(msg && sealed && part);
	mfs_random(key, sizeof key);
	mfs_random(nonce, sizeof nonce);
	mfs_random(msg, len);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(sealed, sealed + len, NULL, msg, len, ad,
							    sizeof ad, NULL, nonce, key);
	for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++)
		for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
			size_t from = froms[i], n = lens[j];

			if (from + n > len)
				continue;
			memset(part, 0xaa, n);
			mfs_aead_decrypt_unchecked(part, sealed + from, n, from, nonce, key);
			cr_assert_arr_eq(part, msg + from, n, "from %zu, %zu bytes", from, n);
			memcpy(part, sealed + from, n);
			mfs_aead_decrypt_unchecked(part, part, n, from, nonce, key);
			cr_assert_arr_eq(part, msg + from, n, "in place, from %zu, %zu bytes", from, n);
		}
	sealed[len] ^= 1;
	sealed[100] ^= 0x40;
	mfs_aead_decrypt_unchecked(part, sealed, len, 0, nonce, key);
	cr_assert_eq(part[100], msg[100] ^ 0x40, "the flipped byte, flipped");
	part[100] = msg[100];
	cr_assert_arr_eq(part, msg, len, "every other byte as it was");
	free(msg);
	free(sealed);
	free(part);
}

/* The blob id as megafs(7) defines it, computed with libsodium's SHA-256 one
 * piece at a time: the reference crypto/hash's OpenSSL path must match. */
static void blob_id_reference(uint8_t id[32], const uint8_t *data, size_t len)
{
	const size_t pieces = len == 0 ? 1 : (len + MFS_BLOB_LEAF_BYTES - 1) / MFS_BLOB_LEAF_BYTES;
	uint8_t *list = malloc(1 + 32 * pieces), *piece = malloc(1 + MFS_BLOB_LEAF_BYTES);

	cr_assert(list && piece);
	list[0] = 1;
	for (size_t i = 0; i < pieces; i++) {
		size_t off = i * MFS_BLOB_LEAF_BYTES;
		size_t n = len - off < MFS_BLOB_LEAF_BYTES ? len - off : MFS_BLOB_LEAF_BYTES;

		piece[0] = 0;
		memcpy(piece + 1, data + off, n);
		crypto_hash_sha256(list + 1 + 32 * i, piece, 1 + n);
	}
	crypto_hash_sha256(id, list, 1 + 32 * pieces);
	free(list);
	free(piece);
}

/* Every length class of the hash list (empty, one byte, a piece less one,
 * a piece, a piece and one, the largest blob), the reference's bytes, and
 * two answers computed outside megafs (Python's hashlib) so that the
 * reference itself is held to the definition. */
Test(crypto, blob_id_is_the_sha256_hash_list_of_its_segments)
{
	static const size_t lens[] = {0,	   1,	    65551,   65552,   65553,
				      2 * 65552, 3 * 65552 + 5, 1048832, 16781312};
	const size_t max = 16781312;
	uint8_t *data = malloc(max), ours[32], theirs[32];
	char hex[65];

	cr_assert_not_null(data);
	for (size_t i = 0; i < max; i++)
		data[i] = (uint8_t)(i % 251);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		mfs_blob_id(ours, data, lens[i]);
		blob_id_reference(theirs, data, lens[i]);
		cr_assert_arr_eq(ours, theirs, 32, "len %zu", lens[i]);
	}
	mfs_blob_id(ours, data, 0);
	mfs_hex_encode(hex, ours, 32);
	cr_assert_str_eq(hex, "d582e1d0cdfac8ddf46a67ec6bd551715dd708375d5b3f5d794009710d83e83b");
	mfs_blob_id(ours, data, 65553);
	mfs_hex_encode(hex, ours, 32);
	cr_assert_str_eq(hex, "61deab697b1976fd1581356b98da0a5d4fc8a1bb915058f82eaea2dead17959e");
	/* One flipped byte in the last piece changes the id. */
	data[65552] ^= 1;
	mfs_blob_id(theirs, data, 65553);
	cr_assert(memcmp(ours, theirs, 32) != 0);
	free(data);
}

static void sha256_reference(uint8_t out[32], const struct mfs_sha256x2_msg *m)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, m->prefix, m->prefix_len);
	crypto_hash_sha256_update(&st, m->data, m->len);
	crypto_hash_sha256_final(&st, out);
}

/* Two messages at once, each of its own length and prefix: every way the
 * blocks fall (prefix across one or two blocks, padding in one or two,
 * one message ending long before the other), libsodium's bytes; prefixes
 * too long for the pair take the one-by-one path, as does every call on a
 * CPU without SHA extensions. */
Test(crypto, sha256_two_at_once_is_sha256_of_each)
{
	const size_t max = 300000;
	uint8_t *a = malloc(max), *b = malloc(max), prefix[131], out[2][32], ref[32], key[32];

	cr_assert(a && b);
	mfs_random(a, max);
	mfs_random(b, max);
	mfs_random(prefix, sizeof prefix);
	mfs_random(key, sizeof key);
	for (int t = 0; t < 4000; t++) {
		uint32_t r[4];
		struct mfs_sha256x2_msg m[2];

		mfs_random(r, sizeof r);
		m[0] = (struct mfs_sha256x2_msg){prefix, r[0] % 131, a, r[1] % (t % 9 == 0 ? max : 300)};
		m[1] = (struct mfs_sha256x2_msg){prefix + 1, r[2] % 128, b + 1,
						 r[3] % (t % 7 == 0 ? max - 1 : 200)};
		mfs_sha256x2(out, m);
		for (int i = 0; i < 2; i++) {
			sha256_reference(ref, &m[i]);
			cr_assert_arr_eq(out[i], ref, 32, "lane %d: prefix %zu, %zu bytes", i,
					 m[i].prefix_len, m[i].len);
		}
		if (t % 10 == 0) {
			crypto_auth_hmacsha256_state st;

			m[0].prefix_len %= 70;
			m[1].prefix_len %= 65;
			mfs_hmac_sha256x2(out, key, m);
			for (int i = 0; i < 2; i++) {
				crypto_auth_hmacsha256_init(&st, key, sizeof key);
				crypto_auth_hmacsha256_update(&st, m[i].prefix, m[i].prefix_len);
				crypto_auth_hmacsha256_update(&st, m[i].data, m[i].len);
				crypto_auth_hmacsha256_final(&st, ref);
				cr_assert_arr_eq(out[i], ref, 32, "HMAC lane %d", i);
			}
		}
	}
	free(a);
	free(b);
}

/* Two chunks' convergent keys at once are each one's key. */
Test(crypto, two_convergent_keys_at_once_are_each_ones)
{
	const size_t len[2] = {1u << 20, 4097};
	uint8_t *a = malloc(len[0]), *b = malloc(len[1]), secret[32], two[2][32], one[32];
	const uint8_t *const plain[2] = {a, b};

	cr_assert(a && b);
	mfs_random(a, len[0]);
	mfs_random(b, len[1]);
	mfs_random(secret, sizeof secret);
	mfs_chunk_keys_convergent2(two, plain, len, secret);
	for (int i = 0; i < 2; i++) {
		mfs_chunk_key_convergent(one, plain[i], len[i], secret);
		cr_assert_arr_eq(two[i], one, 32, "chunk %d", i);
	}
	free(a);
	free(b);
}

/* Convergent keys: HMAC-SHA-256 through OpenSSL, libsodium's bytes. */
Test(crypto, hmac_sha256_matches_libsodium_and_the_rfc)
{
	static const size_t lens[] = {0, 1, 64, 65, 1u << 20};
	uint8_t key[32], ours[32], theirs[32], len_le[8] = {0};
	uint8_t *msg = malloc(8 + (1u << 20));
	char hex[65];

	cr_assert_not_null(msg);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		mfs_random(key, sizeof key);
		mfs_random(msg, 8 + lens[i]);
		mfs_hmac_sha256(ours, key, msg, 8, msg + 8, lens[i]);
		crypto_auth_hmacsha256(theirs, msg, 8 + lens[i], key);
		cr_assert_arr_eq(ours, theirs, 32, "len %zu", lens[i]);
	}
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	mfs_hmac_sha256(ours, key, len_le, sizeof len_le, "abc", 3);
	mfs_hex_encode(hex, ours, 32);
	cr_assert_str_eq(hex, "f1450e1f8603fccbb74f55fb6add0d5890cd71a9adb5728e7c986adadaa88d01");
	free(msg);
}

Test(crypto, signatures)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64], sig[64];
	const uint8_t msg[] = "manifest bytes";

	mfs_sign_keypair(pk, sk);
	mfs_sign_keypair(pk2, sk2);
	mfs_sign(sig, msg, sizeof msg, sk);
	cr_assert_eq(mfs_sign_verify(sig, msg, sizeof msg, pk), 0);
	cr_assert_eq(mfs_sign_verify(sig, msg, sizeof msg, pk2), MFS_E_AUTH);
	cr_assert_eq(mfs_sign_check_pair(pk, sk), 0);
	cr_assert_eq(mfs_sign_check_pair(pk2, sk), MFS_E_AUTH);
	sig[3] ^= 0x10;
	cr_assert_eq(mfs_sign_verify(sig, msg, sizeof msg, pk), MFS_E_AUTH);
}

Test(crypto, hex_is_strict)
{
	uint8_t out[2];

	cr_assert_eq(mfs_hex_decode(out, 2, "0aff"), 0);
	cr_assert_eq(out[1], 0xff);
	cr_assert_eq(mfs_hex_decode(out, 2, "0AFF"), MFS_E_FORMAT);
	cr_assert_eq(mfs_hex_decode(out, 2, "0af"), MFS_E_FORMAT);
	cr_assert_eq(mfs_hex_decode(out, 2, "0afff"), MFS_E_FORMAT);
	cr_assert_eq(mfs_hex_decode(out, 2, "0ag0"), MFS_E_FORMAT);
}

Test(crypto, padding_buckets)
{
	cr_assert_eq(mfs_chunk_padded_len(1), 4096);
	cr_assert_eq(mfs_chunk_padded_len(4096), 4096);
	cr_assert_eq(mfs_chunk_padded_len(4097), 8192);
	cr_assert_eq(mfs_chunk_padded_len(1u << 20), 1u << 20);
	cr_assert_eq(mfs_chunk_padded_len((1u << 20) - 5), 1u << 20);
	cr_assert_eq(mfs_blob_len(4096), 4096 + 16);
	cr_assert_eq(mfs_blob_len(1u << 20), (1u << 20) + 16 * 16);
	for (size_t p = 4096; p <= (16u << 20); p <<= 1)
		cr_assert_eq(mfs_blob_padded_len(mfs_blob_len(p)), p);
	cr_assert_eq(mfs_blob_padded_len(12345), 0);
	cr_assert(mfs_chunk_size_valid(1u << 20));
	cr_assert_not(mfs_chunk_size_valid(3u << 19));
	cr_assert_not(mfs_chunk_size_valid(32768));
}

/* Seals a chunk of len bytes and checks every interesting sub-range. */
static void chunk_round_trip(size_t len)
{
	uint8_t key[32];
	size_t padded = mfs_chunk_padded_len(len), blob_len = mfs_blob_len(padded);
	uint8_t *plain = malloc(len), *blob = malloc(blob_len), *out = malloc(padded);
	uint8_t *seg = malloc(MFS_SEGMENT_BYTES);
	const size_t offs[] = {0, 1, 65535, 65536, 65537, len / 2, len - 1};

	tu_fill_random(plain, len, len);
	mfs_chunk_key_random(key);
	mfs_chunk_seal(blob, plain, len, key);
	cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, 0, padded, key), 0);
	cr_assert_arr_eq(out, plain, len);
	for (size_t i = len; i < padded; i++)
		cr_assert_eq(out[i], 0, "padding is zeros");
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		size_t off = offs[i], n = len - off < 70000 ? len - off : 70000;

		if (off >= len)
			continue;
		cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, off, n, key), 0);
		cr_assert_arr_eq(out, plain + off, n, "range at %zu", off);
	}
	cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, padded, 1, key), MFS_E_FORMAT);
	/* Segment by segment, as a reader with only part of the blob does. */
	for (size_t s = 0;; s++) {
		size_t at, sealed, n = mfs_chunk_segment_span(padded, s, &at, &sealed);

		if (n == 0) {
			cr_assert_eq(s, (padded + 65535) / 65536);
			break;
		}
		cr_assert_eq(mfs_chunk_open_segment(out, blob + at, sealed, s, padded, key), 0);
		if (s * 65536 < len)
			cr_assert_arr_eq(out, plain + s * 65536, (len - s * 65536 < n ? len - s * 65536 : n));
		/* Without the tag check, the same bytes (padding included). */
		cr_assert_eq(mfs_chunk_decrypt_segment(seg, blob + at, sealed, s, padded, key), 0);
		cr_assert_arr_eq(seg, out, n, "segment %zu decrypted unchecked", s);
		/* A part of it, in place (as a seek decrypts into its cache slot). */
		if (n > 4100) {
			memcpy(seg, blob + at + 1000, 3100);
			cr_assert_eq(mfs_chunk_decrypt_part(seg, seg, 1000, 3100, s, padded, key), 0);
			cr_assert_arr_eq(seg, out + 1000, 3100, "segment %zu, part in place", s);
		}
		if (s > 0)
			cr_assert_eq(mfs_chunk_open_segment(out, blob + at, sealed, s - 1, padded, key),
				     MFS_E_AUTH, "a segment is bound to its index");
	}
	blob[blob_len - 1] ^= 1;
	cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, padded - 1, 1, key), MFS_E_AUTH);
	if (padded > MFS_SEGMENT_BYTES)
		cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, 0, 1, key), 0,
			     "other segments still open");
	free(seg);
	free(plain);
	free(blob);
	free(out);
}

Test(crypto, chunk_seal_open_ranges)
{
	chunk_round_trip(1);
	chunk_round_trip(4096);
	chunk_round_trip(65536);
	chunk_round_trip(65537);
	chunk_round_trip(1u << 20);
	chunk_round_trip((1u << 20) - 3);
}

Test(crypto, convergent_keys)
{
	uint8_t s1[32] = {1}, s2[32] = {2}, a[32], b[32], c[32], d[32];
	const uint8_t data[] = "same content";

	mfs_chunk_key_convergent(a, data, sizeof data, s1);
	mfs_chunk_key_convergent(b, data, sizeof data, s1);
	mfs_chunk_key_convergent(c, data, sizeof data, s2);
	mfs_chunk_key_convergent(d, data, sizeof data - 1, s1);
	cr_assert_arr_eq(a, b, 32);
	cr_assert_arr_neq(a, c, 32, "another secret, another key");
	cr_assert_arr_neq(a, d, 32, "the length is part of the key");
}

Test(crypto, canonical_json)
{
	json_t *j;
	char why[160];
	static const char *const rejected_format[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":", "[1,2",
	};
	static const char *const rejected_canon[] = {
		"{\"b\":1,\"a\":2}", "{\"a\": 1}", " {\"a\":1}", "{\"a\":1}\n", "{\"a\":\"\\/\"}",
		"{\"a\":\"\xc3\xa9\"}", "{\"a\":-0}",
	};

	static const char good[] = "{\"a\":1,\"b\":[true,null,\"x\"]}";

	cr_assert_eq(mfs_cjson_parse(&j, good, sizeof good - 1, why, sizeof why), 0, "%s", why);
	json_decref(j);
	for (size_t i = 0; i < sizeof rejected_format / sizeof rejected_format[0]; i++)
		cr_assert_eq(mfs_cjson_parse(&j, rejected_format[i], strlen(rejected_format[i]), why,
					     sizeof why),
			     MFS_E_FORMAT, "%s", rejected_format[i]);
	for (size_t i = 0; i < sizeof rejected_canon / sizeof rejected_canon[0]; i++)
		cr_assert_eq(mfs_cjson_parse(&j, rejected_canon[i], strlen(rejected_canon[i]), why,
					     sizeof why),
			     MFS_E_NOTCANON, "%s", rejected_canon[i]);
}

/* The error paths of crypto/ that the tests above leave out (found by
 * tools/coverage.sh). */
Test(crypto, every_kdf_preset_passes_its_own_check)
{
	static const char *const names[] = {"fast", "interactive", "moderate", "sensitive"};
	struct mfs_kdf_limits l;

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		cr_assert_eq(mfs_kdf_preset(&l, names[i]), 0, "%s", names[i]);
		cr_assert_eq(mfs_kdf_limits_check(&l), 0, "%s", names[i]);
	}
}

Test(crypto, strerror_names_success_and_unknown_codes)
{
	cr_assert_str_eq(mfs_strerror(0), "success");
	cr_assert_str_eq(mfs_strerror(1), "unknown error");
	cr_assert_str_eq(mfs_strerror(-5000), "unknown error", "below errno, above our block");
	cr_assert_str_eq(mfs_strerror(MFS_E_FIRST - 1), "unknown error");
	cr_assert_str_eq(mfs_strerror(-ENOENT), strerror(ENOENT));
}

Test(crypto, canonical_json_refuses_reals_anywhere_and_depth_past_32)
{
	json_t *nested = json_pack("[i, [s, {s:[f]}]]", 1, "x", "k", 1.5);
	json_t *deep = json_array();
	char *text = NULL, *huge, why[64] = "";
	json_t *parsed = NULL;
	size_t len;

	cr_assert_eq(mfs_cjson_encode(&text, &len, nested), MFS_E_FORMAT, "a real in an array");
	for (int i = 0; i < 40; i++) {
		json_t *outer = json_array();

		json_array_append_new(outer, deep);
		deep = outer;
	}
	cr_assert_eq(mfs_cjson_encode(&text, &len, deep), MFS_E_FORMAT, "40 levels");
	cr_assert_null(text);
	huge = calloc(1, MFS_CJSON_MAX_BYTES + 1);
	cr_assert_not_null(huge);
	cr_assert_eq(mfs_cjson_parse(&parsed, huge, MFS_CJSON_MAX_BYTES + 1, why, sizeof why),
		     MFS_E_FORMAT);
	cr_assert_str_eq(why, "document too large");
	cr_assert_null(parsed);
	free(huge);
	json_decref(nested);
	json_decref(deep);
}

Test(crypto, chunk_empty_ranges_and_wrong_segment_lengths)
{
	uint8_t key[MFS_CHUNK_KEY_BYTES] = {3}, plain[100] = {0}, out[MFS_SEGMENT_BYTES];
	size_t padded = mfs_chunk_padded_len(sizeof plain), blob_len = mfs_blob_len(padded);
	size_t blob_off, sealed;
	uint8_t *blob = malloc(blob_len);

	cr_assert_not_null(blob);
	mfs_chunk_seal(blob, plain, sizeof plain, key);
	cr_assert_eq(mfs_chunk_open_range(out, blob, blob_len, 10, 0, key), 0, "nothing to open");
	cr_assert_gt(mfs_chunk_segment_span(padded, 0, &blob_off, &sealed), 0);
	cr_assert_eq(mfs_chunk_open_segment(out, blob, sealed - 1, 0, padded, key), MFS_E_FORMAT);
	cr_assert_eq(mfs_chunk_open_segment(out, blob, sealed, 1000, padded, key), MFS_E_FORMAT,
		     "no such segment");
	cr_assert_eq(mfs_chunk_open_segment(out, blob, sealed, 0, padded, key), 0);
	cr_assert_eq(mfs_chunk_decrypt_segment(out, blob, sealed - 1, 0, padded, key), MFS_E_FORMAT);
	cr_assert_eq(mfs_chunk_decrypt_segment(out, blob, sealed, 1, padded, key), MFS_E_FORMAT);
	free(blob);
}

Test(crypto, a_hex_digit_of_either_case_has_its_value_and_nothing_else_has_one)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	static const int values[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
				     10, 11, 12, 13, 14, 15};

	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		cr_assert_eq(mfs_hex_digit(digits[i]), values[i], "%c", digits[i]);
	for (int c = -128; c < 128; c++)
		if (!strchr(digits, c) || c == 0)
			cr_assert_eq(mfs_hex_digit((char)c), -1, "%d", c);
}

/* The /proc/self/smaps entry holding address a: its range, permissions and
 * VmFlags. 0 when found. */
static int mapping_of(const void *a, uintptr_t *from, uintptr_t *to, char perms[5],
		      char flags[256])
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int found = 0, rc = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s ", &lo, &hi, p) == 3) {
			found = (uintptr_t)a >= lo && (uintptr_t)a < hi;
			if (found) {
				*from = lo;
				*to = hi;
				memcpy(perms, p, 5);
			}
		} else if (found && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, 256, "%.200s", line + 8);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* What the reader's cache keeps its plaintext in: every byte asked for is
 * writable, locked (kept out of swap), out of core dumps, of huge pages
 * when 2 MiB or more, between two pages nobody can touch; and unmapped
 * when given back. Read from the kernel's own account of the mapping. */
Test(crypto, secure_map_gives_locked_guarded_memory_kept_out_of_core_dumps)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t lens[] = {100, (3u << 20) + 5};

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		const size_t len = lens[i], align = len >= (2u << 20) ? 2u << 20 : page;
		const size_t inner = (len + align - 1) / align * align;
		uint8_t *p = mfs_secure_map(len);
		uintptr_t from, to;
		char perms[5], flags[256];

		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % align, 0, "aligned to %zu", align);
		memset(p, 0xa5, len);
		cr_assert_eq(mapping_of(p, &from, &to, perms, flags), 0);
		cr_assert_eq(from, (uintptr_t)p);
		cr_assert_eq(to, (uintptr_t)p + inner, "%zu bytes mapped for %zu", (size_t)(to - from), len);
		cr_assert_str_eq(perms, "rw-p");
#if !defined(__SANITIZE_ADDRESS__) /* ASan's mlock does nothing */
		cr_assert_not_null(strstr(flags, " lo"), "locked: %s", flags);
#endif
		cr_assert_not_null(strstr(flags, " dd"), "not dumped: %s", flags);
		/* (A kernel built without transparent huge pages has no such flag.) */
		if (align > page && access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0)
			cr_assert_not_null(strstr(flags, " hg"), "huge pages asked for: %s", flags);
		cr_assert_eq(mapping_of(p - 1, &from, &to, perms, flags), 0);
		cr_assert_str_eq(perms, "---p", "a guard page before");
		cr_assert_eq(mapping_of(p + inner, &from, &to, perms, flags), 0);
		cr_assert_str_eq(perms, "---p", "a guard page after");
		mfs_secure_unmap(p, len);
		cr_assert_not(mapping_of(p, &from, &to, perms, flags) == 0 &&
				      from == (uintptr_t)p && to == (uintptr_t)p + inner,
			      "unmapped");
	}
	mfs_secure_unmap(NULL, 1);
	cr_assert_null(mfs_secure_map(0));
}
