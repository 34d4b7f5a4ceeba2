/* fs/store/volume: objects, passwords, hidden volumes, damage, fullness. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/volmap.h"
#include "fs/store/volume.h"
#include "tests/unit/testutil.h"

struct fixture {
	char *dir;
	struct mfs_store *store;
};

static struct fixture open_store(uint64_t slots)
{
	struct fixture f;

	tu_store(&f.dir, slots);
	cr_assert_eq(mfs_store_open(&f.store, f.dir), 0);
	return f;
}

static void close_store(struct fixture *f)
{
	mfs_store_close(f->store);
	tu_rmtree(f->dir);
	free(f->dir);
}

static void put(struct mfs_volume *v, const char *name, const void *data, size_t len)
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, name, strlen(name), data, len), 0, "write %s", name);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

static int get(struct mfs_volume *v, const char *name, uint8_t **data, uint64_t *len)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	rc = mfs_obj_size(t, name, strlen(name), len);
	if (rc == 0) {
		*data = malloc(*len + 1);
		rc = mfs_obj_read(t, name, strlen(name), 0, *data, *len);
		if (rc != 0)
			free(*data);
	}
	mfs_vtxn_abort(t);
	return rc;
}

static void expect(struct mfs_volume *v, const char *name, const uint8_t *want, size_t len)
{
	uint8_t *got;
	uint64_t n;

	cr_assert_eq(get(v, name, &got, &n), 0, "read %s", name);
	cr_assert_eq(n, len, "%s length", name);
	cr_assert_arr_eq(got, want, len, "%s content", name);
	free(got);
}

static uint64_t used(struct mfs_volume *v)
{
	struct mfs_volume_stats st;

	cr_assert_eq(mfs_volume_stats(v, &st), 0);
	return st.used_slots;
}

Test(volume, objects_round_trip_at_slot_boundaries)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	const size_t sizes[] = {0, 1, MFS_SLOT_DATA, MFS_SLOT_DATA + 1, 2 * MFS_SLOT_DATA,
				3 * MFS_SLOT_DATA + 5, 1u << 20};
	uint8_t *data = malloc(1u << 20), *part = malloc(200000);
	struct mfs_vtxn *t;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char name[16];

		sprintf(name, "obj%zu", i);
		tu_fill_random(data, sizes[i], i);
		put(v, name, data, sizes[i]);
		expect(v, name, data, sizes[i]);
		cr_assert_eq(mfs_obj_slots_for(sizes[i]),
			     i < 3 ? 1 : i == 3 ? 2 : i == 4 ? 2 : i == 5 ? 4 : 16);
	}
	/* A 1 MiB chunk's blob is 16 sealed segments: 16 slots, one each. */
	cr_assert_eq(mfs_obj_slots_for(16 * (65536 + 16)), 16);
	/* A read across slot boundaries in the middle of an object. */
	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_obj_read(t, "obj6", 4, 65000, part, 200000), 0);
	cr_assert_arr_eq(part, data + 65000, 200000);
	cr_assert_eq(mfs_obj_read(t, "obj6", 4, (1u << 20) - 10, part, 11), MFS_E_FORMAT);
	/* A known-length read past slot 0 of an object the volume lacks is
	 * "not found" (the reader then fetches it), not "damaged". */
	cr_assert_eq(mfs_obj_read_known(t, "absent", 6, 1u << 20, 300000, part, 1000),
		     MFS_E_NOTFOUND);
	cr_assert_eq(mfs_obj_read_known(t, "obj6", 4, 1u << 20, 300000, part, 1000), 0);
	cr_assert_arr_eq(part, data + 300000, 1000);
	/* Slot 0 is opened in part like the rest: absent is "not found", and
	 * a wrong length shows where the slot's first piece (which holds the
	 * length) is read; a range past that piece is not checked against it,
	 * as in every other slot. */
	cr_assert_eq(mfs_obj_read_known(t, "absent", 6, 1u << 20, 0, part, 10), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_obj_read_known(t, "obj6", 4, (1u << 20) + 1, 0, part, 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_read_known(t, "obj6", 4, (1u << 20) + 1, 40000, part, 10), 0);
	cr_assert_arr_eq(part, data + 40000, 10);
	mfs_vtxn_abort(t);
	mfs_volume_close(v);
	free(data);
	free(part);
	close_store(&f);
}

Test(volume, rewrite_grow_shrink_delete_account_slots)
{
	struct fixture f = open_store(128);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(300000);
	uint64_t base, n;
	struct mfs_vtxn *t;
	uint8_t *got;

	tu_fill_random(data, 300000, 3);
	put(v, "seed", "s", 1); /* the map's first page exists from here on */
	base = used(v);
	put(v, "x", data, 300000);
	cr_assert_eq(used(v), base + mfs_obj_slots_for(300000));
	put(v, "x", data, 10);
	cr_assert_eq(used(v), base + 1, "shrinking gives slots back");
	expect(v, "x", data, 10);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_delete(t, "x", 1), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(used(v), base);
	cr_assert_eq(get(v, "x", &got, &n), MFS_E_NOTFOUND);
	mfs_volume_close(v);
	free(data);
	close_store(&f);
}

/* An object's slots share one map page: several large objects fill the
 * first; small ones stay in every page of the grown map. Deleting the large
 * ones gives back every slot, the grown pages (and their copies) too; the
 * volume opens again (password pw) with the same count and every object. */
static void map_shrinks_back(struct fixture *f, struct mfs_volume *v, const char *pw)
{
	enum { OBJECTS = 6, OBJECT_SLOTS = 512 };
	const size_t len = (size_t)OBJECT_SLOTS * MFS_SLOT_DATA;
	uint8_t *data = malloc(len);
	uint64_t base, slots = 0;
	struct mfs_vtxn *t;
	char name[16];

	_Static_assert(OBJECTS * OBJECT_SLOTS > PAGE_CAP, "more entries than one page holds");
	cr_assert_not_null(data);
	tu_fill_random(data, len, 5);
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof name, "small%d", i);
		put(v, name, name, strlen(name));
	}
	base = used(v);
	for (int i = 0; i < OBJECTS; i++) {
		snprintf(name, sizeof name, "big%d", i);
		put(v, name, data, len);
		slots += mfs_obj_sealed_slots(v, len);
	}
	cr_assert_gt(used(v), base + slots, "one page cannot list %llu slots: the map grew",
		     (unsigned long long)slots);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	for (int i = 0; i < OBJECTS; i++) {
		snprintf(name, sizeof name, "big%d", i);
		cr_assert_eq(mfs_obj_delete(t, name, strlen(name)), 0);
	}
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(used(v), base, "the map gave its grown pages back");
	mfs_volume_close(v);
	cr_assert_eq(mfs_volume_open(&v, f->store, pw, strlen(pw), NULL, 0), 0);
	cr_assert_eq(used(v), base);
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof name, "small%d", i);
		expect(v, name, (const uint8_t *)name, strlen(name));
	}
	put(v, "big0", data, len);
	expect(v, "big0", data, len);
	mfs_volume_close(v);
	free(data);
}

Test(volume, a_map_grown_past_one_page_shrinks_back_when_its_objects_are_gone)
{
	struct fixture f = open_store(6 * 512 + 128);

	map_shrinks_back(&f, tu_volume(f.store, "pw", NULL), "pw");
	close_store(&f);
}

/* The same in a hidden volume, whose map pages are kept in many copies and
 * whose objects carry parity. */
Test(volume, a_hidden_volume_map_shrinks_back_with_its_copies)
{
	struct fixture f = open_store(4 * 6 * 512);
	struct mfs_volume *outer = tu_volume(f.store, "outer", NULL);

	mfs_volume_close(outer);
	map_shrinks_back(&f, tu_volume(f.store, "hidden", "outer"), "hidden");
	close_store(&f);
}

static uint8_t *file_digest(const char *dir)
{
	static uint8_t id[32];
	char path[4096];
	size_t len;
	uint8_t *bytes;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	bytes = tu_read_file(path, &len);
	mfs_blob_id(id, bytes, len);
	free(bytes);
	return id;
}

Test(volume, wrong_password_changes_nothing)
{
	struct fixture f = open_store(64);
	struct mfs_volume *v = tu_volume(f.store, "right", NULL), *w = NULL;
	uint8_t before[32];

	put(v, "secret", "data", 4);
	mfs_volume_close(v);
	memcpy(before, file_digest(f.dir), 32);
	cr_assert_eq(mfs_volume_open(&w, f.store, "wrong", 5, NULL, 0), MFS_E_BADPASS);
	cr_assert_null(w);
	cr_assert_str_eq(mfs_strerror(MFS_E_BADPASS),
			 "wrong password: no volume in this store opens with it");
	cr_assert_arr_eq(file_digest(f.dir), before, 32, "data.mdb is byte-identical");
	cr_assert_eq(mfs_volume_open(&v, f.store, "right", 5, NULL, 0), 0);
	expect(v, "secret", (const uint8_t *)"data", 4);
	cr_assert_eq(mfs_volume_create(f.store, "right", 5, NULL, 0), MFS_E_EXISTS);
	mfs_volume_close(v);
	close_store(&f);
}

Test(volume, volumes_see_only_their_own_objects)
{
	struct fixture f = open_store(128);
	struct mfs_volume *outer = tu_volume(f.store, "outer", NULL);
	struct mfs_volume *hidden = tu_volume(f.store, "hidden", "outer");
	uint8_t *got;
	uint64_t n, outer_used;

	put(outer, "name", "outer data", 10);
	outer_used = used(outer);
	put(hidden, "name", "hidden data", 11);
	expect(outer, "name", (const uint8_t *)"outer data", 10);
	expect(hidden, "name", (const uint8_t *)"hidden data", 11);
	put(hidden, "only-hidden", "x", 1);
	cr_assert_eq(get(outer, "only-hidden", &got, &n), MFS_E_NOTFOUND);
	cr_assert_eq(used(outer), outer_used, "the outer volume counts only its own slots");
	mfs_volume_close(outer);
	mfs_volume_close(hidden);
	close_store(&f);
}

/* Writes objects of ~1 MiB into v until the store is full from its view. */
static int fill(struct mfs_volume *v, uint8_t *data)
{
	int n = 0;

	for (;; n++) {
		struct mfs_vtxn *t;
		char name[32];
		int rc;

		sprintf(name, "fill%d", n);
		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		rc = mfs_obj_write(t, name, strlen(name), data, 1u << 20);
		if (rc == MFS_E_FULL) {
			mfs_vtxn_abort(t);
			return n;
		}
		cr_assert_eq(rc, 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	}
}

Test(volume, protected_hidden_volume_survives_outer_writes)
{
	struct fixture f = open_store(400);
	struct mfs_volume *outer, *hidden = NULL;
	uint8_t *data = malloc(1u << 20), *secret = malloc(500000);
	struct mfs_volume_stats st;
	int n;

	uint64_t hidden_used;

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	tu_fill_random(secret, 500000, 42);
	put(hidden, "diary", secret, 500000);
	hidden_used = used(hidden);
	mfs_volume_close(hidden);
	tu_fill_random(data, 1u << 20, 7);
	cr_assert_eq(mfs_volume_open(&outer, f.store, "outer", 5, "hidden", 6), 0);
	n = fill(outer, data);
	cr_assert_gt(n, 10);
	cr_assert_eq(mfs_volume_stats(outer, &st), 0);
	cr_assert_eq(st.protected_slots, hidden_used,
		     "the diary, the outer key it keeps, its map and superblock candidates");
	/* Its slack: a slot object's worth, room to rewrite its map (two
	 * pages, two copies each) and to delete. */
	cr_assert_lt(st.free_slots, 17 + 2 * OUTER_MAP_COPIES + 400 / 32,
		     "the outer volume filled every slot it may take (but the slack it keeps to "
		     "delete)");
	mfs_volume_close(outer);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	expect(hidden, "diary", secret, 500000);
	mfs_volume_close(hidden);
	free(data);
	free(secret);
	close_store(&f);
}

Test(volume, unprotected_outer_writes_may_destroy_the_hidden_volume)
{
	struct fixture f = open_store(200);
	struct mfs_volume *outer, *hidden;
	uint8_t *data = malloc(1u << 20);
	int rc;

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	put(hidden, "diary", "x", 1);
	mfs_volume_close(hidden);
	tu_fill_random(data, 1u << 20, 8);
	cr_assert_eq(mfs_volume_open(&outer, f.store, "outer", 5, NULL, 0), 0);
	fill(outer, data);
	/* Top the store up with single-slot objects: then every record is outer's. */
	for (int i = 0;; i++) {
		struct mfs_vtxn *t;
		char name[32];

		sprintf(name, "small%d", i);
		cr_assert_eq(mfs_vtxn_begin(outer, 1, &t), 0);
		rc = mfs_obj_write(t, name, strlen(name), "s", 1);
		if (rc == MFS_E_FULL) {
			mfs_vtxn_abort(t);
			break;
		}
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	}
	cr_assert_geq(used(outer), 200 - 2 * OUTER_MAP_COPIES - 200 / 32,
		      "the outer volume took every slot, the hidden ones too, but its slack");
	mfs_volume_close(outer);
	/* As documented: without --protect-file the hidden volume can be
	 * overwritten; what is left of it says so (or, when one of its six
	 * slots and its map survived, parity brings the one byte back). */
	rc = mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0);
	if (rc == 0) {
		uint8_t *got = NULL;
		uint64_t n = 0;

		rc = get(hidden, "diary", &got, &n);
		cr_assert(rc == MFS_E_CORRUPT || (rc == 0 && n == 1 && got[0] == 'x'), "%s",
			  mfs_strerror(rc));
		if (rc == 0)
			free(got);
		mfs_volume_close(hidden);
	} else {
		cr_assert(rc == MFS_E_BADPASS || rc == MFS_E_CORRUPT, "%s", mfs_strerror(rc));
	}
	free(data);
	close_store(&f);
}

Test(volume, hidden_superblock_opens_only_with_its_password)
{
	struct fixture f = open_store(64);
	struct mfs_volume *v = NULL;
	struct mfs_volume_stats a, b;

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	cr_assert_eq(mfs_volume_open(&v, f.store, "outer", 5, NULL, 0), 0);
	cr_assert_eq(mfs_volume_stats(v, &a), 0);
	mfs_volume_close(v);
	mfs_volume_close(tu_volume(f.store, "hidden", "outer"));
	cr_assert_eq(mfs_volume_open(&v, f.store, "outer", 5, NULL, 0), 0);
	cr_assert_eq(mfs_volume_stats(v, &b), 0);
	cr_assert_eq(a.used_slots, b.used_slots, "the outer volume's view did not change");
	cr_assert_eq(a.free_slots, b.free_slots);
	cr_assert_eq(a.protected_slots, b.protected_slots);
	cr_assert_eq(a.sb.blob_count, b.sb.blob_count);
	mfs_volume_close(v);
	cr_assert_eq(mfs_volume_open(&v, f.store, "hiddeN", 6, NULL, 0), MFS_E_BADPASS);
	cr_assert_eq(mfs_volume_open(&v, f.store, "hidden", 6, NULL, 0), 0);
	mfs_volume_close(v);
	cr_assert_eq(mfs_volume_create(f.store, "third", 5, "nope", 4), MFS_E_BADPASS,
		     "protecting a volume that does not exist is an error");
	close_store(&f);
}

/* Flips one byte of slot pos's ciphertext in data.mdb. */
static void flip_at(struct fixture *f, uint32_t pos)
{
	char path[4096];
	off_t at = (off_t)mfs_store_slot_offset(f->store, pos) + 100;
	uint8_t b;
	int fd;

	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x01;
	cr_assert_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

static uint32_t slot_pos(struct mfs_volume *v, const char *name, uint32_t index)
{
	struct mfs_vtxn *t;
	uint32_t pos;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), index, &pos), 0);
	mfs_vtxn_abort(t);
	return pos;
}

/* Flips one byte inside the stored value of object name's slot 0. */
static void flip_slot_byte(struct fixture *f, struct mfs_volume *v, const char *name)
{
	flip_at(f, slot_pos(v, name, 0));
}

Test(volume, flipped_byte_is_detected_and_others_stay_readable)
{
	struct fixture f = open_store(64);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *got;
	uint64_t n;

	put(v, "victim", "victim data", 11);
	put(v, "bystander", "bystander data", 14);
	flip_slot_byte(&f, v, "victim");
	cr_assert_eq(get(v, "victim", &got, &n), MFS_E_CORRUPT);
	cr_assert_str_eq(mfs_strerror(MFS_E_CORRUPT), "stored data is damaged");
	expect(v, "bystander", (const uint8_t *)"bystander data", 14);
	mfs_volume_close(v);
	close_store(&f);
}

Test(volume, store_full_is_clear_and_writes_nothing)
{
	struct fixture f = open_store(40);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(4u << 20);
	struct mfs_vtxn *t;
	uint64_t before, n;
	uint8_t *got;

	tu_fill_random(data, 4u << 20, 9);
	put(v, "a", data, 1u << 20);
	before = used(v);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "huge", 4, data, 4u << 20), MFS_E_FULL);
	mfs_vtxn_abort(t);
	cr_assert_eq(used(v), before);
	cr_assert_eq(get(v, "huge", &got, &n), MFS_E_NOTFOUND, "nothing half-written");
	expect(v, "a", data, 1u << 20);
	mfs_volume_close(v);
	free(data);
	close_store(&f);
}

Test(volume, hidden_volume_alone_never_overwrites_the_outer_one)
{
	struct fixture f = open_store(500);
	struct mfs_volume *outer = tu_volume(f.store, "outer", NULL), *hidden = NULL;
	uint8_t *data = malloc(1u << 20), *public = malloc(400000);
	struct mfs_volume_stats st;

	uint64_t outer_used;

	tu_fill_random(public, 400000, 21);
	put(outer, "public", public, 400000);
	outer_used = used(outer);
	mfs_volume_close(outer);
	mfs_volume_close(tu_volume(f.store, "hidden", "outer"));
	/* Opened with its own password only, as a user would. */
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	tu_fill_random(data, 1u << 20, 22);
	cr_assert_gt(fill(hidden, data), 5);
	cr_assert_eq(mfs_volume_stats(hidden, &st), 0);
	cr_assert_eq(st.protected_slots, outer_used,
		     "the hidden volume knows the outer one's slots");
	mfs_volume_close(hidden);
	cr_assert_eq(mfs_volume_open(&outer, f.store, "outer", 5, NULL, 0), 0);
	expect(outer, "public", public, 400000);
	mfs_volume_close(outer);
	free(data);
	free(public);
	close_store(&f);
}

Test(volume, objects_sealed_ahead_of_their_transaction)
{
	struct fixture f = open_store(128);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	struct mfs_volume *other = tu_volume(f.store, "other", NULL);
	const size_t len = 3 * MFS_SLOT_DATA + 77;
	uint8_t *data = malloc(len), *sealed = malloc(4 * MFS_SLOT_BYTES);
	uint8_t *scratch = malloc(MFS_SLOT_PAYLOAD);
	struct mfs_vtxn *t;
	uint8_t *got;
	uint64_t n, before;

	put(v, "seed", "s", 1); /* the map's first page exists from here on */
	before = used(v);
	tu_fill_random(data, len, 31);
	mfs_obj_seal(v, sealed, scratch, "pre", 3, data, len, NULL);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, "pre", 3, sealed, len), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, "pre", 3, sealed, len), MFS_E_EXISTS);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	expect(v, "pre", data, len);
	cr_assert_eq(used(v), before + 4);
	/* Slots sealed with another volume's keys are not this volume's. */
	mfs_obj_seal(other, sealed, scratch, "alien", 5, data, len, NULL);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, "alien", 5, sealed, len), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(get(v, "alien", &got, &n), MFS_E_CORRUPT,
		     "slots sealed under other keys never open: damage, not the other's data");
	mfs_volume_close(v);
	mfs_volume_close(other);
	free(data);
	free(sealed);
	free(scratch);
	close_store(&f);
}

/* Writes value over slot pos's value in data.mdb, behind the store's back. */
static void raw_slot_write(struct fixture *f, uint32_t pos, const uint8_t *value)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, value, MFS_SLOT_BYTES, (off_t)mfs_store_slot_offset(f->store, pos)),
		     MFS_SLOT_BYTES);
	close(fd);
}

/* Seals name as an object of len bytes (data), stores it as sealed ahead,
 * then writes over its slot `index` a slot of the same name and index
 * sealed for an object of other_len bytes: a slot that opens (the right
 * keys, id and generation) but says another length, what a writer that
 * mixed up two versions of an object would leave. */
static void store_with_foreign_slot(struct fixture *f, struct mfs_volume *v, const char *name,
				    const uint8_t *data, size_t len, size_t other_len,
				    uint32_t index)
{
	const size_t n = (size_t)mfs_obj_sealed_slots(v, len);
	const size_t other_n = (size_t)mfs_obj_sealed_slots(v, other_len);
	uint8_t *sealed = malloc(n * MFS_SLOT_BYTES), *other = malloc(other_n * MFS_SLOT_BYTES);
	uint8_t *scratch = malloc(mfs_obj_seal_scratch(v, len > other_len ? len : other_len));
	struct mfs_vtxn *t;

	cr_assert(index < n && index < other_n);
	mfs_obj_seal(v, sealed, scratch, name, strlen(name), data, len, NULL);
	mfs_obj_seal(v, other, scratch, name, strlen(name), data, other_len, NULL);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, name, strlen(name), sealed, len), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	raw_slot_write(f, slot_pos(v, name, index), other + (size_t)index * MFS_SLOT_BYTES);
	free(sealed);
	free(other);
	free(scratch);
}

Test(volume, a_slot_whose_length_disagrees_is_damage_wherever_a_read_meets_it)
{
	struct fixture f = open_store(128);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	const size_t len = 2 * MFS_SLOT_DATA + 100; /* three slots */
	const size_t same_n = len + 1000, longer = 3 * MFS_SLOT_DATA + 1, one = 100;
	uint8_t *data = malloc(longer), *got = malloc(len), *all;
	struct mfs_vtxn *t;
	uint64_t n, lost;

	tu_fill_random(data, longer, 41);
	put(v, "bystander", data + 7, 100000);
	store_with_foreign_slot(&f, v, "mid", data, len, same_n, 1);
	store_with_foreign_slot(&f, v, "head", data, len, same_n, 0);
	store_with_foreign_slot(&f, v, "head-long", data, len, longer, 0);
	store_with_foreign_slot(&f, v, "head-short", data, len, one, 0);
	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	/* Slot 1 says another length than slots 0 and 2: every read that
	 * opens it says so, whether it starts past slot 0 (with the length
	 * known or not) or in slot 0. */
	cr_assert_eq(mfs_obj_read_known(t, "mid", 3, len, MFS_SLOT_DATA + 5, got, 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_read(t, "mid", 3, MFS_SLOT_DATA + 5, got, 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_read(t, "mid", 3, 0, got, MFS_SLOT_DATA + 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_get(t, "mid", 3, &all, &n), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_check(t, "mid", 3, &lost), MFS_E_CORRUPT);
	cr_assert_eq(lost, 0, "every slot opened: the damage is the length");
	/* The slots that agree still read. */
	cr_assert_eq(mfs_obj_read_known(t, "mid", 3, len, 2 * MFS_SLOT_DATA, got, 100), 0);
	cr_assert_arr_eq(got, data + 2 * MFS_SLOT_DATA, 100);
	/* Slot 0 disagrees with slots 1 and 2 (the same number of slots): a
	 * read of slot 0 that knows the length, a whole read and a check say
	 * so; slot 1, which agrees with the length given, reads. */
	cr_assert_eq(mfs_obj_read_known(t, "head", 4, len, 0, got, 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_get(t, "head", 4, &all, &n), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_read(t, "head", 4, 0, got, MFS_SLOT_DATA + 10), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_check(t, "head", 4, &lost), MFS_E_CORRUPT);
	cr_assert_eq(mfs_obj_read_known(t, "head", 4, len, MFS_SLOT_DATA + 5, got, 10), 0);
	cr_assert_arr_eq(got, data + MFS_SLOT_DATA + 5, 10);
	/* Slot 0 says more or fewer slots than the object has: even asking
	 * its length, or reading slot 0 alone, is damage (the map disagrees). */
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? "head-long" : "head-short";

		cr_assert_eq(mfs_obj_size(t, name, strlen(name), &n), MFS_E_CORRUPT, "%s", name);
		cr_assert_eq(mfs_obj_read(t, name, strlen(name), 0, got, 10), MFS_E_CORRUPT, "%s",
			     name);
		cr_assert_eq(mfs_obj_get(t, name, strlen(name), &all, &n), MFS_E_CORRUPT, "%s", name);
		cr_assert_eq(mfs_obj_check(t, name, strlen(name), &lost), MFS_E_CORRUPT, "%s", name);
		cr_assert_eq(mfs_obj_read_known(t, name, strlen(name), len, 0, got, 10),
			     MFS_E_CORRUPT, "%s", name);
	}
	mfs_vtxn_abort(t);
	/* Nothing else of the volume is lost, now or after a new session. */
	expect(v, "bystander", data + 7, 100000);
	mfs_volume_close(v);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), 0);
	expect(v, "bystander", data + 7, 100000);
	mfs_volume_close(v);
	free(data);
	free(got);
	close_store(&f);
}

/* The state the volume pw opens as read from its candidates (what an
 * adversary who knows the password finds); *keys to mfs_secure_free. */
static struct view *load_state(struct fixture *f, const char *pw, struct vol_keys **keys)
{
	struct side sd;
	struct view *v = NULL;

	cr_assert_eq(volmap_derive_keys(keys, f->store, pw, strlen(pw)), 0);
	volmap_side_init(&sd, *keys, mfs_store_header(f->store)->slot_count);
	cr_assert_eq(mfs_store_lock(f->store), 0);
	cr_assert_eq(volmap_load_view(f->store, &sd, NULL, &v), 0);
	mfs_store_unlock(f->store);
	return v;
}

/* Where the superblock copies of the volume pw opens lie: their count. */
static unsigned sb_copies(struct fixture *f, const char *pw, uint32_t pos[static MAX_CANDIDATES])
{
	struct vol_keys *k;
	struct view *v = load_state(f, pw, &k);
	unsigned n = v->nsb;

	memcpy(pos, v->sb_pos, sizeof v->sb_pos);
	volmap_view_unref(v);
	mfs_secure_free(k);
	return n;
}

static uint8_t *store_file(struct fixture *f, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	return tu_read_file(path, len);
}

Test(volume, a_damaged_superblock_copy_is_replaced_by_the_other_one)
{
	struct fixture f = open_store(64);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(100000);
	uint32_t pos[MAX_CANDIDATES];

	tu_fill_random(data, 100000, 51);
	put(v, "a", data, 100000);
	put(v, "b", "bee", 3);
	mfs_volume_close(v);
	/* The first copy, then (a session later) the second: either alone
	 * opens the volume, and the session writes two sound copies again. */
	for (unsigned copy = 0; copy < SB_COPIES; copy++) {
		cr_assert_eq(sb_copies(&f, "pw", pos), SB_COPIES);
		flip_at(&f, pos[copy]);
		cr_assert_eq(sb_copies(&f, "pw", pos), SB_COPIES - 1, "copy %u damaged", copy);
		cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), 0, "copy %u", copy);
		expect(v, "a", data, 100000);
		expect(v, "b", (const uint8_t *)"bee", 3);
		mfs_volume_close(v);
		cr_assert_eq(sb_copies(&f, "pw", pos), SB_COPIES, "the session healed copy %u", copy);
	}
	free(data);
	close_store(&f);
}

Test(volume, every_superblock_copy_damaged_opens_nothing_writes_nothing_and_loses_nothing)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL), *other;
	uint32_t pos[MAX_CANDIDATES];
	uint8_t *before, *after;
	size_t len, len2;
	unsigned n;

	put(v, "a", "apple", 5);
	mfs_volume_close(v);
	/* Two volumes that protect each other (a session of one alone may
	 * write over the other's slots: VeraCrypt's price of deniability). */
	other = tu_volume(f.store, "other", "pw");
	put(other, "o", "orange", 6);
	mfs_volume_close(other);
	n = sb_copies(&f, "pw", pos);
	for (unsigned c = 0; c < n; c++)
		flip_at(&f, pos[c]);
	/* No candidate opens: to the store that is a wrong password (a
	 * volume without a sound superblock cannot be told from none, and
	 * must not be), never another volume, never a crash. */
	before = store_file(&f, &len);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), MFS_E_BADPASS);
	cr_assert_null(v);
	cr_assert_str_eq(mfs_strerror(MFS_E_BADPASS),
			 "wrong password: no volume in this store opens with it");
	after = store_file(&f, &len2);
	cr_assert(len == len2 && memcmp(before, after, len) == 0, "a failed open writes nothing");
	free(after);
	/* Nothing was lost: undoing the damage gives the volume back whole. */
	for (unsigned c = 0; c < n; c++)
		flip_at(&f, pos[c]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, "other", 5), 0);
	expect(v, "a", (const uint8_t *)"apple", 5);
	mfs_volume_close(v);
	/* The other volume opens and reads while this one is damaged. */
	n = sb_copies(&f, "pw", pos);
	for (unsigned c = 0; c < n; c++)
		flip_at(&f, pos[c]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), MFS_E_BADPASS);
	cr_assert_eq(mfs_volume_open(&other, f.store, "other", 5, NULL, 0), 0);
	expect(other, "o", (const uint8_t *)"orange", 6);
	mfs_volume_close(other);
	free(before);
	close_store(&f);
}

/* Whether pos is one of the n positions in list. */
static int among(const uint32_t *list, unsigned n, uint32_t pos)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == pos)
			return 1;
	return 0;
}

Test(volume, a_stale_superblock_never_wins_and_alone_is_damage_not_an_old_volume)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *old[SB_COPIES];
	uint32_t was[MAX_CANDIDATES], pos[MAX_CANDIDATES];
	unsigned n, stale = SB_COPIES;

	put(v, "a", "apple", 5);
	mfs_volume_close(v);
	cr_assert_eq(sb_copies(&f, "pw", was), SB_COPIES);
	for (unsigned c = 0; c < SB_COPIES; c++) {
		old[c] = malloc(MFS_SLOT_BYTES);
		cr_assert_eq(mfs_store_slot_read(f.store, was[c], old[c]), 0);
	}
	/* Each commit writes a new map page (the old one is wiped) and the
	 * superblock copies to random candidates, which may be the very ones
	 * the old copies held: commit again until one of those is free. */
	for (unsigned round = 0; round < 32 && stale == SB_COPIES; round++) {
		cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), 0);
		put(v, "b", "banana", 6);
		mfs_volume_close(v);
		n = sb_copies(&f, "pw", pos);
		for (unsigned c = 0; c < SB_COPIES && stale == SB_COPIES; c++)
			if (!among(pos, n, was[c]))
				stale = c;
	}
	/* A crash before the wipes would leave an old superblock: put one
	 * back where no current copy lies. The newest still wins. */
	cr_assert_lt(stale, SB_COPIES, "no old copy's candidate came free in 32 commits");
	raw_slot_write(&f, was[stale], old[stale]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), 0);
	expect(v, "b", (const uint8_t *)"banana", 6);
	mfs_volume_close(v);
	/* Only the stale copy left: its map page is gone, so the volume is
	 * damaged; it never opens as the state it had before "b" (and it is
	 * not "wrong password": a superblock did open). */
	n = sb_copies(&f, "pw", pos);
	raw_slot_write(&f, was[stale], old[stale]);
	for (unsigned c = 0; c < n; c++)
		if (pos[c] != was[stale])
			flip_at(&f, pos[c]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), MFS_E_CORRUPT);
	cr_assert_null(v);
	for (unsigned c = 0; c < SB_COPIES; c++)
		free(old[c]);
	close_store(&f);
}

/* An outer volume keeps two copies of each map page: one damaged (a bad
 * sector, or a session of a volume it protects that did not know of it)
 * loses nothing; both damaged make the volume damaged, not a crash, and a
 * failed open writes nothing. */
Test(volume, a_lost_map_page_copy_loses_nothing_and_both_are_damage)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL), *other;
	uint8_t *before, *after;
	struct vol_keys *k;
	struct view *st;
	uint32_t page[OUTER_MAP_COPIES];
	size_t len, len2;

	put(v, "a", "apple", 5);
	mfs_volume_close(v);
	/* Two volumes that protect each other (a session of one alone may
	 * write over the other's slots: VeraCrypt's price of deniability). */
	other = tu_volume(f.store, "other", "pw");
	put(other, "o", "orange", 6);
	mfs_volume_close(other);
	st = load_state(&f, "pw", &k);
	cr_assert_eq(st->nb, 1, "a small volume's map is one page");
	cr_assert_eq(volmap_copies(st), OUTER_MAP_COPIES, "an outer volume keeps two copies of it");
	for (unsigned c = 0; c < OUTER_MAP_COPIES; c++)
		page[c] = st->pages[0]->pos[c];
	cr_assert_neq(page[0], page[1]);
	volmap_view_unref(st);
	mfs_secure_free(k);

	/* One copy gone: the volume opens from the other, whole. */
	flip_at(&f, page[0]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, "other", 5), 0);
	expect(v, "a", (const uint8_t *)"apple", 5);
	mfs_volume_close(v);

	/* Both gone: damage, said so, and nothing written. (The session
	 * may have moved the page; a copy still where the flipped one was is
	 * still flipped.) */
	const uint32_t flipped = page[0];
	st = load_state(&f, "pw", &k);
	for (unsigned c = 0; c < OUTER_MAP_COPIES; c++)
		page[c] = st->pages[0]->pos[c];
	volmap_view_unref(st);
	mfs_secure_free(k);
	for (unsigned c = 0; c < OUTER_MAP_COPIES; c++)
		if (page[c] != flipped)
			flip_at(&f, page[c]);
	before = store_file(&f, &len);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), MFS_E_CORRUPT);
	cr_assert_null(v);
	cr_assert_str_eq(mfs_strerror(MFS_E_CORRUPT), "stored data is damaged");
	after = store_file(&f, &len2);
	cr_assert(len == len2 && memcmp(before, after, len) == 0, "a failed open writes nothing");
	/* Undone, the volume is whole; the other volume never noticed. */
	for (unsigned c = 0; c < OUTER_MAP_COPIES; c++)
		flip_at(&f, page[c]);
	cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, "other", 5), 0);
	expect(v, "a", (const uint8_t *)"apple", 5);
	mfs_volume_close(v);
	cr_assert_eq(mfs_volume_open(&other, f.store, "other", 5, NULL, 0), 0);
	expect(other, "o", (const uint8_t *)"orange", 6);
	mfs_volume_close(other);
	free(before);
	free(after);
	close_store(&f);
}

Test(volume, a_read_sees_what_another_process_committed)
{
	struct fixture f = open_store(128);
	struct mfs_store *other_store;
	struct mfs_volume *mine = tu_volume(f.store, "pw", NULL), *theirs;
	uint8_t *got;
	uint64_t n;

	/* A second handle on the same directory: another process, as far as
	 * the store can tell (its own descriptor, its own lock). */
	cr_assert_eq(mfs_store_open(&other_store, f.dir), 0);
	cr_assert_eq(mfs_volume_open(&theirs, other_store, "pw", 2, NULL, 0), 0);
	put(mine, "early", "before", 6);
	expect(theirs, "early", (const uint8_t *)"before", 6);
	put(theirs, "late", "after", 5);
	expect(mine, "late", (const uint8_t *)"after", 5);
	put(theirs, "early", "rewritten", 9);
	expect(mine, "early", (const uint8_t *)"rewritten", 9);
	cr_assert_eq(get(mine, "nothing", &got, &n), MFS_E_NOTFOUND);
	mfs_volume_close(theirs);
	mfs_store_close(other_store);
	mfs_volume_close(mine);
	close_store(&f);
}

/* Bytes [0, len) of name through a transaction of mfs_vtxn_begin_known. */
static int read_known(struct mfs_volume *v, const char *name, uint8_t *buf, size_t len)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin_known(v, &t), 0);
	rc = mfs_obj_read_known(t, name, strlen(name), len, 0, buf, len);
	mfs_vtxn_abort(t);
	return rc;
}

/* A transaction that does not ask the disk reads on the state this
 * process knew last. What another process added since is not found there
 * (a transaction that asks finds it); what it wrote over or removed moves
 * the read to the newer state: the new bytes or not found, never a wiped
 * slot's. */
Test(volume, a_read_that_does_not_ask_moves_on_when_another_process_wrote_over_its_state)
{
	struct fixture f = open_store(128);
	struct mfs_store *other_store;
	struct mfs_volume *mine = tu_volume(f.store, "pw", NULL), *theirs;
	uint8_t buf[10];

	cr_assert_eq(mfs_store_open(&other_store, f.dir), 0);
	cr_assert_eq(mfs_volume_open(&theirs, other_store, "pw", 2, NULL, 0), 0);
	put(mine, "kept", "old bytes.", 10);
	put(mine, "gone", "gone bytes", 10);
	cr_assert_eq(read_known(mine, "kept", buf, 10), 0);
	cr_assert_arr_eq(buf, "old bytes.", 10);
	put(theirs, "new", "new object", 10);
	cr_assert_eq(read_known(mine, "new", buf, 10), MFS_E_NOTFOUND, "not in the state it knew");
	expect(mine, "new", (const uint8_t *)"new object", 10);
	put(theirs, "kept", "new bytes!", 10);
	cr_assert_eq(read_known(mine, "kept", buf, 10), 0);
	cr_assert_arr_eq(buf, "new bytes!", 10, "the newer state's bytes");
	{
		struct mfs_vtxn *t;

		cr_assert_eq(mfs_vtxn_begin(theirs, 1, &t), 0);
		cr_assert_eq(mfs_obj_delete(t, "gone", 4), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	}
	cr_assert_eq(read_known(mine, "gone", buf, 10), MFS_E_NOTFOUND);
	mfs_volume_close(theirs);
	mfs_store_close(other_store);
	mfs_volume_close(mine);
	close_store(&f);
}

/* How many of the pages of [at, at + len) of data.mdb are in the page cache
 * (mincore through a read-only map of the file). */
static size_t pages_cached(struct fixture *f, uint64_t at, size_t len)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const uint64_t from = at / page * page;
	const size_t span = (size_t)(at + len - from + page - 1) / page * page;
	unsigned char vec[64];
	char path[4096];
	size_t n = 0;
	void *map;
	int fd;

	cr_assert_leq(span / page, sizeof vec);
	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	map = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, (off_t)from);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mincore(map, span, vec), 0);
	for (size_t i = 0; i < span / page; i++)
		n += vec[i] & 1;
	munmap(map, span);
	close(fd);
	return n;
}

/* Drops data.mdb's clean pages from the page cache. */
static void evict_store(struct fixture *f)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(fdatasync(fd), 0);
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

/* mfs_obj_prefetch asks the disk for every slot of the object, and only
 * for those: each comes into the page cache without a read that waits,
 * and another object's slot stays out. */
Test(volume, a_prefetch_brings_the_objects_slots_into_the_page_cache)
{
	const size_t len = 3 * MFS_SLOT_DATA + 1000, page = (size_t)sysconf(_SC_PAGESIZE);
	struct fixture f = open_store(128);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(len);
	uint32_t pos[4], other;
	struct mfs_vtxn *t;

	memset(data, 0x5a, len);
	put(v, "wanted", data, len);
	put(v, "other", "other bytes", 11);
	for (uint32_t i = 0; i < 4; i++)
		pos[i] = slot_pos(v, "wanted", i);
	other = slot_pos(v, "other", 0);
	evict_store(&f);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(pages_cached(&f, mfs_store_slot_offset(f.store, pos[i]), MFS_SLOT_BYTES),
			     0, "slot %u evicted", i);
	cr_assert_eq(mfs_vtxn_begin_known(v, &t), 0);
	cr_assert_eq(mfs_obj_prefetch(t, "wanted", 6, len), 4, "its four slots asked for");
	cr_assert_eq(mfs_obj_prefetch(t, "absent", 6, len), 0, "a hint: nothing to ask for");
	cr_assert_eq(mfs_obj_prefetch(t, "", 0, len), MFS_E_FORMAT);
	cr_assert_eq(mfs_obj_prefetch(t, "wanted", 6, UINT64_MAX / 2), -EFBIG);
	mfs_vtxn_abort(t);
	for (uint32_t i = 0; i < 4; i++) {
		/* The pieces; the random padding after them is never read. */
		const uint64_t at = mfs_store_slot_offset(f.store, pos[i]);
		const size_t want = (size_t)((at + PAD_AT - at / page * page + page - 1) / page);

		/* The disk's answer arrives in its own time. */
		for (int tries = 0; tries < 200 && pages_cached(&f, at, PAD_AT) < want; tries++)
			usleep(10000);
		cr_assert_eq(pages_cached(&f, at, PAD_AT), want, "slot %u in the page cache", i);
	}
	cr_assert_eq(pages_cached(&f, mfs_store_slot_offset(f.store, other) + 8 * page, page), 0,
		     "another object's slot not asked for");
	free(data);
	mfs_volume_close(v);
	close_store(&f);
}

#if !defined(__SANITIZE_ADDRESS__) /* its shadow memory is too large to read through */
/* A 16-byte pattern that this test never holds whole in memory except in
 * the buffers it looks at: kept inverted, compared byte by byte. */
static const uint8_t mark_inv[16] = {0x8e, 0x21, 0xd7, 0x5a, 0x03, 0xbc, 0x69, 0xf0,
				     0x14, 0xa5, 0x7f, 0x3b, 0xc2, 0x96, 0x48, 0xe1};

static uint8_t mark_byte(size_t j)
{
	return (uint8_t)(0xff - mark_inv[j % 16]);
}

static int mark_at(const uint8_t *p)
{
	for (size_t j = 0; j < 16; j++)
		if (p[j] != mark_byte(j))
			return 0;
	return 1;
}

/* Whether the pattern lies anywhere in this process's anonymous writable
 * memory (heap, stacks, guarded allocations), as /proc/self/mem gives it. */
static int mark_in_memory(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	int mem = open("/proc/self/mem", O_RDONLY), found = 0;
	uint8_t *buf = malloc(1u << 20);
	char line[512];

	cr_assert(maps && mem >= 0 && buf);
	while (!found && fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[5], path[256] = "";

		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %255s", &lo, &hi, perms, path) < 3 ||
		    perms[0] != 'r' || perms[1] != 'w' || (path[0] && path[0] != '['))
			continue;
		for (unsigned long at = lo; !found && at < hi; at += (1u << 20) - 15) {
			size_t want = hi - at < (1u << 20) ? hi - at : (1u << 20);
			ssize_t n = pread(mem, buf, want, (off_t)at);

			for (ssize_t i = 0; n >= 16 && i + 16 <= n; i++)
				if (buf[i] == mark_byte(0) && mark_at(buf + i)) {
					found = 1;
					break;
				}
		}
	}
	memset(buf, 0, 1u << 20);
	free(buf);
	close(mem);
	fclose(maps);
	return found;
}

/* A read transaction that opened a slot in part (a seek) wipes what it
 * decrypted, though it wipes less than the whole 64 KiB: after it, the
 * object's bytes are nowhere in the process's memory but where the caller
 * keeps them, and gone once the caller wipes those. */
Test(volume, a_read_in_part_leaves_no_plaintext_behind)
{
	const size_t len = 3 * MFS_SLOT_DATA;
	struct fixture f = open_store(128);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(len), got[4096];
	struct mfs_vtxn *t;

	for (size_t i = 0; i < len; i++)
		data[i] = mark_byte(i);
	put(v, "secret", data, len);
	mfs_memzero(data, len);
	free(data);
	cr_assert_not(mark_in_memory(), "written: no plaintext left");
	cr_assert_eq(mfs_vtxn_begin_known(v, &t), 0);
	cr_assert_eq(mfs_obj_read_known(t, "secret", 6, len, MFS_SLOT_DATA + 20000, got,
					sizeof got), 0);
	mfs_vtxn_abort(t);
	cr_assert(mark_in_memory(), "the scan finds the bytes the caller holds");
	mfs_memzero(got, sizeof got);
	cr_assert_not(mark_in_memory(), "read in part: no plaintext left");
	mfs_volume_close(v);
	close_store(&f);
}
#endif

/* A write transaction starts from the newest state: its own view while
 * none of the volume's superblock candidates changed, else the candidates
 * again. Two handles writing in turns each build on the other's commits
 * (a write from a stale view would drop the other's objects from the map,
 * and put its slots in use again). */
Test(volume, a_write_builds_on_what_another_process_committed)
{
	struct fixture f = open_store(128);
	struct mfs_store *other_store;
	struct mfs_volume *mine = tu_volume(f.store, "pw", NULL), *theirs;
	char name[16], value[16];

	cr_assert_eq(mfs_store_open(&other_store, f.dir), 0);
	cr_assert_eq(mfs_volume_open(&theirs, other_store, "pw", 2, NULL, 0), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "m%d", i);
		put(mine, name, name, strlen(name));
		put(mine, name, "mine again", 10); /* a write on its own commit */
		snprintf(name, sizeof name, "t%d", i);
		put(theirs, name, name, strlen(name));
	}
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "m%d", i);
		expect(theirs, name, (const uint8_t *)"mine again", 10);
		expect(mine, name, (const uint8_t *)"mine again", 10);
		snprintf(name, sizeof name, "t%d", i);
		snprintf(value, sizeof value, "t%d", i);
		expect(mine, name, (const uint8_t *)value, strlen(value));
		expect(theirs, name, (const uint8_t *)value, strlen(value));
	}
	mfs_volume_close(theirs);
	mfs_store_close(other_store);
	mfs_volume_close(mine);
	/* What the two left opens whole from the disk, too. */
	cr_assert_eq(mfs_volume_open(&mine, f.store, "pw", 2, NULL, 0), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "t%d", i);
		expect(mine, name, (const uint8_t *)name, strlen(name));
	}
	mfs_volume_close(mine);
	close_store(&f);
}

/* A hidden volume's parity: per stripe of k (up to 32) data slots,
 * k + k/2 (rounded up) + 5 parity slots, numbered on from the last
 * stripe's. */
#define STRIPE 32u
#define PARITY(k) ((k) + ((k) + 1) / 2 + 5u)

static uint32_t parity_count(uint32_t n)
{
	return (n - 1) / STRIPE * PARITY(STRIPE) + PARITY(n - (n - 1) / STRIPE * STRIPE);
}

/* The store positions of an object's n data slots and all its parity slots. */
static void slot_positions(struct mfs_volume *v, const char *name, uint32_t n, uint32_t *data,
			   uint32_t *parity)
{
	struct mfs_vtxn *t;
	uint32_t past;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), i, &data[i]), 0);
	for (uint32_t i = 0; i < parity_count(n); i++)
		cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), MFS_OBJ_PARITY_INDEX | i,
						   &parity[i]),
			     0, "%s has parity slot %u", name, i);
	cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), n, &past), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name),
					   MFS_OBJ_PARITY_INDEX | parity_count(n), &past),
		     MFS_E_NOTFOUND);
	mfs_vtxn_abort(t);
}

/* Writes random bytes over a slot, as a session that did not know of the
 * volume holding it would. */
static void write_over(struct mfs_store *s, uint32_t pos)
{
	cr_assert_eq(mfs_store_lock(s), 0);
	cr_assert_eq(mfs_store_slot_wipe(s, pos), 0);
	cr_assert_eq(mfs_store_sync(s), 0);
	mfs_store_unlock(s);
}

Test(volume, a_hidden_volume_rebuilds_slots_written_over_from_parity)
{
	struct fixture f = open_store(800);
	const uint32_t n = 72; /* three stripes: 32, 32 and 8 data slots; 53, 53, 17 parity */
	const size_t len = (size_t)(n - 1) * MFS_SLOT_DATA + 100;
	uint8_t *secret = malloc(len), *got;
	uint32_t data[72], parity[123], small_data[1], small_parity[7];
	struct mfs_volume_stats st;
	struct mfs_volume *outer, *hidden;
	uint64_t got_len;

	cr_assert_eq(mfs_obj_slots_for(len), n);
	cr_assert_eq(parity_count(n), 123);
	outer = tu_volume(f.store, "outer", NULL);
	cr_assert_eq(mfs_volume_stats(outer, &st), 0);
	cr_assert_eq(st.redundant, 0, "an outer volume keeps no parity");
	mfs_volume_close(outer);
	hidden = tu_volume(f.store, "hidden", "outer");
	cr_assert_eq(mfs_volume_stats(hidden, &st), 0);
	cr_assert_eq(st.redundant, 1, "a volume made inside another does");
	tu_fill_random(secret, len, 51);
	put(hidden, "diary", secret, len);
	put(hidden, "note", "a small secret", 14);
	slot_positions(hidden, "diary", n, data, parity);
	slot_positions(hidden, "note", 1, small_data, small_parity);
	mfs_volume_close(hidden);
	/* The small object keeps one of its eight slots. */
	write_over(f.store, small_data[0]);
	for (uint32_t i = 0; i < 6; i++)
		write_over(f.store, small_parity[i]);
	/* Each stripe loses exactly as many slots as it has parity: stripe 0
	 * all its data (the length in slot 0 too) and 21 parity, stripe 1
	 * twenty-six data and twenty-seven parity, stripe 2 all its parity. */
	for (uint32_t i = 0; i < 32; i++)
		write_over(f.store, data[i]);
	for (uint32_t i = 0; i < 21; i++)
		write_over(f.store, parity[i]);
	for (uint32_t i = 0; i < 26; i++)
		write_over(f.store, data[32 + i]);
	for (uint32_t i = 0; i < 27; i++)
		write_over(f.store, parity[53 + i]);
	for (uint32_t i = 106; i < 123; i++)
		write_over(f.store, parity[i]);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	expect(hidden, "diary", secret, len);
	expect(hidden, "note", (const uint8_t *)"a small secret", 14);
	mfs_volume_close(hidden);
	/* One slot more in stripe 1: too little is left, and it says so. */
	write_over(f.store, data[32 + 26]);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	cr_assert_eq(get(hidden, "diary", &got, &got_len), MFS_E_CORRUPT);
	mfs_volume_close(hidden);
	free(secret);
	close_store(&f);
}

/* The leaves a whole read gives: those of the data (mfs_blob_id_leaves),
 * and their list is the data's id. */
static void expect_leaves(struct mfs_volume *v, const char *name, const uint8_t *data, size_t len)
{
	const size_t n = mfs_blob_leaf_count(len);
	uint8_t *want = malloc(n * MFS_BLOB_ID_BYTES), *got, *leaves, id[MFS_BLOB_ID_BYTES];
	uint8_t listed[MFS_BLOB_ID_BYTES];
	struct mfs_vtxn *t;
	uint64_t got_len;

	mfs_blob_id_leaves(id, want, data, len);
	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	cr_assert_eq(mfs_obj_get_leaves(t, name, strlen(name), &got, &got_len, &leaves), 0, "%s",
		     name);
	mfs_vtxn_abort(t);
	cr_assert_eq(got_len, len);
	cr_assert_arr_eq(got, data, len, "%s: the data", name);
	cr_assert_arr_eq(leaves, want, n * MFS_BLOB_ID_BYTES, "%s: every slot's leaf", name);
	mfs_blob_id_of_leaves(listed, leaves, n);
	cr_assert_arr_eq(listed, id, sizeof id, "%s: the leaves list to the id", name);
	free(got);
	free(leaves);
	free(want);
}

/* Format 8: whatever wrote an object (a write, slots sealed ahead with the
 * leaves given or hashed there, a hidden volume's parity rebuilding a slot
 * lost), every slot keeps its data's leaf, and a whole read gives them. A
 * leaf given wrong is kept as given (the slot is authentic), and a check
 * calls it damage. */
Test(volume, every_slot_keeps_its_datas_leaf_however_the_object_was_written)
{
	struct fixture f = open_store(400);
	const size_t len = 2 * MFS_SLOT_DATA + 77, short_len = 100;
	uint8_t *data = malloc(len), *other = malloc(len), *sealed, *scratch;
	uint8_t *leaves = malloc(3 * MFS_BLOB_ID_BYTES), id[MFS_BLOB_ID_BYTES];
	uint32_t pos[3], parity[64];
	struct mfs_volume *v;
	struct mfs_vtxn *t;
	uint64_t lost;

	tu_fill_random(data, len, 61);
	tu_fill_random(other, len, 62);
	for (int hidden = 0; hidden <= 1; hidden++) {
		v = hidden ? tu_volume(f.store, "hidden", "outer") : tu_volume(f.store, "outer", NULL);
		sealed = malloc(mfs_obj_sealed_slots(v, len) * MFS_SLOT_BYTES);
		scratch = malloc(mfs_obj_seal_scratch(v, len));
		put(v, "written", data, len);
		put(v, "short", data, short_len);
		put(v, "empty", "", 0);
		expect_leaves(v, "written", data, len);
		expect_leaves(v, "short", data, short_len);
		expect_leaves(v, "empty", (const uint8_t *)"", 0);

		mfs_blob_id_leaves(id, leaves, data, len);
		mfs_obj_seal(v, sealed, scratch, "given", 5, data, len, leaves);
		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		cr_assert_eq(mfs_obj_insert_sealed(t, "given", 5, sealed, len), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
		mfs_obj_seal(v, sealed, scratch, "hashed", 6, data, len, NULL);
		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		cr_assert_eq(mfs_obj_insert_sealed(t, "hashed", 6, sealed, len), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
		expect_leaves(v, "given", data, len);
		expect_leaves(v, "hashed", data, len);

		/* Another data's leaves: kept, and a check finds them out. */
		mfs_blob_id_leaves(id, leaves, other, len);
		mfs_obj_seal(v, sealed, scratch, "lied", 4, data, len, leaves);
		cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
		cr_assert_eq(mfs_obj_insert_sealed(t, "lied", 4, sealed, len), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
		cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
		cr_assert_eq(mfs_obj_check(t, "hashed", 6, &lost), 0);
		cr_assert_eq(lost, 0);
		cr_assert_eq(mfs_obj_check(t, "lied", 4, &lost), MFS_E_CORRUPT,
			     "a slot whose leaf is not its data's is damage");
		mfs_vtxn_abort(t);

		if (hidden) {
			/* Slots 0 and 2 written over: parity brings their leaves back. */
			slot_positions(v, "written", 3, pos, parity);
			mfs_volume_close(v);
			write_over(f.store, pos[0]);
			write_over(f.store, pos[2]);
			cr_assert_eq(mfs_volume_open(&v, f.store, "hidden", 6, NULL, 0), 0);
			expect_leaves(v, "written", data, len);
		}
		mfs_volume_close(v);
		free(sealed);
		free(scratch);
	}
	free(data);
	free(other);
	free(leaves);
	close_store(&f);
}

/* A record (a name starting with a zero byte, as the protect key's) keeps
 * 16 slots per small stripe: one of them is enough. */
Test(volume, a_hidden_volume_record_comes_back_from_any_one_of_its_sixteen_slots)
{
	struct fixture f = open_store(300);
	uint32_t data[1], parity[15];
	struct mfs_volume *hidden;
	struct mfs_vtxn *t;
	uint32_t past;

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	cr_assert_eq(mfs_vtxn_begin(hidden, 1, &t), 0);
	cr_assert_eq(mfs_obj_write(t, "\0rec", 4, "record", 6), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_vtxn_begin(hidden, 0, &t), 0);
	cr_assert_eq(mfs_obj_slot_position(t, "\0rec", 4, 0, &data[0]), 0);
	for (uint32_t i = 0; i < 15; i++)
		cr_assert_eq(mfs_obj_slot_position(t, "\0rec", 4, MFS_OBJ_PARITY_INDEX | i, &parity[i]),
			     0, "parity slot %u", i);
	cr_assert_eq(mfs_obj_slot_position(t, "\0rec", 4, MFS_OBJ_PARITY_INDEX | 15, &past),
		     MFS_E_NOTFOUND);
	cr_assert_eq(mfs_obj_insert_sealed(t, "\0rec2", 5, NULL, 1), -EROFS);
	mfs_vtxn_abort(t);
	cr_assert_eq(mfs_vtxn_begin(hidden, 1, &t), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, "\0rec2", 5, NULL, 1), MFS_E_FORMAT,
		     "records are never sealed ahead");
	mfs_vtxn_abort(t);
	mfs_volume_close(hidden);
	write_over(f.store, data[0]);
	for (uint32_t i = 0; i < 14; i++)
		write_over(f.store, parity[i]);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	{
		char got[6];

		cr_assert_eq(mfs_vtxn_begin(hidden, 0, &t), 0);
		cr_assert_eq(mfs_obj_read(t, "\0rec", 4, 0, got, 6), 0);
		cr_assert_arr_eq(got, "record", 6);
		mfs_vtxn_abort(t);
	}
	mfs_volume_close(hidden);
	close_store(&f);
}

/* A hidden volume whose stored protect key (the outer volume's) was
 * written over in all 16 of its slots still opens and reads, but refuses
 * every write: it no longer knows where the outer volume lies. */
Test(volume, a_hidden_volume_that_lost_its_protect_key_opens_read_only)
{
	struct fixture f = open_store(300);
	uint32_t key[16];
	struct mfs_volume_stats st;
	struct mfs_volume *hidden;
	struct mfs_vtxn *t;
	char got[6];

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	put(hidden, "file", "hidden", 6);
	cr_assert_eq(mfs_vtxn_begin(hidden, 0, &t), 0);
	cr_assert_eq(mfs_obj_slot_position(t, "\0protect", 8, 0, &key[0]), 0);
	for (uint32_t i = 0; i < 15; i++)
		cr_assert_eq(mfs_obj_slot_position(t, "\0protect", 8, MFS_OBJ_PARITY_INDEX | i,
						   &key[1 + i]),
			     0);
	mfs_vtxn_abort(t);
	cr_assert_eq(mfs_volume_stats(hidden, &st), 0);
	cr_assert_eq(st.writes_refused, 0);
	mfs_volume_close(hidden);
	for (uint32_t i = 0; i < 16; i++)
		write_over(f.store, key[i]);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	expect(hidden, "file", (const uint8_t *)"hidden", 6);
	cr_assert_eq(mfs_vtxn_begin(hidden, 1, &t), MFS_E_OVERWRITTEN);
	cr_assert_eq(mfs_volume_stats(hidden, &st), 0);
	cr_assert_eq(st.writes_refused, MFS_E_OVERWRITTEN);
	cr_assert_eq(mfs_vtxn_begin(hidden, 0, &t), 0);
	cr_assert_eq(mfs_obj_read(t, "\0protect", 8, 0, got, 1), MFS_E_CORRUPT);
	mfs_vtxn_abort(t);
	mfs_volume_close(hidden);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "outer", 5, NULL, 0), 0, "the outer one opens");
	mfs_volume_close(hidden);
	close_store(&f);
}

Test(volume, sealed_ahead_objects_of_a_hidden_volume_carry_parity)
{
	struct fixture f = open_store(300);
	const size_t len = 20 * MFS_SLOT_DATA + 1;
	const uint32_t n = (uint32_t)mfs_obj_slots_for(len);
	struct mfs_volume *hidden;
	uint8_t *secret = malloc(len), *sealed, *scratch;
	uint32_t data[32], parity[64];
	struct mfs_vtxn *t;

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	cr_assert_eq(mfs_obj_sealed_slots(hidden, len), n + 37,
		     "21 data slots: one stripe, 37 parity");
	cr_assert_eq(mfs_obj_sealed_slots(hidden, 1), 1 + 7, "one data slot, seven parity");
	sealed = malloc(mfs_obj_sealed_slots(hidden, len) * MFS_SLOT_BYTES);
	scratch = mfs_secure_alloc(mfs_obj_seal_scratch(hidden, len));
	tu_fill_random(secret, len, 52);
	mfs_obj_seal(hidden, sealed, scratch, "pre", 3, secret, len, NULL);
	cr_assert_eq(mfs_vtxn_begin(hidden, 1, &t), 0);
	cr_assert_eq(mfs_obj_insert_sealed(t, "pre", 3, sealed, len), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	slot_positions(hidden, "pre", n, data, parity);
	for (uint32_t i = 0; i < n; i += 2)
		write_over(f.store, data[i]);
	expect(hidden, "pre", secret, len);
	mfs_volume_close(hidden);
	free(secret);
	free(sealed);
	mfs_secure_free(scratch);
	close_store(&f);
}

/* The outer volume, opened alone, writes where the hidden one had a slot;
 * the hidden one, opened later, rebuilds its slot and, when it lets that
 * object go, must not wipe the position: the outer volume's data is there. */
Test(volume, a_session_never_wipes_what_the_other_volume_now_holds)
{
	struct fixture f = open_store(400);
	const size_t len = 10 * MFS_SLOT_DATA + 1;
	const uint32_t n = (uint32_t)mfs_obj_slots_for(len);
	uint8_t *secret = malloc(len);
	uint32_t data[16], parity[32], pos = 0;
	struct mfs_volume *outer, *hidden;
	int hit = 0, count = 0;
	char name[32];

	mfs_volume_close(tu_volume(f.store, "outer", NULL));
	hidden = tu_volume(f.store, "hidden", "outer");
	tu_fill_random(secret, len, 53);
	put(hidden, "diary", secret, len);
	slot_positions(hidden, "diary", n, data, parity);
	mfs_volume_close(hidden);
	cr_assert_eq(mfs_volume_open(&outer, f.store, "outer", 5, NULL, 0), 0);
	while (!hit) {
		struct mfs_vtxn *t;

		cr_assert_lt(count, 300, "the outer volume never took a slot of the diary");
		sprintf(name, "small%d", count++);
		put(outer, name, name, strlen(name));
		cr_assert_eq(mfs_vtxn_begin(outer, 0, &t), 0);
		cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), 0, &pos), 0);
		mfs_vtxn_abort(t);
		for (uint32_t i = 0; i < n; i++)
			hit |= pos == data[i] || pos == parity[i];
	}
	mfs_volume_close(outer);
	cr_assert_eq(mfs_volume_open(&hidden, f.store, "hidden", 6, NULL, 0), 0);
	expect(hidden, "diary", secret, len);
	{
		struct mfs_vtxn *t;

		cr_assert_eq(mfs_vtxn_begin(hidden, 1, &t), 0);
		cr_assert_eq(mfs_obj_delete(t, "diary", 5), 0);
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	}
	mfs_volume_close(hidden);
	cr_assert_eq(mfs_volume_open(&outer, f.store, "outer", 5, NULL, 0), 0);
	for (int i = 0; i < count; i++) {
		sprintf(name, "small%d", i);
		expect(outer, name, (const uint8_t *)name, strlen(name));
	}
	mfs_volume_close(outer);
	free(secret);
	close_store(&f);
}

/* ---- chained commits (mfs_vtxn_commit_chained) ---- */

static void write_in(struct mfs_vtxn *t, const char *name, const uint8_t *data, size_t len)
{
	cr_assert_eq(mfs_obj_write(t, name, strlen(name), data, len), 0, "write %s", name);
}

/* A chain of commits ends with every transaction's objects, each later
 * one seeing the earlier ones' before they are durable; the state a
 * reopened volume finds is the same, and the slots it uses add up. */
Test(volume, chained_commits_keep_every_link_and_see_the_ones_before)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	uint8_t *data = malloc(4 * 200000), *got = malloc(200000);
	struct mfs_vtxn *t, *next;
	uint64_t before;

	tu_fill_random(data, 4 * 200000, 7);
	put(v, "base", data, 200000);
	before = used(v);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	write_in(t, "a", data + 200000, 200000);
	cr_assert_eq(mfs_vtxn_commit_chained(t, &next), 0);
	t = next;
	cr_assert_eq(mfs_obj_read(t, "a", 1, 0, got, 200000), 0, "the next link sees a");
	cr_assert_arr_eq(got, data + 200000, 200000);
	write_in(t, "b", data + 400000, 200000);
	cr_assert_eq(mfs_obj_delete(t, "base", 4), 0);
	cr_assert_eq(mfs_vtxn_commit_chained(t, &next), 0);
	t = next;
	write_in(t, "c", data + 600000, 200000);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	for (int round = 0; round < 2; round++) {
		uint8_t *dummy;
		uint64_t n;

		expect(v, "a", data + 200000, 200000);
		expect(v, "b", data + 400000, 200000);
		expect(v, "c", data + 600000, 200000);
		cr_assert_eq(get(v, "base", &dummy, &n), MFS_E_NOTFOUND);
		cr_assert_eq(used(v), before + 2 * mfs_obj_slots_for(200000));
		mfs_volume_close(v);
		cr_assert_eq(mfs_volume_open(&v, f.store, "pw", 2, NULL, 0), 0);
	}
	mfs_volume_close(v);
	free(data);
	free(got);
	close_store(&f);
}

/* While a link's syncs run, the next link writes only to positions that
 * neither the durable state nor the link behind it holds: the slots the
 * link behind replaced still make the durable state, and a crash then
 * must find them whole. Here the next link fills every free position it
 * has, which would take those slots were they free to it. */
Test(volume, the_next_link_never_writes_where_the_one_behind_freed)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL);
	const size_t len = 1u << 20;
	uint8_t *data = malloc(len);
	uint32_t old[16];
	struct mfs_vtxn *t, *next;
	unsigned written = 0;
	int rc = 0;

	tu_fill_random(data, len, 3);
	put(v, "old", data, len);
	for (uint32_t i = 0; i < 16; i++)
		old[i] = slot_pos(v, "old", i);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	data[0] ^= 1;
	write_in(t, "old", data, len); /* old's 16 slots replaced */
	cr_assert_eq(mfs_vtxn_commit_chained(t, &next), 0);
	t = next;
	while (rc == 0) {
		char name[16];

		sprintf(name, "fill%u", written);
		rc = mfs_obj_write(t, name, strlen(name), data, 65536); /* one slot */
		if (rc == 0) {
			uint32_t pos;

			cr_assert_eq(mfs_obj_slot_position(t, name, strlen(name), 0, &pos), 0);
			for (uint32_t i = 0; i < 16; i++)
				cr_assert_neq(pos, old[i], "%s took a slot the durable state holds",
					      name);
			written++;
		}
	}
	cr_assert_eq(rc, MFS_E_FULL, "%s", mfs_strerror(rc));
	cr_assert_gt(written, 100, "the next link filled the store (%u objects)", written);
	mfs_vtxn_abort(t);
	expect(v, "old", data, len); /* the link behind is durable */
	data[0] ^= 1;
	mfs_volume_close(v);
	free(data);
	close_store(&f);
}

static void copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	cr_assert(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	close(out);
}

/* The store copied while a link's syncs may still run and the next link
 * has written slots of its own (a crash then, with every write on the
 * disk): the copy opens, holds what was durable before the chain, holds
 * the link behind whole or not at all, and nothing of the open link. */
Test(volume, a_crash_in_the_middle_of_a_chain_leaves_a_state_before_it)
{
	struct fixture f = open_store(256);
	struct mfs_volume *v = tu_volume(f.store, "pw", NULL), *w;
	struct mfs_store *copy;
	uint8_t *data = malloc(600000), *dummy;
	char from[4096], to[4096], *dir;
	struct mfs_vtxn *t, *next;
	uint64_t n;
	int rc;

	tu_fill_random(data, 600000, 11);
	put(v, "base", data, 200000);
	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	write_in(t, "a", data + 200000, 200000);
	cr_assert_eq(mfs_obj_delete(t, "base", 4), 0);
	cr_assert_eq(mfs_vtxn_commit_chained(t, &next), 0);
	t = next;
	write_in(t, "b", data + 400000, 200000);
	/* The crash: the store as it is now, header and all. */
	tu_store(&dir, 8);
	snprintf(from, sizeof from, "%s/data.mdb", f.dir);
	snprintf(to, sizeof to, "%s/data.mdb", dir);
	copy_file(from, to);
	snprintf(from, sizeof from, "%s/header", f.dir);
	snprintf(to, sizeof to, "%s/header", dir);
	copy_file(from, to);
	mfs_vtxn_abort(t);
	cr_assert_eq(mfs_store_open(&copy, dir), 0);
	cr_assert_eq(mfs_volume_open(&w, copy, "pw", 2, NULL, 0), 0);
	rc = get(w, "a", &dummy, &n);
	if (rc == 0) { /* the link behind was durable: base went with it */
		cr_assert_eq(n, 200000);
		cr_assert_arr_eq(dummy, data + 200000, 200000);
		free(dummy);
		cr_assert_eq(get(w, "base", &dummy, &n), MFS_E_NOTFOUND);
	} else {
		cr_assert_eq(rc, MFS_E_NOTFOUND, "%s", mfs_strerror(rc));
		expect(w, "base", data, 200000);
	}
	cr_assert_eq(get(w, "b", &dummy, &n), MFS_E_NOTFOUND, "the open link is not there");
	mfs_volume_close(w);
	mfs_store_close(copy);
	tu_rmtree(dir);
	free(dir);
	mfs_volume_close(v);
	free(data);
	close_store(&f);
}
