/* megafs fetch: one file of a channel, from peers, to a local file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/outfile.h"
#include "fs/channel/channel.h"
#include "fs/fuse/lookup.h"
#include "fs/fuse/reader.h"
#include "fs/store/keyring.h"
#include "tools/cli.h"
#include "tools/netopts.h"

#define MANIFEST_WAIT_MS 30000u
/* With --dht: a DHT's bootstrap, its get and its get_peers are lookups of
 * several seconds each before the manifest's blob is asked (a lookup
 * waits out the timeouts of nodes gone since they were known). */
#define MANIFEST_WAIT_DHT_MS 90000u

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Subscribes to link's channel when the volume does not know it yet, and
 * keeps the read key (or grant) the link carries. */
static int know_channel(struct cli *c, struct mfs_volume *vol, const struct mfs_link *l,
			const char *link)
{
	int subscribed, rc = mfs_channel_know(vol, l, "", &subscribed, NULL);

	if (rc != 0)
		return cli_fail(c, rc, "subscribing to %s", link);
	if (subscribed)
		fprintf(stderr, "megafs fetch: subscribed to %s\n", link);
	return 0;
}

/* The FileEntry at path in the newest manifest of pk (fs/fuse/lookup). */
static int find_entry(struct cli *c, struct mfs_volume *vol, const uint8_t *pk, const char *path,
		      struct mfs_file_entry *out)
{
	char why[160] = "";
	int rc = mfs_lookup_entry(vol, pk, path, out, why, sizeof why);

	if (rc != 0 && rc != MFS_E_NOTFOUND)
		cli_fail(c, rc, "the channel's manifest%s%s", why[0] ? ": " : "", why);
	return rc;
}

static void progress(uint64_t done, uint64_t total, double started)
{
	char have[32], all[32], rate[32];
	double secs = now_s() - started;

	cli_human_bytes(have, sizeof have, done);
	cli_human_bytes(all, sizeof all, total);
	cli_human_bytes(rate, sizeof rate, secs > 0 ? (uint64_t)((double)done / secs) : 0);
	fprintf(stderr, "\r%3u%%  %s of %s  %s/s   ",
		total ? (unsigned)(done * 100 / total) : 100u, have, all, rate);
}

/* The disk of out_path has no room: says how much the file needs, how much
 * is free, and what to do. done: the bytes written when it filled up. */
static int no_room(struct cli *c, int fd, const char *out_path, int err, uint64_t size,
		   uint64_t done, int reserving)
{
	struct statvfs sv;
	char need[32], avail[32] = "?", at[32];

	cli_human_bytes(need, sizeof need, size);
	cli_human_bytes(at, sizeof at, done);
	if (fstatvfs(fd, &sv) == 0)
		cli_human_bytes(avail, sizeof avail, (uint64_t)sv.f_bavail * sv.f_frsize);
	if (reserving)
		return cli_fail(c, 0, "no room for %s: the file is %s and its disk has %s free (%s); "
				"nothing was fetched or kept: free space there, or give -o a path "
				"on a disk with room", out_path, need, avail, mfs_strerror(err));
	return cli_fail(c, 0, "the disk of %s filled up after %s of %s (%s); the partial file "
			"is removed and nothing else changed: free space there, or give -o a "
			"path on a disk with room, and fetch again", out_path, at, need,
			mfs_strerror(err));
}

/* Takes the file's room on its disk before anything is fetched: a disk too
 * small fails now, not after a long download, and no other writer can fill
 * it up under the fetch. A filesystem that cannot reserve (ext2, some FUSE
 * and network ones) is written without: its fill-up shows in the writes. */
static int reserve_room(struct cli *c, int fd, const char *out_path, uint64_t size)
{
	int err;

	if (size == 0 || fallocate(fd, 0, 0, (off_t)size) == 0)
		return 0;
	err = -errno;
	if (err == -EOPNOTSUPP || err == -ENOSYS)
		return 0;
	if (err == -ENOSPC || err == -EDQUOT)
		return no_room(c, fd, out_path, err, size, 0, 1);
	return cli_fail(c, err, "reserving %llu bytes for %s", (unsigned long long)size, out_path);
}

/* What the terminal is shown of a fetch: at most every 0.2 s. */
struct shown {
	uint64_t total;
	double started, last;
};

static int show_progress(void *ctx, uint64_t done)
{
	struct shown *s = ctx;

	if (now_s() - s->last > 0.2 || done == s->total) {
		progress(done, s->total, s->started);
		s->last = now_s();
	}
	return 0;
}

/* Reads the whole file through the reader (read-ahead keeps many blobs in
 * flight across the peers) into fd. */
static int copy_out(struct cli *c, struct mfs_reader *r, const struct mfs_file_entry *e,
		    struct mfs_outfile *dest, const char *out_path,
		    const struct mfs_socks5_proxy *proxy)
{
	const int fd = dest->fd;
	struct mfs_rfile *f = NULL;
	struct shown shown = {.total = e->size, .started = now_s()};
	int tty = isatty(STDERR_FILENO), rc;
	uint64_t off = 0;

	rc = mfs_rfile_open(&f, r, e);
	if (rc == 0)
		rc = mfs_rfile_copy_fd(f, 0, e->size, fd, tty ? show_progress : NULL, &shown, &off);
	if (tty)
		fputc('\n', stderr);
	if (rc == 0)
		rc = mfs_outfile_sync(dest);
	if (rc == -ENOSPC || rc == -EDQUOT)
		no_room(c, fd, out_path, rc, e->size, off, 0);
	else if (rc == MFS_E_NOTFOUND)
		cli_fail(c, 0, "fetching into %s (at byte %llu): no peer could deliver it (every peer "
			 "lacks it or failed to prove its key)", out_path, (unsigned long long)off);
	else if (rc == -ETIMEDOUT)
		cli_fail(c, 0, "fetching into %s (at byte %llu): no peer answered in time", out_path,
			 (unsigned long long)off);
	else if (rc == MFS_E_PROXY && proxy)
		cli_fail(c, 0, "fetching into %s (at byte %llu): the proxy at %s:%u refused every "
			 "connection to the peers and trackers known (the lines above say why)",
			 out_path, (unsigned long long)off, proxy->host, proxy->port);
	else if (rc != 0)
		cli_fail(c, rc, "fetching into %s (at byte %llu)", out_path, (unsigned long long)off);
	mfs_rfile_close(f);
	return rc;
}

int cmd_fetch(int argc, char **argv)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		CLI_COMMON_OPTIONS,
		NET_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct net_opts net = {0};
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_swarm *swarm = NULL;
	struct mfs_reader *reader = NULL;
	struct mfs_file_entry entry = {0};
	struct mfs_link *l = NULL;
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_outfile dest = {.fd = -1};
	char link[MFS_LINK_BYTES];
	const char *out = NULL;
	int opt, status;
	struct cli c;

	cli_init(&c, "fetch");
	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		if (opt == 'o') {
			out = optarg;
			continue;
		}
		status = net_option(&c, &net, opt, optarg);
		if (status != 1)
			return status ? status : 2;
	}
	if (net.listen)
		return cli_usage(&c, "--listen: megafs fetch serves nobody (see megafs serve)");
	if ((status = net_check(&c, &net)) != 0)
		return status;
	if (optind + 2 != argc || !out)
		return cli_usage(&c, "usage: megafs fetch LINK PATH -o OUT [--tracker URL]... "
				 "[--peer ADDR]... [--dht] [--dht-bootstrap HOST:PORT]...");
	if (!(l = mfs_secure_alloc(sizeof *l)))
		return cli_fail(&c, -ENOMEM, "reading the link");
	if (mfs_link_parse_full(l, argv[optind]) != 0) {
		mfs_secure_free(l);
		return cli_usage(&c, "'%s' is not a channel link (megafs://<64 hex digits>, then "
				 "#<read key: 64 hex digits> or #grant for a private channel)",
				 argv[optind]);
	}
	memcpy(pk, l->pk, sizeof pk);
	mfs_link_format(link, pk);
	if (cli_open_volume(&c, &store, &vol) != 0) {
		mfs_secure_free(l);
		return 1;
	}
	status = know_channel(&c, vol, l, link);
	mfs_secure_free(l);
	if (status == 0)
		status = net_start(&c, &net, vol, NULL, (const uint8_t(*)[MFS_SIGN_PK_BYTES])&pk, 1,
				   NULL, NULL, &swarm);
	if (status == 0 && !swarm)
		status = cli_fail(&c, 0, "no tracker or peer is known for %s: give --tracker, "
				  "--peer or --dht", link);
	if (status == 0 && (status = mfs_swarm_wait_manifest(
					    swarm, pk, net.dht ? MANIFEST_WAIT_DHT_MS : MANIFEST_WAIT_MS)) != 0)
		status = status == MFS_E_NOKEY ? cli_fail(&c, 0, "%s: %s", link, mfs_strerror(status))
			: status == MFS_E_PROXY && net.proxy
			? cli_fail(&c, 0, "no manifest of %s: the proxy at %s:%u refused every "
				   "connection to the trackers (the lines above say why)", link,
				   net.proxy->host, net.proxy->port)
			: cli_fail(&c, -ETIMEDOUT, "no manifest of %s came from the trackers or "
				     "the DHT", link);
	if (status == 0) {
		status = find_entry(&c, vol, pk, argv[optind + 1], &entry);
		if (status == MFS_E_NOTFOUND)
			status = cli_fail(&c, 0, "%s: no such file in %s", argv[optind + 1], link);
	}
	if (status == 0) {
		const struct mfs_reader_config reading =
			mfs_reader_download_config(entry.chunk_size);
		struct mfs_blob_fetcher fetcher = {
			.fetch = mfs_swarm_fetcher, .ctx = swarm, .verifies = 1};
		status = mfs_reader_new(&reader, vol, NULL, &fetcher, &reading);
		if (status != 0)
			cli_fail(&c, status, "starting the reader");
	}
	/* Written beside the target and renamed when whole: a failed fetch
	 * leaves no truncated file under the asked name (fs/blob/outfile.h). */
	if (status == 0 && (status = mfs_outfile_open(&dest, out, 0644)) != 0)
		status = cli_fail(&c, status, "%s", out);
	if (status == 0 && !dest.in_place)
		status = reserve_room(&c, dest.fd, out, entry.size);
	if (status == 0)
		status = copy_out(&c, reader, &entry, &dest, out, net.proxy);
	if (dest.fd >= 0 && status != 0)
		mfs_outfile_close(&dest, status);
	else if (dest.fd >= 0 && (status = mfs_outfile_close(&dest, 0)) != 0)
		status = cli_fail(&c, status, "%s", out);
	mfs_reader_free(reader);
	mfs_swarm_stop(swarm);
	mfs_entry_clear(&entry);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status ? 1 : 0;
}
