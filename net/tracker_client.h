/* tracker_client: one node's connection to one tracker (net/tracker_proto.h)
 * over WebSocket, on the caller's libuv loop.
 *
 * The client remembers what it was asked (the keys to subscribe to, the
 * keys to announce, the manifests to publish) and keeps the tracker told:
 * it connects at once, reconnects with capped exponential backoff (250 ms
 * doubling to 10 s, with jitter) while the tracker is away, and after
 * every connect subscribes, announces and sends the publishes not yet
 * answered again. Announces are repeated every interval the tracker asks
 * for. A publish is sent until the tracker accepted it ("published") or
 * refused it ("error"); either way the published callback says so.
 *
 * A message from the tracker larger than MFS_TRACKER_MESSAGE_MAX closes the
 * connection as it arrives (at most that much is ever buffered); a
 * malformed one, or one over the parser's counts (net/tracker_proto.h),
 * is reported through the error callback and skipped.
 *
 * wss:// speaks TLS 1.3 (net/tls): the tracker's certificate is checked
 * against the pin in the URL's fragment (wss://HOST/#sha256=...) when it
 * has one, else against the system's CAs and the URL's host. A fragment
 * with front=NAME (wss://HOST/#front=NAME&sha256=..., domain fronting)
 * dials NAME, sends NAME as the SNI and checks the certificate for it,
 * while HOST goes only in the Host header. A refused
 * certificate, like any failed connect, is reported through the error
 * callback once (again only when the reason changes or after a connect),
 * and dialled again with the backoff; ws:// is plain text on the path.
 *
 * Names are resolved asynchronously (uv_getaddrinfo), except through a
 * SOCKS5 proxy (mfs_tracker_client_new_via): then lws connects to a
 * net/tunnel of the client's, which dials the tracker's host name or
 * address through the proxy (the proxy resolves a name: no DNS, no UDP,
 * no connection but to the proxy leaves this process), and TLS runs inside
 * the tunnel with the same SNI and the same pin or CA check. Every client owns
 * one lws context, so several clients (one per tracker URL) and a tracker
 * server can share a loop. (lws 4.1 keeps one OpenSSL index per process
 * and takes a new one at each TLS context's creation; the check here does
 * not use it, so creating clients while others shake hands is safe.)
 *
 * Threads: every function and every callback on the loop's thread.
 * Callbacks may call any function here, mfs_tracker_client_free included
 * (no callback comes after it). Pointers passed to callbacks are valid
 * during the call only. */
#ifndef MFS_TRACKER_CLIENT_H
#define MFS_TRACKER_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/socks5.h"
#include "net/tracker_proto.h"

struct mfs_tracker_client;

struct mfs_tracker_client_callbacks {
	/* A manifest the tracker pushed for a subscribed key, re-encoded
	 * canonically (NUL-terminated, at most MFS_TRACKER_MANIFEST_MAX
	 * bytes), with the publicKey and sequence it claims; not verified:
	 * the caller verifies. */
	void (*manifest)(void *ctx, const uint8_t key[MFS_TRACKER_KEY_BYTES], uint64_t sequence,
			 const char *canonical_json, size_t len);
	/* The tracker's answer to an announce of key: other peers (n may be 0). */
	void (*peers)(void *ctx, const uint8_t key[MFS_TRACKER_KEY_BYTES],
		      const struct mfs_tracker_peer *peers, size_t n);
	/* Optional. The fate of a publish: err 0 (accepted), or the tracker's
	 * refusal: MFS_E_AUTH, MFS_E_REPLAY, MFS_E_FORMAT, -EPERM (a limit),
	 * -EIO, -EPROTO, with its reason. */
	void (*published)(void *ctx, const uint8_t key[MFS_TRACKER_KEY_BYTES], uint64_t sequence,
			  int err, const char *reason);
	/* Optional. up 1: connected (subscriptions and announces are on their
	 * way); 0: the connection is gone (a reconnect is scheduled). */
	void (*connected)(void *ctx, int up);
	/* Optional. Any other refusal (a subscribe or announce over a limit),
	 * a malformed message from the tracker, or why a connect failed (a
	 * certificate refused says why and what to do), in one line. */
	void (*error)(void *ctx, const char *reason);
	/* Optional; through a proxy only. refused 1: the proxy refused the
	 * last 4 connects in a row (its port closed, the credentials refused,
	 * a SOCKS5 error for the tracker: the backoff's first 4 tries, about
	 * 1.5 s); 0: a connect made it after that. Dialling goes on either way. */
	void (*proxy_refused)(void *ctx, int refused);
};

/* url: ws://HOST[:PORT][/PATH] (port 80 by default) or
 * wss://HOST[:PORT][/PATH][#sha256=PIN] (port 443; the pin as net/tls.h
 * reads it). cb is copied (manifest and peers are required); ctx goes to
 * every callback. Returns 0 (connecting starts at once), -EINVAL (not such
 * a URL, a pin on ws:// or malformed, or a required callback missing),
 * -EPROTONOSUPPORT (another scheme), -ENOMEM, -EIO (OpenSSL refused).
 * Note: lws makes the process ignore SIGPIPE. */
int mfs_tracker_client_new(struct mfs_tracker_client **out, uv_loop_t *loop, const char *url,
			   const struct mfs_tracker_client_callbacks *cb, void *ctx);
/* The same, every connection through proxy (borrowed: it must outlive the
 * client; NULL: straight). A dial the proxy fails is reported through the
 * error callback ("cannot connect through the proxy: ..."). Also -errno
 * when the tunnel's socket cannot be made. */
int mfs_tracker_client_new_via(struct mfs_tracker_client **out, uv_loop_t *loop, const char *url,
			       const struct mfs_socks5_proxy *proxy,
			       const struct mfs_tracker_client_callbacks *cb, void *ctx);

/* 0 when url is a tracker URL mfs_tracker_client_new takes, else its
 * error (-EINVAL, -EPROTONOSUPPORT). */
int mfs_tracker_url_check(const char *url);

/* Subscribes to key (again after every reconnect). Twice is harmless.
 * 0 or -ENOMEM. */
int mfs_tracker_client_subscribe(struct mfs_tracker_client *c,
				 const uint8_t key[static MFS_TRACKER_KEY_BYTES]);

/* Announces that this node (node_pk: its Noise static public key) serves
 * key on port (0: only ask for peers), now, after every reconnect and
 * every interval the tracker asked for. Announcing a key again replaces
 * its port and node key. 0 or -ENOMEM. */
int mfs_tracker_client_announce(struct mfs_tracker_client *c,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES], uint16_t port,
				const uint8_t node_pk[static MFS_TRACKER_KEY_BYTES]);
/* Stops announcing key (tells the tracker "stopped" when connected). */
void mfs_tracker_client_unannounce(struct mfs_tracker_client *c,
				   const uint8_t key[static MFS_TRACKER_KEY_BYTES]);

/* Publishes a signed manifest (its canonical JSON, copied). Only its form
 * is checked here (a canonical JSON object with publicKey and sequence);
 * the tracker verifies it. A newer publish of the same key replaces one
 * not yet answered. 0, MFS_E_FORMAT, MFS_E_NOTCANON, -EMSGSIZE (larger
 * than MFS_TRACKER_MANIFEST_MAX: no tracker would take it) or -ENOMEM. */
int mfs_tracker_client_publish(struct mfs_tracker_client *c, const char *canonical_json,
			       size_t len);

/* 1 while connected to the tracker. */
int mfs_tracker_client_is_connected(const struct mfs_tracker_client *c);
/* The tracker's address, while connected (in a callback, the address of
 * the tracker that sent it): 0, -ENOTCONN or -errno. Through a proxy, the
 * URL's address literal; -EADDRNOTAVAIL when the URL names a host (the
 * proxy resolved it). */
int mfs_tracker_client_remote(const struct mfs_tracker_client *c, struct sockaddr_storage *out);

/* Closes the connection and frees the client once its handles are closed
 * (the loop must run on). No callback comes after the call. NULL-safe. */
void mfs_tracker_client_free(struct mfs_tracker_client *c);

#endif
