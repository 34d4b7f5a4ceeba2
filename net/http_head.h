/* http_head: the HTTP/1.1 heads of the tls peer transport (net/tls_link):
 * the client's WebSocket upgrade request and the server's answers (101,
 * or an ordinary web page), and bounded parsers of both heads (untrusted
 * bytes: a prober's request, or a server's answer).
 *
 * A head is at most MFS_HTTP_HEAD_MAX bytes, up to and with its blank line
 * ("\r\n\r\n"); lines end in CRLF; header names are tokens, compared
 * without case; folded lines, NULs and control bytes are malformed. Pure;
 * no allocation. */
#ifndef MFS_HTTP_HEAD_H
#define MFS_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define MFS_HTTP_HEAD_MAX 8192
#define MFS_HTTP_PATH_MAX 256      /* with its NUL */
#define MFS_WS_KEY_TEXT 25         /* base64 of 16 bytes, and a NUL */
#define MFS_WS_ACCEPT_TEXT 29      /* base64 of 20 bytes, and a NUL */
#define MFS_HTTP_MAX_HEADERS 64

/* The length of the head at the start of buf (with its blank line), or 0
 * when buf does not hold a whole one yet. */
size_t mfs_http_head_len(const uint8_t *buf, size_t len);

/* What a request head says that the server looks at. */
struct mfs_http_request {
	int is_get, is_head;         /* the method */
	char path[MFS_HTTP_PATH_MAX]; /* "" when the target was longer */
	int upgrade_websocket;       /* Upgrade: websocket */
	int connection_upgrade;      /* Connection: ..., upgrade, ... */
	int version_13;              /* Sec-WebSocket-Version: 13 */
	char key[MFS_WS_KEY_TEXT];   /* Sec-WebSocket-Key when well formed, else "" */
};

/* Parses head[0..len) (one whole head, as mfs_http_head_len measured) as
 * an HTTP/1.x request. 0, or MFS_E_FORMAT (not a request line "METHOD
 * TARGET HTTP/1.x", a malformed header line, too many headers, a repeated
 * Sec-WebSocket-Key). */
int mfs_http_request_parse(struct mfs_http_request *req, const uint8_t *head, size_t len);

/* 1 when req asks for a WebSocket at path (GET, the upgrade headers, a
 * key), else 0. */
int mfs_http_request_is_upgrade(const struct mfs_http_request *req, const char *path);

/* The Sec-WebSocket-Accept for key: base64(SHA-1(key GUID)). */
void mfs_ws_accept(char out[static MFS_WS_ACCEPT_TEXT], const char *key);

/* A fresh Sec-WebSocket-Key: 16 random bytes in base64. */
void mfs_ws_key_new(char out[static MFS_WS_KEY_TEXT]);

/* Checks head[0..len) as the server's answer to an upgrade with the key
 * whose accept is accept: "HTTP/1.1 101", Upgrade: websocket, Connection:
 * upgrade, Sec-WebSocket-Accept: accept. 0 or MFS_E_FORMAT. */
int mfs_http_response_check(const uint8_t *head, size_t len,
			    const char accept[static MFS_WS_ACCEPT_TEXT]);

/* The heads this side writes, into out[0..cap): their length, or 0 when
 * cap is too small. */
size_t mfs_http_upgrade_request(char *out, size_t cap, const char *host, const char *path,
				const char *key);
size_t mfs_http_upgrade_answer(char *out, size_t cap, const char *key);
/* A web server's answer to any other request: 200 and a small HTML page
 * (400 when bad, no body after HEAD), "Connection: close". */
size_t mfs_http_page(char *out, size_t cap, int bad, int head_only);

#endif
