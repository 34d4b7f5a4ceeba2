/* dht_channel: what makes a channel findable in the Mainline DHT, as pure
 * functions: the keys derived from its "DHT secret", and the sealed
 * pointer (BEP 44 mutable item's v) that says where its newest manifest is.
 *
 * The DHT secret is a private channel's read key, or a public channel's
 * public key (anyone with a public channel's link is meant to find it).
 * From it and the public key, with domain-separated keyed BLAKE2b
 * (crypto/hash: mfs_keyed_hash, a label per use):
 *   salt      (32 bytes) the BEP 44 salt: the item's target is
 *             SHA-1(pk || salt), which a holder of the public key alone
 *             cannot compute for a private channel;
 *   seal key  (32 bytes) seals the pointer and keys the manifest blob;
 *   info-hash (20 bytes) peers announce and look up (get_peers) under.
 *
 * The pointer: v is the bencoded string "113:" + nonce(24) ||
 * XChaCha20-Poly1305(seal key, nonce, ad = pk || seq (8 bytes LE),
 * plain = version 1 (1 byte) || blob id (32) || blob key (32) ||
 * length (8, LE)). The blob is the signed manifest, as the volume keeps it
 * (sealed when the channel is private), encrypted with the blob key
 * (XChaCha20-Poly1305, a zero nonce: the key is derived from the seal key
 * and the manifest's own hash, so it seals nothing else) and served by
 * peers as any blob. Opening either proves only that someone holding the
 * seal key wrote it: the manifest inside is still verified as any other.
 *
 * No state, no I/O, no allocation but the blobs', any thread. Keys are the
 * caller's, in guarded memory (mfs_secure_alloc). */
#ifndef MFS_DHT_CHANNEL_H
#define MFS_DHT_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"
#include "crypto/sign.h"

#define MFS_DHT_CHANNEL_SALT_BYTES 32
#define MFS_DHT_POINTER_VERSION 1
#define MFS_DHT_POINTER_PLAIN_BYTES (1 + MFS_BLOB_ID_BYTES + 32 + 8)        /* 73 */
#define MFS_DHT_POINTER_SEALED_BYTES (24 + MFS_DHT_POINTER_PLAIN_BYTES + 16) /* 113 */
#define MFS_DHT_POINTER_V_BYTES (4 + MFS_DHT_POINTER_SEALED_BYTES)          /* "113:" ... */
/* The largest manifest a pointer may point to (the tracker's own bound). */
#define MFS_DHT_MANIFEST_MAX ((1u << 20) - 64u)

struct mfs_dht_channel_keys {
	uint8_t salt[MFS_DHT_CHANNEL_SALT_BYTES];
	uint8_t seal_key[32];
	uint8_t info_hash[20];
};

struct mfs_dht_pointer {
	uint8_t blob_id[MFS_BLOB_ID_BYTES];
	uint8_t blob_key[32];
	uint64_t length;                   /* the blob's bytes */
};

/* The keys of channel pk from its DHT secret (32 bytes). */
void mfs_dht_channel_derive(struct mfs_dht_channel_keys *out, const uint8_t secret[static 32],
			    const uint8_t pk[static MFS_SIGN_PK_BYTES]);

/* v[MFS_DHT_POINTER_V_BYTES] = the bencoded sealed pointer for item seq
 * of channel pk, sealed under nonce (24 random bytes; tests fix it). */
void mfs_dht_pointer_seal(uint8_t v[static MFS_DHT_POINTER_V_BYTES],
			  const struct mfs_dht_pointer *p, const struct mfs_dht_channel_keys *keys,
			  const uint8_t pk[static MFS_SIGN_PK_BYTES], int64_t seq,
			  const uint8_t nonce[static 24]);

/* Opens v[v_len] (untrusted: from the DHT) as the pointer of item seq of
 * channel pk: 0 and *out; MFS_E_FORMAT when v is not one bencoded string
 * of the pointer's size, MFS_E_AUTH when it does not open (another key,
 * channel or seq; tampered), MFS_E_FORMAT for an unknown version or a
 * length of 16 or less or over MFS_DHT_MANIFEST_MAX + 16 bytes. */
int mfs_dht_pointer_open(struct mfs_dht_pointer *out, const uint8_t *v, size_t v_len,
			 const struct mfs_dht_channel_keys *keys,
			 const uint8_t pk[static MFS_SIGN_PK_BYTES], int64_t seq);

/* The blob of manifest json[len] (malloc'ed, *blob_len = len + 16) and the
 * pointer to it. MFS_E_FORMAT when len is 0 or over MFS_DHT_MANIFEST_MAX,
 * -ENOMEM. */
int mfs_dht_manifest_blob(uint8_t **blob, size_t *blob_len, struct mfs_dht_pointer *p,
			  const char *json, size_t len, const struct mfs_dht_channel_keys *keys);
/* The manifest in blob[blob_len] as p says: *json malloc'ed and
 * NUL-terminated. MFS_E_FORMAT when the length or id is not p's, MFS_E_AUTH
 * when it does not open, -ENOMEM. */
int mfs_dht_manifest_open(char **json, size_t *len, const uint8_t *blob, size_t blob_len,
			  const struct mfs_dht_pointer *p);

#endif
