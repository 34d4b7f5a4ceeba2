/* bt_announce: a BitTorrent HTTP announce's request head (net/bt_announce)
 * from any bytes, through mfs_bt_request_parse and, for the part after
 * the first '?', mfs_bt_query_parse. What is accepted must have its
 * limits (port >= 1, numwant capped, numbers below 2^63) and must parse
 * again to the same announce once written back with every byte
 * percent-encoded; a reply listing peers made of the input's bytes must
 * build, and so must a failure reason of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bt_announce.h"
#include "tests/fuzz/fuzz.h"

static void must(int ok)
{
	if (!ok)
		abort();
}

static size_t put_hex(char *out, const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 3 * i, "%%%02X", v[i]);
	return 3 * len;
}

/* Writes a back as a query and checks it reads the same. */
static void round_trip(const struct mfs_bt_announce *a)
{
	static const char *events[] = {"", "started", "stopped", "completed"};
	char q[512], ih[61], pid[61];
	struct mfs_bt_announce again;
	int n;

	put_hex(ih, a->info_hash, 20);
	put_hex(pid, a->peer_id, 20);
	ih[60] = pid[60] = '\0';
	n = snprintf(q, sizeof q,
		     "info_hash=%s&peer_id=%s&port=%u&uploaded=%llu&downloaded=%llu&left=%llu"
		     "&numwant=%u&event=%s",
		     ih, pid, a->port, (unsigned long long)a->uploaded,
		     (unsigned long long)a->downloaded, (unsigned long long)a->left, a->numwant,
		     events[a->event]);
	must(n > 0 && (size_t)n < sizeof q);
	must(mfs_bt_query_parse(&again, q, (size_t)n, NULL, 0) == 0);
	must(memcmp(&again, a, sizeof again) == 0);
}

static void check(const struct mfs_bt_announce *a)
{
	must(a->port >= 1);
	must(a->numwant <= MFS_BT_MAX_PEERS);
	must(a->uploaded <= INT64_MAX && a->downloaded <= INT64_MAX && a->left <= INT64_MAX);
	must(a->event <= MFS_BT_EVENT_COMPLETED);
	round_trip(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_bt_announce a;
	struct mfs_bt_peer peers[MFS_BT_MAX_PEERS];
	char why[MFS_BT_REASON_MAX], out[MFS_BT_RESPONSE_MAX];
	const char *q = memchr(data, '?', size);
	size_t n = size / sizeof peers[0], len;

	memset(&a, 0, sizeof a); /* the padding too: round_trip compares bytes */
	if (mfs_bt_request_parse(&a, (const char *)data, size, why, sizeof why) == 0)
		check(&a);
	else
		must(strlen(why) > 0 && strlen(why) < sizeof why);
	if (q) {
		memset(&a, 0, sizeof a);
		if (mfs_bt_query_parse(&a, q + 1, size - (size_t)(q + 1 - (const char *)data), why,
				       sizeof why) == 0)
			check(&a);
	}
	if (n > MFS_BT_MAX_PEERS)
		n = MFS_BT_MAX_PEERS;
	memset(peers, 0, sizeof peers);
	for (size_t i = 0; i < n; i++) {
		memcpy(&peers[i], data + i * sizeof peers[0], sizeof peers[0]);
		peers[i].v6 &= 1;
	}
	must(mfs_bt_reply_build(out, sizeof out, &len, 60, size, n, peers, n) == 0);
	must(len <= sizeof out);
	memcpy(why, data, size < sizeof why - 1 ? size : sizeof why - 1);
	why[size < sizeof why - 1 ? size : sizeof why - 1] = '\0';
	must(mfs_bt_failure_build(out, sizeof out, &len, why) == 0);
	return 0;
}
