/* swarm_pt: a swarm's pluggable transport (net/pt): the PT processes, the
 * private directories they keep their state in, and a bridge's identity
 * kept in the volume.
 *
 * Client: one PT process started in client mode; every peer dial goes
 * through its SOCKS5 port (the proxy it hands out, to which net/node adds
 * each peer's bridge arguments). Server: one PT process in server mode,
 * listening on the public address and relaying to the node's own
 * listener on 127.0.0.1.
 *
 * State: each process gets a fresh directory (mkdtemp under $TMPDIR, else
 * /tmp; mode 0700), removed with what it holds at the stop. A server's
 * identity (for obfs4, the bridge's keys: the file TRANSPORT_state.json)
 * is kept in the volume (object "\0pt-" + TRANSPORT, encrypted as every
 * object is): copied into the directory before the PT starts, and copied
 * back after it said it is ready when it differs. So the bridge line a
 * subscriber holds stays good across restarts, and nothing outside the
 * volume names the bridge once the server stopped.
 *
 * Threads: the owning thread (the swarm's start and stop). The proxy and
 * strings handed out live until mfs_swarm_pt_stop. */
#ifndef MFS_SWARM_PT_H
#define MFS_SWARM_PT_H

#include <limits.h>
#include <stdint.h>

#include "fs/store/volume.h"
#include "net/pt.h"
#include "net/socks5.h"

struct mfs_swarm_pt {
	struct mfs_pt *client, *server;
	char client_dir[PATH_MAX], server_dir[PATH_MAX]; /* "" when none */
	struct mfs_socks5_proxy *proxy; /* guarded: the client's SOCKS5 port */
};

/* Starts the client PT at path for transport. 0 (sp->proxy set), or
 * net/pt's errors with the sentence in why. */
int mfs_swarm_pt_client_start(struct mfs_swarm_pt *sp, const char *path, const char *transport,
			      char *why, size_t why_len);

/* Starts the server PT at path for transport, listening on bind
 * ("HOST:PORT") and relaying to 127.0.0.1:orport, its identity from vol
 * (made by the PT and stored there at its first start). 0, or net/pt's
 * errors, or the volume's, with the sentence in why. */
int mfs_swarm_pt_server_start(struct mfs_swarm_pt *sp, struct mfs_volume *vol, const char *path,
			      const char *transport, const char *bind, uint16_t orport, char *why,
			      size_t why_len);

/* Stops both PTs, removes their directories, wipes the proxy; sp is
 * zeroed. NULL-safe, and for an sp never started (all zero). */
void mfs_swarm_pt_stop(struct mfs_swarm_pt *sp);

#endif
