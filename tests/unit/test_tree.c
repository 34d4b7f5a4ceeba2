/* fs/fuse/tree: manifests as directory trees, stable inodes, and edits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "fs/fuse/tree.h"

static json_t *entry(const char *name, int size)
{
	return json_pack("{s:I, s:[], s:s, s:I, s:s, s:I}", "chunkSize", (json_int_t)1048576, "chunks",
			 "mode", "convergent", "mtime", (json_int_t)1700000000, "name", name, "size",
			 (json_int_t)size);
}

/* Entries handed to edits are borrowed: keep them here until the test ends. */
static json_t *kept[64];
static size_t kept_count;

static json_t *keep(json_t *j)
{
	cr_assert_lt(kept_count, 64);
	return kept[kept_count++] = j;
}

static void release_kept(void)
{
	while (kept_count)
		json_decref(kept[--kept_count]);
}

TestSuite(tree, .fini = release_kept);

static json_t *sample(void)
{
	return json_pack("[{s:s, s:[o, o, s]}, {s:s, s:[o]}, {s:s, s:[]}]", "title", "", "items",
			 entry("a.mkv", 10), entry("b.txt", 0),
			 "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Big%20Buck+Bunny",
			 "title", "Season 1/Extras", "items", entry("x.mp4", 5), "title", "Empty", "items");
}

static const struct mfs_node *at(const struct mfs_tree *t, const char *path)
{
	const struct mfs_node *n = mfs_tree_root(t);
	char buf[256], *save = NULL;

	strcpy(buf, path);
	for (char *p = strtok_r(buf, "/", &save); p && n; p = strtok_r(NULL, "/", &save))
		n = mfs_tree_child(n, p);
	return n;
}

Test(tree, builds_dirs_files_magnets)
{
	struct mfs_inodes *ino;
	struct mfs_tree *t;
	json_t *cols = sample();
	const struct mfs_node *n;

	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t, cols, 42, ino), 0);
	cr_assert_eq(mfs_tree_root(t)->ino, MFS_ROOT_INO);
	cr_assert_eq(mfs_tree_root(t)->child_count, 5, "a.mkv b.txt magnet Season 1 Empty");
	n = at(t, "a.mkv");
	cr_assert(n && n->kind == MFS_NODE_FILE && n->size == 10 && n->mtime == 1700000000);
	n = at(t, "Big Buck Bunny.magnet");
	cr_assert(n && n->kind == MFS_NODE_MAGNET);
	cr_assert_eq(n->size, strlen(json_string_value(n->item)) + 1);
	n = at(t, "Season 1");
	cr_assert(n && n->kind == MFS_NODE_DIR && n->mtime == 42, "implicit directory");
	n = at(t, "Season 1/Extras/x.mp4");
	cr_assert(n && n->size == 5);
	cr_assert_str_eq(n->path, "Season 1/Extras/x.mp4");
	cr_assert(at(t, "Empty") && at(t, "Empty")->child_count == 0);
	cr_assert_eq(mfs_tree_by_ino(t, n->ino), n);
	cr_assert_null(mfs_tree_by_ino(t, 99999));
	mfs_tree_free(t);
	mfs_inodes_free(ino);
	json_decref(cols);
}

Test(tree, inodes_are_stable_until_content_changes)
{
	struct mfs_inodes *ino;
	struct mfs_tree *t1, *t2;
	json_t *cols = sample(), *next = NULL;
	uint64_t a, b, season;

	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t1, cols, 0, ino), 0);
	a = at(t1, "a.mkv")->ino;
	b = at(t1, "b.txt")->ino;
	season = at(t1, "Season 1")->ino;
	/* Replace a.mkv with different content. */
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "", keep(entry("a.mkv", 11))), 0);
	cr_assert_eq(mfs_tree_build(&t2, next, 0, ino), 0);
	cr_assert_neq(at(t2, "a.mkv")->ino, a, "new content, new inode");
	cr_assert_eq(at(t2, "b.txt")->ino, b, "unchanged file keeps its inode");
	cr_assert_eq(at(t2, "Season 1")->ino, season);
	mfs_tree_free(t1);
	mfs_tree_free(t2);
	mfs_inodes_free(ino);
	json_decref(cols);
	json_decref(next);
}

Test(tree, clashes_and_bad_titles_are_left_out)
{
	struct mfs_inodes *ino;
	struct mfs_tree *t;
	json_t *cols = json_pack("[{s:s, s:[o, o]}, {s:s, s:[o]}, {s:s, s:[o]}]", "title", "",
				 "items", entry("dup", 1), entry("x", 2), "title", "dup", "items",
				 entry("in", 3), "title", "../evil", "items", entry("e", 4));

	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t, cols, 0, ino), 0);
	cr_assert_eq(at(t, "dup")->kind, MFS_NODE_DIR, "a directory wins over a file");
	cr_assert_not_null(at(t, "dup/in"));
	cr_assert_null(at(t, ".."));
	cr_assert_eq(mfs_tree_root(t)->child_count, 2);
	mfs_tree_free(t);
	mfs_inodes_free(ino);
	json_decref(cols);
}

Test(tree, edits)
{
	json_t *cols = sample(), *next = NULL, *again = NULL, *removed = NULL;
	struct mfs_inodes *ino;
	struct mfs_tree *t;

	/* add, replace */
	cr_assert_eq(mfs_tree_add_file(&next, &removed, cols, "Empty", keep(entry("new", 1))), 0);
	cr_assert_null(removed);
	cr_assert_eq(mfs_tree_add_file(&again, &removed, next, "Empty", keep(entry("new", 2))), 0);
	cr_assert_not_null(removed, "the replaced entry is handed back to unpin");
	json_decref(removed);
	json_decref(next);
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "Nowhere", keep(entry("z", 1))), -ENOENT);
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "", keep(entry("Season 1", 1))), -EISDIR);
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "", keep(entry("a/b", 1))), -EINVAL);
	/* remove */
	cr_assert_eq(mfs_tree_remove_file(&next, &removed, again, "Empty", "new"), 0);
	cr_assert_not_null(removed);
	json_decref(removed);
	json_decref(next);
	cr_assert_eq(mfs_tree_remove_file(&next, NULL, cols, "", "nope"), -ENOENT);
	cr_assert_eq(mfs_tree_remove_file(&next, NULL, cols, "", "Empty"), -EISDIR);
	/* mkdir, rmdir */
	cr_assert_eq(mfs_tree_mkdir(&next, cols, "Season 1", "Disc 2"), 0);
	cr_assert_eq(mfs_tree_mkdir(&again, next, "Season 1", "Disc 2"), -EEXIST);
	json_decref(next);
	cr_assert_eq(mfs_tree_mkdir(&next, cols, "", "a.mkv"), -EEXIST);
	cr_assert_eq(mfs_tree_mkdir(&next, cols, "No/Such", "x"), -ENOENT);
	cr_assert_eq(mfs_tree_rmdir(&next, cols, "", "Season 1"), -ENOTEMPTY);
	cr_assert_eq(mfs_tree_rmdir(&next, cols, "", "a.mkv"), -ENOTDIR);
	cr_assert_eq(mfs_tree_rmdir(&next, cols, "", "Empty"), 0);
	json_decref(next);
	/* rename a file across directories, a directory, a magnet */
	cr_assert_eq(mfs_tree_rename(&next, &removed, cols, "", "a.mkv", "Season 1/Extras", "x.mp4"), 0);
	cr_assert_not_null(removed, "the overwritten target is handed back");
	json_decref(removed);
	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t, next, 0, ino), 0);
	cr_assert_null(at(t, "a.mkv"));
	cr_assert_eq(at(t, "Season 1/Extras/x.mp4")->size, 10);
	cr_assert_str_eq(json_string_value(json_object_get(at(t, "Season 1/Extras/x.mp4")->item, "name")),
			 "x.mp4", "the entry's name follows the rename");
	mfs_tree_free(t);
	json_decref(next);
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Season 1", "", "S1"), 0);
	cr_assert_eq(mfs_tree_build(&t, next, 0, ino), 0);
	cr_assert_not_null(at(t, "S1/Extras/x.mp4"));
	cr_assert_null(at(t, "Season 1"));
	mfs_tree_free(t);
	json_decref(next);
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Season 1", "Season 1/Extras", "in"),
		     -EINVAL, "a directory into itself");
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Big Buck Bunny.magnet", "", "x.magnet"),
		     -EPERM);
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Big Buck Bunny.magnet", "Empty",
				     "Big Buck Bunny.magnet"), 0, "a magnet can move");
	json_decref(next);
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Season 1", "", "Empty"), 0,
		     "a directory replaces an empty one");
	json_decref(next);
	cr_assert_eq(mfs_tree_rename(&next, NULL, cols, "", "Empty", "", "Season 1"), -ENOTEMPTY);
	mfs_inodes_free(ino);
	json_decref(again);
	json_decref(cols);
}
