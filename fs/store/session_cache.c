#include "fs/store/session_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/store.h"

#define RECORD_KEY_BYTES 16
#define VALUE_OVERHEAD (MFS_AEAD_NONCE_BYTES + MFS_AEAD_TAG_BYTES)
#define NAME_PREFIX "session-"
#define NAME_PREFIX_LEN 8
#define NAME_HEX 16
#define NAME_SUFFIX ".mdb"
#define LOCK_SUFFIX "-lock"
#define NAME_LEN (NAME_PREFIX_LEN + NAME_HEX + 4) /* "session-<16 hex>.mdb" */
#define OPEN_TRIES 16
#define MAP_SLACK (UINT64_C(64) << 20)
#define MAP_ROUND (UINT64_C(1) << 20)
#define CAP_MAX (UINT64_C(1) << 48)
#define MIN_BUCKETS 64
#define KDF_CTX "mfs-sess"

/* The cache's keys, in guarded memory; the master they come from is random
 * and wiped once they are derived. */
struct session_keys {
	uint8_t prf[MFS_KEY_BYTES];     /* record key = keyed hash of the blob id */
	uint8_t seal[MFS_KEY_BYTES];    /* XChaCha20-Poly1305 of the values */
};

struct entry {
	uint8_t key[RECORD_KEY_BYTES];
	uint64_t size;                  /* blob bytes (the value holds 40 more) */
	struct entry *chain;            /* next in its hash bucket */
	struct entry *newer, *older;    /* LRU list */
};

struct mfs_session_cache {
	MDB_env *env;
	MDB_dbi dbi;
	int lock_fd;                    /* holds the flock that keeps sweeps away */
	uint64_t cap;
	struct session_keys *keys;
	char path[PATH_MAX];
	char lock_path[PATH_MAX];       /* path + "-lock", LMDB's lock file */
	/* Serialises every change of membership (put, eviction, drop) so that
	 * the index always matches what is committed. Taken before index_lock. */
	pthread_mutex_t write_lock;
	/* Guards the index and the LRU order; held only briefly. */
	pthread_mutex_t index_lock;
	struct entry **buckets;         /* protected by index_lock */
	size_t bucket_count;            /* power of two; protected by index_lock */
	size_t count;                   /* protected by index_lock */
	uint64_t bytes;                 /* protected by index_lock */
	struct entry *newest, *oldest;  /* protected by index_lock */
};

/* The index: a chained hash table over record keys (already pseudo-random,
 * so their first bytes are the hash) and a doubly linked LRU list. */

static size_t bucket_of(const uint8_t key[static RECORD_KEY_BYTES], size_t bucket_count)
{
	return (size_t)mfs_le_get(key, 8) & (bucket_count - 1);
}

static struct entry *index_find(struct mfs_session_cache *c,
				const uint8_t key[static RECORD_KEY_BYTES])
{
	struct entry *e = c->buckets[bucket_of(key, c->bucket_count)];

	while (e && memcmp(e->key, key, RECORD_KEY_BYTES) != 0)
		e = e->chain;
	return e;
}

static void lru_unlink(struct mfs_session_cache *c, struct entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct mfs_session_cache *c, struct entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void lru_touch(struct mfs_session_cache *c, struct entry *e)
{
	if (c->newest == e)
		return;
	lru_unlink(c, e);
	lru_push_newest(c, e);
}

/* Doubles the table. On failure the chains just grow longer. */
static void index_grow(struct mfs_session_cache *c)
{
	struct entry **nb;
	size_t n;

	if (c->bucket_count > SIZE_MAX / 2 / sizeof *nb)
		return;
	n = c->bucket_count * 2;
	nb = calloc(n, sizeof *nb);
	if (!nb)
		return;
	for (size_t i = 0; i < c->bucket_count; i++) {
		struct entry *e = c->buckets[i];

		while (e) {
			struct entry *next = e->chain;
			size_t b = bucket_of(e->key, n);

			e->chain = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->bucket_count = n;
}

/* Adds e; cannot fail, so that the index follows every commit. */
static void index_add(struct mfs_session_cache *c, struct entry *e)
{
	size_t b;

	if (c->count >= c->bucket_count)
		index_grow(c);
	b = bucket_of(e->key, c->bucket_count);
	e->chain = c->buckets[b];
	c->buckets[b] = e;
	lru_push_newest(c, e);
	c->count++;
	c->bytes += e->size;
}

/* Unlinks e from the index and frees it. */
static void index_remove(struct mfs_session_cache *c, struct entry *e)
{
	struct entry **p = &c->buckets[bucket_of(e->key, c->bucket_count)];

	while (*p && *p != e)
		p = &(*p)->chain;
	if (*p)
		*p = e->chain;
	lru_unlink(c, e);
	c->count--;
	c->bytes -= e->size;
	free(e);
}

static void index_free(struct mfs_session_cache *c)
{
	struct entry *e = c->oldest;

	while (e) {
		struct entry *next = e->newer;

		free(e);
		e = next;
	}
	free(c->buckets);
	c->buckets = NULL;
	c->oldest = c->newest = NULL;
	c->count = 0;
	c->bytes = 0;
}

static void record_key(uint8_t key[static RECORD_KEY_BYTES], const struct mfs_session_cache *c,
		       const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	mfs_keyed_hash(key, RECORD_KEY_BYTES, c->keys->prf, id, MFS_BLOB_ID_BYTES, NULL, 0);
}

/* Session file names: exactly "session-<16 lower-case hex>.mdb", with
 * lock_suffix the LMDB lock file beside it. */
static int is_session_name(const char *name, int lock_suffix)
{
	size_t len = strlen(name);
	size_t want = NAME_LEN + (lock_suffix ? strlen(LOCK_SUFFIX) : 0);

	if (len != want || memcmp(name, NAME_PREFIX, NAME_PREFIX_LEN) != 0 ||
	    memcmp(name + NAME_PREFIX_LEN + NAME_HEX, NAME_SUFFIX, 4) != 0)
		return 0;
	if (lock_suffix && strcmp(name + NAME_LEN, LOCK_SUFFIX) != 0)
		return 0;
	for (size_t i = NAME_PREFIX_LEN; i < NAME_PREFIX_LEN + NAME_HEX; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* Deletes one session file name (a .mdb) and its lock file when no process
 * holds the session's flock. Returns 1 when deleted, 0 when live or gone,
 * or -errno. */
static int sweep_one(int dfd, const char *name)
{
	char lock_name[NAME_LEN + sizeof LOCK_SUFFIX];
	struct stat fst, pst;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? 0 : -errno;
		goto out;
	}
	/* Holding the lock: only delete the file it locks, not one that took
	 * its name meanwhile. */
	if (fstat(fd, &fst) != 0 || fstatat(dfd, name, &pst, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fst.st_dev != pst.st_dev || fst.st_ino != pst.st_ino)
		goto out;
	snprintf(lock_name, sizeof lock_name, "%s%s", name, LOCK_SUFFIX);
	/* The lock file first: a crash in between leaves a .mdb, which the
	 * next sweep finds. */
	if (unlinkat(dfd, lock_name, 0) != 0 && errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	if (unlinkat(dfd, name, 0) != 0)
		rc = errno == ENOENT ? 0 : -errno;
	else
		rc = 1;
out:
	close(fd);
	return rc;
}

/* A lock file whose .mdb is gone belongs to no cache: a cache creates its
 * .mdb before LMDB makes the lock file, and every deleter removes the lock
 * file first. */
static void sweep_orphan_lock(int dfd, const char *lock_name)
{
	char name[NAME_LEN + 1];
	struct stat st;

	memcpy(name, lock_name, NAME_LEN);
	name[NAME_LEN] = '\0';
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
		unlinkat(dfd, lock_name, 0);
}

int mfs_session_cache_sweep(const char *store_dir)
{
	DIR *d = opendir(store_dir);
	struct dirent *de;
	int deleted = 0, rc = 0;

	if (!d)
		return -errno;
	/* Never open a lock file here: closing any descriptor of it would drop
	 * this process's fcntl locks on it, which LMDB relies on (LMDB takes
	 * none on the .mdb). Counts the caches deleted; orphan lock files go
	 * uncounted. */
	while ((de = readdir(d)) != NULL) {
		if (is_session_name(de->d_name, 0)) {
			int r = sweep_one(dirfd(d), de->d_name);

			if (r > 0)
				deleted++;
			else if (r < 0 && rc == 0)
				rc = r;
		} else if (is_session_name(de->d_name, 1)) {
			sweep_orphan_lock(dirfd(d), de->d_name);
		}
	}
	closedir(d);
	return rc != 0 ? rc : deleted;
}

/* Creates "session-<random>.mdb" in dir and takes its flock. A sweep in
 * another process may take the lock of a file just created and delete it:
 * then try another name. */
static int create_locked(struct mfs_session_cache *c, const char *dir)
{
	for (int tries = 0; tries < OPEN_TRIES; tries++) {
		uint8_t rnd[NAME_HEX / 2];
		char hex[NAME_HEX + 1];
		struct stat fst, pst;
		int n, fd;

		mfs_random(rnd, sizeof rnd);
		mfs_hex_encode(hex, rnd, sizeof rnd);
		n = snprintf(c->path, sizeof c->path, "%s/" NAME_PREFIX "%s" NAME_SUFFIX, dir, hex);
		if (n < 0 || (size_t)n + sizeof LOCK_SUFFIX > sizeof c->path)
			return -ENAMETOOLONG;
		memcpy(c->lock_path, c->path, (size_t)n);
		memcpy(c->lock_path + n, LOCK_SUFFIX, sizeof LOCK_SUFFIX);
		fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int err = errno;

			close(fd);
			if (err == EWOULDBLOCK)
				continue; /* a sweep holds it and deletes it */
			unlink(c->path);
			return -err;
		}
		if (fstat(fd, &fst) == 0 && stat(c->path, &pst) == 0 &&
		    fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino) {
			c->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	return -EEXIST;
}

/* The cap plus room for LMDB's copy-on-write and its tree: values are blob
 * size + 40 bytes, one blob at most the cap. */
static uint64_t map_bytes_for(uint64_t cap)
{
	uint64_t map = cap + cap / 4 + MAP_SLACK;

	return (map + MAP_ROUND - 1) / MAP_ROUND * MAP_ROUND;
}

static int env_open(struct mfs_session_cache *c)
{
	uint64_t map = map_bytes_for(c->cap);
	MDB_txn *txn = NULL;
	int rc;

	if ((uint64_t)(size_t)map != map)
		return -EFBIG;
	rc = mdb_env_create(&c->env);
	if (rc != 0) {
		c->env = NULL;
		return mfs_store_lmdb_error(rc);
	}
	rc = mdb_env_set_mapsize(c->env, (size_t)map);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(c->env, 254);
	/* No MDB_WRITEMAP (see store.h). No syncs: after a crash the file is
	 * undecryptable and swept, so durability buys nothing. */
	if (rc == 0)
		rc = mdb_env_open(c->env, c->path,
				  MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD | MDB_NOSYNC, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, 0, &c->dbi);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	return mfs_store_lmdb_error(rc);
}

static int make_keys(struct mfs_session_cache *c)
{
	uint8_t *master = mfs_secure_alloc(MFS_KEY_BYTES);

	c->keys = mfs_secure_alloc(sizeof *c->keys);
	if (!master || !c->keys) {
		mfs_secure_free(master);
		return -ENOMEM;
	}
	mfs_random(master, MFS_KEY_BYTES);
	mfs_kdf_subkey(c->keys->prf, 1, KDF_CTX, master);
	mfs_kdf_subkey(c->keys->seal, 2, KDF_CTX, master);
	mfs_secure_free(master);
	return 0;
}

int mfs_session_cache_open(struct mfs_session_cache **out, const char *store_dir,
			   uint64_t cap_bytes)
{
	struct mfs_session_cache *c;
	int rc;

	*out = NULL;
	if (cap_bytes == 0 || cap_bytes > CAP_MAX)
		return -EINVAL;
	rc = mfs_crypto_init();
	if (rc != 0)
		return rc;
	/* A file this sweep cannot delete is no reason not to make a cache;
	 * a store_dir that is not there fails below. */
	mfs_session_cache_sweep(store_dir);
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->lock_fd = -1;
	c->cap = cap_bytes;
	c->bucket_count = MIN_BUCKETS;
	c->buckets = calloc(c->bucket_count, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->write_lock, NULL);
	pthread_mutex_init(&c->index_lock, NULL);
	rc = make_keys(c);
	if (rc == 0)
		rc = create_locked(c, store_dir);
	if (rc == 0)
		rc = env_open(c);
	if (rc != 0) {
		mfs_session_cache_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void mfs_session_cache_close(struct mfs_session_cache *c)
{
	if (!c)
		return;
	if (c->env)
		mdb_env_close(c->env);
	if (c->lock_fd >= 0) {
		/* The lock file first, as sweeps do; the flock goes last. */
		unlink(c->lock_path);
		unlink(c->path);
		close(c->lock_fd);
	}
	mfs_secure_free(c->keys);
	index_free(c);
	pthread_mutex_destroy(&c->index_lock);
	pthread_mutex_destroy(&c->write_lock);
	free(c);
}

const char *mfs_session_cache_path(const struct mfs_session_cache *c)
{
	return c->path;
}

/* Under write_lock: deletes the records of victims[0..n) and, when e is not
 * NULL, stores blob sealed under e's key, in one transaction; then brings
 * the index up to date (after the commit, so a failure changes nothing).
 * The blob is sealed straight into the space LMDB reserves for the record
 * (MDB_RESERVE): sealing into a buffer of its own first cost a malloc and a
 * copy of every blob, and a streaming mount's workers each held one while
 * they waited for this lock. */
static int commit_change(struct mfs_session_cache *c, struct entry **victims, size_t n,
			 struct entry *e, const uint8_t *blob, size_t blob_len)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(c->env, NULL, 0, &txn);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val k = {RECORD_KEY_BYTES, victims[i]->key};

		rc = mdb_del(txn, c->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc == 0 && e) {
		MDB_val k = {RECORD_KEY_BYTES, e->key}, v = {blob_len + VALUE_OVERHEAD, NULL};

		rc = mdb_put(txn, c->dbi, &k, &v, MDB_RESERVE);
		if (rc == 0) {
			uint8_t *value = v.mv_data;

			mfs_random(value, MFS_AEAD_NONCE_BYTES);
			mfs_aead_seal(value + MFS_AEAD_NONCE_BYTES, blob, blob_len, e->key,
				      RECORD_KEY_BYTES, value, c->keys->seal);
		}
	}
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	pthread_mutex_lock(&c->index_lock);
	for (size_t i = 0; i < n; i++)
		index_remove(c, victims[i]);
	if (e)
		index_add(c, e);
	pthread_mutex_unlock(&c->index_lock);
	return 0;
}

/* Under write_lock: picks the least recently used entries to evict until
 * need more bytes fit under the cap, plus at least min of them; *victims
 * is malloc'ed. Only writers remove entries, so the pointers stay valid
 * while write_lock is held (gets may still reorder them). */
static int pick_victims(struct mfs_session_cache *c, uint64_t need, size_t min,
			struct entry ***victims, size_t *n)
{
	struct entry *e;
	uint64_t bytes;
	size_t count = 0;
	int rc = 0;

	*victims = NULL;
	*n = 0;
	pthread_mutex_lock(&c->index_lock);
	bytes = c->bytes;
	for (e = c->oldest; e && (bytes + need > c->cap || count < min); e = e->newer) {
		bytes -= e->size;
		count++;
	}
	if (count > 0) {
		*victims = malloc(count * sizeof **victims);
		if (!*victims)
			rc = -ENOMEM;
	}
	e = c->oldest;
	for (size_t i = 0; rc == 0 && i < count; i++, e = e->newer)
		(*victims)[i] = e;
	pthread_mutex_unlock(&c->index_lock);
	if (rc == 0)
		*n = count;
	return rc;
}

/* Under write_lock: commits a transaction that changes nothing in the end.
 * LMDB reuses pages freed by a transaction only two commits later. */
static int advance(struct mfs_session_cache *c)
{
	uint8_t key[RECORD_KEY_BYTES];
	MDB_val k = {sizeof key, key}, v = {0, NULL};
	MDB_txn *txn;
	int rc = mdb_txn_begin(c->env, NULL, 0, &txn);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	do {
		mfs_random(key, sizeof key);
		rc = mdb_put(txn, c->dbi, &k, &v, MDB_NOOVERWRITE);
	} while (rc == MDB_KEYEXIST);
	if (rc == 0)
		rc = mdb_del(txn, c->dbi, &k, NULL);
	if (rc == 0)
		return mfs_store_lmdb_error(mdb_txn_commit(txn));
	mdb_txn_abort(txn);
	return mfs_store_lmdb_error(rc);
}

/* Under write_lock: stores e's value, evicting what the cap asks. When the
 * map is full (a large value needs a contiguous run of pages, and LMDB
 * reuses freed pages only two commits later), evicts the oldest entry on
 * its own and tries again; with nothing left to evict, lets the last
 * eviction's pages become reusable once. */
static int store_locked(struct mfs_session_cache *c, struct entry *e, const uint8_t *blob,
			size_t blob_len)
{
	struct entry **victims;
	int advanced = 0;
	size_t n;
	int rc;

	for (;;) {
		rc = pick_victims(c, e->size, 0, &victims, &n);
		if (rc == 0)
			rc = commit_change(c, victims, n, e, blob, blob_len);
		free(victims);
		if (rc != MFS_E_FULL)
			return rc;
		rc = pick_victims(c, 0, 1, &victims, &n);
		if (rc == 0 && n > 0)
			rc = commit_change(c, victims, n, NULL, NULL, 0);
		else if (rc == 0)
			rc = advanced++ ? MFS_E_FULL : advance(c);
		free(victims);
		if (rc != 0)
			return rc;
	}
}

static int index_has(struct mfs_session_cache *c, const uint8_t key[static RECORD_KEY_BYTES])
{
	int found;

	pthread_mutex_lock(&c->index_lock);
	found = index_find(c, key) != NULL;
	pthread_mutex_unlock(&c->index_lock);
	return found;
}

int mfs_session_cache_put(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES],
			  const uint8_t *blob, size_t len)
{
	uint8_t key[RECORD_KEY_BYTES];
	struct entry *e = NULL;
	int rc = 0;

	if (len > c->cap)
		return -EFBIG;
	record_key(key, c, id);
	if (index_has(c, key))
		return 0;
	if (!(e = calloc(1, sizeof *e)))
		return -ENOMEM;
	memcpy(e->key, key, RECORD_KEY_BYTES);
	e->size = len;
	pthread_mutex_lock(&c->write_lock);
	/* Another thread may have stored it meanwhile. */
	if (!index_has(c, key)) {
		rc = store_locked(c, e, blob, len);
		if (rc == 0)
			e = NULL; /* the index owns it */
	}
	pthread_mutex_unlock(&c->write_lock);
	free(e);
	return rc;
}

/* Deletes the record at key (it failed authentication). Should that fail,
 * the next get finds it damaged again. */
static void drop(struct mfs_session_cache *c, const uint8_t key[static RECORD_KEY_BYTES])
{
	struct entry *e;

	pthread_mutex_lock(&c->write_lock);
	pthread_mutex_lock(&c->index_lock);
	e = index_find(c, key);
	pthread_mutex_unlock(&c->index_lock);
	if (e)
		commit_change(c, &e, 1, NULL, NULL, 0);
	pthread_mutex_unlock(&c->write_lock);
}

int mfs_session_cache_get(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES],
			  uint8_t **blob, size_t *len)
{
	uint8_t key[RECORD_KEY_BYTES];
	MDB_val k = {RECORD_KEY_BYTES, key}, v;
	MDB_txn *txn = NULL;
	struct entry *e;
	uint8_t *out = NULL;
	uint64_t size = 0;
	size_t n;
	int rc;

	*blob = NULL;
	*len = 0;
	record_key(key, c, id);
	pthread_mutex_lock(&c->index_lock);
	e = index_find(c, key);
	if (e) {
		lru_touch(c, e);
		size = e->size;
	}
	pthread_mutex_unlock(&c->index_lock);
	if (!e)
		return MFS_E_NOTFOUND;

	rc = mfs_store_lmdb_error(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn));
	if (rc != 0)
		return rc;
	rc = mfs_store_lmdb_error(mdb_get(txn, c->dbi, &k, &v));
	if (rc != 0)
		goto out; /* evicted since the look-up */
	if (v.mv_size < VALUE_OVERHEAD || v.mv_size - VALUE_OVERHEAD != size) {
		rc = MFS_E_CORRUPT;
		goto out;
	}
	n = v.mv_size - VALUE_OVERHEAD;
	out = malloc(n ? n : 1);
	if (!out) {
		rc = -ENOMEM;
		goto out;
	}
	if (mfs_aead_open(out, (const uint8_t *)v.mv_data + MFS_AEAD_NONCE_BYTES, n, key,
			  RECORD_KEY_BYTES, v.mv_data, c->keys->seal) != 0)
		rc = MFS_E_CORRUPT;
out:
	mdb_txn_abort(txn);
	if (rc == MFS_E_CORRUPT)
		drop(c, key);
	if (rc != 0) {
		free(out);
		return rc;
	}
	*blob = out;
	*len = n;
	return 0;
}

int mfs_session_cache_has(struct mfs_session_cache *c, const uint8_t id[static MFS_BLOB_ID_BYTES])
{
	uint8_t key[RECORD_KEY_BYTES];

	record_key(key, c, id);
	return index_has(c, key);
}

uint64_t mfs_session_cache_bytes(struct mfs_session_cache *c)
{
	uint64_t bytes;

	pthread_mutex_lock(&c->index_lock);
	bytes = c->bytes;
	pthread_mutex_unlock(&c->index_lock);
	return bytes;
}
