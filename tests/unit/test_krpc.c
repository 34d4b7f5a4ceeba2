/* net/krpc: BEP 5's example packets (tests/vectors/bep5-krpc.txt), every
 * method written and read back, BEP 44 puts signed and checked through the
 * parsed fields, compact node info, and the refusals of malformed
 * messages (raw bytes). */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_item.h"
#include "net/krpc.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

static struct mfs_bnode arena[MFS_KRPC_ARENA];

static int parse(struct mfs_krpc_msg *m, const void *buf, size_t len, char *why, size_t why_len)
{
	return mfs_krpc_parse(m, arena, MFS_KRPC_ARENA, buf, len, why, why_len);
}

#define ID_A "abcdefghij0123456789"
#define ID_M "mnopqrstuvwxyz123456"

Test(krpc, bep5s_example_packets_read_as_the_bep_says_and_write_back_the_same)
{
	FILE *f = fopen(MFS_VECTORS_DIR "/bep5-krpc.txt", "r");
	char line[512], why[160];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		char *tab = strchr(line, '\t'), *name = line;
		struct mfs_krpc_msg m;
		uint8_t out[MFS_KRPC_MSG_MAX];
		size_t len, out_len;
		int rc;

		if (line[0] == '#' || !tab)
			continue;
		*tab = 0;
		len = strcspn(tab + 1, "\n");
		rc = parse(&m, tab + 1, len, why, sizeof why);
		n++;
		if (strstr(name, "_response_nodes") || !strcmp(name, "find_node_response")) {
			/* The BEP's "def456..." stands for nodes: 9 bytes are no node. */
			cr_assert_eq(rc, MFS_E_FORMAT, "%s", name);
			cr_assert(strstr(why, "26-byte nodes in 'nodes'"), "%s", why);
			continue;
		}
		cr_assert_eq(rc, 0, "%s: %s", name, why);
		cr_assert_eq(m.tid_len, 2);
		cr_assert_arr_eq(m.tid, "aa", 2);
		if (!strcmp(name, "error")) {
			cr_assert_eq(m.kind, 'e');
			cr_assert_eq(m.error_code, 201);
			cr_assert_eq(m.error_msg_len, 23);
		} else if (strstr(name, "_query")) {
			cr_assert_eq(m.kind, 'q');
			cr_assert_arr_eq(m.id, ID_A, 20);
		} else {
			cr_assert_eq(m.kind, 'r');
		}
		if (!strcmp(name, "ping_query"))
			cr_assert_eq(m.method, MFS_KRPC_PING);
		if (!strcmp(name, "find_node_query")) {
			cr_assert_eq(m.method, MFS_KRPC_FIND_NODE);
			cr_assert_arr_eq(m.target, ID_M, 20);
		}
		if (!strcmp(name, "get_peers_query")) {
			cr_assert_eq(m.method, MFS_KRPC_GET_PEERS);
			cr_assert_arr_eq(m.info_hash, ID_M, 20);
		}
		if (!strcmp(name, "announce_peer_query")) {
			cr_assert_eq(m.method, MFS_KRPC_ANNOUNCE_PEER);
			cr_assert_eq(m.port, 6881);
			cr_assert_eq(m.implied_port, 0);
			cr_assert_eq(m.token_len, 8);
			cr_assert_arr_eq(m.token, "aoeusnth", 8);
		}
		if (!strcmp(name, "get_peers_response_values")) {
			cr_assert_eq(m.values->count, 2);
			cr_assert_arr_eq(mfs_benc_first(m.values)->str, "axje.u", 6);
		}
		cr_assert_eq(mfs_krpc_encode(out, sizeof out, &out_len, &m), 0, "%s", name);
		cr_assert_eq(out_len, len, "%s: %.*s", name, (int)out_len, out);
		cr_assert_arr_eq(out, tab + 1, len, "%s", name);
	}
	fclose(f);
	cr_assert_eq(n, 10);
}

/* Writes m, reads it back into *back, and writes that again: the same bytes. */
static void write_read(struct mfs_krpc_msg *back, const struct mfs_krpc_msg *m, uint8_t *out,
		       size_t *len)
{
	uint8_t again[MFS_KRPC_MSG_MAX];
	size_t again_len;
	char why[160] = "";

	cr_assert_eq(mfs_krpc_encode(out, MFS_KRPC_MSG_MAX, len, m), 0);
	cr_assert_eq(parse(back, out, *len, why, sizeof why), 0, "%.*s: %s", (int)*len, out, why);
	cr_assert_eq(mfs_krpc_encode(again, sizeof again, &again_len, back), 0);
	cr_assert_eq(again_len, *len);
	cr_assert_arr_eq(again, out, *len);
}

Test(krpc, every_method_writes_and_reads_back)
{
	static const uint8_t id[20] = "01234567890123456789", target[20] = "TTTTTTTTTTTTTTTTTTTT";
	uint8_t out[MFS_KRPC_MSG_MAX], nodes[2 * 26], nodes6[38];
	struct mfs_krpc_msg q = {.kind = 'q', .tid = (const uint8_t *)"\0\1", .tid_len = 2,
				 .id = id}, m;
	size_t len;

	for (int method = MFS_KRPC_PING; method <= MFS_KRPC_GET; method++) {
		q.method = method;
		q.target = method == MFS_KRPC_FIND_NODE || method == MFS_KRPC_GET ? target : NULL;
		q.info_hash = method == MFS_KRPC_GET_PEERS || method == MFS_KRPC_ANNOUNCE_PEER
				      ? target : NULL;
		q.token = method == MFS_KRPC_ANNOUNCE_PEER ? (const uint8_t *)"tok" : NULL;
		q.token_len = q.token ? 3 : 0;
		q.port = 51413;
		q.implied_port = 1;
		q.has_seq = method == MFS_KRPC_GET;
		q.seq = 41;
		write_read(&m, &q, out, &len);
		cr_assert_eq(m.kind, 'q');
		cr_assert_eq(m.method, method);
		cr_assert_arr_eq(m.id, id, 20);
		cr_assert_eq(m.target != NULL, q.target != NULL);
		cr_assert_eq(m.info_hash != NULL, q.info_hash != NULL);
		if (method == MFS_KRPC_ANNOUNCE_PEER) {
			cr_assert_eq(m.port, 51413);
			cr_assert_eq(m.implied_port, 1);
			cr_assert_arr_eq(m.token, "tok", 3);
		}
		if (method == MFS_KRPC_GET)
			cr_assert(m.has_seq && m.seq == 41);
	}
	/* A response with nodes of both families, a token and an immutable value. */
	memset(nodes, 7, sizeof nodes);
	memset(nodes6, 9, sizeof nodes6);
	struct mfs_krpc_msg r = {.kind = 'r', .tid = (const uint8_t *)"x", .tid_len = 1, .id = id,
				 .nodes = nodes, .nodes_len = sizeof nodes, .nodes6 = nodes6,
				 .nodes6_len = sizeof nodes6, .token = (const uint8_t *)"T",
				 .token_len = 1, .v = (const uint8_t *)"l1:ai2ee", .v_len = 8};
	write_read(&m, &r, out, &len);
	cr_assert_eq(m.nodes_len, 52);
	cr_assert_eq(m.nodes6_len, 38);
	cr_assert_eq(m.v_len, 8);
	cr_assert_arr_eq(m.v, "l1:ai2ee", 8);
	/* An error. */
	struct mfs_krpc_msg e = {.kind = 'e', .tid = (const uint8_t *)"x", .tid_len = 1,
				 .error_code = 204, .error_msg = (const uint8_t *)"Method Unknown",
				 .error_msg_len = 14};
	write_read(&m, &e, out, &len);
	cr_assert_eq(len, strlen("d1:eli204e14:Method Unknowne1:t1:x1:y1:ee"));
	cr_assert_arr_eq(out, "d1:eli204e14:Method Unknowne1:t1:x1:y1:ee", len);
}

Test(krpc, a_bep44_put_carries_an_item_that_verifies_from_the_parsed_fields)
{
	uint8_t pk[32], sk[64], sig[64], out[MFS_KRPC_MSG_MAX], target[20], id[20] = {1};
	static const uint8_t salt[] = "salt!", v[] = "12:Hello World!";
	struct mfs_dht_mutable item = {.salt = salt, .salt_len = 5, .seq = 9, .v = v, .v_len = 15};
	struct mfs_krpc_msg put = {.kind = 'q', .method = MFS_KRPC_PUT, .tid = (const uint8_t *)"pp",
				   .tid_len = 2, .id = id, .token = (const uint8_t *)"tok",
				   .token_len = 3, .v = v, .v_len = 15, .k = pk, .sig = sig,
				   .salt = salt, .salt_len = 5, .has_seq = 1, .seq = 9,
				   .has_cas = 1, .cas = 8}, m;
	struct mfs_dht_mutable got;
	size_t len;

	cr_assert_eq(sodium_init() < 0, 0);
	mfs_sign_keypair(pk, sk);
	cr_assert_eq(mfs_dht_item_sign(sig, &item, sk), 0);
	write_read(&m, &put, out, &len);
	cr_assert_eq(m.method, MFS_KRPC_PUT);
	cr_assert(m.has_cas && m.cas == 8);
	got = (struct mfs_dht_mutable){.salt = m.salt, .salt_len = m.salt_len, .seq = m.seq,
				       .v = m.v, .v_len = m.v_len};
	cr_assert_eq(mfs_dht_item_verify(m.sig, &got, m.k), 0);
	cr_assert_eq(mfs_dht_item_mutable_target(target, m.k, m.salt, m.salt_len), 0);
	/* The same put with its value changed in the datagram: parses, does not verify. */
	uint8_t *hello = memmem(out, len, "Hello", 5);
	cr_assert_not_null(hello);
	hello[0] = 'J';
	cr_assert_eq(parse(&m, out, len, NULL, 0), 0);
	got.v = m.v;
	cr_assert_eq(mfs_dht_item_verify(m.sig, &got, m.k), MFS_E_AUTH);
	/* An immutable put: no k, so no sig, seq or salt needed. */
	struct mfs_krpc_msg imm = {.kind = 'q', .method = MFS_KRPC_PUT, .tid = (const uint8_t *)"p",
				   .tid_len = 1, .id = id, .token = (const uint8_t *)"tok",
				   .token_len = 3, .v = v, .v_len = 15};
	write_read(&m, &imm, out, &len);
	cr_assert_null(m.k);
	cr_assert_eq(mfs_dht_item_immutable_target(target, m.v, m.v_len), 0);
	sodium_memzero(sk, sizeof sk);
}

Test(krpc, compact_node_info_is_26_bytes_for_ipv4_and_38_for_ipv6)
{
	struct mfs_krpc_node n4 = {.family = 4, .ip = {127, 0, 0, 1}, .port = 6881}, n6 = {
		.family = 6, .ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .port = 0xBEEF}, got;
	uint8_t buf[MFS_KRPC_NODE6_BYTES], list[26 * 2];

	memset(n4.id, 0x44, 20);
	memset(n6.id, 0x66, 20);
	cr_assert_eq(mfs_krpc_node_put(buf, &n4), 26);
	cr_assert_arr_eq(buf + 20, "\x7f\0\0\x01\x1a\xe1", 6);
	memcpy(list, buf, 26);
	memcpy(list + 26, buf, 26);
	list[26] = 0x45;
	cr_assert_eq(mfs_krpc_node_at(&got, list, sizeof list, 4, 1), 0);
	cr_assert_eq(got.id[0], 0x45);
	cr_assert_eq(got.port, 6881);
	cr_assert_arr_eq(got.ip, n4.ip, 4);
	cr_assert_eq(mfs_krpc_node_at(&got, list, sizeof list, 4, 2), -ERANGE);
	cr_assert_eq(mfs_krpc_node_at(&got, list, 25, 4, 0), -ERANGE);
	cr_assert_eq(mfs_krpc_node_put(buf, &n6), 38);
	cr_assert_eq(mfs_krpc_node_at(&got, buf, 38, 6, 0), 0);
	cr_assert_eq(got.family, 6);
	cr_assert_arr_eq(got.ip, n6.ip, 16);
	cr_assert_eq(got.port, 0xBEEF);
	cr_assert_arr_eq(got.id, n6.id, 20);
	cr_assert_eq(mfs_krpc_node_at(&got, buf, 38, 5, 0), -ERANGE);
	n6.family = 5;
	cr_assert_eq(mfs_krpc_node_put(buf, &n6), 0);
}

Test(krpc, unknown_methods_and_keys_of_other_clients_are_read_not_refused)
{
	static const char unknown[] = "d1:ad2:id20:" ID_A "e1:q6:vote!!1:t2:aa1:y1:qe";
	/* libtorrent adds "ip" (BEP 42) to answers and "v" (its version) to all. */
	static const char lt[] = "d2:ip6:\x7f\0\0\x01\x1a\xe1" "1:rd2:id20:" ID_M "e1:t2:aa1:v4:LT\x02\0"
				 "1:y1:re";
	struct mfs_krpc_msg m;
	char why[160] = "";

	cr_assert_eq(parse(&m, unknown, sizeof unknown - 1, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.method, MFS_KRPC_UNKNOWN);
	cr_assert_eq(m.method_name_len, 6);
	cr_assert_arr_eq(m.method_name, "vote!!", 6);
	cr_assert_eq(parse(&m, lt, sizeof lt - 1, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.kind, 'r');
	cr_assert_null(m.v, "a top-level 'v' is the client's version, not a value");
}

/* Each refused datagram with what its reason must say. */
static const struct {
	const char *in;
	const char *why;
} refused[] = {
	{"le", "not a dictionary"},
	{"i1e", "not a dictionary"},
	{"d1:y1:qe", "no 't'"},
	{"d1:t0:1:y1:qe", "'t'"},
	{"d1:ti1e1:y1:qe", "'t'"},
	{"d1:t33:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1:y1:qe", "'t'"},
	{"d1:t2:aae", "no 'y'"},
	{"d1:t2:aa1:y1:xe", "other than q, r, e"},
	{"d1:t2:aa1:y2:qqe", "'y'"},
	{"d1:t2:aa1:y1:qe", "no 'q'"},
	{"d1:q4:ping1:t2:aa1:y1:qe", "no dictionary 'a'"},
	{"d1:ade1:q4:ping1:t2:aa1:y1:qe", "no 'id'"},
	{"d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe", "'id'"},
	{"d1:ad2:idi1ee1:q4:ping1:t2:aa1:y1:qe", "'id'"},
	{"d1:ad2:id20:" ID_A "e1:q9:find_node1:t2:aa1:y1:qe", "no 'target'"},
	{"d1:ad2:id20:" ID_A "e1:q9:get_peers1:t2:aa1:y1:qe", "no 'info_hash'"},
	{"d1:ad2:id20:" ID_A "9:info_hash20:" ID_M "4:porti70000e5:token1:xe"
	 "1:q13:announce_peer1:t2:aa1:y1:qe", "bad integer 'port'"},
	{"d1:ad2:id20:" ID_A "9:info_hash20:" ID_M "4:porti1ee1:q13:announce_peer1:t2:aa1:y1:qe",
	 "no 'token'"},
	{"d1:ad2:id20:" ID_A "5:token1:xe1:q3:put1:t2:aa1:y1:qe", "no 'v'"},
	{"d1:ad2:id20:" ID_A "1:k32:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk5:token1:x1:vi1ee"
	 "1:q3:put1:t2:aa1:y1:qe", "no 'sig'"},
	{"d1:ad2:id20:" ID_A "1:k3:kkk5:token1:x1:vi1ee1:q3:put1:t2:aa1:y1:qe", "'k'"},
	{"d1:t2:aa1:y1:re", "no dictionary 'r'"},
	{"d1:rd2:id20:" ID_M "5:nodes27:012345678901234567890123456e1:t2:aa1:y1:re",
	 "26-byte nodes in 'nodes'"},
	{"d1:rd2:id20:" ID_M "6:nodes626:01234567890123456789012345e1:t2:aa1:y1:re",
	 "38-byte nodes in 'nodes6'"},
	{"d1:rd2:id20:" ID_M "6:valuesl5:abcdeee1:t2:aa1:y1:re", "6 or 18 bytes"},
	{"d1:rd2:id20:" ID_M "6:valuesi1ee1:t2:aa1:y1:re", "not a list"},
	{"d1:rd2:id20:" ID_M "5:token0:e1:t2:aa1:y1:re", "'token'"},
	{"d1:rd2:id20:" ID_M "3:seqi-e1:t2:aa1:y1:re", "bencode: "},
	{"d1:el4:oopse1:t2:aa1:y1:ee", "[code, message]"},
	{"d1:eli201ee1:t2:aa1:y1:ee", "[code, message]"},
	{"d1:t2:aa1:y1:q1:ad2:id20:" ID_A "e1:q4:pinge", "bencode: dictionary keys not sorted"},
};

Test(krpc, malformed_datagrams_are_refused_with_their_reason)
{
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct mfs_krpc_msg m;
		char why[200] = "";
		int rc = parse(&m, refused[i].in, strlen(refused[i].in), why, sizeof why);

		cr_assert_eq(rc, MFS_E_FORMAT, "%zu '%s' accepted", i, refused[i].in);
		cr_assert(strstr(why, refused[i].why), "%zu: '%s' lacks '%s'", i, why, refused[i].why);
		cr_assert_eq(m.kind, 0, "a refused message leaves nothing behind");
	}
}

Test(krpc, values_over_1000_bytes_and_oversized_datagrams_are_refused)
{
	static char buf[2100];
	struct mfs_krpc_msg m;
	char why[160] = "";
	int n;

	n = snprintf(buf, sizeof buf, "d1:rd2:id20:" ID_M "1:v997:%0997de1:t2:aa1:y1:re", 0);
	cr_assert_eq(parse(&m, buf, (size_t)n, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "value over 1000 bytes"), "%s", why);
	n = snprintf(buf, sizeof buf, "d1:rd2:id20:" ID_M "1:v996:%0996de1:t2:aa1:y1:re", 0);
	cr_assert_eq(parse(&m, buf, (size_t)n, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.v_len, 1000);
	/* A value of 497 tiny values: the arena holds every value a datagram can. */
	n = snprintf(buf, sizeof buf, "d1:rd2:id20:" ID_M "1:vl");
	for (int i = 0; i < 497; i++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "0:");
	n += snprintf(buf + n, sizeof buf - (size_t)n, "ee1:t2:aa1:y1:re");
	cr_assert_eq(parse(&m, buf, (size_t)n, why, sizeof why), 0, "%s", why);
	cr_assert_eq(m.v_len, 996);
	cr_assert_eq(parse(&m, buf, 1501, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "1501 bytes, more than 1500"), "%s", why);
}

Test(krpc, the_writer_refuses_messages_it_cannot_write_whole)
{
	static const uint8_t id[20];
	uint8_t out[MFS_KRPC_MSG_MAX];
	size_t len;
	struct mfs_krpc_msg ok = {.kind = 'q', .method = MFS_KRPC_PING, .tid = (const uint8_t *)"a",
				  .tid_len = 1, .id = id}, m;

	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &ok), 0);
	cr_assert_eq(mfs_krpc_encode(out, len - 1, &len, &ok), -ENOBUFS);
	m = ok;
	m.kind = 'x';
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.method = MFS_KRPC_UNKNOWN;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.id = NULL;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.tid_len = 0;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.kind = 'r';
	m.nodes = out;
	m.nodes_len = 25;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.kind = 'e';
	m.error_msg_len = 3;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
	m = ok;
	m.v = (const uint8_t *)"Hello";
	m.v_len = 5;
	cr_assert_eq(mfs_krpc_encode(out, sizeof out, &len, &m), MFS_E_FORMAT);
}
