/* fs/store/volmap: format 8 of a volume, held to golden vectors made once
 * from fixed keys (tests/vectors/volume-format-6.txt: ids, candidates,
 * superblock and map pages, unchanged since format 6; slot-format-8.bin: a
 * sealed slot of 17 pages, in four pieces, its payload ending in its data's
 * leaf),
 * so a silent change of slot ids, candidates, the superblock, map pages or
 * the slot seal fails here. MFS_WRITE_VECTORS=1 writes the files instead
 * (only when the format changes on purpose, with a new version). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/secure.h"
#include "fs/store/volmap.h"
#include "tests/unit/testutil.h"

#ifndef MFS_SOURCE_DIR
#define MFS_SOURCE_DIR "."
#endif
#define VECTORS MFS_SOURCE_DIR "/tests/vectors/volume-format-6.txt"
#define SLOT_VECTOR MFS_SOURCE_DIR "/tests/vectors/slot-format-8.bin"

static struct vol_keys *fixed_keys(void)
{
	struct vol_keys *k = mfs_secure_alloc(sizeof *k);

	cr_assert_not_null(k);
	for (int i = 0; i < 32; i++)
		k->master[i] = (uint8_t)(i + 1);
	volmap_keys_from_master(k);
	return k;
}

static void slot_vid(uint8_t vid[static VID_BYTES], const struct vol_keys *k, const void *name,
		     size_t len, uint32_t index)
{
	struct volmap_obj o;

	volmap_obj_init(&o, k, name, len);
	volmap_obj_vid(vid, k, &o, index);
}

static void hex_line(FILE *out, const char *label, const uint8_t *b, size_t len)
{
	char *hex = malloc(2 * len + 1);

	mfs_hex_encode(hex, b, len);
	fprintf(out, "%s %s\n", label, hex);
	free(hex);
}

/* Every deterministic output of the format, one line each. */
static char *format_lines(size_t *len)
{
	struct vol_keys *k = fixed_keys();
	struct side sd;
	struct view *v = volmap_view_new(2);
	struct page *p = volmap_page_new(3);
	uint8_t vid[VID_BYTES], *payload = calloc(1, MFS_SLOT_PAYLOAD), digest[32];
	const char *names[] = {"\0keyring", "\0protect", "\0bt\0\0\0\0"};
	const size_t name_lens[] = {8, 8, 7};
	char *text;
	FILE *out = open_memstream(&text, len);

	for (int n = 0; n < 3; n++)
		for (uint32_t i = 0; i < 2; i++) {
			char label[32];

			slot_vid(vid, k, names[n], name_lens[n], i);
			snprintf(label, sizeof label, "slot_id_%d_%u", n, i);
			hex_line(out, label, vid, sizeof vid);
		}
	volmap_meta_vid(vid, k, "superblock", 0);
	hex_line(out, "superblock_id", vid, sizeof vid);
	volmap_meta_vid(vid, k, "map", 1);
	hex_line(out, "map_id_1", vid, sizeof vid);
	volmap_side_init(&sd, k, 4096);
	fprintf(out, "candidates_4096");
	for (unsigned j = 0; j < sd.ncand; j++)
		fprintf(out, " %u", sd.cand[j]);
	fprintf(out, "\n");
	/* A map page and a superblock naming it. */
	for (uint32_t i = 0; i < 3; i++) {
		memset(p->e[i].vid, 0, VID_BYTES);
		p->e[i].vid[0] = 1; /* bucket 1 of 2 */
		p->e[i].vid[15] = (uint8_t)i;
		p->e[i].pos = 100 + i;
		p->e[i].gen = 7 + i;
	}
	p->pos[0] = 42;
	p->gen = 0x1122334455ull;
	v->pages[1] = p;
	v->gen = 0x123456789abull;
	v->sb = (struct mfs_superblock){.blob_count = 3, .blob_bytes = 4, .pinned_bytes = 5,
					.cache_cap = 6, .tick = 7, .bucket_count = 8};
	v->entries = 3;
	volmap_page_encode(payload, p);
	hex_line(out, "map_page_head", payload, PAGE_HEAD + 3 * ENTRY_BYTES);
	mfs_blob_id(digest, payload, META_BYTES);
	hex_line(out, "map_page_digest", digest, sizeof digest);
	volmap_sb_encode(payload, v);
	hex_line(out, "superblock_head", payload, SB_HEAD + 2 * SB_DIR_BYTES(1));
	mfs_blob_id(digest, payload, META_BYTES);
	hex_line(out, "superblock_digest", digest, sizeof digest);
	/* A redundant volume: copies of each map page (16 in a small map),
	 * parity slots. */
	v->redundant = 1;
	v->copies = MAP_COPIES;
	for (unsigned c = 1; c < volmap_copies(v); c++)
		p->pos[c] = 42 + c;
	volmap_sb_encode(payload, v);
	hex_line(out, "redundant_superblock_head", payload, SB_HEAD + 2 * SB_DIR_BYTES(volmap_copies(v)));
	slot_vid(vid, k, names[0], name_lens[0], 0x80000000u | 1);
	hex_line(out, "parity_slot_id_0_1", vid, sizeof vid);
	fclose(out);
	volmap_view_unref(v);
	free(payload);
	mfs_secure_free(k);
	return text;
}

Test(volmap, ids_candidates_superblock_and_map_pages_match_the_golden_vectors)
{
	size_t len, want_len;
	char *got, *want;

	cr_assert_eq(mfs_crypto_init(), 0);
	got = format_lines(&len);
	if (getenv("MFS_WRITE_VECTORS")) {
		FILE *f = fopen(VECTORS, "w");

		cr_assert_not_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
	}
	want = (char *)tu_read_file(VECTORS, &want_len);
	cr_assert_not_null(want, "%s", VECTORS);
	cr_assert_eq(len, want_len, "got:\n%s", got);
	cr_assert_arr_eq(got, want, len, "got:\n%s", got);
	free(got);
	free(want);
}

/* A slot sealed once under the fixed keys (payload: object slot 0 of
 * "format 8", at generation 5): it must still open, to the same bytes. */
Test(volmap, a_slot_sealed_by_format_8_still_opens)
{
	struct vol_keys *k;
	struct mfs_store *s;
	uint8_t vid[VID_BYTES], *payload = calloc(1, MFS_SLOT_PAYLOAD);
	uint8_t *raw = malloc(MFS_SLOT_BYTES), *opened = malloc(MFS_SLOT_PAYLOAD), *golden;
	size_t len;
	char *dir;

	cr_assert_eq(mfs_crypto_init(), 0);
	k = fixed_keys();
	slot_vid(vid, k, "vector", 6, 0);
	payload[0] = 8; /* u64 length, the bytes, their leaf */
	memcpy(payload + 8, "format 8", 8);
	mfs_blob_leaf(payload + 8 + MFS_SLOT_DATA, payload + 8, 8);
	if (getenv("MFS_WRITE_VECTORS")) {
		FILE *f = fopen(SLOT_VECTOR, "wb");

		volmap_seal_slot(raw, payload, k, vid, 5);
		cr_assert_not_null(f);
		fwrite(raw, 1, MFS_SLOT_BYTES, f);
		fclose(f);
	}
	golden = tu_read_file(SLOT_VECTOR, &len);
	cr_assert_not_null(golden);
	cr_assert_eq(len, MFS_SLOT_BYTES);
	tu_store(&dir, 16);
	cr_assert_eq(mfs_store_open(&s, dir), 0);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_slot_write(s, 3, golden), 0);
	mfs_store_unlock(s);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 5, opened), 0);
	cr_assert_arr_eq(opened, payload, MFS_SLOT_PAYLOAD);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 6, opened), E_STALE,
		     "another generation does not open");
	slot_vid(vid, k, "vector", 6, 1);
	cr_assert_eq(volmap_open_slot(s, raw, k, 3, vid, 5, opened), E_STALE,
		     "nor another slot id");
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
	free(golden);
	free(payload);
	free(raw);
	free(opened);
	mfs_secure_free(k);
}

/* The superblock seeds of the volmap fuzz corpus (tests/fuzz/make_corpus.py)
 * with the verdict each must get: a copy count out of range, a directory
 * that does not fit, an outer volume with copies, format 3, are refused. */
Test(volmap, superblocks_with_a_bad_copy_count_are_refused)
{
	static const struct {
		const char *seed;
		int ok;
	} cases[] = {
		{"superblock", 1},
		{"superblock-redundant", 1},
		{"superblock-redundant-5", 1},
		{"superblock-bad-nb", 0},
		{"superblock-copies-0", 0},
		{"superblock-copies-17", 0},
		{"superblock-outer-copies-2", 1},
		{"superblock-outer-copies-3", 0},
		{"superblock-dir-too-big", 0},
		{"superblock-version-4", 0},
		{"superblock-version-5", 0},
	};
	uint8_t *payload = calloc(1, MFS_SLOT_PAYLOAD);

	cr_assert_not_null(payload);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[512];
		FILE *f;
		size_t n;

		snprintf(path, sizeof path, MFS_SOURCE_DIR "/tests/fuzz/corpus/volmap/%s",
			 cases[i].seed);
		f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		memset(payload, 0, MFS_SLOT_PAYLOAD);
		cr_assert_eq(fseek(f, 6, SEEK_SET), 0); /* the harness's head */
		n = fread(payload, 1, MFS_SLOT_PAYLOAD, f);
		fclose(f);
		cr_assert_gt(n, SB_HEAD);
		cr_assert_eq(volmap_sb_check(payload, 4096), cases[i].ok ? 0 : MFS_E_CORRUPT, "%s",
			     cases[i].seed);
	}
	free(payload);
}

/* Slot pos of a fresh store holding value. */
static struct mfs_store *store_with(char **dir, uint32_t pos, const uint8_t *value)
{
	struct mfs_store *s;

	tu_store(dir, 16);
	cr_assert_eq(mfs_store_open(&s, *dir), 0);
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_slot_write(s, pos, value), 0);
	mfs_store_unlock(s);
	return s;
}

/* The fixed keys (returned), with value sealed from random payload bytes
 * (of seed) as slot index of the object "pieces" (vid) at generation gen. */
static struct vol_keys *sealed_random(uint8_t vid[static VID_BYTES], uint32_t index, uint64_t seed,
				      uint64_t gen, uint8_t *value, uint8_t *payload)
{
	struct vol_keys *k;

	cr_assert_eq(mfs_crypto_init(), 0);
	k = fixed_keys();
	slot_vid(vid, k, "pieces", 6, index);
	tu_fill_random(payload, MFS_SLOT_PAYLOAD, seed);
	volmap_seal_slot(value, payload, k, vid, gen);
	return k;
}

static void close_store(struct mfs_store *s, char *dir)
{
	mfs_store_close(s);
	tu_rmtree(dir);
	free(dir);
}

/* A range of a slot opens from its pieces alone: the same bytes as the
 * whole slot gives, for ranges inside each piece, across pieces, and at
 * both ends; nothing of the slot outside those pieces is read; the length
 * is reported only with piece 0. */
Test(volmap, a_slot_opens_in_part_from_the_pieces_that_hold_the_range)
{
	static const size_t ranges[][2] = {{0, 8},	   {8, 4104},	    {16391, 16393},
					   {16392, 20488}, {20000, 40000},  {49160, 65560},
					   {65559, 65560}, {0, MFS_SLOT_PAYLOAD}};
	struct vol_keys *k;
	struct mfs_store *s;
	uint8_t vid[VID_BYTES], *value = malloc(MFS_SLOT_BYTES), *raw = malloc(MFS_SLOT_BYTES);
	uint8_t *payload = malloc(MFS_SLOT_PAYLOAD), *part = malloc(MFS_SLOT_PAYLOAD);
	char *dir;

	k = sealed_random(vid, 2, 7, 9, value, payload);
	s = store_with(&dir, 5, value);
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		size_t from = ranges[i][0], to = ranges[i][1];
		unsigned first = 0, last = 0;
		size_t lo, hi;
		int len_too = -1;

		while (first + 1 < PIECES && from >= PIECE_FROM(first + 1))
			first++;
		while (last + 1 < PIECES && to - 1 >= PIECE_FROM(last + 1))
			last++;
		memset(raw, 0xee, MFS_SLOT_BYTES);
		memset(part, 0, MFS_SLOT_PAYLOAD);
		cr_assert_eq(volmap_open_slot_part(s, raw, k, 5, vid, 9, part, from, to, &len_too), 0,
			     "[%zu, %zu)", from, to);
		cr_assert_arr_eq(part + from, payload + from, to - from, "[%zu, %zu)", from, to);
		cr_assert_eq(len_too, first == 0, "[%zu, %zu): the length with piece 0 only", from, to);
		/* What the volume wipes after a read in part: all the open wrote. */
		volmap_part_span(from, to, &lo, &hi);
		cr_assert(lo == PIECE_FROM(first) && hi == PIECE_FROM(last + 1), "[%zu, %zu)", from, to);
		for (size_t b = 0; b < MFS_SLOT_PAYLOAD; b++)
			if (b < lo || b >= hi)
				cr_assert_eq(part[b], 0, "[%zu, %zu): payload byte %zu written", from,
					     to, b);
		for (size_t b = 0; b < MFS_SLOT_BYTES; b++)
			if (b < PIECE_AT(first) || b >= PIECE_AT(last + 1))
				cr_assert_eq(raw[b], 0xee, "[%zu, %zu): slot byte %zu read", from, to, b);
	}
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 5, vid, 9, part, 10, 10, &(int){0}),
		     MFS_E_FORMAT, "an empty range");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 5, vid, 9, part, 0, MFS_SLOT_PAYLOAD + 1,
					   &(int){0}),
		     MFS_E_FORMAT, "past the payload");
	{
		size_t lo = 1, hi = 1;

		volmap_part_span(10, 10, &lo, &hi);
		cr_assert(lo == 0 && hi == 0, "an empty range: nothing written");
		volmap_part_span(0, MFS_SLOT_PAYLOAD + 1, &lo, &hi);
		cr_assert(lo == 0 && hi == 0, "past the payload: nothing written");
	}
	close_store(s, dir);
	free(value);
	free(raw);
	free(payload);
	free(part);
	mfs_secure_free(k);
}

/* What the store's adversary can do to one slot's pieces: a flipped byte
 * fails its piece (and the whole slot) but not the others; two pieces of
 * the same length swapped fail both; a piece of another write of the same
 * id and generation fails every open that takes it with a piece of this
 * write, and opens alone (megafs(7), Slots: only blob reads, whose bytes
 * are the same at every write, take a piece alone). */
Test(volmap, a_tampered_moved_or_foreign_piece_does_not_open_with_the_others)
{
	struct vol_keys *k;
	struct mfs_store *s;
	uint8_t vid[VID_BYTES], *value = malloc(MFS_SLOT_BYTES), *other = malloc(MFS_SLOT_BYTES);
	uint8_t *raw = malloc(MFS_SLOT_BYTES), *payload = malloc(MFS_SLOT_PAYLOAD);
	uint8_t *out = malloc(MFS_SLOT_PAYLOAD), *tmp = malloc(MFS_SLOT_BYTES);
	const size_t p1 = PIECE_AT(1), p2 = PIECE_AT(2), piece = PIECE_AT(2) - PIECE_AT(1);
	int len_too;
	char *dir;

	k = sealed_random(vid, 0, 8, 3, value, payload);
	volmap_seal_slot(other, payload, k, vid, 3); /* the same bytes, another write */

	memcpy(tmp, value, MFS_SLOT_BYTES);
	tmp[PIECE_AT(2) + 100] ^= 1;
	s = store_with(&dir, 1, tmp);
	cr_assert_eq(volmap_open_slot(s, raw, k, 1, vid, 3, out), E_STALE, "a flipped byte");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, PIECE_FROM(2),
					   PIECE_FROM(2) + 10, &len_too),
		     E_STALE, "its piece");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, 0, PIECE_FROM(2), &len_too), 0,
		     "the pieces before it");
	cr_assert_arr_eq(out, payload, PIECE_FROM(2));
	close_store(s, dir);

	memcpy(tmp, value, MFS_SLOT_BYTES);
	memcpy(tmp + p1, value + p2, piece);
	memcpy(tmp + p2, value + p1, piece);
	s = store_with(&dir, 1, tmp);
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, PIECE_FROM(1),
					   PIECE_FROM(1) + 1, &len_too),
		     E_STALE, "piece 2 in piece 1's place");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, PIECE_FROM(2),
					   PIECE_FROM(2) + 1, &len_too),
		     E_STALE, "piece 1 in piece 2's place");
	close_store(s, dir);

	memcpy(tmp, value, MFS_SLOT_BYTES);
	memcpy(tmp + p2, other + p2, piece);
	s = store_with(&dir, 1, tmp);
	cr_assert_eq(volmap_open_slot(s, raw, k, 1, vid, 3, out), E_STALE,
		     "another write's piece 2 with this write's others");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, PIECE_FROM(1),
					   PIECE_FROM(3), &len_too),
		     E_STALE, "pieces 1 and 2 of two writes");
	cr_assert_eq(volmap_open_slot_part(s, raw, k, 1, vid, 3, out, PIECE_FROM(2),
					   PIECE_FROM(3), &len_too),
		     0, "the foreign piece alone");
	cr_assert_arr_eq(out + PIECE_FROM(2), payload + PIECE_FROM(2), PIECE_FROM(3) - PIECE_FROM(2));
	close_store(s, dir);
	free(value);
	free(other);
	free(raw);
	free(payload);
	free(out);
	free(tmp);
	mfs_secure_free(k);
}
