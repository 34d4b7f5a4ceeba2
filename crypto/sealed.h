/* sealed: a private channel's manifest body, sealed for its readers.
 *
 * Owns the sealed envelope (version 1; man/megafs.7, "Sealed manifests"):
 *   "mfsS" | 0x01 | W (u16 LE) | W wraps | body
 * A wrap is a 32-byte X25519 point E and 48 bytes XChaCha20-Poly1305 of the
 * 32-byte content key under a key derived from E and either the read key or
 * a grantee's X25519 key. W is a power of two >= 4; unused wraps are random
 * (E a real point too), and wraps are shuffled: nobody but a reader learns
 * which wrap is whose. The body is XChaCha20-Poly1305 under the content key
 * of u32 LE length | plaintext | zeros, with associated data the domain, the
 * channel's public key, the sequence and every envelope byte before the
 * body: a body moved to another channel or sequence, or any byte changed,
 * does not open. The whole envelope is padded to a size bucket (2^k or
 * 3 * 2^(k-1) bytes, at least 4 KiB).
 *
 * In a manifest the envelope is carried base64 (URL alphabet, no padding)
 * as the only item of the only collection, titled MFS_SEALED_TITLE (a title
 * no public manifest may have), so seed 004's envelope and its signature
 * and sequence rules are untouched. */
#ifndef MFS_SEALED_H
#define MFS_SEALED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"

#define MFS_READ_KEY_BYTES 32
#define MFS_BOX_KEY_BYTES 32   /* X25519 public and secret keys */
#define MFS_SEALED_TITLE "/sealed-v1"
#define MFS_SEALED_MAX_WRAPS 8192
#define MFS_SEALED_MAX_GRANTS (MFS_SEALED_MAX_WRAPS - 1)

/* Who may open: the read key (NULL: nobody by read key) and grantees'
 * X25519 public keys. */
struct mfs_seal_to {
	const uint8_t *read_key;
	const uint8_t (*grants)[MFS_BOX_KEY_BYTES];
	size_t n_grants;
};

/* Seals body[len] for channel pk's manifest sequence seq: *out is the
 * malloc'ed base64 envelope (NUL-terminated; free()). seed (32 bytes) makes
 * every random choice (golden vectors); NULL draws them from the system.
 * 0, MFS_E_FORMAT (too many grants, body too large) or -ENOMEM. */
int mfs_sealed_seal(char **out, size_t *out_len, const uint8_t *body, size_t len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES], uint64_t seq,
		    const struct mfs_seal_to *to, const uint8_t *seed);

/* Opens an envelope with the read key and/or the X25519 pair (id_sk, id_pk)
 * (either may be NULL). *body is guarded memory (mfs_secure_free), NUL
 * after its *len bytes. MFS_E_FORMAT (malformed envelope), MFS_E_NOKEY (no
 * wrap opens with these keys), MFS_E_AUTH (a wrap opened but the body did
 * not: tampered, or moved to another channel or sequence). */
int mfs_sealed_open(uint8_t **body, size_t *len, const char *b64, size_t b64_len,
		    const uint8_t pk[static MFS_SIGN_PK_BYTES], uint64_t seq,
		    const uint8_t *read_key, const uint8_t *id_sk, const uint8_t *id_pk);

/* The envelope of a sealed manifest's collections: 1 and *b64 (borrowed,
 * never empty) when collections is the sealed form, 0 when it is a public
 * manifest's, MFS_E_FORMAT when it uses the sealed title in another shape
 * (an empty envelope included). */
int mfs_sealed_find(const json_t *collections, const char **b64, size_t *b64_len);

/* [{"items":[b64],"title":MFS_SEALED_TITLE}] (a new reference) or NULL. */
json_t *mfs_sealed_collections(const char *b64);

/* The size an envelope of n bytes is padded to. */
size_t mfs_sealed_bucket(size_t n);

/* An X25519 key pair (sk guarded by the caller); pk from sk. */
void mfs_box_keypair(uint8_t pk[static MFS_BOX_KEY_BYTES], uint8_t sk[static MFS_BOX_KEY_BYTES]);
int mfs_box_public(uint8_t pk[static MFS_BOX_KEY_BYTES], const uint8_t sk[static MFS_BOX_KEY_BYTES]);

#endif
