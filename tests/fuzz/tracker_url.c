/* tracker_url: a tracker URL as --tracker gives it or a volume remembers it
 * (net/tracker_client's parser, with net/hostport and net/tls's pin). The
 * bytes, cut at the first NUL, go to mfs_tracker_url_check; the bytes after
 * "#" of a wss:// URL, and the whole input, go to mfs_tls_pin_parse too: a
 * pin that parses is written again and must parse to the same bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/tls.h"
#include "net/tracker_client.h"
#include "tests/fuzz/fuzz.h"

static void must(int ok)
{
	if (!ok)
		abort();
}

static void pin_round_trip(const char *text, size_t len)
{
	uint8_t pin[MFS_TLS_PIN_BYTES], again[MFS_TLS_PIN_BYTES];
	char out[MFS_TLS_PIN_TEXT_MAX];
	int rc = mfs_tls_pin_parse(pin, text, len);

	must(rc == 0 || rc == -EINVAL);
	if (rc != 0)
		return;
	mfs_tls_pin_format(out, pin);
	must(strlen(out) == MFS_TLS_PIN_TEXT_MAX - 1);
	must(mfs_tls_pin_parse(again, out, strlen(out)) == 0);
	must(memcmp(pin, again, sizeof pin) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	const char *hash;
	int rc;

	if (!url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	pin_round_trip(url, size);
	rc = mfs_tracker_url_check(url);
	must(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT || rc == -ENOMEM);
	if (rc == 0 && (hash = strchr(url, '#'))) {
		/* Only wss:// carries a pin, and only a whole one. */
		must(strncasecmp(url, "wss://", 6) == 0);
		pin_round_trip(hash + 1, strlen(hash + 1));
	}
	free(url);
	return 0;
}
