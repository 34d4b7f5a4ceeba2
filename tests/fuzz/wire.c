/* wire: a stream of peer wire messages (head, then body) as net/peer hands
 * them to mfs_wire_head_parse and mfs_wire_parse. Every message that parses
 * must encode back to exactly the bytes it came from. After the first head
 * that is refused, the rest is parsed once as a body of the head's type
 * (its first byte mod 9), so bodies are fuzzed past the length checks too. */
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"
#include "tests/fuzz/fuzz.h"

static void round_trip(const struct mfs_wire_msg *m, const uint8_t *bytes, size_t len)
{
	uint8_t *out;

	if (mfs_wire_encoded_len(m) != len || !mfs_wire_type_name(m->type))
		abort();
	out = malloc(len);
	if (!out)
		abort();
	if (mfs_wire_encode(out, len, m) != len || memcmp(out, bytes, len) != 0)
		abort();
	/* One byte short must be refused, not overrun. */
	if (mfs_wire_encode(out, len - 1, m) != 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size >= MFS_WIRE_HEAD_BYTES) {
		struct mfs_wire_msg m;
		enum mfs_wire_type type;
		size_t body_len;

		if (mfs_wire_head_parse(data, &type, &body_len) != 0) {
			mfs_wire_parse(&m, (enum mfs_wire_type)(data[0] % 9),
				       data + MFS_WIRE_HEAD_BYTES, size - MFS_WIRE_HEAD_BYTES);
			return 0;
		}
		if (body_len > size - MFS_WIRE_HEAD_BYTES)
			return 0;
		if (mfs_wire_parse(&m, type, data + MFS_WIRE_HEAD_BYTES, body_len) == 0) {
			if (m.type != type)
				abort();
			round_trip(&m, data, MFS_WIRE_HEAD_BYTES + body_len);
		}
		data += MFS_WIRE_HEAD_BYTES + body_len;
		size -= MFS_WIRE_HEAD_BYTES + body_len;
	}
	return 0;
}
