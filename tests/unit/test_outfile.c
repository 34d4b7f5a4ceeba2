/* fs/blob/outfile: a file is written whole or not at all, and a device or a
 * FIFO is written where it is, never replaced by a file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/blob/outfile.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_tempdir();
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

TestSuite(outfile, .init = setup, .fini = teardown);

static char *path_in(const char *name)
{
	char *p = NULL;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void expect_text(const char *path, const char *want)
{
	char got[64] = {0};
	FILE *f = fopen(path, "r");

	cr_assert(f, "%s is missing", path);
	fread(got, 1, sizeof got - 1, f);
	fclose(f);
	cr_expect_str_eq(got, want, "%s", path);
}

Test(outfile, a_file_appears_under_its_name_only_once_whole)
{
	char *path = path_in("out"), *part = path_in("out.part");
	struct mfs_outfile o;

	put(path, "old");
	cr_assert_eq(mfs_outfile_open(&o, path, 0600), 0);
	cr_expect_eq(o.in_place, 0);
	cr_assert_eq(write(o.fd, "new", 3), 3);
	expect_text(path, "old"); /* until it is whole */
	expect_text(part, "new");
	cr_expect_eq(mfs_outfile_close(&o, 0), 0);
	expect_text(path, "new");
	cr_expect(access(part, F_OK) != 0 && errno == ENOENT, "the .part file is left");
	cr_expect_eq(o.fd, -1);
	free(path);
	free(part);
}

Test(outfile, a_failure_keeps_the_old_file_and_leaves_no_part)
{
	char *path = path_in("out"), *part = path_in("out.part"), *fresh = path_in("fresh");
	struct mfs_outfile o;

	put(path, "old");
	cr_assert_eq(mfs_outfile_open(&o, path, 0600), 0);
	cr_assert_eq(write(o.fd, "half", 4), 4);
	cr_expect_eq(mfs_outfile_close(&o, -EIO), -EIO);
	expect_text(path, "old");
	cr_expect(access(part, F_OK) != 0, "the .part file is left");

	cr_assert_eq(mfs_outfile_open(&o, fresh, 0600), 0);
	cr_expect_eq(mfs_outfile_close(&o, -ECANCELED), -ECANCELED);
	cr_expect(access(fresh, F_OK) != 0, "a failed new file exists");
	free(path);
	free(part);
	free(fresh);
}

Test(outfile, a_path_it_cannot_create_is_an_error_and_nothing_is_made)
{
	char *path = path_in("no/such/dir/out");
	struct mfs_outfile o;

	cr_expect_eq(mfs_outfile_open(&o, path, 0600), -ENOENT);
	cr_expect_eq(o.fd, -1);
	cr_expect_null(o.path);
	free(path);
}

Test(outfile, a_fifo_is_written_where_it_is)
{
	char *path = path_in("fifo"), *part = path_in("fifo.part");
	char got[16] = {0};
	struct mfs_outfile o;
	struct stat st;
	int rd;

	cr_assert_eq(mkfifo(path, 0600), 0);
	/* The reading end first, without waiting for a writer: the write end
	 * then opens at once, and a file written instead leaves it empty. */
	cr_assert_geq(rd = open(path, O_RDONLY | O_NONBLOCK), 0);
	cr_assert_eq(mfs_outfile_open(&o, path, 0600), 0);
	cr_expect_eq(o.in_place, 1);
	cr_assert_eq(write(o.fd, "through", 7), 7);
	cr_expect_eq(mfs_outfile_close(&o, 0), 0, "a FIFO cannot be synced, and need not be");
	cr_expect_eq(read(rd, got, sizeof got - 1), 7);
	cr_expect_str_eq(got, "through");
	cr_assert_eq(stat(path, &st), 0);
	cr_expect(S_ISFIFO(st.st_mode), "the FIFO was replaced");
	cr_expect(access(part, F_OK) != 0);
	close(rd);
	free(path);
	free(part);
}

/* The bug this module was written for: `extract -o /dev/null` as root
 * renamed a file over the device. A node of its own (the null device, 1:3)
 * stands in for /dev/null; where this process may not make one, the test
 * says so and stops. */
Test(outfile, a_character_device_stays_a_device_even_when_the_write_fails)
{
	char *path = path_in("null"), *part = path_in("null.part");
	struct mfs_outfile o;
	struct stat st;

	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) != 0) {
		cr_log_warn("mknod: %s: not checked here", strerror(errno));
		goto out;
	}
	for (int fail = 0; fail < 2; fail++) {
		int rc = mfs_outfile_open(&o, path, 0600);

		if (rc == -EACCES || rc == -EPERM) { /* a nodev mount */
			cr_log_warn("opening a device node here: %s", strerror(-rc));
			goto out;
		}
		cr_assert_eq(rc, 0);
		cr_expect_eq(o.in_place, 1);
		cr_assert_eq(write(o.fd, "gone", 4), 4);
		cr_expect_eq(mfs_outfile_close(&o, fail ? -EIO : 0), fail ? -EIO : 0);
		cr_assert_eq(stat(path, &st), 0, "the device node was removed");
		cr_expect(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
			  "the device was replaced by a file");
		cr_expect(access(part, F_OK) != 0);
	}
out:
	free(path);
	free(part);
}

Test(outfile, a_borrowed_descriptor_is_left_open_for_its_owner)
{
	int fds[2];
	char got[8] = {0};
	struct mfs_outfile o;

	cr_assert_eq(pipe(fds), 0);
	mfs_outfile_borrow(&o, fds[1]);
	cr_assert_eq(write(o.fd, "kept", 4), 4);
	cr_expect_eq(mfs_outfile_close(&o, 0), 0);
	cr_expect_eq(fcntl(fds[1], F_GETFD), 0, "the caller's descriptor was closed");
	cr_assert_eq(read(fds[0], got, sizeof got - 1), 4);
	cr_expect_str_eq(got, "kept");
	close(fds[0]);
	close(fds[1]);
}
