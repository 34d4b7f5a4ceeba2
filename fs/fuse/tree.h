/* tree: the directory tree a channel's manifest describes, and the edits
 * that turn one manifest's collections into the next. Pure: no FUSE, no I/O.
 *
 * Collections are directories: a collection's title is its path ("" is the
 * root, "Season 2/Extras" a nested one); directories on the way to a titled
 * one exist implicitly. Items are files: a FileEntry by its "name", a magnet
 * link as "<name>.magnet" whose content is the link and a newline. Where a
 * file and a directory would share a path, the directory wins; where two
 * items would, the earlier one in the manifest does. What loses a clash is
 * not in the tree at all: no node, no inode number.
 *
 * Inode numbers come from an mfs_inodes table that outlives trees: a path
 * keeps its number across manifests while what it names is unchanged (the
 * same directory, or a file with the same entry, its name aside); a changed
 * file gets a new number, so the kernel never mixes two contents under one
 * inode. A rename carries numbers along (mfs_inodes_move).
 *
 * A tree is immutable once built; share it read-only between threads. */
#ifndef MFS_TREE_H
#define MFS_TREE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MFS_ROOT_INO 1

enum mfs_node_kind { MFS_NODE_DIR, MFS_NODE_FILE, MFS_NODE_MAGNET };

struct mfs_node {
	uint64_t ino;
	enum mfs_node_kind kind;
	const char *name;              /* last component; "" for the root */
	const char *path;              /* "" for the root, "a/b" below it */
	struct mfs_node *parent;       /* NULL for the root */
	struct mfs_node **children;    /* directories: sorted by name */
	size_t child_count;
	json_t *item;                  /* files: the FileEntry object or magnet string */
	uint64_t size;
	int64_t mtime;                 /* seconds */
};

struct mfs_inodes;
struct mfs_tree;

int mfs_inodes_new(struct mfs_inodes **out);
void mfs_inodes_free(struct mfs_inodes *t); /* NULL-safe */
/* A rename: what was known at from (and below it) keeps its numbers at to,
 * as the kernel expects. Call before building the tree that shows it. */
int mfs_inodes_move(struct mfs_inodes *t, const char *from, const char *to);

/* Builds the tree of collections (borrowed; the tree keeps a reference).
 * mtime_default (seconds) dates directories and magnets. -ENOMEM only:
 * items that cannot be shown (a bad entry, a clash) are left out. Every
 * node of the tree, found by path or by number, has a parent that lists
 * it, except the root. Time: linear in the items, plus sorting each
 * directory's names. */
int mfs_tree_build(struct mfs_tree **out, json_t *collections, int64_t mtime_default,
		   struct mfs_inodes *inodes);
void mfs_tree_free(struct mfs_tree *t); /* NULL-safe */
const struct mfs_node *mfs_tree_root(const struct mfs_tree *t);
const struct mfs_node *mfs_tree_by_ino(const struct mfs_tree *t, uint64_t ino);
const struct mfs_node *mfs_tree_child(const struct mfs_node *dir, const char *name);
/* The node at path ("" the root, "a/b" below it), or NULL. Empty
 * components are skipped, as a path lookup does ("/a//b/" is "a/b"). */
const struct mfs_node *mfs_tree_at(const struct mfs_tree *t, const char *path);
/* Number of nodes, for statfs. */
uint64_t mfs_tree_node_count(const struct mfs_tree *t);

/* Edits: each takes collections (not modified) and returns a new array in
 * *out (a new reference). *removed (may be NULL) receives a new reference to
 * the item an edit replaced or removed, or NULL: its blobs are to be
 * unpinned. Errors are -errno, as the file operation would return them:
 * -ENOENT (no such file or parent), -EEXIST, -ENOTEMPTY, -EISDIR, -ENOTDIR,
 * -EINVAL (a bad name), -EPERM (magnet links cannot be renamed). */
/* add_file: entry is a FileEntry object, or a magnet link string (checked by
 * the caller: fs/channel/magnet), shown under the name the tree gives it. */
int mfs_tree_add_file(json_t **out, json_t **removed, json_t *collections, const char *dir,
		      json_t *entry);
int mfs_tree_remove_file(json_t **out, json_t **removed, json_t *collections, const char *dir,
			 const char *name);
int mfs_tree_mkdir(json_t **out, json_t *collections, const char *dir, const char *name);
/* mkdir -p: path ("" the root) and every directory on the way, where
 * missing; -EINVAL for a path no title can be (mfs_channel_title_valid),
 * -EEXIST where a file holds a name on the way. */
int mfs_tree_mkdir_p(json_t **out, json_t *collections, const char *path);
int mfs_tree_rmdir(json_t **out, json_t *collections, const char *dir, const char *name);
int mfs_tree_rename(json_t **out, json_t **removed, json_t *collections, const char *from_dir,
		    const char *from_name, const char *to_dir, const char *to_name);

/* dir + "/" + name, or name alone under the root (""): a path as nodes and
 * edits spell it. malloc'ed; NULL when memory runs out. */
char *mfs_path_join(const char *dir, const char *name);

#endif
