/* net/dht_store: what a node keeps for others, within its limits (items,
 * bytes, peers, writes per address), for two hours after the last write
 * (time passed in), and BEP 44's cas and seq rule on mutable items. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/dht_store.h"

static void target_of(uint8_t t[20], int i)
{
	memset(t, 0, 20);
	t[0] = (uint8_t)i;
	t[1] = (uint8_t)(i >> 8);
}

Test(dht_store, the_item_count_and_byte_limits_refuse_new_items_and_keep_old_ones)
{
	struct mfs_dht_limits lim = {.items = 3, .item_bytes = 100};
	struct mfs_dht_store *s;
	uint8_t t[20], v[60];
	size_t items, bytes;

	memset(v, 'x', sizeof v);
	memcpy(v, "57:", 3);
	cr_assert_eq(mfs_dht_store_new(&s, &lim), 0);
	for (int i = 0; i < 3; i++) {
		target_of(t, i);
		cr_assert_eq(mfs_dht_store_put_immutable(s, t, (const uint8_t *)"2:ab", 4, 0), 0);
	}
	target_of(t, 3);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, (const uint8_t *)"2:ab", 4, 0), MFS_E_FULL);
	/* What is held may be written again (a refresh), even when full. */
	target_of(t, 1);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, (const uint8_t *)"2:ab", 4, 9), 0);
	mfs_dht_store_counts(s, &items, NULL, &bytes);
	cr_assert_eq(items, 3);
	cr_assert_eq(bytes, 12);
	mfs_dht_store_free(s);

	/* Bytes: 60 + 60 is more than 100. */
	cr_assert_eq(mfs_dht_store_new(&s, &lim), 0);
	target_of(t, 1);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, v, sizeof v, 0), 0);
	target_of(t, 2);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, v, sizeof v, 0), MFS_E_FULL);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, v, 40, 0), 0);
	mfs_dht_store_counts(s, &items, NULL, &bytes);
	cr_assert_eq(items, 2);
	cr_assert_eq(bytes, 100);
	mfs_dht_store_free(s);
	mfs_dht_store_free(NULL);
}

Test(dht_store, peers_are_limited_in_all_and_per_info_hash)
{
	struct mfs_dht_limits lim = {.peers = 5, .peers_per_hash = 3};
	struct mfs_dht_store *s;
	struct mfs_dht_peer p = {.family = 4, .ip = {10, 0, 0, 1}}, out[8];
	uint8_t a[20] = {1}, b[20] = {2};

	cr_assert_eq(mfs_dht_store_new(&s, &lim), 0);
	for (int i = 0; i < 3; i++) {
		p.port = (uint16_t)(1000 + i);
		cr_assert_eq(mfs_dht_store_announce(s, a, &p, 0), 0);
	}
	p.port = 2000;
	cr_assert_eq(mfs_dht_store_announce(s, a, &p, 0), MFS_E_FULL);
	p.port = 1001; /* known: a refresh */
	cr_assert_eq(mfs_dht_store_announce(s, a, &p, 0), 0);
	for (int i = 0; i < 2; i++) {
		p.port = (uint16_t)(3000 + i);
		cr_assert_eq(mfs_dht_store_announce(s, b, &p, 0), 0);
	}
	p.port = 3009;
	cr_assert_eq(mfs_dht_store_announce(s, b, &p, 0), MFS_E_FULL, "5 peers in all");
	cr_assert_eq(mfs_dht_store_peers(s, a, 4, out, 8), 3);
	cr_assert_eq(mfs_dht_store_peers(s, a, 6, out, 8), 0);
	cr_assert_eq(mfs_dht_store_peers(s, b, 4, out, 1), 1);
	p.family = 5;
	cr_assert_eq(mfs_dht_store_announce(s, b, &p, 0), -EINVAL);
	mfs_dht_store_free(s);
}

Test(dht_store, one_address_may_write_so_many_times_a_minute)
{
	struct mfs_dht_limits lim = {.writes = 3};
	struct mfs_dht_store *s;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1)}, b = a;
	struct sockaddr_in6 c = {.sin6_family = AF_INET6};

	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.2", &b.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &c.sin6_addr);
	cr_assert_eq(mfs_dht_store_new(&s, &lim), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&a, 100), 0);
	cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&a, 130), -EAGAIN);
	a.sin_port = htons(2); /* another port of the same address counts the same */
	cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&a, 159), -EAGAIN);
	/* Another address has its own count; so has IPv6. */
	cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&b, 130), 0);
	cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&c, 130), 0);
	/* A minute after its window began, the address may write again. */
	cr_assert_eq(mfs_dht_store_charge(s, (struct sockaddr *)&a, 160), 0);
	mfs_dht_store_free(s);
}

Test(dht_store, items_and_peers_expire_two_hours_after_their_last_write)
{
	struct mfs_dht_store *s;
	struct mfs_dht_peer p = {.family = 6, .ip = {0x20, 1}, .port = 7}, out[2];
	uint8_t t1[20], t2[20], ih[20] = {9};
	size_t items, peers;

	cr_assert_eq(mfs_dht_store_new(&s, NULL), 0);
	target_of(t1, 1);
	target_of(t2, 2);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t1, (const uint8_t *)"i1e", 3, 1000), 0);
	cr_assert_eq(mfs_dht_store_put_immutable(s, t2, (const uint8_t *)"i2e", 3, 1000), 0);
	cr_assert_eq(mfs_dht_store_announce(s, ih, &p, 1000), 0);
	/* t2 is written again an hour later. */
	cr_assert_eq(mfs_dht_store_put_immutable(s, t2, (const uint8_t *)"i2e", 3, 4600), 0);
	mfs_dht_store_expire(s, 1000 + MFS_DHT_STORE_LIFE - 1);
	mfs_dht_store_counts(s, &items, &peers, NULL);
	cr_assert_eq(items, 2);
	cr_assert_eq(peers, 1);
	mfs_dht_store_expire(s, 1000 + MFS_DHT_STORE_LIFE);
	cr_assert_null(mfs_dht_store_get(s, t1));
	cr_assert_not_null(mfs_dht_store_get(s, t2));
	cr_assert_eq(mfs_dht_store_peers(s, ih, 6, out, 2), 0);
	mfs_dht_store_expire(s, 4600 + MFS_DHT_STORE_LIFE);
	cr_assert_null(mfs_dht_store_get(s, t2));
	mfs_dht_store_counts(s, &items, &peers, NULL);
	cr_assert_eq(items + peers, 0);
	mfs_dht_store_free(s);
}

Test(dht_store, a_mutable_item_follows_cas_then_seq_and_keeps_its_bytes_counted)
{
	struct mfs_dht_store *s;
	uint8_t t[20] = {7}, k[32] = {1}, sig[64] = {2}, sig2[64] = {3};
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)"salt", .salt_len = 4, .seq = 5,
				       .v = (const uint8_t *)"3:abc", .v_len = 5};
	const struct mfs_dht_stored *got;
	size_t bytes;

	cr_assert_eq(mfs_dht_store_new(&s, NULL), 0);
	cr_assert_eq(mfs_dht_store_put_mutable(s, t, k, sig, &item, 1, 99, 0), 0,
		     "cas is ignored when nothing is held");
	item.seq = 4;
	cr_assert_eq(mfs_dht_store_put_mutable(s, t, k, sig2, &item, 0, 0, 0), MFS_E_REPLAY);
	item.seq = 6;
	cr_assert_eq(mfs_dht_store_put_mutable(s, t, k, sig2, &item, 1, 4, 0), MFS_E_CAS);
	item.v = (const uint8_t *)"i12345e";
	item.v_len = 7;
	cr_assert_eq(mfs_dht_store_put_mutable(s, t, k, sig2, &item, 1, 5, 0), 0);
	got = mfs_dht_store_get(s, t);
	cr_assert_eq(got->seq, 6);
	cr_assert_arr_eq(got->sig, sig2, 64);
	cr_assert_arr_eq(got->salt, "salt", 4);
	cr_assert_eq(got->v_len, 7);
	mfs_dht_store_counts(s, NULL, NULL, &bytes);
	cr_assert_eq(bytes, 7);
	/* The same seq keeps what is held. */
	item.v = (const uint8_t *)"0:";
	item.v_len = 2;
	cr_assert_eq(mfs_dht_store_put_mutable(s, t, k, sig, &item, 0, 0, 0), 0);
	cr_assert_eq(mfs_dht_store_get(s, t)->v_len, 7);
	/* An immutable item under the target of a mutable one is refused. */
	cr_assert_eq(mfs_dht_store_put_immutable(s, t, (const uint8_t *)"0:", 2, 0), MFS_E_EXISTS);
	cr_assert_eq(mfs_dht_store_get(s, t)->is_mutable, 1);
	mfs_dht_store_free(s);
}
