/* krpc: the messages of the Mainline DHT (BEP 5's KRPC, with BEP 44's get
 * and put), read from and written to one UDP datagram's bytes, on top of
 * net/bencode. No sockets, no state: a routing table, tokens and lookups
 * belong to the modules that will use this one.
 *
 * A parsed message borrows: its pointers lead into the datagram and into
 * the caller's node arena, both of which must outlive it. Keys a message
 * may carry beyond those named here (a client's "v" version, BEP 42's
 * "ip") are ignored; named ones must have their type and length. A
 * query's "ro" (BEP 43) is read when it is the integer 1 and ignored
 * otherwise.
 * Responses carry no method: the caller matches them to its query by the
 * transaction id. */
#ifndef MFS_KRPC_H
#define MFS_KRPC_H

#include <stddef.h>
#include <stdint.h>

#include "net/bencode.h"

#define MFS_KRPC_ID_BYTES 20
#define MFS_KRPC_TID_MAX 32      /* transaction ids, at most (BEP 5: "short") */
#define MFS_KRPC_TOKEN_MAX 64    /* write tokens, at most */
#define MFS_KRPC_NODE4_BYTES 26  /* compact node info: id, IPv4, port */
#define MFS_KRPC_NODE6_BYTES 38  /* id, IPv6, port */
#define MFS_KRPC_PEER4_BYTES 6   /* compact peer info: IPv4, port */
#define MFS_KRPC_PEER6_BYTES 18
#define MFS_KRPC_MSG_MAX 1500    /* the largest datagram written or read */
/* bencode nodes a datagram can hold, at most: every value takes 2 bytes or more. */
#define MFS_KRPC_ARENA (MFS_KRPC_MSG_MAX / 2 + 1)

enum mfs_krpc_method {
	MFS_KRPC_UNKNOWN = 0, /* a query for a method not below: answer 204 */
	MFS_KRPC_PING,
	MFS_KRPC_FIND_NODE,
	MFS_KRPC_GET_PEERS,
	MFS_KRPC_ANNOUNCE_PEER,
	MFS_KRPC_GET,
	MFS_KRPC_PUT,
};

/* One message. A field a message lacks is NULL (pointers) or 0 (its has_
 * flag, lengths); kind says which part applies: 'q' a query (method and
 * its arguments), 'r' a response, 'e' an error (code and message). */
struct mfs_krpc_msg {
	char kind;
	const uint8_t *tid;
	size_t tid_len;
	const uint8_t *id;              /* the sender's node id (not in errors) */
	/* Queries. */
	int method;                     /* enum mfs_krpc_method */
	const uint8_t *method_name;     /* as sent, for the 204 answer */
	size_t method_name_len;
	const uint8_t *target;          /* find_node, get: 20 bytes */
	const uint8_t *info_hash;       /* get_peers, announce_peer: 20 bytes */
	uint16_t port;                  /* announce_peer */
	int implied_port;               /* announce_peer: use the source port */
	int read_only;                  /* BEP 43 "ro": 1: the sender answers no queries */
	/* Queries and responses. */
	const uint8_t *token;           /* announce_peer, put; get/get_peers answers */
	size_t token_len;
	int has_seq;                    /* get (only newer), put, mutable get answers */
	int64_t seq;
	const uint8_t *v;               /* put, get answers: the bencoded value */
	size_t v_len;
	const uint8_t *k;               /* mutable put and answer: 32-byte key */
	const uint8_t *sig;             /* mutable put and answer: 64 bytes */
	const uint8_t *salt;            /* mutable put */
	size_t salt_len;
	int has_cas;                    /* mutable put */
	int64_t cas;
	/* Responses. */
	const uint8_t *nodes;           /* n * MFS_KRPC_NODE4_BYTES */
	size_t nodes_len;
	const uint8_t *nodes6;          /* n * MFS_KRPC_NODE6_BYTES */
	size_t nodes6_len;
	const struct mfs_bnode *values; /* get_peers: a list of compact peers */
	/* Errors. */
	int64_t error_code;
	const uint8_t *error_msg;
	size_t error_msg_len;
};

/* Parses one datagram buf[len] into *m, using arena[arena_n]
 * (MFS_KRPC_ARENA nodes are enough for any datagram of MFS_KRPC_MSG_MAX).
 * Checks the shape BEP 5 and BEP 44 give: a dictionary with "t" and "y";
 * a query's "q" and "a" with its 20-byte "id" and the arguments its method
 * requires (for a put: a token and a valid value; a mutable put also a
 * 32-byte k, a 64-byte sig, a seq and a salt of at most 64 bytes); a
 * response's "r" with its "id", whole compact node lists, peers of 6 or 18
 * bytes, a valid value; an error's [code, message]. The signature is not
 * checked here (net/dht_item does that). 0, or MFS_E_FORMAT with the
 * reason in why. */
int mfs_krpc_parse(struct mfs_krpc_msg *m, struct mfs_bnode *arena, size_t arena_n,
		   const uint8_t *buf, size_t len, char *why, size_t why_len);

/* Writes m into out[cap] as canonical bencoding: kind 'q' with method and
 * its set arguments, 'r' with its set fields, 'e' with code and message.
 * A field is written when its pointer is set (has_ flags for seq and cas;
 * port and implied_port for announce_peer). 0 with *len; MFS_E_FORMAT for
 * an unknown kind or method, a missing id or tid, or fields of the wrong
 * length; -ENOBUFS when cap is too small. */
int mfs_krpc_encode(uint8_t *out, size_t cap, size_t *len, const struct mfs_krpc_msg *m);

/* A node's contact. family is 4 or 6; ip holds 4 or 16 bytes. */
struct mfs_krpc_node {
	uint8_t id[MFS_KRPC_ID_BYTES];
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
};

/* The i-th node of a compact list of the given family (4: m->nodes, 6:
 * m->nodes6). 0, or -ERANGE when the list holds no i-th node. */
int mfs_krpc_node_at(struct mfs_krpc_node *out, const uint8_t *list, size_t list_len, int family,
		     size_t i);
/* Writes n compactly into out (26 or 38 bytes by n->family); returns the
 * bytes written, or 0 for a family other than 4 or 6. */
size_t mfs_krpc_node_put(uint8_t out[static MFS_KRPC_NODE6_BYTES], const struct mfs_krpc_node *n);

#endif
