/* bootstrap: a bootstrap file (net/bootstrap) from someone else. Every
 * entry handed out must lie inside the input, be 1 to
 * MFS_BOOTSTRAP_VALUE_MAX bytes of no space or control byte, come from a
 * line after the one before, and be no more than MFS_BOOTSTRAP_ENTRIES_MAX;
 * a refusal must say why in printable ASCII (it reaches a terminal). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/bootstrap.h"
#include "tests/fuzz/fuzz.h"

struct bounds {
	const char *start, *end;
	size_t last_line, count;
};

static int check(void *ctx, enum mfs_bootstrap_kind kind, const char *value, size_t len,
		 size_t line)
{
	struct bounds *b = ctx;

	if (kind != MFS_BOOTSTRAP_TRACKER && kind != MFS_BOOTSTRAP_PEER)
		abort();
	if (value < b->start || len == 0 || len > MFS_BOOTSTRAP_VALUE_MAX ||
	    len > (size_t)(b->end - value) || line <= b->last_line ||
	    ++b->count > MFS_BOOTSTRAP_ENTRIES_MAX)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] == 0x7f)
			abort();
	b->last_line = line;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of its own size, so that ASan sees any read past the end. */
	char *text = malloc(size ? size : 1), why[MFS_BOOTSTRAP_WHY_MAX];
	struct bounds b = {0};
	size_t line;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	b.start = text;
	b.end = text + size;
	rc = mfs_bootstrap_parse(text, size, check, &b, &line, why);
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc != 0 && (!why[0] || strlen(why) >= MFS_BOOTSTRAP_WHY_MAX))
		abort();
	for (const char *p = why; rc != 0 && *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	free(text);
	return 0;
}
