/* dht_token: the write tokens a DHT node hands out in its answers to
 * get_peers and get and checks on announce_peer and put (BEP 5, BEP 44).
 *
 * A token is a keyed hash (BLAKE2b, crypto/hash) of the asking node's IP
 * address (as the datagram came from it; not its port, which a NAT may
 * change) and the target, under a secret that is replaced every
 * MFS_DHT_TOKEN_ROTATE seconds. Tokens made under the current or the
 * previous secret are accepted, so one lives 5 to 10 minutes, as BEP 5
 * says; a token is worthless from another address or for another target.
 * The two secrets live in mfs_secure_alloc memory. Time is passed in (any
 * monotonic seconds), so every rule is testable. One owner, no locks. */
#ifndef MFS_DHT_TOKEN_H
#define MFS_DHT_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MFS_DHT_TOKEN_BYTES 8
#define MFS_DHT_TOKEN_ROTATE 300 /* seconds a secret is current */

struct mfs_dht_tokens;

/* Two fresh random secrets, the current one made at now. 0 or -ENOMEM. */
int mfs_dht_tokens_new(struct mfs_dht_tokens **out, uint64_t now);
/* Wipes and frees the secrets; NULL-safe. */
void mfs_dht_tokens_free(struct mfs_dht_tokens *t);
/* Replaces the secrets that are due at now: after MFS_DHT_TOKEN_ROTATE the
 * current one becomes the previous one; after twice that, both are new.
 * A clock that goes back changes nothing. */
void mfs_dht_tokens_tick(struct mfs_dht_tokens *t, uint64_t now);

/* The token for a node at from (AF_INET or AF_INET6) asking about target:
 * 0, or -EAFNOSUPPORT for another address family. */
int mfs_dht_token_make(uint8_t token[static MFS_DHT_TOKEN_BYTES], const struct mfs_dht_tokens *t,
		       const struct sockaddr *from, const uint8_t target[static 20]);
/* 0 when token[len] is one this node made, under either secret, for from's
 * IP address and target; MFS_E_AUTH otherwise (in constant time). */
int mfs_dht_token_check(const struct mfs_dht_tokens *t, const struct sockaddr *from,
			const uint8_t target[static 20], const uint8_t *token, size_t len);

#endif
