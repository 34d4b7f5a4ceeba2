#include "net/hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* Inside brackets: an IPv6 address, then maybe '%' and a zone (an
 * interface name). Which of these are an address is for inet_pton later. */
static int bracket_char(char c)
{
	return name_char(c) || c == ':' || c == '%';
}

/* Decimal digits only, 1 to 5 of them, at most 65535. */
static int parse_port(uint16_t *port, const char *p, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int mfs_hostport_parse(char host[static MFS_HOSTPORT_HOST_MAX + 1], uint16_t *port,
		       const char *text, size_t len, unsigned flags)
{
	const char *h = text, *end = text + len, *p;
	size_t hl;
	int colons = 0;

	if (len > 0 && text[0] == '[') {
		h = text + 1;
		for (p = h; p < end && *p != ']'; p++) {
			if (!bracket_char(*p))
				return -EINVAL;
			colons += *p == ':';
		}
		if (p == end || colons == 0)
			return -EINVAL;
		hl = (size_t)(p - h);
		p++; /* the ']' */
	} else {
		for (p = h; p < end && *p != ':'; p++)
			if (!name_char(*p))
				return -EINVAL;
		hl = (size_t)(p - h);
	}
	if (hl == 0 || hl > MFS_HOSTPORT_HOST_MAX)
		return -EINVAL;
	if (p == end) {
		if (!(flags & MFS_HOSTPORT_PORT_OPTIONAL))
			return -EINVAL;
	} else if (*p != ':' || parse_port(port, p + 1, (size_t)(end - p - 1)) != 0) {
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int mfs_hostport_sockaddr(struct sockaddr_storage *out, socklen_t *out_len, const char *host,
			  uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	char addr[INET6_ADDRSTRLEN];
	const char *zone = strchr(host, '%');
	size_t alen = zone ? (size_t)(zone - host) : strlen(host);
	socklen_t len;

	memset(out, 0, sizeof *out);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (!zone && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		len = sizeof *in;
	} else {
		if (alen >= sizeof addr)
			return -EINVAL;
		memcpy(addr, host, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
			return -EINVAL;
		/* A zone names an interface, by name or by number. */
		if (zone && !(in6->sin6_scope_id = if_nametoindex(zone + 1))) {
			char *e;
			unsigned long id = strtoul(zone + 1, &e, 10);

			if (zone[1] < '0' || zone[1] > '9' || *e || id > UINT32_MAX)
				return -EINVAL;
			in6->sin6_scope_id = (uint32_t)id;
		}
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof *in6;
	}
	if (out_len)
		*out_len = len;
	return 0;
}

int mfs_hostport_resolve_numeric(struct sockaddr_storage *out, const char *text)
{
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;

	if (mfs_hostport_parse(host, &port, text, strlen(text), 0) != 0)
		return -EINVAL;
	return mfs_hostport_sockaddr(out, NULL, host, port);
}

int mfs_hostport_format(char *out, size_t cap, const char *host, uint16_t port)
{
	int v6 = strchr(host, ':') != NULL;

	return snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
}
