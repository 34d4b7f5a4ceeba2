#include "net/dht.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/dht_int.h"

#define TICK_MS 100
#define EXPIRE_EVERY 60 /* seconds between sweeps of the store */

uint64_t mfs_dht__now(const struct mfs_dht *d)
{
	if (d->cfg.clock)
		return d->cfg.clock(d->cfg.clock_ctx);
	return uv_now(d->loop) / 1000;
}

static int same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

static void copy_addr(struct sockaddr_storage *out, const struct sockaddr *a)
{
	memset(out, 0, sizeof *out);
	memcpy(out, a, a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						: sizeof(struct sockaddr_in));
}

int mfs_dht__contact(struct mfs_krpc_node *n, const uint8_t id[static 20],
		     const struct sockaddr *from)
{
	memset(n, 0, sizeof *n);
	memcpy(n->id, id, MFS_KRPC_ID_BYTES);
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)from;

		n->family = 4;
		memcpy(n->ip, &s->sin_addr, 4);
		n->port = ntohs(s->sin_port);
	} else if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)from;

		n->family = 6;
		memcpy(n->ip, &s->sin6_addr, 16);
		n->port = ntohs(s->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

void mfs_dht__sockaddr(struct sockaddr_storage *out, const struct mfs_krpc_node *n)
{
	memset(out, 0, sizeof *out);
	if (n->family == 4) {
		struct sockaddr_in *s = (void *)out;

		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, n->ip, 4);
		s->sin_port = htons(n->port);
	} else {
		struct sockaddr_in6 *s = (void *)out;

		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, n->ip, 16);
		s->sin6_port = htons(n->port);
	}
}

int mfs_dht__send(struct mfs_dht *d, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	uv_udp_t *udp = to->sa_family == AF_INET ? (d->has4 ? &d->udp4 : NULL)
						 : (d->has6 ? &d->udp6 : NULL);
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int rc;

	if (d->cfg.sent)
		d->cfg.sent(d->cfg.sent_ctx, buf, len, to);
	if (!udp || d->closing)
		return -ENOTCONN;
	/* try_send: no request to allocate, and a full socket buffer drops the
	 * datagram as the network would. */
	rc = uv_udp_try_send(udp, &b, 1, to);
	if (rc < 0)
		return rc;
	d->stats.sent++;
	return 0;
}

static struct dht_pending *free_slot(struct mfs_dht *d)
{
	for (size_t i = 0; i < DHT_PENDING_MAX; i++)
		if (!d->pending[i].used)
			return &d->pending[i];
	return NULL;
}

int mfs_dht__query(struct mfs_dht *d, struct mfs_krpc_msg *q, const struct sockaddr *to,
		   const uint8_t *id, struct mfs_dht_lookup *lookup, int store_phase)
{
	struct dht_pending *p = free_slot(d);
	int rc;

	if (!p)
		return -EBUSY;
	memset(p, 0, offsetof(struct dht_pending, query));
	/* Random, so that someone off the path cannot forge an answer (its
	 * nodes would steer our lookups) without guessing 32 bits. */
	mfs_random(p->tid, DHT_TID_BYTES);
	q->kind = 'q';
	q->tid = p->tid;
	q->tid_len = DHT_TID_BYTES;
	q->id = d->id;
	rc = mfs_krpc_encode(p->query, sizeof p->query, &p->query_len, q);
	if (rc != 0)
		return rc;
	rc = mfs_dht__send(d, p->query, p->query_len, to);
	if (rc != 0)
		return rc;
	copy_addr(&p->to, to);
	if (id) {
		memcpy(p->id, id, MFS_KRPC_ID_BYTES);
		p->has_id = 1;
	}
	p->lookup = lookup;
	p->store_phase = store_phase;
	p->sends = 1;
	p->deadline_ms = uv_now(d->loop) + d->cfg.timeout_ms;
	p->used = 1;
	return 0;
}

/* A node we heard from goes into the table; when its bucket is full, the
 * stalest node there is pinged, so that one that went away makes room. */
static void heard(struct mfs_dht *d, const uint8_t *id, const struct sockaddr *from)
{
	struct mfs_krpc_msg ping = {.method = MFS_KRPC_PING};
	struct mfs_krpc_node n, stale;
	struct sockaddr_storage to;

	if (mfs_dht__contact(&n, id, from) != 0 || n.port == 0)
		return;
	if (mfs_dht_table_heard(d->table, &n, mfs_dht__now(d)) != MFS_E_FULL)
		return;
	if (mfs_dht_table_stalest(d->table, id, mfs_dht__now(d), &stale) != 0)
		return;
	/* One ping at a time: a flood of new ids must not become a flood of
	 * pings to the node we already know. */
	for (size_t i = 0; i < DHT_PENDING_MAX; i++)
		if (d->pending[i].used && !d->pending[i].lookup && d->pending[i].has_id &&
		    memcmp(d->pending[i].id, stale.id, MFS_KRPC_ID_BYTES) == 0)
			return;
	mfs_dht__sockaddr(&to, &stale);
	(void)mfs_dht__query(d, &ping, (const struct sockaddr *)&to, stale.id, NULL, 0);
}

/* An answer or a timeout (m NULL) of p: its slot is freed first (the
 * lookup may send again at once). */
static void settle(struct mfs_dht *d, struct dht_pending *p, const struct mfs_krpc_msg *m)
{
	struct mfs_dht_lookup *lookup = p->lookup;
	struct sockaddr_storage to = p->to;
	int store_phase = p->store_phase;

	p->used = 0;
	if (!m && p->has_id)
		mfs_dht_table_failed(d->table, p->id);
	if (lookup)
		mfs_dht__lookup_reply(d, lookup, (const struct sockaddr *)&to, store_phase, m);
}

static void on_answer(struct mfs_dht *d, const struct mfs_krpc_msg *m, const struct sockaddr *from)
{
	struct dht_pending *p = NULL;

	if (m->tid_len != DHT_TID_BYTES)
		return;
	for (size_t i = 0; i < DHT_PENDING_MAX && !p; i++)
		if (d->pending[i].used && memcmp(d->pending[i].tid, m->tid, DHT_TID_BYTES) == 0 &&
		    same_addr(from, &d->pending[i].to))
			p = &d->pending[i];
	if (!p)
		return; /* not ours, late, or from another address: ignored */
	if (m->kind == 'r') {
		if (memcmp(m->id, d->id, MFS_KRPC_ID_BYTES) == 0)
			return; /* our own id: a reflection, not an answer */
		if (p->has_id && memcmp(p->id, m->id, MFS_KRPC_ID_BYTES) != 0)
			mfs_dht_table_failed(d->table, p->id);
		heard(d, m->id, from);
	}
	settle(d, p, m);
}

/* Rotates the token secrets and drops what expired, when due: from the
 * timer, and before each datagram (so a test's clock takes effect at once). */
static void maintain(struct mfs_dht *d, uint64_t now)
{
	mfs_dht_tokens_tick(d->tokens, now);
	if (now < d->last_expire || now - d->last_expire >= EXPIRE_EVERY) {
		mfs_dht_store_expire(d->store, now);
		d->last_expire = now;
	}
}

void mfs_dht_receive(struct mfs_dht *d, const uint8_t *buf, size_t len,
		     const struct sockaddr *from)
{
	struct mfs_krpc_msg m;

	if (d->closing)
		return;
	maintain(d, mfs_dht__now(d));
	d->stats.received++;
	if (mfs_krpc_parse(&m, d->arena, MFS_KRPC_ARENA, buf, len, NULL, 0) != 0) {
		d->stats.dropped++;
		return;
	}
	if (m.kind == 'q') {
		if (memcmp(m.id, d->id, MFS_KRPC_ID_BYTES) == 0)
			return;
		mfs_dht__answer(d, &m, len, from);
		/* BEP 43: a read-only node (a client behind a NAT, a
		 * short-lived one) answers no queries; in the table, and in
		 * the nodes we hand out, it would only make lookups wait for
		 * its timeouts. */
		if (!m.read_only)
			heard(d, m.id, from);
	} else {
		on_answer(d, &m, from);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mfs_dht *d = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)d->rx, sizeof d->rx);
}

static void on_read(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags)
{
	struct mfs_dht *d = udp->data;

	if (nread <= 0 || !from)
		return;
	if (flags & UV_UDP_PARTIAL) { /* larger than any DHT message */
		d->stats.received++;
		d->stats.dropped++;
		return;
	}
	mfs_dht_receive(d, (const uint8_t *)buf->base, (size_t)nread, from);
}

static void on_tick(uv_timer_t *t)
{
	struct mfs_dht *d = t->data;
	uint64_t now_ms = uv_now(d->loop), now = mfs_dht__now(d);


	for (size_t i = 0; i < DHT_PENDING_MAX && !d->closing; i++) {
		struct dht_pending *p = &d->pending[i];

		if (!p->used || p->deadline_ms > now_ms)
			continue;
		if (p->sends <= MFS_DHT_RETRIES) {
			p->sends++;
			p->deadline_ms = now_ms + d->cfg.timeout_ms;
			(void)mfs_dht__send(d, p->query, p->query_len, (const struct sockaddr *)&p->to);
			if (p->lookup)
				mfs_dht__lookup_resent(p->lookup);
			continue;
		}
		settle(d, p, NULL);
	}
	maintain(d, now);
}

static int bind_udp(struct mfs_dht *d, uv_udp_t *udp, int *has, const struct sockaddr *addr)
{
	int rc = uv_udp_init(d->loop, udp);

	if (rc < 0)
		return rc;
	udp->data = d;
	*has = 1;
	d->open_handles++;
	rc = uv_udp_bind(udp, addr, addr->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_udp_recv_start(udp, on_alloc, on_read);
	return rc;
}

static void on_closed(uv_handle_t *h)
{
	struct mfs_dht *d = h->data;

	if (--d->open_handles > 0)
		return;
	mfs_dht_table_free(d->table);
	mfs_dht_tokens_free(d->tokens);
	mfs_dht_store_free(d->store);
	free(d->pending);
	free(d);
}

void mfs_dht_close(struct mfs_dht *d)
{
	if (!d || d->closing)
		return;
	mfs_dht__lookup_cancel_all(d);
	d->closing = 1;
	if (d->has4)
		uv_close((uv_handle_t *)&d->udp4, on_closed);
	if (d->has6)
		uv_close((uv_handle_t *)&d->udp6, on_closed);
	uv_close((uv_handle_t *)&d->tick, on_closed);
}

/* The parts that are not handles: table (new or loaded), tokens, store. */
static int make_state(struct mfs_dht *d, const struct mfs_dht_config *cfg)
{
	uint64_t now = mfs_dht__now(d);
	int rc;

	if (cfg->table) {
		/* The saved port is the caller's to bind (cfg->bind4, bind6). */
		rc = mfs_dht_table_load(&d->table, NULL, cfg->table, cfg->table_len, now, NULL, 0);
		if (rc != 0)
			return rc;
		memcpy(d->id, mfs_dht_table_id(d->table), MFS_KRPC_ID_BYTES);
	} else {
		if (cfg->id)
			memcpy(d->id, cfg->id, MFS_KRPC_ID_BYTES);
		else
			mfs_random(d->id, MFS_KRPC_ID_BYTES);
		rc = mfs_dht_table_new(&d->table, d->id);
		if (rc != 0)
			return rc;
	}
	rc = mfs_dht_tokens_new(&d->tokens, now);
	if (rc == 0)
		rc = mfs_dht_store_new(&d->store, &cfg->limits);
	if (rc == 0) {
		d->pending = calloc(DHT_PENDING_MAX, sizeof *d->pending);
		if (!d->pending)
			rc = -ENOMEM;
	}
	d->last_expire = now;
	return rc;
}

int mfs_dht_new(struct mfs_dht **out, uv_loop_t *loop, const struct mfs_dht_config *cfg)
{
	struct mfs_dht *d = calloc(1, sizeof *d);
	int rc;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->cfg = *cfg;
	d->cfg.table = NULL; /* borrowed for this call only */
	if (!d->cfg.timeout_ms)
		d->cfg.timeout_ms = MFS_DHT_TIMEOUT_MS;
	rc = make_state(d, cfg);
	if (rc == 0)
		rc = uv_timer_init(loop, &d->tick);
	if (rc != 0) {
		d->open_handles = 1; /* on_closed's count, with no handle to close */
		d->tick.data = d;
		on_closed((uv_handle_t *)&d->tick);
		return rc;
	}
	d->tick.data = d;
	d->open_handles = 1;
	uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
	if (cfg->bind4)
		rc = bind_udp(d, &d->udp4, &d->has4, cfg->bind4);
	if (rc == 0 && cfg->bind6)
		rc = bind_udp(d, &d->udp6, &d->has6, cfg->bind6);
	if (rc != 0) {
		mfs_dht_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

uint16_t mfs_dht_port(const struct mfs_dht *d, int family)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	const uv_udp_t *udp = family == 4 ? (d->has4 ? &d->udp4 : NULL)
					  : family == 6 && d->has6 ? &d->udp6 : NULL;

	if (!udp || uv_udp_getsockname(udp, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return family == 4 ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
			   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

const uint8_t *mfs_dht_id(const struct mfs_dht *d)
{
	return d->id;
}

int mfs_dht_save_table(const struct mfs_dht *d, uint8_t *out, size_t cap, size_t *len)
{
	uint16_t port = mfs_dht_port(d, 4);

	return mfs_dht_table_save(d->table, port ? port : mfs_dht_port(d, 6), out, cap, len);
}

void mfs_dht_stats(const struct mfs_dht *d, struct mfs_dht_stats *out)
{
	*out = d->stats;
	out->nodes = mfs_dht_table_count(d->table);
	mfs_dht_store_counts(d->store, &out->items, &out->peers, NULL);
}
