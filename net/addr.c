#include "net/addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* The IPv4 address sa carries (host order), plain or v4-mapped: 1, else 0. */
static int ipv4_of(const struct sockaddr *sa, uint32_t *out)
{
	if (sa->sa_family == AF_INET) {
		*out = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(a, mapped, sizeof mapped) == 0) {
			*out = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 |
			       (uint32_t)a[14] << 8 | a[15];
			return 1;
		}
	}
	return 0;
}

static void keep_bits(uint8_t *a, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

int mfs_addr_range(uint8_t out[static MFS_ADDR_RANGE_BYTES], const struct sockaddr *sa,
		   unsigned v4_bits, unsigned v6_bits)
{
	uint32_t v4;

	memset(out, 0, MFS_ADDR_RANGE_BYTES);
	if (ipv4_of(sa, &v4)) {
		out[0] = 4;
		out[1] = (uint8_t)(v4 >> 24);
		out[2] = (uint8_t)(v4 >> 16);
		out[3] = (uint8_t)(v4 >> 8);
		out[4] = (uint8_t)v4;
		keep_bits(out + 1, 4, v4_bits ? v4_bits : MFS_ADDR_DEFAULT_V4_BITS);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	out[0] = 6;
	memcpy(out + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	keep_bits(out + 1, 16, v6_bits ? v6_bits : MFS_ADDR_DEFAULT_V6_BITS);
	return 0;
}

/* Whether v4 lies in net/bits. */
static int in4(uint32_t v4, uint32_t net, unsigned bits)
{
	return (v4 & (uint32_t)(0xffffffffull << (32 - bits))) == net;
}

static int special4(uint32_t a)
{
	return in4(a, 0x00000000u, 8) ||  /* "this" network */
	       in4(a, 0x0a000000u, 8) ||  /* private */
	       in4(a, 0x64400000u, 10) || /* carrier-grade NAT */
	       in4(a, 0x7f000000u, 8) ||  /* loopback */
	       in4(a, 0xa9fe0000u, 16) || /* link local */
	       in4(a, 0xac100000u, 12) || /* private */
	       in4(a, 0xc0000000u, 24) || /* IETF protocol assignments */
	       in4(a, 0xc0000200u, 24) || /* documentation */
	       in4(a, 0xc0a80000u, 16) || /* private */
	       in4(a, 0xc6120000u, 15) || /* benchmarking */
	       in4(a, 0xc6336400u, 24) || /* documentation */
	       in4(a, 0xcb007100u, 24) || /* documentation */
	       in4(a, 0xe0000000u, 4) ||  /* multicast */
	       in4(a, 0xf0000000u, 4);    /* reserved, broadcast */
}

int mfs_addr_is_special(const struct sockaddr *sa)
{
	uint32_t v4;
	const uint8_t *a;
	static const uint8_t zero[16];

	if (ipv4_of(sa, &v4))
		return special4(v4);
	if (sa->sa_family != AF_INET6)
		return 1;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, zero, 15) == 0)
		return 1;                                   /* :: and ::1 */
	return (a[0] & 0xfe) == 0xfc ||                     /* unique local */
	       (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||   /* link local */
	       a[0] == 0xff ||                              /* multicast */
	       (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) || /* doc */
	       (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0) || /* discard */
	       (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b); /* NAT64 */
}
