/* parity: Reed–Solomon erasure coding of a stripe of equal-sized blocks
 * (ISA-L's Cauchy matrices over GF(2^8)).
 *
 * A stripe of k data blocks (1 <= k <= MFS_PARITY_MAX_K) gets m parity
 * blocks (1 <= m <= MFS_PARITY_MAX_M); any k of the k + m blocks give back
 * the others. The code is fixed
 * (the same bytes always give the same parity: a format, pinned by a golden
 * vector in tests/unit/test_parity.c). Pure functions of their arguments:
 * any thread. */
#ifndef MFS_PARITY_H
#define MFS_PARITY_H

#include <stddef.h>
#include <stdint.h>

#define MFS_PARITY_MAX_K 32u
#define MFS_PARITY_MAX_M 64u

/* parity[0..m-1] receive the parity of data[0..k-1], len bytes each.
 * -EINVAL for a k or m out of range. */
int mfs_parity_encode(uint8_t *const *parity, uint8_t *const *data, unsigned k, unsigned m,
		      size_t len);

/* blocks[0..k-1] are the data blocks, blocks[k..k+m-1] the parity blocks;
 * present[i] says whether blocks[i] holds its bytes. Rebuilds every missing
 * data block in place (missing parity blocks stay as they are).
 * MFS_E_CORRUPT when fewer than k blocks are present. */
int mfs_parity_rebuild(uint8_t *const *blocks, const uint8_t *present, unsigned k, unsigned m,
		       size_t len);

#endif
