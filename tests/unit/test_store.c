/* fs/store/store: creation, opening, damage, and what the file reveals. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	uint64_t count;
	char *dir, *data;
	struct mfs_kdf_limits kdf;

	tu_store(&dir, 64);
	data = path_of(dir, "data.mdb");
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_store_record_count(s, &count), 0);
	cr_assert_eq(count, 64);
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

static int tally(void *ctx, const uint8_t *key, const uint8_t *value)
{
	struct freq *f = ctx;
	uint64_t slot[256] = {0};
	double c;

	(void)key;
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
	struct mfs_store_txn *t;
	struct freq f = {0};

	cr_assert_eq(mfs_store_txn_begin(s, 0, &t), 0);
	cr_assert_eq(mfs_store_foreach(t, tally, &f), 0);
	mfs_store_txn_abort(t);
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
