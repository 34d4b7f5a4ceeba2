/* megafs fsck: reads every object of the open volume, names what is
 * damaged, and with --repair writes again what parity rebuilt. Exit
 * statuses as fsck(8) gives them. */
#include <stdio.h>

#include "crypto/mfs_error.h"
#include "fs/check/check.h"
#include "tools/cli.h"

enum { FSCK_CLEAN = 0, FSCK_CORRECTED = 1, FSCK_UNCORRECTED = 4, FSCK_FAILED = 8 };

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS, {"repair", no_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
	struct mfs_check_report r;
	struct mfs_volume_stats st;
	struct mfs_store *store;
	struct mfs_volume *vol;
	int opt, rc, repair = 0;
	struct cli c;

	cli_init(&c, "fsck");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'R')
			repair = 1;
		else if (!cli_common_option(&c, opt, optarg))
			return 2;
	}
	if (optind != argc)
		return cli_usage(&c, "unexpected argument '%s'", argv[optind]);
	if (cli_open_volume(&c, &store, &vol) != 0)
		return FSCK_FAILED;
	rc = mfs_volume_stats(vol, &st);
	if (rc == 0 && st.writes_refused) {
		printf("read-only  %s: nothing is repaired; copy its files out ('megafs extract') "
		       "into a new store\n",
		       mfs_strerror(st.writes_refused));
		repair = 0;
	}
	if (rc == 0)
		rc = mfs_check_volume(vol, repair, print_line, NULL, &r);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (rc != 0) {
		cli_fail(&c, rc, "checking the volume");
		return FSCK_FAILED;
	}
	printf("checked    %llu objects: %llu intact, %llu rebuilt from parity, %llu damaged\n",
	       (unsigned long long)r.objects,
	       (unsigned long long)(r.objects - r.rebuilt - r.damaged),
	       (unsigned long long)r.rebuilt, (unsigned long long)r.damaged);
	if (r.lost_slots > 0)
		printf("lost       %llu slots did not open\n", (unsigned long long)r.lost_slots);
	if (r.rebuilt > 0)
		printf(repair ? "repaired   %llu objects written again\n"
			      : "rebuilt    %llu objects lost slots: 'megafs fsck --repair' writes them "
				"again\n",
		       (unsigned long long)(repair ? r.repaired : r.rebuilt));
	if (r.damaged > 0)
		printf("damaged    %llu objects cannot be read back: what a channel's peers still "
		       "hold, 'megafs fetch' brings again\n",
		       (unsigned long long)r.damaged);
	if (r.damaged > 0 || (r.rebuilt > 0 && !repair) || st.writes_refused)
		return FSCK_UNCORRECTED;
	return r.repaired > 0 ? FSCK_CORRECTED : FSCK_CLEAN;
}
