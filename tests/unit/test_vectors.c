/* Golden vectors: each of megafs's formats made from fixed inputs (keys,
 * times, contents) and compared byte for byte with a file in tests/vectors/,
 * as libsodium's tests compare with their .exp files. A test that fails
 * here means the bytes megafs writes changed: peers and stores made by the
 * old code would no longer agree. If the change is meant (a new format
 * version), run this test once with MFS_WRITE_VECTORS=1 to rewrite the
 * files, and say so in the commit.
 *
 * The store header is made by fs/store/store.c's own header_encode: this
 * file includes store.c (its functions take the place of the library's),
 * so nothing is made public for the test. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/chunk.h"
#include "crypto/hash.h"
#include "crypto/manifest.h"
#include "crypto/sealed.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/store/store.c"
#include "tests/unit/testutil.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
}

TestSuite(vectors, .init = setup);

static void golden(const char *name, const void *bytes, size_t len)
{
	tu_golden(MFS_VECTORS_DIR, name, bytes, len);
}

static void fill(uint8_t *p, size_t len, uint8_t first)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

/* A two-chunk file: 65536 + 34464 bytes. */
static void golden_entry(struct mfs_file_entry *e, struct mfs_chunk_ref chunks[static 2])
{
	memset(e, 0, sizeof *e);
	strcpy(e->name, "golden.txt");
	e->size = 100000;
	e->mtime = 1764806400;
	e->chunk_size = MFS_CHUNK_SIZE_MIN;
	e->mode = MFS_MODE_CONVERGENT;
	e->chunk_count = 2;
	fill(chunks[0].id, MFS_BLOB_ID_BYTES, 0x10);
	fill(chunks[0].key, MFS_CHUNK_KEY_BYTES, 0x80);
	chunks[0].length = 65536;
	fill(chunks[1].id, MFS_BLOB_ID_BYTES, 0x30);
	fill(chunks[1].key, MFS_CHUNK_KEY_BYTES, 0xa0);
	chunks[1].length = 34464;
	e->chunks = chunks;
}

static char *entry_text(size_t *len)
{
	struct mfs_chunk_ref chunks[2];
	struct mfs_file_entry e;
	json_t *json;
	char *text;

	golden_entry(&e, chunks);
	cr_assert_eq(mfs_entry_to_json(&json, &e), 0);
	cr_assert_eq(mfs_cjson_encode(&text, len, json), 0);
	json_decref(json);
	return text;
}

Test(vectors, a_file_entry_as_json)
{
	struct mfs_file_entry back;
	char *text;
	size_t len;
	json_t *json;

	text = entry_text(&len);
	golden("fileentry.json", text, len);
	cr_assert_eq(mfs_cjson_parse(&json, text, len, NULL, 0), 0);
	cr_assert_eq(mfs_entry_from_json(&back, json, NULL, 0), 0);
	cr_assert_eq(back.chunk_count, 2);
	cr_assert_eq(back.chunks[1].length, 34464);
	mfs_entry_clear(&back);
	json_decref(json);
	free(text);
}

/* Signed with the Ed25519 key of seed 00 01 ... 1f, sequence 3, at
 * 2025-12-04T00:00:00Z; Ed25519 signatures are deterministic. */
/* The collections both manifest vectors carry: the file entry above and a
 * magnet link, titled "Golden" (a new reference). */
static json_t *golden_collections(void)
{
	size_t len;
	char *text = entry_text(&len);
	json_t *entry = json_loadb(text, len, 0, NULL), *cols;

	free(text);
	cr_assert_not_null(entry);
	cols = json_pack("[{s:[o, s], s:s}]", "items", entry,
			 "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "title",
			 "Golden");
	cr_assert_not_null(cols);
	return cols;
}

Test(vectors, a_manifest_signed_with_a_fixed_key)
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[MFS_SIGN_PK_BYTES], sk[MFS_SIGN_SK_BYTES];
	struct mfs_manifest m;
	json_t *cols;
	char *text, why[160];
	size_t len;

	fill(seed, sizeof seed, 0);
	cr_assert_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	cols = golden_collections();
	cr_assert_eq(mfs_manifest_sign(&text, &len, 3, 1764806400000ull, cols, pk, sk), 0);
	golden("manifest.json", text, len);
	cr_assert_eq(mfs_manifest_verify(&m, text, len, pk, 2, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.sequence, 3);
	cr_assert_eq(m.timestamp, 1764806400000ull);
	mfs_manifest_clear(&m);
	json_decref(cols);
	free(text);
	sodium_memzero(sk, sizeof sk);
}

/* A private channel's manifest: the channel of seed 00 01 ... 1f, read
 * key 40 41 ... 5f, one grant to the X25519 key of secret 60 61 ... 7f,
 * every random choice of the seal from seed 80 81 ... 9f, sequence 1. The
 * file entry and magnet of the manifest above, sealed. */
Test(vectors, a_sealed_manifest_from_fixed_keys)
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[MFS_SIGN_PK_BYTES], sk[MFS_SIGN_SK_BYTES];
	uint8_t read_key[32], g_sk[32], g_pk[1][32], rnd[32], *body;
	struct mfs_seal_to to = {.read_key = read_key, .grants = g_pk, .n_grants = 1};
	struct mfs_manifest m;
	json_t *cols, *sealed;
	char *plain, *b64, *text, why[160];
	size_t plain_len, b64_len, len, body_len;

	fill(seed, sizeof seed, 0);
	cr_assert_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	fill(read_key, 32, 0x40);
	fill(g_sk, 32, 0x60);
	cr_assert_eq(mfs_box_public(g_pk[0], g_sk), 0);
	fill(rnd, 32, 0x80);
	cols = golden_collections();
	cr_assert_eq(mfs_cjson_encode(&plain, &plain_len, cols), 0);
	cr_assert_eq(mfs_sealed_seal(&b64, &b64_len, (const uint8_t *)plain, plain_len, pk, 1, &to,
				     rnd), 0);
	sealed = mfs_sealed_collections(b64);
	cr_assert_eq(mfs_manifest_sign(&text, &len, 1, 1764806400000ull, sealed, pk, sk), 0);
	golden("sealed-manifest.json", text, len);
	cr_assert_null(strstr(text, "golden.txt"));
	/* It verifies as seed 004 says, and opens for both readers. */
	cr_assert_eq(mfs_manifest_verify(&m, text, len, pk, 0, why, sizeof why), 0, "%s", why);
	mfs_manifest_clear(&m);
	cr_assert_eq(mfs_sealed_open(&body, &body_len, b64, b64_len, pk, 1, read_key, NULL, NULL), 0);
	cr_assert_eq(body_len, plain_len);
	cr_assert_arr_eq(body, plain, plain_len);
	mfs_secure_free(body);
	cr_assert_eq(mfs_sealed_open(&body, &body_len, b64, b64_len, pk, 1, NULL, g_sk, g_pk[0]), 0);
	cr_assert_arr_eq(body, plain, plain_len);
	mfs_secure_free(body);
	json_decref(cols);
	json_decref(sealed);
	free(plain);
	free(b64);
	free(text);
}

/* 5000 bytes of text under its convergent key (secret 32 x 0x42): padded
 * to 8192, one segment. blob.bin is the sealed blob, blob.id its id and
 * key in hex. */
Test(vectors, a_sealed_blob_and_its_id)
{
	static const char line[] = "megafs golden chunk: the quick brown fox jumps over it.\n";
	uint8_t plain[5000], secret[32], key[MFS_CHUNK_KEY_BYTES], id[MFS_BLOB_ID_BYTES];
	uint8_t back[5000], *blob;
	char ids[2 * MFS_BLOB_ID_BYTES + 1 + 2 * MFS_CHUNK_KEY_BYTES + 2];
	size_t blob_len = mfs_blob_len(mfs_chunk_padded_len(sizeof plain));

	for (size_t i = 0; i < sizeof plain; i++)
		plain[i] = (uint8_t)line[i % (sizeof line - 1)];
	memset(secret, 0x42, sizeof secret);
	mfs_chunk_key_convergent(key, plain, sizeof plain, secret);
	cr_assert_eq(blob_len, 8192 + 16);
	blob = malloc(blob_len);
	cr_assert_not_null(blob);
	mfs_chunk_seal(blob, plain, sizeof plain, key);
	mfs_blob_id(id, blob, blob_len);
	mfs_hex_encode(ids, id, sizeof id);
	ids[2 * MFS_BLOB_ID_BYTES] = '\n';
	mfs_hex_encode(ids + 2 * MFS_BLOB_ID_BYTES + 1, key, sizeof key);
	ids[sizeof ids - 2] = '\n';
	golden("blob.bin", blob, blob_len);
	golden("blob.id", ids, sizeof ids - 1);
	cr_assert_eq(mfs_chunk_open_range(back, blob, blob_len, 0, sizeof back, key), 0);
	cr_assert_arr_eq(back, plain, sizeof plain);
	free(blob);
}

/* Keys out of order, nesting, escapes, non-ASCII, a large integer. */
Test(vectors, canonical_json_of_a_fixed_object)
{
	json_t *obj = json_pack("{s:[i, i, {s:b, s:n}], s:s, s:I, s:{}, s:s}", "zeta", 3, -1, "b",
				1, "a", "alpha", "h\xc3\xa9llo \"q\" \\ \x01 \xe2\x98\x83 \xf0\x9f\x98\x80",
				"Mid", (json_int_t)9007199254740993, "", "tab", "a\tb\n");
	json_t *back;
	char *text;
	size_t len;

	cr_assert_not_null(obj);
	cr_assert_eq(mfs_cjson_encode(&text, &len, obj), 0);
	golden("canon.json", text, len);
	cr_assert_eq(mfs_cjson_parse(&back, text, len, NULL, 0), 0);
	cr_assert(json_equal(back, obj));
	json_decref(back);
	json_decref(obj);
	free(text);
}

Test(vectors, a_store_header_of_fixed_fields)
{
	struct mfs_store_header h = {
		.version = STORE_VERSION,
		.slot_bytes = MFS_SLOT_BYTES,
		.slot_count = 1024,
		.map_bytes = UINT64_C(1024) * 65536 + 131072,
		.kdf = {.ops = 3, .mem = UINT64_C(64) << 20},
	}, back;
	uint8_t bytes[HEADER_BYTES];

	fill(h.salt, sizeof h.salt, 0xc0);
	header_encode(bytes, &h);
	golden("store_header.bin", bytes, sizeof bytes);
	cr_assert_eq(header_decode(&back, bytes), 0);
	cr_assert_eq(back.slot_count, h.slot_count);
	cr_assert_eq(back.map_bytes, h.map_bytes);
	cr_assert_arr_eq(back.salt, h.salt, sizeof h.salt);
}
