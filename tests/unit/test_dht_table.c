/* net/dht_table: buckets of 8, good/questionable/bad nodes, no takeover of
 * a known id from another address, and the nearest nodes by XOR distance
 * (checked against a brute-force sort of everything the table holds). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/dht_table.h"

static const uint8_t self[20] = {0};

/* A node whose id starts with first (the rest from seed), at 10.0.0.port. */
static struct mfs_krpc_node node(uint8_t first, uint8_t seed, uint16_t port)
{
	struct mfs_krpc_node n = {.family = 4, .ip = {10, 0, 0, (uint8_t)port}, .port = port};

	memset(n.id, seed, sizeof n.id);
	n.id[0] = first;
	return n;
}

Test(dht_table, a_full_bucket_takes_a_new_node_only_in_place_of_a_bad_one)
{
	struct mfs_dht_table *t;
	struct mfs_krpc_node n, out[16];

	cr_assert_eq(mfs_dht_table_new(&t, self), 0);
	for (int i = 0; i < MFS_DHT_K; i++) {
		n = node(0x80, (uint8_t)i, (uint16_t)(100 + i)); /* all in bucket 0 */
		cr_assert_eq(mfs_dht_table_heard(t, &n, 0), 0);
	}
	n = node(0x80, 99, 199);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 1), MFS_E_FULL);
	/* Another bucket has room. */
	n = node(0x40, 99, 199);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 1), 0);
	cr_assert_eq(mfs_dht_table_count(t), MFS_DHT_K + 1);
	/* One failure is not enough; two make node 3 bad and free its place. */
	n = node(0x80, 3, 103);
	mfs_dht_table_failed(t, n.id);
	n = node(0x80, 99, 199);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 2), MFS_E_FULL);
	n = node(0x80, 3, 103);
	mfs_dht_table_failed(t, n.id);
	n = node(0x80, 99, 199);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 2), 0);
	cr_assert_eq(mfs_dht_table_count(t), MFS_DHT_K + 1);
	cr_assert_eq(mfs_dht_table_closest(t, n.id, out, 16), MFS_DHT_K + 1);
	cr_assert_arr_eq(out[0].id, n.id, 20);
	for (int i = 0; i < MFS_DHT_K + 1; i++)
		cr_assert(out[i].id[1] != 3, "the bad node is gone");
	mfs_dht_table_free(t);
	mfs_dht_table_free(NULL);
}

Test(dht_table, a_known_id_keeps_its_address_while_it_answers)
{
	struct mfs_dht_table *t;
	struct mfs_krpc_node n = node(0x12, 1, 1), thief = node(0x12, 1, 66), out[2];

	cr_assert_eq(mfs_dht_table_new(&t, self), 0);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 0), 0);
	cr_assert_eq(mfs_dht_table_heard(t, &thief, 5), MFS_E_EXISTS);
	cr_assert_eq(mfs_dht_table_closest(t, n.id, out, 2), 1);
	cr_assert_eq(out[0].port, 1);
	/* Hearing from it again clears its failures. */
	mfs_dht_table_failed(t, n.id);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 6), 0);
	mfs_dht_table_failed(t, n.id);
	cr_assert_eq(mfs_dht_table_heard(t, &thief, 7), MFS_E_EXISTS);
	/* Once it is bad, the id may move. */
	mfs_dht_table_failed(t, n.id);
	cr_assert_eq(mfs_dht_table_closest(t, n.id, out, 2), 0, "bad nodes are not given out");
	cr_assert_eq(mfs_dht_table_heard(t, &thief, 8), 0);
	cr_assert_eq(mfs_dht_table_closest(t, n.id, out, 2), 1);
	cr_assert_eq(out[0].port, 66);
	cr_assert_eq(mfs_dht_table_count(t), 1);
	/* Our own id and unknown families are refused. */
	n = node(0, 0, 1);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 9), -EINVAL);
	n = node(0x12, 2, 1);
	n.family = 5;
	cr_assert_eq(mfs_dht_table_heard(t, &n, 9), -EINVAL);
	mfs_dht_table_free(t);
}

Test(dht_table, the_stalest_node_is_offered_once_it_is_no_longer_good)
{
	struct mfs_dht_table *t;
	struct mfs_krpc_node n, got;

	cr_assert_eq(mfs_dht_table_new(&t, self), 0);
	for (int i = 0; i < 3; i++) {
		n = node(0x80, (uint8_t)i, (uint16_t)(10 + i));
		cr_assert_eq(mfs_dht_table_heard(t, &n, 100 + (uint64_t)i), 0);
	}
	n = node(0x80, 0, 10);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 103), 0); /* node 0 refreshed */
	cr_assert_eq(mfs_dht_table_stalest(t, n.id, 101 + MFS_DHT_GOOD_SECS - 1, &got),
		     MFS_E_NOTFOUND);
	cr_assert_eq(mfs_dht_table_stalest(t, n.id, 101 + MFS_DHT_GOOD_SECS, &got), 0);
	cr_assert_eq(got.port, 11, "node 1, heard at 101, is the stalest");
	n = node(0x01, 0, 10); /* an empty bucket */
	cr_assert_eq(mfs_dht_table_stalest(t, n.id, 1u << 30, &got), MFS_E_NOTFOUND);
	mfs_dht_table_free(t);
}

static const uint8_t *sort_target;

static int by_distance(const void *a, const void *b)
{
	const uint8_t *x = ((const struct mfs_krpc_node *)a)->id;
	const uint8_t *y = ((const struct mfs_krpc_node *)b)->id;

	for (int i = 0; i < 20; i++) {
		int dx = x[i] ^ sort_target[i], dy = y[i] ^ sort_target[i];

		if (dx != dy)
			return dx - dy;
	}
	return 0;
}

Test(dht_table, the_closest_nodes_are_the_nearest_by_xor_distance)
{
	static struct mfs_krpc_node all[2000], copy[2000], out[16];
	struct mfs_dht_table *t;
	uint8_t me[20], target[20];
	size_t count, n;
	int counts[160] = {0};

	cr_assert_eq(mfs_crypto_init(), 0);
	mfs_random(me, sizeof me);
	cr_assert_eq(mfs_dht_table_new(&t, me), 0);
	for (int i = 0; i < 2000; i++) {
		struct mfs_krpc_node x = {.family = 6, .port = (uint16_t)i};

		mfs_random(x.id, sizeof x.id);
		if (i % 3 == 0) /* many near us, so that buckets fill */
			memcpy(x.id, me, 1 + (size_t)i % 7);
		int rc = mfs_dht_table_heard(t, &x, (uint64_t)i);
		cr_assert(rc == 0 || rc == MFS_E_FULL, "%d", rc);
	}
	count = mfs_dht_table_count(t);
	cr_assert_eq(mfs_dht_table_closest(t, me, all, 2000), count);
	for (size_t i = 0; i < count; i++) {
		int bit = 0;

		while (((all[i].id[bit / 8] ^ me[bit / 8]) & (0x80 >> (bit % 8))) == 0)
			bit++;
		cr_assert_leq(++counts[bit], MFS_DHT_K, "bucket %d over full", bit);
	}
	for (int round = 0; round < 20; round++) {
		mfs_random(target, sizeof target);
		if (round % 2)
			memcpy(target, me, 2);
		n = mfs_dht_table_closest(t, target, out, 16);
		cr_assert_eq(n, 16);
		memcpy(copy, all, count * sizeof all[0]);
		sort_target = target;
		qsort(copy, count, sizeof copy[0], by_distance);
		for (size_t i = 0; i < n; i++)
			cr_assert_arr_eq(out[i].id, copy[i].id, 20, "round %d, place %zu", round, i);
	}
	cr_assert_eq(mfs_dht_table_closest(t, target, out, 0), 0);
	mfs_dht_table_free(t);
}

Test(dht_table, the_table_saved_as_bytes_loads_back_with_the_same_nodes)
{
	static uint8_t bytes[MFS_DHT_TABLE_SAVE_MAX];
	struct mfs_dht_table *t, *back;
	struct mfs_krpc_node n, six = node(0x20, 7, 6881), a[64], b[64];
	uint8_t me[20], small[30];
	size_t len, len2, na, nb;
	uint16_t port;
	char why[100];

	cr_assert_eq(mfs_crypto_init(), 0);
	mfs_random(me, sizeof me);
	cr_assert_eq(mfs_dht_table_new(&t, me), 0);
	/* A bad node is not kept. */
	n = node(0x21, 9, 999);
	cr_assert_eq(mfs_dht_table_heard(t, &n, 5), 0);
	mfs_dht_table_failed(t, n.id);
	mfs_dht_table_failed(t, n.id);
	six.family = 6;
	memset(six.ip, 0, 16);
	six.ip[15] = 1; /* ::1 */
	cr_assert_eq(mfs_dht_table_heard(t, &six, 5), 0);
	for (int i = 0; i < 40; i++) {
		n = node((uint8_t)(i * 37), (uint8_t)i, (uint16_t)(1000 + i));
		(void)mfs_dht_table_heard(t, &n, 5);
	}

	cr_assert_eq(mfs_dht_table_save(t, 6881, bytes, sizeof bytes, &len), 0);
	cr_assert_arr_eq(bytes, "MDT2", 4);
	cr_assert_arr_eq(bytes + 4, me, 20);
	cr_assert_arr_eq(bytes + 24, "\x1a\xe1", 2, "the port, big-endian");
	/* Every node that is not bad: family byte and compact info, one of them IPv6. */
	na = mfs_dht_table_closest(t, me, a, 64);
	cr_assert_eq(len, 26 + 27 * (na - 1) + 39);
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, len, 100, why, sizeof why), 0, "%s",
		     why);
	cr_assert_eq(port, 6881);
	cr_assert_arr_eq(mfs_dht_table_id(back), me, 20);
	cr_assert_eq(mfs_dht_table_count(back), na);
	nb = mfs_dht_table_closest(back, me, b, 64);
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++)
		cr_assert_eq(memcmp(&a[i], &b[i], sizeof a[i]), 0, "node %zu differs", i);
	/* The same bytes again: the round trip is exact. */
	cr_assert_eq(mfs_dht_table_save(back, port, small, sizeof small, &len2), -ENOBUFS);
	static uint8_t again[MFS_DHT_TABLE_SAVE_MAX];
	cr_assert_eq(mfs_dht_table_save(back, port, again, sizeof again, &len2), 0);
	cr_assert_eq(len2, len);
	cr_assert_arr_eq(again, bytes, len);
	mfs_dht_table_free(back);

	/* Not these bytes: refused with a reason. */
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, 10, 0, why, sizeof why),
		     MFS_E_FORMAT);
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, 25, 0, why, sizeof why),
		     MFS_E_FORMAT, "MDT2 with half a port");
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, len - 1, 0, why, sizeof why),
		     MFS_E_FORMAT);
	cr_assert(strstr(why, "bad node entry"), "%s", why);
	bytes[26] = 5;
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, len, 0, why, sizeof why),
		     MFS_E_FORMAT);
	cr_assert_null(back);
	cr_assert_eq(port, 0, "no port from bytes that did not load");
	memcpy(bytes, "MDT3", 4);
	cr_assert_eq(mfs_dht_table_load(&back, &port, bytes, len, 0, why, sizeof why),
		     MFS_E_FORMAT, "a later version is refused, not misread");
	cr_assert(strstr(why, "no MDT2"), "%s", why);
	mfs_dht_table_free(t);
	mfs_dht_table_free(NULL);
}

/* The saved form, byte for byte (net/dht_table.h): a table of our id
 * "abcdefghij0123456789", bound on port 6889, holding node
 * "mnopqrstuvwxyz123456" at 127.0.0.1:6881 (bucket 4: 'a' ^ 'm' = 0x0c)
 * and node "ABCDEFGHIJKLMNOPQRST" at [::1]:6881 (bucket 2: 'a' ^ 'A' =
 * 0x20), nearest bucket last. */
static const uint8_t golden_mdt2[] =
	"MDT2" "abcdefghij0123456789" "\x1a\xe9"
	"\x06" "ABCDEFGHIJKLMNOPQRST" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x1a\xe1"
	"\x04" "mnopqrstuvwxyz123456" "\x7f\0\0\x01" "\x1a\xe1";

static struct mfs_dht_table *golden_table(void)
{
	struct mfs_dht_table *t;
	struct mfs_krpc_node four = {.family = 4, .ip = {127, 0, 0, 1}, .port = 6881};
	struct mfs_krpc_node six = {.family = 6, .port = 6881};

	memcpy(four.id, "mnopqrstuvwxyz123456", 20);
	memcpy(six.id, "ABCDEFGHIJKLMNOPQRST", 20);
	six.ip[15] = 1;
	cr_assert_eq(mfs_dht_table_new(&t, (const uint8_t *)"abcdefghij0123456789"), 0);
	cr_assert_eq(mfs_dht_table_heard(t, &four, 1), 0);
	cr_assert_eq(mfs_dht_table_heard(t, &six, 1), 0);
	return t;
}

Test(dht_table, the_saved_form_with_its_port_matches_the_golden_bytes)
{
	struct mfs_dht_table *t = golden_table(), *back;
	uint8_t bytes[256];
	size_t len;
	uint16_t port;
	char why[100];

	cr_assert_eq(mfs_dht_table_save(t, 6889, bytes, sizeof bytes, &len), 0);
	cr_assert_eq(len, sizeof golden_mdt2 - 1);
	cr_assert_arr_eq(bytes, golden_mdt2, len);
	cr_assert_eq(mfs_dht_table_load(&back, &port, golden_mdt2, sizeof golden_mdt2 - 1, 0, why,
					sizeof why),
		     0, "%s", why);
	cr_assert_eq(port, 6889);
	cr_assert_eq(mfs_dht_table_count(back), 2);
	mfs_dht_table_free(back);
	mfs_dht_table_free(t);
}

Test(dht_table, a_table_saved_before_the_port_MDT1_loads_with_no_port)
{
	struct mfs_dht_table *t = golden_table(), *back;
	struct mfs_krpc_node a[4], b[4];
	uint8_t v1[256], again[256];
	size_t v1_len = sizeof golden_mdt2 - 1 - 2, len;
	uint16_t port = 1;
	char why[100];

	/* The same table as MDT1 wrote it: no port after the id. */
	memcpy(v1, "MDT1", 4);
	memcpy(v1 + 4, golden_mdt2 + 4, 20);
	memcpy(v1 + 24, golden_mdt2 + 26, v1_len - 24);
	cr_assert_eq(mfs_dht_table_load(&back, &port, v1, v1_len, 0, why, sizeof why), 0, "%s",
		     why);
	cr_assert_eq(port, 0);
	cr_assert_arr_eq(mfs_dht_table_id(back), "abcdefghij0123456789", 20);
	cr_assert_eq(mfs_dht_table_closest(back, mfs_dht_table_id(back), b, 4), 2);
	cr_assert_eq(mfs_dht_table_closest(t, mfs_dht_table_id(t), a, 4), 2);
	cr_assert_eq(memcmp(a, b, sizeof a[0] * 2), 0);
	/* Saved again it is MDT2, with the port the caller gives. */
	cr_assert_eq(mfs_dht_table_save(back, 6889, again, sizeof again, &len), 0);
	cr_assert_eq(len, sizeof golden_mdt2 - 1);
	cr_assert_arr_eq(again, golden_mdt2, len);
	mfs_dht_table_free(back);
	mfs_dht_table_free(t);
}
