#include "net/krpc.h"

#include <errno.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_item.h"

static const char *const method_names[] = {
	[MFS_KRPC_PING] = "ping",         [MFS_KRPC_FIND_NODE] = "find_node",
	[MFS_KRPC_GET_PEERS] = "get_peers", [MFS_KRPC_ANNOUNCE_PEER] = "announce_peer",
	[MFS_KRPC_GET] = "get",           [MFS_KRPC_PUT] = "put",
};
#define METHODS ((int)(sizeof method_names / sizeof method_names[0]))

/* Where a parse reports its refusal. */
struct why {
	char *buf;
	size_t len;
};

static int bad(struct why *w, const char *what, const char *key)
{
	return mfs_error_why(w->buf, w->len, MFS_E_FORMAT, "KRPC: %s '%s'", what, key);
}

/* A string under key of min..max bytes; absent is fine unless required. */
static int get_str(const struct mfs_bnode *d, const char *key, size_t min, size_t max,
		   int required, const uint8_t **p, size_t *len, struct why *w)
{
	const struct mfs_bnode *v = mfs_benc_dict_get(d, key);

	*p = NULL;
	if (len)
		*len = 0;
	if (!v)
		return required ? bad(w, "no", key) : 0;
	if (v->type != MFS_BENC_STR || v->str_len < min || v->str_len > max)
		return bad(w, min == max ? "wrong length or type of" : "bad length or type of", key);
	*p = v->str;
	if (len)
		*len = v->str_len;
	return 0;
}

static int get_id(const struct mfs_bnode *d, const char *key, int required, const uint8_t **p,
		  struct why *w)
{
	return get_str(d, key, MFS_KRPC_ID_BYTES, MFS_KRPC_ID_BYTES, required, p, NULL, w);
}

/* An integer under key within [min, max]; *has says whether it was there. */
static int get_int(const struct mfs_bnode *d, const char *key, int64_t min, int64_t max,
		   int required, int *has, int64_t *out, struct why *w)
{
	const struct mfs_bnode *v = mfs_benc_dict_get(d, key);

	*has = 0;
	*out = 0;
	if (!v)
		return required ? bad(w, "no", key) : 0;
	if (v->type != MFS_BENC_INT || v->num < min || v->num > max)
		return bad(w, "bad integer", key);
	*has = 1;
	*out = v->num;
	return 0;
}

/* "v": any value of at most MFS_DHT_VALUE_MAX bytes, kept bencoded. */
static int get_value(const struct mfs_bnode *d, int required, struct mfs_krpc_msg *m,
		     struct why *w)
{
	const struct mfs_bnode *v = mfs_benc_dict_get(d, "v");

	if (!v)
		return required ? bad(w, "no", "v") : 0;
	if (v->enc_len > MFS_DHT_VALUE_MAX)
		return bad(w, "value over 1000 bytes in", "v");
	m->v = v->enc;
	m->v_len = v->enc_len;
	return 0;
}

/* k, sig and seq of a mutable item (k present means mutable). */
static int get_mutable(const struct mfs_bnode *d, struct mfs_krpc_msg *m, struct why *w)
{
	int rc = get_str(d, "k", MFS_SIGN_PK_BYTES, MFS_SIGN_PK_BYTES, 0, &m->k, NULL, w);

	if (rc == 0 && m->k)
		rc = get_str(d, "sig", MFS_SIGN_BYTES, MFS_SIGN_BYTES, 1, &m->sig, NULL, w);
	if (rc == 0)
		rc = get_int(d, "seq", INT64_MIN, INT64_MAX, m->k != NULL, &m->has_seq, &m->seq, w);
	return rc;
}

static int parse_query(struct mfs_krpc_msg *m, const struct mfs_bnode *top, struct why *w)
{
	const struct mfs_bnode *a = mfs_benc_dict_get_type(top, "a", MFS_BENC_DICT), *ro;
	int64_t port = 0;
	int has, rc;

	rc = get_str(top, "q", 1, 64, 1, &m->method_name, &m->method_name_len, w);
	if (rc != 0)
		return rc;
	if (!a)
		return bad(w, "no dictionary", "a");
	rc = get_id(a, "id", 1, &m->id, w);
	ro = mfs_benc_dict_get_type(top, "ro", MFS_BENC_INT);
	m->read_only = ro && ro->num == 1;
	for (int i = 1; i < METHODS && rc == 0; i++)
		if (strlen(method_names[i]) == m->method_name_len &&
		    memcmp(method_names[i], m->method_name, m->method_name_len) == 0)
			m->method = i;
	if (rc != 0)
		return rc;
	switch (m->method) {
	case MFS_KRPC_FIND_NODE:
		return get_id(a, "target", 1, &m->target, w);
	case MFS_KRPC_GET_PEERS:
		return get_id(a, "info_hash", 1, &m->info_hash, w);
	case MFS_KRPC_ANNOUNCE_PEER:
		rc = get_id(a, "info_hash", 1, &m->info_hash, w);
		if (rc == 0)
			rc = get_int(a, "port", 0, 65535, 1, &has, &port, w);
		m->port = (uint16_t)port;
		if (rc == 0)
			rc = get_int(a, "implied_port", 0, 1, 0, &has, &port, w);
		m->implied_port = (int)port;
		if (rc == 0)
			rc = get_str(a, "token", 1, MFS_KRPC_TOKEN_MAX, 1, &m->token, &m->token_len, w);
		return rc;
	case MFS_KRPC_GET:
		rc = get_id(a, "target", 1, &m->target, w);
		if (rc == 0)
			rc = get_int(a, "seq", INT64_MIN, INT64_MAX, 0, &m->has_seq, &m->seq, w);
		return rc;
	case MFS_KRPC_PUT:
		rc = get_str(a, "token", 1, MFS_KRPC_TOKEN_MAX, 1, &m->token, &m->token_len, w);
		if (rc == 0)
			rc = get_value(a, 1, m, w);
		if (rc == 0)
			rc = get_mutable(a, m, w);
		if (rc == 0 && m->k)
			rc = get_str(a, "salt", 0, MFS_DHT_SALT_MAX, 0, &m->salt, &m->salt_len, w);
		if (rc == 0 && m->k)
			rc = get_int(a, "cas", INT64_MIN, INT64_MAX, 0, &m->has_cas, &m->cas, w);
		return rc;
	default:
		return 0; /* ping, or a method to answer with 204 */
	}
}

static int parse_response(struct mfs_krpc_msg *m, const struct mfs_bnode *top, struct why *w)
{
	const struct mfs_bnode *r = mfs_benc_dict_get_type(top, "r", MFS_BENC_DICT);
	int rc;

	if (!r)
		return bad(w, "no dictionary", "r");
	rc = get_id(r, "id", 1, &m->id, w);
	if (rc == 0)
		rc = get_str(r, "token", 1, MFS_KRPC_TOKEN_MAX, 0, &m->token, &m->token_len, w);
	if (rc == 0)
		rc = get_str(r, "nodes", 0, SIZE_MAX, 0, &m->nodes, &m->nodes_len, w);
	if (rc == 0 && m->nodes_len % MFS_KRPC_NODE4_BYTES != 0)
		rc = bad(w, "not whole 26-byte nodes in", "nodes");
	if (rc == 0)
		rc = get_str(r, "nodes6", 0, SIZE_MAX, 0, &m->nodes6, &m->nodes6_len, w);
	if (rc == 0 && m->nodes6_len % MFS_KRPC_NODE6_BYTES != 0)
		rc = bad(w, "not whole 38-byte nodes in", "nodes6");
	if (rc == 0 && mfs_benc_dict_get(r, "values")) {
		m->values = mfs_benc_dict_get_type(r, "values", MFS_BENC_LIST);
		if (!m->values)
			return bad(w, "not a list:", "values");
		for (const struct mfs_bnode *p = mfs_benc_first(m->values); p;
		     p = mfs_benc_next(m->values, p))
			if (p->type != MFS_BENC_STR || (p->str_len != MFS_KRPC_PEER4_BYTES &&
							p->str_len != MFS_KRPC_PEER6_BYTES))
				return bad(w, "a peer not of 6 or 18 bytes in", "values");
	}
	if (rc == 0)
		rc = get_value(r, 0, m, w);
	if (rc == 0)
		rc = get_mutable(r, m, w);
	return rc;
}

static int parse_error(struct mfs_krpc_msg *m, const struct mfs_bnode *top, struct why *w)
{
	const struct mfs_bnode *e = mfs_benc_dict_get_type(top, "e", MFS_BENC_LIST);
	const struct mfs_bnode *code = mfs_benc_first(e), *msg = code ? mfs_benc_next(e, code) : NULL;

	if (!code || code->type != MFS_BENC_INT || !msg || msg->type != MFS_BENC_STR)
		return bad(w, "not a list [code, message]:", "e");
	m->error_code = code->num;
	m->error_msg = msg->str;
	m->error_msg_len = msg->str_len;
	return 0;
}

int mfs_krpc_parse(struct mfs_krpc_msg *m, struct mfs_bnode *arena, size_t arena_n,
		   const uint8_t *buf, size_t len, char *why, size_t why_len)
{
	struct why w = {why, why_len};
	const struct mfs_bnode *top = arena;
	const uint8_t *y;
	size_t count, y_len;
	int rc;

	memset(m, 0, sizeof *m);
	if (len > MFS_KRPC_MSG_MAX)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "KRPC: a datagram of %zu bytes, more than %d", len,
				     MFS_KRPC_MSG_MAX);
	rc = mfs_benc_parse_into(arena, arena_n, &count, buf, len, MFS_BENC_MAX_DEPTH, why,
				 why_len);
	if (rc != 0)
		return rc == -EINVAL ? rc : MFS_E_FORMAT;
	if (top->type != MFS_BENC_DICT)
		return mfs_error_why(why, why_len, MFS_E_FORMAT, "KRPC: not a dictionary");
	rc = get_str(top, "t", 1, MFS_KRPC_TID_MAX, 1, &m->tid, &m->tid_len, &w);
	if (rc == 0)
		rc = get_str(top, "y", 1, 1, 1, &y, &y_len, &w);
	if (rc != 0)
		return rc;
	m->kind = (char)y[0];
	switch (m->kind) {
	case 'q':
		rc = parse_query(m, top, &w);
		break;
	case 'r':
		rc = parse_response(m, top, &w);
		break;
	case 'e':
		rc = parse_error(m, top, &w);
		break;
	default:
		rc = bad(&w, "a kind other than q, r, e in", "y");
	}
	if (rc != 0) {
		struct mfs_krpc_msg zero = {0};

		*m = zero;
	}
	return rc;
}

/* Writing. */

static void put_str_if(struct mfs_benc_w *w, const char *key, const uint8_t *p, size_t len)
{
	if (p) {
		mfs_benc_w_key(w, key);
		mfs_benc_w_str(w, p, len);
	}
}

static void put_int_if(struct mfs_benc_w *w, const char *key, int has, int64_t v)
{
	if (has) {
		mfs_benc_w_key(w, key);
		mfs_benc_w_int(w, v);
	}
}

static void put_value_if(struct mfs_benc_w *w, const struct mfs_krpc_msg *m)
{
	if (m->v) {
		mfs_benc_w_key(w, "v");
		mfs_benc_w_raw(w, m->v, m->v_len);
	}
}

/* The arguments of a query, keys in order. */
static void put_args(struct mfs_benc_w *w, const struct mfs_krpc_msg *m)
{
	int announce = m->method == MFS_KRPC_ANNOUNCE_PEER;

	mfs_benc_w_key(w, "a");
	mfs_benc_w_dict(w);
	put_int_if(w, "cas", m->has_cas, m->cas);
	put_str_if(w, "id", m->id, MFS_KRPC_ID_BYTES);
	put_int_if(w, "implied_port", announce && m->implied_port, 1);
	put_str_if(w, "info_hash", m->info_hash, MFS_KRPC_ID_BYTES);
	put_str_if(w, "k", m->k, MFS_SIGN_PK_BYTES);
	put_int_if(w, "port", announce, m->port);
	put_str_if(w, "salt", m->salt_len ? m->salt : NULL, m->salt_len);
	put_int_if(w, "seq", m->has_seq, m->seq);
	put_str_if(w, "sig", m->sig, MFS_SIGN_BYTES);
	put_str_if(w, "target", m->target, MFS_KRPC_ID_BYTES);
	put_str_if(w, "token", m->token, m->token_len);
	put_value_if(w, m);
	mfs_benc_w_end(w);
	mfs_benc_w_key(w, "q");
	mfs_benc_w_cstr(w, method_names[m->method]);
}

/* The fields of a response, keys in order. */
static void put_reply(struct mfs_benc_w *w, const struct mfs_krpc_msg *m)
{
	mfs_benc_w_key(w, "r");
	mfs_benc_w_dict(w);
	put_str_if(w, "id", m->id, MFS_KRPC_ID_BYTES);
	put_str_if(w, "k", m->k, MFS_SIGN_PK_BYTES);
	put_str_if(w, "nodes", m->nodes, m->nodes_len);
	put_str_if(w, "nodes6", m->nodes6, m->nodes6_len);
	put_int_if(w, "seq", m->has_seq, m->seq);
	put_str_if(w, "sig", m->sig, MFS_SIGN_BYTES);
	put_str_if(w, "token", m->token, m->token_len);
	put_value_if(w, m);
	if (m->values) {
		mfs_benc_w_key(w, "values");
		mfs_benc_w_node(w, m->values);
	}
	mfs_benc_w_end(w);
}

/* What encode refuses before writing anything. */
static int check_fields(const struct mfs_krpc_msg *m)
{
	if (!m->tid || m->tid_len == 0 || m->tid_len > MFS_KRPC_TID_MAX)
		return MFS_E_FORMAT;
	if (m->kind == 'e')
		return m->error_msg || m->error_msg_len == 0 ? 0 : MFS_E_FORMAT;
	if (m->kind != 'q' && m->kind != 'r')
		return MFS_E_FORMAT;
	if (!m->id || (m->kind == 'q' && (m->method <= MFS_KRPC_UNKNOWN || m->method >= METHODS)))
		return MFS_E_FORMAT;
	if ((m->token && (m->token_len == 0 || m->token_len > MFS_KRPC_TOKEN_MAX)) ||
	    m->salt_len > MFS_DHT_SALT_MAX || m->nodes_len % MFS_KRPC_NODE4_BYTES != 0 ||
	    m->nodes6_len % MFS_KRPC_NODE6_BYTES != 0 ||
	    (m->values && m->values->type != MFS_BENC_LIST))
		return MFS_E_FORMAT;
	if (m->v && mfs_dht_item_check_value(m->v, m->v_len, NULL, 0) != 0)
		return MFS_E_FORMAT;
	return 0;
}

int mfs_krpc_encode(uint8_t *out, size_t cap, size_t *len, const struct mfs_krpc_msg *m)
{
	struct mfs_benc_w w;
	char y[2] = {m->kind, 0};
	int rc = check_fields(m);

	*len = 0;
	if (rc != 0)
		return rc;
	mfs_benc_w_init(&w, out, cap);
	mfs_benc_w_dict(&w);
	if (m->kind == 'e') {
		mfs_benc_w_key(&w, "e");
		mfs_benc_w_list(&w);
		mfs_benc_w_int(&w, m->error_code);
		mfs_benc_w_str(&w, m->error_msg, m->error_msg_len);
		mfs_benc_w_end(&w);
	} else if (m->kind == 'q') {
		put_args(&w, m);
	} else {
		put_reply(&w, m);
	}
	mfs_benc_w_key(&w, "t");
	mfs_benc_w_str(&w, m->tid, m->tid_len);
	mfs_benc_w_key(&w, "y");
	mfs_benc_w_cstr(&w, y);
	mfs_benc_w_end(&w);
	return mfs_benc_w_finish(&w, len);
}

int mfs_krpc_node_at(struct mfs_krpc_node *out, const uint8_t *list, size_t list_len, int family,
		     size_t i)
{
	size_t size = family == 6 ? MFS_KRPC_NODE6_BYTES : MFS_KRPC_NODE4_BYTES;
	size_t ip_len = size - MFS_KRPC_ID_BYTES - 2;
	const uint8_t *p;

	if ((family != 4 && family != 6) || i >= list_len / size)
		return -ERANGE;
	p = list + i * size;
	memset(out, 0, sizeof *out);
	memcpy(out->id, p, MFS_KRPC_ID_BYTES);
	out->family = (uint8_t)family;
	memcpy(out->ip, p + MFS_KRPC_ID_BYTES, ip_len);
	out->port = (uint16_t)(p[size - 2] << 8 | p[size - 1]);
	return 0;
}

size_t mfs_krpc_node_put(uint8_t out[static MFS_KRPC_NODE6_BYTES], const struct mfs_krpc_node *n)
{
	size_t ip_len = n->family == 4 ? 4 : n->family == 6 ? 16 : 0;

	if (!ip_len)
		return 0;
	memcpy(out, n->id, MFS_KRPC_ID_BYTES);
	memcpy(out + MFS_KRPC_ID_BYTES, n->ip, ip_len);
	out[MFS_KRPC_ID_BYTES + ip_len] = (uint8_t)(n->port >> 8);
	out[MFS_KRPC_ID_BYTES + ip_len + 1] = (uint8_t)n->port;
	return MFS_KRPC_ID_BYTES + ip_len + 2;
}
