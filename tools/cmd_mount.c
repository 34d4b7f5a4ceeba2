/* megafs mount / umount: a channel as a directory. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "fs/fuse/bdi.h"
#include "fs/fuse/fs.h"
#include "fs/store/keyring.h"
#include "tools/cli.h"
#include "tools/netopts.h"

#ifdef MFS_COVERAGE
void __gcov_dump(void); /* gcc's libgcov (--coverage builds only) */
#endif

/* How long a subscriber's mount whose volume holds no manifest of the
 * channel yet waits for the first one before it returns: with it, the
 * files are there when the mount returns (`megafs mount LINK DIR && cp
 * DIR/f .` works), and a link without a key to a private channel is
 * refused at once rather than showing nothing. */
#define FIRST_MANIFEST_MS 5000u

struct mount_args {
	char store[PATH_MAX];          /* -o store=DIR (fstab) */
	char password_file[PATH_MAX];  /* -o password_file=F */
	char protect_file[PATH_MAX];   /* -o protect_file=F */
	uint8_t pk[MFS_SIGN_PK_BYTES];
	char link[MFS_LINK_BYTES];
	struct mfs_link *full;         /* guarded: the link as given, with its key */
	int keyed;                     /* the link carries a read key or #grant */
	char mountpoint[PATH_MAX];     /* absolute: the daemon leaves the working directory */
	int foreground;
	int read_only;
	char options[4096];            /* -o, passed to FUSE (ro kept too) */
	struct net_opts net;
	int networked;                 /* a network will run (options, or remembered) */
	int record_at_start;           /* full is recorded in the swarm's start transaction */
	int subscribed;                /* ...and that subscribed the volume to it */
};

/* Options mount(8) keeps for itself; they may reach us from /etc/fstab. */
static int mount8_only(const char *o)
{
	static const char *const names[] = {"defaults", "noauto", "auto", "user", "users",
					    "nouser", "owner", "group", "nofail", "_netdev"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(o, names[i]) == 0)
			return 1;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;
}

/* Appends -o values to the FUSE options; notes "ro"; takes megafs's own
 * (store=, password_file=, protect_file=: how /etc/fstab says them). */
static int add_options(struct cli *c, struct mount_args *a, const char *opts)
{
	static const struct {
		const char *prefix;
		size_t offset;
	} own[] = {
		{"store=", offsetof(struct mount_args, store)},
		{"password_file=", offsetof(struct mount_args, password_file)},
		{"protect_file=", offsetof(struct mount_args, protect_file)},
	};
	char copy[4096], *save = NULL;
	size_t used = strlen(a->options);

	if (snprintf(copy, sizeof copy, "%s", opts) >= (int)sizeof copy)
		return cli_usage(c, "-o: options too long");
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		int n, taken = 0;

		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
			size_t plen = strlen(own[i].prefix);

			if (strncmp(o, own[i].prefix, plen) == 0) {
				if (snprintf((char *)a + own[i].offset, PATH_MAX, "%s", o + plen) >= PATH_MAX)
					return cli_usage(c, "-o %s: path too long", own[i].prefix);
				taken = 1;
			}
		}
		if (taken || mount8_only(o))
			continue;

		if (strcmp(o, "ro") == 0)
			a->read_only = 1;
		/* Only the mounting user reaches the mount (FUSE's rule) unless
		 * allow_other: then the kernel checks the modes too. */
		if (strcmp(o, "allow_other") == 0 && strstr(a->options, "default_permissions") == NULL) {
			n = snprintf(a->options + used, sizeof a->options - used, ",default_permissions");
			if (n < 0 || (size_t)n >= sizeof a->options - used)
				return cli_usage(c, "-o: options too long");
			used += (size_t)n;
		}
		if (strcmp(o, "rw") == 0)
			continue;
		n = snprintf(a->options + used, sizeof a->options - used, ",%s", o);
		if (n < 0 || (size_t)n >= sizeof a->options - used)
			return cli_usage(c, "-o: options too long");
		used += (size_t)n;
	}
	return 0;
}

/* Knows the channel (subscribing when the volume does not, keeping the
 * read key or grant the link carries) and says whether the volume owns it.
 * With a network the change waits for the swarm's start transaction (one
 * commit fewer before the first byte: record_at_start, a->full kept). */
static int channel_role(struct cli *c, struct mfs_volume *vol, struct mount_args *a, int *owned)
{
	int subscribed = 0, rc = mfs_channel_needs_recording(vol, a->full, owned);

	if (rc > 0 && a->networked) {
		a->record_at_start = 1;
		return 0;
	}
	if (rc > 0)
		rc = mfs_channel_know(vol, a->full, "", &subscribed, owned);
	if (rc < 0)
		return cli_fail(c, rc, "subscribing to %s", a->link);
	if (rc == 0 && subscribed)
		fprintf(stderr, "megafs mount: subscribed to %s\n", a->link);
	return 0;
}

/* The swarm's in_start: the link recorded in its start transaction. */
static int record_in_start(void *ctx, struct mfs_vtxn *t)
{
	struct mount_args *a = ctx;

	return a->record_at_start ? mfs_channel_record(t, a->full, "", &a->subscribed) : 0;
}

/* 1 when the volume holds a manifest of pk it can read. */
static int readable(struct mfs_volume *vol, const uint8_t *pk)
{
	struct mfs_manifest m;
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(vol, 0, &t);

	if (rc == 0) {
		rc = mfs_channel_open(t, pk, &m);
		mfs_vtxn_abort(t);
		mfs_manifest_clear(&m);
	}
	return rc == 0;
}

/* The fs reaches the network through these: the swarm starts after the fs
 * (it serves from the fs's session cache), before any request comes. */
static int fetch_via(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
		     uint8_t **blob, size_t *len)
{
	struct mfs_swarm *const *swarm = ctx;
	return *swarm ? mfs_swarm_fetch(*swarm, id, urgent, blob, len) : MFS_E_NOTFOUND;
}

static int fetch_segment_via(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], int urgent,
			     uint32_t index, uint8_t *out, size_t cap, size_t *len)
{
	struct mfs_swarm *const *swarm = ctx;
	return *swarm ? mfs_swarm_fetch_segment(*swarm, id, urgent, index, out, cap, len)
		      : MFS_E_NOTFOUND;
}

static void publish_via(void *ctx, const char *json, size_t len)
{
	struct mfs_swarm *const *swarm = ctx;
	if (*swarm)
		mfs_swarm_publish(*swarm, json, len);
}

static void log_via(void *ctx, const char *line)
{
	mfs_log(ctx, "%s", line);
}

/* Opens the store and the volume once, in the process that serves (LMDB's
 * environments, the store's locks and threads do not survive a fork), knows
 * the channel (subscribing when the volume does not; *owned when the volume
 * owns it) and whether a network runs. Says what is wrong on stderr (the
 * terminal's still) and returns 1, or 0. */
static int open_volume(struct cli *c, struct mount_args *a, const char *link,
		       struct cli_password *pw, struct cli_password *protect,
		       struct mfs_store **store, struct mfs_volume **vol, int *owned)
{
	int status = mfs_store_open(store, c->store_dir);

	if (status != 0) {
		cli_fail(c, status, "cannot open the store %s", c->store_dir);
	} else if ((status = cli_volume_open(c, *store, pw, protect, vol)) != 0) {
		/* said */
	} else if (!(a->full = mfs_secure_alloc(sizeof *a->full)) ||
		   mfs_link_parse_full(a->full, link) != 0) {
		status = cli_fail(c, -ENOMEM, "reading the link");
	} else {
		a->networked = net_wanted(&a->net) || mfs_swarm_remembers(*vol, a->pk);
		status = channel_role(c, *vol, a, owned);
		a->keyed = a->keyed || *owned;
	}
	cli_password_clear(pw);
	cli_password_clear(protect);
	if (status != 0 || !a->record_at_start) {
		mfs_secure_free(a->full);
		a->full = NULL;
	}
	if (status != 0) {
		mfs_volume_close(*vol);
		mfs_store_close(*store);
		*vol = NULL;
		*store = NULL;
		return 1;
	}
	return 0;
}

/* Serves the mount until it is unmounted or a signal comes. status_fd (or
 * -1 in the foreground) learns "ok" or an error message once it runs; when
 * the store or volume does not open, it is closed unwritten (said on
 * stderr already). */
static int serve(struct cli *c, struct mount_args *a, const char *link, struct cli_password *pw,
		 struct cli_password *protect, int status_fd)
{
	struct mfs_fs_config cfg = {.store_dir = c->store_dir};
	char options[sizeof a->options + 64];
	char *fuse_argv[] = {"megafs", "-o", options, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_fs *fs = NULL;
	struct mfs_swarm *swarm = NULL;
	char msg[PATH_MAX + 128] = "";
	int rc, mounted = 0, owned = 0;

	if (open_volume(c, a, link, pw, protect, &store, &vol, &owned) != 0) {
		if (status_fd >= 0)
			close(status_fd);
		return 1;
	}
	/* The mount's source names the process that serves it ("megafs:PID" in
	 * /proc/mounts): megafs umount waits for that process to wipe and exit. */
	snprintf(options, sizeof options, "fsname=megafs:%ld,%s", (long)getpid(), a->options);
	memcpy(cfg.pk, a->pk, sizeof cfg.pk);
	cfg.writable = owned && !a->read_only;
	cfg.syslog = status_fd >= 0;
	if (a->networked) {
		cfg.fetcher = (struct mfs_blob_fetcher){.fetch = fetch_via,
							.fetch_segment = fetch_segment_via,
							.ctx = &swarm,
							.verifies = 1};
		cfg.published = publish_via;
		cfg.published_ctx = &swarm;
	}
	rc = mfs_fs_new(&fs, &cfg);
	if (rc == 0 && !(se = fuse_session_new(&args, mfs_fs_ops(), sizeof *mfs_fs_ops(), fs)))
		rc = -EINVAL;
	/* Signals are taken before the mount appears, so none is lost (one
	 * that comes early ends the loop as soon as it starts: still a clean
	 * unmount and wipe). A mount started in the background by a script
	 * inherits SIGINT ignored, and libfuse only takes signals left at their
	 * default: make them so. */
	if (rc == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (fuse_set_signal_handlers(se) != 0)
			rc = -EIO;
	}
	if (rc == 0 && fuse_session_mount(se, a->mountpoint) != 0) {
		rc = -EIO;
		snprintf(msg, sizeof msg, "cannot mount on %s (does the directory exist, and is "
			 "/dev/fuse there?)", a->mountpoint);
	} else if (rc == 0) {
		char source[32];

		mounted = 1;
		/* Best effort: only root may, and the mount works without. */
		snprintf(source, sizeof source, "megafs:%ld", (long)getpid());
		(void)mfs_bdi_raise_readahead(source, MFS_BDI_READAHEAD_KB);
	}
	if (rc == 0) {
		rc = mfs_fs_start(fs, store, vol, se);
		if (rc == 0 && a->networked) {
			struct mfs_swarm_config net = {
				.vol = vol,
				.cache = mfs_fs_session_cache(fs),
				.channels = &a->pk,
				.n_channels = 1,
				.log = log_via,
				.log_ctx = fs,
				.stored = mfs_fs_poke,
				.stored_ctx = fs,
				.in_start = record_in_start,
				.in_start_ctx = a,
			};
			net_swarm_config(&a->net, &net);
			rc = mfs_swarm_start(&swarm, &net);
			/* The link's key is recorded (or the start failed): gone. */
			mfs_secure_free(a->full);
			a->full = NULL;
			if (rc == 0 && a->subscribed) /* the terminal's stderr still */
				fprintf(stderr, "megafs mount: subscribed to %s\n", a->link);
			if (rc != 0)
				snprintf(msg, sizeof msg, "starting the network: %s", mfs_strerror(rc));
			if (rc == 0 && swarm && owned)
				mfs_swarm_publish_owned(swarm);
		}
		/* A subscriber's mount with no manifest of the channel yet
		 * returns once the first one is shown. From a link without a
		 * key, the trackers' manifest says whether the channel is
		 * private, and then the mount refuses at once. */
		if (rc == 0 && swarm && !owned && !readable(vol, a->pk)) {
			int first = mfs_swarm_wait_manifest(swarm, a->pk, FIRST_MANIFEST_MS);

			if (first == MFS_E_NOKEY && !a->keyed) {
				rc = MFS_E_NOKEY;
				snprintf(msg, sizeof msg, "%s is a private channel and this link has "
					 "no read key: ask its owner for the link with the read key "
					 "(%s#READ-KEY), or give them this volume's key (megafs id) for a "
					 "grant and mount %s#grant", a->link, a->link, a->link);
			} else if (first == 0 && mfs_fs_show_stored(fs) != 0) {
				mfs_log(fs, "could not read the channel's first manifest");
			} else if (first == -ETIMEDOUT) {
				fprintf(stderr, "megafs mount: no manifest of %s yet: its files "
					"appear when one comes\n", a->link);
			}
		}
	}

	if (rc != 0 && !msg[0])
		snprintf(msg, sizeof msg, "%s", mfs_strerror(rc));
	if (status_fd >= 0) {
		/* Tell the waiting parent, then let go of its terminal. */
		const char *say = rc == 0 ? "ok" : msg;
		int null = open("/dev/null", O_RDWR);

		if (write(status_fd, say, strlen(say)) < 0)
			rc = rc ? rc : -EIO;
		close(status_fd);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
	} else if (rc != 0) {
		cli_fail(c, 0, "%s", msg);
	} else {
		fprintf(stderr, "megafs: %s mounted on %s (%s); Ctrl-C or fusermount3 -u unmounts\n",
			a->link, a->mountpoint, cfg.writable ? "read-write" : "read-only");
	}
	if (rc == 0) {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_max_threads(loop, 16);
		/* A signal (Ctrl-C, SIGTERM) ends the loop with the signal's number:
		 * a clean unmount, like fusermount3 -u. */
		rc = fuse_session_loop_mt(se, loop) < 0 ? -EIO : 0;
		fuse_loop_cfg_destroy(loop);
	}
	/* Peers first: no fetch may outlive the reader it feeds. */
	mfs_swarm_stop(swarm);
	swarm = NULL;
	if (mounted)
		fuse_session_unmount(se);
	if (se) {
		/* libfuse's handlers point at the session: off before it goes. */
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	/* Unmounted: the session cache's key and file go now, then the
	 * volume the fs borrowed. */
	mfs_fs_free(fs);
	mfs_volume_close(vol);
	mfs_store_close(store);
	mfs_secure_free(a->full); /* a start that never came */
	a->full = NULL;
	fuse_opt_free_args(&args);
	if (status_fd >= 0 && rc != 0)
		syslog(LOG_ERR, "megafs: the mount of %s ended: %s", a->link, mfs_strerror(rc));
	return rc == 0 ? 0 : 1;
}

/* Like sshfs: the parent returns once the mount works, with its error if
 * it does not; the child opens the store (once: the parent never does),
 * and serves the mount. The child says the errors of the store, the
 * volume and the link itself, on the terminal's stderr, and exits with
 * nothing written to the pipe; the mount's own errors come through the
 * pipe for the parent to say. */
static int daemonise(struct cli *c, struct mount_args *a, const char *link,
		     struct cli_password *pw, struct cli_password *protect)
{
	int pipefd[2], wstatus = 0;
	char status[PATH_MAX + 129];
	ssize_t n, got = 0;
	pid_t pid;
	int rc;

	if (pipe(pipefd) != 0)
		return cli_fail(c, -errno, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_fail(c, -errno, "fork");
	if (pid == 0) {
		close(pipefd[0]);
		/* Leave the caller's directory (it must not stay busy); the
		 * store path is absolute already. */
		if (setsid() < 0 || chdir("/") != 0) {
			cli_fail(c, -errno, "starting the mount process");
			_exit(1);
		}
		openlog("megafs", LOG_PID, LOG_DAEMON);
		rc = serve(c, a, link, pw, protect, pipefd[1]);
#ifdef MFS_COVERAGE
		/* _exit writes no coverage counters: fs/fuse runs here. */
		__gcov_dump();
#endif
		_exit(rc);
	}
	close(pipefd[1]);
	cli_password_clear(pw);
	cli_password_clear(protect);
	while ((n = read(pipefd[0], status + got, sizeof status - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	status[got > 0 ? got : 0] = '\0';
	if (strcmp(status, "ok") == 0)
		return 0;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	/* Nothing written and a plain exit: the child said why already. */
	if (got == 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)
		return WEXITSTATUS(wstatus);
	return cli_fail(c, 0, "%s", got > 0 ? status : "the mount process died");
}

/* Undoes the \ooo escapes /proc/self/mountinfo writes for spaces and the
 * like, in place. */
static void unescape_octal(char *s)
{
	size_t j = 0;

	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			s[j++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			s[j++] = s[i];
		}
	}
	s[j] = '\0';
}

/* Whether process pid still runs: a zombie has exited (its parent, or
 * init, has just not reaped it yet). */
static int process_runs(pid_t pid)
{
	char path[64], line[256], *end;
	FILE *f;
	size_t n;

	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "re")))
		return errno != ENOENT;
	n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	end = strrchr(line, ')');
	if (!end || end[1] != ' ' || end[2] == '\0')
		return 1;
	return end[2] != 'Z' && end[2] != 'X';
}

struct mount_seen {
	char type[64];                 /* e.g. "fuse.megafs", "tmpfs" */
	int megafs;                    /* a megafs mount */
	pid_t pid;                     /* the process serving it ("megafs:PID"), or 0 */
};

/* What is mounted on dir (absolute, resolved): the last mount there, the
 * one that shows. 1 when something is, 0 when nothing is. */
static int mounted_on(const char *dir, struct mount_seen *seen)
{
	FILE *info = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, point[PATH_MAX], type[64], source[256];
	size_t cap = 0;
	int found = 0;

	memset(seen, 0, sizeof *seen);
	/* "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE ..." */
	while (info && getline(&line, &cap, info) > 0) {
		const char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 || !sep ||
		    sscanf(sep + 3, "%63s %255s", type, source) != 2)
			continue;
		unescape_octal(point);
		if (strcmp(point, dir) != 0)
			continue;
		found = 1;
		snprintf(seen->type, sizeof seen->type, "%s", type);
		seen->megafs = strncmp(source, "megafs:", 7) == 0 ? strncmp(type, "fuse", 4) == 0
							       : strcmp(type, "fuse.megafs") == 0;
		seen->pid = strncmp(source, "megafs:", 7) == 0 ? (pid_t)atol(source + 7) : 0;
	}
	free(line);
	if (info)
		fclose(info);
	return found;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option options[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"options", required_argument, NULL, 'o'},
		CLI_COMMON_OPTIONS,
		NET_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct mount_args a = {0};
	struct cli_password pw = {0}, protect = {0};
	char absolute[PATH_MAX];
	int opt, status;
	struct mount_seen seen;
	struct stat st;
	struct cli c;

	cli_init(&c, "mount");
	snprintf(a.options, sizeof a.options, "subtype=megafs");
	while ((opt = getopt_long(argc, argv, "fo:", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		status = net_option(&c, &a.net, opt, optarg);
		if (status == 1)
			continue;
		if (status != 0)
			return status;
		if (opt == 'f')
			a.foreground = 1;
		else if (opt == 'o')
			status = add_options(&c, &a, optarg);
		else
			return 2;
		if (opt == 'o' && status != 0)
			return status;
	}
	if (optind + 2 != argc)
		return cli_usage(&c, "usage: megafs mount LINK DIR [-f] [-o OPTIONS] [--tracker URL]... "
				 "[--listen HOST:PORT] [--peer ADDR]...");
	if ((status = net_check(&c, &a.net)) != 0)
		return status;
	if (a.store[0])
		c.store_arg = a.store;
	if (a.password_file[0])
		c.password_file = a.password_file;
	if (a.protect_file[0])
		c.protect_file = a.protect_file;
	if (!(a.full = mfs_secure_alloc(sizeof *a.full)))
		return cli_fail(&c, -ENOMEM, "reading the link");
	if (mfs_link_parse_full(a.full, argv[optind]) != 0) {
		mfs_secure_free(a.full);
		return cli_usage(&c, "'%s' is not a channel link (megafs://<64 hex digits>, then "
				 "#<read key: 64 hex digits> or #grant for a private channel)",
				 argv[optind]);
	}
	memcpy(a.pk, a.full->pk, sizeof a.pk);
	a.keyed = a.full->kind != MFS_LINK_PUBLIC;
	mfs_link_format(a.link, a.pk);
	/* Parsed again (into guarded memory) when the volume is open. */
	mfs_secure_free(a.full);
	a.full = NULL;
	if (!realpath(argv[optind + 1], a.mountpoint))
		return cli_fail(&c, -errno, "the mount point %s", argv[optind + 1]);
	/* Said here, not as "cannot mount" after the passwords and the store. */
	if (mounted_on(a.mountpoint, &seen) && seen.megafs) {
		if (seen.pid > 0 && !process_runs(seen.pid))
			return cli_fail(&c, 0, "%s is a mount whose process died (megafs umount %s "
					"first)", argv[optind + 1], argv[optind + 1]);
		return cli_fail(&c, 0, "%s is a megafs mount already (megafs umount %s first)",
				argv[optind + 1], argv[optind + 1]);
	}
	if (stat(a.mountpoint, &st) != 0)
		return cli_fail(&c, -errno, "the mount point %s", argv[optind + 1]);
	if (!S_ISDIR(st.st_mode))
		return cli_fail(&c, 0, "the mount point %s is not a directory", argv[optind + 1]);
	if (cli_resolve_store(&c) != 0)
		return 1;
	/* The daemon leaves the working directory: hold absolute paths. */
	if (!realpath(c.store_dir, absolute))
		return cli_fail(&c, -errno, "the store %s", c.store_dir);
	snprintf(c.store_dir, sizeof c.store_dir, "%s", absolute);
	if (cli_read_password(&c, PW_MAIN, "Password: ", 0, &pw) != 0 ||
	    cli_read_password(&c, PW_PROTECT, "Password of the volume to protect: ", 0, &protect) != 0) {
		cli_password_clear(&pw);
		return 1;
	}
	/* The store and the volume open in the process that serves, once: the
	 * background one waits until it says the mount works, or why not. */
	if (a.foreground)
		return serve(&c, &a, argv[optind], &pw, &protect, -1);
	return daemonise(&c, &a, argv[optind], &pw, &protect);
}

/* Runs fusermount3 -u dir; said receives what it wrote on stderr. 0, 1
 * when it failed, -errno when it could not be started. */
static int fusermount_u(const char *dir, char *said, size_t cap)
{
	int pipefd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	said[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		dup2(pipefd[1], 2);
		execlp("fusermount3", "fusermount3", "-u", dir, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < cap &&
	       ((n = read(pipefd[0], said + got, cap - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	said[got] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !got)
		snprintf(said, cap, "fusermount3 could not be run (is fuse3 installed?)\n");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int cmd_umount(int argc, char **argv)
{
	struct mount_seen seen;
	char dir[PATH_MAX], said[1024];
	int rc;
	struct cli c;

	cli_init(&c, "umount");
	if (argc != 2)
		return cli_usage(&c, "usage: megafs umount DIR");
	if (!realpath(argv[1], dir))
		return cli_fail(&c, -errno, "%s", argv[1]);
	/* Say what is wrong rather than relay fusermount3's "Invalid argument";
	 * and never hand another filesystem to fusermount3 (as root it would
	 * unmount it). */
	if (!mounted_on(dir, &seen))
		return cli_fail(&c, 0, "%s is not a megafs mount: nothing is mounted there", argv[1]);
	if (!seen.megafs)
		return cli_fail(&c, 0, "%s is not a megafs mount (it is a %s mount): megafs umount "
				"leaves it alone", argv[1], seen.type);
	rc = fusermount_u(dir, said, sizeof said);
	if (rc > 0 && strstr(said, "busy"))
		return cli_fail(&c, 0, "%s is busy: a program has a file open there or its working "
				"directory in it; end it and try again (fuser -vm %s names it)",
				argv[1], dir);
	if (rc < 0)
		return cli_fail(&c, rc, "running fusermount3 -u %s", dir);
	if (rc != 0) {
		fputs(said, stderr);
		return cli_fail(&c, 0, "fusermount3 -u %s failed", dir);
	}
	/* Return once the mount has wiped its session cache and exited. */
	for (int tries = 0; tries < 200; tries++) {
		if (!process_runs(seen.pid))
			return 0;
		usleep(50000);
	}
	return cli_fail(&c, 0, "unmounted, but the mount process has not exited after 10 s");
}
