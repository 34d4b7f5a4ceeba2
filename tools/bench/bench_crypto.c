/* mfs-bench-crypto: raw crypto ceilings on one core, and megafs's own paths.
 *
 * This benchmark calls libsodium directly (the only code outside crypto/
 * allowed to): the raw primitives give the ceilings that megafs's paths are
 * compared with. The megafs paths go through crypto/ (mfs_chunk_seal,
 * mfs_blob_id, mfs_chunk_open_range, mfs_kdf_password).
 *
 * Every throughput test runs over the same 1 MiB buffers in memory (in cache,
 * not from disk), one thread, after a warm-up; nothing is pinned. Output is
 * one line per result, "name value unit", for scripts (tools/bench/ingest.sh
 * builds its table from it):
 *
 *   xchacha20poly1305_encrypt   crypto_aead_xchacha20poly1305_ietf_encrypt
 *   xchacha20poly1305_decrypt   ... _decrypt (verifies the tag)
 *   aead_seal, aead_open        mfs_aead_seal / mfs_aead_open: the same
 *                               cipher through crypto/aead.c (HChaCha20 by
 *                               libsodium, the bulk by OpenSSL's EVP)
 *   aead_decrypt_unchecked      mfs_aead_decrypt_unchecked: ChaCha20 alone
 *                               (segments whose bytes are authenticated)
 *   aead_pieces_4k, _16k, _64k  1 MiB sealed as RFC 8439 messages of 4, 16
 *                               and 64 KiB under one XChaCha20 subkey (a
 *                               volume slot's pieces are 16 KiB)
 *   blake2b256                  crypto_generichash, 32-byte output
 *   sha256_libsodium            crypto_hash_sha256
 *   blob_id                     mfs_blob_id of a 1 MiB chunk's blob (the
 *                               SHA-256 hash list, through OpenSSL)
 *   hmac_sha256                 mfs_hmac_sha256 (convergent keys)
 *   ceiling                     mfs_aead_seal, then mfs_blob_id of the
 *                               ciphertext: the least an ingest must compute
 *                               per byte, with the ciphers megafs uses
 *   seal_random                 mfs_chunk_key_random + mfs_chunk_seal
 *                               (64 KiB segments) + mfs_blob_id
 *   seal_convergent             mfs_chunk_key_convergent + the same
 *   chunk_open                  mfs_chunk_open_range of a whole chunk
 *   model_ingest_random         seal_random, then the blob cut into store
 *                               slots, each sealed by the volume's own
 *                               volmap_seal_slot (four pieces, the random
 *                               nonce and padding): the crypto megafs ingest
 *                               --mode random does per byte, one core
 *   model_ingest_convergent     the same after seal_convergent (--mode
 *                               convergent, a file written through a mount)
 *   model_extract               each slot opened (volmap_open_value) + the
 *                               chunk opened with its tags (chunk_open): the
 *                               crypto megafs extract does per byte
 *   model_read                  each slot opened + the chunk's segments
 *                               decrypted without their tags
 *                               (mfs_chunk_decrypt_segment): a mount's
 *                               sequential read of a blob in the volume
 *   slot_payload, slot_data,    layout facts for scripts (bytes of payload
 *   chunk_blob                  per store slot, of object data per slot;
 *                               bytes of a sealed 1 MiB chunk); --layout
 *                               prints only these
 *   argon2id_<preset>           mfs_kdf_password with mfs_kdf_preset(<preset>)
 *                               (median of several runs, including the
 *                               allocation of its memory, as an unlock does)
 *
 * MiB/s are MiB of plaintext per second. */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/aead.h"
#include "crypto/chunk.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/le.h"
#include "crypto/secure.h"
#include "fs/store/volmap.h" /* the volume's slot sealing */

#define MIB (1u << 20)
#define BUF_BYTES MIB

struct bufs {
	uint8_t *plain;   /* BUF_BYTES of random bytes */
	uint8_t *out;     /* scratch: room for a sealed chunk or blob */
	uint8_t *cipher;  /* a valid AEAD ciphertext of plain (fixed nonce) */
	uint8_t *blob;    /* a valid sealed chunk of plain */
	uint8_t *slots;   /* model: the blob cut into sealed slots (MFS_SLOT_BYTES each) */
	uint8_t *slots_w; /* model: where the ingest models write their slots */
	uint8_t *payload; /* model: one slot's payload being built (guarded) */
	struct vol_keys *keys; /* model: a volume's keys (guarded) */
	size_t blob_len;
	size_t slot_count;
	uint8_t key[32];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t secret[32];
};

static volatile uint8_t sink; /* keeps results observable */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void op_encrypt(struct bufs *b)
{
	unsigned long long clen;

	sodium_increment(b->nonce, sizeof b->nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(b->out, &clen, b->plain, BUF_BYTES, NULL, 0,
						   NULL, b->nonce, b->key);
	sink ^= b->out[0];
}

static const uint8_t fixed_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

static void op_decrypt(struct bufs *b)
{
	unsigned long long mlen;

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(b->out, &mlen, NULL, b->cipher,
						       BUF_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES,
						       NULL, 0, fixed_nonce, b->key) != 0) {
		fprintf(stderr, "bench: decrypt failed\n");
		exit(1);
	}
	sink ^= b->out[0];
}

static void op_aead_seal(struct bufs *b)
{
	sodium_increment(b->nonce, sizeof b->nonce);
	mfs_aead_seal(b->out, b->plain, BUF_BYTES, NULL, 0, b->nonce, b->key);
	sink ^= b->out[0];
}

static void op_aead_open(struct bufs *b)
{
	if (mfs_aead_open(b->out, b->cipher, BUF_BYTES, NULL, 0, fixed_nonce, b->key) != 0) {
		fprintf(stderr, "bench: mfs_aead_open failed\n");
		exit(1);
	}
	sink ^= b->out[0];
}

/* The cipher alone, for bytes authenticated otherwise (the reader's
 * segments): ChaCha20 without Poly1305. */
static void op_decrypt_unchecked(struct bufs *b)
{
	mfs_aead_decrypt_unchecked(b->out, b->cipher, BUF_BYTES, 0, fixed_nonce, b->key);
	sink ^= b->out[0];
}

/* 1 MiB sealed as messages of piece bytes under one XChaCha20 subkey, as a
 * volume seals a slot's pieces: what the messages' number costs. */
static void seal_pieces(struct bufs *b, size_t piece)
{
	uint8_t subkey[32], nonce[MFS_AEAD_IETF_NONCE_BYTES];

	sodium_increment(b->nonce, sizeof b->nonce);
	mfs_aead_xsplit(subkey, nonce, b->nonce, b->key);
	for (size_t off = 0; off < BUF_BYTES; off += piece) {
		nonce[0] = (uint8_t)(off / piece);
		mfs_aead_ietf_seal(b->out + off / piece * (piece + MFS_AEAD_TAG_BYTES), b->plain + off,
				   piece, NULL, 0, nonce, subkey);
	}
	sink ^= b->out[0];
}

static void op_pieces_4k(struct bufs *b)
{
	seal_pieces(b, 4096);
}

static void op_pieces_16k(struct bufs *b)
{
	seal_pieces(b, 16384);
}

static void op_pieces_64k(struct bufs *b)
{
	seal_pieces(b, 65536);
}

static void op_blake2b(struct bufs *b)
{
	uint8_t h[32];

	crypto_generichash(h, sizeof h, b->plain, BUF_BYTES, NULL, 0);
	sink ^= h[0];
}

static void op_sha256(struct bufs *b)
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, b->plain, BUF_BYTES);
	sink ^= h[0];
}

static void op_blob_id(struct bufs *b)
{
	uint8_t id[MFS_BLOB_ID_BYTES];

	mfs_blob_id(id, b->blob, b->blob_len);
	sink ^= id[0];
}

static void op_hmac(struct bufs *b)
{
	uint8_t h[32];

	mfs_hmac_sha256(h, b->secret, b->plain, BUF_BYTES, NULL, 0);
	sink ^= h[0];
}

static void op_ceiling(struct bufs *b)
{
	uint8_t id[MFS_BLOB_ID_BYTES];

	sodium_increment(b->nonce, sizeof b->nonce);
	mfs_aead_seal(b->out, b->plain, BUF_BYTES, NULL, 0, b->nonce, b->key);
	mfs_blob_id(id, b->out, BUF_BYTES + MFS_AEAD_TAG_BYTES);
	sink ^= id[0];
}

static void op_seal_random(struct bufs *b)
{
	uint8_t key[MFS_CHUNK_KEY_BYTES], id[MFS_BLOB_ID_BYTES];

	mfs_chunk_key_random(key);
	mfs_chunk_seal(b->out, b->plain, BUF_BYTES, key);
	mfs_blob_id(id, b->out, b->blob_len);
	sink ^= id[0];
}

static void seal_convergent(struct bufs *b, uint8_t id[static MFS_BLOB_ID_BYTES])
{
	uint8_t key[MFS_CHUNK_KEY_BYTES];

	mfs_chunk_key_convergent(key, b->plain, BUF_BYTES, b->secret);
	mfs_chunk_seal(b->out, b->plain, BUF_BYTES, key);
	mfs_blob_id(id, b->out, b->blob_len);
}

static void op_seal_convergent(struct bufs *b)
{
	uint8_t id[MFS_BLOB_ID_BYTES];

	seal_convergent(b, id);
	sink ^= id[0];
}

static void op_chunk_open(struct bufs *b)
{
	if (mfs_chunk_open_range(b->out, b->blob, b->blob_len, 0, BUF_BYTES, b->key) != 0) {
		fprintf(stderr, "bench: chunk open failed\n");
		exit(1);
	}
	sink ^= b->out[0];
}

static const uint8_t model_vid[VID_BYTES] = {0x6d, 0x66, 0x73};

/* The blob in b->out cut into slots as the volume writes an object (each
 * payload: the length, up to MFS_SLOT_DATA bytes, the leaf: copied from the
 * id's, which the model has hashed already, so zeros here) and sealed into
 * dst by the volume's own code. */
static void model_slots_seal(struct bufs *b, const uint8_t *blob, uint8_t *dst)
{
	for (size_t s = 0; s < b->slot_count; s++) {
		size_t off = s * MFS_SLOT_DATA;
		size_t n = b->blob_len - off < MFS_SLOT_DATA ? b->blob_len - off : MFS_SLOT_DATA;

		mfs_le_put(b->payload, b->blob_len, 8);
		memcpy(b->payload + 8, blob + off, n);
		memset(b->payload + 8 + n, 0, MFS_SLOT_DATA - n + MFS_SLOT_LEAF);
		volmap_seal_slot(dst + s * MFS_SLOT_BYTES, b->payload, b->keys, model_vid, s);
	}
}

static void op_model_ingest_random(struct bufs *b)
{
	op_seal_random(b);
	model_slots_seal(b, b->out, b->slots_w);
	sink ^= b->slots_w[0];
}

static void op_model_ingest(struct bufs *b)
{
	uint8_t id[MFS_BLOB_ID_BYTES];

	seal_convergent(b, id);
	model_slots_seal(b, b->out, b->slots_w);
	sink ^= id[0] ^ b->slots_w[0];
}

static void model_slots_open(struct bufs *b)
{
	for (size_t s = 0; s < b->slot_count; s++)
		if (volmap_open_value(b->slots + s * MFS_SLOT_BYTES, b->keys, model_vid, s,
				      b->out + s * MFS_SLOT_PAYLOAD) != 0) {
			fprintf(stderr, "bench: slot open failed\n");
			exit(1);
		}
}

static void op_model_extract(struct bufs *b)
{
	model_slots_open(b);
	op_chunk_open(b);
}

static void op_model_read(struct bufs *b)
{
	const size_t padded = mfs_chunk_padded_len(BUF_BYTES);
	size_t at, len;

	model_slots_open(b);
	for (uint32_t i = 0; mfs_chunk_segment_span(padded, i, &at, &len); i++)
		if (mfs_chunk_decrypt_segment(b->out + (size_t)i * MFS_SEGMENT_BYTES, b->blob + at, len,
					      i, padded, b->key) != 0) {
			fprintf(stderr, "bench: segment decrypt failed\n");
			exit(1);
		}
	sink ^= b->out[0];
}

struct test {
	const char *name;
	void (*op)(struct bufs *b);
};

static void run_throughput(struct bufs *b, const struct test *t, uint64_t mib)
{
	uint64_t warm = mib / 16 < 16 ? 16 : mib / 16;
	double t0, dt;

	for (uint64_t i = 0; i < warm; i++)
		t->op(b);
	t0 = now_s();
	for (uint64_t i = 0; i < mib; i++)
		t->op(b);
	dt = now_s() - t0;
	printf("%s %.1f MiB/s\n", t->name, (double)mib / dt);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_kdf(const char *preset, int runs)
{
	struct mfs_kdf_limits lim;
	uint8_t key[MFS_KEY_BYTES], salt[MFS_KDF_SALT_BYTES] = {1};
	static const char pw[] = "correct horse battery staple";
	double ms[16];

	if (mfs_kdf_preset(&lim, preset) != 0)
		return 1;
	for (int i = 0; i < runs; i++) {
		double t0 = now_s();

		if (mfs_kdf_password(key, pw, sizeof pw - 1, salt, &lim) != 0) {
			fprintf(stderr, "bench: Argon2id (%s) failed: out of memory?\n", preset);
			return 1;
		}
		ms[i] = (now_s() - t0) * 1e3;
		sink ^= key[0];
	}
	qsort(ms, (size_t)runs, sizeof ms[0], cmp_double);
	printf("argon2id_%s %.1f ms\n", preset, ms[runs / 2]);
	printf("argon2id_%s_mem %" PRIu64 " MiB\n", preset, lim.mem / MIB);
	printf("argon2id_%s_ops %" PRIu64 " passes\n", preset, lim.ops);
	fflush(stdout);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mfs-bench-crypto [--size MIB] [--sensitive] [--no-kdf | --kdf-only]\n"
		   "       mfs-bench-crypto --layout\n"
		   "  --size MIB   MiB processed per throughput test (default 1024)\n"
		   "  --sensitive  also time Argon2id \"sensitive\" (1 GiB, several seconds)\n"
		   "  --no-kdf     skip the Argon2id timings\n"
		   "  --kdf-only   only the Argon2id timings\n"
		   "  --layout     only the layout facts (slot payload, sealed chunk size)\n"
		   "Prints \"name value unit\" lines.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"size", required_argument, NULL, 's'},
		{"sensitive", no_argument, NULL, 'S'},
		{"no-kdf", no_argument, NULL, 'n'},
		{"kdf-only", no_argument, NULL, 'k'},
		{"layout", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const struct test tests[] = {
		{"xchacha20poly1305_encrypt", op_encrypt},
		{"xchacha20poly1305_decrypt", op_decrypt},
		{"aead_seal", op_aead_seal},
		{"aead_open", op_aead_open},
		{"aead_decrypt_unchecked", op_decrypt_unchecked},
		{"aead_pieces_4k", op_pieces_4k},
		{"aead_pieces_16k", op_pieces_16k},
		{"aead_pieces_64k", op_pieces_64k},
		{"blake2b256", op_blake2b},
		{"sha256_libsodium", op_sha256},
		{"blob_id", op_blob_id},
		{"hmac_sha256", op_hmac},
		{"ceiling", op_ceiling},
		{"seal_random", op_seal_random},
		{"seal_convergent", op_seal_convergent},
		{"chunk_open", op_chunk_open},
		{"model_ingest_random", op_model_ingest_random},
		{"model_ingest_convergent", op_model_ingest},
		{"model_extract", op_model_extract},
		{"model_read", op_model_read},
	};
	uint64_t mib = 1024;
	int sensitive = 0, kdf = 1, throughput = 1, layout_only = 0, opt;
	struct bufs b;
	size_t room;

	while ((opt = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 's':
			mib = strtoull(optarg, &end, 10);
			if (*end || mib == 0) {
				fprintf(stderr, "bench: --size takes a positive number of MiB\n");
				return 2;
			}
			break;
		case 'S':
			sensitive = 1;
			break;
		case 'n':
			kdf = 0;
			break;
		case 'k':
			throughput = 0;
			break;
		case 'l':
			layout_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	printf("slot_payload %u bytes\n", (unsigned)MFS_SLOT_PAYLOAD);
	printf("slot_data %u bytes\n", (unsigned)MFS_SLOT_DATA);
	printf("chunk_blob %zu bytes\n", mfs_blob_len(mfs_chunk_padded_len(MFS_CHUNK_SIZE_DEFAULT)));
	fflush(stdout);
	if (layout_only)
		return 0;
	if (mfs_crypto_init() != 0) {
		fprintf(stderr, "bench: libsodium failed to initialise\n");
		return 1;
	}

	if (throughput) {
		unsigned long long clen;

		memset(&b, 0, sizeof b);
		b.blob_len = mfs_blob_len(mfs_chunk_padded_len(BUF_BYTES));
		b.slot_count = (b.blob_len + MFS_SLOT_DATA - 1) / MFS_SLOT_DATA;
		room = b.slot_count * MFS_SLOT_PAYLOAD; /* >= blob_len >= BUF_BYTES + tag */
		if (room < BUF_BYTES / 4096 * (4096 + MFS_AEAD_TAG_BYTES))
			room = BUF_BYTES / 4096 * (4096 + MFS_AEAD_TAG_BYTES); /* 4 KiB pieces */
		b.plain = malloc(BUF_BYTES);
		b.out = malloc(room);
		b.cipher = malloc(BUF_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES);
		b.blob = malloc(b.blob_len);
		b.slots = malloc(b.slot_count * MFS_SLOT_BYTES);
		b.slots_w = malloc(b.slot_count * MFS_SLOT_BYTES);
		b.payload = mfs_secure_alloc(MFS_SLOT_PAYLOAD);
		b.keys = mfs_secure_alloc(sizeof *b.keys);
		if (!b.plain || !b.out || !b.cipher || !b.blob || !b.slots || !b.slots_w ||
		    !b.payload || !b.keys) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		randombytes_buf(b.plain, BUF_BYTES);
		randombytes_buf(b.key, sizeof b.key);
		randombytes_buf(b.secret, sizeof b.secret);
		randombytes_buf(b.keys, sizeof *b.keys);
		crypto_aead_xchacha20poly1305_ietf_encrypt(b.cipher, &clen, b.plain, BUF_BYTES, NULL, 0,
							   NULL, fixed_nonce, b.key);
		mfs_chunk_seal(b.blob, b.plain, BUF_BYTES, b.key);
		/* Valid slots for model_extract and model_read: the blob's. */
		model_slots_seal(&b, b.blob, b.slots);
		printf("size %" PRIu64 " MiB\n", mib);
		fflush(stdout);
		for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
			run_throughput(&b, &tests[i], mib);
		free(b.plain);
		free(b.out);
		free(b.cipher);
		free(b.blob);
		free(b.slots);
		free(b.slots_w);
		mfs_secure_free(b.payload);
		mfs_secure_free(b.keys);
	}
	if (kdf) {
		if (run_kdf("interactive", 5) != 0 || run_kdf("moderate", 3) != 0)
			return 1;
		if (sensitive && run_kdf("sensitive", 1) != 0)
			return 1;
	}
	return 0;
}
