/* megafs.h: libmegafs, megafs as a C library. This header is its manual.
 *
 * What it does: opens a megafs store and the volume a password opens (the
 * same store `megafs init` makes and `megafs mount` uses), makes and lists
 * channels, publishes files into channels the volume owns, subscribes to
 * channels, fetches a file or a byte range of a channel's file from peers
 * (found through trackers) and serves the volume's channels to peers. It is
 * the code the megafs command runs, behind a small stable surface; megafs(7)
 * describes the formats and protocols, libmegafs(3) lists this API.
 *
 * Build against it with pkg-config:
 *     cc prog.c $(pkg-config --cflags --libs megafs)
 *
 * Errors: every function that can fail returns 0 or a negative code:
 * either -errno (-ENOMEM, -EINVAL, -ENOENT...) or one of the MEGAFS_E_*
 * codes below, which sit in a reserved block below any errno.
 * megafs_strerror() describes both. A function that fails leaves its
 * outputs untouched unless it says otherwise.
 *
 * Ownership (libuv's rule): the caller owns what the caller allocates
 * (buffers, arrays, strings passed in: the library copies what it keeps
 * and keeps no pointer you gave it after a call returns, except where a
 * function says so). Handles (megafs, megafs_server) are opaque: the
 * library allocates them in their open/start call and frees them in their
 * close/stop call.
 *
 * Threads: calls on one megafs handle must not overlap (use it from one
 * thread at a time, or hold a lock of your own around it); distinct handles
 * (of the same store or not) may be used from distinct threads at once. A
 * server runs on threads of its own while the handle that started it is
 * used for other calls. Callbacks run on the calling thread, inside the
 * call that takes them, and must not call the library on the same handle.
 *
 * Signals: the library installs no signal handler. A process that uses
 * the network (fetch, serve) should ignore SIGPIPE (signal(SIGPIPE,
 * SIG_IGN)), as libuv asks: a peer that resets a connection would
 * otherwise end the process. (Python ignores it already.)
 *
 * Secrets: passwords are bytes with a length, never kept past the call
 * (wipe your copy when done). A private channel's full link carries its
 * read key: treat it as a secret. Plaintext never reaches the store's disk;
 * a fetched file is written where you ask, in the clear, by design. */
#ifndef MEGAFS_H
#define MEGAFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MEGAFS_API __attribute__((visibility("default")))
#else
#define MEGAFS_API
#endif

/* The library's version, as the megafs command's (`megafs --version`). */
#define MEGAFS_VERSION_MAJOR 0
#define MEGAFS_VERSION_MINOR 1
#define MEGAFS_VERSION_PATCH 0

/* megafs's own error codes (the rest are -errno). */
#define MEGAFS_E_AUTH (-39999)        /* authentication failed (a blob, a manifest) */
#define MEGAFS_E_BADPASS (-39998)     /* no volume in the store opens with the password */
#define MEGAFS_E_CORRUPT (-39997)     /* stored data is damaged */
#define MEGAFS_E_FORMAT (-39996)      /* malformed input (a link, a path, a name) */
#define MEGAFS_E_NOTCANON (-39995)    /* a signed manifest is not canonical JSON */
#define MEGAFS_E_REPLAY (-39994)      /* a manifest not newer than the one held */
#define MEGAFS_E_FULL (-39993)        /* the store has no free slots left */
#define MEGAFS_E_NOSTORE (-39992)     /* no megafs store at that path (megafs init) */
#define MEGAFS_E_EXISTS (-39991)      /* already exists (a subscription) */
#define MEGAFS_E_NOTFOUND (-39990)    /* no such channel, file or blob */
#define MEGAFS_E_TRUNCATED (-39989)   /* the store file is shorter than its header says */
#define MEGAFS_E_LMDB (-39988)        /* an LMDB failure with no better code */
#define MEGAFS_E_OLDSTORE (-39987)    /* a store of an older format, not read */
#define MEGAFS_E_OVERWRITTEN (-39986) /* another volume's writes took this one's place */
#define MEGAFS_E_NOKEY (-39985)       /* a private channel no key of this volume opens */

/* The version as a string ("0.1.0"); major, minor, patch (each may be
 * NULL) receive its numbers. Static storage; any thread. */
MEGAFS_API const char *megafs_version(int *major, int *minor, int *patch);

/* A static, human-readable description of err: 0, a -errno or a
 * MEGAFS_E_* code ("unknown error" for anything else). Any thread. */
MEGAFS_API const char *megafs_strerror(int err);

/* ---- A store and its volume ---- */

typedef struct megafs megafs;

/* Opens the store in directory store_dir (made by `megafs init`) and the
 * volume password[0..password_len) opens (any bytes; not NUL-terminated;
 * not kept). Deriving the key takes the store's Argon2id cost: about a
 * second with the default settings. *out receives the handle (close it with
 * megafs_close).
 * Errors: -EINVAL (a NULL argument, an empty password), MEGAFS_E_NOSTORE,
 * MEGAFS_E_BADPASS (no volume opens with the password), MEGAFS_E_OLDSTORE,
 * MEGAFS_E_TRUNCATED, MEGAFS_E_CORRUPT, -ENOMEM, -errno of the files. */
MEGAFS_API int megafs_open(megafs **out, const char *store_dir, const void *password,
			   size_t password_len);

/* Closes the volume (its keys are wiped) and the store, and frees m.
 * 0; -EBUSY when a server of m still runs (nothing is closed: stop it
 * first). NULL: 0. */
MEGAFS_API int megafs_close(megafs *m);

/* ---- Channels ---- */

/* Bytes a link takes, with its NUL: "megafs://" + 64 hex digits, and for a
 * private channel "#" + the read key's 64 hex digits. */
#define MEGAFS_LINK_MAX 140
#define MEGAFS_TITLE_MAX 256 /* a title's bytes with its NUL */

/* Makes a new channel the volume owns, titled title (at most 255 bytes),
 * public (is_private 0) or private (1: its manifests are sealed for its
 * read key and the volume keys it grants). link[MEGAFS_LINK_MAX] receives
 * its link as its owner hands it out: with the read key for a private one
 * (a secret: anyone with it reads the channel).
 * Errors: -EINVAL (NULL argument), -ENAMETOOLONG (title), MEGAFS_E_FULL,
 * MEGAFS_E_OVERWRITTEN, -ENOMEM, the store's. */
MEGAFS_API int megafs_channel_create(megafs *m, const char *title, int is_private,
				     char link[MEGAFS_LINK_MAX]);

/* One channel the volume knows. */
struct megafs_channel_info {
	char link[MEGAFS_LINK_MAX];    /* the public link: never the read key */
	char title[MEGAFS_TITLE_MAX];
	int owned;                     /* 1: the volume owns it (it may publish) */
	int is_private;                /* 1: its manifests are sealed */
	uint64_t sequence;             /* its newest manifest's sequence; 0: none yet */
};

/* The channels the volume knows, owned and subscribed, in the order the
 * volume keeps them. *count receives how many there are; the first
 * min(count, cap) are written to out[] (out may be NULL when cap is 0:
 * ask the count first). -ERANGE when cap < *count (out[0..cap) written),
 * -EINVAL (NULL m or count, or out NULL with cap > 0), the store's. */
MEGAFS_API int megafs_channel_list(megafs *m, struct megafs_channel_info *out, size_t cap,
				   size_t *count);

/* Subscribes to the channel of link ("megafs://<64 hex>", then
 * "#<read key>" or "#grant" for a private channel), titled title (NULL:
 * none). A link with a read key for a channel already known keeps the new
 * key (its owner rotated it). 0; MEGAFS_E_EXISTS when the volume knows the
 * channel already and the link adds nothing; MEGAFS_E_FORMAT (not a
 * link), -ENAMETOOLONG (title), -EINVAL (NULL m or link), the store's. */
MEGAFS_API int megafs_subscribe(megafs *m, const char *link, const char *title);

/* Publishes a file into channel link (owned by the volume) at path
 * ("dir/sub/name": directories are made as needed; a file already at that
 * path is replaced), its bytes read from local_path: the file is
 * encrypted into blobs the volume pins, and the next manifest is signed and
 * stored in one transaction (nothing changes when it fails). A server of m
 * that runs (megafs_serve_start) sends the new manifest to its trackers.
 * *sequence (may be NULL) receives the manifest's sequence.
 * Errors: -EINVAL (NULL argument), MEGAFS_E_FORMAT (link, or path: empty
 * names, "." or "..", a slash at either end), MEGAFS_E_NOTFOUND (the
 * volume does not know the channel), -EPERM (it does not own it), -EISDIR
 * (a directory is at path), -EEXIST (a file is on the way), -errno of
 * local_path (-ENOENT...), MEGAFS_E_FULL (the store has no room),
 * MEGAFS_E_OVERWRITTEN, -ENOMEM. */
MEGAFS_API int megafs_publish_file(megafs *m, const char *link, const char *path,
				   const char *local_path, uint64_t *sequence);
/* The same with the bytes buf[0..len) (buf may be NULL when len is 0). */
MEGAFS_API int megafs_publish_buffer(megafs *m, const char *link, const char *path,
				     const void *buf, size_t len, uint64_t *sequence);

/* ---- The network ---- */

/* Where to find a channel's manifests and peers, and where to serve. Each
 * array is the caller's, read during the call only (the start of a server
 * included). Trackers and peers that worked are remembered in the volume
 * per channel and used again by later calls (and by megafs mount, serve,
 * fetch), so they need to be given once. */
struct megafs_net_options {
	const char *const *trackers;   /* URLs: wss://HOST:PORT[/PATH][#sha256=PIN] or ws://... */
	size_t tracker_count;
	const char *const *peers;      /* "HOST:PORT" or "HOST:PORT#NODEKEY" */
	size_t peer_count;
	const char *listen;            /* serve only: "HOST:PORT" (PORT 0: any; NULL: 0.0.0.0:0) */
	unsigned timeout_ms;           /* fetch only: waiting for a manifest; 0: 30 s */
	/* One line about the network (no content, no blob id); on the
	 * library's threads; may be NULL (nothing is said). */
	void (*log)(void *user, const char *line);
	void *log_user;
};

/* Told how a fetch goes: done of total bytes delivered (total: the file's
 * size, or the range's length). Called on the fetching thread after each
 * piece (about 1 MiB; the last call has done == total; an empty file or
 * range gets one call, 0 of 0); a nonzero return cancels the fetch, which
 * then returns -ECANCELED. */
typedef int (*megafs_progress_cb)(uint64_t done, uint64_t total, void *user);

/* Fetches the file at path of channel link into local_path (written beside
 * it as local_path".part" and renamed when whole: a failed fetch leaves no
 * partial file under either name; a local_path that is a device or a FIFO
 * is written where it is). With net (trackers or peers given, or
 * remembered by the volume), the channel is subscribed to when unknown
 * (the link's read key kept), its newest manifest is awaited from the
 * trackers and blobs missing from the volume come from peers, checked
 * against their ids. With net NULL, or nothing given nor remembered, only
 * what the volume holds is read. progress (may be NULL) is told with user.
 * Errors: -EINVAL (NULL argument, a listen address in net), MEGAFS_E_FORMAT
 * (link), MEGAFS_E_NOTFOUND (the channel unknown with no network, no such
 * file, or a blob no peer delivered), MEGAFS_E_NOKEY (a private channel no
 * key opens), -ETIMEDOUT (no manifest came, or no peer answered in time),
 * -ECANCELED (progress said stop), MEGAFS_E_AUTH (a chunk that does not open
 * with its key), -errno of local_path (-ENOSPC...), -ENOMEM. */
MEGAFS_API int megafs_fetch_file(megafs *m, const char *link, const char *path,
				 const char *local_path, const struct megafs_net_options *net,
				 megafs_progress_cb progress, void *user);

/* Fetches bytes [offset, offset + len) of the file at path of channel link
 * into buf[0..len), as megafs_fetch_file fetches (only the chunks the range
 * touches are fetched). *file_size (may be NULL) receives the file's size
 * once it is known, also with -ERANGE; len 0 asks only for that.
 * Errors: those of megafs_fetch_file (buf takes local_path's place: -EINVAL
 * when it is NULL with len > 0), and -ERANGE when the range does not lie in
 * the file (offset + len > size): nothing is read then. */
MEGAFS_API int megafs_fetch_range(megafs *m, const char *link, const char *path,
				  uint64_t offset, void *buf, size_t len,
				  const struct megafs_net_options *net, megafs_progress_cb progress,
				  void *user, uint64_t *file_size);

/* ---- Serving ---- */

typedef struct megafs_server megafs_server;

/* Serves the blobs of every channel the volume knows to peers, on
 * net->listen, announcing this node to the trackers given or remembered
 * for each channel, and sends the manifests of the owned ones to them (as
 * `megafs serve` does). Runs on threads of its own until megafs_serve_stop;
 * m must stay open meanwhile (megafs_close says -EBUSY). *out receives the
 * server. At most one server per handle.
 * Errors: -EINVAL (NULL m or out, a bad tracker URL or peer address),
 * -EBUSY (m serves already), -EADDRINUSE and other -errno of the listen
 * address, -ENOMEM, the store's. */
MEGAFS_API int megafs_serve_start(megafs *m, const struct megafs_net_options *net,
				  megafs_server **out);
/* The TCP port the server listens on (the one chosen for port 0). */
MEGAFS_API uint16_t megafs_serve_port(const megafs_server *s);
/* The server's node key (the NODEKEY peers may give after '#'), as 64 hex
 * digits and a NUL into key_hex. */
MEGAFS_API void megafs_serve_node_key(const megafs_server *s, char key_hex[65]);
/* Remembers the trackers and peers that worked, closes every connection
 * and frees s. NULL-safe. */
MEGAFS_API void megafs_serve_stop(megafs_server *s);

#ifdef __cplusplus
}
#endif

#endif
