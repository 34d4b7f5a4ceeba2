/* handle: the library's version, its errors, and opening and closing a
 * store with the volume a password opens. */
#include <errno.h>
#include <stdlib.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/keyring.h"
#include "lib/lib_internal.h"
#include "net/tracker_client.h"

/* The header's codes are megafs's own (crypto/mfs_error.h), by value: a
 * program built against one header keeps working with the next library. */
_Static_assert(MEGAFS_E_AUTH == MFS_E_AUTH && MEGAFS_E_BADPASS == MFS_E_BADPASS &&
	       MEGAFS_E_CORRUPT == MFS_E_CORRUPT && MEGAFS_E_FORMAT == MFS_E_FORMAT &&
	       MEGAFS_E_NOTCANON == MFS_E_NOTCANON && MEGAFS_E_REPLAY == MFS_E_REPLAY &&
	       MEGAFS_E_FULL == MFS_E_FULL && MEGAFS_E_NOSTORE == MFS_E_NOSTORE &&
	       MEGAFS_E_EXISTS == MFS_E_EXISTS && MEGAFS_E_NOTFOUND == MFS_E_NOTFOUND &&
	       MEGAFS_E_TRUNCATED == MFS_E_TRUNCATED && MEGAFS_E_LMDB == MFS_E_LMDB &&
	       MEGAFS_E_OLDSTORE == MFS_E_OLDSTORE && MEGAFS_E_OVERWRITTEN == MFS_E_OVERWRITTEN &&
	       MEGAFS_E_NOKEY == MFS_E_NOKEY,
	       "include/megafs.h's error codes must be crypto/mfs_error.h's");

#define STR_(x) #x
#define STR(x) STR_(x)
_Static_assert(sizeof MFS_VERSION == sizeof STR(MEGAFS_VERSION_MAJOR) "."
	       STR(MEGAFS_VERSION_MINOR) "." STR(MEGAFS_VERSION_PATCH),
	       "include/megafs.h's version must be the project's (CMakeLists.txt)");

MEGAFS_API const char *megafs_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = MEGAFS_VERSION_MAJOR;
	if (minor)
		*minor = MEGAFS_VERSION_MINOR;
	if (patch)
		*patch = MEGAFS_VERSION_PATCH;
	return MFS_VERSION;
}

MEGAFS_API const char *megafs_strerror(int err)
{
	return mfs_strerror(err);
}

MEGAFS_API int megafs_open(megafs **out, const char *store_dir, const void *password,
			   size_t password_len)
{
	struct megafs *m;
	int rc;

	if (!out || !store_dir || !password || password_len == 0)
		return -EINVAL;
	if (mfs_crypto_init() != 0)
		return -ENOSYS;
	if (!(m = calloc(1, sizeof *m)))
		return -ENOMEM;
	rc = mfs_store_open(&m->store, store_dir);
	if (rc == 0)
		rc = mfs_volume_open(&m->vol, m->store, password, password_len, NULL, 0);
	if (rc != 0) {
		mfs_store_close(m->store);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

MEGAFS_API int megafs_close(megafs *m)
{
	if (!m)
		return 0;
	if (m->server)
		return -EBUSY;
	mfs_volume_close(m->vol);
	mfs_store_close(m->store);
	free(m);
	return 0;
}

int lib_link_channel(uint8_t pk[static MFS_SIGN_PK_BYTES], const char *link)
{
	if (!link)
		return -EINVAL;
	return mfs_link_parse(pk, link) == 0 ? 0 : MFS_E_FORMAT;
}

struct mfs_swarm_config lib_swarm_config(const struct megafs *m,
					 const struct megafs_net_options *net)
{
	struct mfs_swarm_config cfg = {.vol = m->vol};

	if (net) {
		cfg.trackers = net->trackers;
		cfg.n_trackers = net->trackers ? net->tracker_count : 0;
		cfg.peers = net->peers;
		cfg.n_peers = net->peers ? net->peer_count : 0;
		cfg.log = net->log;
		cfg.log_ctx = net->log_user;
	}
	return cfg;
}

int lib_net_check(const struct megafs_net_options *net, int serving)
{
	if (!net)
		return 0;
	if ((net->tracker_count && !net->trackers) || (net->peer_count && !net->peers))
		return -EINVAL;
	if (net->listen && !serving)
		return -EINVAL; /* a fetch serves nobody: megafs_serve_start does */
	for (size_t i = 0; i < net->tracker_count; i++)
		if (!net->trackers[i] || mfs_tracker_url_check(net->trackers[i]) != 0)
			return -EINVAL;
	for (size_t i = 0; i < net->peer_count; i++)
		if (!net->peers[i])
			return -EINVAL;
	return 0;
}
