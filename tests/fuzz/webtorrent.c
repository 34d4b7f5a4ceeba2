/* webtorrent: WebTorrent messages (net/webtorrent) from any bytes. The
 * input is cut at each newline into messages, handed in turn to one of
 * three connections (the first byte of each picks which, and its address
 * range) sharing the swarms; what they are sent must be JSON objects.
 * At the end every connection leaves and the swarms must be empty. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "net/webtorrent.h"
#include "tests/fuzz/fuzz.h"

static void must(int ok)
{
	if (!ok)
		abort();
}

static void check_sent(void *conn, char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, NULL);

	(void)conn;
	must(j && json_is_object(j));
	json_decref(j);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfs_webtorrent_config cfg = {.per_range_in_torrent = 2, .per_conn = 4,
					    .send = check_sent};
	struct mfs_webtorrent *wt;
	struct mfs_wt_conn *st[3] = {NULL};
	int conns[3];
	uint8_t range[2][MFS_ADDR_RANGE_BYTES] = {{4, 10, 0, 1}, {4, 10, 0, 2}};

	must(mfs_webtorrent_new(&wt, &cfg) == 0);
	for (size_t i = 0; i < size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size, k = data[i] % 3;

		if (end > i + 1)
			must(mfs_webtorrent_handle(wt, &st[k], &conns[k], range[k == 2],
						   (const char *)data + i + 1, end - i - 1) >= 0);
		i = end + 1;
	}
	for (int k = 0; k < 3; k++)
		mfs_webtorrent_leave(wt, st[k]);
	mfs_webtorrent_free(wt);
	return 0;
}
