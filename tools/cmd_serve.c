/* megafs serve: seed the volume's blobs to peers, with no mount: every
 * channel the volume knows, or the ones named. Tells a service manager
 * when it serves and when it stops (tools/notify). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/pt.h"
#include "tools/cli.h"
#include "tools/netopts.h"
#include "tools/notify.h"

/* The channels links names, each one the volume must know. */
static int named_channels(struct cli *c, struct mfs_volume *vol, char **links, size_t n,
			  uint8_t (**out)[MFS_SIGN_PK_BYTES], size_t *count)
{
	int rc = 0;

	*count = 0;
	if (!(*out = calloc(n, sizeof **out)))
		return cli_fail(c, -ENOMEM, "reading the channels");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		mfs_link_parse((*out)[i], links[i]); /* checked with the arguments */
		rc = mfs_channel_find(vol, (*out)[i], NULL, NULL);
		if (rc == MFS_E_NOTFOUND)
			cli_fail(c, 0, "this volume does not know %s: subscribe to it first (megafs "
				 "channel subscribe LINK)", links[i]);
		else if (rc != 0)
			cli_fail(c, rc, "looking %s up", links[i]);
	}
	if (rc != 0) {
		free(*out);
		*out = NULL;
		return 1;
	}
	*count = n;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		NET_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct net_opts net = {.listen = "0.0.0.0:0"};
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_swarm *swarm = NULL;
	uint8_t (*channels)[MFS_SIGN_PK_BYTES] = NULL;
	size_t n_channels = 0;
	char key[2 * MFS_NOISE_KEY_BYTES + 1], bridge[MFS_PT_PEER_TEXT_MAX];
	uint8_t key_scratch[MFS_SIGN_PK_BYTES];
	sigset_t stop;
	int opt, status, sig;
	struct cli c;

	cli_init(&c, "serve");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		status = net_option(&c, &net, opt, optarg);
		if (status != 1)
			return status ? status : 2;
	}
	if ((status = net_check(&c, &net)) != 0)
		return status;
	for (int i = optind; i < argc; i++)
		if (mfs_link_parse(key_scratch, argv[i]) != 0)
			return cli_usage(&c, "'%s' is not a channel link (megafs://<64 hex digits>, "
					 "or the hex alone)\nusage: megafs serve [--listen HOST:PORT] "
					 "[--tracker URL]... [--peer ADDR]... [--dht] "
					 "[--dht-bootstrap HOST:PORT]... [LINK]...", argv[i]);
	/* Signals wait for sigwait below; every thread started later inherits
	 * the mask, so none of them takes SIGINT by surprise. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	status = optind < argc ? named_channels(&c, vol, argv + optind, (size_t)(argc - optind),
						&channels, &n_channels)
			       : net_all_channels(&c, vol, &channels, &n_channels);
	if (status == 0)
		status = net_start(&c, &net, vol, NULL, (const uint8_t(*)[MFS_SIGN_PK_BYTES])channels,
				   n_channels, NULL, NULL, &swarm);
	if (status == 0) {
		mfs_swarm_publish_owned(swarm);
		mfs_hex_encode(key, mfs_swarm_node_key(swarm), MFS_NOISE_KEY_BYTES);
		printf("megafs serve: serving %zu channel%s on port %u as node %s\n", n_channels,
		       n_channels == 1 ? "" : "s", mfs_swarm_port(swarm), key);
		/* What a subscriber gives to --peer (HOST as the PT bound it). */
		if (mfs_swarm_bridge_line(swarm, bridge, sizeof bridge) == 0)
			printf("megafs serve: %s bridge %s\n", net.transport, bridge);
		fflush(stdout);
		mfs_notify("READY=1");
		sigwait(&stop, &sig);
		mfs_notify("STOPPING=1");
		struct mfs_node_stats st;
		struct mfs_swarm_manifest_stats ms;
		mfs_swarm_stats(swarm, &st);
		mfs_swarm_manifest_stats(swarm, &ms);
		fprintf(stderr, "megafs serve: stopping; served %llu blobs\n",
			(unsigned long long)st.blobs_served);
		fprintf(stderr, "megafs serve: manifests from trackers: %llu received, %llu dropped "
			"as not newer, %llu refused, %llu write transactions, %llu stored\n",
			(unsigned long long)ms.received, (unsigned long long)ms.dropped,
			(unsigned long long)ms.refused, (unsigned long long)ms.write_transactions,
			(unsigned long long)ms.stored);
	}
	mfs_swarm_stop(swarm);
	free(channels);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status ? 1 : 0;
}
