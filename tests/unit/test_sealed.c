/* crypto/sealed and private channels (fs/channel, grant, identity): who
 * opens a sealed manifest, what a changed or moved one does, what its size
 * says, and keyring records of older volumes. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/canon_json.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/sealed.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/channel/grant.h"
#include "fs/channel/identity.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

#define TS 1700000000000ull

static uint8_t pk[32], other_pk[32], read_key[32], wrong_key[32];
static uint8_t g_pk[3][32], g_sk[3][32];

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	tu_fill_random(pk, sizeof pk, 1);
	tu_fill_random(other_pk, sizeof other_pk, 2);
	tu_fill_random(read_key, sizeof read_key, 3);
	tu_fill_random(wrong_key, sizeof wrong_key, 4);
	for (int i = 0; i < 3; i++)
		mfs_box_keypair(g_pk[i], g_sk[i]);
}

TestSuite(sealed, .init = setup, .timeout = 300);

static const char body[] = "[{\"items\":[],\"title\":\"Films\"}]";

static char *seal_to(const struct mfs_seal_to *to, const uint8_t *channel, uint64_t seq)
{
	char *b64 = NULL;
	size_t len = 0;

	cr_assert_eq(mfs_sealed_seal(&b64, &len, (const uint8_t *)body, strlen(body), channel, seq,
				     to, NULL), 0);
	cr_assert_eq(strlen(b64), len);
	return b64;
}

/* mfs_sealed_open of b64 for (channel, seq): the code, and the body checked
 * when it opened. */
static int open_as(const char *b64, const uint8_t *channel, uint64_t seq, const uint8_t *rk,
		   const uint8_t *sk, const uint8_t *id)
{
	uint8_t *out = NULL;
	size_t len = 99;
	int rc = mfs_sealed_open(&out, &len, b64, strlen(b64), channel, seq, rk, sk, id);

	if (rc == 0) {
		cr_assert_eq(len, strlen(body));
		cr_assert_eq(memcmp(out, body, len), 0);
		cr_assert_eq(out[len], 0);
	} else {
		cr_assert_null(out);
		cr_assert_eq(len, 0);
	}
	mfs_secure_free(out);
	return rc;
}

Test(sealed, the_read_key_and_each_grant_open_nobody_else_does)
{
	struct mfs_seal_to to = {.read_key = read_key, .grants = g_pk, .n_grants = 2};
	char *b64 = seal_to(&to, pk, 7);

	cr_assert_eq(open_as(b64, pk, 7, read_key, NULL, NULL), 0);
	cr_assert_eq(open_as(b64, pk, 7, NULL, g_sk[0], g_pk[0]), 0);
	cr_assert_eq(open_as(b64, pk, 7, NULL, g_sk[1], g_pk[1]), 0);
	cr_assert_eq(open_as(b64, pk, 7, wrong_key, g_sk[2], g_pk[2]), MFS_E_NOKEY);
	cr_assert_eq(open_as(b64, pk, 7, NULL, NULL, NULL), MFS_E_NOKEY);
	/* A grantee's secret with another's public half: its wrap's key differs. */
	cr_assert_eq(open_as(b64, pk, 7, NULL, g_sk[0], g_pk[1]), MFS_E_NOKEY);
	free(b64);

	/* Grants only (no read key), and the read key only. */
	to.read_key = NULL;
	b64 = seal_to(&to, pk, 7);
	cr_assert_eq(open_as(b64, pk, 7, read_key, NULL, NULL), MFS_E_NOKEY);
	cr_assert_eq(open_as(b64, pk, 7, NULL, g_sk[1], g_pk[1]), 0);
	free(b64);
	to = (struct mfs_seal_to){.read_key = read_key};
	b64 = seal_to(&to, pk, 7);
	cr_assert_eq(open_as(b64, pk, 7, NULL, g_sk[0], g_pk[0]), MFS_E_NOKEY);
	free(b64);
	to = (struct mfs_seal_to){0};
	cr_assert_eq(mfs_sealed_seal(&b64, &(size_t){0}, (const uint8_t *)body, 3, pk, 1, &to, NULL),
		     MFS_E_FORMAT, "sealed for nobody");
}

Test(sealed, a_body_moved_to_another_sequence_or_channel_does_not_open)
{
	struct mfs_seal_to to = {.read_key = read_key, .grants = g_pk, .n_grants = 1};
	char *b64 = seal_to(&to, pk, 7);

	cr_assert_eq(open_as(b64, pk, 8, read_key, NULL, NULL), MFS_E_AUTH);
	cr_assert_eq(open_as(b64, pk, 6, NULL, g_sk[0], g_pk[0]), MFS_E_AUTH);
	cr_assert_eq(open_as(b64, other_pk, 7, read_key, NULL, NULL), MFS_E_AUTH);
	free(b64);
}

/* Decodes b64 into bytes, changes byte at, encodes again. */
/* b64 decoded, changed by change(bin, n, arg), encoded again. */
static char *edit(const char *b64, void (*change)(uint8_t *bin, size_t n, const void *arg),
		  const void *arg)
{
	size_t cap = strlen(b64), n = 0, out_len;
	uint8_t *bin = malloc(cap);
	char *out;

	cr_assert_eq(sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &n, NULL,
				       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	change(bin, n, arg);
	out_len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out = malloc(out_len);
	sodium_bin2base64(out, out_len, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	free(bin);
	return out;
}

struct flip_at {
	size_t at;
	uint8_t x;
};

static void flip_byte(uint8_t *bin, size_t n, const void *arg)
{
	const struct flip_at *f = arg;

	cr_assert_lt(f->at, n);
	bin[f->at] ^= f->x;
}

static char *flip(const char *b64, size_t at, uint8_t x)
{
	struct flip_at f = {at, x};

	return edit(b64, flip_byte, &f);
}

Test(sealed, every_changed_byte_is_refused)
{
	struct mfs_seal_to to = {.read_key = read_key};
	char *b64 = seal_to(&to, pk, 3), *bad;
	size_t len = strlen(b64), n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);

	cr_assert_eq(n, 4096);
	/* Every byte of the header, of each of the 4 wraps and a sample of
	 * the body: never opens, never crashes. */
	for (size_t at = 0; at < n; at += at < 7 + 4 * 80 ? 1 : 61) {
		int rc;

		bad = flip(b64, at, 0x01);
		rc = open_as(bad, pk, 3, read_key, NULL, NULL);
		cr_assert(rc == MFS_E_FORMAT || rc == MFS_E_AUTH || rc == MFS_E_NOKEY,
			  "byte %zu changed: rc %d", at, rc);
		free(bad);
	}
	bad = flip(b64, n - 1, 0x80);
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_AUTH, "the tag");
	free(bad);
	bad = flip(b64, 0, 0x20);
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT, "the magic");
	free(bad);
	bad = flip(b64, 5, 0x01); /* 5 wraps: not a power of two */
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT, "the wrap count");
	free(bad);
	/* Truncated, lengthened, a character outside the alphabet, padding. */
	bad = strdup(b64);
	bad[strlen(bad) - 4] = '\0';
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT);
	bad[0] = '+';
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT);
	free(bad);
	cr_assert_eq(asprintf(&bad, "%sAAAA", b64) > 0, 1);
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT);
	free(bad);
	cr_assert_eq(asprintf(&bad, "%s=", b64) > 0, 1);
	cr_assert_eq(open_as(bad, pk, 3, read_key, NULL, NULL), MFS_E_FORMAT);
	free(bad);
	cr_assert_eq(open_as("", pk, 3, read_key, NULL, NULL), MFS_E_FORMAT);
	free(b64);
}

/* Every wrap's ephemeral point replaced by zeros: a point of low order,
 * whose product with any key is zero (libsodium refuses it). */
static void zero_points(uint8_t *bin, size_t n, const void *arg)
{
	size_t wraps = (size_t)bin[5] | (size_t)bin[6] << 8;

	(void)arg;
	for (size_t i = 0; i < wraps; i++) {
		cr_assert_leq(7 + (i + 1) * (32 + 32 + 16), n);
		memset(bin + 7 + i * (32 + 32 + 16), 0, 32);
	}
}

/* A hostile publisher's envelope whose wraps carry low-order points: each
 * is skipped by a grantee (no shared secret to derive), nothing crashes,
 * and the envelope opens for nobody. */
Test(sealed, wraps_with_low_order_points_open_for_nobody)
{
	const uint8_t (*grants)[32] = (const uint8_t (*)[32])g_pk;
	struct mfs_seal_to to = {.read_key = read_key, .grants = grants, .n_grants = 2};
	char *b64 = seal_to(&to, pk, 4), *bad = edit(b64, zero_points, NULL);

	cr_assert_eq(open_as(b64, pk, 4, NULL, g_sk[1], g_pk[1]), 0, "the untouched one opens");
	cr_assert_eq(open_as(bad, pk, 4, NULL, g_sk[0], g_pk[0]), MFS_E_NOKEY);
	cr_assert_eq(open_as(bad, pk, 4, NULL, g_sk[1], g_pk[1]), MFS_E_NOKEY);
	cr_assert_neq(open_as(bad, pk, 4, read_key, NULL, NULL), 0,
		      "the read key's wrap is bound to its point too");
	free(bad);
	free(b64);
}

/* A hostile publisher holds the content key (here: the first 32 bytes of
 * the seed's stream, as mfs_sealed_seal draws them) and seals a body whose
 * framing lies: a length past the plaintext, or bytes in the padding. The
 * tag checks out; the framing must not. Layout as megafs(7) gives it. */
struct reframe {
	const uint8_t *seed, *pk;
	uint64_t seq;
	int pad; /* 0: a length too long by one; 1: a byte of padding set */
};

static void reframe_body(uint8_t *bin, size_t n, const void *arg)
{
	static const char domain[] = "megafs sealed manifest v1";
	static const uint8_t zero_nonce[MFS_AEAD_NONCE_BYTES];
	const struct reframe *f = arg;
	size_t head = 7 + mfs_le_get(bin + 5, 2) * (32 + 32 + MFS_AEAD_TAG_BYTES);
	size_t ad_len = sizeof domain - 1 + 32 + 8 + head, plain_len = n - head - MFS_AEAD_TAG_BYTES;
	uint8_t key[32], *ad = malloc(ad_len), *plain = malloc(plain_len);

	cr_assert(ad && plain && head < n);
	randombytes_buf_deterministic(key, sizeof key, f->seed);
	memcpy(ad, domain, sizeof domain - 1);
	memcpy(ad + sizeof domain - 1, f->pk, 32);
	mfs_le_put(ad + sizeof domain - 1 + 32, f->seq, 8);
	memcpy(ad + sizeof domain - 1 + 40, bin, head);
	cr_assert_eq(mfs_aead_open(plain, bin + head, plain_len, ad, ad_len, zero_nonce, key), 0,
		     "the test reads the envelope as megafs(7) says");
	if (f->pad)
		plain[plain_len - 1] = 1;
	else
		mfs_le_put(plain, plain_len - 4 + 1, 4);
	mfs_aead_seal(bin + head, plain, plain_len, ad, ad_len, zero_nonce, key);
	free(plain);
	free(ad);
}

Test(sealed, a_body_whose_framing_lies_is_refused)
{
	static const uint8_t seed[32] = {42};
	const uint8_t (*grants)[32] = (const uint8_t (*)[32])g_pk;
	struct mfs_seal_to to = {.read_key = read_key, .grants = grants, .n_grants = 1};
	char *b64 = NULL, *bad;
	size_t len = 0;

	cr_assert_eq(mfs_sealed_seal(&b64, &len, (const uint8_t *)body, strlen(body), pk, 5, &to,
				     seed),
		     0);
	cr_assert_eq(open_as(b64, pk, 5, read_key, NULL, NULL), 0);
	for (int pad = 0; pad < 2; pad++) {
		struct reframe f = {seed, pk, 5, pad};

		bad = edit(b64, reframe_body, &f);
		cr_assert_eq(open_as(bad, pk, 5, read_key, NULL, NULL), MFS_E_FORMAT,
			     "%s", pad ? "padding" : "length");
		cr_assert_eq(open_as(bad, pk, 5, NULL, g_sk[0], g_pk[0]), MFS_E_FORMAT);
		free(bad);
	}
	free(b64);
}

/* An owner whose grant names a low-order point (a key no one holds, whose
 * shared secret anyone can compute): nothing is sealed, and it says so. */
Test(sealed, sealing_for_a_low_order_point_is_refused)
{
	static const uint8_t keys[2][32] = {{0}, {1}}; /* order 4 and the identity */
	const uint8_t (*grants)[32] = keys;
	struct mfs_seal_to to = {.read_key = read_key, .grants = grants, .n_grants = 1};
	char *b64 = NULL;
	size_t len = 0;

	for (size_t i = 0; i < 2; i++) {
		to.grants = keys + i;
		cr_assert_eq(mfs_sealed_seal(&b64, &len, (const uint8_t *)body, strlen(body), pk, 1,
					     &to, NULL),
			     MFS_E_FORMAT);
		cr_assert_null(b64);
	}
}

static size_t sealed_size(size_t body_len, size_t grants)
{
	static uint8_t keys[64][32];
	struct mfs_seal_to to = {.read_key = read_key, .grants = keys, .n_grants = grants};
	uint8_t *b = calloc(1, body_len + 1);
	size_t len = 0, n;
	char *b64 = NULL;

	for (size_t i = 0; i < grants; i++)
		memcpy(keys[i], g_pk[i % 3], 32);
	cr_assert_eq(mfs_sealed_seal(&b64, &len, b, body_len, pk, 1, &to, NULL), 0);
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	free(b64);
	free(b);
	return n;
}

Test(sealed, the_size_says_a_bucket_not_the_count)
{
	/* One bucket from an empty body to 3.5 KiB, with 0 to 3 grants. */
	for (size_t g = 0; g <= 3; g++)
		for (size_t body_len = 0; body_len <= 3400; body_len += 850)
			cr_assert_eq(sealed_size(body_len, g), 4096, "%zu bytes, %zu grants", body_len,
				     g);
	cr_assert_eq(sealed_size(5000, 0), 6144);
	cr_assert_eq(sealed_size(7000, 1), 8192);
	cr_assert_eq(sealed_size(100000, 0), 131072);
	cr_assert_eq(sealed_size(150000, 0), 196608);
	cr_assert_eq(mfs_sealed_bucket(0), 4096);
	cr_assert_eq(mfs_sealed_bucket(4097), 6144);
	cr_assert_eq(mfs_sealed_bucket(6145), 8192);
	cr_assert_eq(mfs_sealed_bucket(1u << 24), 1u << 24);
	cr_assert_eq(mfs_sealed_bucket(SIZE_MAX), SIZE_MAX, "no bucket overflows");
	/* 4 to 7 readers: 8 wraps (fillers hide which are real). */
	cr_assert_eq(sealed_size(0, 3), 4096);
	cr_assert_eq(sealed_size(3000, 4), 4096);
	cr_assert_eq(sealed_size(3800, 4), 6144);
}

Test(sealed, the_sealed_form_is_one_collection_no_public_manifest_can_have)
{
	json_t *c = mfs_sealed_collections("QUJD"), *bad;
	const char *b64;
	size_t n;

	cr_assert_eq(mfs_sealed_find(c, &b64, &n), 1);
	cr_assert_str_eq(b64, "QUJD");
	cr_assert_eq(n, 4);
	cr_assert_eq(mfs_channel_title_valid(MFS_SEALED_TITLE), 0);
	bad = json_pack("[{s:[s,s], s:s}]", "items", "a", "b", "title", MFS_SEALED_TITLE);
	cr_assert_eq(mfs_sealed_find(bad, &b64, &n), MFS_E_FORMAT);
	json_decref(bad);
	/* Found by fuzz_sealed (4.1 M runs): an empty envelope is no envelope. */
	bad = json_pack("[{s:[s], s:s}]", "items", "", "title", MFS_SEALED_TITLE);
	cr_assert_eq(mfs_sealed_find(bad, &b64, &n), MFS_E_FORMAT);
	cr_assert_null(b64);
	json_decref(bad);
	bad = json_pack("[{s:[s], s:s}]", "items", "QUJD", "title", "Films");
	cr_assert_eq(mfs_sealed_find(bad, &b64, &n), 0);
	json_decref(bad);
	cr_assert_eq(json_array_append_new(c, json_pack("{s:[], s:s}", "items", "title", "x")), 0);
	cr_assert_eq(mfs_sealed_find(c, &b64, &n), 0, "two collections: a public manifest");
	json_decref(c);
}

Test(sealed, links_parse_strictly)
{
	struct mfs_link l;
	char hex[65], text[300], out[MFS_LINK_FULL_BYTES];

	mfs_hex_encode(hex, pk, 32);
	snprintf(text, sizeof text, "megafs://%s", hex);
	cr_assert_eq(mfs_link_parse_full(&l, text), 0);
	cr_assert_eq(l.kind, MFS_LINK_PUBLIC);
	mfs_link_format_private(out, pk, read_key);
	cr_assert_eq(mfs_link_parse_full(&l, out), 0);
	cr_assert_eq(l.kind, MFS_LINK_READ_KEY);
	cr_assert_eq(memcmp(l.read_key, read_key, 32), 0);
	cr_assert_eq(memcmp(l.pk, pk, 32), 0);
	mfs_link_format_private(out, pk, NULL);
	cr_assert_eq(mfs_link_parse_full(&l, out), 0);
	cr_assert_eq(l.kind, MFS_LINK_BY_GRANT);
	const char *bad[] = {"#", "#grant ", "#GRANT", "#00", "##", "#grant#", "x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "megafs://%s%s", hex, bad[i]);
		cr_assert_eq(mfs_link_parse_full(&l, text), MFS_E_FORMAT, "%s", text);
	}
	mfs_link_format_private(out, pk, read_key);
	out[strlen(out) - 1] = 'A';
	cr_assert_eq(mfs_link_parse_full(&l, out), MFS_E_FORMAT, "upper-case hex");
	snprintf(text, sizeof text, "megafs://#%s", hex);
	cr_assert_eq(mfs_link_parse_full(&l, text), MFS_E_FORMAT);
	snprintf(text, sizeof text, "%s#grant", hex);
	cr_assert_eq(mfs_link_parse_full(&l, text), 0, "bare hex with a fragment");
	uint8_t got[32];
	mfs_link_format_private(out, pk, read_key);
	cr_assert_eq(mfs_link_parse(got, out), 0);
	cr_assert_eq(memcmp(got, pk, 32), 0);
}

/* ---- private channels in volumes ---- */

static struct tu_fixture a, b;

static void vol_setup(void)
{
	setup();
	tu_fixture_open(&a, 512);
	tu_fixture_open(&b, 512);
}

static void vol_teardown(void)
{
	tu_fixture_close(&a);
	tu_fixture_close(&b);
}

TestSuite(private, .init = vol_setup, .fini = vol_teardown, .timeout = 300);

static json_t *files(const char *name)
{
	json_t *c = json_pack("[{s:[{s:i, s:[], s:s, s:i, s:s, s:i}], s:s}]", "items", "chunkSize",
			      1048576, "chunks", "mode", "convergent", "mtime", 0, "name", name,
			      "size", 0, "title", "");

	cr_assert_not_null(c);
	return c;
}

static void new_private(struct mfs_volume *v, uint8_t out[32])
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_keyring_new_private(t, "Films", out), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

static void publish(struct mfs_volume *v, const uint8_t *channel, json_t *cols, uint64_t ts)
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_channel_publish(t, channel, cols, ts, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	json_decref(cols);
}

static char *signed_manifest(struct mfs_volume *v, const uint8_t *channel, size_t *len)
{
	struct mfs_vtxn *t;
	char *json = NULL;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_channel_manifest(t, channel, &json, len), 0);
	mfs_vtxn_abort(t);
	return json;
}

static int accept_in(struct mfs_volume *v, const char *json, size_t len, char *why)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	rc = mfs_channel_accept(t, json, len, 1, NULL, why, 512);
	if (rc == 0)
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	else
		mfs_vtxn_abort(t);
	return rc;
}

/* The name of the first file of the volume's opened manifest of channel. */
static int first_name(struct mfs_volume *v, const uint8_t *channel, char *out)
{
	struct mfs_manifest m;
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	rc = mfs_channel_open(t, channel, &m);
	mfs_vtxn_abort(t);
	if (rc == 0) {
		json_t *e = json_array_get(json_object_get(json_array_get(m.collections, 0), "items"), 0);
		strcpy(out, json_string_value(json_object_get(e, "name")));
	}
	mfs_manifest_clear(&m);
	return rc;
}

static void give_key(struct mfs_volume *v, const uint8_t *channel, const uint8_t *rk)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	rc = mfs_keyring_subscribe(t, channel, "");
	cr_assert(rc == 0 || rc == MFS_E_EXISTS);
	cr_assert_eq(mfs_keyring_set_private(t, channel, rk), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

static void read_key_of(struct mfs_volume *v, const uint8_t *channel, uint8_t *rk)
{
	struct mfs_channel_secret *s = mfs_secure_alloc(sizeof *s);
	struct mfs_channel ch;

	cr_assert_eq(mfs_channel_find(v, channel, &ch, s), 0);
	cr_assert(ch.sealed && ch.has_read_key);
	memcpy(rk, s->read_key, 32);
	mfs_secure_free(s);
}

Test(private, a_sealed_manifest_holds_no_name_and_opens_with_the_read_key_only)
{
	uint8_t ch[32], rk[32];
	char why[512] = "", name[300];
	size_t len;
	char *json;

	new_private(a.vol, ch);
	publish(a.vol, ch, files("secret-name.mkv"), TS);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_null(strstr(json, "secret-name"));
	cr_assert_null(strstr(json, "chunkSize"));
	cr_assert_not_null(strstr(json, MFS_SEALED_TITLE));
	/* The owner reads its own. */
	cr_assert_eq(first_name(a.vol, ch, name), 0);
	cr_assert_str_eq(name, "secret-name.mkv");
	/* No key: refused, nothing stored, the reason says what to ask for. */
	cr_assert_eq(accept_in(b.vol, json, len, why), MFS_E_NOKEY);
	cr_assert_not_null(strstr(why, "no key of this volume opens"), "%s", why);
	cr_assert_not_null(strstr(why, "megafs id"), "%s", why);
	cr_assert_eq(first_name(b.vol, ch, name), MFS_E_NOTFOUND);
	/* With the read key. */
	read_key_of(a.vol, ch, rk);
	give_key(b.vol, ch, rk);
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	cr_assert_eq(first_name(b.vol, ch, name), 0);
	cr_assert_str_eq(name, "secret-name.mkv");
	free(json);
}

Test(private, a_re_signed_body_moved_to_another_sequence_or_channel_is_refused)
{
	uint8_t ch[32], ch2[32], rk[32], rk2[32];
	struct mfs_channel_secret *s = mfs_secure_alloc(sizeof *s);
	struct mfs_manifest m;
	char why[512] = "", *json, *forged = NULL;
	size_t len, flen;

	struct mfs_vtxn *t;
	uint8_t id[32];

	new_private(a.vol, ch);
	new_private(a.vol, ch2);
	/* b reads channel 1 by its read key and by a grant to its identity,
	 * channel 2 by its own read key: the identity opens channel 1's wrap
	 * wherever the body goes. */
	cr_assert_eq(mfs_vtxn_begin(b.vol, 1, &t), 0);
	cr_assert_eq(mfs_identity_get(t, 1, id, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_grants_put(t, ch, id, TS + 100000), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	publish(a.vol, ch, files("one"), TS);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(mfs_manifest_verify(&m, json, len, ch, 0, NULL, 0), 0);
	read_key_of(a.vol, ch, rk);
	read_key_of(a.vol, ch2, rk2);
	give_key(b.vol, ch, rk);
	give_key(b.vol, ch2, rk2);
	/* The owner's own key signs sequence 2 around sequence 1's body (the
	 * signature holds: only the seal's binding refuses it). */
	cr_assert_eq(mfs_channel_find(a.vol, ch, NULL, s), 0);
	cr_assert_eq(mfs_manifest_sign(&forged, &flen, 2, TS + 1, m.collections, ch, s->sk), 0);
	cr_assert_eq(accept_in(b.vol, forged, flen, why), MFS_E_AUTH);
	cr_assert_not_null(strstr(why, "moved from another channel or sequence"), "%s", why);
	free(forged);
	/* Channel 2's key signs its sequence 1 around channel 1's body. */
	cr_assert_eq(mfs_channel_find(a.vol, ch2, NULL, s), 0);
	cr_assert_eq(mfs_manifest_sign(&forged, &flen, 1, TS, m.collections, ch2, s->sk), 0);
	cr_assert_eq(accept_in(b.vol, forged, flen, why), MFS_E_AUTH);
	free(forged);
	/* The genuine one still goes in. */
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	mfs_manifest_clear(&m);
	mfs_secure_free(s);
	free(json);
}

static void grant(struct mfs_volume *v, const uint8_t *channel, const uint8_t *key,
		  uint64_t expires)
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_grants_put(t, channel, key, expires), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

Test(private, grants_read_until_their_expiry_or_revocation)
{
	uint8_t ch[32], id[32];
	struct mfs_vtxn *t;
	char why[512] = "", name[300], *json;
	size_t len;

	new_private(a.vol, ch);
	cr_assert_eq(mfs_vtxn_begin(b.vol, 1, &t), 0);
	cr_assert_eq(mfs_identity_get(t, 0, id, NULL), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_identity_get(t, 1, id, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	grant(a.vol, ch, id, TS + 1000);
	publish(a.vol, ch, files("before"), TS);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	free(json);
	/* Published at the expiry: sealed without the grant. */
	publish(a.vol, ch, files("after"), TS + 1000);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), MFS_E_NOKEY);
	free(json);
	cr_assert_eq(first_name(b.vol, ch, name), 0);
	cr_assert_str_eq(name, "before", "what it read stays readable");
	/* Renewed, then revoked. */
	grant(a.vol, ch, id, TS + 100000);
	publish(a.vol, ch, files("renewed"), TS + 2000);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	free(json);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_grants_remove(t, ch, id), 0);
	cr_assert_eq(mfs_grants_remove(t, ch, id), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	publish(a.vol, ch, files("revoked"), TS + 3000);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), MFS_E_NOKEY);
	free(json);
	cr_assert_eq(first_name(b.vol, ch, name), 0);
	cr_assert_str_eq(name, "renewed");
	cr_assert_eq(first_name(a.vol, ch, name), 0);
	cr_assert_str_eq(name, "revoked", "the owner reads every one");
}

Test(private, grants_persist_sorted_and_bounded)
{
	uint8_t ch[32], k[3][32];
	struct mfs_grant_list l;
	struct mfs_vtxn *t;
	uint8_t(*keys)[32] = NULL;
	size_t n;

	new_private(a.vol, ch);
	for (int i = 0; i < 3; i++)
		tu_fill_random(k[i], 32, 10 + (uint64_t)i);
	grant(a.vol, ch, k[0], 50);
	grant(a.vol, ch, k[1], 100);
	grant(a.vol, ch, k[2], 150);
	grant(a.vol, ch, k[0], 200); /* renewed: still three */
	cr_assert_eq(mfs_vtxn_begin(a.vol, 0, &t), 0);
	cr_assert_eq(mfs_grants_load(t, ch, &l), 0);
	mfs_vtxn_abort(t);
	cr_assert_eq(l.count, 3);
	for (size_t i = 1; i < l.count; i++)
		cr_assert_lt(memcmp(l.items[i - 1].key, l.items[i].key, 32), 0);
	cr_assert_eq(mfs_grants_valid(&l, 120, &keys, &n), 0);
	cr_assert_eq(n, 2, "k[0] (200) and k[2] (150) are valid at 120");
	free(keys);
	mfs_grants_clear(&l);
}

Test(private, rekey_leaves_the_old_read_key_behind)
{
	uint8_t ch[32], old[32], fresh[32];
	struct mfs_vtxn *t;
	char why[512] = "", name[300], *json;
	size_t len;

	new_private(a.vol, ch);
	read_key_of(a.vol, ch, old);
	give_key(b.vol, ch, old);
	publish(a.vol, ch, files("one"), TS);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	free(json);
	tu_fill_random(fresh, 32, 99);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_keyring_set_private(t, ch, fresh), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	publish(a.vol, ch, files("two"), TS + 1);
	json = signed_manifest(a.vol, ch, &len);
	cr_assert_eq(accept_in(b.vol, json, len, why), MFS_E_NOKEY);
	give_key(b.vol, ch, fresh);
	cr_assert_eq(accept_in(b.vol, json, len, why), 0, "%s", why);
	free(json);
	cr_assert_eq(first_name(b.vol, ch, name), 0);
	cr_assert_str_eq(name, "two");
}

Test(private, keyring_records_of_older_volumes_read_as_public)
{
	/* One record as format-3 keyrings wrote it: flags 1 (owned), no read key. */
	uint8_t raw[4 + 138 + 2] = {0};
	struct mfs_channel_list list;
	struct mfs_vtxn *t;

	mfs_le_put(raw, 1, 4);
	raw[4] = 1;
	memcpy(raw + 5, pk, 32);
	mfs_le_put(raw + 4 + 129, 5, 8);
	raw[4 + 137] = 2;
	memcpy(raw + 4 + 138, "Hi", 2);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "\0keyring", 8, raw, sizeof raw), 0);
	cr_assert_eq(mfs_keyring_load(t, &list), 0);
	cr_assert_eq(list.count, 1);
	cr_assert(list.items[0].owned && !list.items[0].sealed && !list.items[0].has_read_key);
	cr_assert_eq(list.items[0].sequence, 5);
	cr_assert_str_eq(list.items[0].title, "Hi");
	mfs_keyring_clear(&list);
	raw[4] = 8; /* an unknown flag: refused, not guessed at */
	cr_assert_eq(mfs_obj_write(t, "\0keyring", 8, raw, sizeof raw), 0);
	cr_assert_eq(mfs_keyring_load(t, &list), MFS_E_CORRUPT);
	raw[4] = 4; /* a read key without the private flag */
	cr_assert_eq(mfs_obj_write(t, "\0keyring", 8, raw, sizeof raw), 0);
	cr_assert_eq(mfs_keyring_load(t, &list), MFS_E_CORRUPT);
	mfs_vtxn_abort(t);
}
