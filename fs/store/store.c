#include "fs/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define HEADER_BYTES 80
#define HEADER_SUM_BYTES 16
#define STORE_VERSION 1
#define FILL_BATCH 256
#define TRIM_SLOTS 256 /* 16 MiB */

static const char magic[8] = {'M', 'E', 'G', 'A', 'F', 'S', 0, 'S'};

struct mfs_store {
	MDB_env *env;
	MDB_dbi dbi;
	struct mfs_store_header hdr;
	void *map;                     /* LMDB's map of data.mdb, from /proc/self/maps */
	size_t map_len;
	uint64_t read_since_trim;      /* slots read since the last trim (atomic) */
};

struct mfs_store_txn {
	struct mfs_store *store;
	MDB_txn *txn;
	int write;
	MDB_cursor *cursor; /* lazily opened, for drop_free */
};

int mfs_store_lmdb_error(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return MFS_E_NOTFOUND;
	case MDB_KEYEXIST:
		return MFS_E_EXISTS;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return MFS_E_FULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return MFS_E_CORRUPT;
	default:
		return rc > 0 ? -rc : MFS_E_LMDB;
	}
}

static void header_encode(uint8_t out[static HEADER_BYTES], const struct mfs_store_header *h)
{
	uint8_t sum[MFS_BLOB_ID_BYTES];

	memcpy(out, magic, sizeof magic);
	mfs_le_put(out + 8, h->version, 4);
	mfs_le_put(out + 12, h->slot_bytes, 4);
	mfs_le_put(out + 16, h->slot_count, 8);
	mfs_le_put(out + 24, h->map_bytes, 8);
	mfs_le_put(out + 32, h->kdf.ops, 8);
	mfs_le_put(out + 40, h->kdf.mem, 8);
	memcpy(out + 48, h->salt, MFS_KDF_SALT_BYTES);
	mfs_blob_id(sum, out, HEADER_BYTES - HEADER_SUM_BYTES);
	memcpy(out + HEADER_BYTES - HEADER_SUM_BYTES, sum, HEADER_SUM_BYTES);
}

static int header_decode(struct mfs_store_header *h, const uint8_t in[static HEADER_BYTES])
{
	uint8_t sum[MFS_BLOB_ID_BYTES];

	mfs_blob_id(sum, in, HEADER_BYTES - HEADER_SUM_BYTES);
	if (memcmp(in, magic, sizeof magic) != 0 ||
	    memcmp(sum, in + HEADER_BYTES - HEADER_SUM_BYTES, HEADER_SUM_BYTES) != 0)
		return MFS_E_CORRUPT;
	h->version = (uint32_t)mfs_le_get(in + 8, 4);
	h->slot_bytes = (uint32_t)mfs_le_get(in + 12, 4);
	h->slot_count = mfs_le_get(in + 16, 8);
	h->map_bytes = mfs_le_get(in + 24, 8);
	h->kdf.ops = mfs_le_get(in + 32, 8);
	h->kdf.mem = mfs_le_get(in + 40, 8);
	memcpy(h->salt, in + 48, MFS_KDF_SALT_BYTES);
	if (h->version != STORE_VERSION || h->slot_bytes != MFS_SLOT_BYTES || h->slot_count == 0 ||
	    mfs_kdf_limits_check(&h->kdf) != 0)
		return MFS_E_FORMAT;
	return 0;
}

/* LMDB's page: the system's, at most 32 KiB (LMDB's MAX_PAGESIZE). */
static uint64_t lmdb_page(void)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return page > 32768 ? 32768 : page;
}

/* Room for the slots, the B-tree over them, and copy-on-write slack for the
 * largest transaction (writers keep theirs near 12 MiB: two in flight, plus
 * margin) plus an eighth. */
static uint64_t map_bytes_for(uint64_t slot_count)
{
	const uint64_t page = lmdb_page();
	const uint64_t per_slot = (MFS_SLOT_BYTES + 16 + page - 1) / page;
	uint64_t data = slot_count * per_slot;
	uint64_t tree = slot_count / 40 + 64;
	uint64_t floor = (UINT64_C(64) << 20) / page;
	uint64_t slack = data / 8 > floor ? data / 8 : floor;

	return (data + tree + slack) * page;
}

static int path_in(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int env_open(MDB_env **out, const char *dir, uint64_t map_bytes)
{
	MDB_env *env = NULL;
	int rc = mdb_env_create(&env);

	if (rc == 0)
		rc = mdb_env_set_mapsize(env, (size_t)map_bytes);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(env, 254);
	if (rc == 0)
		rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMETASYNC, 0600);
	if (rc != 0) {
		if (env)
			mdb_env_close(env);
		return mfs_store_lmdb_error(rc);
	}
	*out = env;
	return 0;
}

static int dbi_open(MDB_env *env, MDB_dbi *dbi)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(env, NULL, 0, &txn);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	rc = mdb_dbi_open(txn, NULL, 0, dbi);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mfs_store_lmdb_error(rc);
	}
	return mfs_store_lmdb_error(mdb_txn_commit(txn));
}

/* Inserts one record of random bytes under a fresh random key. */
static int put_random_record(MDB_txn *txn, MDB_dbi dbi)
{
	uint8_t key[MFS_SLOT_KEY_BYTES];
	MDB_val k = {sizeof key, key}, v = {MFS_SLOT_BYTES, NULL};
	int rc;

	do {
		mfs_random(key, sizeof key);
		rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
	} while (rc == MDB_KEYEXIST);
	if (rc == 0)
		mfs_random(v.mv_data, MFS_SLOT_BYTES);
	return mfs_store_lmdb_error(rc);
}

static int fill_slots(MDB_env *env, MDB_dbi dbi, uint64_t slot_count)
{
	uint64_t done = 0;
	int rc = 0;

	while (done < slot_count && rc == 0) {
		MDB_txn *txn;
		uint64_t batch = slot_count - done < FILL_BATCH ? slot_count - done : FILL_BATCH;

		rc = mfs_store_lmdb_error(mdb_txn_begin(env, NULL, 0, &txn));
		for (uint64_t i = 0; i < batch && rc == 0; i++)
			rc = put_random_record(txn, dbi);
		if (rc == 0)
			rc = mfs_store_lmdb_error(mdb_txn_commit(txn));
		else
			mdb_txn_abort(txn);
		done += batch;
	}
	return rc;
}

/* Writes random bytes from LMDB's last used page to the end of the map, so
 * the file is map_bytes long from the start and looks the same however much
 * of it later writes come to use. LMDB never writes past its map. */
static int randomize_tail(const char *dir, uint64_t last_pgno, uint64_t map_bytes)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	int fd = -1, rc;

	rc = path_in(path, sizeof path, dir, "data.mdb");
	if (rc != 0)
		return rc;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	buf = malloc(1u << 20);
	if (fd < 0 || !buf) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (uint64_t off = (last_pgno + 1) * lmdb_page();
	     off < map_bytes;) {
		size_t n = map_bytes - off < (1u << 20) ? (size_t)(map_bytes - off) : (1u << 20);
		ssize_t w;

		mfs_random(buf, n);
		w = pwrite(fd, buf, n, (off_t)off);
		if (w < 0) {
			rc = -errno;
			goto out;
		}
		off += (uint64_t)w;
	}
	if (fsync(fd) != 0)
		rc = -errno;
	/* Init wrote the whole file: the kernel now caches it in large folios,
	 * and a later 4 KiB write would dirty (and write back) a whole folio.
	 * Drop them (nothing maps the file now); from here on pages come in one
	 * by one (MDB_NORDAHEAD). */
	if (rc == 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int write_header(const char *dir, const struct mfs_store_header *h)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	uint8_t bytes[HEADER_BYTES];
	int fd, rc;

	rc = path_in(path, sizeof path, dir, "header");
	if (rc == 0)
		rc = path_in(tmp, sizeof tmp, dir, "header.tmp");
	if (rc != 0)
		return rc;
	header_encode(bytes, h);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, bytes, sizeof bytes) != (ssize_t)sizeof bytes || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return rc;
}

int mfs_store_create(const char *dir, uint64_t slot_count, const struct mfs_kdf_limits *kdf)
{
	struct mfs_store_header h = {0};
	char path[PATH_MAX];
	MDB_envinfo info;
	MDB_env *env = NULL;
	MDB_dbi dbi;
	int rc;

	if (slot_count == 0 || slot_count > (UINT64_C(1) << 32) || mfs_kdf_limits_check(kdf) != 0)
		return MFS_E_FORMAT;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	rc = path_in(path, sizeof path, dir, "header");
	if (rc != 0)
		return rc;
	if (access(path, F_OK) == 0)
		return MFS_E_EXISTS;
	rc = path_in(path, sizeof path, dir, "data.mdb");
	if (rc != 0)
		return rc;
	if (access(path, F_OK) == 0)
		return MFS_E_EXISTS;

	h.version = STORE_VERSION;
	h.slot_bytes = MFS_SLOT_BYTES;
	h.slot_count = slot_count;
	h.map_bytes = map_bytes_for(slot_count);
	h.kdf = *kdf;
	mfs_random(h.salt, sizeof h.salt);

	rc = env_open(&env, dir, h.map_bytes);
	if (rc == 0)
		rc = dbi_open(env, &dbi);
	if (rc == 0)
		rc = fill_slots(env, dbi, slot_count);
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_env_sync(env, 1));
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_env_info(env, &info));
	if (env)
		mdb_env_close(env);
	if (rc == 0)
		rc = randomize_tail(dir, info.me_last_pgno, h.map_bytes);
	/* The header goes last: a store exists only once it is whole. */
	if (rc == 0)
		rc = write_header(dir, &h);
	if (rc != 0) {
		unlink(path);
		if (path_in(path, sizeof path, dir, "lock.mdb") == 0)
			unlink(path);
	}
	return rc;
}

static int read_header(struct mfs_store_header *h, const char *dir)
{
	char path[PATH_MAX];
	uint8_t bytes[HEADER_BYTES + 1];
	ssize_t n;
	int fd, rc;

	rc = path_in(path, sizeof path, dir, "header");
	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MFS_E_NOSTORE : -errno;
	n = read(fd, bytes, sizeof bytes);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc != 0)
		return rc;
	if (n != HEADER_BYTES)
		return MFS_E_CORRUPT;
	return header_decode(h, bytes);
}

/* Finds where LMDB mapped data_path (LMDB does not say: me_mapaddr is
 * only set for fixed maps). Without it the store works; reads just leave
 * their pages mapped until the kernel reclaims them. */
static void find_map(struct mfs_store *s, const char *data_path)
{
	char line[PATH_MAX + 128], real[PATH_MAX];
	FILE *maps = fopen("/proc/self/maps", "re");
	size_t plen;

	if (!maps || !realpath(data_path, real)) {
		if (maps)
			fclose(maps);
		return;
	}
	plen = strlen(real);
	while (fgets(line, sizeof line, maps)) {
		size_t n = strlen(line);
		unsigned long start, end;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n < plen || strcmp(line + n - plen, real) != 0 ||
		    sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		s->map = (void *)start;
		s->map_len = end - start;
		break;
	}
	fclose(maps);
}

int mfs_store_open(struct mfs_store **out, const char *dir)
{
	struct mfs_store *s = calloc(1, sizeof *s);
	char path[PATH_MAX];
	struct stat st;
	uint64_t count;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	rc = read_header(&s->hdr, dir);
	if (rc == 0)
		rc = path_in(path, sizeof path, dir, "data.mdb");
	if (rc == 0 && stat(path, &st) != 0)
		rc = errno == ENOENT ? MFS_E_CORRUPT : -errno;
	/* An mmap past the end of the file would fault: check before LMDB maps it. */
	if (rc == 0 && (uint64_t)st.st_size < s->hdr.map_bytes)
		rc = MFS_E_TRUNCATED;
	else if (rc == 0 && (uint64_t)st.st_size != s->hdr.map_bytes)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		rc = env_open(&s->env, dir, s->hdr.map_bytes);
	if (rc == 0)
		rc = dbi_open(s->env, &s->dbi);
	if (rc == 0)
		rc = mfs_store_record_count(s, &count);
	if (rc == 0 && count != s->hdr.slot_count)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		find_map(s, path);

	if (rc != 0) {
		mfs_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void mfs_store_close(struct mfs_store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s);
}

const struct mfs_store_header *mfs_store_header(const struct mfs_store *s)
{
	return &s->hdr;
}

int mfs_store_record_count(struct mfs_store *s, uint64_t *count)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	rc = mdb_stat(txn, s->dbi, &st);
	mdb_txn_abort(txn);
	if (rc == 0)
		*count = st.ms_entries;
	return mfs_store_lmdb_error(rc);
}

uint64_t mfs_store_last_txnid(struct mfs_store *s)
{
	MDB_envinfo info;

	return mdb_env_info(s->env, &info) == 0 ? (uint64_t)info.me_last_txnid : 0;
}

int mfs_store_txn_begin(struct mfs_store *s, int write, struct mfs_store_txn **out)
{
	struct mfs_store_txn *t = calloc(1, sizeof *t);
	int rc;

	if (!t)
		return -ENOMEM;
	rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		free(t);
		return mfs_store_lmdb_error(rc);
	}
	t->store = s;
	t->write = write;
	*out = t;
	return 0;
}

int mfs_store_txn_commit(struct mfs_store_txn *t)
{
	int rc;

	if (t->cursor)
		mdb_cursor_close(t->cursor);
	rc = mdb_txn_commit(t->txn);
	free(t);
	return mfs_store_lmdb_error(rc);
}

void mfs_store_txn_abort(struct mfs_store_txn *t)
{
	if (!t)
		return;
	if (t->cursor)
		mdb_cursor_close(t->cursor);
	mdb_txn_abort(t->txn);
	free(t);
}

int mfs_store_slot_get(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
		       const uint8_t **value)
{
	MDB_val k = {MFS_SLOT_KEY_BYTES, (void *)key}, v;
	int rc = mdb_get(t->txn, t->store->dbi, &k, &v);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	if (v.mv_size != MFS_SLOT_BYTES)
		return MFS_E_CORRUPT;
	*value = v.mv_data;
	return 0;
}

int mfs_store_slot_prefetch(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES])
{
	const uint64_t page = lmdb_page();
	const uint8_t *value;
	uintptr_t start, end;
	int rc = mfs_store_slot_get(t, key, &value);

	if (rc != 0)
		return rc;
	start = (uintptr_t)value & ~(uintptr_t)(page - 1);
	end = ((uintptr_t)value + MFS_SLOT_BYTES + page - 1) & ~(uintptr_t)(page - 1);
	madvise((void *)start, end - start, MADV_WILLNEED);
	return 0;
}

void mfs_store_slot_done(struct mfs_store_txn *t, const uint8_t *value)
{
	struct mfs_store *s = t->store;

	(void)value;
	/* Reading maps pages, and the kernel maps their neighbours too (fault
	 * around): every 16 MiB of slots read, drop them all from this
	 * process (they stay in the page cache; the map is read-only and
	 * shared, so nothing is lost and the next touch maps them again). */
	if (!s->map ||
	    __atomic_add_fetch(&s->read_since_trim, 1, __ATOMIC_RELAXED) % TRIM_SLOTS != 0)
		return;
	madvise(s->map, s->map_len, MADV_DONTNEED);
}

int mfs_store_slot_rewrite(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
			   uint8_t **value)
{
	const uint8_t *old;
	MDB_val k = {MFS_SLOT_KEY_BYTES, (void *)key}, v = {MFS_SLOT_BYTES, NULL};
	int rc = mfs_store_slot_get(t, key, &old);

	if (rc != 0)
		return rc;
	rc = mdb_put(t->txn, t->store->dbi, &k, &v, MDB_RESERVE);
	if (rc == 0)
		*value = v.mv_data;
	return mfs_store_lmdb_error(rc);
}

int mfs_store_slot_insert(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES],
			  uint8_t **value)
{
	MDB_val k = {MFS_SLOT_KEY_BYTES, (void *)key}, v = {MFS_SLOT_BYTES, NULL};
	int rc = mdb_put(t->txn, t->store->dbi, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);

	if (rc == 0)
		*value = v.mv_data;
	return mfs_store_lmdb_error(rc);
}

int mfs_store_slot_drop_free(struct mfs_store_txn *t, mfs_slot_owned_fn owned, void *ctx)
{
	uint8_t start[MFS_SLOT_KEY_BYTES];
	MDB_val k = {sizeof start, start}, v;
	uint64_t tries = t->store->hdr.slot_count + 1;
	int rc;

	if (!t->cursor) {
		rc = mdb_cursor_open(t->txn, t->store->dbi, &t->cursor);
		if (rc != 0)
			return mfs_store_lmdb_error(rc);
	}
	/* Start at a random point, walk forward (wrapping) to the first free one. */
	mfs_random(start, sizeof start);
	rc = mdb_cursor_get(t->cursor, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(t->cursor, &k, &v, MDB_FIRST);
	while (rc == 0 && tries-- > 0) {
		if (k.mv_size == MFS_SLOT_KEY_BYTES && v.mv_size == MFS_SLOT_BYTES &&
		    !owned(ctx, k.mv_data, v.mv_data))
			return mfs_store_lmdb_error(mdb_cursor_del(t->cursor, 0));
		rc = mdb_cursor_get(t->cursor, &k, &v, MDB_NEXT);
		if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(t->cursor, &k, &v, MDB_FIRST);
	}
	return rc == 0 ? MFS_E_FULL : mfs_store_lmdb_error(rc);
}

int mfs_store_slot_release(struct mfs_store_txn *t, const uint8_t key[static MFS_SLOT_KEY_BYTES])
{
	MDB_val k = {MFS_SLOT_KEY_BYTES, (void *)key};
	int rc = mdb_del(t->txn, t->store->dbi, &k, NULL);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	return put_random_record(t->txn, t->store->dbi);
}

int mfs_store_foreach(struct mfs_store_txn *t,
		      int (*fn)(void *ctx, const uint8_t *key, const uint8_t *value), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->store->dbi, &c);

	if (rc != 0)
		return mfs_store_lmdb_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int stop;

		if (k.mv_size != MFS_SLOT_KEY_BYTES || v.mv_size != MFS_SLOT_BYTES) {
			mdb_cursor_close(c);
			return MFS_E_CORRUPT;
		}
		stop = fn(ctx, k.mv_data, v.mv_data);
		if (stop) {
			mdb_cursor_close(c);
			return stop;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mfs_store_lmdb_error(rc);
}
