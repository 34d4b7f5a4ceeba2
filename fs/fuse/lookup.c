#include "fs/fuse/lookup.h"

#include "crypto/mfs_error.h"
#include "fs/channel/channel.h"
#include "fs/fuse/tree.h"

int mfs_lookup_entry(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     const char *path, struct mfs_file_entry *out, char *why, size_t why_len)
{
	struct mfs_manifest m = {0};
	struct mfs_tree *tree = NULL;
	struct mfs_inodes *inodes = NULL;
	const struct mfs_node *node = NULL;
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(vol, 0, &t);

	if (rc == 0) {
		rc = mfs_channel_open(t, pk, &m);
		mfs_vtxn_abort(t);
	}
	if (rc == 0)
		rc = mfs_inodes_new(&inodes);
	if (rc == 0)
		rc = mfs_tree_build(&tree, m.collections, (int64_t)(m.timestamp / 1000), inodes);
	if (rc == 0) {
		node = mfs_tree_at(tree, path);
		if (!node || node->kind != MFS_NODE_FILE)
			rc = MFS_E_NOTFOUND;
	}
	if (rc == 0)
		rc = mfs_entry_from_json(out, node->item, why, why_len);
	mfs_tree_free(tree);
	mfs_inodes_free(inodes);
	mfs_manifest_clear(&m);
	return rc;
}
