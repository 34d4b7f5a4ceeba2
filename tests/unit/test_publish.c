/* fs/fuse/publish: edits signed and stored as the next manifest and shown
 * as the tree, with no mount (no FUSE session) over a real store. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/fuse/fs_internal.h"
#include "fs/store/blobstore.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static uint8_t pk[MFS_SIGN_PK_BYTES];
static struct mfs_fs *fs;

/* What cfg.published heard. */
static struct {
	int calls;
	char *last;
	size_t last_len;
} heard;

static void on_published(void *ctx, const char *json, size_t len)
{
	(void)ctx;
	heard.calls++;
	free(heard.last);
	heard.last = malloc(len);
	cr_assert_not_null(heard.last);
	memcpy(heard.last, json, len);
	heard.last_len = len;
}

static void setup(void)
{
	tu_fixture_open(&fx, 512);
	tu_channel_new(fx.vol, pk);
	fs = tu_fs_start(&fx, pk, 1, on_published, NULL);
}

static void teardown(void)
{
	mfs_fs_free(fs);
	tu_fixture_close(&fx);
	free(heard.last);
	memset(&heard, 0, sizeof heard);
}

TestSuite(publish, .init = setup, .fini = teardown, .timeout = 300);

/* The stored manifest's sequence (0: none). */
static uint64_t stored_sequence(void)
{
	struct mfs_vtxn *t;
	char *json = NULL;
	size_t len;
	json_t *root;
	uint64_t seq = 0;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	rc = mfs_channel_manifest(t, pk, &json, &len);
	mfs_vtxn_abort(t);
	if (rc == MFS_E_NOTFOUND)
		return 0;
	cr_assert_eq(rc, 0);
	root = json_loadb(json, len, 0, NULL);
	cr_assert_not_null(root);
	seq = (uint64_t)json_integer_value(json_object_get(root, "sequence"));
	json_decref(root);
	free(json);
	return seq;
}

static uint64_t shown_sequence(void)
{
	uint64_t seq;

	pthread_rwlock_rdlock(&fs->tree_lock);
	seq = fs->sequence;
	pthread_rwlock_unlock(&fs->tree_lock);
	return seq;
}

/* The inode number of path in the tree shown (0: none), and its kind. */
static uint64_t shown_ino(const char *path, enum mfs_node_kind *kind)
{
	const struct mfs_node *n;
	uint64_t ino = 0;

	pthread_rwlock_rdlock(&fs->tree_lock);
	n = mfs_tree_at(fs->tree, path);
	if (n) {
		ino = n->ino;
		if (kind)
			*kind = n->kind;
	}
	pthread_rwlock_unlock(&fs->tree_lock);
	return ino;
}

static int edit(enum edit_kind kind, const char *dir, const char *name, const char *to_dir,
		const char *to_name)
{
	struct edit ed = {.kind = kind, .dir = dir, .name = name, .to_dir = to_dir,
			  .to_name = to_name};

	return mfs__publish_edit(fs, &ed);
}

/* A file entry of len random bytes named name, its blobs stored and
 * pinned; *first receives its first chunk's blob id. */
static json_t *stored_file(const char *name, size_t len, uint8_t first[MFS_BLOB_ID_BYTES])
{
	struct mfs_volume_sink sink;
	struct mfs_file_entry e;
	json_t *j;

	mfs_volume_sink_init(&sink, fx.vol, 1);
	tu_ingest_random(&sink, name, len, len, &e);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
	cr_assert_eq(e.index_depth, 0, "a small file's chunks are inline");
	memcpy(first, e.chunks[0].id, MFS_BLOB_ID_BYTES);
	cr_assert_eq(mfs_entry_to_json(&j, &e), 0);
	mfs_entry_clear(&e);
	return j;
}

Test(publish, a_new_channel_shows_an_empty_root)
{
	enum mfs_node_kind kind;

	cr_assert_eq(stored_sequence(), 0);
	cr_assert_eq(shown_ino("", &kind), MFS_ROOT_INO);
	cr_assert_eq(kind, MFS_NODE_DIR);
	cr_assert_eq(mfs_tree_root(fs->tree)->child_count, 0);
}

Test(publish, each_edit_is_the_next_manifest_stored_heard_and_shown)
{
	uint8_t id[MFS_BLOB_ID_BYTES];
	json_t *entry = stored_file("clip.mp4", 5000, id);
	struct edit add = {.kind = E_ADD, .dir = "Films", .entry = entry};
	struct mfs_vtxn *t;
	char *json;
	size_t len;
	enum mfs_node_kind kind;

	cr_assert_eq(edit(E_MKDIR, "", "Films", NULL, NULL), 0);
	cr_assert_eq(stored_sequence(), 1);
	cr_assert_eq(shown_sequence(), 1);
	cr_assert_neq(shown_ino("Films", &kind), 0);
	cr_assert_eq(kind, MFS_NODE_DIR);

	cr_assert_eq(mfs__publish_edit(fs, &add), 0);
	json_decref(entry);
	cr_assert_eq(stored_sequence(), 2);
	cr_assert_eq(shown_sequence(), 2);
	cr_assert_neq(shown_ino("Films/clip.mp4", &kind), 0);
	cr_assert_eq(kind, MFS_NODE_FILE);

	/* The callback hears exactly the bytes stored, once per edit. */
	cr_assert_eq(heard.calls, 2);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	cr_assert_eq(mfs_channel_manifest(t, pk, &json, &len), 0);
	mfs_vtxn_abort(t);
	cr_assert_eq(heard.last_len, len);
	cr_assert_arr_eq(heard.last, json, len);
	free(json);
}

Test(publish, a_refused_edit_changes_nothing)
{
	cr_assert_eq(edit(E_MKDIR, "", "a", NULL, NULL), 0);
	cr_assert_eq(edit(E_MKDIR, "a", "b", NULL, NULL), 0);
	cr_assert_eq(heard.calls, 2);

	cr_assert_eq(edit(E_RMDIR, "", "a", NULL, NULL), -ENOTEMPTY);
	cr_assert_eq(edit(E_RMDIR, "", "nothing", NULL, NULL), -ENOENT);
	cr_assert_eq(edit(E_MKDIR, "", "a", NULL, NULL), -EEXIST);
	cr_assert_eq(edit(E_REMOVE, "a", "nothing", NULL, NULL), -ENOENT);
	cr_assert_eq(edit(E_MKDIR, "nowhere", "c", NULL, NULL), -ENOENT);

	cr_assert_eq(stored_sequence(), 2);
	cr_assert_eq(shown_sequence(), 2);
	cr_assert_eq(heard.calls, 2, "nothing heard of a refused edit");
	cr_assert_neq(shown_ino("a/b", NULL), 0);
}

Test(publish, a_rename_keeps_inode_numbers)
{
	uint8_t id[MFS_BLOB_ID_BYTES];
	json_t *entry = stored_file("f", 100, id);
	struct edit add = {.kind = E_ADD, .dir = "a", .entry = entry};
	uint64_t dir_ino, file_ino;

	cr_assert_eq(edit(E_MKDIR, "", "a", NULL, NULL), 0);
	cr_assert_eq(mfs__publish_edit(fs, &add), 0);
	json_decref(entry);
	dir_ino = shown_ino("a", NULL);
	file_ino = shown_ino("a/f", NULL);

	cr_assert_eq(edit(E_RENAME, "", "a", "", "b"), 0);
	cr_assert_eq(shown_ino("a", NULL), 0);
	cr_assert_eq(shown_ino("b", NULL), dir_ino, "the kernel's number follows the directory");
	cr_assert_eq(shown_ino("b/f", NULL), file_ino, "and what is in it");

	cr_assert_eq(edit(E_RENAME, "b", "f", "", "g"), 0);
	cr_assert_eq(shown_ino("g", NULL), file_ino);
	cr_assert_eq(stored_sequence(), 4);
}

Test(publish, a_file_that_leaves_the_manifest_is_unpinned)
{
	uint8_t first[MFS_BLOB_ID_BYTES], second[MFS_BLOB_ID_BYTES];
	json_t *a = stored_file("f", 3000, first), *b = stored_file("f", 4000, second);
	struct edit add = {.kind = E_ADD, .dir = "", .entry = a};
	int n;

	cr_assert_eq(mfs__publish_edit(fs, &add), 0);
	cr_assert_eq(tu_pin_count(fx.vol, first), 1);
	/* The same name again: the file it replaces is unpinned. */
	add.entry = b;
	cr_assert_eq(mfs__publish_edit(fs, &add), 0);
	n = tu_pin_count(fx.vol, first);
	cr_assert(n == 0 || n == MFS_E_NOTFOUND, "replaced: pin count %d", n);
	cr_assert_eq(tu_pin_count(fx.vol, second), 1);

	cr_assert_eq(edit(E_REMOVE, "", "f", NULL, NULL), 0);
	n = tu_pin_count(fx.vol, second);
	cr_assert(n == 0 || n == MFS_E_NOTFOUND, "removed: pin count %d", n);
	cr_assert_eq(shown_ino("f", NULL), 0);
	json_decref(a);
	json_decref(b);
}

/* Publishes "mkdir name" in the store as another process would. */
static void publish_elsewhere(const char *name)
{
	struct mfs_vtxn *t;
	json_t *cols = json_pack("[{s:[], s:s}]", "items", "title", name);
	uint64_t seq;

	cr_assert_not_null(cols);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_publish(t, pk, cols, 1800000000000ull, &seq), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	json_decref(cols);
}

Test(publish, refresh_shows_what_was_stored_elsewhere)
{
	publish_elsewhere("x");
	cr_assert_eq(mfs__publish_refresh(fs, 0), 0);
	cr_assert_eq(shown_sequence(), 1);
	cr_assert_neq(shown_ino("x", NULL), 0);
	/* Nothing newer: the tree stays as it is. */
	cr_assert_eq(mfs__publish_refresh(fs, 0), 0);
	cr_assert_eq(shown_sequence(), 1);
	/* An edit starts from the newest stored manifest, not the tree. */
	publish_elsewhere("y");
	cr_assert_eq(edit(E_MKDIR, "", "z", NULL, NULL), 0);
	cr_assert_eq(stored_sequence(), 3);
	cr_assert_eq(shown_ino("x", NULL), 0, "y's manifest replaced x's");
	cr_assert_neq(shown_ino("y", NULL), 0);
	cr_assert_neq(shown_ino("z", NULL), 0);
}

Test(publish, the_watcher_shows_what_was_stored_elsewhere)
{
	struct timespec pause = {0, 20 * 1000 * 1000};

	publish_elsewhere("x");
	for (int i = 0; i < 250 && shown_sequence() != 1; i++)
		nanosleep(&pause, NULL);
	cr_assert_eq(shown_sequence(), 1, "within 5 s");
	cr_assert_neq(shown_ino("x", NULL), 0);
}

Test(publish, a_channel_the_volume_does_not_own_is_not_published)
{
	uint8_t other[MFS_SIGN_PK_BYTES], sk[MFS_SIGN_SK_BYTES];
	struct mfs_vtxn *t;
	struct mfs_fs *ro;
	struct edit ed = {.kind = E_MKDIR, .dir = "", .name = "a"};

	mfs_sign_keypair(other, sk);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_keyring_subscribe(t, other, "theirs"), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	ro = tu_fs_start(&fx, other, 0, NULL, NULL);
	cr_assert_eq(mfs__publish_edit(ro, &ed), -EPERM);
	mfs_fs_free(ro);
}

/* Edits from several threads at once: each is one whole manifest, none
 * is lost, the tree ends at the last. */
static void *mkdirs(void *arg)
{
	char name[32];

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "t%ld-%d", (long)(intptr_t)arg, i);
		cr_assert_eq(edit(E_MKDIR, "", name, NULL, NULL), 0);
	}
	return NULL;
}

Test(publish, edits_from_many_threads_are_each_one_manifest)
{
	pthread_t th[4];

	for (long i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, mkdirs, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(stored_sequence(), 40);
	cr_assert_eq(shown_sequence(), 40);
	cr_assert_eq(mfs_tree_root(fs->tree)->child_count, 40);
	cr_assert_eq(heard.calls, 40);
}
