#include "fs/store/parity.h"

#include <errno.h>
#include <isa-l/erasure_code.h>
#include <string.h>

#include "crypto/mfs_error.h"

#define MAX_ROWS (MFS_PARITY_MAX_K + MFS_PARITY_MAX_M)

/* The ((k + m) x k) Cauchy matrix: identity on top, the parity rows below.
 * Any k of its rows are independent, which is what makes any k blocks
 * enough. */
static void code_matrix(uint8_t a[static MAX_ROWS * MFS_PARITY_MAX_K], unsigned k, unsigned m)
{
	gf_gen_cauchy1_matrix(a, (int)(k + m), (int)k);
}

static int valid(unsigned k, unsigned m, size_t len)
{
	return k >= 1 && k <= MFS_PARITY_MAX_K && m >= 1 && m <= MFS_PARITY_MAX_M && len <= INT32_MAX;
}

int mfs_parity_encode(uint8_t *const *parity, uint8_t *const *data, unsigned k, unsigned m,
		      size_t len)
{
	uint8_t a[MAX_ROWS * MFS_PARITY_MAX_K];
	uint8_t tables[32 * MFS_PARITY_MAX_K * MFS_PARITY_MAX_M];

	if (!valid(k, m, len))
		return -EINVAL;
	code_matrix(a, k, m);
	ec_init_tables((int)k, (int)m, a + k * k, tables);
	ec_encode_data((int)len, (int)k, (int)m, tables, (uint8_t **)data, (uint8_t **)parity);
	return 0;
}

int mfs_parity_rebuild(uint8_t *const *blocks, const uint8_t *present, unsigned k, unsigned m,
		       size_t len)
{
	uint8_t a[MAX_ROWS * MFS_PARITY_MAX_K], sub[MFS_PARITY_MAX_K * MFS_PARITY_MAX_K];
	uint8_t inv[MFS_PARITY_MAX_K * MFS_PARITY_MAX_K], rows[MFS_PARITY_MAX_K * MFS_PARITY_MAX_K];
	uint8_t tables[32 * MFS_PARITY_MAX_K * MFS_PARITY_MAX_K];
	uint8_t *src[MFS_PARITY_MAX_K], *out[MFS_PARITY_MAX_K];
	unsigned nsrc = 0, nout = 0;

	if (!valid(k, m, len))
		return -EINVAL;
	code_matrix(a, k, m);
	/* The first k blocks present, and their rows of the code. */
	for (unsigned i = 0; i < k + m && nsrc < k; i++) {
		if (!present[i])
			continue;
		memcpy(sub + nsrc * k, a + i * k, k);
		src[nsrc++] = blocks[i];
	}
	if (nsrc < k)
		return MFS_E_CORRUPT;
	if (gf_invert_matrix(sub, inv, (int)k) != 0)
		return MFS_E_CORRUPT; /* cannot happen with a Cauchy code */
	/* A missing data block i is row i of the inverse times the sources. */
	for (unsigned i = 0; i < k; i++) {
		if (present[i])
			continue;
		memcpy(rows + nout * k, inv + i * k, k);
		out[nout++] = blocks[i];
	}
	if (nout == 0)
		return 0;
	ec_init_tables((int)k, (int)nout, rows, tables);
	ec_encode_data((int)len, (int)k, (int)nout, tables, src, out);
	return 0;
}
