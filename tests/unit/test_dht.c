/* net/dht: the node. Its answers are checked datagram by datagram (no
 * socket: mfs_dht_receive in, the `sent` hook out, a clock the test
 * moves): read-only nodes (BEP 43) left out of the routing table,
 * write tokens bound to the asker's address, expiry after two
 * hours, malformed datagrams dropped, no answer more than
 * MFS_DHT_AMPLIFICATION times its query. Its lookups run on a network of
 * 20 nodes over UDP on 127.0.0.1 in this process: find_node finds the true
 * nearest nodes (checked against a sort of all ids), items and peers
 * put by one node are got by another, and a saved table starts a node
 * again; four nodes on ::1 do the same over IPv6. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "crypto/sign.h"
#include "net/dht.h"
#include "net/dht_token.h"

/* Datagram by datagram. */

struct probe {
	uv_loop_t loop;
	struct mfs_dht *d;
	uint64_t now;           /* the node's clock */
	size_t query_len;       /* of the datagram being answered */
	uint8_t out[MFS_KRPC_MSG_MAX];
	size_t out_len;
	int answers;            /* sent since the last query */
	struct mfs_bnode arena[MFS_KRPC_ARENA];
	struct mfs_krpc_msg r;  /* the last answer, parsed */
};

static uint64_t probe_clock(void *ctx)
{
	return ((struct probe *)ctx)->now;
}

static void probe_sent(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct probe *p = ctx;

	(void)to;
	cr_assert_leq(len, MFS_DHT_AMPLIFICATION * p->query_len,
		      "an answer of %zu bytes to a query of %zu", len, p->query_len);
	memcpy(p->out, buf, len);
	p->out_len = len;
	p->answers++;
}

static void probe_start(struct probe *p, const struct mfs_dht_limits *lim)
{
	struct mfs_dht_config cfg = {.clock = probe_clock, .clock_ctx = p, .sent = probe_sent,
				     .sent_ctx = p};

	if (lim)
		cfg.limits = *lim;
	cr_assert_eq(mfs_crypto_init(), 0);
	p->now = 1000;
	cr_assert_eq(uv_loop_init(&p->loop), 0);
	cr_assert_eq(mfs_dht_new(&p->d, &p->loop, &cfg), 0);
}

static void probe_stop(struct probe *p)
{
	mfs_dht_close(p->d);
	uv_run(&p->loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&p->loop), 0);
}

static struct sockaddr_storage addr4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	return ss;
}

/* Sends raw bytes from `from`: 1 when the node answered (p->r parsed). */
static int send_raw(struct probe *p, const uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from)
{
	p->answers = 0;
	p->query_len = len;
	mfs_dht_receive(p->d, buf, len, (const struct sockaddr *)from);
	if (!p->answers)
		return 0;
	cr_assert_eq(mfs_krpc_parse(&p->r, p->arena, MFS_KRPC_ARENA, p->out, p->out_len, NULL, 0),
		     0);
	return 1;
}

static int ask(struct probe *p, struct mfs_krpc_msg *q, const uint8_t id[20],
	       const struct sockaddr_storage *from)
{
	uint8_t buf[MFS_KRPC_MSG_MAX];
	size_t len;

	q->kind = 'q';
	q->tid = (const uint8_t *)"t1";
	q->tid_len = 2;
	q->id = id;
	cr_assert_eq(mfs_krpc_encode(buf, sizeof buf, &len, q), 0);
	return send_raw(p, buf, len, from);
}

/* A token for target from `from`, through get (get_peers when peers). */
static size_t token_for(struct probe *p, const uint8_t *target, const uint8_t *id,
			const struct sockaddr_storage *from, int peers, uint8_t *token)
{
	struct mfs_krpc_msg q = {.method = peers ? MFS_KRPC_GET_PEERS : MFS_KRPC_GET};

	if (peers)
		q.info_hash = target;
	else
		q.target = target;
	cr_assert_eq(ask(p, &q, id, from), 1);
	cr_assert_eq(p->r.kind, 'r');
	cr_assert_not_null(p->r.token);
	memcpy(token, p->r.token, p->r.token_len);
	return p->r.token_len;
}

static int announce(struct probe *p, const uint8_t *ih, const uint8_t *id,
		    const struct sockaddr_storage *from, const uint8_t *token, size_t token_len)
{
	struct mfs_krpc_msg q = {.method = MFS_KRPC_ANNOUNCE_PEER, .info_hash = ih, .port = 6881,
				 .token = token, .token_len = token_len};

	cr_assert_eq(ask(p, &q, id, from), 1);
	return p->r.kind == 'r' ? 0 : (int)p->r.error_code;
}

Test(dht, a_write_token_is_good_only_from_the_address_it_was_given_to)
{
	static struct probe p;
	struct sockaddr_storage a = addr4("192.0.2.1", 1000), a2 = addr4("192.0.2.1", 1001),
				b = addr4("192.0.2.2", 1000);
	uint8_t id[20] = {1}, ih[20] = {2}, other[20] = {3}, token[64];
	size_t len;

	probe_start(&p, NULL);
	len = token_for(&p, ih, id, &a, 1, token);
	cr_assert_eq(announce(&p, ih, id, &b, token, len), 203, "from another address");
	cr_assert_eq(announce(&p, other, id, &a, token, len), 203, "for another info-hash");
	cr_assert_eq(announce(&p, ih, id, &a2, token, len), 0, "another port, same address");
	struct mfs_krpc_msg port0 = {.method = MFS_KRPC_ANNOUNCE_PEER, .info_hash = ih,
				     .token = token, .token_len = len};
	cr_assert_eq(ask(&p, &port0, id, &a), 1);
	cr_assert_eq(p.r.error_code, 203, "a peer at port 0 is no peer");
	/* The peer is at the announcing address with the port it named. */
	cr_assert_eq(ask(&p, &(struct mfs_krpc_msg){.method = MFS_KRPC_GET_PEERS, .info_hash = ih},
			 id, &b), 1);
	cr_assert_not_null(p.r.values);
	cr_assert_eq(p.r.values->count, 1);
	cr_assert_arr_eq(mfs_benc_first(p.r.values)->str, ((uint8_t[]){192, 0, 2, 1, 0x1a, 0xe1}), 6);
	/* Two rotations later (10 minutes) the token is worthless. */
	len = token_for(&p, ih, id, &a, 1, token);
	p.now += 2 * MFS_DHT_TOKEN_ROTATE;
	cr_assert_eq(announce(&p, ih, id, &a, token, len), 203);
	probe_stop(&p);
}

Test(dht, stored_items_and_peers_are_forgotten_two_hours_after_their_last_write)
{
	static struct probe p;
	struct sockaddr_storage a = addr4("192.0.2.1", 1000);
	const uint8_t v[] = "11:hello there";
	uint8_t id[20] = {1}, target[20], token[64], ih[20] = {4};
	struct mfs_krpc_msg put = {.method = MFS_KRPC_PUT, .v = v, .v_len = sizeof v - 1};
	struct mfs_krpc_msg get = {.method = MFS_KRPC_GET, .target = target};
	struct mfs_dht_stats st;
	size_t len;

	probe_start(&p, NULL);
	cr_assert_eq(mfs_dht_item_immutable_target(target, v, sizeof v - 1), 0);
	put.token = token;
	put.token_len = token_for(&p, target, id, &a, 0, token);
	cr_assert_eq(ask(&p, &put, id, &a), 1);
	cr_assert_eq(p.r.kind, 'r');
	len = token_for(&p, ih, id, &a, 1, token);
	cr_assert_eq(announce(&p, ih, id, &a, token, len), 0);
	mfs_dht_stats(p.d, &st);
	cr_assert_eq(st.items, 1);
	cr_assert_eq(st.peers, 1);

	p.now += MFS_DHT_STORE_LIFE - 60;
	cr_assert_eq(ask(&p, &get, id, &a), 1);
	cr_assert_eq(p.r.v_len, sizeof v - 1);
	cr_assert_arr_eq(p.r.v, v, sizeof v - 1);
	p.now += 60;
	cr_assert_eq(ask(&p, &get, id, &a), 1);
	cr_assert_null(p.r.v, "expired");
	mfs_dht_stats(p.d, &st);
	cr_assert_eq(st.items + st.peers, 0);
	probe_stop(&p);
}

Test(dht, malformed_datagrams_are_dropped_and_the_node_still_answers)
{
	static struct probe p;
	static const char *const bad[] = {
		"", "d", "i1e", "le", "d1:t2:aa1:y1:qe", "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",
		"d1:ad2:id20:01234567890123456789e1:q4:ping1:t2:aa1:y1:qee",
		"d1:ad2:id20:01234567890123456789e1:q4:ping1:t2:aa1:y1:q", "d1:y1:r1:t2:aae",
	};
	struct sockaddr_storage a = addr4("192.0.2.1", 1000);
	struct mfs_dht_stats st;
	uint8_t id[20] = {1};

	probe_start(&p, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(send_raw(&p, (const uint8_t *)bad[i], strlen(bad[i]), &a), 0, "%s",
			     bad[i]);
	mfs_dht_stats(p.d, &st);
	cr_assert_eq(st.dropped, sizeof bad / sizeof bad[0]);
	cr_assert_eq(ask(&p, &(struct mfs_krpc_msg){.method = MFS_KRPC_PING}, id, &a), 1);
	cr_assert_eq(p.r.kind, 'r');
	cr_assert_arr_eq(p.r.id, mfs_dht_id(p.d), 20);
	/* An unknown method: error 204. */
	static const char foo[] = "d1:ad2:id20:01234567890123456789e1:q3:foo1:t2:aa1:y1:qe";
	cr_assert_eq(send_raw(&p, (const uint8_t *)foo, strlen(foo), &a), 1);
	cr_assert_eq(p.r.kind, 'e');
	cr_assert_eq(p.r.error_code, 204);
	probe_stop(&p);
}

Test(dht, a_read_only_node_is_answered_but_not_put_in_the_routing_table)
{
	static struct probe p;
	static const char ro_ping[] =
		"d1:ad2:id20:01234567890123456789e1:q4:ping2:roi1e1:t1:a1:y1:qe";
	static const char ro_other[] = /* "ro": 2 is not BEP 43's: an ordinary node */
		"d1:ad2:id20:abcdefghijabcdefghije1:q4:ping2:roi2e1:t1:a1:y1:qe";
	struct sockaddr_storage a = addr4("192.0.2.1", 6881), b = addr4("192.0.2.2", 6881);
	struct mfs_dht_stats st;

	probe_start(&p, NULL);
	cr_assert_eq(send_raw(&p, (const uint8_t *)ro_ping, strlen(ro_ping), &a), 1);
	cr_assert_eq(p.r.kind, 'r', "a read-only node's query is answered");
	mfs_dht_stats(p.d, &st);
	cr_assert_eq(st.nodes, 0, "a read-only node is not in the table");
	cr_assert_eq(send_raw(&p, (const uint8_t *)ro_other, strlen(ro_other), &b), 1);
	mfs_dht_stats(p.d, &st);
	cr_assert_eq(st.nodes, 1, "a node that did not say ro 1 is");
	probe_stop(&p);
}

Test(dht, no_answer_is_more_than_the_stated_factor_larger_than_its_query)
{
	static struct probe p;
	static uint8_t v[MFS_DHT_VALUE_MAX];
	struct mfs_dht_limits lim = {.writes = 1000};
	uint8_t id[20], ih[20] = {5}, token[64], pk[32], sk[64], sig[64], target[20];
	struct mfs_dht_mutable item = {.seq = 9, .v = v, .v_len = sizeof v};
	struct mfs_krpc_msg put = {.method = MFS_KRPC_PUT, .v = v, .v_len = sizeof v, .k = pk,
				   .sig = sig, .has_seq = 1, .seq = 9, .token = token};
	struct mfs_dht_stats st;
	char ip[32];

	probe_start(&p, &lim);
	/* 150 nodes that queried the node fill its table; each announces. */
	for (int i = 0; i < 150; i++) {
		struct sockaddr_storage a;
		size_t len;

		snprintf(ip, sizeof ip, "10.0.%d.%d", i / 200, i % 200 + 1);
		a = addr4(ip, 6881);
		mfs_random(id, sizeof id);
		len = token_for(&p, ih, id, &a, 1, token);
		cr_assert_eq(announce(&p, ih, id, &a, token, len), 0);
	}
	/* A mutable item of 1,000 bytes. */
	memset(v, 'x', sizeof v);
	memcpy(v, "996:", 4);
	crypto_sign_keypair(pk, sk);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	cr_assert_eq(mfs_dht_item_mutable_target(target, pk, NULL, 0), 0);
	struct sockaddr_storage a = addr4("192.0.2.9", 1);
	put.token_len = token_for(&p, target, id, &a, 0, token);
	cr_assert_eq(ask(&p, &put, id, &a), 1);
	cr_assert_eq(p.r.kind, 'r', "%.*s", (int)p.r.error_msg_len, p.r.error_msg);

	/* The shortest queries (a 1-byte tid), each answer checked by probe_sent. */
	static const char ping[] = "d1:ad2:id20:01234567890123456789e1:q4:ping1:t1:a1:y1:qe";
	cr_assert_eq(send_raw(&p, (const uint8_t *)ping, strlen(ping), &a), 1);
	cr_assert_eq(ask(&p, &(struct mfs_krpc_msg){.method = MFS_KRPC_FIND_NODE, .target = ih},
			 id, &a), 1);
	cr_assert_eq(p.r.nodes_len, MFS_DHT_K * MFS_KRPC_NODE4_BYTES, "8 nodes fit");
	cr_assert_eq(ask(&p, &(struct mfs_krpc_msg){.method = MFS_KRPC_GET_PEERS, .info_hash = ih},
			 id, &a), 1);
	cr_assert_not_null(p.r.values, "some peers fit");
	cr_assert_lt(p.r.values->count, 150, "not all 150");
	cr_assert_gt(p.r.values->count, 40);
	cr_assert_eq(ask(&p, &(struct mfs_krpc_msg){.method = MFS_KRPC_GET, .target = target}, id,
			 &a), 1);
	cr_assert(p.r.has_seq && p.r.seq == 9, "the seq is told");
	cr_assert_null(p.r.v, "a 1,000-byte value is left out of an answer to an 88-byte get");
	mfs_dht_stats(p.d, &st);
	cr_assert_leq(st.largest_ratio_x100, 100 * MFS_DHT_AMPLIFICATION);
	cr_assert_gt(st.largest_ratio_x100, 300, "answers do carry what fits");
	probe_stop(&p);
}

/* Over UDP: a network of nodes on 127.0.0.1 in this process. */

#define NET_NODES 20

struct wait {
	int done;
	struct mfs_dht_result r;
	uint8_t v[MFS_DHT_VALUE_MAX];
	struct mfs_dht_peer peers[MFS_DHT_PEERS_MAX];
};

static void on_done(void *arg, const struct mfs_dht_result *r)
{
	struct wait *w = arg;

	w->r = *r;
	if (r->v)
		memcpy(w->v, r->v, r->v_len);
	memcpy(w->peers, r->peers, r->n_peers * sizeof r->peers[0]);
	w->done = 1;
}

static void wait_for(uv_loop_t *loop, struct wait *w)
{
	time_t limit = time(NULL) + 60;

	while (!w->done) {
		cr_assert_lt(time(NULL), limit, "a lookup did not end");
		uv_run(loop, UV_RUN_ONCE);
	}
}

struct net {
	uv_loop_t loop;
	struct mfs_dht *n[NET_NODES];
};

static void net_start(struct net *net)
{
	struct sockaddr_storage any = addr4("127.0.0.1", 0), first;
	struct mfs_dht_config cfg = {.bind4 = (const struct sockaddr *)&any, .timeout_ms = 500};

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(uv_loop_init(&net->loop), 0);
	for (int i = 0; i < NET_NODES; i++) {
		struct wait w = {0};

		cr_assert_eq(mfs_dht_new(&net->n[i], &net->loop, &cfg), 0);
		if (i == 0) {
			first = addr4("127.0.0.1", mfs_dht_port(net->n[0], 4));
			continue;
		}
		cr_assert_eq(mfs_dht_bootstrap(net->n[i], &first, 1, on_done, &w), 0);
		wait_for(&net->loop, &w);
		cr_assert_eq(w.r.status, 0);
	}
	/* Each looks itself up once more, as a node refreshes its table: the
	 * first ones learn of those that came after them. */
	for (int i = 0; i < NET_NODES; i++) {
		struct wait w = {0};

		cr_assert_eq(mfs_dht_find_node(net->n[i], mfs_dht_id(net->n[i]), on_done, &w), 0);
		wait_for(&net->loop, &w);
		cr_assert_eq(w.r.status, 0);
	}
}

static void net_stop(struct net *net)
{
	for (int i = 0; i < NET_NODES; i++)
		mfs_dht_close(net->n[i]);
	uv_run(&net->loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&net->loop), 0);
}

static int nearer(const uint8_t *a, const uint8_t *b, const uint8_t *t)
{
	for (int i = 0; i < 20; i++)
		if ((a[i] ^ t[i]) != (b[i] ^ t[i]))
			return (a[i] ^ t[i]) < (b[i] ^ t[i]);
	return 0;
}

Test(dht, find_node_converges_on_the_true_nearest_nodes_of_20)
{
	static struct net net;
	size_t queries = 0;

	net_start(&net);
	for (int round = 0; round < 10; round++) {
		const uint8_t *ids[NET_NODES];
		uint8_t target[20];
		int asker = round * 7 % NET_NODES, n = 0;
		struct wait w = {0};

		mfs_random(target, sizeof target);
		for (int i = 0; i < NET_NODES; i++)
			if (i != asker)
				ids[n++] = mfs_dht_id(net.n[i]);
		for (int i = 1; i < n; i++) /* insertion sort by distance */
			for (int j = i; j > 0 && nearer(ids[j], ids[j - 1], target); j--) {
				const uint8_t *t = ids[j];

				ids[j] = ids[j - 1];
				ids[j - 1] = t;
			}
		cr_assert_eq(mfs_dht_find_node(net.n[asker], target, on_done, &w), 0);
		wait_for(&net.loop, &w);
		cr_assert_eq(w.r.status, 0);
		cr_assert_eq(w.r.n_closest, MFS_DHT_K);
		for (int i = 0; i < MFS_DHT_K; i++)
			cr_assert_arr_eq(w.r.closest[i].id, ids[i], 20, "round %d: node %d", round, i);
		queries += w.r.queries;
	}
	cr_log_info("find_node on 20 nodes: %.1f queries a lookup\n", queries / 10.0);
	net_stop(&net);
}

Test(dht, items_and_peers_put_by_one_node_are_got_by_another)
{
	static struct net net;
	static uint8_t v[] = "17:a megafs dht test";
	uint8_t pk[32], sk[64], sig[64], ih[20] = {0x42};
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)"s", .salt_len = 1, .seq = 3,
				       .v = v, .v_len = sizeof v - 1};
	struct wait w = {0};
	char ip[INET_ADDRSTRLEN];

	net_start(&net);
	crypto_sign_keypair(pk, sk);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	cr_assert_eq(mfs_dht_put_mutable(net.n[3], pk, sig, &item, 0, 0, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.status, 0);
	cr_assert_eq(w.r.stored, MFS_DHT_K);

	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_get_mutable(net.n[17], pk, (const uint8_t *)"s", 1, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert(w.r.found);
	cr_assert_eq(w.r.seq, 3);
	cr_assert_eq(w.r.v_len, sizeof v - 1);
	cr_assert_arr_eq(w.v, v, sizeof v - 1);
	/* With another salt it is another target: nothing. */
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_get_mutable(net.n[17], pk, (const uint8_t *)"t", 1, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.found, 0);

	/* A lower seq is refused by every node that holds seq 3 (asked by
	 * the same node: the same 8 nodes, none of them itself). */
	item.seq = 2;
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_put_mutable(net.n[3], pk, sig, &item, 0, 0, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.status, MFS_E_REPLAY);
	cr_assert_eq(w.r.error_code, 302);

	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_put_immutable(net.n[4], v, sizeof v - 1, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.status, 0);
	uint8_t target[20];
	cr_assert_eq(mfs_dht_item_immutable_target(target, v, sizeof v - 1), 0);
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_get_immutable(net.n[12], target, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert(w.r.found);
	cr_assert_eq(w.r.has_seq, 0);
	cr_assert_arr_eq(w.v, v, sizeof v - 1);

	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_announce(net.n[5], ih, 4242, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.status, 0);
	cr_assert_geq(w.r.stored, 1);
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_get_peers(net.n[11], ih, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.n_peers, 1);
	inet_ntop(AF_INET, w.peers[0].ip, ip, sizeof ip);
	cr_assert_str_eq(ip, "127.0.0.1");
	cr_assert_eq(w.peers[0].port, 4242);
	net_stop(&net);
}

Test(dht, a_node_saves_its_table_and_starts_again_from_it)
{
	static struct net net;
	static uint8_t bytes[MFS_DHT_TABLE_SAVE_MAX];
	struct sockaddr_storage any = addr4("127.0.0.1", 0);
	struct mfs_dht_config cfg = {.bind4 = (const struct sockaddr *)&any, .timeout_ms = 500};
	struct mfs_dht *again;
	struct wait w = {0};
	size_t len;
	uint16_t port;

	net_start(&net);
	port = mfs_dht_port(net.n[6], 4);
	cr_assert_eq(mfs_dht_save_table(net.n[6], bytes, sizeof bytes, &len), 0);
	cr_assert_eq(bytes[24] << 8 | bytes[25], port, "the port bound is saved with the table");
	mfs_dht_close(net.n[6]);
	cfg.table = bytes;
	cfg.table_len = len;
	cr_assert_eq(mfs_dht_new(&again, &net.loop, &cfg), 0);
	net.n[6] = again;
	cr_assert_arr_eq(mfs_dht_id(again), bytes + 4, 20, "the same id");
	/* No bootstrap address: the saved nodes suffice. */
	cr_assert_eq(mfs_dht_bootstrap(again, NULL, 0, on_done, &w), 0);
	wait_for(&net.loop, &w);
	cr_assert_eq(w.r.status, 0);
	cr_assert_geq(w.r.answered, MFS_DHT_K);
	net_stop(&net);
}

Test(dht, nodes_on_ipv6_find_each_other_and_their_peers)
{
	static uv_loop_t loop;
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct mfs_dht_config cfg = {.bind6 = (const struct sockaddr *)&any, .timeout_ms = 500};
	struct mfs_dht *n[4];
	struct sockaddr_storage first = {0};
	struct sockaddr_in6 *f = (struct sockaddr_in6 *)&first;
	uint8_t ih[20] = {0x66};
	struct wait w = {0};
	char ip[INET6_ADDRSTRLEN];

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(uv_loop_init(&loop), 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(mfs_dht_new(&n[i], &loop, &cfg), 0);
		cr_assert_eq(mfs_dht_port(n[i], 4), 0, "no IPv4 socket");
		if (i == 0)
			continue;
		*f = any;
		f->sin6_port = htons(mfs_dht_port(n[0], 6));
		memset(&w, 0, sizeof w);
		cr_assert_eq(mfs_dht_bootstrap(n[i], &first, 1, on_done, &w), 0);
		wait_for(&loop, &w);
		cr_assert_eq(w.r.status, 0);
		cr_assert_eq(w.r.closest[0].family, 6);
	}
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_announce(n[1], ih, 0, on_done, &w), 0);
	wait_for(&loop, &w);
	cr_assert_eq(w.r.status, 0);
	memset(&w, 0, sizeof w);
	cr_assert_eq(mfs_dht_get_peers(n[3], ih, on_done, &w), 0);
	wait_for(&loop, &w);
	cr_assert_eq(w.r.n_peers, 1);
	cr_assert_eq(w.peers[0].family, 6);
	inet_ntop(AF_INET6, w.peers[0].ip, ip, sizeof ip);
	cr_assert_str_eq(ip, "::1");
	cr_assert_eq(w.peers[0].port, mfs_dht_port(n[1], 6), "implied_port: the port it sends from");
	for (int i = 0; i < 4; i++)
		mfs_dht_close(n[i]);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
