/* net/ws_frame: the frame heads this side writes (golden bytes from RFC
 * 6455 section 5.7), and the reader: frames cut at every byte, payloads
 * unmasked, pings skipped, close, and every refusal. */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/ws_frame.h"

static const uint8_t rfc_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

Test(ws_frame, heads_match_rfc_6455)
{
	uint8_t head[MFS_WS_HEAD_MAX];
	static const uint8_t masked5[] = { 0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d };
	static const uint8_t len256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t len64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	uint8_t hello[] = "Hello";

	cr_assert_eq(mfs_ws_head(head, MFS_WS_OP_BINARY, 5, NULL), 2);
	cr_assert_eq(head[0], 0x82);
	cr_assert_eq(head[1], 0x05);
	cr_assert_eq(mfs_ws_head(head, MFS_WS_OP_BINARY, 5, rfc_mask), 6);
	cr_assert_arr_eq(head, masked5, 6);
	mfs_ws_mask(hello, 5, rfc_mask, 0);
	cr_assert_arr_eq(hello, ((uint8_t[]){ 0x7f, 0x9f, 0x4d, 0x51, 0x58 }), 5);
	cr_assert_eq(mfs_ws_head(head, MFS_WS_OP_BINARY, 256, NULL), 4);
	cr_assert_arr_eq(head, len256, 4);
	cr_assert_eq(mfs_ws_head(head, MFS_WS_OP_BINARY, 65536, NULL), 10);
	cr_assert_arr_eq(head, len64k, 10);
}

Test(ws_frame, masking_at_any_offset_matches_byte_by_byte)
{
	uint8_t a[300], b[300];

	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 40; len++) {
			for (size_t i = 0; i < sizeof a; i++)
				a[i] = b[i] = (uint8_t)(i * 31 + 5);
			mfs_ws_mask(a, len, rfc_mask, off);
			for (size_t i = 0; i < len; i++)
				b[i] ^= rfc_mask[(off + i) % 4];
			cr_assert_arr_eq(a, b, sizeof a, "off %zu len %zu", off, len);
		}
}

/* Reads stream[0..len) cut into pieces of step bytes; the data gathered in
 * out. Returns the last result. */
static int read_all(struct mfs_ws_reader *r, uint8_t *stream, size_t len, size_t step,
		    uint8_t *out, size_t *out_len)
{
	size_t at = 0;
	int rc = 0;

	*out_len = 0;
	while (at < len && rc == 0) {
		size_t piece = len - at < step ? len - at : step, done = 0;

		while (done < piece && rc == 0) {
			size_t used, off, n;

			rc = mfs_ws_read(r, stream + at + done, piece - done, &used, &off, &n);
			memcpy(out + *out_len, stream + at + done + off, n);
			*out_len += n;
			done += used;
		}
		at += piece;
	}
	return rc;
}

static size_t frame(uint8_t *out, unsigned op, const uint8_t *data, size_t len, int masked)
{
	size_t n = mfs_ws_head(out, op, len, masked ? rfc_mask : NULL);

	memcpy(out + n, data, len);
	if (masked)
		mfs_ws_mask(out + n, len, rfc_mask, 0);
	return n + len;
}

Test(ws_frame, the_reader_takes_frames_cut_anywhere)
{
	static uint8_t data[70000], stream[140200], copy[140200], out[140200];
	size_t len = 0, out_len;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	for (int masked = 0; masked < 2; masked++) {
		len = frame(stream, MFS_WS_OP_BINARY, data, 5, masked);
		len += frame(stream + len, MFS_WS_OP_PING, (const uint8_t *)"ping", 4, masked);
		len += frame(stream + len, MFS_WS_OP_BINARY, data + 5, 300, masked);
		len += frame(stream + len, MFS_WS_OP_BINARY, data + 305, 0, masked);
		len += frame(stream + len, MFS_WS_OP_CONT, data + 305, 69695, masked);
		len += frame(stream + len, MFS_WS_OP_CLOSE, data, 0, masked);
		len += frame(stream + len, MFS_WS_OP_BINARY, data, 9, masked); /* after close */
		for (size_t step = 1; step < 20000; step = step * 3 + 1) {
			struct mfs_ws_reader r;

			memcpy(copy, stream, len);
			mfs_ws_reader_init(&r, masked);
			cr_assert_eq(read_all(&r, copy, len, step, out, &out_len), 1,
				     "a close ends it (step %zu)", step);
			cr_assert_eq(out_len, sizeof data, "step %zu", step);
			cr_assert_arr_eq(out, data, sizeof data, "step %zu", step);
		}
	}
}

static int read_one(int masked, const uint8_t *bytes, size_t len)
{
	struct mfs_ws_reader r;
	uint8_t buf[64], out[64];
	size_t out_len;

	memcpy(buf, bytes, len);
	mfs_ws_reader_init(&r, masked);
	return read_all(&r, buf, len, len, out, &out_len);
}

Test(ws_frame, the_reader_refuses_what_the_rfc_and_this_transport_forbid)
{
	/* text; reserved bits; reserved opcodes */
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x81, 0x01, 'a' }, 3), MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0xc2, 0x01, 'a' }, 3), MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x83, 0x00 }, 2), MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x8b, 0x00 }, 2), MFS_E_FORMAT);
	/* a mask from a server; none from a client */
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x82, 0x81, 1, 2, 3, 4, 'a' }, 7), MFS_E_FORMAT);
	cr_assert_eq(read_one(1, (uint8_t[]){ 0x82, 0x01, 'a' }, 3), MFS_E_FORMAT);
	/* lengths not in their shortest form; the top bit */
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x82, 0x7e, 0x00, 0x7d }, 4), MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 10),
		     MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x82, 0x7f, 0x80, 0, 0, 0, 0, 1, 0, 0 }, 10),
		     MFS_E_FORMAT);
	/* a control frame fragmented, or over 125 bytes */
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x09, 0x00 }, 2), MFS_E_FORMAT);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x89, 0x7e, 0x00, 0x7e }, 4), MFS_E_FORMAT);
	/* and what passes: a non-final binary frame, an empty one, a pong */
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x02, 0x01, 'a' }, 3), 0);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x82, 0x00 }, 2), 0);
	cr_assert_eq(read_one(0, (uint8_t[]){ 0x8a, 0x01, 'a' }, 3), 0);
}
