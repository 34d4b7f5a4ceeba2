/* net/bt_announce: BEP 3 announces read strictly from the raw query (what
 * aria2c and libtorrent send is taken; percent-encoded NUL, '&' and '=' are
 * data), every malformed query refused with a reason, and answers that are
 * canonical bencoding (BEP 23 compact, BEP 7 peers6) inside an HTTP/1.1
 * response whose Content-Length is the body's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/bencode.h"
#include "net/bt_announce.h"

/* 20 bytes holding NUL, '&', '=', '+', CR, LF, '%' and 0xff. */
#define HASH_Q "%00%26%3D%2B%0d%0A%25%ff%FFabcdefghijk"
static const uint8_t hash_bytes[20] = {0, '&', '=', '+', '\r', '\n', '%', 0xff, 0xff,
				       'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'};
#define GOOD "info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=6881&uploaded=1" \
	     "&downloaded=2&left=3"

static int parse(struct mfs_bt_announce *a, const char *q, char *why, size_t why_len)
{
	return mfs_bt_query_parse(a, q, strlen(q), why, why_len);
}

static void refused(const char *q, const char *reason)
{
	struct mfs_bt_announce a;
	char why[MFS_BT_REASON_MAX];

	cr_assert_eq(parse(&a, q, why, sizeof why), MFS_E_FORMAT, "accepted: %s", q);
	cr_assert(strstr(why, reason), "'%s' said '%s', expected '%s'", q, why, reason);
}

Test(bt_announce, a_query_as_clients_send_it_is_read_byte_for_byte)
{
	struct mfs_bt_announce a;
	char why[MFS_BT_REASON_MAX];

	cr_assert_eq(parse(&a, GOOD, why, sizeof why), 0, "%s", why);
	cr_assert_arr_eq(a.info_hash, hash_bytes, 20);
	cr_assert_arr_eq(a.peer_id, "-LT2080-abcdefghijkl", 20);
	cr_assert_eq(a.port, 6881);
	cr_assert_eq(a.uploaded, 1);
	cr_assert_eq(a.downloaded, 2);
	cr_assert_eq(a.left, 3);
	cr_assert_eq(a.numwant, MFS_BT_DEFAULT_NUMWANT);
	cr_assert_eq(a.event, MFS_BT_EVENT_NONE);

	/* aria2c 1.36's announce, its extra parameters ignored */
	cr_assert_eq(parse(&a, "info_hash=" HASH_Q "&peer_id=A2-1-36-0-%a5%12%00%ff%01%02%03%04%05%06"
			 "&uploaded=0&downloaded=0&left=6303777&compact=1&key=%5b%07%ff%00"
			 "&event=started&numwant=50&no_peer_id=1&port=6881&supportcrypto=1",
			 why, sizeof why), 0, "%s", why);
	cr_assert_eq(a.event, MFS_BT_EVENT_STARTED);
	cr_assert_eq(a.peer_id[12], 0);
	cr_assert_eq(a.left, 6303777);
	/* libtorrent's, with numwant above the cap and ipv6= given */
	cr_assert_eq(parse(&a, GOOD "&corrupt=0&redundant=0&numwant=200000&ipv6=%3A%3A1"
			 "&event=completed&compact=1", why, sizeof why), 0, "%s", why);
	cr_assert_eq(a.numwant, MFS_BT_MAX_PEERS);
	cr_assert_eq(a.event, MFS_BT_EVENT_COMPLETED);
	cr_assert_eq(parse(&a, GOOD "&event=stopped", why, sizeof why), 0);
	cr_assert_eq(a.event, MFS_BT_EVENT_STOPPED);
	cr_assert_eq(parse(&a, GOOD "&event=", why, sizeof why), 0);
	cr_assert_eq(a.event, MFS_BT_EVENT_NONE);
	cr_assert_eq(parse(&a, GOOD "&left=0", why, sizeof why), MFS_E_FORMAT); /* twice */
	cr_assert_eq(parse(&a, "left=9223372036854775807&info_hash=" HASH_Q
			 "&peer_id=01234567890123456789&port=65535&uploaded=0&downloaded=0",
			 why, sizeof why), 0, "%s", why);
	cr_assert_eq(a.left, 9223372036854775807ull);
	cr_assert_eq(a.port, 65535);
}

Test(bt_announce, malformed_queries_are_refused_with_a_reason)
{
	char big[MFS_BT_QUERY_MAX + 64];

	refused("", "no query");
	refused("info_hash=abc&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0&downloaded=0&left=0",
		"info_hash must be 20 bytes, not 3");
	refused("info_hash=" HASH_Q "a&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0&downloaded=0"
		"&left=0", "info_hash must be 20 bytes, not 21");
	refused("info_hash=" HASH_Q "&peer_id=short&port=1&uploaded=0&downloaded=0&left=0",
		"peer_id must be 20 bytes");
	refused(GOOD "&port=2", "port given twice");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=0&uploaded=0&downloaded=0"
		"&left=0", "port must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=65536&uploaded=0"
		"&downloaded=0&left=0", "port must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=+1&uploaded=0"
		"&downloaded=0&left=0", "port must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=-1"
		"&downloaded=0&left=0", "uploaded must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0"
		"&downloaded=00&left=0", "downloaded must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0"
		"&downloaded=0&left=9223372036854775808", "left must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0"
		"&downloaded=0&left=99999999999999999999", "left must be");
	refused("info_hash=" HASH_Q "&peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0&downloaded=0",
		"missing left");
	refused("peer_id=-LT2080-abcdefghijkl&port=1&uploaded=0&downloaded=0&left=0",
		"missing info_hash");
	refused(GOOD "&", "empty parameter");
	refused("&" GOOD, "empty parameter");
	refused(GOOD "&&key=1", "empty parameter");
	refused(GOOD "&key", "without a name or a '='");
	refused(GOOD "&=1", "without a name or a '='");
	refused(GOOD "&k%65y=1", "name is of letters");
	refused(GOOD "&key=%4", "key: bad percent-encoding");
	refused(GOOD "&key=%g0", "key: bad percent-encoding");
	refused(GOOD "&key=a b", "key: bad percent-encoding");
	refused(GOOD "&key=a\"b", "key: bad percent-encoding");
	refused(GOOD "&key=a=b", "key: bad percent-encoding");
	refused(GOOD "&event=start", "event must be");
	refused(GOOD "&numwant=-1", "numwant must be");
	refused(GOOD "&compact=2", "compact must be 0 or 1");
	refused(GOOD "&no_peer_id=", "no_peer_id must be 0 or 1");
	refused(GOOD "&event=startedstartedstartedstarted", "event too long");
	memset(big, 'a', sizeof big);
	memcpy(big, GOOD "&key=", sizeof GOOD "&key=" - 1);
	big[MFS_BT_QUERY_MAX + 1] = '\0';
	refused(big, "query longer than 2048 bytes");
	big[MFS_BT_QUERY_MAX] = '\0';
	{
		struct mfs_bt_announce a;

		cr_assert_eq(parse(&a, big, NULL, 0), 0, "a query of exactly 2048 bytes");
	}
}

Test(bt_announce, only_get_slash_announce_over_http_1_is_an_announce)
{
	struct mfs_bt_announce a;
	char why[MFS_BT_REASON_MAX];
	static const char ok[] = "GET /announce?" GOOD " HTTP/1.1\r\nHost: x\r\n\r\n";
	static const struct {
		const char *head, *reason;
	} bad[] = {
		{"GET /announce?" GOOD " HTTP/1.1", "no request line"},
		{"POST /announce?" GOOD " HTTP/1.1\r\n\r\n", "only GET /announce"},
		{"GET /scrape?" GOOD " HTTP/1.1\r\n\r\n", "only GET /announce"},
		{"GET /announce/x?" GOOD " HTTP/1.1\r\n\r\n", "only GET /announce"},
		{"GET /announce HTTP/1.1\r\n\r\n", "no query"},
		{"GET /announce?" GOOD " HTTP/2.0\r\n\r\n", "not an HTTP/1.0 or 1.1"},
		{"GET /announce?" GOOD "\r\n\r\n", "not an HTTP/1.0 or 1.1"},
		{"GET /announce?" GOOD " HTTP/1.1 \r\n\r\n", "not an HTTP/1.0 or 1.1"},
		{"GET /announce?a b HTTP/1.1\r\n\r\n", "not an HTTP/1.0 or 1.1"},
	};

	cr_assert_eq(mfs_bt_request_parse(&a, ok, strlen(ok), why, sizeof why), 0, "%s", why);
	cr_assert_arr_eq(a.info_hash, hash_bytes, 20);
	cr_assert_eq(mfs_bt_request_parse(&a, "GET /announce?" GOOD " HTTP/1.0\r\n",
					  strlen("GET /announce?" GOOD " HTTP/1.0\r\n"), why,
					  sizeof why), 0, "%s", why);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(mfs_bt_request_parse(&a, bad[i].head, strlen(bad[i].head), why,
						  sizeof why), MFS_E_FORMAT, "%s", bad[i].head);
		cr_assert(strstr(why, bad[i].reason), "'%s' said '%s'", bad[i].head, why);
	}
}

/* The body of an HTTP response in out[len], checked: status line,
 * Content-Length equal to the body's length. */
static const uint8_t *body_of(const char *out, size_t len, size_t *body_len)
{
	const char *end = memmem(out, len, "\r\n\r\n", 4), *cl;
	size_t declared;

	cr_assert(end);
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 OK\r\n", 17), 0);
	cl = memmem(out, (size_t)(end - out), "Content-Length: ", 16);
	cr_assert(cl);
	cr_assert_eq(sscanf(cl + 16, "%zu", &declared), 1);
	*body_len = len - (size_t)(end + 4 - out);
	cr_assert_eq(declared, *body_len);
	return (const uint8_t *)end + 4;
}

Test(bt_announce, answers_are_compact_bencoding_in_an_http_response)
{
	struct mfs_bt_peer peers[MFS_BT_MAX_PEERS + 1] = {
		{.addr = {192, 0, 2, 7}, .port = 6881},
		{.addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .v6 = 1, .port = 51413},
		{.addr = {10, 0, 0, 1}, .port = 1},
	};
	static const char want[] = "d8:completei2e10:incompletei5e8:intervali60e5:peers12:"
				   "\xc0\x00\x02\x07\x1a\xe1\x0a\x00\x00\x01\x00\x01"
				   "6:peers618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\xc8\xd5" "e";
	char out[MFS_BT_RESPONSE_MAX];
	const uint8_t *body;
	size_t len, body_len;
	struct mfs_bdoc *doc;

	cr_assert_eq(mfs_bt_reply_build(out, sizeof out, &len, 60, 2, 5, peers, 3), 0);
	body = body_of(out, len, &body_len);
	cr_assert_eq(body_len, sizeof want - 1);
	cr_assert_arr_eq(body, want, body_len);
	cr_assert_eq(mfs_benc_parse(&doc, body, body_len, NULL, 0), 0, "not canonical");
	mfs_benc_free(doc);

	/* no IPv6 peer: no peers6; 200 IPv6 peers fit the largest response */
	cr_assert_eq(mfs_bt_reply_build(out, sizeof out, &len, 60, 0, 0, peers, 1), 0);
	body = body_of(out, len, &body_len);
	cr_assert_null(memmem(body, body_len, "6:peers6", 8));
	for (size_t i = 0; i < MFS_BT_MAX_PEERS + 1; i++)
		peers[i] = peers[1];
	cr_assert_eq(mfs_bt_reply_build(out, sizeof out, &len, 86400, UINT64_MAX, 0, peers,
					MFS_BT_MAX_PEERS), 0);
	cr_assert_eq(mfs_bt_reply_build(out, sizeof out, &len, 60, 0, 0, peers,
					MFS_BT_MAX_PEERS + 1), -EINVAL);
	cr_assert_eq(mfs_bt_reply_build(out, 100, &len, 60, 0, 0, peers, 1), -ENOBUFS);
}

Test(bt_announce, a_failure_is_one_bencoded_reason_cut_to_its_limit)
{
	char out[MFS_BT_RESPONSE_MAX], reason[400];
	const uint8_t *body;
	size_t len, body_len;

	cr_assert_eq(mfs_bt_failure_build(out, sizeof out, &len, "port must be a number"), 0);
	body = body_of(out, len, &body_len);
	cr_assert_eq(body_len, strlen("d14:failure reason21:port must be a numbere"));
	cr_assert_arr_eq(body, "d14:failure reason21:port must be a numbere", body_len);
	memset(reason, 'x', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	cr_assert_eq(mfs_bt_failure_build(out, sizeof out, &len, reason), 0);
	body = body_of(out, len, &body_len);
	cr_assert_eq(body_len, strlen("d14:failure reason160:e") + MFS_BT_REASON_MAX);
	cr_assert_eq(mfs_bt_failure_build(out, 40, &len, "x"), -ENOBUFS);
}
