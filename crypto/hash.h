/* hash: blob ids and keyed hashes, all BLAKE2b.
 *
 * Blob id = BLAKE2b-256 of the blob's bytes (the ciphertext). BLAKE2b won
 * over SHA-256 on this machine's measurement (see man/megafs.7 and
 * tools/bench/). Keyed hashes serve as PRFs: slot keys, owner tags and
 * convergent chunk keys. */
#ifndef MFS_HASH_H
#define MFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MFS_BLOB_ID_BYTES 32

void mfs_blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *data, size_t len);

/* out[outlen] (16..64 bytes) = BLAKE2b keyed with key[32] over the
 * concatenation of the given parts (part2 may be NULL). */
void mfs_keyed_hash(uint8_t *out, size_t outlen, const uint8_t key[static 32],
		    const void *part1, size_t len1, const void *part2, size_t len2);

#endif
