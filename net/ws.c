#include "net/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REAPER_POLL_MS 5

static void emit(int level, const char *line)
{
	size_t n = strlen(line);

	(void)level;
	fprintf(stderr, "megafs: tracker: %s%s", line, n && line[n - 1] == '\n' ? "" : "\n");
}

static void quiet_logs(void)
{
	lws_set_log_level(LLL_ERR, emit);
}

/* The poll handles on a loop (lws watches its descriptors with them). */
struct poll_list {
	uv_handle_t **h;
	size_t n, cap;
	int failed;
};

static void collect_poll(uv_handle_t *h, void *arg)
{
	struct poll_list *l = arg;

	if (h->type != UV_POLL || l->failed)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->h, cap * sizeof *l->h);

		if (!p) {
			l->failed = 1;
			return;
		}
		l->h = p;
		l->cap = cap;
	}
	l->h[l->n++] = h;
}

struct new_poll {
	const struct poll_list *before;
	uv_handle_t *found;
	int count;
};

static void find_new_poll(uv_handle_t *h, void *arg)
{
	struct new_poll *s = arg;

	if (h->type != UV_POLL)
		return;
	for (size_t i = 0; i < s->before->n; i++)
		if (s->before->h[i] == h)
			return;
	s->found = h;
	s->count++;
}

int mfs_ws_start(struct mfs_ws *ws, uv_loop_t *loop, struct lws_context_creation_info *info)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	void *loops[1] = {loop};
	struct poll_list before = {0};
	struct new_poll after = {&before, NULL, 0};
	uv_os_fd_t fd;

	memset(ws, 0, sizeof *ws);
	ws->loop = loop;
	ws->event_fd = -1;
	pthread_once(&once, quiet_logs);
	info->options |= LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info->foreign_loops = loops;
	uv_walk(loop, collect_poll, &before);
	ws->context = lws_create_context(info);
	/* The one poll handle the creation added watches the cancel eventfd. */
	if (ws->context && !before.failed) {
		uv_walk(loop, find_new_poll, &after);
		if (after.count == 1 && uv_fileno(after.found, &fd) == 0)
			ws->event_fd = fd;
	}
	free(before.h);
	return ws->context ? 0 : -ENOMEM;
}

struct handle_search {
	const void *context;
	int found;
};

static void look_for_context(uv_handle_t *h, void *arg)
{
	struct handle_search *s = arg;

	/* lws points the data of its per-context handles (idle, timer) at the
	 * context; it closes them only after every connection's handle. */
	if (h->data == s->context)
		s->found = 1;
}

static void reaper_closed(uv_handle_t *h)
{
	struct mfs_ws *ws = h->data;

	ws->done(ws->arg);
}

/* lws has just closed its eventfd and will close the number again later:
 * hold the number with a placeholder that second close may take. */
static void hold_event_fd(int fd)
{
	int null, dup;

	if (fd < 0 || fcntl(fd, F_GETFD) != -1 || errno != EBADF)
		return;
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	dup = null == fd ? null : fcntl(null, F_DUPFD_CLOEXEC, fd);
	if (null != fd)
		close(null);
	if (dup >= 0 && dup != fd)
		close(dup); /* someone else took the number meanwhile */
}

static void reaper_tick(uv_timer_t *t)
{
	struct mfs_ws *ws = t->data;
	struct handle_search s = {ws->context, 0};

	if (!ws->destroy_called) {
		/* First half: lws closes every connection and then its own handles. */
		ws->destroy_called = 1;
		lws_context_destroy(ws->context);
		hold_event_fd(ws->event_fd);
		return;
	}
	uv_walk(t->loop, look_for_context, &s);
	if (s.found)
		return;
	/* Second half: nothing of lws is left on the loop; free the context. */
	lws_context_destroy(ws->context);
	ws->context = NULL;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, reaper_closed);
}

void mfs_ws_stop(struct mfs_ws *ws, void (*done)(void *arg), void *arg)
{
	ws->done = done;
	ws->arg = arg;
	/* A timer, not a direct call: lws_context_destroy from inside one of
	 * the context's own callbacks would only be deferred. uv_timer_init
	 * cannot fail on a live loop. */
	uv_timer_init(ws->loop, &ws->reaper);
	ws->reaper.data = ws;
	uv_timer_start(&ws->reaper, reaper_tick, 0, REAPER_POLL_MS);
}

int mfs_ws_numeric_host(char *out, size_t out_len, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)out_len) ? 0 : -ENOSPC;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out,
					 (socklen_t)out_len) ? 0 : -ENOSPC;
		return inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)out_len) ? 0 : -ENOSPC;
	}
	return -EAFNOSUPPORT;
}

int mfs_ws_write_fragment(struct lws *wsi, unsigned char *scratch, const char *data, size_t len,
			  size_t *sent)
{
	unsigned char *buf = scratch + LWS_PRE;
	size_t n = len - *sent;
	int flags;

	if (n > MFS_WS_FRAGMENT_BYTES)
		n = MFS_WS_FRAGMENT_BYTES;
	memcpy(buf, data + *sent, n);
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, *sent == 0, *sent + n == len);
	if (lws_write(wsi, buf, n, (enum lws_write_protocol)flags) < 0)
		return -1;
	*sent += n;
	return *sent == len;
}

struct mfs_ws_msg *mfs_ws_msg_new(char *text, size_t len)
{
	struct mfs_ws_msg *m = malloc(sizeof *m);

	if (!m) {
		free(text);
		return NULL;
	}
	m->refs = 1;
	m->len = len;
	m->data = text;
	return m;
}

void mfs_ws_msg_unref(struct mfs_ws_msg *m)
{
	if (m && --m->refs == 0) {
		free(m->data);
		free(m);
	}
}

struct mfs_ws_tx_item {
	struct mfs_ws_tx_item *next;
	struct mfs_ws_msg *msg;
};

int mfs_ws_tx_push(struct mfs_ws_tx *tx, struct mfs_ws_msg *m, size_t max)
{
	struct mfs_ws_tx_item *i;

	if (m->len > max || tx->queued > max - m->len)
		return -ENOBUFS;
	if (!(i = malloc(sizeof *i)))
		return -ENOMEM;
	m->refs++;
	i->msg = m;
	i->next = NULL;
	if (tx->tail)
		tx->tail->next = i;
	else
		tx->head = i;
	tx->tail = i;
	tx->queued += m->len;
	return 0;
}

static void drop_head(struct mfs_ws_tx *tx)
{
	struct mfs_ws_tx_item *i = tx->head;

	tx->head = i->next;
	if (!tx->head)
		tx->tail = NULL;
	tx->head_sent = 0;
	mfs_ws_msg_unref(i->msg);
	free(i);
}

int mfs_ws_tx_write(struct mfs_ws_tx *tx, struct lws *wsi, unsigned char *scratch)
{
	size_t before = tx->head_sent;
	int done;

	if (!tx->head)
		return 0;
	done = mfs_ws_write_fragment(wsi, scratch, tx->head->msg->data, tx->head->msg->len,
				     &tx->head_sent);
	if (done < 0)
		return -1;
	tx->queued -= tx->head_sent - before;
	if (done)
		drop_head(tx);
	return tx->head != NULL;
}

void mfs_ws_tx_clear(struct mfs_ws_tx *tx)
{
	while (tx->head)
		drop_head(tx);
	tx->queued = 0;
}

int mfs_ws_rx_add(struct mfs_ws_rx *rx, const void *in, size_t len, size_t remaining, int final,
		  size_t max)
{
	/* Refused before it is stored: at most one message's worth is held,
	 * and a frame announcing more is refused at its first fragment. */
	if (len > max - rx->len || remaining > max - rx->len - len) {
		rx->len = 0;
		return -EMSGSIZE;
	}
	if (rx->len + len > rx->cap) {
		size_t cap = rx->cap ? rx->cap : MFS_WS_FRAGMENT_BYTES;
		char *p;

		while (cap < rx->len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		if (!(p = realloc(rx->buf, cap))) {
			rx->len = 0;
			return -ENOMEM;
		}
		rx->buf = p;
		rx->cap = cap;
	}
	if (len > 0) /* an empty message may have no buffer yet */
		memcpy(rx->buf + rx->len, in, len);
	rx->len += len;
	return final ? 1 : 0;
}

void mfs_ws_rx_done(struct mfs_ws_rx *rx)
{
	rx->len = 0;
	if (rx->cap > MFS_WS_RX_KEEP_BYTES)
		mfs_ws_rx_clear(rx);
}

void mfs_ws_rx_clear(struct mfs_ws_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
	rx->len = rx->cap = 0;
}
