#include "crypto/sha256x2.h"

#include <sodium.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/secure.h"

#define PREFIX_MAX 128u

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2};

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* Where each 64-byte block of one message lies: the blocks holding prefix
 * bytes and the last one or two (the tail, then the padding) in copies of
 * their own, every other one in the data itself. */
struct lane {
	uint8_t head[PREFIX_MAX];
	uint8_t tail[128];
	const uint8_t *data;
	size_t prefix_len;
	uint64_t head_blocks; /* blocks in head */
	uint64_t full;        /* blocks of message bytes only */
	uint64_t blocks;      /* all of them, the padding's too */
};

/* Message bytes [from, from + n) of prefix || data. */
static void copy_msg(uint8_t *dst, const struct mfs_sha256x2_msg *m, uint64_t from, size_t n)
{
	for (; n > 0 && from < m->prefix_len; n--)
		*dst++ = m->prefix[from++];
	if (n > 0)
		memcpy(dst, m->data + (from - m->prefix_len), n);
}

static void lane_init(struct lane *l, const struct mfs_sha256x2_msg *m)
{
	const uint64_t total = (uint64_t)m->prefix_len + m->len, bits = total * 8;
	const size_t rest = (size_t)(total % 64);
	uint8_t *end;

	l->data = m->data;
	l->prefix_len = m->prefix_len;
	l->full = total / 64;
	l->head_blocks = (m->prefix_len + 63) / 64;
	if (l->head_blocks > l->full)
		l->head_blocks = l->full;
	copy_msg(l->head, m, 0, (size_t)l->head_blocks * 64);
	memset(l->tail, 0, sizeof l->tail);
	copy_msg(l->tail, m, l->full * 64, rest);
	l->tail[rest] = 0x80;
	l->blocks = l->full + (rest + 9 <= 64 ? 1 : 2);
	end = l->tail + (l->blocks - l->full) * 64;
	for (int i = 1; i <= 8; i++)
		end[-i] = (uint8_t)(bits >> (8 * (i - 1)));
}

static const uint8_t *block_of(const struct lane *l, uint64_t k)
{
	if (k < l->head_blocks)
		return l->head + k * 64;
	if (k < l->full)
		return l->data + (k * 64 - l->prefix_len);
	return l->tail + (k - l->full) * 64;
}

/* (a, b, c, d), (e, f, g, h) -> ABEF, CDGH: the order SHA-NI keeps them in. */
SHA_TARGET static void state_load(const uint32_t s[8], __m128i *abef, __m128i *cdgh)
{
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);
	__m128i u = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);

	*abef = _mm_alignr_epi8(t, u, 8);
	*cdgh = _mm_blend_epi16(u, t, 0xF0);
}

SHA_TARGET static void state_store(uint32_t s[8], __m128i abef, __m128i cdgh)
{
	__m128i t = _mm_shuffle_epi32(abef, 0x1B);
	__m128i u = _mm_shuffle_epi32(cdgh, 0xB1);

	_mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(t, u, 0xF0));
	_mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(u, t, 8));
}

/* Every block of both lanes, interleaved. A lane with fewer blocks hashes
 * the other's meanwhile and keeps its state. */
SHA_TARGET static void run_x2(uint32_t sa[8], uint32_t sb[8], const struct lane *la,
			      const struct lane *lb)
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	const uint64_t n = la->blocks > lb->blocks ? la->blocks : lb->blocks;
	__m128i a0, a1, b0, b1;

	state_load(sa, &a0, &a1);
	state_load(sb, &b0, &b1);
	for (uint64_t k = 0; k < n; k++) {
		const int a_on = k < la->blocks, b_on = k < lb->blocks;
		const uint8_t *pa = block_of(a_on ? la : lb, k), *pb = block_of(b_on ? lb : la, k);
		const __m128i a0_in = a0, a1_in = a1, b0_in = b0, b1_in = b1;
		__m128i wa[4], wb[4], ma, mb;

#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			const __m128i k4 = _mm_loadu_si128((const __m128i *)&K256[4 * g]);

			if (g < 4) {
				wa[g] = _mm_shuffle_epi8(
					_mm_loadu_si128((const __m128i *)(pa + 16 * g)), swap);
				wb[g] = _mm_shuffle_epi8(
					_mm_loadu_si128((const __m128i *)(pb + 16 * g)), swap);
			}
			ma = _mm_add_epi32(wa[g & 3], k4);
			mb = _mm_add_epi32(wb[g & 3], k4);
			a1 = _mm_sha256rnds2_epu32(a1, a0, ma);
			b1 = _mm_sha256rnds2_epu32(b1, b0, mb);
			/* The schedule: group g + 1's words, from msg1's start two
			 * groups back, the words seven back and sigma1 of two back. */
			if (g >= 3 && g <= 14) {
				wa[(g + 1) & 3] = _mm_sha256msg2_epu32(
					_mm_add_epi32(wa[(g + 1) & 3],
						      _mm_alignr_epi8(wa[g & 3], wa[(g - 1) & 3], 4)),
					wa[g & 3]);
				wb[(g + 1) & 3] = _mm_sha256msg2_epu32(
					_mm_add_epi32(wb[(g + 1) & 3],
						      _mm_alignr_epi8(wb[g & 3], wb[(g - 1) & 3], 4)),
					wb[g & 3]);
			}
			a0 = _mm_sha256rnds2_epu32(a0, a1, _mm_shuffle_epi32(ma, 0x0E));
			b0 = _mm_sha256rnds2_epu32(b0, b1, _mm_shuffle_epi32(mb, 0x0E));
			if (g >= 1 && g <= 12) {
				wa[(g - 1) & 3] = _mm_sha256msg1_epu32(wa[(g - 1) & 3], wa[g & 3]);
				wb[(g - 1) & 3] = _mm_sha256msg1_epu32(wb[(g - 1) & 3], wb[g & 3]);
			}
		}
		a0 = a_on ? _mm_add_epi32(a0, a0_in) : a0_in;
		a1 = a_on ? _mm_add_epi32(a1, a1_in) : a1_in;
		b0 = b_on ? _mm_add_epi32(b0, b0_in) : b0_in;
		b1 = b_on ? _mm_add_epi32(b1, b1_in) : b1_in;
	}
	state_store(sa, a0, a1);
	state_store(sb, b0, b1);
}

int mfs_sha256x2_available(void)
{
	static int known = -1;
	unsigned a, b, c, d;
	int yes = __atomic_load_n(&known, __ATOMIC_RELAXED);

	if (yes >= 0)
		return yes;
	yes = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
	      __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
	__atomic_store_n(&known, yes, __ATOMIC_RELAXED);
	return yes;
}

static void pair(uint8_t out[2][32], const struct mfs_sha256x2_msg m[2])
{
	struct lane l[2];
	uint32_t s[2][8];

	for (int i = 0; i < 2; i++) {
		lane_init(&l[i], &m[i]);
		memcpy(s[i], IV, sizeof IV);
	}
	run_x2(s[0], s[1], &l[0], &l[1]);
	for (int i = 0; i < 2; i++)
		for (int w = 0; w < 8; w++)
			for (int j = 0; j < 4; j++)
				out[i][4 * w + j] = (uint8_t)(s[i][w] >> (24 - 8 * j));
	/* The copies hold message bytes: a chunk's plaintext, a key. */
	mfs_memzero(l, sizeof l);
}

#else

int mfs_sha256x2_available(void)
{
	return 0;
}

#endif

void mfs_sha256x2(uint8_t out[2][32], const struct mfs_sha256x2_msg m[2])
{
	crypto_hash_sha256_state st;

#if defined(__x86_64__) && defined(__GNUC__)
	if (mfs_sha256x2_available() && m[0].prefix_len <= PREFIX_MAX &&
	    m[1].prefix_len <= PREFIX_MAX) {
		pair(out, m);
		return;
	}
#endif
	/* Correct everywhere; slow (portable C). */
	for (int i = 0; i < 2; i++) {
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, m[i].prefix, m[i].prefix_len);
		crypto_hash_sha256_update(&st, m[i].data, m[i].len);
		crypto_hash_sha256_final(&st, out[i]);
	}
	sodium_memzero(&st, sizeof st);
}

void mfs_hmac_sha256x2(uint8_t out[2][32], const uint8_t key[static 32],
		       const struct mfs_sha256x2_msg m[2])
{
	uint8_t ipad[2][PREFIX_MAX], opad[64], inner[2][32];
	struct mfs_sha256x2_msg h[2];

	if (!mfs_sha256x2_available() || m[0].prefix_len > PREFIX_MAX - 64 ||
	    m[1].prefix_len > PREFIX_MAX - 64) {
		for (int i = 0; i < 2; i++)
			mfs_hmac_sha256(out[i], key, m[i].prefix, m[i].prefix_len, m[i].data, m[i].len);
		return;
	}
	for (int i = 0; i < 64; i++) {
		ipad[0][i] = ipad[1][i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
		opad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x5c);
	}
	for (int i = 0; i < 2; i++) {
		memcpy(ipad[i] + 64, m[i].prefix, m[i].prefix_len);
		h[i] = (struct mfs_sha256x2_msg){ipad[i], 64 + m[i].prefix_len, m[i].data, m[i].len};
	}
	mfs_sha256x2(inner, h);
	for (int i = 0; i < 2; i++)
		h[i] = (struct mfs_sha256x2_msg){opad, sizeof opad, inner[i], sizeof inner[i]};
	mfs_sha256x2(out, h);
	mfs_memzero(ipad, sizeof ipad);
	mfs_memzero(opad, sizeof opad);
	mfs_memzero(inner, sizeof inner);
}
