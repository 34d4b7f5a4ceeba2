/* session_cache: blobs a mount fetched from elsewhere, kept for the length of
 * one mount and unreadable after it.
 *
 * A session cache is a separate LMDB file in the store directory,
 * "session-<16 hex>.mdb" (MDB_NOSUBDIR, its lock file beside it), created by
 * mfs_session_cache_open with a random 32-byte key that exists only in this
 * process's guarded memory. Records: key = keyed BLAKE2b-128 of the blob id
 * (so the file names no blob), value = nonce[24] | XChaCha20-Poly1305(blob,
 * associated data = the record key). Blobs are evicted least recently used
 * past cap_bytes. mfs_session_cache_close zeroes the key and deletes the
 * files; after a crash the files are undecryptable, and the next open (or
 * mfs_session_cache_sweep) deletes every session file no live process holds
 * (each open cache holds an flock on its file).
 *
 * Threads: all calls may come from any thread at once. Pointers handed out
 * are malloc'ed copies owned by the caller. */
#ifndef MFS_SESSION_CACHE_H
#define MFS_SESSION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"

struct mfs_session_cache;

/* Sweeps stale session files, then creates a new cache in store_dir.
 * Errors: -errno, MFS_E_LMDB. */
int mfs_session_cache_open(struct mfs_session_cache **out, const char *store_dir,
			   uint64_t cap_bytes);
/* Zeroes the key, closes and deletes the cache's files. NULL-safe. */
void mfs_session_cache_close(struct mfs_session_cache *c);
/* The cache file's path (for tests and messages). */
const char *mfs_session_cache_path(const struct mfs_session_cache *c);

/* Stores a blob whose id the caller has verified (or computed). A blob
 * larger than the cap is refused (-EFBIG); storing one present is a no-op. */
int mfs_session_cache_put(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES],
			  const uint8_t *blob, size_t len);
/* The whole blob, malloc'ed (free()). MFS_E_NOTFOUND when absent;
 * MFS_E_CORRUPT when its record fails authentication (it is then dropped). */
int mfs_session_cache_get(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES],
			  uint8_t **blob, size_t *len);
/* 1 when present, 0 when not. */
int mfs_session_cache_has(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES]);
/* Bytes of blobs held. */
uint64_t mfs_session_cache_bytes(struct mfs_session_cache *c);

/* Deletes session files in store_dir that no live process holds; returns
 * how many, or -errno. */
int mfs_session_cache_sweep(const char *store_dir);

#endif
