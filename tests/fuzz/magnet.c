/* magnet: mfs_magnet_parse on any bytes (what a .magnet file written into a
 * mount, or `megafs channel add`, hands it). An accepted link must be what
 * the module promises: "magnet:?" and printable ASCII of at most
 * MFS_MAGNET_MAX bytes, a line end at most after it; accepted again alone,
 * with the same name; a name that is a valid file name ending in .magnet,
 * the one mfs_magnet_name gives. mfs_magnet_name must never overrun on any
 * NUL-terminated input. */
#include <stdlib.h>
#include <string.h>

#include "fs/blob/fileentry.h"
#include "fs/channel/magnet.h"
#include "tests/fuzz/fuzz.h"

static void check(const struct mfs_magnet *m, const uint8_t *data, size_t size)
{
	static char link[MFS_MAGNET_MAX + 1];
	char name[MFS_MAGNET_NAME_BYTES], why[200];
	struct mfs_magnet again;

	if (m->len > MFS_MAGNET_MAX || m->len > size || size - m->len > 2 ||
	    memcmp(data, "magnet:?", 8) != 0)
		abort();
	if (size > m->len && data[size - 1] != '\n')
		abort();
	for (size_t i = 0; i < m->len; i++)
		if (data[i] <= 0x20 || data[i] >= 0x7f || data[i] == '#')
			abort();
	memcpy(link, data, m->len);
	link[m->len] = '\0';
	mfs_magnet_name(name, link);
	if (strcmp(name, m->name) != 0 || !mfs_magnet_is_name(m->name) ||
	    !mfs_entry_name_valid(m->name))
		abort();
	if (mfs_magnet_parse(&again, link, m->len, why, sizeof why) != 0 || again.len != m->len ||
	    strcmp(again.name, m->name) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_magnet m;
	char why[200];
	char *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (mfs_magnet_parse(&m, text, size, why, sizeof why) == 0)
		check(&m, data, size);
	else if (!why[0])
		abort(); /* a refusal always says why */
	mfs_magnet_name(m.name, text); /* any text, checked or not */
	if (!mfs_magnet_is_name(m.name))
		abort();
	free(text);
	return 0;
}
