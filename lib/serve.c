/* serve: seeding the volume's channels to peers, for libmegafs
 * (include/megafs.h), as `megafs serve` with no channel named: every
 * channel the volume knows, the manifests of the owned ones sent to the
 * trackers. net/swarm runs it all on its own threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "lib/lib_internal.h"

MEGAFS_API int megafs_serve_start(megafs *m, const struct megafs_net_options *net,
				  megafs_server **out)
{
	struct mfs_swarm_config cfg;
	struct megafs_server *s;
	int rc;

	if (!m || !out)
		return -EINVAL;
	if (m->server)
		return -EBUSY;
	if ((rc = lib_net_check(net, 1)) != 0)
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return -ENOMEM;
	cfg = lib_swarm_config(m, net);
	cfg.listen = net && net->listen ? net->listen : "0.0.0.0:0";
	rc = mfs_channel_list_keys(m->vol, &s->channels, &cfg.n_channels);
	cfg.channels = (const uint8_t(*)[MFS_SIGN_PK_BYTES])s->channels;
	if (rc == 0)
		rc = mfs_swarm_start(&s->swarm, &cfg);
	if (rc != 0) {
		free(s->channels);
		free(s);
		return rc;
	}
	mfs_swarm_publish_owned(s->swarm);
	s->m = m;
	m->server = s;
	*out = s;
	return 0;
}

MEGAFS_API uint16_t megafs_serve_port(const megafs_server *s)
{
	return s ? mfs_swarm_port(s->swarm) : 0;
}

MEGAFS_API void megafs_serve_node_key(const megafs_server *s, char key_hex[65])
{
	if (!s || !key_hex)
		return;
	mfs_hex_encode(key_hex, mfs_swarm_node_key(s->swarm), MFS_NOISE_KEY_BYTES);
}

MEGAFS_API void megafs_serve_stop(megafs_server *s)
{
	if (!s)
		return;
	mfs_swarm_stop(s->swarm);
	s->m->server = NULL;
	free(s->channels);
	free(s);
}
