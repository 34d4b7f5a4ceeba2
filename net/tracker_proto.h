/* tracker_proto: the tracker's messages, built and parsed (pure: no I/O).
 *
 * The tracker speaks seed 004's publish/subscribe plus a BitTorrent-style
 * announce over WebSocket (RFC 6455), ws://HOST:PORT[/PATH] (any path; no
 * sub-protocol, or "megafs-tracker"). Every message is one JSON object in
 * one text message (fragments are joined); the object's "action" names it.
 * Keys and ids are 64 lower-case hex digits (32 bytes). A listed field
 * must have the type shown; fields not listed are ignored (room to grow).
 *
 * Client -> tracker
 *   {"action":"subscribe","key":K}
 *       Adds the connection to K's subscribers (twice is harmless) and at
 *       once sends the newest manifest the tracker holds for K, if any, as
 *       a "publish" message.
 *   {"action":"publish","manifest":M}
 *       M is a signed manifest (crypto/manifest.h) as a JSON object. The
 *       tracker re-encodes it canonically and verifies its signature and
 *       that its sequence is newer than the newest it holds for the key.
 *       Accepted: stored, answered with "published", and pushed at once as
 *       "publish" to every subscriber of the key. Refused: "error".
 *   {"action":"announce","info_hash":K,"peer_id":P,"port":N,
 *    "numwant":W,"event":"started"|"stopped"|"completed"|""}
 *       K: the channel key; P: the node's Noise static public key; N:
 *       0..65535; W (optional, default 50, at most 200); event (optional,
 *       default ""). With N != 0 the tracker records (the connection's
 *       source address, N, P) under K; "stopped" removes it instead. A
 *       record lasts until the connection closes, a "stopped", or three
 *       intervals without an announce from P. N = 0 only asks. Answered
 *       with "announce": up to W recorded peers of K, never P itself.
 *
 * Tracker -> client
 *   {"action":"publish","manifest":M}         a manifest (see subscribe)
 *   {"action":"published","key":K,"sequence":S}
 *   {"action":"announce","info_hash":K,"interval":I,
 *    "peers":[{"ip":"127.0.0.1","peer_id":P,"port":N},...]}
 *       I: seconds until the client should announce again (>= 1); at most
 *       200 peers; ip is a numeric IPv4 or IPv6 address.
 *   {"action":"error","reason":R,"code":C,"request":Q,"key":K,"sequence":S}
 *       R: one line for people (at most 200 bytes). C: "format" (malformed
 *       request), "auth" (bad signature), "replay" (sequence not newer),
 *       "limit" (a limit of the tracker), "internal". Q: the action that
 *       was refused, when known; K and S: its key (and, for publish, the
 *       manifest's sequence) when known, so a client can tell which
 *       request failed. Only "reason" is required.
 *
 * Sizes. No message either side sends or accepts is larger than
 * MFS_TRACKER_MESSAGE_MAX (1 MiB), so a manifest carried by a publish is
 * at most MFS_TRACKER_MANIFEST_MAX bytes, canonical: some 3,900 files of
 * one chunk each, or 200 of 32 inline chunks (a larger file takes one
 * index entry, see fs/blob/fileentry.h). Parsing JSON into jansson's tree
 * costs far more memory than the text: 128 bytes per empty array, 234 per
 * empty object, 42 per integer, 90 per empty string. So before building
 * anything, both parsers count the text of L bytes, in one pass with no
 * allocation (mfs_tracker_shape_check), at 256 bytes per object, 144 per
 * array, 96 per string (keys too) and 48 per number, true, false or null,
 * and refuse it (MFS_E_FORMAT) when the sum passes 32 x L + 64 KiB.
 * A real manifest counts 5 to 14 x L; junk like [[],[],...] counts 48 x L.
 * Parsing L bytes thus takes at most about 32 x L + 64 KiB whatever the
 * shape (33 MiB for the largest message), where 16 MiB of empty arrays
 * took 765 MB before.
 *
 * The tracker keeps the connection after any "error". It closes it with
 * 1009 when a message is larger than its limit (default 1 MiB), 1003 for a
 * binary message, 1007 for text that is not UTF-8, 1002 for broken
 * framing; it cuts off at once (no close frame) a client that does not
 * read what it is sent (more than 4 x the message limit, at least 4 MiB,
 * waiting), and one whose handshake takes over 10 s or that does not
 * answer its pings (one a minute) within a minute. It closes with 1001 a
 * connection that holds nothing (no subscription, no announced peer) a
 * minute after its last message, or sooner when a new connection needs
 * its slot; it refuses new connections beyond its limits per range of
 * source addresses (a /24, a /64; default 64) and in all (default 4096)
 * when no connection is idle (net/tracker_server.h); a connection may
 * subscribe to at most 256 keys,
 * announce at most 256 keys, and hold at most 256 peer records (by
 * default; "limit" errors beyond). Plain HTTP requests are answered 400.
 *
 * A message this module does not take may be WebTorrent's announce, which
 * the tracker answers on the same connection (net/webtorrent.h).
 *
 * Threads: none of its own; every function is reentrant. */
#ifndef MFS_TRACKER_PROTO_H
#define MFS_TRACKER_PROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define MFS_TRACKER_KEY_BYTES 32
#define MFS_TRACKER_MAX_PEERS 200        /* per announce reply, and numwant's cap */
#define MFS_TRACKER_DEFAULT_NUMWANT 50
#define MFS_TRACKER_REASON_MAX 201       /* a reason's bytes, NUL included */
/* The largest message (text bytes) sent or accepted, in either direction. */
#define MFS_TRACKER_MESSAGE_MAX (1u << 20)
/* The largest manifest (canonical bytes) a publish may carry: what is
 * left of a message after {"action":"publish","manifest":...}. */
#define MFS_TRACKER_MANIFEST_MAX (MFS_TRACKER_MESSAGE_MAX - 64u)

enum mfs_tracker_action {
	MFS_TRACKER_NONE = 0,
	MFS_TRACKER_SUBSCRIBE,
	MFS_TRACKER_PUBLISH,
	MFS_TRACKER_ANNOUNCE,           /* client -> tracker */
	MFS_TRACKER_PUBLISHED,
	MFS_TRACKER_PEERS,              /* tracker -> client "announce" */
	MFS_TRACKER_ERROR,
};

enum mfs_tracker_event {
	MFS_TRACKER_EVENT_NONE = 0,     /* "" or absent */
	MFS_TRACKER_EVENT_STARTED,
	MFS_TRACKER_EVENT_STOPPED,
	MFS_TRACKER_EVENT_COMPLETED,
};

struct mfs_tracker_peer {
	char host[INET6_ADDRSTRLEN];    /* numeric address */
	uint16_t port;
	uint8_t node_pk[MFS_TRACKER_KEY_BYTES];
};

/* A parsed message. Which fields are set depends on action. */
struct mfs_tracker_msg {
	enum mfs_tracker_action action;
	/* SUBSCRIBE key, PUBLISH the manifest's publicKey, ANNOUNCE and PEERS
	 * info_hash, PUBLISHED key, ERROR key (when has_key). */
	uint8_t key[MFS_TRACKER_KEY_BYTES];
	int has_key;
	/* PUBLISH the manifest's sequence, PUBLISHED, ERROR (when has_sequence). */
	uint64_t sequence;
	int has_sequence;
	/* PUBLISH: the manifest re-encoded canonically (malloc'ed, NUL-terminated).
	 * It is not verified here: only its publicKey and sequence are read. */
	char *manifest;
	size_t manifest_len;
	/* ANNOUNCE */
	uint8_t peer_id[MFS_TRACKER_KEY_BYTES];
	uint16_t port;
	uint32_t numwant;               /* capped at MFS_TRACKER_MAX_PEERS */
	enum mfs_tracker_event event;
	/* PEERS (malloc'ed array) */
	uint32_t interval;
	struct mfs_tracker_peer *peers;
	size_t peer_count;
	/* ERROR: code is MFS_E_FORMAT, MFS_E_AUTH, MFS_E_REPLAY, -EPERM (limit),
	 * -EIO (internal) or -EPROTO (absent or unknown); request is the refused
	 * action or MFS_TRACKER_NONE; reason has control characters replaced. */
	int code;
	enum mfs_tracker_action request;
	char reason[MFS_TRACKER_REASON_MAX];
};

/* Parses one message from a client (subscribe, publish, announce) or from
 * a tracker (publish, published, announce, error). On success *out owns
 * memory: release it with mfs_tracker_msg_clear. Returns 0, MFS_E_FORMAT
 * (why, when not NULL, says what is wrong; *out is left cleared: also for
 * len > MFS_TRACKER_MESSAGE_MAX, a manifest re-encoded larger than
 * MFS_TRACKER_MANIFEST_MAX, and text over the counts above) or -ENOMEM. */
int mfs_tracker_parse_request(struct mfs_tracker_msg *out, const char *buf, size_t len,
			      char *why, size_t why_len);
int mfs_tracker_parse_reply(struct mfs_tracker_msg *out, const char *buf, size_t len, char *why,
			    size_t why_len);
/* NULL-safe; leaves *m zeroed. */
void mfs_tracker_msg_clear(struct mfs_tracker_msg *m);

/* Builders: *out is malloc'ed, NUL-terminated compact JSON (free()); *out_len
 * excludes the NUL. Each returns 0, MFS_E_FORMAT (an argument out of range)
 * or -ENOMEM. */
int mfs_tracker_build_subscribe(char **out, size_t *out_len,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES]);
/* manifest[len]: a JSON object, e.g. a canonical manifest; it is checked to
 * start with '{' and end with '}' and to be at most MFS_TRACKER_MANIFEST_MAX
 * bytes, and copied as it is. */
int mfs_tracker_build_publish(char **out, size_t *out_len, const char *manifest, size_t len);
int mfs_tracker_build_announce(char **out, size_t *out_len,
			       const uint8_t info_hash[static MFS_TRACKER_KEY_BYTES],
			       const uint8_t peer_id[static MFS_TRACKER_KEY_BYTES], uint16_t port,
			       uint32_t numwant, enum mfs_tracker_event event);
int mfs_tracker_build_published(char **out, size_t *out_len,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES], uint64_t sequence);
/* peers[count], count <= MFS_TRACKER_MAX_PEERS; interval >= 1. */
int mfs_tracker_build_peers(char **out, size_t *out_len,
			    const uint8_t info_hash[static MFS_TRACKER_KEY_BYTES], uint32_t interval,
			    const struct mfs_tracker_peer *peers, size_t count);
/* key may be NULL; sequence 0 leaves it out; request MFS_TRACKER_NONE
 * leaves it out; code as in struct mfs_tracker_msg (others: "internal").
 * reason is cut to fit MFS_TRACKER_REASON_MAX. */
int mfs_tracker_build_error(char **out, size_t *out_len, enum mfs_tracker_action request,
			    const uint8_t *key, uint64_t sequence, int code, const char *reason);

/* The count check of the parsers alone: 0 when text[len] (at most
 * MFS_TRACKER_MESSAGE_MAX bytes) holds few enough arrays, objects and
 * values for its size (see Sizes above), else MFS_E_FORMAT. It reads the
 * text once and allocates nothing; it does not check that it is JSON. */
int mfs_tracker_shape_check(const char *text, size_t len, char *why, size_t why_len);

#endif
