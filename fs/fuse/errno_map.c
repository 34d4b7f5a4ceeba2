#include "fs/fuse/errno_map.h"

#include <errno.h>

#include "crypto/mfs_error.h"

static const int errnos[] = {
	[MFS_E_AUTH - MFS_E_FIRST] = EIO,       /* a blob or manifest that fails its MAC */
	[MFS_E_BADPASS - MFS_E_FIRST] = EACCES,
	[MFS_E_CORRUPT - MFS_E_FIRST] = EIO,
	[MFS_E_FORMAT - MFS_E_FIRST] = EINVAL,
	[MFS_E_NOTCANON - MFS_E_FIRST] = EIO,   /* a stored manifest not as signed */
	[MFS_E_REPLAY - MFS_E_FIRST] = EIO,
	[MFS_E_FULL - MFS_E_FIRST] = ENOSPC,
	[MFS_E_NOSTORE - MFS_E_FIRST] = EIO,    /* the store went away under the mount */
	[MFS_E_EXISTS - MFS_E_FIRST] = EEXIST,
	[MFS_E_NOTFOUND - MFS_E_FIRST] = ENOENT,
	[MFS_E_TRUNCATED - MFS_E_FIRST] = EIO,
	[MFS_E_LMDB - MFS_E_FIRST] = EIO,
	[MFS_E_OLDSTORE - MFS_E_FIRST] = EIO,
	[MFS_E_OVERWRITTEN - MFS_E_FIRST] = EIO, /* a commit with nowhere left to go */
	[MFS_E_NOKEY - MFS_E_FIRST] = EACCES,   /* a private channel this volume cannot read */
	[MFS_E_CAS - MFS_E_FIRST] = EAGAIN,     /* a DHT put that lost a race (no FUSE path yet) */
	[MFS_E_PROXY - MFS_E_FIRST] = EHOSTUNREACH, /* a read whose every peer the proxy refused */
};

/* A code added to mfs_error.h must be given its errno here. */
_Static_assert(sizeof errnos / sizeof errnos[0] == MFS_E_LAST - MFS_E_FIRST,
	       "every MFS_E_* code needs an errno");

int mfs_fuse_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc < 0 && rc > -4096)
		return -rc;
	if (rc > MFS_E_FIRST && rc < MFS_E_LAST && errnos[rc - MFS_E_FIRST] != 0)
		return errnos[rc - MFS_E_FIRST];
	return EIO;
}
