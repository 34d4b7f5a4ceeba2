/* megafs init: create a store and its first volume, or add a hidden one. */
#include <stdio.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/mfs_error.h"
#include "tools/cli.h"

#define DEFAULT_SIZE (UINT64_C(256) << 20)
#define SLOT_NOMINAL 65536u
#define MIN_SLOTS 16

static int init_hidden(struct cli *c)
{
	struct cli_password outer = {0}, hidden = {0};
	struct mfs_store *store = NULL;
	int rc, status = 1;

	if (cli_resolve_store(c) != 0)
		return 1;
	rc = mfs_store_open(&store, c->store_dir);
	if (rc != 0)
		return cli_fail(c, rc, "cannot open the store %s", c->store_dir);
	if (cli_read_password(c, PW_MAIN, "Outer volume's password: ", 0, &outer) != 0 ||
	    cli_read_password(c, PW_NEW, "New hidden volume's password: ", 1, &hidden) != 0)
		goto out;
	rc = mfs_volume_create(store, hidden.text, hidden.len, outer.text, outer.len);
	if (rc == MFS_E_BADPASS)
		cli_fail(c, rc, "the outer password");
	else if (rc == MFS_E_EXISTS)
		cli_fail(c, 0, "that password already opens a volume; choose another");
	else if (rc != 0)
		cli_fail(c, rc, "creating the hidden volume");
	else {
		printf("hidden volume created in %s\n", c->store_dir);
		status = 0;
	}
out:
	cli_password_clear(&outer);
	cli_password_clear(&hidden);
	mfs_store_close(store);
	return status;
}

int cmd_init(int argc, char **argv)
{
	static const struct option options[] = {
		{"size", required_argument, NULL, 's'},
		{"kdf", required_argument, NULL, 'k'},
		{"hidden", no_argument, NULL, 'H'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct mfs_kdf_limits kdf;
	struct cli c;
	struct cli_password pw = {0};
	struct mfs_store *store = NULL;
	uint64_t size = DEFAULT_SIZE, slots;
	int hidden = 0, sized = 0, opt, rc, status = 1;
	char human[32];

	cli_init(&c, "init");
	mfs_kdf_preset(&kdf, "moderate");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		switch (opt) {
		case 's':
			if (cli_parse_size(optarg, &size) != 0)
				return cli_usage(&c, "--size takes a size such as 256M or 2G");
			sized = 1;
			break;
		case 'k':
			if (mfs_kdf_preset(&kdf, optarg) != 0)
				return cli_usage(&c, "--kdf takes fast, interactive, moderate or sensitive");
			sized = 1;
			break;
		case 'H':
			hidden = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc)
		return cli_usage(&c, "unexpected argument '%s'", argv[optind]);
	if (hidden && sized)
		return cli_usage(&c, "--size and --kdf belong to the store; init --hidden takes neither");
	if (c.protect_file || c.protect_prompt || (!hidden && c.new_password_file))
		return cli_usage(&c, "init takes the new password alone (and, with --hidden, "
				 "the outer one, which it protects)");
	if (hidden)
		return init_hidden(&c);
	slots = (size + SLOT_NOMINAL - 1) / SLOT_NOMINAL;
	if (slots < MIN_SLOTS)
		return cli_usage(&c, "--size must be at least 1M");
	if (cli_resolve_store(&c) != 0)
		return 1;
	if (cli_read_password(&c, PW_MAIN, "New password: ", 1, &pw) != 0)
		return 1;
	rc = mfs_store_create(c.store_dir, slots, &kdf);
	if (rc == 0 && kdf.mem < (UINT64_C(1) << 20))
		fprintf(stderr, "megafs init: warning: --kdf fast makes a guess at this store's "
				"passwords cost microseconds: for tests only, not for data to keep\n");
	if (rc == MFS_E_EXISTS) {
		cli_fail(&c, 0, "%s already holds a store (add a hidden volume with 'init --hidden')",
			 c.store_dir);
		goto out;
	}
	if (rc != 0) {
		cli_fail(&c, rc, "creating the store in %s", c.store_dir);
		goto out;
	}
	rc = mfs_store_open(&store, c.store_dir);
	if (rc == 0)
		rc = mfs_volume_create(store, pw.text, pw.len, NULL, 0);
	if (rc != 0) {
		cli_fail(&c, rc, "creating the volume");
		goto out;
	}
	cli_human_bytes(human, sizeof human, slots * SLOT_NOMINAL);
	printf("store created in %s: %llu slots (%s), filled with random bytes\n", c.store_dir,
	       (unsigned long long)slots, human);
	status = 0;
out:
	cli_password_clear(&pw);
	mfs_store_close(store);
	return status;
}
