/* ws_frame: the WebSocket frame reader (net/ws_frame) on a peer's bytes.
 * Input: one byte of flags (bit 0: the reader is a server, frames must be
 * masked; bit 7: a round trip instead: the rest is cut into frames this
 * side writes, which must read back to the same bytes), one byte whose
 * value + 1 is the size of the pieces the bytes arrive in, then the bytes.
 * The reader must take at least one byte per call, never more than given,
 * give data only inside what it took, stop for good at a close, and never
 * give more data than came in. */
#include <stdlib.h>
#include <string.h>

#include "net/ws_frame.h"
#include "tests/fuzz/fuzz.h"

static void round_trip(int masked, size_t cut, const uint8_t *data, size_t size)
{
	static const uint8_t mask[4] = { 0xa1, 0x00, 0x5c, 0xff };
	uint8_t *stream = malloc(size + (size / cut + 1) * MFS_WS_HEAD_MAX);
	uint8_t *out = malloc(size + 1);
	size_t len = 0, got = 0, off = 0;
	struct mfs_ws_reader r;

	if (!stream || !out)
		abort();
	for (size_t at = 0; at < size; at += cut) {
		size_t n = size - at < cut ? size - at : cut;

		len += mfs_ws_head(stream + len, MFS_WS_OP_BINARY, n, masked ? mask : NULL);
		memcpy(stream + len, data + at, n);
		if (masked)
			mfs_ws_mask(stream + len, n, mask, 0);
		len += n;
	}
	mfs_ws_reader_init(&r, masked);
	while (off < len) {
		size_t used, doff, n;

		if (mfs_ws_read(&r, stream + off, len - off, &used, &doff, &n) != 0 || !used)
			abort();
		memcpy(out + got, stream + off + doff, n);
		got += n;
		off += used;
	}
	if (got != size || (size && memcmp(out, data, size) != 0))
		abort();
	free(stream);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_ws_reader r;
	uint8_t *buf;
	size_t piece, off = 2, given = 0;
	int rc = 0;

	if (size < 2)
		return 0;
	piece = (size_t)data[1] + 1;
	if (data[0] & 0x80) {
		round_trip(data[0] & 1, piece, data + 2, size - 2);
		return 0;
	}
	if (!(buf = malloc(size)))
		abort();
	memcpy(buf, data, size);
	mfs_ws_reader_init(&r, data[0] & 1);
	while (off < size && rc == 0) {
		size_t n = size - off < piece ? size - off : piece, done = 0;

		while (done < n && rc == 0) {
			size_t used, doff, dlen;

			rc = mfs_ws_read(&r, buf + off + done, n - done, &used, &doff, &dlen);
			if (used > n - done || (rc == 0 && !used) || (dlen && doff + dlen > used))
				abort();
			if (rc < 0 && dlen)
				abort();
			given += dlen;
			done += used;
		}
		off += n;
	}
	if (given > size)
		abort();
	if (rc == 1) { /* closed for good */
		size_t used, doff, dlen;

		if (mfs_ws_read(&r, buf, size, &used, &doff, &dlen) != 1 || dlen)
			abort();
	}
	free(buf);
	return 0;
}
