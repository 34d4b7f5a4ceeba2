#include "net/bootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
	[MFS_BOOTSTRAP_TRACKER] = "tracker",
	[MFS_BOOTSTRAP_PEER] = "peer",
};

const char *mfs_bootstrap_kind_name(enum mfs_bootstrap_kind kind)
{
	return kind == MFS_BOOTSTRAP_PEER ? kind_names[MFS_BOOTSTRAP_PEER]
					  : kind_names[MFS_BOOTSTRAP_TRACKER];
}

static int value_byte_ok(unsigned char b)
{
	return b > 0x20 && b != 0x7f;
}

/* One non-blank, non-comment line[0..len) (no line end). */
static int parse_line(const char *line, size_t len, mfs_bootstrap_each each, void *ctx,
		      size_t number, char *why)
{
	const char *space = memchr(line, ' ', len);
	size_t kind_len = space ? (size_t)(space - line) : len, value_len;
	const char *value = space ? space + 1 : NULL;
	size_t k;

	for (k = 0; k < sizeof kind_names / sizeof kind_names[0]; k++)
		if (strlen(kind_names[k]) == kind_len && memcmp(kind_names[k], line, kind_len) == 0)
			break;
	if (k == sizeof kind_names / sizeof kind_names[0]) {
		snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "unknown kind '%.*s' (this megafs knows "
			 "'tracker' and 'peer')", (int)(kind_len > 32 ? 32 : kind_len), line);
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?'; /* the file's bytes reach a terminal */
		return -EINVAL;
	}
	value_len = value ? len - kind_len - 1 : 0;
	if (value_len == 0) {
		snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "'%s' and no value after one space",
			 kind_names[k]);
		return -EINVAL;
	}
	if (value_len > MFS_BOOTSTRAP_VALUE_MAX) {
		snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "a value longer than %u bytes",
			 MFS_BOOTSTRAP_VALUE_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < value_len; i++)
		if (!value_byte_ok((unsigned char)value[i])) {
			snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "a space or control byte inside the "
				 "value (one entry a line: kind, one space, value)");
			return -EINVAL;
		}
	return each(ctx, (enum mfs_bootstrap_kind)k, value, value_len, number);
}

int mfs_bootstrap_parse(const char *text, size_t len, mfs_bootstrap_each each, void *ctx,
			size_t *line, char why[static MFS_BOOTSTRAP_WHY_MAX])
{
	size_t at = 0, number = 0, entries = 0;
	int rc = 0;

	*line = 0;
	why[0] = '\0';
	if (len > MFS_BOOTSTRAP_FILE_MAX) {
		snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "larger than %u bytes",
			 MFS_BOOTSTRAP_FILE_MAX);
		return -EINVAL;
	}
	if (memchr(text, '\0', len)) {
		snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "a NUL byte: not a text file");
		return -EINVAL;
	}
	while (at < len && rc == 0) {
		const char *start = text + at, *nl = memchr(start, '\n', len - at);
		size_t n = nl ? (size_t)(nl - start) : len - at;

		at += n + (nl != NULL);
		number++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n == 0 || start[0] == '#')
			continue;
		if (++entries > MFS_BOOTSTRAP_ENTRIES_MAX) {
			snprintf(why, MFS_BOOTSTRAP_WHY_MAX, "more than %u entries",
				 MFS_BOOTSTRAP_ENTRIES_MAX);
			rc = -EINVAL;
			break;
		}
		rc = parse_line(start, n, each, ctx, number, why);
	}
	if (rc != 0)
		*line = number;
	return rc;
}
