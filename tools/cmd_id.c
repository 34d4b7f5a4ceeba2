/* megafs id: this volume's subscriber key (fs/channel/identity), to hand to
 * a channel's owner for a grant. Made the first time it is asked for. */
#include <stdio.h>

#include "crypto/secure.h"
#include "fs/channel/identity.h"
#include "tools/cli.h"

int cmd_id(int argc, char **argv)
{
	uint8_t pk[MFS_BOX_KEY_BYTES];
	char hex[2 * MFS_BOX_KEY_BYTES + 1];
	struct mfs_store *store;
	struct mfs_volume *vol;
	struct mfs_vtxn *t;
	struct cli c;
	int rc;

	cli_init(&c, "id");
	rc = cli_parse_common_only(&c, argc, argv);
	if (rc != 0)
		return rc;
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	rc = mfs_vtxn_begin(vol, 1, &t);
	if (rc == 0) {
		rc = mfs_identity_get(t, 1, pk, NULL);
		if (rc == 0)
			rc = mfs_vtxn_commit(t);
		else
			mfs_vtxn_abort(t);
	}
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (rc != 0)
		return cli_fail(&c, rc, "reading this volume's key");
	mfs_hex_encode(hex, pk, sizeof pk);
	printf("%s\n", hex);
	return 0;
}
