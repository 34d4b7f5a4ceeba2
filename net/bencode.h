/* bencode: strict bencoding (BEP 3), the syntax of the Mainline DHT's
 * messages (BEP 5) and items (BEP 44).
 *
 * The parser accepts only canonical input: integers without leading zeros
 * or "-0" that fit in 64 bits, byte strings whose length fits in the buffer,
 * dictionaries whose keys are strings sorted by their raw bytes and unique,
 * exactly one value filling the whole buffer, at most a given depth of
 * nesting and a given count of values. It never recurses. Its output is a
 * read-only tree of nodes in one array (the caller's, or one allocation):
 * the nodes point into the input, which must outlive them.
 *
 * The writer produces canonical bencoding into a caller's buffer and
 * refuses dictionary keys that are not strictly increasing. No state is
 * shared: any thread may use its own trees and writers. */
#ifndef MFS_BENCODE_H
#define MFS_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#define MFS_BENC_MAX_DEPTH 32    /* default nesting limit (lists and dicts) */
#define MFS_BENC_MAX_NODES 1024  /* default limit on values in one document */
#define MFS_BENC_DEPTH_CAP 256   /* the most max_depth may be */

enum mfs_benc_type { MFS_BENC_INT = 1, MFS_BENC_STR, MFS_BENC_LIST, MFS_BENC_DICT };

/* One value. Its subtree is the `span` nodes starting at itself, in
 * document order: a container's first child is node + 1, a child's next
 * sibling is child + child->span. */
struct mfs_bnode {
	const uint8_t *enc;   /* this value's bencoding within the input */
	size_t enc_len;
	const uint8_t *key;   /* a dictionary's value: its key (else NULL) */
	size_t key_len;
	const uint8_t *str;   /* MFS_BENC_STR: the bytes */
	size_t str_len;
	int64_t num;          /* MFS_BENC_INT: the value */
	uint32_t count;       /* MFS_BENC_LIST: items; MFS_BENC_DICT: pairs */
	uint32_t span;        /* nodes in this subtree, itself included (>= 1) */
	uint8_t type;         /* enum mfs_benc_type */
};

/* Parses buf[len] into nodes[max_nodes] (the caller's arena); *count is
 * the number used, nodes[0] the top value. Refuses (MFS_E_FORMAT, the
 * reason in why[why_len] when why is not NULL) anything not canonical,
 * nested deeper than max_depth containers or holding more than max_nodes
 * values. Returns 0 or MFS_E_FORMAT; -EINVAL when max_nodes is 0 or
 * max_depth is 0 or above MFS_BENC_DEPTH_CAP. */
int mfs_benc_parse_into(struct mfs_bnode *nodes, size_t max_nodes, size_t *count,
			const uint8_t *buf, size_t len, unsigned max_depth, char *why,
			size_t why_len);

/* A parsed document in one allocation: nodes[0] is the top value. */
struct mfs_bdoc {
	size_t count;
	struct mfs_bnode nodes[];
};

/* As mfs_benc_parse_into with the default limits, into one allocation
 * that *out owns (free it with mfs_benc_free). 0, MFS_E_FORMAT or -ENOMEM. */
int mfs_benc_parse(struct mfs_bdoc **out, const uint8_t *buf, size_t len, char *why,
		   size_t why_len);
void mfs_benc_free(struct mfs_bdoc *doc);

/* The value under key in dict (a MFS_BENC_DICT node), or NULL when dict is
 * NULL, not a dictionary or has no such key. */
const struct mfs_bnode *mfs_benc_dict_get(const struct mfs_bnode *dict, const char *key);
/* As mfs_benc_dict_get, but NULL also when the value is not of type. */
const struct mfs_bnode *mfs_benc_dict_get_type(const struct mfs_bnode *dict, const char *key,
					       enum mfs_benc_type type);
/* The first child of a list or dictionary, or NULL when it has none. */
const struct mfs_bnode *mfs_benc_first(const struct mfs_bnode *container);
/* The next sibling of child within container, or NULL after the last. */
const struct mfs_bnode *mfs_benc_next(const struct mfs_bnode *container,
				      const struct mfs_bnode *child);

/* A canonical writer into buf[cap]. It writes one or more values one
 * after another (several at the top level make the concatenations that
 * BEP 44 signs). Errors stick: after the first, every call does nothing
 * and mfs_benc_w_finish returns it. */
struct mfs_benc_w {
	uint8_t *buf;
	size_t cap, len;
	int err;
	unsigned depth;                     /* open containers */
	uint8_t is_dict[MFS_BENC_MAX_DEPTH]; /* per open container */
	size_t last_key[MFS_BENC_MAX_DEPTH]; /* offset of its last key's bytes, or SIZE_MAX */
	size_t last_key_len[MFS_BENC_MAX_DEPTH];
	uint8_t want_value;                 /* a key was written, its value is due */
};

void mfs_benc_w_init(struct mfs_benc_w *w, uint8_t *buf, size_t cap);
void mfs_benc_w_int(struct mfs_benc_w *w, int64_t v);
void mfs_benc_w_str(struct mfs_benc_w *w, const void *p, size_t len);
void mfs_benc_w_cstr(struct mfs_benc_w *w, const char *s);
/* A dictionary's key: must be greater than the previous key of the same
 * dictionary (MFS_E_FORMAT otherwise); its value is the next call. */
void mfs_benc_w_key(struct mfs_benc_w *w, const char *key);
void mfs_benc_w_key_bytes(struct mfs_benc_w *w, const void *key, size_t len);
void mfs_benc_w_list(struct mfs_benc_w *w);
void mfs_benc_w_dict(struct mfs_benc_w *w);
void mfs_benc_w_end(struct mfs_benc_w *w);
/* Appends enc[len], one value already in canonical bencoding (the caller
 * vouches for it: for a value it parsed or made itself). */
void mfs_benc_w_raw(struct mfs_benc_w *w, const void *enc, size_t len);
/* Copies the value a parsed node holds (its subtree, canonical). */
void mfs_benc_w_node(struct mfs_benc_w *w, const struct mfs_bnode *node);
/* 0 with *len the bytes written when every container is closed;
 * -ENOBUFS when buf was too small; MFS_E_FORMAT for keys out of order, a
 * key without value, a value without key in a dictionary, containers left
 * open or closed twice, or nesting deeper than MFS_BENC_MAX_DEPTH. */
int mfs_benc_w_finish(struct mfs_benc_w *w, size_t *len);

#endif
