/* crypto/noise: the published Noise_XX_25519_ChaChaPoly_BLAKE2b vectors, round
 * trips, and every way a handshake or transport message is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/noise.h"
#include "crypto/secure.h"
#include "tests/unit/testutil.h"

#define VECTORS "tests/vectors/noise-xx-25519-chachapoly-blake2b.json"
#define THIS_FILE "tests/unit/test_noise.c"
#define BUF (MFS_NOISE_MAX_MSG + 1)

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
}

TestSuite(noise, .init = setup);

/* The vector file is in tests/vectors/ of this tree: strip this file's path
 * inside the project from __FILE__ (absolute under CMake). */
static void vectors_path(char *out, size_t cap)
{
	size_t flen = strlen(__FILE__), tlen = strlen(THIS_FILE);

	cr_assert(flen >= tlen && strcmp(__FILE__ + flen - tlen, THIS_FILE) == 0);
	cr_assert(snprintf(out, cap, "%.*s%s", (int)(flen - tlen), __FILE__, VECTORS) <
		  (int)cap);
}

/* Decodes the hex string field key of obj into out; returns its length. */
static size_t hex_field(uint8_t *out, size_t cap, const json_t *obj, const char *key)
{
	const char *hex = json_string_value(json_object_get(obj, key));
	size_t len;

	cr_assert_not_null(hex, "field %s", key);
	len = strlen(hex) / 2;
	cr_assert(len <= cap, "field %s too long", key);
	cr_assert_eq(mfs_hex_decode(out, len, hex), 0, "field %s", key);
	return len;
}

static void replay_vector(const json_t *v)
{
	struct mfs_noise_hs *hs[2];
	struct mfs_noise_transport *t[2];
	uint8_t prologue[2][256], s_sk[2][32], e_sk[2][32], want_hash[64];
	uint8_t hash[2][64], rs[2][32], pk[2][32];
	uint8_t payload[1024], want_ct[1024], ct[1024], got[1024];
	size_t prologue_len[2], n, plen, ctlen, len, got_len;
	const json_t *msgs = json_object_get(v, "messages");

	cr_assert_str_eq(json_string_value(json_object_get(v, "protocol_name")),
			 "Noise_XX_25519_ChaChaPoly_BLAKE2b");
	prologue_len[0] = hex_field(prologue[0], sizeof prologue[0], v, "init_prologue");
	prologue_len[1] = hex_field(prologue[1], sizeof prologue[1], v, "resp_prologue");
	cr_assert_eq(hex_field(s_sk[0], 32, v, "init_static"), 32);
	cr_assert_eq(hex_field(s_sk[1], 32, v, "resp_static"), 32);
	cr_assert_eq(hex_field(e_sk[0], 32, v, "init_ephemeral"), 32);
	cr_assert_eq(hex_field(e_sk[1], 32, v, "resp_ephemeral"), 32);
	cr_assert_eq(hex_field(want_hash, 64, v, "handshake_hash"), 64);
	n = json_array_size(msgs);
	cr_assert_geq(n, 3);

	for (int side = 0; side < 2; side++) {
		cr_assert_eq(mfs_noise_hs_new(&hs[side], side == 0, s_sk[side], prologue[side],
					      prologue_len[side]), 0);
		cr_assert_eq(mfs_noise_hs_set_ephemeral(hs[side], e_sk[side]), 0);
		mfs_noise_public_key(pk[side], s_sk[side]);
	}

	/* Messages alternate: even ones initiator -> responder, odd ones back,
	 * through the handshake and on into the transport. */
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(msgs, i);
		int from = i % 2, to = !from;

		plen = hex_field(payload, sizeof payload, m, "payload");
		ctlen = hex_field(want_ct, sizeof want_ct, m, "ciphertext");
		if (i < 3) {
			cr_assert_eq(mfs_noise_hs_write(hs[from], ct, sizeof ct, &len, payload,
							plen), 0, "message %zu", i);
			cr_assert_eq(len, ctlen, "message %zu", i);
			cr_assert_arr_eq(ct, want_ct, ctlen, "message %zu", i);
			cr_assert_eq(mfs_noise_hs_read(hs[to], got, sizeof got, &got_len, ct, len),
				     0, "message %zu", i);
		} else {
			cr_assert_eq(mfs_noise_encrypt(t[from], ct, payload, plen), 0);
			cr_assert_eq(plen + MFS_NOISE_TAG_BYTES, ctlen, "message %zu", i);
			cr_assert_arr_eq(ct, want_ct, ctlen, "message %zu", i);
			cr_assert_eq(mfs_noise_decrypt(t[to], got, ct, ctlen), 0, "message %zu", i);
			got_len = ctlen - MFS_NOISE_TAG_BYTES;
		}
		cr_assert_eq(got_len, plen, "message %zu", i);
		cr_assert_arr_eq(got, payload, plen, "message %zu", i);

		if (i == 2) {
			for (int side = 0; side < 2; side++) {
				cr_assert(mfs_noise_hs_done(hs[side]));
				cr_assert_eq(mfs_noise_hs_split(hs[side], &t[side], hash[side],
								rs[side]), 0);
				cr_assert_arr_eq(hash[side], want_hash, 64);
				cr_assert_arr_eq(rs[side], pk[!side], 32);
			}
		}
	}
	for (int side = 0; side < 2; side++) {
		mfs_noise_hs_free(hs[side]);
		mfs_noise_transport_free(t[side]);
	}
}

Test(noise, published_vectors)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root, *vectors;

	vectors_path(path, sizeof path);
	root = json_load_file(path, 0, &jerr);
	cr_assert_not_null(root, "%s: %s", path, jerr.text);
	vectors = json_object_get(root, "vectors");
	cr_assert_geq(json_array_size(vectors), 1);
	for (size_t i = 0; i < json_array_size(vectors); i++)
		replay_vector(json_array_get(vectors, i));
	json_decref(root);
}

/* Two parties with fresh static keys. */
struct pair {
	uint8_t sk[2][32], pk[2][32];
	struct mfs_noise_hs *hs[2];          /* [0] initiator, [1] responder */
	struct mfs_noise_transport *t[2];
	uint8_t hash[2][64], rs[2][32];
};

static void pair_new(struct pair *p, const char *prologue0, const char *prologue1)
{
	memset(p, 0, sizeof *p);
	for (int side = 0; side < 2; side++) {
		const char *pro = side ? prologue1 : prologue0;

		mfs_noise_keypair(p->pk[side], p->sk[side]);
		cr_assert_eq(mfs_noise_hs_new(&p->hs[side], side == 0, p->sk[side],
					      (const uint8_t *)pro, strlen(pro)), 0);
	}
}

static void pair_free(struct pair *p)
{
	for (int side = 0; side < 2; side++) {
		mfs_noise_hs_free(p->hs[side]);
		mfs_noise_transport_free(p->t[side]);
	}
}

/* Runs the three handshake messages, flipping byte flip_pos of message
 * flip_msg (flip_msg < 0: none) or cutting it to cut_len bytes (cut_len <
 * 0: no cut). Returns 0 and splits both sides, or the first error, which
 * must come from a read or a write. */
static int pair_handshake(struct pair *p, int flip_msg, size_t flip_pos, long cut_len)
{
	static uint8_t msg[BUF], got[BUF];
	char payload[32];
	size_t len, got_len;
	int err;

	for (int i = 0; i < 3; i++) {
		int from = i % 2, to = !from;

		snprintf(payload, sizeof payload, "payload %d", i);
		err = mfs_noise_hs_write(p->hs[from], msg, sizeof msg, &len,
					 (const uint8_t *)payload, strlen(payload));
		if (err)
			return err;
		if (i == flip_msg) {
			if (cut_len >= 0)
				len = (size_t)cut_len;
			else
				msg[flip_pos] ^= 0x01;
		}
		err = mfs_noise_hs_read(p->hs[to], got, sizeof got, &got_len, msg, len);
		if (err)
			return err;
		if (i != flip_msg) {
			cr_assert_eq(got_len, strlen(payload));
			cr_assert_arr_eq(got, payload, got_len);
		}
	}
	for (int side = 0; side < 2; side++) {
		cr_assert(mfs_noise_hs_done(p->hs[side]));
		cr_assert_eq(mfs_noise_hs_split(p->hs[side], &p->t[side], p->hash[side],
						p->rs[side]), 0);
	}
	return 0;
}

Test(noise, round_trip_and_identities)
{
	static uint8_t a[MFS_NOISE_MAX_PLAIN], box[MFS_NOISE_MAX_MSG], b[MFS_NOISE_MAX_PLAIN];
	struct pair p;
	size_t sizes[] = {0, 1, 1000, MFS_NOISE_MAX_PLAIN};

	pair_new(&p, "megafs 1", "megafs 1");
	cr_assert_not(mfs_noise_hs_done(p.hs[0]));
	cr_assert_eq(pair_handshake(&p, -1, 0, -1), 0);
	cr_assert_arr_eq(p.hash[0], p.hash[1], 64);
	cr_assert_arr_eq(p.rs[0], p.pk[1], 32, "initiator sees the responder");
	cr_assert_arr_eq(p.rs[1], p.pk[0], 32, "responder sees the initiator");

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (int from = 0; from < 2; from++) {
			tu_fill_random(a, sizes[i], 100 * i + from);
			cr_assert_eq(mfs_noise_encrypt(p.t[from], box, a, sizes[i]), 0);
			cr_assert_eq(mfs_noise_decrypt(p.t[!from], b, box,
						       sizes[i] + MFS_NOISE_TAG_BYTES), 0);
			cr_assert_arr_eq(a, b, sizes[i]);
		}
	}
	/* In place. */
	memcpy(box, "in place", 8);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box, box, 8), 0);
	cr_assert_arr_neq(box, "in place", 8);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], box, box, 8 + MFS_NOISE_TAG_BYTES), 0);
	cr_assert_arr_eq(box, "in place", 8);
	/* Too long to send, too long or too short to be a message. */
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box, a, MFS_NOISE_MAX_PLAIN + 1), -EMSGSIZE);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], b, box, MFS_NOISE_MAX_MSG + 1), MFS_E_FORMAT);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], b, box, MFS_NOISE_TAG_BYTES - 1), MFS_E_FORMAT);
	pair_free(&p);
}

Test(noise, handshakes_differ)
{
	struct pair p, q;

	pair_new(&p, "", "");
	pair_new(&q, "", "");
	cr_assert_eq(pair_handshake(&p, -1, 0, -1), 0);
	cr_assert_eq(pair_handshake(&q, -1, 0, -1), 0);
	cr_assert_arr_neq(p.hash[0], q.hash[0], 64);
	pair_free(&p);
	pair_free(&q);
}

Test(noise, every_tampered_handshake_byte_is_refused)
{
	size_t lens[3];
	struct pair p;
	int err;

	/* The message lengths, from one clean run ("payload N" is 9 bytes). */
	lens[0] = MFS_NOISE_XX_MSG1_OVERHEAD + 9;
	lens[1] = MFS_NOISE_XX_MSG2_OVERHEAD + 9;
	lens[2] = MFS_NOISE_XX_MSG3_OVERHEAD + 9;
	for (int m = 0; m < 3; m++) {
		for (size_t pos = 0; pos < lens[m]; pos++) {
			pair_new(&p, "pro", "pro");
			err = pair_handshake(&p, m, pos, -1);
			cr_assert(err == MFS_E_AUTH || err == MFS_E_FORMAT,
				  "message %d byte %zu: %d", m, pos, err);
			pair_free(&p);
		}
	}
}

Test(noise, short_handshake_messages_are_refused)
{
	long overhead[3] = {MFS_NOISE_XX_MSG1_OVERHEAD, MFS_NOISE_XX_MSG2_OVERHEAD,
			    MFS_NOISE_XX_MSG3_OVERHEAD};
	uint8_t got[64];
	size_t got_len;
	struct pair p;

	for (int m = 0; m < 3; m++) {
		long cuts[] = {0, 1, overhead[m] - 1};

		for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
			int to = !(m % 2);

			pair_new(&p, "", "");
			cr_assert_eq(pair_handshake(&p, m, 0, cuts[c]), MFS_E_FORMAT,
				     "message %d cut to %ld", m, cuts[c]);
			/* The failed side is finished. */
			cr_assert_eq(mfs_noise_hs_read(p.hs[to], got, sizeof got, &got_len, got,
						       sizeof got), -EPROTO);
			cr_assert_not(mfs_noise_hs_done(p.hs[to]));
			pair_free(&p);
		}
	}
}

Test(noise, wrong_prologue_fails)
{
	struct pair p;

	pair_new(&p, "megafs 1", "megafs 2");
	cr_assert_eq(pair_handshake(&p, -1, 0, -1), MFS_E_AUTH);
	cr_assert_not(mfs_noise_hs_done(p.hs[0]));
	cr_assert_not(mfs_noise_hs_done(p.hs[1]));
	pair_free(&p);
}

Test(noise, low_order_ephemeral_is_refused)
{
	static const uint8_t low_order[][32] = {
		{0},                                     /* u = 0 */
		{1},                                     /* u = 1 */
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
		 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
		 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}, /* order 8 */
	};
	uint8_t msg[256], got[256];
	size_t len, got_len;
	struct pair p;

	for (size_t i = 0; i < sizeof low_order / sizeof low_order[0]; i++) {
		/* A responder given a low-order e cannot answer. */
		pair_new(&p, "", "");
		cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, NULL, 0), 0);
		memcpy(msg, low_order[i], 32);
		cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, sizeof got, &got_len, msg, len), 0);
		cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, NULL, 0),
			     MFS_E_AUTH);
		cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, NULL, 0), -EPROTO);
		pair_free(&p);

		/* An initiator given a low-order e in message 2 refuses it. */
		pair_new(&p, "", "");
		cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, NULL, 0), 0);
		cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, sizeof got, &got_len, msg, len), 0);
		cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, NULL, 0), 0);
		memcpy(msg, low_order[i], 32);
		cr_assert_eq(mfs_noise_hs_read(p.hs[0], got, sizeof got, &got_len, msg, len),
			     MFS_E_AUTH);
		pair_free(&p);
	}
}

Test(noise, replayed_reordered_or_tampered_transport_fails)
{
	uint8_t box[3][5 + MFS_NOISE_TAG_BYTES], out[5];
	const size_t blen = sizeof box[0];
	struct pair p;

	pair_new(&p, "", "");
	cr_assert_eq(pair_handshake(&p, -1, 0, -1), 0);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box[0], (const uint8_t *)"zero!", 5), 0);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box[1], (const uint8_t *)"one!!", 5), 0);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box[2], (const uint8_t *)"two!!", 5), 0);

	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[1], blen), MFS_E_AUTH, "reordered");
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[0], blen), 0);
	cr_assert_arr_eq(out, "zero!", 5);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[0], blen), MFS_E_AUTH, "replayed");
	box[1][blen - 1] ^= 0x80;
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[1], blen), MFS_E_AUTH, "tampered");
	cr_assert_arr_eq(out, "\0\0\0\0\0", 5, "wiped on failure");
	box[1][blen - 1] ^= 0x80;
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[1], blen), 0);
	cr_assert_arr_eq(out, "one!!", 5);
	/* A message sent one way cannot be fed back the other way. */
	cr_assert_eq(mfs_noise_decrypt(p.t[0], out, box[2], blen), MFS_E_AUTH, "reflected");
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box[2], blen), 0);
	pair_free(&p);
}

Test(noise, nonces_run_out)
{
	uint8_t box[4 + MFS_NOISE_TAG_BYTES], out[4];
	struct pair p;

	pair_new(&p, "", "");
	cr_assert_eq(pair_handshake(&p, -1, 0, -1), 0);
	mfs_noise_transport_set_nonces(p.t[0], UINT64_MAX - 1, 0);
	mfs_noise_transport_set_nonces(p.t[1], 0, UINT64_MAX - 1);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box, (const uint8_t *)"last", 4), 0);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box, sizeof box), 0);
	cr_assert_arr_eq(out, "last", 4);
	cr_assert_eq(mfs_noise_encrypt(p.t[0], box, (const uint8_t *)"more", 4), -EOVERFLOW);
	cr_assert_eq(mfs_noise_decrypt(p.t[1], out, box, sizeof box), -EOVERFLOW);
	pair_free(&p);
}

Test(noise, out_of_turn_calls_fail)
{
	uint8_t msg[256], got[256], hash[64], rs[32], e[32] = {9};
	size_t len, got_len;
	struct mfs_noise_transport *t = (void *)1;
	struct pair p;

	pair_new(&p, "", "");
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, got,
					MFS_NOISE_MAX_MSG + 1), -EMSGSIZE, "a payload too large");
	cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, NULL, 0), -EPROTO);
	cr_assert_eq(mfs_noise_hs_read(p.hs[0], got, sizeof got, &got_len, msg, 64), -EPROTO);
	cr_assert_eq(mfs_noise_hs_split(p.hs[0], &t, hash, rs), -EPROTO);
	cr_assert_null(t);

	/* Message 1, then the initiator may not write again. */
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, NULL, 0), 0);
	cr_assert_eq(len, MFS_NOISE_XX_MSG1_OVERHEAD);
	cr_assert_eq(mfs_noise_hs_set_ephemeral(p.hs[0], e), -EPROTO);
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], got, sizeof got, &got_len, NULL, 0), -EPROTO);
	cr_assert_eq(got_len, 0);
	cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, sizeof got, &got_len, msg, len), 0);
	cr_assert_eq(got_len, 0);
	cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, sizeof got, &got_len, msg, len), -EPROTO);
	/* The out-of-turn calls changed nothing: the handshake completes. */
	cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, NULL, 0), 0);
	cr_assert_eq(len, MFS_NOISE_XX_MSG2_OVERHEAD);
	cr_assert_eq(mfs_noise_hs_read(p.hs[0], NULL, 0, &got_len, msg, len), 0);
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, NULL, 0), 0);
	cr_assert_eq(len, MFS_NOISE_XX_MSG3_OVERHEAD);
	cr_assert_eq(mfs_noise_hs_read(p.hs[1], NULL, 0, &got_len, msg, len), 0);
	cr_assert_eq(got_len, 0);

	/* Done: no more messages; one split each. */
	for (int side = 0; side < 2; side++) {
		cr_assert(mfs_noise_hs_done(p.hs[side]));
		cr_assert_eq(mfs_noise_hs_write(p.hs[side], msg, sizeof msg, &len, NULL, 0),
			     -EPROTO);
		cr_assert_eq(mfs_noise_hs_read(p.hs[side], got, sizeof got, &got_len, msg, 64),
			     -EPROTO);
		cr_assert_eq(mfs_noise_hs_split(p.hs[side], &p.t[side], p.hash[side],
						p.rs[side]), 0);
		cr_assert_eq(mfs_noise_hs_split(p.hs[side], &t, hash, rs), -EPROTO);
		cr_assert_null(t);
	}
	pair_free(&p);
}

Test(noise, small_buffers_leave_the_handshake_usable)
{
	uint8_t msg[256], got[256], payload[100];
	size_t len, got_len;
	struct pair p;

	pair_new(&p, "", "");
	tu_fill_random(payload, sizeof payload, 7);
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, MFS_NOISE_XX_MSG1_OVERHEAD + 99, &len,
					payload, 100), -ENOBUFS);
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, payload,
					MFS_NOISE_MAX_MSG), -EMSGSIZE);
	cr_assert_eq(mfs_noise_hs_write(p.hs[0], msg, sizeof msg, &len, payload, 100), 0);
	cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, 99, &got_len, msg, len), -ENOBUFS);
	cr_assert_eq(mfs_noise_hs_read(p.hs[1], got, 100, &got_len, msg, len), 0);
	cr_assert_eq(got_len, 100);
	cr_assert_arr_eq(got, payload, 100);
	cr_assert_eq(mfs_noise_hs_write(p.hs[1], msg, sizeof msg, &len, payload, 100), 0);
	cr_assert_eq(mfs_noise_hs_read(p.hs[0], got, 99, &got_len, msg, len), -ENOBUFS);
	cr_assert_eq(mfs_noise_hs_read(p.hs[0], got, sizeof got, &got_len, msg, len), 0);
	cr_assert_arr_eq(got, payload, 100);
	pair_free(&p);
}
