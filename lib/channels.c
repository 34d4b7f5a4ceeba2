/* channels: making, listing and subscribing to channels, and publishing
 * files into owned ones, for libmegafs (include/megafs.h). Publishing is
 * the mount's pipeline without a mount: the bytes are ingested under the
 * channel's convergence secret into blobs the volume pins (fs/blob), then
 * fs/fuse/publish signs and stores the next manifest and takes the pins
 * over in one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/fuse/fs.h"
#include "fs/store/keyring.h"
#include "lib/lib_internal.h"

_Static_assert(MEGAFS_LINK_MAX >= MFS_LINK_FULL_BYTES, "a private link fits MEGAFS_LINK_MAX");
_Static_assert(MEGAFS_TITLE_MAX == MFS_TITLE_MAX + 1, "a title fits MEGAFS_TITLE_MAX");

MEGAFS_API int megafs_channel_create(megafs *m, const char *title, int is_private,
				     char link[MEGAFS_LINK_MAX])
{
	struct mfs_channel_secret *secret = NULL;
	uint8_t pk[MFS_SIGN_PK_BYTES];
	struct mfs_channel ch;
	struct mfs_vtxn *t;
	int rc;

	if (!m || !title || !link)
		return -EINVAL;
	if (strlen(title) > MFS_TITLE_MAX)
		return -ENAMETOOLONG;
	rc = mfs_vtxn_begin(m->vol, 1, &t);
	if (rc != 0)
		return rc;
	rc = is_private ? mfs_keyring_new_private(t, title, pk)
			: mfs_keyring_new_channel(t, title, pk);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc == 0 && is_private) {
		/* The read key is in the keyring's secrets: read it back. */
		secret = mfs_secure_alloc(sizeof *secret);
		rc = secret ? mfs_channel_find(m->vol, pk, &ch, secret) : -ENOMEM;
		if (rc == 0)
			mfs_link_format_private(link, pk, secret->read_key);
		mfs_secure_free(secret);
	} else if (rc == 0) {
		mfs_link_format(link, pk);
	}
	return rc;
}

MEGAFS_API int megafs_channel_list(megafs *m, struct megafs_channel_info *out, size_t cap,
				   size_t *count)
{
	struct mfs_channel_list list;
	int rc;

	if (!m || !count || (!out && cap > 0))
		return -EINVAL;
	rc = mfs_channel_list_read(m->vol, &list);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < list.count && i < cap; i++) {
		const struct mfs_channel *ch = &list.items[i];

		memset(&out[i], 0, sizeof out[i]);
		mfs_link_format(out[i].link, ch->pk);
		memcpy(out[i].title, ch->title, sizeof ch->title);
		out[i].owned = ch->owned;
		out[i].is_private = ch->sealed;
		out[i].sequence = ch->sequence;
	}
	*count = list.count;
	mfs_keyring_clear(&list);
	return cap < *count ? -ERANGE : 0;
}

MEGAFS_API int megafs_subscribe(megafs *m, const char *link, const char *title)
{
	struct mfs_link *l;
	int rc, subscribed = 0;

	if (!m || !link)
		return -EINVAL;
	if (title && strlen(title) > MFS_TITLE_MAX)
		return -ENAMETOOLONG;
	if (!(l = mfs_secure_alloc(sizeof *l)))
		return -ENOMEM;
	rc = mfs_link_parse_full(l, link) == 0 ? 0 : MFS_E_FORMAT;
	if (rc == 0)
		rc = mfs_channel_know(m->vol, l, title ? title : "", &subscribed, NULL);
	/* A public link of a known channel changes nothing; a read key or a
	 * grant is kept (the same call marks the channel private). */
	if (rc == 0 && !subscribed && l->kind == MFS_LINK_PUBLIC)
		rc = MFS_E_EXISTS;
	mfs_secure_free(l);
	return rc;
}

/* Splits path into its directory (a collection title, "" the root) and its
 * name, into dir (malloc'ed) and *name (inside path). */
static int split_path(const char *path, char **dir, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) : 0;

	*name = slash ? slash + 1 : path;
	if (!mfs_entry_name_valid(*name) || path[0] == '/')
		return MFS_E_FORMAT;
	if (!(*dir = strndup(path, dir_len)))
		return -ENOMEM;
	if (!mfs_channel_title_valid(*dir)) {
		free(*dir);
		*dir = NULL;
		return MFS_E_FORMAT;
	}
	return 0;
}

/* The convergence secret of owned channel pk into secret (guarded):
 * MFS_E_NOTFOUND when the volume does not know it, -EPERM when it does
 * not own it. */
static int owned_convergence(struct mfs_volume *vol, const uint8_t *pk,
			     struct mfs_channel_secret *secret)
{
	struct mfs_channel ch;
	int rc = mfs_channel_find(vol, pk, &ch, secret);

	if (rc == 0 && !ch.owned)
		rc = -EPERM;
	return rc;
}

/* Ingests the bytes (fd >= 0: read from it; else buf[0..len)) as name
 * into sink, under the channel's convergence secret: *entry is the file. */
static int ingest(struct mfs_volume_sink *sink, const struct mfs_channel_secret *secret,
		  const char *name, int fd, const void *buf, size_t len,
		  struct mfs_file_entry *entry)
{
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT,
				    .convergence = secret->convergence};
	struct mfs_blob_sink as_sink = mfs_volume_sink_as_sink(sink);
	struct mfs_ingest *w = NULL;
	int rc = mfs_ingest_begin(&w, name, &o, &as_sink);

	if (rc == 0)
		rc = fd >= 0 ? mfs_ingest_write_fd(w, fd) : mfs_ingest_write(w, buf, len);
	if (rc != 0) {
		mfs_ingest_abort(w);
		return rc;
	}
	rc = mfs_ingest_finish(w, (int64_t)time(NULL), entry);
	/* Every blob stored before the manifest's transaction settles them. */
	return rc == 0 ? mfs_volume_sink_commit(sink) : rc;
}

/* Sends channel pk's newest manifest to the trackers of m's server. */
static void tell_server(struct megafs *m, const uint8_t *pk)
{
	struct mfs_vtxn *t;
	char *json = NULL;
	size_t len = 0;

	if (!m->server || mfs_vtxn_begin(m->vol, 0, &t) != 0)
		return;
	if (mfs_channel_manifest(t, pk, &json, &len) != 0)
		json = NULL;
	mfs_vtxn_abort(t);
	if (json)
		mfs_swarm_publish(m->server->swarm, json, len);
	free(json);
}

static int publish(struct megafs *m, const char *link, const char *path, int fd,
		   const void *buf, size_t len, uint64_t *sequence)
{
	struct mfs_channel_secret *secret = NULL;
	struct mfs_file_entry entry = {0};
	struct mfs_volume_sink sink;
	uint8_t pk[MFS_SIGN_PK_BYTES];
	const char *name;
	char *dir = NULL;
	json_t *item = NULL;
	int rc = lib_link_channel(pk, link);

	if (rc == 0)
		rc = split_path(path, &dir, &name);
	if (rc == 0)
		rc = (secret = mfs_secure_alloc(sizeof *secret)) ? 0 : -ENOMEM;
	if (rc == 0)
		rc = owned_convergence(m->vol, pk, secret);
	mfs_volume_sink_init(&sink, m->vol, 1);
	if (rc == 0)
		rc = ingest(&sink, secret, name, fd, buf, len, &entry);
	if (rc == 0)
		rc = mfs_entry_to_json(&item, &entry);
	if (rc == 0)
		rc = mfs_fs_publish_item(m->vol, pk, dir, item, &sink, sequence);
	if (rc != 0)
		mfs_volume_sink_rollback(&sink);
	mfs_volume_sink_clear(&sink);
	if (rc == 0)
		tell_server(m, pk);
	json_decref(item);
	mfs_entry_clear(&entry);
	mfs_secure_free(secret);
	free(dir);
	return rc;
}

MEGAFS_API int megafs_publish_file(megafs *m, const char *link, const char *path,
				   const char *local_path, uint64_t *sequence)
{
	int fd, rc;

	if (!m || !link || !path || !local_path)
		return -EINVAL;
	if ((fd = open(local_path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	rc = publish(m, link, path, fd, NULL, 0, sequence);
	close(fd);
	return rc;
}

MEGAFS_API int megafs_publish_buffer(megafs *m, const char *link, const char *path,
				     const void *buf, size_t len, uint64_t *sequence)
{
	if (!m || !link || !path || (!buf && len > 0))
		return -EINVAL;
	return publish(m, link, path, -1, buf ? buf : "", len, sequence);
}
