/* net/wire: the exact byte layout, a round trip of every message type, and
 * every length rule enforced by the head parser, the body parser and the
 * encoder alike. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/wire.h"
#include "tests/unit/testutil.h"

#define BIG (MFS_WIRE_HEAD_BYTES + MFS_WIRE_MAX_BODY + 64)

/* Encode and parse buffers large enough for the largest message. */
static uint8_t *enc, *src;

static void setup(void)
{
	enc = malloc(BIG);
	src = malloc(BIG);
	cr_assert(enc && src);
	tu_fill_random(src, BIG, 1);
}

static void teardown(void)
{
	free(enc);
	free(src);
}

TestSuite(wire, .init = setup, .fini = teardown);

static void blob_id(uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t first)
{
	for (unsigned i = 0; i < MFS_BLOB_ID_BYTES; i++)
		id[i] = (uint8_t)(first + i);
}

static void put_head(uint8_t head[static MFS_WIRE_HEAD_BYTES], uint8_t type, uint32_t len)
{
	head[0] = type;
	head[1] = (uint8_t)(len >> 24);
	head[2] = (uint8_t)(len >> 16);
	head[3] = (uint8_t)(len >> 8);
	head[4] = (uint8_t)len;
}

/* Encodes m, parses it back through head and body, compares every field. */
static void round_trip(const struct mfs_wire_msg *m)
{
	struct mfs_wire_msg got;
	enum mfs_wire_type type;
	size_t body_len, n = mfs_wire_encoded_len(m);

	cr_assert_gt(n, MFS_WIRE_HEAD_BYTES);
	cr_assert_eq(mfs_wire_encode(enc, BIG, m), n);
	/* Exactly n bytes are needed: one fewer is refused. */
	cr_assert_eq(mfs_wire_encode(enc, n - 1, m), 0);
	cr_assert_eq(mfs_wire_encode(enc, n, m), n);
	cr_assert_eq(mfs_wire_head_parse(enc, &type, &body_len), 0);
	cr_assert_eq(type, m->type);
	cr_assert_eq(body_len, n - MFS_WIRE_HEAD_BYTES);
	cr_assert_eq(mfs_wire_parse(&got, type, enc + MFS_WIRE_HEAD_BYTES, body_len), 0);
	cr_assert_eq(got.type, m->type);
	switch (m->type) {
	case MFS_WIRE_HANDSHAKE:
	case MFS_WIRE_HANDSHAKE_ACK:
		cr_assert_eq(got.hello.version, m->hello.version);
		cr_assert_eq(got.hello.listen_port, m->hello.listen_port);
		cr_assert_eq(got.hello.max_requests, m->hello.max_requests);
		break;
	case MFS_WIRE_REQUEST:
	case MFS_WIRE_NOT_FOUND:
	case MFS_WIRE_RESPONSE:
		cr_assert_eq(got.request_id, m->request_id);
		cr_assert_arr_eq(got.blob_id, m->blob_id, MFS_BLOB_ID_BYTES);
		cr_assert_eq(got.segment, m->type == MFS_WIRE_NOT_FOUND ? 0 : m->segment);
		cr_assert_eq(got.count, m->type == MFS_WIRE_REQUEST ? m->count : 0);
		cr_assert_eq(got.blob_len, m->type == MFS_WIRE_RESPONSE ? m->blob_len : 0);
		break;
	case MFS_WIRE_SEGMENT:
		cr_assert_eq(got.request_id, m->request_id);
		cr_assert_eq(got.segment, m->segment);
		break;
	case MFS_WIRE_CANCEL:
	case MFS_WIRE_CANCELLED:
		cr_assert_eq(got.request_id, m->request_id);
		break;
	case MFS_WIRE_ERROR:
		cr_assert_eq(got.code, m->code);
		break;
	default:
		break;
	}
	if (m->type == MFS_WIRE_RESPONSE || m->type == MFS_WIRE_HAVE || m->type == MFS_WIRE_WANT ||
	    m->type == MFS_WIRE_ERROR || m->type == MFS_WIRE_SEGMENT) {
		cr_assert_eq(got.len, m->len);
		cr_assert(got.len == 0 || memcmp(got.data, m->data, got.len) == 0);
		/* data borrows from the parsed buffer. */
		cr_assert(got.len == 0 || (got.data > enc && got.data + got.len == enc + n));
	} else {
		cr_assert_eq(got.len, 0);
		cr_assert_null(got.data);
	}
}

/* Both parsers refuse a body of len bytes for type. */
static void refused(uint8_t type, uint32_t len)
{
	uint8_t head[MFS_WIRE_HEAD_BYTES];
	enum mfs_wire_type t = MFS_WIRE_ERROR;
	size_t body_len = 12345;
	struct mfs_wire_msg m;

	put_head(head, type, len);
	cr_assert_eq(mfs_wire_head_parse(head, &t, &body_len), MFS_E_FORMAT, "type %u len %u",
		     type, len);
	cr_assert_eq(t, MFS_WIRE_ERROR, "outputs untouched on failure");
	cr_assert_eq(body_len, 12345);
	if (len <= MFS_WIRE_MAX_BODY + 64)
		cr_assert_eq(mfs_wire_parse(&m, (enum mfs_wire_type)type, src, len), MFS_E_FORMAT,
			     "type %u len %u", type, len);
}

/* Both parsers accept a body of len bytes for type. */
static void accepted(uint8_t type, uint32_t len)
{
	uint8_t head[MFS_WIRE_HEAD_BYTES];
	enum mfs_wire_type t;
	size_t body_len;
	struct mfs_wire_msg m;

	put_head(head, type, len);
	cr_assert_eq(mfs_wire_head_parse(head, &t, &body_len), 0, "type %u len %u", type, len);
	cr_assert_eq((unsigned)t, type);
	cr_assert_eq(body_len, len);
	memset(src, 'a', len < 600 ? len : 600); /* ERROR text must be UTF-8 */
	if (type == MFS_WIRE_RESPONSE) { /* the blob length its leaves need */
		uint32_t leaves = (len - 44) / 32, blob_len = leaves * MFS_BLOB_LEAF_BYTES;
		src[36] = (uint8_t)(blob_len >> 24), src[37] = (uint8_t)(blob_len >> 16);
		src[38] = (uint8_t)(blob_len >> 8), src[39] = (uint8_t)blob_len;
		memset(src + 40, 0, 4);
	}
	if (type == MFS_WIRE_SEGMENT)
		memset(src + 4, 0, 4);
	if (type == MFS_WIRE_REQUEST) { /* from segment 0, one of it */
		memset(src + 36, 0, 8);
		src[43] = 1;
	}
	cr_assert_eq(mfs_wire_parse(&m, t, src, len), 0, "type %u len %u", type, len);
}

Test(wire, byte_layout_is_big_endian_as_documented)
{
	struct mfs_wire_msg m = { .type = MFS_WIRE_HANDSHAKE, .hello = { 1, 6881, 32 } };
	const uint8_t hello[] = { 0, 0, 0, 0, 6, 0x00, 0x01, 0x1a, 0xe1, 0x00, 0x20 };
	uint8_t want[MFS_WIRE_HEAD_BYTES + 44];

	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), sizeof hello);
	cr_assert_arr_eq(enc, hello, sizeof hello);

	/* REQUEST: request id | blob id | first segment | count. */
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_REQUEST, .request_id = 0x01020304,
				   .segment = 0xfe, .count = 0x100 };
	blob_id(m.blob_id, 0x40);
	put_head(want, 2, 44);
	want[5] = 1, want[6] = 2, want[7] = 3, want[8] = 4;
	blob_id(want + 9, 0x40);
	want[41] = 0, want[42] = 0, want[43] = 0, want[44] = 0xfe;
	want[45] = 0, want[46] = 0, want[47] = 0x01, want[48] = 0x00;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), MFS_WIRE_HEAD_BYTES + 44);
	cr_assert_arr_eq(enc, want, MFS_WIRE_HEAD_BYTES + 44);
	m.type = MFS_WIRE_NOT_FOUND; /* request id | blob id */
	put_head(want, 6, 36);
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), MFS_WIRE_HEAD_BYTES + 36);
	cr_assert_arr_eq(enc, want, MFS_WIRE_HEAD_BYTES + 36);

	/* RESPONSE: request id | blob id | blob length | first segment |
	 * leaves: a blob of 65,553 bytes has two. */
	uint8_t leaves[64];
	blob_id(leaves, 0x80);
	blob_id(leaves + 32, 0xa0);
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_RESPONSE, .request_id = 0x01020304,
				   .blob_len = 65553, .segment = 1, .data = leaves, .len = 64 };
	blob_id(m.blob_id, 0x40);
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), MFS_WIRE_HEAD_BYTES + 44 + 64);
	put_head(want, 3, 44 + 64);
	want[41] = 0x00, want[42] = 0x01, want[43] = 0x00, want[44] = 0x11;
	want[45] = 0, want[46] = 0, want[47] = 0, want[48] = 1;
	cr_assert_arr_eq(enc, want, sizeof want);
	cr_assert_arr_eq(enc + sizeof want, leaves, 64);

	/* SEGMENT: request id | index | bytes. */
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_SEGMENT, .request_id = 0x01020304,
				   .segment = 0xfe, .data = (const uint8_t *)"xyz", .len = 3 };
	const uint8_t segment[] = { 8, 0, 0, 0, 11, 1, 2, 3, 4, 0, 0, 0, 0xfe, 'x', 'y', 'z' };
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), sizeof segment);
	cr_assert_arr_eq(enc, segment, sizeof segment);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .code = 0x0102,
				   .data = (const uint8_t *)"no", .len = 2 };
	const uint8_t error[] = { 7, 0, 0, 0, 4, 0x01, 0x02, 'n', 'o' };
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), sizeof error);
	cr_assert_arr_eq(enc, error, sizeof error);

	/* CANCEL and CANCELLED: request id. */
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_CANCEL, .request_id = 0x0a0b0c0d };
	const uint8_t cancel[] = { 9, 0, 0, 0, 4, 0x0a, 0x0b, 0x0c, 0x0d };
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), sizeof cancel);
	cr_assert_arr_eq(enc, cancel, sizeof cancel);
	m.type = MFS_WIRE_CANCELLED;
	const uint8_t cancelled[] = { 10, 0, 0, 0, 4, 0x0a, 0x0b, 0x0c, 0x0d };
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), sizeof cancelled);
	cr_assert_arr_eq(enc, cancelled, sizeof cancelled);

	uint8_t ids[64];
	blob_id(ids, 0);
	blob_id(ids + 32, 100);
	m = (struct mfs_wire_msg){ .type = MFS_WIRE_WANT, .data = ids, .len = 64 };
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 69);
	put_head(want, 5, 64);
	cr_assert_arr_eq(enc, want, MFS_WIRE_HEAD_BYTES);
	cr_assert_arr_eq(enc + 5, ids, 64);
}

Test(wire, every_type_round_trips)
{
	struct mfs_wire_msg m;
	const char *utf8 = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91";

	for (int t = MFS_WIRE_HANDSHAKE; t <= MFS_WIRE_HANDSHAKE_ACK; t++) {
		m = (struct mfs_wire_msg){ .type = t, .hello = { 1, 0, 0 } };
		round_trip(&m);
		m.hello = (struct mfs_wire_hello){ 0xffff, 0xfffe, 0x8001 };
		round_trip(&m);
	}
	const enum mfs_wire_type refs[] = { MFS_WIRE_REQUEST, MFS_WIRE_NOT_FOUND };
	for (size_t i = 0; i < 2; i++) {
		m = (struct mfs_wire_msg){ .type = refs[i], .request_id = 0xfedcba98, .count = 1 };
		blob_id(m.blob_id, 7);
		round_trip(&m);
	}

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_REQUEST, .request_id = 3, .segment = 255,
				   .count = MFS_WIRE_MAX_LEAVES };
	round_trip(&m);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_RESPONSE, .request_id = 0, .data = src };
	blob_id(m.blob_id, 9);
	const size_t sizes[] = { 0, 1, 65552, 65553, 1u << 20, MFS_BLOB_MAX_BYTES };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		m.blob_len = (uint32_t)sizes[i];
		m.len = mfs_blob_leaf_count(sizes[i]) * MFS_BLOB_ID_BYTES;
		m.request_id = (uint32_t)i * 0x01000001u;
		m.segment = (uint32_t)(m.len / MFS_BLOB_ID_BYTES - 1);
		round_trip(&m);
	}
	cr_assert_eq(m.len, MFS_WIRE_MAX_LEAVES * MFS_BLOB_ID_BYTES);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_SEGMENT, .request_id = 5, .data = src };
	const size_t pieces[] = { 0, 1, 4096, MFS_BLOB_LEAF_BYTES };
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		m.len = pieces[i];
		m.segment = (uint32_t)(i * 80);
		round_trip(&m);
	}

	for (int t = MFS_WIRE_HAVE; t <= MFS_WIRE_WANT; t++) {
		m = (struct mfs_wire_msg){ .type = t, .data = src };
		for (size_t n = 1; n <= MFS_WIRE_MAX_IDS; n = n * 3 + 1) {
			m.len = n * MFS_BLOB_ID_BYTES;
			round_trip(&m);
		}
		m.len = MFS_WIRE_MAX_IDS * MFS_BLOB_ID_BYTES;
		round_trip(&m);
	}

	for (int t = MFS_WIRE_CANCEL; t <= MFS_WIRE_CANCELLED; t++) {
		m = (struct mfs_wire_msg){ .type = t, .request_id = 0 };
		round_trip(&m);
		m.request_id = 0xffffffffu;
		round_trip(&m);
	}

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .code = MFS_WIRE_ERR_BUSY };
	round_trip(&m); /* no text */
	m.data = (const uint8_t *)utf8;
	m.len = strlen(utf8);
	round_trip(&m);
	memset(src, 'x', MFS_WIRE_MAX_TEXT);
	m.data = src;
	m.len = MFS_WIRE_MAX_TEXT;
	m.code = 0xffff;
	round_trip(&m);
}

Test(wire, lengths_each_type_cannot_have_are_refused)
{
	for (uint8_t t = MFS_WIRE_HANDSHAKE; t <= MFS_WIRE_HANDSHAKE_ACK; t++) {
		refused(t, 0);
		refused(t, 5);
		refused(t, 7);
		accepted(t, 6);
	}
	refused(MFS_WIRE_REQUEST, 36);
	refused(MFS_WIRE_REQUEST, 40);
	refused(MFS_WIRE_REQUEST, 43);
	refused(MFS_WIRE_REQUEST, 45);
	refused(MFS_WIRE_REQUEST, 0);
	accepted(MFS_WIRE_REQUEST, 44);
	refused(MFS_WIRE_NOT_FOUND, 35);
	refused(MFS_WIRE_NOT_FOUND, 40);
	refused(MFS_WIRE_NOT_FOUND, 68);
	accepted(MFS_WIRE_NOT_FOUND, 36);

	refused(MFS_WIRE_RESPONSE, 0);
	refused(MFS_WIRE_RESPONSE, 44);          /* no leaf */
	refused(MFS_WIRE_RESPONSE, 44 + 31);
	refused(MFS_WIRE_RESPONSE, 44 + 33);
	refused(MFS_WIRE_RESPONSE, 44 + 32 * (MFS_WIRE_MAX_LEAVES + 1));
	refused(MFS_WIRE_RESPONSE, 0xffffffffu);
	accepted(MFS_WIRE_RESPONSE, 44 + 32);
	accepted(MFS_WIRE_RESPONSE, 44 + 32 * MFS_WIRE_MAX_LEAVES);

	refused(MFS_WIRE_SEGMENT, 0);
	refused(MFS_WIRE_SEGMENT, 7);
	refused(MFS_WIRE_SEGMENT, MFS_WIRE_MAX_BODY + 1);
	refused(MFS_WIRE_SEGMENT, 0xffffffffu);
	accepted(MFS_WIRE_SEGMENT, 8);
	accepted(MFS_WIRE_SEGMENT, MFS_WIRE_MAX_BODY);

	for (uint8_t t = MFS_WIRE_HAVE; t <= MFS_WIRE_WANT; t++) {
		refused(t, 0);  /* no ids */
		refused(t, 31); /* not a multiple of 32 */
		refused(t, 33);
		refused(t, 32 * 7 + 16);
		refused(t, (MFS_WIRE_MAX_IDS + 1) * 32);
		refused(t, 0x80000000u);
		accepted(t, 32);
		accepted(t, MFS_WIRE_MAX_IDS * 32);
	}

	refused(MFS_WIRE_ERROR, 0);
	refused(MFS_WIRE_ERROR, 1);
	refused(MFS_WIRE_ERROR, 2 + MFS_WIRE_MAX_TEXT + 1);
	accepted(MFS_WIRE_ERROR, 2);
	accepted(MFS_WIRE_ERROR, 2 + MFS_WIRE_MAX_TEXT);

	for (uint8_t t = MFS_WIRE_CANCEL; t <= MFS_WIRE_CANCELLED; t++) {
		refused(t, 0);
		refused(t, 3);
		refused(t, 5);
		refused(t, 36);
		accepted(t, 4);
	}

	/* Unknown types, whatever the length. */
	for (unsigned t = 11; t <= 255; t++) {
		refused((uint8_t)t, 0);
		refused((uint8_t)t, 6);
		refused((uint8_t)t, 36);
	}
}

Test(wire, error_text_must_be_utf8)
{
	static const char *const bad[] = {
		"\x80",             /* lone continuation */
		"ab\xc3",           /* truncated */
		"\xe2\x82",         /* truncated */
		"\xc0\x80",         /* overlong NUL */
		"\xc1\xbf",         /* overlong */
		"\xe0\x80\xaf",     /* overlong */
		"\xf0\x80\x80\xaf", /* overlong */
		"\xed\xa0\x80",     /* surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xf5\x80\x80\x80",
		"\xff",
		"\xe2\x28\xa1",     /* bad continuation */
	};
	uint8_t body[16];
	struct mfs_wire_msg m;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]);

		body[0] = 0, body[1] = 1;
		memcpy(body + 2, bad[i], len);
		cr_assert_eq(mfs_wire_parse(&m, MFS_WIRE_ERROR, body, 2 + len), MFS_E_FORMAT,
			     "case %zu", i);
		m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .code = 1,
					   .data = (const uint8_t *)bad[i], .len = len };
		cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "case %zu", i);
	}
	/* The largest code points of each length are fine. */
	const char *good = "\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf";
	body[0] = 0, body[1] = 1;
	memcpy(body + 2, good, strlen(good));
	cr_assert_eq(mfs_wire_parse(&m, MFS_WIRE_ERROR, body, 2 + strlen(good)), 0);
	cr_assert_eq(m.len, strlen(good));
}

Test(wire, encoder_refuses_what_the_parser_would)
{
	struct mfs_wire_msg m = { .type = MFS_WIRE_HAVE, .data = src };

	m.len = 0;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.len = 33;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.len = (MFS_WIRE_MAX_IDS + 1) * 32;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.type = MFS_WIRE_WANT;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.len = 32;
	m.data = NULL;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "ids missing");

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_RESPONSE, .data = src };
	m.len = (MFS_WIRE_MAX_LEAVES + 1) * 32;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.len = SIZE_MAX; /* no overflow into a small length */
	cr_assert_eq(mfs_wire_encoded_len(&m), 0);
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	m.len = SIZE_MAX - 43;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);
	/* Leaves and blob length must agree, and the first segment be one of
	 * the blob's. */
	m.len = 64;
	m.blob_len = 65552;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "one leaf's blob, two leaves");
	m.blob_len = 65553;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), MFS_WIRE_HEAD_BYTES + 44 + 64);
	m.segment = 2;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "past the last segment");
	m.segment = 1;
	m.blob_len = MFS_BLOB_MAX_BYTES + 1;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "no blob is that long");
	/* ... and the parser refuses the same. */
	m.blob_len = 65553;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), MFS_WIRE_HEAD_BYTES + 44 + 64);
	struct mfs_wire_msg got;
	enc[MFS_WIRE_HEAD_BYTES + 39] = 0x10; /* blob length 65,552 */
	cr_assert_eq(mfs_wire_parse(&got, MFS_WIRE_RESPONSE, enc + MFS_WIRE_HEAD_BYTES, 44 + 64),
		     MFS_E_FORMAT);
	enc[MFS_WIRE_HEAD_BYTES + 39] = 0x11;
	enc[MFS_WIRE_HEAD_BYTES + 43] = 2;    /* first segment 2 of 2 */
	cr_assert_eq(mfs_wire_parse(&got, MFS_WIRE_RESPONSE, enc + MFS_WIRE_HEAD_BYTES, 44 + 64),
		     MFS_E_FORMAT);
	enc[MFS_WIRE_HEAD_BYTES + 43] = 1;
	cr_assert_eq(mfs_wire_parse(&got, MFS_WIRE_RESPONSE, enc + MFS_WIRE_HEAD_BYTES, 44 + 64),
		     0);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_SEGMENT, .data = src };
	m.len = MFS_BLOB_LEAF_BYTES + 1;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "longer than a piece");
	m.len = 1;
	m.segment = MFS_WIRE_MAX_LEAVES;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "no blob has that segment");
	const uint8_t far[] = { 0, 0, 0, 1, 0, 0, 1, 0, 'x' }; /* segment 256 */
	cr_assert_eq(mfs_wire_parse(&got, MFS_WIRE_SEGMENT, far, sizeof far), MFS_E_FORMAT);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_ERROR, .data = src };
	memset(src, 'y', MFS_WIRE_MAX_TEXT + 1);
	m.len = MFS_WIRE_MAX_TEXT + 1;
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);

	m = (struct mfs_wire_msg){ .type = (enum mfs_wire_type)11 };
	cr_assert_eq(mfs_wire_encoded_len(&m), 0);
	cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0);

	m = (struct mfs_wire_msg){ .type = MFS_WIRE_REQUEST, .count = 1 };
	cr_assert_eq(mfs_wire_encode(enc, 48, &m), 0, "49 bytes needed");
	cr_assert_eq(mfs_wire_encode(enc, 49, &m), 49);
	/* At least one segment, at most a blob's, from one a blob has; the
	 * parser refuses the same. */
	const struct { uint32_t segment, count; } bad_runs[] = {
		{ 0, 0 }, { 0, MFS_WIRE_MAX_LEAVES + 1 }, { MFS_WIRE_MAX_LEAVES, 1 } };
	for (size_t i = 0; i < sizeof bad_runs / sizeof bad_runs[0]; i++) {
		m.segment = bad_runs[i].segment;
		m.count = bad_runs[i].count;
		cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 0, "run %zu", i);
		m.segment = 0;
		m.count = 1;
		cr_assert_eq(mfs_wire_encode(enc, BIG, &m), 49);
		enc[MFS_WIRE_HEAD_BYTES + 38] = (uint8_t)(bad_runs[i].segment >> 8);
		enc[MFS_WIRE_HEAD_BYTES + 39] = (uint8_t)bad_runs[i].segment;
		enc[MFS_WIRE_HEAD_BYTES + 42] = (uint8_t)(bad_runs[i].count >> 8);
		enc[MFS_WIRE_HEAD_BYTES + 43] = (uint8_t)bad_runs[i].count;
		cr_assert_eq(mfs_wire_parse(&got, MFS_WIRE_REQUEST, enc + MFS_WIRE_HEAD_BYTES, 44),
			     MFS_E_FORMAT, "run %zu", i);
	}
}

Test(wire, type_names)
{
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_HANDSHAKE), "HANDSHAKE");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_HANDSHAKE_ACK), "HANDSHAKE_ACK");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_REQUEST), "REQUEST");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_RESPONSE), "RESPONSE");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_HAVE), "HAVE");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_WANT), "WANT");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_NOT_FOUND), "NOT_FOUND");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_ERROR), "ERROR");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_SEGMENT), "SEGMENT");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_CANCEL), "CANCEL");
	cr_assert_str_eq(mfs_wire_type_name(MFS_WIRE_CANCELLED), "CANCELLED");
	cr_assert_str_eq(mfs_wire_type_name((enum mfs_wire_type)11), "UNKNOWN");
	cr_assert_str_eq(mfs_wire_type_name((enum mfs_wire_type)-1), "UNKNOWN");
}
