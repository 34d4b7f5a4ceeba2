/* swarm_dht: a swarm's channels in the Mainline DHT (net/dht), so that a
 * channel is found with no tracker at all (issue 10, parts 2 and 3).
 *
 * It runs one DHT node on the swarm's loop, on a UDP socket of its own,
 * bound to the host of the swarm's listen address (0.0.0.0 without one)
 * and a port: the one given (0: any free one; one that cannot be bound
 * fails the start), else the one saved with the routing table when it can
 * be bound again (a node whose port changes at each start is stale in the
 * tables of every node that knew it), else any free one (logged). It is
 * bootstrapped from the addresses given, else from the routing table the
 * volume saved, else from the well-known routers. For
 * each channel it knows a DHT secret of (net/dht_channel: a public
 * channel's key, a private one's read key; a channel read by grant has
 * none and is left to trackers and peers):
 *   - an owned channel's pointer is put (BEP 44, signed with the channel's
 *     key, seq = the manifest's sequence) once bootstrapped, after each
 *     publication (mfs_swarm_dht_kick) and every hour; the manifest blob it
 *     points to is stored first in the volume, where the node serves it,
 *     with one pin that moves from the previous pointer's blob (recorded
 *     in the status object as "blob"), so gc keeps what the pointer names;
 *   - another channel's pointer is got once bootstrapped and then every
 *     interval; one of a higher seq than known is opened, its blob fetched
 *     from peers (net/node, checked against its id), opened, and handed to
 *     manifest(), which must verify it as any other (the swarm's tracker
 *     path: signature, newer sequence, sealing); nothing from the DHT is
 *     trusted;
 *   - the node announces itself (its listen port) under the channel's
 *     derived info-hash and looks up the peers announced there, at start,
 *     before each fetch, every 2 seconds while a pointer's blob is being
 *     fetched (the peers found first may be gone, the seeder announced
 *     since), and every 15 minutes; each found peer goes to the
 *     node as a learnt peer, at a special address only when every bootstrap
 *     address given was special (as for trackers, net/swarm.h), or, with
 *     none given, every node of the saved table is; once one proves its
 *     node key in a handshake, net/swarm remembers it as a tracker's peer.
 * The routing table with the port bound (object "\0dht-table",
 * net/dht_table.h's form) and what was seen and put per channel (object
 * "\0dht-status", JSON) are saved in the volume every 10 minutes and at
 * the end.
 *
 * Threads: start and free from the owning thread (start after the loop and
 * node run; free after mfs_loop_stop, which closes the DHT through a stop
 * hook); kick from any thread; callbacks on the loop thread. */
#ifndef MFS_SWARM_DHT_H
#define MFS_SWARM_DHT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "fs/store/volume.h"
#include "net/loop.h"
#include "net/node.h"

#define MFS_SWARM_DHT_INTERVAL_S 60u  /* the default interval of a subscriber's get */
#define MFS_SWARM_DHT_BOOTSTRAP_MAX 16
/* Used with no bootstrap given and no saved table. */
#define MFS_SWARM_DHT_ROUTERS \
	"router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881"

struct mfs_swarm_dht_config {
	struct mfs_loop *loop;
	struct mfs_netnode *node;
	struct mfs_volume *vol;
	const uint8_t (*channels)[MFS_SIGN_PK_BYTES];
	size_t n_channels;
	const char *const *bootstrap;  /* "HOST:PORT"; none: saved table, else the routers */
	size_t n_bootstrap;
	const char *listen;            /* the swarm's, or NULL (nothing announced then) */
	int port_given;                /* port is the UDP port to bind (0: any) */
	uint16_t port;
	unsigned interval_s;           /* 0: MFS_SWARM_DHT_INTERVAL_S */
	/* A manifest (NUL-terminated) that a pointer of seq led to, for
	 * channel index channel: not yet verified. */
	void (*manifest)(void *ctx, size_t channel, uint64_t seq, const char *json, size_t len);
	void *ctx;
	void (*log)(void *ctx, const char *line); /* may be NULL */
	void *log_ctx;
};

struct mfs_swarm_dht;

/* Reads the channels' keys and the saved table, binds and bootstraps.
 * 0 (*out NULL, logged, when no bootstrap address resolves and no table is
 * saved: no DHT runs), -EINVAL for a bootstrap address that is no
 * HOST:PORT (logged), -errno (bind; a port given that cannot be bound,
 * -EADDRINUSE when in use, is logged with its number), -ENOMEM. After an
 * error *out may be set all the same: free it after mfs_loop_stop. */
int mfs_swarm_dht_start(struct mfs_swarm_dht **out, const struct mfs_swarm_dht_config *cfg);
/* A publication: puts the owned channels' pointers again now. */
void mfs_swarm_dht_kick(struct mfs_swarm_dht *d);
/* Saves the table and status into the volume and frees. After
 * mfs_loop_stop; NULL-safe. */
void mfs_swarm_dht_free(struct mfs_swarm_dht *d);

/* What the volume records (megafs dht status): *nodes in the saved table
 * (0 when none), *port the UDP port saved with it (0 when none), *status
 * the "\0dht-status" object (new reference; an empty object when none):
 * {"channels":{PK_HEX:{"seen_seq":N,"seen_at":S,
 * "put_seq":N,"put_at":S,"blob":ID_HEX}}, "saved_at":S} (S: Unix seconds;
 * a field only once it happened). 0 or the volume's errors. */
int mfs_swarm_dht_recorded(struct mfs_volume *vol, size_t *nodes, uint16_t *port,
			   json_t **status);

#endif
