/* fs/fuse/writer: files written through a mount, published on close, with
 * no mount (no FUSE session) over a real store. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/channel/magnet.h"
#include "fs/fuse/fs_internal.h"
#include "fs/fuse/reader.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static uint8_t pk[MFS_SIGN_PK_BYTES];
static struct mfs_fs *fs;

static void setup(void)
{
	/* 64 MiB of slots: room for a 48 MiB file (more than the chunks in
	 * flight and a batch of the sink) wherever the writer is cut off. */
	tu_fixture_open(&fx, 1024);
	tu_channel_new(fx.vol, pk);
	fs = tu_fs_start(&fx, pk, 1, NULL, NULL);
}

static void teardown(void)
{
	mfs_fs_free(fs);
	tu_fixture_close(&fx);
}

TestSuite(writer, .init = setup, .fini = teardown, .timeout = 300);

/* A new file name in the root, as create makes it (one lookup). */
static struct writer *create(const char *name)
{
	struct writer *w = NULL;

	cr_assert_eq(mfs__writer_new(&w, fs, MFS_ROOT_INO, "", name, 1), 0);
	cr_assert_geq(w->ino, MFS_PENDING_INO);
	return w;
}

/* The kernel closes the file and forgets its number: w is gone. */
static void done(struct writer *w)
{
	uint64_t ino = w->ino;

	mfs__writer_close(fs, w);
	mfs__writer_forget(fs, ino, 1);
	cr_assert_null(mfs__writer_find(fs, ino));
}

/* The content of the published file path (malloc'ed), or NULL when the
 * tree has no file there. */
static uint8_t *published(const char *path, size_t *len)
{
	const struct mfs_node *n;
	struct mfs_file_entry e;
	struct mfs_rfile *f;
	uint8_t *buf = NULL;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_at(fs->tree, path);
	if (n && n->kind == MFS_NODE_FILE)
		rc = mfs_entry_from_json(&e, n->item, NULL, 0);
	pthread_rwlock_unlock(&fs->tree_lock);
	if (rc != 0)
		return NULL;
	*len = (size_t)e.size;
	buf = malloc(*len + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(mfs_rfile_open(&f, fs->reader, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 0, *len, buf), (ssize_t)*len);
	mfs_rfile_close(f);
	mfs_entry_clear(&e);
	return buf;
}

/* The tree has path as a file of exactly want[0..len). */
static void assert_published(const char *path, const uint8_t *want, size_t len)
{
	size_t got;
	uint8_t *back = published(path, &got);

	cr_assert_not_null(back, "%s is published", path);
	cr_assert_eq(got, len, "%s: %zu bytes", path, got);
	if (len) /* memcmp takes no NULL, even for 0 bytes */
		cr_assert_arr_eq(back, want, len, "%s: content", path);
	free(back);
}

static uint64_t free_slots(void)
{
	struct mfs_volume_stats st;

	cr_assert_eq(mfs_volume_stats(fx.vol, &st), 0);
	return st.free_slots;
}

Test(writer, a_file_written_in_pieces_is_published_whole_on_close)
{
	const size_t len = (3u << 20) + 777, piece = 128u << 10;
	uint8_t *data = malloc(len);
	struct writer *w = create("f.bin");
	uint64_t written;
	size_t got;

	tu_fill_random(data, len, 1);
	for (size_t off = 0; off < len; off += piece)
		cr_assert_eq(mfs__writer_write(fs, w, data + off, len - off < piece ? len - off : piece,
					       off), 0);
	cr_assert_eq(mfs__writer_state(w, &written), W_OPEN);
	cr_assert_eq(written, len);
	cr_assert_null(published("f.bin", &got), "invisible until it is closed");

	cr_assert_eq(mfs__writer_flush(fs, w, 1), 0);
	cr_assert_eq(mfs__writer_state(w, &written), W_PUBLISHED);
	assert_published("f.bin", data, len);
	/* A second close returns the first one's result; writes are over. */
	cr_assert_eq(mfs__writer_flush(fs, w, 1), 0);
	cr_assert_eq(mfs__writer_write(fs, w, data, 1, len), -EIO);
	cr_assert_eq(fs->sequence, 1, "published once");
	done(w);
	free(data);
}

/* "{ cat a; cat b; } > f": each cat closes its copy of the shell's
 * descriptor while the shell may still write; the shell's close publishes. */
Test(writer, a_copy_of_the_descriptor_closed_elsewhere_neither_publishes_nor_ends_it)
{
	const size_t len = (2u << 20) + 4099, half = (1u << 20) + 17;
	uint8_t *data = malloc(len);
	struct writer *w = create("group.bin");
	uint64_t written;
	size_t got;

	tu_fill_random(data, len, 9);
	cr_assert_eq(mfs__writer_write(fs, w, data, half, 0), 0);
	cr_assert_eq(mfs__writer_flush(fs, w, 0), 0);
	cr_assert_eq(mfs__writer_state(w, &written), W_OPEN, "still being written");
	cr_assert_null(published("group.bin", &got), "nothing published at a copy's close");
	cr_assert_eq(mfs__writer_write(fs, w, data + half, len - half, half), 0);
	cr_assert_eq(mfs__writer_flush(fs, w, 0), 0);
	cr_assert_eq(fs->sequence, 0);
	cr_assert_eq(mfs__writer_flush(fs, w, 1), 0, "the opener's close");
	assert_published("group.bin", data, len);
	cr_assert_eq(fs->sequence, 1, "published once, whole");
	done(w);
	free(data);
}

/* A thread other than the opener closes it: the release publishes. */
Test(writer, the_last_release_publishes_what_no_close_did)
{
	const size_t len = 300001;
	uint8_t *data = malloc(len);
	struct writer *w = create("late.bin");
	uint64_t ino = w->ino;

	tu_fill_random(data, len, 10);
	cr_assert_eq(mfs__writer_write(fs, w, data, len, 0), 0);
	cr_assert_eq(mfs__writer_flush(fs, w, 0), 0);
	mfs__writer_close(fs, w);
	assert_published("late.bin", data, len);
	cr_assert_eq(fs->sequence, 1);
	mfs__writer_forget(fs, ino, 1);
	cr_assert_null(mfs__writer_find(fs, ino));
	free(data);
}

Test(writer, a_gap_and_a_larger_size_are_zeros)
{
	struct writer *w = create("holes");
	uint8_t want[300] = {0};

	memset(want, 'a', 10);
	memset(want + 100, 'b', 10);
	cr_assert_eq(mfs__writer_write(fs, w, want, 10, 0), 0);
	cr_assert_eq(mfs__writer_write(fs, w, want + 100, 10, 100), 0);
	cr_assert_eq(mfs__writer_grow(fs, w, 300), 0, "ftruncate may grow the file");
	cr_assert_eq(mfs__writer_grow(fs, w, 200), -EPERM, "never shrink it");
	cr_assert_eq(mfs__writer_grow(fs, w, 300), -EPERM, "nor leave it as it is");
	done(w);
	assert_published("holes", want, sizeof want);
}

Test(writer, a_write_that_goes_back_is_refused_and_the_file_stays_whole)
{
	struct writer *w = create("f");
	uint8_t data[100];
	uint64_t written;

	tu_fill_random(data, sizeof data, 2);
	cr_assert_eq(mfs__writer_write(fs, w, data, 100, 0), 0);
	cr_assert_eq(mfs__writer_write(fs, w, data, 10, 50), -EIO);
	cr_assert_eq(mfs__writer_state(w, &written), W_OPEN, "the file may still be closed whole");
	cr_assert_eq(written, 100);
	done(w);
	assert_published("f", data, sizeof data);
}

Test(writer, a_close_before_any_write_waits_for_the_last_one)
{
	struct writer *w = create("empty");
	uint64_t written;
	size_t got;

	/* A shell's dup-and-close (echo x > f): not published yet. */
	cr_assert_eq(mfs__writer_flush(fs, w, 1), 0);
	cr_assert_eq(mfs__writer_state(w, &written), W_OPEN);
	cr_assert_null(published("empty", &got));
	/* The release: published, empty. */
	mfs__writer_close(fs, w);
	cr_assert_eq(mfs__writer_find(fs, w->ino), w, "the kernel still knows its number");
	cr_assert_eq(mfs__writer_state(w, &written), W_PUBLISHED);
	assert_published("empty", NULL, 0);
	mfs__writer_forget(fs, w->ino, 1);
}

Test(writer, a_writer_lives_until_the_last_reference_and_open_go)
{
	struct writer *w;
	uint64_t ino;

	/* open(O_TRUNC) of a published file: no lookup, one open. */
	cr_assert_eq(mfs__writer_new(&w, fs, MFS_ROOT_INO, "", "f", 0), 0);
	ino = w->ino;
	cr_assert_eq(mfs__writer_find(fs, ino), w);
	mfs__writer_close(fs, w);
	cr_assert_null(mfs__writer_find(fs, ino));

	w = create("g");
	ino = w->ino;
	mfs__writer_forget(fs, ino, 1);
	cr_assert_eq(mfs__writer_find(fs, ino), w, "still open");
	mfs__writer_close(fs, w);
	cr_assert_null(mfs__writer_find(fs, ino));
	/* Numbers are never given twice. */
	w = create("h");
	cr_assert_gt(w->ino, ino);
	done(w);
}

Test(writer, a_file_that_does_not_fit_gives_back_what_it_stored)
{
	const size_t piece = 1u << 20;
	uint8_t *data = malloc(piece);
	uint64_t before = free_slots(), written;
	struct writer *w = create("big");
	size_t got;
	int rc = 0;

	tu_fill_random(data, piece, 3);
	for (uint64_t off = 0; rc == 0; off += piece) {
		data[0] = (uint8_t)(off >> 20); /* every chunk its own blob */
		rc = mfs__writer_write(fs, w, data, piece, off);
		cr_assert_lt(off, UINT64_C(1) << 30, "the store never filled");
	}
	cr_assert_eq(rc, MFS_E_FULL);
	cr_assert_eq(mfs__writer_state(w, &written), W_FAILED);
	cr_assert_eq(free_slots(), before, "its blobs are gone");
	cr_assert_eq(mfs__writer_flush(fs, w, 0), MFS_E_FULL, "a copy's close says why");
	cr_assert_eq(mfs__writer_flush(fs, w, 1), MFS_E_FULL, "closing says why");
	cr_assert_eq(mfs__writer_write(fs, w, data, 1, written), -EIO);
	done(w);
	cr_assert_null(published("big", &got));
	cr_assert_eq(fs->sequence, 0, "nothing was published");
	free(data);
}

Test(writer, a_file_abandoned_at_the_end_gives_back_what_it_stored)
{
	/* More than the chunks in flight and a batch of the sink. */
	const size_t len = 48u << 20;
	uint8_t *data = malloc(len);
	uint64_t before = free_slots(), written;
	struct writer *w = create("cut");
	size_t got;

	tu_fill_random(data, len, 4);
	cr_assert_eq(mfs__writer_write(fs, w, data, len, 0), 0);
	cr_assert_lt(free_slots(), before, "some of it is stored already");
	mfs__writer_abandon(w);
	cr_assert_eq(mfs__writer_state(w, &written), W_FAILED);
	cr_assert_eq(free_slots(), before);
	done(w);
	cr_assert_null(published("cut", &got));
	free(data);
}

Test(writer, a_channel_the_volume_does_not_own_is_not_written)
{
	uint8_t other[MFS_SIGN_PK_BYTES], sk[MFS_SIGN_SK_BYTES];
	struct mfs_vtxn *t;
	struct mfs_fs *ro;
	struct writer *w = NULL;

	mfs_sign_keypair(other, sk);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_keyring_subscribe(t, other, "theirs"), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	ro = tu_fs_start(&fx, other, 0, NULL, NULL);
	cr_assert_eq(mfs__writer_new(&w, ro, MFS_ROOT_INO, "", "f", 1), -EROFS);
	cr_assert_null(w);
	mfs_fs_free(ro);
}

/* The magnet link the tree shows at path, or NULL. */
static const char *magnet_at(const char *path)
{
	const struct mfs_node *n = mfs_tree_at(fs->tree, path);

	return n && n->kind == MFS_NODE_MAGNET ? json_string_value(n->item) : NULL;
}

#define LINK "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Ep+1"

Test(writer, a_magnet_file_becomes_a_magnet_item_and_stores_nothing)
{
	const char line[] = LINK "\n";
	uint64_t before = free_slots(), written;
	struct writer *w = create("Ep 1.magnet");

	cr_assert_eq(mfs__writer_write(fs, w, line, 10, 0), 0);
	cr_assert_eq(mfs__writer_write(fs, w, line + 10, sizeof line - 11, 10), 0);
	cr_assert_eq(mfs__writer_flush(fs, w, 1), 0);
	cr_assert_eq(mfs__writer_state(w, &written), W_PUBLISHED);
	cr_assert_str_eq(magnet_at("Ep 1.magnet"), LINK, "the link, without its newline");
	cr_assert_eq(fs->sequence, 1);
	done(w);
	cr_assert_geq(free_slots() + 1, before, "no blob: at most the manifest's slot");
}

Test(writer, a_magnet_file_that_is_no_link_or_not_its_name_is_refused)
{
	static const char *const cases[][2] = {
		{"notes.magnet", "just some notes\n"},
		{"Ep 2.magnet", LINK "\n"},  /* the link shows as "Ep 1.magnet" */
		{"Ep 1.magnet", LINK "&dn=again"},
	};
	struct writer *w;
	uint64_t written;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		w = create(cases[i][0]);
		cr_assert_eq(mfs__writer_write(fs, w, cases[i][1], strlen(cases[i][1]), 0), 0);
		cr_assert_eq(mfs__writer_flush(fs, w, 1), -EINVAL, "%s", cases[i][1]);
		cr_assert_eq(mfs__writer_state(w, &written), W_FAILED);
		done(w);
	}
	cr_assert_eq(fs->sequence, 0, "nothing published");
}

Test(writer, a_magnet_file_longer_than_a_link_fails_at_the_write)
{
	static char big[MFS_MAGNET_MAX + 3];
	struct writer *w = create("big.magnet");

	memset(big, 'a', sizeof big);
	cr_assert_eq(mfs__writer_write(fs, w, big, MFS_MAGNET_MAX + 2, 0), 0, "room for a CRLF");
	cr_assert_eq(mfs__writer_write(fs, w, big, 1, MFS_MAGNET_MAX + 2), -EFBIG);
	cr_assert_eq(mfs__writer_flush(fs, w, 1), -EFBIG);
	done(w);
	w = create("hole.magnet");
	cr_assert_eq(mfs__writer_grow(fs, w, UINT64_C(1) << 40), -EFBIG, "a hole too");
	done(w);
	cr_assert_eq(fs->sequence, 0);
}

/* Files written by several threads at once, as libfuse's workers do. */
static void *write_one(void *arg)
{
	char name[16];
	uint8_t data[70000];
	struct writer *w;

	snprintf(name, sizeof name, "f%ld", (long)(intptr_t)arg);
	tu_fill_random(data, sizeof data, (uint64_t)(intptr_t)arg);
	w = create(name);
	for (size_t off = 0; off < sizeof data; off += 7000)
		cr_assert_eq(mfs__writer_write(fs, w, data + off, 7000, off), 0);
	done(w);
	return NULL;
}

Test(writer, files_written_at_once_are_all_published)
{
	pthread_t th[6];
	uint8_t want[70000];
	char name[16];

	for (long i = 0; i < 6; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, write_one, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(fs->sequence, 6);
	for (long i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "f%ld", i);
		tu_fill_random(want, sizeof want, (uint64_t)i);
		assert_published(name, want, sizeof want);
	}
}
