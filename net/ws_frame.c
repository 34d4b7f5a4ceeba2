#include "net/ws_frame.h"

#include <string.h>

#include "crypto/mfs_error.h"

#define FIN 0x80u
#define RSV 0x70u
#define MASKED 0x80u

size_t mfs_ws_head(uint8_t out[static MFS_WS_HEAD_MAX], unsigned opcode, uint64_t len,
		   const uint8_t *mask)
{
	size_t n = 2;

	out[0] = (uint8_t)(FIN | (opcode & 0x0fu));
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		out[1] |= MASKED;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void mfs_ws_mask(uint8_t *buf, size_t len, const uint8_t mask[static 4], size_t offset)
{
	size_t i = 0;

	/* Word at a time once aligned to the mask: the bulk of a stream. */
	for (; i < len && (offset + i) % 4; i++)
		buf[i] ^= mask[(offset + i) % 4];
	if (len - i >= 8) {
		uint64_t m64;
		uint8_t m8[8];

		for (int k = 0; k < 8; k++)
			m8[k] = mask[k % 4];
		memcpy(&m64, m8, 8);
		for (; len - i >= 8; i += 8) {
			uint64_t w;

			memcpy(&w, buf + i, 8);
			w ^= m64;
			memcpy(buf + i, &w, 8);
		}
	}
	for (; i < len; i++)
		buf[i] ^= mask[(offset + i) % 4];
}

void mfs_ws_reader_init(struct mfs_ws_reader *r, int masked)
{
	memset(r, 0, sizeof *r);
	r->masked = masked;
	r->head_need = 2;
}

/* The whole head is in r->head: checks it and starts the payload. */
static int take_head(struct mfs_ws_reader *r)
{
	size_t at = 2;
	uint64_t len = r->head[1] & 0x7fu;

	if (len == 126) {
		len = (uint64_t)r->head[2] << 8 | r->head[3];
		if (len < 126)
			return MFS_E_FORMAT;
		at = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | r->head[2 + i];
		if (len <= 0xffff || len >> 63)
			return MFS_E_FORMAT;
		at = 10;
	}
	if (r->has_mask)
		memcpy(r->mask, r->head + at, 4);
	if (r->opcode >= MFS_WS_OP_CLOSE && len > 125)
		return MFS_E_FORMAT;
	r->left = len;
	r->done = 0;
	return 0;
}

/* The first two bytes are in: how long the head is, and the rules that
 * need no more. */
static int take_start(struct mfs_ws_reader *r)
{
	unsigned b0 = r->head[0], b1 = r->head[1], len7 = b1 & 0x7fu;

	r->opcode = b0 & 0x0fu;
	r->has_mask = (b1 & MASKED) != 0;
	if (b0 & RSV)
		return MFS_E_FORMAT;
	switch (r->opcode) {
	case MFS_WS_OP_CONT:
	case MFS_WS_OP_BINARY:
		break;
	case MFS_WS_OP_CLOSE:
	case MFS_WS_OP_PING:
	case MFS_WS_OP_PONG:
		if (!(b0 & FIN))
			return MFS_E_FORMAT;
		break;
	default: /* text, and the reserved opcodes */
		return MFS_E_FORMAT;
	}
	if (r->has_mask != r->masked)
		return MFS_E_FORMAT;
	r->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (r->has_mask ? 4 : 0);
	return 0;
}

int mfs_ws_read(struct mfs_ws_reader *r, uint8_t *buf, size_t len, size_t *used,
		size_t *data_off, size_t *data_len)
{
	size_t off = 0;
	int err;

	*used = 0;
	*data_off = 0;
	*data_len = 0;
	if (r->closed) {
		*used = len;
		return 1;
	}
	while (off < len) {
		if (r->head_got < r->head_need) {
			size_t n = r->head_need - r->head_got;

			n = n < len - off ? n : len - off;
			memcpy(r->head + r->head_got, buf + off, n);
			r->head_got += n;
			off += n;
			if (r->head_got == 2 && r->head_need == 2 && (err = take_start(r)) != 0)
				return err;
			if (r->head_got < r->head_need)
				continue;
			if ((err = take_head(r)) != 0)
				return err;
		}
		/* In the payload (maybe empty). */
		size_t n = r->left < len - off ? (size_t)r->left : len - off;

		if (r->opcode == MFS_WS_OP_CLOSE) {
			r->closed = 1;
			*used = len;
			return 1;
		}
		if (n && r->has_mask)
			mfs_ws_mask(buf + off, n, r->mask, (size_t)(r->done % 4));
		r->left -= n;
		r->done += n;
		if (!r->left) { /* the next frame's head */
			r->head_got = 0;
			r->head_need = 2;
		}
		if (n && (r->opcode == MFS_WS_OP_BINARY || r->opcode == MFS_WS_OP_CONT)) {
			*data_off = off;
			*data_len = n;
			*used = off + n;
			return 0;
		}
		off += n; /* a ping's or pong's payload, skipped */
	}
	*used = off;
	return 0;
}
