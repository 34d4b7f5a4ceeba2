/* megafs dht status: what the volume recorded of the Mainline DHT
 * (net/swarm_dht): the nodes of the routing table it saved and the UDP
 * port saved with it (the next start binds it again when free), and per
 * channel the newest pointer a mount, serve or fetch with --dht saw or put,
 * and when. Only what was recorded: nothing is asked of the network. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/swarm_dht.h"
#include "tools/cli.h"

/* Unix seconds as UTC text, or "-". */
static const char *when(char out[32], json_t *at)
{
	time_t t = (time_t)json_integer_value(at);
	struct tm tm;

	if (!json_is_integer(at) || !gmtime_r(&t, &tm) ||
	    !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		return "-";
	return out;
}

static void show_channel(const struct mfs_channel *ch, json_t *rec)
{
	char link[MFS_LINK_BYTES], hex[2 * MFS_SIGN_PK_BYTES + 1], at[32];
	json_t *o;

	mfs_link_format(link, ch->pk);
	mfs_hex_encode(hex, ch->pk, MFS_SIGN_PK_BYTES);
	o = json_object_get(json_object_get(rec, "channels"), hex);
	printf("%s  %s%s\n", link, ch->owned ? "owned" : "subscribed",
	       ch->sealed && !ch->has_read_key ? ", read by grant: not in the DHT" : "");
	if (json_object_get(o, "put_at"))
		printf("  pointer put   seq %lld at %s\n",
		       (long long)json_integer_value(json_object_get(o, "put_seq")),
		       when(at, json_object_get(o, "put_at")));
	if (json_object_get(o, "seen_at"))
		printf("  pointer seen  seq %lld at %s\n",
		       (long long)json_integer_value(json_object_get(o, "seen_seq")),
		       when(at, json_object_get(o, "seen_at")));
	if (!json_object_get(o, "put_at") && !json_object_get(o, "seen_at"))
		printf("  no pointer put or seen\n");
}

int cmd_dht(int argc, char **argv)
{
	struct mfs_channel_list list = {0};
	struct mfs_store *store;
	struct mfs_volume *vol;
	json_t *rec = NULL;
	size_t nodes = 0;
	uint16_t port = 0;
	char at[32];
	struct cli c;
	int rc;

	cli_init(&c, "dht");
	if (argc < 2 || strcmp(argv[1], "status") != 0)
		return cli_usage(&c, "usage: megafs dht status");
	rc = cli_parse_common_only(&c, argc - 1, argv + 1);
	if (rc != 0)
		return rc;
	if (cli_open_volume(&c, &store, &vol) != 0)
		return 1;
	rc = mfs_swarm_dht_recorded(vol, &nodes, &port, &rec);
	if (rc == 0)
		rc = mfs_channel_list_read(vol, &list);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (rc != 0) {
		json_decref(rec);
		return cli_fail(&c, rc, "reading the volume");
	}
	printf("routing table  %zu node%s saved", nodes, nodes == 1 ? "" : "s");
	if (json_object_get(rec, "saved_at"))
		printf(" at %s", when(at, json_object_get(rec, "saved_at")));
	printf("\n");
	if (port)
		printf("UDP port       %u (bound again at the next start when free)\n", port);
	else
		printf("UDP port       none saved\n");
	for (size_t i = 0; i < list.count; i++)
		show_channel(&list.items[i], rec);
	mfs_keyring_clear(&list);
	json_decref(rec);
	return 0;
}
