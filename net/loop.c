#include "net/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct work {
	struct work *next;
	void (*post_fn)(void *arg);
	int (*call_fn)(void *arg);
	void *arg;
	/* mfs_loop_call: the waiter sleeps on the loop's cond until done. */
	int done;
	int result;
};

struct hook {
	struct hook *next;
	void (*fn)(void *arg);
	void *arg;
};

struct mfs_loop {
	uv_loop_t uv;
	uv_async_t wake;
	uv_timer_t straggler;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct work *head, *tail;   /* under lock */
	struct hook *hooks;         /* under lock; newest first */
	int stopping;               /* under lock: no new work */
};

static void finish(struct mfs_loop *l, struct work *w, int result)
{
	if (w->call_fn) {
		pthread_mutex_lock(&l->lock);
		w->result = result;
		w->done = 1;
		pthread_cond_broadcast(&l->answered);
		pthread_mutex_unlock(&l->lock);
	} else {
		free(w);
	}
}

static void run_one(struct mfs_loop *l, struct work *w)
{
	if (w->call_fn) {
		finish(l, w, w->call_fn(w->arg));
	} else {
		w->post_fn(w->arg);
		finish(l, w, 0);
	}
}

static struct work *take_all(struct mfs_loop *l)
{
	pthread_mutex_lock(&l->lock);
	struct work *w = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->lock);
	return w;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* A module that left a handle open must not keep the process from ending. */
static void on_straggler_timeout(uv_timer_t *t)
{
	uv_walk(t->loop, close_any, NULL);
}

static void run_queue(struct mfs_loop *l)
{
	for (struct work *w = take_all(l), *next; w; w = next) {
		next = w->next;
		run_one(l, w);
	}
}

static void on_wake(uv_async_t *h)
{
	struct mfs_loop *l = h->data;
	struct hook *hooks;
	int stopping;

	run_queue(l);
	pthread_mutex_lock(&l->lock);
	stopping = l->stopping;
	hooks = stopping ? l->hooks : NULL;
	if (stopping)
		l->hooks = NULL;
	pthread_mutex_unlock(&l->lock);
	if (!stopping)
		return;

	/* Work queued before the stop flag was set is still run: its callers
	 * wait for it. Nothing can be queued any more. */
	run_queue(l);
	for (struct hook *k = hooks, *next; k; k = next) {
		next = k->next;
		k->fn(k->arg);
		free(k);
	}
	uv_close((uv_handle_t *)&l->wake, NULL);
	if (uv_timer_init(&l->uv, &l->straggler) == 0) {
		uv_timer_start(&l->straggler, on_straggler_timeout, 2000, 0);
		uv_unref((uv_handle_t *)&l->straggler);
	}
}

static void *loop_main(void *arg)
{
	struct mfs_loop *l = arg;

	uv_run(&l->uv, UV_RUN_DEFAULT);
	/* Only closed or unreferenced handles are left (the straggler timer):
	 * close them so the loop itself can be closed. */
	uv_walk(&l->uv, close_any, NULL);
	uv_run(&l->uv, UV_RUN_DEFAULT);
	return NULL;
}

int mfs_loop_start(struct mfs_loop **out)
{
	struct mfs_loop *l = calloc(1, sizeof *l);
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	rc = uv_loop_init(&l->uv);
	if (rc < 0)
		goto fail_free;
	rc = uv_async_init(&l->uv, &l->wake, on_wake);
	if (rc < 0)
		goto fail_loop;
	l->wake.data = l;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->answered, NULL);
	rc = -pthread_create(&l->thread, NULL, loop_main, l);
	if (rc < 0)
		goto fail_sync;
	*out = l;
	return 0;

fail_sync:
	pthread_cond_destroy(&l->answered);
	pthread_mutex_destroy(&l->lock);
	uv_close((uv_handle_t *)&l->wake, NULL);
	uv_run(&l->uv, UV_RUN_DEFAULT);
fail_loop:
	uv_loop_close(&l->uv);
fail_free:
	free(l);
	return rc;
}

uv_loop_t *mfs_loop_uv(struct mfs_loop *l)
{
	return &l->uv;
}

int mfs_loop_on_thread(const struct mfs_loop *l)
{
	return pthread_equal(pthread_self(), l->thread);
}

static int enqueue(struct mfs_loop *l, struct work *w)
{
	pthread_mutex_lock(&l->lock);
	if (l->stopping) {
		pthread_mutex_unlock(&l->lock);
		return -ESHUTDOWN;
	}
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	pthread_mutex_unlock(&l->lock);
	uv_async_send(&l->wake);
	return 0;
}

int mfs_loop_post(struct mfs_loop *l, void (*fn)(void *arg), void *arg)
{
	struct work *w = calloc(1, sizeof *w);
	int rc;

	if (!w)
		return -ENOMEM;
	w->post_fn = fn;
	w->arg = arg;
	rc = enqueue(l, w);
	if (rc < 0)
		free(w);
	return rc;
}

int mfs_loop_call(struct mfs_loop *l, int (*fn)(void *arg), void *arg)
{
	struct work w = {.call_fn = fn, .arg = arg};
	int rc;

	if (mfs_loop_on_thread(l))
		return fn(arg);
	rc = enqueue(l, &w);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->lock);
	while (!w.done)
		pthread_cond_wait(&l->answered, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return w.result;
}

int mfs_loop_add_hook(struct mfs_loop *l, void (*fn)(void *arg), void *arg)
{
	struct hook *k = calloc(1, sizeof *k);

	if (!k)
		return -ENOMEM;
	k->fn = fn;
	k->arg = arg;
	pthread_mutex_lock(&l->lock);
	k->next = l->hooks;
	l->hooks = k;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void mfs_loop_stop(struct mfs_loop *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = 1;
	pthread_mutex_unlock(&l->lock);
	uv_async_send(&l->wake);
	pthread_join(l->thread, NULL);
	/* Work queued before the stop was run by the last wake; nothing can
	 * be queued after it. */
	uv_loop_close(&l->uv);
	pthread_cond_destroy(&l->answered);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
