/* megafs channel: make, list and subscribe to channels of the open volume. */
#include <stdio.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/store/keyring.h"
#include "tools/cli.h"

static int channel_new(struct cli *c, struct mfs_volume *v, const char *title)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	char link[MFS_LINK_BYTES];
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc == 0) {
		rc = mfs_keyring_new_channel(t, title, pk);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	if (rc != 0)
		return cli_fail(c, rc, "creating channel \"%s\"", title);
	mfs_link_format(link, pk);
	printf("%s\n", link);
	return 0;
}

static int channel_subscribe(struct cli *c, struct mfs_volume *v, const char *link,
			     const char *title)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	int rc;

	if (mfs_link_parse(pk, link) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link (megafs://<64 hex digits>)", link);
	rc = mfs_vtxn_begin(v, 1, &t);
	if (rc == 0) {
		rc = mfs_keyring_subscribe(t, pk, title);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	if (rc == MFS_E_EXISTS)
		return cli_fail(c, 0, "this volume already knows %s", link);
	if (rc != 0)
		return cli_fail(c, rc, "subscribing to %s", link);
	printf("subscribed to %s\n", link);
	return 0;
}

static int channel_list(struct cli *c, struct mfs_volume *v)
{
	struct mfs_channel_list list;
	struct mfs_vtxn *t;
	char link[MFS_LINK_BYTES];
	int rc = mfs_vtxn_begin(v, 0, &t);

	if (rc == 0) {
		rc = mfs_keyring_load(t, &list);
		mfs_vtxn_abort(t);
	}
	if (rc != 0)
		return cli_fail(c, rc, "reading the channels");
	for (size_t i = 0; i < list.count; i++) {
		const struct mfs_channel *ch = &list.items[i];

		mfs_link_format(link, ch->pk);
		printf("%-10s %s seq=%llu %s\n", ch->owned ? "owned" : "subscribed", link,
		       (unsigned long long)ch->sequence, ch->title);
	}
	if (list.count == 0)
		fprintf(stderr, "no channels in this volume (make one with 'megafs channel new TITLE')\n");
	mfs_keyring_clear(&list);
	return 0;
}

int cmd_channel(int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct mfs_store *store;
	struct mfs_volume *vol;
	struct cli c;
	const char *verb;
	int opt, status;

	cli_init(&c, "channel");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		if (!cli_common_option(&c, opt, optarg))
			return 2;
	if (optind >= argc)
		return cli_usage(&c, "which? channel new TITLE | list | subscribe LINK [TITLE]");
	verb = argv[optind];
	if (strcmp(verb, "new") == 0 && optind + 2 != argc)
		return cli_usage(&c, "usage: megafs channel new TITLE");
	if (strcmp(verb, "list") == 0 && optind + 1 != argc)
		return cli_usage(&c, "usage: megafs channel list");
	if (strcmp(verb, "subscribe") == 0 && (optind + 2 > argc || optind + 3 < argc))
		return cli_usage(&c, "usage: megafs channel subscribe LINK [TITLE]");
	if (strcmp(verb, "new") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "subscribe") != 0)
		return cli_usage(&c, "unknown channel command '%s'", verb);
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	if (strcmp(verb, "new") == 0)
		status = channel_new(&c, vol, argv[optind + 1]);
	else if (strcmp(verb, "list") == 0)
		status = channel_list(&c, vol);
	else
		status = channel_subscribe(&c, vol, argv[optind + 1],
					   optind + 2 < argc ? argv[optind + 2] : "");
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status;
}
