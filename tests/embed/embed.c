/* embed: a program that uses megafs through the installed library alone
 * (<megafs.h> and pkg-config), as tests/integration/lib_embed.sh builds it:
 *
 *   cc embed.c $(pkg-config --cflags --libs megafs) -o embed
 *
 *   embed STORE new TITLE                     make a channel, print its link
 *   embed STORE publish LINK PATH FILE        publish FILE at PATH
 *   embed STORE list                          the channels the volume knows
 *   embed STORE fetch LINK PATH OUT TRACKER   fetch a file from peers
 *   embed STORE range LINK PATH OFF LEN OUT TRACKER   bytes OFF.. of it
 *   embed STORE serve TRACKER                 seed until stdin ends
 *
 * The password is MEGAFS_PASSWORD's bytes. Progress goes to stderr as
 * "progress DONE TOTAL" lines. Exits 0, or 1 saying megafs_strerror's
 * words. */
#include <megafs.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc)
{
	fprintf(stderr, "embed: %s: %s (%d)\n", what, megafs_strerror(rc), rc);
	return 1;
}

static int progress(uint64_t done, uint64_t total, void *user)
{
	int *calls = user;

	(*calls)++;
	fprintf(stderr, "progress %llu %llu\n", (unsigned long long)done,
		(unsigned long long)total);
	return 0;
}

static int new_channel(megafs *m, const char *title)
{
	char link[MEGAFS_LINK_MAX];
	int rc = megafs_channel_create(m, title, 0, link);

	if (rc != 0)
		return fail("channel_create", rc);
	printf("%s\n", link);
	return 0;
}

static int publish(megafs *m, char **argv)
{
	uint64_t seq = 0;
	int rc = megafs_publish_file(m, argv[0], argv[1], argv[2], &seq);

	if (rc != 0)
		return fail("publish_file", rc);
	printf("published %s as sequence %llu\n", argv[1], (unsigned long long)seq);
	return 0;
}

static int list(megafs *m)
{
	struct megafs_channel_info *info = NULL;
	size_t count = 0;
	int rc = megafs_channel_list(m, NULL, 0, &count);

	/* Asked with no room: the count, and -ERANGE when there are any. */
	if (rc == -ERANGE && !(info = calloc(count, sizeof *info)))
		return fail("channel_list", -ENOMEM);
	if (rc == -ERANGE)
		rc = megafs_channel_list(m, info, count, &count);
	if (rc != 0) {
		free(info);
		return fail("channel_list", rc);
	}
	for (size_t i = 0; i < count; i++)
		printf("%s %s seq=%llu %s\n", info[i].owned ? "owned" : "subscribed", info[i].link,
		       (unsigned long long)info[i].sequence, info[i].title);
	free(info);
	return 0;
}

static int fetch(megafs *m, char **argv)
{
	const char *trackers[] = {argv[3]};
	struct megafs_net_options net = {.trackers = trackers, .tracker_count = 1};
	int calls = 0, rc = megafs_fetch_file(m, argv[0], argv[1], argv[2], &net, progress, &calls);

	if (rc != 0)
		return fail("fetch_file", rc);
	printf("fetched %s into %s, progress told %d times\n", argv[1], argv[2], calls);
	return 0;
}

static int range(megafs *m, char **argv)
{
	const char *trackers[] = {argv[5]};
	struct megafs_net_options net = {.trackers = trackers, .tracker_count = 1};
	uint64_t offset = strtoull(argv[2], NULL, 10), size = 0;
	size_t len = strtoull(argv[3], NULL, 10);
	char *buf = malloc(len ? len : 1);
	FILE *out;
	int calls = 0, rc = buf ? 0 : -ENOMEM;

	if (rc == 0)
		rc = megafs_fetch_range(m, argv[0], argv[1], offset, buf, len, &net, progress,
					&calls, &size);
	if (rc == 0 && (!(out = fopen(argv[4], "wb")) || fwrite(buf, 1, len, out) != len ||
			fclose(out) != 0))
		rc = -EIO;
	free(buf);
	if (rc != 0)
		return fail("fetch_range", rc);
	printf("fetched %zu of %llu bytes at %llu\n", len, (unsigned long long)size,
	       (unsigned long long)offset);
	return 0;
}

static int serve(megafs *m, const char *tracker)
{
	const char *trackers[] = {tracker};
	struct megafs_net_options net = {.trackers = trackers, .tracker_count = 1,
					 .listen = "127.0.0.1:0"};
	megafs_server *s = NULL;
	char key[65];
	int rc = megafs_serve_start(m, &net, &s);

	if (rc != 0)
		return fail("serve_start", rc);
	megafs_serve_node_key(s, key);
	printf("serving on port %u as node %s\n", megafs_serve_port(s), key);
	fflush(stdout);
	while (getchar() != EOF)
		;
	megafs_serve_stop(s);
	printf("stopped\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *password = getenv("MEGAFS_PASSWORD");
	const char *cmd = argc > 2 ? argv[2] : "";
	megafs *m = NULL;
	int major, rc, status;

	/* The library's advice: a peer's reset must not end the process. */
	signal(SIGPIPE, SIG_IGN);
	printf("libmegafs %s\n", megafs_version(&major, NULL, NULL));
	if (!password || argc < 3) {
		fprintf(stderr, "usage: MEGAFS_PASSWORD=... embed STORE COMMAND ARGS...\n");
		return 2;
	}
	rc = megafs_open(&m, argv[1], password, strlen(password));
	if (rc != 0)
		return fail("open", rc);
	if (strcmp(cmd, "new") == 0 && argc == 4)
		status = new_channel(m, argv[3]);
	else if (strcmp(cmd, "publish") == 0 && argc == 6)
		status = publish(m, argv + 3);
	else if (strcmp(cmd, "list") == 0 && argc == 3)
		status = list(m);
	else if (strcmp(cmd, "fetch") == 0 && argc == 7)
		status = fetch(m, argv + 3);
	else if (strcmp(cmd, "range") == 0 && argc == 9)
		status = range(m, argv + 3);
	else if (strcmp(cmd, "serve") == 0 && argc == 4)
		status = serve(m, argv[3]);
	else
		status = 2;
	if (status == 2)
		fprintf(stderr, "embed: unknown command or wrong arguments: %s\n", cmd);
	rc = megafs_close(m);
	return rc != 0 ? fail("close", rc) : status;
}
