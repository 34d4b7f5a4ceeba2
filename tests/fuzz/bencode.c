/* bencode: mfs_benc_parse on any bytes. Whatever it accepts must re-encode
 * through the writer to exactly the bytes given (the parser accepts only
 * canonical bencoding), every node's encoding must lie within the input,
 * and a dictionary's values must be found again by their keys. */
#include <stdlib.h>
#include <string.h>

#include "net/bencode.h"
#include "tests/fuzz/fuzz.h"

static void check_tree(const struct mfs_bdoc *doc, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < doc->count; i++) {
		const struct mfs_bnode *n = &doc->nodes[i];

		if (n->enc < data || n->enc_len > size || n->enc + n->enc_len > data + size ||
		    n->span == 0 || i + n->span > doc->count)
			abort();
		if (n->type == MFS_BENC_DICT && n->count > 0) {
			const struct mfs_bnode *c = mfs_benc_first(n);
			char key[64];

			if (c->key_len < sizeof key && !memchr(c->key, 0, c->key_len)) {
				memcpy(key, c->key, c->key_len);
				key[c->key_len] = 0;
				if (mfs_benc_dict_get(n, key) != c)
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_bdoc *doc = NULL;
	struct mfs_benc_w w;
	uint8_t *again;
	size_t again_len;
	char why[128];

	if (mfs_benc_parse(&doc, data, size, why, sizeof why) != 0)
		return 0;
	check_tree(doc, data, size);
	again = malloc(size);
	if (!again)
		abort();
	mfs_benc_w_init(&w, again, size);
	mfs_benc_w_node(&w, &doc->nodes[0]);
	if (mfs_benc_w_finish(&w, &again_len) != 0 || again_len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	mfs_benc_free(doc);
	return 0;
}
