/* megafs fsck: reads every object of the open volume, names what is
 * damaged, and with --repair writes again what parity rebuilt and what the
 * channels' peers send again of the damaged blobs. Exit statuses as fsck(8)
 * gives them. */
#include <stdio.h>
#include <stdlib.h>

#include "crypto/mfs_error.h"
#include "fs/check/check.h"
#include "tools/cli.h"
#include "tools/netopts.h"

enum { FSCK_CLEAN = 0, FSCK_CORRECTED = 1, FSCK_UNCORRECTED = 4, FSCK_FAILED = 8 };

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

/* The network, started at the first damaged blob only: a clean volume
 * makes no connection. */
struct refetcher {
	struct cli *c;
	const struct net_opts *net;
	struct mfs_volume *vol;
	struct mfs_swarm *swarm;
	int tried;
	int error;               /* why there is no swarm */
};

static int refetch(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		   size_t *len)
{
	struct refetcher *r = ctx;

	if (!r->tried) {
		uint8_t (*channels)[MFS_SIGN_PK_BYTES] = NULL;
		size_t n = 0;

		r->tried = 1;
		fflush(stdout);
		if (net_all_channels(r->c, r->vol, &channels, &n) != 0 ||
		    net_start(r->c, r->net, r->vol, NULL, (const uint8_t(*)[MFS_SIGN_PK_BYTES])channels,
			      n, NULL, NULL, &r->swarm) != 0)
			r->error = -ENETDOWN;
		else if (!r->swarm)
			r->error = cli_fail(r->c, MFS_E_NOTFOUND, "no tracker or peer is known for "
					    "this volume's channels: give --tracker or --peer "
					    "to fetch damaged blobs again");
		free(channels);
	}
	return r->swarm ? mfs_swarm_fetch(r->swarm, id, 1, blob, len)
			: r->error ? r->error : MFS_E_NOTFOUND;
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS, NET_OPTIONS, {"repair", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0}};
	struct net_opts net = {0};
	struct refetcher r = {.net = &net};
	struct mfs_check_refetch from_peers = {.fetch = refetch, .ctx = &r};
	struct mfs_check_report rep;
	struct mfs_volume_stats st;
	struct mfs_store *store;
	struct mfs_volume *vol;
	int opt, rc, repair = 0;
	struct cli c;

	cli_init(&c, "fsck");
	r.c = &c;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'R') {
			repair = 1;
		} else if (!cli_common_option(&c, opt, optarg)) {
			int taken = net_option(&c, &net, opt, optarg);

			if (taken != 1)
				return 2; /* getopt or net_option said why */
		}
	}
	if (optind != argc)
		return cli_usage(&c, "unexpected argument '%s'", argv[optind]);
	if (net_options_done(&c, &net) != 0)
		return 2;
	if (net.listen)
		return cli_usage(&c, "--listen: megafs fsck serves nobody (see megafs serve)");
	if (cli_open_volume(&c, &store, &vol) != 0)
		return FSCK_FAILED;
	r.vol = vol;
	rc = mfs_volume_stats(vol, &st);
	if (rc == 0 && st.writes_refused) {
		printf("read-only  %s: nothing is repaired; copy its files out ('megafs extract') "
		       "into a new store\n",
		       mfs_strerror(st.writes_refused));
		repair = 0;
	}
	if (rc == 0)
		rc = mfs_check_volume(vol, repair, &from_peers, print_line, NULL, &rep);
	mfs_swarm_stop(r.swarm);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (rc != 0) {
		cli_fail(&c, rc, "checking the volume");
		return FSCK_FAILED;
	}
	printf("checked    %llu objects: %llu intact, %llu rebuilt from parity, %llu damaged\n",
	       (unsigned long long)rep.objects,
	       (unsigned long long)(rep.objects - rep.rebuilt - rep.damaged),
	       (unsigned long long)rep.rebuilt, (unsigned long long)rep.damaged);
	if (rep.lost_slots > 0)
		printf("lost       %llu slots did not open\n", (unsigned long long)rep.lost_slots);
	if (rep.rebuilt > 0)
		printf(repair ? "repaired   %llu objects written again\n"
			      : "rebuilt    %llu objects lost slots: 'megafs fsck --repair' writes them "
				"again\n",
		       (unsigned long long)(repair ? rep.repaired : rep.rebuilt));
	if (rep.refetched > 0)
		printf("refetched  %llu damaged blobs written again with their peers' copies\n",
		       (unsigned long long)rep.refetched);
	if (rep.damaged > rep.refetched)
		printf("damaged    %llu objects cannot be read back: 'megafs fsck --repair' fetches "
		       "damaged blobs again from the channels' peers (--tracker, --peer)\n",
		       (unsigned long long)(rep.damaged - rep.refetched));
	if (rep.damaged > rep.refetched || (rep.rebuilt > 0 && !repair) || st.writes_refused)
		return FSCK_UNCORRECTED;
	return rep.repaired + rep.refetched > 0 ? FSCK_CORRECTED : FSCK_CLEAN;
}
