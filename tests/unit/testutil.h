/* testutil: shared helpers for the criterion unit tests: temporary stores
 * with fast Argon2id limits, random buffers, and a directory remover. */
#ifndef MFS_TESTUTIL_H
#define MFS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <uv.h>

#include "net/peer.h"

#include "crypto/sign.h"
#include "fs/blob/volume_io.h"
#include "fs/store/store.h"
#include "fs/store/volume.h"

struct mfs_fs;

/* Makes a fresh temporary directory and returns its path (static storage
 * per call site is not needed: the caller frees with free()). */
char *tu_tempdir(void);
void tu_rmtree(const char *dir);
/* Creates a store of slot_count slots with "fast" KDF limits in a new temp
 * dir; *dir is malloc'ed. */
void tu_store(char **dir, uint64_t slot_count);
/* Creates a volume with password pw (protecting protect_pw when not NULL)
 * and opens it. */
struct mfs_volume *tu_volume(struct mfs_store *s, const char *pw, const char *protect_pw);
/* A store of slot_count slots with a volume opened by "pw", for suites that
 * need one fixture; tu_fixture_close removes it all. */
struct tu_fixture {
	char *dir;
	struct mfs_store *store;
	struct mfs_volume *vol;
};
void tu_fixture_open(struct tu_fixture *f, uint64_t slot_count);
void tu_fixture_close(struct tu_fixture *f);
/* A new channel owned by v ("pw"'s volume of a fixture); pk receives it. */
void tu_channel_new(struct mfs_volume *v, uint8_t pk[static MFS_SIGN_PK_BYTES]);
/* A mount of channel pk over f's store and volume (borrowed) with no
 * kernel: no FUSE session, nothing is told; the watcher runs. writable as
 * the mount asks it; published (may be NULL) hears each manifest. Free
 * with mfs_fs_free before tu_fixture_close. */
struct mfs_fs *tu_fs_start(struct tu_fixture *f, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			   int writable, void (*published)(void *ctx, const char *json, size_t len),
			   void *ctx);
void tu_fill_random(void *buf, size_t len, uint64_t seed);
/* Ingests len random bytes (tu_fill_random's, of seed) as file name,
 * convergent under a fixed secret, mtime 1700000000, into sink (the
 * caller's, initialised; it finishes, commits or settles it): *out is the
 * file (mfs_entry_clear it). */
void tu_ingest_random(struct mfs_volume_sink *sink, const char *name, size_t len, uint64_t seed,
		      struct mfs_file_entry *out);
/* The pins of blob id in v (a read transaction of its own), or an error. */
int tu_pin_count(struct mfs_volume *v, const uint8_t id[32]);
/* Reads a whole file into a malloc'ed buffer. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Asserts that bytes[len] are the golden vector dir/name, or writes them
 * there when MFS_WRITE_VECTORS is set (a format meant to change). */
void tu_golden(const char *dir, const char *name, const void *bytes, size_t len);
/* A TCP socket bound to 127.0.0.1 on a port the kernel picks (*port),
 * listening when backlog > 0; the caller closes it (closed unlistened, the
 * port refuses connections for a while: nothing else takes it at once). */
int tu_loopback_socket(uint16_t *port, int backlog);

/* A libuv loop for a network test: initialised, with a guard timer that
 * fails the test when the loop has not ended within ms (unreferenced: the
 * loop ends when everything else has). */
void tu_uv_start(uv_loop_t *loop, uv_timer_t *guard, unsigned ms);
/* A listener on 127.0.0.1 at a port the kernel picks, written to *addr. */
void tu_uv_listen(uv_loop_t *loop, uv_tcp_t *server, struct sockaddr_in *addr,
		  uv_connection_cb cb);
/* Runs loop to its end, closes the guard and the listener (when
 * *server_open, read after the run), and checks that no handle outlived the test's objects. */
void tu_uv_finish(uv_loop_t *loop, uv_timer_t *guard, uv_tcp_t *server,
		  const int *server_open);

/* Two mfs_peers over loopback TCP, one connection per round: side 0 dials,
 * side 1 is accepted. The caller fills cfg[], cb, and for each side where
 * its peer goes (peer[i]) and its callbacks' context (ctx[i]). */
struct tu_peer_pair {
	uv_loop_t loop;
	uv_timer_t guard;
	uv_tcp_t server;
	int server_open;
	struct sockaddr_in addr;
	struct mfs_peer_config cfg[2];
	struct mfs_peer_callbacks cb;
	struct mfs_peer **peer[2];
	void *ctx[2];
};
/* Zeroes pp and starts its loop with a guard of guard_ms. */
void tu_peer_pair_start(struct tu_peer_pair *pp, unsigned guard_ms);
/* Listens on pp->addr; the first connection becomes side 1 (the listener
 * then closes). */
void tu_peer_pair_listen(struct tu_peer_pair *pp);
/* Side 0 dials pp->addr, expecting the static key expected (or any). */
void tu_peer_pair_dial(struct tu_peer_pair *pp, const uint8_t *expected);
/* Runs until every peer is gone: tu_uv_finish. */
void tu_peer_pair_run(struct tu_peer_pair *pp);

/* A "raw" peer-wire endpoint for tests that play a peer breaking the
 * rules: a blocking socket, the Noise handshake done by hand with
 * crypto/noise, then Noise messages (u16 length, ciphertext) carrying
 * net/wire messages, as net/peer frames them. Each call returns 0 or -1
 * (never asserts: raw endpoints may run in threads of their own). */
struct tu_raw {
	int fd;
	struct mfs_noise_transport *t; /* after the handshake */
	uint8_t remote_pk[MFS_NOISE_KEY_BYTES];
	uint8_t frame[MFS_NOISE_MAX_MSG]; /* the last Noise message read */
};
/* 10 s send and receive timeouts, no Nagle. */
void tu_raw_set_timeouts(int fd);
int tu_raw_write_all(int fd, const void *buf, size_t len);
int tu_raw_read_full(int fd, void *buf, size_t len);
/* One Noise message, sent in one write. */
int tu_raw_send_frame(struct tu_raw *w, const uint8_t *msg, size_t len);
/* Reads one Noise message into w->frame, its length in *len. */
int tu_raw_recv_frame(struct tu_raw *w, size_t *len);
/* Noise XX as initiator or responder with static key sk (net/peer's
 * prologue); w->t and w->remote_pk set. */
int tu_raw_handshake(struct tu_raw *w, int initiator, const uint8_t *sk);
/* Encrypts plain (at most one Noise message) and sends it; flip >= 0
 * flips the ciphertext's bit 0 at that offset first. */
int tu_raw_send_plain(struct tu_raw *w, const uint8_t *plain, size_t len, long flip);
int tu_raw_send_msg(struct tu_raw *w, const struct mfs_wire_msg *m, long flip);
/* Receives one small message (one Noise message, one wire message); *m
 * borrows w->frame. */
int tu_raw_recv_msg(struct tu_raw *w, struct mfs_wire_msg *m);
/* Frees w->t and closes w->fd. */
void tu_raw_close(struct tu_raw *w);

#endif
