#include "net/dht_channel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

/* One label per derived key: a key for one use is never another's. */
#define LABEL_SALT "megafs dht salt v1"
#define LABEL_SEAL "megafs dht seal v1"
#define LABEL_PEERS "megafs dht peers v1"
#define LABEL_BLOB "megafs dht manifest blob v1"
#define V_PREFIX "113:"

_Static_assert(MFS_DHT_POINTER_SEALED_BYTES == 113, "the v prefix says 113 bytes");

void mfs_dht_channel_derive(struct mfs_dht_channel_keys *out, const uint8_t secret[static 32],
			    const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	mfs_keyed_hash(out->salt, sizeof out->salt, secret, LABEL_SALT, strlen(LABEL_SALT), pk,
		       MFS_SIGN_PK_BYTES);
	mfs_keyed_hash(out->seal_key, sizeof out->seal_key, secret, LABEL_SEAL, strlen(LABEL_SEAL),
		       pk, MFS_SIGN_PK_BYTES);
	mfs_keyed_hash(out->info_hash, sizeof out->info_hash, secret, LABEL_PEERS,
		       strlen(LABEL_PEERS), pk, MFS_SIGN_PK_BYTES);
}

/* The pointer's additional data: which channel and which item it is for,
 * so that a pointer cannot be moved to another seq or channel. */
static void pointer_ad(uint8_t ad[MFS_SIGN_PK_BYTES + 8], const uint8_t *pk, int64_t seq)
{
	memcpy(ad, pk, MFS_SIGN_PK_BYTES);
	mfs_le_put(ad + MFS_SIGN_PK_BYTES, (uint64_t)seq, 8);
}

void mfs_dht_pointer_seal(uint8_t v[static MFS_DHT_POINTER_V_BYTES],
			  const struct mfs_dht_pointer *p, const struct mfs_dht_channel_keys *keys,
			  const uint8_t pk[static MFS_SIGN_PK_BYTES], int64_t seq,
			  const uint8_t nonce[static 24])
{
	uint8_t plain[MFS_DHT_POINTER_PLAIN_BYTES], ad[MFS_SIGN_PK_BYTES + 8];
	uint8_t *sealed = v + strlen(V_PREFIX);

	plain[0] = MFS_DHT_POINTER_VERSION;
	memcpy(plain + 1, p->blob_id, MFS_BLOB_ID_BYTES);
	memcpy(plain + 1 + MFS_BLOB_ID_BYTES, p->blob_key, 32);
	mfs_le_put(plain + 1 + MFS_BLOB_ID_BYTES + 32, p->length, 8);
	pointer_ad(ad, pk, seq);
	memcpy(v, V_PREFIX, strlen(V_PREFIX));
	memcpy(sealed, nonce, 24);
	mfs_aead_seal(sealed + 24, plain, sizeof plain, ad, sizeof ad, sealed, keys->seal_key);
	mfs_memzero(plain, sizeof plain);
}

int mfs_dht_pointer_open(struct mfs_dht_pointer *out, const uint8_t *v, size_t v_len,
			 const struct mfs_dht_channel_keys *keys,
			 const uint8_t pk[static MFS_SIGN_PK_BYTES], int64_t seq)
{
	uint8_t plain[MFS_DHT_POINTER_PLAIN_BYTES], ad[MFS_SIGN_PK_BYTES + 8];
	const uint8_t *sealed = v + strlen(V_PREFIX);
	int rc;

	/* Canonical bencoding has one spelling of a 113-byte string. */
	if (v_len != MFS_DHT_POINTER_V_BYTES || memcmp(v, V_PREFIX, strlen(V_PREFIX)) != 0)
		return MFS_E_FORMAT;
	pointer_ad(ad, pk, seq);
	rc = mfs_aead_open(plain, sealed + 24, MFS_DHT_POINTER_PLAIN_BYTES, ad, sizeof ad, sealed,
			   keys->seal_key);
	if (rc != 0)
		return MFS_E_AUTH;
	memcpy(out->blob_id, plain + 1, MFS_BLOB_ID_BYTES);
	memcpy(out->blob_key, plain + 1 + MFS_BLOB_ID_BYTES, 32);
	out->length = mfs_le_get(plain + 1 + MFS_BLOB_ID_BYTES + 32, 8);
	rc = plain[0] != MFS_DHT_POINTER_VERSION || out->length <= MFS_AEAD_TAG_BYTES ||
		     out->length > MFS_DHT_MANIFEST_MAX + MFS_AEAD_TAG_BYTES
	     ? MFS_E_FORMAT
	     : 0;
	mfs_memzero(plain, sizeof plain);
	if (rc != 0)
		mfs_memzero(out, sizeof *out);
	return rc;
}

static const uint8_t zero_nonce[MFS_AEAD_NONCE_BYTES];

int mfs_dht_manifest_blob(uint8_t **blob, size_t *blob_len, struct mfs_dht_pointer *p,
			  const char *json, size_t len, const struct mfs_dht_channel_keys *keys)
{
	uint8_t digest[32];

	*blob = NULL;
	if (len == 0 || len > MFS_DHT_MANIFEST_MAX)
		return MFS_E_FORMAT;
	if (!(*blob = malloc(len + MFS_AEAD_TAG_BYTES)))
		return -ENOMEM;
	/* The key depends on the manifest: a zero nonce never repeats under it,
	 * and the same manifest put again makes the same blob. */
	mfs_hash32(digest, json, len);
	mfs_keyed_hash(p->blob_key, sizeof p->blob_key, keys->seal_key, LABEL_BLOB,
		       strlen(LABEL_BLOB), digest, sizeof digest);
	mfs_aead_seal(*blob, (const uint8_t *)json, len, NULL, 0, zero_nonce, p->blob_key);
	*blob_len = len + MFS_AEAD_TAG_BYTES;
	p->length = *blob_len;
	mfs_blob_id(p->blob_id, *blob, *blob_len);
	return 0;
}

int mfs_dht_manifest_open(char **json, size_t *len, const uint8_t *blob, size_t blob_len,
			  const struct mfs_dht_pointer *p)
{
	uint8_t id[MFS_BLOB_ID_BYTES];
	char *out;

	*json = NULL;
	if (blob_len != p->length || blob_len <= MFS_AEAD_TAG_BYTES ||
	    blob_len > MFS_DHT_MANIFEST_MAX + MFS_AEAD_TAG_BYTES)
		return MFS_E_FORMAT;
	mfs_blob_id(id, blob, blob_len);
	if (!mfs_memeq(id, p->blob_id, sizeof id))
		return MFS_E_FORMAT;
	if (!(out = malloc(blob_len - MFS_AEAD_TAG_BYTES + 1)))
		return -ENOMEM;
	if (mfs_aead_open((uint8_t *)out, blob, blob_len - MFS_AEAD_TAG_BYTES, NULL, 0, zero_nonce,
			  p->blob_key) != 0) {
		free(out);
		return MFS_E_AUTH;
	}
	*len = blob_len - MFS_AEAD_TAG_BYTES;
	out[*len] = '\0';
	*json = out;
	return 0;
}
