#include "net/webtorrent.h"

#include <errno.h>
#include <jansson.h>
#include <search.h> /* tsearch, tfind, tdelete: balanced trees, no hash to flood */
#include <stdlib.h>
#include <string.h>

#include "net/tracker_proto.h"

#define DEFAULT_PER_RANGE_IN_TORRENT 8
#define DEFAULT_PER_CONN 256
#define DEFAULT_INTERVAL 120 /* bittorrent-tracker's for WebSocket clients */

struct record {
	uint8_t peer_id[MFS_WT_ID_BYTES];
	struct mfs_wt_conn *state;
	uint8_t range[MFS_ADDR_RANGE_BYTES];
	int seed;
};

struct torrent {
	uint8_t info_hash[MFS_WT_ID_BYTES];
	struct record *recs;
	size_t n, cap;
};

/* A connection's records: one entry per record (clients in one process
 * share a connection, so it may hold several peer_ids of one torrent). */
struct mfs_wt_conn {
	void *conn;
	struct torrent **joined;
	size_t n, cap;
};

struct mfs_webtorrent {
	struct mfs_webtorrent_config cfg;
	void *torrents;
};

/* One announce, read. */
struct announce {
	uint8_t info_hash[MFS_WT_ID_BYTES], peer_id[MFS_WT_ID_BYTES];
	uint8_t to_peer_id[MFS_WT_ID_BYTES], offer_id[MFS_WT_ID_BYTES];
	int stopped, seed;
	json_t *offers;               /* borrowed from the message, or NULL */
	json_t *answer;               /* borrowed, or NULL */
};

static int torrent_cmp(const void *a, const void *b)
{
	return memcmp(((const struct torrent *)a)->info_hash, ((const struct torrent *)b)->info_hash,
		      MFS_WT_ID_BYTES);
}

int mfs_webtorrent_new(struct mfs_webtorrent **out, const struct mfs_webtorrent_config *cfg)
{
	struct mfs_webtorrent *wt = calloc(1, sizeof *wt);

	*out = NULL;
	if (!wt)
		return -ENOMEM;
	wt->cfg = *cfg;
	if (!wt->cfg.per_range_in_torrent)
		wt->cfg.per_range_in_torrent = DEFAULT_PER_RANGE_IN_TORRENT;
	if (!wt->cfg.per_conn)
		wt->cfg.per_conn = DEFAULT_PER_CONN;
	if (!wt->cfg.interval)
		wt->cfg.interval = DEFAULT_INTERVAL;
	*out = wt;
	return 0;
}

static void torrent_free(void *p)
{
	struct torrent *t = p;

	free(t->recs);
	free(t);
}

void mfs_webtorrent_free(struct mfs_webtorrent *wt)
{
	if (!wt)
		return;
	tdestroy(wt->torrents, torrent_free);
	free(wt);
}

size_t mfs_webtorrent_joined(const struct mfs_wt_conn *state)
{
	return state ? state->n : 0;
}

/* ---- binary strings: 20 characters U+0000..U+00FF, one a byte ---------- */

static int binary_of(uint8_t out[static MFS_WT_ID_BYTES], const json_t *v)
{
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	size_t len = json_string_length(v), n = 0;

	if (!s)
		return -1;
	for (size_t i = 0; i < len; n++) {
		if (n == MFS_WT_ID_BYTES)
			return -1;
		if (s[i] < 0x80) {
			out[n] = s[i++];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len &&
			   (s[i + 1] & 0xc0) == 0x80) {
			out[n] = (uint8_t)((s[i] & 0x03) << 6 | (s[i + 1] & 0x3f));
			i += 2;
		} else {
			return -1; /* a character above U+00FF */
		}
	}
	return n == MFS_WT_ID_BYTES ? 0 : -1;
}

static json_t *binary_json(const uint8_t in[static MFS_WT_ID_BYTES])
{
	char s[2 * MFS_WT_ID_BYTES];
	size_t n = 0;

	for (size_t i = 0; i < MFS_WT_ID_BYTES; i++) {
		if (in[i] < 0x80) {
			s[n++] = (char)in[i];
		} else {
			s[n++] = (char)(0xc0 | in[i] >> 6);
			s[n++] = (char)(0x80 | (in[i] & 0x3f));
		}
	}
	return json_stringn(s, n);
}

/* ---- sending -------------------------------------------------------------- */

/* Sends obj (taken) to conn. -ENOMEM when it could not be written. */
static int send_obj(struct mfs_webtorrent *wt, void *conn, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(obj);
	if (!text)
		return -ENOMEM;
	wt->cfg.send(conn, text, strlen(text));
	return 0;
}

/* {"action":action,"failure reason":reason,"info_hash":..}, as
 * bittorrent-tracker refuses. */
static int send_failure(struct mfs_webtorrent *wt, void *conn, const char *action,
			const uint8_t *info_hash, const char *reason)
{
	json_t *o = json_object();

	if (o) {
		json_object_set_new(o, "action", json_string(action));
		json_object_set_new(o, "info_hash", binary_json(info_hash));
		json_object_set_new(o, "failure reason", json_string(reason));
	}
	return send_obj(wt, conn, o);
}

/* {"action":"announce","info_hash":..,"peer_id":from, key: value,
 * "offer_id":..} to conn: a relayed offer or answer. */
static int relay(struct mfs_webtorrent *wt, void *conn, const struct announce *a,
		 const char *key, json_t *value, const json_t *offer_id)
{
	json_t *o = json_object();

	if (o) {
		json_object_set_new(o, "action", json_string("announce"));
		json_object_set_new(o, "info_hash", binary_json(a->info_hash));
		json_object_set_new(o, "peer_id", binary_json(a->peer_id));
		json_object_set(o, key, value);
		json_object_set(o, "offer_id", (json_t *)offer_id);
	}
	return send_obj(wt, conn, o);
}

/* ---- swarms ---------------------------------------------------------------- */

static struct torrent *torrent_get(struct mfs_webtorrent *wt, const uint8_t *info_hash,
				   int create)
{
	struct torrent probe, *t, **found;

	memcpy(probe.info_hash, info_hash, MFS_WT_ID_BYTES);
	if ((found = tfind(&probe, &wt->torrents, torrent_cmp)))
		return *found;
	if (!create || !(t = calloc(1, sizeof *t)))
		return NULL;
	memcpy(t->info_hash, info_hash, MFS_WT_ID_BYTES);
	if (!tsearch(t, &wt->torrents, torrent_cmp)) {
		free(t);
		return NULL;
	}
	return t;
}

/* The record of peer_id in t, or NULL; state: the connection's, or NULL
 * for any connection's. */
static struct record *record_of(struct torrent *t, const struct mfs_wt_conn *state,
				const uint8_t *peer_id)
{
	for (size_t i = 0; i < t->n; i++)
		if ((!state || t->recs[i].state == state) &&
		    memcmp(t->recs[i].peer_id, peer_id, MFS_WT_ID_BYTES) == 0)
			return &t->recs[i];
	return NULL;
}

static void drop_if_empty(struct mfs_webtorrent *wt, struct torrent *t)
{
	if (t->n == 0) {
		tdelete(t, &wt->torrents, torrent_cmp);
		torrent_free(t);
	}
}

/* The record of state and peer_id leaves t; t goes when empty. */
static void leave(struct mfs_webtorrent *wt, struct mfs_wt_conn *state, struct torrent *t,
		  const uint8_t *peer_id)
{
	struct record *r = record_of(t, state, peer_id);

	if (!r)
		return;
	*r = t->recs[--t->n];
	for (size_t i = 0; i < state->n; i++)
		if (state->joined[i] == t) {
			state->joined[i] = state->joined[--state->n];
			break;
		}
	drop_if_empty(wt, t);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap ? 2 * *cap : 4;
	void *p;

	if (n < *cap)
		return 0;
	if (!(p = realloc(*arr, ncap * elem)))
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Adds (or refreshes) state's record in t. 0, -EPERM (state is in as many
 * swarms as allowed), -EDQUOT (t holds as many of range), -EEXIST (the
 * peer_id is another connection's in t), -ENOMEM. */
static int join(struct mfs_webtorrent *wt, struct mfs_wt_conn *state, struct torrent *t,
		const uint8_t *range, const struct announce *a)
{
	struct record *r = record_of(t, NULL, a->peer_id);
	size_t in_range = 0;

	if (r && r->state != state)
		return -EEXIST;
	for (size_t i = 0; i < t->n; i++)
		in_range += memcmp(t->recs[i].range, range, MFS_ADDR_RANGE_BYTES) == 0;
	if (!r) {
		if (state->n >= wt->cfg.per_conn)
			return -EPERM;
		if (in_range >= wt->cfg.per_range_in_torrent)
			return -EDQUOT;
		if (grow((void **)&t->recs, &t->cap, t->n, sizeof *t->recs) != 0 ||
		    grow((void **)&state->joined, &state->cap, state->n, sizeof *state->joined) != 0)
			return -ENOMEM;
		r = &t->recs[t->n++];
		r->state = state;
		memcpy(r->range, range, MFS_ADDR_RANGE_BYTES);
		state->joined[state->n++] = t;
	}
	memcpy(r->peer_id, a->peer_id, MFS_WT_ID_BYTES);
	r->seed = a->seed;
	return 0;
}

void mfs_webtorrent_leave(struct mfs_webtorrent *wt, struct mfs_wt_conn *state)
{
	if (!state)
		return;
	while (state->n > 0) {
		struct torrent *t = state->joined[--state->n];

		for (size_t i = 0; i < t->n;)
			if (t->recs[i].state == state)
				t->recs[i] = t->recs[--t->n];
			else
				i++;
		for (size_t i = 0; i < state->n;) /* its other records in t are gone too */
			if (state->joined[i] == t)
				state->joined[i] = state->joined[--state->n];
			else
				i++;
		drop_if_empty(wt, t);
	}
	free(state->joined);
	free(state);
}

/* ---- messages --------------------------------------------------------------- */

/* Reads an announce's fields. NULL, or the reason it is refused. */
static const char *read_announce(struct announce *a, json_t *msg)
{
	json_t *event = json_object_get(msg, "event"), *left = json_object_get(msg, "left");
	json_t *offers = json_object_get(msg, "offers"), *answer = json_object_get(msg, "answer");
	uint8_t id[MFS_WT_ID_BYTES];

	if (binary_of(a->peer_id, json_object_get(msg, "peer_id")) != 0)
		return "invalid peer_id";
	if (event && !json_is_string(event))
		return "invalid event";
	a->stopped = event && strcmp(json_string_value(event), "stopped") == 0;
	a->seed = json_is_integer(left) && json_integer_value(left) == 0;
	if (offers) {
		if (!json_is_array(offers))
			return "invalid offers";
		if (json_array_size(offers) > MFS_WT_MAX_OFFERS)
			return "too many offers (at most 10)";
		for (size_t i = 0; i < json_array_size(offers); i++) {
			json_t *o = json_array_get(offers, i);

			if (!json_is_object(json_object_get(o, "offer")) ||
			    binary_of(id, json_object_get(o, "offer_id")) != 0)
				return "invalid offer";
		}
		a->offers = offers;
	}
	if (answer) {
		if (!json_is_object(answer))
			return "invalid answer";
		if (binary_of(a->to_peer_id, json_object_get(msg, "to_peer_id")) != 0)
			return "invalid `to_peer_id` (required with `answer`)";
		if (binary_of(a->offer_id, json_object_get(msg, "offer_id")) != 0)
			return "invalid offer_id";
		a->answer = answer;
	}
	return NULL;
}

/* Relays each offer to one other peer of t, mixed across ranges. */
static int relay_offers(struct mfs_webtorrent *wt, struct torrent *t,
			const struct mfs_wt_conn *from, const struct announce *a)
{
	size_t n = t->n, pick[MFS_WT_MAX_OFFERS], npick = 0;
	const uint8_t **range = malloc((n + 1) * sizeof *range);
	uint8_t *skip = malloc(n + 1);
	int rc = -ENOMEM;

	if (range && skip) {
		for (size_t i = 0; i < n; i++) {
			range[i] = t->recs[i].range;
			skip[i] = t->recs[i].state == from; /* not to itself, whatever its peer_id */
		}
		rc = mfs_addr_mix(pick, &npick, json_array_size(a->offers), n, range, skip);
	}
	/* sending never touches t: the picks stay valid */
	for (size_t i = 0; rc == 0 && i < npick; i++) {
		json_t *o = json_array_get(a->offers, i);

		rc = relay(wt, t->recs[pick[i]].state->conn, a, "offer", json_object_get(o, "offer"),
			   json_object_get(o, "offer_id"));
	}
	free(range);
	free(skip);
	return rc;
}

static int do_announce(struct mfs_webtorrent *wt, struct mfs_wt_conn **state, void *conn,
		       const uint8_t *range, json_t *msg, struct announce *a)
{
	const char *why = read_announce(a, msg);
	struct torrent *t;
	json_t *reply;
	size_t complete = 0;
	int rc;

	if (why)
		return send_failure(wt, conn, "announce", a->info_hash, why);
	if (!*state) {
		if (!(*state = calloc(1, sizeof **state)))
			return -ENOMEM;
		(*state)->conn = conn;
	}
	if (!(t = torrent_get(wt, a->info_hash, !a->stopped))) {
		if (!a->stopped)
			return -ENOMEM;
	} else if (a->stopped) {
		leave(wt, *state, t, a->peer_id);
		t = torrent_get(wt, a->info_hash, 0);
	} else if ((rc = join(wt, *state, t, range, a)) != 0) {
		char text[96];

		drop_if_empty(wt, t); /* made just now */
		if (rc == -ENOMEM)
			return rc;
		if (rc == -EEXIST)
			return send_failure(wt, conn, "announce", a->info_hash,
					    "peer_id already in this swarm on another connection");
		if (rc == -EPERM)
			snprintf(text, sizeof text, "at most %u torrents per connection",
				 wt->cfg.per_conn);
		else
			snprintf(text, sizeof text,
				 "at most %u peers of one torrent from one address range",
				 wt->cfg.per_range_in_torrent);
		return send_failure(wt, conn, "announce", a->info_hash, text);
	}
	if (a->answer) {
		for (size_t i = 0; t && i < t->n; i++)
			if (memcmp(t->recs[i].peer_id, a->to_peer_id, MFS_WT_ID_BYTES) == 0) {
				json_t *offer_id = binary_json(a->offer_id);

				rc = relay(wt, t->recs[i].state->conn, a, "answer", a->answer,
					   offer_id);
				json_decref(offer_id);
				return rc;
			}
		return 0; /* the offerer is gone: as bittorrent-tracker, say nothing */
	}
	for (size_t i = 0; t && i < t->n; i++)
		complete += t->recs[i].seed != 0;
	reply = json_object();
	if (reply) {
		json_object_set_new(reply, "action", json_string("announce"));
		json_object_set_new(reply, "info_hash", binary_json(a->info_hash));
		json_object_set_new(reply, "interval", json_integer(wt->cfg.interval));
		json_object_set_new(reply, "complete", json_integer((json_int_t)complete));
		json_object_set_new(reply, "incomplete",
				    json_integer((json_int_t)((t ? t->n : 0) - complete)));
	}
	if ((rc = send_obj(wt, conn, reply)) != 0 || !a->offers || !t || a->stopped)
		return rc;
	return relay_offers(wt, t, *state, a);
}

int mfs_webtorrent_handle(struct mfs_webtorrent *wt, struct mfs_wt_conn **state, void *conn,
			  const uint8_t range[static MFS_ADDR_RANGE_BYTES], const char *text,
			  size_t len)
{
	struct announce a;
	json_t *msg, *action, *info_hash;
	int rc = 0;

	if (len > MFS_WT_MESSAGE_MAX || mfs_tracker_shape_check(text, len, NULL, 0) != 0)
		return 0;
	if (!(msg = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL)))
		return 0;
	action = json_object_get(msg, "action");
	info_hash = json_object_get(msg, "info_hash");
	memset(&a, 0, sizeof a);
	/* WebTorrent's: an info_hash of 20 characters (megafs's have 64) */
	if (!json_is_string(action) || binary_of(a.info_hash, info_hash) != 0 ||
	    (strcmp(json_string_value(action), "announce") != 0 &&
	     strcmp(json_string_value(action), "scrape") != 0))
		goto done;
	rc = 1;
	if (strcmp(json_string_value(action), "scrape") == 0) {
		if (send_failure(wt, conn, "scrape", a.info_hash,
				 "scrape is not served by this tracker") != 0)
			rc = -ENOMEM;
	} else if (do_announce(wt, state, conn, range, msg, &a) != 0) {
		rc = -ENOMEM;
	}
done:
	json_decref(msg);
	return rc;
}
