/* net/addr: ranges of addresses and special ranges. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "net/addr.h"

static struct sockaddr_storage parse(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		return ss;
	}
	cr_assert_eq(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1,
		     "%s", text);
	ss.ss_family = AF_INET6;
	return ss;
}

static int same_range(const char *a, const char *b, unsigned v4, unsigned v6)
{
	struct sockaddr_storage sa = parse(a), sb = parse(b);
	uint8_t ka[MFS_ADDR_RANGE_BYTES], kb[MFS_ADDR_RANGE_BYTES];

	cr_assert_eq(mfs_addr_range(ka, (struct sockaddr *)&sa, v4, v6), 0);
	cr_assert_eq(mfs_addr_range(kb, (struct sockaddr *)&sb, v4, v6), 0);
	return memcmp(ka, kb, sizeof ka) == 0;
}

static int special(const char *a)
{
	struct sockaddr_storage sa = parse(a);

	return mfs_addr_is_special((struct sockaddr *)&sa);
}

Test(addr, ipv4_ranges_are_slash_24_by_default)
{
	cr_assert(same_range("198.51.7.1", "198.51.7.254", 0, 0));
	cr_assert_not(same_range("198.51.7.1", "198.51.8.1", 0, 0));
	cr_assert_not(same_range("198.51.7.1", "198.51.7.2", 32, 0), "32 bits: per address");
	cr_assert(same_range("198.51.7.1", "198.51.100.2", 16, 0));
	cr_assert(same_range("198.51.7.1", "::ffff:198.51.7.9", 0, 0), "v4-mapped is IPv4");
}

Test(addr, ipv6_ranges_are_slash_64_by_default)
{
	cr_assert(same_range("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 0, 0));
	cr_assert_not(same_range("2001:db8:1:2::1", "2001:db8:1:3::1", 0, 0));
	cr_assert_not(same_range("2001:db8:1:2::1", "2001:db8:1:2::2", 0, 128));
	cr_assert(same_range("2001:db8:1:2::1", "2001:db8:1:3::1", 0, 48));
	cr_assert_not(same_range("1.2.3.4", "::1.2.3.4", 0, 0), "v4-compatible is not v4");
}

Test(addr, other_families_have_no_range)
{
	struct sockaddr sa = {.sa_family = AF_UNIX};
	uint8_t k[MFS_ADDR_RANGE_BYTES];

	cr_assert_eq(mfs_addr_range(k, &sa, 0, 0), -EAFNOSUPPORT);
	cr_assert_eq(mfs_addr_is_special(&sa), 1);
}

Test(addr, special_ranges_are_told_from_public_ones)
{
	static const char *const yes[] = {
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.0.5", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
		"192.0.2.1", "::1", "::", "fe80::1", "fd00::1", "fc00::1", "ff02::1",
		"2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"};
	static const char *const no[] = {
		"1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "193.0.2.1",
		"2a00:1450::1", "2606:4700::1111", "::ffff:8.8.8.8"};

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		cr_assert_eq(special(yes[i]), 1, "%s is special", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		cr_assert_eq(special(no[i]), 0, "%s is public", no[i]);
}

/* mfs_addr_mix: 6 items of range A, one each of B, C, D: any 4 drawn are
 * of 4 ranges, in every order seen; skipped items never come; all 9 come
 * when asked for more, A's last. */
Test(addr, answers_take_one_of_each_range_before_a_second_of_any)
{
	uint8_t keys[4][MFS_ADDR_RANGE_BYTES] = {{4, 1}, {4, 2}, {4, 3}, {4, 4}};
	const uint8_t *range[9];
	uint8_t skip[9] = {0};
	size_t pick[9], n;
	int first_seen[9] = {0};

	for (size_t i = 0; i < 6; i++)
		range[i] = keys[0];
	for (size_t i = 6; i < 9; i++)
		range[i] = keys[i - 5];
	skip[8] = 1;
	for (int round = 0; round < 400; round++) {
		int ranges[4] = {0};

		cr_assert_eq(mfs_addr_mix(pick, &n, 3, 9, range, skip), 0);
		cr_assert_eq(n, 3);
		for (size_t i = 0; i < n; i++) {
			cr_assert_neq(pick[i], 8, "a skipped item was drawn");
			cr_assert_eq(ranges[range[pick[i]][1] - 1]++, 0, "a range twice in 3");
		}
		first_seen[pick[0]] = 1;
		cr_assert_eq(mfs_addr_mix(pick, &n, 20, 9, range, NULL), 0);
		cr_assert_eq(n, 9);
		for (size_t i = 4; i < 9; i++)
			cr_assert(pick[i] < 6, "after one of each range only A's are left");
	}
	for (size_t i = 0; i < 8; i++)
		cr_assert(first_seen[i], "item %zu never came first in 400 draws", i);
	cr_assert_eq(mfs_addr_mix(pick, &n, 5, 0, range, NULL), 0);
	cr_assert_eq(n, 0);
}
