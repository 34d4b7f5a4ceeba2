#include "fs/store/volmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/le.h"
#include "crypto/secure.h"

/* ---- keys, ids, positions ---- */

void volmap_keys_from_master(struct vol_keys *k)
{
	mfs_kdf_subkey(k->naming, 1, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->bucket, 2, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->seal, 3, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->meta, 4, "mfs-vol2", k->master);
}

int volmap_derive_keys(struct vol_keys **out, struct mfs_store *s, const char *pw, size_t pw_len)
{
	const struct mfs_store_header *h = mfs_store_header(s);
	struct vol_keys *k = mfs_secure_alloc(sizeof *k);
	int rc;

	if (!k)
		return -ENOMEM;
	rc = mfs_kdf_password(k->master, pw, pw_len, h->salt, &h->kdf);
	if (rc != 0) {
		mfs_secure_free(k);
		return rc;
	}
	volmap_keys_from_master(k);
	*out = k;
	return 0;
}

void volmap_obj_init(struct volmap_obj *o, const struct vol_keys *k, const void *name,
		     size_t name_len)
{
	uint8_t h[VID_BYTES];

	mfs_keyed_hash(h, sizeof h, k->bucket, name, name_len, NULL, 0);
	memcpy(o->bucket, h, sizeof o->bucket);
	o->name = name;
	o->len = name_len;
}

void volmap_obj_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k,
		    const struct volmap_obj *o, uint32_t index)
{
	uint8_t idx[4], h[VID_BYTES];

	memcpy(vid, o->bucket, sizeof o->bucket);
	mfs_le_put(idx, index, 4);
	mfs_keyed_hash(h, sizeof h, k->naming, o->name, o->len, idx, sizeof idx);
	memcpy(vid + 4, h, VID_BYTES - 4);
}

uint32_t volmap_bucket_of(const uint8_t vid[static VID_BYTES], uint32_t nb)
{
	return (uint32_t)mfs_le_get(vid, 4) & (nb - 1);
}

void volmap_meta_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k, const char *what,
		     uint32_t index)
{
	uint8_t idx[4];

	mfs_le_put(idx, index, 4);
	mfs_keyed_hash(vid, VID_BYTES, k->meta, what, strlen(what), idx, sizeof idx);
}

/* Where a volume's superblock may sit: a few positions only its key finds. */
void volmap_side_init(struct side *sd, struct vol_keys *k, uint64_t slot_count)
{
	uint64_t want = slot_count / 8;
	uint8_t h[VID_BYTES];

	want = want < MIN_CANDIDATES ? MIN_CANDIDATES : want > MAX_CANDIDATES ? MAX_CANDIDATES : want;
	sd->keys = k;
	sd->ncand = 0;
	sd->view = NULL;
	for (uint32_t j = 0; sd->ncand < want && j < 8 * MAX_CANDIDATES; j++) {
		uint32_t pos;
		int dup = 0;

		volmap_meta_vid(h, k, "candidate", j);
		pos = (uint32_t)(mfs_le_get(h, 8) % slot_count);
		for (unsigned i = 0; i < sd->ncand; i++)
			dup |= sd->cand[i] == pos;
		if (!dup)
			sd->cand[sd->ncand++] = pos;
	}
	volmap_meta_vid(sd->sb_vid, k, "superblock", 0);
}

/* ---- sealing ---- */

static void make_ad(uint8_t ad[static AD_BYTES], const uint8_t vid[static VID_BYTES], uint64_t gen)
{
	memcpy(ad, vid, VID_BYTES);
	mfs_le_put(ad + VID_BYTES, gen, 8);
}

_Static_assert(PIECE_FROM(PIECES - 1) + PIECE_DATA + MFS_AEAD_TAG_BYTES + MFS_SLOT_LEAF ==
		       MFS_SLOT_PAYLOAD,
	       "the last piece ends the payload with the segment's tag and the slot's leaf");
_Static_assert(PAD_AT <= MFS_SLOT_BYTES, "the pieces fit a slot");

/* Piece k's subkey and nonce: the slot's nonce split as XChaCha20 does,
 * the piece's number in the four bytes it leaves zero (piece 0 is thus
 * XChaCha20-Poly1305 under the slot's nonce, bit for bit). */
static void piece_nonce(uint8_t ietf_nonce[static MFS_AEAD_IETF_NONCE_BYTES], unsigned k)
{
	mfs_le_put(ietf_nonce, k, 4);
}

/* Seals a payload (MFS_SLOT_PAYLOAD bytes, built in guarded memory) into a
 * slot value. The plaintext never enters the store file. */
void volmap_seal_slot(uint8_t *value, const uint8_t *payload, const struct vol_keys *k,
		      const uint8_t vid[static VID_BYTES], uint64_t gen)
{
	uint8_t ad[AD_BYTES], nonce[MFS_AEAD_NONCE_BYTES], subkey[32];
	uint8_t ietf_nonce[MFS_AEAD_IETF_NONCE_BYTES];

	make_ad(ad, vid, gen);
	mfs_random(nonce, sizeof nonce);
	mfs_aead_xsplit(subkey, ietf_nonce, nonce, k->seal);
	for (unsigned p = 0; p < PIECES; p++) {
		uint8_t *at = value + PIECE_AT(p);

		memcpy(at, nonce, sizeof nonce);
		piece_nonce(ietf_nonce, p);
		mfs_aead_ietf_seal(at + MFS_AEAD_NONCE_BYTES, payload + PIECE_FROM(p),
				   PIECE_FROM(p + 1) - PIECE_FROM(p), ad, sizeof ad, ietf_nonce, subkey);
	}
	mfs_memzero(subkey, sizeof subkey);
	mfs_random(value + PAD_AT, MFS_SLOT_BYTES - PAD_AT);
}

static unsigned piece_of(size_t payload_off)
{
	unsigned p = 0;

	while (p + 1 < PIECES && payload_off >= PIECE_FROM(p + 1))
		p++;
	return p;
}

/* The pieces first..last that hold payload bytes [from, to): 0, or -1 when
 * the range is empty or not within a payload. */
static int pieces_for(size_t from, size_t to, unsigned *first, unsigned *last)
{
	if (from >= to || to > MFS_SLOT_PAYLOAD)
		return -1;
	*first = piece_of(from);
	*last = piece_of(to - 1);
	return 0;
}

/* Opens pieces first..last of a slot value (raw, at their slot offsets)
 * into out. Every piece repeats the slot's nonce: pieces of two writes do
 * not open together. 0 or E_STALE. */
static int open_pieces(const uint8_t *raw, const struct vol_keys *k,
		       const uint8_t vid[static VID_BYTES], uint64_t gen, uint8_t *out,
		       unsigned first, unsigned last)
{
	const uint8_t *nonce = raw + PIECE_AT(first);
	uint8_t ad[AD_BYTES], subkey[32], ietf_nonce[MFS_AEAD_IETF_NONCE_BYTES];
	int rc = 0;

	for (unsigned p = first + 1; p <= last; p++)
		if (!mfs_memeq(raw + PIECE_AT(p), nonce, MFS_AEAD_NONCE_BYTES))
			return E_STALE;
	make_ad(ad, vid, gen);
	mfs_aead_xsplit(subkey, ietf_nonce, nonce, k->seal);
	for (unsigned p = first; rc == 0 && p <= last; p++) {
		piece_nonce(ietf_nonce, p);
		if (mfs_aead_ietf_open(out + PIECE_FROM(p), raw + PIECE_AT(p) + MFS_AEAD_NONCE_BYTES,
				       PIECE_FROM(p + 1) - PIECE_FROM(p), ad, sizeof ad, ietf_nonce,
				       subkey) != 0)
			rc = E_STALE;
	}
	mfs_memzero(subkey, sizeof subkey);
	return rc;
}

int volmap_open_value(const uint8_t *value, const struct vol_keys *k,
		      const uint8_t vid[static VID_BYTES], uint64_t gen, uint8_t *out)
{
	return open_pieces(value, k, vid, gen, out, 0, PIECES - 1);
}

int volmap_open_slot(struct mfs_store *s, uint8_t *raw, const struct vol_keys *k, uint32_t pos,
		     const uint8_t vid[static VID_BYTES], uint64_t gen, uint8_t *out)
{
	int rc = mfs_store_slot_read_part(s, pos, 0, raw, PAD_AT);

	return rc != 0 ? rc : volmap_open_value(raw, k, vid, gen, out);
}

void volmap_prefetch_part(struct mfs_store *s, uint32_t pos, size_t from, size_t to)
{
	unsigned first, last;

	if (pieces_for(from, to, &first, &last) == 0)
		mfs_store_slot_prefetch(s, pos, PIECE_AT(first),
					PIECE_AT(last + 1) - PIECE_AT(first));
}

void volmap_part_span(size_t from, size_t to, size_t *lo, size_t *hi)
{
	unsigned first, last;

	*lo = *hi = 0;
	if (pieces_for(from, to, &first, &last) == 0) {
		*lo = PIECE_FROM(first);
		*hi = PIECE_FROM(last + 1);
	}
}

int volmap_open_slot_part(struct mfs_store *s, uint8_t *raw, const struct vol_keys *k,
			  uint32_t pos, const uint8_t vid[static VID_BYTES], uint64_t gen,
			  uint8_t *out, size_t from, size_t to, int *len_too)
{
	unsigned first, last;
	int rc;

	if (pieces_for(from, to, &first, &last) != 0)
		return MFS_E_FORMAT;
	rc = mfs_store_slot_read_part(s, pos, PIECE_AT(first), raw + PIECE_AT(first),
				      PIECE_AT(last + 1) - PIECE_AT(first));
	if (rc == 0)
		rc = open_pieces(raw, k, vid, gen, out, first, last);
	*len_too = first == 0;
	return rc;
}

/* ---- views and pages ---- */

void volmap_page_unref(struct page *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(p);
}

struct page *volmap_page_ref(struct page *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

struct page *volmap_page_new(uint32_t count)
{
	struct page *p = malloc(sizeof *p + (size_t)count * sizeof(struct entry));

	if (p) {
		p->refs = 1;
		for (unsigned c = 0; c < MAP_COPIES; c++)
			p->pos[c] = NO_POS;
		p->gen = 0;
		p->count = count;
	}
	return p;
}

void volmap_view_unref(struct view *v)
{
	if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (uint32_t b = 0; b < v->nb; b++)
		volmap_page_unref(v->pages[b]);
	free(v->pages);
	free(v);
}

struct view *volmap_view_new(uint32_t nb)
{
	struct view *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->pages = calloc(nb, sizeof *v->pages);
	if (!v->pages) {
		free(v);
		return NULL;
	}
	v->refs = 1;
	v->nb = nb;
	v->copies = 1;
	return v;
}


static int entry_cmp(const void *a, const void *b)
{
	return memcmp(a, b, VID_BYTES);
}

const struct entry *volmap_page_find(const struct page *p, const uint8_t vid[static VID_BYTES])
{
	return p ? bsearch(vid, p->e, p->count, sizeof p->e[0], entry_cmp) : NULL;
}

/* ---- the superblock and map pages on disk ---- */

struct sb_disk {
	uint64_t gen;
	struct mfs_superblock sb;
	uint32_t nb;
	uint64_t entries;
	int redundant;
	unsigned copies;
	uint32_t dir_pos[MAX_BUCKETS][MAP_COPIES];
	uint64_t dir_gen[MAX_BUCKETS];
};

void volmap_sb_encode(uint8_t *out, const struct view *v)
{
	memset(out, 0, MFS_SLOT_PAYLOAD);
	mfs_le_put(out, SB_MAGIC, 4);
	mfs_le_put(out + 4, SB_VERSION, 4);
	mfs_le_put(out + 8, v->gen, 8);
	mfs_le_put(out + 16, v->sb.blob_count, 8);
	mfs_le_put(out + 24, v->sb.blob_bytes, 8);
	mfs_le_put(out + 32, v->sb.pinned_bytes, 8);
	mfs_le_put(out + 40, v->sb.cache_cap, 8);
	mfs_le_put(out + 48, v->sb.tick, 8);
	mfs_le_put(out + 56, v->sb.bucket_count, 4);
	mfs_le_put(out + 60, v->nb, 4);
	mfs_le_put(out + 64, v->entries, 8);
	mfs_le_put(out + 72, (uint64_t)v->redundant, 4);
	mfs_le_put(out + 76, volmap_copies(v), 4);
	for (uint32_t b = 0; b < v->nb; b++) {
		const unsigned copies = volmap_copies(v);
		uint8_t *d = out + SB_HEAD + (size_t)b * SB_DIR_BYTES(copies);

		mfs_le_put(d, v->pages[b] ? v->pages[b]->gen : 0, 8);
		for (unsigned c = 0; c < copies; c++)
			mfs_le_put(d + 8 + 4 * c, v->pages[b] ? v->pages[b]->pos[c] : NO_POS, 4);
	}
}

static int sb_decode(struct sb_disk *d, const uint8_t *in, uint64_t slot_count)
{
	if (mfs_le_get(in, 4) != SB_MAGIC || mfs_le_get(in + 4, 4) != SB_VERSION)
		return MFS_E_CORRUPT;
	d->gen = mfs_le_get(in + 8, 8);
	d->sb.blob_count = mfs_le_get(in + 16, 8);
	d->sb.blob_bytes = mfs_le_get(in + 24, 8);
	d->sb.pinned_bytes = mfs_le_get(in + 32, 8);
	d->sb.cache_cap = mfs_le_get(in + 40, 8);
	d->sb.tick = mfs_le_get(in + 48, 8);
	d->sb.bucket_count = (uint32_t)mfs_le_get(in + 56, 4);
	d->nb = (uint32_t)mfs_le_get(in + 60, 4);
	d->entries = mfs_le_get(in + 64, 8);
	d->redundant = (int)mfs_le_get(in + 72, 4);
	d->copies = (unsigned)mfs_le_get(in + 76, 4);
	if (d->sb.bucket_count == 0 || (d->sb.bucket_count & (d->sb.bucket_count - 1)) != 0 ||
	    d->nb == 0 || (d->nb & (d->nb - 1)) != 0 || d->redundant > 1 ||
	    d->nb > (d->redundant ? MAX_BUCKETS_REDUNDANT : MAX_BUCKETS) || d->copies == 0 ||
	    d->copies > MAP_COPIES || (!d->redundant && d->copies > OUTER_MAP_COPIES) ||
	    SB_HEAD + (uint64_t)d->nb * SB_DIR_BYTES(d->copies) > META_BYTES)
		return MFS_E_CORRUPT;
	for (uint32_t b = 0; b < d->nb; b++) {
		const unsigned copies = d->copies;
		const uint8_t *e = in + SB_HEAD + (size_t)b * SB_DIR_BYTES(copies);

		d->dir_gen[b] = mfs_le_get(e, 8);
		for (unsigned c = 0; c < MAP_COPIES; c++) {
			d->dir_pos[b][c] = c < copies ? (uint32_t)mfs_le_get(e + 8 + 4 * c, 4) : NO_POS;
			if (d->dir_pos[b][c] != NO_POS && d->dir_pos[b][c] >= slot_count)
				return MFS_E_CORRUPT;
		}
		/* A page has all its copies or none. */
		if ((d->dir_pos[b][0] == NO_POS) != (d->dir_pos[b][copies - 1] == NO_POS))
			return MFS_E_CORRUPT;
	}
	return 0;
}

int volmap_sb_check(const uint8_t *in, uint64_t slot_count)
{
	struct sb_disk *d = malloc(sizeof *d);
	int rc = d ? sb_decode(d, in, slot_count) : -ENOMEM;

	free(d);
	return rc;
}

void volmap_page_encode(uint8_t *out, const struct page *p)
{
	memset(out, 0, MFS_SLOT_PAYLOAD);
	mfs_le_put(out, p->count, 4);
	for (uint32_t i = 0; i < p->count; i++) {
		uint8_t *e = out + PAGE_HEAD + (size_t)i * ENTRY_BYTES;

		memcpy(e, p->e[i].vid, VID_BYTES);
		mfs_le_put(e + VID_BYTES, p->e[i].pos, 4);
		mfs_le_put(e + VID_BYTES + 4, p->e[i].gen, 4);
	}
}

static int page_decode(struct page **out, const uint8_t *in, uint32_t bucket, uint32_t nb,
		       uint64_t slot_count)
{
	uint32_t count = (uint32_t)mfs_le_get(in, 4);
	struct page *p;

	if (count == 0 || count > PAGE_CAP)
		return MFS_E_CORRUPT;
	p = volmap_page_new(count);
	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = in + PAGE_HEAD + (size_t)i * ENTRY_BYTES;

		memcpy(p->e[i].vid, e, VID_BYTES);
		p->e[i].pos = (uint32_t)mfs_le_get(e + VID_BYTES, 4);
		p->e[i].gen = (uint32_t)mfs_le_get(e + VID_BYTES + 4, 4);
		if (p->e[i].pos >= slot_count || volmap_bucket_of(p->e[i].vid, nb) != bucket ||
		    (i > 0 && memcmp(p->e[i - 1].vid, p->e[i].vid, VID_BYTES) >= 0)) {
			free(p);
			return MFS_E_CORRUPT;
		}
	}
	*out = p;
	return 0;
}

/* Finds the newest superblock among a side's candidates and decodes it.
 * MFS_E_NOTFOUND when no candidate opens. */
static int scan_sb(struct mfs_store *s, const struct side *sd, uint8_t *raw, uint8_t *scratch,
		   struct sb_disk *best, uint32_t pos_out[static MAX_CANDIDATES],
		   uint8_t nonce_out[static MAX_CANDIDATES][MFS_AEAD_NONCE_BYTES], unsigned *npos)
{
	struct sb_disk *d = malloc(sizeof *d);
	int found = 0;

	if (!d)
		return -ENOMEM;
	*npos = 0;
	for (unsigned j = 0; j < sd->ncand; j++) {
		if (volmap_open_slot(s, raw, sd->keys, sd->cand[j], sd->sb_vid, 0, scratch) != 0 ||
		    sb_decode(d, scratch, mfs_store_header(s)->slot_count) != 0)
			continue;
		if (!found || d->gen > best->gen) {
			*best = *d;
			*npos = 0;
			found = 1;
		}
		if (d->gen == best->gen) {
			memcpy(nonce_out[*npos], raw, MFS_AEAD_NONCE_BYTES);
			pos_out[(*npos)++] = sd->cand[j];
		}
	}
	mfs_memzero(scratch, MFS_SLOT_PAYLOAD);
	free(d);
	return found ? 0 : MFS_E_NOTFOUND;
}

/* Reads map page b from the first of its copies that opens. Nothing moves
 * while the caller holds the store's lock: a copy that does not open was
 * written over (by a volume that did not know of this one) or damaged. */
static int load_page(struct mfs_store *s, const struct side *sd, const struct sb_disk *d,
		     uint32_t b, uint8_t *raw, uint8_t *scratch, struct page **out)
{
	const uint64_t slot_count = mfs_store_header(s)->slot_count;
	uint8_t vid[VID_BYTES];
	int rc = MFS_E_CORRUPT;

	volmap_meta_vid(vid, sd->keys, "map", b);
	for (unsigned c = 0; rc != 0 && rc != -ENOMEM && c < MAP_COPIES; c++) {
		if (d->dir_pos[b][c] == NO_POS)
			break;
		rc = volmap_open_slot(s, raw, sd->keys, d->dir_pos[b][c], vid, d->dir_gen[b], scratch);
		if (rc == E_STALE)
			rc = MFS_E_CORRUPT;
		if (rc == 0)
			rc = page_decode(out, scratch, b, d->nb, slot_count);
	}
	if (rc == 0) {
		memcpy((*out)->pos, d->dir_pos[b], sizeof (*out)->pos);
		(*out)->gen = d->dir_gen[b];
	}
	return rc;
}

void volmap_note_candidates(struct mfs_store *s, const struct side *sd, struct view *v)
{
	v->ncand_seen = 0;
	for (unsigned j = 0; j < sd->ncand; j++)
		if (mfs_store_slot_read_part(s, sd->cand[j], 0, v->cand_nonce[j],
					     MFS_AEAD_NONCE_BYTES) != 0)
			return;
	v->ncand_seen = sd->ncand;
}

/* Whether none of sd's candidates was written since v noted them. */
static int candidates_unchanged(struct mfs_store *s, const struct side *sd, const struct view *v)
{
	uint8_t nonce[MFS_AEAD_NONCE_BYTES];

	if (v->ncand_seen == 0 || v->ncand_seen != sd->ncand)
		return 0;
	for (unsigned j = 0; j < sd->ncand; j++)
		if (mfs_store_slot_read_part(s, sd->cand[j], 0, nonce, sizeof nonce) != 0 ||
		    !mfs_memeq(nonce, v->cand_nonce[j], sizeof nonce))
			return 0;
	return 1;
}

/* Reads a side's newest committed state. hint itself when none of the
 * side's candidates was written since it was noted (32 reads of 24 bytes,
 * where opening the candidates decrypts 32 slots: 2-4 ms a write
 * transaction here); else pages whose position and generation match
 * hint's are shared, not read again. Caller holds the store's lock
 * (nothing moves under it). */
int volmap_load_view(struct mfs_store *s, const struct side *sd, struct view *hint,
		     struct view **out)
{
	uint8_t *raw, *scratch;
	struct sb_disk *d;
	uint8_t sb_nonce[MAX_CANDIDATES][MFS_AEAD_NONCE_BYTES];
	uint32_t sb_pos[MAX_CANDIDATES];
	struct view *v = NULL;
	unsigned nsb;
	int rc;

	if (hint && candidates_unchanged(s, sd, hint)) {
		__atomic_add_fetch(&hint->refs, 1, __ATOMIC_RELAXED);
		*out = hint;
		return 0;
	}
	raw = malloc(MFS_SLOT_BYTES);
	scratch = mfs_secure_alloc(MFS_SLOT_PAYLOAD);
	d = malloc(sizeof *d);
	rc = raw && scratch && d ? 0 : -ENOMEM;
	if (rc == 0)
		rc = scan_sb(s, sd, raw, scratch, d, sb_pos, sb_nonce, &nsb);
	if (rc == 0 && hint && hint->gen == d->gen) {
		__atomic_add_fetch(&hint->refs, 1, __ATOMIC_RELAXED);
		v = hint;
		volmap_note_candidates(s, sd, v);
		goto out;
	}
	if (rc == 0 && !(v = volmap_view_new(d->nb)))
		rc = -ENOMEM;
	if (rc == 0) {
		v->gen = d->gen;
		v->sb = d->sb;
		v->redundant = d->redundant;
		v->copies = d->copies;
		v->nsb = nsb;
		memcpy(v->sb_pos, sb_pos, sizeof sb_pos);
		memcpy(v->sb_nonce, sb_nonce, sizeof sb_nonce);
	}
	for (uint32_t b = 0; rc == 0 && b < d->nb; b++) {
		if (d->dir_pos[b][0] == NO_POS)
			continue;
		if (hint && hint->nb == d->nb && hint->pages[b] &&
		    memcmp(hint->pages[b]->pos, d->dir_pos[b], sizeof d->dir_pos[b]) == 0 &&
		    hint->pages[b]->gen == d->dir_gen[b])
			v->pages[b] = volmap_page_ref(hint->pages[b]);
		else
			rc = load_page(s, sd, d, b, raw, scratch, &v->pages[b]);
		if (rc == 0) {
			v->entries += v->pages[b]->count;
			v->npages++;
		}
	}
	if (rc == 0 && v->entries != d->entries)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		volmap_note_candidates(s, sd, v);
out:
	if (rc != 0) {
		volmap_view_unref(v);
		v = NULL;
	}
	*out = v;
	free(raw);
	mfs_secure_free(scratch);
	free(d);
	return rc;
}
