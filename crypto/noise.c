#include "crypto/noise.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define HASHLEN 64
#define BLOCKLEN 128
#define DHLEN MFS_NOISE_KEY_BYTES
#define TAGLEN MFS_NOISE_TAG_BYTES
#define NONCE_MAX UINT64_MAX /* reserved by Noise: never used to encrypt */

static const char protocol_name[] = "Noise_XX_25519_ChaChaPoly_BLAKE2b";

/* The XX message patterns, one token list per message (0 ends a list). */
enum token { TOK_END, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE };

static const uint8_t xx_pattern[3][5] = {
	{ TOK_E },
	{ TOK_E, TOK_EE, TOK_S, TOK_ES },
	{ TOK_S, TOK_SE },
};

#define XX_MESSAGES 3

/* Noise's CipherState: a key and the next nonce. */
struct cipher_state {
	uint8_t k[32];
	uint64_t n;
	int has_key;
};

struct mfs_noise_hs {
	struct cipher_state cs;   /* with ck and h: Noise's SymmetricState */
	uint8_t ck[HASHLEN];
	uint8_t h[HASHLEN];
	uint8_t s_sk[DHLEN], s_pk[DHLEN];
	uint8_t e_sk[DHLEN], e_pk[DHLEN];
	uint8_t rs[DHLEN], re[DHLEN];
	int initiator;
	int step;       /* messages done, 0..XX_MESSAGES */
	int e_fixed;    /* e_sk set by mfs_noise_hs_set_ephemeral */
	int e_sent;
	int failed;
	int split;
};

struct mfs_noise_transport {
	struct cipher_state send, recv;
};

/* HMAC-BLAKE2b (RFC 2104 with a 128-byte block) of data1 || data2 under a
 * HASHLEN-byte key. */
static void hmac(uint8_t out[static HASHLEN], const uint8_t key[static HASHLEN],
		 const uint8_t *data1, size_t len1, const uint8_t *data2, size_t len2)
{
	crypto_generichash_blake2b_state st;
	uint8_t pad[BLOCKLEN], inner[HASHLEN];

	memset(pad, 0x36, sizeof pad);
	for (size_t i = 0; i < HASHLEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof pad);
	crypto_generichash_blake2b_update(&st, data1, len1);
	if (len2)
		crypto_generichash_blake2b_update(&st, data2, len2);
	crypto_generichash_blake2b_final(&st, inner, HASHLEN);

	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof pad);
	crypto_generichash_blake2b_update(&st, inner, HASHLEN);
	crypto_generichash_blake2b_final(&st, out, HASHLEN);

	sodium_memzero(&st, sizeof st);
	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
}

/* Noise's HKDF with two outputs. out1 and out2 may not alias ck. */
static void hkdf2(uint8_t out1[static HASHLEN], uint8_t out2[static HASHLEN],
		  const uint8_t ck[static HASHLEN], const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t temp_key[HASHLEN];

	hmac(temp_key, ck, ikm, ikm_len, NULL, 0);
	hmac(out1, temp_key, &one, 1, NULL, 0);
	hmac(out2, temp_key, out1, HASHLEN, &two, 1);
	sodium_memzero(temp_key, sizeof temp_key);
}

static void cs_init_key(struct cipher_state *cs, const uint8_t k[static 32])
{
	memcpy(cs->k, k, sizeof cs->k);
	cs->n = 0;
	cs->has_key = 1;
}

/* ChaChaPoly's 96-bit nonce: 32 zero bits, then n little-endian. */
static void cs_nonce(uint8_t nonce[static 12], uint64_t n)
{
	memset(nonce, 0, 4);
	mfs_le_put(nonce + 4, n, 8);
}

/* out = in (len bytes) sealed, len + TAGLEN bytes; or a copy without a key. */
static int cs_encrypt(struct cipher_state *cs, uint8_t *out, const uint8_t *ad, size_t ad_len,
		      const uint8_t *in, size_t len)
{
	uint8_t nonce[12];

	if (!cs->has_key) {
		if (len)
			memmove(out, in, len);
		return 0;
	}
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	cs_nonce(nonce, cs->n);
	mfs_aead_ietf_seal(out, in, len, ad, ad_len, nonce, cs->k);
	cs->n++;
	return 0;
}

/* out = in (in_len bytes) opened, in_len - TAGLEN bytes; or a copy without a
 * key. The nonce advances only on success. */
static int cs_decrypt(struct cipher_state *cs, uint8_t *out, const uint8_t *ad, size_t ad_len,
		      const uint8_t *in, size_t in_len)
{
	uint8_t nonce[12];

	if (!cs->has_key) {
		if (in_len)
			memmove(out, in, in_len);
		return 0;
	}
	if (in_len < TAGLEN)
		return MFS_E_FORMAT;
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	cs_nonce(nonce, cs->n);
	if (mfs_aead_ietf_open(out, in, in_len - TAGLEN, ad, ad_len, nonce, cs->k) != 0)
		return MFS_E_AUTH; /* out is wiped */
	cs->n++;
	return 0;
}

static void mix_hash(struct mfs_noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_blake2b_update(&st, hs->h, HASHLEN);
	if (len)
		crypto_generichash_blake2b_update(&st, data, len);
	crypto_generichash_blake2b_final(&st, hs->h, HASHLEN);
	sodium_memzero(&st, sizeof st);
}

static void mix_key(struct mfs_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[HASHLEN], k[HASHLEN];

	hkdf2(ck, k, hs->ck, ikm, len);
	memcpy(hs->ck, ck, HASHLEN);
	cs_init_key(&hs->cs, k); /* truncated to 32 bytes, as HASHLEN is 64 */
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(k, sizeof k);
}

static int encrypt_and_hash(struct mfs_noise_hs *hs, uint8_t *out, const uint8_t *in, size_t len)
{
	size_t out_len = len + (hs->cs.has_key ? TAGLEN : 0);
	int err;

	err = cs_encrypt(&hs->cs, out, hs->h, HASHLEN, in, len);
	if (err)
		return err;
	mix_hash(hs, out, out_len);
	return 0;
}

/* in holds in_len bytes: ciphertext and tag once there is a key. */
static int decrypt_and_hash(struct mfs_noise_hs *hs, uint8_t *out, const uint8_t *in,
			    size_t in_len)
{
	int err;

	err = cs_decrypt(&hs->cs, out, hs->h, HASHLEN, in, in_len);
	if (err)
		return err;
	mix_hash(hs, in, in_len);
	return 0;
}

/* MixKey(DH(...)) for an ee, es or se token, from this side's view. */
static int mix_dh(struct mfs_noise_hs *hs, enum token tok)
{
	const uint8_t *mine, *theirs;
	uint8_t shared[DHLEN];

	switch (tok) {
	case TOK_EE:
		mine = hs->e_sk;
		theirs = hs->re;
		break;
	case TOK_ES: /* initiator's e with responder's s */
		mine = hs->initiator ? hs->e_sk : hs->s_sk;
		theirs = hs->initiator ? hs->rs : hs->re;
		break;
	case TOK_SE: /* initiator's s with responder's e */
		mine = hs->initiator ? hs->s_sk : hs->e_sk;
		theirs = hs->initiator ? hs->re : hs->rs;
		break;
	default:
		return -EINVAL;
	}
	/* libsodium refuses an all-zero result, i.e. a low-order point. */
	if (crypto_scalarmult(shared, mine, theirs) != 0) {
		sodium_memzero(shared, sizeof shared);
		return MFS_E_AUTH;
	}
	mix_key(hs, shared, sizeof shared);
	sodium_memzero(shared, sizeof shared);
	return 0;
}

/* Bytes the next message adds to its payload: its tokens and payload tag. */
static size_t message_overhead(const struct mfs_noise_hs *hs)
{
	int has_key = hs->cs.has_key;
	size_t len = 0;

	for (const uint8_t *tok = xx_pattern[hs->step]; *tok != TOK_END; tok++) {
		if (*tok == TOK_E)
			len += DHLEN;
		else if (*tok == TOK_S)
			len += DHLEN + (has_key ? TAGLEN : 0);
		else
			has_key = 1;
	}
	return len + (has_key ? TAGLEN : 0);
}

/* 1 when the next message is this side's to write. */
static int my_turn(const struct mfs_noise_hs *hs)
{
	return (hs->step % 2 == 0) == hs->initiator;
}

static int usable(const struct mfs_noise_hs *hs)
{
	return !hs->failed && !hs->split && hs->step < XX_MESSAGES;
}

void mfs_noise_keypair(uint8_t pk[static MFS_NOISE_KEY_BYTES],
		       uint8_t sk[static MFS_NOISE_KEY_BYTES])
{
	randombytes_buf(sk, MFS_NOISE_KEY_BYTES);
	mfs_noise_public_key(pk, sk);
}

void mfs_noise_public_key(uint8_t pk[static MFS_NOISE_KEY_BYTES],
			  const uint8_t sk[static MFS_NOISE_KEY_BYTES])
{
	/* Cannot fail: a clamped scalar times the base point is never zero. */
	crypto_scalarmult_base(pk, sk);
}

int mfs_noise_hs_new(struct mfs_noise_hs **out, int initiator,
		     const uint8_t static_sk[static MFS_NOISE_KEY_BYTES],
		     const uint8_t *prologue, size_t prologue_len)
{
	struct mfs_noise_hs *hs;

	*out = NULL;
	hs = mfs_secure_alloc(sizeof *hs);
	if (!hs)
		return -ENOMEM;
	memset(hs, 0, sizeof *hs);
	hs->initiator = !!initiator;
	memcpy(hs->s_sk, static_sk, DHLEN);
	mfs_noise_public_key(hs->s_pk, hs->s_sk);

	/* InitializeSymmetric: the name fits in HASHLEN, so h is it, padded. */
	memcpy(hs->h, protocol_name, sizeof protocol_name - 1);
	memcpy(hs->ck, hs->h, HASHLEN);
	mix_hash(hs, prologue, prologue_len);
	*out = hs;
	return 0;
}

int mfs_noise_hs_set_ephemeral(struct mfs_noise_hs *hs,
			       const uint8_t eph_sk[static MFS_NOISE_KEY_BYTES])
{
	if (hs->e_sent || !usable(hs))
		return -EPROTO;
	memcpy(hs->e_sk, eph_sk, DHLEN);
	mfs_noise_public_key(hs->e_pk, hs->e_sk);
	hs->e_fixed = 1;
	return 0;
}

int mfs_noise_hs_write(struct mfs_noise_hs *hs, uint8_t *out, size_t out_cap, size_t *out_len,
		       const uint8_t *payload, size_t payload_len)
{
	size_t need, off = 0;
	int err = 0;

	*out_len = 0;
	if (!usable(hs) || !my_turn(hs))
		return -EPROTO;
	if (payload_len > MFS_NOISE_MAX_MSG)
		return -EMSGSIZE;
	need = message_overhead(hs) + payload_len;
	if (need > MFS_NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (need > out_cap)
		return -ENOBUFS;

	for (const uint8_t *tok = xx_pattern[hs->step]; *tok != TOK_END; tok++) {
		switch (*tok) {
		case TOK_E:
			if (!hs->e_fixed)
				mfs_noise_keypair(hs->e_pk, hs->e_sk);
			hs->e_sent = 1;
			memcpy(out + off, hs->e_pk, DHLEN);
			mix_hash(hs, hs->e_pk, DHLEN);
			off += DHLEN;
			break;
		case TOK_S: {
			size_t len = DHLEN + (hs->cs.has_key ? TAGLEN : 0);

			err = encrypt_and_hash(hs, out + off, hs->s_pk, DHLEN);
			off += len;
			break;
		}
		default:
			err = mix_dh(hs, *tok);
			break;
		}
		if (err)
			goto fail;
	}
	err = encrypt_and_hash(hs, out + off, payload, payload_len);
	if (err)
		goto fail;
	hs->step++;
	*out_len = need;
	return 0;

fail:
	hs->failed = 1;
	sodium_memzero(out, need);
	return err;
}

int mfs_noise_hs_read(struct mfs_noise_hs *hs, uint8_t *payload_out, size_t cap,
		      size_t *payload_len, const uint8_t *msg, size_t msg_len)
{
	size_t overhead, plen, off = 0;
	int err = 0;

	*payload_len = 0;
	if (!usable(hs) || my_turn(hs))
		return -EPROTO;
	overhead = message_overhead(hs);
	if (msg_len > MFS_NOISE_MAX_MSG || msg_len < overhead) {
		hs->failed = 1;
		return MFS_E_FORMAT;
	}
	plen = msg_len - overhead;
	if (plen > cap)
		return -ENOBUFS;

	for (const uint8_t *tok = xx_pattern[hs->step]; *tok != TOK_END; tok++) {
		switch (*tok) {
		case TOK_E:
			memcpy(hs->re, msg + off, DHLEN);
			mix_hash(hs, hs->re, DHLEN);
			off += DHLEN;
			break;
		case TOK_S: {
			size_t len = DHLEN + (hs->cs.has_key ? TAGLEN : 0);

			err = decrypt_and_hash(hs, hs->rs, msg + off, len);
			off += len;
			break;
		}
		default:
			err = mix_dh(hs, *tok);
			break;
		}
		if (err)
			goto fail;
	}
	err = decrypt_and_hash(hs, payload_out, msg + off, msg_len - off);
	if (err)
		goto fail;
	hs->step++;
	*payload_len = plen;
	return 0;

fail:
	hs->failed = 1;
	if (plen)
		sodium_memzero(payload_out, plen);
	return err;
}

int mfs_noise_hs_done(const struct mfs_noise_hs *hs)
{
	return !hs->failed && hs->step == XX_MESSAGES;
}

int mfs_noise_hs_split(struct mfs_noise_hs *hs, struct mfs_noise_transport **out,
		       uint8_t handshake_hash[static MFS_NOISE_HASH_BYTES],
		       uint8_t remote_static_pk[static MFS_NOISE_KEY_BYTES])
{
	struct mfs_noise_transport *t;
	uint8_t k1[HASHLEN], k2[HASHLEN];

	*out = NULL;
	if (!mfs_noise_hs_done(hs) || hs->split)
		return -EPROTO;
	t = mfs_secure_alloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof *t);

	hkdf2(k1, k2, hs->ck, NULL, 0);
	/* k1 carries initiator to responder, k2 the other way. */
	cs_init_key(&t->send, hs->initiator ? k1 : k2);
	cs_init_key(&t->recv, hs->initiator ? k2 : k1);
	sodium_memzero(k1, sizeof k1);
	sodium_memzero(k2, sizeof k2);

	memcpy(handshake_hash, hs->h, HASHLEN);
	memcpy(remote_static_pk, hs->rs, DHLEN);

	/* Nothing but the transport may derive these keys again. */
	sodium_memzero(&hs->cs, sizeof hs->cs);
	sodium_memzero(hs->ck, sizeof hs->ck);
	sodium_memzero(hs->e_sk, sizeof hs->e_sk);
	hs->split = 1;
	*out = t;
	return 0;
}

int mfs_noise_encrypt(struct mfs_noise_transport *t, uint8_t *out, const uint8_t *in,
		      size_t len)
{
	if (len > MFS_NOISE_MAX_PLAIN)
		return -EMSGSIZE;
	return cs_encrypt(&t->send, out, NULL, 0, in, len);
}

int mfs_noise_decrypt(struct mfs_noise_transport *t, uint8_t *out, const uint8_t *in,
		      size_t msg_len)
{
	if (msg_len > MFS_NOISE_MAX_MSG)
		return MFS_E_FORMAT;
	return cs_decrypt(&t->recv, out, NULL, 0, in, msg_len);
}

void mfs_noise_transport_set_nonces(struct mfs_noise_transport *t, uint64_t send_n,
				    uint64_t recv_n)
{
	t->send.n = send_n;
	t->recv.n = recv_n;
}

void mfs_noise_hs_free(struct mfs_noise_hs *hs)
{
	mfs_secure_free(hs);
}

void mfs_noise_transport_free(struct mfs_noise_transport *t)
{
	mfs_secure_free(t);
}
