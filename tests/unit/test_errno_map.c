/* fs/fuse/errno_map: every megafs code as the errno a file operation
 * returns, without a mount. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>

#include "crypto/mfs_error.h"
#include "fs/fuse/errno_map.h"

static const struct {
	int code;
	int want;
	const char *name;
} cases[] = {
	{MFS_E_AUTH, EIO, "MFS_E_AUTH"},
	{MFS_E_BADPASS, EACCES, "MFS_E_BADPASS"},
	{MFS_E_CORRUPT, EIO, "MFS_E_CORRUPT"},
	{MFS_E_FORMAT, EINVAL, "MFS_E_FORMAT"},
	{MFS_E_NOTCANON, EIO, "MFS_E_NOTCANON"},
	{MFS_E_REPLAY, EIO, "MFS_E_REPLAY"},
	{MFS_E_FULL, ENOSPC, "MFS_E_FULL"},
	{MFS_E_NOSTORE, EIO, "MFS_E_NOSTORE"},
	{MFS_E_EXISTS, EEXIST, "MFS_E_EXISTS"},
	{MFS_E_NOTFOUND, ENOENT, "MFS_E_NOTFOUND"},
	{MFS_E_TRUNCATED, EIO, "MFS_E_TRUNCATED"},
	{MFS_E_LMDB, EIO, "MFS_E_LMDB"},
	{MFS_E_OLDSTORE, EIO, "MFS_E_OLDSTORE"},
	{MFS_E_OVERWRITTEN, EIO, "MFS_E_OVERWRITTEN"},
	{MFS_E_NOKEY, EACCES, "MFS_E_NOKEY"},
	{MFS_E_CAS, EAGAIN, "MFS_E_CAS"},
	{MFS_E_PROXY, EHOSTUNREACH, "MFS_E_PROXY"},
};

#define CASES (sizeof cases / sizeof cases[0])

Test(errno_map, every_megafs_code_has_its_errno)
{
	for (size_t i = 0; i < CASES; i++)
		cr_expect_eq(mfs_fuse_errno(cases[i].code), cases[i].want, "%s gave %d, not %d",
			     cases[i].name, mfs_fuse_errno(cases[i].code), cases[i].want);
}

Test(errno_map, the_cases_above_cover_every_code)
{
	for (int code = MFS_E_FIRST + 1; code < MFS_E_LAST; code++) {
		size_t i = 0;

		while (i < CASES && cases[i].code != code)
			i++;
		cr_expect_lt(i, CASES, "code %d (%s) is not tested here", code, mfs_strerror(code));
	}
}

Test(errno_map, errnos_pass_through_unchanged)
{
	static const int errnos[] = {EPERM, ENOENT, EIO, ENOMEM, EACCES, EEXIST, ENOTDIR, EISDIR,
				     EINVAL, ENOSPC, EROFS, ENAMETOOLONG, ENOTEMPTY, EBADF, EBUSY};

	cr_assert_eq(mfs_fuse_errno(0), 0);
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
		cr_expect_eq(mfs_fuse_errno(-errnos[i]), errnos[i]);
	cr_assert_eq(mfs_fuse_errno(-4095), 4095);
}

Test(errno_map, anything_else_is_eio)
{
	static const int odd[] = {1, EIO + 1, INT_MAX, -4096, MFS_E_FIRST, MFS_E_LAST, -39000,
				  -100000, INT_MIN};

	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		cr_expect_eq(mfs_fuse_errno(odd[i]), EIO, "%d", odd[i]);
}

/* The kernel takes 1..4095 (0 for success): nothing else may come out. */
Test(errno_map, only_valid_errnos_come_out)
{
	for (int rc = MFS_E_FIRST - 100; rc < 5000; rc++) {
		int e = mfs_fuse_errno(rc);

		if (rc == 0)
			continue;
		cr_assert(e > 0 && e < 4096, "%d gave %d", rc, e);
	}
}
