/* megafs status: the store as the open volume sees it. */
#include <stdio.h>

#include "crypto/mfs_error.h"
#include "fs/channel/channel.h"
#include "tools/cli.h"

int cmd_status(int argc, char **argv)
{
	struct mfs_volume_stats st;
	struct mfs_channel_list list = {0};
	struct mfs_store *store;
	struct mfs_volume *vol;
	const struct mfs_store_header *h;
	size_t owned = 0;
	char a[32], b[32], d[32];
	struct cli c;
	int rc;

	cli_init(&c, "status");
	rc = cli_parse_common_only(&c, argc, argv);
	if (rc != 0)
		return rc;
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	rc = mfs_volume_stats(vol, &st);
	if (rc == 0)
		rc = mfs_channel_list_read(vol, &list);
	if (rc != 0) {
		cli_fail(&c, rc, "reading the volume");
		goto out;
	}
	for (size_t i = 0; i < list.count; i++)
		owned += list.items[i].owned != 0;
	h = mfs_store_header(store);
	printf("store      %s\n", c.store_dir);
	cli_human_bytes(a, sizeof a, st.slot_count * MFS_SLOT_DATA);
	printf("capacity   %llu slots (%s of payload)\n", (unsigned long long)st.slot_count, a);
	cli_human_bytes(a, sizeof a, st.used_slots * MFS_SLOT_DATA);
	printf("used       %llu slots (%s)\n", (unsigned long long)st.used_slots, a);
	if (st.protected_slots) {
		cli_human_bytes(a, sizeof a, st.protected_slots * MFS_SLOT_DATA);
		printf("protected  %llu slots (%s)\n", (unsigned long long)st.protected_slots, a);
	}
	cli_human_bytes(a, sizeof a, st.free_slots * MFS_SLOT_DATA);
	printf("free       %llu slots (%s)\n", (unsigned long long)st.free_slots, a);
	if (st.redundant)
		printf("parity     on: made inside another volume, this one rebuilds what that "
		       "one's unprotected sessions write over\n");
	if (st.writes_refused)
		printf("read-only  %s; copy its files out ('megafs extract') into a new store\n",
		       mfs_strerror(st.writes_refused));
	cli_human_bytes(a, sizeof a, st.sb.pinned_bytes);
	cli_human_bytes(b, sizeof b, st.sb.blob_bytes - st.sb.pinned_bytes);
	cli_human_bytes(d, sizeof d, st.sb.cache_cap);
	printf("blobs      %llu (pinned %s, cached %s of a %s cap)\n",
	       (unsigned long long)st.sb.blob_count, a, b, d);
	printf("channels   %zu owned, %zu subscribed\n", owned, list.count - owned);
	cli_human_bytes(a, sizeof a, h->kdf.mem);
	printf("kdf        argon2id, %llu passes, %s\n", (unsigned long long)h->kdf.ops, a);
out:
	mfs_keyring_clear(&list);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return rc != 0;
}
