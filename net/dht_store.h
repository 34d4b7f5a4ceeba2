/* dht_store: what a DHT node keeps for others (BEP 5 peers, BEP 44 items),
 * within limits, for MFS_DHT_STORE_LIFE seconds after the last write.
 *
 * Limits (struct mfs_dht_limits, 0 in a field = its default): how many
 * items and how many bytes of values in all, how many peers in all and per
 * info-hash, and how many writes (puts and announces) one source IP
 * address may make per MFS_DHT_RATE_WINDOW seconds. A write past a limit is
 * refused (MFS_E_FULL; -EAGAIN for the rate), never made room for by
 * dropping what others stored. Everything is found by a linear scan of at
 * most the count limits, so no input makes a lookup costlier than that.
 *
 * Mutable puts must have been verified (signature, token) by the caller;
 * this module applies BEP 44's cas and seq rule (net/dht_item). Time is
 * passed in (monotonic seconds), so expiry is testable. One owner, no
 * locks; pointers handed out live until the next call that writes or
 * expires. */
#ifndef MFS_DHT_STORE_H
#define MFS_DHT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/sign.h"
#include "net/dht_item.h"

#define MFS_DHT_STORE_LIFE (2 * 60 * 60) /* seconds an item or peer lives unless written again */
#define MFS_DHT_RATE_WINDOW 60           /* seconds of the per-address write count */

struct mfs_dht_limits {
	size_t items;          /* default 1,000 */
	size_t item_bytes;     /* values' bytes in all; default 512 KiB */
	size_t peers;          /* default 10,000 */
	size_t peers_per_hash; /* default 200 */
	unsigned writes;       /* per source address per window; default 30 */
};

/* A stored item. k and sig are set for a mutable one. */
struct mfs_dht_stored {
	uint8_t target[MFS_DHT_TARGET_BYTES];
	int is_mutable;
	uint8_t k[MFS_SIGN_PK_BYTES];
	uint8_t sig[MFS_SIGN_BYTES];
	int64_t seq;
	uint8_t salt[MFS_DHT_SALT_MAX];
	size_t salt_len;
	uint8_t v[MFS_DHT_VALUE_MAX];
	size_t v_len;
	uint64_t written;
};

/* A stored peer: family 4 or 6, ip of 4 or 16 bytes. */
struct mfs_dht_peer {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
};

struct mfs_dht_store;

/* An empty store with limits (NULL or 0 fields: the defaults). 0 or -ENOMEM. */
int mfs_dht_store_new(struct mfs_dht_store **out, const struct mfs_dht_limits *limits);
void mfs_dht_store_free(struct mfs_dht_store *s); /* NULL-safe */

/* Counts one write from `from` at now against its rate: 0, or -EAGAIN when
 * that address made limits.writes writes within the window. */
int mfs_dht_store_charge(struct mfs_dht_store *s, const struct sockaddr *from, uint64_t now);

/* Stores an immutable item (v bencoded, its target already computed by
 * the caller) at now. 0; MFS_E_FULL past the count or bytes limit;
 * MFS_E_EXISTS when a mutable item holds the target. */
int mfs_dht_store_put_immutable(struct mfs_dht_store *s, const uint8_t target[static 20],
				const uint8_t *v, size_t v_len, uint64_t now);
/* Stores a mutable item whose signature the caller verified: BEP 44's rule
 * against what is held (MFS_E_CAS, MFS_E_REPLAY), then MFS_E_FULL as above;
 * MFS_E_EXISTS when an immutable item holds the target; 0 when stored or
 * refreshed. */
int mfs_dht_store_put_mutable(struct mfs_dht_store *s, const uint8_t target[static 20],
			      const uint8_t k[static MFS_SIGN_PK_BYTES],
			      const uint8_t sig[static MFS_SIGN_BYTES],
			      const struct mfs_dht_mutable *item, int has_cas, int64_t cas,
			      uint64_t now);
/* The item under target, or NULL. */
const struct mfs_dht_stored *mfs_dht_store_get(const struct mfs_dht_store *s,
					       const uint8_t target[static 20]);

/* Records that peer serves info_hash, at now. 0 (stored or refreshed) or
 * MFS_E_FULL past the total or per-hash limit; -EINVAL for a family other
 * than 4 or 6. */
int mfs_dht_store_announce(struct mfs_dht_store *s, const uint8_t info_hash[static 20],
			   const struct mfs_dht_peer *peer, uint64_t now);
/* Up to max peers of info_hash of the given family, into out; how many. */
size_t mfs_dht_store_peers(const struct mfs_dht_store *s, const uint8_t info_hash[static 20],
			   int family, struct mfs_dht_peer *out, size_t max);

/* Drops what was last written MFS_DHT_STORE_LIFE seconds or more before now. */
void mfs_dht_store_expire(struct mfs_dht_store *s, uint64_t now);

/* How many items and peers are held, and the items' value bytes. */
void mfs_dht_store_counts(const struct mfs_dht_store *s, size_t *items, size_t *peers,
			  size_t *item_bytes);

#endif
