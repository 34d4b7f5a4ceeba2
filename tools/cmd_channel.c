/* megafs channel: make, list and subscribe to channels of the open volume,
 * carry their manifests between volumes (import, export), show what a
 * manifest holds, add magnet links to an owned one (add), and say who reads
 * a private channel (grant, revoke, rekey). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/channel/grant.h"
#include "fs/channel/magnet.h"
#include "fs/fuse/fs.h"
#include "fs/store/keyring.h"
#include "net/swarm.h"
#include "tools/cli.h"

/* Prints the link of channel pk as its owner hands it out: with the read
 * key for a private channel. */
static int print_link(struct cli *c, struct mfs_volume *v, const uint8_t *pk)
{
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret);
	char *link = mfs_secure_alloc(MFS_LINK_FULL_BYTES);
	struct mfs_channel ch;
	int rc = secret && link ? mfs_channel_find(v, pk, &ch, secret) : -ENOMEM;

	if (rc == 0 && ch.sealed)
		mfs_link_format_private(link, pk, ch.has_read_key ? secret->read_key : NULL);
	else if (rc == 0)
		mfs_link_format(link, pk);
	if (rc == 0)
		printf("%s\n", link);
	mfs_secure_free(secret);
	mfs_secure_free(link);
	return rc == 0 ? 0 : cli_fail(c, rc, "reading the channels");
}

static int channel_new(struct cli *c, struct mfs_volume *v, const char *title, int public)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc == 0) {
		rc = public ? mfs_keyring_new_channel(t, title, pk) :
			mfs_keyring_new_private(t, title, pk);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	if (rc != 0)
		return cli_fail(c, rc, "creating channel \"%s\"", title);
	return print_link(c, v, pk);
}

#define LINK_HELP "megafs://<64 hex digits>, then #<read key: 64 hex digits> or #grant " \
	"for a private channel"

static void say_forgotten(void *ctx, const char *kind, const char *text)
{
	(void)ctx;
	printf("forgot %s %s\n", kind, text);
}

/* The channel link names, in pk and shown (its link as printed), when the
 * volume knows it: 0, else the command's status (the error printed). */
static int known_channel(struct cli *c, struct mfs_volume *v, const char *link,
			 uint8_t pk[static MFS_SIGN_PK_BYTES], char shown[static MFS_LINK_BYTES])
{
	int rc;

	if (mfs_link_parse(pk, link) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link (" LINK_HELP ")", link);
	mfs_link_format(shown, pk);
	rc = mfs_channel_find(v, pk, NULL, NULL);
	if (rc == MFS_E_NOTFOUND)
		return cli_fail(c, 0, "this volume does not know %s", shown);
	return rc == 0 ? 0 : cli_fail(c, rc, "reading the channels");
}

/* Forgets trackers and peers the volume remembers for link's channel:
 * those named, or all of them. */
static int channel_forget(struct cli *c, struct mfs_volume *v, const char *link,
			  const char *const *what, size_t n)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	char shown[MFS_LINK_BYTES];
	size_t unknown;
	int rc = known_channel(c, v, link, pk, shown);

	if (rc != 0)
		return rc;
	rc = mfs_swarm_forget(v, pk, what, n, say_forgotten, NULL, &unknown);
	if (rc == MFS_E_NOTFOUND)
		return cli_fail(c, 0, "%s remembers no tracker or peer '%s' (nothing was forgotten; "
				"a peer is named HOST:PORT, a tracker by its whole URL)", shown,
				what[unknown]);
	if (rc != 0)
		return cli_fail(c, rc, "forgetting for %s", shown);
	return 0;
}

static void say_bootstrap_line(void *ctx, const char *kind, const char *text)
{
	++*(size_t *)ctx;
	printf("%s %s\n", kind, text);
}

/* Prints a bootstrap file (net/bootstrap) of the trackers and peers the
 * volume remembers for link's channel: what `--bootstrap FILE` takes. */
static int channel_bootstrap(struct cli *c, struct mfs_volume *v, const char *link)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	char shown[MFS_LINK_BYTES];
	size_t count = 0;
	int rc = known_channel(c, v, link, pk, shown);

	if (rc != 0)
		return rc;
	printf("# megafs bootstrap: ways into %s (megafs ... --bootstrap FILE)\n", shown);
	rc = mfs_swarm_remembered(v, pk, say_bootstrap_line, &count);
	if (rc != 0)
		return cli_fail(c, rc, "reading what is remembered for %s", shown);
	if (fflush(stdout) != 0)
		return cli_fail(c, -errno, "writing the bootstrap file");
	if (count == 0)
		return cli_fail(c, 0, "this volume remembers no tracker or peer for %s yet (they are "
				"remembered when a mount, fetch or serve of it stops)", shown);
	return 0;
}

static int channel_subscribe(struct cli *c, struct mfs_volume *v, const char *link,
			     const char *title)
{
	struct mfs_link *l = mfs_secure_alloc(sizeof *l);
	char shown[MFS_LINK_BYTES];
	int rc = l ? 0 : -ENOMEM, subscribed = 0;

	if (rc == 0 && mfs_link_parse_full(l, link) != 0) {
		mfs_secure_free(l);
		return cli_fail(c, 0, "'%s' is not a channel link (" LINK_HELP ")", link);
	}
	if (rc == 0) {
		mfs_link_format(shown, l->pk);
		rc = mfs_channel_know(v, l, title, &subscribed, NULL);
	}
	if (rc == 0 && !subscribed && l->kind == MFS_LINK_PUBLIC)
		rc = MFS_E_EXISTS;
	mfs_secure_free(l);
	if (rc == MFS_E_EXISTS)
		return cli_fail(c, 0, "this volume already knows %s", shown);
	if (rc != 0)
		return cli_fail(c, rc, "subscribing to %s", shown);
	printf("%s %s\n", subscribed ? "subscribed to" : "keys kept for", shown);
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
		printf("%-10s %s seq=%llu %s%s\n", ch->owned ? "owned" : "subscribed", link,
		       (unsigned long long)ch->sequence, ch->title,
		       !ch->sealed ? "" : ch->has_read_key ? " (private)" : " (private, by grant)");
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

/* Prints the newest manifest of link exactly as stored (signed; sealed for
 * a private channel), or as its readers see it (opened), then a newline. */
static int channel_export(struct cli *c, struct mfs_volume *v, const char *link, int opened)
{
	struct mfs_channel_list list = {0};
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_vtxn *t;
	char *text = NULL;
	size_t len = 0;
	int rc, known, status = 1;

	if (mfs_link_parse(pk, link) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link (" LINK_HELP ")", link);
	rc = mfs_vtxn_begin(v, 0, &t);
	if (rc != 0)
		return cli_fail(c, rc, "reading the channels");
	rc = mfs_keyring_load(t, &list);
	known = rc == 0 && mfs_keyring_find(&list, pk) >= 0;
	if (known)
		rc = (opened ? mfs_channel_plain : mfs_channel_manifest)(t, pk, &text, &len);
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
	rc = mfs_fs_publish_item(vol, pk, dir, item, NULL, &seq);
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Publishes the channel's newest collections again (sequence + 1) in t, so
 * that a change of its readers takes effect now; *seq receives it. */
static int republish(struct mfs_vtxn *t, const uint8_t *pk, uint64_t *seq)
{
	struct mfs_manifest m = {0};
	uint64_t stamp = now_ms();
	json_t *cols;
	int rc = mfs_channel_open(t, pk, &m);

	if (rc == MFS_E_NOTFOUND) {
		rc = 0;
		cols = json_array();
	} else {
		cols = rc == 0 ? json_incref(m.collections) : NULL;
	}
	if (rc == 0 && !cols)
		rc = -ENOMEM;
	if (rc == 0 && stamp <= m.timestamp)
		stamp = m.timestamp + 1;
	if (rc == 0)
		rc = mfs_channel_publish(t, pk, cols, stamp, seq);
	json_decref(cols);
	mfs_manifest_clear(&m);
	return rc;
}

/* "30d", "12h", "5m", "10s": *ms, or -1 for bad text. */
static int parse_duration(const char *text, uint64_t *ms)
{
	static const struct {
		char unit;
		uint64_t ms;
	} units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
	char *end = NULL;
	unsigned long long n;

	if (!text || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || n == 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (end[0] == units[i].unit && n <= UINT64_MAX / 2 / units[i].ms) {
			*ms = n * units[i].ms;
			return 0;
		}
	return -1;
}

enum access_verb { GRANT, REVOKE, REKEY };

/* grant, revoke, rekey: change who reads owned private channel link, then
 * publish its collections again so the change holds from now on. */
static int channel_access(struct cli *c, struct mfs_volume *v, enum access_verb verb,
			  const char *link, const uint8_t *to, uint64_t expires_ms)
{
	uint8_t pk[MFS_SIGN_PK_BYTES], *fresh = mfs_secure_alloc(MFS_READ_KEY_LEN);
	char shown[MFS_LINK_BYTES], key_hex[2 * MFS_BOX_KEY_BYTES + 1];
	struct mfs_channel ch;
	struct mfs_vtxn *t = NULL;
	uint64_t seq = 0;
	int rc = fresh ? 0 : -ENOMEM;

	if (rc == 0 && mfs_link_parse(pk, link) != 0) {
		mfs_secure_free(fresh);
		return cli_fail(c, 0, "'%s' is not a channel link (" LINK_HELP ")", link);
	}
	if (rc == 0) {
		mfs_link_format(shown, pk);
		rc = mfs_channel_find(v, pk, &ch, NULL);
	}
	if (rc == MFS_E_NOTFOUND || (rc == 0 && !ch.owned) || (rc == 0 && !ch.sealed)) {
		mfs_secure_free(fresh);
		if (rc != 0)
			return cli_fail(c, 0, "this volume does not know %s", shown);
		if (!ch.owned)
			return cli_fail(c, 0, "%s is not this volume's channel: only its owner says "
					"who reads it", shown);
		return cli_fail(c, 0, "%s is a public channel: anyone reads it, there is nothing "
				"to grant, revoke or rekey (make a private one with 'megafs channel "
				"new TITLE')", shown);
	}
	if (rc == 0)
		rc = mfs_vtxn_begin(v, 1, &t);
	if (rc == 0 && verb == GRANT)
		rc = mfs_grants_put(t, pk, to, expires_ms);
	else if (rc == 0 && verb == REVOKE)
		rc = mfs_grants_remove(t, pk, to);
	else if (rc == 0) {
		mfs_random(fresh, MFS_READ_KEY_LEN);
		rc = mfs_keyring_set_private(t, pk, fresh);
	}
	if (rc == 0)
		rc = republish(t, pk, &seq);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	mfs_secure_free(fresh);
	if (to)
		mfs_hex_encode(key_hex, to, MFS_BOX_KEY_BYTES);
	if (rc == MFS_E_NOTFOUND && verb == REVOKE)
		return cli_fail(c, 0, "%s has no grant to %s: nothing to revoke", shown, key_hex);
	if (rc == MFS_E_FULL && verb == GRANT)
		return cli_fail(c, 0, "%s has %d grants, the most a channel may have: revoke some "
				"first", shown, MFS_SEALED_MAX_GRANTS);
	if (rc != 0)
		return cli_fail(c, rc, "changing who reads %s", shown);
	if (verb == GRANT) {
		time_t until = (time_t)(expires_ms / 1000);
		char when[64];

		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&until));
		printf("%s#%s\n", shown, MFS_LINK_GRANT);
		fprintf(stderr, "granted to %s until %s (manifest %llu published for it: the grantee "
			"mounts the link above)\n", key_hex, when, (unsigned long long)seq);
		return 0;
	}
	if (verb == REVOKE) {
		fprintf(stderr, "revoked %s: manifest %llu and every later one are sealed without "
			"it (what it read before stays readable to it)\n", key_hex,
			(unsigned long long)seq);
		return 0;
	}
	fprintf(stderr, "new read key: manifest %llu and every later one open only with the link "
		"below (holders of the old link keep what they read before)\n",
		(unsigned long long)seq);
	return print_link(c, v, pk);
}

#define CHANNEL_USAGE \
	"channel new [--public] TITLE | list | subscribe LINK [TITLE] | import FILE|- |\n" \
	"                 export LINK | show LINK | add LINK MAGNET [DIR] |\n" \
	"                 grant LINK --to KEY --expires DURATION | revoke LINK --to KEY | rekey LINK |\n" \
	"                 forget LINK [TRACKER-URL|PEER]... | bootstrap LINK"

/* Verbs and how many words each takes after "channel": min and max. */
static const struct {
	const char *verb;
	int min, max;
	const char *usage;
} verbs[] = {
	{"new", 2, 2, "new [--public] TITLE"},
	{"list", 1, 1, "list"},
	{"subscribe", 2, 3, "subscribe LINK [TITLE]"},
	{"import", 2, 2, "import FILE (- for stdin)"},
	{"export", 2, 2, "export LINK"},
	{"show", 2, 2, "show LINK"},
	{"grant", 2, 2, "grant LINK --to KEY --expires DURATION (e.g. 30d, 12h, 10s)"},
	{"revoke", 2, 2, "revoke LINK --to KEY"},
	{"rekey", 2, 2, "rekey LINK"},
	{"forget", 2, 2 + 64, "forget LINK [TRACKER-URL|HOST:PORT]... (none: every one remembered)"},
	{"bootstrap", 2, 2, "bootstrap LINK (prints a file for --bootstrap)"},
};

int cmd_channel(int argc, char **argv)
{
	static const struct option options[] = {
		{"public", no_argument, NULL, 'P'},
		{"to", required_argument, NULL, 'T'},
		{"expires", required_argument, NULL, 'E'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	uint8_t to[MFS_BOX_KEY_BYTES];
	const char *to_text = NULL, *expires = NULL;
	struct mfs_store *store;
	struct mfs_volume *vol;
	uint64_t duration = 0;
	char *text = NULL;
	size_t len = 0, vi;
	struct cli c;
	const char *verb;
	int opt, status, public = 0, words;

	cli_init(&c, "channel");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'P')
			public = 1;
		else if (opt == 'T')
			to_text = optarg;
		else if (opt == 'E')
			expires = optarg;
		else if (!cli_common_option(&c, opt, optarg))
			return 2;
	}
	if (optind >= argc)
		return cli_usage(&c, "which? " CHANNEL_USAGE);
	verb = argv[optind];
	if (strcmp(verb, "add") == 0)
		return channel_add(&c, argc - optind, argv + optind);
	words = argc - optind;
	for (vi = 0; vi < sizeof verbs / sizeof verbs[0]; vi++)
		if (strcmp(verb, verbs[vi].verb) == 0)
			break;
	if (vi == sizeof verbs / sizeof verbs[0])
		return cli_usage(&c, "unknown channel command '%s'", verb);
	if (words < verbs[vi].min || words > verbs[vi].max)
		return cli_usage(&c, "usage: megafs channel %s", verbs[vi].usage);
	if (public && strcmp(verb, "new") != 0)
		return cli_usage(&c, "--public is for 'channel new' only");
	if (to_text && strcmp(verb, "grant") != 0 && strcmp(verb, "revoke") != 0)
		return cli_usage(&c, "--to is for 'channel grant' and 'channel revoke' only");
	if (expires && strcmp(verb, "grant") != 0)
		return cli_usage(&c, "--expires is for 'channel grant' only");
	if ((strcmp(verb, "grant") == 0 || strcmp(verb, "revoke") == 0) &&
	    (!to_text || mfs_hex_decode(to, sizeof to, to_text) != 0))
		return cli_usage(&c, "%s: --to KEY: the subscriber's key, 64 hex digits ('megafs id' "
				 "prints it on the subscriber's volume)", verb);
	if (strcmp(verb, "grant") == 0 && parse_duration(expires, &duration) != 0)
		return cli_usage(&c, "grant: --expires DURATION: a number and s, m, h or d (e.g. 30d)");
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
		status = channel_new(&c, vol, argv[optind + 1], public);
	else if (strcmp(verb, "list") == 0)
		status = channel_list(&c, vol);
	else if (strcmp(verb, "import") == 0)
		status = channel_import(&c, vol, argv[optind + 1], text, len);
	else if (strcmp(verb, "export") == 0)
		status = channel_export(&c, vol, argv[optind + 1], 0);
	else if (strcmp(verb, "show") == 0)
		status = channel_export(&c, vol, argv[optind + 1], 1);
	else if (strcmp(verb, "grant") == 0)
		status = channel_access(&c, vol, GRANT, argv[optind + 1], to, now_ms() + duration);
	else if (strcmp(verb, "revoke") == 0)
		status = channel_access(&c, vol, REVOKE, argv[optind + 1], to, 0);
	else if (strcmp(verb, "rekey") == 0)
		status = channel_access(&c, vol, REKEY, argv[optind + 1], NULL, 0);
	else if (strcmp(verb, "bootstrap") == 0)
		status = channel_bootstrap(&c, vol, argv[optind + 1]);
	else if (strcmp(verb, "forget") == 0)
		status = channel_forget(&c, vol, argv[optind + 1], (const char *const *)argv + optind + 2,
					(size_t)(argc - optind - 2));
	else
		status = channel_subscribe(&c, vol, argv[optind + 1],
					   optind + 2 < argc ? argv[optind + 2] : "");
	mfs_wipe_free(text);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status;
}
