#include "net/bt_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state { READING, ANSWERED, SENT };

struct mfs_bt_http {
	enum state state;
	size_t in_len, out_len;
	char in[MFS_BT_HEAD_MAX];
	unsigned char out[LWS_PRE + MFS_BT_RESPONSE_MAX];
};

int mfs_bt_http_new(struct mfs_bt_http **out)
{
	return (*out = calloc(1, sizeof **out)) ? 0 : -ENOMEM;
}

void mfs_bt_http_free(struct mfs_bt_http *h)
{
	free(h);
}

/* The end of the head (after its blank line) within in[len], or 0. */
static size_t head_end(const char *in, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (in[i] == '\n' && in[i - 1] == '\r' && in[i - 2] == '\n' && in[i - 3] == '\r')
			return i + 1;
	return 0;
}

static void fail(struct mfs_bt_http *h, const char *reason)
{
	if (mfs_bt_failure_build((char *)h->out + LWS_PRE, MFS_BT_RESPONSE_MAX, &h->out_len,
				 reason) != 0)
		h->out_len = 0; /* cannot happen: a reason is cut to fit; close bare */
}

static int answer(struct mfs_bt_http *h, size_t head_len, const struct mfs_bt_http_ctx *ctx)
{
	struct mfs_bt_announce a;
	struct mfs_bt_source src = *ctx->source;
	struct mfs_bt_answer *ans;
	char why[MFS_BT_REASON_MAX];
	int rc;

	if (mfs_bt_request_parse(&a, h->in, head_len, why, sizeof why) != 0) {
		fail(h, why);
		return 0;
	}
	if (!(ans = malloc(sizeof *ans)))
		return -ENOMEM;
	src.peer.port = a.port;
	rc = mfs_bt_swarm_announce(ctx->swarm, ans, &a, &src, ctx->now_ms);
	if (rc == 0)
		rc = mfs_bt_reply_build((char *)h->out + LWS_PRE, MFS_BT_RESPONSE_MAX, &h->out_len,
					ctx->interval, ans->complete, ans->incomplete, ans->peers,
					ans->count);
	free(ans);
	if (rc == -EDQUOT) {
		snprintf(why, sizeof why, "at most %u peers of one torrent from one address range",
			 ctx->per_range_in_torrent);
		fail(h, why);
	} else if (rc == -EPERM) {
		fail(h, "tracker full: too many peers from your address range, or in all");
	} else if (rc != 0) {
		fail(h, "out of memory");
	}
	return 0;
}

int mfs_bt_http_receive(struct mfs_bt_http *h, const void *in, size_t len,
			const struct mfs_bt_http_ctx *ctx)
{
	size_t take, end;
	int rc;

	if (h->state != READING)
		return 0;
	take = len < sizeof h->in - h->in_len ? len : sizeof h->in - h->in_len;
	memcpy(h->in + h->in_len, in, take);
	h->in_len += take;
	if (!(end = head_end(h->in, h->in_len))) {
		if (h->in_len < sizeof h->in)
			return 0;
		fail(h, "request head longer than 4096 bytes");
	} else if ((rc = answer(h, end, ctx)) != 0) {
		return rc;
	}
	h->state = ANSWERED;
	return 1;
}

int mfs_bt_http_write(struct mfs_bt_http *h, struct lws *wsi)
{
	if (h->state != ANSWERED || h->out_len == 0)
		return h->state == READING ? 0 : -1;
	/* lws keeps what the socket did not take and calls back writeable
	 * only once it is all sent: the next callback closes. */
	if (lws_write(wsi, h->out + LWS_PRE, h->out_len, LWS_WRITE_RAW) < (int)h->out_len)
		return -1;
	h->state = SENT;
	lws_callback_on_writable(wsi);
	return 0;
}
