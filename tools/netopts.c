#include "tools/netopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/tracker_client.h"

#define TRACKER_VIA_PROXY                                                                   \
	"--proxy and --tracker: trackers cannot go through a proxy yet (this libwebsockets "  \
	"has no SOCKS5), and a tracker dialled around the proxy would show who you are; "    \
	"name peers with --peer"

/* The one proxy of the process (options are read once): guarded, wiped at exit. */
static struct mfs_socks5_proxy *the_proxy;

static void free_proxy(void)
{
	mfs_secure_free(the_proxy);
	the_proxy = NULL;
}

/* --proxy URL: read into guarded memory, and the URL's credentials in argv
 * overwritten, so that the process list does not show them for long. */
static int take_proxy(struct cli *c, struct net_opts *n, char *arg)
{
	char why[160];
	char *at = strrchr(arg, '@');

	if (n->n_trackers)
		return cli_usage(c, TRACKER_VIA_PROXY);
	if (!the_proxy) {
		if (!(the_proxy = mfs_secure_alloc(sizeof *the_proxy)))
			return cli_fail(c, -ENOMEM, "--proxy");
		atexit(free_proxy);
	}
	if (mfs_socks5_url_parse(the_proxy, arg, why, sizeof why) != 0)
		return cli_usage(c, "--proxy %s: %s", at ? "socks5://...@..." : arg, why);
	for (char *p = arg + sizeof "socks5://" - 1; at && p < at; p++)
		*p = '*';
	n->proxy = the_proxy;
	return 1;
}

int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_PROXY:
		return take_proxy(c, n, (char *)arg); /* optarg: argv's own bytes */
	case OPT_TRACKER:
		if (n->proxy)
			return cli_usage(c, TRACKER_VIA_PROXY);
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
		.proxy = n->proxy,
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
	struct mfs_channel_list list;
	int rc = mfs_channel_list_read(vol, &list);

	if (rc != 0)
		return cli_fail(c, rc, "reading the channels");
	*count = list.count;
	*out = calloc(list.count ? list.count : 1, sizeof **out);
	for (size_t i = 0; *out && i < list.count; i++)
		memcpy((*out)[i], list.items[i].pk, MFS_SIGN_PK_BYTES);
	mfs_keyring_clear(&list);
	return *out ? 0 : cli_fail(c, -ENOMEM, "reading the channels");
}
