#include "net/dht_item.h"

#include <errno.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "net/bencode.h"

int mfs_dht_item_check_value(const uint8_t *v, size_t v_len, char *why, size_t why_len)
{
	struct mfs_bdoc *doc;
	int rc;

	if (v_len > MFS_DHT_VALUE_MAX)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "DHT item: value of %zu bytes, more than the %d BEP 44 allows",
				     v_len, MFS_DHT_VALUE_MAX);
	rc = mfs_benc_parse(&doc, v, v_len, why, why_len);
	mfs_benc_free(doc);
	return rc;
}

int mfs_dht_item_check_salt(size_t salt_len, char *why, size_t why_len)
{
	if (salt_len > MFS_DHT_SALT_MAX)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "DHT item: salt of %zu bytes, more than the %d BEP 44 allows",
				     salt_len, MFS_DHT_SALT_MAX);
	return 0;
}

int mfs_dht_item_immutable_target(uint8_t target[static MFS_DHT_TARGET_BYTES], const uint8_t *v,
				  size_t v_len)
{
	int rc = mfs_dht_item_check_value(v, v_len, NULL, 0);

	return rc != 0 ? rc : mfs_sha1(target, v, v_len, NULL, 0);
}

int mfs_dht_item_mutable_target(uint8_t target[static MFS_DHT_TARGET_BYTES],
				const uint8_t pk[static MFS_SIGN_PK_BYTES], const uint8_t *salt,
				size_t salt_len)
{
	int rc = mfs_dht_item_check_salt(salt_len, NULL, 0);

	if (rc != 0)
		return rc;
	return mfs_sha1(target, pk, MFS_SIGN_PK_BYTES, salt_len ? salt : NULL, salt_len);
}

int mfs_dht_item_signed_bytes(uint8_t *out, size_t cap, size_t *len,
			      const struct mfs_dht_mutable *item)
{
	struct mfs_benc_w w;
	int rc;

	*len = 0;
	rc = mfs_dht_item_check_salt(item->salt_len, NULL, 0);
	if (rc == 0)
		rc = mfs_dht_item_check_value(item->v, item->v_len, NULL, 0);
	if (rc != 0)
		return rc;
	mfs_benc_w_init(&w, out, cap);
	if (item->salt_len > 0) {
		mfs_benc_w_cstr(&w, "salt");
		mfs_benc_w_str(&w, item->salt, item->salt_len);
	}
	mfs_benc_w_cstr(&w, "seq");
	mfs_benc_w_int(&w, item->seq);
	mfs_benc_w_cstr(&w, "v");
	mfs_benc_w_raw(&w, item->v, item->v_len);
	return mfs_benc_w_finish(&w, len);
}

int mfs_dht_item_sign(uint8_t sig[static MFS_SIGN_BYTES], const struct mfs_dht_mutable *item,
		      const uint8_t sk[static MFS_SIGN_SK_BYTES])
{
	uint8_t msg[MFS_DHT_SIGNED_MAX];
	size_t len;
	int rc = mfs_dht_item_signed_bytes(msg, sizeof msg, &len, item);

	if (rc == 0)
		mfs_sign(sig, msg, len, sk);
	return rc;
}

int mfs_dht_item_verify(const uint8_t sig[static MFS_SIGN_BYTES],
			const struct mfs_dht_mutable *item,
			const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	uint8_t msg[MFS_DHT_SIGNED_MAX];
	size_t len;
	int rc = mfs_dht_item_signed_bytes(msg, sizeof msg, &len, item);

	return rc != 0 ? rc : mfs_sign_verify(sig, msg, len, pk);
}

int mfs_dht_item_check_got(const uint8_t target[static MFS_DHT_TARGET_BYTES],
			   const uint8_t *k, const uint8_t *sig,
			   const struct mfs_dht_mutable *item)
{
	uint8_t got[MFS_DHT_TARGET_BYTES];
	int rc;

	if (k && !sig)
		return MFS_E_FORMAT;
	rc = k ? mfs_dht_item_mutable_target(got, k, item->salt, item->salt_len)
	       : mfs_dht_item_immutable_target(got, item->v, item->v_len);
	if (rc != 0)
		return rc;
	if (memcmp(got, target, sizeof got) != 0)
		return MFS_E_AUTH;
	return k ? mfs_dht_item_verify(sig, item, k) : 0;
}

int mfs_dht_item_put_rule(int *replace, int held, int64_t held_seq, int64_t seq, int has_cas,
			  int64_t cas)
{
	*replace = 0;
	if (!held) {
		*replace = 1;
		return 0;
	}
	if (has_cas && cas != held_seq)
		return MFS_E_CAS;
	if (seq < held_seq)
		return MFS_E_REPLAY;
	*replace = seq > held_seq;
	return 0;
}
