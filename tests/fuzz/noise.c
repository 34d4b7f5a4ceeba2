/* noise: a responder with fixed keys reads an initiator's first and third
 * XX messages (mfs_noise_hs_read).
 *
 *   byte 0     mode: bit 0 clear: the messages are the input's bytes (raw);
 *              bit 0 set: an honest initiator with fixed keys writes them
 *              around the input's payloads, and with bit 1 set the byte
 *              of message 3 at (mode >> 2) is flipped on the way
 *   bytes 1-2  n, little-endian: message 1 (raw) or its payload is the
 *              next n bytes (fewer when the input ends); message 3 or its
 *              payload is the rest
 *
 * A handshake that completes must agree on both sides (hash, keys, a
 * transport message each way); a flipped message 3 must be refused. */
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"
#include "crypto/secure.h"
#include "tests/fuzz/fuzz.h"

#define MSG_CAP (MFS_NOISE_MAX_MSG + 1)

static const uint8_t prologue[] = "megafs fuzz";

static uint8_t msg[MSG_CAP], payload[MSG_CAP];

static void must(int ok)
{
	if (!ok)
		abort();
}

static void fixed_key(uint8_t key[static MFS_NOISE_KEY_BYTES], uint8_t fill)
{
	memset(key, fill, MFS_NOISE_KEY_BYTES);
}

static struct mfs_noise_hs *party(int initiator)
{
	struct mfs_noise_hs *hs;
	uint8_t s_sk[MFS_NOISE_KEY_BYTES], e_sk[MFS_NOISE_KEY_BYTES];

	fixed_key(s_sk, initiator ? 0x11 : 0x33);
	fixed_key(e_sk, initiator ? 0x22 : 0x44);
	must(mfs_noise_hs_new(&hs, initiator, s_sk, prologue, sizeof prologue - 1) == 0);
	must(mfs_noise_hs_set_ephemeral(hs, e_sk) == 0);
	return hs;
}

/* Both sides done: they must agree, and talk. */
static void agree(struct mfs_noise_hs *init, struct mfs_noise_hs *resp)
{
	struct mfs_noise_transport *ti, *tr;
	uint8_t hi[MFS_NOISE_HASH_BYTES], hr[MFS_NOISE_HASH_BYTES];
	uint8_t pki[MFS_NOISE_KEY_BYTES], pkr[MFS_NOISE_KEY_BYTES], sk[MFS_NOISE_KEY_BYTES];
	uint8_t ct[4 + MFS_NOISE_TAG_BYTES], pt[4];

	must(mfs_noise_hs_split(init, &ti, hi, pkr) == 0);
	must(mfs_noise_hs_split(resp, &tr, hr, pki) == 0);
	must(memcmp(hi, hr, sizeof hi) == 0);
	fixed_key(sk, 0x33);
	mfs_noise_public_key(sk, sk);
	must(memcmp(pkr, sk, sizeof sk) == 0);
	fixed_key(sk, 0x11);
	mfs_noise_public_key(sk, sk);
	must(memcmp(pki, sk, sizeof sk) == 0);
	must(mfs_noise_encrypt(ti, ct, (const uint8_t *)"ping", 4) == 0);
	must(mfs_noise_decrypt(tr, pt, ct, sizeof ct) == 0 && memcmp(pt, "ping", 4) == 0);
	must(mfs_noise_encrypt(tr, ct, (const uint8_t *)"pong", 4) == 0);
	must(mfs_noise_decrypt(ti, pt, ct, sizeof ct) == 0 && memcmp(pt, "pong", 4) == 0);
	mfs_noise_transport_free(ti);
	mfs_noise_transport_free(tr);
}

/* The responder reads message 1, answers, and reads message 3. */
static int respond(struct mfs_noise_hs *resp, const uint8_t *m1, size_t m1_len,
		   uint8_t *m2, size_t *m2_len, const uint8_t *m3, size_t m3_len)
{
	size_t plen;
	int rc = mfs_noise_hs_read(resp, payload, sizeof payload, &plen, m1, m1_len);

	if (rc != 0)
		return rc;
	must(plen + MFS_NOISE_XX_MSG1_OVERHEAD == m1_len);
	/* MFS_E_AUTH when message 1's e is a low-order point. */
	rc = mfs_noise_hs_write(resp, m2, MSG_CAP, m2_len, NULL, 0);
	if (rc != 0 || !m3)
		return rc;
	rc = mfs_noise_hs_read(resp, payload, sizeof payload, &plen, m3, m3_len);
	if (rc == 0)
		must(plen + MFS_NOISE_XX_MSG3_OVERHEAD == m3_len && mfs_noise_hs_done(resp));
	return rc;
}

static void raw(const uint8_t *m1, size_t m1_len, const uint8_t *m3, size_t m3_len)
{
	struct mfs_noise_hs *resp = party(0);
	uint8_t *m2 = malloc(MSG_CAP);
	size_t m2_len;

	must(m2 != NULL);
	respond(resp, m1, m1_len, m2, &m2_len, m3, m3_len);
	free(m2);
	mfs_noise_hs_free(resp);
}

static void honest(const uint8_t *p1, size_t p1_len, const uint8_t *p3, size_t p3_len,
		   int flip, size_t flip_at)
{
	struct mfs_noise_hs *init = party(1), *resp = party(0);
	uint8_t *m1 = malloc(MSG_CAP), *m2 = malloc(MSG_CAP);
	size_t m1_len, m2_len, m3_len, plen;
	int rc;

	must(m1 && m2);
	if (mfs_noise_hs_write(init, m1, MSG_CAP, &m1_len, p1, p1_len) != 0)
		goto out; /* payload too long for one message */
	must(respond(resp, m1, m1_len, m2, &m2_len, NULL, 0) == 0);
	must(mfs_noise_hs_read(init, payload, sizeof payload, &plen, m2, m2_len) == 0 &&
	     plen == 0);
	if (mfs_noise_hs_write(init, msg, sizeof msg, &m3_len, p3, p3_len) != 0)
		goto out;
	if (flip)
		msg[flip_at % m3_len] ^= 0x01;
	rc = mfs_noise_hs_read(resp, payload, sizeof payload, &plen, msg, m3_len);
	must(flip ? rc != 0 && !mfs_noise_hs_done(resp)
		  : rc == 0 && plen == p3_len && memcmp(payload, p3, p3_len) == 0);
	if (!flip)
		agree(init, resp);
out:
	free(m1);
	free(m2);
	mfs_noise_hs_free(init);
	mfs_noise_hs_free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	must(mfs_crypto_init() == 0);
	if (size < 3)
		return 0;
	n = (size_t)data[1] | (size_t)data[2] << 8;
	if (n > size - 3)
		n = size - 3;
	if (data[0] & 1)
		honest(data + 3, n, data + 3 + n, size - 3 - n, data[0] & 2, data[0] >> 2);
	else
		raw(data + 3, n, data + 3 + n, size - 3 - n);
	return 0;
}
