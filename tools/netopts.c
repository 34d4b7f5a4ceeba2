#include "tools/netopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/hostport.h"
#include "net/pt.h"
#include "net/tracker_client.h"

#define DHT_VIA_PROXY                                                                       \
	"--proxy and the DHT options: the DHT speaks UDP, which a SOCKS5 proxy does not "     \
	"carry, and a DHT node beside the proxy would show who you are"

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

	if (n->dht)
		return cli_usage(c, DHT_VIA_PROXY);
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

/* --dht, --dht-bootstrap, --dht-interval, --dht-port (never with --proxy). */
static int dht_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_DHT:
		n->dht = 1;
		return 1;
	case OPT_DHT_BOOTSTRAP: {
		char host[MFS_HOSTPORT_HOST_MAX + 1];
		uint16_t port;

		if (mfs_hostport_parse(host, &port, arg, strlen(arg), 0) != 0 || port == 0)
			return cli_usage(c, "--dht-bootstrap %s: HOST:PORT of a DHT node", arg);
		if (n->n_dht_bootstrap == NET_MAX_DHT_BOOTSTRAP)
			return cli_usage(c, "--dht-bootstrap: at most %d nodes", NET_MAX_DHT_BOOTSTRAP);
		n->dht_bootstrap[n->n_dht_bootstrap++] = arg;
		n->dht = 1;
		return 1;
	}
	case OPT_DHT_INTERVAL: {
		char *end;
		unsigned long s = strtoul(arg, &end, 10);

		if (*arg < '0' || *arg > '9' || *end || s == 0 || s > 86400)
			return cli_usage(c, "--dht-interval %s: seconds, 1 to 86400", arg);
		n->dht_interval_s = (unsigned)s;
		n->dht = 1;
		return 1;
	}
	case OPT_DHT_PORT: {
		char *end;
		unsigned long port = strtoul(arg, &end, 10);

		if (*arg < '0' || *arg > '9' || *end || port > 65535)
			return cli_usage(c, "--dht-port %s: a UDP port, 0 (any free one) to 65535",
					 arg);
		n->dht_port = (uint16_t)port;
		n->dht_port_given = 1;
		n->dht = 1;
		return 1;
	}
	default:
		return 0;
	}
}

int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_PROXY:
		return take_proxy(c, n, (char *)arg); /* optarg: argv's own bytes */
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
	case OPT_TRANSPORT:
		if (strcmp(arg, "obfs4") != 0)
			return cli_usage(c, "--transport %s: the one transport is obfs4 (with --pt "
					 "PATH, a pluggable transport's binary)", arg);
		n->transport = arg;
		return 1;
	case OPT_PT:
		n->pt = arg;
		return 1;
	case OPT_DHT:
	case OPT_DHT_BOOTSTRAP:
	case OPT_DHT_INTERVAL:
	case OPT_DHT_PORT:
		if (n->proxy)
			return cli_usage(c, DHT_VIA_PROXY);
		return dht_option(c, n, opt, arg);
	default:
		return 0;
	}
}

/* A given peer is a bridge (";ARGS" after its address) exactly when a
 * transport is given. */
static int check_peer(struct cli *c, const struct net_opts *n, const char *peer)
{
	char head[MFS_PT_PEER_TEXT_MAX], args[MFS_PT_ARGS_MAX + 1];
	int addr_len = (int)strcspn(peer, ";");

	if (mfs_pt_peer_split(head, sizeof head, args, peer) != 0)
		return cli_usage(c, "--peer %.*s: bridge arguments are KEY=VALUE joined by ';', "
				 "255 bytes at most", addr_len, peer);
	if (n->transport && !args[0])
		return cli_usage(c, "--peer %s: through --transport %s a peer is a bridge, "
				 "HOST:PORT#KEY;cert=...;iat-mode=N, as megafs serve --transport "
				 "%s prints it", peer, n->transport, n->transport);
	if (!n->transport && args[0])
		return cli_usage(c, "--peer %.*s: a bridge (arguments after ';') is reached "
				 "only through its pluggable transport: --transport obfs4 --pt PATH",
				 addr_len, peer);
	return 0;
}

int net_options_done(struct cli *c, const struct net_opts *n)
{
	if (n->transport && !n->pt)
		return cli_usage(c, "--transport %s needs --pt PATH, the pluggable transport's "
				 "binary (e.g. /usr/bin/obfs4proxy)", n->transport);
	if (n->pt && !n->transport)
		return cli_usage(c, "--pt needs --transport (obfs4)");
	if (n->transport && n->proxy)
		return cli_usage(c, "--transport %s and --proxy: not chained (the transport's "
				 "own SOCKS5 port is every dial's proxy); give one", n->transport);
	if (n->transport && n->dht)
		return cli_usage(c, "--transport %s and the DHT options: the DHT speaks UDP "
				 "around the transport, and names no bridge", n->transport);
	if (n->transport && n->n_trackers)
		return cli_usage(c, "--transport %s and --tracker: a tracker names peers "
				 "without their bridge arguments, and is reached around the "
				 "transport; name the bridges with --peer", n->transport);
	for (size_t i = 0; i < n->n_peers; i++)
		if (check_peer(c, n, n->peers[i]) != 0)
			return 2;
	return 0;
}

void net_swarm_config(const struct net_opts *n, struct mfs_swarm_config *cfg)
{
	cfg->listen = n->listen;
	cfg->trackers = n->trackers;
	cfg->n_trackers = n->n_trackers;
	cfg->peers = n->peers;
	cfg->n_peers = n->n_peers;
	cfg->dht = n->dht;
	cfg->dht_bootstrap = n->dht_bootstrap;
	cfg->n_dht_bootstrap = n->n_dht_bootstrap;
	cfg->dht_interval_s = n->dht_interval_s;
	cfg->dht_port_given = n->dht_port_given;
	cfg->dht_port = n->dht_port;
	cfg->proxy = n->proxy;
	cfg->pt_path = n->pt;
	cfg->pt_transport = n->transport;
}

int net_wanted(const struct net_opts *n)
{
	return n->n_trackers || n->n_peers || n->listen || n->dht;
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
		.channels = channels,
		.n_channels = n_channels,
		.log = log ? log : log_stderr,
		.log_ctx = log ? log_ctx : c,
	};
	int rc;

	net_swarm_config(n, &cfg);
	rc = mfs_swarm_start(out, &cfg);
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
