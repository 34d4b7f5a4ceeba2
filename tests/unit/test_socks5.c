/* net/socks5: the bytes of a SOCKS5 CONNECT (RFC 1928, RFC 1929), checked
 * against hand-written golden vectors, and every refusal of a reply. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/socks5.h"

static struct mfs_socks5_proxy no_auth = {.host = "127.0.0.1", .port = 9050};

static struct mfs_socks5_proxy with_auth(void)
{
	struct mfs_socks5_proxy p = {.host = "127.0.0.1", .port = 1080, .has_auth = 1};

	memcpy(p.user, "user", 4);
	p.user_len = 4;
	memcpy(p.pass, "pass", 4);
	p.pass_len = 4;
	return p;
}

/* Feeds in[len] to c one byte at a time (as a slow proxy would send it):
 * the result of the call that ended it, out the bytes to send after it. */
static int feed_slowly(struct mfs_socks5_client *c, const uint8_t *in, size_t len, size_t *taken,
		       uint8_t out[static MFS_SOCKS5_OUT_MAX], size_t *out_len, char *why)
{
	int rc = 0;

	*taken = 0;
	for (size_t i = 0; i < len && rc == 0; i++) {
		size_t used;

		rc = mfs_socks5_client_input(c, in + i, 1, &used, out, out_len, why, 160);
		*taken += used;
		if (*out_len)
			break;
	}
	return rc;
}

Test(socks5, connect_without_auth_golden_bytes)
{
	static const uint8_t greeting[] = {5, 1, 0};
	static const uint8_t connect[] = {5, 1, 0, 1, 127, 0, 0, 1, 0x1b, 0x58};
	static const uint8_t chosen[] = {5, 0};
	static const uint8_t reply[] = {5, 0, 0, 1, 10, 0, 0, 2, 0x04, 0x38, 'X', 'Y'};
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t len, used;
	char why[160];

	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, "127.0.0.1", 7000), 0);
	cr_assert_eq(len, sizeof greeting);
	cr_assert_arr_eq(out, greeting, len);
	cr_assert_eq(mfs_socks5_client_wanted(&c), 2);
	cr_assert_eq(mfs_socks5_client_input(&c, chosen, 2, &used, out, &len, why, sizeof why), 0);
	cr_assert_eq(used, 2);
	cr_assert_eq(len, sizeof connect);
	cr_assert_arr_eq(out, connect, len);
	cr_assert_eq(mfs_socks5_client_wanted(&c), 4, "the reply's head first");
	cr_assert_eq(mfs_socks5_client_input(&c, reply, sizeof reply, &used, out, &len, why,
					     sizeof why), 1);
	cr_assert_eq(used, 10, "the tunnel's bytes (XY) are not taken");
	cr_assert_eq(len, 0);
	cr_assert_eq(c.state, MFS_SOCKS5_OPEN);
	cr_assert_eq(mfs_socks5_client_wanted(&c), 0);
	mfs_socks5_client_free(&c);
}

Test(socks5, username_and_password_golden_bytes_byte_by_byte)
{
	static const uint8_t greeting[] = {5, 1, 2};
	static const uint8_t auth[] = {1, 4, 'u', 's', 'e', 'r', 4, 'p', 'a', 's', 's'};
	static const uint8_t connect[] = {5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
					  '.', 'o', 'r', 'g', 0, 80};
	static const uint8_t reply[] = {5, 0, 0, 3, 3, 'a', '.', 'b', 0, 1};
	struct mfs_socks5_proxy p = with_auth();
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t len, taken;
	char why[160];

	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &p, "example.org", 80), 0);
	cr_assert_arr_eq(out, greeting, len);
	cr_assert_eq(feed_slowly(&c, (const uint8_t[]){5, 2}, 2, &taken, out, &len, why), 0);
	cr_assert_eq(len, sizeof auth);
	cr_assert_arr_eq(out, auth, len);
	cr_assert_eq(feed_slowly(&c, (const uint8_t[]){1, 0}, 2, &taken, out, &len, why), 0);
	cr_assert_eq(len, sizeof connect, "the name goes to the proxy, unresolved");
	cr_assert_arr_eq(out, connect, len);
	cr_assert_eq(feed_slowly(&c, reply, sizeof reply, &taken, out, &len, why), 1);
	cr_assert_eq(taken, sizeof reply);
}

Test(socks5, ipv6_literal_is_atyp_4)
{
	static const uint8_t connect[] = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					  0,    0,    0,    0,    0, 0, 0, 1, 0x01, 0xbb};
	static const uint8_t reply6[] = {5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 1, 0, 9};
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t len, used;

	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, "2001:db8::1", 443), 0);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 0}, 2, &used, out, &len,
					     NULL, 0), 0);
	cr_assert_eq(len, sizeof connect);
	cr_assert_arr_eq(out, connect, len);
	cr_assert_eq(mfs_socks5_client_input(&c, reply6, sizeof reply6, &used, out, &len, NULL, 0),
		     1);
	cr_assert_eq(used, sizeof reply6);
}

Test(socks5, a_target_that_is_no_name_is_refused)
{
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	char long_name[300];
	size_t len;

	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, "", 1), -EINVAL);
	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, long_name, 1), -EINVAL);
	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, "fe80::1%eth0", 1), -EINVAL);
	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, "a b", 1), -EINVAL);
	long_name[255] = '\0';
	cr_assert_eq(mfs_socks5_client_start(&c, out, &len, &no_auth, long_name, 1), 0,
		     "255 bytes is the most a name may have");
}

/* Runs a no-auth exchange up to the CONNECT reply and gives it reply. */
static int connect_reply(const uint8_t *reply, size_t len, char *why)
{
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t out_len, used;
	int rc;

	cr_assert_eq(mfs_socks5_client_start(&c, out, &out_len, &no_auth, "10.0.0.1", 1), 0);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 0}, 2, &used, out, &out_len,
					     why, 160), 0);
	rc = mfs_socks5_client_input(&c, reply, len, &used, out, &out_len, why, 160);
	if (rc < 0) {
		cr_assert_eq(c.state, MFS_SOCKS5_FAILED);
		cr_assert_eq(out_len, 0);
		cr_assert_eq(mfs_socks5_client_input(&c, reply, len, &used, out, &out_len, NULL, 0),
			     -EINVAL, "nothing more after a failure");
	}
	return rc;
}

Test(socks5, every_reply_code_is_an_error_of_its_own)
{
	static const int want[] = {0, -EPROTO, -EACCES, -ENETUNREACH, -EHOSTUNREACH,
				   -ECONNREFUSED, -ETIMEDOUT, -EOPNOTSUPP, -EAFNOSUPPORT, -EPROTO};
	char why[160];

	for (uint8_t rep = 1; rep <= 9; rep++) {
		uint8_t reply[] = {5, rep, 0, 1, 0, 0, 0, 0, 0, 0};

		cr_assert_eq(connect_reply(reply, sizeof reply, why), want[rep], "REP %u", rep);
		cr_assert(strstr(why, mfs_socks5_reply_text(rep)), "%s", why);
	}
	cr_assert_str_eq(mfs_socks5_reply_text(5), "connection refused");
	cr_assert_str_eq(mfs_socks5_reply_text(200), "unassigned reply code");
}

Test(socks5, malformed_replies_are_refused)
{
	char why[160];

	cr_assert_eq(connect_reply((const uint8_t[]){4, 0, 0, 1}, 4, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "version 4"), "%s", why);
	cr_assert_eq(connect_reply((const uint8_t[]){5, 0, 1, 1}, 4, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "reserved"), "%s", why);
	cr_assert_eq(connect_reply((const uint8_t[]){5, 0, 0, 2}, 4, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "address type 2"), "%s", why);
	cr_assert_eq(connect_reply((const uint8_t[]){5, 0, 0, 3, 0}, 5, why), MFS_E_FORMAT);
	cr_assert(strstr(why, "empty domain"), "%s", why);
	cr_assert_eq(connect_reply((const uint8_t[]){5, 0, 0, 1, 1, 2}, 6, why), 0,
		     "a short reply waits for the rest");
}

Test(socks5, method_and_credentials_refusals)
{
	struct mfs_socks5_proxy p = with_auth();
	struct mfs_socks5_client c;
	uint8_t out[MFS_SOCKS5_OUT_MAX];
	size_t len, used;
	char why[160];

	mfs_socks5_client_start(&c, out, &len, &no_auth, "10.0.0.1", 1);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 0xff}, 2, &used, out, &len,
					     why, sizeof why), -EACCES);
	cr_assert(strstr(why, "accepts no method"), "%s", why);
	mfs_socks5_client_start(&c, out, &len, &no_auth, "10.0.0.1", 1);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 2}, 2, &used, out, &len,
					     why, sizeof why), MFS_E_FORMAT,
		     "a method not offered (asking for credentials we do not have)");
	mfs_socks5_client_start(&c, out, &len, &p, "10.0.0.1", 1);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 0}, 2, &used, out, &len,
					     why, sizeof why), MFS_E_FORMAT,
		     "with credentials, no authentication is not a choice");
	mfs_socks5_client_start(&c, out, &len, &p, "10.0.0.1", 1);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 2}, 2, &used, out, &len,
					     why, sizeof why), 0);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){1, 1}, 2, &used, out, &len,
					     why, sizeof why), -EACCES);
	cr_assert(strstr(why, "refused the user name and password"), "%s", why);
	cr_assert_eq(len, 0);
	mfs_socks5_client_start(&c, out, &len, &p, "10.0.0.1", 1);
	mfs_socks5_client_input(&c, (const uint8_t[]){5, 2}, 2, &used, out, &len, NULL, 0);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){5, 0}, 2, &used, out, &len,
					     why, sizeof why), MFS_E_FORMAT, "auth version 5");
	mfs_socks5_client_start(&c, out, &len, &no_auth, "10.0.0.1", 1);
	cr_assert_eq(mfs_socks5_client_input(&c, (const uint8_t[]){'H', 'T'}, 2, &used, out, &len,
					     why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "not a SOCKS5 proxy"), "%s", why);
}

Test(socks5, proxy_urls)
{
	struct mfs_socks5_proxy p;
	char why[160];

	cr_assert_eq(mfs_socks5_url_parse(&p, "socks5://127.0.0.1:9050", why, sizeof why), 0);
	cr_assert_str_eq(p.host, "127.0.0.1");
	cr_assert_eq(p.port, 9050);
	cr_assert_eq(p.has_auth, 0);
	cr_assert_eq(mfs_socks5_url_parse(&p, "SOCKS5://[::1]:1080", why, sizeof why), 0);
	cr_assert_str_eq(p.host, "::1");
	cr_assert_eq(mfs_socks5_url_parse(&p, "socks5://cert=AbC%2B;iat-mode=0:%00@localhost:5",
					  why, sizeof why), 0, "%s", why);
	cr_assert_eq(p.has_auth, 1);
	cr_assert_eq(p.user_len, 20);
	cr_assert_arr_eq(p.user, "cert=AbC+;iat-mode=0", 20);
	cr_assert_eq(p.pass_len, 1);
	cr_assert_eq(p.pass[0], 0, "obfs4's one-NUL password");
	cr_assert_eq(mfs_socks5_url_parse(&p, "socks5://u:p%40ss@10.1.2.3:1", why, sizeof why), 0);
	cr_assert_arr_eq(p.pass, "p@ss", 4);
}

Test(socks5, bad_proxy_urls)
{
	static const char *const bad[] = {
		"127.0.0.1:9050",                  /* no scheme */
		"socks4://127.0.0.1:9050",
		"socks5://127.0.0.1",              /* no port */
		"socks5://127.0.0.1:0",
		"socks5://127.0.0.1:9050/",
		"socks5://tor.example:9050",       /* a name: resolving it is DNS */
		"socks5://user@127.0.0.1:1",       /* no password */
		"socks5://:p@127.0.0.1:1",         /* empty user */
		"socks5://u:@127.0.0.1:1",         /* empty password */
		"socks5://u:%zz@127.0.0.1:1",
		"socks5://u:%4@127.0.0.1:1",
		"socks5://u v:p@127.0.0.1:1",
		"socks5://2001:db8::1:1080",       /* IPv6 without brackets */
	};
	struct mfs_socks5_proxy p;
	char why[160], url[700];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why[0] = '\0';
		cr_assert_eq(mfs_socks5_url_parse(&p, bad[i], why, sizeof why), -EINVAL, "%s", bad[i]);
		cr_assert(why[0], "a reason for %s", bad[i]);
	}
	strcpy(url, "socks5://");
	memset(url + 9, 'u', 256);
	strcpy(url + 9 + 256, ":p@127.0.0.1:1");
	cr_assert_eq(mfs_socks5_url_parse(&p, url, why, sizeof why), -EINVAL, "256-byte user");
	cr_assert_eq(mfs_socks5_url_parse(&p, "socks5://tor.example:9050", why, sizeof why),
		     -EINVAL);
	cr_assert(strstr(why, "DNS"), "%s", why);
}
