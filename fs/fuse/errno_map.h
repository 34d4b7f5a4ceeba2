/* errno_map: the one place megafs's error codes become the errno a file
 * operation returns. Every FUSE handler replies through it, so a megafs
 * code (MFS_E_FULL from a full store, say) reaches the program as the errno
 * that means the same thing (ENOSPC), never as a stray number.
 *
 * Pure: no state, no FUSE; callable from any thread. */
#ifndef MFS_ERRNO_MAP_H
#define MFS_ERRNO_MAP_H

/* The positive errno for rc, as fuse_reply_err takes it:
 *   0                 -> 0
 *   -errno (-1..-4095) -> errno, unchanged (-EROFS -> EROFS)
 *   MFS_E_FULL -> ENOSPC, MFS_E_NOTFOUND -> ENOENT, MFS_E_EXISTS -> EEXIST,
 *   MFS_E_FORMAT -> EINVAL, MFS_E_BADPASS -> EACCES, and EIO for what is
 *   damaged, forged or failed below (MFS_E_CORRUPT, MFS_E_AUTH,
 *   MFS_E_NOTCANON, MFS_E_REPLAY, MFS_E_TRUNCATED, MFS_E_NOSTORE,
 *   MFS_E_LMDB)
 *   anything else (a positive rc, an unknown code) -> EIO. */
int mfs_fuse_errno(int rc);

#endif
