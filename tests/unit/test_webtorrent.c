/* net/webtorrent: which messages are WebTorrent's; an announce's answer;
 * an offer relayed to another peer and the answer back, byte for byte in
 * the binary strings; stopped and closed connections leave; the limits
 * (offers, peers per range, a peer_id held by another connection). The
 * connections are plain structs that collect what is sent to them. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "net/webtorrent.h"

struct fake_conn {
	char *got[16];
	size_t n;
};

static void collect(void *conn, char *text, size_t len)
{
	struct fake_conn *c = conn;

	cr_assert_eq(strlen(text), len);
	cr_assert_lt(c->n, 16);
	c->got[c->n++] = text;
}

static void clear(struct fake_conn *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->got[i]);
	c->n = 0;
}

static const uint8_t range_a[MFS_ADDR_RANGE_BYTES] = {4, 10, 0, 1};
static const uint8_t range_b[MFS_ADDR_RANGE_BYTES] = {4, 10, 0, 2};

/* "\u0000&\u0080\u00ff" then 16 of c: a binary string with what JSON
 * escapes, what UTF-8 writes in two bytes, and a NUL. */
#define BIN(c) "\\u0000&\\u0080\\u00ff" c c c c c c c c c c c c c c c c
#define IH BIN("h")

static int handle(struct mfs_webtorrent *wt, struct mfs_wt_conn **st, struct fake_conn *c,
		  const uint8_t *range, const char *msg)
{
	return mfs_webtorrent_handle(wt, st, c, range, msg, strlen(msg));
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);

	cr_assert_not_null(j, "not JSON: %s", text);
	return j;
}

static struct mfs_webtorrent *make(unsigned per_range)
{
	struct mfs_webtorrent_config cfg = {.per_range_in_torrent = per_range, .send = collect};
	struct mfs_webtorrent *wt;

	cr_assert_eq(mfs_webtorrent_new(&wt, &cfg), 0);
	return wt;
}

Test(webtorrent, megafs_messages_and_other_json_are_not_taken)
{
	struct mfs_webtorrent *wt = make(0);
	struct mfs_wt_conn *st = NULL;
	struct fake_conn c = {0};
	static const char *not_ours[] = {
		"{\"action\":\"announce\",\"info_hash\":\"0000000000000000000000000000000000000000000000000000000000000001\",\"peer_id\":\"x\"}",
		"{\"action\":\"subscribe\",\"key\":\"00\"}",
		"{\"action\":\"publish\"}",
		"[1,2]",
		"not json",
		"{\"info_hash\":\"" IH "\"}",
		"{\"action\":\"announce\",\"action\":\"announce\",\"info_hash\":\"" IH "\"}",
		"{\"action\":\"announce\",\"info_hash\":\"abc\"}",
		"{\"action\":\"announce\",\"info_hash\":\"\\u0100bcdefghijklmnopqrs\"}",
		"{\"action\":\"scrape\"}",
		"{\"action\":\"scrape\",\"info_hash\":[\"" IH "\"]}",
	};

	for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
		cr_assert_eq(handle(wt, &st, &c, range_a, not_ours[i]), 0, "%s", not_ours[i]);
	cr_assert_eq(c.n, 0);
	cr_assert_null(st);
	mfs_webtorrent_free(wt);
}

Test(webtorrent, an_offer_goes_to_another_peer_and_its_answer_comes_back)
{
	struct mfs_webtorrent *wt = make(0);
	struct mfs_wt_conn *sa = NULL, *sb = NULL;
	struct fake_conn a = {0}, b = {0};
	json_t *j;

	cr_assert_eq(handle(wt, &sa, &a, range_a, "{\"action\":\"announce\",\"info_hash\":\"" IH
			    "\",\"peer_id\":\"" BIN("a") "\",\"left\":0,\"event\":\"started\","
			    "\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"A\"},\"offer_id\":\""
			    BIN("o") "\"}]}"), 1);
	cr_assert_eq(a.n, 1, "A's answer only: nobody to relay to");
	cr_assert_str_eq(a.got[0], "{\"action\":\"announce\",\"complete\":1,\"incomplete\":0,"
			 "\"info_hash\":\"\\u0000&\xc2\x80\xc3\xbfhhhhhhhhhhhhhhhh\",\"interval\":120}");
	cr_assert_eq(mfs_webtorrent_joined(sa), 1);
	clear(&a);

	cr_assert_eq(handle(wt, &sb, &b, range_b, "{\"action\":\"announce\",\"info_hash\":\"" IH
			    "\",\"peer_id\":\"" BIN("b") "\",\"offers\":[{\"offer\":{\"type\":\"offer\","
			    "\"sdp\":\"B1\"},\"offer_id\":\"" BIN("1") "\"},{\"offer\":{\"sdp\":\"B2\"},"
			    "\"offer_id\":\"" BIN("2") "\"}]}"), 1);
	cr_assert_eq(b.n, 1);
	j = parse(b.got[0]);
	cr_assert_eq(json_integer_value(json_object_get(j, "complete")), 1);
	cr_assert_eq(json_integer_value(json_object_get(j, "incomplete")), 1);
	json_decref(j);
	cr_assert_eq(a.n, 1, "two offers, one other peer: one relayed");
	j = parse(a.got[0]);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "offer"), "sdp")), "B1");
	cr_assert_eq(json_string_length(json_object_get(j, "peer_id")), 20 + 2);
	cr_assert_eq(memcmp(json_string_value(json_object_get(j, "peer_id")),
			    "\0&\xc2\x80\xc3\xbf" "bbbb", 10), 0);
	json_decref(j);
	clear(&a);
	clear(&b);

	/* A answers B's offer 1: B gets it, A gets nothing */
	cr_assert_eq(handle(wt, &sa, &a, range_a, "{\"action\":\"announce\",\"info_hash\":\"" IH
			    "\",\"peer_id\":\"" BIN("a") "\",\"to_peer_id\":\"" BIN("b") "\",\"answer\":"
			    "{\"type\":\"answer\",\"sdp\":\"to B1\"},\"offer_id\":\"" BIN("1") "\"}"), 1);
	cr_assert_eq(a.n, 0);
	cr_assert_eq(b.n, 1);
	j = parse(b.got[0]);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "answer"), "sdp")),
			 "to B1");
	cr_assert_eq(memcmp(json_string_value(json_object_get(j, "offer_id")),
			    "\0&\xc2\x80\xc3\xbf" "1111", 10), 0);
	json_decref(j);
	clear(&b);

	/* B stops; A's next announce finds itself alone; A's connection closes */
	cr_assert_eq(handle(wt, &sb, &b, range_b, "{\"action\":\"announce\",\"info_hash\":\"" IH
			    "\",\"peer_id\":\"" BIN("b") "\",\"event\":\"stopped\"}"), 1);
	cr_assert_eq(mfs_webtorrent_joined(sb), 0);
	clear(&b);
	cr_assert_eq(handle(wt, &sa, &a, range_a, "{\"action\":\"announce\",\"info_hash\":\"" IH
			    "\",\"peer_id\":\"" BIN("a") "\",\"left\":0}"), 1);
	cr_assert(strstr(a.got[0], "\"complete\":1,\"incomplete\":0"), "%s", a.got[0]);
	clear(&a);
	mfs_webtorrent_leave(wt, sa);
	mfs_webtorrent_leave(wt, sb);
	mfs_webtorrent_free(wt);
}

Test(webtorrent, refusals_say_why_and_limits_hold)
{
	struct mfs_webtorrent *wt = make(2);
	struct mfs_wt_conn *st[4] = {NULL};
	struct fake_conn c[4];
	char offers[4096];
	size_t n = 0;

	memset(c, 0, sizeof c);

	n += (size_t)snprintf(offers, sizeof offers, "{\"action\":\"announce\",\"info_hash\":\"" IH
			      "\",\"peer_id\":\"" BIN("a") "\",\"offers\":[");
	for (int i = 0; i < 11; i++)
		n += (size_t)snprintf(offers + n, sizeof offers - n,
				      "%s{\"offer\":{},\"offer_id\":\"" BIN("o") "\"}", i ? "," : "");
	snprintf(offers + n, sizeof offers - n, "]}");
	cr_assert_eq(handle(wt, &st[0], &c[0], range_a, offers), 1);
	cr_assert(strstr(c[0].got[0], "\"failure reason\":\"too many offers (at most 10)\""));
	cr_assert_eq(handle(wt, &st[0], &c[0], range_a, "{\"action\":\"announce\",\"info_hash\":\""
			    IH "\",\"peer_id\":\"abc\"}"), 1);
	cr_assert(strstr(c[0].got[1], "\"failure reason\":\"invalid peer_id\""));
	cr_assert_eq(handle(wt, &st[0], &c[0], range_a, "{\"action\":\"scrape\",\"info_hash\":\""
			    IH "\"}"), 1);
	cr_assert(strstr(c[0].got[2], "\"failure reason\":\"scrape is not served by this tracker\""));
	cr_assert_eq(mfs_webtorrent_joined(st[0]), 0);
	clear(&c[0]);

	for (int i = 0; i < 3; i++) {
		char msg[256];

		snprintf(msg, sizeof msg, "{\"action\":\"announce\",\"info_hash\":\"" IH
			 "\",\"peer_id\":\"\\u0000&\\u0080\\u00ff%016d\"}", i);
		cr_assert_eq(handle(wt, &st[i], &c[i], range_a, msg), 1);
	}
	cr_assert(strstr(c[2].got[0],
			 "at most 2 peers of one torrent from one address range"), "%s", c[2].got[0]);
	/* peer 0's id from another connection */
	cr_assert_eq(handle(wt, &st[3], &c[3], range_b, "{\"action\":\"announce\",\"info_hash\":\""
			    IH "\",\"peer_id\":\"\\u0000&\\u0080\\u00ff0000000000000000\"}"), 1);
	cr_assert(strstr(c[3].got[0], "peer_id already in this swarm on another connection"));
	for (int i = 0; i < 4; i++) {
		clear(&c[i]);
		mfs_webtorrent_leave(wt, st[i]);
	}
	mfs_webtorrent_free(wt);
}
