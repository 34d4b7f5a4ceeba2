#include "tools/netopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/channel/channel.h"
#include "net/tracker_client.h"

int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_TRACKER:
		if (mfs_tracker_url_check(arg) != 0)
			return cli_usage(c, "--tracker %s: a tracker is wss://HOST[:PORT][/PATH]"
					 "[#sha256=FINGERPRINT] (64 hex digits, as `megafs tracker` "
					 "prints it) or ws://HOST[:PORT][/PATH]", arg);
		if (n->n_trackers == NET_MAX_TRACKERS)
			return cli_usage(c, "--tracker: at most %d trackers", NET_MAX_TRACKERS);
		n->trackers[n->n_trackers++] = arg;
		return 1;
	case OPT_PEER:
		if (n->n_peers == NET_MAX_PEERS)
			return cli_usage(c, "--peer: at most %d peers", NET_MAX_PEERS);
		n->peers[n->n_peers++] = arg;
		return 1;
	case OPT_LISTEN:
		n->listen = arg;
		return 1;
	default:
		return 0;
	}
}

static void log_stderr(void *ctx, const char *line)
{
	const struct cli *c = ctx;
	fprintf(stderr, "megafs %s: %s\n", c->cmd, line);
}

int net_start(struct cli *c, const struct net_opts *n, struct mfs_volume *vol,
	      struct mfs_session_cache *cache, const uint8_t (*channels)[MFS_SIGN_PK_BYTES],
	      size_t n_channels, void (*log)(void *ctx, const char *line), void *log_ctx,
	      struct mfs_swarm **out)
{
	struct mfs_swarm_config cfg = {
		.vol = vol,
		.cache = cache,
		.listen = n->listen,
		.trackers = n->trackers,
		.n_trackers = n->n_trackers,
		.peers = n->peers,
		.n_peers = n->n_peers,
		.channels = channels,
		.n_channels = n_channels,
		.log = log ? log : log_stderr,
		.log_ctx = log ? log_ctx : c,
	};
	int rc = mfs_swarm_start(out, &cfg);

	if (rc != 0)
		return cli_fail(c, rc, "starting the network");
	return 0;
}

int net_all_channels(struct cli *c, struct mfs_volume *vol, uint8_t (**out)[MFS_SIGN_PK_BYTES],
		     size_t *count)
{
	int rc = mfs_channel_list_keys(vol, out, count);

	return rc == 0 ? 0 : cli_fail(c, rc, "reading the channels");
}
