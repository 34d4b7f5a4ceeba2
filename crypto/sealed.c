#include "crypto/sealed.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define MAGIC "mfsS"
#define VERSION 1
#define HEADER 7
#define WRAP (MFS_BOX_KEY_BYTES + 32 + MFS_AEAD_TAG_BYTES)
#define MIN_WRAPS 4
#define MIN_BUCKET 4096
#define DOMAIN "megafs sealed manifest v1"
/* label(2) | E | recipient (zeros for the read key). The wraps are not
 * bound to the manifest: the content key is fresh for each, and the body
 * (bound to channel and sequence) opens under no other. A moved envelope
 * thus unwraps and then fails as moved (MFS_E_AUTH), not as keyless. */
#define KDF_INPUT (2 + 2 * MFS_BOX_KEY_BYTES)

static const uint8_t zero_nonce[MFS_AEAD_NONCE_BYTES];

size_t mfs_sealed_bucket(size_t n)
{
	size_t b = MIN_BUCKET;

	if (n <= b)
		return b;
	while (b < n) {
		if (b / 2 * 3 >= n)
			return b / 2 * 3;
		if (b > SIZE_MAX / 2)
			return SIZE_MAX;
		b *= 2;
	}
	return b;
}

void mfs_box_keypair(uint8_t pk[static MFS_BOX_KEY_BYTES], uint8_t sk[static MFS_BOX_KEY_BYTES])
{
	crypto_box_keypair(pk, sk);
}

int mfs_box_public(uint8_t pk[static MFS_BOX_KEY_BYTES], const uint8_t sk[static MFS_BOX_KEY_BYTES])
{
	return crypto_scalarmult_base(pk, sk) == 0 ? 0 : MFS_E_FORMAT;
}

/* The key that wraps the content key in the wrap whose point is e: keyed by
 * the read key (recipient NULL) or by the X25519 secret shared with
 * recipient. */
static void wrap_key(uint8_t kek[static 32], const uint8_t secret[static 32],
		     const uint8_t e[static MFS_BOX_KEY_BYTES], const uint8_t *recipient)
{
	uint8_t in[KDF_INPUT];

	in[0] = 'w';
	in[1] = recipient ? 'g' : 'r';
	memcpy(in + 2, e, MFS_BOX_KEY_BYTES);
	if (recipient)
		memcpy(in + 2 + MFS_BOX_KEY_BYTES, recipient, MFS_BOX_KEY_BYTES);
	else
		memset(in + 2 + MFS_BOX_KEY_BYTES, 0, MFS_BOX_KEY_BYTES);
	mfs_keyed_hash(kek, 32, secret, in, sizeof in, NULL, 0);
}

/* Associated data of the body: domain | channel | sequence | header and
 * wraps. *ad is malloc'ed. */
static int body_ad(uint8_t **ad, size_t *ad_len, const uint8_t *pk, uint64_t seq,
		   const uint8_t *head, size_t head_len)
{
	size_t n = sizeof DOMAIN - 1 + MFS_SIGN_PK_BYTES + 8 + head_len;
	uint8_t *p = malloc(n);

	if (!p)
		return -ENOMEM;
	memcpy(p, DOMAIN, sizeof DOMAIN - 1);
	memcpy(p + sizeof DOMAIN - 1, pk, MFS_SIGN_PK_BYTES);
	mfs_le_put(p + sizeof DOMAIN - 1 + MFS_SIGN_PK_BYTES, seq, 8);
	memcpy(p + sizeof DOMAIN - 1 + MFS_SIGN_PK_BYTES + 8, head, head_len);
	*ad = p;
	*ad_len = n;
	return 0;
}

/* Writes wrap number `slot` of the envelope: for recipient r (an index in
 * 0..n_real-1: 0 is the read key when there is one), or a filler when r <
 * 0. rnd holds the wrap's 32-byte scalar then 48 filler bytes. */
static int write_wrap(uint8_t *w, long r, const struct mfs_seal_to *to, const uint8_t *rnd,
		      const uint8_t *content_key)
{
	uint8_t shared[32], kek[32];
	const uint8_t *recipient;
	int rc = 0;

	if (crypto_scalarmult_base(w, rnd) != 0)
		return MFS_E_FORMAT; /* never: a clamped scalar */
	if (r < 0) {
		memcpy(w + MFS_BOX_KEY_BYTES, rnd + 32, WRAP - MFS_BOX_KEY_BYTES);
		return 0;
	}
	if (to->read_key && r == 0) {
		wrap_key(kek, to->read_key, w, NULL);
	} else {
		recipient = to->grants[r - (to->read_key ? 1 : 0)];
		if (crypto_scalarmult(shared, rnd, recipient) != 0)
			rc = MFS_E_FORMAT; /* a low-order point is nobody's key */
		else
			wrap_key(kek, shared, w, recipient);
	}
	if (rc == 0)
		mfs_aead_seal(w + MFS_BOX_KEY_BYTES, content_key, 32, NULL, 0, zero_nonce, kek);
	mfs_memzero(shared, sizeof shared);
	mfs_memzero(kek, sizeof kek);
	return rc;
}

int mfs_sealed_seal(char **out, size_t *out_len, const uint8_t *body, size_t len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES], uint64_t seq,
		    const struct mfs_seal_to *to, const uint8_t *seed)
{
	size_t n_real = (to->read_key ? 1 : 0) + to->n_grants, wraps = MIN_WRAPS, need, total;
	size_t rnd_len, plain_len, head_len, ad_len = 0, b64_len;
	uint8_t *rnd = NULL, *plain = NULL, *env = NULL, *ad = NULL;
	uint32_t *perm = NULL;
	long *who = NULL;
	char *b64 = NULL;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (n_real == 0 || to->n_grants > MFS_SEALED_MAX_GRANTS || len > UINT32_MAX ||
	    len > SIZE_MAX / 2)
		return MFS_E_FORMAT;
	while (wraps < n_real)
		wraps *= 2;
	head_len = HEADER + wraps * WRAP;
	need = head_len + 4 + len + MFS_AEAD_TAG_BYTES;
	total = mfs_sealed_bucket(need);
	plain_len = total - head_len - MFS_AEAD_TAG_BYTES;
	rnd_len = 32 + wraps * (32 + WRAP - MFS_BOX_KEY_BYTES) + wraps * 4;
	rnd = mfs_secure_alloc(rnd_len);
	plain = mfs_secure_alloc(plain_len);
	env = malloc(total);
	perm = malloc(wraps * sizeof *perm);
	who = malloc(wraps * sizeof *who);
	if (!rnd || !plain || !env || !perm || !who) {
		rc = -ENOMEM;
		goto out;
	}
	if (seed)
		randombytes_buf_deterministic(rnd, rnd_len, seed);
	else
		mfs_random(rnd, rnd_len);
	/* Fisher-Yates: recipient k sits at wrap perm[k]. */
	for (size_t i = 0; i < wraps; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = wraps - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(mfs_le_get(rnd + rnd_len - 4 * (i + 1), 4) % (i + 1)), t;

		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < wraps; i++)
		who[i] = -1;
	for (size_t k = 0; k < n_real; k++)
		who[perm[k]] = (long)k;
	memcpy(env, MAGIC, 4);
	env[4] = VERSION;
	mfs_le_put(env + 5, wraps, 2);
	for (size_t i = 0; rc == 0 && i < wraps; i++)
		rc = write_wrap(env + HEADER + i * WRAP, who[i], to,
				rnd + 32 + i * (32 + WRAP - MFS_BOX_KEY_BYTES), rnd);
	if (rc == 0)
		rc = body_ad(&ad, &ad_len, pk, seq, env, head_len);
	if (rc != 0)
		goto out;
	memset(plain, 0, plain_len);
	mfs_le_put(plain, len, 4);
	if (len)
		memcpy(plain + 4, body, len);
	mfs_aead_seal(env + head_len, plain, plain_len, ad, ad_len, zero_nonce, rnd);
	b64_len = sodium_base64_encoded_len(total, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	b64 = malloc(b64_len);
	if (!b64) {
		rc = -ENOMEM;
		goto out;
	}
	sodium_bin2base64(b64, b64_len, env, total, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = b64;
	*out_len = strlen(b64);
out:
	mfs_secure_free(rnd);
	mfs_secure_free(plain);
	free(env);
	free(ad);
	free(perm);
	free(who);
	return rc;
}

/* The content key from the first wrap that opens with the read key or the
 * X25519 pair: 0 or MFS_E_NOKEY. */
static int unwrap(uint8_t content_key[static 32], const uint8_t *env, size_t wraps,
		  const uint8_t *read_key, const uint8_t *id_sk, const uint8_t *id_pk)
{
	uint8_t shared[32], kek[32];
	int rc = MFS_E_NOKEY;

	for (size_t i = 0; rc != 0 && read_key && i < wraps; i++) {
		const uint8_t *w = env + HEADER + i * WRAP;

		wrap_key(kek, read_key, w, NULL);
		if (mfs_aead_open(content_key, w + MFS_BOX_KEY_BYTES, 32, NULL, 0, zero_nonce,
				  kek) == 0)
			rc = 0;
	}
	for (size_t i = 0; rc != 0 && id_sk && id_pk && i < wraps; i++) {
		const uint8_t *w = env + HEADER + i * WRAP;

		if (crypto_scalarmult(shared, id_sk, w) != 0)
			continue;
		wrap_key(kek, shared, w, id_pk);
		if (mfs_aead_open(content_key, w + MFS_BOX_KEY_BYTES, 32, NULL, 0, zero_nonce,
				  kek) == 0)
			rc = 0;
	}
	mfs_memzero(shared, sizeof shared);
	mfs_memzero(kek, sizeof kek);
	return rc;
}

int mfs_sealed_open(uint8_t **body, size_t *len, const char *b64, size_t b64_len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES], uint64_t seq,
		    const uint8_t *read_key, const uint8_t *id_sk, const uint8_t *id_pk)
{
	size_t cap = b64_len / 4 * 3 + 3, n = 0, wraps = 0, head_len = 0, plain_len, ad_len = 0;
	uint8_t *env = malloc(cap ? cap : 1), *ad = NULL, *plain = NULL, *key = NULL, *res;
	const char *end = NULL;
	uint64_t body_len;
	int rc = 0;

	*body = NULL;
	*len = 0;
	if (!env)
		return -ENOMEM;
	if (sodium_base642bin(env, cap, b64, b64_len, NULL, &n, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != b64 + b64_len)
		rc = MFS_E_FORMAT;
	if (rc == 0 && (n < HEADER || memcmp(env, MAGIC, 4) != 0 || env[4] != VERSION))
		rc = MFS_E_FORMAT;
	if (rc == 0) {
		wraps = (size_t)mfs_le_get(env + 5, 2);
		head_len = HEADER + wraps * WRAP;
		if (wraps < MIN_WRAPS || wraps > MFS_SEALED_MAX_WRAPS || (wraps & (wraps - 1)) ||
		    n < head_len + 4 + MFS_AEAD_TAG_BYTES || mfs_sealed_bucket(n) != n)
			rc = MFS_E_FORMAT;
	}
	if (rc != 0)
		goto out;
	key = mfs_secure_alloc(32);
	plain_len = n - head_len - MFS_AEAD_TAG_BYTES;
	plain = mfs_secure_alloc(plain_len);
	if (!key || !plain) {
		rc = -ENOMEM;
		goto out;
	}
	rc = unwrap(key, env, wraps, read_key, id_sk, id_pk);
	if (rc == 0)
		rc = body_ad(&ad, &ad_len, pk, seq, env, head_len);
	if (rc == 0 && mfs_aead_open(plain, env + head_len, plain_len, ad, ad_len, zero_nonce,
				     key) != 0)
		rc = MFS_E_AUTH;
	if (rc != 0)
		goto out;
	body_len = mfs_le_get(plain, 4);
	if (body_len > plain_len - 4) {
		rc = MFS_E_FORMAT;
		goto out;
	}
	for (size_t i = 4 + (size_t)body_len; i < plain_len; i++)
		if (plain[i] != 0) {
			rc = MFS_E_FORMAT;
			goto out;
		}
	res = mfs_secure_alloc((size_t)body_len + 1);
	if (!res) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(res, plain + 4, (size_t)body_len);
	res[body_len] = 0;
	*body = res;
	*len = (size_t)body_len;
out:
	free(env);
	free(ad);
	mfs_secure_free(key);
	mfs_secure_free(plain);
	return rc;
}

int mfs_sealed_find(const json_t *collections, const char **b64, size_t *b64_len)
{
	const json_t *c = json_array_get(collections, 0), *title, *items, *item;

	*b64 = NULL;
	*b64_len = 0;
	if (!json_is_array(collections) || json_array_size(collections) != 1 || !json_is_object(c))
		return 0;
	title = json_object_get(c, "title");
	if (!json_is_string(title) || strcmp(json_string_value(title), MFS_SEALED_TITLE) != 0)
		return 0;
	items = json_object_get(c, "items");
	item = json_array_get(items, 0);
	if (json_object_size(c) != 2 || !json_is_array(items) || json_array_size(items) != 1 ||
	    !json_is_string(item) || json_string_length(item) == 0)
		return MFS_E_FORMAT;
	*b64 = json_string_value(item);
	*b64_len = json_string_length(item);
	return 1;
}

json_t *mfs_sealed_collections(const char *b64)
{
	return json_pack("[{s:[s], s:s}]", "items", b64, "title", MFS_SEALED_TITLE);
}
