/* webtorrent: WebTorrent's tracker protocol over the tracker's WebSocket
 * (the JSON messages of npm's bittorrent-tracker server), beside megafs's
 * own messages on the same connections: the tracker hands a message here
 * when net/tracker_proto did not take it.
 *
 * Client -> tracker (one JSON object per text message; "binary strings"
 * are JSON strings of exactly 20 characters, each U+0000..U+00FF, one a
 * byte, as bittorrent-tracker sends them):
 *   {"action":"announce","info_hash":B,"peer_id":B,"event":E,"left":N,
 *    "numwant":W,"offers":[{"offer":O,"offer_id":B},...]}
 *       Joins (or with "stopped" leaves) the torrent's swarm, answered
 *       {"action":"announce","complete":C,"incomplete":I,"info_hash":B,
 *        "interval":S}, and relays each offer, up to the swarm's size, to
 *       one other peer of the swarm (mixed across address ranges, as the
 *       tracker's announces are), as {"action":"announce","info_hash":B,
 *       "offer":O,"offer_id":B,"peer_id":<the offerer>}. O is relayed as
 *       the JSON it was (an SDP offer); the tracker does not read it.
 *   {"action":"announce","info_hash":B,"peer_id":B,"to_peer_id":B,
 *    "answer":A,"offer_id":B}
 *       Joins the swarm as above, no answer sent back; A goes to the peer
 *       of the swarm whose peer_id is to_peer_id as {"action":"announce",
 *       "answer":A,"info_hash":B,"offer_id":B,"peer_id":<the answerer>}.
 * A refused message is answered {"action":"announce","failure reason":R,
 * "info_hash":B} and the connection stays. "scrape" is refused so (its
 * "action" is "scrape").
 *
 * Which messages are WebTorrent's: an object whose "action" is "announce"
 * or "scrape" and whose "info_hash" is a binary string (a megafs key has
 * 64 characters). Anything else is left to the tracker's own protocol,
 * which answers what it cannot read with its "error".
 *
 * Limits: a message at most MFS_WT_MESSAGE_MAX bytes, at most
 * MFS_WT_MAX_OFFERS offers (more are refused); a connection in at most
 * per_conn swarms; a swarm holds at most per_range_in_torrent connections
 * of one address range; one peer_id once per swarm (a second connection
 * announcing it is refused while the first is in: a peer_id is public).
 * A connection leaves every swarm when it closes.
 *
 * Threads: the tracker's loop thread. Connections are the caller's
 * opaque pointers: valid from their first message until
 * mfs_webtorrent_leave. */
#ifndef MFS_WEBTORRENT_H
#define MFS_WEBTORRENT_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define MFS_WT_ID_BYTES 20
#define MFS_WT_MESSAGE_MAX (64u * 1024)
#define MFS_WT_MAX_OFFERS 10

struct mfs_webtorrent;
struct mfs_wt_conn;           /* one connection's swarms */

struct mfs_webtorrent_config {
	unsigned per_range_in_torrent; /* 0: 8 */
	unsigned per_conn;             /* 0: 256 */
	unsigned interval;             /* seconds told to clients; 0: 120 */
	/* Sends text[len] (malloc'ed; the callee takes it) to conn. */
	void (*send)(void *conn, char *text, size_t len);
};

/* 0 or -ENOMEM. */
int mfs_webtorrent_new(struct mfs_webtorrent **out, const struct mfs_webtorrent_config *cfg);
/* Frees the swarms; every connection must have left. NULL-safe. */
void mfs_webtorrent_free(struct mfs_webtorrent *wt);

/* Takes text[len], a message of conn (from range) when it is WebTorrent's:
 * 1 (handled: answers and relays sent), 0 (not WebTorrent's: nothing
 * done), -ENOMEM. *state is conn's (NULL before its first swarm; made
 * here). */
int mfs_webtorrent_handle(struct mfs_webtorrent *wt, struct mfs_wt_conn **state, void *conn,
			  const uint8_t range[static MFS_ADDR_RANGE_BYTES], const char *text,
			  size_t len);

/* conn leaves every swarm; frees state. NULL-safe. */
void mfs_webtorrent_leave(struct mfs_webtorrent *wt, struct mfs_wt_conn *state);

/* Swarms the connection is in (0 for NULL). */
size_t mfs_webtorrent_joined(const struct mfs_wt_conn *state);

#endif
