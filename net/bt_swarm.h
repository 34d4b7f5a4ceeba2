/* bt_swarm: the peers BitTorrent clients announced to the tracker over
 * HTTP (net/bt_announce), per info-hash, in memory only, with the same
 * limits against one network as the tracker's own announces
 * (net/tracker_server.h, "Announces"):
 *
 *   - a torrent holds at most per_range_in_torrent peers announced from
 *     one range of addresses (a /24, a /64: the caller gives the range's
 *     key, net/addr); a further new one is refused (-EDQUOT);
 *   - one range holds at most per_range peers over all torrents, and the
 *     tracker at most max_peers in all (-EPERM);
 *   - an answer of W peers is drawn across ranges: in a random order, one
 *     peer of each range before a second of any, so a range that
 *     announced many peers still holds at most one place in W when W
 *     ranges or more have peers.
 *
 * A peer is one (peer_id, address, port): a peer_id alone is public, so
 * nobody can move or stop another client's record. A record lasts
 * 3 x interval seconds after its last announce, or until "stopped";
 * expired ones are dropped as torrents are announced and in a sweep of
 * every torrent at most once an interval. A torrent without peers is
 * freed.
 *
 * Threads: one swarm belongs to one thread (the tracker's loop). Times are
 * milliseconds of any monotonic clock the caller keeps using. */
#ifndef MFS_BT_SWARM_H
#define MFS_BT_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/bt_announce.h"

struct mfs_bt_swarm;

struct mfs_bt_swarm_limits {
	unsigned per_range_in_torrent; /* 0: 8 */
	size_t per_range;              /* 0: 4096 */
	size_t max_peers;              /* 0: 100,000 */
	unsigned interval;             /* seconds; 0: 60 */
};

#define MFS_BT_DEFAULT_PER_RANGE 4096
#define MFS_BT_DEFAULT_MAX_PEERS 100000

/* 0 or -ENOMEM. */
int mfs_bt_swarm_new(struct mfs_bt_swarm **out, const struct mfs_bt_swarm_limits *limits);
/* NULL-safe. */
void mfs_bt_swarm_free(struct mfs_bt_swarm *s);

/* Who announced: the source address of the request (never the query's
 * "ip"), and its range's key. */
struct mfs_bt_source {
	struct mfs_bt_peer peer;       /* address, and the port the query gave */
	uint8_t range[MFS_ADDR_RANGE_BYTES];
};

struct mfs_bt_answer {
	struct mfs_bt_peer peers[MFS_BT_MAX_PEERS];
	size_t count;
	uint64_t complete, incomplete; /* the torrent's seeds and leechers */
};

/* Records (with "stopped": removes) the announce a from src, then fills
 * out with up to a->numwant other peers of the torrent. 0; -EDQUOT (the
 * torrent's peers from src's range are at the limit), -EPERM (src's range
 * or the tracker holds as many peers as allowed): nothing recorded, out
 * not filled; -ENOMEM. */
int mfs_bt_swarm_announce(struct mfs_bt_swarm *s, struct mfs_bt_answer *out,
			  const struct mfs_bt_announce *a, const struct mfs_bt_source *src,
			  uint64_t now_ms);

/* Counts, for tests and logs. */
void mfs_bt_swarm_counts(const struct mfs_bt_swarm *s, size_t *torrents, size_t *peers);

#endif
