#include "net/http_head.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/mfs_error.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

size_t mfs_http_head_len(const uint8_t *buf, size_t len)
{
	for (size_t i = 3; i < len && i < MFS_HTTP_HEAD_MAX; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* ---- lines and tokens ---- */

struct span {
	const char *p;
	size_t len;
};

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Takes the next line (without its CRLF) off *rest; -1 at a line without
 * CRLF or with a control byte (tabs allowed). */
static int next_line(struct span *rest, struct span *line)
{
	for (size_t i = 0; i < rest->len; i++) {
		unsigned char c = (unsigned char)rest->p[i];

		if (c == '\r') {
			if (i + 1 >= rest->len || rest->p[i + 1] != '\n')
				return -1;
			*line = (struct span){ rest->p, i };
			rest->p += i + 2;
			rest->len -= i + 2;
			return 0;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	return -1;
}

static int span_is(struct span s, const char *word)
{
	return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* 1 when the comma-separated list s holds token (any case). */
static int list_has(struct span s, const char *token)
{
	while (s.len) {
		size_t n = 0;
		struct span item;

		while (n < s.len && s.p[n] != ',')
			n++;
		item = (struct span){ s.p, n };
		while (item.len && (*item.p == ' ' || *item.p == '\t'))
			item.p++, item.len--;
		while (item.len && (item.p[item.len - 1] == ' ' || item.p[item.len - 1] == '\t'))
			item.len--;
		if (span_is(item, token))
			return 1;
		s.p += n < s.len ? n + 1 : n;
		s.len -= n < s.len ? n + 1 : n;
	}
	return 0;
}

/* Splits "Name: value" (value trimmed). -1 when malformed. */
static int split_header(struct span line, struct span *name, struct span *value)
{
	size_t i = 0;

	while (i < line.len && is_tchar((unsigned char)line.p[i]))
		i++;
	if (i == 0 || i >= line.len || line.p[i] != ':')
		return -1;
	*name = (struct span){ line.p, i };
	*value = (struct span){ line.p + i + 1, line.len - i - 1 };
	while (value->len && (*value->p == ' ' || *value->p == '\t'))
		value->p++, value->len--;
	while (value->len && (value->p[value->len - 1] == ' ' || value->p[value->len - 1] == '\t'))
		value->len--;
	return 0;
}

static int is_b64(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* A key is base64 of 16 bytes: 22 digits and "==". */
static int key_ok(struct span v)
{
	if (v.len != MFS_WS_KEY_TEXT - 1 || v.p[22] != '=' || v.p[23] != '=')
		return 0;
	for (size_t i = 0; i < 22; i++)
		if (!is_b64((unsigned char)v.p[i]))
			return 0;
	return 1;
}

/* Cuts the head's lines: the first into *first, then each header to fn;
 * the head must end with its blank line. -1 when malformed. */
static int walk_head(const uint8_t *head, size_t len, struct span *first,
		     int (*fn)(void *ctx, struct span name, struct span value), void *ctx)
{
	struct span rest = { (const char *)head, len }, line, name, value;
	unsigned count = 0;

	if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0 || next_line(&rest, first) != 0)
		return -1;
	for (;;) {
		if (next_line(&rest, &line) != 0)
			return -1;
		if (line.len == 0)
			return rest.len == 0 ? 0 : -1;
		if (++count > MFS_HTTP_MAX_HEADERS || split_header(line, &name, &value) != 0 ||
		    fn(ctx, name, value) != 0)
			return -1;
	}
}

/* ---- the request ---- */

static int request_header(void *ctx, struct span name, struct span value)
{
	struct mfs_http_request *req = ctx;

	if (span_is(name, "Upgrade"))
		req->upgrade_websocket |= list_has(value, "websocket");
	else if (span_is(name, "Connection"))
		req->connection_upgrade |= list_has(value, "upgrade");
	else if (span_is(name, "Sec-WebSocket-Version"))
		req->version_13 = span_is(value, "13");
	else if (span_is(name, "Sec-WebSocket-Key")) {
		if (req->key[0])
			return -1;
		if (key_ok(value)) {
			memcpy(req->key, value.p, value.len);
			req->key[value.len] = '\0';
		}
	}
	return 0;
}

int mfs_http_request_parse(struct mfs_http_request *req, const uint8_t *head, size_t len)
{
	struct span first, method, target;
	const char *sp1, *sp2;

	memset(req, 0, sizeof *req);
	if (walk_head(head, len, &first, request_header, req) != 0)
		goto bad;
	sp1 = memchr(first.p, ' ', first.len);
	if (!sp1)
		goto bad;
	sp2 = memchr(sp1 + 1, ' ', first.len - (size_t)(sp1 + 1 - first.p));
	if (!sp2)
		goto bad;
	method = (struct span){ first.p, (size_t)(sp1 - first.p) };
	target = (struct span){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	if (!method.len || !target.len)
		goto bad;
	for (size_t i = 0; i < method.len; i++)
		if (!is_tchar((unsigned char)method.p[i]))
			goto bad;
	for (size_t i = 0; i < target.len; i++)
		if ((unsigned char)target.p[i] <= ' ')
			goto bad;
	if (!span_is((struct span){ sp2 + 1, first.len - (size_t)(sp2 + 1 - first.p) },
		     "HTTP/1.1") &&
	    !span_is((struct span){ sp2 + 1, first.len - (size_t)(sp2 + 1 - first.p) },
		     "HTTP/1.0"))
		goto bad;
	req->is_get = method.len == 3 && memcmp(method.p, "GET", 3) == 0;
	req->is_head = method.len == 4 && memcmp(method.p, "HEAD", 4) == 0;
	if (target.len < MFS_HTTP_PATH_MAX) {
		memcpy(req->path, target.p, target.len);
		req->path[target.len] = '\0';
	}
	return 0;
bad:
	memset(req, 0, sizeof *req);
	return MFS_E_FORMAT;
}

int mfs_http_request_is_upgrade(const struct mfs_http_request *req, const char *path)
{
	return req->is_get && req->upgrade_websocket && req->connection_upgrade &&
	       req->version_13 && req->key[0] && req->path[0] && strcmp(req->path, path) == 0;
}

void mfs_ws_accept(char out[static MFS_WS_ACCEPT_TEXT], const char *key)
{
	uint8_t digest[SHA_DIGEST_LENGTH];
	char in[MFS_WS_KEY_TEXT + sizeof WS_GUID];
	int n = snprintf(in, sizeof in, "%.24s%s", key, WS_GUID);

	EVP_Digest(in, (size_t)n, digest, NULL, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, digest, sizeof digest);
}

void mfs_ws_key_new(char out[static MFS_WS_KEY_TEXT])
{
	uint8_t raw[16];

	randombytes_buf(raw, sizeof raw);
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw);
}

/* ---- the answer ---- */

struct answer_check {
	const char *accept;
	int upgrade, connection, accepted;
};

static int answer_header(void *ctx, struct span name, struct span value)
{
	struct answer_check *a = ctx;

	if (span_is(name, "Upgrade"))
		a->upgrade |= span_is(value, "websocket");
	else if (span_is(name, "Connection"))
		a->connection |= list_has(value, "upgrade");
	else if (span_is(name, "Sec-WebSocket-Accept"))
		a->accepted = value.len == MFS_WS_ACCEPT_TEXT - 1 &&
			      memcmp(value.p, a->accept, value.len) == 0;
	return 0;
}

int mfs_http_response_check(const uint8_t *head, size_t len,
			    const char accept[static MFS_WS_ACCEPT_TEXT])
{
	struct answer_check a = { .accept = accept };
	struct span first;
	static const char want[] = "HTTP/1.1 101";

	if (walk_head(head, len, &first, answer_header, &a) != 0 ||
	    first.len < sizeof want - 1 || memcmp(first.p, want, sizeof want - 1) != 0 ||
	    (first.len > sizeof want - 1 && first.p[sizeof want - 1] != ' '))
		return MFS_E_FORMAT;
	return a.upgrade && a.connection && a.accepted ? 0 : MFS_E_FORMAT;
}

static size_t fitted(int n, size_t cap)
{
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t mfs_http_upgrade_request(char *out, size_t cap, const char *host, const char *path,
				const char *key)
{
	/* The headers and their order as a browser's new WebSocket(). */
	return fitted(snprintf(out, cap,
			       "GET %s HTTP/1.1\r\n"
			       "Host: %s\r\n"
			       "Connection: Upgrade\r\n"
			       "Pragma: no-cache\r\n"
			       "Cache-Control: no-cache\r\n"
			       "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
			       "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
			       "Safari/537.36\r\n"
			       "Upgrade: websocket\r\n"
			       "Origin: https://%s\r\n"
			       "Sec-WebSocket-Version: 13\r\n"
			       "Accept-Encoding: gzip, deflate, br\r\n"
			       "Accept-Language: en-US,en;q=0.9\r\n"
			       "Sec-WebSocket-Key: %s\r\n"
			       "\r\n",
			       path, host, host, key),
		      cap);
}

size_t mfs_http_upgrade_answer(char *out, size_t cap, const char *key)
{
	char accept[MFS_WS_ACCEPT_TEXT];

	mfs_ws_accept(accept, key);
	return fitted(snprintf(out, cap,
			       "HTTP/1.1 101 Switching Protocols\r\n"
			       "Server: nginx\r\n"
			       "Upgrade: websocket\r\n"
			       "Connection: upgrade\r\n"
			       "Sec-WebSocket-Accept: %s\r\n"
			       "\r\n",
			       accept),
		      cap);
}

/* nginx's own pages, as a fresh Debian nginx serves them. */
static const char welcome[] =
	"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\n"
	"html { color-scheme: light dark; }\n"
	"body { width: 35em; margin: 0 auto;\nfont-family: Tahoma, Verdana, Arial, sans-serif; }\n"
	"</style>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n"
	"<p>If you see this page, the nginx web server is successfully installed and\n"
	"working. Further configuration is required.</p>\n\n"
	"<p>For online documentation and support please refer to\n"
	"<a href=\"http://nginx.org/\">nginx.org</a>.<br/>\n"
	"Commercial support is available at\n"
	"<a href=\"http://nginx.com/\">nginx.com</a>.</p>\n\n"
	"<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n";
static const char bad_request[] =
	"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
	"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n"
	"</body>\r\n</html>\r\n";

size_t mfs_http_page(char *out, size_t cap, int bad, int head_only)
{
	const char *body = bad ? bad_request : welcome;
	size_t body_len = strlen(body);
	char date[64], file_headers[128] = "";
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!bad) /* a static file's headers, as nginx sends them */
		snprintf(file_headers, sizeof file_headers,
			 "Last-Modified: Tue, 14 Feb 2023 10:12:45 GMT\r\n"
			 "ETag: \"63eb5e4d-%zx\"\r\n", body_len);
	return fitted(snprintf(out, cap,
			       "HTTP/1.1 %s\r\n"
			       "Server: nginx\r\n"
			       "Date: %s\r\n"
			       "Content-Type: text/html\r\n"
			       "Content-Length: %zu\r\n"
			       "%s"
			       "Connection: close\r\n"
			       "%s"
			       "\r\n%s",
			       bad ? "400 Bad Request" : "200 OK", date, body_len, file_headers,
			       bad ? "" : "Accept-Ranges: bytes\r\n", head_only ? "" : body),
		      cap);
}
