/* peer: one encrypted, authenticated peer-wire connection on a libuv loop.
 *
 * A connection is TCP (dialled straight or through a SOCKS5 proxy: net/dial),
 * plain or dressed as HTTPS (net/peer_link, net/tls_link), carrying Noise
 * messages, each prefixed by its length (u16 big-endian), as the Noise
 * specification suggests for streams:
 *
 *   1. the Noise_XX_25519_ChaChaPoly_BLAKE2b handshake (crypto/noise) with
 *      the prologue MFS_PEER_PROLOGUE and empty payloads; each side proves
 *      its node's static key; the initiator refuses a responder whose key
 *      is not the one it expected (when it expected one);
 *   2. transport messages whose plaintexts, concatenated, are the stream of
 *      net/wire messages: first HANDSHAKE (initiator) and HANDSHAKE_ACK
 *      (responder), then anything else.
 *
 * The connection is ready once both hellos are through (the ready callback);
 * before that no other message is accepted. Anything wrong from the peer
 * (a frame that does not decrypt, a malformed or oversized message, a
 * message out of turn, a handshake or idle timeout) closes the connection
 * with a reason; the closed callback tells the owner, once, and the peer is
 * freed after it returns. Closing is asynchronous: after mfs_peer_close no
 * callback but closed comes.
 *
 * Memory is bounded: one incoming Noise message (64 KiB), one incoming
 * wire message at a time and the outgoing queue, whose size the owner
 * watches (mfs_peer_memory) to apply backpressure. A message's head is
 * checked before its body is allocated: its length against its type
 * (net/wire), its type against the connection's state (before ready, only
 * the hello expected, or ERROR from a responder; after, no hello, and
 * whatever the owner's admit callback refuses), so a RESPONSE head of
 * 16 MiB before the hello costs nothing and closes the connection as
 * malformed. Bodies larger than 64 bytes and every queued message are
 * charged to the owner's budget (mfs_peer_config.budget), shared by its
 * connections: a body that does not fit closes the connection with ERROR
 * BUSY (reason -ENOBUFS) before it is allocated; output is always queued
 * (the owner checks the budget before it creates work).
 *
 * Threads: everything here runs on the loop's thread only. The process
 * must ignore SIGPIPE: libuv writes with write(2), and a peer that resets
 * the connection would otherwise kill it. */
#ifndef MFS_PEER_H
#define MFS_PEER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "crypto/noise.h"
#include "net/socks5.h"
#include "net/wire.h"

#define MFS_PEER_PROLOGUE "megafs peer wire 1"

struct mfs_peer;
struct mfs_tls_link_ctx;

/* Memory shared by connections (one node's): bytes of incoming bodies
 * being reassembled and of queued output. Fields are read and changed with
 * atomic operations: any thread may charge (e.g. a thread-pool job holding
 * an answer) or read them. */
struct mfs_peer_budget {
	size_t limit;          /* 0: no limit (counted only) */
	size_t used;
	size_t peak;           /* the most used at once */
	uint64_t refused;      /* bodies refused for want of room */
};

/* Adds n bytes whatever the limit (used for memory already taken). */
void mfs_peer_budget_charge(struct mfs_peer_budget *b, size_t n);
/* Adds n bytes if they fit under the limit: 0, or -ENOBUFS (refused counted). */
int mfs_peer_budget_try(struct mfs_peer_budget *b, size_t n);
void mfs_peer_budget_release(struct mfs_peer_budget *b, size_t n);
size_t mfs_peer_budget_used(const struct mfs_peer_budget *b);

struct mfs_peer_callbacks {
	/* Both hellos are through; mfs_peer_remote_key and mfs_peer_hello work. */
	void (*ready)(struct mfs_peer *p, void *ctx);
	/* A message other than the hellos; m borrows buffers valid during the
	 * call only. The callback may send, or close p. */
	void (*message)(struct mfs_peer *p, const struct mfs_wire_msg *m, void *ctx);
	/* The output queue fell below half of MFS_PEER_QUEUE_SOFT, or below
	 * the mark of mfs_peer_drained_below (may be NULL). */
	void (*drained)(struct mfs_peer *p, void *ctx);
	/* The connection is gone: reason 0 when closed by the owner or cleanly
	 * by the peer, else a negative error (MFS_E_AUTH: handshake or frame
	 * failed to authenticate or wrong key; MFS_E_FORMAT: malformed;
	 * -EPROTONOSUPPORT: the other side's wire version; -ETIMEDOUT;
	 * -ECONNRESET, also for a stream that ends before ready or inside a
	 * message; -ECONNREFUSED...). With mfs_peer_close, the reason given
	 * there. p is freed after this. */
	void (*closed)(struct mfs_peer *p, int reason, void *ctx);
	/* Optional. After ready, asked at each message's head, before its body
	 * is allocated: 0 admits it; an error closes the connection with that
	 * reason (MFS_E_FORMAT: ERROR(PROTOCOL) first, as malformed). */
	int (*admit)(struct mfs_peer *p, enum mfs_wire_type type, size_t body_len, void *ctx);
};

struct mfs_peer_config {
	/* This node's Noise static private key (borrowed; keep it alive and in
	 * guarded memory while connections use it). */
	const uint8_t *static_sk;
	uint16_t listen_port;          /* told to the peer in the hello */
	uint16_t max_requests;         /* told to the peer in the hello */
	unsigned handshake_timeout_ms; /* 0: 10 s */
	unsigned idle_timeout_ms;      /* no byte received for this long; 0: none */
	struct mfs_peer_budget *budget; /* shared, outlives the peer; NULL: none */
	const struct sockaddr *bind_addr; /* mfs_peer_connect dials from it; NULL: any */
	/* mfs_peer_connect dials through this SOCKS5 proxy (net/dial), under
	 * the handshake timeout; NULL: straight. Borrowed, outlives the peer. */
	const struct mfs_socks5_proxy *proxy;
	/* Both ends speak the tls transport (net/tls_link: TLS 1.3 and a
	 * WebSocket, like a web page) instead of plain TCP; NULL: plain.
	 * Borrowed, outlives the peer. Over tls an initiator must know the
	 * responder's key (expected_pk): the upgrade's path comes from it. */
	const struct mfs_tls_link_ctx *tls;
};

/* Soft limit on queued output: the owner should stop queueing above it. */
#define MFS_PEER_QUEUE_SOFT (4u << 20)

/* Dials addr. expected_pk: the responder's static key, or NULL for any
 * (the initiator then learns it from the handshake). ctx goes to every
 * callback. Returns 0 (the outcome comes through callbacks) or -errno. */
int mfs_peer_connect(struct mfs_peer **out, uv_loop_t *loop, const struct sockaddr *addr,
		     const uint8_t *expected_pk, const struct mfs_peer_config *config,
		     const struct mfs_peer_callbacks *cb, void *ctx);
/* Accepts one pending connection of server (in its connection callback)
 * as the responder. Returns 0 or -errno. */
int mfs_peer_accept(struct mfs_peer **out, uv_stream_t *server,
		    const struct mfs_peer_config *config, const struct mfs_peer_callbacks *cb,
		    void *ctx);

/* Queues a message (encrypted at once; m's buffers may be reused on
 * return). 0; -ENOTCONN before ready or after close; MFS_E_FORMAT when m
 * breaks a wire rule or is a hello (those are this module's); -ENOMEM. */
int mfs_peer_send(struct mfs_peer *p, const struct mfs_wire_msg *m);
/* Memory queued and not yet written to the socket: the bytes and each
 * queued message's head (as the budget counts them). */
size_t mfs_peer_queued(const struct mfs_peer *p);
/* The drained callback comes once, when a write ends with fewer than mark
 * bytes queued (call it with bytes queued: the end of their write tells). */
void mfs_peer_drained_below(struct mfs_peer *p, size_t mark);
/* Bytes handed to the kernel and not yet acknowledged by the far end (0
 * when not known): on a slow link, megabytes still on their way. */
size_t mfs_peer_kernel_backlog(const struct mfs_peer *p);
/* What TCP says of the bytes sent on the connection's socket (to the
 * peer, or to the proxy in between): net/tcpopt's mfs_tcp_acked. 0, or
 * -ENOTCONN before the link is open, or -errno. */
int mfs_peer_acked(const struct mfs_peer *p, uint64_t *acked, uint32_t *unacked);
/* Everything the connection holds: the queue, the body being received and
 * the receive buffer. */
size_t mfs_peer_memory(const struct mfs_peer *p);
/* Sends ERROR(code, why) first when why is not NULL (best effort: why is
 * cut to MFS_WIRE_MAX_TEXT bytes; text that is not UTF-8 is not sent), then
 * closes; the closed callback follows with reason. Once the Noise handshake
 * is done, what is queued is written first, then the write side is shut
 * and the peer's end of stream awaited, 2 s at most; before that, the
 * socket just closes. Safe to call twice. */
void mfs_peer_close(struct mfs_peer *p, int reason, uint16_t code, const char *why);

/* Closes at once, dropping what is queued (its memory is freed when the
 * socket is, on the next loop turn): for a peer that does not read, to
 * which a graceful close would linger. The closed callback follows with
 * reason. Safe after mfs_peer_close. */
void mfs_peer_abort(struct mfs_peer *p, int reason);

/* The peer's static key (valid after ready). */
const uint8_t *mfs_peer_remote_key(const struct mfs_peer *p);
/* The peer's hello (valid after ready). */
const struct mfs_wire_hello *mfs_peer_hello(const struct mfs_peer *p);
/* The remote address of the socket. 0 or -errno. */
int mfs_peer_remote_addr(const struct mfs_peer *p, struct sockaddr_storage *out);
/* Why the dial failed (net/dial's sentence: "the proxy refused the user
 * name and password..."), in the closed callback; NULL when it did not. */
const char *mfs_peer_dial_why(const struct mfs_peer *p);
/* 1 when the dial was answered with a refusal (the socket's error, or a
 * proxy's: it refused the connection or answered CONNECT with an error),
 * 0 otherwise (it connected, or the handshake deadline cut it short). */
int mfs_peer_dial_refused(const struct mfs_peer *p);
/* 1 when this side dialled. */
int mfs_peer_is_initiator(const struct mfs_peer *p);

/* Bytes read from the socket so far, counted as they come (a message
 * only half received counts its half): how a slow link shows progress. */
uint64_t mfs_peer_read_bytes(const struct mfs_peer *p);
/* Traffic counters (plaintext bytes of wire messages), for stats. */
void mfs_peer_counters(const struct mfs_peer *p, uint64_t *sent, uint64_t *received);

#endif
