/* fs/channel/magnet: the strict check of magnet links megafs publishes, and
 * the names links show as. The verdicts on a fixed list of links are a
 * golden vector (tests/vectors/magnet.txt): a change in what is accepted,
 * or in a shown name, fails here (rewrite it with MFS_WRITE_VECTORS=1 when
 * meant, and say so in the commit). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/blob/fileentry.h"
#include "fs/channel/magnet.h"
#include "tests/unit/testutil.h"

#ifndef MFS_VECTORS_DIR
#error "MFS_VECTORS_DIR must name tests/vectors"
#endif

#define H40 "0123456789abcdef0123456789abcdef01234567"
#define H64 H40 "89abcdef0123456789abcdef"

/* Accepted: each with the name it shows as. */
static const struct {
	const char *link, *name;
} good[] = {
	{"magnet:?xt=urn:btih:" H40, H40 ".magnet"},
	{"magnet:?xt=urn:btih:" H40 "\n", H40 ".magnet"},
	{"magnet:?xt=urn:btih:" H40 "\r\n", H40 ".magnet"},
	{"magnet:?xt=urn:btih:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet"},
	{"magnet:?xt=urn:btmh:1220" H64, "1220" H64 ".magnet"},
	{"magnet:?xt=urn:btih:" H40 "&dn=Big+Buck+Bunny", "Big Buck Bunny.magnet"},
	{"magnet:?dn=Film%20%281999%29&xt=urn:btih:" H40, "Film (1999).magnet"},
	{"magnet:?xt=urn:btih:" H40 "&dn=AC%2FDC", "AC_DC.magnet"},
	{"magnet:?xt=urn:btih:" H40 "&dn=%C3%A9t%C3%A9", "\xc3\xa9t\xc3\xa9.magnet"},
	{"magnet:?xt=urn:btih:" H40 "&xt=urn:btmh:1220" H64 "&dn=hybrid", "hybrid.magnet"},
	{"magnet:?xt=urn:btih:" H40 "&tr=udp%3A%2F%2Ft.example%3A80&tr=http://t2.example/a?b&ws="
	 "https://w.example/f&xl=0&x.pe=127.0.0.1:6881&so=0,2,4-6", H40 ".magnet"},
};

/* Refused: each with what the reason must say. */
static const struct {
	const char *link, *why;
} bad[] = {
	{"", "starts with"},
	{"magnet:", "starts with"},
	{"MAGNET:?xt=urn:btih:" H40, "starts with"},
	{"http://example.com/?xt=urn:btih:" H40, "starts with"},
	{"magnet:?", "empty parameter"},
	{"magnet:?dn=x", "no xt"},
	{"magnet:?xt=urn:btih:" H40 "&", "empty parameter"},
	{"magnet:?xt=urn:btih:" H40 "&&dn=x", "empty parameter"},
	{"magnet:?xt=urn:btih:" H40 "&dn", "KEY=VALUE"},
	{"magnet:?xt=urn:btih:" H40 "&dn=", "KEY=VALUE"},
	{"magnet:?xt=urn:btih:" H40 "&=x", "KEY=VALUE"},
	{"magnet:?xt=urn:btih:" H40 "&d!n=x", "key may hold"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a=b", "holds '='"},
	{"magnet:?xt=urn:btih:0123", "not a BitTorrent info hash"},
	{"magnet:?xt=urn:btih:" H40 "0", "not a BitTorrent info hash"},
	{"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef0123456g", "not a BitTorrent"},
	{"magnet:?xt=urn:btih:ABCDEFGHIJKLMNOPQRSTUVWXYZ234561", "not a BitTorrent"},
	{"magnet:?xt=urn:btmh:1120" H64, "not a BitTorrent"},
	{"magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C", "not a BitTorrent"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a b", "a space"},
	{"magnet:?xt=urn:btih:" H40 "#frag", "fragment"},
	{"magnet:?xt=urn:btih:" H40 "&dn=\xc3\xa9", "not allowed"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a%", "escape of two hex"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a%4", "escape of two hex"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a%zz", "escape of two hex"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a%00b", "control byte"},
	{"magnet:?xt=urn:btih:" H40 "&tr=a%0Ab", "control byte"},
	{"magnet:?xt=urn:btih:" H40 "&dn=%C3", "not UTF-8"},
	{"magnet:?xt=urn:btih:" H40 "&dn=%C0%AF", "not UTF-8"},
	{"magnet:?xt=urn:btih:" H40 "&dn=%ED%A0%80", "not UTF-8"},
	{"magnet:?xt=urn:btih:" H40 "&dn=.", "may not be"},
	{"magnet:?xt=urn:btih:" H40 "&dn=%2E%2E", "may not be"},
	{"magnet:?xt=urn:btih:" H40 "&dn=a&dn=a", "twice"},
	{"magnet:?xt=urn:btih:" H40 "&xl=012", "decimal number"},
	{"magnet:?xt=urn:btih:" H40 "&xl=-1", "decimal number"},
	{"magnet:?xt=urn:btih:" H40 "&xl=12345678901234567890", "decimal number"},
	{"magnet:?xt=urn:btih:" H40 "\n\n", "not allowed"},
	{"magnet:?xt=urn:btih:" H40 " \n", "a space"},
};

static int parse(struct mfs_magnet *m, const char *link, char *why, size_t why_len)
{
	return mfs_magnet_parse(m, link, strlen(link), why, why_len);
}

Test(magnet, links_that_pass_show_as_their_dn_or_info_hash)
{
	struct mfs_magnet m;
	char why[200] = "";

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		size_t n = strlen(good[i].link);

		cr_assert_eq(parse(&m, good[i].link, why, sizeof why), 0, "%s: %s", good[i].link, why);
		cr_assert_str_eq(m.name, good[i].name);
		cr_assert(mfs_entry_name_valid(m.name), "%s is a file name", m.name);
		n -= good[i].link[n - 1] == '\n' ? (good[i].link[n - 2] == '\r' ? 2 : 1) : 0;
		cr_assert_eq(m.len, n, "the line end is not part of the link");
	}
}

Test(magnet, links_that_fail_say_why)
{
	struct mfs_magnet m;
	char why[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = '\0';
		cr_assert_eq(parse(&m, bad[i].link, why, sizeof why), MFS_E_FORMAT, "%s", bad[i].link);
		cr_assert(strstr(why, bad[i].why), "%s: '%s' lacks '%s'", bad[i].link, why, bad[i].why);
	}
}

Test(magnet, the_length_limit_counts_the_link_not_the_line_end)
{
	static char link[MFS_MAGNET_MAX + 3];
	struct mfs_magnet m;
	size_t head = strlen("magnet:?xt=urn:btih:" H40 "&tr=");

	memcpy(link, "magnet:?xt=urn:btih:" H40 "&tr=", head);
	memset(link + head, 'a', MFS_MAGNET_MAX - head);
	cr_assert_eq(mfs_magnet_parse(&m, link, MFS_MAGNET_MAX, NULL, 0), 0, "8192 bytes pass");
	link[MFS_MAGNET_MAX] = '\r';
	link[MFS_MAGNET_MAX + 1] = '\n';
	cr_assert_eq(mfs_magnet_parse(&m, link, MFS_MAGNET_MAX + 2, NULL, 0), 0, "and a CRLF");
	cr_assert_eq(m.len, MFS_MAGNET_MAX);
	link[MFS_MAGNET_MAX] = 'a';
	cr_assert_eq(mfs_magnet_parse(&m, link, MFS_MAGNET_MAX + 1, NULL, 0), MFS_E_FORMAT,
		     "8193 do not");
	cr_assert_eq(mfs_magnet_parse(&m, "magnet:?xt=urn:btih:" H40, 20, NULL, 0), MFS_E_FORMAT,
		     "the length given is the length read");
}

Test(magnet, a_dn_of_200_bytes_passes_and_201_fail)
{
	char link[400], why[200];
	struct mfs_magnet m;
	int n = snprintf(link, sizeof link, "magnet:?xt=urn:btih:" H40 "&dn=");

	memset(link + n, 'x', 200);
	link[n + 200] = '\0';
	cr_assert_eq(parse(&m, link, why, sizeof why), 0, "%s", why);
	cr_assert_eq(strlen(m.name), 200 + strlen(".magnet"));
	strcat(link, "x");
	cr_assert_eq(parse(&m, link, why, sizeof why), MFS_E_FORMAT);
}

Test(magnet, any_link_gets_a_name_even_unchecked)
{
	char name[MFS_MAGNET_NAME_BYTES];

	mfs_magnet_name(name, "magnet:?");
	cr_assert_str_eq(name, "link.magnet");
	mfs_magnet_name(name, "magnet:?xt=urn:btih:00&dn=..");
	cr_assert_str_eq(name, "00.magnet");
	mfs_magnet_name(name, "magnet:?dn=a%01b%2");
	cr_assert_str_eq(name, "a_b%2.magnet");
	cr_assert(mfs_magnet_is_name("x.magnet"));
	cr_assert(mfs_magnet_is_name(".magnet"));
	cr_assert_not(mfs_magnet_is_name("x.magnet.txt"));
	cr_assert_not(mfs_magnet_is_name("magnet"));
}

/* One line per link: the verdict, a tab, the link with bytes outside
 * printable ASCII as \xHH. */
static void verdict_line(FILE *f, const char *link)
{
	struct mfs_magnet m;

	if (mfs_magnet_parse(&m, link, strlen(link), NULL, 0) == 0)
		fprintf(f, "name=%s\t", m.name);
	else
		fputs("refused\t", f);
	for (const unsigned char *p = (const unsigned char *)link; *p; p++)
		fprintf(f, *p >= 0x20 && *p < 0x7f && *p != '\\' ? "%c" : "\\x%02x", *p);
	fputc('\n', f);
}

Test(magnet, verdicts_match_the_golden_vector)
{
	char *made = NULL;
	size_t made_len = 0;
	FILE *f = open_memstream(&made, &made_len);

	cr_assert_not_null(f);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		verdict_line(f, good[i].link);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		verdict_line(f, bad[i].link);
	cr_assert_eq(fclose(f), 0);
	tu_golden(MFS_VECTORS_DIR, "magnet.txt", made, made_len);
	free(made);
}
