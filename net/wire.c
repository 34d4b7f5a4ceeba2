#include "net/wire.h"

#include <string.h>

#include "crypto/mfs_error.h"

/* Fixed parts of the bodies. */
#define HELLO_BYTES 6u
#define REF_BYTES (4u + MFS_BLOB_ID_BYTES) /* request id | blob id */
#define REQUEST_BYTES (REF_BYTES + 8u)    /* | first segment | count */
#define RESPONSE_HEAD (REF_BYTES + 8u)    /* | blob length | first segment */
#define SEGMENT_HEAD 8u                   /* request id | index */
#define RID_BYTES 4u                      /* request id */
#define CODE_BYTES 2u

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 1 when a body of len bytes is possible for type. */
static int body_len_ok(enum mfs_wire_type type, size_t len)
{
	switch (type) {
	case MFS_WIRE_HANDSHAKE:
	case MFS_WIRE_HANDSHAKE_ACK:
		return len == HELLO_BYTES;
	case MFS_WIRE_REQUEST:
		return len == REQUEST_BYTES;
	case MFS_WIRE_NOT_FOUND:
		return len == REF_BYTES;
	case MFS_WIRE_RESPONSE:
		return len >= RESPONSE_HEAD + MFS_BLOB_ID_BYTES &&
		       len <= RESPONSE_HEAD + MFS_WIRE_MAX_LEAVES * MFS_BLOB_ID_BYTES &&
		       (len - RESPONSE_HEAD) % MFS_BLOB_ID_BYTES == 0;
	case MFS_WIRE_SEGMENT:
		return len >= SEGMENT_HEAD && len <= SEGMENT_HEAD + MFS_BLOB_LEAF_BYTES;
	case MFS_WIRE_HAVE:
	case MFS_WIRE_WANT:
		return len >= MFS_BLOB_ID_BYTES && len <= MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES &&
		       len % MFS_BLOB_ID_BYTES == 0;
	case MFS_WIRE_ERROR:
		return len >= CODE_BYTES && len <= CODE_BYTES + MFS_WIRE_MAX_TEXT;
	case MFS_WIRE_CANCEL:
	case MFS_WIRE_CANCELLED:
		return len == RID_BYTES;
	}
	return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t more;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1fu;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07u;
		} else {
			return 0;
		}
		if (len - i - 1 < more)
			return 0;
		for (size_t k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((more == 2 && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += more + 1;
	}
	return 1;
}

int mfs_wire_head_parse(const uint8_t head[static MFS_WIRE_HEAD_BYTES], enum mfs_wire_type *type,
			size_t *body_len)
{
	enum mfs_wire_type t = (enum mfs_wire_type)head[0];
	size_t len = get_be32(head + 1);

	if (head[0] > MFS_WIRE_CANCELLED || !body_len_ok(t, len))
		return MFS_E_FORMAT;
	*type = t;
	*body_len = len;
	return 0;
}

int mfs_wire_parse(struct mfs_wire_msg *m, enum mfs_wire_type type, const uint8_t *body,
		   size_t len)
{
	memset(m, 0, sizeof *m);
	if (!body_len_ok(type, len))
		return MFS_E_FORMAT;
	m->type = type;
	switch (type) {
	case MFS_WIRE_HANDSHAKE:
	case MFS_WIRE_HANDSHAKE_ACK:
		m->hello.version = get_be16(body);
		m->hello.listen_port = get_be16(body + 2);
		m->hello.max_requests = get_be16(body + 4);
		break;
	case MFS_WIRE_REQUEST:
	case MFS_WIRE_NOT_FOUND:
	case MFS_WIRE_RESPONSE:
		m->request_id = get_be32(body);
		memcpy(m->blob_id, body + 4, MFS_BLOB_ID_BYTES);
		if (type == MFS_WIRE_REQUEST) {
			m->segment = get_be32(body + REF_BYTES);
			m->count = get_be32(body + REF_BYTES + 4);
			/* Segments some blob has, at least one. */
			if (m->segment >= MFS_WIRE_MAX_LEAVES || m->count == 0 ||
			    m->count > MFS_WIRE_MAX_LEAVES) {
				memset(m, 0, sizeof *m);
				return MFS_E_FORMAT;
			}
		}
		if (type != MFS_WIRE_RESPONSE)
			break;
		m->blob_len = get_be32(body + REF_BYTES);
		m->segment = get_be32(body + REF_BYTES + 4);
		m->data = body + RESPONSE_HEAD;
		m->len = len - RESPONSE_HEAD;
		/* Every leaf of a blob that may exist, and a first segment in it. */
		if (m->blob_len > MFS_BLOB_MAX_BYTES ||
		    m->len != mfs_blob_leaf_count(m->blob_len) * MFS_BLOB_ID_BYTES ||
		    m->segment >= m->len / MFS_BLOB_ID_BYTES) {
			memset(m, 0, sizeof *m);
			return MFS_E_FORMAT;
		}
		break;
	case MFS_WIRE_CANCEL:
	case MFS_WIRE_CANCELLED:
		m->request_id = get_be32(body);
		break;
	case MFS_WIRE_SEGMENT:
		m->request_id = get_be32(body);
		m->segment = get_be32(body + 4);
		if (m->segment >= MFS_WIRE_MAX_LEAVES) {
			memset(m, 0, sizeof *m);
			return MFS_E_FORMAT;
		}
		m->data = body + SEGMENT_HEAD;
		m->len = len - SEGMENT_HEAD;
		break;
	case MFS_WIRE_HAVE:
	case MFS_WIRE_WANT:
		m->data = body;
		m->len = len;
		break;
	case MFS_WIRE_ERROR:
		m->code = get_be16(body);
		m->data = body + CODE_BYTES;
		m->len = len - CODE_BYTES;
		if (!utf8_ok(m->data, m->len)) {
			memset(m, 0, sizeof *m);
			return MFS_E_FORMAT;
		}
		break;
	}
	return 0;
}

/* The body length m asks for, or 0 when its type is unknown or its data
 * length is beyond any bound (so the sums below cannot overflow). */
static size_t body_len_of(const struct mfs_wire_msg *m)
{
	if (m->len > MFS_WIRE_MAX_BODY)
		return 0;
	switch (m->type) {
	case MFS_WIRE_HANDSHAKE:
	case MFS_WIRE_HANDSHAKE_ACK:
		return HELLO_BYTES;
	case MFS_WIRE_REQUEST:
		return REQUEST_BYTES;
	case MFS_WIRE_NOT_FOUND:
		return REF_BYTES;
	case MFS_WIRE_RESPONSE:
		return RESPONSE_HEAD + m->len;
	case MFS_WIRE_SEGMENT:
		return SEGMENT_HEAD + m->len;
	case MFS_WIRE_HAVE:
	case MFS_WIRE_WANT:
		return m->len;
	case MFS_WIRE_ERROR:
		return CODE_BYTES + m->len;
	case MFS_WIRE_CANCEL:
	case MFS_WIRE_CANCELLED:
		return RID_BYTES;
	}
	return 0;
}

size_t mfs_wire_encoded_len(const struct mfs_wire_msg *m)
{
	size_t body = body_len_of(m);

	return body ? MFS_WIRE_HEAD_BYTES + body : 0;
}

size_t mfs_wire_encode(uint8_t *out, size_t cap, const struct mfs_wire_msg *m)
{
	size_t body = body_len_of(m);
	size_t total = MFS_WIRE_HEAD_BYTES + body;
	uint8_t *b = out + MFS_WIRE_HEAD_BYTES;
	int has_data = m->type == MFS_WIRE_RESPONSE || m->type == MFS_WIRE_HAVE ||
		       m->type == MFS_WIRE_WANT || m->type == MFS_WIRE_ERROR ||
		       m->type == MFS_WIRE_SEGMENT;

	if (!body || !body_len_ok(m->type, body) || cap < total)
		return 0;
	if (has_data && m->len && !m->data)
		return 0;
	if (m->type == MFS_WIRE_ERROR && !utf8_ok(m->data, m->len))
		return 0;
	if (m->type == MFS_WIRE_RESPONSE &&
	    (m->blob_len > MFS_BLOB_MAX_BYTES ||
	     m->len != mfs_blob_leaf_count(m->blob_len) * MFS_BLOB_ID_BYTES ||
	     m->segment >= m->len / MFS_BLOB_ID_BYTES))
		return 0;
	if (m->type == MFS_WIRE_SEGMENT && m->segment >= MFS_WIRE_MAX_LEAVES)
		return 0;
	if (m->type == MFS_WIRE_REQUEST && (m->segment >= MFS_WIRE_MAX_LEAVES || m->count == 0 ||
					    m->count > MFS_WIRE_MAX_LEAVES))
		return 0;

	out[0] = (uint8_t)m->type;
	put_be32(out + 1, (uint32_t)body);
	switch (m->type) {
	case MFS_WIRE_HANDSHAKE:
	case MFS_WIRE_HANDSHAKE_ACK:
		put_be16(b, m->hello.version);
		put_be16(b + 2, m->hello.listen_port);
		put_be16(b + 4, m->hello.max_requests);
		break;
	case MFS_WIRE_REQUEST:
	case MFS_WIRE_NOT_FOUND:
	case MFS_WIRE_RESPONSE:
		put_be32(b, m->request_id);
		memcpy(b + 4, m->blob_id, MFS_BLOB_ID_BYTES);
		if (m->type == MFS_WIRE_REQUEST) {
			put_be32(b + REF_BYTES, m->segment);
			put_be32(b + REF_BYTES + 4, m->count);
		}
		if (m->type == MFS_WIRE_RESPONSE) {
			put_be32(b + REF_BYTES, m->blob_len);
			put_be32(b + REF_BYTES + 4, m->segment);
			memcpy(b + RESPONSE_HEAD, m->data, m->len);
		}
		break;
	case MFS_WIRE_SEGMENT:
		put_be32(b, m->request_id);
		put_be32(b + 4, m->segment);
		if (m->len)
			memcpy(b + SEGMENT_HEAD, m->data, m->len);
		break;
	case MFS_WIRE_HAVE:
	case MFS_WIRE_WANT:
		memcpy(b, m->data, m->len);
		break;
	case MFS_WIRE_ERROR:
		put_be16(b, m->code);
		if (m->len)
			memcpy(b + CODE_BYTES, m->data, m->len);
		break;
	case MFS_WIRE_CANCEL:
	case MFS_WIRE_CANCELLED:
		put_be32(b, m->request_id);
		break;
	}
	return total;
}

const char *mfs_wire_type_name(enum mfs_wire_type type)
{
	static const char *const names[] = {
		[MFS_WIRE_HANDSHAKE] = "HANDSHAKE", [MFS_WIRE_HANDSHAKE_ACK] = "HANDSHAKE_ACK",
		[MFS_WIRE_REQUEST] = "REQUEST",     [MFS_WIRE_RESPONSE] = "RESPONSE",
		[MFS_WIRE_HAVE] = "HAVE",           [MFS_WIRE_WANT] = "WANT",
		[MFS_WIRE_NOT_FOUND] = "NOT_FOUND", [MFS_WIRE_ERROR] = "ERROR",
		[MFS_WIRE_SEGMENT] = "SEGMENT",     [MFS_WIRE_CANCEL] = "CANCEL",
		[MFS_WIRE_CANCELLED] = "CANCELLED",
	};

	if ((unsigned)type >= sizeof names / sizeof names[0])
		return "UNKNOWN";
	return names[type];
}
