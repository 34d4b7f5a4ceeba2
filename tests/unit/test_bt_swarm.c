/* net/bt_swarm: peers recorded per torrent and identified by (peer_id,
 * address, port); seeds and leechers counted; the asker never listed;
 * "stopped" and expiry remove peers; the limits per range in a torrent,
 * per range in all and in all hold; answers are mixed across ranges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "net/bt_swarm.h"

static struct mfs_bt_announce ann(int torrent, int peer, uint16_t port, uint64_t left)
{
	struct mfs_bt_announce a = {.port = port, .left = left, .numwant = 50};

	memset(a.info_hash, torrent, sizeof a.info_hash);
	memset(a.peer_id, peer, sizeof a.peer_id);
	return a;
}

/* A source in range net (its /24: 10.0.net.0), host h. */
static struct mfs_bt_source src(int net, int h, uint16_t port)
{
	struct mfs_bt_source s = {.peer = {.addr = {10, 0, (uint8_t)net, (uint8_t)h}, .port = port}};

	s.range[0] = 4;
	s.range[1] = 10;
	s.range[3] = (uint8_t)net;
	return s;
}

static int go(struct mfs_bt_swarm *s, struct mfs_bt_answer *out, struct mfs_bt_announce a,
	      struct mfs_bt_source from, uint64_t now)
{
	return mfs_bt_swarm_announce(s, out, &a, &from, now);
}

Test(bt_swarm, peers_of_a_torrent_are_listed_to_others_with_counts)
{
	struct mfs_bt_swarm_limits lim = {0};
	struct mfs_bt_swarm *s;
	struct mfs_bt_answer out;
	size_t torrents, peers;

	cr_assert_eq(mfs_bt_swarm_new(&s, &lim), 0);
	cr_assert_eq(go(s, &out, ann(1, 1, 6881, 0), src(1, 1, 6881), 0), 0);
	cr_assert_eq(out.count, 0, "the asker is not listed");
	cr_assert_eq(out.complete, 1);
	cr_assert_eq(go(s, &out, ann(1, 2, 6882, 100), src(2, 1, 6882), 0), 0);
	cr_assert_eq(out.count, 1);
	cr_assert_eq(out.complete, 1);
	cr_assert_eq(out.incomplete, 1);
	cr_assert_arr_eq(out.peers[0].addr, ((uint8_t[]){10, 0, 1, 1}), 4);
	cr_assert_eq(out.peers[0].port, 6881);
	/* another torrent knows nobody */
	cr_assert_eq(go(s, &out, ann(2, 2, 6882, 100), src(2, 1, 6882), 0), 0);
	cr_assert_eq(out.count, 0);
	mfs_bt_swarm_counts(s, &torrents, &peers);
	cr_assert_eq(torrents, 2);
	cr_assert_eq(peers, 3);
	/* the same peer announcing again is one record; its left counts anew */
	cr_assert_eq(go(s, &out, ann(1, 2, 6882, 0), src(2, 1, 6882), 1000), 0);
	cr_assert_eq(out.complete, 2);
	cr_assert_eq(out.incomplete, 0);
	/* the same peer_id from another address is another peer: it cannot stop the first */
	{
		struct mfs_bt_announce stop = ann(1, 1, 6881, 0);

		stop.event = MFS_BT_EVENT_STOPPED;
		cr_assert_eq(go(s, &out, stop, src(3, 1, 6881), 1000), 0);
		cr_assert_eq(out.complete, 2, "a stranger stopped a peer");
		cr_assert_eq(go(s, &out, stop, src(1, 1, 6881), 1000), 0);
		cr_assert_eq(out.complete, 1);
	}
	mfs_bt_swarm_free(s);
}

Test(bt_swarm, records_expire_after_three_intervals_and_empty_torrents_go)
{
	struct mfs_bt_swarm_limits lim = {.interval = 10};
	struct mfs_bt_swarm *s;
	struct mfs_bt_answer out;
	size_t torrents, peers;

	cr_assert_eq(mfs_bt_swarm_new(&s, &lim), 0);
	cr_assert_eq(go(s, &out, ann(1, 1, 1, 0), src(1, 1, 1), 0), 0);
	cr_assert_eq(go(s, &out, ann(2, 1, 1, 0), src(1, 1, 1), 0), 0);
	cr_assert_eq(go(s, &out, ann(1, 2, 2, 0), src(2, 1, 2), 29999), 0);
	cr_assert_eq(out.count, 1);
	cr_assert_eq(go(s, &out, ann(1, 2, 2, 0), src(2, 1, 2), 30000), 0);
	cr_assert_eq(out.count, 0, "a record 3 intervals old is still listed");
	mfs_bt_swarm_counts(s, &torrents, &peers);
	cr_assert_eq(torrents, 2);
	/* torrent 2 is never announced again: the next sweep (an interval
	 * after the last) drops it */
	cr_assert_eq(go(s, &out, ann(1, 2, 2, 0), src(2, 1, 2), 40000), 0);
	mfs_bt_swarm_counts(s, &torrents, &peers);
	cr_assert_eq(torrents, 1);
	cr_assert_eq(peers, 1);
	mfs_bt_swarm_free(s);
}

Test(bt_swarm, one_range_holds_few_places_in_a_torrent_and_in_answers)
{
	struct mfs_bt_swarm_limits lim = {.per_range_in_torrent = 3};
	struct mfs_bt_swarm *s;
	struct mfs_bt_answer out;

	cr_assert_eq(mfs_bt_swarm_new(&s, &lim), 0);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(go(s, &out, ann(1, i, (uint16_t)i, 0), src(1, i, (uint16_t)i), 0), 0);
	cr_assert_eq(go(s, &out, ann(1, 4, 4, 0), src(1, 4, 4), 0), -EDQUOT);
	cr_assert_eq(go(s, &out, ann(2, 4, 4, 0), src(1, 4, 4), 0), 0, "another torrent");
	cr_assert_eq(go(s, &out, ann(1, 1, 1, 0), src(1, 1, 1), 0), 0, "a known peer again");
	for (int r = 2; r <= 6; r++)
		cr_assert_eq(go(s, &out, ann(1, 10 + r, 7, 0), src(r, 1, 7), 0), 0);
	for (int round = 0; round < 50; round++) {
		struct mfs_bt_announce a = ann(1, 99, 9, 0);
		int seen[256] = {0};

		a.numwant = 5;
		cr_assert_eq(go(s, &out, a, src(50, 1, 9), 0), 0);
		cr_assert_eq(out.count, 5);
		for (size_t i = 0; i < out.count; i++)
			cr_assert_eq(seen[out.peers[i].addr[2]]++, 0, "a range twice in 5 of 6 ranges");
	}
	mfs_bt_swarm_free(s);
}

Test(bt_swarm, a_range_and_the_tracker_hold_a_bounded_count_of_peers)
{
	struct mfs_bt_swarm_limits lim = {.per_range = 4, .max_peers = 6};
	struct mfs_bt_swarm *s;
	struct mfs_bt_answer out;

	cr_assert_eq(mfs_bt_swarm_new(&s, &lim), 0);
	for (int t = 1; t <= 4; t++)
		cr_assert_eq(go(s, &out, ann(t, 1, 1, 0), src(1, 1, 1), 0), 0);
	cr_assert_eq(go(s, &out, ann(5, 1, 1, 0), src(1, 1, 1), 0), -EPERM);
	cr_assert_eq(go(s, &out, ann(1, 1, 1, 0), src(1, 1, 1), 0), 0, "refreshing is no new peer");
	cr_assert_eq(go(s, &out, ann(5, 2, 1, 0), src(2, 1, 1), 0), 0);
	cr_assert_eq(go(s, &out, ann(6, 2, 1, 0), src(2, 1, 1), 0), 0);
	cr_assert_eq(go(s, &out, ann(7, 3, 1, 0), src(3, 1, 1), 0), -EPERM, "7 peers in all");
	{
		struct mfs_bt_announce stop = ann(1, 1, 1, 0);

		stop.event = MFS_BT_EVENT_STOPPED;
		cr_assert_eq(go(s, &out, stop, src(1, 1, 1), 0), 0);
	}
	cr_assert_eq(go(s, &out, ann(7, 3, 1, 0), src(3, 1, 1), 0), 0, "a stopped peer's room");
	mfs_bt_swarm_free(s);
}
