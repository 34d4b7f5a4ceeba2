#include "net/socks5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define VERSION 5
#define AUTH_VERSION 1 /* RFC 1929's sub-negotiation */
#define METHOD_NONE 0x00
#define METHOD_USERPASS 0x02
#define METHOD_NOT_ACCEPTABLE 0xff
#define CMD_CONNECT 1
#define ATYP_IPV4 1
#define ATYP_NAME 3
#define ATYP_IPV6 4
#define REPLY_HEAD 4 /* VER REP RSV ATYP */

/* ---- the proxy URL ---- */

/* Percent-decodes text[0..len) into out (at most MFS_SOCKS5_FIELD_MAX
 * bytes, at least one). 0 or -EINVAL. */
static int decode_field(uint8_t out[static MFS_SOCKS5_FIELD_MAX], size_t *out_len,
			const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)text[i];

		if (b == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = mfs_hex_digit(text[i + 1])) < 0 ||
			    (lo = mfs_hex_digit(text[i + 2])) < 0)
				return -EINVAL;
			b = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (b <= ' ' || b >= 0x7f) {
			return -EINVAL;
		}
		if (n == MFS_SOCKS5_FIELD_MAX)
			return -EINVAL;
		out[n++] = b;
	}
	*out_len = n;
	return n ? 0 : -EINVAL;
}

int mfs_socks5_url_parse(struct mfs_socks5_proxy *out, const char *url, char *why,
			 size_t why_len)
{
	static const char scheme[] = "socks5://";
	struct sockaddr_storage sa;
	const char *auth, *at, *colon, *hostport;

	memset(out, 0, sizeof *out);
	if (strncasecmp(url, scheme, sizeof scheme - 1) != 0)
		return mfs_error_why(why, why_len, -EINVAL, "a proxy is socks5://[USER:PASS@]HOST:PORT");
	auth = url + sizeof scheme - 1;
	at = strrchr(auth, '@');
	hostport = at ? at + 1 : auth;
	if (at) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (!colon)
			return mfs_error_why(why, why_len, -EINVAL,
					     "the proxy's credentials are USER:PASS before the '@'");
		if (decode_field(out->user, &out->user_len, auth, (size_t)(colon - auth)) != 0 ||
		    decode_field(out->pass, &out->pass_len, colon + 1,
				 (size_t)(at - colon - 1)) != 0)
			return mfs_error_why(why, why_len, -EINVAL,
					     "the proxy's user name and password are 1 to 255 bytes "
					     "each, printable or %%XX");
		out->has_auth = 1;
	}
	if (mfs_hostport_parse(out->host, &out->port, hostport, strlen(hostport), 0) != 0 ||
	    out->port == 0)
		return mfs_error_why(why, why_len, -EINVAL,
				     "the proxy's address is HOST:PORT or [IPV6]:PORT, PORT not 0");
	if (mfs_hostport_sockaddr(&sa, NULL, out->host, out->port) != 0)
		return mfs_error_why(why, why_len, -EINVAL,
				     "the proxy must be named by an IP address (or localhost): "
				     "resolving its name would send a DNS query around it");
	return 0;
}

/* ---- the client ---- */

static int name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

/* Writes CONNECT host:port into c->connect. */
static int build_connect(struct mfs_socks5_client *c, const char *host, uint16_t port)
{
	uint8_t *p = c->connect;
	size_t hl = strlen(host);

	*p++ = VERSION;
	*p++ = CMD_CONNECT;
	*p++ = 0; /* reserved */
	if (inet_pton(AF_INET, host, p + 1) == 1) {
		*p = ATYP_IPV4;
		p += 1 + 4;
	} else if (inet_pton(AF_INET6, host, p + 1) == 1) {
		*p = ATYP_IPV6;
		p += 1 + 16;
	} else {
		if (hl == 0 || hl > MFS_SOCKS5_FIELD_MAX)
			return -EINVAL;
		for (size_t i = 0; i < hl; i++)
			if (!name_char(host[i]))
				return -EINVAL;
		*p++ = ATYP_NAME;
		*p++ = (uint8_t)hl;
		memcpy(p, host, hl);
		p += hl;
	}
	*p++ = (uint8_t)(port >> 8);
	*p++ = (uint8_t)port;
	c->connect_len = (size_t)(p - c->connect);
	return 0;
}

int mfs_socks5_client_start(struct mfs_socks5_client *c, uint8_t out[static MFS_SOCKS5_OUT_MAX],
			    size_t *out_len, const struct mfs_socks5_proxy *proxy,
			    const char *host, uint16_t port)
{
	int err;

	memset(c, 0, sizeof *c);
	*out_len = 0;
	c->state = MFS_SOCKS5_FAILED;
	if ((err = build_connect(c, host, port)) != 0)
		return err;
	c->proxy = proxy;
	c->with_auth = proxy->has_auth;
	out[0] = VERSION;
	out[1] = 1; /* one method offered */
	out[2] = c->with_auth ? METHOD_USERPASS : METHOD_NONE;
	*out_len = 3;
	c->state = MFS_SOCKS5_METHOD;
	return 0;
}

const char *mfs_socks5_reply_text(uint8_t rep)
{
	static const char *const text[] = {
		"succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused",
		"TTL expired",
		"command not supported",
		"address type not supported",
	};

	return rep < sizeof text / sizeof *text ? text[rep] : "unassigned reply code";
}

static int reply_error(uint8_t rep)
{
	switch (rep) {
	case 2: return -EACCES;
	case 3: return -ENETUNREACH;
	case 4: return -EHOSTUNREACH;
	case 5: return -ECONNREFUSED;
	case 6: return -ETIMEDOUT;
	case 7: return -EOPNOTSUPP;
	case 8: return -EAFNOSUPPORT;
	default: return -EPROTO;
	}
}

/* How many bytes the answer awaited in state has, judging by the
 * c->in_len bytes read so far (a CONNECT reply's length shows in its
 * ATYP, and for a name in the byte after). 0: the ATYP is none of the RFC's. */
static size_t answer_len(const struct mfs_socks5_client *c)
{
	if (c->state != MFS_SOCKS5_REPLY)
		return 2;
	if (c->in_len < REPLY_HEAD)
		return REPLY_HEAD;
	switch (c->in[3]) {
	case ATYP_IPV4: return REPLY_HEAD + 4 + 2;
	case ATYP_IPV6: return REPLY_HEAD + 16 + 2;
	case ATYP_NAME: return c->in_len < REPLY_HEAD + 1 ? REPLY_HEAD + 1
							  : REPLY_HEAD + 1 + c->in[REPLY_HEAD] + 2u;
	default: return 0;
	}
}

static int take_method(struct mfs_socks5_client *c, uint8_t *out, size_t *out_len, char *why,
		       size_t why_len)
{
	const struct mfs_socks5_proxy *p = c->proxy;
	uint8_t *o = out;

	if (c->in[0] != VERSION)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy is not a SOCKS5 proxy (version %u in its answer)",
				     c->in[0]);
	if (c->in[1] == METHOD_NOT_ACCEPTABLE)
		return mfs_error_why(why, why_len, -EACCES,
				     "the proxy accepts no method offered (%s)",
				     c->with_auth ? "username and password"
						  : "no authentication: give USER:PASS@");
	if (c->in[1] != (c->with_auth ? METHOD_USERPASS : METHOD_NONE))
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy chose method %u, which was not offered", c->in[1]);
	if (!c->with_auth) {
		memcpy(out, c->connect, c->connect_len);
		*out_len = c->connect_len;
		c->state = MFS_SOCKS5_REPLY;
		return 0;
	}
	*o++ = AUTH_VERSION;
	*o++ = (uint8_t)p->user_len;
	memcpy(o, p->user, p->user_len);
	o += p->user_len;
	*o++ = (uint8_t)p->pass_len;
	memcpy(o, p->pass, p->pass_len);
	o += p->pass_len;
	*out_len = (size_t)(o - out);
	c->state = MFS_SOCKS5_AUTH;
	return 0;
}

static int take_auth(struct mfs_socks5_client *c, uint8_t *out, size_t *out_len, char *why,
		     size_t why_len)
{
	if (c->in[0] != AUTH_VERSION)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy's answer to the credentials has version %u, not 1",
				     c->in[0]);
	if (c->in[1] != 0)
		return mfs_error_why(why, why_len, -EACCES,
				     "the proxy refused the user name and password (status %u)",
				     c->in[1]);
	memcpy(out, c->connect, c->connect_len);
	*out_len = c->connect_len;
	c->state = MFS_SOCKS5_REPLY;
	return 0;
}

/* The CONNECT reply's head: version, REP, reserved, ATYP. */
static int check_reply_head(struct mfs_socks5_client *c, char *why, size_t why_len)
{
	if (c->in[0] != VERSION)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy's CONNECT reply has version %u, not 5", c->in[0]);
	c->reply_code = c->in[1];
	if (c->in[1] != 0)
		return mfs_error_why(why, why_len, reply_error(c->in[1]),
				     "the proxy could not connect: %s (SOCKS5 reply %u)",
				     mfs_socks5_reply_text(c->in[1]), c->in[1]);
	if (c->in[2] != 0)
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy's CONNECT reply has a reserved byte of %u", c->in[2]);
	if (!answer_len(c))
		return mfs_error_why(why, why_len, MFS_E_FORMAT,
				     "the proxy's CONNECT reply has address type %u", c->in[3]);
	return 0;
}

int mfs_socks5_client_input(struct mfs_socks5_client *c, const uint8_t *in, size_t len,
			    size_t *used, uint8_t out[static MFS_SOCKS5_OUT_MAX], size_t *out_len,
			    char *why, size_t why_len)
{
	int err = 0;

	*used = 0;
	*out_len = 0;
	if (c->state == MFS_SOCKS5_OPEN)
		return 1;
	if (c->state == MFS_SOCKS5_FAILED || c->state == 0)
		return mfs_error_why(why, why_len, -EINVAL, "the SOCKS5 exchange is over");
	while (*used < len && !err && !*out_len) {
		size_t want = answer_len(c), n;

		if (want == 0 || want > sizeof c->in) { /* checked below; cannot be */
			err = MFS_E_FORMAT;
			break;
		}
		n = want - c->in_len < len - *used ? want - c->in_len : len - *used;
		memcpy(c->in + c->in_len, in + *used, n);
		c->in_len += n;
		*used += n;
		if (c->state == MFS_SOCKS5_REPLY && c->in_len == REPLY_HEAD)
			err = check_reply_head(c, why, why_len);
		else if (c->state == MFS_SOCKS5_REPLY && c->in_len == REPLY_HEAD + 1 &&
			 c->in[3] == ATYP_NAME && c->in[REPLY_HEAD] == 0)
			err = mfs_error_why(why, why_len, MFS_E_FORMAT,
					    "the proxy's CONNECT reply names an empty domain");
		if (err || c->in_len < answer_len(c))
			continue;
		c->in_len = 0;
		if (c->state == MFS_SOCKS5_METHOD)
			err = take_method(c, out, out_len, why, why_len);
		else if (c->state == MFS_SOCKS5_AUTH)
			err = take_auth(c, out, out_len, why, why_len);
		else {
			c->state = MFS_SOCKS5_OPEN;
			c->proxy = NULL;
			return 1;
		}
	}
	if (err) {
		c->state = MFS_SOCKS5_FAILED;
		c->proxy = NULL;
		mfs_memzero(out, MFS_SOCKS5_OUT_MAX);
		*out_len = 0;
	}
	return err;
}

size_t mfs_socks5_client_wanted(const struct mfs_socks5_client *c)
{
	size_t want;

	if (c->state != MFS_SOCKS5_METHOD && c->state != MFS_SOCKS5_AUTH &&
	    c->state != MFS_SOCKS5_REPLY)
		return 0;
	want = answer_len(c);
	return want > c->in_len ? want - c->in_len : 0;
}

void mfs_socks5_client_free(struct mfs_socks5_client *c)
{
	if (c)
		mfs_memzero(c, sizeof *c);
}
