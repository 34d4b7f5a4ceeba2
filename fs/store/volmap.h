/* volmap: a volume's durable layout, for volume.c alone (layer-internal,
 * like libuv's uv__ tier: nothing outside fs/store includes it).
 *
 * Owns: the keys a password gives and the slot ids they name; sealing and
 * opening one slot; the map (pages of slot id -> position entries) and
 * views (a committed state: superblock counters, map pages, where the
 * superblock copies lie), both immutable and reference-counted; the
 * superblock and map pages as bytes; and reading a volume's newest state
 * from its superblock candidates. Pointers a view hands out live as long
 * as the caller's reference. Thread-safe except where a caller mutates a
 * page or view it has not published yet. */
#ifndef MFS_VOLMAP_H
#define MFS_VOLMAP_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/mfs_error.h"
#include "fs/store/volume.h"

#define VID_BYTES 16
#define AD_BYTES (VID_BYTES + 8)
/* A slot's payload is sealed in PIECES pieces, each its own message with
 * its own tag, so that a read of a few KiB opens (and reads from the disk)
 * one piece, not the slot. Piece k holds payload bytes [PIECE_FROM(k),
 * PIECE_FROM(k + 1)): the first also the length, the last also the sealed
 * segment's tag and the slot's leaf, so that 16 KiB-aligned ranges of a blob's segment (data
 * offset d is payload byte 8 + d) fall in one piece each. In the slot,
 * piece k is nonce[24] | ciphertext | tag[16] at PIECE_AT(k); the random
 * padding starts at PAD_AT. */
#define PIECES 4u
#define PIECE_DATA ((MFS_SLOT_DATA - MFS_AEAD_TAG_BYTES) / PIECES) /* 16 KiB */
#define PIECE_FROM(k) ((k) == 0 ? 0u : (k) >= PIECES ? MFS_SLOT_PAYLOAD : 8u + (k) * PIECE_DATA)
#define PIECE_EXTRA (MFS_AEAD_NONCE_BYTES + MFS_AEAD_TAG_BYTES)
#define PIECE_AT(k) ((k) * PIECE_EXTRA + PIECE_FROM(k))
#define PAD_AT PIECE_AT(PIECES)
#define SB_MAGIC 0x5653464du /* "MFSV" */
#define SB_VERSION 6u
#define SB_HEAD 96
/* Per map bucket: generation u64, then one position u32 per copy. */
#define SB_DIR_BYTES(copies) (8u + 4u * (copies))
#define MAX_BUCKETS 4096u
/* A redundant volume (one made inside another, whose sessions may write
 * over it) keeps MIN_MAP_COPIES to MAP_COPIES copies of each map page (a
 * lost page loses the volume), its superblock on half its candidates, and
 * parity for every object. */
#define MAP_COPIES 16u
#define MIN_MAP_COPIES 5u
/* Any other volume keeps two copies of each map page while its directory
 * holds them (up to 2,048 pages): one damaged slot (a sector gone bad, a
 * write of a volume it does not know about) would otherwise lose every
 * object of its bucket. */
#define OUTER_MAP_COPIES 2u
#define MAX_BUCKETS_REDUNDANT 2048u
#define PAGE_HEAD 4
#define ENTRY_BYTES 24 /* slot id, position u32, generation u32 */
/* What a superblock or a map page fills of its slot's payload: the bytes
 * before the place of an object slot's leaf, so their format is format 6's. */
#define META_BYTES (MFS_SLOT_PAYLOAD - MFS_SLOT_LEAF)
#define PAGE_CAP ((META_BYTES - PAGE_HEAD) / ENTRY_BYTES)
#define MAX_CANDIDATES 32u
#define MIN_CANDIDATES 4u
#define SB_COPIES 2u
#define NO_POS UINT32_MAX
/* A slot did not open as the view expects: a newer state may have moved
 * it. Never returned past volume.c (it becomes MFS_E_CORRUPT). */
#define E_STALE (MFS_E_FIRST - 1)

_Static_assert(SB_HEAD + MAX_BUCKETS * SB_DIR_BYTES(1) <= META_BYTES, "superblock fits");
_Static_assert(SB_HEAD + MAX_BUCKETS_REDUNDANT * SB_DIR_BYTES(MIN_MAP_COPIES) <= META_BYTES,
	       "a redundant volume's largest map keeps five copies of each page");
_Static_assert(SB_HEAD + 2048u * SB_DIR_BYTES(OUTER_MAP_COPIES) <= META_BYTES,
	       "a volume keeps two copies of each map page up to 2,048 pages");

/* One volume's keys, in guarded memory. */
struct vol_keys {
	uint8_t master[MFS_KEY_BYTES];
	uint8_t naming[MFS_KEY_BYTES]; /* slot ids */
	uint8_t bucket[MFS_KEY_BYTES]; /* which map page an object's slot ids go to */
	uint8_t seal[MFS_KEY_BYTES];
	uint8_t meta[MFS_KEY_BYTES];   /* superblock candidates and map page ids */
};

struct entry {
	uint8_t vid[VID_BYTES];
	uint32_t pos;
	uint32_t gen;
};

/* One map page as committed: immutable, shared between views. */
struct page {
	unsigned refs; /* atomic */
	uint32_t pos[MAP_COPIES]; /* NO_POS past the view's copies */
	uint64_t gen;
	uint32_t count;
	struct entry e[]; /* sorted by vid */
};

/* A committed state of a volume: immutable, reference-counted. */
struct view {
	unsigned refs; /* atomic */
	uint64_t gen;
	struct mfs_superblock sb;
	uint32_t nb;         /* map buckets (power of two) */
	struct page **pages; /* nb; NULL for an empty bucket */
	uint64_t entries;
	uint64_t npages;
	int redundant;
	unsigned copies; /* of each map page: 1, or volmap_copies_for's */
	uint32_t sb_pos[MAX_CANDIDATES];
	uint8_t sb_nonce[MAX_CANDIDATES][MFS_AEAD_NONCE_BYTES]; /* as written: changes when rewritten */
	unsigned nsb;
	/* The first bytes (the nonce) of each of the side's candidates, as
	 * read under the store's lock after this state was loaded or
	 * committed (ncand_seen of them; 0: not known). Every write of a slot
	 * has a fresh nonce, and every commit writes a candidate: while none of
	 * them changed, no state newer than this one exists. Read and written
	 * under the store's lock only. */
	uint8_t cand_nonce[MAX_CANDIDATES][MFS_AEAD_NONCE_BYTES];
	unsigned ncand_seen;
};

/* Copies of each map page a volume writes in a store of slot_count slots
 * with a map of nb pages. Not redundant: OUTER_MAP_COPIES while the
 * superblock's directory holds them, else 1. Redundant: a 32nd of the store's slots,
 * at least MIN_MAP_COPIES, at most MAP_COPIES and what the superblock's
 * directory holds (16 up to 512 pages, 13 at 1,024, 5 at 2,048). A page
 * is lost with probability p^copies when a share p of the slots is
 * written over: 16 copies keep a 512-page map at p = 0.6 (an outer share
 * of 50 %) with odds of about 6 %. The superblock says how many a state
 * has: readers never recompute this. */
static inline unsigned volmap_copies_for(int redundant, uint32_t nb, uint64_t slot_count)
{
	const uint64_t fit = ((META_BYTES - SB_HEAD) / nb - SB_DIR_BYTES(0)) / 4u;
	uint64_t c = slot_count / 32 < MIN_MAP_COPIES ? MIN_MAP_COPIES : slot_count / 32;

	c = c < MAP_COPIES ? c : MAP_COPIES;
	if (!redundant)
		return fit >= OUTER_MAP_COPIES ? OUTER_MAP_COPIES : 1;
	return (unsigned)(c < fit ? c : fit);
}

/* Copies of each map page a view keeps; its largest map. */
static inline unsigned volmap_copies(const struct view *v)
{
	return v->copies;
}

static inline uint32_t volmap_max_buckets(const struct view *v)
{
	return v->redundant ? MAX_BUCKETS_REDUNDANT : MAX_BUCKETS;
}

/* A volume as seen through one set of keys: our own, or the protected one. */
struct side {
	struct vol_keys *keys;
	uint32_t cand[MAX_CANDIDATES];
	unsigned ncand;
	uint8_t sb_vid[VID_BYTES];
	struct view *view; /* protected by the volume's view_lock; NULL: unknown */
};


/* Fills k's subkeys from k->master. */
void volmap_keys_from_master(struct vol_keys *k);

/* Argon2id of the password with the store's salt, then the subkeys, in
 * guarded memory (mfs_secure_free). */
int volmap_derive_keys(struct vol_keys **out, struct mfs_store *s, const char *pw, size_t pw_len);

/* An object's name and what all its slot ids share: 4 bytes that pick its
 * map bucket (the same for all its slots, so writing an object dirties one
 * map page). The name is borrowed. */
struct volmap_obj {
	const void *name;
	size_t len;
	uint8_t bucket[4];
};
void volmap_obj_init(struct volmap_obj *o, const struct vol_keys *k, const void *name,
		     size_t name_len);
/* Slot index's id: the bucket bytes, then 12 bytes of a PRF of name and index. */
void volmap_obj_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k,
		    const struct volmap_obj *o, uint32_t index);

/* The map bucket of a slot id when the map has nb (a power of two). */
uint32_t volmap_bucket_of(const uint8_t vid[static VID_BYTES], uint32_t nb);

/* The id of a volume's own metadata (what: "map", "superblock",
 * "candidate"; index: which). */
void volmap_meta_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k, const char *what,
		     uint32_t index);

/* Where a volume's superblock may sit: a few positions only its key finds. */
void volmap_side_init(struct side *sd, struct vol_keys *k, uint64_t slot_count);

/* Seals a payload (MFS_SLOT_PAYLOAD bytes, built in guarded memory) into a
 * slot value. The plaintext never enters the store file. */
void volmap_seal_slot(uint8_t *value, const uint8_t *payload, const struct vol_keys *k,
		      const uint8_t vid[static VID_BYTES], uint64_t gen);

/* Opens a slot value (as volmap_seal_slot made it) as (vid, gen) into out:
 * 0 or E_STALE. */
int volmap_open_value(const uint8_t *value, const struct vol_keys *k,
		      const uint8_t vid[static VID_BYTES], uint64_t gen, uint8_t *out);
/* Reads slot pos and opens it as (vid, gen) into out. E_STALE when it does
 * not open: overwritten since, or damaged. */
int volmap_open_slot(struct mfs_store *s, uint8_t *raw, const struct vol_keys *k, uint32_t pos,
		     const uint8_t vid[static VID_BYTES], uint64_t gen, uint8_t *out);
/* The same for payload bytes [from, to) only: reads and opens the pieces
 * that hold them (and no others) into out at their payload offsets, raw at
 * their slot offsets. *len_too is set when the length (payload bytes 0-7)
 * was among them. */
int volmap_open_slot_part(struct mfs_store *s, uint8_t *raw, const struct vol_keys *k,
			  uint32_t pos, const uint8_t vid[static VID_BYTES], uint64_t gen,
			  uint8_t *out, size_t from, size_t to, int *len_too);

/* The payload bytes [*lo, *hi) that volmap_open_slot_part writes into out
 * for [from, to): those of its pieces (both 0 when it writes nothing). */
void volmap_part_span(size_t from, size_t to, size_t *lo, size_t *hi);
/* Asks the disk ahead for the pieces of slot pos that hold payload bytes
 * [from, to) (see mfs_store_slot_prefetch). */
void volmap_prefetch_part(struct mfs_store *s, uint32_t pos, size_t from, size_t to);

void volmap_page_unref(struct page *p);

void volmap_view_unref(struct view *v);

/* A view's superblock, and a map page, as payload bytes (MFS_SLOT_PAYLOAD,
 * zero-filled past the fields). */
void volmap_sb_encode(uint8_t *out, const struct view *v);
/* Whether a superblock payload (opened) decodes in a store of slot_count
 * slots: 0 or MFS_E_CORRUPT (-ENOMEM). What loading a view checks first. */
int volmap_sb_check(const uint8_t *in, uint64_t slot_count);

void volmap_page_encode(uint8_t *out, const struct page *p);

/* Notes the nonce of each of sd's candidates in v (caller holds the
 * store's lock): after a state is loaded, and after a commit wrote and
 * wiped its superblocks. */
void volmap_note_candidates(struct mfs_store *s, const struct side *sd, struct view *v);
/* Reads a side's newest committed state: hint itself while none of the
 * side's candidates changed since it was noted, else from the candidates,
 * sharing hint's pages whose position and generation match. Caller holds
 * the store's lock (nothing moves under it). */
int volmap_load_view(struct mfs_store *s, const struct side *sd, struct view *hint,
		     struct view **out);

/* Reference counts: a page or view starts at one; _ref adds one, _unref
 * drops one and frees at zero (NULL-safe). */
struct page *volmap_page_ref(struct page *p);
/* A page with room for count entries, count set, not yet on disk. */
struct page *volmap_page_new(uint32_t count);
/* A view of nb buckets, every page NULL. */
struct view *volmap_view_new(uint32_t nb);
/* The entry for vid in p (NULL-safe), or NULL. */
const struct entry *volmap_page_find(const struct page *p, const uint8_t vid[static VID_BYTES]);

#endif
