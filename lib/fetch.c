/* fetch: a file or a byte range of a channel's file, for libmegafs
 * (include/megafs.h), as `megafs fetch` gets one: the channel known (or
 * subscribed to), its newest manifest awaited from the trackers
 * (net/swarm), the file looked up as a mount shows it (fs/fuse/lookup),
 * and read through fs/fuse/reader, whose read-ahead keeps many blobs in
 * flight across the peers. With no network the volume's blobs alone are
 * read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/outfile.h"
#include "fs/channel/channel.h"
#include "fs/fuse/lookup.h"
#include "fs/fuse/reader.h"
#include "fs/store/keyring.h"
#include "lib/lib_internal.h"

#define MANIFEST_WAIT_MS 30000u

/* One file of a channel, open for reading, with the network it needs. */
struct fetch {
	uint8_t pk[MFS_SIGN_PK_BYTES]; /* the channel: the swarm's, until it stops */
	struct mfs_swarm *swarm;       /* NULL: the volume's blobs alone */
	struct mfs_reader *reader;
	struct mfs_rfile *file;
	struct mfs_file_entry entry;
};

/* With a network given, makes the volume know link's channel (subscribing,
 * keeping the read key a link carries), as megafs fetch does; without
 * one, the volume must know it already. */
static int know(struct megafs *m, const char *link, const struct megafs_net_options *net,
		uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	struct mfs_link *l = mfs_secure_alloc(sizeof *l);
	int rc = l ? 0 : -ENOMEM, subscribed;

	if (rc == 0 && mfs_link_parse_full(l, link) != 0)
		rc = MFS_E_FORMAT;
	if (rc == 0) {
		memcpy(pk, l->pk, MFS_SIGN_PK_BYTES);
		rc = net && (net->tracker_count > 0 || net->peer_count > 0)
			     ? mfs_channel_know(m->vol, l, "", &subscribed, NULL)
			     : mfs_channel_find(m->vol, pk, NULL, NULL);
	}
	mfs_secure_free(l);
	return rc;
}

/* Closes what f holds; f is empty after (closing it again does nothing). */
static void fetch_close(struct fetch *f)
{
	/* The reader before the swarm: no fetch may outlive what it feeds. */
	mfs_rfile_close(f->file);
	mfs_reader_free(f->reader);
	mfs_swarm_stop(f->swarm);
	mfs_entry_clear(&f->entry);
	memset(f, 0, sizeof *f);
}

static int fetch_open(struct megafs *m, const char *link, const char *path,
		      const struct megafs_net_options *net, struct fetch *f)
{
	struct mfs_swarm_config cfg = lib_swarm_config(m, net);
	struct mfs_blob_fetcher fetcher = {.fetch = mfs_swarm_fetcher, .verifies = 1};
	struct mfs_reader_config reading;
	int rc;

	memset(f, 0, sizeof *f);
	rc = know(m, link, net, f->pk);
	cfg.channels = (const uint8_t(*)[MFS_SIGN_PK_BYTES])f->pk;
	cfg.n_channels = 1;
	if (rc == 0)
		rc = mfs_swarm_start(&f->swarm, &cfg);
	if (rc == 0 && f->swarm)
		rc = mfs_swarm_wait_manifest(f->swarm, f->pk,
					     net && net->timeout_ms ? net->timeout_ms
								    : MANIFEST_WAIT_MS);
	if (rc == 0)
		rc = mfs_lookup_entry(m->vol, f->pk, path, &f->entry, NULL, 0);
	if (rc == 0) {
		reading = mfs_reader_download_config(f->entry.chunk_size);
		fetcher.ctx = f->swarm;
		rc = mfs_reader_new(&f->reader, m->vol, NULL, f->swarm ? &fetcher : NULL, &reading);
	}
	if (rc == 0)
		rc = mfs_rfile_open(&f->file, f->reader, &f->entry);
	if (rc != 0)
		fetch_close(f);
	return rc;
}

/* The caller's progress callback, as the reader's copy calls one. */
struct told {
	megafs_progress_cb progress;
	void *user;
	uint64_t total;
};

static int tell(void *ctx, uint64_t done)
{
	struct told *t = ctx;

	return t->progress(done, t->total, t->user);
}

/* An empty file or range is told once, 0 of 0 (the header promises a last
 * call with done == total). */
static int tell_empty(const struct told *t)
{
	return t->progress && t->progress(0, 0, t->user) != 0 ? -ECANCELED : 0;
}

/* Reads [offset, offset + len) of f into buf, a piece at a time, telling
 * progress after each. */
static int read_range(struct fetch *f, uint64_t offset, uint64_t len, uint8_t *buf,
		      struct told *t)
{
	uint64_t done = 0;
	int rc = 0;

	while (rc == 0 && done < len) {
		size_t want = len - done < MFS_RFILE_COPY_PIECE ? (size_t)(len - done)
								: MFS_RFILE_COPY_PIECE;
		ssize_t n = mfs_rfile_read(f->file, offset + done, want, buf + done);

		if (n <= 0) {
			rc = n < 0 ? (int)n : MFS_E_CORRUPT;
			break;
		}
		done += (uint64_t)n;
		if (t->progress && tell(t, done) != 0)
			rc = -ECANCELED;
	}
	return rc == 0 && len == 0 ? tell_empty(t) : rc;
}

MEGAFS_API int megafs_fetch_file(megafs *m, const char *link, const char *path,
				 const char *local_path, const struct megafs_net_options *net,
				 megafs_progress_cb progress, void *user)
{
	struct told t = {progress, user, 0};
	struct mfs_outfile dest = {.fd = -1};
	struct fetch f;
	int rc;

	if (!m || !link || !path || !local_path)
		return -EINVAL;
	if ((rc = lib_net_check(net, 0)) != 0)
		return rc;
	rc = fetch_open(m, link, path, net, &f);
	if (rc != 0)
		return rc;
	rc = mfs_outfile_open(&dest, local_path, 0644);
	t.total = rc == 0 ? f.entry.size : 0;
	if (rc == 0)
		rc = mfs_rfile_copy_fd(f.file, 0, t.total, dest.fd, progress ? tell : NULL, &t, NULL);
	if (rc == 0 && t.total == 0)
		rc = tell_empty(&t);
	if (dest.fd >= 0)
		rc = mfs_outfile_close(&dest, rc);
	fetch_close(&f);
	return rc;
}

MEGAFS_API int megafs_fetch_range(megafs *m, const char *link, const char *path,
				  uint64_t offset, void *buf, size_t len,
				  const struct megafs_net_options *net, megafs_progress_cb progress,
				  void *user, uint64_t *file_size)
{
	struct told t = {progress, user, len};
	struct fetch f;
	int rc;

	if (!m || !link || !path || (!buf && len > 0))
		return -EINVAL;
	if ((rc = lib_net_check(net, 0)) != 0)
		return rc;
	rc = fetch_open(m, link, path, net, &f);
	if (rc != 0)
		return rc;
	if (file_size)
		*file_size = f.entry.size;
	if (offset > f.entry.size || len > f.entry.size - offset)
		rc = -ERANGE;
	else
		rc = read_range(&f, offset, len, buf, &t);
	fetch_close(&f);
	return rc;
}
