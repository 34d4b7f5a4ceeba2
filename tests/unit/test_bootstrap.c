/* net/bootstrap: the bootstrap file's lines. What each of a fixed list of
 * files parses to is a golden vector (tests/vectors/bootstrap.txt): a
 * change in what is accepted fails here (rewrite it with
 * MFS_WRITE_VECTORS=1 when meant, and say so in the commit). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bootstrap.h"
#include "tests/unit/testutil.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct seen {
	FILE *out;
	size_t count;
	int stop_at; /* the entry whose callback fails (1-based; 0: none) */
};

static int note(void *ctx, enum mfs_bootstrap_kind kind, const char *value, size_t len,
		size_t line)
{
	struct seen *s = ctx;

	s->count++;
	if (s->out)
		fprintf(s->out, " %s@%zu=%.*s", mfs_bootstrap_kind_name(kind), line, (int)len, value);
	return s->stop_at && (int)s->count == s->stop_at ? -ECANCELED : 0;
}

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
} files[] = {
	{"", 0},
	{"# megafs bootstrap: ways into megafs://" KEY " (megafs ... --bootstrap FILE)\n"
	 "tracker wss://t.example:443/#sha256=" KEY "\n"
	 "tracker ws://127.0.0.1:7000/\n"
	 "peer 198.51.100.7:7000#" KEY "\n"
	 "peer [2001:db8::7]:7000\n", 0},
	{"\r\n\n# only comments\r\n#\n", 0},
	{"peer a:1\r\npeer b:2", 0},
	{"tracker ws://x/\n\n\npeer c:3\n", 0},
	{"peer a:1\npeeer b:2\n", 0},
	{"peer\n", 0},
	{"peer \n", 0},
	{"peer  a:1\n", 0},
	{"peer a:1 b:2\n", 0},
	{"peer a:1\tb:2\n", 0},
	{" peer a:1\n", 0},
	{"Peer a:1\n", 0},
	{"peer a:1\x7f\n", 0},
	{"peer a:\x1b[31m\n", 0},
	{"\x1b[31mred b:2\n", 0},
	{"peer a:1\0peer b:2\n", 18},
	{"peer \xc3\xa9t\xc3\xa9:1\n", 0},
};

/* "entries: kind@line=value ..." or "refused line N: why", then the file
 * with its unprintable bytes as \xNN. */
static void verdict_line(FILE *f, const char *text, size_t len)
{
	char why[MFS_BOOTSTRAP_WHY_MAX];
	struct seen s = {0};
	size_t line;
	char *entries = NULL;
	size_t entries_len = 0;
	int rc;

	s.out = open_memstream(&entries, &entries_len);
	cr_assert_not_null(s.out);
	rc = mfs_bootstrap_parse(text, len, note, &s, &line, why);
	cr_assert_eq(fclose(s.out), 0);
	if (rc == 0)
		fprintf(f, "entries:%s\t", entries);
	else
		fprintf(f, "refused line %zu: %s\t", line, why);
	free(entries);
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)text[i];

		fprintf(f, b >= 0x20 && b < 0x7f && b != '\\' ? "%c" : "\\x%02x", b);
	}
	fputc('\n', f);
}

Test(bootstrap, verdicts_match_the_golden_vector)
{
	char *made = NULL;
	size_t made_len = 0;
	FILE *f = open_memstream(&made, &made_len);

	cr_assert_not_null(f);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		verdict_line(f, files[i].text, files[i].len ? files[i].len : strlen(files[i].text));
	cr_assert_eq(fclose(f), 0);
	tu_golden(MFS_VECTORS_DIR, "bootstrap.txt", made, made_len);
	free(made);
}

Test(bootstrap, entries_come_in_order_with_their_lines)
{
	const char *text = "# c\ntracker ws://x/\r\n\npeer a:1#" KEY "\n";
	char *got = NULL, why[MFS_BOOTSTRAP_WHY_MAX];
	size_t got_len = 0, line = 99;
	struct seen s;

	s = (struct seen){.out = open_memstream(&got, &got_len)};
	cr_assert_eq(mfs_bootstrap_parse(text, strlen(text), note, &s, &line, why), 0);
	cr_assert_eq(fclose(s.out), 0);
	cr_assert_str_eq(got, " tracker@2=ws://x/ peer@4=a:1#" KEY);
	cr_assert_eq(line, 0);
	free(got);
}

Test(bootstrap, a_callbacks_error_stops_the_parse_and_names_its_line)
{
	const char *text = "peer a:1\npeer b:2\npeer c:3\n";
	char why[MFS_BOOTSTRAP_WHY_MAX];
	struct seen s = {.stop_at = 2};
	size_t line;

	cr_assert_eq(mfs_bootstrap_parse(text, strlen(text), note, &s, &line, why), -ECANCELED);
	cr_assert_eq(s.count, 2);
	cr_assert_eq(line, 2);
}

Test(bootstrap, size_and_entry_limits_hold_at_their_edges)
{
	size_t cap = MFS_BOOTSTRAP_FILE_MAX + 1, line, len = 0;
	char *text = malloc(cap), why[MFS_BOOTSTRAP_WHY_MAX];
	struct seen s = {0};

	cr_assert_not_null(text);
	/* MFS_BOOTSTRAP_ENTRIES_MAX entries pass; one more is refused. */
	for (unsigned i = 0; i < MFS_BOOTSTRAP_ENTRIES_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len, "peer h%u:1\n", i);
	cr_assert_eq(mfs_bootstrap_parse(text, len, note, &s, &line, why), 0);
	cr_assert_eq(s.count, MFS_BOOTSTRAP_ENTRIES_MAX);
	len += (size_t)snprintf(text + len, cap - len, "peer last:1\n");
	cr_assert_eq(mfs_bootstrap_parse(text, len, note, &s, &line, why), -EINVAL);
	cr_assert_eq(line, MFS_BOOTSTRAP_ENTRIES_MAX + 1);
	cr_assert(strstr(why, "entries"), "%s", why);

	/* A file of exactly the most bytes (comments) passes; a byte more is refused. */
	memset(text, '#', cap);
	for (size_t i = 99; i < cap; i += 100)
		text[i] = '\n';
	cr_assert_eq(mfs_bootstrap_parse(text, MFS_BOOTSTRAP_FILE_MAX, note, &s, &line, why), 0);
	cr_assert_eq(mfs_bootstrap_parse(text, cap, note, &s, &line, why), -EINVAL);
	cr_assert_eq(line, 0);

	/* A value of the most bytes passes; one byte more is refused. */
	len = (size_t)snprintf(text, cap, "peer ");
	memset(text + len, 'v', MFS_BOOTSTRAP_VALUE_MAX);
	cr_assert_eq(mfs_bootstrap_parse(text, len + MFS_BOOTSTRAP_VALUE_MAX, note, &s, &line, why),
		     0);
	text[len + MFS_BOOTSTRAP_VALUE_MAX] = 'v';
	cr_assert_eq(mfs_bootstrap_parse(text, len + MFS_BOOTSTRAP_VALUE_MAX + 1, note, &s, &line,
					 why), -EINVAL);
	free(text);
}
