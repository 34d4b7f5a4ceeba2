/* outfile: where extract and fetch (the command and libmegafs) write a file
 * they produce, whole or not at all.
 *
 * A path that is a regular file, or is not there yet, is written beside
 * itself as PATH.part and renamed over PATH only once complete and synced:
 * a failure removes PATH.part and leaves PATH as it was. A path that exists
 * and is not a regular file (a character or block device, a FIFO, a socket)
 * is written where it is: renaming over it would put a file in the
 * device's place (`-o /dev/null` run as root replaced /dev/null). What a
 * failure wrote there stays written; nothing can take it back.
 *
 * Threads: a struct mfs_outfile belongs to one caller. */
#ifndef MFS_OUTFILE_H
#define MFS_OUTFILE_H

#include <stdint.h>
#include <sys/types.h>

struct mfs_outfile {
	int fd;         /* write here; -1 when not open */
	int in_place;   /* not a regular file: no .part, no rename */
	int borrowed;   /* fd is the caller's (standard output): not closed */
	char *path;     /* the asked path */
	char *part;     /* PATH.part, unless in_place */
};

/* Opens path for writing: PATH.part, created or truncated with mode (less
 * the umask), or path itself when it is a device or FIFO. 0, or -errno
 * (o->fd is -1 and nothing was created). */
int mfs_outfile_open(struct mfs_outfile *o, const char *path, mode_t mode);

/* Writes to the caller's fd (standard output) as it is: nothing to sync,
 * close, rename or remove. */
void mfs_outfile_borrow(struct mfs_outfile *o, int fd);

/* Syncs what was written to o, where it can be synced (not a pipe, a
 * terminal or a character device). 0 or -errno (ENOSPC: the disk filled). */
int mfs_outfile_sync(struct mfs_outfile *o);

/* Starts the disk writing bytes [off, off+len) of fd, just written, without
 * waiting for it: a long output's pages are then on their way while the
 * rest is made, and the final fsync has little left (else a file's worth
 * of dirty pages waits for it). Not a file (a pipe, a device): nothing. */
void mfs_outfile_start_writeback(int fd, uint64_t off, uint64_t len);

/* Ends o: when rc is 0, syncs the data (where the file can be synced),
 * closes and renames PATH.part to path; else, or when any of that fails,
 * removes PATH.part. Returns rc, or the first error of ending it. */
int mfs_outfile_close(struct mfs_outfile *o, int rc);

#endif
