#include "fs/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define HEADER_BYTES 80
#define HEADER_SUM_BYTES 16
/* 8: every slot keeps the SHA-256 leaf of its data (a seeder reads a blob's
 * leaves instead of hashing it). 7: slots sealed in four pieces, each with its own tag (a small read opens
 * one). 6: a volume that is not redundant keeps two copies of each map page (volume
 * format 6). 5: slots of 17 pages, one sealed blob segment each; blob ids are SHA-256
 * hash lists. 4: a hidden volume keeps up to 16 copies of each map page. 3: hidden
 * volumes keep parity (volume format 3). 2: slots written in
 * place. 1: LMDB copy-on-write for every slot write (not deniable). */
#define STORE_VERSION 8
#define FILL_BATCH 256

static const char magic[8] = {'M', 'E', 'G', 'A', 'F', 'S', 0, 'S'};

struct mfs_store {
	struct mfs_store_header hdr;
	int fd;                        /* data.mdb, read-write when allowed */
	char *path;                    /* data.mdb's path: claims are tested through a new open */
	uint64_t *offsets;             /* slot position -> value offset in data.mdb */
	int whole_pages;               /* slot writes include LMDB's page header (below) */
	pthread_mutex_t lock;          /* the writer's lock within this process (recursive) */
	unsigned lock_depth;           /* protected by lock */
	unsigned lock_waiters;         /* threads waiting for lock (atomic) */
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
	mfs_hash32(sum, out, HEADER_BYTES - HEADER_SUM_BYTES);
	memcpy(out + HEADER_BYTES - HEADER_SUM_BYTES, sum, HEADER_SUM_BYTES);
}

static int header_decode(struct mfs_store_header *h, const uint8_t in[static HEADER_BYTES])
{
	uint8_t sum[MFS_BLOB_ID_BYTES];

	mfs_hash32(sum, in, HEADER_BYTES - HEADER_SUM_BYTES);
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
	if (h->version >= 1 && h->version < STORE_VERSION)
		return MFS_E_OLDSTORE;
	if (h->version != STORE_VERSION || h->slot_bytes != MFS_SLOT_BYTES || h->slot_count == 0 ||
	    h->slot_count > (UINT64_C(1) << 32) ||
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

/* Room for the slots, the B-tree over them, and the copy-on-write slack of
 * init's own transactions (LMDB commits nothing after init). */
static uint64_t map_bytes_for(uint64_t slot_count)
{
	const uint64_t page = lmdb_page();
	const uint64_t per_slot = (MFS_SLOT_BYTES + 16 + page - 1) / page;
	uint64_t data = slot_count * per_slot;
	uint64_t tree = slot_count / 40 + 64;
	uint64_t slack = data / 32 + (UINT64_C(4) << 20) / page;

	return (data + tree + slack) * page;
}

static int path_in(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int env_open(MDB_env **out, const char *dir, uint64_t map_bytes, unsigned flags)
{
	MDB_env *env = NULL;
	int rc = mdb_env_create(&env);

	if (rc == 0)
		rc = mdb_env_set_mapsize(env, (size_t)map_bytes);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(env, 254);
	if (rc == 0)
		rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_NORDAHEAD | flags, 0600);
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
	uint8_t key[16];
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

	rc = env_open(&env, dir, h.map_bytes, 0);
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
	/* Nothing uses the lock file after init (opening takes no lock). */
	if (path_in(path, sizeof path, dir, "lock.mdb") == 0)
		unlink(path);
	if (path_in(path, sizeof path, dir, "data.mdb") != 0)
		rc = rc ? rc : -ENAMETOOLONG;
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

/* The start of the mapping of data.mdb that holds p (LMDB does not say where
 * it mapped the file: me_mapaddr is set only for fixed maps). */
static int map_base_of(const void *p, uintptr_t *base)
{
	char line[PATH_MAX + 128];
	FILE *maps = fopen("/proc/self/maps", "re");
	int rc = MFS_E_LMDB;

	if (!maps)
		return -errno;
	while (fgets(line, sizeof line, maps)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx", &start, &end) == 2 && (uintptr_t)p >= start &&
		    (uintptr_t)p < end) {
			*base = start;
			rc = 0;
			break;
		}
	}
	fclose(maps);
	return rc;
}

/* The layout walk: keys are 16 random bytes, so LAYOUT_WALKERS threads
 * each walk the keys whose first byte falls in their share of 0..255, in
 * read transactions of their own. A cold store's leaf pages are random
 * reads: several in flight at once take the time of a few, not of all
 * (a 384 MiB store's walk, cold: 48-61 ms alone). */
#define LAYOUT_WALKERS 4

struct layout_walk {
	MDB_env *env;
	MDB_dbi dbi;
	unsigned first, end;           /* first bytes [first, end) */
	uintptr_t base;                /* where data.mdb is mapped */
	uint64_t map_bytes, max;       /* the map's size; the slot count */
	uint64_t *offs, n, cap;        /* the values' offsets, in key order */
	int rc;
};

static int walk_note(struct layout_walk *w, const MDB_val *k, const MDB_val *v)
{
	if (k->mv_size != 16 || v->mv_size != MFS_SLOT_BYTES || w->n >= w->max)
		return MFS_E_CORRUPT;
	if ((uintptr_t)v->mv_data < w->base ||
	    (uintptr_t)v->mv_data - w->base + MFS_SLOT_BYTES > w->map_bytes)
		return MFS_E_CORRUPT;
	if (w->n == w->cap) {
		uint64_t cap = w->cap ? w->cap * 2 : 256;
		uint64_t *grown = cap <= SIZE_MAX / sizeof *grown ? realloc(w->offs, (size_t)cap * sizeof *grown)
								   : NULL;

		if (!grown)
			return -ENOMEM;
		w->offs = grown;
		w->cap = cap;
	}
	w->offs[w->n++] = (uintptr_t)v->mv_data - w->base;
	return 0;
}

static void *walk_share(void *arg)
{
	struct layout_walk *w = arg;
	uint8_t from[16] = {(uint8_t)w->first};
	MDB_val k = {sizeof from, from}, v;
	MDB_txn *txn = NULL;
	MDB_cursor *c = NULL;
	int rc = mfs_store_lmdb_error(mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn));

	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_cursor_open(txn, w->dbi, &c));
	for (int op = MDB_SET_RANGE; rc == 0; op = MDB_NEXT) {
		int got = mdb_cursor_get(c, &k, &v, op);

		if (got == MDB_NOTFOUND)
			break;
		rc = mfs_store_lmdb_error(got);
		if (rc == 0 && k.mv_size > 0 && ((const uint8_t *)k.mv_data)[0] >= w->end)
			break;
		if (rc == 0)
			rc = walk_note(w, &k, &v);
	}
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	w->rc = rc;
	return NULL;
}

/* Walks the frozen B-tree once, read-only and without the lock file, and
 * notes where every value sits in the file. */
static int learn_layout(struct mfs_store *s, const char *dir)
{
	struct layout_walk w[LAYOUT_WALKERS] = {0};
	pthread_t tid[LAYOUT_WALKERS];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *c = NULL;
	MDB_dbi dbi = 0;
	MDB_val k, v;
	uintptr_t base = 0;
	uint64_t n = 0;
	unsigned started = 0;
	int rc;

	s->offsets = calloc((size_t)s->hdr.slot_count, sizeof *s->offsets);
	if (!s->offsets)
		return -ENOMEM;
	rc = env_open(&env, dir, s->hdr.map_bytes, MDB_RDONLY | MDB_NOLOCK);
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_dbi_open(txn, NULL, 0, &dbi));
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_cursor_open(txn, dbi, &c));
	/* The first value tells where LMDB mapped the file. */
	if (rc == 0)
		rc = mfs_store_lmdb_error(mdb_cursor_get(c, &k, &v, MDB_FIRST));
	if (rc == 0)
		rc = map_base_of(v.mv_data, &base);
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	for (unsigned i = 0; rc == 0 && i < LAYOUT_WALKERS; i++) {
		w[i] = (struct layout_walk){.env = env, .dbi = dbi, .first = 256 * i / LAYOUT_WALKERS,
					    .end = 256 * (i + 1) / LAYOUT_WALKERS, .base = base,
					    .map_bytes = s->hdr.map_bytes, .max = s->hdr.slot_count};
		if (pthread_create(&tid[i], NULL, walk_share, &w[i]) != 0)
			rc = -EAGAIN;
		else
			started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		if (rc == 0)
			rc = w[i].rc;
		/* In key order: slot position n is the n-th key. */
		if (rc == 0 && w[i].n > s->hdr.slot_count - n)
			rc = MFS_E_CORRUPT;
		/* A share of the key space may hold no key (a small store): no
		 * offsets, and no buffer to copy from. */
		if (rc == 0 && w[i].n > 0)
			memcpy(s->offsets + n, w[i].offs, (size_t)w[i].n * sizeof *s->offsets);
		if (rc == 0)
			n += w[i].n;
	}
	for (unsigned i = 0; i < LAYOUT_WALKERS; i++)
		free(w[i].offs);
	if (rc == MFS_E_NOTFOUND || (rc == 0 && n != s->hdr.slot_count))
		rc = MFS_E_CORRUPT;
	if (env)
		mdb_env_close(env);
	return rc;
}

/* A slot's value starts LMDB_PAGE_HEAD bytes into its first overflow page, after
 * LMDB's header: u64 page number, u16 0, u16 P_OVERFLOW, u32 pages. A write
 * of the value alone leaves the first page partly written, and the kernel
 * reads that page from disk before it can take the write: one synchronous
 * read for every slot written to a cold store. Writing the header too, as
 * the bytes LMDB put there (which nothing changes after init), makes every
 * write whole pages. The header is computed, and checked against the file
 * at open on a few slots: a store whose headers look otherwise gets
 * value-only writes (tests/unit/test_store.c holds every header unchanged
 * across writes). */
#define LMDB_PAGE_HEAD 16u
#define LMDB_P_OVERFLOW 0x04u

static void page_head(uint8_t out[static LMDB_PAGE_HEAD], uint64_t value_off)
{
	mfs_le_put(out, (value_off - LMDB_PAGE_HEAD) / lmdb_page(), 8);
	mfs_le_put(out + 8, 0, 2);
	mfs_le_put(out + 10, LMDB_P_OVERFLOW, 2);
	mfs_le_put(out + 12, (LMDB_PAGE_HEAD + MFS_SLOT_BYTES + lmdb_page() - 1) / lmdb_page(), 4);
}

/* 1 when the headers of slot 0, the last and a few between are what
 * page_head computes (and every value starts LMDB_PAGE_HEAD into a page). */
static int headers_as_computed(const struct mfs_store *s)
{
	const uint64_t n = s->hdr.slot_count, page = lmdb_page();

	for (uint64_t i = 0; i < 8 && i < n; i++) {
		uint64_t pos = i == 7 ? n - 1 : i * (n / 7), off = s->offsets[pos];
		uint8_t want[LMDB_PAGE_HEAD], got[LMDB_PAGE_HEAD];

		if (off % page != LMDB_PAGE_HEAD)
			return 0;
		page_head(want, off);
		if (pread(s->fd, got, sizeof got, (off_t)(off - LMDB_PAGE_HEAD)) != (ssize_t)sizeof got ||
		    memcmp(got, want, sizeof got) != 0)
			return 0;
	}
	return 1;
}

/* One pwritev of the page header and the value: 0 when it all went, 1 when
 * part did (the caller writes the value again the plain way), or -errno. */
static int slot_write_whole(struct mfs_store *s, uint32_t pos, const uint8_t *buf)
{
	uint8_t head[LMDB_PAGE_HEAD];
	struct iovec iov[2] = {{head, sizeof head}, {(void *)buf, MFS_SLOT_BYTES}};
	ssize_t n;

	page_head(head, s->offsets[pos]);
	do
		n = pwritev(s->fd, iov, 2, (off_t)(s->offsets[pos] - LMDB_PAGE_HEAD));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EBADF ? -EROFS : -errno;
	return (size_t)n == LMDB_PAGE_HEAD + MFS_SLOT_BYTES ? 0 : 1;
}

int mfs_store_open(struct mfs_store **out, const char *dir)
{
	struct mfs_store *s = calloc(1, sizeof *s);
	char path[PATH_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	{
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&s->lock, &a);
		pthread_mutexattr_destroy(&a);
	}
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
	/* Every slot takes at least its own bytes of the file: a header that
	 * claims more slots than the file can hold is not believed (it would
	 * have us allocate for them before LMDB counts them). */
	if (rc == 0 && s->hdr.slot_count > s->hdr.map_bytes / MFS_SLOT_BYTES)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		rc = learn_layout(s, dir);
	if (rc == 0 && !(s->path = strdup(path)))
		rc = -ENOMEM;
	if (rc == 0) {
		s->fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->fd < 0 && (errno == EACCES || errno == EROFS))
			s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			rc = -errno;
	}
	/* Slots sit at random positions: reading ahead of one only wastes I/O. */
	if (rc == 0) {
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_RANDOM);
		s->whole_pages = headers_as_computed(s);
	}
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
	/* What a session read or wrote stays in the page cache after it, and
	 * which of a store's pages are resident (mincore(2), fincore(1)), and
	 * how fast each reads, is a trace of that session anyone on the running
	 * machine can see: positions no volume they can open holds, read
	 * recently, are another volume's. Every session drops them alike. */
	if (s->fd >= 0) {
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
		close(s->fd);
	}
	free(s->path);
	free(s->offsets);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const struct mfs_store_header *mfs_store_header(const struct mfs_store *s)
{
	return &s->hdr;
}

uint64_t mfs_store_slot_offset(const struct mfs_store *s, uint32_t pos)
{
	return pos < s->hdr.slot_count ? s->offsets[pos] : 0;
}

/* pread/pwrite of a whole slot, resumed after short transfers. */
static int slot_io(struct mfs_store *s, uint32_t pos, uint8_t *buf, int write)
{
	size_t done = 0;

	if (pos >= s->hdr.slot_count)
		return MFS_E_FORMAT;
	if (write && s->whole_pages) {
		int rc = slot_write_whole(s, pos, buf);

		if (rc <= 0)
			return rc;
	}
	while (done < MFS_SLOT_BYTES) {
		off_t at = (off_t)(s->offsets[pos] + done);
		ssize_t n = write ? pwrite(s->fd, buf + done, MFS_SLOT_BYTES - done, at)
				  : pread(s->fd, buf + done, MFS_SLOT_BYTES - done, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EBADF ? -EROFS : -errno;
		if (n == 0)
			return MFS_E_TRUNCATED;
		done += (size_t)n;
	}
	return 0;
}

int mfs_store_slot_read(struct mfs_store *s, uint32_t pos, uint8_t value[static MFS_SLOT_BYTES])
{
	return slot_io(s, pos, value, 0);
}

int mfs_store_slot_read_part(struct mfs_store *s, uint32_t pos, size_t off, uint8_t *buf,
			     size_t len)
{
	ssize_t n;

	if (pos >= s->hdr.slot_count || off > MFS_SLOT_BYTES || len > MFS_SLOT_BYTES - off)
		return MFS_E_FORMAT;
	do
		n = pread(s->fd, buf, len, (off_t)(s->offsets[pos] + off));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : MFS_E_TRUNCATED;
}

int mfs_store_slot_write(struct mfs_store *s, uint32_t pos,
			 const uint8_t value[static MFS_SLOT_BYTES])
{
	return slot_io(s, pos, (uint8_t *)value, 1);
}

int mfs_store_slot_wipe(struct mfs_store *s, uint32_t pos)
{
	uint8_t *noise = malloc(MFS_SLOT_BYTES);
	int rc;

	if (!noise)
		return -ENOMEM;
	mfs_random(noise, MFS_SLOT_BYTES);
	rc = slot_io(s, pos, noise, 1);
	free(noise);
	return rc;
}

void mfs_store_slot_prefetch(struct mfs_store *s, uint32_t pos, size_t off, size_t len)
{
	if (pos < s->hdr.slot_count && off <= MFS_SLOT_BYTES && len <= MFS_SLOT_BYTES - off)
		posix_fadvise(s->fd, (off_t)(s->offsets[pos] + off), (off_t)len,
			      POSIX_FADV_WILLNEED);
}

int mfs_store_sync(struct mfs_store *s)
{
	return fdatasync(s->fd) == 0 ? 0 : -errno;
}

/* The byte (far past data.mdb's end, below the claims) that a process
 * waiting for the writer's lock holds a shared lock on meanwhile, so that
 * the holder can tell it is wanted (mfs_store_lock_wanted). */
#define WAIT_BYTE ((INT64_C(1) << 62) - 1)

static int wait_mark(struct mfs_store *s, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = WAIT_BYTE, .l_len = 1};

	return fcntl(s->fd, F_OFD_SETLK, &fl);
}

int mfs_store_lock(struct mfs_store *s)
{
	int marked = 0, rc = 0;

	__atomic_add_fetch(&s->lock_waiters, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->lock);
	__atomic_sub_fetch(&s->lock_waiters, 1, __ATOMIC_RELAXED);
	if (s->lock_depth++ > 0)
		return 0; /* this thread holds it already */
	while (flock(s->fd, marked ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK && !marked) {
			marked = 1; /* held elsewhere: say we wait, then wait */
			wait_mark(s, F_RDLCK);
		} else if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	if (marked)
		wait_mark(s, F_UNLCK);
	if (rc != 0) {
		s->lock_depth--;
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

int mfs_store_lock_wanted(struct mfs_store *s)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = WAIT_BYTE, .l_len = 1};

	if (__atomic_load_n(&s->lock_waiters, __ATOMIC_RELAXED) > 0)
		return 1;
	/* Our own description holds no mark: any mark is another's. */
	return fcntl(s->fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

void mfs_store_unlock(struct mfs_store *s)
{
	if (--s->lock_depth == 0)
		flock(s->fd, LOCK_UN);
	pthread_mutex_unlock(&s->lock);
}

#define CLAIM_BASE (INT64_C(1) << 62)

static struct flock claim_range(short type, uint64_t token)
{
	return (struct flock){
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)(CLAIM_BASE + (int64_t)(token & ((UINT64_C(1) << 62) - 1))),
		.l_len = 1,
	};
}

int mfs_store_claim(struct mfs_store *s, uint64_t token)
{
	struct flock fl = claim_range(F_RDLCK, token);

	return fcntl(s->fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

void mfs_store_unclaim(struct mfs_store *s, uint64_t token)
{
	struct flock fl = claim_range(F_UNLCK, token);

	fcntl(s->fd, F_OFD_SETLK, &fl);
}

int mfs_store_claimed(struct mfs_store *s, uint64_t token)
{
	struct flock fl = claim_range(F_WRLCK, token);
	/* A lock never conflicts with its own open file description, so the
	 * test goes through a new one: claims of this very process count too. */
	int fd = open(s->path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = fcntl(fd, F_OFD_GETLK, &fl) == 0 ? fl.l_type != F_UNLCK : -errno;
	close(fd);
	return rc;
}

int mfs_store_foreach(struct mfs_store *s,
		      int (*fn)(void *ctx, uint32_t pos, const uint8_t *value), void *ctx)
{
	uint8_t *value = malloc(MFS_SLOT_BYTES);
	int rc = value ? 0 : -ENOMEM;

	for (uint64_t pos = 0; rc == 0 && pos < s->hdr.slot_count; pos++) {
		rc = slot_io(s, (uint32_t)pos, value, 0);
		if (rc == 0)
			rc = fn(ctx, (uint32_t)pos, value);
	}
	free(value);
	return rc;
}
