/* socks5: a SOCKS5 client (net/socks5) against any proxy. Input: one byte
 * of flags (bit 0: the proxy has credentials; bits 1-2: the target is an
 * IPv4, IPv6 literal or a name; bit 7: the rest is a proxy URL for
 * mfs_socks5_url_parse instead), one byte whose low 4 bits + 1 are the
 * size of the pieces the proxy's bytes arrive in (cut, as net/dial reads,
 * to what the client says it still wants), then those bytes. The
 * client must never take more than it is given nor more than the current
 * answer lacks, never ask to send more than MFS_SOCKS5_OUT_MAX, stay
 * failed after an error with nothing to send, make progress on every
 * call, and want nothing more once the tunnel is open. */
#include <stdlib.h>
#include <string.h>

#include "net/socks5.h"
#include "tests/fuzz/fuzz.h"

static void url(const uint8_t *data, size_t size)
{
	struct mfs_socks5_proxy p;
	char *text = malloc(size + 1), why[160];

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mfs_socks5_url_parse(&p, text, why, sizeof why) == 0 &&
	    (p.port == 0 || (p.has_auth && (!p.user_len || !p.pass_len ||
					    p.user_len > MFS_SOCKS5_FIELD_MAX ||
					    p.pass_len > MFS_SOCKS5_FIELD_MAX))))
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const targets[] = {"192.0.2.7", "2001:db8::7", "peer.example",
					      "peer.example"};
	struct mfs_socks5_proxy proxy = {.host = "127.0.0.1", .port = 9050};
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t out_len, off = 2, piece;
	int rc = 0;

	if (size < 2)
		return 0;
	if (data[0] & 0x80) {
		url(data + 1, size - 1);
		return 0;
	}
	if (data[0] & 1) {
		proxy.has_auth = 1;
		proxy.user_len = 20;
		memset(proxy.user, 'u', proxy.user_len);
		proxy.pass_len = 1;
	}
	piece = (data[1] & 15u) + 1;
	if (mfs_socks5_client_start(&c, out, &out_len, &proxy, targets[(data[0] >> 1) & 3], 7000))
		abort();
	while (off < size && rc == 0) {
		size_t wanted = mfs_socks5_client_wanted(&c), used;
		/* As net/dial reads: never more than the answer lacks. */
		size_t n = size - off < piece ? size - off : piece;

		n = n < wanted ? n : wanted;
		if (!wanted)
			abort();

		rc = mfs_socks5_client_input(&c, data + off, n, &used, out, &out_len, NULL, 0);
		if (used > n || used > wanted || out_len > MFS_SOCKS5_OUT_MAX)
			abort();
		if (rc < 0 && (c.state != MFS_SOCKS5_FAILED || out_len))
			abort();
		if (rc == 1 && c.state != MFS_SOCKS5_OPEN)
			abort();
		if (rc == 0 && !used && !out_len)
			abort(); /* no progress */
		off += used;
	}
	if (rc == 1 && mfs_socks5_client_wanted(&c) != 0)
		abort();
	mfs_socks5_client_free(&c);
	return 0;
}
