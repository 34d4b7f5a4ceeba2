/* bdi: the kernel's read-ahead window of a megafs mount.
 *
 * The kernel caps a FUSE mount's read-ahead at 128 KiB whatever the
 * filesystem asks in its INIT reply (it takes the smaller of the two), so
 * a sequential read reaches the daemon as 128 KiB requests, one window at
 * a time. Root may raise it through the mount's backing device in sysfs:
 * mfs_bdi_raise_readahead does that for this process's own mount (its
 * source "megafs:PID"), found in /proc/self/mountinfo without touching
 * the mount (a stat there would wait for the daemon's own loop). */
#ifndef MFS_BDI_H
#define MFS_BDI_H

#include <stddef.h>

/* The read-ahead, in KiB, set on a mount this process serves. */
#define MFS_BDI_READAHEAD_KB 1024u

/* Writes kb to /sys/class/bdi/MAJOR:MINOR/read_ahead_kb of the mount
 * whose source is source. 0; MFS_E_NOTFOUND when no such mount is listed;
 * -errno when the file cannot be written (not root: -EACCES). */
int mfs_bdi_raise_readahead(const char *source, unsigned kb);

/* The line of a mountinfo table (as /proc/self/mountinfo) whose source
 * (the field after the fstype, past " - ") is source: its device
 * "MAJOR:MINOR" in dev[cap]. 0, MFS_E_NOTFOUND, or MFS_E_FORMAT. Split
 * out to be tested on given text. */
int mfs_bdi_device_of(const char *mountinfo, const char *source, char *dev, size_t cap);

#endif
