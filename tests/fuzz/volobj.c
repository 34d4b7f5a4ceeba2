/* volobj: an object's slots as a volume reads them back from the store
 * (fs/store/volume.c, included with store.c, volmap.c and parity.c so its
 * lookups and keys are reached): the length every slot repeats, the shape
 * the map must agree with, the range a read asks, parity rebuilding a slot
 * that does not open. A slot's bytes are authenticated before its length is
 * read, so only a writer with the volume's key reaches that code with bytes
 * of its choosing: this harness is that writer. It patches the payloads of
 * an object's slots, seals them again under the volume's key (same slot id,
 * same generation) in place, reads, and puts the slots back.
 *
 * One store in a temporary directory, made once per process: an outer
 * volume and a hidden (redundant: parity) one, each holding one object of
 * three data slots.
 *
 *   byte 0       bit 0: the volume (0 outer, 1 hidden);
 *                bits 1-2: the read: 0 mfs_obj_get (mfs_obj_get_leaves
 *                with bit 3), 1 mfs_obj_read, 2 mfs_obj_read_known,
 *                3 mfs_obj_check
 *   bytes 1-4    offset of the read (le32), 5-8 its length (le32, at most
 *                READ_MAX), 9-12 the length read_known is told (le32)
 *   then patches, at most PATCHES_MAX: byte slot (its low 7 bits modulo
 *                the object's slots: data slots, then parity; bit 7: the
 *                offset counts back from the payload's last byte, so the
 *                leaf past 64 KiB is reached), u16 le payload offset
 *                (modulo the payload), u16 le count, then count bytes
 *                written there (cut at the payload's end and the input's);
 *                a count of 0 writes random bytes over the slot instead
 *                (a slot that does not open)
 *
 * What must hold: the error is one the header names (MFS_E_CORRUPT,
 * MFS_E_FORMAT); a read that succeeds returns each slot's data as its
 * (patched) payload holds it, or for a slot that does not open, on a
 * redundant volume whose other slots are untouched, the original data; a
 * slot lost in the outer volume is never read; a get returns the length
 * slot 0 says, one that fills the slots the map holds, and every slot a
 * read opens the first piece of says the same; with no patch, and no more
 * slots lost than the hidden volume's parity rebuilds, every read of a
 * range inside the object succeeds; the leaves a get gives are the ones its
 * slots hold; check counts exactly the slots that do not open. */
#include <ftw.h>
#include <stdio.h>

#include "fs/store/store.c"
#include "fs/store/volmap.c"
#include "fs/store/parity.c"
#include "fs/store/volume.c"

#include "tests/fuzz/fuzz.h"

#define DATA_SLOTS 3u
#define OBJ_LEN ((uint64_t)(DATA_SLOTS - 1) * MFS_SLOT_DATA + 1000)
#define SLOTS_MAX 16u
#define PATCHES_MAX 8u
#define READ_MAX (4u * MFS_SLOT_DATA)
#define STORE_SLOTS 160u

static const char obj_name[] = "object";

struct slot {
	uint32_t index, pos, gen;
	uint8_t vid[VID_BYTES];
	uint8_t *payload; /* opened, as written */
	uint8_t *raw;     /* the slot value, as written */
};

struct side_obj {
	struct mfs_volume *vol;
	struct slot slot[SLOTS_MAX];
	unsigned count;
};

static struct mfs_store *store;
static struct side_obj sides[2];
static char *store_dir;

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "volobj: setup failed: %s\n", what);
		abort();
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	mfs_volume_close(sides[1].vol);
	mfs_volume_close(sides[0].vol);
	mfs_store_close(store);
	for (unsigned v = 0; v < 2; v++)
		for (unsigned i = 0; i < sides[v].count; i++) {
			free(sides[v].slot[i].payload);
			free(sides[v].slot[i].raw);
		}
	nftw(store_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(store_dir);
}

static uint8_t data_byte(uint64_t at)
{
	return (uint8_t)(at * 7 + (at >> 16) + 1);
}

/* Writes the object and records where each of its slots lies. */
static void put_object(struct side_obj *so)
{
	uint8_t *data = malloc(OBJ_LEN);
	struct volmap_obj o;
	struct mfs_vtxn *t;
	struct entry e;

	must(data != NULL, "memory");
	for (uint64_t i = 0; i < OBJ_LEN; i++)
		data[i] = data_byte(i);
	must(mfs_vtxn_begin(so->vol, 1, &t) == 0, "write transaction");
	must(mfs_obj_write(t, obj_name, sizeof obj_name - 1, data, OBJ_LEN) == 0, "object write");
	must(mfs_vtxn_commit(t) == 0, "commit");
	free(data);

	must(mfs_vtxn_begin(so->vol, 0, &t) == 0, "read transaction");
	volmap_obj_init(&o, t->vol->self.keys, obj_name, sizeof obj_name - 1);
	for (uint32_t j = 0; so->count < SLOTS_MAX; j++) {
		struct slot *s = &so->slot[so->count];

		s->index = j < DATA_SLOTS ? j : MFS_OBJ_PARITY_INDEX | (j - DATA_SLOTS);
		volmap_obj_vid(s->vid, t->vol->self.keys, &o, s->index);
		if (lookup(t, s->vid, &e) != 0)
			break;
		s->pos = e.pos;
		s->gen = e.gen;
		s->payload = malloc(MFS_SLOT_PAYLOAD);
		s->raw = malloc(MFS_SLOT_BYTES);
		must(s->payload && s->raw, "memory");
		must(mfs_store_slot_read(store, s->pos, s->raw) == 0, "slot read");
		must(volmap_open_value(s->raw, t->vol->self.keys, s->vid, s->gen, s->payload) == 0,
		     "slot open");
		so->count++;
	}
	mfs_vtxn_abort(t);
	must(so->count >= DATA_SLOTS, "the object's slots");
}

static void setup(void)
{
	struct mfs_kdf_limits kdf;
	const char *tmp = getenv("TMPDIR");

	must(mfs_crypto_init() == 0, "crypto");
	must(mfs_kdf_preset(&kdf, "fast") == 0, "kdf");
	must(asprintf(&store_dir, "%s/megafs-fuzz-volobj-XXXXXX", tmp ? tmp : "/tmp") > 0,
	     "memory");
	must(mkdtemp(store_dir) != NULL, "temporary directory");
	must(mfs_store_create(store_dir, STORE_SLOTS, &kdf) == 0, "store");
	must(mfs_store_open(&store, store_dir) == 0, "store open");
	must(mfs_volume_create(store, "outer", 5, NULL, 0) == 0, "outer volume");
	must(mfs_volume_open(&sides[0].vol, store, "outer", 5, NULL, 0) == 0, "outer open");
	put_object(&sides[0]);
	/* The outer volume only reads from here on: the hidden one avoids its slots. */
	must(mfs_volume_create(store, "hidden", 6, "outer", 5) == 0, "hidden volume");
	must(mfs_volume_open(&sides[1].vol, store, "hidden", 6, "outer", 5) == 0, "hidden open");
	put_object(&sides[1]);
	must(sides[1].count > DATA_SLOTS && sides[0].count == DATA_SLOTS, "parity where expected");
	atexit(teardown);
}

struct patched {
	uint8_t *payload[SLOTS_MAX]; /* NULL: untouched */
	int lost[SLOTS_MAX];         /* written over with random bytes */
	unsigned count, lost_count;
	int intact; /* nothing patched, and no more slots lost than parity rebuilds */
};

/* Applies the patches of in to so's slots in the store. */
static void apply_patches(struct side_obj *so, struct patched *p, const uint8_t *in, size_t size)
{
	const struct vol_keys *k = so->vol->self.keys;
	uint8_t *value = malloc(MFS_SLOT_BYTES);
	size_t at = 0;

	must(value != NULL, "memory");
	for (unsigned n = 0; n < PATCHES_MAX && size - at >= 5; n++) {
		const unsigned i = (in[at] & 0x7f) % so->count;
		const size_t back = (size_t)mfs_le_get(in + at + 1, 2) % MFS_SLOT_PAYLOAD;
		const size_t off = in[at] & 0x80 ? MFS_SLOT_PAYLOAD - 1 - back : back;
		size_t count = (size_t)mfs_le_get(in + at + 3, 2);

		at += 5;
		if (count > size - at)
			count = size - at;
		if (count > MFS_SLOT_PAYLOAD - off)
			count = MFS_SLOT_PAYLOAD - off;
		if (count == 0) {
			p->lost_count += !p->lost[i];
			p->lost[i] = 1;
			must(mfs_store_slot_wipe(store, so->slot[i].pos) == 0, "slot wipe");
			continue;
		}
		if (!p->payload[i]) {
			must((p->payload[i] = malloc(MFS_SLOT_PAYLOAD)) != NULL, "memory");
			memcpy(p->payload[i], so->slot[i].payload, MFS_SLOT_PAYLOAD);
			p->count++;
		}
		memcpy(p->payload[i] + off, in + at, count);
		at += count;
		if (!p->lost[i]) {
			volmap_seal_slot(value, p->payload[i], k, so->slot[i].vid, so->slot[i].gen);
			must(mfs_store_slot_write(store, so->slot[i].pos, value) == 0, "slot write");
		}
	}
	free(value);
}

static void restore(struct side_obj *so, struct patched *p)
{
	for (unsigned i = 0; i < so->count; i++) {
		if (p->payload[i] || p->lost[i])
			must(mfs_store_slot_write(store, so->slot[i].pos, so->slot[i].raw) == 0,
			     "slot restore");
		free(p->payload[i]);
	}
}

/* Object byte at as a read that succeeded must return it, or -1 when any
 * byte may do. A slot lost in a volume without parity cannot be read. */
static int expected(const struct side_obj *so, const struct patched *p, int redundant,
		    uint64_t at)
{
	const unsigned i = (unsigned)(at / MFS_SLOT_DATA);
	const size_t in_slot = LEN_BYTES + (size_t)(at % MFS_SLOT_DATA);

	if (i >= DATA_SLOTS)
		return -1;
	if (p->lost[i] && !redundant)
		abort();
	if (p->lost[i])
		return p->intact ? so->slot[i].payload[in_slot] : -1;
	return (p->payload[i] ? p->payload[i] : so->slot[i].payload)[in_slot];
}

static void check_bytes(const struct side_obj *so, const struct patched *p, int redundant,
			uint64_t off, const uint8_t *got, size_t len)
{
	for (size_t j = 0; j < len; j++) {
		int want = expected(so, p, redundant, off + j);

		if (want >= 0 && got[j] != want)
			abort();
	}
}

/* A read of [off, off+len) that succeeded opened the first piece of each
 * slot whose range reaches into it, and that piece repeats the length: it
 * must have said total (a slot rebuilt from parity excepted). */
static void check_lengths(const struct side_obj *so, const struct patched *p, uint64_t total,
			  uint64_t off, size_t len)
{
	while (len > 0) {
		const unsigned i = (unsigned)(off / MFS_SLOT_DATA);
		const size_t at = LEN_BYTES + (size_t)(off % MFS_SLOT_DATA);
		const size_t n = LEN_BYTES + MFS_SLOT_DATA - at < len ? LEN_BYTES + MFS_SLOT_DATA - at
								      : len;

		if (i >= DATA_SLOTS)
			abort();
		if (!p->lost[i] && at < PIECE_FROM(1) &&
		    mfs_le_get(p->payload[i] ? p->payload[i] : so->slot[i].payload, LEN_BYTES) != total)
			abort();
		off += n;
		len -= n;
	}
}

/* The leaves a whole read gave are those the slots keep (patched or not;
 * a slot rebuilt from parity: the original's), whatever the data. */
static void check_leaves(const struct side_obj *so, const struct patched *p, const uint8_t *leaves)
{
	for (unsigned i = 0; i < DATA_SLOTS; i++) {
		const uint8_t *payload = p->payload[i] ? p->payload[i] : so->slot[i].payload;

		if (p->lost[i] && !p->intact)
			continue;
		if (p->lost[i])
			payload = so->slot[i].payload;
		if (memcmp(leaves + (size_t)i * MFS_SLOT_LEAF, payload + LEN_BYTES + MFS_SLOT_DATA,
			   MFS_SLOT_LEAF) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct patched p = {0};
	struct side_obj *so;
	struct mfs_vtxn *t;
	uint64_t off, total, len64, lost;
	uint8_t *buf = NULL, *leaves = NULL;
	size_t len;
	int rc, redundant, read;

	if (size < 13)
		return 0;
	if (!ready) {
		setup();
		ready = 1;
	}
	redundant = data[0] & 1;
	so = &sides[redundant];
	read = (data[0] >> 1) & 3;
	off = mfs_le_get(data + 1, 4);
	len = (size_t)mfs_le_get(data + 5, 4);
	total = mfs_le_get(data + 9, 4);
	if (len > READ_MAX)
		len = READ_MAX;
	apply_patches(so, &p, data + 13, size - 13);
	p.intact = p.count == 0 &&
		   (p.lost_count == 0 || (redundant && p.lost_count <= so->count - DATA_SLOTS));

	must(mfs_vtxn_begin(so->vol, 0, &t) == 0, "read transaction");
	switch (read) {
	case 0:
		rc = data[0] & 8 ? mfs_obj_get_leaves(t, obj_name, sizeof obj_name - 1, &buf, &len64,
						      &leaves)
				 : mfs_obj_get(t, obj_name, sizeof obj_name - 1, &buf, &len64);
		if (rc == 0) {
			const uint8_t *slot0 = p.payload[0] ? p.payload[0] : so->slot[0].payload;

			/* The map holds the object's three slots: no other length fits. */
			if ((!p.lost[0] && len64 != mfs_le_get(slot0, LEN_BYTES)) ||
			    mfs_obj_slots_for(len64) != DATA_SLOTS)
				abort();
			check_bytes(so, &p, redundant, 0, buf, (size_t)len64);
			check_lengths(so, &p, len64, 0, (size_t)len64);
			if (leaves)
				check_leaves(so, &p, leaves);
		}
		free(buf);
		free(leaves);
		break;
	case 1:
	case 2:
		must((buf = malloc(len ? len : 1)) != NULL, "memory");
		rc = read == 1 ? mfs_obj_read(t, obj_name, sizeof obj_name - 1, off, buf, len)
			       : mfs_obj_read_known(t, obj_name, sizeof obj_name - 1, total, off, buf,
						    len);
		if (rc == 0) {
			const uint8_t *slot0 = p.payload[0] ? p.payload[0] : so->slot[0].payload;

			check_bytes(so, &p, redundant, off, buf, len);
			/* mfs_obj_read learns the length from slot 0 (rebuilt when lost). */
			if (read == 2 || !p.lost[0] || p.intact)
				check_lengths(so, &p,
					      read == 2 ? total : mfs_le_get(slot0, LEN_BYTES), off,
					      len);
		}
		if (p.intact && off + len <= OBJ_LEN && (read == 1 || total == OBJ_LEN) && rc != 0)
			abort();
		free(buf);
		break;
	default:
		rc = mfs_obj_check(t, obj_name, sizeof obj_name - 1, &lost);
		if (rc == 0 && lost != p.lost_count)
			abort();
		break;
	}
	mfs_vtxn_abort(t);
	if (rc != 0 && rc != MFS_E_CORRUPT && rc != MFS_E_FORMAT)
		abort();
	if (p.intact && (read == 0 || read == 3) && rc != 0)
		abort();
	restore(so, &p);
	return 0;
}
