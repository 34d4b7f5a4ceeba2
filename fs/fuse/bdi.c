#include "fs/fuse/bdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/mfs_error.h"

/* Field n (0-based, space-separated) of line [s, end): its start and
 * length, or NULL. */
static const char *field(const char *s, const char *end, unsigned n, size_t *len)
{
	for (; n > 0 && s < end; n--) {
		const char *sp = memchr(s, ' ', (size_t)(end - s));

		if (!sp)
			return NULL;
		s = sp + 1;
	}
	if (s >= end)
		return NULL;
	const char *sp = memchr(s, ' ', (size_t)(end - s));
	*len = (size_t)((sp ? sp : end) - s);
	return s;
}

int mfs_bdi_device_of(const char *mountinfo, const char *source, char *dev, size_t cap)
{
	const size_t want = strlen(source);

	for (const char *line = mountinfo; *line;) {
		const char *end = strchr(line, '\n');
		const char *sep, *src, *d;
		size_t src_len, d_len;

		if (!end)
			end = line + strlen(line);
		/* Optional fields come between the mount options and " - ". */
		sep = NULL;
		for (const char *p = line; p + 3 <= end; p++)
			if (memcmp(p, " - ", 3) == 0) {
				sep = p + 3;
				break;
			}
		src = sep ? field(sep, end, 1, &src_len) : NULL;
		if (src && src_len == want && memcmp(src, source, want) == 0) {
			d = field(line, end, 2, &d_len);
			if (!d || d_len == 0 || d_len >= cap || !memchr(d, ':', d_len))
				return MFS_E_FORMAT;
			memcpy(dev, d, d_len);
			dev[d_len] = '\0';
			return 0;
		}
		line = *end ? end + 1 : end;
	}
	return MFS_E_NOTFOUND;
}

/* /proc/self/mountinfo, whole, NUL-terminated (free()). */
static int read_mountinfo(char **out)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || !buf) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int mfs_bdi_raise_readahead(const char *source, unsigned kb)
{
	char *info = NULL, dev[32], path[96], text[16];
	int rc = read_mountinfo(&info), fd;
	size_t n;

	if (rc == 0)
		rc = mfs_bdi_device_of(info, source, dev, sizeof dev);
	free(info);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
	n = (size_t)snprintf(text, sizeof text, "%u\n", kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, text, n);
	rc = w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}
