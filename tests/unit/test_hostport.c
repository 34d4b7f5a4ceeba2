/* net/hostport: HOST:PORT read one way for --listen, --peer, the tracker's
 * --listen and tracker URLs. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "net/hostport.h"

static int parse(const char *text, unsigned flags, char *host, uint16_t *port)
{
	return mfs_hostport_parse(host, port, text, strlen(text), flags);
}

Test(hostport, reads_names_ipv4_and_bracketed_ipv6)
{
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port = 1;

	cr_assert_eq(parse("127.0.0.1:7000", 0, host, &port), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 7000);
	cr_assert_eq(parse("tracker.example-1_a:0", 0, host, &port), 0);
	cr_assert_str_eq(host, "tracker.example-1_a");
	cr_assert_eq(port, 0, "port 0 is the caller's to refuse");
	cr_assert_eq(parse("[2001:db8::1]:65535", 0, host, &port), 0);
	cr_assert_str_eq(host, "2001:db8::1");
	cr_assert_eq(port, 65535);
	cr_assert_eq(parse("[fe80::1%eth0]:80", 0, host, &port), 0);
	cr_assert_str_eq(host, "fe80::1%eth0");
	cr_assert_eq(parse("h:00080", 0, host, &port), 0, "leading zeros, as before");
	cr_assert_eq(port, 80);
}

Test(hostport, reads_only_len_bytes)
{
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port = 0;

	cr_assert_eq(mfs_hostport_parse(host, &port, "h:81/path", 4, 0), 0);
	cr_assert_str_eq(host, "h");
	cr_assert_eq(port, 81);
}

Test(hostport, port_optional_only_when_asked)
{
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port = 80;

	cr_assert_eq(parse("example.org", 0, host, &port), -EINVAL);
	cr_assert_eq(parse("example.org", MFS_HOSTPORT_PORT_OPTIONAL, host, &port), 0);
	cr_assert_str_eq(host, "example.org");
	cr_assert_eq(port, 80, "left as it was");
	cr_assert_eq(parse("[::1]", MFS_HOSTPORT_PORT_OPTIONAL, host, &port), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(parse("[::1]:6969", MFS_HOSTPORT_PORT_OPTIONAL, host, &port), 0);
	cr_assert_eq(port, 6969);
}

/* Every way out of mfs_hostport_parse that is an error. */
Test(hostport, refuses_what_is_not_host_colon_port)
{
	static const char *const bad[] = {
		"",                    /* empty */
		":80",                 /* no host */
		"[]:80",               /* no host in brackets */
		"[::1:80",             /* no closing bracket */
		"[example]:80",        /* brackets hold an IPv6 address */
		"[::1]80",             /* no colon after the bracket */
		"[::1]:80x",           /* bytes after the port */
		"[::1/64]:80",         /* a character an address cannot hold */
		"2001:db8::1:7000",    /* IPv6 without brackets: two readings */
		"::1:7000",
		"host name:80",        /* a space */
		"user@host:80",
		"host?:80",
		"h:",                  /* empty port */
		"h:65536",             /* too large */
		"h:123456",            /* too long */
		"h:+80",               /* signs and spaces: digits only */
		"h:-1",
		"h: 80",
		"h:80 ",
		"h:8a",
	};
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_eq(parse(bad[i], MFS_HOSTPORT_PORT_OPTIONAL, host, &port), -EINVAL, "%s",
			     bad[i]);
}

Test(hostport, host_at_most_253_bytes)
{
	char text[300], host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;

	memset(text, 'a', 253);
	strcpy(text + 253, ":1");
	cr_assert_eq(parse(text, 0, host, &port), 0);
	cr_assert_eq(strlen(host), 253);
	memset(text, 'a', 254);
	strcpy(text + 254, ":1");
	cr_assert_eq(parse(text, 0, host, &port), -EINVAL);
}

Test(hostport, numeric_hosts_become_socket_addresses)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;
	char text[INET6_ADDRSTRLEN];

	cr_assert_eq(mfs_hostport_sockaddr(&ss, &len, "192.0.2.7", 7000), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(len, sizeof *in);
	cr_assert_eq(ntohs(in->sin_port), 7000);
	cr_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, text, sizeof text), "192.0.2.7");

	cr_assert_eq(mfs_hostport_sockaddr(&ss, &len, "localhost", 1), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, text, sizeof text), "127.0.0.1");

	cr_assert_eq(mfs_hostport_sockaddr(&ss, &len, "2001:db8::1", 443), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(len, sizeof *in6);
	cr_assert_eq(ntohs(in6->sin6_port), 443);
	cr_assert_eq(in6->sin6_scope_id, 0);

	cr_assert_eq(mfs_hostport_sockaddr(&ss, NULL, "fe80::1%7", 1), 0, "a zone by number");
	cr_assert_eq(in6->sin6_scope_id, 7);
	cr_assert_eq(mfs_hostport_sockaddr(&ss, NULL, "fe80::1%lo", 1), 0, "a zone by name");
	cr_assert_neq(in6->sin6_scope_id, 0);
}

Test(hostport, names_and_bad_addresses_are_not_numeric)
{
	static const char *const bad[] = {
		"example.org", "1.2.3", "1.2.3.4%lo", "fe80::1%no-such-if", "fe80::1%", "fe80::1%1x",
		"fe80::1%99999999999", "1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:0:1:2:3:4:5%lo",
	};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_eq(mfs_hostport_sockaddr(&ss, NULL, bad[i], 1), -EINVAL, "%s", bad[i]);
}

/* Drift fixed: --listen and --peer (net/node) read HOST:PORT with strtoul
 * after the last ':', so they took "127.0.0.1:+7000", " 7000" and an IPv6
 * address without brackets (two readings), and refused "localhost", which
 * the tracker's --listen took. */
Test(hostport, resolve_numeric_is_what_node_listen_and_peer_take)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "localhost:0"), 0);
	cr_assert_eq(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "[::1]:7000"), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "::1:7000"), -EINVAL);
	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "127.0.0.1:+7000"), -EINVAL);
	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "127.0.0.1: 7000"), -EINVAL);
	cr_assert_eq(mfs_hostport_resolve_numeric(&ss, "example.org:7000"), -EINVAL);
}

Test(hostport, format_brackets_ipv6)
{
	char out[MFS_HOSTPORT_TEXT_MAX];

	cr_assert_eq(mfs_hostport_format(out, sizeof out, "192.0.2.1", 80), 12);
	cr_assert_str_eq(out, "192.0.2.1:80");
	cr_assert_eq(mfs_hostport_format(out, sizeof out, "::1", 65535), 11);
	cr_assert_str_eq(out, "[::1]:65535");
	cr_assert_eq(mfs_hostport_format(out, 4, "::1", 1), 7, "cut: the length it needed");
	cr_assert_str_eq(out, "[::");
}
