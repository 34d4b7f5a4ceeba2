/* logline: one formatted line handed to a log callback. The network's
 * modules report through a callback their owner gives (a mount's log, a
 * command's stderr), never to stderr themselves; a line is cut at 511
 * bytes. No state; any thread the callback allows. */
#ifndef MFS_LOGLINE_H
#define MFS_LOGLINE_H

/* Formats fmt into a line and calls log(ctx, line); nothing when log is
 * NULL. */
void mfs_logline(void (*log)(void *ctx, const char *line), void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
