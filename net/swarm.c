#include "net/swarm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/addr.h"
#include "net/hostport.h"
#include "net/logline.h"
#include "net/loop.h"
#include "net/swarm_dht.h"
#include "net/swarm_pt.h"
#include "net/tracker_client.h"

#define MAX_TRACKERS 16u
#define MAX_SOURCES (MAX_TRACKERS + 1u) /* the trackers and the DHT */
#define MAX_REMEMBERED_PEERS 32u
#define PEER_TEXT MFS_PT_PEER_TEXT_MAX /* "HOST:PORT#KEY;ARGS" */

/* A manifest a tracker pushed, waiting for its turn to be verified. */
struct waiting {
	char *json;                            /* NULL: none */
	size_t len;
	uint64_t sequence;                     /* as it claims */
};

/* Where manifests come from: a tracker, or the DHT (client NULL, url
 * "the DHT"; net/swarm_dht fetches what its pointers name). */
struct tracker {
	struct mfs_swarm *swarm;
	struct mfs_tracker_client *client;
	char url[256];
	struct waiting *waiting;               /* one per channel (loop thread) */
	int proxy_refused;                     /* the proxy refuses it (loop thread) */
};

/* Per channel, on the loop thread: one manifest verified at a time. */
struct inbox {
	int busy;                              /* a job is on the thread pool */
	size_t next;                           /* the tracker served next */
	uint64_t stored;                       /* the newest sequence stored here */
	int no_key;                            /* under lock: the last refused wanted a key */
};

struct mfs_swarm {
	struct mfs_swarm_config cfg;
	struct mfs_loop *loop;
	struct mfs_netnode *node;
	struct mfs_serve_source source;
	uint8_t *sk;                           /* guarded */
	struct tracker trackers[MAX_SOURCES];
	size_t n_trackers;
	struct mfs_swarm_dht *dht;             /* NULL: no DHT */
	struct tracker *dht_source;            /* the DHT's entry in trackers[], or NULL */
	struct mfs_swarm_pt pt;                /* the pluggable transport, if any */
	unsigned plain_trackers_skipped;       /* remembered ws:// ones, with wss_only */

	pthread_mutex_t lock;
	pthread_cond_t manifest_stored;
	uint64_t manifests_stored;             /* under lock */
	int trackers_refused;                  /* under lock: the proxy refuses every one */
	struct mfs_swarm_manifest_stats mstats; /* under lock */
	/* peers to remember, "HOST:PORT#KEY[;ARGS]", newest first (under lock) */
	char peers[MAX_REMEMBERED_PEERS][PEER_TEXT];
	size_t n_peers;
	unsigned accepting;                    /* thread-pool jobs in flight (loop thread) */
	struct inbox *inbox;                   /* [cfg.n_channels] */
};

/* say(owner, fmt, ...): a line to the owner's log. */
#define say(o, ...) mfs_logline((o)->cfg.log, (o)->cfg.log_ctx, __VA_ARGS__)

/* ---- what the volume remembers per channel ---- */

static void memory_name(uint8_t name[1 + MFS_SIGN_PK_BYTES], const uint8_t *pk)
{
	name[0] = 'n';
	memcpy(name + 1, pk, MFS_SIGN_PK_BYTES);
}

/* The remembered object of channel pk: a JSON object (new reference), empty
 * when there is none yet. */
static json_t *memory_load(struct mfs_vtxn *t, const uint8_t *pk)
{
	uint8_t name[1 + MFS_SIGN_PK_BYTES];
	uint8_t *data = NULL;
	uint64_t len = 0;
	json_t *root = NULL;

	memory_name(name, pk);
	if (mfs_obj_get(t, name, sizeof name, &data, &len) == 0)
		root = json_loadb((const char *)data, (size_t)len, 0, NULL);
	free(data);
	if (!json_is_object(root)) {
		json_decref(root);
		root = json_object();
	}
	return root;
}

/* Adds text to the front of array key of root (once; at most max kept). */
static void remember(json_t *root, const char *key, const char *text, size_t max)
{
	json_t *list = json_object_get(root, key), *fresh = json_array();
	size_t i;
	json_t *v;

	json_array_append_new(fresh, json_string(text));
	json_array_foreach(list, i, v) {
		if (json_array_size(fresh) >= max)
			break;
		if (json_is_string(v) && strcmp(json_string_value(v), text) != 0)
			json_array_append(fresh, v);
	}
	json_object_set_new(root, key, fresh);
}

static void count_one(void *ctx, const char *kind, const char *text)
{
	(void)kind;
	(void)text;
	++*(size_t *)ctx;
}

int mfs_swarm_remembers(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	size_t count = 0;

	return mfs_swarm_remembered(vol, pk, count_one, &count) == 0 && count > 0;
}

int mfs_swarm_remembered(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			 void (*said)(void *ctx, const char *kind, const char *text), void *ctx)
{
	static const char *const lists[][2] = {{"trackers", "tracker"}, {"peers", "peer"}};
	struct mfs_vtxn *t;
	json_t *root, *v;
	size_t i;
	int rc = mfs_vtxn_begin(vol, 0, &t);

	if (rc < 0)
		return rc;
	root = memory_load(t, pk);
	mfs_vtxn_abort(t);
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
		json_array_foreach(json_object_get(root, lists[l][0]), i, v)
			if (json_is_string(v))
				said(ctx, lists[l][1], json_string_value(v));
	json_decref(root);
	return 0;
}

static int memory_store(struct mfs_vtxn *t, const uint8_t *pk, json_t *root)
{
	uint8_t name[1 + MFS_SIGN_PK_BYTES];
	char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return -ENOMEM;
	memory_name(name, pk);
	rc = mfs_obj_write(t, name, sizeof name, text, strlen(text));
	free(text);
	return rc;
}

/* Whether remembered entry text is what the user named: the same text,
 * or a peer named by its HOST:PORT without the key it was kept with, or
 * a bridge by its HOST:PORT[#KEY] without its arguments. */
static int names(const char *text, const char *what)
{
	size_t n = strlen(what);

	return strcmp(text, what) == 0 ||
	       (strncmp(text, what, n) == 0 && !strstr(what, "://") &&
		((text[n] == '#' && !strchr(what, '#')) || (text[n] == ';' && !strchr(what, ';'))));
}

/* Drops from root's list under key the entries what[] names (all when n
 * is 0), marking in hit[] the names that matched, and appends each one
 * dropped to gone as [kind, text]. */
static void forget_in(json_t *root, const char *key, const char *kind, const char *const *what,
		      size_t n, int *hit, json_t *gone)
{
	json_t *list = json_object_get(root, key), *kept = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *text = json_is_string(v) ? json_string_value(v) : "";
		int drop = n == 0;

		for (size_t w = 0; w < n; w++)
			if (names(text, what[w]))
				drop = hit[w] = 1;
		if (!drop)
			json_array_append(kept, v);
		else
			json_array_append_new(gone, json_pack("[ss]", kind, text));
	}
	json_object_set_new(root, key, kept);
}

int mfs_swarm_forget(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     const char *const *what, size_t n,
		     void (*said)(void *ctx, const char *kind, const char *text), void *ctx,
		     size_t *unknown)
{
	struct mfs_vtxn *t;
	json_t *root, *gone = json_array(), *g;
	int *hit = calloc(n ? n : 1, sizeof *hit), rc;
	size_t i;

	*unknown = SIZE_MAX;
	rc = hit && gone ? mfs_vtxn_begin(vol, 1, &t) : -ENOMEM;
	if (rc != 0) {
		free(hit);
		json_decref(gone);
		return rc;
	}
	root = memory_load(t, pk);
	forget_in(root, "trackers", "tracker", what, n, hit, gone);
	forget_in(root, "peers", "peer", what, n, hit, gone);
	/* A name that matches nothing changes nothing at all. */
	for (size_t w = 0; w < n && *unknown == SIZE_MAX; w++)
		if (!hit[w])
			*unknown = w;
	rc = *unknown != SIZE_MAX ? MFS_E_NOTFOUND : memory_store(t, pk, root);
	rc = rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), rc);
	json_array_foreach(gone, i, g)
		if (rc >= 0 && said)
			said(ctx, json_string_value(json_array_get(g, 0)),
			     json_string_value(json_array_get(g, 1)));
	json_decref(root);
	json_decref(gone);
	free(hit);
	return rc < 0 ? rc : 0;
}

static void node_log(void *ctx, const char *line)
{
	struct mfs_swarm *s = ctx;

	say(s, "%s", line);
}

/* ---- manifests from trackers (accepted on the thread pool) ----
 *
 * A tracker may push manifests faster than they can be verified. Each
 * (tracker, channel) pair keeps at most one waiting, the newest by the
 * sequence it claims (an older or equal one is dropped at once); each
 * channel has at most one on the thread pool. So a flood costs at most
 * 2 x trackers x channels manifests of memory (MFS_TRACKER_MANIFEST_MAX
 * each) and one thread per channel, and one lying tracker cannot push
 * out what another one sent. */

struct accept_job {
	uv_work_t work;
	struct mfs_swarm *swarm;
	struct tracker *from;
	size_t channel;
	char *json;
	size_t len;
	uint64_t sequence;
	int rc;
	int wrote;                             /* a write transaction was opened */
	char why[160];
};

/* The sequence the volume holds for channel pk (0: none yet), in a read
 * transaction. MFS_E_NOTFOUND when the volume does not know the channel. */
static int stored_sequence(struct mfs_volume *vol, const uint8_t *pk, uint64_t *sequence)
{
	struct mfs_channel ch;
	int rc = mfs_channel_find(vol, pk, &ch, NULL);

	if (rc == 0)
		*sequence = ch.sequence;
	return rc;
}

/* Verifies first, outside any transaction (form, signature, then the
 * sequence against a read transaction), so junk never holds the store's
 * write lock; only a manifest that passed opens a write transaction, in
 * which fs/channel checks it again (the sequence may have moved meanwhile)
 * with its collections and stores it. */
static void accept_run(uv_work_t *w)
{
	struct accept_job *j = w->data;
	struct mfs_volume *vol = j->swarm->cfg.vol;
	const uint8_t *pk = j->swarm->cfg.channels[j->channel];
	struct mfs_manifest m;
	uint64_t last = 0;
	struct mfs_vtxn *t;

	j->rc = mfs_manifest_verify(&m, j->json, j->len, pk, 0, j->why, sizeof j->why);
	if (j->rc != 0)
		return;
	j->rc = stored_sequence(vol, pk, &last);
	if (j->rc == 0 && m.sequence <= last) {
		snprintf(j->why, sizeof j->why, "sequence %llu <= last seen %llu",
			 (unsigned long long)m.sequence, (unsigned long long)last);
		j->rc = MFS_E_REPLAY;
	}
	mfs_manifest_clear(&m);
	if (j->rc != 0)
		return;
	j->wrote = 1;
	j->rc = mfs_vtxn_begin(vol, 1, &t);
	if (j->rc < 0)
		return;
	j->rc = mfs_channel_accept(t, j->json, j->len, 0, NULL, j->why, sizeof j->why);
	j->rc = j->rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), j->rc);
}

static void accept_done(uv_work_t *w, int status);

/* Starts verifying the next manifest waiting for channel ci, if any and
 * none is on the thread pool; trackers take turns. */
static void accept_next(struct mfs_swarm *s, size_t ci)
{
	struct inbox *in = &s->inbox[ci];
	struct accept_job *j;
	struct waiting *wt = NULL;
	struct tracker *tr = NULL;

	if (in->busy)
		return;
	for (size_t k = 0; k < s->n_trackers && !wt; k++) {
		size_t i = (in->next + k) % s->n_trackers;

		if (s->trackers[i].waiting && s->trackers[i].waiting[ci].json) {
			tr = &s->trackers[i];
			wt = &tr->waiting[ci];
			in->next = i + 1;
		}
	}
	if (!wt || !(j = calloc(1, sizeof *j)))
		return;
	j->json = wt->json;
	j->len = wt->len;
	j->sequence = wt->sequence;
	wt->json = NULL;
	j->swarm = s;
	j->from = tr;
	j->channel = ci;
	j->work.data = j;
	if (uv_queue_work(mfs_loop_uv(s->loop), &j->work, accept_run, accept_done) != 0) {
		free(j->json);
		free(j);
		return;
	}
	in->busy = 1;
	s->accepting++;
}

static void accept_done(uv_work_t *w, int status)
{
	struct accept_job *j = w->data;
	struct mfs_swarm *s = j->swarm;

	s->accepting--;
	s->inbox[j->channel].busy = 0;
	pthread_mutex_lock(&s->lock);
	s->mstats.write_transactions += (uint64_t)j->wrote;
	if (status == 0 && j->rc != 0)
		s->mstats.refused++;
	if (status == 0 && (j->rc == 0 || j->rc == MFS_E_NOKEY)) {
		s->inbox[j->channel].no_key = j->rc == MFS_E_NOKEY;
		pthread_cond_broadcast(&s->manifest_stored);
	}
	pthread_mutex_unlock(&s->lock);
	if (status == 0 && j->rc == 0) {
		if (j->sequence > s->inbox[j->channel].stored)
			s->inbox[j->channel].stored = j->sequence;
		pthread_mutex_lock(&s->lock);
		s->manifests_stored++;
		s->mstats.stored++;
		pthread_cond_broadcast(&s->manifest_stored);
		pthread_mutex_unlock(&s->lock);
		if (s->cfg.stored)
			s->cfg.stored(s->cfg.stored_ctx);
		/* Pass it on: the other trackers may not have it yet. */
		for (size_t i = 0; i < s->n_trackers; i++)
			if (&s->trackers[i] != j->from && s->trackers[i].client)
				mfs_tracker_client_publish(s->trackers[i].client, j->json, j->len);
	} else if (status == 0 && j->rc != MFS_E_REPLAY) {
		say(s, "a manifest from %s was refused: %s", j->from->url,
		    j->why[0] ? j->why : mfs_strerror(j->rc));
	}
	if (status == 0)
		accept_next(s, j->channel);
	free(j->json);
	free(j);
}

static void on_manifest(void *ctx, const uint8_t key[MFS_TRACKER_KEY_BYTES], uint64_t sequence,
			const char *json, size_t len)
{
	struct tracker *tr = ctx;
	struct mfs_swarm *s = tr->swarm;
	struct waiting *wt;
	size_t ci;
	char *copy;

	for (ci = 0; ci < s->cfg.n_channels; ci++)
		if (memcmp(s->cfg.channels[ci], key, MFS_SIGN_PK_BYTES) == 0)
			break;
	if (ci == s->cfg.n_channels || !tr->waiting)
		return;
	wt = &tr->waiting[ci];
	pthread_mutex_lock(&s->lock);
	s->mstats.received++;
	/* Not newer than what is stored or already waiting: nothing to do. */
	if (sequence <= s->inbox[ci].stored || (wt->json && sequence <= wt->sequence)) {
		s->mstats.dropped++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->mstats.dropped += wt->json != NULL;
	pthread_mutex_unlock(&s->lock);
	if (!(copy = malloc(len + 1)))
		return;
	memcpy(copy, json, len);
	copy[len] = '\0';
	free(wt->json);
	wt->json = copy;
	wt->len = len;
	wt->sequence = sequence;
	accept_next(s, ci);
}

static void note_peer(struct mfs_swarm *s, const char *text)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n_peers && strcmp(s->peers[i], text) != 0; i++)
		;
	if (i == s->n_peers && s->n_peers < MAX_REMEMBERED_PEERS)
		snprintf(s->peers[s->n_peers++], PEER_TEXT, "%s", text);
	pthread_mutex_unlock(&s->lock);
}

/* A peer the DHT named (by address alone) proved its node key: kept as a
 * tracker's peer is, "HOST:PORT#KEY". The node took it as a learnt peer,
 * so one at a special address came from a DHT begun at special nodes. */
static void on_learnt_key(void *ctx, const char *text)
{
	note_peer(ctx, text);
}

static void on_peers(void *ctx, const uint8_t key[MFS_SIGN_PK_BYTES],
		     const struct mfs_tracker_peer *peers, size_t n)
{
	struct tracker *tr = ctx;
	struct mfs_swarm *s = tr->swarm;
	char text[PEER_TEXT], hex[2 * MFS_NOISE_KEY_BYTES + 1];
	char at[sizeof peers->host + sizeof "[]:65535"];
	struct sockaddr_storage from;
	/* Peers at special addresses (loopback, private...) only from a
	 * tracker at one: a tracker must not aim nodes at their own networks. */
	int special = mfs_tracker_client_remote(tr->client, &from) == 0 &&
		      mfs_addr_is_special((const struct sockaddr *)&from);

	(void)key;
	for (size_t i = 0; i < n; i++) {
		mfs_hostport_format(at, sizeof at, peers[i].host, peers[i].port);
		mfs_hex_encode(hex, peers[i].node_pk, MFS_NOISE_KEY_BYTES);
		snprintf(text, sizeof text, "%s#%s", at, hex);
		if (mfs_node_add_learnt_peer(s->node, text, special) == 0)
			note_peer(s, text);
	}
}

/* ---- start and stop ---- */

struct start_trackers_job {
	struct mfs_swarm *swarm;
	const char *const *urls;
	size_t n;
};

/* Why a tracker refused a request or a connect failed (a certificate
 * refused: net/tracker_client says each reason once). */
static void on_tracker_error(void *ctx, const char *reason)
{
	struct tracker *tr = ctx;

	say(tr->swarm, "tracker %s: %s", tr->url, reason);
}

/* A tracker the proxy refuses, or no longer: when it refuses every one,
 * neither manifests nor peers can come (the DHT is never run with a
 * proxy), and whoever waits for them is told at once. */
static void on_tracker_proxy_refused(void *ctx, int refused)
{
	struct tracker *tr = ctx;
	struct mfs_swarm *s = tr->swarm;
	int all = 1;

	tr->proxy_refused = refused;
	for (size_t i = 0; i < s->n_trackers; i++)
		if (&s->trackers[i] != s->dht_source && !s->trackers[i].proxy_refused)
			all = 0;
	pthread_mutex_lock(&s->lock);
	s->trackers_refused = all;
	pthread_cond_broadcast(&s->manifest_stored);
	pthread_mutex_unlock(&s->lock);
	mfs_node_set_discovery_refused(s->node, all);
}

static int add_tracker_on_loop(struct mfs_swarm *s, const char *url)
{
	static const struct mfs_tracker_client_callbacks cb = {
		.manifest = on_manifest,
		.peers = on_peers,
		.error = on_tracker_error,
		.proxy_refused = on_tracker_proxy_refused,
	};
	struct tracker *tr;
	int rc;

	for (size_t i = 0; i < s->n_trackers; i++)
		if (strcmp(s->trackers[i].url, url) == 0)
			return 0;
	if (s->n_trackers - (s->dht_source != NULL) >= MAX_TRACKERS ||
	    strlen(url) >= sizeof tr->url)
		return -EINVAL;
	tr = &s->trackers[s->n_trackers];
	tr->swarm = s;
	strcpy(tr->url, url);
	free(tr->waiting);
	if (!(tr->waiting = calloc(s->cfg.n_channels ? s->cfg.n_channels : 1, sizeof *tr->waiting)))
		return -ENOMEM;
	rc = mfs_tracker_client_new_via(&tr->client, mfs_loop_uv(s->loop), url, s->cfg.proxy, &cb,
					 tr);
	if (rc < 0) {
		say(s, "tracker %s: %s", url, mfs_strerror(rc));
		return rc;
	}
	s->n_trackers++;
	if (strncasecmp(url, "ws://", 5) == 0)
		say(s, "tracker %s: warning: plain ws://: whoever is on the path reads which "
		    "channels this node follows and the manifests it sends and gets; use a "
		    "wss:// tracker", url);
	for (size_t i = 0; i < s->cfg.n_channels; i++) {
		mfs_tracker_client_subscribe(tr->client, s->cfg.channels[i]);
		mfs_tracker_client_announce(tr->client, s->cfg.channels[i], mfs_node_port(s->node),
					    mfs_node_public_key(s->node));
	}
	return 0;
}

static int start_trackers_on_loop(void *arg)
{
	struct start_trackers_job *j = arg;
	int rc = 0;

	for (size_t i = 0; i < j->n && rc == 0; i++)
		rc = add_tracker_on_loop(j->swarm, j->urls[i]);
	return rc;
}

static void stop_trackers_hook(void *arg)
{
	struct mfs_swarm *s = arg;

	for (size_t i = 0; i < s->n_trackers; i++) {
		mfs_tracker_client_free(s->trackers[i].client);
		s->trackers[i].client = NULL;
	}
}

/* Trackers and peers: remembered ones plus those given; the given ones
 * are remembered from now on, in the write transaction t (the caller
 * commits). Fills *urls (malloc'ed strings). */
static int load_memory(struct mfs_swarm *s, struct mfs_vtxn *t, char ***urls, size_t *n_urls,
		       char ***peers, size_t *n_peers)
{
	const struct mfs_swarm_config *c = &s->cfg;
	int rc = 0;

	*urls = calloc(MAX_TRACKERS, sizeof **urls);
	*peers = calloc(MAX_REMEMBERED_PEERS + c->n_peers, sizeof **peers);
	*n_urls = *n_peers = 0;
	if (!*urls || !*peers)
		return -ENOMEM;
	/* Given peers first: for an address known both ways, the key given
	 * now is the one the peer must prove. */
	for (size_t g = 0; g < c->n_peers; g++)
		(*peers)[(*n_peers)++] = strdup(c->peers[g]);
	for (size_t i = 0; i < c->n_channels && rc == 0; i++) {
		json_t *root = memory_load(t, c->channels[i]), *v;
		size_t k;

		for (size_t g = c->n_trackers; g-- > 0;)
			remember(root, "trackers", c->trackers[g], MAX_TRACKERS);
		json_array_foreach(json_object_get(root, "trackers"), k, v) {
			size_t m;
			if (!json_is_string(v) || mfs_tracker_url_check(json_string_value(v)) != 0)
				continue; /* not one to use (an older version's mistake) */
			if (c->wss_only && strncasecmp(json_string_value(v), "wss://", 6) != 0) {
				s->plain_trackers_skipped++;
				continue;
			}
			for (m = 0; m < *n_urls && strcmp((*urls)[m], json_string_value(v)); m++)
				;
			if (m == *n_urls && *n_urls < MAX_TRACKERS)
				(*urls)[(*n_urls)++] = strdup(json_string_value(v));
		}
		json_array_foreach(json_object_get(root, "peers"), k, v)
			if (*n_peers < MAX_REMEMBERED_PEERS + c->n_peers && json_is_string(v))
				(*peers)[(*n_peers)++] = strdup(json_string_value(v));
		if (c->n_trackers)
			rc = memory_store(t, c->channels[i], root);
		json_decref(root);
	}
	return rc;
}

/* ---- the DHT: one more source of manifests ---- */

static void on_dht_manifest(void *ctx, size_t channel, uint64_t sequence, const char *json,
			    size_t len)
{
	struct mfs_swarm *s = ctx;

	on_manifest(s->dht_source, s->cfg.channels[channel], sequence, json, len);
}

static int add_dht_source_on_loop(void *arg)
{
	struct mfs_swarm *s = arg;
	struct tracker *tr = &s->trackers[s->n_trackers];

	tr->swarm = s;
	strcpy(tr->url, "the DHT");
	if (!(tr->waiting = calloc(s->cfg.n_channels ? s->cfg.n_channels : 1, sizeof *tr->waiting)))
		return -ENOMEM;
	s->n_trackers++;
	s->dht_source = tr;
	return 0;
}

static int start_dht(struct mfs_swarm *s)
{
	const struct mfs_swarm_config *c = &s->cfg;
	struct mfs_swarm_dht_config dc = {
		.loop = s->loop,
		.node = s->node,
		.vol = c->vol,
		.channels = c->channels,
		.n_channels = c->n_channels,
		.bootstrap = c->dht_bootstrap,
		.n_bootstrap = c->n_dht_bootstrap,
		.listen = c->listen,
		.port_given = c->dht_port_given,
		.port = c->dht_port,
		.interval_s = c->dht_interval_s,
		.manifest = on_dht_manifest,
		.ctx = s,
		.log = c->log,
		.log_ctx = c->log_ctx,
	};
	int rc = mfs_loop_call(s->loop, add_dht_source_on_loop, s);

	if (rc == 0)
		rc = mfs_swarm_dht_start(&s->dht, &dc);
	return rc;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The node lends a blob fetched for segment readers now gone (a pool
 * thread): kept in the session cache, where the next read of the chunk
 * finds it. A cache: failing to keep it costs a fetch, nothing more. */
static void keep_fetched(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES],
			 const uint8_t *blob, size_t len)
{
	struct mfs_session_cache *cache = ctx;

	mfs_session_cache_put(cache, id, blob, len);
}

/* The peers to dial. A given one the node refuses fails the start; a
 * remembered one of another transport (a bridge without the PT, a plain
 * peer with it; over tls, one without its key) is skipped. The log names a
 * peer by its address alone: a bridge's arguments open it to anyone. */
static int add_peers(struct mfs_swarm *s, char *const *peers, size_t n_peers)
{
	size_t skipped = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n_peers; i++) {
		int addr_len = (int)strcspn(peers[i], ";");

		rc = mfs_node_add_peer_text(s->node, peers[i]);
		if ((rc == -EPROTONOSUPPORT || rc == -ENOKEY) && i >= s->cfg.n_peers) {
			skipped++;
			rc = 0;
		} else if (rc == -ENOKEY) {
			say(s, "peer %.*s: over --transport tls a peer is HOST:PORT#KEY (its "
			    "WebSocket path is made from its key)", addr_len, peers[i]);
		} else if (rc == -EPROTONOSUPPORT && s->cfg.pt_path) {
			say(s, "peer %.*s: through a pluggable transport a peer is "
			    "HOST:PORT[#KEY];ARGS, with the bridge's arguments as megafs serve "
			    "--transport %s prints them", addr_len, peers[i], s->cfg.pt_transport);
		} else if (rc == -EPROTONOSUPPORT) {
			say(s, "peer %.*s: a bridge (its arguments follow ';'), reached only "
			    "through its pluggable transport: --transport and --pt", addr_len,
			    peers[i]);
		} else if (rc < 0) {
			say(s, "not a peer address: %.*s (HOST:PORT or HOST:PORT#KEY, then "
			    ";ARGS for a bridge)", addr_len, peers[i]);
		} else {
			note_peer(s, peers[i]);
		}
	}
	if (skipped)
		say(s, "%zu remembered peer%s skipped: %s", skipped, skipped == 1 ? "" : "s",
		    s->cfg.pt_path ? "not bridges of this transport"
		    : s->cfg.tls   ? "bridges, or without the key tls needs"
				   : "bridges, reached only through their pluggable transport");
	return rc;
}

/* The pluggable transport's client, when there are peers to dial through
 * it; its server, in front of the node's listener, once that listens. */
static int start_pt(struct mfs_swarm *s, int server, size_t n_peers)
{
	const struct mfs_swarm_config *c = &s->cfg;
	char why[320] = "";
	int rc;

	if (!c->pt_path || (server ? !c->listen : !n_peers))
		return 0;
	rc = server ? mfs_swarm_pt_server_start(&s->pt, c->vol, c->pt_path, c->pt_transport,
						c->listen, mfs_node_port(s->node), why, sizeof why)
		    : mfs_swarm_pt_client_start(&s->pt, c->pt_path, c->pt_transport, why,
						sizeof why);
	if (rc != 0)
		say(s, "%s%s", why[0] ? "" : "the pluggable transport: ",
		    why[0] ? why : mfs_strerror(rc));
	return rc;
}

int mfs_swarm_start(struct mfs_swarm **out, const struct mfs_swarm_config *config)
{
	struct mfs_swarm *s = calloc(1, sizeof *s);
	char **urls = NULL, **peers = NULL;
	size_t n_urls = 0, n_peers = 0;
	struct mfs_vtxn *t = NULL;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cfg = *config;
	if (config->pt_path && (config->proxy || config->dht || !config->pt_transport)) {
		free(s);
		return -EINVAL;
	}
	if (!(s->inbox = calloc(config->n_channels ? config->n_channels : 1, sizeof *s->inbox))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->manifest_stored, NULL);
	/* The caller's changes, what the volume remembers and the node's key:
	 * one write transaction, one commit (two syncs) before the trackers
	 * are asked. */
	rc = mfs_vtxn_begin(config->vol, 1, &t);
	if (rc == 0 && config->in_start)
		rc = config->in_start(config->in_start_ctx, t);
	if (rc == 0)
		rc = load_memory(s, t, &urls, &n_urls, &peers, &n_peers);
	if (rc == 0 && !config->listen && n_urls == 0 && n_peers == 0 && !config->dht) {
		/* Nothing to serve, nobody to ask: no network at all. */
		rc = mfs_vtxn_commit(t);
		free_strings(urls, n_urls);
		free_strings(peers, n_peers);
		mfs_swarm_stop(s);
		return rc < 0 ? rc : 0;
	}
	s->sk = mfs_secure_alloc(MFS_NOISE_KEY_BYTES);
	if (rc == 0)
		rc = s->sk ? mfs_node_identity(t, s->sk) : -ENOMEM;
	if (t)
		rc = rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), rc);
	if (rc == 0)
		rc = mfs_store_source_new(&s->source, config->vol, config->cache);
	if (rc == 0)
		rc = mfs_loop_start(&s->loop);
	if (rc == 0)
		rc = start_pt(s, 0, n_peers);
	if (rc == 0) {
		int behind_pt = config->pt_path && config->listen;
		struct mfs_node_config nc = {
			.static_sk = s->sk,
			/* Behind a PT every peer comes from 127.0.0.1: one range. */
			.listen = behind_pt ? "127.0.0.1:0" : config->listen,
			.max_per_range = behind_pt ? 64 : 0,
			.source = s->source,
			.fetch_timeout_ms = config->fetch_timeout_ms,
			.proxy = s->pt.client ? s->pt.proxy : config->proxy,
			.proxy_takes_bridge_args = s->pt.client != NULL,
			.tls = config->tls,
			.log = config->proxy || s->pt.client ? node_log : NULL,
			.log_ctx = s,
			.learnt_key = on_learnt_key,
			.learnt_key_ctx = s,
			.fetched = config->cache ? keep_fetched : NULL,
			.fetched_ctx = config->cache,
		};
		rc = mfs_node_start(&s->node, s->loop, &nc);
		if (rc < 0)
			say(s, "cannot listen on %s: %s", nc.listen, mfs_strerror(rc));
	}
	if (rc == 0)
		rc = start_pt(s, 1, n_peers);
	if (rc == 0)
		rc = add_peers(s, peers, n_peers);
	if (rc == 0 && s->plain_trackers_skipped)
		say(s, "%u remembered ws:// tracker%s skipped: only wss:// ones are dialled in this "
		    "mode (megafs channel forget LINK URL forgets one)", s->plain_trackers_skipped,
		    s->plain_trackers_skipped == 1 ? "" : "s");
	if (rc == 0 && config->pt_path && n_urls) {
		say(s, "trackers are not used with --transport %s: a tracker cannot name a "
		    "bridge's arguments, and would be reached around the transport",
		    config->pt_transport);
		free_strings(urls, n_urls);
		urls = NULL;
		n_urls = 0;
	}
	if (rc == 0)
		rc = mfs_loop_add_hook(s->loop, stop_trackers_hook, s);
	/* Discovery: the remembered and given peers (dialled above), the DHT,
	 * then the trackers; they run at once, and any one suffices. */
	if (rc == 0 && config->dht)
		rc = start_dht(s);
	if (rc == 0) {
		struct start_trackers_job j = {s, (const char *const *)urls, n_urls};
		rc = mfs_loop_call(s->loop, start_trackers_on_loop, &j);
	}
	free_strings(urls, n_urls);
	free_strings(peers, n_peers);
	if (rc < 0) {
		mfs_swarm_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* The peers met, for the next start. Failure only costs that memory. */
static void save_memory(struct mfs_swarm *s)
{
	struct mfs_vtxn *t;

	if (!s->n_peers || mfs_vtxn_begin(s->cfg.vol, 1, &t) < 0)
		return;
	for (size_t i = 0; i < s->cfg.n_channels; i++) {
		json_t *root = memory_load(t, s->cfg.channels[i]);
		for (size_t p = s->n_peers; p-- > 0;)
			if (strchr(s->peers[p], '#'))
				remember(root, "peers", s->peers[p], MAX_REMEMBERED_PEERS);
		memory_store(t, s->cfg.channels[i], root);
		json_decref(root);
	}
	if (mfs_vtxn_commit(t) < 0)
		say(s, "the peers met could not be remembered");
}

void mfs_swarm_stop(struct mfs_swarm *s)
{
	if (!s)
		return;
	/* The node is shut down first (its fetches fail at once) but freed
	 * only once the loop stopped: tracker and DHT callbacks until the
	 * stop hooks, and the DHT's fetch jobs on the thread pool, may still
	 * reach it. */
	mfs_node_shutdown(s->node);
	mfs_loop_stop(s->loop); /* runs stop_trackers_hook; waits for accept jobs */
	mfs_node_stop(s->node);
	mfs_swarm_pt_stop(&s->pt);
	mfs_swarm_dht_free(s->dht);
	if (s->loop)
		save_memory(s);
	mfs_store_source_free(&s->source);
	mfs_secure_free(s->sk);
	for (size_t i = 0; i < MAX_SOURCES; i++) {
		for (size_t c = 0; s->trackers[i].waiting && c < s->cfg.n_channels; c++)
			free(s->trackers[i].waiting[c].json);
		free(s->trackers[i].waiting);
	}
	free(s->inbox);
	pthread_cond_destroy(&s->manifest_stored);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- for readers and publishers ---- */

int mfs_swarm_fetch(struct mfs_swarm *s, const uint8_t id[static MFS_BLOB_ID_BYTES],
		    int urgent, uint8_t **blob, size_t *len)
{
	return mfs_node_fetch(s->node, id, urgent, blob, len);
}

int mfs_swarm_fetch_segment(struct mfs_swarm *s, const uint8_t id[static MFS_BLOB_ID_BYTES],
			    int urgent, uint32_t index, uint8_t *out, size_t cap, size_t *len)
{
	return mfs_node_fetch_segment(s->node, id, urgent, index, out, cap, len);
}

int mfs_swarm_fetcher(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		      uint8_t **blob, size_t *len)
{
	return mfs_swarm_fetch(ctx, id, urgent, blob, len);
}

struct publish_job {
	struct mfs_swarm *swarm;
	char *json;
	size_t len;
};

static void publish_on_loop(void *arg)
{
	struct publish_job *j = arg;

	for (size_t i = 0; i < j->swarm->n_trackers; i++)
		if (j->swarm->trackers[i].client)
			mfs_tracker_client_publish(j->swarm->trackers[i].client, j->json, j->len);
	free(j->json);
	free(j);
}

void mfs_swarm_publish(struct mfs_swarm *s, const char *json, size_t len)
{
	struct publish_job *j = malloc(sizeof *j);

	if (!j || !(j->json = malloc(len ? len : 1))) {
		free(j);
		say(s, "a publication could not be sent to the trackers: out of memory");
		return;
	}
	memcpy(j->json, json, len);
	j->len = len;
	j->swarm = s;
	if (mfs_loop_post(s->loop, publish_on_loop, j) != 0) {
		free(j->json);
		free(j);
	}
	mfs_swarm_dht_kick(s->dht);
}

static int have_manifest(struct mfs_swarm *s, const uint8_t *pk)
{
	struct mfs_vtxn *t;
	char *json = NULL;
	size_t len;
	int rc;

	if (mfs_vtxn_begin(s->cfg.vol, 0, &t) < 0)
		return 0;
	rc = mfs_channel_manifest(t, pk, &json, &len);
	mfs_vtxn_abort(t);
	free(json);
	return rc == 0;
}

void mfs_swarm_publish_owned(struct mfs_swarm *s)
{
	for (size_t ci = 0; ci < s->cfg.n_channels; ci++) {
		struct mfs_channel ch;
		struct mfs_vtxn *t;
		char *json = NULL;
		size_t len = 0;
		int rc = mfs_channel_find(s->cfg.vol, s->cfg.channels[ci], &ch, NULL);

		if (rc != 0 || !ch.owned || mfs_vtxn_begin(s->cfg.vol, 0, &t) != 0)
			continue;
		rc = mfs_channel_manifest(t, s->cfg.channels[ci], &json, &len);
		mfs_vtxn_abort(t);
		if (rc == 0)
			mfs_swarm_publish(s, json, len);
		free(json);
	}
}

/* 1 when the newest manifest of pk a tracker pushed was refused for want of
 * a key (under s->lock). */
static int no_key(struct mfs_swarm *s, const uint8_t *pk)
{
	for (size_t ci = 0; ci < s->cfg.n_channels; ci++)
		if (memcmp(s->cfg.channels[ci], pk, MFS_SIGN_PK_BYTES) == 0)
			return s->inbox[ci].no_key;
	return 0;
}

int mfs_swarm_wait_manifest(struct mfs_swarm *s, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			    unsigned timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	/* No tracker and no DHT: nothing could bring one, so no wait. */
	if (s->n_trackers == 0)
		return have_manifest(s, pk) ? 0 : -ETIMEDOUT;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t seen = s->manifests_stored;
		pthread_mutex_unlock(&s->lock);
		if (have_manifest(s, pk))
			return 0;
		pthread_mutex_lock(&s->lock);
		while (rc == 0 && seen == s->manifests_stored && !no_key(s, pk) &&
		       !s->trackers_refused)
			rc = pthread_cond_timedwait(&s->manifest_stored, &s->lock, &deadline);
		if (rc == 0 && no_key(s, pk)) {
			pthread_mutex_unlock(&s->lock);
			return MFS_E_NOKEY;
		}
		if (rc == 0 && s->trackers_refused) {
			pthread_mutex_unlock(&s->lock);
			return have_manifest(s, pk) ? 0 : MFS_E_PROXY;
		}
		if (rc != 0)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return have_manifest(s, pk) ? 0 : -ETIMEDOUT;
}

uint16_t mfs_swarm_port(const struct mfs_swarm *s)
{
	return s->pt.server ? mfs_pt_port(s->pt.server) : mfs_node_port(s->node);
}

int mfs_swarm_bridge_line(const struct mfs_swarm *s, char *out, size_t cap)
{
	char at[MFS_HOSTPORT_TEXT_MAX], key[2 * MFS_NOISE_KEY_BYTES + 1];
	const char *args;

	if (!s->pt.server)
		return -ENOENT;
	args = mfs_pt_args(s->pt.server);
	mfs_hostport_format(at, sizeof at, mfs_pt_host(s->pt.server), mfs_pt_port(s->pt.server));
	mfs_hex_encode(key, mfs_node_public_key(s->node), MFS_NOISE_KEY_BYTES);
	return snprintf(out, cap, "%s#%s%s%s", at, key, *args ? ";" : "", args) >= (int)cap ?
		       -ENOBUFS : 0;
}

const uint8_t *mfs_swarm_node_key(const struct mfs_swarm *s)
{
	return mfs_node_public_key(s->node);
}

void mfs_swarm_stats(struct mfs_swarm *s, struct mfs_node_stats *out)
{
	mfs_node_stats(s->node, out);
}

void mfs_swarm_manifest_stats(struct mfs_swarm *s, struct mfs_swarm_manifest_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->mstats;
	pthread_mutex_unlock(&s->lock);
}
