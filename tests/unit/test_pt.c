/* net/pt: the lines a pluggable transport writes (the spec's, and
 * obfs4proxy 0.0.14's own as captured here), every refusal of them; the
 * address of a bridge; and the PT as a child: started, refused, timed out,
 * stopped and reaped, with stand-in PT scripts and, when installed, the
 * real obfs4proxy. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "net/pt.h"

static int parse(struct mfs_pt_line *l, const char *text)
{
	return mfs_pt_line_parse(l, (const uint8_t *)text, strlen(text));
}

/* obfs4proxy 0.0.14's lines, as it printed them here. */
Test(pt, obfs4proxy_client_lines)
{
	struct mfs_pt_line l;

	cr_assert_eq(parse(&l, "VERSION 1"), 0);
	cr_assert_eq(l.kind, MFS_PT_VERSION);
	cr_assert_str_eq(l.message, "1");
	cr_assert_eq(parse(&l, "CMETHOD obfs4 socks5 127.0.0.1:43543"), 0);
	cr_assert_eq(l.kind, MFS_PT_CMETHOD);
	cr_assert_str_eq(l.name, "obfs4");
	cr_assert_str_eq(l.proto, "socks5");
	cr_assert_str_eq(l.host, "127.0.0.1");
	cr_assert_eq(l.port, 43543);
	cr_assert_eq(parse(&l, "CMETHODS DONE"), 0);
	cr_assert_eq(l.kind, MFS_PT_CMETHODS_DONE);
	cr_assert_eq(parse(&l, "CMETHOD-ERROR foo no such transport is supported"), 0);
	cr_assert_eq(l.kind, MFS_PT_CMETHOD_ERROR);
	cr_assert_str_eq(l.name, "foo");
	cr_assert_str_eq(l.message, "no such transport is supported");
	cr_assert_eq(parse(&l, "VERSION-ERROR no-version"), 0);
	cr_assert_eq(l.kind, MFS_PT_VERSION_ERROR);
	cr_assert_str_eq(l.message, "no-version");
}

Test(pt, smethod_args_become_the_socks_username)
{
	struct mfs_pt_line l;

	cr_assert_eq(parse(&l, "SMETHOD obfs4 127.0.0.1:47001 ARGS:cert=F5jbRytwD2sbrGHJGvrg5oO8z"
			       "amS7kULixr6zGG0NhGGhBnUlnhVkMJrxjkrNZrIclWDRw,iat-mode=0\r"),
		     0);
	cr_assert_eq(l.kind, MFS_PT_SMETHOD);
	cr_assert_str_eq(l.name, "obfs4");
	cr_assert_str_eq(l.host, "127.0.0.1");
	cr_assert_eq(l.port, 47001);
	cr_assert_str_eq(l.args, "cert=F5jbRytwD2sbrGHJGvrg5oO8zamS7kULixr6zGG0NhGGhBnUlnhVkMJrx"
				 "jkrNZrIclWDRw;iat-mode=0");
	/* Escaped bytes that a username takes unescaped, other options, IPv6. */
	cr_assert_eq(parse(&l, "SMETHOD x_1 [::1]:9 OTHER:stuff ARGS:a\\-b=c\\.d"), 0);
	cr_assert_str_eq(l.host, "::1");
	cr_assert_str_eq(l.args, "a-b=c.d");
	cr_assert_eq(parse(&l, "SMETHOD obfs4 127.0.0.1:1"), 0);
	cr_assert_str_eq(l.args, "");
	cr_assert_eq(parse(&l, "SMETHODS DONE"), 0);
	cr_assert_eq(l.kind, MFS_PT_SMETHODS_DONE);
	cr_assert_eq(parse(&l, "SMETHOD-ERROR obfs4 cannot bind"), 0);
	cr_assert_eq(l.kind, MFS_PT_SMETHOD_ERROR);
	cr_assert_str_eq(l.message, "cannot bind");
}

Test(pt, other_lines_are_ignored_and_messages_made_printable)
{
	struct mfs_pt_line l;

	cr_assert_eq(parse(&l, "LOG SEVERITY=notice MESSAGE=\"hi\""), 0);
	cr_assert_eq(l.kind, MFS_PT_OTHER);
	cr_assert_eq(parse(&l, ""), 0);
	cr_assert_eq(l.kind, MFS_PT_OTHER);
	cr_assert_eq(parse(&l, "ENV-ERROR bad \x1b[31m\xff"), 0);
	cr_assert_eq(l.kind, MFS_PT_ENV_ERROR);
	cr_assert_str_eq(l.message, "bad ?[31m?");
}

Test(pt, malformed_lines_are_refused)
{
	static const char *const bad[] = {
		"VERSION",
		"CMETHOD obfs4 socks5",
		"CMETHOD obfs4 socks5 127.0.0.1",
		"CMETHOD obfs4 socks5 127.0.0.1:0",
		"CMETHOD obfs4 socks5 127.0.0.1:70000",
		"CMETHOD ob-fs4 socks5 127.0.0.1:1",
		"CMETHOD obfs4 socks5555555 127.0.0.1:1",
		"CMETHOD  socks5 127.0.0.1:1",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:cert",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:=v",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=v,",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=v\\",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=a;b",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=a\\,b",
		"SMETHOD obfs4 127.0.0.1:1 ARGS:k=a=b",
		"SMETHOD-ERROR",
		"CMETHODS",
		"CMETHODS DONE NOW",
		"SMETHODS done",
	};
	struct mfs_pt_line l;
	char longer[MFS_PT_ARGS_MAX + 64];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_eq(parse(&l, bad[i]), MFS_E_FORMAT, "'%s' was taken", bad[i]);
	cr_assert_eq(mfs_pt_line_parse(&l, (const uint8_t *)"VERSION 1\0", 10), MFS_E_FORMAT);
	/* Arguments past a SOCKS5 username's 255 bytes. */
	snprintf(longer, sizeof longer, "SMETHOD o 127.0.0.1:1 ARGS:k=%0*d", MFS_PT_ARGS_MAX - 1, 0);
	cr_assert_eq(parse(&l, longer), MFS_E_FORMAT);
	snprintf(longer, sizeof longer, "SMETHOD o 127.0.0.1:1 ARGS:k=%0*d", MFS_PT_ARGS_MAX - 2, 0);
	cr_assert_eq(parse(&l, longer), 0);
	cr_assert_eq(strlen(l.args), MFS_PT_ARGS_MAX);
}

Test(pt, a_bridge_address_splits_at_its_first_semicolon)
{
	char addr[MFS_PT_PEER_TEXT_MAX], args[MFS_PT_ARGS_MAX + 1];
	const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char text[MFS_PT_PEER_TEXT_MAX + 8];

	snprintf(text, sizeof text, "127.0.0.1:443#%s;cert=AB+c/9;iat-mode=0", key);
	cr_assert_eq(mfs_pt_peer_split(addr, sizeof addr, args, text), 0);
	cr_assert_eq(strncmp(addr, "127.0.0.1:443#", 14), 0);
	cr_assert_str_eq(addr + 14, key);
	cr_assert_str_eq(args, "cert=AB+c/9;iat-mode=0");
	cr_assert_eq(mfs_pt_peer_split(addr, sizeof addr, args, "[::1]:7"), 0);
	cr_assert_str_eq(addr, "[::1]:7");
	cr_assert_str_eq(args, "");
	cr_assert_eq(mfs_pt_peer_split(addr, sizeof addr, args, "h:1;a=b"), 0);
	cr_assert_str_eq(args, "a=b");
}

Test(pt, bad_bridge_arguments_are_refused)
{
	static const char *const bad[] = {
		"h:1;",         "h:1;cert",     "h:1;=x",       "h:1;cert=",     "h:1;a=b;",
		"h:1;a=b;;c=d", "h:1;a=b=c",    "h:1;a=b c",    "h:1;a=b\\;c=d", "h:1;a=b,c=d",
		"h:1;a:b=c",    "h:1;a=b;c",    "h:1;\xc3\xa9=x",
	};
	char addr[MFS_PT_PEER_TEXT_MAX], args[MFS_PT_ARGS_MAX + 1], text[400];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_eq(mfs_pt_peer_split(addr, sizeof addr, args, bad[i]), -EINVAL,
			     "'%s' was taken", bad[i]);
	snprintf(text, sizeof text, "h:1;k=%0*d", MFS_PT_ARGS_MAX - 1, 0);
	cr_assert_eq(mfs_pt_peer_split(addr, sizeof addr, args, text), -EINVAL);
	snprintf(text, sizeof text, "h:1;k=%0*d", MFS_PT_ARGS_MAX - 2, 0);
	cr_assert_eq(mfs_pt_peer_split(addr, sizeof addr, args, text), 0);
	cr_assert_eq(mfs_pt_peer_split(addr, 4, args, "h:12;a=b"), -EINVAL);
}

/* ---- the PT as a child ---- */

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/mfs-test-pt-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A stand-in PT: a shell script with body, in dir; its path in out. */
static void script(char out[static 128], const char *name, const char *body)
{
	FILE *f;

	snprintf(out, 128, "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(out, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	cr_assert_eq(chmod(out, 0700), 0);
}

static int start(struct mfs_pt **pt, const char *path, const char *bind, unsigned timeout_ms,
		 char *why)
{
	struct mfs_pt_config cfg = {.path = path,
				    .transport = "obfs4",
				    .state_dir = dir,
				    .bind = bind,
				    .orport = bind ? "127.0.0.1:9" : NULL,
				    .timeout_ms = timeout_ms};

	return mfs_pt_start(pt, &cfg, why, 400);
}

TestSuite(pt_process, .init = make_dir, .fini = remove_dir);

Test(pt_process, a_client_gets_the_environment_of_the_spec_and_its_port)
{
	char path[128], why[400], env[256];
	struct mfs_pt *pt;
	FILE *f;

	/* It writes what it was given, then answers as obfs4proxy does. */
	script(path, "pt", "env | grep ^TOR_PT_ | sort > \"$TOR_PT_STATE_LOCATION/env\"\n"
			   "echo 'LOG SEVERITY=notice MESSAGE=\"starting\"'\n"
			   "echo 'VERSION 1'\necho 'CMETHOD other socks4 127.0.0.1:1'\n"
			   "echo 'CMETHOD obfs4 socks5 127.0.0.1:43543'\necho 'CMETHODS DONE'\n"
			   "cat >/dev/null");
	cr_assert_eq(start(&pt, path, NULL, 5000, why), 0, "%s", why);
	cr_assert_str_eq(mfs_pt_host(pt), "127.0.0.1");
	cr_assert_eq(mfs_pt_port(pt), 43543);
	cr_assert_str_eq(mfs_pt_args(pt), "");
	mfs_pt_stop(pt); /* its stdin closes: cat ends, and so does it */
	snprintf(path, sizeof path, "%s/env", dir);
	cr_assert_not_null(f = fopen(path, "r"));
	size_t n = fread(env, 1, sizeof env - 1, f);
	env[n] = '\0';
	fclose(f);
	char want[256];
	snprintf(want, sizeof want, "TOR_PT_CLIENT_TRANSPORTS=obfs4\nTOR_PT_EXIT_ON_STDIN_CLOSE=1\n"
		 "TOR_PT_MANAGED_TRANSPORT_VER=1\nTOR_PT_STATE_LOCATION=%s\n", dir);
	cr_assert_str_eq(env, want);
}

/* A descriptor of ours without O_CLOEXEC (a mount daemon's pipe to its
 * parent, the store's files) does not reach the PT. */
Test(pt_process, the_pt_holds_no_descriptor_of_ours)
{
	char path[128], why[400], body[256];
	struct mfs_pt *pt;
	int leak[2];

	cr_assert_eq(pipe(leak), 0);
	/* Far from the low numbers the shell opens its script on. */
	cr_assert_eq(dup2(leak[0], 40), 40);
	cr_assert_eq(dup2(leak[1], 41), 41);
	close(leak[0]);
	close(leak[1]);
	leak[0] = 40;
	leak[1] = 41;
	snprintf(body, sizeof body, "[ -e /proc/$$/fd/%d ] && exit 9\n[ -e /proc/$$/fd/%d ] && exit 9\n"
		 "echo 'VERSION 1'\necho 'CMETHOD obfs4 socks5 127.0.0.1:1'\n"
		 "echo 'CMETHODS DONE'\ncat >/dev/null", leak[0], leak[1]);
	script(path, "pt", body);
	cr_assert_eq(start(&pt, path, NULL, 5000, why), 0, "%s", why);
	mfs_pt_stop(pt);
	close(leak[0]);
	close(leak[1]);
}

Test(pt_process, a_server_gets_its_bind_address_and_orport)
{
	char path[128], why[400];
	struct mfs_pt *pt;

	script(path, "pt", "[ \"$TOR_PT_SERVER_TRANSPORTS\" = obfs4 ] || exit 3\n"
			   "[ \"$TOR_PT_SERVER_BINDADDR\" = obfs4-127.0.0.1:5555 ] || exit 4\n"
			   "[ \"$TOR_PT_ORPORT\" = 127.0.0.1:9 ] || exit 5\n"
			   "[ -z \"$TOR_PT_CLIENT_TRANSPORTS\" ] || exit 6\n"
			   "echo 'VERSION 1'\n"
			   "echo 'SMETHOD obfs4 127.0.0.1:5555 ARGS:cert=abc,iat-mode=1'\n"
			   "echo 'SMETHODS DONE'\ncat >/dev/null");
	cr_assert_eq(start(&pt, path, "127.0.0.1:5555", 5000, why), 0, "%s", why);
	cr_assert_eq(mfs_pt_port(pt), 5555);
	cr_assert_str_eq(mfs_pt_args(pt), "cert=abc;iat-mode=1");
	mfs_pt_stop(pt);
}

/* Each refusal, with its error and the words that say it. */
Test(pt_process, refusals_say_why)
{
	static const struct {
		const char *body;
		int rc;
		const char *says;
	} cases[] = {
		{"echo 'VERSION-ERROR no-version'", -EPROTO, "VERSION-ERROR no-version"},
		{"echo 'VERSION 2'", -EPROTO, "version 2"},
		{"echo 'ENV-ERROR no TOR_PT_STATE_LOCATION'", -EPROTO, "ENV-ERROR no TOR_PT"},
		{"echo 'VERSION 1'; echo 'CMETHOD-ERROR obfs4 broken'", -EPROTO,
		 "CMETHOD-ERROR obfs4 broken"},
		{"echo 'VERSION 1'; echo 'CMETHODS DONE'", -EPROTO, "offers no client obfs4"},
		{"echo 'VERSION 1'; echo 'CMETHOD obfs4 socks4 127.0.0.1:1'", -EPROTO,
		 "not socks5"},
		{"echo 'CMETHOD obfs4 socks5 127.0.0.1'", MFS_E_FORMAT, "not the spec's"},
		{"exit 7", -ECHILD, "exited (status 7) before it was ready"},
		{"kill -9 $$", -ECHILD, "exited (signal 9)"},
		{"head -c 5000 /dev/zero | tr '\\0' x; cat", MFS_E_FORMAT, "longer than 4096"},
	};
	char path[128], why[400];
	struct mfs_pt *pt = (struct mfs_pt *)1;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char name[16];
		snprintf(name, sizeof name, "pt%zu", i);
		script(path, name, cases[i].body);
		cr_expect_eq(start(&pt, path, NULL, 5000, why), cases[i].rc, "%s: %s", cases[i].body,
			     why);
		cr_expect_null(pt);
		cr_expect(strstr(why, cases[i].says) != NULL, "%s said '%s'", cases[i].body, why);
		cr_expect(strstr(why, path) != NULL, "'%s' does not name the PT", why);
	}
}

Test(pt_process, a_missing_or_unrunnable_binary_is_refused_at_once)
{
	char path[128], why[400];
	struct mfs_pt *pt;

	snprintf(path, sizeof path, "%s/nothing", dir);
	cr_assert_eq(start(&pt, path, NULL, 5000, why), -ENOENT);
	cr_assert(strstr(why, "no such file"), "%s", why);
	script(path, "plain", "true");
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(start(&pt, path, NULL, 5000, why), -EACCES);
	cr_assert(strstr(why, "not an executable file"), "%s", why);
	cr_assert_eq(start(&pt, dir, NULL, 5000, why), -EACCES);
}

/* A PT silent on its stdout is killed at the timeout, and reaped: no
 * process of it is left. */
Test(pt_process, a_silent_pt_times_out_and_is_reaped)
{
	char path[128], why[400], pidfile[160];
	struct mfs_pt *pt;
	struct timespec t0, t1;
	FILE *f;
	int pid = 0;

	snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
	/* exec: the pid written is the one that holds the pipe. It ignores
	 * its stdin's end and SIGTERM's: only SIGKILL ends it. */
	script(path, "pt", "echo $$ > \"$TOR_PT_STATE_LOCATION/pid\"\necho 'VERSION 1'\n"
			   "trap '' TERM\nwhile :; do sleep 0.05; done");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(start(&pt, path, NULL, 300, why), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert(strstr(why, "within 300 ms"), "%s", why);
	cr_assert_not_null(f = fopen(pidfile, "r"));
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	cr_assert_eq(kill(pid, 0), -1, "the PT %d still runs", pid);
	cr_assert_eq(errno, ESRCH);
	/* 300 ms, 2 s for its stdin, 1 s for SIGTERM: about 3.3 s. */
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert(s > 3.2 && s < 6, "%.2f s", s);
}

Test(pt_process, the_real_obfs4proxy_client_and_server, .timeout = 30)
{
	const char *obfs4 = "/usr/bin/obfs4proxy";
	char why[400];
	struct mfs_pt *client, *server;

	if (access(obfs4, X_OK) != 0)
		cr_skip_test("no %s (tools/deps.sh installs it)", obfs4);
	cr_assert_eq(start(&client, obfs4, NULL, 10000, why), 0, "%s", why);
	cr_assert_str_eq(mfs_pt_host(client), "127.0.0.1");
	cr_assert_neq(mfs_pt_port(client), 0);
	cr_assert_eq(start(&server, obfs4, "127.0.0.1:0", 10000, why), 0, "%s", why);
	cr_assert_neq(mfs_pt_port(server), 0);
	cr_assert_eq(strncmp(mfs_pt_args(server), "cert=", 5), 0, "%s", mfs_pt_args(server));
	cr_assert(strstr(mfs_pt_args(server), ";iat-mode=0"), "%s", mfs_pt_args(server));
	mfs_pt_stop(client);
	mfs_pt_stop(server);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left unreaped");
}
