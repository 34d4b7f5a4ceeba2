/* Iterative lookups (the client half of net/dht.h): Kademlia's search for
 * the nodes nearest a target, MFS_DHT_ALPHA queries at a time, until the
 * MFS_DHT_K nearest nodes not known to have failed have all answered;
 * then, for put and announce_peer, a write to those of them that gave a
 * token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_int.h"

#define MAX_CANDS 64 /* nodes a lookup keeps in view, nearest first */

enum kind { K_FIND, K_PEERS, K_ANNOUNCE, K_GET, K_PUT };
enum state { C_NEW, C_ASKED, C_ANSWERED, C_FAILED };

struct cand {
	struct mfs_krpc_node n;
	int has_id;      /* a bootstrap address has none until it answers */
	uint8_t state;   /* enum state, of the search */
	uint8_t token[MFS_KRPC_TOKEN_MAX];
	size_t token_len;
};

struct mfs_dht_lookup {
	struct mfs_dht *d;
	struct mfs_dht_lookup *next;
	int kind;
	uint8_t target[MFS_KRPC_ID_BYTES];
	struct cand c[MAX_CANDS];
	size_t n;
	unsigned inflight;
	int store_phase;
	mfs_dht_done_fn done;
	void *arg;
	struct mfs_dht_result res;
	int64_t last_error;
	/* get: what is asked, and the best item found so far. */
	int is_mutable;
	uint8_t salt[MFS_DHT_SALT_MAX];
	size_t salt_len;
	uint8_t v[MFS_DHT_VALUE_MAX];
	size_t v_len;
	uint8_t k[MFS_SIGN_PK_BYTES], sig[MFS_SIGN_BYTES];
	int64_t seq;
	int has_cas; /* put */
	int64_t cas;
	uint16_t port; /* announce */
	struct mfs_dht_peer peers[MFS_DHT_PEERS_MAX];
	size_t n_peers;
};

static int same_address(const struct mfs_krpc_node *a, const struct mfs_krpc_node *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

/* 1 when a goes before b: nodes without id first (bootstrap addresses),
 * then by XOR distance to the target. */
static int before(const struct cand *a, const struct cand *b, const uint8_t *target)
{
	if (a->has_id != b->has_id)
		return !a->has_id;
	for (int i = 0; a->has_id && i < MFS_KRPC_ID_BYTES; i++) {
		int da = a->n.id[i] ^ target[i], db = b->n.id[i] ^ target[i];

		if (da != db)
			return da < db;
	}
	return 0;
}

/* Puts c in its place; the farthest falls off a full list. */
static void place(struct mfs_dht_lookup *l, const struct cand *c)
{
	size_t at = 0;

	while (at < l->n && !before(c, &l->c[at], l->target))
		at++;
	if (at >= MAX_CANDS)
		return;
	if (l->n == MAX_CANDS)
		l->n--;
	memmove(&l->c[at + 1], &l->c[at], (l->n - at) * sizeof l->c[0]);
	l->c[at] = *c;
	l->n++;
}

/* Adds a node to look at, unless its address is there already. */
static void add_cand(struct mfs_dht_lookup *l, const struct mfs_krpc_node *n, int has_id)
{
	struct cand c = {.n = *n, .has_id = has_id, .state = C_NEW};

	if (n->port == 0 || (has_id && memcmp(n->id, l->d->id, MFS_KRPC_ID_BYTES) == 0))
		return;
	for (size_t i = 0; i < l->n; i++)
		if (same_address(&l->c[i].n, n))
			return;
	place(l, &c);
}

static struct cand *find_cand(struct mfs_dht_lookup *l, const struct sockaddr *to)
{
	struct mfs_krpc_node n;
	static const uint8_t no_id[MFS_KRPC_ID_BYTES];

	if (mfs_dht__contact(&n, no_id, to) != 0)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (same_address(&l->c[i].n, &n))
			return &l->c[i];
	return NULL;
}

static void finish(struct mfs_dht_lookup *l, int status)
{
	struct mfs_dht *d = l->d;
	struct mfs_dht_lookup **pp = &d->lookups;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	for (size_t i = 0; i < l->n && l->res.n_closest < MFS_DHT_K; i++)
		if (l->c[i].state == C_ANSWERED && l->c[i].has_id)
			l->res.closest[l->res.n_closest++] = l->c[i].n;
	l->res.peers = l->peers;
	l->res.n_peers = l->n_peers;
	if (l->res.found) {
		l->res.v = l->v;
		l->res.v_len = l->v_len;
		if (l->is_mutable) {
			l->res.k = l->k;
			l->res.sig = l->sig;
		}
	}
	l->res.error_code = l->last_error;
	if (status == 0 && (l->kind == K_PUT || l->kind == K_ANNOUNCE) && l->res.stored == 0)
		status = l->last_error == 301   ? MFS_E_CAS
			 : l->last_error == 302 ? MFS_E_REPLAY
						: MFS_E_NOTFOUND;
	if (status == 0 && l->res.answered == 0 && !l->res.found)
		status = MFS_E_NOTFOUND;
	l->res.status = status;
	l->done(l->arg, &l->res);
	free(l);
}

static int send_search(struct mfs_dht_lookup *l, struct cand *c)
{
	struct mfs_krpc_msg q = {0};
	struct sockaddr_storage to;

	switch (l->kind) {
	case K_FIND:
		q.method = MFS_KRPC_FIND_NODE;
		q.target = l->target;
		break;
	case K_PEERS:
	case K_ANNOUNCE:
		q.method = MFS_KRPC_GET_PEERS;
		q.info_hash = l->target;
		break;
	default:
		q.method = MFS_KRPC_GET;
		q.target = l->target;
	}
	mfs_dht__sockaddr(&to, &c->n);
	return mfs_dht__query(l->d, &q, (const struct sockaddr *)&to, c->has_id ? c->n.id : NULL,
			      l, 0);
}

static int send_store(struct mfs_dht_lookup *l, struct cand *c)
{
	struct mfs_krpc_msg q = {.token = c->token, .token_len = c->token_len};
	struct sockaddr_storage to;

	if (l->kind == K_ANNOUNCE) {
		q.method = MFS_KRPC_ANNOUNCE_PEER;
		q.info_hash = l->target;
		q.implied_port = l->port == 0;
		q.port = l->port ? l->port : mfs_dht_port(l->d, c->n.family);
	} else {
		q.method = MFS_KRPC_PUT;
		q.v = l->v;
		q.v_len = l->v_len;
		if (l->is_mutable) {
			q.k = l->k;
			q.sig = l->sig;
			q.has_seq = 1;
			q.seq = l->seq;
			q.salt = l->salt_len ? l->salt : NULL;
			q.salt_len = l->salt_len;
			q.has_cas = l->has_cas;
			q.cas = l->cas;
		}
	}
	mfs_dht__sockaddr(&to, &c->n);
	return mfs_dht__query(l->d, &q, (const struct sockaddr *)&to, c->n.id, l, 1);
}

/* The write to the MFS_DHT_K nearest nodes that answered with a token. */
static void start_store(struct mfs_dht_lookup *l)
{
	size_t asked = 0;

	l->store_phase = 1;
	for (size_t i = 0; i < l->n && asked < MFS_DHT_K; i++) {
		struct cand *c = &l->c[i];

		if (c->state != C_ANSWERED || !c->token_len || !c->has_id)
			continue;
		asked++;
		if (send_store(l, c) == 0) {
			l->inflight++;
			l->res.queries++;
		}
	}
	if (l->inflight == 0)
		finish(l, 0);
}

/* Sends what the search wants next; ends it when nothing is in flight. */
static void step(struct mfs_dht_lookup *l)
{
	size_t seen = 0;

	for (size_t i = 0; i < l->n && seen < MFS_DHT_K; i++) {
		struct cand *c = &l->c[i];

		if (c->state == C_FAILED)
			continue;
		seen++;
		if (c->state != C_NEW || l->inflight >= MFS_DHT_ALPHA ||
		    l->res.queries >= MFS_DHT_LOOKUP_QUERIES)
			continue;
		if (send_search(l, c) != 0) {
			c->state = C_FAILED;
			seen--;
			continue;
		}
		c->state = C_ASKED;
		l->inflight++;
		l->res.queries++;
	}
	if (l->inflight > 0)
		return;
	if (l->kind == K_PUT || l->kind == K_ANNOUNCE)
		start_store(l);
	else
		finish(l, 0);
}

static void take_peers(struct mfs_dht_lookup *l, const struct mfs_bnode *values)
{
	for (const struct mfs_bnode *p = mfs_benc_first(values); p && l->n_peers < MFS_DHT_PEERS_MAX;
	     p = mfs_benc_next(values, p)) {
		struct mfs_dht_peer peer = {.family = p->str_len == MFS_KRPC_PEER4_BYTES ? 4 : 6};
		size_t ip_len = peer.family == 4 ? 4 : 16, i;

		memcpy(peer.ip, p->str, ip_len);
		peer.port = (uint16_t)(p->str[ip_len] << 8 | p->str[ip_len + 1]);
		for (i = 0; i < l->n_peers; i++)
			if (l->peers[i].family == peer.family && l->peers[i].port == peer.port &&
			    memcmp(l->peers[i].ip, peer.ip, ip_len) == 0)
				break;
		if (i == l->n_peers && peer.port != 0)
			l->peers[l->n_peers++] = peer;
	}
}

/* A get's answer: kept when it checks out against the target and is newer. */
static void take_item(struct mfs_dht_lookup *l, const struct mfs_krpc_msg *m)
{
	struct mfs_dht_mutable item = {.salt = l->salt, .salt_len = l->salt_len, .seq = m->seq,
				       .v = m->v, .v_len = m->v_len};

	if (!m->v || (l->is_mutable != (m->k != NULL)) || (l->is_mutable && !m->has_seq))
		return;
	if (mfs_dht_item_check_got(l->target, m->k, m->sig, &item) != 0)
		return;
	if (l->res.found && (!l->is_mutable || m->seq <= l->seq))
		return;
	memcpy(l->v, m->v, m->v_len);
	l->v_len = m->v_len;
	if (l->is_mutable) {
		memcpy(l->k, m->k, MFS_SIGN_PK_BYTES);
		memcpy(l->sig, m->sig, MFS_SIGN_BYTES);
		l->seq = m->seq;
		l->res.has_seq = 1;
		l->res.seq = m->seq;
	}
	l->res.found = 1;
}

static void search_answer(struct mfs_dht_lookup *l, struct cand *c, const struct mfs_krpc_msg *m)
{
	struct mfs_krpc_node n;

	if (!m || m->kind != 'r') {
		c->state = C_FAILED;
		return;
	}
	l->res.answered++;
	c->state = C_ANSWERED;
	if (m->token && l->kind != K_FIND) {
		memcpy(c->token, m->token, m->token_len);
		c->token_len = m->token_len;
	}
	if (!c->has_id || memcmp(c->n.id, m->id, MFS_KRPC_ID_BYTES) != 0) {
		/* Its id is known now (or not the one we were told): it moves
		 * to its place by that id. */
		struct cand moved = *c;

		memcpy(moved.n.id, m->id, MFS_KRPC_ID_BYTES);
		moved.has_id = 1;
		memmove(c, c + 1, (size_t)(&l->c[l->n] - (c + 1)) * sizeof *c);
		l->n--;
		place(l, &moved);
	}
	if (l->kind == K_PEERS || l->kind == K_ANNOUNCE)
		take_peers(l, m->values);
	if (l->kind == K_GET)
		take_item(l, m);
	for (int family = 4; family <= 6; family += 2) {
		const uint8_t *list = family == 4 ? m->nodes : m->nodes6;
		size_t len = family == 4 ? m->nodes_len : m->nodes6_len;

		for (size_t i = 0; mfs_krpc_node_at(&n, list, len, family, i) == 0; i++)
			add_cand(l, &n, 1);
	}
}

void mfs_dht__lookup_reply(struct mfs_dht *d, struct mfs_dht_lookup *l, const struct sockaddr *to,
			   int store_phase, const struct mfs_krpc_msg *m)
{
	struct cand *c = find_cand(l, to);

	(void)d;
	if (l->inflight > 0)
		l->inflight--;
	if (store_phase) {
		if (m && m->kind == 'r')
			l->res.stored++;
		else if (m && m->kind == 'e')
			l->last_error = m->error_code;
		if (l->inflight == 0)
			finish(l, 0);
		return;
	}
	if (c && c->state == C_ASKED)
		search_answer(l, c, m);
	step(l);
}

void mfs_dht__lookup_resent(struct mfs_dht_lookup *l)
{
	l->res.queries++;
}

void mfs_dht__lookup_cancel_all(struct mfs_dht *d)
{
	while (d->lookups)
		finish(d->lookups, -ECANCELED);
}

/* A new lookup of kind for target, started from the table's nearest
 * nodes and seeds[n_seeds]. */
static int begin(struct mfs_dht_lookup **out, struct mfs_dht *d, int kind, const uint8_t *target,
		 mfs_dht_done_fn done, void *arg)
{
	struct mfs_krpc_node near[2 * MFS_DHT_K];
	struct mfs_dht_lookup *l;
	size_t n;

	*out = NULL;
	if (d->closing)
		return -ECANCELED;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->kind = kind;
	memcpy(l->target, target, MFS_KRPC_ID_BYTES);
	l->done = done;
	l->arg = arg;
	n = mfs_dht_table_closest(d->table, target, near, 2 * MFS_DHT_K);
	for (size_t i = 0; i < n; i++)
		add_cand(l, &near[i], 1);
	*out = l;
	return 0;
}

/* Runs l, or frees it when it has no node to ask. */
static int run(struct mfs_dht_lookup *l)
{
	if (l->n == 0) {
		free(l);
		return MFS_E_NOTFOUND;
	}
	l->next = l->d->lookups;
	l->d->lookups = l;
	step(l);
	return 0;
}

int mfs_dht_bootstrap(struct mfs_dht *d, const struct sockaddr_storage *addrs, size_t n,
		      mfs_dht_done_fn done, void *arg)
{
	struct mfs_dht_lookup *l;
	int rc = begin(&l, d, K_FIND, d->id, done, arg);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct mfs_krpc_node node;
		static const uint8_t no_id[MFS_KRPC_ID_BYTES];

		if (mfs_dht__contact(&node, no_id, (const struct sockaddr *)&addrs[i]) == 0)
			add_cand(l, &node, 0);
	}
	return rc == 0 ? run(l) : rc;
}

int mfs_dht_find_node(struct mfs_dht *d, const uint8_t target[static 20], mfs_dht_done_fn done,
		      void *arg)
{
	struct mfs_dht_lookup *l;
	int rc = begin(&l, d, K_FIND, target, done, arg);

	return rc == 0 ? run(l) : rc;
}

int mfs_dht_get_peers(struct mfs_dht *d, const uint8_t info_hash[static 20],
		      mfs_dht_done_fn done, void *arg)
{
	struct mfs_dht_lookup *l;
	int rc = begin(&l, d, K_PEERS, info_hash, done, arg);

	return rc == 0 ? run(l) : rc;
}

int mfs_dht_announce(struct mfs_dht *d, const uint8_t info_hash[static 20], uint16_t port,
		     mfs_dht_done_fn done, void *arg)
{
	struct mfs_dht_lookup *l;
	int rc = begin(&l, d, K_ANNOUNCE, info_hash, done, arg);

	if (rc != 0)
		return rc;
	l->port = port;
	return run(l);
}

/* The node's own store may hold what a get asks for. */
static void take_local(struct mfs_dht_lookup *l)
{
	const struct mfs_dht_stored *it = mfs_dht_store_get(l->d->store, l->target);
	struct mfs_krpc_msg m = {0};

	if (!it)
		return;
	m.v = it->v;
	m.v_len = it->v_len;
	if (it->is_mutable) {
		m.k = it->k;
		m.sig = it->sig;
		m.has_seq = 1;
		m.seq = it->seq;
	}
	take_item(l, &m);
}

int mfs_dht_get_immutable(struct mfs_dht *d, const uint8_t target[static 20],
			  mfs_dht_done_fn done, void *arg)
{
	struct mfs_dht_lookup *l;
	int rc = begin(&l, d, K_GET, target, done, arg);

	if (rc != 0)
		return rc;
	take_local(l);
	return run(l);
}

int mfs_dht_get_mutable(struct mfs_dht *d, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t *salt, size_t salt_len, mfs_dht_done_fn done, void *arg)
{
	uint8_t target[MFS_DHT_TARGET_BYTES];
	struct mfs_dht_lookup *l;
	int rc = mfs_dht_item_mutable_target(target, pk, salt, salt_len);

	if (rc == 0)
		rc = begin(&l, d, K_GET, target, done, arg);
	if (rc != 0)
		return rc;
	l->is_mutable = 1;
	if (salt_len)
		memcpy(l->salt, salt, salt_len);
	l->salt_len = salt_len;
	take_local(l);
	return run(l);
}

int mfs_dht_put_immutable(struct mfs_dht *d, const uint8_t *v, size_t v_len,
			  mfs_dht_done_fn done, void *arg)
{
	uint8_t target[MFS_DHT_TARGET_BYTES];
	struct mfs_dht_lookup *l;
	int rc = mfs_dht_item_immutable_target(target, v, v_len);

	if (rc == 0)
		rc = begin(&l, d, K_PUT, target, done, arg);
	if (rc != 0)
		return rc;
	memcpy(l->v, v, v_len);
	l->v_len = v_len;
	return run(l);
}

int mfs_dht_put_mutable(struct mfs_dht *d, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			const uint8_t sig[static MFS_SIGN_BYTES], const struct mfs_dht_mutable *item,
			int has_cas, int64_t cas, mfs_dht_done_fn done, void *arg)
{
	uint8_t target[MFS_DHT_TARGET_BYTES];
	struct mfs_dht_lookup *l;
	int rc = mfs_dht_item_check_value(item->v, item->v_len, NULL, 0);

	if (rc == 0)
		rc = mfs_dht_item_mutable_target(target, pk, item->salt, item->salt_len);
	if (rc == 0)
		rc = begin(&l, d, K_PUT, target, done, arg);
	if (rc != 0)
		return rc;
	l->is_mutable = 1;
	memcpy(l->k, pk, MFS_SIGN_PK_BYTES);
	memcpy(l->sig, sig, MFS_SIGN_BYTES);
	if (item->salt_len)
		memcpy(l->salt, item->salt, item->salt_len);
	l->salt_len = item->salt_len;
	memcpy(l->v, item->v, item->v_len);
	l->v_len = item->v_len;
	l->seq = item->seq;
	l->has_cas = has_cas;
	l->cas = cas;
	return run(l);
}
