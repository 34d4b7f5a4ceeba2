#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/tcpopt.h"

#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44 /* linux/tcp.h since 6.15; Debian 12's headers predate it */
#endif

int mfs_tcp_bound_backoff(uv_tcp_t *t)
{
	uv_os_fd_t fd;
	int rto = MFS_TCP_RTO_MAX_MS;
	unsigned user = MFS_TCP_USER_TIMEOUT_MS;
	int err = uv_fileno((uv_handle_t *)t, &fd);

	if (err)
		return err;
	/* Without the bound, a user timeout would only cut short the long
	 * waits the backoff makes: leave the socket as TCP has it. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_RTO_MAX_MS, &rto, sizeof rto) != 0)
		return errno == EINVAL || errno == ENOPROTOOPT ? -ENOPROTOOPT : -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof user) != 0)
		return -errno;
	return 0;
}

int mfs_tcp_limit_unsent(uv_tcp_t *t)
{
	uv_os_fd_t fd;
	int unsent = MFS_TCP_UNSENT_MAX;
	int err = uv_fileno((uv_handle_t *)t, &fd);

	if (err)
		return err;
	return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent, sizeof unsent) ? -errno : 0;
}

/* The kernel's struct tcp_info goes on past glibc's (linux/tcp.h has it,
 * but clashes with <netinet/tcp.h>, which uv.h includes); its fields only
 * ever grow at the end (tcpi_bytes_acked since Linux 4.1). */
struct tcp_info_acked {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate;
	uint64_t bytes_acked;
};
_Static_assert(offsetof(struct tcp_info_acked, bytes_acked) == 120,
	       "tcpi_bytes_acked is at offset 120 of the kernel's struct tcp_info");

int mfs_tcp_acked(uv_tcp_t *t, uint64_t *acked, uint32_t *unacked)
{
	struct tcp_info_acked info;
	socklen_t len = sizeof info;
	uv_os_fd_t fd;
	int err = uv_fileno((uv_handle_t *)t, &fd);

	if (err)
		return err;
	memset(&info, 0, sizeof info);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return -errno;
	/* An older kernel fills less: without the counter there is no telling. */
	if (len < offsetof(struct tcp_info_acked, bytes_acked) + sizeof info.bytes_acked)
		return -ENOPROTOOPT;
	*acked = info.bytes_acked;
	*unacked = info.base.tcpi_unacked;
	return 0;
}
