/* pt: what a pluggable transport writes on its stdout (net/pt's line
 * parser), and a bridge's address as a person or a remembered peer gives
 * it. Input: one byte choosing which (bit 0), then the bytes. A line taken
 * must hold only what the spec allows: a name of [A-Za-z0-9_], a port for
 * a method, arguments fit for a SOCKS5 username (no ',' '\' or more than
 * 255 bytes), printable messages; a bridge's arguments the same, its
 * address part shorter than the buffer. */
#include <stdlib.h>
#include <string.h>

#include "net/pt.h"
#include "tests/fuzz/fuzz.h"

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int username_safe(const char *s)
{
	return strlen(s) <= MFS_PT_ARGS_MAX && !strpbrk(s, ",\\ ") && printable(s);
}

static void line(const uint8_t *data, size_t size)
{
	struct mfs_pt_line l;

	if (mfs_pt_line_parse(&l, data, size) != 0)
		return;
	if (!printable(l.message) || !username_safe(l.args) || strspn(l.name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(l.name))
		abort();
	if ((l.kind == MFS_PT_CMETHOD || l.kind == MFS_PT_SMETHOD) && (!l.port || !l.name[0]))
		abort();
}

static void bridge(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), addr[64], args[MFS_PT_ARGS_MAX + 1];

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mfs_pt_peer_split(addr, sizeof addr, args, text) == 0 &&
	    (strlen(addr) >= sizeof addr || strchr(addr, ';') || !username_safe(args) ||
	     (args[0] && !strchr(args, '='))))
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		bridge(data + 1, size - 1);
	else
		line(data + 1, size - 1);
	return 0;
}
