/* krpc: mfs_krpc_parse on any datagram. What it accepts (a query of a known
 * method, a response, an error) must write back (mfs_krpc_encode) into
 * bytes that parse again into the same fields and write back to the same
 * bytes; every pointer it returns lies within the datagram. */
#include <stdlib.h>
#include <string.h>

#include "net/krpc.h"
#include "tests/fuzz/fuzz.h"

static void within(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
	if (p && (p < data || len > size || p + len > data + size))
		abort();
}

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if ((a == NULL) != (b == NULL) || alen != blen || (a && memcmp(a, b, alen) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mfs_bnode arena[MFS_KRPC_ARENA], arena2[MFS_KRPC_ARENA];
	struct mfs_krpc_msg m, m2;
	uint8_t out[2 * MFS_KRPC_MSG_MAX], out2[2 * MFS_KRPC_MSG_MAX];
	size_t len, len2;
	char why[160];

	if (mfs_krpc_parse(&m, arena, MFS_KRPC_ARENA, data, size, why, sizeof why) != 0)
		return 0;
	within(m.tid, m.tid_len, data, size);
	within(m.id, 20, data, size);
	within(m.v, m.v_len, data, size);
	within(m.nodes, m.nodes_len, data, size);
	within(m.salt, m.salt_len, data, size);
	if (m.kind == 'q' && m.method == MFS_KRPC_UNKNOWN)
		return 0;
	if (mfs_krpc_encode(out, sizeof out, &len, &m) != 0)
		abort();
	if (mfs_krpc_parse(&m2, arena2, MFS_KRPC_ARENA, out, len, why, sizeof why) != 0 &&
	    len <= MFS_KRPC_MSG_MAX)
		abort();
	if (len > MFS_KRPC_MSG_MAX)
		return 0;
	if (m2.kind != m.kind || m2.method != m.method || m2.has_seq != m.has_seq ||
	    m2.seq != m.seq || m2.has_cas != m.has_cas || m2.cas != m.cas || m2.port != m.port ||
	    m2.error_code != m.error_code)
		abort();
	same(m.tid, m.tid_len, m2.tid, m2.tid_len);
	same(m.id, m.id ? 20 : 0, m2.id, m2.id ? 20 : 0);
	same(m.v, m.v_len, m2.v, m2.v_len);
	same(m.token, m.token_len, m2.token, m2.token_len);
	same(m.nodes, m.nodes_len, m2.nodes, m2.nodes_len);
	same(m.salt, m.salt_len, m2.salt, m2.salt_len);
	if (mfs_krpc_encode(out2, sizeof out2, &len2, &m2) != 0 || len2 != len ||
	    memcmp(out, out2, len) != 0)
		abort();
	return 0;
}
