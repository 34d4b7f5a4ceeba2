/* ws_frame: RFC 6455 WebSocket frames for the tls peer transport
 * (net/tls_link): the head of a binary frame to send, and a reader of the
 * frames a peer sends (untrusted bytes), unmasking payloads in place.
 *
 * The reader takes any cut of the stream: a head split across calls is
 * kept (14 bytes at most). Accepted: binary and continuation frames (their
 * payloads, concatenated, are the stream; FIN is not a boundary here), and
 * ping and pong (skipped: a peer of ours never sends them, and nothing
 * answers). Close ends the stream. Refused as malformed: text frames, a
 * reserved bit or opcode, a control frame over 125 bytes or not final, a
 * length not in its shortest form or with the top bit set, and a mask
 * where the RFC forbids it or none where it requires one (frames from a
 * client are masked, from a server not).
 *
 * Pure; no allocation. */
#ifndef MFS_WS_FRAME_H
#define MFS_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MFS_WS_HEAD_MAX 14 /* 2 + 8 (length) + 4 (mask) */

enum { MFS_WS_OP_CONT = 0, MFS_WS_OP_TEXT = 1, MFS_WS_OP_BINARY = 2, MFS_WS_OP_CLOSE = 8,
       MFS_WS_OP_PING = 9, MFS_WS_OP_PONG = 10 };

/* Writes the head of a final frame of opcode carrying len bytes, masked
 * with mask when it is not NULL (the payload must then be masked with
 * mfs_ws_mask). Returns the head's length (2 to 14). */
size_t mfs_ws_head(uint8_t out[static MFS_WS_HEAD_MAX], unsigned opcode, uint64_t len,
		   const uint8_t *mask);

/* XORs buf[0..len) with mask, starting at mask byte offset % 4. */
void mfs_ws_mask(uint8_t *buf, size_t len, const uint8_t mask[static 4], size_t offset);

struct mfs_ws_reader {
	int masked;             /* frames must be masked (a server reading a client) */
	uint8_t head[MFS_WS_HEAD_MAX];
	size_t head_got, head_need;
	unsigned opcode;
	int has_mask;
	uint8_t mask[4];
	uint64_t left;          /* payload bytes of this frame still to come */
	uint64_t done;          /* payload bytes of this frame already given */
	int closed;             /* a close frame came: nothing more is read */
};

/* Ready to read a peer's frames; masked: 1 on a server. */
void mfs_ws_reader_init(struct mfs_ws_reader *r, int masked);

/* Reads from buf[0..len): consumes *used bytes and gives at most one
 * stretch of data payload, unmasked in place, as buf[*data_off ..
 * *data_off + *data_len) (*data_len 0: none this time). Call again with
 * the rest while *used < len. 0; 1 when a close frame has ended the stream
 * (the rest is ignored); MFS_E_FORMAT as described above. */
int mfs_ws_read(struct mfs_ws_reader *r, uint8_t *buf, size_t len, size_t *used,
		size_t *data_off, size_t *data_len);

#endif
