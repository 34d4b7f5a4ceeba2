#include "net/tracker_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/store.h"
#include "net/addr.h"
#include "net/bt_http.h"
#include "net/bt_swarm.h"
#include "net/hostport.h"
#include "net/tls.h"
#include "net/tracker_proto.h"
#include "net/webtorrent.h"
#include "net/ws.h"

#define MIN_QUEUE_BYTES (4u << 20)
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)

/* ---- a small hash table, keyed with a secret (keys come from clients) ---- */

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **buckets;
	size_t nbuckets;          /* a power of two, or 0 before the first insert */
	size_t count;
};

static uint64_t keyed_hash(const uint8_t secret[32], const void *key, size_t len)
{
	uint8_t h[16];
	uint64_t v;

	mfs_keyed_hash(h, sizeof h, secret, key, len, NULL, 0);
	memcpy(&v, h, sizeof v);
	return v;
}

static int htab_insert(struct htab *t, struct hnode *n)
{
	if (t->count + 1 > t->nbuckets) {
		size_t nb = t->nbuckets ? 2 * t->nbuckets : 64;
		struct hnode **b = calloc(nb, sizeof *b);

		if (!b)
			return -ENOMEM;
		for (size_t i = 0; i < t->nbuckets; i++)
			for (struct hnode *e = t->buckets[i], *next; e; e = next) {
				next = e->next;
				e->next = b[e->hash & (nb - 1)];
				b[e->hash & (nb - 1)] = e;
			}
		free(t->buckets);
		t->buckets = b;
		t->nbuckets = nb;
	}
	n->next = t->buckets[n->hash & (t->nbuckets - 1)];
	t->buckets[n->hash & (t->nbuckets - 1)] = n;
	t->count++;
	return 0;
}

static void htab_remove(struct htab *t, struct hnode *n)
{
	struct hnode **p = &t->buckets[n->hash & (t->nbuckets - 1)];

	while (*p != n)
		p = &(*p)->next;
	*p = n->next;
	t->count--;
}

/* The first node of the hash's chain (walk ->next and compare keys). */
static struct hnode *htab_first(const struct htab *t, uint64_t hash)
{
	return t->nbuckets ? t->buckets[hash & (t->nbuckets - 1)] : NULL;
}

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* ---- state ----------------------------------------------------------- */

struct conn;

/* One announced peer of a key. */
struct record {
	struct conn *conn;        /* the connection that announced it last */
	uint8_t peer_id[MFS_TRACKER_KEY_BYTES];
	uint16_t port;
	uint64_t expires_ms;      /* loop time */
};

/* A key some connection subscribed to or announced. */
struct topic {
	struct hnode node;
	uint8_t key[MFS_TRACKER_KEY_BYTES];
	struct conn **subs;
	size_t nsubs, subs_cap;
	struct record *records;
	size_t nrecords, records_cap;
	size_t refs;              /* connections holding it in subs or announced */
};

/* Connections per range of source addresses (net/addr: a /24, a /64). */
/* One address range: its connections, and the manifests it last published
 * (what its quotas count). Kept while it has either. */
struct address {
	struct hnode node;
	uint8_t range[MFS_ADDR_RANGE_BYTES];
	size_t conns;
	size_t dying;             /* of which closed to make room, not yet gone */
	size_t keys, bytes;       /* stored manifests last published from it */
};

/* A manifest the database keeps, and what its quota counts (the same as
 * the meta table holds: when it was last published, and from where). */
struct stored {
	struct hnode node;
	uint8_t key[MFS_TRACKER_KEY_BYTES];
	uint8_t range[MFS_ADDR_RANGE_BYTES]; /* its last publisher's range */
	size_t bytes;
	uint64_t when;            /* milliseconds since the epoch */
};

/* What the manifests last published from one range hold. */
#define META_BYTES (8 + MFS_ADDR_RANGE_BYTES)

struct conn {
	struct mfs_tracker_server *s;
	struct lws *wsi;
	struct address *address;
	char host[INET6_ADDRSTRLEN];
	struct conn *prev, *next;
	struct mfs_ws_rx rx;          /* the message being received */
	struct mfs_ws_tx tx;          /* what is to be sent */
	/* a close to send at the next writeable callback */
	enum lws_close_status close_status;
	const char *close_reason;
	struct topic **subs;
	size_t nsubs, subs_cap;
	struct topic **announced;     /* keys it announced (records may be gone) */
	size_t nannounced, announced_cap;
	size_t nrecords;              /* records whose conn it is */
	struct mfs_bt_http *http;     /* a connection of the BitTorrent listener */
	struct mfs_wt_conn *wt;       /* its WebTorrent swarms (net/webtorrent) */
	int established;              /* the WebSocket handshake is done */
	int dying;                    /* closed to make room (counted in address) */
	uint64_t active_ms;           /* loop time of its last message */
};

struct mfs_tracker_server {
	uv_loop_t *loop;
	struct mfs_tracker_server_config cfg;   /* defaults filled in */
	char *host, *db_dir;
	struct mfs_ws ws;
	int ws_started;
	uint16_t port;
	uint16_t http_port;           /* BitTorrent announces; 0: none */
	struct mfs_bt_swarm *bt;      /* their peers */
	struct mfs_webtorrent *wt;    /* WebTorrent's swarms */
	int tls;                      /* wss:// (the config's paths are not kept) */
	MDB_env *env;
	MDB_dbi dbi;                  /* key -> canonical manifest */
	MDB_dbi meta;                 /* key -> when (u64 BE), publisher's range */
	struct htab stored;           /* mirrors the database */
	size_t stored_bytes;
	uint64_t dropped;             /* manifests dropped for room */
	uint8_t hash_secret[32];
	struct htab topics, addresses;
	struct conn *conns;
	size_t nconns, dying;
	uint64_t published, refused, evicted;
	size_t queue_cap;
	unsigned char scratch[LWS_PRE + MFS_WS_FRAGMENT_BYTES];
	int stopping;
};

/* ---- the database -------------------------------------------------------- */

static struct stored *stored_find(struct mfs_tracker_server *s, const uint8_t *key)
{
	uint64_t h = keyed_hash(s->hash_secret, key, MFS_TRACKER_KEY_BYTES);

	for (struct hnode *n = htab_first(&s->stored, h); n; n = n->next) {
		struct stored *st = container_of(n, struct stored, node);

		if (n->hash == h && memcmp(st->key, key, MFS_TRACKER_KEY_BYTES) == 0)
			return st;
	}
	return NULL;
}

static struct address *address_find(struct mfs_tracker_server *s,
				     const uint8_t range[MFS_ADDR_RANGE_BYTES], int create)
{
	uint64_t h = keyed_hash(s->hash_secret, range, MFS_ADDR_RANGE_BYTES);
	struct address *a;

	for (struct hnode *n = htab_first(&s->addresses, h); n; n = n->next) {
		a = container_of(n, struct address, node);
		if (n->hash == h && memcmp(a->range, range, MFS_ADDR_RANGE_BYTES) == 0)
			return a;
	}
	if (!create || !(a = calloc(1, sizeof *a)))
		return NULL;
	memcpy(a->range, range, MFS_ADDR_RANGE_BYTES);
	a->node.hash = h;
	if (htab_insert(&s->addresses, &a->node) != 0) {
		free(a);
		return NULL;
	}
	return a;
}

/* Frees a range's record once nothing counts against it. */
static void address_put(struct mfs_tracker_server *s, struct address *a)
{
	if (a->conns == 0 && a->keys == 0) {
		htab_remove(&s->addresses, &a->node);
		free(a);
	}
}

/* Counts a stored manifest (new or changed) against its range and in all.
 * 0 or -ENOMEM (nothing changed). */
static int stored_set(struct mfs_tracker_server *s, const uint8_t *key, const uint8_t *range,
		      size_t bytes, uint64_t when)
{
	struct stored *st = stored_find(s, key);
	struct address *to = address_find(s, range, 1), *from;

	if (!to)
		return -ENOMEM;
	if (!st) {
		if (!(st = calloc(1, sizeof *st)))
			return -ENOMEM;
		memcpy(st->key, key, MFS_TRACKER_KEY_BYTES);
		st->node.hash = keyed_hash(s->hash_secret, key, MFS_TRACKER_KEY_BYTES);
		if (htab_insert(&s->stored, &st->node) != 0) {
			free(st);
			return -ENOMEM;
		}
	} else {
		from = address_find(s, st->range, 0);
		from->keys--;
		from->bytes -= st->bytes;
		s->stored_bytes -= st->bytes;
		if (from != to)
			address_put(s, from);
	}
	memcpy(st->range, range, MFS_ADDR_RANGE_BYTES);
	st->bytes = bytes;
	st->when = when;
	to->keys++;
	to->bytes += bytes;
	s->stored_bytes += bytes;
	return 0;
}

static void stored_drop(struct mfs_tracker_server *s, struct stored *st)
{
	struct address *a = address_find(s, st->range, 0);

	a->keys--;
	a->bytes -= st->bytes;
	address_put(s, a);
	s->stored_bytes -= st->bytes;
	htab_remove(&s->stored, &st->node);
	free(st);
}

static void free_table(struct htab *t, size_t offset)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct hnode *n = t->buckets[i], *next; n; n = next) {
			next = n->next;
			free((char *)n - offset);
		}
	free(t->buckets);
	memset(t, 0, sizeof *t);
}

static void meta_encode(uint8_t out[META_BYTES], uint64_t when, const uint8_t *range)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(when >> (56 - 8 * i));
	memcpy(out + 8, range, MFS_ADDR_RANGE_BYTES);
}

/* Counts what the database holds. A manifest without its meta record (a
 * database from before quotas) counts as published long ago from nowhere:
 * it is the first to go when room is needed, and no range is charged. */
static int db_load(struct mfs_tracker_server *s)
{
	static const uint8_t nowhere[MFS_ADDR_RANGE_BYTES];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v, mv;
	int rc, err = 0;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mfs_store_lmdb_error(rc);
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return mfs_store_lmdb_error(rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *range = nowhere;
		uint64_t when = 0;

		if (k.mv_size != MFS_TRACKER_KEY_BYTES)
			continue; /* the name of the meta table */
		if (mdb_get(txn, s->meta, &k, &mv) == 0 && mv.mv_size == META_BYTES) {
			for (int i = 0; i < 8; i++)
				when = when << 8 | ((const uint8_t *)mv.mv_data)[i];
			range = (const uint8_t *)mv.mv_data + 8;
		}
		if ((err = stored_set(s, k.mv_data, range, v.mv_size, when)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (err)
		return err;
	return rc == MDB_NOTFOUND ? 0 : mfs_store_lmdb_error(rc);
}

static int db_open(struct mfs_tracker_server *s)
{
	MDB_txn *txn;
	int rc;

	if (mkdir(s->db_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if ((rc = mdb_env_create(&s->env)) != 0)
		return mfs_store_lmdb_error(rc);
	if ((rc = mdb_env_set_mapsize(s->env, s->cfg.map_size)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 1)) != 0 ||
	    (rc = mdb_env_open(s->env, s->db_dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return db_load(s);
fail:
	mdb_env_close(s->env);
	s->env = NULL;
	return mfs_store_lmdb_error(rc);
}

/* The stored manifest of key (malloc'ed copy) and its sequence. 0,
 * MFS_E_NOTFOUND, MFS_E_CORRUPT (stored bytes without a sequence) or an
 * LMDB error. */
static int db_get(struct mfs_tracker_server *s, const uint8_t key[MFS_TRACKER_KEY_BYTES],
		  char **out, size_t *out_len, uint64_t *sequence)
{
	MDB_val k = {MFS_TRACKER_KEY_BYTES, (void *)key}, v;
	MDB_txn *txn;
	json_t *doc, *seq;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mfs_store_lmdb_error(rc);
	if ((rc = mdb_get(txn, s->dbi, &k, &v)) != 0) {
		mdb_txn_abort(txn);
		return mfs_store_lmdb_error(rc);
	}
	doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
	seq = json_object_get(doc, "sequence");
	rc = MFS_E_CORRUPT;
	if (json_is_integer(seq) && json_integer_value(seq) >= 1) {
		*sequence = (uint64_t)json_integer_value(seq);
		rc = 0;
		if (out) {
			if ((*out = malloc(v.mv_size + 1))) {
				memcpy(*out, v.mv_data, v.mv_size);
				(*out)[v.mv_size] = '\0';
				*out_len = v.mv_size;
			} else {
				rc = -ENOMEM;
			}
		}
	}
	json_decref(doc);
	mdb_txn_abort(txn);
	return rc;
}

/* Stores key's manifest and meta record, and deletes the manifests in
 * drop, in one transaction. 0, -ENOSPC (the map is full) or an LMDB error. */
static int db_store(struct mfs_tracker_server *s, const uint8_t key[MFS_TRACKER_KEY_BYTES],
		    const char *buf, size_t len, const uint8_t meta[META_BYTES],
		    struct stored *const *drop, size_t ndrop)
{
	MDB_val k = {MFS_TRACKER_KEY_BYTES, (void *)key}, v = {len, (void *)buf};
	MDB_val mv = {META_BYTES, (void *)meta};
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mfs_store_lmdb_error(rc);
	for (size_t i = 0; i < ndrop && rc == 0; i++) {
		MDB_val dk = {MFS_TRACKER_KEY_BYTES, drop[i]->key};

		if ((rc = mdb_del(txn, s->dbi, &dk, NULL)) == MDB_NOTFOUND)
			rc = 0;
		if (rc == 0 && (rc = mdb_del(txn, s->meta, &dk, NULL)) == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc == 0 && (rc = mdb_put(txn, s->dbi, &k, &v, 0)) == 0)
		rc = mdb_put(txn, s->meta, &k, &mv, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_MAP_FULL ? -ENOSPC : mfs_store_lmdb_error(rc);
	}
	rc = mdb_txn_commit(txn);
	return rc == MDB_MAP_FULL ? -ENOSPC : mfs_store_lmdb_error(rc);
}

/* ---- topics and addresses ------------------------------------------------ */

/* The topic of key, whose keyed hash is h (stored ones keep theirs). */
static struct topic *topic_find_hashed(struct mfs_tracker_server *s, const uint8_t *key,
				       uint64_t h)
{
	for (struct hnode *n = htab_first(&s->topics, h); n; n = n->next) {
		struct topic *t = container_of(n, struct topic, node);

		if (n->hash == h && memcmp(t->key, key, MFS_TRACKER_KEY_BYTES) == 0)
			return t;
	}
	return NULL;
}

static struct topic *topic_find(struct mfs_tracker_server *s, const uint8_t *key, int create)
{
	uint64_t h = keyed_hash(s->hash_secret, key, MFS_TRACKER_KEY_BYTES);
	struct topic *t = topic_find_hashed(s, key, h);

	if (t || !create || !(t = calloc(1, sizeof *t)))
		return t;
	memcpy(t->key, key, MFS_TRACKER_KEY_BYTES);
	t->node.hash = h;
	if (htab_insert(&s->topics, &t->node) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

static void topic_release(struct mfs_tracker_server *s, struct topic *t)
{
	if (--t->refs > 0)
		return;
	htab_remove(&s->topics, &t->node);
	free(t->subs);
	free(t->records);
	free(t);
}

static void address_key(const struct mfs_tracker_server *s,
			uint8_t out[static MFS_ADDR_RANGE_BYTES], const struct sockaddr *sa)
{
	mfs_addr_range(out, sa, s->cfg.range_bits_v4, s->cfg.range_bits_v6);
}


/* ---- output ---------------------------------------------------------------- */

/* Closes c: with a close frame when it can still be written, else at once. */
static void conn_close(struct conn *c, enum lws_close_status status, const char *reason)
{
	if (c->close_status)
		return;
	c->close_status = status;
	c->close_reason = reason;
	mfs_ws_tx_clear(&c->tx);
	lws_callback_on_writable(c->wsi);
}

/* Queues m (adds a reference) to c. A client that does not read what it is
 * sent is closed at once: it could not read a close frame either. */
static void enqueue(struct conn *c, struct mfs_ws_msg *m)
{
	int rc;

	if (c->close_status)
		return;
	rc = mfs_ws_tx_push(&c->tx, m, c->s->queue_cap);
	if (rc == -ENOBUFS) {
		mfs_ws_tx_clear(&c->tx);
		c->close_status = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	if (rc != 0) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	lws_callback_on_writable(c->wsi);
}

/* Sends a freshly built text (rc from its builder) to c alone. */
static void send_built(struct conn *c, int rc, char *text, size_t len)
{
	struct mfs_ws_msg *m;

	if (rc != 0) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	if (!(m = mfs_ws_msg_new(text, len))) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	enqueue(c, m);
	mfs_ws_msg_unref(m);
}

static void send_error(struct conn *c, enum mfs_tracker_action request, const uint8_t *key,
		       uint64_t sequence, int code, const char *reason)
{
	char *text = NULL;
	size_t len = 0;
	int rc = mfs_tracker_build_error(&text, &len, request, key, sequence, code, reason);

	send_built(c, rc, text, len);
}

/* Writes the next fragment of the queue's head. 0 or -1 (close). */
static int conn_write(struct conn *c)
{
	int more;

	if (c->close_status) {
		if (c->close_reason)
			lws_close_reason(c->wsi, c->close_status, (unsigned char *)c->close_reason,
					 strlen(c->close_reason));
		return -1;
	}
	if ((more = mfs_ws_tx_write(&c->tx, c->wsi, c->s->scratch)) < 0)
		return -1;
	if (more)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* Holding nothing: no subscription, no announced peer, not closing. */
static int conn_idle(const struct conn *c)
{
	return c->established && !c->dying && !c->close_status && c->nsubs == 0 &&
	       c->nrecords == 0 && mfs_webtorrent_joined(c->wt) == 0;
}

/* After the handshake and after each message: a connection that holds
 * nothing is closed idle_timeout seconds later unless it does something. */
static void arm_idle(struct conn *c)
{
	if (c->close_status)
		return;
	if (conn_idle(c))
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)c->s->cfg.idle_timeout);
	else
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
}

/* ---- requests ------------------------------------------------------------ */

static int holds(struct topic *const *list, size_t n, const struct topic *t)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == t)
			return 1;
	return 0;
}

/* Makes room in *arr (n used, capacity *cap) for one more. 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 4;
	if (!(p = realloc(*arr, ncap * elem)))
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static void do_subscribe(struct conn *c, const uint8_t key[MFS_TRACKER_KEY_BYTES])
{
	struct mfs_tracker_server *s = c->s;
	struct topic *t = topic_find(s, key, 0);
	char *stored = NULL, *text = NULL;
	size_t stored_len = 0, len = 0;
	uint64_t seq;
	int rc;

	if (!t || !holds(c->subs, c->nsubs, t)) {
		char why[80];

		if (c->nsubs >= s->cfg.max_subscriptions) {
			snprintf(why, sizeof why, "at most %u subscriptions per connection",
				 s->cfg.max_subscriptions);
			send_error(c, MFS_TRACKER_SUBSCRIBE, key, 0, -EPERM, why);
			return;
		}
		if (grow((void **)&c->subs, &c->subs_cap, c->nsubs, sizeof *c->subs) != 0)
			goto oom;
		if (!t && !(t = topic_find(s, key, 1)))
			goto oom;
		if (grow((void **)&t->subs, &t->subs_cap, t->nsubs, sizeof *t->subs) != 0) {
			if (t->refs == 0) { /* made just now */
				t->refs = 1;
				topic_release(s, t);
			}
			goto oom;
		}
		t->subs[t->nsubs++] = c;
		t->refs++;
		c->subs[c->nsubs++] = t;
	}
	rc = db_get(s, key, &stored, &stored_len, &seq);
	if (rc == MFS_E_NOTFOUND)
		return;
	if (rc != 0) {
		send_error(c, MFS_TRACKER_SUBSCRIBE, key, 0, -EIO, mfs_strerror(rc));
		return;
	}
	rc = mfs_tracker_build_publish(&text, &len, stored, stored_len);
	free(stored);
	send_built(c, rc, text, len);
	return;
oom:
	send_error(c, MFS_TRACKER_SUBSCRIBE, key, 0, -EIO, "out of memory");
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int older_first(const void *a, const void *b)
{
	const struct stored *x = *(struct stored *const *)a, *y = *(struct stored *const *)b;

	return x->when < y->when ? -1 : x->when > y->when;
}

/* Whether key's manifest of len bytes may be stored for c: 0 with *drop
 * (malloc'ed, may be NULL) the manifests to delete to make room, oldest
 * first among those of channels nobody subscribes to; -EPERM with why
 * when the quota of c's range or of the whole tracker does not allow it;
 * -ENOMEM. */
static int make_room(struct mfs_tracker_server *s, const struct conn *c, const uint8_t *key,
		     size_t len, struct stored ***drop, size_t *ndrop, char *why, size_t why_len)
{
	const struct mfs_tracker_server_config *cfg = &s->cfg;
	struct stored *old = stored_find(s, key), **cand;
	const struct address *u = c->address; /* the range's record counts both */
	int same = old && memcmp(old->range, c->address->range, MFS_ADDR_RANGE_BYTES) == 0;
	size_t keys = u->keys + !same;
	size_t bytes = u->bytes - (same ? old->bytes : 0) + len;
	size_t n = 0, k = 0;

	*drop = NULL;
	*ndrop = 0;
	if (keys > cfg->max_keys_per_range || bytes > cfg->max_bytes_per_range) {
		snprintf(why, why_len,
			 "tracker full for your address range: at most %zu channels and %zu "
			 "bytes of manifests published from one range",
			 cfg->max_keys_per_range, cfg->max_bytes_per_range);
		return -EPERM;
	}
	keys = s->stored.count + !old;
	bytes = s->stored_bytes - (old ? old->bytes : 0) + len;
	if (keys <= cfg->max_keys && bytes <= cfg->max_bytes)
		return 0;
	if (!(cand = malloc((s->stored.count + 1) * sizeof *cand)))
		return -ENOMEM;
	for (size_t i = 0; i < s->stored.nbuckets; i++)
		for (struct hnode *h = s->stored.buckets[i]; h; h = h->next) {
			struct stored *st = container_of(h, struct stored, node);
			struct topic *t = topic_find_hashed(s, st->key, h->hash);

			if (st != old && (!t || t->nsubs == 0))
				cand[n++] = st;
		}
	qsort(cand, n, sizeof *cand, older_first);
	for (; k < n && (keys > cfg->max_keys || bytes > cfg->max_bytes); k++) {
		keys--;
		bytes -= cand[k]->bytes;
	}
	if (keys > cfg->max_keys || bytes > cfg->max_bytes) {
		free(cand);
		snprintf(why, why_len,
			 "tracker full: at most %zu channels and %zu bytes of manifests, and "
			 "every other channel it keeps has subscribers", cfg->max_keys,
			 cfg->max_bytes);
		return -EPERM;
	}
	*drop = cand;
	*ndrop = k;
	return 0;
}

static void do_publish(struct conn *c, struct mfs_tracker_msg *m)
{
	struct mfs_tracker_server *s = c->s;
	struct mfs_manifest man;
	struct mfs_ws_msg *push;
	struct topic *t;
	struct stored **drop = NULL;
	size_t ndrop = 0;
	uint8_t meta[META_BYTES];
	uint64_t last = 0, now;
	char why[200], *text = NULL;
	size_t len = 0;
	int rc;

	rc = db_get(s, m->key, NULL, NULL, &last);
	if (rc != 0 && rc != MFS_E_NOTFOUND) {
		send_error(c, MFS_TRACKER_PUBLISH, m->key, m->sequence, -EIO, mfs_strerror(rc));
		return;
	}
	why[0] = '\0';
	rc = mfs_manifest_verify(&man, m->manifest, m->manifest_len, NULL, last, why, sizeof why);
	if (rc != 0) {
		send_error(c, MFS_TRACKER_PUBLISH, m->key, m->sequence,
			   rc == MFS_E_NOTCANON ? MFS_E_FORMAT : rc, why[0] ? why : mfs_strerror(rc));
		return;
	}
	mfs_manifest_clear(&man);
	if ((rc = make_room(s, c, m->key, m->manifest_len, &drop, &ndrop, why, sizeof why)) != 0) {
		send_error(c, MFS_TRACKER_PUBLISH, m->key, m->sequence, rc == -EPERM ? rc : -EIO,
			   rc == -EPERM ? why : mfs_strerror(rc));
		return;
	}
	now = wall_ms();
	meta_encode(meta, now, c->address->range);
	rc = db_store(s, m->key, m->manifest, m->manifest_len, meta, drop, ndrop);
	if (rc == 0 && (rc = stored_set(s, m->key, c->address->range, m->manifest_len,
					now)) != 0)
		rc = 0; /* stored; only counted short: recounted at the next start */
	if (rc != 0) {
		free(drop);
		send_error(c, MFS_TRACKER_PUBLISH, m->key, m->sequence, rc == -ENOSPC ? -EPERM : -EIO,
			   rc == -ENOSPC ? "tracker full: its database is full" : mfs_strerror(rc));
		return;
	}
	for (size_t i = 0; i < ndrop; i++)
		stored_drop(s, drop[i]);
	s->dropped += ndrop;
	free(drop);
	s->published++;
	rc = mfs_tracker_build_published(&text, &len, m->key, m->sequence);
	send_built(c, rc, text, len);

	if (!(t = topic_find(s, m->key, 0)) || t->nsubs == 0)
		return;
	if (mfs_tracker_build_publish(&text, &len, m->manifest, m->manifest_len) != 0 ||
	    !(push = mfs_ws_msg_new(text, len)))
		return; /* out of memory: subscribers get it on their next subscribe */
	for (size_t i = 0; i < t->nsubs; i++)
		enqueue(t->subs[i], push);
	mfs_ws_msg_unref(push);
}

static void remove_record(struct topic *t, size_t i)
{
	t->records[i].conn->nrecords--;
	t->records[i] = t->records[--t->nrecords];
}

static void prune(struct topic *t, uint64_t now)
{
	for (size_t i = 0; i < t->nrecords;)
		if (t->records[i].expires_ms <= now)
			remove_record(t, i);
		else
			i++;
}

/* Records (or with "stopped" removes) the announcing peer under t. 0,
 * -EPERM (the connection holds too many records), -EDQUOT (t has too many
 * peers from c's range) or -ENOMEM. */
static int record(struct conn *c, struct topic *t, const struct mfs_tracker_msg *m,
		  uint64_t now)
{
	struct record *r;
	size_t i;

	/* One record per (peer, address, port): a peer_id alone is public, so
	 * nobody can take over another node's record. */
	for (i = 0; i < t->nrecords; i++) {
		r = &t->records[i];
		if (mfs_memeq(r->peer_id, m->peer_id, MFS_TRACKER_KEY_BYTES) &&
		    (r->port == m->port || m->port == 0) && strcmp(r->conn->host, c->host) == 0)
			break;
	}
	if (m->event == MFS_TRACKER_EVENT_STOPPED) {
		if (i < t->nrecords)
			remove_record(t, i);
		return 0;
	}
	if (i == t->nrecords) {
		size_t in_range = 0;

		if (c->nrecords >= c->s->cfg.max_subscriptions)
			return -EPERM;
		for (size_t k = 0; k < t->nrecords; k++)
			in_range += t->records[k].conn->address == c->address;
		if (in_range >= c->s->cfg.max_announced_per_range)
			return -EDQUOT;
		if (grow((void **)&t->records, &t->records_cap, t->nrecords, sizeof *t->records) != 0)
			return -ENOMEM;
		r = &t->records[t->nrecords++];
		memcpy(r->peer_id, m->peer_id, MFS_TRACKER_KEY_BYTES);
		r->port = m->port;
		r->conn = c;
		c->nrecords++;
	}
	r = &t->records[i];
	if (r->conn != c) {
		/* The same node, reconnected: the record moves to this connection. */
		r->conn->nrecords--;
		r->conn = c;
		c->nrecords++;
	}
	r->expires_ms = now + 3000ull * c->s->cfg.interval;
	return 0;
}

/* Up to m->numwant peers of t but the asker, mixed across ranges
 * (mfs_addr_mix): one peer of each range before a second of any, so that
 * the peers of one range are at most a 1/k share of an answer drawn from
 * k ranges, however many that range announced. 0 or -ENOMEM. */
static int sample(struct topic *t, const struct mfs_tracker_msg *m,
		  struct mfs_tracker_peer peers[MFS_TRACKER_MAX_PEERS], size_t *n)
{
	size_t nr = t->nrecords, pick[MFS_TRACKER_MAX_PEERS];
	const uint8_t **range = malloc((nr + 1) * sizeof *range);
	uint8_t *skip = malloc(nr + 1);
	int rc = -ENOMEM;

	*n = 0;
	if (range && skip) {
		for (size_t i = 0; i < nr; i++) {
			range[i] = t->records[i].conn->address->range;
			skip[i] = (uint8_t)mfs_memeq(t->records[i].peer_id, m->peer_id,
						     MFS_TRACKER_KEY_BYTES);
		}
		rc = mfs_addr_mix(pick, n, m->numwant, nr, range, skip);
	}
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		const struct record *r = &t->records[pick[i]];

		memcpy(peers[i].host, r->conn->host, sizeof peers[i].host);
		peers[i].port = r->port;
		memcpy(peers[i].node_pk, r->peer_id, MFS_TRACKER_KEY_BYTES);
	}
	free(range);
	free(skip);
	return rc;
}

static void do_announce(struct conn *c, struct mfs_tracker_msg *m)
{
	struct mfs_tracker_server *s = c->s;
	struct mfs_tracker_peer peers[MFS_TRACKER_MAX_PEERS];
	uint64_t now = uv_now(s->loop);
	int records = m->port != 0 || m->event == MFS_TRACKER_EVENT_STOPPED;
	struct topic *t = topic_find(s, m->key, 0);
	char *text = NULL;
	size_t len = 0, n = 0;
	int rc;

	if (records && (!t || !holds(c->announced, c->nannounced, t))) {
		char why[80];

		if (c->nannounced >= s->cfg.max_subscriptions) {
			snprintf(why, sizeof why, "at most %u announced keys per connection",
				 s->cfg.max_subscriptions);
			send_error(c, MFS_TRACKER_ANNOUNCE, m->key, 0, -EPERM, why);
			return;
		}
		if (grow((void **)&c->announced, &c->announced_cap, c->nannounced,
			 sizeof *c->announced) != 0)
			goto oom;
		if (!t && !(t = topic_find(s, m->key, 1)))
			goto oom;
		t->refs++;
		c->announced[c->nannounced++] = t;
	}
	if (t)
		prune(t, now);
	if (t && records && (rc = record(c, t, m, now)) != 0) {
		char why[100];

		if (rc == -EPERM)
			snprintf(why, sizeof why, "at most %u announced peers per connection",
				 s->cfg.max_subscriptions);
		else if (rc == -EDQUOT)
			snprintf(why, sizeof why,
				 "at most %u peers of one channel from one address range",
				 s->cfg.max_announced_per_range);
		else
			goto oom;
		send_error(c, MFS_TRACKER_ANNOUNCE, m->key, 0, -EPERM, why);
		return;
	}
	if (t && t->nrecords && sample(t, m, peers, &n) != 0)
		goto oom;
	rc = mfs_tracker_build_peers(&text, &len, m->key, s->cfg.interval, peers, n);
	send_built(c, rc, text, len);
	return;
oom:
	send_error(c, MFS_TRACKER_ANNOUNCE, m->key, 0, -EIO, "out of memory");
}

static void handle_message(struct conn *c, const char *buf, size_t len)
{
	struct mfs_tracker_msg m;
	char why[160];
	int rc;

	why[0] = '\0';
	rc = mfs_tracker_parse_request(&m, buf, len, why, sizeof why);
	if (rc != 0) {
		/* Not megafs's: WebTorrent's announce, or an error. */
		int taken = mfs_webtorrent_handle(c->s->wt, &c->wt, c, c->address->range, buf, len);

		if (taken == 0)
			send_error(c, MFS_TRACKER_NONE, NULL, 0, rc == -ENOMEM ? -EIO : MFS_E_FORMAT,
				   why[0] ? why : mfs_strerror(rc));
		else if (taken < 0)
			send_error(c, MFS_TRACKER_NONE, NULL, 0, -EIO, "out of memory");
		return;
	}
	switch (m.action) {
	case MFS_TRACKER_SUBSCRIBE:
		do_subscribe(c, m.key);
		break;
	case MFS_TRACKER_PUBLISH:
		do_publish(c, &m);
		break;
	case MFS_TRACKER_ANNOUNCE:
		do_announce(c, &m);
		break;
	default:
		break;
	}
	mfs_tracker_msg_clear(&m);
}

/* Collects a message's fragments. 0, or -1 after setting a close reason. */
static int conn_receive(struct conn *c, const void *in, size_t len)
{
	static const char too_big[] = "message too large";
	static const char binary[] = "binary messages are not understood";
	int rc;

	if (c->close_status)
		return 0;
	if (lws_frame_is_binary(c->wsi)) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
				 (unsigned char *)binary, sizeof binary - 1);
		return -1;
	}
	rc = mfs_ws_rx_add(&c->rx, in, len, lws_remaining_packet_payload(c->wsi),
			   lws_is_final_fragment(c->wsi), c->s->cfg.max_message);
	if (rc == -EMSGSIZE)
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)too_big, sizeof too_big - 1);
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	c->active_ms = uv_now(c->s->loop);
	handle_message(c, c->rx.buf, c->rx.len);
	arm_idle(c);
	mfs_ws_rx_done(&c->rx);
	return 0;
}

/* ---- connections -------------------------------------------------------- */

/* The connection idle the longest (of range a when not NULL), or NULL. */
static struct conn *idlest(struct mfs_tracker_server *s, const struct address *a)
{
	struct conn *best = NULL;

	for (struct conn *c = s->conns; c; c = c->next)
		if (conn_idle(c) && (!a || c->address == a) &&
		    (!best || c->active_ms < best->active_ms))
			best = c;
	return best;
}

/* Admits a new TCP connection, when over a limit in place of the idlest
 * connection (of its range when its range is full). 1, or 0: refused. */
static int admit(struct mfs_tracker_server *s, const struct sockaddr *peer)
{
	uint8_t range[MFS_ADDR_RANGE_BYTES];
	struct address *a;
	struct conn *victim = NULL;

	if (s->stopping)
		return 0;
	address_key(s, range, peer);
	a = address_find(s, range, 0);
	if (a && a->conns - a->dying >= s->cfg.max_per_range) {
		if (!(victim = idlest(s, a)))
			goto refuse;
	} else if (s->nconns - s->dying >= s->cfg.max_connections) {
		if (!(victim = idlest(s, NULL)))
			goto refuse;
	}
	if (victim) {
		victim->dying = 1;
		victim->address->dying++;
		s->dying++;
		s->evicted++;
		conn_close(victim, LWS_CLOSE_STATUS_GOINGAWAY, "idle, its slot taken");
	}
	return 1;
refuse:
	s->refused++;
	return 0;
}

static int conn_new(struct mfs_tracker_server *s, struct lws *wsi)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	uint8_t range[MFS_ADDR_RANGE_BYTES];
	struct conn *c;

	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&peer, &plen) != 0 ||
	    !(c = calloc(1, sizeof *c)))
		return -1;
	address_key(s, range, (struct sockaddr *)&peer);
	if (mfs_ws_numeric_host(c->host, sizeof c->host, (struct sockaddr *)&peer) != 0 ||
	    !(c->address = address_find(s, range, 1))) {
		free(c);
		return -1;
	}
	c->address->conns++;
	c->s = s;
	c->wsi = wsi;
	c->active_ms = uv_now(s->loop);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	lws_set_opaque_user_data(wsi, c);
	return 0;
}

static void remove_sub(struct topic *t, const struct conn *c)
{
	for (size_t i = 0; i < t->nsubs; i++)
		if (t->subs[i] == c) {
			t->subs[i] = t->subs[--t->nsubs];
			return;
		}
}

static void remove_records(struct topic *t, const struct conn *c)
{
	for (size_t i = 0; i < t->nrecords;)
		if (t->records[i].conn == c)
			t->records[i] = t->records[--t->nrecords];
		else
			i++;
}

static void conn_free(struct conn *c)
{
	struct mfs_tracker_server *s = c->s;

	lws_set_opaque_user_data(c->wsi, NULL);
	for (size_t i = 0; i < c->nsubs; i++) {
		remove_sub(c->subs[i], c);
		topic_release(s, c->subs[i]);
	}
	for (size_t i = 0; i < c->nannounced; i++) {
		remove_records(c->announced[i], c);
		topic_release(s, c->announced[i]);
	}
	mfs_ws_tx_clear(&c->tx);
	mfs_bt_http_free(c->http);
	mfs_webtorrent_leave(s->wt, c->wt);
	if (c->dying) {
		c->address->dying--;
		s->dying--;
	}
	c->address->conns--;
	address_put(s, c->address);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->subs);
	free(c->announced);
	mfs_ws_rx_clear(&c->rx);
	free(c);
}

/* net/webtorrent's way to send: a built text to one connection. */
static void webtorrent_send(void *conn, char *text, size_t len)
{
	send_built(conn, 0, text, len);
}

/* ---- BitTorrent announces over HTTP (net/bt_http) ----------------------- */

/* A connection to the BitTorrent listener: counted and limited as every
 * other (admit ran at accept); its request must be whole within 10 s. */
static int http_adopt(struct mfs_tracker_server *s, struct lws *wsi)
{
	struct conn *c = lws_get_opaque_user_data(wsi);

	if (!c && conn_new(s, wsi) != 0)
		return -1;
	c = lws_get_opaque_user_data(wsi);
	if (mfs_bt_http_new(&c->http) != 0)
		return -1;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 10);
	return 0;
}

static int http_receive(struct conn *c, const void *in, size_t len)
{
	struct mfs_tracker_server *s = c->s;
	struct mfs_bt_source src;
	struct mfs_bt_http_ctx ctx = {s->bt, &src, s->cfg.interval,
				      s->cfg.max_announced_per_range, uv_now(s->loop)};
	int rc;

	memset(&src, 0, sizeof src);
	memcpy(src.range, c->address->range, sizeof src.range);
	src.peer.v6 = strchr(c->host, ':') != NULL;
	if (inet_pton(src.peer.v6 ? AF_INET6 : AF_INET, c->host, src.peer.addr) != 1)
		return -1;
	c->active_ms = ctx.now_ms;
	if ((rc = mfs_bt_http_receive(c->http, in, len, &ctx)) < 0)
		return -1;
	if (rc > 0)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len)
{
	struct mfs_tracker_server *s = lws_context_user(lws_get_context(wsi));
	struct conn *c;
	const struct lws_filter_network_conn_args *filter = user;

	/* At start, for the vhost's TLS context (user), before any connection. */
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
		return mfs_tls_server_setup(user) == 0 ? 0 : -1;
	c = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return admit(s, (const struct sockaddr *)&filter->cli_addr) ? 0 : -1;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return conn_new(s, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		if (c) {
			c->established = 1;
			c->active_ms = uv_now(s->loop);
			arm_idle(c);
		}
		return 0;
	case LWS_CALLBACK_HTTP:
		/* Not a WebSocket upgrade: nothing else is served here. */
		lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
				       "megafs tracker: WebSocket only");
		return -1;
	case LWS_CALLBACK_RECEIVE:
		return c ? conn_receive(c, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? conn_write(c) : -1;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			conn_free(c);
		return 0;
	case LWS_CALLBACK_RAW_ADOPT:
		return http_adopt(s, wsi);
	case LWS_CALLBACK_RAW_RX:
		return c && c->http ? http_receive(c, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c && c->http ? mfs_bt_http_write(c->http, wsi) : -1;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{"megafs-tracker", server_callback, 0, MFS_WS_FRAGMENT_BYTES, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The BitTorrent listener's connections are raw: bt_http reads HTTP. */
static const struct lws_protocols http_protocols[] = {
	{"megafs-bt-http", server_callback, 0, MFS_BT_HEAD_MAX, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Ping every connection a minute after its last pong (or its handshake);
 * drop it when no pong came a minute later: dead peers must not hold
 * subscriptions forever. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 60,
	.secs_since_valid_hangup = 120,
};

/* ---- start and stop -------------------------------------------------------- */

/* Binds a throw-away socket first: lws would only log why it failed. */
static int try_bind(const struct sockaddr_storage *addr, socklen_t len)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)addr, len) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void server_free(void *arg)
{
	struct mfs_tracker_server *s = arg;

	/* lws has destroyed every connection (conn_free ran for each). */
	free(s->topics.buckets);
	mfs_bt_swarm_free(s->bt);
	mfs_webtorrent_free(s->wt);
	free_table(&s->addresses, offsetof(struct address, node));
	free_table(&s->stored, offsetof(struct stored, node));
	if (s->env)
		mdb_env_close(s->env);
	free(s->host);
	free(s->db_dir);
	free(s);
}

static void teardown(struct mfs_tracker_server *s)
{
	s->stopping = 1;
	if (s->ws_started)
		mfs_ws_stop(&s->ws, server_free, s);
	else
		server_free(s);
}

/* The BitTorrent listener: a second vhost like the first (info, with its
 * TLS files when it has them) on port, its connections raw. */
static int start_http(struct mfs_tracker_server *s, struct lws_context_creation_info *info,
		      uint16_t port)
{
	struct mfs_bt_swarm_limits lim = {
		.per_range_in_torrent = s->cfg.max_announced_per_range,
		.interval = s->cfg.interval,
	};
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct lws_vhost *vh;
	int rc;

	if ((rc = mfs_hostport_sockaddr(&addr, &addr_len, s->host, port)) != 0 ||
	    (rc = try_bind(&addr, addr_len)) != 0 || (rc = mfs_bt_swarm_new(&s->bt, &lim)) != 0)
		return rc;
	info->vhost_name = "bittorrent";
	info->port = port;
	info->protocols = http_protocols;
	info->options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	info->listen_accept_role = "raw-skt";
	info->listen_accept_protocol = http_protocols[0].name;
	info->alpn = "http/1.1"; /* not lws's h2: bt_http speaks HTTP/1 only */
	if (!(vh = lws_create_vhost(s->ws.context, info)))
		return -EADDRINUSE;
	s->http_port = (uint16_t)lws_get_vhost_listen_port(vh);
	return 0;
}

int mfs_tracker_server_start(struct mfs_tracker_server **out, uv_loop_t *loop,
			     const struct mfs_tracker_server_config *cfg)
{
	struct lws_context_creation_info info;
	struct mfs_webtorrent_config wt_cfg = {0};
	struct mfs_tracker_server *s;
	struct sockaddr_storage addr;
	struct lws_vhost *vh;
	socklen_t addr_len;
	uint8_t pin[MFS_TLS_PIN_BYTES];
	char why[256];
	int rc, any, v4;

	*out = NULL;
	if (!cfg->host || !cfg->db_dir || cfg->max_message > MFS_TRACKER_MESSAGE_MAX ||
	    !cfg->tls_cert != !cfg->tls_key)
		return -EINVAL;
	if ((rc = mfs_hostport_sockaddr(&addr, &addr_len, cfg->host, cfg->port)) != 0)
		return rc;
	if ((rc = try_bind(&addr, addr_len)) != 0)
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	if (!s->cfg.max_message)
		s->cfg.max_message = MFS_TRACKER_DEFAULT_MAX_MESSAGE;
	if (!s->cfg.max_subscriptions)
		s->cfg.max_subscriptions = MFS_TRACKER_DEFAULT_MAX_SUBSCRIPTIONS;
	if (!s->cfg.max_per_range)
		s->cfg.max_per_range = MFS_TRACKER_DEFAULT_MAX_PER_RANGE;
	if (!s->cfg.idle_timeout)
		s->cfg.idle_timeout = MFS_TRACKER_DEFAULT_IDLE_TIMEOUT;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = MFS_TRACKER_DEFAULT_MAX_CONNECTIONS;
	if (!s->cfg.interval)
		s->cfg.interval = MFS_TRACKER_DEFAULT_INTERVAL;
	if (!s->cfg.map_size)
		s->cfg.map_size = DEFAULT_MAP_SIZE;
	if (!s->cfg.max_announced_per_range)
		s->cfg.max_announced_per_range = MFS_TRACKER_DEFAULT_MAX_ANNOUNCED_PER_RANGE;
	if (!s->cfg.max_keys)
		s->cfg.max_keys = MFS_TRACKER_DEFAULT_MAX_KEYS;
	if (!s->cfg.max_bytes)
		s->cfg.max_bytes = MFS_TRACKER_DEFAULT_MAX_BYTES;
	if (!s->cfg.max_keys_per_range)
		s->cfg.max_keys_per_range = MFS_TRACKER_DEFAULT_MAX_KEYS_PER_RANGE;
	if (!s->cfg.max_bytes_per_range)
		s->cfg.max_bytes_per_range = MFS_TRACKER_DEFAULT_MAX_BYTES_PER_RANGE;
	s->queue_cap = 4 * s->cfg.max_message > MIN_QUEUE_BYTES ? 4 * s->cfg.max_message
								  : MIN_QUEUE_BYTES;
	mfs_random(s->hash_secret, sizeof s->hash_secret);
	s->host = strdup(strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host);
	s->db_dir = strdup(cfg->db_dir);
	rc = -ENOMEM;
	if (!s->host || !s->db_dir)
		goto fail;
	/* lws would only log why it cannot load them. */
	if (cfg->tls_cert && (rc = mfs_tls_server_check(pin, cfg->tls_cert, cfg->tls_key, why,
							 sizeof why)) != 0)
		goto fail;
	s->tls = cfg->tls_cert != NULL;
	s->cfg.tls_cert = s->cfg.tls_key = NULL; /* the caller's, used only here */
	if ((rc = db_open(s)) != 0)
		goto fail;
	wt_cfg.per_range_in_torrent = s->cfg.max_announced_per_range;
	wt_cfg.per_conn = s->cfg.max_subscriptions;
	wt_cfg.interval = s->cfg.interval;
	wt_cfg.send = webtorrent_send;
	if ((rc = mfs_webtorrent_new(&s->wt, &wt_cfg)) != 0)
		goto fail;

	v4 = addr.ss_family == AF_INET;
	any = (v4 && ((struct sockaddr_in *)&addr)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
	      (!v4 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&addr)->sin6_addr));
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | (v4 ? LWS_SERVER_OPTION_DISABLE_IPV6 : 0) |
		       (cfg->tls_cert ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	info.user = s;
	info.timeout_secs = 10;     /* for each handshake (TLS, then WebSocket) to complete */
	info.gid = -1;
	info.uid = -1;
	if ((rc = mfs_ws_start(&s->ws, loop, &info)) != 0)
		goto fail;
	s->ws_started = 1;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
		       (v4 ? LWS_SERVER_OPTION_DISABLE_IPV6 : 0) |
		       (s->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	info.vhost_name = "tracker";
	info.port = cfg->port;
	info.iface = any ? NULL : s->host;
	info.protocols = protocols;
	info.retry_and_idle_policy = &idle_policy;
	/* TLS only: a client speaking plain text here is closed (lws's default). */
	info.ssl_cert_filepath = cfg->tls_cert;
	info.ssl_private_key_filepath = cfg->tls_key;
	rc = -EADDRINUSE;
	if (!(vh = lws_create_vhost(s->ws.context, &info)))
		goto fail;
	s->port = (uint16_t)lws_get_vhost_listen_port(vh);
	if (cfg->http && (rc = start_http(s, &info, cfg->http_port)) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	teardown(s);
	return rc;
}

uint16_t mfs_tracker_server_port(const struct mfs_tracker_server *s)
{
	return s->port;
}

uint16_t mfs_tracker_server_http_port(const struct mfs_tracker_server *s)
{
	return s->http_port;
}

void mfs_tracker_server_stats(const struct mfs_tracker_server *s,
			      struct mfs_tracker_server_stats *out)
{
	out->connections = s->nconns;
	out->keys = s->topics.count;
	out->published = s->published;
	out->refused = s->refused;
	out->evicted = s->evicted;
	out->stored = s->stored.count;
	out->stored_bytes = s->stored_bytes;
	out->dropped = s->dropped;
}

void mfs_tracker_server_stop(struct mfs_tracker_server *s)
{
	if (s && !s->stopping)
		teardown(s);
}
