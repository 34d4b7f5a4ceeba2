/* fs/store/parity: any k of a stripe's 2k blocks give back its data, fewer
 * are refused, and the code itself is pinned by a golden vector (a stored
 * hidden volume's parity slots depend on it). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/parity.h"

#define LEN 4099 /* not a multiple of the SIMD width */

struct stripe {
	uint8_t bytes[MFS_PARITY_MAX_K + MFS_PARITY_MAX_M][LEN];
	uint8_t *ptr[MFS_PARITY_MAX_K + MFS_PARITY_MAX_M];
};

static void stripe_fill(struct stripe *s, unsigned k, unsigned m)
{
	for (unsigned i = 0; i < k + m; i++)
		s->ptr[i] = s->bytes[i];
	mfs_random(s->bytes, (size_t)k * LEN);
	cr_assert_eq(mfs_parity_encode(s->ptr + k, s->ptr, k, m, LEN), 0);
}

/* Loses exactly m of a stripe's k + m blocks, chosen at random, and
 * rebuilds the data from the k left. */
static void lose_and_rebuild(const struct stripe *s, unsigned k, unsigned m)
{
	static struct stripe copy;
	uint8_t present[MFS_PARITY_MAX_K + MFS_PARITY_MAX_M];
	unsigned lost = 0;

	memcpy(&copy.bytes, &s->bytes, sizeof s->bytes);
	for (unsigned i = 0; i < k + m; i++)
		copy.ptr[i] = copy.bytes[i];
	memset(present, 1, sizeof present);
	while (lost < m) {
		unsigned i = mfs_random_uniform(k + m);

		if (present[i]) {
			present[i] = 0;
			memset(copy.bytes[i], 0xA5, LEN);
			lost++;
		}
	}
	cr_assert_eq(mfs_parity_rebuild(copy.ptr, present, k, m, LEN), 0);
	for (unsigned i = 0; i < k; i++)
		cr_assert(memcmp(copy.bytes[i], s->bytes[i], LEN) == 0,
			  "k=%u m=%u: data block %u rebuilt wrong", k, m, i);
}

Test(parity, any_k_of_k_plus_m_blocks_rebuild_the_data)
{
	static struct stripe s;

	for (unsigned k = 1; k <= MFS_PARITY_MAX_K; k++) {
		unsigned ms[] = {k, k + (k + 1) / 2 + 4, 1, MFS_PARITY_MAX_M};

		for (unsigned c = 0; c < 4; c++) {
			stripe_fill(&s, k, ms[c]);
			for (int round = 0; round < 10; round++)
				lose_and_rebuild(&s, k, ms[c]);
		}
	}
}

Test(parity, fewer_than_k_blocks_are_refused)
{
	static struct stripe s;
	uint8_t present[2 * 4] = {1, 0, 0, 1, 0, 1, 0, 0};

	stripe_fill(&s, 4, 4);
	cr_assert_eq(mfs_parity_rebuild(s.ptr, present, 4, 4, LEN), MFS_E_CORRUPT);
	cr_assert_eq(mfs_parity_encode(s.ptr + 4, s.ptr, 0, 4, LEN), -EINVAL);
	cr_assert_eq(mfs_parity_encode(s.ptr + 4, s.ptr, MFS_PARITY_MAX_K + 1, 4, LEN), -EINVAL);
	cr_assert_eq(mfs_parity_encode(s.ptr + 4, s.ptr, 4, MFS_PARITY_MAX_M + 1, LEN), -EINVAL);
	cr_assert_eq(mfs_parity_encode(s.ptr + 4, s.ptr, 4, 0, LEN), -EINVAL);
}

/* The code is a format: three blocks of 8 bytes (block i, byte j = 16*i+j)
 * give these parity bytes, here and in every store ever written. */
Test(parity, golden_vector)
{
	static const uint8_t want[3][8] = {
#include "tests/vectors/parity-k3.inc"
	};
	uint8_t data[3][8], par[3][8];
	uint8_t *d[3] = {data[0], data[1], data[2]}, *p[3] = {par[0], par[1], par[2]};

	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 8; j++)
			data[i][j] = (uint8_t)(16 * i + j);
	cr_assert_eq(mfs_parity_encode(p, d, 3, 3, 8), 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(memcmp(par[i], want[i], 8) == 0, "parity block %u differs from the vector", i);
}
