/* libmegafs (include/megafs.h), through the shared library itself: each
 * public function's documented errors and its success path, over a real
 * store (made by testutil, then used only through the API). The network
 * paths that need a tracker are tests/integration/lib_embed.sh's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/megafs.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static megafs *m;

static void setup(void)
{
	tu_fixture_open(&fx, 512);
	/* The store is the library's from here: the fixture only removes it. */
	mfs_volume_close(fx.vol);
	mfs_store_close(fx.store);
	fx.vol = NULL;
	fx.store = NULL;
	cr_assert_eq(megafs_open(&m, fx.dir, "pw", 2), 0);
}

static void teardown(void)
{
	cr_assert_eq(megafs_close(m), 0);
	tu_fixture_close(&fx);
}

TestSuite(lib, .init = setup, .fini = teardown, .timeout = 300);

static char *path_in(const char *name)
{
	char *p = NULL;

	cr_assert_gt(asprintf(&p, "%s/%s", fx.dir, name), 0);
	return p;
}

/* A new owned public channel's link. */
static void new_channel(char link[MEGAFS_LINK_MAX])
{
	cr_assert_eq(megafs_channel_create(m, "Films", 0, link), 0);
}

/* What a progress callback heard; stop_after: cancel at that call (0: never). */
struct heard {
	int calls, stop_after;
	uint64_t last_done, total;
	int went_back;
};

static int on_progress(uint64_t done, uint64_t total, void *user)
{
	struct heard *h = user;

	if (done < h->last_done)
		h->went_back = 1;
	h->calls++;
	h->last_done = done;
	h->total = total;
	return h->stop_after && h->calls >= h->stop_after;
}

Test(lib, version_is_the_projects)
{
	int major = -1, minor = -1, patch = -1;
	char want[32];

	snprintf(want, sizeof want, "%d.%d.%d", MEGAFS_VERSION_MAJOR, MEGAFS_VERSION_MINOR,
		 MEGAFS_VERSION_PATCH);
	cr_assert_str_eq(megafs_version(&major, &minor, &patch), want);
	cr_assert_eq(major, MEGAFS_VERSION_MAJOR);
	cr_assert_eq(minor, MEGAFS_VERSION_MINOR);
	cr_assert_eq(patch, MEGAFS_VERSION_PATCH);
	cr_assert_str_eq(megafs_version(NULL, NULL, NULL), want);
}

Test(lib, strerror_describes_megafs_codes_and_errno)
{
	cr_assert_str_eq(megafs_strerror(0), "success");
	cr_assert_not_null(strstr(megafs_strerror(MEGAFS_E_BADPASS), "wrong password"));
	cr_assert_not_null(strstr(megafs_strerror(MEGAFS_E_NOTFOUND), "not found"));
	cr_assert_str_eq(megafs_strerror(-ENOENT), strerror(ENOENT));
	cr_assert_str_eq(megafs_strerror(12345), "unknown error");
	cr_assert_str_eq(megafs_strerror(MEGAFS_E_AUTH - 2), "unknown error");
}

Test(lib, open_refuses_bad_arguments_wrong_passwords_and_no_store)
{
	megafs *other = NULL;
	char *nowhere = path_in("nowhere");

	cr_assert_eq(megafs_open(NULL, fx.dir, "pw", 2), -EINVAL);
	cr_assert_eq(megafs_open(&other, NULL, "pw", 2), -EINVAL);
	cr_assert_eq(megafs_open(&other, fx.dir, NULL, 2), -EINVAL);
	cr_assert_eq(megafs_open(&other, fx.dir, "pw", 0), -EINVAL);
	cr_assert_eq(megafs_open(&other, fx.dir, "px", 2), MEGAFS_E_BADPASS);
	/* Bytes, not a C string: "pw" and a NUL is another password. */
	cr_assert_eq(megafs_open(&other, fx.dir, "pw", 3), MEGAFS_E_BADPASS);
	cr_assert_eq(megafs_open(&other, nowhere, "pw", 2), MEGAFS_E_NOSTORE);
	cr_assert_null(other);
	/* A second handle on the same store and volume. */
	cr_assert_eq(megafs_open(&other, fx.dir, "pw", 2), 0);
	cr_assert_eq(megafs_close(other), 0);
	cr_assert_eq(megafs_close(NULL), 0);
	free(nowhere);
}

Test(lib, channel_create_gives_public_and_private_links)
{
	char link[MEGAFS_LINK_MAX], priv[MEGAFS_LINK_MAX], title[300];

	memset(title, 'a', sizeof title - 1);
	title[sizeof title - 1] = '\0';
	cr_assert_eq(megafs_channel_create(NULL, "x", 0, link), -EINVAL);
	cr_assert_eq(megafs_channel_create(m, NULL, 0, link), -EINVAL);
	cr_assert_eq(megafs_channel_create(m, "x", 0, NULL), -EINVAL);
	cr_assert_eq(megafs_channel_create(m, title, 0, link), -ENAMETOOLONG);
	new_channel(link);
	cr_assert_eq(strncmp(link, "megafs://", 9), 0);
	cr_assert_eq(strlen(link), 9 + 64);
	cr_assert_eq(megafs_channel_create(m, "Secret", 1, priv), 0);
	cr_assert_eq(strlen(priv), 9 + 64 + 1 + 64, "%s", priv);
	cr_assert_eq(priv[73], '#');
}

Test(lib, channel_list_counts_fills_and_says_when_short)
{
	struct megafs_channel_info info[3];
	char a[MEGAFS_LINK_MAX], b[MEGAFS_LINK_MAX];
	size_t count = 99;

	cr_assert_eq(megafs_channel_list(m, NULL, 0, &count), 0);
	cr_assert_eq(count, 0);
	cr_assert_eq(megafs_channel_list(NULL, info, 3, &count), -EINVAL);
	cr_assert_eq(megafs_channel_list(m, info, 3, NULL), -EINVAL);
	cr_assert_eq(megafs_channel_list(m, NULL, 3, &count), -EINVAL);
	new_channel(a);
	cr_assert_eq(megafs_channel_create(m, "Secret", 1, b), 0);
	cr_assert_eq(megafs_channel_list(m, NULL, 0, &count), -ERANGE);
	cr_assert_eq(count, 2);
	cr_assert_eq(megafs_channel_list(m, info, 1, &count), -ERANGE);
	cr_assert_str_eq(info[0].link, a);
	cr_assert_eq(megafs_channel_list(m, info, 3, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_str_eq(info[0].title, "Films");
	cr_assert(info[0].owned && !info[0].is_private);
	cr_assert_eq(info[0].sequence, 0);
	/* The public link only: the read key never leaves through a list. */
	cr_assert_eq(strncmp(info[1].link, b, 73), 0);
	cr_assert_eq(strlen(info[1].link), 73);
	cr_assert(info[1].owned && info[1].is_private);
}

Test(lib, subscribe_adds_a_channel_once)
{
	struct megafs_channel_info info[2];
	char own[MEGAFS_LINK_MAX], other[MEGAFS_LINK_MAX];
	size_t count;

	snprintf(other, sizeof other, "megafs://%064d", 7);
	cr_assert_eq(megafs_subscribe(NULL, other, NULL), -EINVAL);
	cr_assert_eq(megafs_subscribe(m, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_subscribe(m, "megafs://abc", NULL), MEGAFS_E_FORMAT);
	cr_assert_eq(megafs_subscribe(m, other, "Someone's"), 0);
	cr_assert_eq(megafs_subscribe(m, other, NULL), MEGAFS_E_EXISTS);
	new_channel(own);
	cr_assert_eq(megafs_subscribe(m, own, NULL), MEGAFS_E_EXISTS);
	cr_assert_eq(megafs_channel_list(m, info, 2, &count), 0);
	cr_assert_str_eq(info[0].link, other);
	cr_assert_str_eq(info[0].title, "Someone's");
	cr_assert(!info[0].owned && !info[0].is_private);
}

Test(lib, publish_buffer_refuses_what_it_cannot_publish)
{
	char link[MEGAFS_LINK_MAX], other[MEGAFS_LINK_MAX];
	static const char *const bad_paths[] = {"", "a/", "/a", "a//b", "..", "a/./b", "a/../b"};

	new_channel(link);
	snprintf(other, sizeof other, "megafs://%064d", 7);
	cr_assert_eq(megafs_publish_buffer(NULL, link, "f", "x", 1, NULL), -EINVAL);
	cr_assert_eq(megafs_publish_buffer(m, NULL, "f", "x", 1, NULL), -EINVAL);
	cr_assert_eq(megafs_publish_buffer(m, link, NULL, "x", 1, NULL), -EINVAL);
	cr_assert_eq(megafs_publish_buffer(m, link, "f", NULL, 1, NULL), -EINVAL);
	cr_assert_eq(megafs_publish_buffer(m, "nonsense", "f", "x", 1, NULL), MEGAFS_E_FORMAT);
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++)
		cr_assert_eq(megafs_publish_buffer(m, link, bad_paths[i], "x", 1, NULL),
			     MEGAFS_E_FORMAT, "path '%s'", bad_paths[i]);
	cr_assert_eq(megafs_publish_buffer(m, other, "f", "x", 1, NULL), MEGAFS_E_NOTFOUND);
	cr_assert_eq(megafs_subscribe(m, other, NULL), 0);
	cr_assert_eq(megafs_publish_buffer(m, other, "f", "x", 1, NULL), -EPERM);
	/* A file where a directory is, and a directory where a file is. */
	cr_assert_eq(megafs_publish_buffer(m, link, "dir/f", "x", 1, NULL), 0);
	cr_assert_eq(megafs_publish_buffer(m, link, "dir", "x", 1, NULL), -EISDIR);
	cr_assert_eq(megafs_publish_buffer(m, link, "dir/f/g", "x", 1, NULL), -EEXIST);
}

Test(lib, publish_buffer_then_fetch_range_reads_it_back)
{
	char link[MEGAFS_LINK_MAX];
	size_t len = (3u << 20) + 12345;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct megafs_channel_info info;
	uint64_t seq = 0, size = 0;
	size_t count;

	tu_fill_random(data, len, 1);
	new_channel(link);
	cr_assert_eq(megafs_publish_buffer(m, link, "Season 1/ep1.bin", data, len, &seq), 0);
	cr_assert_eq(seq, 1);
	cr_assert_eq(megafs_publish_buffer(m, link, "empty", NULL, 0, &seq), 0);
	cr_assert_eq(seq, 2);
	cr_assert_eq(megafs_channel_list(m, &info, 1, &count), 0);
	cr_assert_eq(info.sequence, 2);
	/* No network: the volume's own blobs. */
	cr_assert_eq(megafs_fetch_range(m, link, "Season 1/ep1.bin", 0, back, len, NULL, NULL, NULL,
					&size), 0);
	cr_assert_eq(size, len);
	cr_assert_eq(memcmp(back, data, len), 0);
	memset(back, 0, len);
	cr_assert_eq(megafs_fetch_range(m, link, "Season 1/ep1.bin", len - 5000, back, 5000, NULL,
					NULL, NULL, NULL), 0);
	cr_assert_eq(memcmp(back, data + len - 5000, 5000), 0);
	cr_assert_eq(megafs_fetch_range(m, link, "empty", 0, NULL, 0, NULL, NULL, NULL, &size), 0);
	cr_assert_eq(size, 0);
	free(data);
	free(back);
}

Test(lib, an_empty_file_is_told_once_as_0_of_0)
{
	char link[MEGAFS_LINK_MAX];
	struct heard h = {.last_done = 0};

	new_channel(link);
	cr_assert_eq(megafs_publish_buffer(m, link, "empty", NULL, 0, NULL), 0);
	cr_assert_eq(megafs_fetch_range(m, link, "empty", 0, NULL, 0, NULL, on_progress, &h, NULL),
		     0);
	cr_assert_eq(h.calls, 1);
	cr_assert_eq(h.total, 0);
}

Test(lib, a_private_channel_publishes_sealed_and_reads_back)
{
	char link[MEGAFS_LINK_MAX];
	struct megafs_channel_info info;
	uint8_t back[5];
	size_t count;

	cr_assert_eq(megafs_channel_create(m, "Secret", 1, link), 0);
	cr_assert_eq(megafs_publish_buffer(m, link, "notes/a.txt", "hello", 5, NULL), 0);
	cr_assert_eq(megafs_channel_list(m, &info, 1, &count), 0);
	cr_assert(info.is_private && info.sequence == 1);
	/* The full link (with its read key) names the channel as the public one does. */
	cr_assert_eq(megafs_fetch_range(m, link, "notes/a.txt", 0, back, 5, NULL, NULL, NULL, NULL),
		     0);
	cr_assert_eq(memcmp(back, "hello", 5), 0);
	cr_assert_eq(megafs_fetch_range(m, info.link, "notes/a.txt", 0, back, 5, NULL, NULL, NULL,
					NULL), 0);
}

Test(lib, publish_file_reads_a_local_file_and_replaces_one_at_the_same_path)
{
	char link[MEGAFS_LINK_MAX], *in = path_in("in.bin"), *nowhere = path_in("nowhere");
	uint8_t data[100000], back[100000];
	uint64_t seq = 0;
	FILE *f;

	tu_fill_random(data, sizeof data, 2);
	cr_assert_not_null(f = fopen(in, "wb"));
	cr_assert_eq(fwrite(data, 1, sizeof data, f), sizeof data);
	fclose(f);
	new_channel(link);
	cr_assert_eq(megafs_publish_file(m, link, "a.bin", NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_publish_file(m, link, "a.bin", nowhere, NULL), -ENOENT);
	cr_assert_eq(megafs_publish_buffer(m, link, "a.bin", "old", 3, NULL), 0);
	cr_assert_eq(megafs_publish_file(m, link, "a.bin", in, &seq), 0);
	cr_assert_eq(seq, 2);
	cr_assert_eq(megafs_fetch_range(m, link, "a.bin", 0, back, sizeof back, NULL, NULL, NULL,
					NULL), 0);
	cr_assert_eq(memcmp(back, data, sizeof data), 0);
	free(in);
	free(nowhere);
}

Test(lib, fetch_range_refuses_ranges_past_the_end_and_unknown_things)
{
	char link[MEGAFS_LINK_MAX], other[MEGAFS_LINK_MAX];
	uint8_t buf[16];
	uint64_t size = 0;

	new_channel(link);
	snprintf(other, sizeof other, "megafs://%064d", 7);
	cr_assert_eq(megafs_publish_buffer(m, link, "ten", "0123456789", 10, NULL), 0);
	cr_assert_eq(megafs_fetch_range(m, link, "ten", 5, buf, 6, NULL, NULL, NULL, &size),
		     -ERANGE);
	cr_assert_eq(size, 10, "the size is told with -ERANGE");
	cr_assert_eq(megafs_fetch_range(m, link, "ten", 11, buf, 0, NULL, NULL, NULL, NULL),
		     -ERANGE);
	cr_assert_eq(megafs_fetch_range(m, link, "ten", UINT64_MAX, buf, 2, NULL, NULL, NULL, NULL),
		     -ERANGE);
	cr_assert_eq(megafs_fetch_range(m, link, "ten", 4, buf, 6, NULL, NULL, NULL, NULL), 0);
	cr_assert_eq(memcmp(buf, "456789", 6), 0);
	cr_assert_eq(megafs_fetch_range(m, link, "ten", 0, NULL, 1, NULL, NULL, NULL, NULL),
		     -EINVAL);
	cr_assert_eq(megafs_fetch_range(m, link, "eleven", 0, buf, 1, NULL, NULL, NULL, NULL),
		     MEGAFS_E_NOTFOUND);
	cr_assert_eq(megafs_fetch_range(m, "megafs://", "ten", 0, buf, 1, NULL, NULL, NULL, NULL),
		     MEGAFS_E_FORMAT);
	/* Not known, and no network to learn it from. */
	cr_assert_eq(megafs_fetch_range(m, other, "ten", 0, buf, 1, NULL, NULL, NULL, NULL),
		     MEGAFS_E_NOTFOUND);
	/* Known, but no manifest and no network. */
	cr_assert_eq(megafs_subscribe(m, other, NULL), 0);
	cr_assert_eq(megafs_fetch_range(m, other, "ten", 0, buf, 1, NULL, NULL, NULL, NULL),
		     MEGAFS_E_NOTFOUND);
}

Test(lib, fetch_reports_progress_and_cancels_when_told)
{
	char link[MEGAFS_LINK_MAX], *out = path_in("out.bin"), *part = path_in("out.bin.part");
	size_t len = (5u << 20) + 1;
	uint8_t *data = malloc(len), *back;
	struct heard h = {0};
	size_t got;

	tu_fill_random(data, len, 3);
	new_channel(link);
	cr_assert_eq(megafs_publish_buffer(m, link, "big", data, len, NULL), 0);
	cr_assert_eq(megafs_fetch_file(m, link, "big", out, NULL, on_progress, &h), 0);
	cr_assert_geq(h.calls, 5, "a call a MiB at least: %d", h.calls);
	cr_assert_eq(h.last_done, len);
	cr_assert_eq(h.total, len);
	cr_assert(!h.went_back);
	back = tu_read_file(out, &got);
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(back, data, len), 0);
	free(back);
	cr_assert_eq(unlink(out), 0);

	h = (struct heard){.stop_after = 2};
	cr_assert_eq(megafs_fetch_file(m, link, "big", out, NULL, on_progress, &h), -ECANCELED);
	cr_assert_eq(h.calls, 2, "no call after the one that cancelled");
	cr_assert_neq(access(out, F_OK), 0, "a cancelled fetch leaves no file");
	cr_assert_neq(access(part, F_OK), 0, "nor a partial one");
	h = (struct heard){.stop_after = 1};
	cr_assert_eq(megafs_fetch_range(m, link, "big", 0, data, len, NULL, on_progress, &h, NULL),
		     -ECANCELED);
	cr_assert_eq(h.total, len);
	free(data);
	free(out);
	free(part);
}

Test(lib, fetch_file_refuses_bad_arguments_and_a_missing_file)
{
	char link[MEGAFS_LINK_MAX], *out = path_in("out.bin");
	struct megafs_net_options net = {.listen = "127.0.0.1:0"};
	struct megafs_net_options no_trackers = {.tracker_count = 1};

	new_channel(link);
	cr_assert_eq(megafs_fetch_file(NULL, link, "f", out, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, NULL, "f", out, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, link, NULL, out, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, link, "f", NULL, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, link, "f", out, &net, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, link, "f", out, &no_trackers, NULL, NULL), -EINVAL);
	cr_assert_eq(megafs_fetch_file(m, link, "f", out, NULL, NULL, NULL), MEGAFS_E_NOTFOUND);
	cr_assert_neq(access(out, F_OK), 0);
	free(out);
}

Test(lib, fetch_with_a_peer_but_no_tracker_times_out_waiting_for_a_manifest)
{
	char other[MEGAFS_LINK_MAX];
	const char *peers[] = {"127.0.0.1:9"};
	struct megafs_net_options net = {.peers = peers, .peer_count = 1, .timeout_ms = 300};
	uint8_t buf[1];

	snprintf(other, sizeof other, "megafs://%064d", 8);
	cr_assert_eq(megafs_fetch_range(m, other, "f", 0, buf, 1, &net, NULL, NULL, NULL),
		     -ETIMEDOUT);
	/* The channel given with a network is subscribed to, as megafs fetch does. */
	cr_assert_eq(megafs_subscribe(m, other, NULL), MEGAFS_E_EXISTS);
}

Test(lib, serve_starts_once_per_handle_and_holds_the_handle_open)
{
	const char *bad[] = {"http://example.invalid/"};
	struct megafs_net_options net = {.listen = "127.0.0.1:0"};
	struct megafs_net_options bad_tracker = {.listen = "127.0.0.1:0", .trackers = bad,
						 .tracker_count = 1};
	megafs_server *s = NULL, *again = NULL;
	char link[MEGAFS_LINK_MAX], key[65];

	new_channel(link);
	cr_assert_eq(megafs_serve_start(NULL, &net, &s), -EINVAL);
	cr_assert_eq(megafs_serve_start(m, &net, NULL), -EINVAL);
	cr_assert_eq(megafs_serve_start(m, &bad_tracker, &s), -EINVAL);
	cr_assert_null(s);
	cr_assert_eq(megafs_serve_start(m, &net, &s), 0);
	cr_assert_gt(megafs_serve_port(s), 0);
	megafs_serve_node_key(s, key);
	cr_assert_eq(strlen(key), 64);
	cr_assert_eq(strspn(key, "0123456789abcdef"), 64);
	cr_assert_eq(megafs_serve_start(m, &net, &again), -EBUSY);
	cr_assert_eq(megafs_close(m), -EBUSY, "a serving handle is not closed");
	/* The handle still works while it serves; a publication reaches the server. */
	cr_assert_eq(megafs_publish_buffer(m, link, "f", "x", 1, NULL), 0);
	megafs_serve_stop(s);
	megafs_serve_stop(NULL);
	cr_assert_eq(megafs_serve_port(NULL), 0);
	/* Stopped: it starts again. */
	cr_assert_eq(megafs_serve_start(m, &net, &s), 0);
	megafs_serve_stop(s);
}
