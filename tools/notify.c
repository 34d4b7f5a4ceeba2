#include "tools/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mfs_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t name_len;
	socklen_t sa_len;
	ssize_t sent;
	int fd, rc = 0;

	if (!name || !*name)
		return 0;
	name_len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || name_len >= sizeof sa.sun_path)
		return -EINVAL;
	memcpy(sa.sun_path, name, name_len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* Linux's abstract namespace */
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
	if (sent < 0)
		rc = -errno;
	close(fd);
	return rc;
}
