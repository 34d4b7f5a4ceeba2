#include "net/bt_announce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/bencode.h"

/* The longest value worth keeping, decoded: a number of 20 digits, a hash
 * of 20 bytes, an event's name. Longer values of ignored keys are checked
 * but not kept. */
#define VALUE_MAX 24

/* Which of the known parameters were seen (a second one is refused). */
enum {
	SEEN_INFO_HASH = 1 << 0,
	SEEN_PEER_ID = 1 << 1,
	SEEN_PORT = 1 << 2,
	SEEN_UPLOADED = 1 << 3,
	SEEN_DOWNLOADED = 1 << 4,
	SEEN_LEFT = 1 << 5,
	SEEN_NUMWANT = 1 << 6,
	SEEN_EVENT = 1 << 7,
	SEEN_COMPACT = 1 << 8,
	SEEN_NO_PEER_ID = 1 << 9,
	SEEN_REQUIRED = (1 << 6) - 1,
};

/* MFS_E_FORMAT, saying why. */
#define refuse(why, why_len, ...) mfs_error_why(why, why_len, MFS_E_FORMAT, __VA_ARGS__)

/* RFC 3986's query characters that stand for themselves in a value:
 * unreserved, sub-delims but '&' and '=', ':', '@', '/', '?'. */
static int plain_value_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~!$'()*+,;:@/?", c));
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Decodes in[len] into out[VALUE_MAX] (*out_len; more than VALUE_MAX
 * decoded bytes are counted, not kept). 0 or -1: a bad escape or a
 * character that must have been escaped. */
static int decode_value(uint8_t out[static VALUE_MAX], size_t *out_len, const char *in,
			size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; n++) {
		uint8_t b;

		if (in[i] == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = mfs_hex_digit(in[i + 1])) < 0 ||
			    (lo = mfs_hex_digit(in[i + 2])) < 0)
				return -1;
			b = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else if (plain_value_char(in[i])) {
			b = (uint8_t)in[i++];
		} else {
			return -1;
		}
		if (n < VALUE_MAX)
			out[n] = b;
	}
	*out_len = n;
	return 0;
}

/* A decimal below 2^63: digits only, no leading zero. 0 or -1. */
static int decimal(uint64_t *out, const uint8_t *v, size_t len)
{
	uint64_t n = 0;

	if (len == 0 || len > 19 || (v[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > INT64_MAX)
		return -1;
	*out = n;
	return 0;
}

static int is_word(const uint8_t *v, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(v, word, len) == 0;
}

static const struct {
	const char *name;
	unsigned seen;
} known[] = {
	{"info_hash", SEEN_INFO_HASH}, {"peer_id", SEEN_PEER_ID},
	{"port", SEEN_PORT},           {"uploaded", SEEN_UPLOADED},
	{"downloaded", SEEN_DOWNLOADED}, {"left", SEEN_LEFT},
	{"numwant", SEEN_NUMWANT},     {"event", SEEN_EVENT},
	{"compact", SEEN_COMPACT},     {"no_peer_id", SEEN_NO_PEER_ID},
};

/* Takes one known parameter's decoded value. 0 or MFS_E_FORMAT. */
static int take(struct mfs_bt_announce *a, unsigned which, const char *name, const uint8_t *v,
		size_t len, char *why, size_t why_len)
{
	uint64_t n;

	switch (which) {
	case SEEN_INFO_HASH:
	case SEEN_PEER_ID:
		if (len != MFS_BT_HASH_BYTES)
			return refuse(why, why_len, "%s must be 20 bytes, not %zu", name, len);
		memcpy(which == SEEN_INFO_HASH ? a->info_hash : a->peer_id, v, len);
		return 0;
	case SEEN_PORT:
		if (decimal(&n, v, len) != 0 || n < 1 || n > 65535)
			return refuse(why, why_len, "port must be a number from 1 to 65535");
		a->port = (uint16_t)n;
		return 0;
	case SEEN_UPLOADED:
	case SEEN_DOWNLOADED:
	case SEEN_LEFT:
		if (decimal(&n, v, len) != 0)
			return refuse(why, why_len, "%s must be a decimal number below 2^63", name);
		*(which == SEEN_UPLOADED ? &a->uploaded :
		  which == SEEN_DOWNLOADED ? &a->downloaded : &a->left) = n;
		return 0;
	case SEEN_NUMWANT:
		if (decimal(&n, v, len) != 0)
			return refuse(why, why_len, "numwant must be a decimal number");
		a->numwant = n > MFS_BT_MAX_PEERS ? MFS_BT_MAX_PEERS : (uint32_t)n;
		return 0;
	case SEEN_EVENT:
		if (is_word(v, len, "started"))
			a->event = MFS_BT_EVENT_STARTED;
		else if (is_word(v, len, "stopped"))
			a->event = MFS_BT_EVENT_STOPPED;
		else if (is_word(v, len, "completed"))
			a->event = MFS_BT_EVENT_COMPLETED;
		else if (len == 0 || is_word(v, len, "paused") || is_word(v, len, "empty"))
			a->event = MFS_BT_EVENT_NONE;
		else
			return refuse(why, why_len,
				      "event must be started, stopped, completed, paused or empty");
		return 0;
	default: /* compact, no_peer_id */
		if (!is_word(v, len, "0") && !is_word(v, len, "1"))
			return refuse(why, why_len, "%s must be 0 or 1", name);
		return 0;
	}
}

int mfs_bt_query_parse(struct mfs_bt_announce *out, const char *query, size_t len, char *why,
		       size_t why_len)
{
	unsigned seen = 0;
	size_t i = 0;

	memset(out, 0, sizeof *out);
	out->numwant = MFS_BT_DEFAULT_NUMWANT;
	if (why && why_len)
		why[0] = '\0';
	if (len > MFS_BT_QUERY_MAX)
		return refuse(why, why_len, "query longer than %u bytes", MFS_BT_QUERY_MAX);
	if (len == 0)
		return refuse(why, why_len, "no query: info_hash, peer_id and port are needed");
	while (i <= len) {
		const char *pair = query + i, *amp = memchr(pair, '&', len - i), *eq;
		size_t pair_len = amp ? (size_t)(amp - pair) : len - i, name_len, vlen;
		uint8_t v[VALUE_MAX];
		const char *name = NULL;
		unsigned which = 0;
		int rc;

		i += pair_len + 1;
		if (pair_len == 0)
			return refuse(why, why_len, "empty parameter (two '&' in a row, or one at an end)");
		eq = memchr(pair, '=', pair_len);
		name_len = eq ? (size_t)(eq - pair) : pair_len;
		if (!eq || name_len == 0)
			return refuse(why, why_len, "parameter without a name or a '='");
		for (size_t k = 0; k < name_len; k++)
			if (!name_char(pair[k]))
				return refuse(why, why_len,
					      "a parameter's name is of letters, digits and '_'");
		if (decode_value(v, &vlen, eq + 1, pair_len - name_len - 1) != 0)
			return refuse(why, why_len, "%.*s: bad percent-encoding", (int)name_len, pair);
		for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
			if (strlen(known[k].name) == name_len &&
			    memcmp(known[k].name, pair, name_len) == 0) {
				which = known[k].seen;
				name = known[k].name;
			}
		if (!which)
			continue; /* a parameter this tracker does not use */
		if (seen & which)
			return refuse(why, why_len, "%s given twice", name);
		seen |= which;
		if (vlen > VALUE_MAX)
			return refuse(why, why_len, "%s too long", name);
		if ((rc = take(out, which, name, v, vlen, why, why_len)) != 0)
			return rc;
	}
	if ((seen & SEEN_REQUIRED) != SEEN_REQUIRED)
		return refuse(why, why_len, "missing %s",
			      !(seen & SEEN_INFO_HASH) ? "info_hash" :
			      !(seen & SEEN_PEER_ID)   ? "peer_id" :
			      !(seen & SEEN_PORT)      ? "port" :
			      !(seen & SEEN_UPLOADED)  ? "uploaded" :
			      !(seen & SEEN_DOWNLOADED) ? "downloaded" : "left");
	return 0;
}

int mfs_bt_request_parse(struct mfs_bt_announce *out, const char *head, size_t len, char *why,
			 size_t why_len)
{
	static const char get[] = "GET ", path[] = "/announce";
	const char *eol = NULL, *target, *sp, *q;
	size_t line_len;

	memset(out, 0, sizeof *out);
	if (why && why_len)
		why[0] = '\0';
	for (size_t i = 0; i + 1 < len; i++)
		if (head[i] == '\r' && head[i + 1] == '\n') {
			eol = head + i;
			break;
		}
	if (!eol)
		return refuse(why, why_len, "no request line");
	line_len = (size_t)(eol - head);
	if (line_len < sizeof get - 1 || memcmp(head, get, sizeof get - 1) != 0)
		return refuse(why, why_len, "only GET /announce is served here");
	target = head + sizeof get - 1;
	sp = memchr(target, ' ', (size_t)(eol - target));
	if (!sp || (size_t)(eol - sp) != 9 || memcmp(sp, " HTTP/1.", 8) != 0 ||
	    (sp[8] != '0' && sp[8] != '1'))
		return refuse(why, why_len, "not an HTTP/1.0 or 1.1 request line");
	q = memchr(target, '?', (size_t)(sp - target));
	if ((size_t)((q ? q : sp) - target) != sizeof path - 1 ||
	    memcmp(target, path, sizeof path - 1) != 0)
		return refuse(why, why_len, "only GET /announce is served here");
	if (!q)
		return refuse(why, why_len, "no query: info_hash, peer_id and port are needed");
	return mfs_bt_query_parse(out, q + 1, (size_t)(sp - q - 1), why, why_len);
}

/* Writes the HTTP head for body[body_len] and the body into out[cap]. */
static int http_wrap(char *out, size_t cap, size_t *out_len, const uint8_t *body,
		     size_t body_len)
{
	int n = snprintf(out, cap,
			 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 body_len);

	if (n < 0 || (size_t)n >= cap || cap - (size_t)n < body_len)
		return -ENOBUFS;
	memcpy(out + n, body, body_len);
	*out_len = (size_t)n + body_len;
	return 0;
}

int mfs_bt_reply_build(char *out, size_t cap, size_t *out_len, unsigned interval,
		       uint64_t complete, uint64_t incomplete, const struct mfs_bt_peer *peers,
		       size_t count)
{
	uint8_t body[MFS_BT_BODY_OVERHEAD + 18 * MFS_BT_MAX_PEERS], v4[6 * MFS_BT_MAX_PEERS],
		v6[18 * MFS_BT_MAX_PEERS];
	size_t n4 = 0, n6 = 0, body_len;
	struct mfs_benc_w w;
	int rc;

	if (count > MFS_BT_MAX_PEERS)
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = peers[i].v6 ? v6 + 18 * n6++ : v4 + 6 * n4++;
		size_t alen = peers[i].v6 ? 16 : 4;

		memcpy(p, peers[i].addr, alen);
		p[alen] = (uint8_t)(peers[i].port >> 8);
		p[alen + 1] = (uint8_t)peers[i].port;
	}
	mfs_benc_w_init(&w, body, sizeof body);
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "complete");
	mfs_benc_w_int(&w, complete > INT64_MAX ? INT64_MAX : (int64_t)complete);
	mfs_benc_w_key(&w, "incomplete");
	mfs_benc_w_int(&w, incomplete > INT64_MAX ? INT64_MAX : (int64_t)incomplete);
	mfs_benc_w_key(&w, "interval");
	mfs_benc_w_int(&w, interval);
	mfs_benc_w_key(&w, "peers");
	mfs_benc_w_str(&w, v4, 6 * n4);
	if (n6) {
		mfs_benc_w_key(&w, "peers6");
		mfs_benc_w_str(&w, v6, 18 * n6);
	}
	mfs_benc_w_end(&w);
	if ((rc = mfs_benc_w_finish(&w, &body_len)) != 0)
		return rc;
	return http_wrap(out, cap, out_len, body, body_len);
}

int mfs_bt_failure_build(char *out, size_t cap, size_t *out_len, const char *reason)
{
	uint8_t body[MFS_BT_REASON_MAX + 32];
	size_t len = strnlen(reason, MFS_BT_REASON_MAX), body_len;
	struct mfs_benc_w w;
	int rc;

	mfs_benc_w_init(&w, body, sizeof body);
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "failure reason");
	mfs_benc_w_str(&w, reason, len);
	mfs_benc_w_end(&w);
	if ((rc = mfs_benc_w_finish(&w, &body_len)) != 0)
		return rc;
	return http_wrap(out, cap, out_len, body, body_len);
}
