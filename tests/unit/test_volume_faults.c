/* fs/store/volume when the disk fails a sync: a commit in line, and a
 * chained one whose syncs fail behind the next link. The binary is linked
 * with --wrap=fdatasync (tests/CMakeLists.txt), so the store's syncs go
 * through the counter below; from the chosen call on they fail with EIO,
 * as a disk that has gone bad does. Every failure must leave the volume
 * as it was before the failed commit (in memory and when opened again)
 * and give back every slot it took; once the disk works again, so does
 * the volume. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/store/volume.h"
#include "tests/unit/testutil.h"

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

static long fail_from = -1; /* the first sync (from 0) to fail; -1: none */
static long syncs;          /* syncs since the counter was set */

int __wrap_fdatasync(int fd)
{
	long from = __atomic_load_n(&fail_from, __ATOMIC_ACQUIRE);

	if (from >= 0 && __atomic_fetch_add(&syncs, 1, __ATOMIC_ACQ_REL) >= from) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

static void fail_syncs_from(long n)
{
	__atomic_store_n(&syncs, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&fail_from, n, __ATOMIC_RELEASE);
}

struct fixture {
	char *dir;
	struct mfs_store *store;
	struct mfs_volume *vol;
	uint8_t *data;
};

#define LEN 200000u

static struct fixture setup(void)
{
	struct fixture f;

	fail_syncs_from(-1);
	tu_store(&f.dir, 256);
	cr_assert_eq(mfs_store_open(&f.store, f.dir), 0);
	f.vol = tu_volume(f.store, "pw", NULL);
	f.data = malloc(3 * LEN);
	tu_fill_random(f.data, 3 * LEN, 5);
	return f;
}

static void teardown(struct fixture *f)
{
	fail_syncs_from(-1);
	mfs_volume_close(f->vol);
	mfs_store_close(f->store);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->data);
}

static uint64_t used(struct mfs_volume *v)
{
	struct mfs_volume_stats st;

	cr_assert_eq(mfs_volume_stats(v, &st), 0);
	return st.used_slots;
}

static int get(struct mfs_volume *v, const char *name, uint8_t *out)
{
	struct mfs_vtxn *t;
	uint64_t len = 0;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	rc = mfs_obj_size(t, name, strlen(name), &len);
	if (rc == 0 && len != LEN)
		rc = MFS_E_CORRUPT;
	if (rc == 0)
		rc = mfs_obj_read(t, name, strlen(name), 0, out, LEN);
	mfs_vtxn_abort(t);
	return rc;
}

static void put(struct mfs_volume *v, const char *name, const uint8_t *data)
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, name, strlen(name), data, LEN), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

/* The state before the failed commit: base whole, a and b absent, the
 * slots as they were; the same once the volume is opened again; and a
 * write works again. */
static void expect_state_before(struct fixture *f, uint64_t used_before)
{
	uint8_t *got = malloc(LEN);

	for (int round = 0; round < 2; round++) {
		cr_assert_eq(get(f->vol, "base", got), 0, "base is readable (round %d)", round);
		cr_assert_arr_eq(got, f->data, LEN);
		cr_assert_eq(get(f->vol, "a", got), MFS_E_NOTFOUND);
		cr_assert_eq(get(f->vol, "b", got), MFS_E_NOTFOUND);
		cr_assert_eq(used(f->vol), used_before, "every slot taken was given back");
		mfs_volume_close(f->vol);
		cr_assert_eq(mfs_volume_open(&f->vol, f->store, "pw", 2, NULL, 0), 0);
	}
	put(f->vol, "a", f->data + LEN);
	cr_assert_eq(get(f->vol, "a", got), 0);
	cr_assert_arr_eq(got, f->data + LEN, LEN);
	free(got);
}

/* base committed; then a transaction that writes a and deletes base,
 * whose commit will meet syncs failing from the first-th on. *before: the
 * slots used before it. */
static struct mfs_vtxn *doomed(struct fixture *f, long first, uint64_t *before)
{
	struct mfs_vtxn *t;

	put(f->vol, "base", f->data);
	*before = used(f->vol);
	cr_assert_eq(mfs_vtxn_begin(f->vol, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "a", 1, f->data + LEN, LEN), 0);
	cr_assert_eq(mfs_obj_delete(t, "base", 4), 0);
	fail_syncs_from(first);
	return t;
}

/* The first sync of a commit fails (its slots may not be on the disk),
 * and, in the second case, the second (its superblock may be). */
Test(volume_faults, a_commit_whose_sync_fails_leaves_the_state_before)
{
	for (long first = 0; first < 2; first++) {
		struct fixture f = setup();
		uint64_t before;
		struct mfs_vtxn *t = doomed(&f, first, &before);

		cr_assert_eq(mfs_vtxn_commit(t), -EIO, "sync %ld failed", first);
		fail_syncs_from(-1);
		expect_state_before(&f, before);
		teardown(&f);
	}
}

/* A chained commit's syncs fail behind the next link: the next link's
 * commit says so (it was built on that state), and neither link's
 * writes stay. */
Test(volume_faults, a_link_whose_syncs_fail_behind_fails_the_next_and_leaves_the_state_before)
{
	for (long first = 0; first < 2; first++) {
		struct fixture f = setup();
		uint64_t before;
		struct mfs_vtxn *t = doomed(&f, first, &before), *next;

		cr_assert_eq(mfs_vtxn_commit_chained(t, &next), 0, "the map is written");
		cr_assert_eq(mfs_obj_write(next, "b", 1, f.data + 2 * LEN, LEN), 0);
		cr_assert_eq(mfs_vtxn_commit(next), -EIO, "sync %ld failed behind", first);
		fail_syncs_from(-1);
		expect_state_before(&f, before);
		teardown(&f);
	}
}
