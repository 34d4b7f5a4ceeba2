/* net/http_head: the accept of RFC 6455's example, the request a browser
 * sends parsed field by field, the heads this side writes read back by the
 * parsers, and the refusals (bounded, malformed, repeated). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/http_head.h"

#define U8(s) ((const uint8_t *)(s))

static void setup(void)
{
	cr_assert_eq(mfs_crypto_init(), 0);
}

TestSuite(http_head, .init = setup);

Test(http_head, the_accept_of_rfc_6455s_example)
{
	char accept[MFS_WS_ACCEPT_TEXT];

	mfs_ws_accept(accept, "dGhlIHNhbXBsZSBub25jZQ==");
	cr_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(http_head, a_head_ends_at_its_blank_line_and_no_later_than_the_bound)
{
	static uint8_t big[MFS_HTTP_HEAD_MAX + 10];

	cr_assert_eq(mfs_http_head_len(U8("GET / HTTP/1.1\r\n\r\nxyz"), 21), 18);
	cr_assert_eq(mfs_http_head_len(U8("GET / HTTP/1.1\r\n\r"), 17), 0);
	cr_assert_eq(mfs_http_head_len(U8("GET / HTTP/1.1\n\n"), 16), 0, "CRLF only");
	memset(big, 'a', sizeof big);
	memcpy(big + MFS_HTTP_HEAD_MAX, "\r\n\r\n", 4);
	cr_assert_eq(mfs_http_head_len(big, sizeof big), 0, "past the bound");
}

static const char browser[] =
	"GET /live/abc HTTP/1.1\r\n"
	"Host: cdn.example.org\r\n"
	"Connection: keep-alive, Upgrade\r\n"
	"Upgrade: websocket\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
	"\r\n";

Test(http_head, a_browsers_upgrade_parses)
{
	struct mfs_http_request req;

	cr_assert_eq(mfs_http_request_parse(&req, U8(browser), strlen(browser)), 0);
	cr_assert(req.is_get && !req.is_head);
	cr_assert_str_eq(req.path, "/live/abc");
	cr_assert(req.upgrade_websocket && req.connection_upgrade && req.version_13);
	cr_assert_str_eq(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
	cr_assert_eq(mfs_http_request_is_upgrade(&req, "/live/abc"), 1);
	cr_assert_eq(mfs_http_request_is_upgrade(&req, "/live/abd"), 0, "another path");
}

Test(http_head, the_heads_this_side_writes_are_read_back)
{
	char out[2048], key[MFS_WS_KEY_TEXT], accept[MFS_WS_ACCEPT_TEXT];
	struct mfs_http_request req;
	size_t len;

	mfs_ws_key_new(key);
	cr_assert_eq(strlen(key), 24);
	len = mfs_http_upgrade_request(out, sizeof out, "cdn.example.org", "/live/x", key);
	cr_assert_gt(len, 0);
	cr_assert_eq(mfs_http_head_len(U8(out), len), len);
	cr_assert_eq(mfs_http_request_parse(&req, U8(out), len), 0);
	cr_assert_eq(mfs_http_request_is_upgrade(&req, "/live/x"), 1);
	cr_assert_str_eq(req.key, key);
	cr_assert_eq(mfs_http_upgrade_request(out, 100, "h", "/p", key), 0, "too small");

	len = mfs_http_upgrade_answer(out, sizeof out, key);
	cr_assert_gt(len, 0);
	mfs_ws_accept(accept, key);
	cr_assert_eq(mfs_http_response_check(U8(out), len, accept), 0);
	mfs_ws_accept(accept, "dGhlIHNhbXBsZSBub25jZQ==");
	cr_assert_eq(mfs_http_response_check(U8(out), len, accept), MFS_E_FORMAT,
		     "another key's accept");

	len = mfs_http_page(out, sizeof out, 0, 0);
	cr_assert_gt(len, 0);
	cr_assert_eq(mfs_http_response_check(U8(out), mfs_http_head_len(U8(out), len), accept),
		     MFS_E_FORMAT, "a page is no upgrade");
}

static int parse(const char *s)
{
	struct mfs_http_request req;

	return mfs_http_request_parse(&req, U8(s), strlen(s));
}

Test(http_head, malformed_requests_are_refused)
{
	char many[MFS_HTTP_HEAD_MAX];
	size_t at;

	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	cr_assert_eq(parse("GET / HTTP/2\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET /\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET  / HTTP/1.1\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("G(T / HTTP/1.1\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\n\r\nextra"), MFS_E_FORMAT);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
		     MFS_E_FORMAT);
	at = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= MFS_HTTP_MAX_HEADERS; i++)
		at += (size_t)snprintf(many + at, sizeof many - at, "X: %d\r\n", i);
	snprintf(many + at, sizeof many - at, "\r\n");
	cr_assert_eq(parse(many), MFS_E_FORMAT, "too many headers");
}

Test(http_head, a_bad_key_or_missing_header_is_no_upgrade)
{
	struct mfs_http_request req;
	static const char *cases[] = {
		"GET /p HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short==\r\n\r\n",
		"GET /p HTTP/1.1\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"GET /p HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"POST /p HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cr_assert_eq(mfs_http_request_parse(&req, U8(cases[i]), strlen(cases[i])), 0);
		cr_assert_eq(mfs_http_request_is_upgrade(&req, "/p"), 0, "case %zu", i);
	}
}

Test(http_head, an_answer_must_be_101_with_the_headers)
{
	char accept[MFS_WS_ACCEPT_TEXT];
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	static const char no_upgrade[] = "HTTP/1.1 101 Switching Protocols\r\n"
					 "Connection: Upgrade\r\n"
					 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	static const char status[] = "HTTP/1.1 1010 x\r\nUpgrade: websocket\r\n"
				     "Connection: Upgrade\r\n"
				     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

	mfs_ws_accept(accept, "dGhlIHNhbXBsZSBub25jZQ==");
	cr_assert_eq(mfs_http_response_check(U8(ok), strlen(ok), accept), 0);
	cr_assert_eq(mfs_http_response_check(U8(no_upgrade), strlen(no_upgrade), accept),
		     MFS_E_FORMAT);
	cr_assert_eq(mfs_http_response_check(U8(status), strlen(status), accept), MFS_E_FORMAT);
}
