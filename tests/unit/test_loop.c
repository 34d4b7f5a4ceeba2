/* net/loop: work handed over from other threads runs on the loop thread,
 * in order, answers come back, and stopping runs the hooks and refuses
 * what comes later. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "net/loop.h"

struct counter {
	struct mfs_loop *loop;
	atomic_int on_thread;   /* runs that found themselves on the loop thread */
	int order[1000];
	int n;                  /* touched by the loop thread only */
};

struct step {
	struct counter *c;
	int value;
};

static void record(void *arg)
{
	struct step *s = arg;
	s->c->on_thread += mfs_loop_on_thread(s->c->loop);
	s->c->order[s->c->n++] = s->value;
}

static int add_one(void *arg)
{
	struct counter *c = arg;
	c->on_thread += mfs_loop_on_thread(c->loop);
	return ++c->n;
}

Test(loop, posts_run_in_order_on_the_loop_thread)
{
	static struct step steps[1000];
	struct counter c = {0};

	cr_assert_eq(mfs_loop_start(&c.loop), 0);
	cr_assert_eq(mfs_loop_on_thread(c.loop), 0);
	for (int i = 0; i < 1000; i++) {
		steps[i] = (struct step){&c, i};
		cr_assert_eq(mfs_loop_post(c.loop, record, &steps[i]), 0);
	}
	/* A call queued after the posts answers after they all ran. */
	cr_assert_eq(mfs_loop_call(c.loop, add_one, &c), 1001);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(c.order[i], i);
	cr_assert_eq(c.on_thread, 1001);
	mfs_loop_stop(c.loop);
}

struct hammer {
	struct mfs_loop *loop;
	int total;              /* loop thread only */
};

static int add_to_total(void *arg)
{
	struct hammer *h = arg;
	return ++h->total;
}

static void *hammer_main(void *arg)
{
	for (int i = 0; i < 2000; i++)
		if (mfs_loop_call(((struct hammer *)arg)->loop, add_to_total, arg) <= 0)
			return (void *)1;
	return NULL;
}

Test(loop, calls_from_many_threads_all_answered)
{
	struct hammer h = {0};
	pthread_t t[4];
	void *bad;

	cr_assert_eq(mfs_loop_start(&h.loop), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer_main, &h), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &bad);
		cr_assert_null(bad);
	}
	cr_assert_eq(h.total, 8000);
	mfs_loop_stop(h.loop);
}

struct stopper {
	struct mfs_loop *loop;
	uv_timer_t timer;
	int hooks_run;
	int timer_closed;
	int order[2];
};

static void on_timer_closed(uv_handle_t *h)
{
	((struct stopper *)h->data)->timer_closed = 1;
}

static void hook_a(void *arg)
{
	struct stopper *s = arg;
	s->order[s->hooks_run++] = 'a';
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static void hook_b(void *arg)
{
	struct stopper *s = arg;
	s->order[s->hooks_run++] = 'b';
}

static void never(uv_timer_t *t)
{
	(void)t;
}

static int start_timer(void *arg)
{
	struct stopper *s = arg;
	uv_timer_init(mfs_loop_uv(s->loop), &s->timer);
	s->timer.data = s;
	return uv_timer_start(&s->timer, never, 3600 * 1000, 0);
}

Test(loop, stop_runs_hooks_newest_first_and_ends_with_handles_closed)
{
	struct stopper s = {0};

	cr_assert_eq(mfs_loop_start(&s.loop), 0);
	cr_assert_eq(mfs_loop_call(s.loop, start_timer, &s), 0);
	cr_assert_eq(mfs_loop_add_hook(s.loop, hook_a, &s), 0);
	cr_assert_eq(mfs_loop_add_hook(s.loop, hook_b, &s), 0);
	mfs_loop_stop(s.loop); /* returns only once the hour-long timer is closed */
	cr_assert_eq(s.hooks_run, 2);
	cr_assert_eq(s.order[0], 'b');
	cr_assert_eq(s.order[1], 'a');
	cr_assert_eq(s.timer_closed, 1);
}

static uv_timer_t forgotten;

static int start_forgotten(void *arg)
{
	uv_timer_init(mfs_loop_uv(arg), &forgotten);
	return uv_timer_start(&forgotten, never, 3600 * 1000, 0);
}

Test(loop, a_forgotten_handle_does_not_hang_the_stop, .timeout = 20)
{
	struct mfs_loop *l;

	cr_assert_eq(mfs_loop_start(&l), 0);
	cr_assert_eq(mfs_loop_call(l, start_forgotten, l), 0);
	mfs_loop_stop(l); /* the straggler timer closes it after ~2 s */
	cr_assert(uv_is_closing((uv_handle_t *)&forgotten));
}

struct late {
	struct mfs_loop *loop;
	int result;
};

static void post_from_hook(void *arg)
{
	struct late *l = arg;
	l->result = mfs_loop_post(l->loop, hook_b, NULL);
}

Test(loop, work_after_the_stop_is_refused)
{
	struct late l = {0};

	cr_assert_eq(mfs_loop_start(&l.loop), 0);
	cr_assert_eq(mfs_loop_add_hook(l.loop, post_from_hook, &l), 0);
	mfs_loop_stop(l.loop);
	cr_assert_eq(l.result, -ESHUTDOWN);
}
