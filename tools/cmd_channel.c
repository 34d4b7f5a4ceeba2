/* megafs channel: make, list and subscribe to channels of the open volume,
 * carry their manifests between volumes (import, export), and add magnet
 * links to an owned one (add). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/channel/magnet.h"
#include "fs/fuse/fs.h"
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
	char link[MFS_LINK_BYTES];
	int rc = mfs_channel_list_read(v, &list);

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

/* Reads all of path ("-": stdin) into a malloc'ed buffer; -EFBIG when it
 * holds more than max bytes. */
static int read_all(const char *path, size_t max, char **out, size_t *out_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *buf;
	int rc = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf)
		rc = -ENOMEM;
	while (rc == 0) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			break;
		else if ((len += (size_t)n) > max)
			rc = -EFBIG;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* The manifest bytes of path, read before the volume opens so that a
 * missing file costs no password. */
static int read_manifest(struct cli *c, const char *path, char **text, size_t *len)
{
	const char *shown = strcmp(path, "-") == 0 ? "stdin" : path;
	int rc = read_all(path, MFS_CJSON_MAX_BYTES + 1, text, len);

	if (rc == 0 && *len > 0 && (*text)[*len - 1] == '\n')
		(*len)--;
	if (rc == -EFBIG || (rc == 0 && *len > MFS_CJSON_MAX_BYTES)) {
		if (rc == 0)
			free(*text);
		return cli_fail(c, 0, "%s: larger than the %u MiB a manifest may be", shown,
				MFS_CJSON_MAX_BYTES >> 20);
	}
	if (rc != 0)
		return cli_fail(c, rc, "%s", shown);
	return 0;
}

/* Refuses a manifest that is malformed or badly signed before the store is
 * opened: a refused import then leaves the store file untouched (opening a
 * volume writes, see mfs_volume_open). */
static int precheck_manifest(struct cli *c, const char *path, const char *text, size_t len)
{
	const char *shown = strcmp(path, "-") == 0 ? "stdin" : path;
	struct mfs_manifest m = {0};
	char why[256] = "";
	int rc = mfs_manifest_verify(&m, text, len, NULL, 0, why, sizeof why);

	mfs_manifest_clear(&m);
	if (rc == 0)
		return 0;
	return why[0] ? cli_fail(c, 0, "%s: %s", shown, why) : cli_fail(c, rc, "%s", shown);
}

/* Verifies text as the next manifest of its channel and stores it,
 * subscribing to a channel the volume does not know. A manifest is canonical
 * JSON with no trailing newline; export prints one after it, so
 * read_manifest drops one (and only one) before this runs. */
static int channel_import(struct cli *c, struct mfs_volume *v, const char *path, const char *text,
			  size_t len)
{
	const char *shown = strcmp(path, "-") == 0 ? "stdin" : path;
	struct mfs_manifest m = {0};
	char link[MFS_LINK_BYTES];
	struct mfs_vtxn *t;
	char why[256] = "";
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc != 0)
		return cli_fail(c, rc, "%s", shown);
	rc = mfs_channel_accept(t, text, len, 1, &m, why, sizeof why);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc != 0) {
		mfs_manifest_clear(&m);
		if (why[0])
			return cli_fail(c, 0, "%s: %s", shown, why);
		return cli_fail(c, rc, "%s", shown);
	}
	mfs_link_format(link, m.public_key);
	printf("imported sequence %llu of %s\n", (unsigned long long)m.sequence, link);
	mfs_manifest_clear(&m);
	return 0;
}

/* Prints the newest manifest of link exactly as stored, then a newline. */
static int channel_export(struct cli *c, struct mfs_volume *v, const char *link)
{
	struct mfs_channel_list list = {0};
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	char *text = NULL;
	size_t len = 0;
	int rc, known, status = 1;

	if (mfs_link_parse(pk, link) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link (megafs://<64 hex digits>)", link);
	rc = mfs_vtxn_begin(v, 0, &t);
	if (rc != 0)
		return cli_fail(c, rc, "reading the channels");
	rc = mfs_keyring_load(t, &list);
	known = rc == 0 && mfs_keyring_find(&list, pk) >= 0;
	if (known)
		rc = mfs_channel_manifest(t, pk, &text, &len);
	mfs_vtxn_abort(t);
	errno = 0;
	if (rc == 0 && !known)
		cli_fail(c, 0, "this volume does not know %s", link);
	else if (rc == MFS_E_NOTFOUND)
		cli_fail(c, 0, "%s has no manifest in this volume yet", link);
	else if (rc != 0)
		cli_fail(c, rc, "reading the manifest of %s", link);
	else if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0)
		cli_fail(c, errno ? -errno : -EIO, "writing the manifest");
	else
		status = 0;
	mfs_wipe_free(text);
	mfs_keyring_clear(&list);
	return status;
}

/* megafs channel add LINK MAGNET [DIR]: argv[0] is "add". Everything is
 * checked before the volume opens (a bad link costs no password); the item
 * is published as a write into a mount would publish it. */
static int channel_add(struct cli *c, int argc, char **argv)
{
	const char *link = argc > 1 ? argv[1] : "", *magnet = argc > 2 ? argv[2] : "";
	const char *dir = argc > 3 ? argv[3] : "";
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_store *store;
	struct mfs_volume *vol;
	struct mfs_magnet m;
	uint64_t seq = 0;
	json_t *item;
	char why[200];
	int rc;

	if (argc < 3 || argc > 4)
		return cli_usage(c, "usage: megafs channel add LINK MAGNET [DIR]");
	if (mfs_link_parse(pk, link) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link (megafs://<64 hex digits>)", link);
	if (mfs_magnet_parse(&m, magnet, strlen(magnet), why, sizeof why) != 0)
		return cli_fail(c, 0, "not a magnet link megafs publishes: %s", why);
	if (!mfs_channel_title_valid(dir))
		return cli_fail(c, 0, "'%s' is not a directory path (names joined by single "
				"slashes, none at either end, no . or ..)", dir);
	if (!(item = json_stringn(magnet, m.len)))
		return cli_fail(c, -ENOMEM, "adding the link");
	if (cli_open_volume(c, &store, &vol) != 0) {
		json_decref(item);
		return 1;
	}
	rc = mfs_fs_publish_item(vol, pk, dir, item, &seq);
	json_decref(item);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (rc == MFS_E_NOTFOUND)
		return cli_fail(c, 0, "this volume does not know %s", link);
	if (rc == -EPERM)
		return cli_fail(c, 0, "this volume does not own %s: only its owner adds to it", link);
	if (rc == -EEXIST || rc == -EISDIR || rc == -ENOTDIR)
		return cli_fail(c, rc, "'%s%s%s' clashes with a file or directory of the channel",
				dir, dir[0] ? "/" : "", m.name);
	if (rc != 0)
		return cli_fail(c, rc, "adding the link to %s", link);
	printf("added %s%s%s (sequence %llu)\n", dir, dir[0] ? "/" : "", m.name,
	       (unsigned long long)seq);
	return 0;
}

#define CHANNEL_USAGE \
	"channel new TITLE | list | subscribe LINK [TITLE] | import FILE|- | export LINK\n" \
	"                 | add LINK MAGNET [DIR]"

int cmd_channel(int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct mfs_store *store;
	struct mfs_volume *vol;
	char *text = NULL;
	size_t len = 0;
	struct cli c;
	const char *verb;
	int opt, status;

	cli_init(&c, "channel");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		if (!cli_common_option(&c, opt, optarg))
			return 2;
	if (optind >= argc)
		return cli_usage(&c, "which? " CHANNEL_USAGE);
	verb = argv[optind];
	if (strcmp(verb, "add") == 0)
		return channel_add(&c, argc - optind, argv + optind);
	if (strcmp(verb, "new") == 0 && optind + 2 != argc)
		return cli_usage(&c, "usage: megafs channel new TITLE");
	if (strcmp(verb, "list") == 0 && optind + 1 != argc)
		return cli_usage(&c, "usage: megafs channel list");
	if (strcmp(verb, "subscribe") == 0 && (optind + 2 > argc || optind + 3 < argc))
		return cli_usage(&c, "usage: megafs channel subscribe LINK [TITLE]");
	if (strcmp(verb, "import") == 0 && optind + 2 != argc)
		return cli_usage(&c, "usage: megafs channel import FILE (- for stdin)");
	if (strcmp(verb, "export") == 0 && optind + 2 != argc)
		return cli_usage(&c, "usage: megafs channel export LINK");
	if (strcmp(verb, "new") != 0 && strcmp(verb, "list") != 0 &&
	    strcmp(verb, "subscribe") != 0 && strcmp(verb, "import") != 0 &&
	    strcmp(verb, "export") != 0)
		return cli_usage(&c, "unknown channel command '%s'", verb);
	if (strcmp(verb, "import") == 0 && (read_manifest(&c, argv[optind + 1], &text, &len) != 0 ||
					      precheck_manifest(&c, argv[optind + 1], text, len) != 0)) {
		mfs_wipe_free(text);
		return 1;
	}
	if (cli_open_volume(&c, &store, &vol) != 0) {
		mfs_wipe_free(text);
		return 1;
	}
	if (strcmp(verb, "new") == 0)
		status = channel_new(&c, vol, argv[optind + 1]);
	else if (strcmp(verb, "list") == 0)
		status = channel_list(&c, vol);
	else if (strcmp(verb, "import") == 0)
		status = channel_import(&c, vol, argv[optind + 1], text, len);
	else if (strcmp(verb, "export") == 0)
		status = channel_export(&c, vol, argv[optind + 1]);
	else
		status = channel_subscribe(&c, vol, argv[optind + 1],
					   optind + 2 < argc ? argv[optind + 2] : "");
	mfs_wipe_free(text);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status;
}
