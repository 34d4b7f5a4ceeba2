/* bt_announce: BitTorrent's HTTP tracker announce (BEP 3), read from the
 * bytes of an HTTP/1.x request head and answered in bencoding (compact peer
 * lists, BEP 23; IPv6 peers as "peers6", BEP 7). Pure: no I/O, no state.
 *
 * The request. Only "GET /announce?QUERY HTTP/1.x" is an announce (any
 * other method or path is refused, with a reason); the request line must
 * end with CRLF; the headers that follow are not read. The query is read
 * strictly, as the bytes arrived, before anything else decodes it (a
 * percent-encoded NUL or '&' is data inside a value, which a general HTTP
 * library may refuse or split on):
 *   - pairs NAME=VALUE separated by '&', none empty; NAME of letters,
 *     digits and '_'; VALUE of RFC 3986 query characters but '&' and '=',
 *     with "%XX" (two hex digits, either case) for any byte; '+' is '+'.
 *   - info_hash, peer_id: exactly 20 bytes once decoded; port: 1..65535;
 *     uploaded, downloaded, left: decimal (no sign, no leading zero) below
 *     2^63; these six are required. numwant: decimal (answers hold at most
 *     MFS_BT_MAX_PEERS; default MFS_BT_DEFAULT_NUMWANT); event: "started",
 *     "stopped", "completed", "paused" or empty; compact, no_peer_id: 0 or 1
 *     (the answer is compact whatever compact says, as BEP 23 allows).
 *   - a parameter named twice is refused; others (key, ip, ipv4, ipv6,
 *     trackerid, supportcrypto, ...) are ignored after the checks above.
 *     The tracker records the address the request came from, never "ip".
 *   - the whole query is at most MFS_BT_QUERY_MAX bytes.
 *
 * The answer: a bencoded dictionary of "complete", "incomplete",
 * "interval", "peers" (6 bytes a peer: IPv4, port, big-endian) and, when
 * there are IPv6 peers, "peers6" (18 bytes a peer); or one of "failure
 * reason" alone. Both come inside a whole HTTP/1.1 200 response (BEP 3
 * puts failures in the body) with Connection: close.
 *
 * Threads: none of its own; every function is reentrant. */
#ifndef MFS_BT_ANNOUNCE_H
#define MFS_BT_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#define MFS_BT_HASH_BYTES 20
#define MFS_BT_QUERY_MAX 2048
#define MFS_BT_HEAD_MAX 4096        /* a request head (line and headers), at most */
#define MFS_BT_MAX_PEERS 200        /* per answer, and numwant's cap */
#define MFS_BT_DEFAULT_NUMWANT 50
#define MFS_BT_REASON_MAX 160       /* a failure reason's bytes, at most */
/* A body's bytes besides its peers: keys, three integers of up to 19
 * digits, two string lengths (under 128). */
#define MFS_BT_BODY_OVERHEAD 128
/* The largest response: head, and a body of 200 IPv6 peers. */
#define MFS_BT_RESPONSE_MAX (256 + MFS_BT_BODY_OVERHEAD + 18 * MFS_BT_MAX_PEERS)

enum mfs_bt_event {
	MFS_BT_EVENT_NONE = 0,   /* a regular announce (or "paused", BEP 21) */
	MFS_BT_EVENT_STARTED,
	MFS_BT_EVENT_STOPPED,
	MFS_BT_EVENT_COMPLETED,
};

struct mfs_bt_announce {
	uint8_t info_hash[MFS_BT_HASH_BYTES];
	uint8_t peer_id[MFS_BT_HASH_BYTES];
	uint16_t port;
	uint64_t uploaded, downloaded, left;
	uint32_t numwant;               /* capped at MFS_BT_MAX_PEERS */
	enum mfs_bt_event event;
};

/* One peer of an answer. */
struct mfs_bt_peer {
	uint8_t addr[16];               /* IPv4 in the first 4 bytes, or IPv6 */
	uint8_t v6;                     /* 1: addr is IPv6 */
	uint16_t port;
};

/* Reads query[len] (the bytes after '?', without the '?'). 0, or
 * MFS_E_FORMAT with one line for people in why[why_len] (NUL-terminated,
 * cut to fit). */
int mfs_bt_query_parse(struct mfs_bt_announce *out, const char *query, size_t len, char *why,
		       size_t why_len);

/* Reads the request line at the start of head[len] ("GET /announce?...
 * HTTP/1.1\r\n...") and its query. 0, or MFS_E_FORMAT with why. */
int mfs_bt_request_parse(struct mfs_bt_announce *out, const char *head, size_t len, char *why,
			 size_t why_len);

/* The whole HTTP response to an announce into out[cap]: peers[count]
 * (count <= MFS_BT_MAX_PEERS), the swarm's counts and the interval in
 * seconds. 0 with *out_len, or -ENOBUFS (cap below MFS_BT_RESPONSE_MAX
 * may not do), -EINVAL (count too large). */
int mfs_bt_reply_build(char *out, size_t cap, size_t *out_len, unsigned interval,
		       uint64_t complete, uint64_t incomplete, const struct mfs_bt_peer *peers,
		       size_t count);

/* The whole HTTP response refusing an announce: {"failure reason": reason}
 * (cut to MFS_BT_REASON_MAX bytes). 0 with *out_len, or -ENOBUFS. */
int mfs_bt_failure_build(char *out, size_t cap, size_t *out_len, const char *reason);

#endif
