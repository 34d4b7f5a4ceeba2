/* bootstrap: the text of a bootstrap file, the ways into channels that one
 * person hands another out of band (a message, a USB stick) for when the
 * trackers they know are blocked: `megafs channel bootstrap LINK` writes
 * one from what a volume remembers, `--bootstrap FILE` reads one.
 *
 * One entry a line, a kind, one space, a value:
 *
 *   # megafs bootstrap          (a '#' line is a comment; blank lines too)
 *   tracker wss://t.example:443/#sha256=<64 hex digits>
 *   peer 198.51.100.7:7000#<64 hex digits: the node's key>
 *
 * Lines end with "\n" or "\r\n"; a value has no space, tab or control
 * byte and is at most MFS_BOOTSTRAP_VALUE_MAX bytes; the file at most
 * MFS_BOOTSTRAP_FILE_MAX bytes and MFS_BOOTSTRAP_ENTRIES_MAX entries. Only
 * the shape is checked here: what a tracker URL or a peer address may be
 * is the caller's (net/tracker_client, net/node), as for --tracker and
 * --peer. A kind this version does not know is an error (the line names
 * it), not skipped: a way in that is silently dropped is worse than none.
 *
 * Pure functions; any thread. The bytes are untrusted (they came from
 * someone else): every length is checked, and a NUL byte is refused. */
#ifndef MFS_BOOTSTRAP_H
#define MFS_BOOTSTRAP_H

#include <stddef.h>

#define MFS_BOOTSTRAP_FILE_MAX (64u * 1024)
#define MFS_BOOTSTRAP_VALUE_MAX 1024u
#define MFS_BOOTSTRAP_ENTRIES_MAX 256u
#define MFS_BOOTSTRAP_WHY_MAX 128u

enum mfs_bootstrap_kind {
	MFS_BOOTSTRAP_TRACKER,
	MFS_BOOTSTRAP_PEER,
};

/* Called for each entry in order: value[0..len) is not '\0'-terminated and
 * lives in the caller's text. A non-zero return stops the parse and is
 * returned (line set). */
typedef int (*mfs_bootstrap_each)(void *ctx, enum mfs_bootstrap_kind kind, const char *value,
				  size_t len, size_t line);

/* Parses text[0..len). 0, or -EINVAL with *line (1-based; 0 when the
 * whole file is at fault) and why (a sentence, '\0'-terminated) saying
 * what is wrong, or each's error. Entries before a bad line were handed
 * to each already: callers that must take all or nothing collect first. */
int mfs_bootstrap_parse(const char *text, size_t len, mfs_bootstrap_each each, void *ctx,
			size_t *line, char why[static MFS_BOOTSTRAP_WHY_MAX]);

/* "tracker" or "peer". */
const char *mfs_bootstrap_kind_name(enum mfs_bootstrap_kind kind);

#endif
