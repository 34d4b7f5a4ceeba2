#include "net/pt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define EXIT_WAIT_MS 2000u  /* after its stdin closed, before SIGTERM */
#define TERM_WAIT_MS 1000u  /* after SIGTERM, before SIGKILL */

/* ---- the lines a PT writes ---- */

static int is_name_byte(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
	       b == '_';
}

static int is_arg_key_byte(uint8_t b)
{
	return is_name_byte(b) || b == '-';
}

/* A value goes into the SOCKS5 username unescaped: no ';', '=' or '\'. */
static int is_arg_value_byte(uint8_t b)
{
	return is_name_byte(b) || b == '+' || b == '/' || b == '.' || b == '-';
}

/* The next space-separated field of line[*pos..len): its start and length
 * (0 at the end); *pos moves past it and one space. */
static size_t next_field(const uint8_t *line, size_t len, size_t *pos, const uint8_t **field)
{
	size_t start = *pos, end = start;

	while (end < len && line[end] != ' ')
		end++;
	*field = line + start;
	*pos = end < len ? end + 1 : end;
	return end - start;
}

static int field_is(const uint8_t *f, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(f, word, n) == 0;
}

static int take_name(char out[static MFS_PT_NAME_MAX + 1], const uint8_t *f, size_t n)
{
	if (n == 0 || n > MFS_PT_NAME_MAX)
		return MFS_E_FORMAT;
	for (size_t i = 0; i < n; i++)
		if (!is_name_byte(f[i]))
			return MFS_E_FORMAT;
	memcpy(out, f, n);
	out[n] = '\0';
	return 0;
}

static int take_address(struct mfs_pt_line *out, const uint8_t *f, size_t n)
{
	if (mfs_hostport_parse(out->host, &out->port, (const char *)f, n, 0) != 0 || !out->port)
		return MFS_E_FORMAT;
	return 0;
}

/* The rest of the line, printable ASCII (others as '?'), cut to fit. */
static void take_message(char out[static MFS_PT_MESSAGE_MAX + 1], const uint8_t *f, size_t n)
{
	if (n > MFS_PT_MESSAGE_MAX)
		n = MFS_PT_MESSAGE_MAX;
	for (size_t i = 0; i < n; i++)
		out[i] = f[i] >= 0x20 && f[i] < 0x7f ? (char)f[i] : '?';
	out[n] = '\0';
}

/* SMETHOD's "k=v,k=v" (',', '=' and '\' escaped with '\') into the SOCKS5
 * username's form "k=v;k=v", every byte checked. */
static int take_args(char out[static MFS_PT_ARGS_MAX + 1], const uint8_t *f, size_t n)
{
	size_t o = 0;
	int in_value = 0, piece = 0; /* bytes in the current key or value */

	for (size_t i = 0; i < n; i++) {
		uint8_t b = f[i];
		int escaped = 0;

		if (b == '\\') {
			if (++i == n)
				return MFS_E_FORMAT;
			b = f[i];
			escaped = 1;
		}
		if (!escaped && b == '=' && !in_value) {
			if (!piece)
				return MFS_E_FORMAT;
			in_value = 1;
			piece = 0;
		} else if (!escaped && b == ',') {
			if (!in_value || !piece)
				return MFS_E_FORMAT;
			in_value = 0;
			piece = 0;
			b = ';';
		} else if (in_value ? !is_arg_value_byte(b) : !is_arg_key_byte(b)) {
			return MFS_E_FORMAT;
		} else {
			piece++;
		}
		if (o == MFS_PT_ARGS_MAX)
			return MFS_E_FORMAT;
		out[o++] = (char)b;
	}
	if (n && (!in_value || !piece))
		return MFS_E_FORMAT;
	out[o] = '\0';
	return 0;
}

/* SMETHOD's options after its address: ARGS:... kept, others ignored. */
static int take_options(struct mfs_pt_line *out, const uint8_t *line, size_t len, size_t pos)
{
	const uint8_t *f;
	size_t n;

	while ((n = next_field(line, len, &pos, &f)) > 0 || pos < len)
		if (n > 5 && memcmp(f, "ARGS:", 5) == 0 && take_args(out->args, f + 5, n - 5) != 0)
			return MFS_E_FORMAT;
	return 0;
}

static int parse_method(struct mfs_pt_line *out, const uint8_t *line, size_t len, size_t pos,
			int client)
{
	const uint8_t *f;
	size_t n = next_field(line, len, &pos, &f);

	if (take_name(out->name, f, n) != 0)
		return MFS_E_FORMAT;
	if (client) {
		n = next_field(line, len, &pos, &f);
		if (n == 0 || n >= sizeof out->proto)
			return MFS_E_FORMAT;
		memcpy(out->proto, f, n);
		out->proto[n] = '\0';
	}
	n = next_field(line, len, &pos, &f);
	if (take_address(out, f, n) != 0)
		return MFS_E_FORMAT;
	return client ? 0 : take_options(out, line, len, pos);
}

static int parse_method_error(struct mfs_pt_line *out, const uint8_t *line, size_t len,
			      size_t pos)
{
	const uint8_t *f;
	size_t n = next_field(line, len, &pos, &f);

	if (take_name(out->name, f, n) != 0)
		return MFS_E_FORMAT;
	take_message(out->message, line + pos, len - pos);
	return 0;
}

int mfs_pt_line_parse(struct mfs_pt_line *out, const uint8_t *line, size_t len)
{
	const uint8_t *kw, *rest;
	size_t pos = 0, n;

	memset(out, 0, sizeof *out);
	if (len && line[len - 1] == '\r')
		len--;
	if (len > MFS_PT_LINE_MAX || memchr(line, '\0', len))
		return MFS_E_FORMAT;
	n = next_field(line, len, &pos, &kw);
	rest = line + pos;
	if (field_is(kw, n, "VERSION")) {
		out->kind = MFS_PT_VERSION;
		if (pos == len)
			return MFS_E_FORMAT;
		take_message(out->message, rest, len - pos);
	} else if (field_is(kw, n, "VERSION-ERROR") || field_is(kw, n, "ENV-ERROR")) {
		out->kind = kw[0] == 'V' ? MFS_PT_VERSION_ERROR : MFS_PT_ENV_ERROR;
		take_message(out->message, rest, len - pos);
	} else if (field_is(kw, n, "CMETHOD") || field_is(kw, n, "SMETHOD")) {
		out->kind = kw[0] == 'C' ? MFS_PT_CMETHOD : MFS_PT_SMETHOD;
		return parse_method(out, line, len, pos, kw[0] == 'C');
	} else if (field_is(kw, n, "CMETHOD-ERROR") || field_is(kw, n, "SMETHOD-ERROR")) {
		out->kind = kw[0] == 'C' ? MFS_PT_CMETHOD_ERROR : MFS_PT_SMETHOD_ERROR;
		return parse_method_error(out, line, len, pos);
	} else if (field_is(kw, n, "CMETHODS") || field_is(kw, n, "SMETHODS")) {
		if (!field_is(rest, len - pos, "DONE"))
			return MFS_E_FORMAT;
		out->kind = kw[0] == 'C' ? MFS_PT_CMETHODS_DONE : MFS_PT_SMETHODS_DONE;
	} else {
		out->kind = MFS_PT_OTHER;
	}
	return 0;
}

/* ---- a peer's address with its bridge arguments ---- */

static int check_peer_args(const char *a)
{
	size_t len = strlen(a);
	int in_value = 0, piece = 0;

	if (len == 0 || len > MFS_PT_ARGS_MAX)
		return -EINVAL;
	for (const char *p = a; *p; p++) {
		uint8_t b = (uint8_t)*p;

		if (b == '=' && !in_value && piece) {
			in_value = 1;
			piece = 0;
		} else if (b == ';' && in_value && piece) {
			in_value = 0;
			piece = 0;
		} else if (in_value ? is_arg_value_byte(b) : is_arg_key_byte(b)) {
			piece++;
		} else {
			return -EINVAL;
		}
	}
	return in_value && piece ? 0 : -EINVAL;
}

int mfs_pt_peer_split(char *addr, size_t addr_cap, char args[static MFS_PT_ARGS_MAX + 1],
		      const char *text)
{
	const char *semi = strchr(text, ';');
	size_t alen = semi ? (size_t)(semi - text) : strlen(text);

	args[0] = '\0';
	if (alen >= addr_cap)
		return -EINVAL;
	if (semi) {
		if (check_peer_args(semi + 1) != 0)
			return -EINVAL;
		strcpy(args, semi + 1);
	}
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	return 0;
}

/* ---- the PT as a child process ---- */

struct mfs_pt {
	pid_t pid;
	int to_child;                 /* its stdin: closed, it exits */
	int from_child;               /* its stdout */
	int draining;                 /* the drain thread runs */
	int stop_draining;            /* atomic */
	pthread_t drain;
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;
	char args[MFS_PT_ARGS_MAX + 1];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What it writes once ready (LOG and STATUS lines) is read and dropped,
 * so that it never blocks on a full pipe; nothing of it reaches a log. */
static void *drain(void *arg)
{
	struct mfs_pt *pt = arg;
	char buf[4096];

	while (!__atomic_load_n(&pt->stop_draining, __ATOMIC_RELAXED)) {
		struct pollfd pfd = {.fd = pt->from_child, .events = POLLIN};
		int r = poll(&pfd, 1, 200);

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && read(pt->from_child, buf, sizeof buf) <= 0)
			break;
	}
	return NULL;
}

/* 1 when the child was reaped within ms. */
static int reaped_within(pid_t pid, unsigned ms, int *status)
{
	uint64_t until = now_ms() + ms;

	do {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000}, NULL);
	} while (now_ms() < until);
	return 0;
}

void mfs_pt_stop(struct mfs_pt *pt)
{
	int status;

	if (!pt)
		return;
	if (pt->to_child >= 0)
		close(pt->to_child);
	if (pt->pid > 0 && !reaped_within(pt->pid, EXIT_WAIT_MS, &status)) {
		kill(pt->pid, SIGTERM);
		if (!reaped_within(pt->pid, TERM_WAIT_MS, &status)) {
			kill(pt->pid, SIGKILL);
			while (waitpid(pt->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
	}
	__atomic_store_n(&pt->stop_draining, 1, __ATOMIC_RELAXED);
	if (pt->draining)
		pthread_join(pt->drain, NULL);
	if (pt->from_child >= 0)
		close(pt->from_child);
	free(pt);
}

/* The environment of the spec, and nothing of ours. */
struct pt_env {
	char ver[40], state[4200], exit_on_close[40], transports[128], bind[384], orport[320];
	char *v[7];
};

static int make_env(struct pt_env *e, const struct mfs_pt_config *cfg)
{
	size_t n = 0;
	int cut = 0;

	snprintf(e->ver, sizeof e->ver, "TOR_PT_MANAGED_TRANSPORT_VER=1");
	cut |= snprintf(e->state, sizeof e->state, "TOR_PT_STATE_LOCATION=%s", cfg->state_dir) >=
	       (int)sizeof e->state;
	snprintf(e->exit_on_close, sizeof e->exit_on_close, "TOR_PT_EXIT_ON_STDIN_CLOSE=1");
	cut |= snprintf(e->transports, sizeof e->transports, "TOR_PT_%s_TRANSPORTS=%s",
			cfg->bind ? "SERVER" : "CLIENT", cfg->transport) >= (int)sizeof e->transports;
	e->v[n++] = e->ver;
	e->v[n++] = e->state;
	e->v[n++] = e->exit_on_close;
	e->v[n++] = e->transports;
	if (cfg->bind) {
		cut |= snprintf(e->bind, sizeof e->bind, "TOR_PT_SERVER_BINDADDR=%s-%s",
				cfg->transport, cfg->bind) >= (int)sizeof e->bind;
		cut |= snprintf(e->orport, sizeof e->orport, "TOR_PT_ORPORT=%s", cfg->orport) >=
		       (int)sizeof e->orport;
		e->v[n++] = e->bind;
		e->v[n++] = e->orport;
	}
	e->v[n] = NULL;
	return cut ? -ENAMETOOLONG : 0;
}

static int spawn(struct mfs_pt *pt, const struct mfs_pt_config *cfg, char *why, size_t why_len)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct pt_env env;
	sigset_t none, deflt;
	char *argv[] = {(char *)cfg->path, NULL};

	if ((rc = make_env(&env, cfg)) != 0) {
		snprintf(why, why_len, "the state directory's path is too long");
		return rc;
	}
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		rc = -errno;
		goto cleanup;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	/* Nothing else of ours: not the store's files, not a pipe a parent
	 * waits on to see close (a mount's daemon tells its parent so). */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* Its own process group (a terminal's ^C is ours to pass on, by
	 * closing its stdin), no signal blocked or ignored as ours may be. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGHUP);
	sigaddset(&deflt, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETPGROUP);
	rc = -posix_spawn(&pt->pid, cfg->path, &fa, &attr, argv, env.v);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		pt->pid = 0;
		snprintf(why, why_len, "cannot start it: %s", strerror(-rc));
		goto cleanup;
	}
	pt->to_child = in[1];
	pt->from_child = out[0];
	in[1] = out[0] = -1;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return rc;
}

/* One line of the start: 1 when ready, 0 for more, or an error. */
static int take_line(struct mfs_pt *pt, const struct mfs_pt_config *cfg, const uint8_t *line,
		     size_t len, int *have_method, char *why, size_t why_len)
{
	struct mfs_pt_line l;
	int server = cfg->bind != NULL, ours;

	if (mfs_pt_line_parse(&l, line, len) != 0) {
		snprintf(why, why_len, "it wrote a line that is not the spec's");
		return MFS_E_FORMAT;
	}
	ours = strcmp(l.name, cfg->transport) == 0;
	switch (l.kind) {
	case MFS_PT_VERSION:
		if (strcmp(l.message, "1") == 0)
			return 0;
		snprintf(why, why_len, "it chose version %s of the spec, not 1", l.message);
		return -EPROTO;
	case MFS_PT_VERSION_ERROR:
		snprintf(why, why_len, "VERSION-ERROR %s", l.message);
		return -EPROTO;
	case MFS_PT_ENV_ERROR:
		snprintf(why, why_len, "ENV-ERROR %s", l.message);
		return -EPROTO;
	case MFS_PT_CMETHOD_ERROR:
	case MFS_PT_SMETHOD_ERROR:
		if (!ours)
			return 0;
		snprintf(why, why_len, "%s %s %s",
			 l.kind == MFS_PT_CMETHOD_ERROR ? "CMETHOD-ERROR" : "SMETHOD-ERROR", l.name,
			 l.message);
		return -EPROTO;
	case MFS_PT_CMETHOD:
	case MFS_PT_SMETHOD:
		if (!ours || server != (l.kind == MFS_PT_SMETHOD))
			return 0;
		if (!server && strcmp(l.proto, "socks5") != 0) {
			snprintf(why, why_len, "it offers %s through %s, not socks5", l.name,
				 l.proto);
			return -EPROTO;
		}
		memcpy(pt->host, l.host, sizeof pt->host);
		pt->port = l.port;
		memcpy(pt->args, l.args, sizeof pt->args);
		*have_method = 1;
		return 0;
	case MFS_PT_CMETHODS_DONE:
	case MFS_PT_SMETHODS_DONE:
		if (server != (l.kind == MFS_PT_SMETHODS_DONE))
			return 0;
		if (*have_method)
			return 1;
		snprintf(why, why_len, "it offers no %s %s", server ? "server" : "client",
			 cfg->transport);
		return -EPROTO;
	default:
		return 0;
	}
}

/* Its lines until it is ready, within the timeout. */
static int await_ready(struct mfs_pt *pt, const struct mfs_pt_config *cfg, char *why,
		       size_t why_len)
{
	uint8_t buf[MFS_PT_LINE_MAX + 2];
	unsigned timeout = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	uint64_t until = now_ms() + timeout;
	size_t have = 0;
	int have_method = 0;

	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = {.fd = pt->from_child, .events = POLLIN};
		ssize_t r;
		uint8_t *nl;
		int rc, status, ready = now < until ? poll(&pfd, 1, (int)(until - now)) : 0;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			int err = errno;
			snprintf(why, why_len, "reading it: %s", strerror(err));
			return -err;
		}
		if (ready == 0) {
			snprintf(why, why_len, "it did not say it was ready within %u ms", timeout);
			return -ETIMEDOUT;
		}
		r = read(pt->from_child, buf + have, sizeof buf - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			status = 0;
			if (reaped_within(pt->pid, 500, &status)) {
				pt->pid = 0;
				snprintf(why, why_len, "it exited (%s %d) before it was ready",
					 WIFSIGNALED(status) ? "signal" : "status",
					 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			} else {
				snprintf(why, why_len, "it closed its output before it was ready");
			}
			return -ECHILD;
		}
		have += (size_t)r;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			rc = take_line(pt, cfg, buf, len, &have_method, why, why_len);
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
			if (rc != 0)
				return rc < 0 ? rc : 0;
		}
		if (have == sizeof buf) {
			snprintf(why, why_len, "it wrote a line longer than %d bytes", MFS_PT_LINE_MAX);
			return MFS_E_FORMAT;
		}
	}
}

static int check_binary(const char *path, char *why, size_t why_len)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int err = errno;
		snprintf(why, why_len, "%s", err == ENOENT ? "no such file" : strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
		snprintf(why, why_len, "not an executable file");
		return -EACCES;
	}
	return 0;
}

int mfs_pt_start(struct mfs_pt **out, const struct mfs_pt_config *cfg, char *why, size_t why_len)
{
	struct mfs_pt *pt;
	char reason[MFS_PT_MESSAGE_MAX + 96] = "";
	int rc;

	*out = NULL;
	if (!(pt = calloc(1, sizeof *pt))) {
		snprintf(why, why_len, "the pluggable transport %s: %s", cfg->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	pt->to_child = pt->from_child = -1;
	rc = check_binary(cfg->path, reason, sizeof reason);
	if (rc == 0)
		rc = spawn(pt, cfg, reason, sizeof reason);
	if (rc == 0)
		rc = await_ready(pt, cfg, reason, sizeof reason);
	if (rc == 0) {
		rc = -pthread_create(&pt->drain, NULL, drain, pt);
		pt->draining = rc == 0;
		if (rc)
			snprintf(reason, sizeof reason, "%s", strerror(-rc));
	}
	if (rc != 0) {
		snprintf(why, why_len, "the pluggable transport %s: %s", cfg->path, reason);
		mfs_pt_stop(pt);
		return rc;
	}
	*out = pt;
	return 0;
}

const char *mfs_pt_host(const struct mfs_pt *pt)
{
	return pt->host;
}

uint16_t mfs_pt_port(const struct mfs_pt *pt)
{
	return pt->port;
}

const char *mfs_pt_args(const struct mfs_pt *pt)
{
	return pt->args;
}
