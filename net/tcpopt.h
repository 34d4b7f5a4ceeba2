/* tcpopt: how every peer-wire TCP socket of this process behaves on a bad
 * link, and how much it holds unsent. Owns nothing; each call is on one
 * socket, on the loop thread.
 *
 * A lost retransmission doubles TCP's retransmission timeout, up to two
 * minutes by default: at 40 % loss a working connection sat silent for
 * tens of seconds (measured on a veth pair: a 4 MiB send took 1.3 s for its
 * first MiB and 121 to 195 s in all). Linux 6.15 lets a socket bound that
 * backoff (TCP_RTO_MAX_MS); the timeout still follows the measured round
 * trip below the bound (a path slower than the bound sends some segments
 * twice). On a kernel without it the call changes nothing (-ENOPROTOOPT):
 * the link then backs off as TCP does.
 *
 * TCP's own give-up is of no use at heavy loss: it counts from the first
 * retransmission still outstanding, and at 40 % loss some retransmission
 * always is, so it struck connections that were delivering (15 tries of
 * one segment: some 15 s with the bound; TCP_USER_TIMEOUT 60 s: the first
 * minute of a transfer, measured). It is pushed out to
 * MFS_TCP_USER_TIMEOUT_MS, a last resort; the owner of a socket tells a
 * dead peer by what TCP_INFO says was acknowledged (mfs_tcp_acked): net/
 * node closes a connection whose sent bytes got no acknowledgement for a
 * minute. */
#ifndef MFS_TCPOPT_H
#define MFS_TCPOPT_H

#include <uv.h>

/* A lost segment is sent again at least this often. */
#define MFS_TCP_RTO_MAX_MS 1000
/* The kernel's last resort: a retransmission outstanding this long. */
#define MFS_TCP_USER_TIMEOUT_MS (30u * 60u * 1000u)

/* Bytes a socket holds that TCP has not sent yet, at most: the rest waits
 * in the peer's own queue, where an answer not yet written can still be
 * taken back (a CANCEL: net/serve.c serves answers in turns as the queue
 * drains). Beyond a link's bandwidth-delay product this only adds delay
 * in front of whatever is written next. */
#define MFS_TCP_UNSENT_MAX (32u << 10)

/* Sets both on t (a listener's accepted sockets inherit them). 0,
 * -ENOPROTOOPT when this kernel cannot bound the backoff, or -errno
 * (-EBADF before t has a socket). */
int mfs_tcp_bound_backoff(uv_tcp_t *t);
/* What TCP says of t's bytes sent: *acked, the bytes acknowledged so far
 * (it grows while the peer acknowledges anything new), and *unacked, the
 * segments sent and not yet acknowledged. 0 or -errno. */
int mfs_tcp_acked(uv_tcp_t *t, uint64_t *acked, uint32_t *unacked);
/* Sets TCP_NOTSENT_LOWAT to MFS_TCP_UNSENT_MAX on t. 0 or -errno. */
int mfs_tcp_limit_unsent(uv_tcp_t *t);

#endif
