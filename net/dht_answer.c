/* The node's answers to queries (the server half of net/dht.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_int.h"

#define PEERS_ANSWERED 100 /* peers one get_peers answer offers at most, before trimming */

/* BEP 5 and BEP 44 error codes. */
enum {
	E_SERVER = 202,
	E_PROTOCOL = 203,
	E_METHOD = 204,
	E_SIGNATURE = 206,
	E_CAS = 301,
	E_SEQ = 302,
};

static void track_ratio(struct mfs_dht *d, size_t out_len, size_t q_len)
{
	size_t ratio = out_len * 100 / q_len;

	if (ratio > d->stats.largest_ratio_x100)
		d->stats.largest_ratio_x100 = ratio;
}

static void send_error(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		       const struct sockaddr *from, int code, const char *text)
{
	struct mfs_krpc_msg e = {.kind = 'e', .tid = q->tid, .tid_len = q->tid_len,
				 .error_code = code, .error_msg = (const uint8_t *)text,
				 .error_msg_len = strlen(text)};
	uint8_t out[MFS_KRPC_MSG_MAX];
	size_t len;

	d->stats.refused++;
	/* An error is shorter than any query it answers, but check as for any answer. */
	if (mfs_krpc_encode(out, sizeof out, &len, &e) == 0 &&
	    len <= MFS_DHT_AMPLIFICATION * q_len) {
		track_ratio(d, len, q_len);
		(void)mfs_dht__send(d, out, len, from);
	}
}

/* A compact list of the nodes nearest target in from's family. */
static size_t nodes_for(const struct mfs_dht *d, const uint8_t *target, int family,
			uint8_t out[static MFS_DHT_K * MFS_KRPC_NODE6_BYTES])
{
	struct mfs_krpc_node near[4 * MFS_DHT_K];
	size_t n = mfs_dht_table_closest(d->table, target, near, 4 * MFS_DHT_K), len = 0, taken = 0;

	for (size_t i = 0; i < n && taken < MFS_DHT_K; i++) {
		if (near[i].family != family)
			continue;
		len += mfs_krpc_node_put(out + len, &near[i]);
		taken++;
	}
	return len;
}

/* The peers list of a get_peers answer, as the parsed list krpc writes. */
struct peer_list {
	uint8_t enc[PEERS_ANSWERED * (3 + MFS_KRPC_PEER6_BYTES) + 2];
	struct mfs_bnode nodes[PEERS_ANSWERED + 1];
};

static const struct mfs_bnode *make_values(struct peer_list *pl, const struct mfs_dht_peer *peers,
					   size_t n)
{
	struct mfs_benc_w w;
	size_t len, count;

	mfs_benc_w_init(&w, pl->enc, sizeof pl->enc);
	mfs_benc_w_list(&w);
	for (size_t i = 0; i < n; i++) {
		uint8_t one[MFS_KRPC_PEER6_BYTES];
		size_t ip_len = peers[i].family == 4 ? 4 : 16;

		memcpy(one, peers[i].ip, ip_len);
		one[ip_len] = (uint8_t)(peers[i].port >> 8);
		one[ip_len + 1] = (uint8_t)peers[i].port;
		mfs_benc_w_str(&w, one, ip_len + 2);
	}
	mfs_benc_w_end(&w);
	if (mfs_benc_w_finish(&w, &len) != 0 ||
	    mfs_benc_parse_into(pl->nodes, n + 1, &count, pl->enc, len, 2, NULL, 0) != 0)
		return NULL;
	return pl->nodes;
}

/* Sends r, leaving out nodes, then peers, then the value until it is at
 * most MFS_DHT_AMPLIFICATION times the query's size. */
static void send_reply(struct mfs_dht *d, struct mfs_krpc_msg *r, size_t q_len,
		       const struct sockaddr *from, struct peer_list *pl,
		       const struct mfs_dht_peer *peers, size_t n_peers)
{
	uint8_t out[MFS_KRPC_MSG_MAX];
	size_t len;

	for (;;) {
		int rc = mfs_krpc_encode(out, sizeof out, &len, r);

		if (rc == 0 && len <= MFS_DHT_AMPLIFICATION * q_len)
			break;
		if (rc != 0 && rc != -ENOBUFS)
			return;
		if (r->nodes_len > 0) {
			r->nodes_len = r->nodes_len / MFS_KRPC_NODE4_BYTES / 2 * MFS_KRPC_NODE4_BYTES;
			r->nodes = r->nodes_len ? r->nodes : NULL;
		} else if (r->nodes6_len > 0) {
			r->nodes6_len = r->nodes6_len / MFS_KRPC_NODE6_BYTES / 2 *
					MFS_KRPC_NODE6_BYTES;
			r->nodes6 = r->nodes6_len ? r->nodes6 : NULL;
		} else if (r->values && n_peers > 1) {
			n_peers /= 2;
			r->values = make_values(pl, peers, n_peers);
		} else if (r->values) {
			r->values = NULL;
		} else if (r->v) {
			r->v = NULL; /* seq stays: the getter learns there is an item */
			r->k = NULL;
			r->sig = NULL;
		} else {
			return; /* nothing left to leave out */
		}
	}
	d->stats.answered++;
	track_ratio(d, len, q_len);
	(void)mfs_dht__send(d, out, len, from);
}

static int family_of(const struct sockaddr *from)
{
	return from->sa_family == AF_INET6 ? 6 : 4;
}

static void set_nodes(const struct mfs_dht *d, struct mfs_krpc_msg *r, const uint8_t *target,
		      const struct sockaddr *from, uint8_t *buf)
{
	size_t len = nodes_for(d, target, family_of(from), buf);

	if (family_of(from) == 6) {
		r->nodes6 = buf;
		r->nodes6_len = len;
	} else {
		r->nodes = buf;
		r->nodes_len = len;
	}
}

/* A write: token for target from `from`, then the address's rate. 0, or
 * the error already sent. */
static int check_write(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		       const struct sockaddr *from, const uint8_t *target)
{
	if (mfs_dht_token_check(d->tokens, from, target, q->token, q->token_len) != 0) {
		send_error(d, q, q_len, from, E_PROTOCOL, "bad token");
		return -1;
	}
	if (mfs_dht_store_charge(d->store, from, mfs_dht__now(d)) != 0) {
		send_error(d, q, q_len, from, E_SERVER, "too many writes, try later");
		return -1;
	}
	return 0;
}

static void answer_announce(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
			    const struct sockaddr *from, struct mfs_krpc_msg *r)
{
	struct mfs_krpc_node who;
	struct mfs_dht_peer peer = {0};
	int rc;

	if (check_write(d, q, q_len, from, q->info_hash) != 0)
		return;
	mfs_dht__contact(&who, q->id, from);
	peer.family = who.family;
	memcpy(peer.ip, who.ip, sizeof peer.ip);
	peer.port = q->implied_port ? who.port : q->port;
	if (peer.port == 0) {
		send_error(d, q, q_len, from, E_PROTOCOL, "port 0");
		return;
	}
	rc = mfs_dht_store_announce(d->store, q->info_hash, &peer, mfs_dht__now(d));
	if (rc != 0) {
		send_error(d, q, q_len, from, E_SERVER, "peer store full");
		return;
	}
	send_reply(d, r, q_len, from, NULL, NULL, 0);
}

static void answer_put(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		       const struct sockaddr *from, struct mfs_krpc_msg *r)
{
	struct mfs_dht_mutable item = {.salt = q->salt, .salt_len = q->salt_len, .seq = q->seq,
				       .v = q->v, .v_len = q->v_len};
	uint8_t target[MFS_DHT_TARGET_BYTES];
	uint64_t now = mfs_dht__now(d);
	int rc = q->k ? mfs_dht_item_mutable_target(target, q->k, q->salt, q->salt_len)
		      : mfs_dht_item_immutable_target(target, q->v, q->v_len);

	if (rc != 0) {
		send_error(d, q, q_len, from, E_PROTOCOL, "bad item");
		return;
	}
	if (check_write(d, q, q_len, from, target) != 0)
		return;
	if (!q->k) {
		rc = mfs_dht_store_put_immutable(d->store, target, q->v, q->v_len, now);
	} else if (mfs_dht_item_verify(q->sig, &item, q->k) != 0) {
		send_error(d, q, q_len, from, E_SIGNATURE, "invalid signature");
		return;
	} else {
		rc = mfs_dht_store_put_mutable(d->store, target, q->k, q->sig, &item, q->has_cas,
					       q->cas, now);
	}
	if (rc == MFS_E_CAS)
		send_error(d, q, q_len, from, E_CAS, "CAS mismatch");
	else if (rc == MFS_E_REPLAY)
		send_error(d, q, q_len, from, E_SEQ, "sequence number less than current");
	else if (rc != 0)
		send_error(d, q, q_len, from, E_SERVER, "item store full");
	else
		send_reply(d, r, q_len, from, NULL, NULL, 0);
}

static void answer_get(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		       const struct sockaddr *from, struct mfs_krpc_msg *r, uint8_t *token,
		       uint8_t *nodes)
{
	const struct mfs_dht_stored *it = mfs_dht_store_get(d->store, q->target);

	if (mfs_dht_token_make(token, d->tokens, from, q->target) == 0) {
		r->token = token;
		r->token_len = MFS_DHT_TOKEN_BYTES;
	}
	set_nodes(d, r, q->target, from, nodes);
	if (it && it->is_mutable) {
		r->has_seq = 1;
		r->seq = it->seq;
		/* BEP 44: a getter that names a seq wants the value only when newer. */
		if (!q->has_seq || it->seq > q->seq) {
			r->k = it->k;
			r->sig = it->sig;
			r->v = it->v;
			r->v_len = it->v_len;
		}
	} else if (it) {
		r->v = it->v;
		r->v_len = it->v_len;
	}
	send_reply(d, r, q_len, from, NULL, NULL, 0);
}

static void answer_get_peers(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
			     const struct sockaddr *from, struct mfs_krpc_msg *r, uint8_t *token,
			     uint8_t *nodes)
{
	struct peer_list pl;
	struct mfs_dht_peer peers[PEERS_ANSWERED];
	size_t n = mfs_dht_store_peers(d->store, q->info_hash, family_of(from), peers,
				       PEERS_ANSWERED);

	if (mfs_dht_token_make(token, d->tokens, from, q->info_hash) == 0) {
		r->token = token;
		r->token_len = MFS_DHT_TOKEN_BYTES;
	}
	set_nodes(d, r, q->info_hash, from, nodes);
	if (n > 0)
		r->values = make_values(&pl, peers, n);
	send_reply(d, r, q_len, from, &pl, peers, n);
}

void mfs_dht__answer(struct mfs_dht *d, const struct mfs_krpc_msg *q, size_t q_len,
		     const struct sockaddr *from)
{
	struct mfs_krpc_msg r = {.kind = 'r', .tid = q->tid, .tid_len = q->tid_len, .id = d->id};
	uint8_t token[MFS_DHT_TOKEN_BYTES], nodes[MFS_DHT_K * MFS_KRPC_NODE6_BYTES];

	if (from->sa_family != AF_INET && from->sa_family != AF_INET6)
		return;
	switch (q->method) {
	case MFS_KRPC_PING:
		send_reply(d, &r, q_len, from, NULL, NULL, 0);
		break;
	case MFS_KRPC_FIND_NODE:
		set_nodes(d, &r, q->target, from, nodes);
		send_reply(d, &r, q_len, from, NULL, NULL, 0);
		break;
	case MFS_KRPC_GET_PEERS:
		answer_get_peers(d, q, q_len, from, &r, token, nodes);
		break;
	case MFS_KRPC_ANNOUNCE_PEER:
		answer_announce(d, q, q_len, from, &r);
		break;
	case MFS_KRPC_GET:
		answer_get(d, q, q_len, from, &r, token, nodes);
		break;
	case MFS_KRPC_PUT:
		answer_put(d, q, q_len, from, &r);
		break;
	default:
		send_error(d, q, q_len, from, E_METHOD, "Method Unknown");
	}
}
