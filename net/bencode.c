#include "net/bencode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"

/* The parser's state: the open containers (node indices) and, per open
 * container, its last child (to check a dictionary's key order). */
struct parser {
	struct mfs_bnode *nodes;
	size_t max_nodes, n;
	const uint8_t *buf;
	size_t len, pos;
	unsigned depth, max_depth;
	uint32_t open[MFS_BENC_DEPTH_CAP];
	uint32_t last[MFS_BENC_DEPTH_CAP]; /* UINT32_MAX: no child yet */
	char *why;
	size_t why_len;
};

static int refuse(struct parser *p, const char *what)
{
	return mfs_error_why(p->why, p->why_len, MFS_E_FORMAT, "bencode: %s at byte %zu", what,
			     p->pos);
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "i" [-] digits "e": no leading zero, no "-0", within int64. */
static int parse_int(struct parser *p, int64_t *out)
{
	const uint64_t max_pos = INT64_MAX, max_neg = (uint64_t)INT64_MAX + 1;
	uint64_t mag = 0;
	int neg = 0;
	size_t digits = 0;

	p->pos++; /* 'i' */
	if (p->pos < p->len && p->buf[p->pos] == '-') {
		neg = 1;
		p->pos++;
	}
	while (p->pos < p->len && is_digit(p->buf[p->pos])) {
		unsigned d = p->buf[p->pos] - '0';

		if (digits == 1 && mag == 0)
			return refuse(p, "integer with a leading zero");
		if (mag > ((neg ? max_neg : max_pos) - d) / 10)
			return refuse(p, "integer outside 64 bits");
		mag = mag * 10 + d;
		digits++;
		p->pos++;
	}
	if (p->pos >= p->len)
		return refuse(p, "integer cut short");
	if (digits == 0 || p->buf[p->pos] != 'e')
		return refuse(p, "integer not of the form i<digits>e");
	if (neg && mag == 0)
		return refuse(p, "integer -0");
	p->pos++;
	*out = neg ? (mag == max_neg ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
	return 0;
}

/* digits ":" bytes: no leading zero, the bytes within the buffer. */
static int parse_str(struct parser *p, const uint8_t **str, size_t *len)
{
	size_t n = 0, digits = 0;

	while (p->pos < p->len && is_digit(p->buf[p->pos])) {
		if (digits == 1 && n == 0)
			return refuse(p, "string length with a leading zero");
		size_t d = (size_t)(p->buf[p->pos] - '0');

		if (d > p->len || n > (p->len - d) / 10)
			return refuse(p, "string longer than the input");
		n = n * 10 + d;
		digits++;
		p->pos++;
	}
	if (p->pos >= p->len || p->buf[p->pos] != ':')
		return refuse(p, "string length not followed by ':'");
	p->pos++;
	if (n > p->len - p->pos)
		return refuse(p, "string longer than the input");
	*str = p->buf + p->pos;
	*len = n;
	p->pos += n;
	return 0;
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Reads a dictionary's next key and checks it follows the previous one. */
static int parse_key(struct parser *p, const uint8_t **key, size_t *key_len)
{
	uint32_t prev = p->last[p->depth - 1];
	size_t at = p->pos;
	int rc;

	if (!is_digit(p->buf[p->pos]))
		return refuse(p, "dictionary key not a string");
	rc = parse_str(p, key, key_len);
	if (rc != 0 || prev == UINT32_MAX)
		return rc;
	rc = key_cmp(p->nodes[prev].key, p->nodes[prev].key_len, *key, *key_len);
	if (rc >= 0) {
		p->pos = at;
		return refuse(p, rc == 0 ? "duplicate dictionary key" : "dictionary keys not sorted");
	}
	return 0;
}

/* Closes the innermost container at p->pos (its 'e'). */
static void close_container(struct parser *p)
{
	uint32_t i = p->open[--p->depth];
	struct mfs_bnode *c = &p->nodes[i];

	p->pos++;
	c->enc_len = (size_t)(p->buf + p->pos - c->enc);
	c->span = (uint32_t)(p->n - i);
}

/* Reads one value (after its key, in a dictionary) into a new node. */
static int parse_value(struct parser *p, const uint8_t *key, size_t key_len)
{
	struct mfs_bnode *node;
	uint8_t c = p->buf[p->pos];
	int rc = 0;

	if (p->n == p->max_nodes)
		return refuse(p, "too many values");
	node = &p->nodes[p->n];
	memset(node, 0, sizeof *node);
	node->enc = p->buf + p->pos;
	node->key = key;
	node->key_len = key_len;
	node->span = 1;
	if (c == 'i') {
		node->type = MFS_BENC_INT;
		rc = parse_int(p, &node->num);
	} else if (is_digit(c)) {
		node->type = MFS_BENC_STR;
		rc = parse_str(p, &node->str, &node->str_len);
	} else if (c == 'l' || c == 'd') {
		if (p->depth == p->max_depth)
			return refuse(p, "nesting too deep");
		node->type = c == 'l' ? MFS_BENC_LIST : MFS_BENC_DICT;
		p->pos++;
	} else {
		return refuse(p, "not a bencoded value");
	}
	if (rc != 0)
		return rc;
	if (p->depth > 0) {
		p->nodes[p->open[p->depth - 1]].count++;
		p->last[p->depth - 1] = (uint32_t)p->n;
	}
	node->enc_len = (size_t)(p->buf + p->pos - node->enc);
	if (node->type == MFS_BENC_LIST || node->type == MFS_BENC_DICT) {
		p->open[p->depth] = (uint32_t)p->n;
		p->last[p->depth] = UINT32_MAX;
		p->depth++;
	}
	p->n++;
	return 0;
}

int mfs_benc_parse_into(struct mfs_bnode *nodes, size_t max_nodes, size_t *count,
			const uint8_t *buf, size_t len, unsigned max_depth, char *why,
			size_t why_len)
{
	struct parser state, *p = &state;
	int rc = 0;

	*count = 0;
	if (max_nodes == 0 || max_depth == 0 || max_depth > MFS_BENC_DEPTH_CAP)
		return -EINVAL;
	if (max_nodes > UINT32_MAX - 1)
		max_nodes = UINT32_MAX - 1;
	*p = (struct parser){.nodes = nodes, .max_nodes = max_nodes, .buf = buf, .len = len,
			     .max_depth = max_depth, .why = why, .why_len = why_len};
	do {
		const uint8_t *key = NULL;
		size_t key_len = 0;

		if (p->pos >= p->len) {
			rc = refuse(p, p->len == 0 ? "empty input" : "input cut short");
			break;
		}
		if (p->depth > 0 && p->buf[p->pos] == 'e') {
			close_container(p);
			continue;
		}
		if (p->depth > 0 && p->nodes[p->open[p->depth - 1]].type == MFS_BENC_DICT) {
			rc = parse_key(p, &key, &key_len);
			if (rc == 0 && p->pos >= p->len)
				rc = refuse(p, "dictionary key without a value");
		}
		if (rc == 0)
			rc = parse_value(p, key, key_len);
	} while (rc == 0 && p->depth > 0);
	if (rc == 0 && p->pos != p->len)
		rc = refuse(p, "bytes after the value");
	if (rc == 0)
		*count = p->n;
	return rc;
}

int mfs_benc_parse(struct mfs_bdoc **out, const uint8_t *buf, size_t len, char *why,
		   size_t why_len)
{
	/* Every value takes at least two bytes ("0:", "le"), so len / 2 + 1
	 * nodes always suffice. */
	size_t max = len / 2 + 1 < MFS_BENC_MAX_NODES ? len / 2 + 1 : MFS_BENC_MAX_NODES;
	struct mfs_bdoc *doc = malloc(sizeof *doc + max * sizeof doc->nodes[0]);
	int rc;

	*out = NULL;
	if (!doc)
		return -ENOMEM;
	rc = mfs_benc_parse_into(doc->nodes, max, &doc->count, buf, len, MFS_BENC_MAX_DEPTH, why,
				 why_len);
	if (rc != 0) {
		free(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

void mfs_benc_free(struct mfs_bdoc *doc)
{
	free(doc);
}

const struct mfs_bnode *mfs_benc_first(const struct mfs_bnode *container)
{
	if (!container || (container->type != MFS_BENC_LIST && container->type != MFS_BENC_DICT) ||
	    container->count == 0)
		return NULL;
	return container + 1;
}

const struct mfs_bnode *mfs_benc_next(const struct mfs_bnode *container,
				      const struct mfs_bnode *child)
{
	const struct mfs_bnode *next = child + child->span;

	return next < container + container->span ? next : NULL;
}

const struct mfs_bnode *mfs_benc_dict_get(const struct mfs_bnode *dict, const char *key)
{
	size_t klen = strlen(key);

	if (!dict || dict->type != MFS_BENC_DICT)
		return NULL;
	for (const struct mfs_bnode *c = mfs_benc_first(dict); c; c = mfs_benc_next(dict, c))
		if (c->key_len == klen && memcmp(c->key, key, klen) == 0)
			return c;
	return NULL;
}

const struct mfs_bnode *mfs_benc_dict_get_type(const struct mfs_bnode *dict, const char *key,
					       enum mfs_benc_type type)
{
	const struct mfs_bnode *v = mfs_benc_dict_get(dict, key);

	return v && v->type == type ? v : NULL;
}

/* The writer. */

void mfs_benc_w_init(struct mfs_benc_w *w, uint8_t *buf, size_t cap)
{
	memset(w, 0, sizeof *w);
	w->buf = buf;
	w->cap = cap;
}

static void put(struct mfs_benc_w *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -ENOBUFS;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* Every value passes here first: inside a dictionary it must follow a key. */
static int value_begins(struct mfs_benc_w *w)
{
	if (w->err)
		return -1;
	if (w->depth > 0 && w->is_dict[w->depth - 1]) {
		if (!w->want_value) {
			w->err = MFS_E_FORMAT;
			return -1;
		}
		w->want_value = 0;
	}
	return 0;
}

static void put_len_prefixed(struct mfs_benc_w *w, const void *p, size_t len)
{
	char head[24];
	int n = snprintf(head, sizeof head, "%zu:", len);

	put(w, head, (size_t)n);
	put(w, p, len);
}

void mfs_benc_w_int(struct mfs_benc_w *w, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof s, "i%" PRId64 "e", v);

	if (value_begins(w) == 0)
		put(w, s, (size_t)n);
}

void mfs_benc_w_str(struct mfs_benc_w *w, const void *p, size_t len)
{
	if (value_begins(w) == 0)
		put_len_prefixed(w, p, len);
}

void mfs_benc_w_cstr(struct mfs_benc_w *w, const char *s)
{
	mfs_benc_w_str(w, s, strlen(s));
}

void mfs_benc_w_raw(struct mfs_benc_w *w, const void *enc, size_t len)
{
	if (value_begins(w) == 0)
		put(w, enc, len);
}

void mfs_benc_w_key_bytes(struct mfs_benc_w *w, const void *key, size_t len)
{
	unsigned d = w->depth - 1;
	size_t at;

	if (w->err)
		return;
	if (w->depth == 0 || !w->is_dict[d] || w->want_value) {
		w->err = MFS_E_FORMAT;
		return;
	}
	if (w->last_key[d] != SIZE_MAX &&
	    key_cmp(w->buf + w->last_key[d], w->last_key_len[d], key, len) >= 0) {
		w->err = MFS_E_FORMAT;
		return;
	}
	put_len_prefixed(w, key, len);
	if (w->err)
		return;
	at = w->len - len;
	w->last_key[d] = at;
	w->last_key_len[d] = len;
	w->want_value = 1;
}

void mfs_benc_w_key(struct mfs_benc_w *w, const char *key)
{
	mfs_benc_w_key_bytes(w, key, strlen(key));
}

static void open_container(struct mfs_benc_w *w, uint8_t dict)
{
	if (value_begins(w) != 0)
		return;
	if (w->depth == MFS_BENC_MAX_DEPTH) {
		w->err = MFS_E_FORMAT;
		return;
	}
	put(w, dict ? "d" : "l", 1);
	w->is_dict[w->depth] = dict;
	w->last_key[w->depth] = SIZE_MAX;
	w->depth++;
}

void mfs_benc_w_list(struct mfs_benc_w *w)
{
	open_container(w, 0);
}

void mfs_benc_w_dict(struct mfs_benc_w *w)
{
	open_container(w, 1);
}

void mfs_benc_w_end(struct mfs_benc_w *w)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->want_value) {
		w->err = MFS_E_FORMAT;
		return;
	}
	put(w, "e", 1);
	w->depth--;
}

void mfs_benc_w_node(struct mfs_benc_w *w, const struct mfs_bnode *node)
{
	const struct mfs_bnode *end = node + node->span;
	const struct mfs_bnode *ends[MFS_BENC_MAX_DEPTH];
	unsigned open = 0;

	for (const struct mfs_bnode *p = node; p < end && !w->err; p++) {
		if (p != node && p->key)
			mfs_benc_w_key_bytes(w, p->key, p->key_len);
		switch (p->type) {
		case MFS_BENC_INT:
			mfs_benc_w_int(w, p->num);
			break;
		case MFS_BENC_STR:
			mfs_benc_w_str(w, p->str, p->str_len);
			break;
		default:
			if (open == MFS_BENC_MAX_DEPTH) {
				w->err = MFS_E_FORMAT;
				return;
			}
			open_container(w, p->type == MFS_BENC_DICT);
			ends[open++] = p + p->span;
			break;
		}
		while (open > 0 && p + 1 == ends[open - 1]) {
			mfs_benc_w_end(w);
			open--;
		}
	}
}

int mfs_benc_w_finish(struct mfs_benc_w *w, size_t *len)
{
	*len = 0;
	if (w->err)
		return w->err;
	if (w->depth != 0)
		return MFS_E_FORMAT;
	*len = w->len;
	return 0;
}
