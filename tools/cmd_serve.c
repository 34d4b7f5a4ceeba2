/* megafs serve: seed the volume's blobs to peers, with no mount. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "tools/cli.h"
#include "tools/netopts.h"

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
	char key[2 * MFS_NOISE_KEY_BYTES + 1];
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
	if (optind != argc)
		return cli_usage(&c, "usage: megafs serve [--listen HOST:PORT] [--tracker URL]... "
				 "[--peer ADDR]...");
	/* Signals wait for sigwait below; every thread started later inherits
	 * the mask, so none of them takes SIGINT by surprise. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	status = net_all_channels(&c, vol, &channels, &n_channels);
	if (status == 0)
		status = net_start(&c, &net, vol, NULL, (const uint8_t(*)[MFS_SIGN_PK_BYTES])channels,
				   n_channels, NULL, NULL, &swarm);
	if (status == 0) {
		mfs_swarm_publish_owned(swarm);
		mfs_hex_encode(key, mfs_swarm_node_key(swarm), MFS_NOISE_KEY_BYTES);
		printf("megafs serve: serving %zu channel%s on port %u as node %s\n", n_channels,
		       n_channels == 1 ? "" : "s", mfs_swarm_port(swarm), key);
		fflush(stdout);
		sigwait(&stop, &sig);
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
