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

#define TAG_BYTES 16
#define HEAD_BYTES (TAG_BYTES + MFS_AEAD_NONCE_BYTES)
#define LEN_BYTES 8
#define SB_NAME "\0sb"
#define SB_NAME_LEN 3
/* A hidden volume keeps the master key of the volume it was made inside, so
 * that it never takes that volume's slots even when opened alone. */
#define PROTECT_NAME "\0protect"
#define PROTECT_NAME_LEN 8
#define SB_MAGIC 0x5653464du /* "MFSV" */
#define SB_VERSION 1u
#define SB_BYTES 64
#define DEFAULT_CACHE_CAP (UINT64_C(1) << 30)

/* One volume's keys, in guarded memory. */
struct vol_keys {
	uint8_t master[MFS_KEY_BYTES];
	uint8_t naming[MFS_KEY_BYTES];
	uint8_t tag[MFS_KEY_BYTES];
	uint8_t seal[MFS_KEY_BYTES];
};

struct mfs_volume {
	struct mfs_store *store;
	struct vol_keys *keys;
	struct vol_keys *protect;        /* NULL when no volume is protected */
	pthread_mutex_t write_lock;      /* one write transaction at a time */
	pthread_mutex_t sb_lock;
	struct mfs_superblock sb;        /* protected by sb_lock */
};

struct mfs_vtxn {
	struct mfs_volume *vol;
	struct mfs_store_txn *st;
	int write;
	int sb_loaded;                   /* read transactions load it on demand */
	int sb_dirty;
	uint64_t protected_used;
	struct mfs_superblock sb;
	uint8_t *scratch;                /* one slot payload, guarded memory */
};

static void keys_from_master(struct vol_keys *k)
{
	mfs_kdf_subkey(k->naming, 1, "mfs-vol_", k->master);
	mfs_kdf_subkey(k->tag, 2, "mfs-vol_", k->master);
	mfs_kdf_subkey(k->seal, 3, "mfs-vol_", k->master);
}

static int derive_keys(struct vol_keys **out, struct mfs_store *s, const char *pw, size_t pw_len)
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
	keys_from_master(k);
	*out = k;
	return 0;
}

static void slot_key(uint8_t key[static MFS_SLOT_KEY_BYTES], const struct vol_keys *k,
		     const void *name, size_t name_len, uint32_t index)
{
	uint8_t idx[4];

	mfs_le_put(idx, index, 4);
	mfs_keyed_hash(key, MFS_SLOT_KEY_BYTES, k->naming, name, name_len, idx, sizeof idx);
}

static void owner_tag(uint8_t tag[static TAG_BYTES], const struct vol_keys *k,
		      const uint8_t key[static MFS_SLOT_KEY_BYTES])
{
	mfs_keyed_hash(tag, TAG_BYTES, k->tag, key, MFS_SLOT_KEY_BYTES, NULL, 0);
}

static int tagged_by(const struct vol_keys *k, const uint8_t *key, const uint8_t *value)
{
	uint8_t tag[TAG_BYTES];

	owner_tag(tag, k, key);
	return mfs_memeq(tag, value, TAG_BYTES);
}

static int owned_cb(void *ctx, const uint8_t key[static MFS_SLOT_KEY_BYTES], const uint8_t *value)
{
	const struct mfs_volume *v = ctx;

	return tagged_by(v->keys, key, value) || (v->protect && tagged_by(v->protect, key, value));
}

/* Seals a payload (MFS_SLOT_PAYLOAD bytes, built in guarded memory) into a
 * slot value. The plaintext never enters the mapped file: its pages could be
 * written back to disk at any moment. */
static void seal_slot(uint8_t *value, const uint8_t *payload, const struct vol_keys *k,
		      const uint8_t key[static MFS_SLOT_KEY_BYTES])
{
	owner_tag(value, k, key);
	mfs_random(value + TAG_BYTES, MFS_AEAD_NONCE_BYTES);
	mfs_aead_seal(value + HEAD_BYTES, payload, MFS_SLOT_PAYLOAD, key, MFS_SLOT_KEY_BYTES,
		      value + TAG_BYTES, k->seal);
}

/* Opens the slot at key into out. NOTFOUND when the record is absent or
 * not this volume's; CORRUPT when it is ours but fails authentication. */
static int open_slot(struct mfs_store_txn *st, const struct vol_keys *k,
		     const uint8_t key[static MFS_SLOT_KEY_BYTES], uint8_t *out)
{
	const uint8_t *value;
	int rc = mfs_store_slot_get(st, key, &value);

	if (rc != 0)
		return rc;
	if (!tagged_by(k, key, value))
		return MFS_E_NOTFOUND;
	rc = mfs_aead_open(out, value + HEAD_BYTES, MFS_SLOT_PAYLOAD, key, MFS_SLOT_KEY_BYTES,
			   value + TAG_BYTES, k->seal);
	mfs_store_slot_done(st, value);
	return rc == 0 ? 0 : MFS_E_CORRUPT;
}

uint64_t mfs_obj_slots_for(uint64_t len)
{
	const uint64_t first = MFS_SLOT_PAYLOAD - LEN_BYTES;

	return len <= first ? 1 : 1 + (len - first + MFS_SLOT_PAYLOAD - 1) / MFS_SLOT_PAYLOAD;
}

static void sb_encode(uint8_t out[static SB_BYTES], const struct mfs_superblock *sb)
{
	memset(out, 0, SB_BYTES);
	mfs_le_put(out, SB_MAGIC, 4);
	mfs_le_put(out + 4, SB_VERSION, 4);
	mfs_le_put(out + 8, sb->used_slots, 8);
	mfs_le_put(out + 16, sb->blob_count, 8);
	mfs_le_put(out + 24, sb->blob_bytes, 8);
	mfs_le_put(out + 32, sb->pinned_bytes, 8);
	mfs_le_put(out + 40, sb->cache_cap, 8);
	mfs_le_put(out + 48, sb->tick, 8);
	mfs_le_put(out + 56, sb->bucket_count, 4);
}

static int sb_decode(struct mfs_superblock *sb, const uint8_t *in, uint64_t len)
{
	if (len != SB_BYTES || mfs_le_get(in, 4) != SB_MAGIC || mfs_le_get(in + 4, 4) != SB_VERSION)
		return MFS_E_CORRUPT;
	sb->used_slots = mfs_le_get(in + 8, 8);
	sb->blob_count = mfs_le_get(in + 16, 8);
	sb->blob_bytes = mfs_le_get(in + 24, 8);
	sb->pinned_bytes = mfs_le_get(in + 32, 8);
	sb->cache_cap = mfs_le_get(in + 40, 8);
	sb->tick = mfs_le_get(in + 48, 8);
	sb->bucket_count = (uint32_t)mfs_le_get(in + 56, 4);
	if (sb->used_slots == 0 || sb->bucket_count == 0 ||
	    (sb->bucket_count & (sb->bucket_count - 1)) != 0)
		return MFS_E_CORRUPT;
	return 0;
}

/* Reads a volume's superblock with the given keys; scratch holds a payload. */
static int read_sb(struct mfs_store_txn *st, const struct vol_keys *k, uint8_t *scratch,
		   struct mfs_superblock *sb)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];
	int rc;

	slot_key(key, k, SB_NAME, SB_NAME_LEN, 0);
	rc = open_slot(st, k, key, scratch);
	if (rc != 0)
		return rc;
	return sb_decode(sb, scratch + LEN_BYTES, mfs_le_get(scratch, LEN_BYTES));
}

/* Takes the protected volume's view into account (its used slot count). */
static int read_protected_used(struct mfs_vtxn *t)
{
	struct mfs_superblock psb;
	int rc;

	t->protected_used = 0;
	if (!t->vol->protect)
		return 0;
	rc = read_sb(t->st, t->vol->protect, t->scratch, &psb);
	if (rc == 0)
		t->protected_used = psb.used_slots;
	/* A damaged protected superblock costs only the count: its slots stay
	 * recognisable by their tags and are still never taken. */
	return rc == MFS_E_CORRUPT ? 0 : rc;
}

/* Each thread keeps one guarded scratch buffer between transactions: a
 * guarded allocation per transaction costs mmap, mprotect and TLB flushes on
 * every read. Wiped when given back; freed when the thread ends. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p)
{
	mfs_secure_free(p);
}

static void scratch_key_make(void)
{
	pthread_key_create(&scratch_key, scratch_destroy);
}

static uint8_t *scratch_take(void)
{
	uint8_t *p;

	pthread_once(&scratch_once, scratch_key_make);
	p = pthread_getspecific(scratch_key);
	if (p) {
		pthread_setspecific(scratch_key, NULL);
		return p;
	}
	return mfs_secure_alloc(MFS_SLOT_PAYLOAD);
}

static void scratch_give(uint8_t *p)
{
	if (!p)
		return;
	mfs_memzero(p, MFS_SLOT_PAYLOAD);
	if (pthread_getspecific(scratch_key) || pthread_setspecific(scratch_key, p) != 0)
		mfs_secure_free(p); /* a nested transaction's: one is kept */
}

static int vtxn_start(struct mfs_volume *v, int write, struct mfs_vtxn **out)
{
	struct mfs_vtxn *t = calloc(1, sizeof *t);
	int rc;

	if (!t)
		return -ENOMEM;
	t->vol = v;
	t->write = write;
	t->scratch = scratch_take();
	if (!t->scratch) {
		free(t);
		return -ENOMEM;
	}
	if (write)
		pthread_mutex_lock(&v->write_lock);
	rc = mfs_store_txn_begin(v->store, write, &t->st);
	if (rc != 0) {
		if (write)
			pthread_mutex_unlock(&v->write_lock);
		scratch_give(t->scratch);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void vtxn_end(struct mfs_vtxn *t)
{
	if (t->write)
		pthread_mutex_unlock(&t->vol->write_lock);
	scratch_give(t->scratch);
	free(t);
}

int mfs_vtxn_begin(struct mfs_volume *v, int write, struct mfs_vtxn **out)
{
	struct mfs_vtxn *t;
	int rc = vtxn_start(v, write, &t);

	if (rc != 0)
		return rc;
	/* Another process may have written since: the store's superblock rules.
	 * A read transaction loads it only if asked (mfs_vtxn_sb): reading a
	 * blob does not need it. */
	if (write) {
		rc = read_sb(t->st, v->keys, t->scratch, &t->sb);
		if (rc == MFS_E_NOTFOUND)
			rc = MFS_E_CORRUPT; /* it was there when the volume opened */
		if (rc == 0)
			rc = read_protected_used(t);
		t->sb_loaded = 1;
	}
	if (rc != 0) {
		mfs_store_txn_abort(t->st);
		vtxn_end(t);
		return rc;
	}
	*out = t;
	return 0;
}

struct mfs_superblock *mfs_vtxn_sb(struct mfs_vtxn *t)
{
	if (!t->sb_loaded) {
		/* Best effort: if it cannot be read now, this process's last view. */
		if (read_sb(t->st, t->vol->keys, t->scratch, &t->sb) != 0) {
			pthread_mutex_lock(&t->vol->sb_lock);
			t->sb = t->vol->sb;
			pthread_mutex_unlock(&t->vol->sb_lock);
		}
		t->sb_loaded = 1;
	}
	return &t->sb;
}

void mfs_vtxn_sb_dirty(struct mfs_vtxn *t)
{
	t->sb_dirty = 1;
}

uint64_t mfs_vtxn_free_slots(struct mfs_vtxn *t)
{
	uint64_t total = mfs_store_header(t->vol->store)->slot_count;
	uint64_t used = t->sb.used_slots + t->protected_used;

	return used >= total ? 0 : total - used;
}

void mfs_obj_slot_key(struct mfs_vtxn *t, uint8_t key[static MFS_SLOT_KEY_BYTES], const void *name,
		      size_t name_len, uint32_t index)
{
	slot_key(key, t->vol->keys, name, name_len, index);
}

int mfs_obj_size(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t *len)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];
	int rc;

	if (name_len == 0 || name_len > MFS_OBJ_NAME_MAX)
		return MFS_E_FORMAT;
	slot_key(key, t->vol->keys, name, name_len, 0);
	rc = open_slot(t->st, t->vol->keys, key, t->scratch);
	if (rc == 0)
		*len = mfs_le_get(t->scratch, LEN_BYTES);
	return rc;
}

static uint32_t slot_of(uint64_t off)
{
	const uint64_t first = MFS_SLOT_PAYLOAD - LEN_BYTES;

	return off < first ? 0 : (uint32_t)(1 + (off - first) / MFS_SLOT_PAYLOAD);
}

/* Starts reading every slot of [off, off+len) from disk at once, so a cold
 * read costs one wait, not one per slot (or per page). */
static void prefetch_range(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t off,
			   size_t len)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];

	if (len == 0)
		return;
	for (uint32_t i = slot_of(off) + (slot_of(off) == 0); i <= slot_of(off + len - 1); i++) {
		slot_key(key, t->vol->keys, name, name_len, i);
		mfs_store_slot_prefetch(t->st, key);
	}
}

/* Copies [off, off+len) of an object of total bytes; slot 0 must already be
 * open in scratch when the range starts in it. */
static int read_range(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total,
		      uint64_t off, uint8_t *dst, size_t len)
{
	const uint64_t first = MFS_SLOT_PAYLOAD - LEN_BYTES;
	uint8_t key[MFS_SLOT_KEY_BYTES];
	int rc;

	if (off > total || len > total - off)
		return MFS_E_FORMAT;
	prefetch_range(t, name, name_len, off, len);
	while (len > 0) {
		/* Byte off of the object sits in slot idx at payload offset at. */
		uint32_t idx = slot_of(off);
		size_t at = off < first ? (size_t)(LEN_BYTES + off)
					: (size_t)((off - first) % MFS_SLOT_PAYLOAD);
		size_t n = MFS_SLOT_PAYLOAD - at < len ? MFS_SLOT_PAYLOAD - at : len;

		if (idx != 0) {
			slot_key(key, t->vol->keys, name, name_len, idx);
			rc = open_slot(t->st, t->vol->keys, key, t->scratch);
			/* Missing: damage when the object exists (its length says it
			 * reaches here), else simply absent (mfs_obj_read_known does
			 * not look at slot 0 for a range past it). */
			if (rc == MFS_E_NOTFOUND) {
				uint64_t stored;
				rc = mfs_obj_size(t, name, name_len, &stored);
				if (rc == 0)
					rc = MFS_E_CORRUPT;
			}
			if (rc != 0)
				return rc;
		}
		memcpy(dst, t->scratch + at, n);
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

int mfs_obj_read(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t off, void *buf,
		 size_t len)
{
	uint64_t total;
	int rc = mfs_obj_size(t, name, name_len, &total); /* opens slot 0 into scratch */

	return rc != 0 ? rc : read_range(t, name, name_len, total, off, buf, len);
}

int mfs_obj_get(struct mfs_vtxn *t, const void *name, size_t name_len, uint8_t **data,
		uint64_t *len)
{
	uint64_t total;
	uint8_t *buf;
	int rc = mfs_obj_size(t, name, name_len, &total); /* opens slot 0 into scratch */

	if (rc != 0)
		return rc;
	if (total > SIZE_MAX - 1 || !(buf = malloc(total ? (size_t)total : 1)))
		return -ENOMEM;
	rc = read_range(t, name, name_len, total, 0, buf, (size_t)total);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = total;
	return 0;
}

int mfs_obj_read_known(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t total,
		       uint64_t off, void *buf, size_t len)
{
	uint64_t stored;

	if (name_len == 0 || name_len > MFS_OBJ_NAME_MAX)
		return MFS_E_FORMAT;
	if (len > 0 && slot_of(off) == 0) {
		int rc = mfs_obj_size(t, name, name_len, &stored);

		if (rc != 0)
			return rc;
		if (stored != total)
			return MFS_E_CORRUPT;
	}
	return read_range(t, name, name_len, total, off, buf, len);
}

/* Builds slot idx's payload of an object (data, len bytes) in payload. */
static void fill_payload(uint8_t *payload, uint32_t idx, const uint8_t *data, uint64_t len)
{
	const uint64_t first = MFS_SLOT_PAYLOAD - LEN_BYTES;
	uint64_t from, n;
	uint8_t *dst = payload;
	size_t room = MFS_SLOT_PAYLOAD;

	if (idx == 0) {
		mfs_le_put(dst, len, LEN_BYTES);
		dst += LEN_BYTES;
		room -= LEN_BYTES;
		from = 0;
	} else {
		from = first + (uint64_t)(idx - 1) * MFS_SLOT_PAYLOAD;
	}
	n = len > from ? len - from : 0;
	if (n > room)
		n = room;
	memcpy(dst, data + from, (size_t)n);
	memset(dst + n, 0, room - (size_t)n);
}

static int take_slot(struct mfs_vtxn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
		     uint8_t **value)
{
	int rc;

	if (mfs_vtxn_free_slots(t) == 0)
		return MFS_E_FULL;
	rc = mfs_store_slot_insert(t->st, key, value);
	if (rc == MFS_E_EXISTS)
		rc = MFS_E_CORRUPT; /* a 2^-128 collision, or a damaged store */
	return rc;
}

/* Gives back slots [from, to) of an object. */
static int release_slots(struct mfs_vtxn *t, const void *name, size_t name_len, uint64_t from,
			 uint64_t to)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];

	for (uint64_t i = from; i < to; i++) {
		int rc;

		slot_key(key, t->vol->keys, name, name_len, (uint32_t)i);
		rc = mfs_store_slot_release(t->st, key);
		if (rc != 0)
			return rc;
		t->sb.used_slots--;
		t->sb_dirty = 1;
	}
	return 0;
}

int mfs_obj_write(struct mfs_vtxn *t, const void *name, size_t name_len, const void *data,
		  size_t len)
{
	const struct vol_keys *k = t->vol->keys;
	uint8_t key[MFS_SLOT_KEY_BYTES];
	uint64_t old_len = 0, old_n = 0, new_n = mfs_obj_slots_for(len);
	int rc;

	if (!t->write)
		return -EROFS;
	rc = mfs_obj_size(t, name, name_len, &old_len);
	if (rc == 0)
		old_n = mfs_obj_slots_for(old_len);
	else if (rc != MFS_E_NOTFOUND)
		return rc;
	if (new_n > old_n && new_n - old_n > mfs_vtxn_free_slots(t))
		return MFS_E_FULL;
	for (uint32_t i = 0; i < new_n; i++) {
		uint8_t *value;

		slot_key(key, k, name, name_len, i);
		rc = i < old_n ? mfs_store_slot_rewrite(t->st, key, &value) : take_slot(t, key, &value);
		if (rc != 0)
			return rc;
		fill_payload(t->scratch, i, data, len);
		seal_slot(value, t->scratch, k, key);
		if (i >= old_n) {
			rc = mfs_store_slot_drop_free(t->st, owned_cb, t->vol);
			if (rc != 0)
				return rc;
			t->sb.used_slots++;
			t->sb_dirty = 1;
		}
	}
	return release_slots(t, name, name_len, new_n, old_n);
}

void mfs_obj_seal(struct mfs_volume *v, uint8_t *sealed, uint8_t *scratch, const void *name,
		  size_t name_len, const void *data, size_t len)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];

	for (uint32_t i = 0; i < mfs_obj_slots_for(len); i++) {
		slot_key(key, v->keys, name, name_len, i);
		fill_payload(scratch, i, data, len);
		seal_slot(sealed + (size_t)i * MFS_SLOT_BYTES, scratch, v->keys, key);
	}
	mfs_memzero(scratch, MFS_SLOT_PAYLOAD);
}

int mfs_obj_insert_sealed(struct mfs_vtxn *t, const void *name, size_t name_len,
			  const uint8_t *sealed, uint64_t len)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];
	uint64_t n = mfs_obj_slots_for(len), old_len;
	int rc;

	if (!t->write)
		return -EROFS;
	rc = mfs_obj_size(t, name, name_len, &old_len);
	if (rc == 0)
		return MFS_E_EXISTS;
	if (rc != MFS_E_NOTFOUND)
		return rc;
	if (n > mfs_vtxn_free_slots(t))
		return MFS_E_FULL;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *value;

		slot_key(key, t->vol->keys, name, name_len, i);
		rc = take_slot(t, key, &value);
		if (rc != 0)
			return rc;
		memcpy(value, sealed + (size_t)i * MFS_SLOT_BYTES, MFS_SLOT_BYTES);
		rc = mfs_store_slot_drop_free(t->st, owned_cb, t->vol);
		if (rc != 0)
			return rc;
		t->sb.used_slots++;
		t->sb_dirty = 1;
	}
	return 0;
}

int mfs_obj_delete(struct mfs_vtxn *t, const void *name, size_t name_len)
{
	uint64_t len;
	int rc;

	if (!t->write)
		return -EROFS;
	rc = mfs_obj_size(t, name, name_len, &len);
	if (rc != 0)
		return rc;
	return release_slots(t, name, name_len, 0, mfs_obj_slots_for(len));
}

static int write_sb(struct mfs_vtxn *t)
{
	uint8_t bytes[SB_BYTES];

	sb_encode(bytes, &t->sb);
	return mfs_obj_write(t, SB_NAME, SB_NAME_LEN, bytes, sizeof bytes);
}

int mfs_vtxn_commit(struct mfs_vtxn *t)
{
	struct mfs_volume *v = t->vol;
	int rc = 0;

	if (t->write && t->sb_dirty)
		rc = write_sb(t);
	if (rc == 0) {
		rc = mfs_store_txn_commit(t->st);
	} else {
		mfs_store_txn_abort(t->st);
	}
	if (rc == 0 && t->write) {
		pthread_mutex_lock(&v->sb_lock);
		v->sb = t->sb;
		pthread_mutex_unlock(&v->sb_lock);
	}
	vtxn_end(t);
	return rc;
}

void mfs_vtxn_abort(struct mfs_vtxn *t)
{
	if (!t)
		return;
	mfs_store_txn_abort(t->st);
	vtxn_end(t);
}

static struct mfs_volume *volume_alloc(struct mfs_store *s)
{
	struct mfs_volume *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->store = s;
	pthread_mutex_init(&v->write_lock, NULL);
	pthread_mutex_init(&v->sb_lock, NULL);
	return v;
}

void mfs_volume_close(struct mfs_volume *v)
{
	if (!v)
		return;
	mfs_secure_free(v->keys);
	mfs_secure_free(v->protect);
	pthread_mutex_destroy(&v->write_lock);
	pthread_mutex_destroy(&v->sb_lock);
	free(v);
}

/* Does a volume with keys k exist? 0 yes, MFS_E_BADPASS no, or an error. */
static int probe(struct mfs_volume *v, const struct vol_keys *k, struct mfs_superblock *sb)
{
	struct mfs_vtxn *t;
	int rc = vtxn_start(v, 0, &t);

	if (rc != 0)
		return rc;
	rc = read_sb(t->st, k, t->scratch, sb);
	if (rc == MFS_E_NOTFOUND)
		rc = MFS_E_BADPASS;
	mfs_store_txn_abort(t->st);
	vtxn_end(t);
	return rc;
}

static int attach_protect(struct mfs_volume *v, const char *protect_pw, size_t protect_len)
{
	struct mfs_superblock psb;
	int rc;

	if (!protect_pw)
		return 0;
	rc = derive_keys(&v->protect, v->store, protect_pw, protect_len);
	if (rc == 0)
		rc = probe(v, v->protect, &psb);
	return rc;
}

/* Protects the volume whose master key this volume stores, if it still exists. */
static int attach_stored_protect(struct mfs_volume *v)
{
	struct mfs_superblock psb;
	struct mfs_vtxn *t;
	uint64_t len;
	int rc = mfs_vtxn_begin(v, 0, &t);

	if (rc != 0)
		return rc;
	rc = mfs_obj_size(t, PROTECT_NAME, PROTECT_NAME_LEN, &len);
	if (rc == 0 && len != MFS_KEY_BYTES)
		rc = MFS_E_CORRUPT;
	if (rc == 0 && !(v->protect = mfs_secure_alloc(sizeof *v->protect)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = mfs_obj_read(t, PROTECT_NAME, PROTECT_NAME_LEN, 0, v->protect->master,
				  MFS_KEY_BYTES);
	mfs_vtxn_abort(t);
	if (rc == MFS_E_NOTFOUND)
		return 0;
	if (rc == 0) {
		keys_from_master(v->protect);
		rc = probe(v, v->protect, &psb);
	}
	if (rc == MFS_E_CORRUPT)
		rc = 0; /* damaged, not gone: keep protecting what is left of it */
	if (rc == MFS_E_BADPASS) {
		/* That volume is gone: nothing left to protect. */
		mfs_secure_free(v->protect);
		v->protect = NULL;
		rc = 0;
	}
	return rc;
}

int mfs_volume_open(struct mfs_volume **out, struct mfs_store *s, const char *pw, size_t pw_len,
		    const char *protect_pw, size_t protect_len)
{
	struct mfs_volume *v = volume_alloc(s);
	int rc;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	rc = derive_keys(&v->keys, s, pw, pw_len);
	if (rc == 0)
		rc = probe(v, v->keys, &v->sb);
	if (rc == 0)
		rc = protect_pw ? attach_protect(v, protect_pw, protect_len) : attach_stored_protect(v);
	if (rc == 0 && v->protect && mfs_memeq(v->protect->master, v->keys->master, MFS_KEY_BYTES))
		rc = MFS_E_FORMAT; /* protecting a volume from itself means nothing */
	if (rc != 0) {
		mfs_volume_close(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Writes a new volume's superblock into a slot it takes. */
static int create_sb(struct mfs_vtxn *t)
{
	const struct vol_keys *k = t->vol->keys;
	uint8_t key[MFS_SLOT_KEY_BYTES], bytes[SB_BYTES];
	uint8_t *value;
	int rc;

	t->sb = (struct mfs_superblock){.used_slots = 1, .bucket_count = 1,
					.cache_cap = DEFAULT_CACHE_CAP};
	sb_encode(bytes, &t->sb);
	slot_key(key, k, SB_NAME, SB_NAME_LEN, 0);
	rc = take_slot(t, key, &value);
	if (rc != 0)
		return rc;
	fill_payload(t->scratch, 0, bytes, sizeof bytes);
	seal_slot(value, t->scratch, k, key);
	return mfs_store_slot_drop_free(t->st, owned_cb, t->vol);
}

int mfs_volume_create(struct mfs_store *s, const char *pw, size_t pw_len, const char *protect_pw,
		      size_t protect_len)
{
	struct mfs_volume *v = volume_alloc(s);
	struct mfs_superblock sb;
	struct mfs_vtxn *t = NULL;
	int rc;

	if (!v)
		return -ENOMEM;
	rc = derive_keys(&v->keys, s, pw, pw_len);
	if (rc == 0) {
		rc = probe(v, v->keys, &sb);
		rc = rc == 0 ? MFS_E_EXISTS : rc == MFS_E_BADPASS ? 0 : rc;
	}
	if (rc == 0)
		rc = attach_protect(v, protect_pw, protect_len);
	if (rc == 0)
		rc = vtxn_start(v, 1, &t);
	if (rc == 0) {
		rc = read_protected_used(t);
		if (rc == 0)
			rc = create_sb(t);
		if (rc == 0 && v->protect)
			rc = mfs_obj_write(t, PROTECT_NAME, PROTECT_NAME_LEN, v->protect->master,
					   MFS_KEY_BYTES);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	mfs_volume_close(v);
	return rc;
}

int mfs_volume_stats(struct mfs_volume *v, struct mfs_volume_stats *out)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 0, &t);

	if (rc != 0)
		return rc;
	rc = read_protected_used(t);
	if (rc == 0) {
		memset(out, 0, sizeof *out);
		out->slot_count = mfs_store_header(v->store)->slot_count;
		out->sb = *mfs_vtxn_sb(t);
		out->used_slots = t->sb.used_slots;
		out->protected_slots = t->protected_used;
		out->free_slots = mfs_vtxn_free_slots(t);
	}
	mfs_vtxn_abort(t);
	return rc;
}

struct mfs_store *mfs_volume_store(struct mfs_volume *v)
{
	return v->store;
}

void mfs_volume_subkey(struct mfs_volume *v, uint8_t out[static 32], uint64_t id,
		       const char ctx[static 8])
{
	mfs_kdf_subkey(out, id, ctx, v->keys->master);
}
