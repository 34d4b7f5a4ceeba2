/* fs/store/store: creation, opening, damage, and what the file reveals. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/store.h"
#include "fs/store/volume.h"
#include "tests/unit/testutil.h"

static char *path_of(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name);
	return p;
}

Test(store, create_open_count_and_size)
{
	struct mfs_store *s;
	struct stat st;
	char *dir, *data;
	struct mfs_kdf_limits kdf;

	tu_store(&dir, 64);
	data = path_of(dir, "data.mdb");
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_store_header(s)->slot_count, 64, "opening counted 64 records (else refused)");
	cr_assert_eq(stat(data, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, mfs_store_header(s)->map_bytes,
		     "the file is exactly the map size");
	mfs_store_close(s);
	mfs_kdf_preset(&kdf, "fast");
	cr_assert_eq(mfs_store_create(dir, 64, &kdf), MFS_E_EXISTS);
	tu_rmtree(dir);
	cr_assert_eq(mfs_store_open(&s, dir), MFS_E_NOSTORE);
	free(data);
	free(dir);
}

Test(store, truncated_and_damaged_header_are_refused)
{
	struct mfs_store *s;
	char *dir, *data, *header;
	struct stat st;
	int fd;
	uint8_t b;

	tu_store(&dir, 32);
	data = path_of(dir, "data.mdb");
	header = path_of(dir, "header");
	cr_assert_eq(stat(data, &st), 0);
	cr_assert_eq(truncate(data, st.st_size / 2), 0);
	cr_assert_eq(mfs_store_open(&s, dir), MFS_E_TRUNCATED);
	cr_assert_str_eq(mfs_strerror(MFS_E_TRUNCATED),
			 "store file is truncated (shorter than its header says)");
	cr_assert_eq(truncate(data, st.st_size), 0);
	fd = open(header, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &b, 1, 20), 1);
	b ^= 1;
	cr_assert_eq(pwrite(fd, &b, 1, 20), 1);
	close(fd);
	cr_assert_eq(mfs_store_open(&s, dir), MFS_E_CORRUPT);
	tu_rmtree(dir);
	free(data);
	free(header);
	free(dir);
}

struct freq {
	uint64_t count[256];
	uint64_t total;
	double worst_slot_chi2;
};

static double chi2(const uint64_t *count, uint64_t total)
{
	double expected = (double)total / 256.0, sum = 0;

	for (int i = 0; i < 256; i++)
		sum += ((double)count[i] - expected) * ((double)count[i] - expected) / expected;
	return sum;
}

static int tally(void *ctx, uint32_t pos, const uint8_t *value)
{
	struct freq *f = ctx;
	uint64_t slot[256] = {0};
	double c;

	(void)pos;
	for (size_t i = 0; i < MFS_SLOT_BYTES; i++) {
		f->count[value[i]]++;
		slot[value[i]]++;
	}
	f->total += MFS_SLOT_BYTES;
	c = chi2(slot, MFS_SLOT_BYTES);
	if (c > f->worst_slot_chi2)
		f->worst_slot_chi2 = c;
	return 0;
}

static struct freq store_frequencies(struct mfs_store *s)
{
	struct freq f = {0};

	cr_assert_eq(mfs_store_foreach(s, tally, &f), 0);
	return f;
}

/* 255 degrees of freedom: p = 1e-6 lies near 362. */
#define CHI2_LIMIT 380.0

Test(store, slots_pass_chi_square_before_and_after_writes)
{
	struct mfs_store *s;
	struct mfs_volume *v;
	struct mfs_vtxn *t;
	struct freq f;
	uint8_t *zeros = calloc(1, 2u << 20);
	uint64_t flat[256] = {0};
	char *dir;

	tu_store(&dir, 128);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	f = store_frequencies(s);
	cr_assert_lt(chi2(f.count, f.total), CHI2_LIMIT, "random fill: %f", chi2(f.count, f.total));
	/* The most regular plaintext there is: zeros, in half the store. */
	v = tu_volume(s, "pw", NULL);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "zeros", 5, zeros, 2u << 20), 0);
	cr_assert_eq(mfs_obj_write(t, "zeros2", 6, zeros, 2u << 20), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	f = store_frequencies(s);
	cr_assert_lt(chi2(f.count, f.total), CHI2_LIMIT, "after writes: %f", chi2(f.count, f.total));
	cr_assert_lt(f.worst_slot_chi2, 420.0, "every slot alone: worst %f", f.worst_slot_chi2);
	/* The test can fail: a slot of zeros is far from uniform. */
	flat[0] = MFS_SLOT_BYTES;
	cr_assert_gt(chi2(flat, MFS_SLOT_BYTES), 1e6);
	mfs_volume_close(v);
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
	free(zeros);
}

/* Writes a u64 field (little-endian, width bytes) into the header and
 * makes its checksum right again, as anyone who can write the file could. */
static void forge_header(const char *dir, size_t at, uint64_t value, size_t width)
{
	char *header = path_of(dir, "header");
	uint8_t b[80], sum[32];
	int fd = open(header, O_RDWR);

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, b, sizeof b, 0), (ssize_t)sizeof b);
	for (size_t i = 0; i < width; i++)
		b[at + i] = (uint8_t)(value >> (8 * i));
	mfs_hash32(sum, b, 64);
	memcpy(b + 64, sum, 16);
	cr_assert_eq(pwrite(fd, b, sizeof b, 0), (ssize_t)sizeof b);
	close(fd);
	free(header);
}

static void set_version(const char *dir, uint32_t version)
{
	forge_header(dir, 8, version, 4);
}

Test(store, a_store_of_an_older_format_is_refused_with_what_to_do)
{
	struct mfs_store *s = NULL;
	char *dir;

	tu_store(&dir, 32);
	for (uint32_t version = 1; version <= 7; version++) {
		set_version(dir, version);
		cr_assert_eq(mfs_store_open(&s, dir), MFS_E_OLDSTORE, "version %u", version);
		cr_assert_null(s);
	}
	cr_assert_str_eq(mfs_strerror(MFS_E_OLDSTORE),
			 "store made by an older megafs, in a format this one does not read: make a "
			 "new store with 'megafs init' and copy the files over");
	set_version(dir, 9);
	cr_assert_eq(mfs_store_open(&s, dir), MFS_E_FORMAT, "a newer format: not ours to read");
	set_version(dir, 8);
	cr_assert_eq(mfs_store_open(&s, dir), 0, "the checksum rewrite itself is sound");
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
}

Test(store, nothing_but_init_ever_commits_to_lmdb)
{
	struct mfs_volume *v;
	struct mfs_store *s;
	char *dir, *data, *lock;
	uint8_t meta_before[2][128], meta_after[2][128];
	int fd;

	tu_store(&dir, 64);
	data = path_of(dir, "data.mdb");
	lock = path_of(dir, "lock.mdb");
	cr_assert_neq(access(lock, F_OK), 0, "no lock file is left after init");
	fd = open(data, O_RDONLY);
	cr_assert(fd >= 0);
	/* LMDB's two meta pages: page 0 and page 1 (4 KiB pages here). */
	cr_assert_eq(pread(fd, meta_before[0], 128, 0), 128);
	cr_assert_eq(pread(fd, meta_before[1], 128, 4096), 128);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	v = tu_volume(s, "pw", NULL);
	{
		struct mfs_vtxn *t;
		uint8_t *blob = calloc(1, 1u << 20);

		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		cr_assert_eq(mfs_obj_write(t, "x", 1, blob, 1u << 20), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
		free(blob);
	}
	mfs_volume_close(v);
	mfs_store_close(s);
	cr_assert_eq(pread(fd, meta_after[0], 128, 0), 128);
	cr_assert_eq(pread(fd, meta_after[1], 128, 4096), 128);
	close(fd);
	cr_assert_arr_eq(meta_before, meta_after, sizeof meta_before,
			 "both meta pages (transaction id, roots, free list) are as init left them");
	cr_assert_neq(access(lock, F_OK), 0, "opening takes no lock file");
	tu_rmtree(dir);
	free(data);
	free(lock);
	free(dir);
}

/* Slot writes take whole pages, LMDB's header of each slot's first page
 * included (store.c: no read before each write): every byte of data.mdb
 * outside the slot values (meta pages, the B-tree, every page header, the
 * tail init filled) must stay exactly as init left it, whatever is
 * written, rewritten and wiped. */
Test(store, slot_writes_change_nothing_but_slot_values)
{
	struct mfs_volume *v;
	struct mfs_store *s;
	char *dir, *data;
	uint8_t *before, *after, *blob = calloc(1, 1u << 20);
	size_t len_before, len_after;

	tu_store(&dir, 96);
	data = path_of(dir, "data.mdb");
	before = tu_read_file(data, &len_before);
	cr_assert_not_null(before);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	v = tu_volume(s, "pw", NULL);
	for (int round = 0; round < 3; round++) {
		struct mfs_vtxn *t;

		tu_fill_random(blob, 1u << 20, (uint64_t)round);
		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		cr_assert_eq(mfs_obj_write(t, "x", 1, blob, (1u << 20) - round * 70000u), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	}
	mfs_volume_close(v);
	after = tu_read_file(data, &len_after);
	cr_assert_not_null(after);
	cr_assert_eq(len_after, len_before);
	for (uint32_t pos = 0; pos < 96; pos++) {
		uint64_t off = mfs_store_slot_offset(s, pos);

		memset(before + off, 0, MFS_SLOT_BYTES);
		memset(after + off, 0, MFS_SLOT_BYTES);
	}
	mfs_store_close(s);
	cr_assert(memcmp(before, after, len_before) == 0,
		  "only slot values changed: page headers, tree and meta pages are init's");
	free(before);
	free(after);
	free(blob);
	tu_rmtree(dir);
	free(data);
	free(dir);
}

/* data.mdb's pages in the page cache (mincore on a mapping that faults
 * none in): what root on the running machine can count. */
static size_t resident_pages(const char *data)
{
	struct stat st;
	int fd = open(data, O_RDONLY);
	size_t n = 0, pages;
	uint8_t *vec;
	void *map;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0);
	pages = ((size_t)st.st_size + 4095) / 4096;
	vec = malloc(pages);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(vec && map != MAP_FAILED);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	munmap(map, (size_t)st.st_size);
	close(fd);
	free(vec);
	return n;
}

/* Which slots a session touched must not outlive it in the page cache.
 * On disk, not /tmp: tmpfs keeps every page resident, which shows nothing. */
Test(store, closing_leaves_none_of_the_stores_pages_in_the_page_cache)
{
	struct mfs_kdf_limits kdf;
	struct mfs_volume *v;
	struct mfs_store *s;
	struct mfs_vtxn *t;
	char dir[] = "/var/tmp/mfs-test-XXXXXX", *data;
	uint8_t *blob = malloc(300000), *back = malloc(300000);
	struct statfs fs;

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(mfs_kdf_preset(&kdf, "fast"), 0);
	cr_assert_not_null(mkdtemp(dir));
	if (statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
		rmdir(dir);
		cr_skip_test("/var/tmp is a tmpfs here: its pages never leave memory");
	}
	cr_assert_eq(mfs_store_create(dir, 64, &kdf), 0);
	data = path_of(dir, "data.mdb");
	cr_assert_eq(resident_pages(data), 0, "init leaves nothing in the page cache");
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	v = tu_volume(s, "pw", NULL);
	tu_fill_random(blob, 300000, 7);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "x", 1, blob, 300000), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_obj_read(t, "x", 1, 0, back, 300000), 0);
	mfs_vtxn_abort(t);
	cr_assert(memcmp(back, blob, 300000) == 0);
	mfs_volume_close(v);
	/* Else the test below proves nothing. */
	cr_assert_gt(resident_pages(data), 5 * 17, "the session's slots were in the page cache");
	mfs_store_close(s);
	cr_assert_eq(resident_pages(data), 0, "closing the store dropped every page");
	/* Dropped, not lost. */
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_volume_open(&v, s, "pw", 2, NULL, 0), 0);
	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	memset(back, 0, 300000);
	cr_assert_eq(mfs_obj_read(t, "x", 1, 0, back, 300000), 0);
	mfs_vtxn_abort(t);
	cr_assert(memcmp(back, blob, 300000) == 0);
	mfs_volume_close(v);
	mfs_store_close(s);
	tu_rmtree(dir);
	free(data);
	free(blob);
	free(back);
}

/* Headers anyone who can write the file could forge, checksum and all. */
Test(store, forged_headers_are_refused_before_anything_is_allocated_or_derived)
{
	static const struct {
		size_t at, width;
		uint64_t value;
		int want;
		const char *why;
	} forged[] = {
		{40, 8, UINT64_C(1) << 40, MFS_E_FORMAT, "1 TiB of Argon2id memory at every open"},
		{40, 8, (UINT64_C(4) << 30) + 1024, MFS_E_FORMAT, "just over the 4 GiB cap"},
		{32, 8, 33, MFS_E_FORMAT, "33 Argon2id passes (the cap is 32)"},
		{16, 8, UINT64_C(1) << 32, MFS_E_CORRUPT, "2^32 slots in a file of a few MiB"},
		{16, 8, 17, MFS_E_CORRUPT, "one slot more than the records there"},
	};

	for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
		struct mfs_store *s = NULL;
		char *dir;

		tu_store(&dir, 16);
		forge_header(dir, forged[i].at, forged[i].value, forged[i].width);
		cr_assert_eq(mfs_store_open(&s, dir), forged[i].want, "%s", forged[i].why);
		cr_assert_null(s);
		tu_rmtree(dir);
		free(dir);
	}
}

Test(store, a_claim_is_seen_from_any_handle_until_released_or_closed)
{
	struct mfs_store *a, *b;
	char *dir;

	tu_store(&dir, 64);
	cr_assert_eq(mfs_store_open(&a, dir), 0);
	cr_assert_eq(mfs_store_open(&b, dir), 0);
	cr_assert_eq(mfs_store_claimed(b, 42), 0, "nobody claims 42 yet");
	cr_assert_eq(mfs_store_claim(a, 42), 0);
	cr_assert_eq(mfs_store_claimed(b, 42), 1, "another handle sees the claim");
	cr_assert_eq(mfs_store_claimed(a, 42), 1, "so does the handle that holds it");
	cr_assert_eq(mfs_store_claimed(b, 43), 0, "a claim covers its token alone");
	mfs_store_unclaim(a, 42);
	cr_assert_eq(mfs_store_claimed(b, 42), 0, "released");
	cr_assert_eq(mfs_store_claim(a, 7), 0);
	mfs_store_close(a);
	cr_assert_eq(mfs_store_claimed(b, 7), 0, "closing the store drops its claims, as dying does");
	mfs_store_close(b);
	tu_rmtree(dir);
	free(dir);
}

/* A process waiting for the writer's lock is seen waiting by the holder
 * (mfs_store_lock_wanted: chained commits give the lock up then), and
 * only while it waits. */
Test(store, a_process_waiting_for_the_lock_is_seen_by_its_holder)
{
	char *dir;
	struct mfs_store *s;
	int ready[2], status, seen = 0;
	pid_t child;

	tu_store(&dir, 16);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_lock_wanted(s), 0, "nobody waits yet");
	cr_assert_eq(pipe(ready), 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		struct mfs_store *other;
		char byte = 1;

		if (mfs_store_open(&other, dir) != 0)
			_exit(2);
		if (write(ready[1], &byte, 1) != 1)
			_exit(3);
		if (mfs_store_lock(other) != 0) /* waits for the parent */
			_exit(4);
		mfs_store_unlock(other);
		mfs_store_close(other);
		_exit(0);
	}
	{
		char byte;

		cr_assert_eq(read(ready[0], &byte, 1), 1);
	}
	for (int i = 0; i < 500 && !seen; i++) { /* up to 5 s for it to block */
		seen = mfs_store_lock_wanted(s);
		if (!seen)
			usleep(10000);
	}
	cr_assert_eq(seen, 1, "the waiting process was not seen");
	mfs_store_unlock(s);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_lock_wanted(s), 0, "the mark went with the wait");
	mfs_store_unlock(s);
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
}
