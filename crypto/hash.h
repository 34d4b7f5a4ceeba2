/* hash: blob ids, checksums and keyed hashes.
 *
 * Blob id = SHA-256 hash list: each 65,552-byte piece of the blob (one
 * sealed segment) hashed as a leaf, the id the hash of the leaves, so a
 * segment can be checked on its own and the leaves hashed in parallel.
 * SHA-256 runs through OpenSSL's EVP (SHA-NI where the CPU has it: 2.7x
 * libsodium's BLAKE2b here, see man/megafs.7 HASH CHOICE); libsodium's
 * SHA-256 is the fallback and the reference the tests compare against.
 * BLAKE2b serves everything else: checksums (H32) and keyed hashes as PRFs
 * (slot keys, owner tags). Convergent chunk keys are HMAC-SHA-256 over whole
 * chunks, so they take the fast path too. */
#ifndef MFS_HASH_H
#define MFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MFS_BLOB_ID_BYTES 32
#define MFS_BLOB_LEAF_BYTES 65552u /* one sealed segment: 65,536 + a 16-byte tag */

/* SHA-256(0x01 || leaf_0 || ... || leaf_{n-1}), leaf_i = SHA-256(0x00 ||
 * piece i), the pieces data cut every MFS_BLOB_LEAF_BYTES (the last may be
 * shorter; no bytes are one empty piece). Defined for any data. */
void mfs_blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *data, size_t len);
/* mfs_blob_id, keeping the leaves too: mfs_blob_leaf_count(len) of them,
 * MFS_BLOB_ID_BYTES each, in leaves (a volume stores each with its piece,
 * so a seeder sends them without hashing the blob again). */
void mfs_blob_id_leaves(uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t *leaves,
			const uint8_t *data, size_t len);
/* The pieces (leaves) of a blob of len bytes: ceil(len / MFS_BLOB_LEAF_BYTES),
 * 1 for no bytes. */
size_t mfs_blob_leaf_count(size_t len);
/* Bytes in piece i of a blob of len bytes (i < mfs_blob_leaf_count(len)). */
size_t mfs_blob_leaf_len(size_t len, size_t i);
/* leaf = SHA-256(0x00 || piece): a piece checked on its own. */
void mfs_blob_leaf(uint8_t leaf[static MFS_BLOB_ID_BYTES], const uint8_t *piece, size_t len);
/* id = SHA-256(0x01 || leaves), n leaves of MFS_BLOB_ID_BYTES each: the
 * leaves a peer sends are checked against the id they claim. */
void mfs_blob_id_of_leaves(uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *leaves,
			   size_t n);

/* out = SHA-1(part1 || part2) (part2 may be NULL), through OpenSSL's EVP:
 * only where another protocol fixes it (BEP 44's DHT targets); no format of
 * megafs's own uses it. 0, or -ENOMEM when OpenSSL fails. */
int mfs_sha1(uint8_t out[static 20], const void *part1, size_t len1, const void *part2,
	     size_t len2);

/* out = BLAKE2b-256(data): checksums and named constants, never blob ids. */
void mfs_hash32(uint8_t out[static 32], const void *data, size_t len);

/* out = HMAC-SHA-256 keyed with key over part1 || part2 (part2 may be NULL). */
void mfs_hmac_sha256(uint8_t out[static 32], const uint8_t key[static 32], const void *part1,
		     size_t len1, const void *part2, size_t len2);

/* out[outlen] (16..64 bytes) = BLAKE2b keyed with key[32] over the
 * concatenation of the given parts (part2 may be NULL). */
void mfs_keyed_hash(uint8_t *out, size_t outlen, const uint8_t key[static 32],
		    const void *part1, size_t len1, const void *part2, size_t len2);

#endif
