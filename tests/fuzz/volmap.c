/* volmap: a volume's superblock and map pages as the store holds them,
 * decoded by fs/store/volmap.c (included, so its static decoders are
 * reached without making them public). Both are read only after their
 * slot opened under the volume's key, so only a writer with that key could
 * forge them; they are fuzzed all the same, as every parser of stored bytes
 * is. Input: byte 0 even = superblock, odd = map page; byte 1 = log2 of the
 * bucket count; bytes 2..5 = the page's bucket; the rest = the payload
 * (zero-padded). A page that decodes must encode back to the same bytes. */
#include "fs/store/store.c"
#include "fs/store/volmap.c"

#include "tests/fuzz/fuzz.h"

#define SLOTS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *payload, *again;
	struct sb_disk *d;
	struct page *p = NULL;
	uint32_t nb, bucket;

	if (size < 6)
		return 0;
	payload = calloc(1, MFS_SLOT_PAYLOAD);
	again = malloc(MFS_SLOT_PAYLOAD);
	d = malloc(sizeof *d);
	if (!payload || !again || !d)
		abort();
	memcpy(payload, data + 6, size - 6 < MFS_SLOT_PAYLOAD ? size - 6 : MFS_SLOT_PAYLOAD);
	if (data[0] % 2 == 0) {
		if (sb_decode(d, payload, SLOTS) == 0) {
			if (d->nb == 0 || (d->nb & (d->nb - 1)) != 0 ||
			    d->nb > (d->redundant ? MAX_BUCKETS_REDUNDANT : MAX_BUCKETS) ||
			    d->copies < 1 || d->copies > MAP_COPIES ||
			    (!d->redundant && d->copies > OUTER_MAP_COPIES) ||
			    SB_HEAD + (size_t)d->nb * SB_DIR_BYTES(d->copies) > MFS_SLOT_PAYLOAD)
				abort();
			for (uint32_t b = 0; b < d->nb; b++)
				for (unsigned c = 0; c < MAP_COPIES; c++)
					if (d->dir_pos[b][c] != NO_POS && d->dir_pos[b][c] >= SLOTS)
						abort();
		}
	} else {
		nb = 1u << (data[1] % 13);
		bucket = (uint32_t)mfs_le_get(data + 2, 4) & (nb - 1);
		if (page_decode(&p, payload, bucket, nb, SLOTS) == 0) {
			size_t used = PAGE_HEAD + (size_t)p->count * ENTRY_BYTES;

			volmap_page_encode(again, p);
			if (memcmp(again, payload, used) != 0)
				abort();
			for (uint32_t i = 0; i < p->count; i++)
				if (p->e[i].pos >= SLOTS || volmap_bucket_of(p->e[i].vid, nb) != bucket)
					abort();
			free(p);
		}
	}
	free(payload);
	free(again);
	free(d);
	return 0;
}
