/* store: a store directory and its slots. Knows nothing of volumes.
 *
 * A store is a directory holding
 *   header    80 plain bytes: magic, version, slot size and count, map size,
 *             Argon2id limits, salt, checksum (the same for every volume);
 *   data.mdb  one LMDB environment, one unnamed database: slot_count records,
 *             each a 16-byte key and a MFS_SLOT_BYTES value. Init fills every
 *             record with random bytes; the record count never changes.
 *             Init also writes random bytes up to map_bytes, LMDB never
 *             writes past its map, so the file's size never changes and its
 *             unused pages look like the rest. (No MDB_WRITEMAP: through a
 *             writable mapping the kernel writes back whole large folios for
 *             one dirty page, tens of times the data.)
 *
 * Callers work inside transactions (mfs_store_txn_*): one writer at a time
 * across processes, readers concurrent. Pointers returned by slot reads live
 * until the transaction ends or the next write in it. Everything committed is
 * durable and atomic: a crash leaves the last committed state. */
#ifndef MFS_STORE_H
#define MFS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"

#define MFS_SLOT_KEY_BYTES 16
#define MFS_SLOT_BYTES 65520u /* 16 LMDB pages less LMDB's page header */

struct mfs_store_header {
	uint32_t version;
	uint32_t slot_bytes;
	uint64_t slot_count;
	uint64_t map_bytes;
	struct mfs_kdf_limits kdf;
	uint8_t salt[MFS_KDF_SALT_BYTES];
};

struct mfs_store;
struct mfs_store_txn;

/* Says of a record whether some open volume owns it (1) or it is free (0). */
typedef int (*mfs_slot_owned_fn)(void *ctx, const uint8_t key[static MFS_SLOT_KEY_BYTES],
				 const uint8_t *value);

/* An LMDB return code as a megafs one (0, MFS_E_*, -errno). For the
 * modules of this layer that keep an LMDB environment of their own. */
int mfs_store_lmdb_error(int rc);

/* Creates a store of slot_count random slots in dir (created if missing;
 * must not hold a store). Returns 0, MFS_E_EXISTS, MFS_E_FORMAT or -errno. */
int mfs_store_create(const char *dir, uint64_t slot_count, const struct mfs_kdf_limits *kdf);
/* Opens a store. Errors: MFS_E_NOSTORE, MFS_E_CORRUPT (bad header),
 * MFS_E_TRUNCATED, MFS_E_LMDB, -errno. Opening writes nothing to data.mdb. */
int mfs_store_open(struct mfs_store **out, const char *dir);
void mfs_store_close(struct mfs_store *s);
const struct mfs_store_header *mfs_store_header(const struct mfs_store *s);
/* Number of records in the database (always slot_count for a sound store). */
int mfs_store_record_count(struct mfs_store *s, uint64_t *count);

/* The id of the last committed write transaction: it changes whenever any
 * process commits anything (a cheap "did the store change?"). */
uint64_t mfs_store_last_txnid(struct mfs_store *s);

int mfs_store_txn_begin(struct mfs_store *s, int write, struct mfs_store_txn **out);
int mfs_store_txn_commit(struct mfs_store_txn *t);
void mfs_store_txn_abort(struct mfs_store_txn *t); /* NULL-safe */

/* The value of the record at key, or MFS_E_NOTFOUND. */
int mfs_store_slot_get(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
		       const uint8_t **value);
/* Asks the kernel to read the slot's pages now, in one request (the store
 * maps the file without readahead: writes must not meet large folios).
 * Returns 0 or MFS_E_NOTFOUND. */
int mfs_store_slot_prefetch(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES]);
/* Says a slot value just read is done with. Every so often the store's
 * mapped pages leave this process's address space (they stay in the page
 * cache), so reading a large file does not grow the resident set by the
 * file's size. Safe from any thread, in any transaction: the map is
 * read-only and shared, so a dropped page is mapped again when touched. */
void mfs_store_slot_done(struct mfs_store_txn *t, const uint8_t *value);
/* Writable space for the value at an existing key (overwrite in place). Fill
 * it before the next write in t. */
int mfs_store_slot_rewrite(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
			   uint8_t **value);
/* Takes a slot: inserts a record at the new key and deletes one free record
 * (chosen at random among those owned() calls free), so the count stays. The
 * value pointer must be filled (so that owned() recognises it) before the
 * next write: call mfs_store_slot_drop_free() right after filling it.
 * MFS_E_EXISTS if key is present. */
int mfs_store_slot_insert(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
			  uint8_t **value);
int mfs_store_slot_drop_free(struct mfs_store_txn *t, mfs_slot_owned_fn owned, void *ctx);
/* Gives a slot back: deletes the record at key and inserts a new random
 * record at a random key. */
int mfs_store_slot_release(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES]);

/* Calls fn for every record (read-only walk, e.g. tests and statistics);
 * stops early when fn returns non-zero and returns that value. */
int mfs_store_foreach(struct mfs_store_txn *t,
		      int (*fn)(void *ctx, const uint8_t *key, const uint8_t *value), void *ctx);

#endif
