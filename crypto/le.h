/* le: little-endian integer encoding, the byte order of every megafs format. */
#ifndef MFS_LE_H
#define MFS_LE_H

#include <stdint.h>

static inline void mfs_le_put(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t mfs_le_get(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
