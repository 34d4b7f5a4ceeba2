/* fs/store/session_cache: round trips, LRU eviction, sealing on disk,
 * file lifetime and sweeps, threads. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/session_cache.h"
#include "tests/unit/testutil.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* A test blob: len bytes from seed, and its id. */
struct blob {
	uint8_t id[MFS_BLOB_ID_BYTES];
	uint8_t *data;
	size_t len;
};

static struct blob blob_make(size_t len, uint64_t seed)
{
	struct blob b = {.len = len};

	b.data = malloc(len ? len : 1);
	cr_assert_not_null(b.data);
	tu_fill_random(b.data, len, seed);
	mfs_blob_id(b.id, b.data, len);
	return b;
}

static void blob_free(struct blob *b)
{
	free(b->data);
	b->data = NULL;
}

static struct mfs_session_cache *cache_open(const char *dir, uint64_t cap)
{
	struct mfs_session_cache *c = NULL;

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(mfs_session_cache_open(&c, dir, cap), 0);
	cr_assert_not_null(c);
	return c;
}

static void put(struct mfs_session_cache *c, const struct blob *b)
{
	cr_assert_eq(mfs_session_cache_put(c, b->id, b->data, b->len), 0, "put %zu bytes", b->len);
}

static void expect(struct mfs_session_cache *c, const struct blob *b)
{
	uint8_t *got = NULL;
	size_t len = 0;

	cr_assert_eq(mfs_session_cache_get(c, b->id, &got, &len), 0, "get %zu bytes", b->len);
	cr_assert_eq(len, b->len);
	cr_assert_not_null(got);
	cr_assert_arr_eq(got, b->data, b->len, "content of %zu bytes", b->len);
	free(got);
}

static void expect_absent(struct mfs_session_cache *c, const struct blob *b)
{
	uint8_t *got = (uint8_t *)1;
	size_t len = 1;

	cr_assert_eq(mfs_session_cache_has(c, b->id), 0);
	cr_assert_eq(mfs_session_cache_get(c, b->id, &got, &len), MFS_E_NOTFOUND);
	cr_assert_null(got);
	cr_assert_eq(len, 0);
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static char *lock_path_of(const char *path)
{
	char *p = malloc(strlen(path) + 6);

	cr_assert_not_null(p);
	sprintf(p, "%s-lock", path);
	return p;
}

static size_t file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s", path);
	return (size_t)st.st_size;
}

/* Number of "session-*" entries in dir. */
static int session_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d, "opendir %s", dir);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "session-", 8) == 0;
	closedir(d);
	return n;
}

Test(session_cache, round_trip_of_several_sizes)
{
	const size_t sizes[] = {1, 2, 100, 4 * KiB, 4 * KiB - 40, 64 * KiB + 7, 1 * MiB + 3, 4 * MiB};
	const size_t count = sizeof sizes / sizeof sizes[0];
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 16 * MiB);
	struct blob b[sizeof sizes / sizeof sizes[0]], absent = blob_make(10, 999);
	uint64_t total = 0;

	cr_assert_eq(mfs_session_cache_bytes(c), 0);
	for (size_t i = 0; i < count; i++) {
		b[i] = blob_make(sizes[i], i + 1);
		cr_assert_eq(mfs_session_cache_has(c, b[i].id), 0);
		put(c, &b[i]);
		total += sizes[i];
		cr_assert_eq(mfs_session_cache_has(c, b[i].id), 1);
		cr_assert_eq(mfs_session_cache_bytes(c), total);
		expect(c, &b[i]);
	}
	/* All of them still there, read again in another order. */
	for (size_t i = count; i-- > 0;)
		expect(c, &b[i]);
	/* Storing one present is a no-op. */
	put(c, &b[3]);
	cr_assert_eq(mfs_session_cache_bytes(c), total);
	expect(c, &b[3]);
	expect_absent(c, &absent);

	mfs_session_cache_close(c);
	for (size_t i = 0; i < count; i++)
		blob_free(&b[i]);
	blob_free(&absent);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, evicts_least_recently_used_under_the_cap)
{
	const uint64_t cap = 5000;
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, cap);
	struct blob b[7];

	for (int i = 0; i < 6; i++)
		b[i] = blob_make(1000, 100 + i);
	b[6] = blob_make(2500, 106);
	for (int i = 0; i < 5; i++) {
		put(c, &b[i]);
		cr_assert_leq(mfs_session_cache_bytes(c), cap);
	}
	cr_assert_eq(mfs_session_cache_bytes(c), 5000);
	/* b0 is the oldest, but a get makes it the most recent: b1 goes. */
	expect(c, &b[0]);
	put(c, &b[5]);
	cr_assert_eq(mfs_session_cache_bytes(c), 5000);
	expect_absent(c, &b[1]);
	for (int i = 2; i < 6; i++)
		cr_assert_eq(mfs_session_cache_has(c, b[i].id), 1, "b%d kept", i);
	cr_assert_eq(mfs_session_cache_has(c, b[0].id), 1, "the touched one survives");
	/* has() does not touch: b2 stays the oldest. 2500 bytes evict b2, b3
	 * and b4 (5000 - 3000 + 2500 <= 5000) and keep b0 and b5. */
	cr_assert_eq(mfs_session_cache_has(c, b[2].id), 1);
	put(c, &b[6]);
	cr_assert_eq(mfs_session_cache_bytes(c), 4500);
	for (int i = 2; i < 5; i++)
		expect_absent(c, &b[i]);
	expect(c, &b[0]);
	expect(c, &b[5]);
	expect(c, &b[6]);
	/* An evicted blob can come back. */
	put(c, &b[1]);
	expect(c, &b[1]);
	cr_assert_leq(mfs_session_cache_bytes(c), cap);

	mfs_session_cache_close(c);
	for (int i = 0; i < 7; i++)
		blob_free(&b[i]);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, refuses_a_blob_larger_than_the_cap)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 4096);
	struct blob big = blob_make(4097, 1), fits = blob_make(4096, 2);

	cr_assert_eq(mfs_session_cache_put(c, big.id, big.data, big.len), -EFBIG);
	expect_absent(c, &big);
	cr_assert_eq(mfs_session_cache_bytes(c), 0);
	put(c, &fits);
	expect(c, &fits);
	cr_assert_eq(mfs_session_cache_bytes(c), 4096);

	mfs_session_cache_close(c);
	blob_free(&big);
	blob_free(&fits);
	tu_rmtree(dir);
	free(dir);
}

/* Blobs near the cap: storing the second means evicting the first, but
 * LMDB reuses freed pages only two commits later, and the map (the cap plus
 * a quarter plus 64 MiB) cannot hold both. The cache must still get there. */
Test(session_cache, a_blob_near_the_cap_replaces_another_when_the_map_is_tight)
{
	const uint64_t cap = 100 * MiB;
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, cap);
	struct blob a = blob_make(96 * MiB, 1), b = blob_make(96 * MiB, 2);

	put(c, &a);
	put(c, &b);
	expect_absent(c, &a);
	expect(c, &b);
	cr_assert_eq(mfs_session_cache_bytes(c), b.len);
	put(c, &a);
	expect_absent(c, &b);
	expect(c, &a);
	cr_assert_leq(file_size(mfs_session_cache_path(c)), cap + cap / 4 + 65 * MiB);

	mfs_session_cache_close(c);
	blob_free(&a);
	blob_free(&b);
	tu_rmtree(dir);
	free(dir);
}

/* Evicted records leave the file: under churn it stays near the cap instead
 * of growing with everything ever stored. */
Test(session_cache, churn_stays_under_the_cap_and_reuses_the_file)
{
	const uint64_t cap = 1 * MiB;
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, cap);
	struct blob last[3] = {{{0}, NULL, 0}, {{0}, NULL, 0}, {{0}, NULL, 0}};
	uint64_t stored = 0;

	for (int i = 0; i < 300; i++) {
		struct blob b = blob_make(1 + (size_t)(i * 7919u) % (96 * KiB), 1000 + (uint64_t)i);

		put(c, &b);
		stored += b.len;
		cr_assert_leq(mfs_session_cache_bytes(c), cap, "after put %d", i);
		blob_free(&last[i % 3]);
		last[i % 3] = b;
	}
	cr_assert_gt(stored, 10 * cap);
	for (int i = 0; i < 3; i++) {
		expect(c, &last[i]);
		blob_free(&last[i]);
	}
	cr_assert_lt(file_size(mfs_session_cache_path(c)), 4 * cap, "file size %zu",
		     file_size(mfs_session_cache_path(c)));

	mfs_session_cache_close(c);
	tu_rmtree(dir);
	free(dir);
}

/* The file holds the cache's only record, a 256 KiB value: LMDB keeps it in
 * one run of overflow pages that makes up most of what the put added to the
 * file. A byte flipped in the middle of that is in the sealed value. */
Test(session_cache, flipped_byte_on_disk_is_corrupt_and_dropped)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 4 * MiB);
	struct blob b = blob_make(256 * KiB, 7), again;
	const char *path = mfs_session_cache_path(c);
	uint8_t *got = (uint8_t *)1, byte;
	size_t before, after, len = 1;
	off_t at;
	int fd;

	before = file_size(path);
	put(c, &b);
	after = file_size(path);
	cr_assert_geq(after - before, b.len, "file grew by %zu", after - before);
	at = (off_t)(before + (after - before) / 2 + 123);

	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &byte, 1, at), 1);
	byte ^= 0x20;
	cr_assert_eq(pwrite(fd, &byte, 1, at), 1);

	cr_assert_eq(mfs_session_cache_get(c, b.id, &got, &len), MFS_E_CORRUPT);
	cr_assert_null(got);
	cr_assert_eq(len, 0);
	/* Dropped: gone from the index and the file. */
	expect_absent(c, &b);
	cr_assert_eq(mfs_session_cache_bytes(c), 0);

	/* Flipping it back does not bring the record back; storing it again does. */
	byte ^= 0x20;
	cr_assert_eq(pwrite(fd, &byte, 1, at), 1);
	close(fd);
	expect_absent(c, &b);
	again = blob_make(256 * KiB, 7);
	put(c, &again);
	expect(c, &again);

	mfs_session_cache_close(c);
	blob_free(&b);
	blob_free(&again);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, file_never_holds_plaintext_or_blob_ids)
{
	static const char marker[] = "MEGAFS-SESSION-PLAINTEXT-MARKER";
	const size_t mlen = sizeof marker - 1;
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 4 * MiB);
	struct blob small = {.len = mlen}, large = {.len = 200 * KiB};
	uint8_t *file;
	size_t len;

	/* One blob small enough to sit in a leaf page, one in overflow pages. */
	small.data = malloc(small.len);
	large.data = malloc(large.len);
	cr_assert(small.data && large.data);
	memcpy(small.data, marker, mlen);
	for (size_t off = 0; off < large.len; off += mlen)
		memcpy(large.data + off, marker, large.len - off < mlen ? large.len - off : mlen);
	mfs_blob_id(small.id, small.data, small.len);
	mfs_blob_id(large.id, large.data, large.len);
	put(c, &small);
	put(c, &large);
	expect(c, &small);
	expect(c, &large);

	/* LMDB writes its pages with pwrite (no WRITEMAP): read() sees them. */
	file = tu_read_file(mfs_session_cache_path(c), &len);
	cr_assert_geq(len, large.len);
	cr_assert_null(memmem(file, len, marker, mlen), "plaintext marker in the file");
	cr_assert_null(memmem(file, len, marker, 8), "plaintext prefix in the file");
	cr_assert_null(memmem(file, len, small.id, 8), "blob id in the file");
	cr_assert_null(memmem(file, len, large.id, 8), "blob id in the file");
	free(file);

	mfs_session_cache_close(c);
	blob_free(&small);
	blob_free(&large);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, close_deletes_both_files)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 1 * MiB);
	struct blob b = blob_make(5000, 3);
	char *path = strdup(mfs_session_cache_path(c)), *lock = lock_path_of(path);
	const char *name = strrchr(path, '/') + 1;

	cr_assert_eq(strncmp(path, dir, strlen(dir)), 0, "%s is in %s", path, dir);
	cr_assert_eq(strlen(name), strlen("session-0123456789abcdef.mdb"), "name %s", name);
	cr_assert_eq(strncmp(name, "session-", 8), 0);
	cr_assert_str_eq(name + 24, ".mdb");
	put(c, &b);
	cr_assert(exists(path));
	cr_assert(exists(lock));
	cr_assert_eq(session_files(dir), 2);

	mfs_session_cache_close(c);
	cr_assert_not(exists(path), "%s left behind", path);
	cr_assert_not(exists(lock), "%s left behind", lock);
	cr_assert_eq(session_files(dir), 0);
	mfs_session_cache_close(NULL);

	blob_free(&b);
	free(path);
	free(lock);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, open_refuses_bad_arguments)
{
	char *dir = tu_tempdir();
	char missing[4200];
	struct mfs_session_cache *c = (struct mfs_session_cache *)1;

	snprintf(missing, sizeof missing, "%s/missing", dir);
	cr_assert_eq(mfs_session_cache_open(&c, missing, MiB), -ENOENT);
	cr_assert_null(c);
	cr_assert_eq(mfs_session_cache_open(&c, dir, 0), -EINVAL);
	cr_assert_eq(mfs_session_cache_sweep(missing), -ENOENT);
	cr_assert_eq(session_files(dir), 0);
	tu_rmtree(dir);
	free(dir);
}

/* A child process opens a cache, stores a blob and dies without closing;
 * sends the cache's path through fd. */
static void crash_child(const char *dir, int fd)
{
	struct mfs_session_cache *c;
	uint8_t data[3000], id[MFS_BLOB_ID_BYTES];
	const char *path;

	tu_fill_random(data, sizeof data, 77);
	mfs_blob_id(id, data, sizeof data);
	if (mfs_crypto_init() != 0 || mfs_session_cache_open(&c, dir, MiB) != 0 ||
	    mfs_session_cache_put(c, id, data, sizeof data) != 0)
		_exit(1);
	path = mfs_session_cache_path(c);
	if (write(fd, path, strlen(path) + 1) != (ssize_t)(strlen(path) + 1))
		_exit(2);
	_exit(0);
}

/* Returns the path of a cache a crashed child left in dir (malloc'ed). */
static char *crashed_cache(const char *dir)
{
	char buf[4200] = {0};
	size_t got = 0;
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(dir, fds[1]);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	cr_assert_gt(got, 0);
	return strdup(buf);
}

Test(session_cache, sweep_deletes_what_a_crashed_process_left)
{
	char *dir = tu_tempdir();
	char *path = crashed_cache(dir), *lock = lock_path_of(path);

	cr_assert(exists(path), "the crash left %s", path);
	cr_assert(exists(lock), "the crash left %s", lock);
	cr_assert_eq(mfs_session_cache_sweep(dir), 1);
	cr_assert_not(exists(path));
	cr_assert_not(exists(lock));
	cr_assert_eq(mfs_session_cache_sweep(dir), 0);
	free(path);
	free(lock);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, open_sweeps_what_a_crashed_process_left)
{
	char *dir = tu_tempdir();
	char *path = crashed_cache(dir), *lock = lock_path_of(path);
	struct mfs_session_cache *c;
	struct blob b = blob_make(100, 5);

	cr_assert(exists(path));
	c = cache_open(dir, MiB);
	cr_assert_not(exists(path), "open swept %s", path);
	cr_assert_not(exists(lock));
	cr_assert_str_neq(mfs_session_cache_path(c), path);
	cr_assert_eq(session_files(dir), 2, "only the new cache's files");
	put(c, &b);
	expect(c, &b);
	mfs_session_cache_close(c);
	cr_assert_eq(session_files(dir), 0);
	blob_free(&b);
	free(path);
	free(lock);
	tu_rmtree(dir);
	free(dir);
}

static void touch_file(const char *dir, const char *name)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0, "create %s", path);
	close(fd);
}

static int exists_in(const char *dir, const char *name)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return exists(path);
}

/* flock locks belong to open file descriptions: caches open in this very
 * process are live to a sweep run here too. */
Test(session_cache, sweep_keeps_live_caches_and_other_files)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *a = cache_open(dir, MiB), *b = cache_open(dir, MiB), *c3;
	struct blob x = blob_make(3000, 1), y = blob_make(4000, 2);

	put(a, &x);
	put(b, &y);
	touch_file(dir, "data.mdb");
	touch_file(dir, "session-notes.mdb");
	touch_file(dir, "session-0123456789ABCDEF.mdb");
	/* A lock file with no cache file: swept, but not counted. */
	touch_file(dir, "session-0123456789abcdef.mdb-lock");

	cr_assert_eq(mfs_session_cache_sweep(dir), 0);
	cr_assert_eq(mfs_session_cache_sweep(dir), 0);
	cr_assert_not(exists_in(dir, "session-0123456789abcdef.mdb-lock"));
	cr_assert(exists(mfs_session_cache_path(a)));
	cr_assert(exists(mfs_session_cache_path(b)));
	cr_assert(exists_in(dir, "data.mdb"));
	cr_assert(exists_in(dir, "session-notes.mdb"));
	cr_assert(exists_in(dir, "session-0123456789ABCDEF.mdb"));
	/* Opening a third cache sweeps too. */
	c3 = cache_open(dir, MiB);
	cr_assert(exists(mfs_session_cache_path(a)));
	cr_assert(exists(mfs_session_cache_path(b)));
	cr_assert_eq(session_files(dir), 2 + 6);
	/* Both still work, with what each had. */
	expect(a, &x);
	expect(b, &y);
	expect_absent(a, &y);
	expect_absent(b, &x);
	expect_absent(c3, &x);

	mfs_session_cache_close(c3);
	mfs_session_cache_close(b);
	cr_assert(exists(mfs_session_cache_path(a)));
	expect(a, &x);
	mfs_session_cache_close(a);
	cr_assert_eq(session_files(dir), 2);
	blob_free(&x);
	blob_free(&y);
	tu_rmtree(dir);
	free(dir);
}

#define THREADS 4
#define PER_THREAD 60

struct worker {
	struct mfs_session_cache *c;
	int index;
	int evicting;  /* the cap is below what all threads store */
	int errors;    /* calls that failed or returned wrong bytes */
	int misses;
};

static size_t worker_len(int t, int i)
{
	return 1 + (size_t)((t * PER_THREAD + i) * 7717u) % (48 * KiB);
}

static uint64_t worker_seed(int t, int i)
{
	return 5000 + (uint64_t)(t * PER_THREAD + i);
}

static void worker_blob(struct blob *b, int t, int i)
{
	b->len = worker_len(t, i);
	b->data = malloc(b->len);
	if (b->data) {
		tu_fill_random(b->data, b->len, worker_seed(t, i));
		mfs_blob_id(b->id, b->data, b->len);
	}
}

/* Checks the cached copy of thread t's blob i: 1 intact, 0 absent, -1 wrong. */
static int check(struct mfs_session_cache *c, int t, int i)
{
	struct blob b;
	uint8_t *got;
	size_t len;
	int rc, ok;

	worker_blob(&b, t, i);
	if (!b.data)
		return -1;
	rc = mfs_session_cache_get(c, b.id, &got, &len);
	if (rc == MFS_E_NOTFOUND) {
		free(b.data);
		return 0;
	}
	ok = rc == 0 && len == b.len && memcmp(got, b.data, len) == 0;
	if (rc == 0)
		free(got);
	free(b.data);
	return ok ? 1 : -1;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct blob b;

		worker_blob(&b, w->index, i);
		if (!b.data || mfs_session_cache_put(w->c, b.id, b.data, b.len) != 0)
			w->errors++;
		free(b.data);
		/* Read back one's own (present unless evicted), an earlier one,
		 * and another thread's (present or not yet). */
		for (int k = 0; k < 3; k++) {
			int t = k == 2 ? (w->index + 1) % THREADS : w->index;
			int j = k == 0 ? i : k == 1 ? i / 2 : i;
			int r = check(w->c, t, j);

			if (r < 0 || (r == 0 && k < 2 && !w->evicting))
				w->errors++;
			if (r == 0)
				w->misses++;
		}
		if (mfs_session_cache_bytes(w->c) > (w->evicting ? 256 * KiB : UINT64_MAX))
			w->errors++;
	}
	return NULL;
}

static void run_workers(struct mfs_session_cache *c, int evicting)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.c = c, .index = t, .evicting = evicting};
		cr_assert_eq(pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		cr_assert_eq(pthread_join(th[t], NULL), 0);
		cr_assert_eq(w[t].errors, 0, "thread %d: %d errors", t, w[t].errors);
	}
}

Test(session_cache, four_threads_put_and_get)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 64 * MiB);
	uint64_t total = 0;

	run_workers(c, 0);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			cr_assert_eq(check(c, t, i), 1, "thread %d blob %d", t, i);
			total += worker_len(t, i);
		}
	cr_assert_eq(mfs_session_cache_bytes(c), total);
	mfs_session_cache_close(c);
	cr_assert_eq(session_files(dir), 0);
	tu_rmtree(dir);
	free(dir);
}

Test(session_cache, four_threads_under_eviction)
{
	char *dir = tu_tempdir();
	struct mfs_session_cache *c = cache_open(dir, 256 * KiB);
	uint64_t bytes = 0;

	run_workers(c, 1);
	/* Whatever is left is intact, and the index agrees with the bytes. */
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			int r = check(c, t, i);

			cr_assert_geq(r, 0, "thread %d blob %d", t, i);
			if (r == 1)
				bytes += worker_len(t, i);
		}
	cr_assert_leq(mfs_session_cache_bytes(c), 256 * KiB);
	cr_assert_eq(mfs_session_cache_bytes(c), bytes);
	cr_assert_gt(bytes, 0);
	mfs_session_cache_close(c);
	tu_rmtree(dir);
	free(dir);
}
