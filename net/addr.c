#include "net/addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secure.h"

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

struct mix_item {
	const uint8_t *range;
	size_t index, position, rank;
};

static int by_range_then_position(const void *a, const void *b)
{
	const struct mix_item *x = a, *y = b;
	int c = memcmp(x->range, y->range, MFS_ADDR_RANGE_BYTES);

	return c ? c : (x->position > y->position) - (x->position < y->position);
}

static int by_rank_then_position(const void *a, const void *b)
{
	const struct mix_item *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return (x->position > y->position) - (x->position < y->position);
}

int mfs_addr_mix(size_t *pick, size_t *npick, size_t want, size_t n,
		 const uint8_t *const *range, const uint8_t *skip)
{
	struct mix_item *items = malloc((n + 1) * sizeof *items);
	size_t m = 0, *pos = malloc((n + 1) * sizeof *pos);

	*npick = 0;
	if (!items || !pos) {
		free(items);
		free(pos);
		return -ENOMEM;
	}
	/* a random position for each item (Fisher-Yates) */
	for (size_t i = 0; i < n; i++) {
		size_t j = mfs_random_uniform((uint32_t)(i + 1));

		pos[i] = pos[j];
		pos[j] = i;
	}
	for (size_t i = 0; i < n; i++)
		if (!skip || !skip[i])
			items[m++] = (struct mix_item){range[i], i, pos[i], 0};
	/* an item's rank: how many of its range come before it */
	qsort(items, m, sizeof *items, by_range_then_position);
	for (size_t i = 1; i < m; i++)
		if (memcmp(items[i].range, items[i - 1].range, MFS_ADDR_RANGE_BYTES) == 0)
			items[i].rank = items[i - 1].rank + 1;
	qsort(items, m, sizeof *items, by_rank_then_position);
	for (size_t i = 0; i < m && i < want; i++)
		pick[(*npick)++] = items[i].index;
	free(pos);
	free(items);
	return 0;
}
