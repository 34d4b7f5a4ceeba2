/* net/tracker_proto: every message built and parsed back, and every way a
 * message can be malformed refused. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/tracker_proto.h"

static uint8_t pk[32], sk[64], key[32], node[32];
static char key_hex[65], node_hex[65];

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
	mfs_sign_keypair(pk, sk);
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)(0xa0 + i);
		node[i] = (uint8_t)i;
	}
	mfs_hex_encode(key_hex, key, 32);
	mfs_hex_encode(node_hex, node, 32);
}

TestSuite(tracker_proto, .init = setup);

static char *signed_manifest(uint64_t seq, size_t *len)
{
	json_t *cols = json_pack("[{s:[s],s:s}]", "items",
				 "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
				 "title", "Season \xc3\xa9");
	char *text = NULL;

	cr_assert_eq(mfs_manifest_sign(&text, len, seq, 1700000000000ull, cols, pk, sk), 0);
	json_decref(cols);
	return text;
}

static int request(struct mfs_tracker_msg *m, const char *text)
{
	return mfs_tracker_parse_request(m, text, strlen(text), NULL, 0);
}

static int reply(struct mfs_tracker_msg *m, const char *text)
{
	return mfs_tracker_parse_reply(m, text, strlen(text), NULL, 0);
}

/* Both parsers refuse text; why must say something. */
static void refused_both(const char *text)
{
	struct mfs_tracker_msg m;
	char why[160] = "";

	cr_assert_eq(mfs_tracker_parse_request(&m, text, strlen(text), why, sizeof why),
		     MFS_E_FORMAT, "request accepted: %s", text);
	cr_assert_neq(why[0], '\0', "no reason for %s", text);
	cr_assert_eq(m.action, MFS_TRACKER_NONE);
	cr_assert_null(m.manifest);
	why[0] = '\0';
	cr_assert_eq(mfs_tracker_parse_reply(&m, text, strlen(text), why, sizeof why),
		     MFS_E_FORMAT, "reply accepted: %s", text);
	cr_assert_neq(why[0], '\0', "no reason for %s", text);
}

static void refused_request(const char *text)
{
	struct mfs_tracker_msg m;
	char why[160] = "";

	cr_assert_eq(mfs_tracker_parse_request(&m, text, strlen(text), why, sizeof why),
		     MFS_E_FORMAT, "accepted: %s", text);
	cr_assert_neq(why[0], '\0');
}

static void refused_reply(const char *text)
{
	struct mfs_tracker_msg m;
	char why[160] = "";

	cr_assert_eq(mfs_tracker_parse_reply(&m, text, strlen(text), why, sizeof why),
		     MFS_E_FORMAT, "accepted: %s", text);
	cr_assert_neq(why[0], '\0');
}

Test(tracker_proto, subscribe_round_trip)
{
	struct mfs_tracker_msg m;
	char *text, want[128];
	size_t len;

	cr_assert_eq(mfs_tracker_build_subscribe(&text, &len, key), 0);
	snprintf(want, sizeof want, "{\"action\":\"subscribe\",\"key\":\"%s\"}", key_hex);
	cr_assert_str_eq(text, want);
	cr_assert_eq(len, strlen(want));
	cr_assert_eq(mfs_tracker_parse_request(&m, text, len, NULL, 0), 0);
	cr_assert_eq(m.action, MFS_TRACKER_SUBSCRIBE);
	cr_assert_arr_eq(m.key, key, 32);
	cr_assert(m.has_key);
	mfs_tracker_msg_clear(&m);
	free(text);
	/* Trackers do not receive subscribes. */
	cr_assert_eq(reply(&m, want), MFS_E_FORMAT);
}

Test(tracker_proto, publish_round_trip_both_ways)
{
	struct mfs_tracker_msg m;
	struct mfs_manifest man;
	size_t mlen, len;
	char *manifest = signed_manifest(7, &mlen), *text;

	cr_assert_eq(mfs_tracker_build_publish(&text, &len, manifest, mlen), 0);
	cr_assert_eq(strncmp(text, "{\"action\":\"publish\",\"manifest\":{", 32), 0);
	cr_assert_eq(len, mlen + 32);
	for (int dir = 0; dir < 2; dir++) {
		int rc = dir ? mfs_tracker_parse_reply(&m, text, len, NULL, 0)
			     : mfs_tracker_parse_request(&m, text, len, NULL, 0);

		cr_assert_eq(rc, 0);
		cr_assert_eq(m.action, MFS_TRACKER_PUBLISH);
		cr_assert_arr_eq(m.key, pk, 32);
		cr_assert_eq(m.sequence, 7);
		cr_assert(m.has_key && m.has_sequence);
		cr_assert_eq(m.manifest_len, mlen);
		cr_assert_str_eq(m.manifest, manifest);
		cr_assert_eq(mfs_manifest_verify(&man, m.manifest, m.manifest_len, pk, 6, NULL, 0), 0);
		mfs_manifest_clear(&man);
		mfs_tracker_msg_clear(&m);
	}
	free(text);
	free(manifest);
}

Test(tracker_proto, publish_is_recanonicalised)
{
	struct mfs_tracker_msg m;
	size_t mlen;
	char *manifest = signed_manifest(3, &mlen), *text;
	json_t *doc = json_loads(manifest, 0, NULL);

	/* Pretty-printed, keys in another order, spaces: still the same bytes. */
	char *pretty = json_dumps(doc, JSON_INDENT(3) | JSON_PRESERVE_ORDER);
	size_t n = strlen(pretty) + 64;

	text = malloc(n);
	snprintf(text, n, "{ \"manifest\" : %s , \"action\" : \"publish\" }", pretty);
	cr_assert_eq(request(&m, text), 0);
	cr_assert_str_eq(m.manifest, manifest);
	mfs_tracker_msg_clear(&m);
	free(text);
	free(pretty);
	json_decref(doc);
	free(manifest);
}

Test(tracker_proto, announce_round_trip)
{
	static const enum mfs_tracker_event events[] = {
		MFS_TRACKER_EVENT_NONE, MFS_TRACKER_EVENT_STARTED, MFS_TRACKER_EVENT_STOPPED,
		MFS_TRACKER_EVENT_COMPLETED};
	struct mfs_tracker_msg m;
	char *text;
	size_t len;

	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		cr_assert_eq(mfs_tracker_build_announce(&text, &len, key, node, 6881, 30, events[i]),
			     0);
		cr_assert_eq(mfs_tracker_parse_request(&m, text, len, NULL, 0), 0, "%s", text);
		cr_assert_eq(m.action, MFS_TRACKER_ANNOUNCE);
		cr_assert_arr_eq(m.key, key, 32);
		cr_assert_arr_eq(m.peer_id, node, 32);
		cr_assert_eq(m.port, 6881);
		cr_assert_eq(m.numwant, 30);
		cr_assert_eq(m.event, events[i]);
		mfs_tracker_msg_clear(&m);
		free(text);
	}
	cr_assert_eq(mfs_tracker_build_announce(&text, &len, key, node, 1, 1,
						(enum mfs_tracker_event)9),
		     MFS_E_FORMAT);
}

Test(tracker_proto, announce_defaults_and_caps)
{
	struct mfs_tracker_msg m;
	char text[400];

	/* numwant and event are optional; extra fields are ignored. */
	snprintf(text, sizeof text,
		 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"port\":0,"
		 "\"uploaded\":5,\"offers\":[]}",
		 key_hex, node_hex);
	cr_assert_eq(request(&m, text), 0);
	cr_assert_eq(m.numwant, MFS_TRACKER_DEFAULT_NUMWANT);
	cr_assert_eq(m.event, MFS_TRACKER_EVENT_NONE);
	cr_assert_eq(m.port, 0);
	mfs_tracker_msg_clear(&m);
	snprintf(text, sizeof text,
		 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"port\":65535,"
		 "\"numwant\":1000000,\"event\":\"\"}",
		 key_hex, node_hex);
	cr_assert_eq(request(&m, text), 0);
	cr_assert_eq(m.numwant, MFS_TRACKER_MAX_PEERS);
	cr_assert_eq(m.port, 65535);
	mfs_tracker_msg_clear(&m);
}

Test(tracker_proto, published_round_trip)
{
	struct mfs_tracker_msg m;
	char *text;
	size_t len;

	cr_assert_eq(mfs_tracker_build_published(&text, &len, key, 42), 0);
	cr_assert_eq(mfs_tracker_parse_reply(&m, text, len, NULL, 0), 0);
	cr_assert_eq(m.action, MFS_TRACKER_PUBLISHED);
	cr_assert_arr_eq(m.key, key, 32);
	cr_assert_eq(m.sequence, 42);
	mfs_tracker_msg_clear(&m);
	/* Clients do not send it. */
	cr_assert_eq(mfs_tracker_parse_request(&m, text, len, NULL, 0), MFS_E_FORMAT);
	free(text);
	cr_assert_eq(mfs_tracker_build_published(&text, &len, key, 0), MFS_E_FORMAT);
}

Test(tracker_proto, peers_round_trip)
{
	struct mfs_tracker_peer peers[3] = {
		{"127.0.0.1", 4000, {0}}, {"::1", 1, {0}}, {"192.168.1.200", 65535, {0}}};
	struct mfs_tracker_msg m;
	char *text;
	size_t len;

	for (int i = 0; i < 3; i++)
		memset(peers[i].node_pk, i + 1, 32);
	for (size_t n = 0; n <= 3; n++) {
		cr_assert_eq(mfs_tracker_build_peers(&text, &len, key, 60, peers, n), 0);
		cr_assert_eq(mfs_tracker_parse_reply(&m, text, len, NULL, 0), 0, "%s", text);
		cr_assert_eq(m.action, MFS_TRACKER_PEERS);
		cr_assert_arr_eq(m.key, key, 32);
		cr_assert_eq(m.interval, 60);
		cr_assert_eq(m.peer_count, n);
		for (size_t i = 0; i < n; i++) {
			cr_assert_str_eq(m.peers[i].host, peers[i].host);
			cr_assert_eq(m.peers[i].port, peers[i].port);
			cr_assert_arr_eq(m.peers[i].node_pk, peers[i].node_pk, 32);
		}
		mfs_tracker_msg_clear(&m);
		free(text);
	}
	cr_assert_eq(mfs_tracker_build_peers(&text, &len, key, 0, peers, 1), MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_build_peers(&text, &len, key, 1, peers, MFS_TRACKER_MAX_PEERS + 1),
		     MFS_E_FORMAT);
	strcpy(peers[0].host, "localhost");
	cr_assert_eq(mfs_tracker_build_peers(&text, &len, key, 1, peers, 1), MFS_E_FORMAT);
}

Test(tracker_proto, error_round_trip)
{
	static const int codes[] = {MFS_E_FORMAT, MFS_E_AUTH, MFS_E_REPLAY, -EPERM, -EIO};
	struct mfs_tracker_msg m;
	char *text;
	size_t len;

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		cr_assert_eq(mfs_tracker_build_error(&text, &len, MFS_TRACKER_PUBLISH, key, 9, codes[i],
						     "sequence 9 <= last seen 9"),
			     0);
		cr_assert_eq(mfs_tracker_parse_reply(&m, text, len, NULL, 0), 0, "%s", text);
		cr_assert_eq(m.action, MFS_TRACKER_ERROR);
		cr_assert_eq(m.code, codes[i]);
		cr_assert_eq(m.request, MFS_TRACKER_PUBLISH);
		cr_assert(m.has_key && m.has_sequence);
		cr_assert_arr_eq(m.key, key, 32);
		cr_assert_eq(m.sequence, 9);
		cr_assert_str_eq(m.reason, "sequence 9 <= last seen 9");
		mfs_tracker_msg_clear(&m);
		free(text);
	}
	/* The least an error carries: a reason. */
	cr_assert_eq(mfs_tracker_build_error(&text, &len, MFS_TRACKER_NONE, NULL, 0, -EIO, NULL), 0);
	cr_assert_str_eq(text, "{\"action\":\"error\",\"code\":\"internal\",\"reason\":\"\"}");
	free(text);
	cr_assert_eq(reply(&m, "{\"action\":\"error\",\"reason\":\"no\"}"), 0);
	cr_assert_eq(m.code, -EPROTO);
	cr_assert_eq(m.request, MFS_TRACKER_NONE);
	cr_assert(!m.has_key && !m.has_sequence);
	mfs_tracker_msg_clear(&m);
	cr_assert_eq(reply(&m, "{\"action\":\"error\",\"reason\":\"x\",\"code\":\"new\","
			       "\"request\":\"later\"}"),
		     0);
	cr_assert_eq(m.code, -EPROTO);
	cr_assert_eq(m.request, MFS_TRACKER_NONE);
	mfs_tracker_msg_clear(&m);
	/* Announce refusals name the request "announce". */
	cr_assert_eq(mfs_tracker_build_error(&text, &len, MFS_TRACKER_ANNOUNCE, NULL, 0, -EPERM, "x"),
		     0);
	cr_assert_eq(reply(&m, text), 0);
	cr_assert_eq(m.request, MFS_TRACKER_ANNOUNCE);
	mfs_tracker_msg_clear(&m);
	free(text);
	/* Clients do not send errors. */
	cr_assert_eq(request(&m, "{\"action\":\"error\",\"reason\":\"no\"}"), MFS_E_FORMAT);
}

Test(tracker_proto, reasons_are_cleaned_and_cut)
{
	struct mfs_tracker_msg m;
	char long_reason[400], *text;
	size_t len;

	cr_assert_eq(reply(&m, "{\"action\":\"error\",\"reason\":\"a\\u001b[31mb\\nc\\u007f\"}"), 0);
	cr_assert_str_eq(m.reason, "a?[31mb?c?");
	mfs_tracker_msg_clear(&m);
	/* 199 ASCII bytes then a 2-byte character: cut before it, not inside. */
	memset(long_reason, 'x', 199);
	strcpy(long_reason + 199, "\xc3\xa9\xc3\xa9");
	cr_assert_eq(mfs_tracker_build_error(&text, &len, MFS_TRACKER_NONE, NULL, 0, -EIO,
					     long_reason),
		     0);
	cr_assert_eq(reply(&m, text), 0);
	cr_assert_eq(strlen(m.reason), 199);
	mfs_tracker_msg_clear(&m);
	free(text);
	/* Invalid UTF-8 in a reason does not make the error unbuildable. */
	cr_assert_eq(mfs_tracker_build_error(&text, &len, MFS_TRACKER_NONE, NULL, 0, -EIO,
					     "bad \xff byte"),
		     0);
	free(text);
}

Test(tracker_proto, not_a_message)
{
	static const char *const garbage[] = {
		"",
		" ",
		"not json",
		"{",
		"{}x",
		"[]",
		"[{\"action\":\"subscribe\"}]",
		"\"subscribe\"",
		"42",
		"null",
		"{}",
		"{\"action\":1}",
		"{\"action\":null}",
		"{\"action\":\"SUBSCRIBE\"}",
		"{\"action\":\"scrape\"}",
		"{\"action\":\"subscribe\",\"action\":\"subscribe\",\"key\":\"00\"}",
		"{\"action\":\"sub\\u0000scribe\"}",
	};

	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		refused_both(garbage[i]);
	/* Not even the length says it is text. */
	cr_assert_eq(mfs_tracker_parse_request(&(struct mfs_tracker_msg){0}, "{\"a\0", 4, NULL, 0),
		     MFS_E_FORMAT);
}

static void with_key(char *out, size_t len, const char *fmt, const char *k)
{
	snprintf(out, len, fmt, k);
}

Test(tracker_proto, bad_keys)
{
	static const char *const keys[] = {
		"\"\"", "\"00\"", "1", "null", "[]",
		"\"A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF\"",
		"\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00\"",
		"\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbeb\"",
		"\"g0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\"",
		"\" 0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\"",
	};
	char text[512];

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		with_key(text, sizeof text, "{\"action\":\"subscribe\",\"key\":%s}", keys[i]);
		refused_request(text);
		snprintf(text, sizeof text,
			 "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":\"%s\",\"port\":1}",
			 keys[i], node_hex);
		refused_request(text);
		snprintf(text, sizeof text,
			 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":%s,\"port\":1}",
			 key_hex, keys[i]);
		refused_request(text);
		with_key(text, sizeof text, "{\"action\":\"published\",\"key\":%s,\"sequence\":1}",
			 keys[i]);
		refused_reply(text);
		with_key(text, sizeof text, "{\"action\":\"error\",\"reason\":\"\",\"key\":%s}",
			 keys[i]);
		refused_reply(text);
	}
	refused_request("{\"action\":\"subscribe\"}");
}

/* A publish request whose manifest is the signed one with one field set to
 * value (NULL: removed). */
static void refused_manifest(const char *field, const char *value)
{
	size_t mlen;
	char *manifest = signed_manifest(5, &mlen);
	json_t *doc = json_loads(manifest, 0, NULL), *v = NULL;
	char *body, *text;
	size_t n;

	if (value)
		cr_assert_not_null(v = json_loads(value, JSON_DECODE_ANY, NULL), "%s", value);
	if (v)
		json_object_set_new(doc, field, v);
	else
		json_object_del(doc, field);
	body = json_dumps(doc, JSON_COMPACT);
	n = strlen(body) + 64;
	text = malloc(n);
	snprintf(text, n, "{\"action\":\"publish\",\"manifest\":%s}", body);
	refused_both(text);
	free(text);
	free(body);
	json_decref(doc);
	free(manifest);
}

Test(tracker_proto, bad_publish)
{
	refused_both("{\"action\":\"publish\"}");
	refused_both("{\"action\":\"publish\",\"manifest\":null}");
	refused_both("{\"action\":\"publish\",\"manifest\":[]}");
	refused_both("{\"action\":\"publish\",\"manifest\":\"{}\"}");
	refused_both("{\"action\":\"publish\",\"manifest\":{}}");
	refused_manifest("publicKey", NULL);
	refused_manifest("publicKey", "\"ABCD\"");
	refused_manifest("publicKey", "7");
	refused_manifest("sequence", NULL);
	refused_manifest("sequence", "0");
	refused_manifest("sequence", "-1");
	refused_manifest("sequence", "1.0");
	refused_manifest("sequence", "\"5\"");
	refused_manifest("timestamp", "1.5"); /* a real anywhere inside */
}

Test(tracker_proto, bad_announce)
{
	static const char *const bodies[] = {
		"%1$.0s\"peer_id\":\"%2$s\",\"port\":1",
		"\"info_hash\":\"%1$s\",\"port\":1",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\"",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":65536",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":-1",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1.5",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":\"80\"",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1,\"numwant\":-1",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1,\"numwant\":\"5\"",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1,\"event\":\"paused\"",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1,\"event\":1",
		"\"info_hash\":\"%1$s\",\"peer_id\":\"%2$s\",\"port\":1,\"event\":null",
	};
	char body[400], text[500];

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		snprintf(body, sizeof body, bodies[i], key_hex, node_hex);
		snprintf(text, sizeof text, "{\"action\":\"announce\",%s}", body);
		refused_request(text);
	}
}

Test(tracker_proto, bad_replies)
{
	static const char *const bodies[] = {
		"\"action\":\"published\",\"key\":\"%1$s\"",
		"\"action\":\"published\",\"key\":\"%1$s\",\"sequence\":0",
		"\"action\":\"published\",\"key\":\"%1$s\",\"sequence\":\"1\"",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"peers\":[]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":0,\"peers\":[]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":4294967296,\"peers\":[]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":{}",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":[1]",
		"\"action\":\"announce\",\"interval\":60,\"peers\":[]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":\"localhost\",\"port\":1,\"peer_id\":\"%2$s\"}]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":\"1.2.3.4.5\",\"port\":1,\"peer_id\":\"%2$s\"}]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":\"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa\",\"port\":1,"
		"\"peer_id\":\"%2$s\"}]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":7,\"port\":1,\"peer_id\":\"%2$s\"}]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":\"1.2.3.4\",\"port\":0,\"peer_id\":\"%2$s\"}]",
		"\"action\":\"announce\",\"info_hash\":\"%1$s\",\"interval\":60,\"peers\":"
		"[{\"ip\":\"1.2.3.4\",\"port\":1}]",
		"\"action\":\"error\"",
		"\"action\":\"error\",\"reason\":7",
		"\"action\":\"error\",\"reason\":\"x\",\"code\":7",
		"\"action\":\"error\",\"reason\":\"x\",\"request\":[]",
		"\"action\":\"error\",\"reason\":\"x\",\"sequence\":0",
		"\"action\":\"subscribe\",\"key\":\"%1$s\"",
	};
	char body[600], text[700];

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		snprintf(body, sizeof body, bodies[i], key_hex, node_hex);
		snprintf(text, sizeof text, "{%s}", body);
		refused_reply(text);
	}
}

Test(tracker_proto, too_many_peers)
{
	size_t cap = 64 + (MFS_TRACKER_MAX_PEERS + 1) * 120;
	char *text = malloc(cap);
	size_t n = 0;
	struct mfs_tracker_msg m;

	n += (size_t)snprintf(text + n, cap - n,
			      "{\"action\":\"announce\",\"info_hash\":\"%s\",\"interval\":1,\"peers\":[",
			      key_hex);
	for (int i = 0; i <= MFS_TRACKER_MAX_PEERS; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "%s{\"ip\":\"10.0.0.1\",\"port\":1,\"peer_id\":\"%s\"}",
				      i ? "," : "", node_hex);
	snprintf(text + n, cap - n, "]}");
	refused_reply(text);
	/* One fewer is fine. */
	memcpy(strrchr(text, '{') - 1, "]}", 3);
	cr_assert_eq(reply(&m, text), 0);
	cr_assert_eq(m.peer_count, MFS_TRACKER_MAX_PEERS);
	mfs_tracker_msg_clear(&m);
	free(text);
}

Test(tracker_proto, build_publish_wants_an_object)
{
	char *text;
	size_t len;

	cr_assert_eq(mfs_tracker_build_publish(&text, &len, "", 0), MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, "{", 1), MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, "[1]", 3), MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, "{}", 2), 0);
	cr_assert_str_eq(text, "{\"action\":\"publish\",\"manifest\":{}}");
	free(text);
}

Test(tracker_proto, clear_is_null_safe)
{
	struct mfs_tracker_msg m = {0};

	mfs_tracker_msg_clear(NULL);
	mfs_tracker_msg_clear(&m);
	mfs_tracker_msg_clear(&m);
}

/* ---- sizes: what a message may cost to parse ---- */

/* A signed manifest of files (one chunk each, or none when empty) with
 * names of name_len bytes, as large as fits under target bytes. */
static char *manifest_of_files(size_t target, int empty, size_t name_len, size_t *len,
			       size_t *files)
{
	json_t *items = json_array(), *cols;
	char hex[65], name[300], *text = NULL;
	size_t per_file = 0;

	memset(hex, 'a', 64);
	hex[64] = '\0';
	cr_assert(name_len < sizeof name - 8);
	for (*files = 0;; (*files)++) {
		json_t *chunks = empty ? json_array()
				       : json_pack("[{s:s,s:s,s:i}]", "id", hex, "key", hex,
						   "length", 40000);
		snprintf(name, sizeof name, "%0*zu", (int)name_len, *files);
		json_array_append_new(items, json_pack("{s:i,s:o,s:s,s:i,s:s,s:i}", "chunkSize",
						       65536, "chunks", chunks, "mode",
						       "convergent", "mtime", 1700000000, "name",
						       name, "size", empty ? 0 : 40000));
		if (per_file == 0) {
			char *one = json_dumps(json_array_get(items, 0), JSON_COMPACT);
			per_file = strlen(one) + 1;
			free(one);
		}
		if ((*files + 2) * per_file + 400 > target)
			break;
	}
	cols = json_pack("[{s:o,s:s}]", "items", items, "title", "Films");
	for (;;) {
		cr_assert_eq(mfs_manifest_sign(&text, len, 9, 1700000000000ull, cols, pk, sk), 0);
		if (*len <= target)
			break;
		free(text);
		for (size_t over = (*len - target) / per_file + 1; over--;)
			json_array_remove(items, json_array_size(items) - 1);
	}
	*files = json_array_size(items);
	json_decref(cols);
	return text;
}

Test(tracker_proto, honest_manifests_near_the_limit_pass)
{
	const struct {
		int empty;
		size_t name_len;
	} kinds[] = {{0, 12}, {1, 1}, {1, 12}};

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct mfs_tracker_msg m;
		size_t mlen, len, files;
		char *manifest = manifest_of_files(MFS_TRACKER_MANIFEST_MAX, kinds[k].empty,
						   kinds[k].name_len, &mlen, &files);
		char *text, why[160] = "";

		cr_assert_leq(mlen, MFS_TRACKER_MANIFEST_MAX);
		cr_assert_geq(mlen, MFS_TRACKER_MANIFEST_MAX - 2000, "only %zu bytes", mlen);
		cr_assert_eq(mfs_tracker_build_publish(&text, &len, manifest, mlen), 0);
		cr_assert_leq(len, MFS_TRACKER_MESSAGE_MAX);
		cr_assert_eq(mfs_tracker_parse_request(&m, text, len, why, sizeof why), 0,
			     "%zu files (kind %zu) refused: %s", files, k, why);
		cr_assert_eq(m.manifest_len, mlen);
		mfs_tracker_msg_clear(&m);
		cr_assert_eq(mfs_tracker_parse_reply(&m, text, len, why, sizeof why), 0);
		mfs_tracker_msg_clear(&m);
		if (k == 0)
			cr_assert_geq(files, 3500, "only %zu files of one chunk fit", files);
		free(text);
		free(manifest);
	}
}

Test(tracker_proto, sizes_over_the_limits_are_refused)
{
	size_t n = MFS_TRACKER_MANIFEST_MAX + 1;
	char *big = malloc(MFS_TRACKER_MESSAGE_MAX + 2), *text;
	struct mfs_tracker_msg m;
	size_t len;

	cr_assert_not_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, big, n), MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, big, n - 1 - 1), MFS_E_FORMAT);
	big[n - 2] = '}';
	cr_assert_eq(mfs_tracker_build_publish(&text, &len, big, n - 1), 0);
	free(text);
	/* A message one byte over, however harmless, is not parsed. */
	memset(big, ' ', MFS_TRACKER_MESSAGE_MAX + 1);
	memcpy(big, "{\"action\":\"subscribe\",\"key\":\"", 29);
	memcpy(big + 29, key_hex, 64);
	memcpy(big + 93, "\"}", 2);
	cr_assert_eq(mfs_tracker_parse_request(&m, big, MFS_TRACKER_MESSAGE_MAX, NULL, 0), 0);
	mfs_tracker_msg_clear(&m);
	cr_assert_eq(mfs_tracker_parse_request(&m, big, MFS_TRACKER_MESSAGE_MAX + 1, NULL, 0),
		     MFS_E_FORMAT);
	cr_assert_eq(mfs_tracker_parse_reply(&m, big, MFS_TRACKER_MESSAGE_MAX + 1, NULL, 0),
		     MFS_E_FORMAT);
	free(big);
}

/* A publish of about 1 MiB whose manifest carries "junk": unit repeated,
 * each followed by pad spaces. */
static char *junk_publish(const char *unit, size_t pad, size_t *len)
{
	static const char tail[] = "],\"publicKey\":\"%s\",\"sequence\":5}}";
	size_t cap = MFS_TRACKER_MESSAGE_MAX - 128, ul = strlen(unit), n;
	char *text = malloc(cap + 1), *p = text;

	cr_assert_not_null(text);
	p += sprintf(p, "{\"action\":\"publish\",\"manifest\":{\"junk\":[");
	for (n = 0; (size_t)(p - text) + ul + pad + 1 + sizeof tail + 64 < cap; n++) {
		if (n)
			*p++ = ',';
		memcpy(p, unit, ul);
		p += ul;
		memset(p, ' ', pad);
		p += pad;
	}
	p += sprintf(p, tail, key_hex);
	*len = (size_t)(p - text);
	return text;
}

static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

Test(tracker_proto, junk_is_counted_before_it_is_parsed)
{
	static const char *const units[] = {"[]", "{}", "[[[]]]", "{\"a\":{}}", "\"\"", "1",
					    "[1,[]]", "{\"a\":1}", "true", "\"\\\"\""};
	struct mfs_tracker_msg m;

	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t len, pad, before, tree;
		char *text = NULL, why[160] = "";
		json_t *root;

		/* The densest form of this junk that the count lets through. */
		for (pad = 0; pad < 256; pad++) {
			free(text);
			text = junk_publish(units[u], pad, &len);
			if (mfs_tracker_shape_check(text, len, NULL, 0) == 0)
				break;
			if (pad == 0) {
				/* Refused: so are both parsers, with a reason. */
				cr_assert_eq(mfs_tracker_parse_request(&m, text, len, why, sizeof why),
					     MFS_E_FORMAT);
				cr_assert(strstr(why, "too many values"), "%s: %s", units[u], why);
				cr_assert_eq(mfs_tracker_parse_reply(&m, text, len, NULL, 0),
					     MFS_E_FORMAT);
			}
		}
		cr_assert_lt(pad, 256);
		cr_assert_geq(len, MFS_TRACKER_MESSAGE_MAX - 400);
		/* What jansson's tree of it costs stays within the bound. */
		before = heap_in_use();
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
		cr_assert_not_null(root, "%s", units[u]);
		tree = heap_in_use() - before;
		cr_assert_leq(tree, 32 * len + (64u << 10), "%s (pad %zu): %zu bytes for %zu",
			      units[u], pad, tree, len);
		cr_log_info("%-10s pad %3zu: tree %5.1f x the text\n", units[u], pad,
			    (double)tree / (double)len);
		json_decref(root);
		why[0] = '\0';
		cr_assert_eq(mfs_tracker_parse_request(&m, text, len, why, sizeof why), 0, "%s: %s",
			     units[u], why);
		mfs_tracker_msg_clear(&m);
		free(text);
	}
}
