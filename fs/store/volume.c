#include "fs/store/volume.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/parity.h"
#include "fs/store/volmap.h"

#define LEN_BYTES 8
/* A hidden volume keeps the master key of the volume it was made inside, so
 * that it never takes that volume's slots even when opened alone. */
#define PROTECT_NAME "\0protect"
#define PROTECT_NAME_LEN 8
/* A new volume needs this many candidates free of the other volume's data:
 * two for the superblock, one to write the next one to. */
#define MIN_USABLE (SB_COPIES + 1)
#define MAX_OBJ_SLOTS 960u /* 60 MiB: an object's slots (and parity) share one map page */
/* A redundant volume's objects: stripes of up to STRIPE data slots, each
 * k data slots with PARITY_FOR(k) parity slots, any k of which give back
 * the rest. The rate decides what survives an outer volume that writes
 * over a share p of the hidden slots (a stripe is lost when fewer than k
 * of its slots are left): with k + 4 (2.25x) and stripes of 16, a 1 MiB
 * chunk's blob (17 slots: 16 + 1) was lost with probability 2.9e-3 at
 * p = 0.33 (what a 25 % unprotected outer share reaches), a 1 GiB file in
 * 19 cases of 20. With k + k/2 + 4 and stripes of 32, the blob was one
 * stripe of 17 + 30 slots (2.76x), lost with probability 4e-6, the 1 GiB
 * file in one case of 250. Format 5's slots hold a segment each, so the
 * blob is 16 slots: + 4 would give 16 + 28, lost with probability 8e-6
 * (the file once in 120); + 5 gives 16 + 29, 4e-6 again, in 45 slots of
 * 17 pages (765 pages; 752 before). Small stripes need the extra (a 1:1
 * code lost about 4 % of three-slot blobs when a third of the slots went). Parity
 * slot j of the stripe that starts at data slot from has slot index
 * MFS_OBJ_PARITY_INDEX | (from / STRIPE * PARITY_FOR(STRIPE) + j). */
#define STRIPE MFS_PARITY_MAX_K
#define EXTRA_PARITY 5u
#define PARITY_FOR(k) ((k) + ((k) + 1) / 2 + EXTRA_PARITY)
/* A record (a name that starts with a zero byte: the keyring, the protect
 * key, the blob table's buckets, pinlogs) is small and every read of the
 * volume needs it: its stripes take at least RECORD_SLOTS slots. Without
 * the protect key a hidden volume opens read-only; with k + 4 in stripes
 * of its own size it was the one object lost in some runs at a 50 %
 * unprotected outer share. */
#define RECORD_SLOTS 16u
#define STRIPE_MAX (STRIPE + PARITY_FOR(STRIPE)) /* slots of a full stripe */
_Static_assert(MAX_OBJ_SLOTS % STRIPE == 0 &&
		       MAX_OBJ_SLOTS + PARITY_FOR(STRIPE) * (MAX_OBJ_SLOTS / STRIPE) <= PAGE_CAP,
	       "an object and its parity fit one map page");
_Static_assert(PARITY_FOR(STRIPE) <= MFS_PARITY_MAX_M, "the code has the parity rows");
#define DEFAULT_CACHE_CAP (UINT64_C(1) << 30)
#define CATCH_UP_TRIES 8


struct mfs_volume {
	struct mfs_store *store;
	struct side self;
	struct side prot;                /* prot.keys NULL when nothing is protected */
	pthread_mutex_t write_lock;      /* one write transaction at a time */
	unsigned writers_waiting;        /* threads waiting for write_lock (atomic) */
	pthread_mutex_t view_lock;       /* self.view, prot.view */
	int redundant;                   /* ours: parity and copies (fixed at creation) */
	/* Write transactions only (under write_lock): */
	uint8_t *busy;                   /* bitmap of positions not free to us */
	uint64_t nbusy;
	uint8_t *mine;                   /* positions our state holds (superblock copies too) */
	uint8_t *theirs;                 /* the same for the protected volume */
	uint8_t cand_usable[MAX_CANDIDATES];      /* ours free of the protected volume */
	uint8_t prot_cand_usable[MAX_CANDIDATES]; /* its free of ours */
	struct behind *behind;           /* a commit still syncing (write transactions only) */
	int opened;                      /* open succeeded: close refreshes */
	int protect_lost;                /* the stored protect key does not read: no writes */
	int creating;                    /* self.view is not on disk yet */
};

struct change {
	uint8_t vid[VID_BYTES];
	uint32_t pos;
	uint32_t gen;
	uint8_t removed;
	uint8_t used;
};

struct poslist {
	uint32_t *p;
	size_t n, cap;
};

struct bufs;

/* A commit whose syncs and superblock run on a thread of their own while
 * the transaction chained to it writes (mfs_vtxn_commit_chained). The
 * chain's thread holds the locks throughout; this thread only syncs and
 * writes the superblock copies, to candidates chosen by put_sb as a commit
 * in line would. */
struct behind {
	pthread_t thread;
	int threaded;                    /* 0: it ran in line (no thread could start) */
	struct mfs_volume *vol;
	struct view *old, *nv;           /* the state replaced and the new one (references) */
	struct poslist alloc, freed, sb_written;
	int rc;
};

struct mfs_vtxn {
	struct mfs_volume *vol;
	int write;
	struct view *view;               /* a reference */
	struct mfs_superblock sb;
	int sb_dirty;
	uint64_t new_gen;                /* write: the generation this commit writes */
	struct change *chg;              /* write: open-addressing table by slot id */
	size_t chg_cap, chg_count;
	struct poslist alloc;            /* positions written by this transaction */
	struct poslist freed;            /* positions it replaced (wiped once durable) */
	struct bufs *bufs;               /* this thread's, while the transaction runs */
	int prot_current;                /* write: the protected volume's state was read */
};

/* The current view of a side, with a reference (NULL when unknown). */
static struct view *side_view(struct mfs_volume *vol, struct side *sd)
{
	struct view *v;

	pthread_mutex_lock(&vol->view_lock);
	v = sd->view;
	if (v)
		__atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vol->view_lock);
	return v;
}

/* Makes v (a reference the caller gives up) the side's view if newer. */
static void side_install(struct mfs_volume *vol, struct side *sd, struct view *v)
{
	struct view *old = NULL;

	pthread_mutex_lock(&vol->view_lock);
	if (!sd->view || v->gen != sd->view->gen) {
		old = sd->view;
		sd->view = v;
	} else {
		old = v;
	}
	pthread_mutex_unlock(&vol->view_lock);
	volmap_view_unref(old);
}

/* Brings a side up to the store's newest state (caller holds the store lock). */
static int side_refresh(struct mfs_volume *vol, struct side *sd)
{
	struct view *hint = side_view(vol, sd), *v;
	int rc = volmap_load_view(vol->store, sd, hint, &v);

	volmap_view_unref(hint);
	if (rc == 0)
		side_install(vol, sd, v);
	return rc;
}

/* Loads a side's state under the store's lock: 0, MFS_E_NOTFOUND (no
 * volume has these keys), or an error. */
static int side_load(struct mfs_volume *v, struct side *sd)
{
	int rc = mfs_store_lock(v->store);

	if (rc != 0)
		return rc;
	rc = side_refresh(v, sd);
	mfs_store_unlock(v->store);
	return rc;
}

/* ---- the free map (write transactions) ---- */

static int bit_get(const uint8_t *map, uint32_t pos)
{
	return (map[pos >> 3] >> (pos & 7)) & 1;
}

static void bit_set(uint8_t *map, uint32_t pos)
{
	map[pos >> 3] |= (uint8_t)(1u << (pos & 7));
}

static int busy_get(const struct mfs_volume *v, uint32_t pos)
{
	return bit_get(v->busy, pos);
}

static void busy_set(struct mfs_volume *v, uint32_t pos)
{
	if (!busy_get(v, pos)) {
		bit_set(v->busy, pos);
		v->nbusy++;
	}
}

/* Position pos is busy, and held by the state marked in held. */
static void hold(struct mfs_volume *vol, uint8_t *held, uint32_t pos)
{
	busy_set(vol, pos);
	bit_set(held, pos);
}

/* The positions a state holds: its map pages, its slots, and its
 * superblock copies (a candidate holding none is nobody's: a session that
 * did not know of this volume may have put its own superblock there). */
static void mark_state(struct mfs_volume *vol, uint8_t *held, const struct view *v)
{
	for (unsigned c = 0; v && c < v->nsb; c++)
		bit_set(held, v->sb_pos[c]);
	for (uint32_t b = 0; v && b < v->nb; b++) {
		const struct page *p = v->pages[b];

		if (!p)
			continue;
		for (unsigned c = 0; c < volmap_copies(v); c++)
			hold(vol, held, p->pos[c]);
		for (uint32_t i = 0; i < p->count; i++)
			hold(vol, held, p->e[i].pos);
	}
}

/* Which of sd's candidates a superblock may go to: none of other's
 * candidates, nothing either state holds (marked in the free map already;
 * a state never holds its own candidates). */
static void usable_candidates(const struct mfs_volume *vol, uint8_t usable[static MAX_CANDIDATES],
			      const struct side *sd, const struct side *other)
{
	for (unsigned j = 0; j < sd->ncand; j++) {
		usable[j] = !busy_get(vol, sd->cand[j]);
		for (unsigned c = 0; c < other->ncand; c++)
			usable[j] &= sd->cand[j] != other->cand[c];
	}
}

/* Slots a side holds: its objects, its map, its superblock candidates. */
static uint64_t used_by(const struct side *sd, const struct view *v)
{
	return sd->ncand + (v ? v->entries + v->npages * volmap_copies(v) : 0);
}

/* Which positions are not ours to take: our own state, the protected
 * volume's, every superblock candidate of both; and which candidates of
 * each a superblock may go to. */
static void busy_build(struct mfs_volume *vol)
{
	const uint64_t n = mfs_store_header(vol->store)->slot_count;

	const size_t bytes = (size_t)((n + 7) / 8);

	memset(vol->busy, 0, bytes);
	memset(vol->mine, 0, bytes);
	memset(vol->theirs, 0, bytes);
	vol->nbusy = 0;
	mark_state(vol, vol->mine, vol->self.view);
	mark_state(vol, vol->theirs, vol->prot.view);
	usable_candidates(vol, vol->cand_usable, &vol->self, &vol->prot);
	usable_candidates(vol, vol->prot_cand_usable, &vol->prot, &vol->self);
	for (unsigned j = 0; j < vol->self.ncand; j++)
		busy_set(vol, vol->self.cand[j]);
	for (unsigned j = 0; j < vol->prot.ncand; j++)
		busy_set(vol, vol->prot.cand[j]);
}

static int poslist_add(struct poslist *l, uint32_t pos)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		uint32_t *p = realloc(l->p, cap * sizeof *p);

		if (!p)
			return -ENOMEM;
		l->p = p;
		l->cap = cap;
	}
	l->p[l->n++] = pos;
	return 0;
}

/* A position free to this volume, chosen uniformly at random. */
static int alloc_pos(struct mfs_vtxn *t, uint32_t *pos)
{
	struct mfs_volume *vol = t->vol;
	const uint64_t n = mfs_store_header(vol->store)->slot_count;
	uint64_t r;
	int rc;

	if (vol->nbusy >= n)
		return MFS_E_FULL;
	rc = poslist_add(&t->alloc, 0);
	if (rc != 0)
		return rc;
	mfs_random(&r, sizeof r);
	r %= n;
	if ((n - vol->nbusy) * 32 >= n) {
		while (busy_get(vol, (uint32_t)r)) {
			mfs_random(&r, sizeof r);
			r %= n;
		}
	} else {
		while (busy_get(vol, (uint32_t)r))
			r = r + 1 == n ? 0 : r + 1;
	}
	busy_set(vol, (uint32_t)r);
	t->alloc.p[t->alloc.n - 1] = (uint32_t)r;
	*pos = (uint32_t)r;
	return 0;
}

uint64_t mfs_vtxn_free_slots(struct mfs_vtxn *t)
{
	const uint64_t n = mfs_store_header(t->vol->store)->slot_count;

	return t->write && t->vol->nbusy < n ? n - t->vol->nbusy : 0;
}

/* ---- a write transaction's changes ---- */

static struct change *chg_slot(struct change *tab, size_t cap, const uint8_t vid[static VID_BYTES])
{
	size_t i = (size_t)mfs_le_get(vid + 4, 4) & (cap - 1);

	while (tab[i].used && memcmp(tab[i].vid, vid, VID_BYTES) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static struct change *chg_find(struct mfs_vtxn *t, const uint8_t vid[static VID_BYTES])
{
	struct change *c;

	if (!t->chg)
		return NULL;
	c = chg_slot(t->chg, t->chg_cap, vid);
	return c->used ? c : NULL;
}

static int chg_put(struct mfs_vtxn *t, const uint8_t vid[static VID_BYTES], uint32_t pos,
		   uint32_t gen, int removed)
{
	struct change *c;

	if (2 * (t->chg_count + 1) > t->chg_cap) {
		size_t cap = t->chg_cap ? 2 * t->chg_cap : 256;
		struct change *tab = calloc(cap, sizeof *tab);

		if (!tab)
			return -ENOMEM;
		for (size_t i = 0; i < t->chg_cap; i++)
			if (t->chg[i].used)
				*chg_slot(tab, cap, t->chg[i].vid) = t->chg[i];
		free(t->chg);
		t->chg = tab;
		t->chg_cap = cap;
	}
	c = chg_slot(t->chg, t->chg_cap, vid);
	if (!c->used) {
		memcpy(c->vid, vid, VID_BYTES);
		c->used = 1;
		t->chg_count++;
	}
	c->pos = pos;
	c->gen = gen;
	c->removed = (uint8_t)removed;
	return 0;
}

/* Where slot vid is, as this transaction sees it. */
static int lookup(struct mfs_vtxn *t, const uint8_t vid[static VID_BYTES], struct entry *out)
{
	const struct change *c = t->write ? chg_find(t, vid) : NULL;
	const struct entry *e;

	if (c) {
		if (c->removed)
			return MFS_E_NOTFOUND;
		memcpy(out->vid, vid, VID_BYTES);
		out->pos = c->pos;
		out->gen = c->gen;
		return 0;
	}
	e = volmap_page_find(t->view->pages[volmap_bucket_of(vid, t->view->nb)], vid);
	if (!e)
		return MFS_E_NOTFOUND;
	*out = *e;
	return 0;
}

/* Writes value (sealed for vid at gen) to a fresh position and maps vid there. */
static int put_slot(struct mfs_vtxn *t, const uint8_t vid[static VID_BYTES], const uint8_t *value,
		    uint32_t gen)
{
	struct entry old;
	uint32_t pos;
	int rc = alloc_pos(t, &pos);

	if (rc == 0)
		rc = mfs_store_slot_write(t->vol->store, pos, value);
	if (rc == 0 && lookup(t, vid, &old) == 0)
		rc = poslist_add(&t->freed, old.pos);
	if (rc == 0)
		rc = chg_put(t, vid, pos, gen, 0);
	return rc;
}

static int drop_slot(struct mfs_vtxn *t, const uint8_t vid[static VID_BYTES])
{
	struct entry old;
	int rc = lookup(t, vid, &old);

	if (rc != 0)
		return rc == MFS_E_NOTFOUND ? 0 : rc;
	rc = poslist_add(&t->freed, old.pos);
	if (rc == 0)
		rc = chg_put(t, vid, NO_POS, 0, 1);
	return rc;
}

/* ---- transactions ---- */

/* A transaction's two slot buffers: scratch (one payload in clear, guarded
 * memory) and raw (one slot as stored). Each thread keeps one pair between
 * transactions: a guarded allocation costs mmap, mprotect and TLB flushes,
 * and every read is a transaction. Scratch is wiped when given back; both
 * are freed when the thread ends. */
struct bufs {
	/* Through scratch_of or scratch_part only: they note what to wipe. */
	uint8_t *scratch_mem;
	size_t dirty_lo, dirty_hi; /* [lo, hi): what bufs_give wipes */
	uint8_t *raw;
	uint8_t *stripe; /* redundant volumes: a stripe's payloads, guarded; wiped after use */
	uint8_t *values; /* and a stripe's sealed slots */
	/* The stripe rebuilt last, kept in stripe until the transaction ends
	 * (or the buffer seals): a read across a stripe with several lost
	 * slots decodes it once. Named by its first data slot's id and where
	 * its data slots are (a rewrite moves them). */
	uint32_t rebuilt_k;       /* 0: none */
	uint8_t rebuilt_vid[VID_BYTES];
	uint32_t rebuilt_pos[STRIPE];
};

/* Scratch for any use: bufs_give wipes all of it. */
static uint8_t *scratch_of(struct bufs *b)
{
	b->dirty_lo = 0;
	b->dirty_hi = MFS_SLOT_PAYLOAD;
	return b->scratch_mem;
}

/* Scratch for a use that writes only [lo, hi) of it (a slot opened in
 * part): a seek's transaction wipes its piece, not 64 KiB. */
static uint8_t *scratch_part(struct bufs *b, size_t lo, size_t hi)
{
	if (b->dirty_lo == b->dirty_hi) {
		b->dirty_lo = lo;
		b->dirty_hi = hi;
	} else {
		b->dirty_lo = lo < b->dirty_lo ? lo : b->dirty_lo;
		b->dirty_hi = hi > b->dirty_hi ? hi : b->dirty_hi;
	}
	return b->scratch_mem;
}

static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static void bufs_free(void *p)
{
	struct bufs *b = p;

	if (!b)
		return;
	mfs_secure_free(b->scratch_mem);
	mfs_secure_free(b->stripe);
	free(b->raw);
	free(b->values);
	free(b);
}

static void bufs_key_make(void)
{
	pthread_key_create(&bufs_key, bufs_free);
}

static struct bufs *bufs_take(void)
{
	struct bufs *b;

	pthread_once(&bufs_once, bufs_key_make);
	b = pthread_getspecific(bufs_key);
	if (b) {
		pthread_setspecific(bufs_key, NULL);
		return b;
	}
	b = calloc(1, sizeof *b);
	if (b && (!(b->scratch_mem = mfs_secure_alloc(MFS_SLOT_PAYLOAD)) ||
		  !(b->raw = malloc(MFS_SLOT_BYTES)))) {
		bufs_free(b);
		b = NULL;
	}
	return b;
}

/* Forgets (and wipes) the stripe rebuilt last. */
static void bufs_forget_rebuilt(struct bufs *b)
{
	if (b->rebuilt_k == 0)
		return;
	mfs_memzero(b->stripe, (size_t)b->rebuilt_k * MFS_SLOT_PAYLOAD);
	b->rebuilt_k = 0;
}

static void bufs_give(struct bufs *b)
{
	if (!b)
		return;
	mfs_memzero(b->scratch_mem + b->dirty_lo, b->dirty_hi - b->dirty_lo);
	b->dirty_lo = b->dirty_hi = 0;
	bufs_forget_rebuilt(b);
	if (pthread_getspecific(bufs_key) || pthread_setspecific(bufs_key, b) != 0)
		bufs_free(b); /* a nested transaction's: one pair is kept */
}

/* The stripe buffers, made on first use (only redundant volumes need them). */
static int bufs_stripe(struct bufs *b)
{
	if (!b->stripe && !(b->stripe = mfs_secure_alloc(STRIPE_MAX * MFS_SLOT_PAYLOAD)))
		return -ENOMEM;
	if (!b->values && !(b->values = malloc(STRIPE_MAX * MFS_SLOT_BYTES)))
		return -ENOMEM;
	return 0;
}

static void txn_free(struct mfs_vtxn *t)
{
	volmap_view_unref(t->view);
	free(t->chg);
	free(t->alloc.p);
	free(t->freed.p);
	bufs_give(t->bufs);
	free(t);
}

static int txn_new(struct mfs_volume *v, int write, struct mfs_vtxn **out)
{
	struct mfs_vtxn *t = calloc(1, sizeof *t);

	if (!t)
		return -ENOMEM;
	t->vol = v;
	t->write = write;
	t->bufs = bufs_take();
	if (!t->bufs) {
		txn_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

/* The next generation: larger by a random step, so that its value does not
 * count the commits (and sessions) that came before. */
static uint64_t next_gen(uint64_t gen)
{
	return gen + 1 + mfs_random_uniform(1u << 16);
}

/* Takes the locks, brings both sides up to date and builds the free map. */
static int write_start(struct mfs_volume *v, struct mfs_vtxn **out)
{
	struct mfs_vtxn *t;
	int rc = txn_new(v, 1, &t);

	if (rc != 0)
		return rc;
	__atomic_add_fetch(&v->writers_waiting, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&v->write_lock);
	__atomic_sub_fetch(&v->writers_waiting, 1, __ATOMIC_RELAXED);
	rc = mfs_store_lock(v->store);
	if (rc != 0) {
		pthread_mutex_unlock(&v->write_lock);
		txn_free(t);
		return rc;
	}
	if (!v->creating)
		rc = side_refresh(v, &v->self);
	if (rc == MFS_E_NOTFOUND)
		rc = MFS_E_CORRUPT; /* it was there when the volume opened */
	/* The protected volume: its newest state, or what we last knew of it
	 * (damaged or gone: its candidates stay reserved all the same). */
	if (rc == 0 && v->prot.keys)
		t->prot_current = side_refresh(v, &v->prot) == 0;
	if (rc == 0) {
		t->view = side_view(v, &v->self);
		t->sb = t->view->sb;
		t->new_gen = next_gen(t->view->gen);
		busy_build(v);
	}
	if (rc != 0) {
		mfs_store_unlock(v->store);
		pthread_mutex_unlock(&v->write_lock);
		txn_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void write_end(struct mfs_vtxn *t)
{
	mfs_store_unlock(t->vol->store);
	pthread_mutex_unlock(&t->vol->write_lock);
	txn_free(t);
}

/* Whether the superblock copy v was read from (or written as) has changed. */
static int view_moved(struct mfs_volume *vol, const struct view *v)
{
	uint8_t nonce[MFS_AEAD_NONCE_BYTES];

	if (v->nsb == 0 || vol->creating)
		return 0;
	if (mfs_store_slot_read_part(vol->store, v->sb_pos[0], 0, nonce, sizeof nonce) != 0)
		return 1;
	return !mfs_memeq(nonce, v->sb_nonce[0], sizeof nonce);
}

/* A read transaction; with ask, on the newest state on disk. */
static int read_begin(struct mfs_volume *v, int ask, struct mfs_vtxn **out)
{
	struct mfs_vtxn *t;
	int rc = txn_new(v, 0, &t);

	if (rc != 0)
		return rc;
	t->view = side_view(v, &v->self);
	/* Another process may have committed: it rewrote the superblock (new
	 * nonce) and wiped ours. One small read tells; a full look only then. */
	if (ask && view_moved(v, t->view) && side_load(v, &v->self) == 0) {
		volmap_view_unref(t->view);
		t->view = side_view(v, &v->self);
	}
	t->sb = t->view->sb;
	*out = t;
	return 0;
}

int mfs_vtxn_begin(struct mfs_volume *v, int write, struct mfs_vtxn **out)
{
	if (write)
		return v->protect_lost ? MFS_E_OVERWRITTEN : write_start(v, out);
	return read_begin(v, 1, out);
}

int mfs_vtxn_begin_known(struct mfs_volume *v, struct mfs_vtxn **out)
{
	return read_begin(v, 0, out);
}

struct mfs_superblock *mfs_vtxn_sb(struct mfs_vtxn *t)
{
	return &t->sb;
}

void mfs_vtxn_sb_dirty(struct mfs_vtxn *t)
{
	t->sb_dirty = 1;
}

static void wipe_all(struct mfs_store *s, const struct poslist *l)
{
	for (size_t i = 0; i < l->n; i++)
		mfs_store_slot_wipe(s, l->p[i]);
}

/* Wipes pos unless the other volume's state holds it: a session that did
 * not know of us may have written there since (ours is then lost, theirs
 * must stay). */
static void wipe_unless_held(struct mfs_store *s, uint32_t pos, const uint8_t *held)
{
	if (!bit_get(held, pos))
		mfs_store_slot_wipe(s, pos);
}

static int finish_behind(struct mfs_volume *vol);

void mfs_vtxn_abort(struct mfs_vtxn *t)
{
	if (!t)
		return;
	if (!t->write) {
		txn_free(t);
		return;
	}
	/* A commit behind this one ends first: the state it made (or failed
	 * to make) is the one the locks are given back with. An abort is a
	 * failure already; that commit's error, if any, adds nothing. */
	finish_behind(t->vol);
	/* Nothing durable references what this transaction wrote. */
	wipe_all(t->vol->store, &t->alloc);
	write_end(t);
}

/* A read that found its slot overwritten: move the transaction to the
 * newest state, or say the data is damaged when there is none newer. */
static int catch_up(struct mfs_vtxn *t, int tries)
{
	struct mfs_volume *v = t->vol;
	struct view *cur;
	int rc;

	if (t->write || tries >= CATCH_UP_TRIES)
		return MFS_E_CORRUPT;
	rc = side_load(v, &v->self);
	if (rc != 0)
		return rc == MFS_E_NOTFOUND ? MFS_E_CORRUPT : rc;
	cur = side_view(v, &v->self);
	if (cur->gen == t->view->gen) {
		volmap_view_unref(cur);
		return MFS_E_CORRUPT;
	}
	volmap_view_unref(t->view);
	t->view = cur;
	t->sb = cur->sb;
	return 0;
}

/* ---- objects: layout ---- */

_Static_assert(MFS_SLOT_PAYLOAD == LEN_BYTES + MFS_SLOT_DATA + MFS_SLOT_LEAF,
	       "a slot: the length, the data, the data's leaf");
_Static_assert(MFS_SLOT_DATA == MFS_BLOB_LEAF_BYTES && MFS_SLOT_LEAF == MFS_BLOB_ID_BYTES,
	       "a slot's data is a blob's leaf piece");
#define LEAF_AT (LEN_BYTES + MFS_SLOT_DATA) /* the leaf's place in a payload */

uint64_t mfs_obj_slots_for(uint64_t len)
{
	return len == 0 ? 1 : (len + MFS_SLOT_DATA - 1) / MFS_SLOT_DATA;
}

static uint32_t slot_of(uint64_t off)
{
	return (uint32_t)(off / MFS_SLOT_DATA);
}

static int check_name(size_t name_len)
{
	return name_len == 0 || name_len > MFS_OBJ_NAME_MAX ? MFS_E_FORMAT : 0;
}

/* Object name, of len bytes, in t's volume: the name checked, len within
 * one object's slots (else MFS_E_FORMAT, -EFBIG), then o derived. */
static int obj_named(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t len,
		     struct volmap_obj *o)
{
	int rc = check_name(name_len);

	if (rc == 0 && mfs_obj_slots_for(len) > MAX_OBJ_SLOTS)
		rc = -EFBIG;
	if (rc == 0)
		volmap_obj_init(o, t->vol->self.keys, name, name_len);
	return rc;
}

/* Data slots a stripe holds: STRIPE in a redundant volume, else each slot
 * stands alone. */
static uint32_t stripe_width(int redundant)
{
	return redundant ? STRIPE : 1;
}

static int is_record(const struct volmap_obj *o)
{
	return o->len > 0 && ((const uint8_t *)o->name)[0] == 0;
}

/* Parity slots of a stripe of k data slots. */
static uint32_t parity_for(uint32_t k, int record)
{
	uint32_t m = PARITY_FOR(k);

	return record && k + m < RECORD_SLOTS ? RECORD_SLOTS - k : m;
}

/* Slots of a stripe of k data slots: data and (redundant) parity. */
static uint32_t stripe_slots(int redundant, int record, uint32_t k)
{
	return redundant ? k + parity_for(k, record) : k;
}

/* Parity slots of an object of n data slots: stripe by stripe, each
 * stripe's parity indices following the last one's (PARITY_FOR(STRIPE)
 * apart, what a full stripe has), so they run from 0 up without a gap. */
static uint64_t parity_slots(uint64_t n, int record)
{
	const uint64_t stripes = (n + STRIPE - 1) / STRIPE;

	return n == 0 ? 0
		      : (stripes - 1) * PARITY_FOR(STRIPE) +
				parity_for((uint32_t)(n - (stripes - 1) * STRIPE), record);
}

/* Slot j of the stripe that starts at data slot from and holds k data
 * slots: the data slots, then (redundant) their parity. */
static void stripe_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *keys,
		       const struct volmap_obj *o, uint32_t from, uint32_t k, uint32_t j)
{
	const uint32_t parity_from = from / STRIPE * PARITY_FOR(STRIPE);

	volmap_obj_vid(vid, keys, o,
		       j < k ? from + j : MFS_OBJ_PARITY_INDEX | (parity_from + j - k));
}

/* ---- objects: reading ---- */

/* Opens slot index of object o into out. */
static int open_obj_slot(struct mfs_vtxn *t, const struct volmap_obj *o, uint32_t index,
			 uint8_t *out)
{
	const struct vol_keys *k = t->vol->self.keys;
	uint8_t vid[VID_BYTES];
	struct entry e;
	int rc;

	volmap_obj_vid(vid, k, o, index);
	rc = lookup(t, vid, &e);
	if (rc != 0)
		return rc;
	return volmap_open_slot(t->vol->store, t->bufs->raw, k, e.pos, vid, e.gen, out);
}

/* Rebuilds data slot index of object o into scratch from the rest of its
 * stripe (a redundant volume whose slot was written over). The stripe's
 * shape comes from the map, so even a lost slot 0 (the length) comes back.
 * MFS_E_CORRUPT when too little of the stripe is left. */
static int rebuild_slot(struct mfs_vtxn *t, const struct volmap_obj *o, uint32_t index)
{
	const uint32_t from = index / STRIPE * STRIPE;
	struct bufs *b = t->bufs;
	uint8_t vid[VID_BYTES], first[VID_BYTES], present[STRIPE_MAX] = {0};
	uint8_t *blocks[STRIPE_MAX];
	uint32_t pos[STRIPE];
	struct entry e;
	uint32_t k = 0, m, got = 0;
	int rc = bufs_stripe(b);

	if (rc != 0)
		return rc;
	while (k < STRIPE && (volmap_obj_vid(vid, t->vol->self.keys, o, from + k),
			      lookup(t, vid, &e) == 0)) {
		if (k == 0)
			memcpy(first, vid, VID_BYTES);
		pos[k++] = e.pos;
	}
	if (index - from >= k)
		return MFS_E_CORRUPT;
	if (b->rebuilt_k == k && mfs_memeq(b->rebuilt_vid, first, VID_BYTES) &&
	    memcmp(b->rebuilt_pos, pos, k * sizeof pos[0]) == 0)
		goto done;
	bufs_forget_rebuilt(b);
	m = parity_for(k, is_record(o));
	for (uint32_t j = 0; j < k + m; j++) {
		blocks[j] = b->stripe + (size_t)j * MFS_SLOT_PAYLOAD;
		if (got == k || j == index - from)
			continue;
		stripe_vid(vid, t->vol->self.keys, o, from, k, j);
		present[j] = lookup(t, vid, &e) == 0 &&
			     volmap_open_slot(t->vol->store, b->raw, t->vol->self.keys, e.pos, vid,
					      e.gen, blocks[j]) == 0;
		got += present[j];
	}
	rc = mfs_parity_rebuild(blocks, present, k, m, MFS_SLOT_PAYLOAD);
	/* The parity blocks were only the means: keep the data, wipe the rest. */
	mfs_memzero(b->stripe + (size_t)k * MFS_SLOT_PAYLOAD, (size_t)m * MFS_SLOT_PAYLOAD);
	if (rc != 0) {
		mfs_memzero(b->stripe, (size_t)k * MFS_SLOT_PAYLOAD);
		return rc;
	}
	b->rebuilt_k = k;
	memcpy(b->rebuilt_vid, first, VID_BYTES);
	memcpy(b->rebuilt_pos, pos, k * sizeof pos[0]);
done:
	memcpy(scratch_of(b), b->stripe + (size_t)(index - from) * MFS_SLOT_PAYLOAD, MFS_SLOT_PAYLOAD);
	return 0;
}

/* Opens slot index into scratch; with rebuild, a slot that does not open
 * is rebuilt from its stripe. */
static int obj_slot(struct mfs_vtxn *t, const struct volmap_obj *o, uint32_t index, int rebuild)
{
	int rc = open_obj_slot(t, o, index, scratch_of(t->bufs));

	return rc == E_STALE && rebuild ? rebuild_slot(t, o, index) : rc;
}

static int size_once(struct mfs_vtxn *t, const struct volmap_obj *o, int rebuild, uint64_t *len)
{
	int rc = obj_slot(t, o, 0, rebuild);

	if (rc == 0)
		*len = mfs_le_get(scratch_of(t->bufs), LEN_BYTES);
	return rc;
}

#define READ_BATCH 32u

/* Where the first len bytes from object byte off lie in off's slot: from
 * payload offset *at, *n bytes. */
static void slot_span(uint64_t off, size_t len, size_t *at, size_t *n)
{
	*at = LEN_BYTES + (size_t)(off % MFS_SLOT_DATA);
	*n = LEAF_AT - *at < len ? LEAF_AT - *at : len;
}

/* Copies [off, off+len) of object o of total bytes; with slot0_open,
 * slot 0 is open in scratch already (else it is opened in part like the
 * others). Slots are looked up a batch at a time and all of a batch is
 * asked of the disk at once, so a cold read waits once per batch, not once
 * per slot. */
static int read_range(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t total, uint64_t off,
		      uint8_t *dst, size_t len, int rebuild, int slot0_open, uint8_t *leaves)
{
	const struct vol_keys *k = t->vol->self.keys;
	uint8_t vids[READ_BATCH][VID_BYTES];
	struct entry e[READ_BATCH];
	int found[READ_BATCH];

	if (off > total || len > total - off)
		return MFS_E_FORMAT;
	while (len > 0) {
		uint32_t from = slot_of(off), count = slot_of(off + len - 1) - from + 1;

		if (count > READ_BATCH)
			count = READ_BATCH;
		for (size_t i = 0, ahead = 0, at, n; i < count; i++, ahead += n) {
			slot_span(off + ahead, len - ahead, &at, &n);
			found[i] = slot0_open && from + i == 0;
			if (found[i])
				continue;
			volmap_obj_vid(vids[i], k, o, from + (uint32_t)i);
			found[i] = lookup(t, vids[i], &e[i]) == 0;
			/* One slot is read at once anyway: no need to ask ahead. */
			if (found[i] && count > 1)
				volmap_prefetch_part(t->vol->store, e[i].pos, at,
						     leaves ? MFS_SLOT_PAYLOAD : at + n);
		}
		for (uint32_t i = 0; i < count; i++) {
			uint8_t *scratch;
			size_t at, n;

			slot_span(off, len, &at, &n);

			/* Missing: damage when the object exists (its length says it
			 * reaches here), else simply absent (a known-length read does
			 * not look at slot 0 for a range past it). */
			if (!found[i]) {
				volmap_obj_vid(vids[i], k, o, 0);
				return lookup(t, vids[i], &e[i]) == 0 ? MFS_E_CORRUPT : MFS_E_NOTFOUND;
			}
			if (!(slot0_open && from + i == 0)) {
				/* Only the pieces that hold the range (and the leaf). */
				const size_t to = leaves ? MFS_SLOT_PAYLOAD : at + n;
				size_t lo, hi;
				int len_too, rc;

				volmap_part_span(at, to, &lo, &hi);
				scratch = scratch_part(t->bufs, lo, hi);
				rc = volmap_open_slot_part(t->vol->store, t->bufs->raw, k, e[i].pos,
							   vids[i], e[i].gen, scratch, at, to,
							   &len_too);

				if (rc == E_STALE && rebuild) {
					rc = rebuild_slot(t, o, from + i);
					len_too = 1;
				}
				if (rc != 0)
					return rc;
				/* Every slot repeats the length: one that disagrees
				 * was not written with the rest. */
				if (len_too && mfs_le_get(scratch, LEN_BYTES) != total)
					return MFS_E_CORRUPT;
			} else {
				scratch = scratch_of(t->bufs); /* slot 0, opened whole */
			}
			memcpy(dst, scratch + at, n);
			if (leaves) /* whole reads only: slot by slot, from slot 0 */
				memcpy(leaves + (size_t)(from + i) * MFS_SLOT_LEAF, scratch + LEAF_AT,
				       MFS_SLOT_LEAF);
			dst += n;
			off += n;
			len -= n;
		}
	}
	return 0;
}

/* One read of an object, as the four public reads ask it. */
struct obj_read {
	struct volmap_obj o;
	uint64_t total; /* given (known), else found */
	int known;      /* the caller knows the length: slot 0 only when read */
	int whole;      /* allocate dst for the whole object (mfs_obj_get) */
	int with_leaves; /* whole, and allocate leaves for the slots' leaves */
	int rebuild;    /* rebuild slots that do not open (redundant volumes) */
	uint64_t off;
	size_t len;     /* 0: the length only */
	uint8_t *dst;
	uint8_t *leaves;
};

/* Whether the map holds exactly the data slots an object of len bytes
 * takes: slot 0's length checked against the object's shape, at the cost
 * of two lookups and no decryption. A slot 0 that disagrees was not
 * written with the rest of its object: MFS_E_CORRUPT. */
static int shape_agrees(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t len)
{
	const uint64_t n = mfs_obj_slots_for(len);
	uint8_t vid[VID_BYTES];
	struct entry e;

	if (n > MAX_OBJ_SLOTS)
		return MFS_E_CORRUPT;
	volmap_obj_vid(vid, t->vol->self.keys, o, (uint32_t)n - 1);
	if (lookup(t, vid, &e) != 0)
		return MFS_E_CORRUPT;
	volmap_obj_vid(vid, t->vol->self.keys, o, (uint32_t)n);
	return lookup(t, vid, &e) == 0 ? MFS_E_CORRUPT : 0;
}

static int read_once(struct mfs_vtxn *t, struct obj_read *r)
{
	uint64_t stored;
	int rc;

	/* A known length is checked where slot 0's first piece is read anyway,
	 * as in every other slot: a seek into slot 0 opens only its pieces. */
	if (!r->known) {
		rc = size_once(t, &r->o, r->rebuild, &stored); /* opens slot 0 into scratch */
		if (rc != 0)
			return rc;
		if ((rc = shape_agrees(t, &r->o, stored)) != 0)
			return rc;
		r->total = stored;
	}
	if (r->whole) {
		if (r->total > (uint64_t)MAX_OBJ_SLOTS * MFS_SLOT_DATA)
			return MFS_E_CORRUPT;
		r->dst = malloc(r->total ? (size_t)r->total : 1);
		if (r->with_leaves)
			r->leaves = malloc((size_t)mfs_obj_slots_for(r->total) * MFS_SLOT_LEAF);
		if (!r->dst || (r->with_leaves && !r->leaves)) {
			rc = -ENOMEM;
			goto fail;
		}
		r->len = (size_t)r->total;
	}
	rc = read_range(t, &r->o, r->total, r->off, r->dst, r->len, r->rebuild, !r->known,
			r->leaves);
	/* An empty object reads no slot in the range: its one leaf is slot 0's. */
	if (rc == 0 && r->leaves && r->total == 0)
		memcpy(r->leaves, scratch_of(t->bufs) + LEAF_AT, MFS_SLOT_LEAF);
	if (rc == 0 || !r->whole)
		return rc;
fail:
	free(r->dst);
	free(r->leaves);
	r->dst = r->leaves = NULL;
	return rc;
}

/* Runs r, moving to a newer state when a slot was overwritten under it;
 * when there is none, the slot was written over for good: a redundant
 * volume rebuilds it. */
static int read_obj(struct mfs_vtxn *t, const void *name, size_t name_len, struct obj_read *r)
{
	int rc = check_name(name_len);

	if (rc != 0)
		return rc;
	volmap_obj_init(&r->o, t->vol->self.keys, name, name_len);
	for (int tries = 0;; tries++) {
		rc = read_once(t, r);
		if (rc != E_STALE)
			return rc;
		rc = catch_up(t, tries);
		if (rc == MFS_E_CORRUPT && t->vol->redundant && !r->rebuild) {
			r->rebuild = 1;
			rc = 0;
		}
		if (rc != 0)
			return rc;
	}
}

int mfs_obj_size(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t *len)
{
	struct obj_read r = {0};
	int rc = read_obj(t, name, name_len, &r);

	if (rc == 0)
		*len = r.total;
	return rc;
}

int mfs_obj_read(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t off, void *buf,
		 size_t len)
{
	struct obj_read r = {.off = off, .len = len, .dst = buf};

	return read_obj(t, name, name_len, &r);
}

int mfs_obj_get(struct mfs_vtxn *t, const void *name, size_t name_len, uint8_t **data,
		uint64_t *len)
{
	return mfs_obj_get_leaves(t, name, name_len, data, len, NULL);
}

int mfs_obj_get_leaves(struct mfs_vtxn *t, const void *name, size_t name_len, uint8_t **data,
		       uint64_t *len, uint8_t **leaves)
{
	struct obj_read r = {.whole = 1, .with_leaves = leaves != NULL};
	int rc = read_obj(t, name, name_len, &r);

	if (rc == 0) {
		*data = r.dst;
		*len = r.total;
		if (leaves)
			*leaves = r.leaves;
	}
	return rc;
}

int mfs_obj_read_known(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total,
		       uint64_t off, void *buf, size_t len)
{
	struct obj_read r = {.known = 1, .total = total, .off = off, .len = len, .dst = buf};

	return read_obj(t, name, name_len, &r);
}

int mfs_obj_prefetch(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total)
{
	struct volmap_obj o;
	uint8_t vid[VID_BYTES];
	struct entry e;
	int rc = obj_named(t, name, name_len, total, &o), asked = 0;

	for (uint32_t i = 0; rc == 0 && i < mfs_obj_slots_for(total); i++) {
		volmap_obj_vid(vid, t->vol->self.keys, &o, i);
		if (lookup(t, vid, &e) == 0) {
			volmap_prefetch_part(t->vol->store, e.pos, 0, MFS_SLOT_PAYLOAD);
			asked++;
		}
	}
	return rc == 0 ? asked : rc;
}

int mfs_obj_slot_position(struct mfs_vtxn *t, const void *name, size_t name_len, uint32_t index,
			  uint32_t *pos)
{
	struct volmap_obj o;
	uint8_t vid[VID_BYTES];
	struct entry e;
	int rc;

	volmap_obj_init(&o, t->vol->self.keys, name, name_len);
	volmap_obj_vid(vid, t->vol->self.keys, &o, index);
	rc = lookup(t, vid, &e);
	if (rc == 0)
		*pos = e.pos;
	return rc;
}

/* Opens every slot of o, its parity slots too, and counts in *lost those
 * that do not open. Slot 0 comes first and once: its length says how many
 * data slots there are (the map must agree), and every other data slot
 * must repeat it. A lost data slot must rebuild, else the object is
 * damaged. MFS_E_NOTFOUND when o is absent. */
static int check_once(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t *lost)
{
	const uint8_t *payload = scratch_of(t->bufs);
	uint64_t len = 0, n = 1, np = 0;
	int rc = 0;

	*lost = 0;
	for (uint64_t i = 0; rc == 0 && i < n + np; i++) {
		uint32_t index = i < n ? (uint32_t)i : MFS_OBJ_PARITY_INDEX | (uint32_t)(i - n);

		rc = open_obj_slot(t, o, index, scratch_of(t->bufs));
		if (rc == MFS_E_NOTFOUND && i == 0)
			return rc;
		if (rc == E_STALE || rc == MFS_E_NOTFOUND) {
			++*lost;
			rc = i < n && t->vol->redundant ? rebuild_slot(t, o, index)
			   : i < n		   ? MFS_E_CORRUPT
						   : 0;
		}
		if (rc != 0 || i >= n)
			continue; /* a parity slot's first bytes are parity, not the length */
		if (i == 0) {
			len = mfs_le_get(payload, LEN_BYTES);
			rc = shape_agrees(t, o, len);
			n = mfs_obj_slots_for(len);
			np = t->vol->redundant ? parity_slots(n, is_record(o)) : 0;
		} else if (mfs_le_get(payload, LEN_BYTES) != len) {
			rc = MFS_E_CORRUPT;
		}
		if (rc == 0) {
			uint8_t leaf[MFS_SLOT_LEAF];

			mfs_blob_leaf(leaf, payload + LEN_BYTES, mfs_blob_leaf_len((size_t)len, i));
			if (!mfs_memeq(leaf, payload + LEAF_AT, sizeof leaf))
				rc = MFS_E_CORRUPT; /* a peer would ban whoever served it */
		}
	}
	return rc;
}

int mfs_obj_check(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t *lost)
{
	struct volmap_obj o;
	int rc = check_name(name_len);

	if (rc != 0)
		return rc;
	volmap_obj_init(&o, t->vol->self.keys, name, name_len);
	for (int tries = 0;; tries++) {
		rc = check_once(t, &o, lost);
		/* Damage, or another process moved the object since: look again
		 * at the newest state, once per newer state. */
		if ((rc == 0 && *lost == 0) || rc == MFS_E_NOTFOUND || catch_up(t, tries) != 0)
			return rc;
	}
}

int mfs_obj_rewrite(struct mfs_vtxn *t, const void *name, size_t name_len)
{
	uint8_t *data;
	uint64_t len;
	int rc;

	if (!t->write)
		return -EROFS;
	rc = mfs_obj_get(t, name, name_len, &data, &len);
	if (rc != 0)
		return rc;
	rc = mfs_obj_write(t, name, name_len, data, (size_t)len);
	mfs_wipe_free(data);
	return rc;
}

/* ---- objects: writing ---- */

/* Builds slot idx's payload of an object (data, len bytes) in payload;
 * its leaf from leaves when given, else hashed here. */
static void fill_payload(uint8_t *payload, uint32_t idx, const uint8_t *data, uint64_t len,
			 const uint8_t *leaves)
{
	const uint64_t from = (uint64_t)idx * MFS_SLOT_DATA;
	uint64_t n = len > from ? len - from : 0;

	if (n > MFS_SLOT_DATA)
		n = MFS_SLOT_DATA;
	mfs_le_put(payload, len, LEN_BYTES);
	memcpy(payload + LEN_BYTES, data + from, (size_t)n);
	memset(payload + LEN_BYTES + n, 0, MFS_SLOT_DATA - (size_t)n);
	if (leaves)
		memcpy(payload + LEAF_AT, leaves + (size_t)idx * MFS_SLOT_LEAF, MFS_SLOT_LEAF);
	else
		mfs_blob_leaf(payload + LEAF_AT, payload + LEN_BYTES, (size_t)n);
}

uint64_t mfs_obj_sealed_slots(struct mfs_volume *v, uint64_t len)
{
	const uint64_t n = mfs_obj_slots_for(len);

	return n + (v->redundant ? parity_slots(n, 0) : 0);
}

size_t mfs_obj_seal_scratch(struct mfs_volume *v, uint64_t len)
{
	uint64_t k = mfs_obj_slots_for(len);

	k = k < stripe_width(v->redundant) ? k : stripe_width(v->redundant);
	return (size_t)(v->redundant ? stripe_slots(1, 0, (uint32_t)k) : 1) * MFS_SLOT_PAYLOAD;
}

/* Seals the stripe of object o that starts at data slot from into values
 * (the sealed slots in stripe_vid's order; scratch as mfs_obj_seal_scratch
 * says) and says how many data slots it holds. */
static uint32_t seal_stripe(const struct vol_keys *keys, int redundant, const struct volmap_obj *o,
			    const uint8_t *data, uint64_t len, const uint8_t *leaves, uint32_t from,
			    uint64_t gen, uint8_t *scratch, uint8_t *values)
{
	const uint64_t n = mfs_obj_slots_for(len);
	const uint32_t k = (uint32_t)(n - from < stripe_width(redundant) ? n - from
									  : stripe_width(redundant));
	const uint32_t total = stripe_slots(redundant, is_record(o), k);
	uint8_t *blocks[STRIPE_MAX];
	uint8_t vid[VID_BYTES];

	for (uint32_t j = 0; j < total; j++)
		blocks[j] = scratch + (redundant ? (size_t)j * MFS_SLOT_PAYLOAD : 0);
	for (uint32_t j = 0; j < total; j++) {
		if (j < k)
			fill_payload(blocks[j], from + j, data, len, leaves);
		if (redundant && j == k)
			mfs_parity_encode(blocks + k, blocks, k, total - k, MFS_SLOT_PAYLOAD);
		stripe_vid(vid, keys, o, from, k, j);
		volmap_seal_slot(values + (size_t)j * MFS_SLOT_BYTES, blocks[j], keys, vid, gen);
	}
	/* A stripe's payloads are wiped here; a lone slot's scratch is reused
	 * for the next one and wiped once by the caller, not 64 KiB per slot. */
	if (redundant)
		mfs_memzero(scratch, (size_t)total * MFS_SLOT_PAYLOAD);
	return k;
}

/* Slots a write that makes the volume larger leaves free (a 32nd of a
 * small store): deleting is copy on write too (a blob table bucket, a
 * pinlog page, map pages), so a volume that writes filled must keep the
 * room to undo and delete. */
#define DELETE_SLACK 16u

/* Room for n more slots, keeping room for the map pages a commit may
 * rewrite, and (grows) for deleting later. MFS_E_FULL is decided before
 * anything is written. */
static int have_room(struct mfs_vtxn *t, uint64_t n, int grows)
{
	uint64_t reserve = ((uint64_t)t->view->nb + 1) * volmap_copies(t->view);

	if (grows) {
		uint64_t slots = mfs_store_header(t->vol->store)->slot_count;

		reserve += slots / 32 < DELETE_SLACK ? slots / 32 : DELETE_SLACK;
	}
	return mfs_vtxn_free_slots(t) >= n + reserve ? 0 : MFS_E_FULL;
}

/* The number of data slots object o has now (a write transaction), 0 when
 * absent. */
/* The data slots the map lists for o, counted from 0: what a rewrite
 * must drop when slot 0 (the length) does not open. */
static int slots_listed(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t *n)
{
	uint8_t vid[VID_BYTES];
	struct entry e;
	uint32_t i;
	int rc = 0;

	for (i = 1; rc == 0 && i < MAX_OBJ_SLOTS; i++) {
		volmap_obj_vid(vid, t->vol->self.keys, o, i);
		rc = lookup(t, vid, &e);
		if (rc == MFS_E_NOTFOUND)
			break;
	}
	*n = i;
	return rc == MFS_E_NOTFOUND || rc == 0 ? 0 : rc;
}

static int slots_now(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t *n)
{
	uint64_t len;
	int rc = size_once(t, o, 0, &len);

	if (rc == E_STALE && t->vol->redundant)
		rc = size_once(t, o, 1, &len);
	/* A damaged object being written again (megafs fsck --repair). */
	if (rc == E_STALE)
		return slots_listed(t, o, n);
	*n = rc == 0 ? mfs_obj_slots_for(len) : 0;
	return rc == MFS_E_NOTFOUND ? 0 : rc;
}

/* Forgets the slots object o had at old_n data slots and has no more at
 * new_n (0: all of them): data slots and parity slots each run from index
 * 0 up, so what goes is the tail of each. */
static int drop_slots(struct mfs_vtxn *t, const struct volmap_obj *o, uint64_t new_n,
		      uint64_t old_n)
{
	const uint64_t new_p = t->vol->redundant ? parity_slots(new_n, is_record(o)) : 0;
	const uint64_t old_p = t->vol->redundant ? parity_slots(old_n, is_record(o)) : 0;
	uint8_t vid[VID_BYTES];
	int rc = 0;

	for (uint64_t i = new_n; rc == 0 && i < old_n; i++) {
		volmap_obj_vid(vid, t->vol->self.keys, o, (uint32_t)i);
		rc = drop_slot(t, vid);
	}
	for (uint64_t i = new_p; rc == 0 && i < old_p; i++) {
		volmap_obj_vid(vid, t->vol->self.keys, o, MFS_OBJ_PARITY_INDEX | (uint32_t)i);
		rc = drop_slot(t, vid);
	}
	return rc;
}

/* Stores the sealed slots of object o (len bytes, sealed in stripe order
 * at generation gen). */
static int put_sealed(struct mfs_vtxn *t, const struct volmap_obj *o, const uint8_t *sealed,
		      uint64_t len, uint32_t gen)
{
	const uint64_t n = mfs_obj_slots_for(len);
	const uint32_t width = stripe_width(t->vol->redundant);
	uint8_t vid[VID_BYTES];
	int rc = 0;

	for (uint32_t from = 0; rc == 0 && from < n; from += width) {
		uint32_t k = n - from < width ? (uint32_t)(n - from) : width;
		uint32_t total = stripe_slots(t->vol->redundant, 0, k);

		for (uint32_t j = 0; rc == 0 && j < total; j++, sealed += MFS_SLOT_BYTES) {
			stripe_vid(vid, t->vol->self.keys, o, from, k, j);
			rc = put_slot(t, vid, sealed, gen);
		}
	}
	return rc;
}

int mfs_obj_write(struct mfs_vtxn *t, const void *name, size_t name_len, const void *data,
		  size_t len)
{
	return mfs_obj_write_leaves(t, name, name_len, data, len, NULL);
}

int mfs_obj_write_leaves(struct mfs_vtxn *t, const void *name, size_t name_len, const void *data,
			 size_t len, const uint8_t *leaves)
{
	struct mfs_volume *v = t->vol;
	const uint64_t new_n = mfs_obj_slots_for(len);
	const uint32_t width = stripe_width(v->redundant);
	uint8_t *scratch = scratch_of(t->bufs), *values = t->bufs->raw;
	struct volmap_obj o;
	uint8_t vid[VID_BYTES];
	uint64_t old_n;
	int rc = obj_named(t, name, name_len, len, &o);

	if (rc != 0)
		return rc;
	if (!t->write)
		return -EROFS;
	if (v->redundant && (rc = bufs_stripe(t->bufs)) == 0) {
		bufs_forget_rebuilt(t->bufs); /* the buffer seals now */
		scratch = t->bufs->stripe;
		values = t->bufs->values;
	}
	if (rc == 0)
		rc = slots_now(t, &o, &old_n);
	if (rc == 0)
		rc = have_room(t, new_n + (v->redundant ? parity_slots(new_n, is_record(&o)) : 0),
			       new_n > old_n);
	for (uint32_t from = 0; rc == 0 && from < new_n; from += width) {
		uint32_t k = seal_stripe(v->self.keys, v->redundant, &o, data, len, leaves, from,
					 (uint32_t)t->new_gen, scratch, values);

		for (uint32_t j = 0; rc == 0 && j < stripe_slots(v->redundant, is_record(&o), k);
		     j++) {
			stripe_vid(vid, v->self.keys, &o, from, k, j);
			rc = put_slot(t, vid, values + (size_t)j * MFS_SLOT_BYTES, (uint32_t)t->new_gen);
		}
	}
	if (rc == 0)
		rc = drop_slots(t, &o, new_n, old_n);
	return rc;
}

void mfs_obj_seal(struct mfs_volume *v, uint8_t *sealed, uint8_t *scratch, const void *name,
		  size_t name_len, const void *data, size_t len, const uint8_t *leaves)
{
	const uint64_t n = mfs_obj_slots_for(len);
	const uint32_t width = stripe_width(v->redundant);
	struct volmap_obj o;

	volmap_obj_init(&o, v->self.keys, name, name_len);
	for (uint32_t from = 0; from < n; from += width) {
		uint32_t k = seal_stripe(v->self.keys, v->redundant, &o, data, len, leaves, from, 0,
					 scratch, sealed);

		sealed += (size_t)stripe_slots(v->redundant, 0, k) * MFS_SLOT_BYTES;
	}
	mfs_memzero(scratch, MFS_SLOT_PAYLOAD);
}

int mfs_obj_insert_sealed(struct mfs_vtxn *t, const void *name, size_t name_len,
			  const uint8_t *sealed, uint64_t len)
{
	const struct vol_keys *k = t->vol->self.keys;
	struct volmap_obj o;
	uint8_t vid[VID_BYTES];
	struct entry e;
	int rc = obj_named(t, name, name_len, len, &o);

	if (rc != 0)
		return rc;
	if (!t->write)
		return -EROFS;
	if (is_record(&o))
		return MFS_E_FORMAT; /* records are written whole, never sealed ahead */
	volmap_obj_vid(vid, k, &o, 0);
	if (lookup(t, vid, &e) == 0)
		return MFS_E_EXISTS;
	rc = have_room(t, mfs_obj_sealed_slots(t->vol, len), 1);
	if (rc == 0)
		rc = put_sealed(t, &o, sealed, len, 0);
	return rc;
}

int mfs_obj_delete(struct mfs_vtxn *t, const void *name, size_t name_len)
{
	struct volmap_obj o;
	uint64_t n;
	int rc = check_name(name_len);

	if (rc != 0)
		return rc;
	if (!t->write)
		return -EROFS;
	volmap_obj_init(&o, t->vol->self.keys, name, name_len);
	rc = slots_now(t, &o, &n);
	if (rc == 0 && n == 0)
		rc = MFS_E_NOTFOUND;
	if (rc == 0)
		rc = drop_slots(t, &o, 0, n);
	return rc;
}

/* ---- commit ---- */

struct sorted_change {
	uint32_t bucket;
	const struct change *c;
};

static int sorted_cmp(const void *a, const void *b)
{
	const struct sorted_change *x = a, *y = b;

	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return memcmp(x->c->vid, y->c->vid, VID_BYTES);
}

/* Merges an old page's entries that belong to bucket b (under nb buckets)
 * with this transaction's changes to b (sorted). E2BIG past a page. */
static int merge_page(struct page **out, const struct page *old, uint32_t b, uint32_t nb,
		      const struct sorted_change *ch, size_t nch, uint64_t gen)
{
	uint32_t room = (old ? old->count : 0) + (uint32_t)nch, n = 0, i = 0;
	struct page *p = volmap_page_new(room);
	size_t j = 0;

	if (!p)
		return -ENOMEM;
	while ((old && i < old->count) || j < nch) {
		const struct entry *e = NULL;
		int cmp;

		while (old && i < old->count && volmap_bucket_of(old->e[i].vid, nb) != b)
			i++;
		if (old && i < old->count)
			e = &old->e[i];
		if (!e && j == nch)
			break;
		cmp = !e ? 1 : j == nch ? -1 : memcmp(e->vid, ch[j].c->vid, VID_BYTES);
		if (cmp < 0) {
			p->e[n++] = *e;
			i++;
			continue;
		}
		if (!ch[j].c->removed) {
			memcpy(p->e[n].vid, ch[j].c->vid, VID_BYTES);
			p->e[n].pos = ch[j].c->pos;
			p->e[n].gen = ch[j].c->gen;
			n++;
		}
		if (cmp == 0)
			i++;
		j++;
	}
	if (n > PAGE_CAP) {
		free(p);
		return -E2BIG;
	}
	p->count = n;
	p->gen = gen;
	*out = p;
	return 0;
}

static int entries_by_vid(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->vid, ((const struct entry *)b)->vid, VID_BYTES);
}

/* The old map's entries that fall in bucket b of a map of nb buckets: one
 * old page while the map keeps or doubles its buckets; when it shrinks, the
 * old pages that fold into b, merged in order into *tmp (the caller frees
 * it). */
static int old_bucket(const struct view *old, uint32_t b, uint32_t nb, const struct page **src,
		      struct page **tmp)
{
	uint32_t n = 0;
	struct page *p;

	*tmp = NULL;
	if (nb >= old->nb) {
		*src = old->pages[b & (old->nb - 1)];
		return 0;
	}
	for (uint32_t o = b; o < old->nb; o += nb)
		n += old->pages[o] ? old->pages[o]->count : 0;
	p = volmap_page_new(n);
	if (!p)
		return -ENOMEM;
	n = 0;
	for (uint32_t o = b; o < old->nb; o += nb) {
		if (!old->pages[o])
			continue;
		memcpy(p->e + n, old->pages[o]->e, old->pages[o]->count * sizeof *p->e);
		n += old->pages[o]->count;
	}
	qsort(p->e, n, sizeof *p->e, entries_by_vid);
	*src = *tmp = p;
	return 0;
}

/* The map under nb buckets after this transaction: pages it does not
 * change are shared with the transaction's view. */
static int build_map(struct mfs_vtxn *t, uint32_t nb, struct view *nv)
{
	const struct view *old = t->view;
	/* Every page is written again when the map grows or keeps another
	 * number of copies (a superblock lists the same count for each). */
	const int regrow = nb != old->nb || nv->copies != old->copies;
	struct sorted_change *ch = calloc(t->chg_count + 1, sizeof *ch);
	size_t nch = 0, at = 0;
	int rc = ch ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < t->chg_cap; i++)
		if (t->chg[i].used)
			ch[nch++] = (struct sorted_change){volmap_bucket_of(t->chg[i].vid, nb), &t->chg[i]};
	if (rc == 0)
		qsort(ch, nch, sizeof *ch, sorted_cmp);
	for (uint32_t b = 0; rc == 0 && b < nb; b++) {
		const struct page *src = NULL;
		struct page *merged = NULL;
		size_t from = at;

		while (at < nch && ch[at].bucket == b)
			at++;
		if (!regrow && at == from) {
			nv->pages[b] = volmap_page_ref(old->pages[b]);
		} else {
			rc = old_bucket(old, b, nb, &src, &merged);
			if (rc == 0)
				rc = merge_page(&nv->pages[b], src, b, nb, ch + from, at - from, t->new_gen);
			free(merged);
			if (rc == 0 && nv->pages[b]->count == 0) {
				free(nv->pages[b]);
				nv->pages[b] = NULL;
			}
		}
		if (rc == 0 && nv->pages[b]) {
			nv->entries += nv->pages[b]->count;
			nv->npages++;
		}
	}
	free(ch);
	return rc;
}

/* The map under nb buckets after this transaction, as a new view in *out
 * (NULL on an error); -E2BIG when one of its pages would overflow. */
static int map_view(struct mfs_vtxn *t, uint32_t nb, struct view **out)
{
	struct view *v = volmap_view_new(nb);
	int rc = v ? 0 : -ENOMEM;

	if (rc == 0) {
		v->redundant = t->view->redundant;
		v->copies = volmap_copies_for(v->redundant, nb,
					      mfs_store_header(t->vol->store)->slot_count);
		rc = build_map(t, nb, v);
	}
	if (rc != 0) {
		volmap_view_unref(v);
		v = NULL;
	}
	*out = v;
	return rc;
}

/* The new view, its changed map pages written (not yet durable). */
static int write_map(struct mfs_vtxn *t, struct view **out)
{
	const struct view *old = t->view;
	struct vol_keys *k = t->vol->self.keys;
	struct view *nv = NULL;
	uint32_t nb = old->nb;
	int rc;

	while ((rc = map_view(t, nb, &nv)) == -E2BIG) {
		if (nb >= volmap_max_buckets(old))
			return MFS_E_FULL;
		nb *= 2;
	}
	/* A map at a quarter of its pages' room folds into half as many:
	 * deletes and gc give back the pages a large write grew it by. At that
	 * load no page of the halved map overflows short of a freak of the
	 * hash (then it stays as it is), and a map never shrinks and grows
	 * again on alternate commits. */
	while (rc == 0 && nb > 1 && nv->entries <= (uint64_t)nb * PAGE_CAP / 4) {
		struct view *half;

		rc = map_view(t, nb / 2, &half);
		if (rc == 0) {
			volmap_view_unref(nv);
			nv = half;
			nb /= 2;
		}
	}
	if (rc == -E2BIG)
		rc = 0; /* the halved map did not fit: the one built stays */
	for (uint32_t b = 0; rc == 0 && b < nb; b++) {
		struct page *p = nv->pages[b];
		uint8_t vid[VID_BYTES];

		if (!p || p->pos[0] != NO_POS)
			continue; /* empty, or shared with the old view */
		volmap_meta_vid(vid, k, "map", b);
		volmap_page_encode(scratch_of(t->bufs), p);
		for (unsigned c = 0; rc == 0 && c < volmap_copies(nv); c++) {
			rc = alloc_pos(t, &p->pos[c]);
			if (rc == 0) {
				volmap_seal_slot(t->bufs->raw, scratch_of(t->bufs), k, vid, p->gen);
				rc = mfs_store_slot_write(t->vol->store, p->pos[c], t->bufs->raw);
			}
		}
	}
	/* Old pages the new map does not share are replaced. */
	for (uint32_t b = 0; rc == 0 && b < old->nb; b++) {
		const struct page *p = old->pages[b];
		int kept = 0;

		kept = b < nv->nb && nv->pages[b] == p;
		for (unsigned c = 0; p && !kept && rc == 0 && c < volmap_copies(old); c++)
			rc = poslist_add(&t->freed, p->pos[c]);
	}
	if (rc != 0) {
		volmap_view_unref(nv);
		return rc;
	}
	nv->gen = t->new_gen;
	nv->sb = t->sb;
	*out = nv;
	return 0;
}

static int sb_copy_put(struct mfs_store *s, uint8_t *raw, const uint8_t *scratch,
		       const struct side *sd, struct view *nv, uint32_t pos, struct poslist *written)
{
	int rc;

	volmap_seal_slot(raw, scratch, sd->keys, sd->sb_vid, 0);
	rc = poslist_add(written, pos);
	if (rc == 0)
		rc = mfs_store_slot_write(s, pos, raw);
	if (rc == 0) {
		memcpy(nv->sb_nonce[nv->nsb], raw, MFS_AEAD_NONCE_BYTES);
		nv->sb_pos[nv->nsb++] = pos;
	}
	return rc;
}

/* Whether v's superblock sits at pos (v may be NULL). */
static int holds_sb(const struct view *v, uint32_t pos)
{
	for (unsigned c = 0; v && c < v->nsb; c++)
		if (v->sb_pos[c] == pos)
			return 1;
	return 0;
}

/* Writes side sd's superblock for nv to usable candidates that do not hold
 * the current one (cur's); when none is left (the other volume's data on
 * all the rest), over the current copies but the first, which stays until
 * the new state is durable. */
static int put_sb(struct mfs_store *s, uint8_t *raw, uint8_t *scratch, const struct side *sd,
		  const struct view *cur, struct view *nv, const uint8_t *usable,
		  struct poslist *written)
{
	const unsigned start = mfs_random_uniform(sd->ncand);
	/* A redundant volume's superblock on half its candidates: the other
	 * volume's sessions may write over some. */
	const unsigned want = nv->redundant ? sd->ncand / 2 : SB_COPIES;
	int rc = 0;

	nv->sb.used_slots = used_by(sd, nv);
	nv->nsb = 0;
	volmap_sb_encode(scratch, nv);
	for (unsigned i = 0; rc == 0 && i < sd->ncand && nv->nsb < want; i++) {
		unsigned j = (start + i) % sd->ncand;

		if (usable[j] && !holds_sb(cur, sd->cand[j]))
			rc = sb_copy_put(s, raw, scratch, sd, nv, sd->cand[j], written);
	}
	for (unsigned i = 0; rc == 0 && nv->nsb == 0 && i < sd->ncand; i++) {
		unsigned j = (start + i) % sd->ncand;

		if (usable[j] && holds_sb(cur, sd->cand[j]) && cur->sb_pos[0] != sd->cand[j])
			rc = sb_copy_put(s, raw, scratch, sd, nv, sd->cand[j], written);
	}
	mfs_memzero(scratch, MFS_SLOT_PAYLOAD);
	if (rc == 0 && nv->nsb == 0)
		rc = MFS_E_OVERWRITTEN; /* the other volume's data sits on every candidate */
	return rc;
}

/* Commits the protected volume's state again under a new generation, as
 * its own sessions do at open and close: a session of this volume then
 * leaves on the protected one exactly the trace of a session of its own
 * that changed nothing. In a write transaction t (its locks, its view of
 * the protected volume). */
static int touch_protected(struct mfs_vtxn *t)
{
	struct mfs_volume *vol = t->vol;
	struct side *sd = &vol->prot;
	struct poslist written = {0};
	struct view *cur, *nv;
	int rc;

	if (!t->prot_current || !(cur = side_view(vol, sd)))
		return 0; /* gone or damaged: nothing to refresh */
	nv = volmap_view_new(cur->nb);
	rc = nv ? 0 : -ENOMEM;
	if (rc == 0) {
		for (uint32_t b = 0; b < cur->nb; b++)
			nv->pages[b] = volmap_page_ref(cur->pages[b]);
		nv->gen = next_gen(cur->gen);
		nv->sb = cur->sb;
		nv->redundant = cur->redundant;
		nv->copies = cur->copies;
		nv->entries = cur->entries;
		nv->npages = cur->npages;
		rc = put_sb(vol->store, t->bufs->raw, scratch_of(t->bufs), sd, cur, nv,
			    vol->prot_cand_usable, &written);
	}
	if (rc == 0)
		rc = mfs_store_sync(vol->store);
	if (rc == 0) {
		for (unsigned c = 0; c < cur->nsb; c++)
			if (!holds_sb(nv, cur->sb_pos[c]))
				wipe_unless_held(vol->store, cur->sb_pos[c], vol->mine);
		volmap_note_candidates(vol->store, sd, nv);
		side_install(vol, sd, nv);
	} else {
		wipe_all(vol->store, &written);
		volmap_view_unref(nv);
	}
	free(written.p);
	volmap_view_unref(cur);
	return rc;
}

/* The durable half of a commit: sync (the slots and map pages), the
 * superblock copies, sync. */
static int make_durable(struct mfs_volume *vol, struct bufs *bufs, const struct view *old,
			struct view *nv, struct poslist *sb_written)
{
	struct mfs_store *s = vol->store;
	int rc = mfs_store_sync(s);

	if (rc == 0)
		rc = put_sb(s, bufs->raw, scratch_of(bufs), &vol->self, old, nv, vol->cand_usable,
			    sb_written);
	if (rc == 0)
		rc = mfs_store_sync(s);
	return rc;
}

/* A commit that did not become durable: take back a superblock that may
 * have reached the disk first (it would name slots about to be wiped). */
static void take_back_sb(struct mfs_store *s, const struct poslist *sb_written)
{
	wipe_all(s, sb_written);
	mfs_store_sync(s);
}

/* Durable: nv (a reference given up) becomes the volume's state, and what
 * it replaced leaves the store. */
static void now_durable(struct mfs_volume *vol, const struct view *old, struct view *nv,
			const struct poslist *freed)
{
	struct mfs_store *s = vol->store;

	for (unsigned c = 0; c < old->nsb; c++)
		if (!holds_sb(nv, old->sb_pos[c]))
			wipe_unless_held(s, old->sb_pos[c], vol->theirs);
	for (size_t i = 0; i < freed->n; i++)
		wipe_unless_held(s, freed->p[i], vol->theirs);
	volmap_note_candidates(s, &vol->self, nv);
	side_install(vol, &vol->self, nv);
}

static void *behind_main(void *arg)
{
	struct behind *b = arg;
	struct bufs *bufs = bufs_take();

	b->rc = bufs ? make_durable(b->vol, bufs, b->old, b->nv, &b->sb_written) : -ENOMEM;
	bufs_give(bufs);
	return NULL;
}

/* Waits for the commit behind (if any) and ends it: its state installed
 * and what it replaced wiped, or, when it failed, everything it wrote
 * taken back (the transaction chained to it, built on that state, must
 * then fail too). Returns that commit's result. */
static int finish_behind(struct mfs_volume *vol)
{
	struct behind *b = vol->behind;
	int rc;

	if (!b)
		return 0;
	vol->behind = NULL;
	if (b->threaded)
		pthread_join(b->thread, NULL);
	rc = b->rc;
	if (rc == 0) {
		now_durable(vol, b->old, b->nv, &b->freed);
	} else {
		take_back_sb(vol->store, &b->sb_written);
		wipe_all(vol->store, &b->alloc);
		volmap_view_unref(b->nv);
	}
	volmap_view_unref(b->old);
	free(b->alloc.p);
	free(b->freed.p);
	free(b->sb_written.p);
	free(b);
	return rc;
}

int mfs_vtxn_commit(struct mfs_vtxn *t)
{
	struct mfs_volume *vol;
	struct poslist sb_written = {0};
	struct view *nv = NULL;
	int rc;

	if (!t->write) {
		txn_free(t);
		return 0;
	}
	vol = t->vol;
	rc = finish_behind(vol);
	if (rc != 0) {
		mfs_vtxn_abort(t);
		return rc;
	}
	if (t->chg_count == 0 && !t->sb_dirty) {
		write_end(t);
		return 0;
	}
	rc = write_map(t, &nv);
	if (rc == 0)
		rc = make_durable(vol, t->bufs, t->view, nv, &sb_written);
	if (rc != 0) {
		take_back_sb(vol->store, &sb_written);
		free(sb_written.p);
		volmap_view_unref(nv);
		mfs_vtxn_abort(t);
		return rc;
	}
	free(sb_written.p);
	now_durable(vol, t->view, nv, &t->freed);
	write_end(t);
	return 0;
}

int mfs_vtxn_commit_chained(struct mfs_vtxn *t, struct mfs_vtxn **next)
{
	struct mfs_volume *vol = t->vol;
	struct mfs_vtxn *n = NULL;
	struct behind *b = NULL;
	struct view *nv = NULL;
	int rc;

	*next = NULL;
	if (!t->write) {
		mfs_vtxn_abort(t);
		return -EINVAL;
	}
	/* Someone waits for the locks a chain would keep: commit in full. */
	if (__atomic_load_n(&vol->writers_waiting, __ATOMIC_RELAXED) > 0 ||
	    mfs_store_lock_wanted(vol->store))
		return mfs_vtxn_commit(t);
	/* The commit before this one is durable before this one's superblock
	 * can follow it. */
	rc = finish_behind(vol);
	if (rc == 0)
		rc = write_map(t, &nv);
	if (rc == 0 && (!(n = calloc(1, sizeof *n)) || !(b = calloc(1, sizeof *b))))
		rc = -ENOMEM;
	if (rc != 0) {
		free(n);
		volmap_view_unref(nv);
		mfs_vtxn_abort(t);
		return rc;
	}
	/* The next transaction: t's locks, thread and buffers, on the state
	 * t writes, with every position t wrote or replaced still busy. */
	n->vol = vol;
	n->write = 1;
	n->bufs = t->bufs;
	t->bufs = NULL;
	__atomic_add_fetch(&nv->refs, 1, __ATOMIC_RELAXED);
	n->view = nv;
	n->sb = nv->sb;
	n->new_gen = next_gen(nv->gen);
	n->prot_current = t->prot_current;
	*b = (struct behind){.vol = vol, .old = t->view, .nv = nv, .alloc = t->alloc,
			     .freed = t->freed};
	t->view = NULL;
	t->alloc = (struct poslist){0};
	t->freed = (struct poslist){0};
	txn_free(t);
	b->threaded = pthread_create(&b->thread, NULL, behind_main, b) == 0;
	if (!b->threaded)
		behind_main(b);
	vol->behind = b;
	*next = n;
	return 0;
}

/* ---- volumes ---- */

static struct mfs_volume *volume_alloc(struct mfs_store *s)
{
	const uint64_t n = mfs_store_header(s)->slot_count;
	struct mfs_volume *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->busy = malloc((size_t)((n + 7) / 8));
	v->mine = malloc((size_t)((n + 7) / 8));
	v->theirs = malloc((size_t)((n + 7) / 8));
	if (!v->busy || !v->mine || !v->theirs) {
		free(v->busy);
		free(v->mine);
		free(v->theirs);
		free(v);
		return NULL;
	}
	v->store = s;
	pthread_mutex_init(&v->write_lock, NULL);
	pthread_mutex_init(&v->view_lock, NULL);
	return v;
}

/* A session's trace: the protected volume's superblock written again (if
 * any), then, with self_too, ours (a commit that changes nothing else).
 * Every session of any volume so changes the store the same way. */
static int touch(struct mfs_volume *v, int self_too)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc != 0)
		return rc;
	rc = touch_protected(t);
	if (rc == 0 && self_too) {
		mfs_vtxn_sb_dirty(t);
		return mfs_vtxn_commit(t);
	}
	mfs_vtxn_abort(t); /* wrote nothing of ours */
	return rc;
}

void mfs_volume_close(struct mfs_volume *v)
{
	if (!v)
		return;
	if (v->opened)
		touch(v, 1);
	/* The wipes that follow each commit are not synced with it; a session
	 * leaves none behind in the page cache, where the next one's sync would
	 * take longer after a busy session (of any volume) than after an idle
	 * one. */
	mfs_store_sync(v->store);
	volmap_view_unref(v->self.view);
	volmap_view_unref(v->prot.view);
	mfs_secure_free(v->self.keys);
	mfs_secure_free(v->prot.keys);
	pthread_mutex_destroy(&v->write_lock);
	pthread_mutex_destroy(&v->view_lock);
	free(v->busy);
	free(v->mine);
	free(v->theirs);
	free(v);
}

static int attach_protect(struct mfs_volume *v, const char *protect_pw, size_t protect_len)
{
	struct vol_keys *k;
	int rc;

	if (!protect_pw)
		return 0;
	rc = volmap_derive_keys(&k, v->store, protect_pw, protect_len);
	if (rc != 0)
		return rc;
	volmap_side_init(&v->prot, k, mfs_store_header(v->store)->slot_count);
	rc = side_load(v, &v->prot);
	return rc == MFS_E_NOTFOUND ? MFS_E_BADPASS : rc;
}

/* Protects the volume whose master key this volume stores, if it still exists. */
static int attach_stored_protect(struct mfs_volume *v)
{
	struct vol_keys *k = NULL;
	struct mfs_vtxn *t;
	uint64_t len;
	int rc = mfs_vtxn_begin(v, 0, &t);

	if (rc != 0)
		return rc;
	rc = mfs_obj_size(t, PROTECT_NAME, PROTECT_NAME_LEN, &len);
	if (rc == 0 && len != MFS_KEY_BYTES)
		rc = MFS_E_CORRUPT;
	if (rc == 0 && !(k = mfs_secure_alloc(sizeof *k)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = mfs_obj_read(t, PROTECT_NAME, PROTECT_NAME_LEN, 0, k->master, MFS_KEY_BYTES);
	mfs_vtxn_abort(t);
	if (rc == MFS_E_CORRUPT)
		v->protect_lost = 1; /* reads stay possible; writes would land anywhere */
	if (rc != 0) {
		mfs_secure_free(k);
		return rc == MFS_E_NOTFOUND || rc == MFS_E_CORRUPT ? 0 : rc;
	}
	volmap_keys_from_master(k);
	volmap_side_init(&v->prot, k, mfs_store_header(v->store)->slot_count);
	rc = side_load(v, &v->prot);
	/* Gone or damaged: its candidates stay reserved, and whatever of its
	 * state is still readable is refreshed at every write. */
	return rc == MFS_E_NOTFOUND || rc == MFS_E_CORRUPT ? 0 : rc;
}

int mfs_volume_open(struct mfs_volume **out, struct mfs_store *s, const char *pw, size_t pw_len,
		    const char *protect_pw, size_t protect_len)
{
	struct mfs_volume *v = volume_alloc(s);
	struct vol_keys *k;
	int rc;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	rc = volmap_derive_keys(&k, s, pw, pw_len);
	if (rc == 0) {
		volmap_side_init(&v->self, k, mfs_store_header(s)->slot_count);
		rc = side_load(v, &v->self);
		if (rc == MFS_E_NOTFOUND)
			rc = MFS_E_BADPASS;
		if (rc == 0)
			v->redundant = v->self.view->redundant;
	}
	if (rc == 0)
		rc = protect_pw ? attach_protect(v, protect_pw, protect_len) : attach_stored_protect(v);
	if (rc == 0 && v->prot.keys &&
	    mfs_memeq(v->prot.keys->master, v->self.keys->master, MFS_KEY_BYTES))
		rc = MFS_E_FORMAT; /* protecting a volume from itself means nothing */
	/* A store the user may not write to still opens (read-only), and so
	 * does a volume that lost its protect key. */
	if (rc == 0 && ((rc = touch(v, 1)) == -EROFS || rc == MFS_E_OVERWRITTEN))
		rc = 0;
	if (rc != 0) {
		mfs_volume_close(v);
		return rc;
	}
	v->opened = 1;
	*out = v;
	return 0;
}

int mfs_volume_create(struct mfs_store *s, const char *pw, size_t pw_len, const char *protect_pw,
		      size_t protect_len)
{
	struct mfs_volume *v = volume_alloc(s);
	struct vol_keys *k = NULL;
	struct view *empty = NULL;
	struct mfs_vtxn *t;
	uint64_t start;
	int rc;

	if (!v)
		return -ENOMEM;
	rc = volmap_derive_keys(&k, s, pw, pw_len);
	if (rc == 0) {
		volmap_side_init(&v->self, k, mfs_store_header(s)->slot_count);
		rc = side_load(v, &v->self);
		rc = rc == 0 ? MFS_E_EXISTS : rc == MFS_E_NOTFOUND ? 0 : rc;
	}
	if (rc == 0)
		rc = attach_protect(v, protect_pw, protect_len);
	if (rc == 0 && v->prot.keys &&
	    mfs_memeq(v->prot.keys->master, v->self.keys->master, MFS_KEY_BYTES))
		rc = MFS_E_EXISTS;
	/* The first state: nothing in it, a generation that starts anywhere. */
	if (rc == 0 && !(empty = volmap_view_new(1)))
		rc = -ENOMEM;
	if (rc == 0) {
		mfs_random(&start, sizeof start);
		empty->gen = start >> 16;
		empty->sb = (struct mfs_superblock){.bucket_count = 1, .cache_cap = DEFAULT_CACHE_CAP};
		/* A volume made inside another is written over by that one's
		 * sessions that do not know of it: it keeps parity. */
		empty->redundant = v->redundant = v->prot.keys != NULL;
		empty->copies = volmap_copies_for(empty->redundant, 1, mfs_store_header(s)->slot_count);
		side_install(v, &v->self, empty);
		v->creating = 1;
	}
	/* Creating a hidden volume is a session of the outer one: it opens... */
	if (rc == 0 && v->prot.keys)
		rc = touch(v, 0);
	if (rc == 0)
		rc = mfs_vtxn_begin(v, 1, &t);
	if (rc == 0) {
		unsigned usable = 0;

		for (unsigned j = 0; j < v->self.ncand; j++)
			usable += v->cand_usable[j];
		if (usable < MIN_USABLE) {
			mfs_vtxn_abort(t);
			rc = MFS_E_FULL; /* the outer volume's data fills our places */
		}
	}
	if (rc == 0) {
		mfs_vtxn_sb_dirty(t);
		if (v->prot.keys)
			rc = mfs_obj_write(t, PROTECT_NAME, PROTECT_NAME_LEN, v->prot.keys->master,
					   MFS_KEY_BYTES);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	v->creating = 0;
	/* ...and closes. */
	if (rc == 0 && v->prot.keys)
		rc = touch(v, 0);
	mfs_volume_close(v);
	return rc;
}

int mfs_volume_refresh(struct mfs_volume *v, uint64_t *generation)
{
	struct view *cur = side_view(v, &v->self);
	int rc = 0;

	if (view_moved(v, cur))
		rc = side_load(v, &v->self);
	volmap_view_unref(cur);
	if (rc != 0)
		return rc == MFS_E_NOTFOUND ? MFS_E_CORRUPT : rc;
	cur = side_view(v, &v->self);
	*generation = cur->gen;
	volmap_view_unref(cur);
	return 0;
}

int mfs_volume_stats(struct mfs_volume *v, struct mfs_volume_stats *out)
{
	struct mfs_vtxn *t;
	/* The free map needs the writer's view (nothing is written: even a
	 * volume whose writes are refused counts). */
	int rc = write_start(v, &t);

	if (rc != 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->slot_count = mfs_store_header(v->store)->slot_count;
	out->sb = t->view->sb;
	out->sb.used_slots = used_by(&v->self, t->view);
	out->used_slots = out->sb.used_slots;
	out->protected_slots = v->prot.keys ? used_by(&v->prot, v->prot.view) : 0;
	out->free_slots = mfs_vtxn_free_slots(t);
	out->redundant = v->redundant;
	out->writes_refused = v->protect_lost ? MFS_E_OVERWRITTEN : 0;
	mfs_vtxn_abort(t);
	return 0;
}

struct mfs_store *mfs_volume_store(struct mfs_volume *v)
{
	return v->store;
}

void mfs_volume_subkey(struct mfs_volume *v, uint8_t out[static 32], uint64_t id,
		       const char ctx[static 8])
{
	mfs_kdf_subkey(out, id, ctx, v->self.keys->master);
}
