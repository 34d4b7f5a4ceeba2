/* volume: a password-opened object store inside a store.
 *
 * Argon2id(password, store salt) gives the volume's master key; subkeys of it
 * name its objects' slots (a 16-byte slot id = PRF(naming key, object name,
 * slot index), never written anywhere in clear) and seal them
 * (XChaCha20-Poly1305, random nonce, the slot id and the writing commit's
 * generation as associated data) in four pieces of about 16 KiB, each with
 * its own tag, so that a small read opens one piece. To anyone without the
 * password every slot is 69,616 random bytes.
 *
 *   slot value = 4 x (nonce[24] | piece ciphertext | mac[16]) | random[3864]
 *   object     = every slot i: u64 length | data[i * MFS_SLOT_DATA, +MFS_SLOT_DATA)
 *                              | leaf of that data
 *
 * MFS_SLOT_DATA is one sealed blob segment, so each segment of a blob is
 * one slot, every slot says its object's length, and every slot keeps its
 * data's SHA-256 leaf (crypto/hash.h): a blob's leaves are read, not
 * hashed again, when it is served.
 *
 * Where a slot sits is the volume's secret: its position map (slot id ->
 * store position), kept in map pages (slots themselves) that the superblock
 * lists. The superblock sits in one of a few candidate positions derived
 * from the key (two copies, the newest generation wins). A commit writes
 * every changed slot to a position free in the last durable state, then the
 * map pages, syncs, writes the superblock to candidates not holding the
 * current one, syncs, and only then overwrites what it replaced with random
 * bytes: the store never holds two versions of anything, and a crash leaves
 * the last committed state. A chained commit (mfs_vtxn_commit_chained)
 * does the syncs and the superblock on a thread of its own while the next
 * transaction writes. Every open and every close commits (a
 * superblock refresh), so any session of any volume changes the store file
 * the same way.
 *
 * A volume opened with a protect password never takes the protected
 * volume's slots; one opened alone may (they look free to it), which is how
 * deniability works. A volume created with a protect password (a hidden
 * volume inside an outer one) stores that volume's master key ("\0protect")
 * and protects it whenever it is opened, so hidden writes never destroy the
 * outer volume.
 *
 * Threads: a volume may be shared; write transactions are serialised by the
 * volume and across processes by the store's lock. A read transaction sees
 * the state of its start; when another writer has since overwritten what it
 * reads, it moves to the newest state and reads again. Keys live in guarded
 * memory. */
#ifndef MFS_VOLUME_H
#define MFS_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "fs/store/store.h"

#define MFS_SLOT_DATA 65552u /* object bytes per slot: one sealed 64 KiB segment */
#define MFS_SLOT_LEAF 32u    /* the leaf of the slot's data (mfs_blob_leaf) */
#define MFS_SLOT_PAYLOAD (8u + MFS_SLOT_DATA + MFS_SLOT_LEAF)
#define MFS_OBJ_NAME_MAX 64

struct mfs_volume;
struct mfs_vtxn;

/* The superblock's counters (in host order). Maintained by volume.c
 * (used_slots) and blobstore.c (the rest). */
struct mfs_superblock {
	uint64_t used_slots;     /* slots this volume owns: objects, map, superblock candidates */
	uint64_t blob_count;
	uint64_t blob_bytes;     /* bytes of all blobs */
	uint64_t pinned_bytes;   /* bytes of pinned blobs */
	uint64_t cache_cap;      /* LRU cap for unpinned blobs, bytes */
	uint64_t tick;           /* LRU clock */
	uint32_t bucket_count;   /* blob table buckets (power of two, >= 1) */
};

struct mfs_volume_stats {
	uint64_t slot_count;      /* all records in the store */
	uint64_t used_slots;      /* this volume's */
	uint64_t protected_slots; /* the protected volume's, when one is open */
	uint64_t free_slots;      /* as this volume sees them */
	int redundant;            /* objects carry parity, the map is kept in copies */
	int writes_refused;       /* 0, or why (MFS_E_OVERWRITTEN: the key of the
				   * volume it protects was written over) */
	struct mfs_superblock sb;
};

/* Creates a volume opened by password. protect_pw (may be NULL) must open an
 * existing volume, whose slots the new one then avoids. Errors: MFS_E_EXISTS
 * (the password already opens a volume), MFS_E_BADPASS (protect_pw opens
 * none), MFS_E_FULL, -ENOMEM. */
int mfs_volume_create(struct mfs_store *s, const char *pw, size_t pw_len, const char *protect_pw,
		      size_t protect_len);
/* Opens the volume password opens; protect_pw as above (without it, the
 * volume protects the one whose key it stores, if any). MFS_E_BADPASS when
 * no volume opens with it, MFS_E_CORRUPT when its superblock is damaged.
 * A volume whose stored protect key was written over opens for reading:
 * its write transactions are refused with MFS_E_OVERWRITTEN (writing
 * without knowing where the other volume lies would destroy it). */
int mfs_volume_open(struct mfs_volume **out, struct mfs_store *s, const char *pw, size_t pw_len,
		    const char *protect_pw, size_t protect_len);
void mfs_volume_close(struct mfs_volume *v); /* NULL-safe; wipes keys */
int mfs_volume_stats(struct mfs_volume *v, struct mfs_volume_stats *out);
struct mfs_store *mfs_volume_store(struct mfs_volume *v);
/* A secret of this volume for another purpose (ctx is 8 characters). */
void mfs_volume_subkey(struct mfs_volume *v, uint8_t out[static 32], uint64_t id,
		       const char ctx[static 8]);

int mfs_vtxn_begin(struct mfs_volume *v, int write, struct mfs_vtxn **out);
/* A read transaction on the newest state this process knows, without the
 * small disk read by which mfs_vtxn_begin learns whether another process
 * committed since (a system call per transaction: a seek's is one read).
 * For reads of data that never changes under its name (blobs): a slot
 * wiped or reused under the state moves the read to the newer state, as in
 * any transaction, so what it reads is right. What it can miss is only what
 * another process stored since: a caller that finds nothing asks again in
 * a transaction of mfs_vtxn_begin before it concludes the data is absent. */
int mfs_vtxn_begin_known(struct mfs_volume *v, struct mfs_vtxn **out);
int mfs_vtxn_commit(struct mfs_vtxn *t);     /* writes the superblock if changed */
void mfs_vtxn_abort(struct mfs_vtxn *t);     /* NULL-safe */
/* Commits write transaction t as far as its map, and returns in *next a
 * write transaction on t's new state (t's locks, to be used on the same
 * thread) while t's syncs and superblock run on a thread of their own: the
 * next batch's slots are written while the disk takes t's. t is durable,
 * and its state what readers see, once a transaction chained after it
 * commits or aborts (next's commit returns t's error when t failed: next
 * was built on it). next sees t's changes; positions t wrote or replaced
 * stay untouched until then, so a crash leaves the state before t or t's.
 * When another thread or process waits for the store's lock, t is
 * committed in full instead and *next is NULL. */
int mfs_vtxn_commit_chained(struct mfs_vtxn *t, struct mfs_vtxn **next);
struct mfs_superblock *mfs_vtxn_sb(struct mfs_vtxn *t); /* writable in write txns */
void mfs_vtxn_sb_dirty(struct mfs_vtxn *t);

/* Object length; MFS_E_NOTFOUND when absent, MFS_E_CORRUPT when damaged. */
int mfs_obj_size(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t *len);
/* Reads bytes [off, off+len) of an object (must lie inside it). */
int mfs_obj_read(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t off, void *buf,
		 size_t len);
/* The whole object in a malloc'ed buffer (free()); slot 0 is opened once. */
int mfs_obj_get(struct mfs_vtxn *t, const void *name, size_t name_len, uint8_t **data,
		uint64_t *len);
/* mfs_obj_get that also gives the leaves its slots keep, one per data slot
 * (mfs_blob_leaf_count(*len) of them, MFS_BLOB_ID_BYTES each, in a
 * malloc'ed buffer; leaves NULL: none, mfs_obj_get): for an object that is
 * a blob, the leaves of its id. */
int mfs_obj_get_leaves(struct mfs_vtxn *t, const void *name, size_t name_len, uint8_t **data,
		       uint64_t *len, uint8_t **leaves);
/* The same for a caller that knows the object's length (e.g. a blob's,
 * from its chunk): every slot, slot 0 too, is opened only in the pieces
 * that hold the range. A wrong length shows as MFS_E_CORRUPT where a slot's
 * first piece (which repeats the length) is read, or as MFS_E_FORMAT. */
int mfs_obj_read_known(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total,
		       uint64_t off, void *buf, size_t len);
/* Asks the disk ahead for the slots of an object of total bytes (those the
 * map holds), without waiting: a read of them soon finds them in memory.
 * A hint: nothing is opened. Returns how many slots it asked for (0: the
 * map holds none of them), MFS_E_FORMAT for a bad name, -EFBIG for more
 * than one object's slots. */
int mfs_obj_prefetch(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total);
/* Opens every slot of an object, its parity slots too: *lost receives how
 * many did not open (0: intact); a data slot whose leaf is not its data's
 * is damage (MFS_E_CORRUPT). Returns 0 while the object still reads
 * (its lost data slots rebuilt from parity: mfs_obj_rewrite restores it),
 * MFS_E_CORRUPT when it does not or when a slot's length disagrees with
 * slot 0's (or slot 0's with the slots the map holds), MFS_E_NOTFOUND when
 * absent. Slot 0 is opened once. */
int mfs_obj_check(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t *lost);
/* Writes an object again with the bytes it reads (rebuilt where needed):
 * every slot and all its parity at fresh positions. Write transactions. */
int mfs_obj_rewrite(struct mfs_vtxn *t, const void *name, size_t name_len);
/* Creates or replaces an object. MFS_E_FULL (checked before anything is
 * written) when the volume lacks free slots. */
int mfs_obj_write(struct mfs_vtxn *t, const void *name, size_t name_len, const void *data,
		  size_t len);
/* mfs_obj_write with the data's leaves (mfs_blob_id_leaves) computed
 * already by the caller, taken as they are (NULL: computed here). */
int mfs_obj_write_leaves(struct mfs_vtxn *t, const void *name, size_t name_len, const void *data,
			 size_t len, const uint8_t *leaves);
int mfs_obj_delete(struct mfs_vtxn *t, const void *name, size_t name_len);

/* Sealing an object's slots needs only the volume's keys, not a transaction,
 * so it may run on any thread ahead of time (ingest does it on its workers).
 * sealed receives mfs_obj_sealed_slots(v, len) * MFS_SLOT_BYTES bytes;
 * scratch (mfs_obj_seal_scratch(v, len) bytes) holds the object's bytes in
 * clear for a moment: guarded memory for secrets. leaves, when not NULL,
 * are the data's (mfs_blob_id_leaves), computed already by the caller:
 * they are taken as they are; else the leaves are computed here. */
void mfs_obj_seal(struct mfs_volume *v, uint8_t *sealed, uint8_t *scratch, const void *name,
		  size_t name_len, const void *data, size_t len, const uint8_t *leaves);
/* Stores, as a new object, slots sealed by mfs_obj_seal for an object of len
 * bytes. MFS_E_EXISTS when an object of that name exists; MFS_E_FULL (before
 * anything is written) when the slots do not fit; MFS_E_FORMAT for a record
 * (a name that starts with a zero byte: those keep more parity and are
 * written with mfs_obj_write only). */
int mfs_obj_insert_sealed(struct mfs_vtxn *t, const void *name, size_t name_len,
			  const uint8_t *sealed, uint64_t len);
/* Data slots an object of len bytes occupies; with its parity in this
 * volume (what mfs_obj_seal fills); the scratch bytes sealing it needs. */
uint64_t mfs_obj_slots_for(uint64_t len);
uint64_t mfs_obj_sealed_slots(struct mfs_volume *v, uint64_t len);
size_t mfs_obj_seal_scratch(struct mfs_volume *v, uint64_t len);
/* Free slots as this transaction sees them. */
uint64_t mfs_vtxn_free_slots(struct mfs_vtxn *t);

/* Reads the newest committed state from the store, in case another process
 * wrote, and says its generation: a number that changes with every commit
 * of this volume, by any process. */
int mfs_volume_refresh(struct mfs_volume *v, uint64_t *generation);

/* For tests: the store position of slot index of an object (data slot i,
 * or MFS_OBJ_PARITY_INDEX | i for its parity in a redundant volume). */
#define MFS_OBJ_PARITY_INDEX 0x80000000u
int mfs_obj_slot_position(struct mfs_vtxn *t, const void *name, size_t name_len, uint32_t index,
			  uint32_t *pos);

#endif
