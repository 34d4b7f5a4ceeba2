/* mfs_error: the one error convention of megafs.
 *
 * Every function returns 0 on success or a negative code: either -errno
 * (e.g. -ENOMEM, -EIO) or one of megafs's own codes below, which sit in a
 * reserved block below any errno. mfs_strerror() describes both. The FUSE
 * boundary maps these to errno in one place. */
#ifndef MFS_ERROR_H
#define MFS_ERROR_H

#include <stddef.h>

enum {
	MFS_E_FIRST = -40000,
	MFS_E_AUTH,        /* authentication failed (AEAD open, signature) */
	MFS_E_BADPASS,     /* no volume in this store opens with the password */
	MFS_E_CORRUPT,     /* stored data is damaged */
	MFS_E_FORMAT,      /* malformed input */
	MFS_E_NOTCANON,    /* signed JSON is not in canonical form */
	MFS_E_REPLAY,      /* manifest sequence not newer than the last seen */
	MFS_E_FULL,        /* the store has no free slots left */
	MFS_E_NOSTORE,     /* no store at that path */
	MFS_E_EXISTS,      /* already exists */
	MFS_E_NOTFOUND,    /* no such object */
	MFS_E_TRUNCATED,   /* store file shorter than its header says */
	MFS_E_LMDB,        /* an LMDB failure with no better mapping */
	MFS_E_OLDSTORE,    /* a store of an older, refused format */
	MFS_E_OVERWRITTEN, /* another volume's unprotected writes took this one's place */
	MFS_E_NOKEY,       /* a sealed manifest that no key of this volume opens */
	MFS_E_CAS,         /* a DHT put's cas is not the stored item's seq (BEP 44) */
	MFS_E_PROXY,       /* the proxy refused every dial to every peer and tracker */
	MFS_E_LAST
};

/* A static, human-readable description of err (0, -errno or MFS_E_*). */
const char *mfs_strerror(int err);

/* For parsers that explain a refusal: formats the reason into why[why_len]
 * (nothing when why is NULL) and returns rc. */
int mfs_error_why(char *why, size_t why_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
