/* noise: the Noise_XX_25519_ChaChaPoly_BLAKE2b handshake and transport.
 *
 * The Noise Protocol Framework (rev 34), pattern XX, built on libsodium:
 *
 *   -> e                   message 1, initiator (payload in clear)
 *   <- e, ee, s, es        message 2, responder (payload encrypted)
 *   -> s, se               message 3, initiator (payload encrypted)
 *
 * Each side proves a long-term X25519 static key; the session keys come from
 * ephemeral keys only, so they are forward secret. Both sides must use the
 * same prologue (any bytes both already agree on, e.g. a version string) or
 * message 2 fails. Payloads: message 1's travels in clear and
 * unauthenticated; message 2's is encrypted and comes from the responder's
 * static key, but goes to an initiator not yet identified (anyone may
 * start a handshake), so it must hold nothing meant only for a known peer;
 * message 3's is encrypted and authenticated both ways.
 *
 * A handshake is a small state machine: the initiator writes message 1, the
 * responder reads it and writes message 2, and so on; a call out of turn
 * returns -EPROTO and changes nothing. Any other failure of read or write
 * except -ENOBUFS and -EMSGSIZE ends the handshake: every later call on it
 * returns -EPROTO. After the third message, mfs_noise_hs_split() gives the
 * transport (two cipher states with 64-bit nonce counters), the handshake
 * hash (for channel binding) and the peer's static public key, which the
 * caller must check against the identity it expects: Noise itself accepts
 * any peer.
 *
 * Every message, handshake or transport, is at most MFS_NOISE_MAX_MSG bytes;
 * framing them on a stream is the caller's business. Transport messages
 * must be decrypted in the order they were encrypted: a lost, replayed or
 * reordered message fails with MFS_E_AUTH (and the caller should drop the
 * connection). There is no rekeying.
 *
 * mfs_crypto_init() must have succeeded first. Handshake and transport
 * states live in guarded memory, are not thread-safe (one thread at a time
 * per state) and are wiped when freed; the free functions accept NULL. A
 * transport does not depend on the handshake it came from. */
#ifndef MFS_NOISE_H
#define MFS_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define MFS_NOISE_KEY_BYTES 32     /* X25519 public and private keys */
#define MFS_NOISE_HASH_BYTES 64    /* handshake hash (BLAKE2b) */
#define MFS_NOISE_TAG_BYTES 16     /* Poly1305 tag on each encrypted part */
#define MFS_NOISE_MAX_MSG 65535u   /* any Noise message, on the wire */
#define MFS_NOISE_MAX_PLAIN (MFS_NOISE_MAX_MSG - MFS_NOISE_TAG_BYTES)

/* Bytes each XX handshake message adds to its payload. */
#define MFS_NOISE_XX_MSG1_OVERHEAD 32u  /* e */
#define MFS_NOISE_XX_MSG2_OVERHEAD 96u  /* e, encrypted s, payload tag */
#define MFS_NOISE_XX_MSG3_OVERHEAD 64u  /* encrypted s, payload tag */

struct mfs_noise_hs;
struct mfs_noise_transport;

/* A fresh static key pair. Keep sk in mfs_secure_alloc memory. */
void mfs_noise_keypair(uint8_t pk[static MFS_NOISE_KEY_BYTES],
		       uint8_t sk[static MFS_NOISE_KEY_BYTES]);
/* The public key of a private key (X25519 clamps the private key). */
void mfs_noise_public_key(uint8_t pk[static MFS_NOISE_KEY_BYTES],
			  const uint8_t sk[static MFS_NOISE_KEY_BYTES]);

/* Starts a handshake as the initiator (initiator != 0) or the responder,
 * proving static_sk, bound to prologue (prologue_len bytes; NULL when 0).
 * The state keeps its own copy of static_sk. Returns 0 or -ENOMEM. */
int mfs_noise_hs_new(struct mfs_noise_hs **out, int initiator,
		     const uint8_t static_sk[static MFS_NOISE_KEY_BYTES],
		     const uint8_t *prologue, size_t prologue_len);
/* Test vectors only: use eph_sk as the ephemeral key instead of a random
 * one. Returns 0, or -EPROTO once this side's ephemeral key is sent. */
int mfs_noise_hs_set_ephemeral(struct mfs_noise_hs *hs,
			       const uint8_t eph_sk[static MFS_NOISE_KEY_BYTES]);

/* Writes this side's next handshake message, carrying payload (payload_len
 * bytes, NULL when 0), into out (out_cap bytes; it needs payload_len plus
 * the message's overhead above); *out_len is its length. out must not
 * overlap payload. Returns 0; -EPROTO out of turn; -EMSGSIZE when the
 * message would exceed MFS_NOISE_MAX_MSG; -ENOBUFS when out_cap is too
 * small (state unchanged after these three); MFS_E_AUTH when a
 * Diffie-Hellman result is all zero (the peer sent a low-order point). */
int mfs_noise_hs_write(struct mfs_noise_hs *hs, uint8_t *out, size_t out_cap, size_t *out_len,
		       const uint8_t *payload, size_t payload_len);
/* Reads the peer's next handshake message msg (msg_len bytes) and writes its
 * payload to payload_out (cap bytes; NULL when 0), *payload_len its length.
 * Returns 0; -EPROTO out of turn; -ENOBUFS when the payload is longer than
 * cap (state unchanged after these two); MFS_E_FORMAT when the message is
 * too short or longer than MFS_NOISE_MAX_MSG; MFS_E_AUTH when it does not
 * decrypt (tampered, wrong prologue, wrong peer) or a Diffie-Hellman result
 * is all zero. payload_out is wiped on failure. */
int mfs_noise_hs_read(struct mfs_noise_hs *hs, uint8_t *payload_out, size_t cap,
		      size_t *payload_len, const uint8_t *msg, size_t msg_len);
/* 1 when all three messages have been written or read without failure. */
int mfs_noise_hs_done(const struct mfs_noise_hs *hs);

/* Once done, makes the transport (*out, free with mfs_noise_transport_free)
 * and gives the handshake hash and the peer's static public key. Only once
 * per handshake: it wipes the handshake's keys, and only free is left.
 * Returns 0, -EPROTO (not done, or already split) or -ENOMEM. */
int mfs_noise_hs_split(struct mfs_noise_hs *hs, struct mfs_noise_transport **out,
		       uint8_t handshake_hash[static MFS_NOISE_HASH_BYTES],
		       uint8_t remote_static_pk[static MFS_NOISE_KEY_BYTES]);

/* Encrypts the next outgoing message: in (len bytes) to out (len +
 * MFS_NOISE_TAG_BYTES bytes). in and out may be the same buffer. Returns 0,
 * -EMSGSIZE when len > MFS_NOISE_MAX_PLAIN, or -EOVERFLOW when the 2^64-1
 * nonces are used up (the session must end). */
int mfs_noise_encrypt(struct mfs_noise_transport *t, uint8_t *out, const uint8_t *in,
		      size_t len);
/* Decrypts the next incoming message: in (msg_len bytes, as received) to out
 * (msg_len - MFS_NOISE_TAG_BYTES bytes). in and out may be the same buffer.
 * Returns 0; MFS_E_FORMAT when msg_len is shorter than a tag or longer than
 * MFS_NOISE_MAX_MSG; MFS_E_AUTH when it does not decrypt (tampered,
 * replayed, reordered), with out wiped and the nonce not used up;
 * -EOVERFLOW when the nonces are used up. */
int mfs_noise_decrypt(struct mfs_noise_transport *t, uint8_t *out, const uint8_t *in,
		      size_t msg_len);
/* Tests only: set the next sending and receiving nonces. */
void mfs_noise_transport_set_nonces(struct mfs_noise_transport *t, uint64_t send_n,
				    uint64_t recv_n);

void mfs_noise_hs_free(struct mfs_noise_hs *hs);
void mfs_noise_transport_free(struct mfs_noise_transport *t);

#endif
