#include <errno.h>
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
	int rto = MFS_TCP_RTO_MAX_MS, user = MFS_TCP_USER_TIMEOUT_MS;
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
