/* megafs gc: frees the blobs nothing references any more (fs/check/gc),
 * and says what it freed. */
#include <stdio.h>

#include "fs/check/gc.h"
#include "tools/cli.h"

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "megafs gc: %s\n", line);
}

int cmd_gc(int argc, char **argv)
{
	struct mfs_gc_report r;
	struct mfs_store *store;
	struct mfs_volume *vol;
	char freed[32], kept[32];
	struct cli c;
	int rc;

	cli_init(&c, "gc");
	rc = cli_parse_common_only(&c, argc, argv);
	if (rc != 0)
		return rc;
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	rc = mfs_gc_volume(vol, print_line, NULL, &r);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (r.pinlogs_dead > 0)
		printf("undone     %llu files left half stored by processes that died: %llu pins "
		       "dropped, %llu kept (their blobs are in a manifest)\n",
		       (unsigned long long)r.pinlogs_dead, (unsigned long long)r.pins_dropped,
		       (unsigned long long)r.pins_kept);
	if (r.pinlogs_live > 0)
		printf("at work    %llu files being ingested or written: left alone\n",
		       (unsigned long long)r.pinlogs_live);
	cli_human_bytes(freed, sizeof freed, r.bytes_freed);
	printf("freed      %llu blobs (%s)\n", (unsigned long long)r.blobs_freed, freed);
	if (rc != 0)
		return cli_fail(&c, rc, "collecting garbage");
	cli_human_bytes(kept, sizeof kept, r.bytes_kept);
	printf("kept       %llu blobs (%s): in a manifest, pinned, or both\n",
	       (unsigned long long)r.blobs_kept, kept);
	return 0;
}
