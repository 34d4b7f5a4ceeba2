/* chunk: the blob format, i.e. how one chunk of a file is padded and sealed.
 *
 * A chunk of plain_len bytes is padded with zeros to its bucket (the next
 * power of two, at least MFS_BUCKET_MIN, at most the chunk size), cut into
 * segments of MFS_SEGMENT_BYTES, and each segment is sealed with
 * XChaCha20-Poly1305 under the chunk key (nonce = segment index, associated
 * data = padded length). The blob is the concatenation of the sealed
 * segments, so any segment can be opened alone: a small read costs one
 * segment, not a whole chunk. Chunk keys are unique per chunk (convergent:
 * keyed hash of the content; random: fresh), so fixed nonces are safe. */
#ifndef MFS_CHUNK_H
#define MFS_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define MFS_SEGMENT_BYTES 65536u
#define MFS_BUCKET_MIN 4096u
#define MFS_CHUNK_KEY_BYTES 32
#define MFS_CHUNK_SIZE_MIN MFS_SEGMENT_BYTES
#define MFS_CHUNK_SIZE_MAX (16u << 20)
#define MFS_CHUNK_SIZE_DEFAULT (1u << 20)

/* 1 when chunk_size is a power of two within [MIN, MAX]. */
int mfs_chunk_size_valid(size_t chunk_size);
/* Padded length of a chunk of plain_len bytes (0 < plain_len <= chunk_size). */
size_t mfs_chunk_padded_len(size_t plain_len);
/* Bytes of the blob that seals a chunk padded to padded_len. */
size_t mfs_blob_len(size_t padded_len);
/* Inverse of mfs_blob_len; 0 when blob_len is not a valid blob length. */
size_t mfs_blob_padded_len(size_t blob_len);

/* Convergent key: keyed hash of the chunk under a convergence secret. */
void mfs_chunk_key_convergent(uint8_t key[static MFS_CHUNK_KEY_BYTES],
			      const uint8_t *plain, size_t plain_len,
			      const uint8_t secret[static 32]);
/* Two chunks' convergent keys, each mfs_chunk_key_convergent's, hashed
 * together where the CPU has SHA extensions (crypto/sha256x2.h). */
void mfs_chunk_keys_convergent2(uint8_t key[2][MFS_CHUNK_KEY_BYTES], const uint8_t *const plain[2],
				const size_t plain_len[2], const uint8_t secret[static 32]);
void mfs_chunk_key_random(uint8_t key[static MFS_CHUNK_KEY_BYTES]);

/* Seals plain (plain_len bytes, padded internally) into blob, which must hold
 * mfs_blob_len(mfs_chunk_padded_len(plain_len)) bytes and not overlap it. */
void mfs_chunk_seal(uint8_t *blob, const uint8_t *plain, size_t plain_len,
		    const uint8_t key[static MFS_CHUNK_KEY_BYTES]);

/* Opens the plaintext bytes [off, off+len) of a chunk from its blob, opening
 * only the segments that cover them. Returns 0, MFS_E_AUTH (tampered or wrong
 * key) or MFS_E_FORMAT (range outside the blob). */
int mfs_chunk_open_range(uint8_t *out, const uint8_t *blob, size_t blob_len, size_t off,
			 size_t len, const uint8_t key[static MFS_CHUNK_KEY_BYTES]);

/* Where segment index of a blob sealed from padded_len bytes lies in the
 * blob, and how many plaintext bytes it holds. 0 when out of range. */
size_t mfs_chunk_segment_span(size_t padded_len, size_t index, size_t *blob_off,
			      size_t *sealed_len);
/* Opens one sealed segment (sealed_len bytes: plaintext + tag, as given by
 * mfs_chunk_segment_span) into out. MFS_E_AUTH or MFS_E_FORMAT. */
int mfs_chunk_open_segment(uint8_t *out, const uint8_t *sealed, size_t sealed_len, size_t index,
			   size_t padded_len, const uint8_t key[static MFS_CHUNK_KEY_BYTES]);
/* The same without checking the segment's tag, for sealed bytes already
 * shown authentic: read back from a volume or a session cache (whose own
 * tags cover them), or matched against the blob's id or its leaf. Checking
 * the tag again would show nothing more (megafs(7), BLOBS) and costs a third
 * of the pass. MFS_E_FORMAT for a wrong length; else 0. */
int mfs_chunk_decrypt_segment(uint8_t *out, const uint8_t *sealed, size_t sealed_len, size_t index,
			      size_t padded_len, const uint8_t key[static MFS_CHUNK_KEY_BYTES]);
/* Plaintext bytes [from, from + len) of segment index alone, out of its
 * sealed bytes [from, from + len) (sealed points at the first; out may be
 * sealed), on the same terms. MFS_E_FORMAT when the range is not within
 * the segment. */
int mfs_chunk_decrypt_part(uint8_t *out, const uint8_t *sealed, size_t from, size_t len,
			   size_t index, size_t padded_len,
			   const uint8_t key[static MFS_CHUNK_KEY_BYTES]);

#endif
