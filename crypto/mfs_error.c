#include "crypto/mfs_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
	[MFS_E_AUTH - MFS_E_FIRST] = "authentication failed",
	[MFS_E_BADPASS - MFS_E_FIRST] = "wrong password: no volume in this store opens with it",
	[MFS_E_CORRUPT - MFS_E_FIRST] = "stored data is damaged",
	[MFS_E_FORMAT - MFS_E_FIRST] = "malformed input",
	[MFS_E_NOTCANON - MFS_E_FIRST] = "signed JSON is not in canonical form",
	[MFS_E_REPLAY - MFS_E_FIRST] = "manifest sequence is not newer than the last one seen (replay or rollback)",
	[MFS_E_FULL - MFS_E_FIRST] = "store full: no free slots left",
	[MFS_E_NOSTORE - MFS_E_FIRST] = "no megafs store there (run 'megafs init')",
	[MFS_E_EXISTS - MFS_E_FIRST] = "already exists",
	[MFS_E_NOTFOUND - MFS_E_FIRST] = "not found",
	[MFS_E_TRUNCATED - MFS_E_FIRST] = "store file is truncated (shorter than its header says)",
	[MFS_E_LMDB - MFS_E_FIRST] = "LMDB failure",
	[MFS_E_OVERWRITTEN - MFS_E_FIRST] =
		"this volume was partly overwritten by another volume's writes (made without --protect-file): what is left reads, nothing more can be written",
	[MFS_E_OLDSTORE - MFS_E_FIRST] =
		"store made by an older megafs, in a format this one does not read: make a new store with 'megafs init' and copy the files over",
	[MFS_E_NOKEY - MFS_E_FIRST] =
		"this channel is private and this volume holds no key that opens it: ask its owner for the link with its read key (megafs://KEY#READ-KEY) or for a grant to this volume's key (megafs id)",
	[MFS_E_CAS - MFS_E_FIRST] =
		"the item changed since it was read (its sequence number is not the one given as cas): read it again and retry",
	[MFS_E_PROXY - MFS_E_FIRST] = "the proxy refused every connection to the peers and trackers known",
};

const char *mfs_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err > MFS_E_FIRST && err < MFS_E_LAST)
		return messages[err - MFS_E_FIRST];
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

int mfs_error_why(char *why, size_t why_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}
