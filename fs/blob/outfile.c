#include "fs/blob/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void outfile_reset(struct mfs_outfile *o)
{
	free(o->path);
	free(o->part);
	memset(o, 0, sizeof *o);
	o->fd = -1;
}

int mfs_outfile_open(struct mfs_outfile *o, const char *path, mode_t mode)
{
	struct stat st;
	int rc = 0;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	o->in_place = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
	if (!(o->path = strdup(path)))
		rc = -ENOMEM;
	if (rc == 0 && !o->in_place && asprintf(&o->part, "%s.part", path) < 0) {
		o->part = NULL;
		rc = -ENOMEM;
	}
	if (rc == 0 && o->in_place)
		o->fd = open(path, O_WRONLY | O_CLOEXEC);
	else if (rc == 0)
		o->fd = open(o->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (rc == 0 && o->fd < 0)
		rc = -errno;
	if (rc != 0)
		outfile_reset(o);
	return rc;
}

void mfs_outfile_borrow(struct mfs_outfile *o, int fd)
{
	memset(o, 0, sizeof *o);
	o->fd = fd;
	o->in_place = 1;
	o->borrowed = 1;
}

int mfs_outfile_sync(struct mfs_outfile *o)
{
	/* A pipe, a terminal or a character device cannot be synced
	 * (EINVAL, EROFS): what it was given is all there is to do. The
	 * caller's own descriptor is the caller's to sync. */
	if (o->borrowed || o->fd < 0 || fsync(o->fd) == 0)
		return 0;
	return o->in_place && (errno == EINVAL || errno == EROFS) ? 0 : -errno;
}

void mfs_outfile_start_writeback(int fd, uint64_t off, uint64_t len)
{
	/* ESPIPE or EINVAL where there is no page cache to write back. */
	(void)sync_file_range(fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
}

int mfs_outfile_close(struct mfs_outfile *o, int rc)
{
	if (rc == 0)
		rc = mfs_outfile_sync(o);
	if (o->fd >= 0 && !o->borrowed && close(o->fd) != 0 && rc == 0)
		rc = -errno;
	if (o->part) {
		if (rc == 0 && rename(o->part, o->path) != 0)
			rc = -errno;
		if (rc != 0)
			unlink(o->part);
	}
	outfile_reset(o);
	return rc;
}
