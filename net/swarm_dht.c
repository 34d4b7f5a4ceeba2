#include "net/swarm_dht.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/store/blobstore.h"
#include "net/addr.h"
#include "net/dht.h"
#include "net/dht_channel.h"
#include "net/hostport.h"
#include "net/logline.h"

#define PEERS_EVERY_MS (15u * 60u * 1000u)
#define PUT_EVERY_MS (60u * 60u * 1000u)
#define SAVE_EVERY_MS (10u * 60u * 1000u)
/* While a pointer's blob is being fetched, its peers are looked up again
 * this often: the peers found first may all be gone, and a seeder that
 * announced after that lookup would otherwise wait for the next round. */
#define REFIND_EVERY_MS 2000u

static const char table_object[] = "\0dht-table";
static const char status_object[] = "\0dht-status";

/* One channel's state; every field on the loop thread once started. */
struct dht_channel {
	struct mfs_swarm_dht *owner;
	size_t index;
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_dht_channel_keys *keys;     /* guarded; NULL: not in the DHT (a grant) */
	int owned;
	uint64_t known;                        /* the newest sequence held or fetched */
	int getting, finding, fetching, putting, put_again;
	int has_pending;                       /* a pointer waits for its fetch */
	struct mfs_dht_pointer pending;
	int64_t pending_seq;
	int64_t putting_seq;                   /* the seq of the put under way */
	/* What happened, for dht status (0: never). */
	int64_t seen_seq, put_seq;
	uint64_t seen_at, put_at;
};

struct mfs_swarm_dht {
	struct mfs_swarm_dht_config cfg;
	struct mfs_dht *dht;                   /* NULL once closed */
	uv_timer_t poll, peers, put, save, refind;
	int timers;                            /* the timers are initialised */
	struct dht_channel *ch;
	struct sockaddr_storage boot[MFS_SWARM_DHT_BOOTSTRAP_MAX];
	size_t n_boot;
	int special;                           /* every bootstrap address given is special */
	uint8_t *table;                        /* the saved table (start: loaded; stop: to save) */
	size_t table_len;
	uint16_t saved_port;                   /* the port saved with the table (0: none) */
};

/* say(owner, fmt, ...): a line to the owner's log. */
#define say(o, ...) mfs_logline((o)->cfg.log, (o)->cfg.log_ctx, __VA_ARGS__)

/* A channel's name in the log: its key's first 16 hex digits. */
static const char *short_name(char out[17], const uint8_t *pk)
{
	char hex[2 * MFS_SIGN_PK_BYTES + 1];

	mfs_hex_encode(hex, pk, MFS_SIGN_PK_BYTES);
	memcpy(out, hex, 16);
	out[16] = '\0';
	return out;
}

/* ---- peers ---- */

static void fetch_start(struct dht_channel *c);

static void on_announced(void *arg, const struct mfs_dht_result *r)
{
	struct dht_channel *c = arg;
	char name[17];

	if (r->status != 0 && r->status != -ECANCELED)
		say(c->owner, "DHT: announcing for channel %s: %s", short_name(name, c->pk),
		    mfs_strerror(r->status));
}

static void on_peers_found(void *arg, const struct mfs_dht_result *r)
{
	struct dht_channel *c = arg;
	struct mfs_swarm_dht *d = c->owner;
	char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];

	c->finding = 0;
	if (r->status == -ECANCELED)
		return;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct mfs_dht_peer *p = &r->peers[i];

		if (!inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->ip, ip, sizeof ip))
			continue;
		mfs_hostport_format(text, sizeof text, ip, p->port);
		/* Refused ones (special, our own, too many) cost nothing. */
		mfs_node_add_learnt_peer(d->cfg.node, text, d->special);
	}
	if (c->has_pending)
		fetch_start(c);
}

/* Announces this node (when it serves) and looks the channel's peers up. */
static void peers_round(struct dht_channel *c, int announce)
{
	struct mfs_swarm_dht *d = c->owner;
	uint16_t port = mfs_node_port(d->cfg.node);

	if (!c->keys || !d->dht)
		return;
	if (announce && port && d->cfg.listen)
		mfs_dht_announce(d->dht, c->keys->info_hash, port, on_announced, c);
	if (!c->finding)
		c->finding = mfs_dht_get_peers(d->dht, c->keys->info_hash, on_peers_found, c) == 0;
	if (!c->finding && c->has_pending)
		fetch_start(c);
}

/* ---- a subscriber: get the pointer, fetch the manifest it names ---- */

struct fetch_job {
	uv_work_t work;
	struct dht_channel *c;
	struct mfs_dht_pointer ptr;
	int64_t seq;
	char *json;                            /* NULL: the volume holds seq already */
	size_t len;
	int rc;
};

static void fetch_run(uv_work_t *w)
{
	struct fetch_job *j = w->data;
	struct mfs_channel ch;
	uint8_t *blob = NULL;
	size_t len = 0;

	/* A tracker may have brought that manifest meanwhile: no fetch then. */
	if (mfs_channel_find(j->c->owner->cfg.vol, j->c->pk, &ch, NULL) == 0 &&
	    ch.sequence >= (uint64_t)j->seq) {
		j->rc = 0;
		return;
	}
	j->rc = mfs_node_fetch(j->c->owner->cfg.node, j->ptr.blob_id, 1, &blob, &len);
	if (j->rc == 0)
		j->rc = mfs_dht_manifest_open(&j->json, &j->len, blob, len, &j->ptr);
	free(blob);
}

static void fetch_done(uv_work_t *w, int status)
{
	struct fetch_job *j = w->data;
	struct dht_channel *c = j->c;
	struct mfs_swarm_dht *d = c->owner;
	char name[17];

	c->fetching = 0;
	if (status == 0 && j->rc == 0 && d->dht) {
		/* Verified by the receiver; not asked again whatever it says. */
		if ((uint64_t)j->seq > c->known)
			c->known = (uint64_t)j->seq;
		if (j->json)
			d->cfg.manifest(d->cfg.ctx, c->index, (uint64_t)j->seq, j->json, j->len);
	} else if (status == 0 && d->dht) {
		say(d, "DHT: the manifest of channel %s (seq %lld) could not be fetched: %s",
		    short_name(name, c->pk), (long long)j->seq, mfs_strerror(j->rc));
	}
	free(j->json);
	free(j);
}

static void fetch_start(struct dht_channel *c)
{
	struct mfs_swarm_dht *d = c->owner;
	struct fetch_job *j;

	if (c->fetching || !c->has_pending || !d->dht || !(j = calloc(1, sizeof *j)))
		return;
	j->c = c;
	j->ptr = c->pending;
	j->seq = c->pending_seq;
	j->work.data = j;
	if (uv_queue_work(mfs_loop_uv(d->cfg.loop), &j->work, fetch_run, fetch_done) != 0) {
		free(j);
		return;
	}
	c->has_pending = 0;
	c->fetching = 1;
}

static void on_got(void *arg, const struct mfs_dht_result *r)
{
	struct dht_channel *c = arg;
	struct mfs_swarm_dht *d = c->owner;
	struct mfs_dht_pointer ptr;
	char name[17];
	int rc;

	c->getting = 0;
	if (r->status != 0 || !r->found || !r->has_seq || r->seq < 0)
		return;
	c->seen_seq = r->seq;
	c->seen_at = (uint64_t)time(NULL);
	if ((uint64_t)r->seq <= c->known)
		return;
	rc = mfs_dht_pointer_open(&ptr, r->v, r->v_len, c->keys, c->pk, r->seq);
	if (rc != 0) {
		say(d, "DHT: the pointer of channel %s (seq %lld) was refused: %s",
		    short_name(name, c->pk), (long long)r->seq, mfs_strerror(rc));
		return;
	}
	c->pending = ptr;
	c->pending_seq = r->seq;
	c->has_pending = 1;
	/* Who has the blob: the peers announced under the channel. */
	peers_round(c, 0);
}

static void get_round(struct dht_channel *c)
{
	struct mfs_swarm_dht *d = c->owner;

	if (!c->keys || c->owned || c->getting || !d->dht)
		return;
	c->getting = mfs_dht_get_mutable(d->dht, c->pk, c->keys->salt, sizeof c->keys->salt,
					 on_got, c) == 0;
}

/* ---- what the volume records: "\0dht-status" ---- */

/* The status object (new reference), with a "channels" object, empty
 * when there is none yet or it does not read. */
static json_t *status_load(struct mfs_vtxn *t)
{
	uint8_t *data = NULL;
	uint64_t len = 0;
	json_t *root = NULL;

	if (mfs_obj_get(t, status_object, sizeof status_object - 1, &data, &len) == 0)
		root = json_loadb((const char *)data, (size_t)len, 0, NULL);
	free(data);
	if (!json_is_object(root)) {
		json_decref(root);
		root = json_object();
	}
	if (!json_is_object(json_object_get(root, "channels")))
		json_object_set_new(root, "channels", json_object());
	return root;
}

static int status_store(struct mfs_vtxn *t, json_t *root)
{
	char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = mfs_obj_write(t, status_object, sizeof status_object - 1, text, strlen(text));
	free(text);
	return rc;
}

/* Stores the manifest blob of channel pk's pointer, pinned once for the
 * channel (gc keeps it while the pointer names it): the pin moves from
 * the blob the status recorded to this one. In t, a write transaction. */
static int keep_blob(struct mfs_vtxn *t, const uint8_t *pk, const uint8_t *id,
		     const uint8_t *blob, size_t len)
{
	char hex[2 * MFS_SIGN_PK_BYTES + 1], id_hex[2 * MFS_BLOB_ID_BYTES + 1];
	uint8_t old[MFS_BLOB_ID_BYTES];
	json_t *root = status_load(t), *ch;
	const char *was;
	int rc = mfs_blob_put(t, id, blob, len, 0, NULL);

	mfs_hex_encode(hex, pk, MFS_SIGN_PK_BYTES);
	mfs_hex_encode(id_hex, id, MFS_BLOB_ID_BYTES);
	if (!json_is_object(ch = json_object_get(json_object_get(root, "channels"), hex)))
		json_object_set_new(json_object_get(root, "channels"), hex, ch = json_object());
	was = json_string_value(json_object_get(ch, "blob"));
	/* The same blob (a put again): pinned already, unless gc took it
	 * between an earlier version's put and this one. */
	if (rc == 0 && (!was || strcmp(was, id_hex) != 0 || mfs_blob_pin_count(t, id) == 0))
		rc = mfs_blob_pin(t, id);
	if (rc == 0 && was && strcmp(was, id_hex) != 0 &&
	    mfs_hex_decode(old, sizeof old, was) == 0 && mfs_blob_pin_count(t, old) > 0)
		rc = mfs_blob_unpin(t, old);
	if (rc == 0) {
		json_object_set_new(ch, "blob", json_string(id_hex));
		rc = status_store(t, root);
	}
	json_decref(root);
	return rc;
}

/* ---- an owner: store the manifest blob, sign and put the pointer ---- */

struct put_job {
	uv_work_t work;
	struct dht_channel *c;
	uint8_t v[MFS_DHT_POINTER_V_BYTES];
	uint8_t sig[MFS_SIGN_BYTES];
	int64_t seq;
	int rc;
	char why[160];
};

/* The stored manifest of the channel, its blob in the volume, the pointer
 * sealed and signed (on the thread pool: it reads and writes the volume). */
static void put_run(uv_work_t *w)
{
	struct put_job *j = w->data;
	struct dht_channel *c = j->c;
	struct mfs_volume *vol = c->owner->cfg.vol;
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret);
	struct mfs_dht_pointer ptr;
	struct mfs_manifest m = {0};
	struct mfs_vtxn *t = NULL;
	uint8_t nonce[24], *blob = NULL;
	size_t len = 0, blob_len = 0;
	char *json = NULL;

	j->rc = secret ? mfs_channel_find(vol, c->pk, NULL, secret) : -ENOMEM;
	if (j->rc == 0)
		j->rc = mfs_vtxn_begin(vol, 0, &t);
	if (j->rc == 0) {
		j->rc = mfs_channel_manifest(t, c->pk, &json, &len);
		mfs_vtxn_abort(t);
	}
	if (j->rc == 0)
		j->rc = mfs_manifest_verify(&m, json, len, c->pk, 0, j->why, sizeof j->why);
	if (j->rc == 0 && m.sequence > INT64_MAX)
		j->rc = MFS_E_FORMAT;
	if (j->rc == 0)
		j->rc = mfs_dht_manifest_blob(&blob, &blob_len, &ptr, json, len, c->keys);
	if (j->rc == 0)
		j->rc = mfs_vtxn_begin(vol, 1, &t);
	if (j->rc == 0) {
		j->rc = keep_blob(t, c->pk, ptr.blob_id, blob, blob_len);
		j->rc = j->rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), j->rc);
	}
	if (j->rc == 0) {
		struct mfs_dht_mutable item = {.salt = c->keys->salt,
					       .salt_len = sizeof c->keys->salt,
					       .seq = (int64_t)m.sequence,
					       .v = j->v,
					       .v_len = sizeof j->v};

		j->seq = item.seq;
		mfs_random(nonce, sizeof nonce);
		mfs_dht_pointer_seal(j->v, &ptr, c->keys, c->pk, j->seq, nonce);
		j->rc = mfs_dht_item_sign(j->sig, &item, secret->sk);
	}
	mfs_manifest_clear(&m);
	mfs_memzero(&ptr, sizeof ptr);
	mfs_secure_free(secret);
	free(blob);
	free(json);
}

static void put_round(struct dht_channel *c);

/* A publication came while a put was under way: put the newer one now. */
static void put_if_asked(struct dht_channel *c)
{
	if (c->put_again) {
		c->put_again = 0;
		put_round(c);
	}
}

static void on_put(void *arg, const struct mfs_dht_result *r);

static void put_done(uv_work_t *w, int status)
{
	struct put_job *j = w->data;
	struct dht_channel *c = j->c;
	struct mfs_swarm_dht *d = c->owner;
	struct mfs_dht_mutable item = {.salt = c->keys->salt,
				       .salt_len = sizeof c->keys->salt,
				       .seq = j->seq,
				       .v = j->v,
				       .v_len = sizeof j->v};
	char name[17], why[sizeof j->why];
	int rc = status == 0 ? j->rc : -ECANCELED;

	memcpy(why, j->why, sizeof why);
	if (rc == 0 && d->dht) {
		c->putting_seq = j->seq;
		rc = mfs_dht_put_mutable(d->dht, c->pk, j->sig, &item, 0, 0, on_put, c);
	}
	free(j);
	if (rc == 0)
		return;
	c->putting = 0;
	/* MFS_E_NOTFOUND: no manifest yet, or no node known yet (the
	 * bootstrap puts again). */
	if (d->dht && rc != MFS_E_NOTFOUND && rc != -ECANCELED)
		say(d, "DHT: the pointer of channel %s could not be put: %s",
		    short_name(name, c->pk), why[0] ? why : mfs_strerror(rc));
	put_if_asked(c);
}

static void on_put(void *arg, const struct mfs_dht_result *r)
{
	struct dht_channel *c = arg;
	char name[17];

	c->putting = 0;
	if (r->status == -ECANCELED)
		return;
	if (r->status == 0) {
		c->put_seq = c->putting_seq;
		c->put_at = (uint64_t)time(NULL);
		say(c->owner, "DHT: put the pointer of channel %s, seq %lld, on %zu nodes",
		    short_name(name, c->pk), (long long)c->put_seq, r->stored);
	} else {
		say(c->owner, "DHT: no node took the pointer of channel %s: %s",
		    short_name(name, c->pk), mfs_strerror(r->status));
	}
	put_if_asked(c);
}

static void put_round(struct dht_channel *c)
{
	struct mfs_swarm_dht *d = c->owner;
	struct put_job *j;

	if (!c->owned || !c->keys || !d->dht)
		return;
	if (c->putting) {
		c->put_again = 1;
		return;
	}
	if (!(j = calloc(1, sizeof *j)))
		return;
	j->c = c;
	j->work.data = j;
	if (uv_queue_work(mfs_loop_uv(d->cfg.loop), &j->work, put_run, put_done) != 0) {
		free(j);
		return;
	}
	c->putting = 1;
}

/* ---- saving what the DHT knows ---- */

/* The status of this process's channels, merged into the volume's. */
static json_t *status_now(struct mfs_swarm_dht *d)
{
	json_t *chans = json_object();
	char hex[2 * MFS_SIGN_PK_BYTES + 1];

	for (size_t i = 0; i < d->cfg.n_channels; i++) {
		struct dht_channel *c = &d->ch[i];
		json_t *o = json_object();

		if (c->seen_at) {
			json_object_set_new(o, "seen_seq", json_integer(c->seen_seq));
			json_object_set_new(o, "seen_at", json_integer((json_int_t)c->seen_at));
		}
		if (c->put_at) {
			json_object_set_new(o, "put_seq", json_integer(c->put_seq));
			json_object_set_new(o, "put_at", json_integer((json_int_t)c->put_at));
		}
		mfs_hex_encode(hex, c->pk, MFS_SIGN_PK_BYTES);
		json_object_set_new(chans, hex, o);
	}
	return chans;
}

/* Writes table[len] (may be NULL) and the channels' status into the volume. */
static int save(struct mfs_volume *vol, const uint8_t *table, size_t len, json_t *chans)
{
	struct mfs_vtxn *t;
	json_t *root = NULL, *all, *mine;
	const char *key;
	int rc = mfs_vtxn_begin(vol, 1, &t);

	if (rc != 0)
		return rc;
	if (table)
		rc = mfs_obj_write(t, table_object, sizeof table_object - 1, table, len);
	root = status_load(t);
	all = json_object_get(root, "channels");
	json_object_foreach(chans, key, mine) {
		json_t *was = json_object_get(all, key);

		if (json_is_object(was))
			json_object_update(was, mine);
		else
			json_object_set(all, key, mine);
	}
	json_object_set_new(root, "saved_at", json_integer((json_int_t)time(NULL)));
	if (rc == 0)
		rc = status_store(t, root);
	rc = rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), rc);
	json_decref(root);
	return rc;
}

struct save_job {
	uv_work_t work;
	struct mfs_swarm_dht *d;
	uint8_t table[MFS_DHT_TABLE_SAVE_MAX];
	size_t len;
	json_t *chans;
};

static void save_run(uv_work_t *w)
{
	struct save_job *j = w->data;

	save(j->d->cfg.vol, j->table, j->len, j->chans);
}

static void save_done(uv_work_t *w, int status)
{
	struct save_job *j = w->data;

	(void)status;
	json_decref(j->chans);
	free(j);
}

static void save_soon(struct mfs_swarm_dht *d)
{
	struct save_job *j = malloc(sizeof *j);

	if (!j || !d->dht || mfs_dht_save_table(d->dht, j->table, sizeof j->table, &j->len) != 0) {
		free(j);
		return;
	}
	j->d = d;
	j->chans = status_now(d);
	j->work.data = j;
	if (uv_queue_work(mfs_loop_uv(d->cfg.loop), &j->work, save_run, save_done) != 0) {
		json_decref(j->chans);
		free(j);
		return;
	}
}

/* ---- rounds ---- */

static void on_bootstrapped(void *arg, const struct mfs_dht_result *r);

/* A node that knows no other node (all went away, or none answered yet)
 * starts over from the bootstrap addresses. */
static int ensure_nodes(struct mfs_swarm_dht *d)
{
	struct mfs_dht_stats st;

	mfs_dht_stats(d->dht, &st);
	if (st.nodes > 0)
		return 1;
	if (d->n_boot)
		mfs_dht_bootstrap(d->dht, d->boot, d->n_boot, on_bootstrapped, d);
	return 0;
}

static void on_poll(uv_timer_t *h)
{
	struct mfs_swarm_dht *d = h->data;

	if (!d->dht || !ensure_nodes(d))
		return;
	for (size_t i = 0; i < d->cfg.n_channels; i++)
		get_round(&d->ch[i]);
}

static void on_peers_timer(uv_timer_t *h)
{
	struct mfs_swarm_dht *d = h->data;

	for (size_t i = 0; d->dht && i < d->cfg.n_channels; i++)
		peers_round(&d->ch[i], 1);
}

static void on_put_timer(uv_timer_t *h)
{
	struct mfs_swarm_dht *d = h->data;

	for (size_t i = 0; d->dht && i < d->cfg.n_channels; i++)
		put_round(&d->ch[i]);
}

static void on_refind_timer(uv_timer_t *h)
{
	struct mfs_swarm_dht *d = h->data;

	for (size_t i = 0; d->dht && i < d->cfg.n_channels; i++)
		if (d->ch[i].fetching)
			peers_round(&d->ch[i], 0);
}

static void on_save_timer(uv_timer_t *h)
{
	save_soon(h->data);
}

static void on_bootstrapped(void *arg, const struct mfs_dht_result *r)
{
	struct mfs_swarm_dht *d = arg;
	struct mfs_dht_stats st;

	if (r->status == -ECANCELED || !d->dht)
		return;
	mfs_dht_stats(d->dht, &st);
	say(d, "DHT: bootstrapped, %zu nodes known (%zu answered)", st.nodes, r->answered);
	if (st.nodes == 0)
		return; /* the poll timer tries again */
	for (size_t i = 0; i < d->cfg.n_channels; i++) {
		peers_round(&d->ch[i], 1);
		put_round(&d->ch[i]);
		get_round(&d->ch[i]);
	}
}

static void kick_on_loop(void *arg)
{
	struct mfs_swarm_dht *d = arg;

	for (size_t i = 0; d->dht && i < d->cfg.n_channels; i++)
		put_round(&d->ch[i]);
}

void mfs_swarm_dht_kick(struct mfs_swarm_dht *d)
{
	if (d)
		mfs_loop_post(d->cfg.loop, kick_on_loop, d);
}

/* ---- start and stop ---- */

/* A DHT node on host:port into d->dht, from dc's table (started without
 * it, logged, when it does not read). 0 or mfs_dht_new's errors. */
static int open_node(struct mfs_swarm_dht *d, struct mfs_dht_config *dc,
		     struct sockaddr_storage *bind_at, const char *host, uint16_t port)
{
	uv_loop_t *uv = mfs_loop_uv(d->cfg.loop);
	int rc;

	if (mfs_hostport_sockaddr(bind_at, NULL, host, port) != 0)
		return -EINVAL;
	dc->bind4 = bind_at->ss_family == AF_INET ? (const struct sockaddr *)bind_at : NULL;
	dc->bind6 = bind_at->ss_family == AF_INET6 ? (const struct sockaddr *)bind_at : NULL;
	rc = mfs_dht_new(&d->dht, uv, dc);
	if (rc == MFS_E_FORMAT) { /* a saved table that does not read: start without */
		say(d, "DHT: the saved routing table does not read; starting without it");
		dc->table = NULL;
		dc->table_len = 0;
		rc = mfs_dht_new(&d->dht, uv, dc);
	}
	return rc;
}

static int start_on_loop(void *arg)
{
	struct mfs_swarm_dht *d = arg;
	struct sockaddr_storage bind_at;
	struct mfs_dht_config dc = {.table = d->table, .table_len = d->table_len};
	char host[MFS_HOSTPORT_HOST_MAX + 1] = "0.0.0.0";
	uint16_t port = 0;
	/* The port given, else the one saved (others' tables know us there). */
	uint16_t want = d->cfg.port_given ? d->cfg.port : d->saved_port;
	uv_loop_t *uv = mfs_loop_uv(d->cfg.loop);
	int rc;

	/* The host of the listen address when it is numeric, else any. */
	if (d->cfg.listen &&
	    (mfs_hostport_parse(host, &port, d->cfg.listen, strlen(d->cfg.listen), 0) != 0 ||
	     mfs_hostport_sockaddr(&bind_at, NULL, host, 0) != 0))
		strcpy(host, "0.0.0.0");
	rc = open_node(d, &dc, &bind_at, host, want);
	if (rc < 0 && want && d->cfg.port_given) {
		say(d, "DHT: --dht-port %u: UDP port %u on %s cannot be bound: %s", want, want, host,
		    mfs_strerror(rc));
		return rc;
	}
	if (rc < 0 && want) {
		say(d, "DHT: the saved UDP port %u cannot be bound (%s); using a random one", want,
		    mfs_strerror(rc));
		rc = open_node(d, &dc, &bind_at, host, 0);
	}
	if (rc != 0)
		return rc;
	uv_timer_init(uv, &d->poll);
	uv_timer_init(uv, &d->peers);
	uv_timer_init(uv, &d->put);
	uv_timer_init(uv, &d->save);
	uv_timer_init(uv, &d->refind);
	d->poll.data = d->peers.data = d->put.data = d->save.data = d->refind.data = d;
	d->timers = 1;
	uv_timer_start(&d->poll, on_poll, d->cfg.interval_s * 1000ull, d->cfg.interval_s * 1000ull);
	uv_timer_start(&d->peers, on_peers_timer, PEERS_EVERY_MS, PEERS_EVERY_MS);
	uv_timer_start(&d->put, on_put_timer, PUT_EVERY_MS, PUT_EVERY_MS);
	uv_timer_start(&d->save, on_save_timer, SAVE_EVERY_MS, SAVE_EVERY_MS);
	uv_timer_start(&d->refind, on_refind_timer, REFIND_EVERY_MS, REFIND_EVERY_MS);
	say(d, "DHT: on UDP port %u", mfs_dht_port(d->dht, bind_at.ss_family == AF_INET6 ? 6 : 4));
	/* Nobody to ask yet (a saved table of no node): the poll timer tries
	 * the bootstrap addresses again. */
	rc = mfs_dht_bootstrap(d->dht, d->boot, d->n_boot, on_bootstrapped, d);
	if (rc != 0)
		say(d, "DHT: bootstrap: %s", mfs_strerror(rc));
	return 0;
}

/* The stop hook: keeps the table, closes the node and timers. */
static void stop_on_loop(void *arg)
{
	struct mfs_swarm_dht *d = arg;
	uint8_t *table;

	if (d->dht && (table = malloc(MFS_DHT_TABLE_SAVE_MAX))) {
		free(d->table);
		d->table = NULL;
		if (mfs_dht_save_table(d->dht, table, MFS_DHT_TABLE_SAVE_MAX, &d->table_len) == 0)
			d->table = table;
		else
			free(table);
	}
	mfs_dht_close(d->dht);
	d->dht = NULL;
	if (d->timers) {
		uv_close((uv_handle_t *)&d->poll, NULL);
		uv_close((uv_handle_t *)&d->peers, NULL);
		uv_close((uv_handle_t *)&d->put, NULL);
		uv_close((uv_handle_t *)&d->save, NULL);
		uv_close((uv_handle_t *)&d->refind, NULL);
	}
}

/* Resolves each "HOST:PORT" (numeric or a name) into d->boot; d->special
 * when every one given resolved to special addresses. given says whether
 * they came from the user (else the routers: never special). */
static int resolve(struct mfs_swarm_dht *d, const char *const *list, size_t n, int given)
{
	int special = given;

	for (size_t i = 0; i < n; i++) {
		char host[MFS_HOSTPORT_HOST_MAX + 1], port_text[8];
		struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
		uint16_t port;

		if (mfs_hostport_parse(host, &port, list[i], strlen(list[i]), 0) != 0) {
			say(d, "--dht-bootstrap %s: not HOST:PORT", list[i]);
			return -EINVAL;
		}
		snprintf(port_text, sizeof port_text, "%u", port);
		if (getaddrinfo(host, port_text, &hints, &res) != 0) {
			say(d, "DHT: cannot resolve %s", list[i]);
			continue;
		}
		for (struct addrinfo *a = res; a && d->n_boot < MFS_SWARM_DHT_BOOTSTRAP_MAX;
		     a = a->ai_next) {
			if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
				continue;
			memcpy(&d->boot[d->n_boot++], a->ai_addr, a->ai_addrlen);
			special = special && mfs_addr_is_special(a->ai_addr);
		}
		freeaddrinfo(res);
	}
	d->special = special && d->n_boot > 0;
	return 0;
}

/* Each channel's keys from the keyring (after the swarm's start committed
 * the link a mount brought). */
static int load_channels(struct mfs_swarm_dht *d)
{
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret);
	int rc = secret ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < d->cfg.n_channels; i++) {
		struct dht_channel *c = &d->ch[i];
		struct mfs_channel ch;

		c->owner = d;
		c->index = i;
		memcpy(c->pk, d->cfg.channels[i], MFS_SIGN_PK_BYTES);
		rc = mfs_channel_find(d->cfg.vol, c->pk, &ch, secret);
		if (rc == MFS_E_NOTFOUND) {
			rc = 0;
			ch = (struct mfs_channel){0};
		}
		if (rc != 0)
			break;
		c->owned = ch.owned;
		c->known = ch.sequence;
		if (ch.sealed && !ch.has_read_key)
			continue; /* read by grant: no DHT secret */
		if (!(c->keys = mfs_secure_alloc(sizeof *c->keys))) {
			rc = -ENOMEM;
			break;
		}
		mfs_dht_channel_derive(c->keys, ch.sealed ? secret->read_key : c->pk, c->pk);
	}
	mfs_secure_free(secret);
	return rc;
}

/* Reads the saved table: *port the port saved with it (0: none, or bytes
 * that do not read); returns 1 when it holds nodes and all are at special
 * addresses: a DHT begun from special bootstrap nodes (a LAN, a test),
 * which may then name special peers as it did then. */
static int read_saved(const uint8_t *bytes, size_t len, uint16_t *port)
{
	static const uint8_t anywhere[MFS_KRPC_ID_BYTES];
	struct mfs_dht_table *t = NULL;
	struct mfs_krpc_node *nodes = NULL;
	size_t n = 0, got = 0;
	int special = 0;

	if (mfs_dht_table_load(&t, port, bytes, len, 0, NULL, 0) == 0 &&
	    (n = mfs_dht_table_count(t)) > 0 && (nodes = calloc(n, sizeof *nodes))) {
		got = mfs_dht_table_closest(t, anywhere, nodes, n);
		special = got > 0;
	}
	for (size_t i = 0; i < got && special; i++) {
		struct sockaddr_storage at;

		memset(&at, 0, sizeof at);
		if (nodes[i].family == 4) {
			struct sockaddr_in *a = (struct sockaddr_in *)&at;
			a->sin_family = AF_INET;
			memcpy(&a->sin_addr, nodes[i].ip, 4);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&at;
			a->sin6_family = AF_INET6;
			memcpy(&a->sin6_addr, nodes[i].ip, 16);
		}
		special = mfs_addr_is_special((const struct sockaddr *)&at);
	}
	free(nodes);
	mfs_dht_table_free(t);
	return special;
}

static void free_dht(struct mfs_swarm_dht *d)
{
	for (size_t i = 0; d->ch && i < d->cfg.n_channels; i++)
		mfs_secure_free(d->ch[i].keys);
	free(d->ch);
	free(d->table);
	free(d);
}

int mfs_swarm_dht_start(struct mfs_swarm_dht **out, const struct mfs_swarm_dht_config *cfg)
{
	static const char *const routers[] = {MFS_SWARM_DHT_ROUTERS};
	struct mfs_swarm_dht *d = calloc(1, sizeof *d);
	struct mfs_vtxn *t;
	uint64_t len = 0;
	int rc, special = 0;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.interval_s)
		d->cfg.interval_s = MFS_SWARM_DHT_INTERVAL_S;
	rc = (d->ch = calloc(cfg->n_channels ? cfg->n_channels : 1, sizeof *d->ch)) ? 0 : -ENOMEM;
	if (rc == 0)
		rc = load_channels(d);
	if (rc == 0 && (rc = mfs_vtxn_begin(cfg->vol, 0, &t)) == 0) {
		if (mfs_obj_get(t, table_object, sizeof table_object - 1, &d->table, &len) == 0)
			d->table_len = (size_t)len;
		mfs_vtxn_abort(t);
	}
	if (rc == 0 && d->table)
		special = read_saved(d->table, d->table_len, &d->saved_port);
	/* Bootstrap nodes given replace the saved table's nodes (megafs(1)):
	 * they may be of another DHT, or gone, and each would cost a lookup
	 * its timeouts; its port is kept all the same. The table saved at the
	 * end is the one this run builds. */
	if (rc == 0 && cfg->n_bootstrap) {
		free(d->table);
		d->table = NULL;
		d->table_len = 0;
		rc = resolve(d, cfg->bootstrap, cfg->n_bootstrap, 1);
	} else if (rc == 0 && !d->table) {
		rc = resolve(d, routers, sizeof routers / sizeof *routers, 0);
	} else if (rc == 0) {
		d->special = special;
	}
	if (rc == 0 && !d->n_boot && !d->table) {
		/* Not fatal: trackers and peers may still find the channel. */
		say(d, "DHT: not started: no bootstrap node resolves and the volume saved no "
		    "routing table (give --dht-bootstrap HOST:PORT)");
		free_dht(d);
		return 0;
	}
	if (rc != 0) {
		free_dht(d);
		return rc;
	}
	/* From here on the stop hook may run: d lives until the caller frees
	 * it, after the loop stopped. */
	*out = d;
	rc = mfs_loop_add_hook(cfg->loop, stop_on_loop, d);
	if (rc == 0)
		rc = mfs_loop_call(cfg->loop, start_on_loop, d);
	if (rc != 0)
		say(d, "DHT: %s", mfs_strerror(rc));
	return rc;
}

void mfs_swarm_dht_free(struct mfs_swarm_dht *d)
{
	if (!d)
		return;
	if (d->timers) { /* the DHT ran */
		json_t *chans = status_now(d);

		if (save(d->cfg.vol, d->table, d->table_len, chans) != 0)
			say(d, "DHT: the routing table could not be saved");
		json_decref(chans);
	}
	free_dht(d);
}

int mfs_swarm_dht_recorded(struct mfs_volume *vol, size_t *nodes, uint16_t *port,
			   json_t **status)
{
	struct mfs_dht_table *table = NULL;
	struct mfs_vtxn *t;
	uint8_t *data = NULL;
	uint64_t len = 0;
	int rc = mfs_vtxn_begin(vol, 0, &t);

	*nodes = 0;
	*port = 0;
	*status = NULL;
	if (rc != 0)
		return rc;
	if (mfs_obj_get(t, table_object, sizeof table_object - 1, &data, &len) == 0 &&
	    mfs_dht_table_load(&table, port, data, (size_t)len, 0, NULL, 0) == 0)
		*nodes = mfs_dht_table_count(table);
	mfs_dht_table_free(table);
	free(data);
	*status = status_load(t);
	mfs_vtxn_abort(t);
	return 0;
}
