/* net/ws: the receive buffer the tracker's client and server share (the
 * lws context's life is tested through them, in test_node and the tracker
 * scripts). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

Test(ws_rx, collects_fragments_until_the_final_one)
{
	struct mfs_ws_rx rx = {0};

	cr_assert_eq(mfs_ws_rx_add(&rx, "{\"a\":", 5, 0, 0, 100), 0);
	cr_assert_eq(mfs_ws_rx_add(&rx, "1", 1, 0, 0, 100), 0);
	cr_assert_eq(mfs_ws_rx_add(&rx, "}", 1, 0, 1, 100), 1);
	cr_assert_eq(rx.len, 7);
	cr_assert_eq(memcmp(rx.buf, "{\"a\":1}", 7), 0);
	mfs_ws_rx_done(&rx);
	cr_assert_eq(rx.len, 0);
	cr_assert_not_null(rx.buf, "a small buffer is kept for the next message");
	cr_assert_eq(mfs_ws_rx_add(&rx, "x", 1, 0, 1, 100), 1);
	cr_assert_eq(rx.len, 1);
	mfs_ws_rx_clear(&rx);
	cr_assert_null(rx.buf);
	cr_assert_eq(rx.cap, 0);
}

Test(ws_rx, an_empty_message_is_whole)
{
	struct mfs_ws_rx rx = {0};

	cr_assert_eq(mfs_ws_rx_add(&rx, "", 0, 0, 1, 100), 1);
	cr_assert_eq(rx.len, 0);
	mfs_ws_rx_clear(&rx);
}

Test(ws_rx, exactly_max_is_taken_one_more_is_not)
{
	struct mfs_ws_rx rx = {0};
	char *big = calloc(1, 1001);

	cr_assert_not_null(big);
	cr_assert_eq(mfs_ws_rx_add(&rx, big, 600, 400, 0, 1000), 0);
	cr_assert_eq(mfs_ws_rx_add(&rx, big, 400, 0, 1, 1000), 1);
	cr_assert_eq(rx.len, 1000);
	cr_assert_leq(rx.cap, 1000, "never more than max");
	mfs_ws_rx_done(&rx);
	cr_assert_eq(mfs_ws_rx_add(&rx, big, 600, 0, 0, 1000), 0);
	cr_assert_eq(mfs_ws_rx_add(&rx, big, 401, 0, 1, 1000), -EMSGSIZE);
	cr_assert_eq(rx.len, 0, "what came of it is dropped");
	mfs_ws_rx_clear(&rx);
	free(big);
}

/* The frame's announced length counts: a 1 GiB frame is refused at its
 * first fragment, before a byte of it is stored. */
Test(ws_rx, a_frame_announcing_too_much_is_refused_at_once)
{
	struct mfs_ws_rx rx = {0};

	cr_assert_eq(mfs_ws_rx_add(&rx, "abc", 3, (size_t)1 << 30, 0, 1 << 20), -EMSGSIZE);
	cr_assert_eq(rx.len, 0);
	cr_assert_null(rx.buf, "nothing was allocated");
	cr_assert_eq(mfs_ws_rx_add(&rx, "abc", 3, 1 << 20, 0, 1 << 20), -EMSGSIZE, "max - 3 left");
}

Test(ws_rx, a_grown_buffer_is_given_back_after_its_message)
{
	struct mfs_ws_rx rx = {0};
	size_t n = 3 * MFS_WS_RX_KEEP_BYTES;
	char *big = calloc(1, n);

	cr_assert_not_null(big);
	for (size_t at = 0; at < n; at += MFS_WS_FRAGMENT_BYTES)
		cr_assert_geq(mfs_ws_rx_add(&rx, big + at, MFS_WS_FRAGMENT_BYTES,
					    n - at - MFS_WS_FRAGMENT_BYTES,
					    at + MFS_WS_FRAGMENT_BYTES == n, 1 << 20), 0);
	cr_assert_eq(rx.len, n);
	cr_assert_gt(rx.cap, MFS_WS_RX_KEEP_BYTES);
	mfs_ws_rx_done(&rx);
	cr_assert_null(rx.buf);
	cr_assert_eq(rx.cap, 0);
	free(big);
}

static struct mfs_ws_msg *msg_of(const char *text)
{
	struct mfs_ws_msg *m = mfs_ws_msg_new(strdup(text), strlen(text));

	cr_assert_not_null(m);
	return m;
}

/* One message on two queues is held once and freed with its last holder
 * (ASan's leak check and use-after-free catch a miscount). */
Test(ws_tx, a_message_on_two_queues_is_shared_and_freed_with_the_last)
{
	struct mfs_ws_tx a = {0}, b = {0};
	struct mfs_ws_msg *m = msg_of("manifest");

	cr_assert_eq(mfs_ws_tx_push(&a, m, 100), 0);
	cr_assert_eq(mfs_ws_tx_push(&b, m, 100), 0);
	cr_assert_eq(m->refs, 3);
	mfs_ws_msg_unref(m);
	cr_assert_eq(a.queued, 8);
	cr_assert_eq(b.queued, 8);
	mfs_ws_tx_clear(&a);
	cr_assert_eq(m->refs, 1, "b still holds it");
	cr_assert_str_eq(b.head ? m->data : "", "manifest");
	mfs_ws_tx_clear(&b);
	cr_assert_null(b.head);
	cr_assert_null(b.tail);
	cr_assert_eq(b.queued, 0);
	mfs_ws_msg_unref(NULL);
}

/* The cap counts every byte queued: exactly max is taken, one byte more is
 * refused with nothing added, and a message larger than max never fits. */
Test(ws_tx, the_cap_counts_every_byte_queued)
{
	struct mfs_ws_tx tx = {0};
	struct mfs_ws_msg *six = msg_of("abcdef"), *four = msg_of("abcd"), *one = msg_of("a");

	cr_assert_eq(mfs_ws_tx_push(&tx, six, 10), 0);
	cr_assert_eq(mfs_ws_tx_push(&tx, four, 10), 0, "6 + 4 = max");
	cr_assert_eq(mfs_ws_tx_push(&tx, one, 10), -ENOBUFS);
	cr_assert_eq(one->refs, 1, "a refused message is not held");
	cr_assert_eq(tx.queued, 10);
	mfs_ws_tx_clear(&tx);
	cr_assert_eq(mfs_ws_tx_push(&tx, six, 5), -ENOBUFS, "larger than max on an empty queue");
	cr_assert_eq(mfs_ws_tx_push(&tx, six, SIZE_MAX), 0, "no overflow at SIZE_MAX");
	cr_assert_eq(mfs_ws_tx_push(&tx, four, SIZE_MAX), 0);
	cr_assert_eq(tx.queued, 10);
	mfs_ws_tx_clear(&tx);
	mfs_ws_msg_unref(six);
	mfs_ws_msg_unref(four);
	mfs_ws_msg_unref(one);
}
