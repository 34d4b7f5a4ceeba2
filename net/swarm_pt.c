#include "net/swarm_pt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define STATE_MAX (64u * 1024u) /* a PT's state file, at most (obfs4's: 300 bytes) */

/* A fresh private directory under $TMPDIR (else /tmp) into out. */
static int make_dir(char out[static PATH_MAX])
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (snprintf(out, PATH_MAX, "%s/megafs-pt-XXXXXX", tmp) >= PATH_MAX) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(out)) {
		int err = -errno;
		out[0] = '\0';
		return err;
	}
	return 0;
}

/* Removes dir and the files the PT left in it (it makes no subdirectory;
 * one would stay, and so would dir). */
static void remove_dir(char dir[static PATH_MAX])
{
	DIR *d;
	struct dirent *e;

	if (!dir[0])
		return;
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				(void)unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	(void)rmdir(dir);
	dir[0] = '\0';
}

/* The volume's object of transport's state: "\0pt-" + transport. */
static size_t object_name(char out[static 4 + MFS_PT_NAME_MAX], const char *transport)
{
	size_t n = strlen(transport);

	if (n > MFS_PT_NAME_MAX)
		n = MFS_PT_NAME_MAX;
	memcpy(out, "\0pt-", 4);
	memcpy(out + 4, transport, n);
	return 4 + n;
}

static int state_path(char out[static PATH_MAX], const char *dir, const char *transport)
{
	return snprintf(out, PATH_MAX, "%s/%s_state.json", dir, transport) >= PATH_MAX ?
		       -ENAMETOOLONG : 0;
}

/* The state kept in the volume, written into dir (nothing when none). */
static int put_state(struct mfs_volume *vol, const char *dir, const char *transport)
{
	char name[4 + MFS_PT_NAME_MAX], path[PATH_MAX];
	size_t name_len = object_name(name, transport);
	struct mfs_vtxn *t;
	uint8_t *data = NULL;
	uint64_t len = 0;
	int rc = mfs_vtxn_begin(vol, 0, &t), fd;

	if (rc < 0)
		return rc;
	rc = mfs_obj_get(t, name, name_len, &data, &len);
	mfs_vtxn_abort(t);
	if (rc == MFS_E_NOTFOUND)
		return 0;
	if (rc == 0)
		rc = state_path(path, dir, transport);
	if (rc == 0 && (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
	if (rc == 0) {
		if (write(fd, data, (size_t)len) != (ssize_t)len)
			rc = -EIO;
		if (close(fd) != 0 && rc == 0)
			rc = -errno;
	}
	if (data) {
		mfs_memzero(data, (size_t)len);
		free(data);
	}
	return rc;
}

/* The state the PT holds now, into the volume when it differs. */
static int keep_state(struct mfs_volume *vol, const char *dir, const char *transport)
{
	char name[4 + MFS_PT_NAME_MAX], path[PATH_MAX];
	size_t name_len = object_name(name, transport);
	uint8_t *now = NULL, *kept = NULL;
	uint64_t kept_len = 0;
	ssize_t len = 0;
	struct mfs_vtxn *t = NULL;
	int rc = state_path(path, dir, transport), fd = -1;

	if (rc == 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		rc = errno == ENOENT ? 1 : -errno; /* this PT keeps no such file */
	if (rc == 0 && !(now = mfs_secure_alloc(STATE_MAX)))
		rc = -ENOMEM;
	if (rc == 0 && ((len = read(fd, now, STATE_MAX)) < 0 || len == STATE_MAX))
		rc = len < 0 ? -errno : -EFBIG;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = mfs_vtxn_begin(vol, 1, &t);
	if (rc == 0) {
		rc = mfs_obj_get(t, name, name_len, &kept, &kept_len);
		if (rc == 0 && kept_len == (uint64_t)len && memcmp(kept, now, (size_t)len) == 0)
			rc = 1; /* as kept */
		else if (rc == 0 || rc == MFS_E_NOTFOUND)
			rc = mfs_obj_write(t, name, name_len, now, (size_t)len);
		rc = rc == 0 ? mfs_vtxn_commit(t) : (mfs_vtxn_abort(t), rc);
	}
	if (kept) {
		mfs_memzero(kept, (size_t)kept_len);
		free(kept);
	}
	mfs_secure_free(now);
	return rc < 0 ? rc : 0;
}

int mfs_swarm_pt_client_start(struct mfs_swarm_pt *sp, const char *path, const char *transport,
			      char *why, size_t why_len)
{
	struct mfs_pt_config cfg = {.path = path, .transport = transport, .state_dir = sp->client_dir};
	int rc = make_dir(sp->client_dir);

	if (rc != 0) {
		snprintf(why, why_len, "a private directory for the pluggable transport: %s",
			 mfs_strerror(rc));
		return rc;
	}
	if (!(sp->proxy = mfs_secure_alloc(sizeof *sp->proxy))) {
		snprintf(why, why_len, "its proxy: %s", mfs_strerror(-ENOMEM));
		return -ENOMEM;
	}
	memset(sp->proxy, 0, sizeof *sp->proxy);
	rc = mfs_pt_start(&sp->client, &cfg, why, why_len);
	if (rc == 0) {
		snprintf(sp->proxy->host, sizeof sp->proxy->host, "%s", mfs_pt_host(sp->client));
		sp->proxy->port = mfs_pt_port(sp->client);
	}
	return rc;
}

int mfs_swarm_pt_server_start(struct mfs_swarm_pt *sp, struct mfs_volume *vol, const char *path,
			      const char *transport, const char *bind, uint16_t orport, char *why,
			      size_t why_len)
{
	char relay[32];
	struct mfs_pt_config cfg = {.path = path,
				    .transport = transport,
				    .state_dir = sp->server_dir,
				    .bind = bind,
				    .orport = relay};
	int rc = make_dir(sp->server_dir);

	snprintf(relay, sizeof relay, "127.0.0.1:%u", orport);
	if (rc == 0 && (rc = put_state(vol, sp->server_dir, transport)) != 0) {
		snprintf(why, why_len, "the bridge's identity from the volume: %s",
			 mfs_strerror(rc));
		return rc;
	}
	if (rc != 0) {
		snprintf(why, why_len, "a private directory for the pluggable transport: %s",
			 mfs_strerror(rc));
		return rc;
	}
	rc = mfs_pt_start(&sp->server, &cfg, why, why_len);
	if (rc == 0 && (rc = keep_state(vol, sp->server_dir, transport)) != 0)
		snprintf(why, why_len, "the bridge's identity into the volume: %s",
			 mfs_strerror(rc));
	return rc;
}

void mfs_swarm_pt_stop(struct mfs_swarm_pt *sp)
{
	if (!sp)
		return;
	mfs_pt_stop(sp->client);
	mfs_pt_stop(sp->server);
	remove_dir(sp->client_dir);
	remove_dir(sp->server_dir);
	mfs_secure_free(sp->proxy);
	memset(sp, 0, sizeof *sp);
}
