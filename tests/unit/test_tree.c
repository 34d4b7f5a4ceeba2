/* fs/fuse/tree: manifests as directory trees, stable inodes, and edits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
	return mfs_tree_at(t, path);
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

/* The one path walk: megafs fetch's PATH and the watcher's both go
 * through mfs_tree_at. */
Test(tree, tree_at_skips_empty_components_and_refuses_overlong_ones)
{
	struct mfs_inodes *ino;
	struct mfs_tree *t;
	json_t *cols = sample();
	char overlong[300];

	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t, cols, 0, ino), 0);
	cr_assert_eq(mfs_tree_at(t, ""), mfs_tree_root(t));
	cr_assert_eq(mfs_tree_at(t, "/"), mfs_tree_root(t));
	cr_assert_not_null(mfs_tree_at(t, "Season 1/Extras/x.mp4"));
	cr_assert_eq(mfs_tree_at(t, "/Season 1//Extras/x.mp4/"),
		     mfs_tree_at(t, "Season 1/Extras/x.mp4"));
	cr_assert_null(mfs_tree_at(t, "Season 1/nope"));
	cr_assert_null(mfs_tree_at(t, "a.mkv/below a file"));
	memset(overlong, 'a', 256);
	strcpy(overlong + 256, "/x");
	cr_assert_null(mfs_tree_at(t, overlong), "a component longer than any name");
	mfs_tree_free(t);
	mfs_inodes_free(ino);
	json_decref(cols);
}

/* Titles are read by fs/channel's rule (mfs_channel_title_valid), the one
 * that accepting a manifest applies. */
Test(tree, titles_that_are_not_paths_are_left_out)
{
	static const char *const bad[] = {"/a", "a/", "a//b", "a/./b", "a/../b", "."};
	struct mfs_inodes *ino;
	struct mfs_tree *t;
	json_t *cols = json_array();

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		json_array_append_new(cols, json_pack("{s:s, s:[o]}", "title", bad[i], "items",
						      entry("f", 1)));
	json_array_append_new(cols, json_pack("{s:s, s:[o]}", "title", "a/b", "items",
					      entry("f", 1)));
	cr_assert_eq(mfs_inodes_new(&ino), 0);
	cr_assert_eq(mfs_tree_build(&t, cols, 0, ino), 0);
	cr_assert_eq(mfs_tree_root(t)->child_count, 1, "only a");
	cr_assert_eq(mfs_tree_at(t, "a")->child_count, 1, "only a/b");
	cr_assert_not_null(mfs_tree_at(t, "a/b/f"));
	mfs_tree_free(t);
	mfs_inodes_free(ino);
	json_decref(cols);
}

#define BIG 200000

/* Item i of the big directory: every tenth a magnet named "m<i>.magnet",
 * the others files "f<i>" of size i. */
static json_t *big_item(size_t i, json_int_t size)
{
	char name[128];

	if (i % 10 == 0) {
		snprintf(name, sizeof name, "magnet:?xt=urn:btih:%040zu&dn=m%06zu", i, i);
		return json_string(name);
	}
	snprintf(name, sizeof name, "f%06zu", i);
	return json_pack("{s:s, s:I, s:I}", "name", name, "size", size, "mtime", (json_int_t)1);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* 200k entries in one directory: building costs time linear in them (the
 * quadratic build took seconds), names that clash resolve as tree.h says
 * (a directory wins, else the earliest item), and what lost a clash has
 * no inode: every node found by number is found by its path. */
Test(tree, a_huge_directory_builds_fast_and_clashes_leave_no_orphans)
{
	json_t *items = json_array(), *cols;
	struct mfs_inodes *ino;
	struct mfs_tree *t;
	struct timespec start;
	const struct mfs_node *root, *n;
	size_t found = 0, shown = 0;
	double took;
	char name[64];

	cr_assert_not_null(items);
	for (size_t i = 0; i < BIG; i++) {
		cr_assert_eq(json_array_append_new(items, big_item(i, (json_int_t)i)), 0);
		/* Every 1000th name again, later and different: it loses. */
		if (i % 1000 == 7)
			cr_assert_eq(json_array_append_new(items, big_item(i, 0)), 0);
		if (i % 1000 == 10)
			cr_assert_eq(json_array_append_new(
				items, json_pack("s", "magnet:?xt=urn:btih:ff&dn=m000010")), 0);
	}
	/* Directories named like items: "f000001" made before them, "f000003"
	 * after (a directory wins either way). */
	cols = json_pack("[{s:s, s:[]}, {s:s, s:o}, {s:s, s:[]}]", "title", "f000001", "items",
			 "title", "", "items", items, "title", "f000003", "items");
	cr_assert_not_null(cols);

	cr_assert_eq(mfs_inodes_new(&ino), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	cr_assert_eq(mfs_tree_build(&t, cols, 7, ino), 0);
	took = seconds_since(&start);
	cr_log_info("built %d entries in %.3f s", BIG, took);

	root = mfs_tree_root(t);
	cr_assert_eq(root->child_count, BIG, "every name once");
	for (size_t i = 0; i < BIG; i++) {
		if (i % 10 == 0)
			snprintf(name, sizeof name, "m%06zu.magnet", i);
		else
			snprintf(name, sizeof name, "f%06zu", i);
		n = mfs_tree_child(root, name);
		cr_assert_not_null(n, "%s is missing", name);
		cr_assert_eq(n->parent, root);
		if (i == 1 || i == 3) {
			cr_assert_eq(n->kind, MFS_NODE_DIR, "%s: a directory wins over a file", name);
		} else if (i % 10 == 0) {
			cr_assert_eq(n->kind, MFS_NODE_MAGNET);
			cr_assert_not_null(strstr(json_string_value(n->item), "btih:0"),
					   "%s: the earliest magnet stays", name);
		} else {
			cr_assert_eq(n->kind, MFS_NODE_FILE);
			cr_assert_eq(n->size, (uint64_t)i, "%s: the earliest item stays", name);
		}
	}
	for (size_t i = 1; i < root->child_count; i++)
		cr_assert_str_lt(root->children[i - 1]->name, root->children[i]->name, "sorted, unique");
	/* Every number leads to a node its parent shows under its name. */
	for (uint64_t i = 0; i < 3 * (uint64_t)BIG; i++) {
		n = mfs_tree_by_ino(t, i);
		if (!n)
			continue;
		found++;
		cr_assert(n == root || (n->parent && mfs_tree_child(n->parent, n->name) == n),
			  "inode %llu (%s) is not in its directory", (unsigned long long)i, n->name);
	}
	shown = mfs_tree_node_count(t);
	cr_assert_eq(found, shown, "the index holds only what the tree shows");
	cr_assert_eq(shown, 1 + BIG, "the root and its entries, nothing else");
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

/* Seconds to build one directory of n files (the fastest of three). */
static double build_seconds(size_t n)
{
	double best = 1e9;

	for (int run = 0; run < 3; run++) {
		json_t *items = json_array(), *cols;
		struct mfs_inodes *ino;
		struct mfs_tree *t;
		struct timespec start;
		double took;

		for (size_t i = 0; i < n; i++)
			cr_assert_eq(json_array_append_new(items, big_item(i * 10 + 1, 1)), 0);
		cols = json_pack("[{s:s, s:o}]", "title", "", "items", items);
		cr_assert_eq(mfs_inodes_new(&ino), 0);
		clock_gettime(CLOCK_MONOTONIC, &start);
		cr_assert_eq(mfs_tree_build(&t, cols, 7, ino), 0);
		took = seconds_since(&start);
		best = took < best ? took : best;
		mfs_tree_free(t);
		mfs_inodes_free(ino);
		json_decref(cols);
	}
	return best;
}

/* Not a speed limit (machines differ; benchmarks measure speed): the
 * shape of the cost. Ten times the entries cost about ten times the time
 * (n log n for the sort); the quadratic build cost a hundred times. */
/* The number of items in the collection titled title of cols. */
static size_t items_in(json_t *cols, const char *title)
{
	size_t i;
	json_t *c;

	json_array_foreach(cols, i, c)
		if (strcmp(json_string_value(json_object_get(c, "title")), title) == 0)
			return json_array_size(json_object_get(c, "items"));
	return (size_t)-1;
}

Test(tree, a_magnet_is_added_under_its_shown_name_and_replaces_that_name)
{
	json_t *cols = keep(sample()), *next, *again, *removed;
	json_t *link = keep(json_string("magnet:?xt=urn:btih:00&dn=Big+Buck+Bunny"));
	json_t *plain = keep(json_string("magnet:?xt=urn:btih:ff"));

	cr_assert_eq(mfs_tree_add_file(&next, &removed, cols, "", link), 0);
	keep(next);
	cr_assert_not_null(removed, "the link shown as Big Buck Bunny.magnet is replaced");
	cr_assert(json_is_string(removed));
	keep(removed);
	cr_assert_eq(items_in(next, ""), 3);
	cr_assert_eq(mfs_tree_add_file(&again, &removed, next, "Season 1/Extras", plain), 0);
	keep(again);
	cr_assert_null(removed);
	cr_assert_eq(items_in(again, "Season 1/Extras"), 2);
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "nowhere", plain), -ENOENT);
	cr_assert_eq(mfs_tree_add_file(&next, NULL, cols, "", keep(json_integer(1))), -EINVAL);
}

Test(tree, mkdir_p_makes_what_is_missing_on_the_way)
{
	json_t *cols = keep(sample()), *next;

	cr_assert_eq(mfs_tree_mkdir_p(&next, cols, "Season 1/Extras/Deleted/Scenes"), 0);
	keep(next);
	cr_assert_eq(items_in(next, "Season 1/Extras/Deleted"), 0);
	cr_assert_eq(items_in(next, "Season 1/Extras/Deleted/Scenes"), 0);
	cr_assert_eq(items_in(next, "Season 1"), (size_t)-1, "an implicit directory stays so");
	cr_assert_eq(mfs_tree_mkdir_p(&next, cols, ""), 0);
	cr_assert_eq(next, cols, "nothing to make");
	json_decref(next);
	cr_assert_eq(mfs_tree_mkdir_p(&next, cols, "a.mkv/x"), -EEXIST, "a file on the way");
	cr_assert_eq(mfs_tree_mkdir_p(&next, cols, "a//b"), -EINVAL);
	cr_assert_eq(mfs_tree_mkdir_p(&next, cols, "../b"), -EINVAL);
}

Test(tree, building_grows_linearly_with_the_entries_of_a_directory)
{
	double small = build_seconds(BIG / 10), big = build_seconds(BIG);

	cr_log_info("%d entries: %.3f s, %d: %.3f s", BIG / 10, small, BIG, big);
	cr_assert_lt(big, 40 * small + 0.05, "x10 entries took x%.0f the time", big / small);
}
