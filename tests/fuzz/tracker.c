/* tracker: the tracker's messages, both ways. The same bytes go to
 * mfs_tracker_shape_check, mfs_tracker_parse_request (what a tracker reads)
 * and mfs_tracker_parse_reply (what a client reads). Whatever parses is
 * built again with the mfs_tracker_build_* of its action and parsed again:
 * the second parse must succeed and give the same fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/tracker_proto.h"
#include "tests/fuzz/fuzz.h"

typedef int (*parse_fn)(struct mfs_tracker_msg *, const char *, size_t, char *, size_t);

static void must(int ok)
{
	if (!ok)
		abort();
}

static int same_peers(const struct mfs_tracker_msg *a, const struct mfs_tracker_msg *b)
{
	if (a->peer_count != b->peer_count)
		return 0;
	for (size_t i = 0; i < a->peer_count; i++)
		if (strcmp(a->peers[i].host, b->peers[i].host) != 0 ||
		    a->peers[i].port != b->peers[i].port ||
		    memcmp(a->peers[i].node_pk, b->peers[i].node_pk, MFS_TRACKER_KEY_BYTES) != 0)
			return 0;
	return 1;
}

static int rebuild(char **out, size_t *len, const struct mfs_tracker_msg *m)
{
	switch (m->action) {
	case MFS_TRACKER_SUBSCRIBE:
		return mfs_tracker_build_subscribe(out, len, m->key);
	case MFS_TRACKER_PUBLISH:
		return mfs_tracker_build_publish(out, len, m->manifest, m->manifest_len);
	case MFS_TRACKER_ANNOUNCE:
		return mfs_tracker_build_announce(out, len, m->key, m->peer_id, m->port, m->numwant,
						  m->event);
	case MFS_TRACKER_PUBLISHED:
		return mfs_tracker_build_published(out, len, m->key, m->sequence);
	case MFS_TRACKER_PEERS:
		return mfs_tracker_build_peers(out, len, m->key, m->interval, m->peers,
					       m->peer_count);
	case MFS_TRACKER_ERROR:
		return mfs_tracker_build_error(out, len, m->request, m->has_key ? m->key : NULL,
					       m->has_sequence ? m->sequence : 0, m->code,
					       m->reason);
	case MFS_TRACKER_NONE:
		break;
	}
	abort();
}

static void check_again(const struct mfs_tracker_msg *a, parse_fn parse)
{
	struct mfs_tracker_msg b;
	char *text = NULL;
	size_t len = 0;
	char why[256];

	must(rebuild(&text, &len, a) == 0);
	must(parse(&b, text, len, why, sizeof why) == 0);
	must(a->action == b.action && a->has_key == b.has_key &&
	     memcmp(a->key, b.key, sizeof a->key) == 0);
	switch (a->action) {
	case MFS_TRACKER_PUBLISH:
		must(a->manifest_len == b.manifest_len &&
		     memcmp(a->manifest, b.manifest, a->manifest_len) == 0 &&
		     a->sequence == b.sequence);
		break;
	case MFS_TRACKER_ANNOUNCE:
		must(memcmp(a->peer_id, b.peer_id, sizeof a->peer_id) == 0 && a->port == b.port &&
		     a->numwant == b.numwant && a->event == b.event);
		break;
	case MFS_TRACKER_PUBLISHED:
		must(a->sequence == b.sequence && a->has_sequence == b.has_sequence);
		break;
	case MFS_TRACKER_PEERS:
		must(a->interval == b.interval && same_peers(a, &b));
		break;
	case MFS_TRACKER_ERROR:
		/* An absent or unknown code is sent as "internal". */
		must(strcmp(a->reason, b.reason) == 0 && a->request == b.request &&
		     a->has_sequence == b.has_sequence && a->sequence == b.sequence &&
		     (a->code == -EPROTO ? b.code == -EIO : a->code == b.code));
		break;
	default:
		break;
	}
	mfs_tracker_msg_clear(&b);
	free(text);
}

static void one_way(const uint8_t *data, size_t size, parse_fn parse, int shape_ok)
{
	struct mfs_tracker_msg m;
	char why[256];
	int rc = parse(&m, (const char *)data, size, why, sizeof why);

	if (rc != 0) {
		/* A refused message leaves nothing behind. */
		must(m.manifest == NULL && m.peers == NULL && m.action == MFS_TRACKER_NONE);
		return;
	}
	must(shape_ok && m.action != MFS_TRACKER_NONE && m.reason[sizeof m.reason - 1] == '\0');
	if (m.action == MFS_TRACKER_PUBLISH)
		must(m.manifest && m.manifest_len <= MFS_TRACKER_MANIFEST_MAX &&
		     m.manifest[m.manifest_len] == '\0');
	check_again(&m, parse);
	mfs_tracker_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	int shape_ok = mfs_tracker_shape_check((const char *)data, size, why, sizeof why) == 0;

	one_way(data, size, mfs_tracker_parse_request, shape_ok);
	one_way(data, size, mfs_tracker_parse_reply, shape_ok);
	return 0;
}
