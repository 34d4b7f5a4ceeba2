#include "fs/fuse/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/blob/fileentry.h"
#include "fs/channel/channel.h"
#include "fs/channel/magnet.h"

/* ---- inode numbers: a chained hash table from identity to number ---- */

struct ino_slot {
	struct ino_slot *next;
	uint64_t ino;
	char key[];   /* "d:<path>" or "f:<path>\n<item as JSON>" */
};

struct mfs_inodes {
	struct ino_slot **buckets;
	size_t bucket_count;
	size_t count;
	uint64_t next_ino;
};

int mfs_inodes_new(struct mfs_inodes **out)
{
	struct mfs_inodes *t = calloc(1, sizeof *t);

	if (!t)
		return -ENOMEM;
	t->bucket_count = 1024;
	t->buckets = calloc(t->bucket_count, sizeof *t->buckets);
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->next_ino = MFS_ROOT_INO + 1;
	*out = t;
	return 0;
}

void mfs_inodes_free(struct mfs_inodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->bucket_count; i++)
		for (struct ino_slot *s = t->buckets[i], *next; s; s = next) {
			next = s->next;
			free(s);
		}
	free(t->buckets);
	free(t);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int inodes_grow(struct mfs_inodes *t)
{
	size_t count = t->bucket_count * 2;
	struct ino_slot **b = calloc(count, sizeof *b);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->bucket_count; i++)
		for (struct ino_slot *s = t->buckets[i], *next; s; s = next) {
			size_t j = fnv1a(s->key) & (count - 1);

			next = s->next;
			s->next = b[j];
			b[j] = s;
		}
	free(t->buckets);
	t->buckets = b;
	t->bucket_count = count;
	return 0;
}

/* The number for key: the one it had, or a new one. 0 on -ENOMEM. */
static uint64_t inode_for(struct mfs_inodes *t, const char *key)
{
	size_t i = fnv1a(key) & (t->bucket_count - 1);
	struct ino_slot *s;
	size_t len = strlen(key);

	for (s = t->buckets[i]; s; s = s->next)
		if (strcmp(s->key, key) == 0)
			return s->ino;
	if (t->count >= t->bucket_count && inodes_grow(t) != 0)
		return 0;
	s = malloc(sizeof *s + len + 1);
	if (!s)
		return 0;
	memcpy(s->key, key, len + 1);
	s->ino = t->next_ino++;
	i = fnv1a(key) & (t->bucket_count - 1);
	s->next = t->buckets[i];
	t->buckets[i] = s;
	t->count++;
	return s->ino;
}

/* Rewrites keys "<k>:<from>..." to "<k>:<to>..." for from itself and
 * everything below it. */
int mfs_inodes_move(struct mfs_inodes *t, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to);
	struct ino_slot *moved = NULL;

	for (size_t i = 0; i < t->bucket_count; i++) {
		struct ino_slot **p = &t->buckets[i];

		while (*p) {
			struct ino_slot *s = *p;
			const char *path = s->key + 2;

			if (strncmp(path, from, flen) == 0 &&
			    (path[flen] == '\0' || path[flen] == '/' || path[flen] == '\n')) {
				*p = s->next;
				s->next = moved;
				moved = s;
				t->count--;
			} else {
				p = &s->next;
			}
		}
	}
	while (moved) {
		struct ino_slot *s = moved, *copy;
		size_t rest = strlen(s->key + 2 + flen), j;

		moved = s->next;
		copy = malloc(sizeof *copy + 2 + tlen + rest + 1);
		if (!copy) {
			free(s);
			continue; /* the number is lost: that name gets a new one */
		}
		memcpy(copy->key, s->key, 2);
		memcpy(copy->key + 2, to, tlen);
		memcpy(copy->key + 2 + tlen, s->key + 2 + flen, rest + 1);
		copy->ino = s->ino;
		free(s);
		j = fnv1a(copy->key) & (t->bucket_count - 1);
		copy->next = t->buckets[j];
		t->buckets[j] = copy;
		t->count++;
	}
	return 0;
}

/* ---- names and paths ---- */

/* Copies the next component of *p into part and moves *p past it, skipping
 * slashes on the way (as a path lookup does: "/a//b/" is "a", "b"). Its
 * length; 0 at the end; -1 when it is longer than any name (*p moved on). */
static long next_component(const char **p, char part[static MFS_NAME_MAX + 1])
{
	size_t len;

	*p += strspn(*p, "/");
	len = strcspn(*p, "/");
	if (len <= MFS_NAME_MAX) {
		memcpy(part, *p, len);
		part[len] = '\0';
	}
	*p += len;
	return len <= MFS_NAME_MAX ? (long)len : -1;
}

/* 1 when path is dir or lies below it ("a/b" is below "a", "ab" is not). */
static int at_or_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The name an item shows as; "" when it cannot be shown. */
static void item_name(char out[static MFS_NAME_MAX + 1], json_t *item)
{
	const char *name;

	out[0] = '\0';
	if (json_is_string(item)) {
		mfs_magnet_name(out, json_string_value(item));
	} else if (json_is_object(item) && (name = json_string_value(json_object_get(item, "name"))) &&
		   mfs_entry_name_valid(name)) {
		snprintf(out, MFS_NAME_MAX + 1, "%s", name);
	}
}

char *mfs_path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	if (a == 0) {
		memcpy(p, name, b + 1);
	} else {
		memcpy(p, dir, a);
		p[a] = '/';
		memcpy(p + a + 1, name, b + 1);
	}
	return p;
}

/* ---- building a tree ---- */

struct mfs_tree {
	json_t *collections;
	struct mfs_node *root;
	struct mfs_node **by_ino;      /* all nodes, sorted by ino */
	size_t node_count, node_cap;
	struct mfs_inodes *inodes;
	int64_t mtime_default;
	/* While building: (parent, name) -> node, open addressing, at most
	 * half full, so that finding a name costs the same in a directory of
	 * ten entries or a million. */
	struct mfs_node **names;
	size_t names_cap, names_used;
};

static void node_free(struct mfs_node *n)
{
	if (!n)
		return;
	free((char *)n->name);
	free((char *)n->path);
	free(n->children);
	json_decref(n->item);
	free(n);
}

/* A new node under parent, in the index but in no directory yet (the
 * children arrays are made once every node is known). */
static struct mfs_node *node_new(struct mfs_tree *t, struct mfs_node *parent, const char *name,
				 enum mfs_node_kind kind)
{
	struct mfs_node *n = calloc(1, sizeof *n);

	if (!n)
		return NULL;
	n->kind = kind;
	n->parent = parent;
	n->name = strdup(name);
	n->path = parent ? mfs_path_join(parent->path, name) : strdup("");
	n->mtime = t->mtime_default;
	if (t->node_count == t->node_cap) {
		size_t cap = t->node_cap ? t->node_cap * 2 : 64;
		struct mfs_node **grown = realloc(t->by_ino, cap * sizeof *grown);

		if (!grown) {
			node_free(n);
			return NULL;
		}
		t->by_ino = grown;
		t->node_cap = cap;
	}
	if (!n->name || !n->path) {
		node_free(n);
		return NULL;
	}
	t->by_ino[t->node_count++] = n;
	return n;
}

static size_t name_hash(const struct mfs_node *dir, const char *name)
{
	return (size_t)(fnv1a(name) ^ ((uint64_t)(uintptr_t)dir * 0x9e3779b97f4a7c15ull));
}

/* The slot of (dir, name) in the name table: the node holding that name
 * there, or the empty slot where it would go. */
static struct mfs_node **name_slot(struct mfs_tree *t, const struct mfs_node *dir,
				   const char *name)
{
	size_t mask = t->names_cap - 1, i = name_hash(dir, name) & mask;

	while (t->names[i] && (t->names[i]->parent != dir || strcmp(t->names[i]->name, name) != 0))
		i = (i + 1) & mask;
	return &t->names[i];
}

/* Room for one more name. */
static int names_reserve(struct mfs_tree *t)
{
	size_t cap = t->names_cap ? t->names_cap * 2 : 1024;
	struct mfs_node **old = t->names;
	size_t old_cap = t->names_cap;

	if ((t->names_used + 1) * 2 <= t->names_cap)
		return 0;
	t->names = calloc(cap, sizeof *t->names);
	if (!t->names) {
		t->names = old;
		return -ENOMEM;
	}
	t->names_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*name_slot(t, old[i]->parent, old[i]->name) = old[i];
	free(old);
	return 0;
}

/* The child directory name of dir, made if missing. A directory wins over
 * a file of the same name: that file is dropped (parent NULL: it leaves
 * the index before numbering). */
static struct mfs_node *subdir(struct mfs_tree *t, struct mfs_node *dir, const char *name)
{
	struct mfs_node **slot, *n;

	if (names_reserve(t) != 0)
		return NULL;
	slot = name_slot(t, dir, name);
	if (*slot && (*slot)->kind == MFS_NODE_DIR)
		return *slot;
	n = node_new(t, dir, name, MFS_NODE_DIR);
	if (!n)
		return NULL;
	if (*slot)
		(*slot)->parent = NULL;
	else
		t->names_used++;
	*slot = n;
	return n;
}

/* The directory at path, made with every directory on the way. NULL when
 * path is not a valid title or memory runs out. */
static struct mfs_node *dir_at(struct mfs_tree *t, const char *path, int *oom)
{
	struct mfs_node *dir = t->root;
	char part[MFS_NAME_MAX + 1];

	if (!mfs_channel_title_valid(path))
		return NULL;
	while (dir && next_component(&path, part) > 0)
		if (!(dir = subdir(t, dir, part)))
			*oom = 1;
	return dir;
}

/* Adds an item to dir, unless it cannot be shown or its name is taken (by
 * a directory or an earlier item: the first stays). */
static int add_item(struct mfs_tree *t, struct mfs_node *dir, json_t *item)
{
	char name[MFS_NAME_MAX + 1];
	struct mfs_node **slot, *n;
	json_t *size = json_object_get(item, "size"), *mtime = json_object_get(item, "mtime");

	item_name(name, item);
	if (!name[0])
		return 0;
	if (json_is_object(item) &&
	    (!json_is_integer(size) || json_integer_value(size) < 0 || !json_is_integer(mtime)))
		return 0;
	if (names_reserve(t) != 0)
		return -ENOMEM;
	slot = name_slot(t, dir, name);
	if (*slot)
		return 0;
	n = node_new(t, dir, name, json_is_object(item) ? MFS_NODE_FILE : MFS_NODE_MAGNET);
	if (!n)
		return -ENOMEM;
	if (json_is_object(item)) {
		n->size = (uint64_t)json_integer_value(size);
		n->mtime = (int64_t)json_integer_value(mtime);
	} else {
		n->size = strlen(json_string_value(item)) + 1;
	}
	n->item = json_incref(item);
	*slot = n;
	t->names_used++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct mfs_node *x = *(struct mfs_node *const *)a, *y = *(struct mfs_node *const *)b;

	return strcmp(x->name, y->name); /* names in one directory are unique */
}

/* Drops the nodes that lost a clash from the index, and gives every
 * directory its children, sorted by name: two passes over the nodes. */
static int settle(struct mfs_tree *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->node_count; i++) {
		struct mfs_node *n = t->by_ino[i];

		if (n != t->root && !n->parent) {
			node_free(n);
			continue;
		}
		t->by_ino[kept++] = n;
		if (n->parent)
			n->parent->child_count++;
	}
	t->node_count = kept;
	for (size_t i = 0; i < t->node_count; i++) {
		struct mfs_node *n = t->by_ino[i];

		if (n->kind == MFS_NODE_DIR && n->child_count > 0) {
			n->children = malloc(n->child_count * sizeof *n->children);
			if (!n->children)
				return -ENOMEM;
			n->child_count = 0;
		}
	}
	for (size_t i = 0; i < t->node_count; i++) {
		struct mfs_node *n = t->by_ino[i];

		if (n->parent)
			n->parent->children[n->parent->child_count++] = n;
	}
	for (size_t i = 0; i < t->node_count; i++) {
		struct mfs_node *n = t->by_ino[i];

		if (n->child_count > 1)
			qsort(n->children, n->child_count, sizeof *n->children, by_name);
	}
	return 0;
}

static int identity(struct mfs_tree *t, struct mfs_node *n)
{
	char *item = NULL, *key;
	size_t len;
	int rc = 0;

	if (n == t->root) {
		n->ino = MFS_ROOT_INO;
		return 0;
	}
	if (n->item) {
		/* A file is what its entry holds, whatever its name. */
		json_t *nameless = json_is_object(n->item) ? json_copy(n->item) : json_incref(n->item);

		if (nameless && json_is_object(nameless))
			json_object_del(nameless, "name");
		item = nameless ? json_dumps(nameless, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
				: NULL;
		json_decref(nameless);
		if (!item)
			return -ENOMEM;
	}
	len = strlen(n->path) + (item ? strlen(item) : 0) + 4;
	key = malloc(len);
	if (!key) {
		free(item);
		return -ENOMEM;
	}
	snprintf(key, len, "%c:%s\n%s", n->kind == MFS_NODE_DIR ? 'd' : 'f', n->path,
		 item ? item : "");
	n->ino = inode_for(t->inodes, key);
	if (n->ino == 0)
		rc = -ENOMEM;
	free(key);
	free(item);
	return rc;
}

static int by_ino(const void *a, const void *b)
{
	uint64_t x = (*(struct mfs_node *const *)a)->ino, y = (*(struct mfs_node *const *)b)->ino;

	return x < y ? -1 : x > y;
}

int mfs_tree_build(struct mfs_tree **out, json_t *collections, int64_t mtime_default,
		   struct mfs_inodes *inodes)
{
	struct mfs_tree *t = calloc(1, sizeof *t);
	size_t i, j;
	json_t *c, *item;
	int rc = 0, oom = 0;

	if (!t)
		return -ENOMEM;
	t->inodes = inodes;
	t->mtime_default = mtime_default;
	t->collections = json_incref(collections);
	t->root = node_new(t, NULL, "", MFS_NODE_DIR);
	if (!t->root)
		rc = -ENOMEM;
	json_array_foreach(collections, i, c) {
		const char *title = json_string_value(json_object_get(c, "title"));
		struct mfs_node *dir;

		if (rc != 0 || !title)
			continue;
		dir = dir_at(t, title, &oom);
		if (oom)
			rc = -ENOMEM;
		if (!dir)
			continue;
		json_array_foreach(json_object_get(c, "items"), j, item)
			if (rc == 0)
				rc = add_item(t, dir, item);
	}
	free(t->names);
	t->names = NULL;
	if (rc == 0)
		rc = settle(t);
	for (i = 0; rc == 0 && i < t->node_count; i++)
		rc = identity(t, t->by_ino[i]);
	if (rc == 0)
		qsort(t->by_ino, t->node_count, sizeof *t->by_ino, by_ino);
	if (rc != 0) {
		mfs_tree_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void mfs_tree_free(struct mfs_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->node_count; i++)
		node_free(t->by_ino[i]);
	free(t->by_ino);
	json_decref(t->collections);
	free(t);
}

const struct mfs_node *mfs_tree_root(const struct mfs_tree *t)
{
	return t->root;
}

const struct mfs_node *mfs_tree_by_ino(const struct mfs_tree *t, uint64_t ino)
{
	size_t lo = 0, hi = t->node_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->by_ino[mid]->ino == ino)
			return t->by_ino[mid];
		if (t->by_ino[mid]->ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct mfs_node *mfs_tree_child(const struct mfs_node *dir, const char *name)
{
	size_t lo = 0, hi = dir->child_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->children[mid]->name, name);

		if (c == 0)
			return dir->children[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct mfs_node *mfs_tree_at(const struct mfs_tree *t, const char *path)
{
	const struct mfs_node *n = t->root;
	char part[MFS_NAME_MAX + 1];
	long len;

	/* Longer than any name (-1): no node has it. */
	while (n && (len = next_component(&path, part)) != 0)
		n = len > 0 ? mfs_tree_child(n, part) : NULL;
	return n;
}

uint64_t mfs_tree_node_count(const struct mfs_tree *t)
{
	return t->node_count;
}

/* ---- edits ---- */

/* Index of the collection titled title, or -1. */
static long collection_index(json_t *cols, const char *title)
{
	size_t i;
	json_t *c;

	json_array_foreach(cols, i, c) {
		const char *t = json_string_value(json_object_get(c, "title"));

		if (t && strcmp(t, title) == 0)
			return (long)i;
	}
	return -1;
}

/* 1 when path names a directory: the root, a title, or a prefix of one. */
static int is_dir(json_t *cols, const char *path)
{
	size_t i, n = strlen(path);
	json_t *c;

	if (n == 0)
		return 1;
	json_array_foreach(cols, i, c) {
		const char *t = json_string_value(json_object_get(c, "title"));

		if (t && at_or_below(t, path))
			return 1;
	}
	return 0;
}

/* Finds the item shown as name in directory dir: collection and item
 * index, or -1. */
static long find_item(json_t *cols, const char *dir, const char *name, size_t *item_index)
{
	long ci = collection_index(cols, dir);
	char shown[MFS_NAME_MAX + 1];
	size_t i;
	json_t *item;

	if (ci < 0)
		return -1;
	json_array_foreach(json_object_get(json_array_get(cols, (size_t)ci), "items"), i, item) {
		item_name(shown, item);
		if (strcmp(shown, name) == 0) {
			*item_index = i;
			return ci;
		}
	}
	return -1;
}

/* The items array of the collection titled dir in cols, made if missing. */
static json_t *items_of(json_t *cols, const char *dir)
{
	long ci = collection_index(cols, dir);
	json_t *c;

	if (ci >= 0)
		return json_object_get(json_array_get(cols, (size_t)ci), "items");
	c = json_pack("{s:s, s:[]}", "title", dir, "items");
	if (!c || json_array_append_new(cols, c) != 0)
		return NULL;
	return json_object_get(c, "items");
}

/* Puts item (a new reference, consumed) as name into dir of cols, replacing
 * a file shown under that name; *removed gets the replaced item. */
static int put_item(json_t *cols, const char *dir, const char *name, json_t *item,
		    json_t **removed)
{
	size_t at;
	long ci = find_item(cols, dir, name, &at);
	json_t *items;

	if (ci >= 0) {
		items = json_object_get(json_array_get(cols, (size_t)ci), "items");
		if (removed)
			*removed = json_incref(json_array_get(items, at));
		return json_array_set_new(items, at, item) == 0 ? 0 : -ENOMEM;
	}
	items = items_of(cols, dir);
	if (!items || json_array_append_new(items, item) != 0)
		return -ENOMEM;
	return 0;
}

static int finish(json_t **out, json_t *copy, int rc)
{
	if (rc != 0) {
		json_decref(copy);
		return rc;
	}
	*out = copy;
	return 0;
}

static int sub_path_is_dir(json_t *cols, const char *dir, const char *name)
{
	char *path = mfs_path_join(dir, name);
	int yes = path && is_dir(cols, path);

	free(path);
	return yes;
}

int mfs_tree_add_file(json_t **out, json_t **removed, json_t *collections, const char *dir,
		      json_t *entry)
{
	char name[MFS_NAME_MAX + 1];
	json_t *copy;

	if (removed)
		*removed = NULL;
	item_name(name, entry); /* "" for an entry that cannot be shown */
	if (!name[0])
		return -EINVAL;
	if (!is_dir(collections, dir))
		return -ENOENT;
	if (sub_path_is_dir(collections, dir, name))
		return -EISDIR;
	copy = json_deep_copy(collections);
	if (!copy)
		return -ENOMEM;
	return finish(out, copy, put_item(copy, dir, name, json_deep_copy(entry), removed));
}

int mfs_tree_remove_file(json_t **out, json_t **removed, json_t *collections, const char *dir,
			 const char *name)
{
	json_t *copy, *items;
	size_t at;
	long ci;

	if (removed)
		*removed = NULL;
	if (sub_path_is_dir(collections, dir, name))
		return -EISDIR;
	if (find_item(collections, dir, name, &at) < 0)
		return -ENOENT;
	copy = json_deep_copy(collections);
	if (!copy)
		return -ENOMEM;
	ci = find_item(copy, dir, name, &at);
	items = json_object_get(json_array_get(copy, (size_t)ci), "items");
	if (removed)
		*removed = json_incref(json_array_get(items, at));
	return finish(out, copy, json_array_remove(items, at) == 0 ? 0 : -ENOMEM);
}

int mfs_tree_mkdir(json_t **out, json_t *collections, const char *dir, const char *name)
{
	size_t at;
	char *path;
	json_t *copy, *c;
	int rc;

	if (!mfs_entry_name_valid(name))
		return -EINVAL;
	if (!is_dir(collections, dir))
		return -ENOENT;
	if (sub_path_is_dir(collections, dir, name) || find_item(collections, dir, name, &at) >= 0)
		return -EEXIST;
	path = mfs_path_join(dir, name);
	copy = json_deep_copy(collections);
	c = path ? json_pack("{s:s, s:[]}", "title", path, "items") : NULL;
	rc = copy && c && json_array_append_new(copy, c) == 0 ? 0 : -ENOMEM;
	if (rc != 0 && !copy)
		json_decref(c);
	free(path);
	if (!copy)
		return -ENOMEM;
	return finish(out, copy, rc);
}

int mfs_tree_mkdir_p(json_t **out, json_t *collections, const char *path)
{
	json_t *cur = json_incref(collections), *next;
	char *copy = strdup(path), *end;
	int rc = copy ? 0 : -ENOMEM;

	if (rc == 0 && !mfs_channel_title_valid(path))
		rc = -EINVAL;
	/* Each prefix in turn: "a", "a/b", "a/b/c". */
	for (end = copy; rc == 0 && end && *end; end = end ? end + 1 : NULL) {
		char *last;

		end = strchr(end, '/');
		if (end)
			*end = '\0';
		last = strrchr(copy, '/');
		if (!is_dir(cur, copy)) {
			if (last)
				*last = '\0';
			rc = mfs_tree_mkdir(&next, cur, last ? copy : "", last ? last + 1 : copy);
			if (last)
				*last = '/';
			if (rc == 0) {
				json_decref(cur);
				cur = next;
			}
		}
		if (end)
			*end = '/';
	}
	free(copy);
	return finish(out, cur, rc);
}

/* 1 when nothing is below path: no items in its collection, no titles under it. */
static int dir_empty(json_t *cols, const char *path)
{
	size_t i, n = strlen(path);
	long ci = collection_index(cols, path);
	json_t *c;

	if (ci >= 0 && json_array_size(json_object_get(json_array_get(cols, (size_t)ci), "items")))
		return 0;
	json_array_foreach(cols, i, c) {
		const char *t = json_string_value(json_object_get(c, "title"));

		if (t && strncmp(t, path, n) == 0 && t[n] == '/')
			return 0;
	}
	return 1;
}

int mfs_tree_rmdir(json_t **out, json_t *collections, const char *dir, const char *name)
{
	char *path = mfs_path_join(dir, name);
	json_t *copy = NULL;
	size_t at;
	int rc = 0;

	if (!path)
		return -ENOMEM;
	if (!is_dir(collections, path))
		rc = find_item(collections, dir, name, &at) >= 0 ? -ENOTDIR : -ENOENT;
	else if (!dir_empty(collections, path))
		rc = -ENOTEMPTY;
	if (rc == 0) {
		copy = json_deep_copy(collections);
		if (!copy)
			rc = -ENOMEM;
		else
			rc = json_array_remove(copy, (size_t)collection_index(copy, path)) == 0 ? 0
												 : -ENOMEM;
	}
	free(path);
	if (rc != 0) {
		json_decref(copy);
		return rc;
	}
	*out = copy;
	return 0;
}

/* Retitles every collection at or under from to the same place under to. */
static int retitle(json_t *cols, const char *from, const char *to)
{
	size_t i, n = strlen(from);
	json_t *c;

	json_array_foreach(cols, i, c) {
		const char *t = json_string_value(json_object_get(c, "title"));
		char *moved;

		if (!t || !at_or_below(t, from))
			continue;
		moved = malloc(strlen(to) + strlen(t + n) + 1);
		if (!moved)
			return -ENOMEM;
		strcpy(moved, to);
		strcat(moved, t + n);
		if (json_object_set_new(c, "title", json_string(moved)) != 0) {
			free(moved);
			return -ENOMEM;
		}
		free(moved);
	}
	return 0;
}

static int rename_dir(json_t **out, json_t *cols, const char *from, const char *to,
		      const char *to_dir, const char *to_name)
{
	size_t at;
	json_t *copy;
	long ci;
	int rc;

	if (at_or_below(to, from))
		return strcmp(to, from) == 0 ? (*out = json_deep_copy(cols)) ? 0 : -ENOMEM
					     : -EINVAL;
	if (find_item(cols, to_dir, to_name, &at) >= 0)
		return -ENOTDIR;
	if (is_dir(cols, to) && !dir_empty(cols, to))
		return -ENOTEMPTY;
	copy = json_deep_copy(cols);
	if (!copy)
		return -ENOMEM;
	ci = collection_index(copy, to);
	rc = ci >= 0 && json_array_remove(copy, (size_t)ci) != 0 ? -ENOMEM : 0;
	if (rc == 0)
		rc = retitle(copy, from, to);
	return finish(out, copy, rc);
}

int mfs_tree_rename(json_t **out, json_t **removed, json_t *collections, const char *from_dir,
		    const char *from_name, const char *to_dir, const char *to_name)
{
	char *from = mfs_path_join(from_dir, from_name), *to = mfs_path_join(to_dir, to_name);
	json_t *copy = NULL, *item = NULL, *moved = NULL;
	size_t at;
	long ci;
	int rc = 0;

	if (removed)
		*removed = NULL;
	if (!from || !to) {
		rc = -ENOMEM;
		goto out;
	}
	if (!mfs_entry_name_valid(to_name)) {
		rc = -EINVAL;
		goto out;
	}
	if (!is_dir(collections, to_dir)) {
		rc = -ENOENT;
		goto out;
	}
	if (is_dir(collections, from)) {
		rc = rename_dir(out, collections, from, to, to_dir, to_name);
		goto out;
	}
	if (find_item(collections, from_dir, from_name, &at) < 0) {
		rc = -ENOENT;
		goto out;
	}
	if (is_dir(collections, to)) {
		rc = -EISDIR;
		goto out;
	}
	if (strcmp(from, to) == 0) {
		*out = json_deep_copy(collections);
		rc = *out ? 0 : -ENOMEM;
		goto out;
	}
	copy = json_deep_copy(collections);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	ci = find_item(copy, from_dir, from_name, &at);
	item = json_array_get(json_object_get(json_array_get(copy, (size_t)ci), "items"), at);
	if (json_is_string(item)) {
		/* A magnet's name comes from its link: it can move, not be renamed. */
		if (strcmp(from_name, to_name) != 0) {
			rc = -EPERM;
			goto out;
		}
		moved = json_incref(item);
	} else {
		moved = json_deep_copy(item);
		if (!moved || json_object_set_new(moved, "name", json_string(to_name)) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	json_array_remove(json_object_get(json_array_get(copy, (size_t)ci), "items"), at);
	rc = put_item(copy, to_dir, to_name, moved, removed);
	moved = NULL;
	if (rc == 0) {
		*out = copy;
		copy = NULL;
	}
out:
	json_decref(moved);
	json_decref(copy);
	free(from);
	free(to);
	return rc;
}
