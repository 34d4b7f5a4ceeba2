/* dht_item: the items of BEP 44 ("Storing arbitrary data in the DHT") as
 * pure functions: their targets, the exact bytes a mutable item's
 * signature covers, signing and verifying them with Ed25519 (the channel
 * key type, crypto/sign.h), the limits on values and salts, and the rule a
 * storing node applies to a put (seq and cas).
 *
 * No state, no I/O, no threads of its own; every pointer is borrowed for
 * the call. A value `v` is always passed bencoded, as it travels. */
#ifndef MFS_DHT_ITEM_H
#define MFS_DHT_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"

#define MFS_DHT_TARGET_BYTES 20  /* SHA-1 */
#define MFS_DHT_VALUE_MAX 1000   /* a bencoded v, at most (BEP 44) */
#define MFS_DHT_SALT_MAX 64      /* a salt, at most (BEP 44) */
/* The signed bytes at most: "4:salt" "64:" salt "3:seqi" 20 digits "e1:v" v. */
#define MFS_DHT_SIGNED_MAX (6 + 3 + MFS_DHT_SALT_MAX + 6 + 20 + 4 + MFS_DHT_VALUE_MAX)

/* A mutable item's signed fields. salt may be NULL when salt_len is 0 (an
 * empty salt is no salt: BEP 44 signs and hashes nothing for it). */
struct mfs_dht_mutable {
	const uint8_t *salt;
	size_t salt_len;
	int64_t seq;
	const uint8_t *v; /* bencoded */
	size_t v_len;
};

/* 0 when v[v_len] is one canonical bencoded value of at most
 * MFS_DHT_VALUE_MAX bytes; else MFS_E_FORMAT with the reason in why, or
 * -ENOMEM. */
int mfs_dht_item_check_value(const uint8_t *v, size_t v_len, char *why, size_t why_len);
/* 0 when salt_len is at most MFS_DHT_SALT_MAX; else MFS_E_FORMAT. */
int mfs_dht_item_check_salt(size_t salt_len, char *why, size_t why_len);

/* An immutable item's target: SHA-1 of its bencoded v. 0, MFS_E_FORMAT
 * (v not a valid value) or -ENOMEM. The functions below return -ENOMEM
 * too, when checking v finds no memory. */
int mfs_dht_item_immutable_target(uint8_t target[static MFS_DHT_TARGET_BYTES], const uint8_t *v,
				  size_t v_len);
/* A mutable item's target: SHA-1 of pk || salt. 0, MFS_E_FORMAT (salt too
 * long) or -ENOMEM. */
int mfs_dht_item_mutable_target(uint8_t target[static MFS_DHT_TARGET_BYTES],
				const uint8_t pk[static MFS_SIGN_PK_BYTES], const uint8_t *salt,
				size_t salt_len);

/* The bytes BEP 44 signs, into out[cap]: "4:salt<len>:<salt>" (only for a
 * non-empty salt) "3:seqi<seq>e1:v" <v>. 0 with *len; MFS_E_FORMAT when
 * the salt or v break their limits; -ENOBUFS when cap is too small
 * (MFS_DHT_SIGNED_MAX always suffices). */
int mfs_dht_item_signed_bytes(uint8_t *out, size_t cap, size_t *len,
			      const struct mfs_dht_mutable *item);

/* Signs item with sk (libsodium's 64-byte secret key). 0 or MFS_E_FORMAT. */
int mfs_dht_item_sign(uint8_t sig[static MFS_SIGN_BYTES], const struct mfs_dht_mutable *item,
		      const uint8_t sk[static MFS_SIGN_SK_BYTES]);
/* 0 when sig is pk's signature of item; MFS_E_AUTH when not; MFS_E_FORMAT
 * when the salt or v break their limits. */
int mfs_dht_item_verify(const uint8_t sig[static MFS_SIGN_BYTES],
			const struct mfs_dht_mutable *item,
			const uint8_t pk[static MFS_SIGN_PK_BYTES]);

/* BEP 44's check of an item a get for target brought back: with k NULL an
 * immutable item, whose v must hash to target; else a mutable one, whose
 * k and item->salt (the salt the getter asked with) must hash to target
 * and whose sig must verify. 0; MFS_E_AUTH when the hash or the signature
 * does not match; MFS_E_FORMAT for a bad value or salt, or k without sig. */
int mfs_dht_item_check_got(const uint8_t target[static MFS_DHT_TARGET_BYTES],
			   const uint8_t *k, const uint8_t *sig,
			   const struct mfs_dht_mutable *item);

/* What a storing node does with a put whose signature verified, for a
 * target where it holds an item of seq held_seq (held is 0 when it holds
 * none): 0 with *replace 1 (store the new item) or 0 (same seq: keep the
 * held one, refresh its time); MFS_E_CAS when has_cas and cas is not
 * held_seq (BEP 44 error 301; ignored when nothing is held); MFS_E_REPLAY
 * when seq is lower than held_seq (error 302). cas is checked first. */
int mfs_dht_item_put_rule(int *replace, int held, int64_t held_seq, int64_t seq, int has_cas,
			  int64_t cas);

#endif
