#include "crypto/chunk.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "crypto/sha256x2.h"

_Static_assert(MFS_BLOB_LEAF_BYTES == MFS_SEGMENT_BYTES + MFS_AEAD_TAG_BYTES,
	       "a blob id's leaf is one sealed segment");

int mfs_chunk_size_valid(size_t chunk_size)
{
	return chunk_size >= MFS_CHUNK_SIZE_MIN && chunk_size <= MFS_CHUNK_SIZE_MAX &&
	       (chunk_size & (chunk_size - 1)) == 0;
}

size_t mfs_chunk_padded_len(size_t plain_len)
{
	size_t bucket = MFS_BUCKET_MIN;

	while (bucket < plain_len)
		bucket <<= 1;
	return bucket;
}

static size_t segment_count(size_t padded_len)
{
	return (padded_len + MFS_SEGMENT_BYTES - 1) / MFS_SEGMENT_BYTES;
}

size_t mfs_blob_len(size_t padded_len)
{
	return padded_len + segment_count(padded_len) * MFS_AEAD_TAG_BYTES;
}

size_t mfs_blob_padded_len(size_t blob_len)
{
	/* Buckets are powers of two, so try each: there are few. */
	for (size_t padded = MFS_BUCKET_MIN; padded <= MFS_CHUNK_SIZE_MAX; padded <<= 1)
		if (mfs_blob_len(padded) == blob_len)
			return padded;
	return 0;
}

void mfs_chunk_key_convergent(uint8_t key[static MFS_CHUNK_KEY_BYTES],
			      const uint8_t *plain, size_t plain_len,
			      const uint8_t secret[static 32])
{
	uint8_t len_le[8];

	for (int i = 0; i < 8; i++)
		len_le[i] = (uint8_t)((uint64_t)plain_len >> (8 * i));
	mfs_hmac_sha256(key, secret, len_le, sizeof len_le, plain, plain_len);
}

void mfs_chunk_keys_convergent2(uint8_t key[2][MFS_CHUNK_KEY_BYTES], const uint8_t *const plain[2],
				const size_t plain_len[2], const uint8_t secret[static 32])
{
	uint8_t len_le[2][8];
	struct mfs_sha256x2_msg m[2];

	for (int i = 0; i < 2; i++) {
		for (int b = 0; b < 8; b++)
			len_le[i][b] = (uint8_t)((uint64_t)plain_len[i] >> (8 * b));
		m[i] = (struct mfs_sha256x2_msg){len_le[i], sizeof len_le[i], plain[i], plain_len[i]};
	}
	mfs_hmac_sha256x2(key, secret, m);
}

void mfs_chunk_key_random(uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	mfs_random(key, MFS_CHUNK_KEY_BYTES);
}

static void segment_nonce(uint8_t nonce[static MFS_AEAD_NONCE_BYTES], uint64_t index)
{
	memset(nonce, 0, MFS_AEAD_NONCE_BYTES);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(index >> (8 * i));
}

static void padded_ad(uint8_t ad[static 8], uint64_t padded_len)
{
	for (int i = 0; i < 8; i++)
		ad[i] = (uint8_t)(padded_len >> (8 * i));
}

void mfs_chunk_seal(uint8_t *blob, const uint8_t *plain, size_t plain_len,
		    const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	const size_t padded = mfs_chunk_padded_len(plain_len);
	const size_t nseg = segment_count(padded);
	uint8_t nonce[MFS_AEAD_NONCE_BYTES], ad[8];

	padded_ad(ad, padded);
	for (size_t s = 0; s < nseg; s++) {
		size_t seg_off = s * MFS_SEGMENT_BYTES;
		size_t seg_len = padded - seg_off < MFS_SEGMENT_BYTES ? padded - seg_off
								      : MFS_SEGMENT_BYTES;
		uint8_t *dst = blob + s * (MFS_SEGMENT_BYTES + MFS_AEAD_TAG_BYTES);
		size_t have = plain_len > seg_off ? plain_len - seg_off : 0;

		if (have > seg_len)
			have = seg_len;
		segment_nonce(nonce, s);
		if (have == seg_len) { /* sealed straight from the plaintext */
			mfs_aead_seal(dst, plain + seg_off, seg_len, ad, sizeof ad, nonce, key);
			continue;
		}
		/* Padding is built in place: copy what exists, zero the rest. */
		memcpy(dst, plain + seg_off, have);
		memset(dst + have, 0, seg_len - have);
		mfs_aead_seal(dst, dst, seg_len, ad, sizeof ad, nonce, key);
	}
}

int mfs_chunk_open_range(uint8_t *out, const uint8_t *blob, size_t blob_len, size_t off,
			 size_t len, const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	const size_t padded = mfs_blob_padded_len(blob_len);
	uint8_t nonce[MFS_AEAD_NONCE_BYTES], ad[8];
	uint8_t *seg_plain = NULL;
	int rc = 0;

	if (padded == 0 || off > padded || len > padded - off)
		return MFS_E_FORMAT;
	if (len == 0)
		return 0;
	padded_ad(ad, padded);
	for (size_t s = off / MFS_SEGMENT_BYTES; s * MFS_SEGMENT_BYTES < off + len; s++) {
		size_t seg_off = s * MFS_SEGMENT_BYTES;
		size_t seg_len = padded - seg_off < MFS_SEGMENT_BYTES ? padded - seg_off
								      : MFS_SEGMENT_BYTES;
		const uint8_t *src = blob + s * (MFS_SEGMENT_BYTES + MFS_AEAD_TAG_BYTES);
		size_t from = off > seg_off ? off - seg_off : 0;
		size_t to = off + len - seg_off < seg_len ? off + len - seg_off : seg_len;

		segment_nonce(nonce, s);
		if (from == 0 && to == seg_len) {
			/* Whole segment wanted: open straight into the caller's buffer. */
			rc = mfs_aead_open(out + (seg_off - off), src, seg_len, ad, sizeof ad, nonce, key);
		} else {
			if (!seg_plain && !(seg_plain = mfs_secure_alloc(MFS_SEGMENT_BYTES))) {
				rc = -ENOMEM;
				break;
			}
			rc = mfs_aead_open(seg_plain, src, seg_len, ad, sizeof ad, nonce, key);
			if (rc == 0)
				memcpy(out + (seg_off + from - off), seg_plain + from, to - from);
		}
		if (rc != 0)
			break;
	}
	mfs_secure_free(seg_plain);
	if (rc != 0)
		sodium_memzero(out, len);
	return rc;
}

size_t mfs_chunk_segment_span(size_t padded_len, size_t index, size_t *blob_off,
			      size_t *sealed_len)
{
	size_t seg_off = index * MFS_SEGMENT_BYTES, len;

	if (index >= segment_count(padded_len))
		return 0;
	len = padded_len - seg_off < MFS_SEGMENT_BYTES ? padded_len - seg_off : MFS_SEGMENT_BYTES;
	*blob_off = index * (MFS_SEGMENT_BYTES + MFS_AEAD_TAG_BYTES);
	*sealed_len = len + MFS_AEAD_TAG_BYTES;
	return len;
}

/* Segment index's nonce, when sealed_len is its length in a blob sealed
 * from padded_len bytes: 0, else MFS_E_FORMAT. */
static int segment_at(uint8_t nonce[static MFS_AEAD_NONCE_BYTES], size_t sealed_len, size_t index,
		      size_t padded_len)
{
	size_t blob_off, want;

	if (mfs_chunk_segment_span(padded_len, index, &blob_off, &want) == 0 || want != sealed_len)
		return MFS_E_FORMAT;
	segment_nonce(nonce, index);
	return 0;
}

int mfs_chunk_open_segment(uint8_t *out, const uint8_t *sealed, size_t sealed_len, size_t index,
			   size_t padded_len, const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	uint8_t nonce[MFS_AEAD_NONCE_BYTES], ad[8];

	if (segment_at(nonce, sealed_len, index, padded_len) != 0)
		return MFS_E_FORMAT;
	padded_ad(ad, padded_len);
	return mfs_aead_open(out, sealed, sealed_len - MFS_AEAD_TAG_BYTES, ad, sizeof ad, nonce, key);
}

int mfs_chunk_decrypt_segment(uint8_t *out, const uint8_t *sealed, size_t sealed_len, size_t index,
			      size_t padded_len, const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	uint8_t nonce[MFS_AEAD_NONCE_BYTES];

	if (segment_at(nonce, sealed_len, index, padded_len) != 0)
		return MFS_E_FORMAT;
	mfs_aead_decrypt_unchecked(out, sealed, sealed_len - MFS_AEAD_TAG_BYTES, 0, nonce, key);
	return 0;
}

int mfs_chunk_decrypt_part(uint8_t *out, const uint8_t *sealed, size_t from, size_t len,
			   size_t index, size_t padded_len,
			   const uint8_t key[static MFS_CHUNK_KEY_BYTES])
{
	uint8_t nonce[MFS_AEAD_NONCE_BYTES];
	size_t blob_off, sealed_len;
	size_t plain = mfs_chunk_segment_span(padded_len, index, &blob_off, &sealed_len);

	if (plain == 0 || from > plain || len > plain - from)
		return MFS_E_FORMAT;
	segment_nonce(nonce, index);
	mfs_aead_decrypt_unchecked(out, sealed, len, from, nonce, key);
	return 0;
}
