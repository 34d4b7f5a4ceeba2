/* http_head: the HTTP heads a tls peer reads (net/http_head): a prober's
 * or a client's request, read by the server, and a server's answer, read by
 * the client. Input: one byte (bit 0: an answer, else a request), then the
 * bytes as they came. The head's length must lie within the bytes and end
 * with a blank line; a request that parses has a NUL-terminated path under
 * its bound and a key that is "" or 24 characters; an upgrade needs GET;
 * an answer is accepted only with the accept of RFC 6455's example key. */
#include <stdlib.h>
#include <string.h>

#include "net/http_head.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char accept[MFS_WS_ACCEPT_TEXT] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
	struct mfs_http_request req;
	size_t len;

	if (size < 1)
		return 0;
	len = mfs_http_head_len(data + 1, size - 1);
	if (len > size - 1 || len > MFS_HTTP_HEAD_MAX ||
	    (len && memcmp(data + 1 + len - 4, "\r\n\r\n", 4) != 0))
		abort();
	if (!len)
		len = size - 1; /* a head too long or cut: parsed as it is, refused */
	if (data[0] & 1) {
		(void)mfs_http_response_check(data + 1, len, accept);
		return 0;
	}
	if (mfs_http_request_parse(&req, data + 1, len) != 0)
		return 0;
	if (strnlen(req.path, sizeof req.path) >= sizeof req.path ||
	    strnlen(req.key, sizeof req.key) >= sizeof req.key ||
	    (req.key[0] && strlen(req.key) != MFS_WS_KEY_TEXT - 1))
		abort();
	if (mfs_http_request_is_upgrade(&req, req.path) && !req.is_get)
		abort();
	return 0;
}
