/* magnet: standard magnet links (BEP 9) as manifest items: the strict check
 * a link must pass before megafs publishes one (a .magnet file written into
 * an owned mount, `megafs channel add`), and the name any link shows as in
 * a mount (NAME.magnet). Pure: no I/O, no allocation, any thread.
 *
 * A link megafs publishes is at most MFS_MAGNET_MAX bytes of printable
 * ASCII, "magnet:?" then key=value parameters joined by '&' (no fragment,
 * no empty parameter, %XX escapes only, none decoding to a control byte);
 * at least one xt naming a BitTorrent info hash (urn:btih: 40 hex digits or
 * 32 base32 ones, urn:btmh:1220 and 64 hex digits); dn at most once, its
 * decoded value UTF-8 of 1 to MFS_MAGNET_NAME_MAX bytes, not "." or "..";
 * xl, if given, a decimal number. megafs(7), MAGNET LINKS, is the spec.
 * Links received in others' manifests are only checked by fs/channel
 * (a string that starts with "magnet:?"): mfs_magnet_name shows any. */
#ifndef MFS_MAGNET_H
#define MFS_MAGNET_H

#include <stddef.h>

#define MFS_MAGNET_MAX 8192
#define MFS_MAGNET_NAME_MAX 200 /* the name's part before ".magnet" */
#define MFS_MAGNET_SUFFIX ".magnet"
/* A shown name and its NUL: "<at most 200 bytes>.magnet". */
#define MFS_MAGNET_NAME_BYTES (MFS_MAGNET_NAME_MAX + sizeof MFS_MAGNET_SUFFIX)

struct mfs_magnet {
	size_t len;                        /* the link's bytes, without the newline */
	char name[MFS_MAGNET_NAME_BYTES];  /* what mfs_magnet_name shows it as */
};

/* Checks text[len] (not NUL-terminated; one trailing "\n" or "\r\n", as a
 * file holds a line, is allowed and not part of the link). 0 and *out, or
 * MFS_E_FORMAT with a one-line reason in why (may be NULL): where and what
 * rule, never the link's bytes, so that a mount may log it. */
int mfs_magnet_parse(struct mfs_magnet *out, const char *text, size_t len, char *why,
		     size_t why_len);

/* The name link (NUL-terminated, checked or not) shows as: its dn
 * URL-decoded ('+' a space, '/' and control bytes made '_', cut at
 * MFS_MAGNET_NAME_MAX bytes), else the part of its xt after the last ':',
 * else "link"; then ".magnet". */
void mfs_magnet_name(char out[static MFS_MAGNET_NAME_BYTES], const char *link);

/* 1 when a file name ends in ".magnet" (its content is then a link). */
int mfs_magnet_is_name(const char *name);

#endif
