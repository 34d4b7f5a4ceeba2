/* net/bencode: the strict parser (every refusal, the limits, the tree) and
 * the canonical writer (round trips, refused misuse). BEP 5's example
 * packets (tests/vectors/bep5-krpc.txt) parse and re-encode byte for byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "net/bencode.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

/* Parses s (len bytes), re-encodes the tree and expects the same bytes. */
static void round_trip(const char *s, size_t len)
{
	struct mfs_bdoc *doc = NULL;
	uint8_t out[4096];
	struct mfs_benc_w w;
	size_t out_len;
	char why[128] = "";
	int rc = mfs_benc_parse(&doc, (const uint8_t *)s, len, why, sizeof why);

	cr_assert_eq(rc, 0, "%.*s: %s", (int)len, s, why);
	cr_assert_eq(doc->nodes[0].span, doc->count);
	cr_assert_eq(doc->nodes[0].enc_len, len);
	mfs_benc_w_init(&w, out, sizeof out);
	mfs_benc_w_node(&w, &doc->nodes[0]);
	cr_assert_eq(mfs_benc_w_finish(&w, &out_len), 0, "%.*s", (int)len, s);
	cr_assert_eq(out_len, len, "%.*s", (int)len, s);
	cr_assert_arr_eq(out, s, len, "%.*s", (int)len, s);
	mfs_benc_free(doc);
}

#define RT(lit) round_trip(lit, sizeof lit - 1)

Test(bencode, canonical_values_parse_and_re_encode_to_the_same_bytes)
{
	RT("i0e");
	RT("i-1e");
	RT("i42e");
	RT("i9223372036854775807e");
	RT("i-9223372036854775808e");
	RT("0:");
	RT("4:spam");
	RT("3:\0\1\xff");
	RT("le");
	RT("de");
	RT("l4:spami42ee");
	RT("d3:bar4:spam3:fooi42ee");
	RT("d0:i1e1:ai2e2:aai3e1:bi4ee"); /* "" < "a" < "aa" < "b" */
	RT("d1:ad1:bl1:ci-3eledeee1:zlli0eeee");
	RT("lllllleeeeee");
}

Test(bencode, the_tree_gives_types_values_keys_and_encodings)
{
	static const char doc_s[] = "d1:ad2:id3:abce1:q4:ping1:ti7e1:yl1:qi-2eee";
	struct mfs_bdoc *doc = NULL;
	const struct mfs_bnode *top, *a, *id, *y, *c;

	cr_assert_eq(mfs_benc_parse(&doc, (const uint8_t *)doc_s, sizeof doc_s - 1, NULL, 0), 0);
	top = &doc->nodes[0];
	cr_assert_eq(top->type, MFS_BENC_DICT);
	cr_assert_eq(top->count, 4);
	cr_assert_eq(doc->count, 8);
	a = mfs_benc_dict_get_type(top, "a", MFS_BENC_DICT);
	cr_assert_not_null(a);
	cr_assert_eq(a->enc_len, strlen("d2:id3:abce"));
	cr_assert_arr_eq(a->enc, "d2:id3:abce", a->enc_len);
	id = mfs_benc_dict_get_type(a, "id", MFS_BENC_STR);
	cr_assert_not_null(id);
	cr_assert_eq(id->str_len, 3);
	cr_assert_arr_eq(id->str, "abc", 3);
	cr_assert_eq(mfs_benc_dict_get_type(top, "t", MFS_BENC_INT)->num, 7);
	cr_assert_null(mfs_benc_dict_get_type(top, "t", MFS_BENC_STR));
	cr_assert_null(mfs_benc_dict_get(top, "x"));
	cr_assert_null(mfs_benc_dict_get(id, "x"));
	cr_assert_null(mfs_benc_dict_get(NULL, "x"));
	y = mfs_benc_dict_get_type(top, "y", MFS_BENC_LIST);
	cr_assert_eq(y->count, 2);
	c = mfs_benc_first(y);
	cr_assert_eq(c->type, MFS_BENC_STR);
	cr_assert_null(c->key);
	c = mfs_benc_next(y, c);
	cr_assert_eq(c->num, -2);
	cr_assert_null(mfs_benc_next(y, c));
	cr_assert_null(mfs_benc_first(id));
	mfs_benc_free(doc);
}

/* Each refused input with what its reason must say. */
static const struct {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *why;
} refused[] = {
	{"", 0, "empty input"},
	{"i", 0, "cut short"},
	{"ie", 0, "integer not of the form"},
	{"i-e", 0, "integer not of the form"},
	{"i--1e", 0, "integer not of the form"},
	{"i+1e", 0, "integer not of the form"},
	{"i1.5e", 0, "integer not of the form"},
	{"i 1e", 0, "integer not of the form"},
	{"i01e", 0, "leading zero"},
	{"i00e", 0, "leading zero"},
	{"i-01e", 0, "leading zero"},
	{"i-0e", 0, "-0"},
	{"i9223372036854775808e", 0, "outside 64 bits"},
	{"i-9223372036854775809e", 0, "outside 64 bits"},
	{"i99999999999999999999999e", 0, "outside 64 bits"},
	{"i12", 0, "cut short"},
	{"01:a", 0, "leading zero"},
	{"00:", 0, "leading zero"},
	{"5:abc", 0, "longer than the input"},
	{"99999999999999999999999:a", 0, "longer than the input"},
	{"3abc", 0, "not followed by ':'"},
	{"3", 0, "longer than the input"},
	{"0", 0, "not followed by ':'"},
	{"-1:a", 0, "not a bencoded value"},
	{"x", 0, "not a bencoded value"},
	{"e", 0, "not a bencoded value"},
	{"l", 0, "cut short"},
	{"l4:spam", 0, "cut short"},
	{"d", 0, "cut short"},
	{"d1:a", 0, "key without a value"},
	{"d1:ae", 0, "not a bencoded value"},
	{"di1ei2ee", 0, "key not a string"},
	{"dlei2ee", 0, "key not a string"},
	{"d1:bi1e1:ai2ee", 0, "not sorted"},
	{"d2:aai1e1:ai2ee", 0, "not sorted"},
	{"d1:ai1e1:ai2ee", 0, "duplicate"},
	{"d0:i1e0:i2ee", 0, "duplicate"},
	{"i1ei2e", 0, "bytes after the value"},
	{"lee", 0, "bytes after the value"},
	{"4:spam\n", 0, "bytes after the value"},
	{"l\0e", 3, "not a bencoded value"},
};

Test(bencode, every_non_canonical_or_broken_input_is_refused_with_its_reason)
{
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		size_t len = refused[i].len ? refused[i].len : strlen(refused[i].in);
		struct mfs_bdoc *doc = (void *)1;
		char why[160] = "";
		int rc = mfs_benc_parse(&doc, (const uint8_t *)refused[i].in, len, why, sizeof why);

		cr_assert_eq(rc, MFS_E_FORMAT, "'%s' accepted", refused[i].in);
		cr_assert_null(doc);
		cr_assert(strstr(why, refused[i].why), "'%s': '%s' lacks '%s'", refused[i].in, why,
			  refused[i].why);
		cr_assert(strncmp(why, "bencode: ", 9) == 0, "%s", why);
	}
}

/* "l" * depth + "e" * depth */
static size_t nested(char *buf, unsigned depth)
{
	memset(buf, 'l', depth);
	memset(buf + depth, 'e', depth);
	return 2 * (size_t)depth;
}

Test(bencode, nesting_beyond_the_depth_limit_is_refused_without_recursion)
{
	static char buf[2 * 200001];
	struct mfs_bnode nodes[300];
	struct mfs_bdoc *doc = NULL;
	size_t count, len;
	char why[128] = "";

	len = nested(buf, MFS_BENC_MAX_DEPTH);
	cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)buf, len, why, sizeof why), 0, "%s", why);
	cr_assert_eq(doc->count, MFS_BENC_MAX_DEPTH);
	mfs_benc_free(doc);
	len = nested(buf, MFS_BENC_MAX_DEPTH + 1);
	cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)buf, len, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "nesting too deep"), "%s", why);
	/* A caller's own limit, up to the cap. */
	len = nested(buf, 3);
	cr_assert_eq(mfs_benc_parse_into(nodes, 300, &count, (uint8_t *)buf, len, 2, NULL, 0),
		     MFS_E_FORMAT);
	cr_assert_eq(mfs_benc_parse_into(nodes, 300, &count, (uint8_t *)buf, len, 3, NULL, 0), 0);
	len = nested(buf, MFS_BENC_DEPTH_CAP);
	cr_assert_eq(mfs_benc_parse_into(nodes, 300, &count, (uint8_t *)buf, len,
					 MFS_BENC_DEPTH_CAP, NULL, 0), 0);
	cr_assert_eq(count, MFS_BENC_DEPTH_CAP);
	cr_assert_eq(mfs_benc_parse_into(nodes, 300, &count, (uint8_t *)buf, len,
					 MFS_BENC_DEPTH_CAP + 1, NULL, 0), -EINVAL);
	cr_assert_eq(mfs_benc_parse_into(nodes, 300, &count, (uint8_t *)buf, len, 0, NULL, 0),
		     -EINVAL);
	/* Very deep input costs nothing but the refusal. */
	len = nested(buf, 200000);
	cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)buf, len, why, sizeof why), MFS_E_FORMAT);
	cr_assert_null(doc);
}

Test(bencode, more_values_than_the_node_limit_are_refused)
{
	struct mfs_bnode nodes[4];
	size_t count = 99;
	char why[128] = "";
	static char many[2 + 3 * (MFS_BENC_MAX_NODES + 1)];
	struct mfs_bdoc *doc = NULL;
	size_t len = 0;

	cr_assert_eq(mfs_benc_parse_into(nodes, 4, &count, (const uint8_t *)"li1ei2ei3ee", 11, 8,
					 why, sizeof why), 0);
	cr_assert_eq(count, 4);
	cr_assert_eq(mfs_benc_parse_into(nodes, 4, &count, (const uint8_t *)"li1ei2ei3ei4ee", 14, 8,
					 why, sizeof why), MFS_E_FORMAT);
	cr_assert_eq(count, 0);
	cr_assert(strstr(why, "too many values"), "%s", why);
	cr_assert_eq(mfs_benc_parse_into(nodes, 0, &count, (const uint8_t *)"i1e", 3, 8, NULL, 0),
		     -EINVAL);
	/* The default limit: a list of MFS_BENC_MAX_NODES values is one too many. */
	many[len++] = 'l';
	for (int i = 0; i < MFS_BENC_MAX_NODES; i++) {
		memcpy(many + len, "0:", 2);
		len += 2;
	}
	many[len++] = 'e';
	cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)many, len, why, sizeof why), MFS_E_FORMAT);
	cr_assert(strstr(why, "too many values"), "%s", why);
	len -= 3;
	many[len++] = 'e';
	cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)many, len, why, sizeof why), 0, "%s", why);
	cr_assert_eq(doc->count, MFS_BENC_MAX_NODES);
	mfs_benc_free(doc);
}

Test(bencode, the_writer_builds_canonical_bytes)
{
	uint8_t buf[256];
	struct mfs_benc_w w;
	size_t len;
	static const char want[] = "d1:ad2:id3:\0\1\2e1:q4:ping1:t2:aa1:y1:q1:zli-5ei0eleee";

	mfs_benc_w_init(&w, buf, sizeof buf);
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "a");
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "id");
	mfs_benc_w_str(&w, "\0\1\2", 3);
	mfs_benc_w_end(&w);
	mfs_benc_w_key(&w, "q");
	mfs_benc_w_cstr(&w, "ping");
	mfs_benc_w_key(&w, "t");
	mfs_benc_w_cstr(&w, "aa");
	mfs_benc_w_key(&w, "y");
	mfs_benc_w_cstr(&w, "q");
	mfs_benc_w_key(&w, "z");
	mfs_benc_w_list(&w);
	mfs_benc_w_int(&w, -5);
	mfs_benc_w_int(&w, 0);
	mfs_benc_w_list(&w);
	mfs_benc_w_end(&w);
	mfs_benc_w_end(&w);
	mfs_benc_w_end(&w);
	cr_assert_eq(mfs_benc_w_finish(&w, &len), 0);
	cr_assert_eq(len, sizeof want - 1);
	cr_assert_arr_eq(buf, want, len);
	round_trip((const char *)buf, len);
	/* Several values one after another: what BEP 44 signs. */
	mfs_benc_w_init(&w, buf, sizeof buf);
	mfs_benc_w_cstr(&w, "seq");
	mfs_benc_w_int(&w, INT64_MIN);
	cr_assert_eq(mfs_benc_w_finish(&w, &len), 0);
	cr_assert_eq(len, strlen("3:seqi-9223372036854775808e"));
	cr_assert_arr_eq(buf, "3:seqi-9223372036854775808e", len);
}

typedef void (*misuse_fn)(struct mfs_benc_w *w);

static void unsorted(struct mfs_benc_w *w)
{
	mfs_benc_w_dict(w);
	mfs_benc_w_key(w, "b");
	mfs_benc_w_int(w, 1);
	mfs_benc_w_key(w, "a");
	mfs_benc_w_int(w, 2);
	mfs_benc_w_end(w);
}

static void duplicate(struct mfs_benc_w *w)
{
	mfs_benc_w_dict(w);
	mfs_benc_w_key(w, "a");
	mfs_benc_w_int(w, 1);
	mfs_benc_w_key(w, "a");
	mfs_benc_w_int(w, 2);
	mfs_benc_w_end(w);
}

static void value_without_key(struct mfs_benc_w *w)
{
	mfs_benc_w_dict(w);
	mfs_benc_w_int(w, 1);
	mfs_benc_w_end(w);
}

static void key_without_value(struct mfs_benc_w *w)
{
	mfs_benc_w_dict(w);
	mfs_benc_w_key(w, "a");
	mfs_benc_w_end(w);
}

static void two_keys(struct mfs_benc_w *w)
{
	mfs_benc_w_dict(w);
	mfs_benc_w_key(w, "a");
	mfs_benc_w_key(w, "b");
}

static void key_in_list(struct mfs_benc_w *w)
{
	mfs_benc_w_list(w);
	mfs_benc_w_key(w, "a");
}

static void left_open(struct mfs_benc_w *w)
{
	mfs_benc_w_list(w);
}

static void closed_twice(struct mfs_benc_w *w)
{
	mfs_benc_w_list(w);
	mfs_benc_w_end(w);
	mfs_benc_w_end(w);
}

static void too_deep(struct mfs_benc_w *w)
{
	for (int i = 0; i <= MFS_BENC_MAX_DEPTH; i++)
		mfs_benc_w_list(w);
}

Test(bencode, the_writer_refuses_what_would_not_be_canonical)
{
	static const misuse_fn misuse[] = {unsorted, duplicate, value_without_key,
					   key_without_value, two_keys, key_in_list,
					   left_open, closed_twice, too_deep};
	uint8_t buf[128];
	struct mfs_benc_w w;
	size_t len = 7;

	for (size_t i = 0; i < sizeof misuse / sizeof misuse[0]; i++) {
		mfs_benc_w_init(&w, buf, sizeof buf);
		misuse[i](&w);
		cr_assert_eq(mfs_benc_w_finish(&w, &len), MFS_E_FORMAT, "misuse %zu", i);
		cr_assert_eq(len, 0);
	}
}

Test(bencode, the_writer_never_writes_past_its_buffer)
{
	uint8_t buf[16];
	struct mfs_benc_w w;
	size_t len;

	for (size_t cap = 0; cap <= 12; cap++) {
		memset(buf, 0xAA, sizeof buf);
		mfs_benc_w_init(&w, buf, cap);
		mfs_benc_w_list(&w);
		mfs_benc_w_cstr(&w, "spam");
		mfs_benc_w_int(&w, 42);
		mfs_benc_w_end(&w);
		if (cap < 12) {
			cr_assert_eq(mfs_benc_w_finish(&w, &len), -ENOBUFS, "cap %zu", cap);
		} else {
			cr_assert_eq(mfs_benc_w_finish(&w, &len), 0);
			cr_assert_arr_eq(buf, "l4:spami42ee", 12);
		}
		for (size_t i = cap; i < sizeof buf; i++)
			cr_assert_eq(buf[i], 0xAA, "cap %zu: byte %zu written", cap, i);
	}
}

Test(bencode, the_example_packets_of_bep5_parse_and_re_encode_byte_for_byte)
{
	FILE *f = fopen(MFS_VECTORS_DIR "/bep5-krpc.txt", "r");
	char line[512];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		char *tab = strchr(line, '\t');
		struct mfs_bdoc *doc = NULL;
		const struct mfs_bnode *t;
		size_t len;

		if (line[0] == '#' || !tab)
			continue;
		len = strcspn(tab + 1, "\n");
		round_trip(tab + 1, len);
		cr_assert_eq(mfs_benc_parse(&doc, (uint8_t *)tab + 1, len, NULL, 0), 0);
		t = mfs_benc_dict_get_type(&doc->nodes[0], "t", MFS_BENC_STR);
		cr_assert_not_null(t, "%s", line);
		cr_assert_arr_eq(t->str, "aa", 2);
		cr_assert_not_null(mfs_benc_dict_get_type(&doc->nodes[0], "y", MFS_BENC_STR));
		mfs_benc_free(doc);
		n++;
	}
	fclose(f);
	cr_assert_eq(n, 10);
}
