#include "net/tracker_client.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/hostport.h"
#include "net/tls.h"
#include "net/tunnel.h"
#include "net/ws.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 10000           /* a connection this old resets the backoff */
#define DEFAULT_INTERVAL_S 60     /* until the tracker names one */
#define PROXY_TRIES 4             /* connects in a row the proxy refused: told */
#define MAX_INTERVAL_S 86400
/* What may pile up unsent past the messages a connection starts with. */
#define TX_SLACK_BYTES (4 * (size_t)MFS_TRACKER_MESSAGE_MAX)

struct announce {
	uint8_t key[MFS_TRACKER_KEY_BYTES];
	uint16_t port;
	uint8_t node_pk[MFS_TRACKER_KEY_BYTES];
};

/* A publish the tracker has not answered yet. */
struct pending {
	struct pending *next;
	uint8_t key[MFS_TRACKER_KEY_BYTES];
	uint64_t sequence;
	char *json;
	size_t len;
};

struct mfs_tracker_client {
	uv_loop_t *loop;
	struct mfs_tracker_client_callbacks cb;
	void *ctx;
	char *host;               /* as in the URL, without brackets */
	char *host_header;        /* host[:port] as the URL had it */
	char *front;              /* #front=NAME: dialled, and the TLS name; or NULL */
	char *path;
	int port;
	int tls_on;               /* wss:// */
	int pinned;               /* the URL's fragment pins the certificate */
	uint8_t pin[MFS_TLS_PIN_BYTES];
	struct mfs_tls_client tls; /* its OpenSSL context, for wss:// */
	char last_error[MFS_TLS_WHY_MAX]; /* the failure last reported, until a connect */
	struct mfs_ws ws;
	struct mfs_tunnel *tunnel; /* through a proxy: lws connects to its socket */
	char tunnel_why[160];     /* why the proxy failed the dial under way */
	unsigned proxy_refusals;  /* connects in a row the proxy refused */
	struct lws *wsi;          /* the connection, while there is one */
	int up;
	uint64_t up_since;
	uv_getaddrinfo_t resolver;
	int resolving;
	unsigned attempt;         /* picks one of the resolved addresses in turn */
	uv_timer_t retry, reannounce;
	unsigned backoff_ms;
	uint32_t interval_s;
	uint8_t (*subs)[MFS_TRACKER_KEY_BYTES];
	size_t nsubs, subs_cap;
	struct announce *anns;
	size_t nanns, anns_cap;
	struct pending *pending;
	struct mfs_ws_tx tx;      /* what is to be sent */
	size_t tx_max;            /* what tx may hold; see on_established */
	struct mfs_ws_rx rx;       /* the message arriving */
	int stalled;              /* dropped for not reading, until the next connect */
	int freeing;
	int handles_open;         /* the two timers and the lws context */
	unsigned char scratch[LWS_PRE + MFS_WS_FRAGMENT_BYTES];
};

/* A tracker that stops answering pings (one a minute) within 30 s is
 * taken for gone: the connection is dropped and dialled again. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 60,
	.secs_since_valid_hangup = 90,
};

/* ---- the output queue --------------------------------------------------- */

static void report_error(struct mfs_tracker_client *c, const char *fmt, const char *detail);

/* Queues text (taking it; rc from its builder) when connected: whatever is
 * not sent now is sent again after the next connect. A tracker that lets
 * more than tx_max bytes pile up is not reading: it is dropped and dialled
 * again (everything is sent anew then). */
static void send_built(struct mfs_tracker_client *c, int rc, char *text, size_t len)
{
	struct mfs_ws_msg *m;

	if (rc != 0 || !c->up) {
		free(text);
		return;
	}
	if (!(m = mfs_ws_msg_new(text, len)))
		return;
	rc = mfs_ws_tx_push(&c->tx, m, c->tx_max);
	mfs_ws_msg_unref(m);
	if (rc == -ENOBUFS && !c->stalled) {
		c->stalled = 1;
		report_error(c, "%s", "the tracker stopped reading what it is sent; dialling again");
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	if (rc == 0)
		lws_callback_on_writable(c->wsi);
}

static int write_next(struct mfs_tracker_client *c)
{
	int more = mfs_ws_tx_write(&c->tx, c->wsi, c->scratch);

	if (more < 0)
		return -1;
	if (more)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void send_subscribe(struct mfs_tracker_client *c, const uint8_t *key)
{
	char *text = NULL;
	size_t len = 0;
	int rc = mfs_tracker_build_subscribe(&text, &len, key);

	send_built(c, rc, text, len);
}

static void send_announce(struct mfs_tracker_client *c, const struct announce *a,
			  enum mfs_tracker_event event)
{
	char *text = NULL;
	size_t len = 0;
	int rc = mfs_tracker_build_announce(&text, &len, a->key, a->node_pk, a->port,
					    MFS_TRACKER_DEFAULT_NUMWANT, event);

	send_built(c, rc, text, len);
}

static void send_publish(struct mfs_tracker_client *c, const struct pending *p)
{
	char *text = NULL;
	size_t len = 0;
	int rc = mfs_tracker_build_publish(&text, &len, p->json, p->len);

	send_built(c, rc, text, len);
}

/* ---- connecting ---------------------------------------------------------- */

static void start_connect(struct mfs_tracker_client *c);
static void finish_free(struct mfs_tracker_client *c);

static void on_retry(uv_timer_t *t)
{
	start_connect(t->data);
}

/* Schedules the next attempt (once), backing off. */
static void schedule_retry(struct mfs_tracker_client *c)
{
	unsigned delay;

	if (c->freeing || c->wsi || c->resolving || uv_is_active((uv_handle_t *)&c->retry))
		return;
	/* Jitter: a tracker that comes back is not hit by every client at once. */
	delay = c->backoff_ms / 2 + mfs_random_uniform(c->backoff_ms / 2 + 1);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	uv_timer_start(&c->retry, on_retry, delay, 0);
}

/* The name dialled and shown to TLS: the front's when the URL has one
 * (the tracker's own name then travels only inside TLS, as the Host). */
static const char *dial_host(const struct mfs_tracker_client *c)
{
	return c->front ? c->front : c->host;
}

/* lws connects to address: the tracker's, numeric, or the tunnel's. */
static void connect_lws(struct mfs_tracker_client *c, const char *address)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof ci);
	ci.context = c->ws.context;
	ci.address = address;
	ci.port = c->port;
	ci.path = c->path;
	ci.host = c->host_header;
	ci.origin = c->host_header;
	ci.ietf_version_or_minus_one = -1;
	ci.local_protocol_name = "megafs-tracker-client";
	ci.pwsi = &c->wsi;
	ci.retry_and_idle_policy = &idle_policy;
	/* net/tls checks the name itself, or the pin in its place (the SNI
	 * and the check are the host's, through a tunnel too). */
	ci.ssl_connection = c->tls_on ? LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0;
	c->tls.why[0] = '\0';
	c->tunnel_why[0] = '\0';
	/* A failure may already have been reported through the callback. */
	if (!lws_client_connect_via_info(&ci)) {
		c->wsi = NULL;
		schedule_retry(c);
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct mfs_tracker_client *c = req->data;
	char address[INET6_ADDRSTRLEN];
	struct addrinfo *a;
	size_t n = 0;

	c->resolving = 0;
	if (c->freeing) {
		uv_freeaddrinfo(res);
		finish_free(c);
		return;
	}
	if (status != 0) {
		uv_freeaddrinfo(res);
		schedule_retry(c);
		return;
	}
	for (a = res; a; a = a->ai_next)
		n++;
	a = res;
	for (size_t i = 0; n && i < c->attempt % n; i++)
		a = a->ai_next;
	c->attempt++;
	if (!a || mfs_ws_numeric_host(address, sizeof address, a->ai_addr) != 0) {
		uv_freeaddrinfo(res);
		schedule_retry(c);
		return;
	}
	uv_freeaddrinfo(res);
	connect_lws(c, address);
}

static void start_connect(struct mfs_tracker_client *c)
{
	struct addrinfo hints;

	if (c->freeing || c->wsi || c->resolving)
		return;
	if (c->tunnel) { /* the proxy resolves the name */
		connect_lws(c, mfs_tunnel_lws_address(c->tunnel));
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	c->resolver.data = c;
	if (uv_getaddrinfo(c->loop, &c->resolver, on_resolved, dial_host(c), NULL, &hints) == 0)
		c->resolving = 1;
	else
		schedule_retry(c);
}

static void on_reannounce(uv_timer_t *t)
{
	struct mfs_tracker_client *c = t->data;

	if (c->up)
		for (size_t i = 0; i < c->nanns; i++)
			send_announce(c, &c->anns[i], MFS_TRACKER_EVENT_NONE);
}

static void set_interval(struct mfs_tracker_client *c, uint32_t seconds)
{
	if (seconds > MAX_INTERVAL_S)
		seconds = MAX_INTERVAL_S;
	if (seconds == c->interval_s && uv_is_active((uv_handle_t *)&c->reannounce))
		return;
	c->interval_s = seconds;
	uv_timer_start(&c->reannounce, on_reannounce, 1000ull * seconds, 1000ull * seconds);
}

static void on_established(struct mfs_tracker_client *c)
{
	c->up = 1;
	c->up_since = uv_now(c->loop);
	if (c->proxy_refusals >= PROXY_TRIES && c->cb.proxy_refused && !c->freeing)
		c->cb.proxy_refused(c->ctx, 0);
	c->proxy_refusals = 0;
	c->last_error[0] = '\0';
	c->stalled = 0;
	/* Everything a connection starts with is queued whatever its size (a
	 * cap under it would drop every connection); the cap is what more
	 * may pile up while the tracker does not read. */
	c->tx_max = SIZE_MAX;
	for (size_t i = 0; i < c->nsubs; i++)
		send_subscribe(c, c->subs[i]);
	for (size_t i = 0; i < c->nanns; i++)
		send_announce(c, &c->anns[i], MFS_TRACKER_EVENT_STARTED);
	for (struct pending *p = c->pending; p; p = p->next)
		send_publish(c, p);
	c->tx_max = c->tx.queued + TX_SLACK_BYTES;
	if (c->cb.connected)
		c->cb.connected(c->ctx, 1);
}

/* A connect that failed: why, once until the reason changes or a connect
 * succeeds (a tracker away for an hour is said once, not every 10 s). */
static void connect_failed(struct mfs_tracker_client *c, const char *in, size_t len)
{
	char line[MFS_TLS_WHY_MAX];

	c->proxy_refusals = c->tunnel_why[0] ? c->proxy_refusals + 1 : 0;
	if (c->proxy_refusals == PROXY_TRIES && c->cb.proxy_refused && !c->freeing)
		c->cb.proxy_refused(c->ctx, 1);
	if (c->tunnel_why[0])
		snprintf(line, sizeof line, "cannot connect through the proxy: %s", c->tunnel_why);
	else if (c->tls.why[0])
		snprintf(line, sizeof line, "%s", c->tls.why);
	else if (c->tls_on && in && len >= 15 && strncmp(in, "connect SSL err", 15) == 0)
		snprintf(line, sizeof line, "cannot connect: the TLS handshake failed (is it a "
			 "wss:// tracker, speaking TLS 1.3? a ws:// one needs ws://)");
	else if (in && len)
		snprintf(line, sizeof line, "cannot connect: %.*s", (int)len, in);
	else
		snprintf(line, sizeof line, "cannot connect");
	/* lws ends some of its reasons with a newline. */
	line[strcspn(line, "\r\n")] = '\0';
	c->tls.why[0] = '\0';
	c->tunnel_why[0] = '\0';
	if (strcmp(line, c->last_error) == 0)
		return;
	snprintf(c->last_error, sizeof c->last_error, "%s", line);
	report_error(c, "%s", line);
}

static void on_lost(struct mfs_tracker_client *c)
{
	int was_up = c->up;

	if (was_up && uv_now(c->loop) - c->up_since >= STABLE_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	c->up = 0;
	c->wsi = NULL;
	mfs_ws_tx_clear(&c->tx);
	mfs_ws_rx_done(&c->rx);
	if (c->freeing)
		return;
	schedule_retry(c);
	if (was_up && c->cb.connected)
		c->cb.connected(c->ctx, 0);
}

/* ---- what the tracker says ----------------------------------------------- */

static struct pending *take_pending(struct mfs_tracker_client *c, const uint8_t *key,
				    int any_sequence, uint64_t sequence)
{
	for (struct pending **p = &c->pending; *p; p = &(*p)->next)
		if (memcmp((*p)->key, key, MFS_TRACKER_KEY_BYTES) == 0 &&
		    (any_sequence || (*p)->sequence == sequence)) {
			struct pending *hit = *p;

			*p = hit->next;
			return hit;
		}
	return NULL;
}

static void report_error(struct mfs_tracker_client *c, const char *fmt, const char *detail)
{
	char line[MFS_TLS_WHY_MAX + MFS_TRACKER_REASON_MAX + 64];

	if (!c->cb.error)
		return;
	snprintf(line, sizeof line, fmt, detail);
	c->cb.error(c->ctx, line);
}

static int subscribed(const struct mfs_tracker_client *c, const uint8_t *key)
{
	for (size_t i = 0; i < c->nsubs; i++)
		if (memcmp(c->subs[i], key, MFS_TRACKER_KEY_BYTES) == 0)
			return 1;
	return 0;
}

static void handle_message(struct mfs_tracker_client *c, const char *buf, size_t len)
{
	struct mfs_tracker_msg m;
	struct pending *p;
	char why[160];

	why[0] = '\0';
	if (mfs_tracker_parse_reply(&m, buf, len, why, sizeof why) != 0) {
		report_error(c, "malformed message from the tracker: %s", why);
		return;
	}
	switch (m.action) {
	case MFS_TRACKER_PUBLISH:
		if (subscribed(c, m.key))
			c->cb.manifest(c->ctx, m.key, m.sequence, m.manifest, m.manifest_len);
		break;
	case MFS_TRACKER_PUBLISHED:
		if ((p = take_pending(c, m.key, 0, m.sequence))) {
			if (c->cb.published)
				c->cb.published(c->ctx, p->key, p->sequence, 0, NULL);
			free(p->json);
			free(p);
		}
		break;
	case MFS_TRACKER_PEERS:
		if (m.interval != c->interval_s)
			set_interval(c, m.interval);
		c->cb.peers(c->ctx, m.key, m.peers, m.peer_count);
		break;
	case MFS_TRACKER_ERROR:
		if (m.request == MFS_TRACKER_PUBLISH && m.has_key &&
		    (p = take_pending(c, m.key, !m.has_sequence, m.sequence))) {
			if (c->cb.published)
				c->cb.published(c->ctx, p->key, p->sequence, m.code, m.reason);
			free(p->json);
			free(p);
		} else {
			report_error(c, "the tracker refused a request: %s", m.reason);
		}
		break;
	default:
		break;
	}
	mfs_tracker_msg_clear(&m);
}

static int receive(struct mfs_tracker_client *c, const void *in, size_t len)
{
	int rc;

	if (lws_frame_is_binary(c->wsi))
		return 0; /* not ours to understand; ignored */
	rc = mfs_ws_rx_add(&c->rx, in, len, lws_remaining_packet_payload(c->wsi),
			   lws_is_final_fragment(c->wsi), MFS_TRACKER_MESSAGE_MAX);
	if (rc == -EMSGSIZE)
		report_error(c, "%s", "the tracker sent a message too large");
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	handle_message(c, c->rx.buf, c->rx.len);
	mfs_ws_rx_done(&c->rx);
	return 0;
}

/* A connection closed before its WebSocket handshake was done. */
#define HANDSHAKE_CUT "the tracker closed the connection during the handshake (a wss:// " \
		      "tracker dialled as ws://? or one refusing this address)"

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len)
{
	struct mfs_tracker_client *c = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c->freeing)
			return -1;
		c->wsi = wsi;
		on_established(c);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return c->freeing || wsi != c->wsi ? -1 : receive(c, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return c->freeing || wsi != c->wsi ? -1 : write_next(c);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (wsi == c->wsi || !c->wsi) {
			if (!c->freeing)
				connect_failed(c, in, in ? strnlen(in, 256) : 0);
			on_lost(c);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (wsi == c->wsi || !c->wsi)
			on_lost(c);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == c->wsi) {
			if (!c->up && !c->freeing)
				connect_failed(c, HANDSHAKE_CUT, sizeof HANDSHAKE_CUT - 1);
			on_lost(c);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{"megafs-tracker-client", client_callback, 0, MFS_WS_FRAGMENT_BYTES, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the API -------------------------------------------------------------- */

/* The fragment of a wss:// URL, text[0..len): "sha256=PIN" and
 * "front=NAME", each at most once, joined by '&'. NAME is a host name or
 * address as net/hostport reads one, without a port. 0 or -EINVAL. */
static int parse_fragment(struct mfs_tracker_client *c, const char *text, size_t len)
{
	char front[MFS_HOSTPORT_HOST_MAX + 1];
	const char *end = text + len;
	uint16_t no_port = 0;

	while (text < end) {
		const char *amp = memchr(text, '&', (size_t)(end - text));
		size_t n = amp ? (size_t)(amp - text) : (size_t)(end - text);

		if (n > 6 && strncmp(text, "front=", 6) == 0 && !c->front) {
			/* A name: an address (or a port) cannot be an SNI. */
			if (mfs_hostport_parse(front, &no_port, text + 6, n - 6,
					       MFS_HOSTPORT_PORT_OPTIONAL) != 0 || no_port != 0 ||
			    memchr(text + 6, ':', n - 6) ||
			    strspn(front, "0123456789.") == strlen(front))
				return -EINVAL;
			if (!(c->front = strdup(front)))
				return -ENOMEM;
		} else if (c->pinned || mfs_tls_pin_parse(c->pin, text, n) != 0) {
			return -EINVAL;
		} else {
			c->pinned = 1;
		}
		text += n + (amp != NULL);
		if (amp && text == end)
			return -EINVAL; /* a trailing '&' */
	}
	return 0;
}

/* ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH][#FRAGMENT];
 * HOST:PORT as net/hostport reads it, PORT 80 (ws) or 443 (wss) when left
 * out, and not 0; the fragment (parse_fragment) only on wss://. */
static int parse_url(struct mfs_tracker_client *c, const char *url)
{
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	const char *authority, *path, *end;
	uint16_t port;
	int rc;

	if (strncasecmp(url, "ws://", 5) == 0) {
		authority = url + 5;
		port = 80;
	} else if (strncasecmp(url, "wss://", 6) == 0) {
		authority = url + 6;
		port = 443;
		c->tls_on = 1;
	} else {
		return strstr(url, "://") ? -EPROTONOSUPPORT : -EINVAL;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	end = authority + strcspn(authority, "#");
	path = authority + strcspn(authority, "/#");
	if (mfs_hostport_parse(host, &port, authority, (size_t)(path - authority),
			       MFS_HOSTPORT_PORT_OPTIONAL) != 0 || port == 0)
		return -EINVAL;
	if (*end) {
		if (!c->tls_on || !end[1])
			return -EINVAL;
		if ((rc = parse_fragment(c, end + 1, strlen(end + 1))) != 0)
			return rc;
	}
	c->port = port;
	c->host = strdup(host);
	c->host_header = strndup(authority, (size_t)(path - authority));
	c->path = path < end ? strndup(path, (size_t)(end - path)) : strdup("/");
	return c->host && c->host_header && c->path ? 0 : -ENOMEM;
}

int mfs_tracker_url_check(const char *url)
{
	struct mfs_tracker_client probe = {0};
	int rc = parse_url(&probe, url);

	free(probe.host);
	free(probe.host_header);
	free(probe.front);
	free(probe.path);
	return rc;
}

static void finish_free(struct mfs_tracker_client *c)
{
	if (c->handles_open > 0 || c->resolving)
		return;
	mfs_ws_tx_clear(&c->tx);
	for (struct pending *p = c->pending, *next; p; p = next) {
		next = p->next;
		free(p->json);
		free(p);
	}
	free(c->subs);
	free(c->anns);
	mfs_ws_rx_clear(&c->rx);
	/* libwebsockets never frees a context it was given; it is done with it. */
	mfs_tls_client_clear(&c->tls);
	free(c->host);
	free(c->host_header);
	free(c->front);
	free(c->path);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct mfs_tracker_client *c = h->data;

	c->handles_open--;
	finish_free(c);
}

static void context_gone(void *arg)
{
	struct mfs_tracker_client *c = arg;

	c->handles_open--;
	finish_free(c);
}

static void on_tunnel_fail(void *ctx, const char *why)
{
	struct mfs_tracker_client *c = ctx;

	snprintf(c->tunnel_why, sizeof c->tunnel_why, "%s", why);
}

int mfs_tracker_client_new(struct mfs_tracker_client **out, uv_loop_t *loop, const char *url,
			   const struct mfs_tracker_client_callbacks *cb, void *ctx)
{
	return mfs_tracker_client_new_via(out, loop, url, NULL, cb, ctx);
}

int mfs_tracker_client_new_via(struct mfs_tracker_client **out, uv_loop_t *loop, const char *url,
			       const struct mfs_socks5_proxy *proxy,
			       const struct mfs_tracker_client_callbacks *cb, void *ctx)
{
	struct lws_context_creation_info info;
	struct mfs_tracker_client *c;
	int rc;

	*out = NULL;
	if (!cb->manifest || !cb->peers)
		return -EINVAL;
	if (!(c = calloc(1, sizeof *c)))
		return -ENOMEM;
	c->loop = loop;
	c->cb = *cb;
	c->ctx = ctx;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->interval_s = DEFAULT_INTERVAL_S;
	if ((rc = parse_url(c, url)) != 0)
		goto fail;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = c;
	/* Through a proxy (Tor: a circuit to build) the dial takes longer. */
	info.timeout_secs = proxy ? 30 : 10;
	info.connect_timeout_secs = proxy ? 30 : 10;
	/* One connection at a time: small fd tables (lws's default is sized by
	 * ulimit -n, per context). */
	info.fd_limit_per_thread = 8;
	info.gid = -1;
	info.uid = -1;
	if (c->tls_on) {
		if ((rc = mfs_tls_client_init(&c->tls, dial_host(c), c->pinned ? c->pin : NULL,
					      c->front != NULL)) != 0)
			goto fail;
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.provided_client_ssl_ctx = c->tls.ctx;
	}
	if (proxy && (rc = mfs_tunnel_new(&c->tunnel, loop, proxy, dial_host(c), (uint16_t)c->port,
					  on_tunnel_fail, c)) != 0)
		goto fail;
	if ((rc = mfs_ws_start(&c->ws, loop, &info)) != 0)
		goto fail;
	uv_timer_init(loop, &c->retry);
	uv_timer_init(loop, &c->reannounce);
	c->retry.data = c->reannounce.data = c;
	c->handles_open = 3;
	start_connect(c);
	*out = c;
	return 0;
fail:
	mfs_tunnel_free(c->tunnel);
	finish_free(c);
	return rc;
}

int mfs_tracker_client_subscribe(struct mfs_tracker_client *c,
				 const uint8_t key[static MFS_TRACKER_KEY_BYTES])
{
	if (subscribed(c, key))
		return 0;
	if (c->nsubs == c->subs_cap) {
		size_t cap = c->subs_cap ? 2 * c->subs_cap : 4;
		void *p = realloc(c->subs, cap * sizeof *c->subs);

		if (!p)
			return -ENOMEM;
		c->subs = p;
		c->subs_cap = cap;
	}
	memcpy(c->subs[c->nsubs++], key, MFS_TRACKER_KEY_BYTES);
	send_subscribe(c, key);
	return 0;
}

static struct announce *find_announce(struct mfs_tracker_client *c, const uint8_t *key)
{
	for (size_t i = 0; i < c->nanns; i++)
		if (memcmp(c->anns[i].key, key, MFS_TRACKER_KEY_BYTES) == 0)
			return &c->anns[i];
	return NULL;
}

int mfs_tracker_client_announce(struct mfs_tracker_client *c,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES], uint16_t port,
				const uint8_t node_pk[static MFS_TRACKER_KEY_BYTES])
{
	struct announce *a = find_announce(c, key);

	if (!a) {
		if (c->nanns == c->anns_cap) {
			size_t cap = c->anns_cap ? 2 * c->anns_cap : 4;
			void *p = realloc(c->anns, cap * sizeof *c->anns);

			if (!p)
				return -ENOMEM;
			c->anns = p;
			c->anns_cap = cap;
		}
		a = &c->anns[c->nanns++];
		memcpy(a->key, key, MFS_TRACKER_KEY_BYTES);
	}
	a->port = port;
	memcpy(a->node_pk, node_pk, MFS_TRACKER_KEY_BYTES);
	if (!uv_is_active((uv_handle_t *)&c->reannounce))
		set_interval(c, c->interval_s);
	send_announce(c, a, MFS_TRACKER_EVENT_STARTED);
	return 0;
}

void mfs_tracker_client_unannounce(struct mfs_tracker_client *c,
				   const uint8_t key[static MFS_TRACKER_KEY_BYTES])
{
	struct announce *a = find_announce(c, key);

	if (!a)
		return;
	send_announce(c, a, MFS_TRACKER_EVENT_STOPPED);
	*a = c->anns[--c->nanns];
	if (c->nanns == 0)
		uv_timer_stop(&c->reannounce);
}

int mfs_tracker_client_publish(struct mfs_tracker_client *c, const char *canonical_json,
			       size_t len)
{
	struct pending *p, *old;
	json_t *doc = NULL, *seq;
	int rc;

	if (len > MFS_TRACKER_MANIFEST_MAX)
		return -EMSGSIZE;
	if ((rc = mfs_cjson_parse(&doc, canonical_json, len, NULL, 0)) != 0)
		return rc;
	rc = MFS_E_FORMAT;
	seq = json_object_get(doc, "sequence");
	if (!(p = calloc(1, sizeof *p)))
		rc = -ENOMEM;
	else if (json_is_object(doc) && json_is_integer(seq) && json_integer_value(seq) >= 1 &&
		 json_is_string(json_object_get(doc, "publicKey")) &&
		 mfs_hex_decode(p->key, sizeof p->key,
				json_string_value(json_object_get(doc, "publicKey"))) == 0)
		rc = 0;
	if (rc == 0) {
		p->sequence = (uint64_t)json_integer_value(seq);
		p->len = len;
		if (!(p->json = malloc(len + 1)))
			rc = -ENOMEM;
	}
	json_decref(doc);
	if (rc != 0) {
		free(p);
		return rc;
	}
	memcpy(p->json, canonical_json, len);
	p->json[len] = '\0';
	/* The newer manifest supersedes one still waiting for its answer. */
	if ((old = take_pending(c, p->key, 1, 0))) {
		free(old->json);
		free(old);
	}
	p->next = c->pending;
	c->pending = p;
	send_publish(c, p);
	return 0;
}

int mfs_tracker_client_is_connected(const struct mfs_tracker_client *c)
{
	return c->up;
}

int mfs_tracker_client_remote(const struct mfs_tracker_client *c, struct sockaddr_storage *out)
{
	socklen_t len = sizeof *out;

	if (!c->up || !c->wsi)
		return -ENOTCONN;
	/* Through the proxy: the URL's address, when it names one (a name
	 * the proxy resolved is not known here). */
	if (c->tunnel)
		return mfs_hostport_sockaddr(out, NULL, dial_host(c), (uint16_t)c->port) == 0 ?
			0 : -EADDRNOTAVAIL;
	if (getpeername(lws_get_socket_fd(c->wsi), (struct sockaddr *)out, &len) != 0)
		return -errno;
	return 0;
}

void mfs_tracker_client_free(struct mfs_tracker_client *c)
{
	if (!c || c->freeing)
		return;
	c->freeing = 1;
	uv_close((uv_handle_t *)&c->retry, handle_closed);
	uv_close((uv_handle_t *)&c->reannounce, handle_closed);
	if (c->resolving)
		uv_cancel((uv_req_t *)&c->resolver);
	mfs_tunnel_free(c->tunnel);
	c->tunnel = NULL;
	mfs_ws_stop(&c->ws, context_gone, c);
}
