/* socks5: the client side of a SOCKS5 proxy's CONNECT, as bytes: RFC 1928
 * with the "no authentication" method or RFC 1929's username and password
 * (how Tor's pluggable transports take their bridge arguments), and the
 * proxy as the user names it, socks5://[USER:PASS@]HOST:PORT.
 *
 * The target travels as the proxy should see it: an IPv4 or IPv6 literal
 * as ATYP 1 or 4, anything else as a domain name (ATYP 3) that the proxy
 * resolves; nothing here resolves a name. The proxy itself must be named by
 * an IP address (or "localhost"), so that reaching it needs no DNS either.
 *
 * mfs_socks5_client is a state machine with no I/O: it says what to send,
 * takes what the proxy answered (untrusted: every field is checked, and it
 * never takes a byte past the reply, which belongs to the tunnel), and says
 * when the tunnel is open or why it is not. net/dial moves its bytes.
 *
 * Pure functions; any thread; a client belongs to one caller at a time.
 * The proxy's credentials are the caller's: keep them in guarded memory
 * (mfs_secure_alloc) and wipe them; a client copies them into its output
 * only, which the caller wipes after sending (mfs_socks5_client_free wipes
 * the client). */
#ifndef MFS_SOCKS5_H
#define MFS_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "net/hostport.h"

#define MFS_SOCKS5_FIELD_MAX 255 /* a user name, password or domain name */
/* The most a client ever asks to send at once (the username/password
 * request), and the longest reply it reads (a CONNECT reply naming a
 * domain). */
#define MFS_SOCKS5_OUT_MAX (3 + 2 * MFS_SOCKS5_FIELD_MAX)
#define MFS_SOCKS5_REPLY_MAX (4 + 1 + MFS_SOCKS5_FIELD_MAX + 2)

/* A proxy: where it listens and, if has_auth, the RFC 1929 credentials
 * (1 to 255 bytes each, any bytes, NUL too: obfs4 wants a one-NUL password). */
struct mfs_socks5_proxy {
	char host[MFS_HOSTPORT_HOST_MAX + 1]; /* an IP address or "localhost" */
	uint16_t port;
	int has_auth;
	uint8_t user[MFS_SOCKS5_FIELD_MAX];
	size_t user_len;
	uint8_t pass[MFS_SOCKS5_FIELD_MAX];
	size_t pass_len;
};

/* Reads "socks5://[USER:PASS@]HOST:PORT" (the scheme in any case; USER and
 * PASS percent-decoded, %XX; HOST:PORT as net/hostport, HOST an IP address
 * or localhost, PORT not 0; nothing after). 0, or -EINVAL with the reason
 * in why (may be NULL). out is unspecified after an error. */
int mfs_socks5_url_parse(struct mfs_socks5_proxy *out, const char *url, char *why,
			 size_t why_len);

enum mfs_socks5_state {
	MFS_SOCKS5_METHOD = 1, /* the greeting sent, the method chosen awaited */
	MFS_SOCKS5_AUTH,       /* the credentials sent, their verdict awaited */
	MFS_SOCKS5_REPLY,      /* CONNECT sent, its reply awaited */
	MFS_SOCKS5_OPEN,       /* the tunnel is open */
	MFS_SOCKS5_FAILED,
};

struct mfs_socks5_client {
	enum mfs_socks5_state state;
	int with_auth;
	const struct mfs_socks5_proxy *proxy; /* borrowed until OPEN or FAILED */
	uint8_t connect[4 + 1 + MFS_SOCKS5_FIELD_MAX + 2]; /* the CONNECT request */
	size_t connect_len;
	uint8_t in[MFS_SOCKS5_REPLY_MAX]; /* the answer being read */
	size_t in_len;
	uint8_t reply_code;               /* the CONNECT reply's REP, once read */
};

/* Starts a CONNECT to host:port through proxy (borrowed until the client
 * is OPEN or FAILED): out[*out_len] is the greeting to send (only the
 * method the proxy has: username/password when it has credentials, else no
 * authentication; a proxy cannot choose the other). host is an IPv4 or
 * IPv6 literal (no brackets) or a name of 1 to 255 bytes. 0, or -EINVAL
 * (host empty, too long, or holding a byte a name cannot). */
int mfs_socks5_client_start(struct mfs_socks5_client *c, uint8_t out[static MFS_SOCKS5_OUT_MAX],
			    size_t *out_len, const struct mfs_socks5_proxy *proxy,
			    const char *host, uint16_t port);

/* Takes bytes the proxy sent: *used of in[len] are taken (never a byte
 * after the reply that opens the tunnel: those are the target's), and
 * out[*out_len] is what to send next (*out_len 0: nothing). Returns 0
 * (send out, read more), 1 (the tunnel is open: what follows is the
 * target's), or an error, after which the client is FAILED:
 *   MFS_E_FORMAT   not SOCKS5, or a field out of the RFC (version, reserved
 *                  byte, a method not offered, an address type, a length)
 *   -EACCES        no method acceptable, the credentials refused, or the
 *                  proxy's rules forbid the connection (REP 2)
 *   -ENETUNREACH, -EHOSTUNREACH, -ECONNREFUSED, -ETIMEDOUT (TTL expired),
 *   -EOPNOTSUPP, -EAFNOSUPPORT, -EPROTO (REP 1 or 9..255): the proxy's
 *                  REP 1..8 and beyond
 * why (may be NULL) says which, naming the RFC's words for a REP. */
int mfs_socks5_client_input(struct mfs_socks5_client *c, const uint8_t *in, size_t len,
			    size_t *used, uint8_t out[static MFS_SOCKS5_OUT_MAX], size_t *out_len,
			    char *why, size_t why_len);

/* Bytes of the proxy's current answer still awaited (0 once OPEN or
 * FAILED): reading no more than this never takes a byte of the tunnel. */
size_t mfs_socks5_client_wanted(const struct mfs_socks5_client *c);

/* Wipes the client (its output held the credentials). NULL-safe. */
void mfs_socks5_client_free(struct mfs_socks5_client *c);

/* RFC 1928's words for a REP code ("connection refused"...). */
const char *mfs_socks5_reply_text(uint8_t rep);

#endif
