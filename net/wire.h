/* wire: the peer wire protocol's messages (seed 001) and their encoding.
 *
 * On a connection (net/peer), after the Noise handshake, each side writes a
 * stream of messages, each
 *
 *   type u8 | body length u32 big-endian | body
 *
 * cut into Noise transport messages (net/peer does the cutting and the
 * length prefixes). Bodies, all integers big-endian:
 *
 *   HANDSHAKE      0  version u16 | listen port u16 | max requests u16
 *   HANDSHAKE_ACK  1  the same, from the responder
 *   REQUEST        2  request id u32 | blob id [32] | first segment u32 | count u32
 *   RESPONSE       3  request id u32 | blob id [32] | blob length u32 |
 *                     first segment u32 | leaf [32] * n
 *   HAVE           4  blob id [32] * n   (1 <= n <= MFS_WIRE_MAX_IDS)
 *   WANT           5  blob id [32] * n   (1 <= n <= MFS_WIRE_MAX_IDS)
 *   NOT_FOUND      6  request id u32 | blob id [32]
 *   ERROR          7  code u16 | UTF-8 text (at most MFS_WIRE_MAX_TEXT bytes)
 *   SEGMENT        8  request id u32 | segment index u32 | the segment's bytes
 *   CANCEL         9  request id u32   (the asker: stop answering it)
 *   CANCELLED     10  request id u32   (the answerer: nothing more of it follows)
 *
 * A blob is answered as a RESPONSE, the head, then one SEGMENT per piece
 * of the blob's hash list (crypto/hash.h: pieces of MFS_BLOB_LEAF_BYTES, one
 * sealed segment each), in order, count of them from the first asked (fewer
 * when the blob ends first; 1 <= count <= MFS_WIRE_MAX_LEAVES).
 * RESPONSE carries all n = mfs_blob_leaf_count(blob length) leaves, which
 * the asker checks against the blob id before it takes any segment, and
 * then each SEGMENT against its leaf as it arrives: a blob is verified a
 * segment at a time, never held whole on the wire, and a transfer cut off
 * midway is asked again from its first missing segment.
 *
 * This module only encodes and parses: it owns no socket and keeps no state.
 * Parsing checks every length; a message that breaks a rule above is
 * MFS_E_FORMAT, and the connection that sent it is dropped by its caller. */
#ifndef MFS_WIRE_H
#define MFS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"
#include "fs/store/blobstore.h"

#define MFS_WIRE_VERSION 4
#define MFS_WIRE_HEAD_BYTES 5u
#define MFS_WIRE_MAX_IDS 1024u
#define MFS_WIRE_MAX_TEXT 512u
/* The leaves of the largest blob. */
#define MFS_WIRE_MAX_LEAVES                                                                     \
	((MFS_BLOB_MAX_BYTES + MFS_BLOB_LEAF_BYTES - 1) / MFS_BLOB_LEAF_BYTES)
/* The largest body: a SEGMENT of a whole piece (a RESPONSE with every
 * leaf of the largest blob is 8 KiB). */
#define MFS_WIRE_MAX_BODY (8u + MFS_BLOB_LEAF_BYTES)

enum mfs_wire_type {
	MFS_WIRE_HANDSHAKE = 0,
	MFS_WIRE_HANDSHAKE_ACK = 1,
	MFS_WIRE_REQUEST = 2,
	MFS_WIRE_RESPONSE = 3,
	MFS_WIRE_HAVE = 4,
	MFS_WIRE_WANT = 5,
	MFS_WIRE_NOT_FOUND = 6,
	MFS_WIRE_ERROR = 7,
	MFS_WIRE_SEGMENT = 8,
	MFS_WIRE_CANCEL = 9,
	MFS_WIRE_CANCELLED = 10,
};

/* ERROR codes. */
enum mfs_wire_error {
	MFS_WIRE_ERR_PROTOCOL = 1,  /* malformed or unexpected message */
	MFS_WIRE_ERR_BUSY = 2,      /* too many requests or connections */
	MFS_WIRE_ERR_VERSION = 3,   /* no common version */
	MFS_WIRE_ERR_INTERNAL = 4,  /* the sender failed; try elsewhere */
};

struct mfs_wire_hello {
	uint16_t version;
	uint16_t listen_port;   /* 0: not listening */
	uint16_t max_requests;  /* requests the sender will answer at once */
};

/* A parsed message. Pointers borrow from the buffer parsed. */
struct mfs_wire_msg {
	enum mfs_wire_type type;
	struct mfs_wire_hello hello;               /* HANDSHAKE, HANDSHAKE_ACK */
	uint32_t request_id;                /* all but the hellos, HAVE, WANT, ERROR */
	uint8_t blob_id[MFS_BLOB_ID_BYTES]; /* REQUEST, RESPONSE, NOT_FOUND */
	uint32_t blob_len;                  /* RESPONSE */
	/* REQUEST, RESPONSE: the first segment asked, and sent; SEGMENT: its
	 * index. Always below the blob's leaf count. */
	uint32_t segment;
	uint32_t count;                     /* REQUEST: segments asked from segment */
	uint16_t code;                      /* ERROR */
	/* RESPONSE: the leaves; SEGMENT: its bytes; HAVE, WANT: ids; ERROR: text */
	const uint8_t *data;
	size_t len;           /* bytes at data (ids and leaves: a multiple of 32) */
};

/* Reads a message head: the type (checked) and the body length (checked
 * against the type's bounds). MFS_E_FORMAT for an unknown type or a length
 * no message of that type can have. */
int mfs_wire_head_parse(const uint8_t head[static MFS_WIRE_HEAD_BYTES], enum mfs_wire_type *type,
			size_t *body_len);
/* Parses a body of the given type. MFS_E_FORMAT on any violation. */
int mfs_wire_parse(struct mfs_wire_msg *m, enum mfs_wire_type type, const uint8_t *body,
		   size_t len);
/* Bytes m encodes to, head included (0 when m's type is unknown or its
 * data is longer than any body). */
size_t mfs_wire_encoded_len(const struct mfs_wire_msg *m);
/* Encodes m (head and body) into out (at least mfs_wire_encoded_len bytes).
 * Returns the bytes written, or 0 when m breaks a rule above. */
size_t mfs_wire_encode(uint8_t *out, size_t cap, const struct mfs_wire_msg *m);
/* The message type's name ("REQUEST"), for logs and errors. */
const char *mfs_wire_type_name(enum mfs_wire_type type);

#endif
