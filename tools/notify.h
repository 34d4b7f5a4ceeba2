/* notify: tells a service manager how a long-running command is doing,
 * through systemd's notification protocol (sd_notify(3)): one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket $NOTIFY_SOCKET names (a path,
 * or an abstract name after '@'). Written here rather than linked from
 * libsystemd: the protocol is a single sendmsg, and megafs then runs the
 * same with or without systemd.
 *
 * Threads: any; no state is kept. */
#ifndef MFS_NOTIFY_H
#define MFS_NOTIFY_H

/* Sends state (e.g. "READY=1", "STOPPING=1") when $NOTIFY_SOCKET is set.
 * 0 when sent or when no manager listens (unset); -EINVAL for a
 * $NOTIFY_SOCKET that is not an absolute path or '@' name, or too long;
 * else the send's -errno. Callers may ignore it: a service runs the same
 * whether or not its manager heard. */
int mfs_notify(const char *state);

#endif
