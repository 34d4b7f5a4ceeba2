/* dht: a whole DHT node's datagram handler (mfs_dht_receive, net/dht.c
 * and net/dht_answer.c) fed one datagram from a fixed address, with a
 * fixed clock, by a fresh node each time. Whatever it sends back must be a
 * KRPC message that parses, and no more than MFS_DHT_AMPLIFICATION times
 * the datagram's size. */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "crypto/secure.h"
#include "net/dht.h"
#include "tests/fuzz/fuzz.h"

static size_t query_len;

static uint64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return 1000;
}

static void on_sent(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	static struct mfs_bnode arena[MFS_KRPC_ARENA];
	struct mfs_krpc_msg m;

	(void)ctx;
	(void)to;
	if (len > MFS_DHT_AMPLIFICATION * query_len ||
	    mfs_krpc_parse(&m, arena, MFS_KRPC_ARENA, buf, len, NULL, 0) != 0 || m.kind == 'q')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static int ready;
	struct mfs_dht_config cfg = {.clock = fixed_clock, .sent = on_sent};
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(6881),
				   .sin_addr.s_addr = htonl(0xc0000201)};
	struct mfs_dht *d;

	if (!ready) {
		if (mfs_crypto_init() != 0 || uv_loop_init(&loop) != 0)
			abort();
		ready = 1;
	}
	if (mfs_dht_new(&d, &loop, &cfg) != 0)
		abort();
	query_len = size;
	mfs_dht_receive(d, data, size, (const struct sockaddr *)&from);
	mfs_dht_close(d);
	uv_run(&loop, UV_RUN_NOWAIT); /* the close callbacks free the node */
	return 0;
}
