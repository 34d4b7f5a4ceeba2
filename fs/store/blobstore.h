/* blobstore: seed 001's BlobStore on a volume.
 *
 * Blobs are content-addressed (id = the SHA-256 hash list of crypto/hash.h) and stored as
 * volume objects "b"+id. A blob table (objects "\0bt"+bucket, a linear hash
 * table that doubles as it fills) records each blob's size, pin flag and LRU
 * tick, so stats, enumeration and eviction need no scan of the store.
 * Unpinned blobs are a cache: when their bytes pass the cap, the least
 * recently used go. Pinned blobs stay until unpinned.
 *
 * All calls work inside a volume transaction (reads in any, changes in a
 * write one); on an error the caller aborts it and nothing is changed. */
#ifndef MFS_BLOBSTORE_H
#define MFS_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"
#include "fs/store/volume.h"

#define MFS_BLOB_MAX_BYTES (MFS_CHUNK_BLOB_MAX)
/* Largest blob: a 16 MiB chunk sealed in 64 KiB segments. */
#define MFS_CHUNK_BLOB_MAX ((16u << 20) + 256u * 16u)

enum { MFS_BLOB_ADDED = 1, MFS_BLOB_PINNED_NOW = 2 };

struct mfs_blob_stats {
	uint64_t count;
	uint64_t bytes;
	uint64_t pinned_bytes;
	uint64_t cap;          /* for unpinned bytes */
};

/* Stores a blob after checking that id is the hash of its bytes (else
 * MFS_E_CORRUPT: "blob does not match its id"). A blob already present is
 * not written again. With pin set, the blob gains one pin either way. *what
 * (may be NULL) receives MFS_BLOB_ADDED (stored now) and/or
 * MFS_BLOB_PINNED_NOW (a pin was added). */
/* Writes a listed blob's bytes again (its object was damaged: megafs fsck
 * --repair with bytes from a peer), its pins and place in the table as they
 * were. MFS_E_CORRUPT when id is not the hash of the bytes or the table
 * lists another size, MFS_E_NOTFOUND when the table does not list id. */
int mfs_blob_restore(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		     const uint8_t *blob, size_t len);
int mfs_blob_put(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		 const uint8_t *blob, size_t len, int pin, int *what);
/* The same for a caller that has just computed id from these bytes. */
int mfs_blob_put_hashed(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			const uint8_t *blob, size_t len, int pin, int *what);
/* Seals a blob for this volume ahead of its transaction (any thread; see
 * mfs_obj_seal): sealed receives mfs_blob_sealed_bytes(v, len) bytes, scratch
 * mfs_blob_seal_scratch(v, len). The caller vouches that id is the blob's
 * hash, and leaves (NULL: computed here) its leaves (mfs_blob_id_leaves). */
size_t mfs_blob_sealed_bytes(struct mfs_volume *v, size_t len);
size_t mfs_blob_seal_scratch(struct mfs_volume *v, size_t len);
void mfs_blob_seal(struct mfs_volume *v, uint8_t *sealed, uint8_t *scratch,
		   const uint8_t id[static MFS_BLOB_ID_BYTES], const uint8_t *leaves,
		   const uint8_t *blob, size_t len);
/* mfs_blob_put_hashed for a blob sealed by mfs_blob_seal. */
int mfs_blob_put_sealed(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			const uint8_t *sealed, size_t len, int pin, int *what);
/* 1 when present, 0 when not, or an error. */
int mfs_blob_has(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
int mfs_blob_size(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t *len);
int mfs_blob_read(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], uint64_t off,
		  void *buf, size_t len);
/* mfs_blob_read for a caller that knows the blob's length. */
int mfs_blob_read_known(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			size_t blob_len, uint64_t off, void *buf, size_t len);
/* Asks the disk ahead for a blob of blob_len bytes: the slots asked for, or
 * an error (mfs_obj_prefetch). */
int mfs_blob_prefetch(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
		      size_t blob_len);
/* The whole blob in a malloc'ed buffer (free()). */
int mfs_blob_get(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		 size_t *len);
/* The same, with the leaves of its id as the volume keeps them (in a
 * malloc'ed buffer of mfs_blob_leaf_count(*len) leaves; leaves NULL:
 * none): what a seeder sends, read instead of hashed. */
int mfs_blob_get_leaves(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
			uint8_t **blob, size_t *len, uint8_t **leaves);
/* Adds or removes one pin (-EINVAL when unpinning a blob with none); the
 * last unpin makes the blob a cache entry, evictable under the cap. */
int mfs_blob_pin(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
int mfs_blob_unpin(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
/* The blob's pin count (0: cached only), or an error (MFS_E_NOTFOUND). */
int mfs_blob_pin_count(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
/* Marks an unpinned blob as just used (LRU). */
int mfs_blob_touch(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
int mfs_blob_delete(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES]);
/* Sets the cap on unpinned bytes, evicting down to it. */
int mfs_blob_set_cap(struct mfs_vtxn *t, uint64_t cap);
void mfs_blob_stats(struct mfs_vtxn *t, struct mfs_blob_stats *out);
/* The volume objects the blob store keeps (for a check of every object):
 * blob id's, and the blob table's bucket i (of mfs_vtxn_sb(t)->bucket_count).
 * Return the name's length. */
#define MFS_BLOB_OBJ_NAME_MAX (1 + MFS_BLOB_ID_BYTES)
size_t mfs_blob_object_name(uint8_t name[static MFS_BLOB_OBJ_NAME_MAX],
			    const uint8_t id[static MFS_BLOB_ID_BYTES]);
size_t mfs_blob_table_object_name(uint8_t name[static MFS_BLOB_OBJ_NAME_MAX], uint32_t index);
/* Calls fn for each blob; stops and returns fn's value when non-zero. */
int mfs_blob_foreach(struct mfs_vtxn *t,
		     int (*fn)(void *ctx, const uint8_t *id, uint32_t size, uint32_t pins), void *ctx);

#endif
