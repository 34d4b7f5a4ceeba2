/* store: a store directory and its slots. Knows nothing of volumes.
 *
 * A store is a directory holding
 *   header    80 plain bytes: magic, version, slot size and count, map size,
 *             Argon2id limits, salt, checksum (the same for every volume);
 *   data.mdb  one LMDB environment, one unnamed database: slot_count records,
 *             each a random 16-byte key and a MFS_SLOT_BYTES value. Init
 *             fills every record with random bytes, then random bytes up to
 *             map_bytes, so the file's size never changes.
 *
 * LMDB builds the layout once, at init, and never commits again: after init
 * the B-tree, both meta pages, the free list and the transaction id are
 * frozen. Opening walks the tree read-only (no lock file) to learn where
 * each record's value sits in the file; record i in key order is slot
 * position i. From then on megafs reads and rewrites slot values in place,
 * at those offsets. Why: LMDB's copy-on-write keeps the previous tree, freed
 * pages with their old bytes, per-transaction free-list records and a
 * transaction counter, and each of those tells which records the last
 * writes touched (man/megafs.7, DENIABILITY). A value rewritten in place
 * leaves no second copy and no count.
 *
 * In-place writes are not atomic: the volume layer never overwrites a slot
 * that its last durable state references (shadow paging) and makes a write
 * durable with mfs_store_sync(). Writers take mfs_store_lock(): one at a time
 * across threads and processes. Readers take no lock; a slot may change
 * under them, so they read a private copy (mfs_store_slot_read) and check
 * it (AEAD) before use. */
#ifndef MFS_STORE_H
#define MFS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"

/* 17 LMDB pages less LMDB's page header: the smallest slot whose payload
 * holds a sealed 64 KiB segment beside an object's length (volume.h), so a
 * blob read opens one slot per segment. */
#define MFS_SLOT_BYTES 69616u

struct mfs_store_header {
	uint32_t version;
	uint32_t slot_bytes;
	uint64_t slot_count;
	uint64_t map_bytes;
	struct mfs_kdf_limits kdf;
	uint8_t salt[MFS_KDF_SALT_BYTES];
};

struct mfs_store;

/* An LMDB return code as a megafs one (0, MFS_E_*, -errno). For the
 * modules of this layer that keep an LMDB environment of their own. */
int mfs_store_lmdb_error(int rc);

/* Creates a store of slot_count random slots in dir (created if missing;
 * must not hold a store). Returns 0, MFS_E_EXISTS, MFS_E_FORMAT or -errno. */
int mfs_store_create(const char *dir, uint64_t slot_count, const struct mfs_kdf_limits *kdf);
/* Opens a store. Errors: MFS_E_NOSTORE, MFS_E_OLDSTORE (an older format),
 * MFS_E_CORRUPT (bad header or layout), MFS_E_TRUNCATED, MFS_E_LMDB,
 * -errno. Opening writes nothing. */
int mfs_store_open(struct mfs_store **out, const char *dir);
void mfs_store_close(struct mfs_store *s); /* NULL-safe */
const struct mfs_store_header *mfs_store_header(const struct mfs_store *s);

/* Copies slot pos's value into value. 0, MFS_E_FORMAT (pos out of range) or
 * -errno. */
int mfs_store_slot_read(struct mfs_store *s, uint32_t pos, uint8_t value[static MFS_SLOT_BYTES]);
/* Copies len bytes of slot pos's value from byte off on (within the
 * value): a cheap look at whether a slot changed, or the part of a slot a
 * read needs. MFS_E_FORMAT when out of range. */
int mfs_store_slot_read_part(struct mfs_store *s, uint32_t pos, size_t off, uint8_t *buf,
			     size_t len);
/* Overwrites slot pos in place (not durable until mfs_store_sync). Caller
 * holds mfs_store_lock. */
int mfs_store_slot_write(struct mfs_store *s, uint32_t pos,
			 const uint8_t value[static MFS_SLOT_BYTES]);
/* Overwrites slot pos with fresh random bytes. Caller holds the lock. */
int mfs_store_slot_wipe(struct mfs_store *s, uint32_t pos);
/* Asks the kernel to start reading len bytes of slot pos from byte off on
 * now (a cold read of many slots then costs one wait, not one per slot). */
void mfs_store_slot_prefetch(struct mfs_store *s, uint32_t pos, size_t off, size_t len);
/* Makes every write so far durable. */
int mfs_store_sync(struct mfs_store *s);
/* Where slot pos's value starts in data.mdb (tests and forensics). */
uint64_t mfs_store_slot_offset(const struct mfs_store *s, uint32_t pos);

/* The writer's lock: excludes other threads of this process and other
 * processes; a thread may take it again while it holds it. Returns 0 or
 * -errno. */
int mfs_store_lock(struct mfs_store *s);
void mfs_store_unlock(struct mfs_store *s);
/* 1 when another thread of this process, or another process (any other
 * open of the store), waits for the writer's lock; a holder that keeps it
 * across transactions (chained commits) then gives it up. A waiting
 * process says so with a shared lock on one byte far past data.mdb's end
 * (2^62 - 1, below the claims), held only while it waits. */
int mfs_store_lock_wanted(struct mfs_store *s);

/* Claims: a mark that a process is at work on something it has written to
 * a volume (an ingest's pins, say), which the kernel takes away when the
 * process ends, however it ends (kill -9 included). A claim is a shared
 * fcntl lock (open file description lock) on one byte of data.mdb far past
 * its end, at 2^62 + (token mod 2^62): nothing is written, and nothing of it
 * outlives the process. token should be random (64 bits from mfs_random).
 * mfs_store_claim returns 0 or -errno; a claim lasts until
 * mfs_store_unclaim, mfs_store_close or the end of the process.
 * mfs_store_claimed returns 1 when any process holds the claim (this one
 * too, through any store handle), 0 when none does, or -errno. */
int mfs_store_claim(struct mfs_store *s, uint64_t token);
void mfs_store_unclaim(struct mfs_store *s, uint64_t token);
int mfs_store_claimed(struct mfs_store *s, uint64_t token);

/* Calls fn for every slot in position order (tests and statistics); stops
 * early when fn returns non-zero and returns that value. */
int mfs_store_foreach(struct mfs_store *s,
		      int (*fn)(void *ctx, uint32_t pos, const uint8_t *value), void *ctx);

#endif
