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
#include "fs/channel/channel.h"
#include "fs/fuse/lookup.h"
#include "fs/fuse/reader.h"
#include "fs/store/keyring.h"
#include "lib/lib_internal.h"

#define MANIFEST_WAIT_MS 30000u
#define PIECE_BYTES (1u << 20)   /* read, written and reported at a time */
/* Chunks in flight ahead of the reader: tools/cmd_fetch.c's measure. */
#define FETCH_AHEAD 8u

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
	struct mfs_reader_config reading = {.readahead_chunks = FETCH_AHEAD, .workers = 8};
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
		/* A download reads each byte once: the segment cache need hold
		 * only the read-ahead window. */
		reading.cache_bytes = (FETCH_AHEAD + 2) * (size_t)f->entry.chunk_size;
		fetcher.ctx = f->swarm;
		rc = mfs_reader_new(&f->reader, m->vol, NULL, f->swarm ? &fetcher : NULL, &reading);
	}
	if (rc == 0)
		rc = mfs_rfile_open(&f->file, f->reader, &f->entry);
	if (rc != 0)
		fetch_close(f);
	return rc;
}

/* Where a fetch's bytes go: a file descriptor, or a buffer. */
struct out {
	int fd;                        /* -1: to buf */
	uint8_t *buf;
};

/* Reads [offset, offset + len) of f into out, piece by piece, telling
 * progress after each. */
static int copy_range(struct fetch *f, uint64_t offset, uint64_t len, struct out *out,
		      megafs_progress_cb progress, void *user)
{
	uint8_t *piece = out->fd >= 0 ? malloc(PIECE_BYTES) : NULL;
	uint64_t done = 0;
	int rc = out->fd >= 0 && !piece ? -ENOMEM : 0;

	while (rc == 0 && done < len) {
		size_t want = len - done < PIECE_BYTES ? (size_t)(len - done) : PIECE_BYTES;
		uint8_t *to = out->fd >= 0 ? piece : out->buf + done;
		ssize_t n = mfs_rfile_read(f->file, offset + done, want, to);

		if (n <= 0) {
			rc = n < 0 ? (int)n : MFS_E_CORRUPT;
			break;
		}
		for (ssize_t put = 0, w; out->fd >= 0 && put < n; put += w) {
			w = write(out->fd, piece + put, (size_t)(n - put));
			if (w < 0 && errno == EINTR) {
				w = 0;
			} else if (w < 0) {
				rc = -errno;
				break;
			}
		}
		done += (uint64_t)n;
		if (rc == 0 && progress && progress(done, len, user) != 0)
			rc = -ECANCELED;
	}
	if (rc == 0 && len == 0 && progress && progress(0, 0, user) != 0)
		rc = -ECANCELED;
	free(piece);
	return rc;
}

MEGAFS_API int megafs_fetch_file(megafs *m, const char *link, const char *path,
				 const char *local_path, const struct megafs_net_options *net,
				 megafs_progress_cb progress, void *user)
{
	struct out out = {.fd = -1};
	struct fetch f;
	char *part = NULL;
	int rc;

	if (!m || !link || !path || !local_path)
		return -EINVAL;
	if ((rc = lib_net_check(net, 0)) != 0)
		return rc;
	if (asprintf(&part, "%s.part", local_path) < 0)
		return -ENOMEM;
	rc = fetch_open(m, link, path, net, &f);
	if (rc == 0 && (out.fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = copy_range(&f, 0, f.entry.size, &out, progress, user);
	if (rc == 0 && fsync(out.fd) != 0)
		rc = -errno;
	if (out.fd >= 0 && close(out.fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(part, local_path) != 0)
		rc = -errno;
	if (rc != 0 && out.fd >= 0)
		unlink(part);
	fetch_close(&f);
	free(part);
	return rc;
}

MEGAFS_API int megafs_fetch_range(megafs *m, const char *link, const char *path,
				  uint64_t offset, void *buf, size_t len,
				  const struct megafs_net_options *net, megafs_progress_cb progress,
				  void *user, uint64_t *file_size)
{
	struct out out = {.fd = -1, .buf = buf};
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
		rc = copy_range(&f, offset, len, &out, progress, user);
	fetch_close(&f);
	return rc;
}
