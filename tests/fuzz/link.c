/* link: mfs_link_parse_full on any text. An accepted link must print back
 * (public, with its read key, or #grant) to the same text in canonical form
 * and parse again to the same channel and key. */
#include <stdlib.h>
#include <string.h>

#include "crypto/secure.h"
#include "fs/store/keyring.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), again[MFS_LINK_FULL_BYTES];
	struct mfs_link l, back;

	if (!text || mfs_crypto_init() != 0)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (mfs_link_parse_full(&l, text) == 0) {
		if (l.kind == MFS_LINK_PUBLIC)
			mfs_link_format(again, l.pk);
		else
			mfs_link_format_private(again, l.pk,
						l.kind == MFS_LINK_READ_KEY ? l.read_key : NULL);
		if (mfs_link_parse_full(&back, again) != 0 || back.kind != l.kind ||
		    memcmp(back.pk, l.pk, sizeof l.pk) != 0 ||
		    memcmp(back.read_key, l.read_key, sizeof l.read_key) != 0)
			abort();
		/* Canonical text is the input less an optional "megafs://". */
		if (strcmp(again, text) != 0 && strcmp(again + strlen(MFS_LINK_PREFIX), text) != 0)
			abort();
	}
	free(text);
	return 0;
}
