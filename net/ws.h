/* ws: libwebsockets (4.1) on the caller's libuv loop.
 *
 * Each tracker server and client owns one lws context, created here on the
 * caller's uv loop (a "foreign" loop to lws: lws adds its own handles to
 * it and never runs or stops it). Such a context cannot be freed at once:
 * its uv handles close asynchronously, and lws may free the context only
 * after the last close callback ran, which lws 4.1 leaves to its user.
 * mfs_ws_stop does that on the loop: it starts the close, waits until no
 * handle of the context is left on the loop (checking every few ms),
 * frees the context, and then calls the owner's done callback; until then
 * lws may still call the owner's protocol callback (closing connections),
 * so the owner frees its state only in done.
 *
 * It also works around an lws 4.1 bug: the context's cancel eventfd is
 * closed twice when the context is destroyed, once at once and once in a
 * close callback a loop iteration later, which would close whatever
 * descriptor took that number in between (another client's new socket).
 * The number is held by a /dev/null placeholder until lws closes it again.
 *
 * lws logs only errors, to stderr, as "megafs: tracker: <message>".
 *
 * Threads: everything on the loop's thread. */
#ifndef MFS_WS_H
#define MFS_WS_H

#include <libwebsockets.h>
#include <uv.h>

/* Embedded in its owner. */
struct mfs_ws {
	struct lws_context *context;  /* NULL when start failed */
	uv_loop_t *loop;
	int event_fd;                 /* lws's cancel eventfd, or -1 if unknown */
	uv_timer_t reaper;
	void (*done)(void *arg);
	void *arg;
	int destroy_called;
};

/* Creates ws->context on loop from info (protocols, vhost settings, user);
 * adds the libuv options (and UTF-8 checks of text messages) and the
 * foreign loop. 0, or -ENOMEM when lws fails (it says why on stderr). */
int mfs_ws_start(struct mfs_ws *ws, uv_loop_t *loop, struct lws_context_creation_info *info);

/* Tears the context down; done(arg) runs later on the loop, never from
 * inside this call, once the context is freed and ws may be freed. Safe
 * from outside any lws callback and from inside one. */
void mfs_ws_stop(struct mfs_ws *ws, void (*done)(void *arg), void *arg);

/* Payload bytes per lws_write and per receive buffer. */
#define MFS_WS_FRAGMENT_BYTES 16384

/* Writes the next fragment of text message data[len], *sent bytes of which
 * are out already, through scratch (LWS_PRE + MFS_WS_FRAGMENT_BYTES bytes).
 * Advances *sent; returns 1 when the whole message is out, 0 when more
 * remains, -1 when the write failed (the connection must close). */
int mfs_ws_write_fragment(struct lws *wsi, unsigned char *scratch, const char *data, size_t len,
			  size_t *sent);

/* A text message arriving in fragments, held until it is whole: the one
 * receive buffer of the tracker's client and server. Embedded in its owner,
 * zeroed to begin; it holds at most the max its caller gives, counted
 * before anything is stored, and gives back memory it grew past
 * MFS_WS_RX_KEEP_BYTES once a message is handled, so an idle connection
 * holds little. Not thread safe: the loop's thread. */
struct mfs_ws_rx {
	char *buf;                    /* malloc'ed; NULL until a byte came */
	size_t len, cap;
};

#define MFS_WS_RX_KEEP_BYTES 65536

/* Adds fragment in[len] of a text message. remaining is what is left of
 * its frame (lws_remaining_packet_payload), final whether it ends the
 * message (lws_is_final_fragment). Returns 1 when the message is whole:
 * rx->buf holds its rx->len bytes until mfs_ws_rx_done; 0 when more is to
 * come; -EMSGSIZE when the message would pass max bytes (nothing of it is
 * kept); -ENOMEM (likewise). */
int mfs_ws_rx_add(struct mfs_ws_rx *rx, const void *in, size_t len, size_t remaining, int final,
		  size_t max);

/* Empties rx after a whole message, or drops the part of one (a
 * connection lost): frees a buffer grown past MFS_WS_RX_KEEP_BYTES. */
void mfs_ws_rx_done(struct mfs_ws_rx *rx);

/* Frees rx's memory; rx is empty after. */
void mfs_ws_rx_clear(struct mfs_ws_rx *rx);

/* A text message to send, shared by every queue it is on (a manifest
 * pushed to many subscribers is held once). */
struct mfs_ws_msg {
	size_t refs;
	size_t len;
	char *data;                   /* malloc'ed, freed with the last reference */
};

/* Makes a message of text[len], taking text (freed on failure too), with
 * one reference for the caller. NULL when out of memory. */
struct mfs_ws_msg *mfs_ws_msg_new(char *text, size_t len);

/* Drops a reference; the last frees the message. NULL is fine. */
void mfs_ws_msg_unref(struct mfs_ws_msg *m);

/* One connection's outgoing messages, written a fragment per writeable
 * callback: the one send queue of the tracker's client and server.
 * Embedded in its owner, zeroed to begin. queued counts the bytes not yet
 * written, the head's unwritten part included. Not thread safe: the
 * loop's thread. */
struct mfs_ws_tx_item;
struct mfs_ws_tx {
	struct mfs_ws_tx_item *head, *tail;
	size_t head_sent;             /* bytes of the head already written */
	size_t queued;
};

/* Adds m (taking a reference of its own) to the end of tx, unless tx
 * would then hold more than max bytes. 0; -ENOBUFS when it would (nothing
 * is added: a peer that does not read what it is sent is the caller's to
 * drop); -ENOMEM. */
int mfs_ws_tx_push(struct mfs_ws_tx *tx, struct mfs_ws_msg *m, size_t max);

/* Writes the next fragment of tx's head to wsi through scratch (as
 * mfs_ws_write_fragment), dropping the head once it is out. 1 when more
 * is queued (ask for another writeable callback), 0 when tx is empty, -1
 * when the write failed (the connection must close). */
int mfs_ws_tx_write(struct mfs_ws_tx *tx, struct lws *wsi, unsigned char *scratch);

/* Drops everything queued; tx is empty after. */
void mfs_ws_tx_clear(struct mfs_ws_tx *tx);

/* The numeric form of an AF_INET(6) address, "127.0.0.1" for
 * ::ffff:127.0.0.1, into out[INET6_ADDRSTRLEN]. 0 or -EAFNOSUPPORT. */
int mfs_ws_numeric_host(char *out, size_t out_len, const struct sockaddr *sa);

#endif
