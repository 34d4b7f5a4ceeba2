/* hostport: the one reading of "HOST:PORT", the way megafs names an
 * endpoint everywhere a person or a peer writes one: --listen, --peer,
 * the tracker's --listen, a remembered peer, and a tracker URL's authority.
 *
 *   HOST:PORT      HOST a name or an IPv4 address: letters, digits, '.',
 *                  '-' and '_' (no ':')
 *   [IPV6]:PORT    an IPv6 address in brackets, a zone kept ([fe80::1%eth0])
 *
 * PORT is 1 to 5 decimal digits (no sign, no spaces), 0 to 65535; whether 0
 * means anything is the caller's to say. An IPv6 address without brackets
 * is refused: "2001:db8::1:7000" reads two ways.
 *
 * It also turns a numeric HOST (or "localhost", as 127.0.0.1) and a port
 * into a socket address, and writes HOST:PORT back, brackets and all.
 * Pure functions; any thread. */
#ifndef MFS_HOSTPORT_H
#define MFS_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MFS_HOSTPORT_HOST_MAX 253  /* the longest DNS name, as text */
/* The longest text mfs_hostport_format writes, with its '\0'. */
#define MFS_HOSTPORT_TEXT_MAX (MFS_HOSTPORT_HOST_MAX + sizeof "[]:65535")

/* flags of mfs_hostport_parse */
#define MFS_HOSTPORT_PORT_OPTIONAL 1u  /* HOST alone is fine: *port is left as it was */

/* Reads text[0..len) (no '\0' needed) as HOST:PORT into host (without
 * brackets, '\0'-terminated) and *port. 0, or -EINVAL for anything else:
 * an empty or over-long host, a character a host cannot hold, a missing
 * (unless flags say optional), empty or too large port, or bytes after it.
 * Outputs are unspecified after an error. */
int mfs_hostport_parse(char host[static MFS_HOSTPORT_HOST_MAX + 1], uint16_t *port,
		       const char *text, size_t len, unsigned flags);

/* The socket address of a numeric host (IPv4, IPv6 with an optional zone,
 * or "localhost": 127.0.0.1) and port; *out_len (may be NULL) receives its
 * length. 0, or -EINVAL when host is no such address (a name: resolve it
 * elsewhere). */
int mfs_hostport_sockaddr(struct sockaddr_storage *out, socklen_t *out_len, const char *host,
			  uint16_t port);

/* mfs_hostport_parse of the '\0'-terminated text, then mfs_hostport_sockaddr:
 * "HOST:PORT" with a numeric HOST as a socket address. 0 or -EINVAL. */
int mfs_hostport_resolve_numeric(struct sockaddr_storage *out, const char *text);

/* Writes "HOST:PORT" ("[HOST]:PORT" when host holds a ':') into out[cap],
 * as snprintf: the length it needed, which is >= cap when it was cut. */
int mfs_hostport_format(char *out, size_t cap, const char *host, uint16_t port);

#endif
