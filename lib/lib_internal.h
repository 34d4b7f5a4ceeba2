/* lib_internal: what the files of libmegafs (include/megafs.h) share: the
 * handle's insides and the checks every entry point makes. Nothing here is
 * exported: the library is built with -fvisibility=hidden and only
 * MEGAFS_API functions leave it.
 *
 * A handle owns its store and volume (opened by megafs_open, closed by
 * megafs_close) and knows the one server it runs, if any. Calls on a handle
 * do not overlap (the header's thread rule); a server's threads use the
 * volume meanwhile, which its transactions make safe. */
#ifndef MFS_LIB_INTERNAL_H
#define MFS_LIB_INTERNAL_H

#include <stdint.h>

#include "crypto/sign.h"
#include "fs/store/store.h"
#include "fs/store/volume.h"
#include "include/megafs.h"
#include "net/swarm.h"

struct megafs {
	struct mfs_store *store;
	struct mfs_volume *vol;
	struct megafs_server *server;  /* the one running, or NULL */
};

struct megafs_server {
	struct megafs *m;
	struct mfs_swarm *swarm;
	uint8_t (*channels)[MFS_SIGN_PK_BYTES]; /* the swarm's, until it stops */
};

/* The channel of link ("megafs://<hex>", a fragment allowed) into pk:
 * 0, -EINVAL for NULL, MEGAFS_E_FORMAT for anything else. */
int lib_link_channel(uint8_t pk[static MFS_SIGN_PK_BYTES], const char *link);

/* 0 when net (may be NULL) is whole: arrays where counts say, tracker URLs
 * megafs takes (net/tracker_client), a listen address only when serving;
 * else -EINVAL. */
int lib_net_check(const struct megafs_net_options *net, int serving);

/* A swarm config for net (may be NULL: nothing given) on m's volume; the
 * caller adds the channels and listen. */
struct mfs_swarm_config lib_swarm_config(const struct megafs *m,
					 const struct megafs_net_options *net);

#endif
