#include "net/logline.h"

#include <stdarg.h>
#include <stdio.h>

void mfs_logline(void (*log)(void *ctx, const char *line), void *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log(ctx, line);
}
