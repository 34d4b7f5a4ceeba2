#include "fs/channel/magnet.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define PREFIX "magnet:?"

/* ---- the name a link shows as (any link) ---- */

/* Copies the value of query parameter key of link, URL-decoded, with '/'
 * and control characters made '_', into out[cap]; its length, 0 when
 * absent or empty. */
static size_t param(char *out, size_t cap, const char *link, const char *key)
{
	size_t klen = strlen(key), n = 0;
	const char *p = strchr(link, '?');

	while (p && *p) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			for (p += klen + 1; *p && *p != '&' && n + 1 < cap; p++) {
				int c = (uint8_t)*p;

				if (c == '%' && mfs_hex_digit(p[1]) >= 0 && mfs_hex_digit(p[2]) >= 0) {
					c = mfs_hex_digit(p[1]) * 16 + mfs_hex_digit(p[2]);
					p += 2;
				} else if (c == '+') {
					c = ' ';
				}
				out[n++] = (char)(c == '/' || c < 0x20 || c == 0x7f ? '_' : c);
			}
			out[n] = '\0';
			return n;
		}
		p = strchr(p, '&');
	}
	return 0;
}

void mfs_magnet_name(char out[static MFS_MAGNET_NAME_BYTES], const char *link)
{
	char base[MFS_MAGNET_NAME_MAX + 1];
	const char *btih;

	if (param(base, sizeof base, link, "dn") == 0 || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		if (param(base, sizeof base, link, "xt") > 0 && (btih = strrchr(base, ':')) &&
		    btih[1])
			memmove(base, btih + 1, strlen(btih));
		else
			strcpy(base, "link");
	}
	snprintf(out, MFS_MAGNET_NAME_BYTES, "%s%s", base, MFS_MAGNET_SUFFIX);
}

int mfs_magnet_is_name(const char *name)
{
	size_t n = strlen(name), s = sizeof MFS_MAGNET_SUFFIX - 1;

	return n >= s && strcmp(name + n - s, MFS_MAGNET_SUFFIX) == 0;
}

/* ---- the strict check (links megafs publishes) ---- */

#define fail(why, why_len, ...) mfs_error_why(why, why_len, MFS_E_FORMAT, __VA_ARGS__)

/* 1 for a byte RFC 3986 allows in a query, '%' aside: unreserved,
 * sub-delims, ':', '@', '/', '?'. */
static int query_byte(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

static int key_byte(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* 1 when v[n] are n digits of the alphabet: hex, or base32 (RFC 4648). */
static int all_hex(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mfs_hex_digit(v[i]) < 0)
			return 0;
	return 1;
}

static int all_base32(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '2' && v[i] <= '7')))
			return 0;
	return 1;
}

/* An xt value (raw: hashes hold no escapes). */
static int check_xt(const char *v, size_t n, char *why, size_t why_len)
{
	static const char btih[] = "urn:btih:", btmh[] = "urn:btmh:1220";
	size_t bi = sizeof btih - 1, bm = sizeof btmh - 1;

	if (n > bi && strncasecmp(v, btih, bi) == 0 &&
	    ((n - bi == 40 && all_hex(v + bi, 40)) || (n - bi == 32 && all_base32(v + bi, 32))))
		return 0;
	if (n == bm + 64 && strncasecmp(v, btmh, bm) == 0 && all_hex(v + bm, 64))
		return 0;
	return fail(why, why_len, "an xt is not a BitTorrent info hash (urn:btih: and 40 hex "
		    "or 32 base32 digits, or urn:btmh:1220 and 64 hex digits)");
}

/* Decodes v[n] (%XX, '+' a space) into out[cap] (out NULL: checks only):
 * its length, or -1 when a byte decodes to a control byte or out is too
 * small. The escapes are well formed (checked before). */
static long decode(char *out, size_t cap, const char *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (uint8_t)v[i];

		if (c == '%') {
			c = mfs_hex_digit(v[i + 1]) * 16 + mfs_hex_digit(v[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || (out && k + 1 >= cap))
			return -1;
		if (out)
			out[k] = (char)c;
		k++;
	}
	if (out)
		out[k] = '\0';
	return (long)k;
}

/* 1 when s[n] is well-formed UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
		    : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || i + len > n)
			return 0;
		cp = s[i] & (0x7f >> len);
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int check_dn(const char *v, size_t n, char *why, size_t why_len)
{
	char name[MFS_MAGNET_NAME_MAX + 1];
	long k = decode(name, sizeof name, v, n);

	if (k < 0)
		return fail(why, why_len, "dn (the display name) decodes to a control byte or to "
			    "more than %d bytes", MFS_MAGNET_NAME_MAX);
	if (!utf8_valid((const uint8_t *)name, (size_t)k))
		return fail(why, why_len, "dn (the display name) is not UTF-8 once decoded");
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail(why, why_len, "dn (the display name) may not be \".\" or \"..\"");
	return 0;
}

static int check_xl(const char *v, size_t n, char *why, size_t why_len)
{
	if (n > 19 || (n > 1 && v[0] == '0') || strspn(v, "0123456789") < n)
		return fail(why, why_len, "xl (the exact length) must be a decimal number of at "
			    "most 19 digits, no leading zero");
	return 0;
}

/* One parameter k=v (raw, escapes checked); counts xt and dn. */
static int check_param(const char *p, size_t n, int *xts, int *dns, char *why, size_t why_len)
{
	const char *eq = memchr(p, '=', n);
	size_t klen = eq ? (size_t)(eq - p) : n, vlen = eq ? n - klen - 1 : 0;
	const char *v = eq ? eq + 1 : NULL;

	if (n == 0)
		return fail(why, why_len, "an empty parameter (\"&&\", or '&' at either end)");
	if (!eq || klen == 0 || vlen == 0)
		return fail(why, why_len, "parameter %zu bytes long is not KEY=VALUE with both parts "
			    "non-empty", n);
	for (size_t i = 0; i < klen; i++)
		if (!key_byte((uint8_t)p[i]))
			return fail(why, why_len, "a parameter's key may hold letters, digits, '.', "
				    "'_' and '-' only");
	if (memchr(v, '=', vlen))
		return fail(why, why_len, "a parameter's value holds '=' (escape it as %%3D)");
	if (klen == 2 && memcmp(p, "xt", 2) == 0) {
		(*xts)++;
		return check_xt(v, vlen, why, why_len);
	}
	if (klen == 2 && memcmp(p, "dn", 2) == 0) {
		if (++*dns > 1)
			return fail(why, why_len, "dn (the display name) is given twice");
		return check_dn(v, vlen, why, why_len);
	}
	if (klen == 2 && memcmp(p, "xl", 2) == 0)
		return check_xl(v, vlen, why, why_len);
	if (decode(NULL, 0, v, vlen) < 0)
		return fail(why, why_len, "a parameter's value decodes to a control byte");
	return 0;
}

/* Every byte a query byte or a well-formed %XX escape. */
static int check_bytes(const char *s, size_t n, char *why, size_t why_len)
{
	for (size_t i = 0; i < n; i++) {
		int c = (uint8_t)s[i];

		if (c == '%') {
			if (i + 2 >= n || mfs_hex_digit(s[i + 1]) < 0 || mfs_hex_digit(s[i + 2]) < 0)
				return fail(why, why_len, "byte %zu: '%%' must start an escape of two "
					    "hex digits", i);
			i += 2;
		} else if (!query_byte(c)) {
			return fail(why, why_len, "byte %zu: %s 0x%02x is not allowed in a magnet "
				    "link (escape it as %%%02X)", i,
				    c == '#' ? "a fragment ('#')" : c == ' ' ? "a space" : "the byte",
				    c, c);
		}
	}
	return 0;
}

int mfs_magnet_parse(struct mfs_magnet *out, const char *text, size_t len, char *why,
		     size_t why_len)
{
	size_t n = len, plen = sizeof PREFIX - 1;
	int xts = 0, dns = 0, rc;
	char link[MFS_MAGNET_MAX + 1];

	if (n > 0 && text[n - 1] == '\n')
		n -= n > 1 && text[n - 2] == '\r' ? 2 : 1;
	if (n < plen || memcmp(text, PREFIX, plen) != 0)
		return fail(why, why_len, "a magnet link starts with \"magnet:?\"");
	if (n > MFS_MAGNET_MAX)
		return fail(why, why_len, "longer than the %d bytes a magnet link may be",
			    MFS_MAGNET_MAX);
	rc = check_bytes(text + plen, n - plen, why, why_len);
	for (size_t at = plen; rc == 0 && at <= n;) {
		const char *amp = memchr(text + at, '&', n - at);
		size_t plen_here = amp ? (size_t)(amp - (text + at)) : n - at;

		rc = check_param(text + at, plen_here, &xts, &dns, why, why_len);
		at += plen_here + 1;
	}
	if (rc == 0 && xts == 0)
		rc = fail(why, why_len, "no xt parameter: a magnet link names its torrent with "
			  "xt=urn:btih:<info hash>");
	if (rc != 0)
		return rc;
	memcpy(link, text, n);
	link[n] = '\0';
	out->len = n;
	mfs_magnet_name(out->name, link);
	return 0;
}
