#include "crypto/aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "crypto/mfs_error.h"

/* XChaCha20-Poly1305 is HChaCha20 (a subkey from the key and the nonce's
 * first 16 bytes) followed by RFC 8439's ChaCha20-Poly1305 under that
 * subkey with the nonce 0^4 || the nonce's last 8 bytes: libsodium's
 * construction, bit for bit. libsodium computes HChaCha20; the bulk runs
 * through OpenSSL's EVP, whose vectorised ChaCha20 and Poly1305 run about
 * five times faster than libsodium 1.0.18's on this hardware
 * (build/mfs-bench-crypto: aead_* against xchacha20poly1305_*). Tests hold
 * the result to libsodium's on every length class. */

/* OpenSSL could not run the cipher (no memory, or a provider without
 * ChaCha20-Poly1305: a FIPS-only or restricted configuration): the
 * caller runs libsodium's instead, which gives the same bytes. Never a
 * verdict on the data. */
#define NO_OPENSSL (-ENOSYS)

/* Each thread keeps one OpenSSL context per cipher, set up once and given
 * a key and nonce per message: a context made and freed per message cost
 * about a sixth of a 16 KiB piece's pass (mfs-bench-crypto, aead_pieces_16k).
 * NULL when OpenSSL cannot run the cipher; freed when the thread ends.
 * After each message the context is keyed with zeros (ctx_rest), so that
 * no key stays in OpenSSL's memory between messages. */
enum { CTX_AEAD, CTX_STREAM, CTX_KINDS };

static pthread_key_t ctx_keys[CTX_KINDS];
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *c)
{
	EVP_CIPHER_CTX_free(c);
}

static void ctx_keys_make(void)
{
	for (int i = 0; i < CTX_KINDS; i++)
		pthread_key_create(&ctx_keys[i], ctx_free);
}

static void ctx_rest(EVP_CIPHER_CTX *c)
{
	static const uint8_t zeros[32];

	EVP_CipherInit_ex(c, NULL, NULL, zeros, zeros, -1);
}

static EVP_CIPHER_CTX *thread_ctx(int kind)
{
	EVP_CIPHER_CTX *c;
	int ok;

	pthread_once(&ctx_once, ctx_keys_make);
	if ((c = pthread_getspecific(ctx_keys[kind])))
		return c;
	if (!(c = EVP_CIPHER_CTX_new()))
		return NULL;
	if (kind == CTX_AEAD)
		ok = EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, 1) == 1 &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, MFS_AEAD_IETF_NONCE_BYTES, NULL) == 1;
	else
		ok = EVP_CipherInit_ex(c, EVP_chacha20(), NULL, NULL, NULL, 1) == 1;
	if (!ok || pthread_setspecific(ctx_keys[kind], c) != 0) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

/* One pass of RFC 8439 ChaCha20-Poly1305: encrypt writes the tag, decrypt
 * checks it. 0; NO_OPENSSL; -1 (decrypt) when the tag is wrong: only the
 * final check of a pass that ran is a verdict. */
static int ietf(int encrypt, uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
		size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		const uint8_t key[static 32], uint8_t tag[static MFS_AEAD_TAG_BYTES])
{
	EVP_CIPHER_CTX *c = thread_ctx(CTX_AEAD);
	int n, rc = NO_OPENSSL, ok = c && len <= INT_MAX && ad_len <= INT_MAX;

	ok = ok && EVP_CipherInit_ex(c, NULL, NULL, key, nonce, encrypt) == 1;
	if (ok && !encrypt)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, MFS_AEAD_TAG_BYTES, tag) == 1;
	if (ok && ad_len > 0)
		ok = EVP_CipherUpdate(c, NULL, &n, ad, (int)ad_len) == 1;
	if (ok && len > 0)
		ok = EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
	if (ok && !encrypt)
		rc = EVP_CipherFinal_ex(c, out + len, &n) == 1 ? 0 : -1;
	else if (ok && EVP_CipherFinal_ex(c, out + len, &n) == 1 &&
		 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, MFS_AEAD_TAG_BYTES, tag) == 1)
		rc = 0;
	if (c)
		ctx_rest(c);
	return rc;
}

void mfs_aead_xsplit(uint8_t subkey[static 32], uint8_t ietf_nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		     const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32])
{
	crypto_core_hchacha20(subkey, nonce, key, NULL);
	memset(ietf_nonce, 0, 4);
	memcpy(ietf_nonce + 4, nonce + 16, 8);
}

/* XChaCha20-Poly1305 as one IETF pass under the HChaCha20 subkey. */
static int xchacha(int encrypt, uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
		   size_t ad_len, const uint8_t nonce[static MFS_AEAD_NONCE_BYTES],
		   const uint8_t key[static 32], uint8_t tag[static MFS_AEAD_TAG_BYTES])
{
	uint8_t subkey[32], ietf_nonce[MFS_AEAD_IETF_NONCE_BYTES];
	int rc;

	mfs_aead_xsplit(subkey, ietf_nonce, nonce, key);
	rc = ietf(encrypt, out, in, len, ad, ad_len, ietf_nonce, subkey, tag);
	sodium_memzero(subkey, sizeof subkey);
	return rc;
}

void mfs_aead_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32])
{
	uint8_t tag[MFS_AEAD_TAG_BYTES];

	if (xchacha(1, out, in, len, ad, ad_len, nonce, key, tag) == 0)
		memcpy(out + len, tag, sizeof tag);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, ad,
								    ad_len, NULL, nonce, key);
}

int mfs_aead_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
		  const uint8_t nonce[static MFS_AEAD_NONCE_BYTES], const uint8_t key[static 32])
{
	uint8_t tag[MFS_AEAD_TAG_BYTES];
	int rc;

	memcpy(tag, in + len, sizeof tag); /* out may be in: the tag goes first */
	rc = xchacha(0, out, in, len, ad, ad_len, nonce, key, tag);
	if (rc == NO_OPENSSL)
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, ad,
									 ad_len, nonce, key);
	if (rc != 0) {
		sodium_memzero(out, len);
		return MFS_E_AUTH;
	}
	return 0;
}

/* RFC 8439's cipher alone from keystream byte `at` of the message (its block
 * 1 on: block 0 keys Poly1305). 0 or NO_OPENSSL. */
static int keystream_xor(uint8_t *out, const uint8_t *in, size_t len, uint64_t at,
			 const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
			 const uint8_t key[static 32])
{
	static const uint8_t zeros[64];
	uint64_t block = 1 + at / 64;
	EVP_CIPHER_CTX *c;
	uint8_t iv[16], skip[64];
	int n, ok;

	/* OpenSSL counts blocks in 32 bits; so does RFC 8439's message. */
	if (block > UINT32_MAX || len > INT_MAX || !(c = thread_ctx(CTX_STREAM)))
		return NO_OPENSSL;
	for (int i = 0; i < 4; i++)
		iv[i] = (uint8_t)(block >> (8 * i));
	memcpy(iv + 4, nonce, MFS_AEAD_IETF_NONCE_BYTES);
	ok = EVP_EncryptInit_ex(c, NULL, NULL, key, iv) == 1 &&
	     (at % 64 == 0 || EVP_EncryptUpdate(c, skip, &n, zeros, (int)(at % 64)) == 1) &&
	     (len == 0 || EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1);
	ctx_rest(c);
	sodium_memzero(skip, sizeof skip);
	return ok ? 0 : NO_OPENSSL;
}

void mfs_aead_decrypt_unchecked(uint8_t *out, const uint8_t *in, size_t len, uint64_t from,
				const uint8_t nonce[static MFS_AEAD_NONCE_BYTES],
				const uint8_t key[static 32])
{
	uint8_t subkey[32], ietf_nonce[MFS_AEAD_IETF_NONCE_BYTES], block[64];

	mfs_aead_xsplit(subkey, ietf_nonce, nonce, key);
	if (keystream_xor(out, in, len, from, ietf_nonce, subkey) != 0) {
		/* libsodium from a block boundary: the first partial block
		 * through a copy. */
		uint64_t ic = 1 + from / 64;
		size_t head = from % 64 ? 64 - from % 64 : 0;

		if (head > len)
			head = len;
		if (head > 0) {
			memset(block, 0, sizeof block);
			memcpy(block + from % 64, in, head);
			crypto_stream_chacha20_ietf_xor_ic(block, block, sizeof block, ietf_nonce,
							   (uint32_t)ic, subkey);
			memcpy(out, block + from % 64, head);
			ic++;
		}
		crypto_stream_chacha20_ietf_xor_ic(out + head, in + head, len - head, ietf_nonce,
						   (uint32_t)ic, subkey);
		sodium_memzero(block, sizeof block);
	}
	sodium_memzero(subkey, sizeof subkey);
}

void mfs_aead_ietf_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
			size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
			const uint8_t key[static 32])
{
	uint8_t tag[MFS_AEAD_TAG_BYTES];

	if (ietf(1, out, in, len, ad, ad_len, nonce, key, tag) == 0)
		memcpy(out + len, tag, sizeof tag);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, ad,
								   ad_len, NULL, nonce, key);
}

int mfs_aead_ietf_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
		       size_t ad_len, const uint8_t nonce[static MFS_AEAD_IETF_NONCE_BYTES],
		       const uint8_t key[static 32])
{
	uint8_t tag[MFS_AEAD_TAG_BYTES];
	int rc;

	memcpy(tag, in + len, sizeof tag);
	rc = ietf(0, out, in, len, ad, ad_len, nonce, key, tag);
	if (rc == NO_OPENSSL)
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, ad,
									ad_len, nonce, key);
	if (rc != 0) {
		sodium_memzero(out, len);
		return MFS_E_AUTH;
	}
	return 0;
}
