/* loop: the process's network thread.
 *
 * One libuv loop runs on its own thread and owns every socket and timer of
 * the process's network; code running on it (callbacks, posted functions)
 * never blocks. Other threads hand it work with mfs_loop_post (returns at
 * once) or mfs_loop_call (waits for the function's result); both wake the
 * loop through one uv_async handle, never by polling.
 *
 * Stopping: mfs_loop_stop runs the stop hooks on the loop thread, newest
 * first (a module closes its handles there), then closes every handle still
 * open, runs the loop until nothing is left, joins the thread and frees it.
 * Work posted after the stop began is refused (-ESHUTDOWN), never lost
 * silently: mfs_loop_call returns that error to its waiter.
 *
 * Threads: post, call and add_hook may come from any thread, the loop's own
 * included (a call from the loop thread runs the function at once). */
#ifndef MFS_LOOP_H
#define MFS_LOOP_H

#include <uv.h>

struct mfs_loop;

/* Starts the thread. Returns 0, -ENOMEM or a libuv error as -errno. */
int mfs_loop_start(struct mfs_loop **out);
/* Stops and frees as described above. NULL-safe; never from the loop thread. */
void mfs_loop_stop(struct mfs_loop *l);

/* The uv loop, for modules that run on it (use it only on the loop thread). */
uv_loop_t *mfs_loop_uv(struct mfs_loop *l);
/* 1 when the caller is the loop thread. */
int mfs_loop_on_thread(const struct mfs_loop *l);

/* Runs fn(arg) on the loop thread soon. 0 or -ESHUTDOWN (fn not run). */
int mfs_loop_post(struct mfs_loop *l, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the loop thread and returns its result once it ran;
 * -ESHUTDOWN when the loop stops first. fn must not block. */
int mfs_loop_call(struct mfs_loop *l, int (*fn)(void *arg), void *arg);
/* Registers fn(arg), run on the loop thread when the loop stops. */
int mfs_loop_add_hook(struct mfs_loop *l, void (*fn)(void *arg), void *arg);

#endif
