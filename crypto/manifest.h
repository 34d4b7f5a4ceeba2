/* manifest: a channel's signed, sequence-numbered publication (seed 004).
 *
 *   {"collections":[{"items":[...],"title":"..."}],"publicKey":"<64 hex>",
 *    "sequence":N,"signature":"<128 hex>","timestamp":MS}
 *
 * The signature is Ed25519 over the canonical JSON (canon_json.h) of the
 * object without "signature". Items are FileEntry objects or magnet-link
 * strings; this module checks only their JSON type (fs/blob checks entries).
 * A manifest is accepted only when its signature verifies, it is canonical,
 * it has exactly these fields, and its sequence is newer than the last one
 * seen for that key. */
#ifndef MFS_MANIFEST_H
#define MFS_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"

struct mfs_manifest {
	uint8_t public_key[MFS_SIGN_PK_BYTES];
	uint64_t sequence;    /* >= 1 */
	uint64_t timestamp;   /* milliseconds since the epoch */
	json_t *root;         /* the whole document; owned */
	json_t *collections;  /* borrowed from root */
};

/* Builds and signs a manifest; *out is malloc'ed canonical JSON (free()).
 * collections is borrowed. Returns 0, MFS_E_FORMAT or -ENOMEM. */
int mfs_manifest_sign(char **out, size_t *out_len, uint64_t sequence, uint64_t timestamp,
		      json_t *collections, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      const uint8_t sk[static MFS_SIGN_SK_BYTES]);

/* The same document without "signature" (what a private channel's reader
 * keeps once it opened one: fs/channel), canonical, in *out (free()). */
int mfs_manifest_unsigned(char **out, size_t *out_len, uint64_t sequence, uint64_t timestamp,
			  json_t *collections, const uint8_t pk[static MFS_SIGN_PK_BYTES]);

/* Verifies buf[len]. expected_pk may be NULL (any channel). Sequences <=
 * last_sequence are refused (pass 0 when none was seen). On success fills
 * *out (release with mfs_manifest_clear). Errors: MFS_E_FORMAT (malformed,
 * missing or extra field, duplicate key), MFS_E_NOTCANON, MFS_E_AUTH (bad
 * signature or another channel's key), MFS_E_REPLAY. why receives a
 * one-line reason. */
int mfs_manifest_verify(struct mfs_manifest *out, const char *buf, size_t len,
			const uint8_t *expected_pk, uint64_t last_sequence, char *why,
			size_t why_len);

void mfs_manifest_clear(struct mfs_manifest *m);

#endif
