#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"

/* Bytes a password may have; a longer one is refused, never cut short. A
 * file may hold that and a line end ("\r\n"). */
#define PASSWORD_MAX 4096
#define PASSWORD_FILE_MAX (PASSWORD_MAX + 2)

void cli_init(struct cli *c, const char *cmd)
{
	memset(c, 0, sizeof *c);
	c->cmd = cmd;
}

int cli_common_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_STORE:
		c->store_arg = arg;
		return 1;
	case OPT_PASSWORD_FILE:
		c->password_file = arg;
		return 1;
	case OPT_PROTECT_FILE:
		c->protect_file = arg;
		return 1;
	case OPT_NEW_PASSWORD_FILE:
		c->new_password_file = arg;
		return 1;
	case OPT_PROTECT_PROMPT:
		c->protect_prompt = 1;
		return 1;
	default:
		return 0;
	}
}

int cli_parse_common_only(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		if (!cli_common_option(c, opt, optarg))
			return 2;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cli_resolve_store(struct cli *c)
{
	const char *dir = c->store_arg, *xdg, *home;
	int n;

	if (!dir || !*dir)
		dir = getenv("MEGAFS_STORE");
	if (dir && *dir) {
		n = snprintf(c->store_dir, sizeof c->store_dir, "%s", dir);
	} else if ((xdg = getenv("XDG_DATA_HOME")) && *xdg) {
		n = snprintf(c->store_dir, sizeof c->store_dir, "%s/megafs", xdg);
	} else if ((home = getenv("HOME")) && *home) {
		n = snprintf(c->store_dir, sizeof c->store_dir, "%s/.local/share/megafs", home);
	} else {
		return cli_fail(c, 0, "no store: give --store DIR or set MEGAFS_STORE");
	}
	if (n < 0 || (size_t)n >= sizeof c->store_dir)
		return cli_fail(c, -ENAMETOOLONG, "store path");
	return 0;
}

int cli_fail(const struct cli *c, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "megafs %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", mfs_strerror(err));
	fputc('\n', stderr);
	return 1;
}

int cli_usage(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "megafs %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see 'megafs help')\n", stderr);
	return 2;
}

void cli_password_clear(struct cli_password *pw)
{
	mfs_secure_free(pw->text);
	pw->text = NULL;
	pw->len = 0;
}

static int pw_alloc(struct cli_password *pw)
{
	pw->text = mfs_secure_alloc(PASSWORD_FILE_MAX + 1);
	pw->len = 0;
	return pw->text ? 0 : -ENOMEM;
}

/* The whole file (a pipe may deliver it in pieces), one trailing newline
 * dropped: that is how files end, not part of the password. -E2BIG when
 * what is left is longer than PASSWORD_MAX (reads stop just past that). */
static int pw_from_file(struct cli_password *pw, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t got;

	if (fd < 0)
		return -errno;
	do {
		got = read(fd, pw->text + n, PASSWORD_FILE_MAX + 1 - n);
		if (got > 0)
			n += (size_t)got;
	} while ((got > 0 && n <= PASSWORD_FILE_MAX) || (got < 0 && errno == EINTR));
	if (got < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	pw->len = n;
	if (pw->len > 0 && pw->text[pw->len - 1] == '\n')
		pw->len--;
	if (pw->len > 0 && pw->text[pw->len - 1] == '\r')
		pw->len--;
	if (n > PASSWORD_FILE_MAX || pw->len > PASSWORD_MAX) {
		pw->len = 0;
		return -E2BIG;
	}
	pw->text[pw->len] = '\0';
	return 0;
}

static int pw_from_tty(struct cli_password *pw, const char *prompt)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	int rc = 0;
	size_t n = 0;

	if (fd < 0)
		return -ENOTTY;
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		return -ENOTTY;
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		close(fd);
		return -EIO;
	}
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (n >= PASSWORD_MAX) {
			rc = -E2BIG;
			continue; /* drain the line */
		}
		pw->text[n++] = ch;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = rc ? rc : -EIO;
	close(fd);
	pw->len = n;
	pw->text[n] = '\0';
	return rc;
}

int cli_read_password(struct cli *c, enum cli_pw_kind kind, const char *prompt, int confirm,
		      struct cli_password *pw)
{
	static const char *const envs[] = {"MEGAFS_PASSWORD", "MEGAFS_PROTECT_PASSWORD",
					   "MEGAFS_NEW_PASSWORD"};
	static const char *const opts[] = {"--password-file", "--protect-file",
					   "--new-password-file"};
	const char *file = kind == PW_MAIN	  ? c->password_file
			   : kind == PW_PROTECT ? c->protect_file
						: c->new_password_file;
	const char *env = getenv(envs[kind]);
	int rc;

	if (env && !*env)
		env = NULL; /* set but empty counts as not set */

	pw->text = NULL;
	pw->len = 0;
	if (kind == PW_PROTECT && !file && !env && !c->protect_prompt)
		return 0;
	rc = pw_alloc(pw);
	if (rc != 0)
		return cli_fail(c, rc, "password");
	if (file) {
		rc = pw_from_file(pw, file);
		if (rc != 0 && rc != -E2BIG) {
			cli_password_clear(pw);
			return cli_fail(c, rc, "cannot read password file %s", file);
		}
	} else if (env) {
		rc = strlen(env) > PASSWORD_MAX ? -E2BIG : 0;
		pw->len = rc == 0 ? strlen(env) : 0;
		memcpy(pw->text, env, pw->len);
		pw->text[pw->len] = '\0';
	} else {
		rc = pw_from_tty(pw, prompt);
		if (rc == -ENOTTY) {
			cli_password_clear(pw);
			return cli_fail(c, 0, "no password: give %s F or set %s, or run on a terminal",
					opts[kind], envs[kind]);
		}
		if (rc == 0 && confirm) {
			struct cli_password again;

			rc = pw_alloc(&again);
			if (rc == 0)
				rc = pw_from_tty(&again, "Repeat the password: ");
			if (rc == 0 && (again.len != pw->len ||
					!mfs_memeq(again.text, pw->text, pw->len)))
				rc = MFS_E_AUTH;
			cli_password_clear(&again);
			if (rc == MFS_E_AUTH) {
				cli_password_clear(pw);
				return cli_fail(c, 0, "the two passwords differ; nothing was changed");
			}
		}
		if (rc != 0 && rc != -E2BIG) {
			cli_password_clear(pw);
			return cli_fail(c, rc, "reading the password");
		}
	}
	if (rc == -E2BIG || pw->len == 0) {
		const char *from = file ? file : env ? envs[kind] : "the terminal";

		cli_password_clear(pw);
		if (rc == -E2BIG)
			return cli_fail(c, 0, "the password from %s is longer than %d bytes; "
					"nothing was done", from, PASSWORD_MAX);
		return cli_fail(c, 0, "the password from %s is empty; give a password "
				"(nothing was done)", from);
	}
	return 0;
}

int cli_volume_open(struct cli *c, struct mfs_store *store, const struct cli_password *pw,
		    const struct cli_password *protect, struct mfs_volume **vol)
{
	struct mfs_volume *alone = NULL;
	int rc;

	*vol = NULL;
	/* Protecting a volume from itself means nothing (the volume layer says
	 * MFS_E_FORMAT, "malformed input"): say what is wrong and what to do. */
	if (protect->text && protect->len == pw->len && mfs_memeq(protect->text, pw->text, pw->len))
		return cli_fail(c, 0, "the protect password is the password itself: give the other "
				"volume's password as the protect password, or none");
	rc = mfs_volume_open(vol, store, pw->text, pw->len, protect->text, protect->len);
	if (rc == 0)
		return 0;
	if (rc == MFS_E_FORMAT && protect->text)
		return cli_fail(c, 0, "the protect password opens the same volume as the password: "
				"give the other volume's password as the protect password, or none");
	if (rc == MFS_E_BADPASS && protect->text) {
		/* Which of the two opens nothing? The user holds both: telling
		 * them costs one more key derivation, and says nothing to others. */
		if (mfs_volume_open(&alone, store, pw->text, pw->len, NULL, 0) == 0) {
			mfs_volume_close(alone);
			return cli_fail(c, 0, "the password opens a volume, but the protect password "
					"opens none in %s: check the protect password", c->store_dir);
		}
	}
	return cli_fail(c, rc, "cannot open a volume in %s", c->store_dir);
}

int cli_open_volume(struct cli *c, struct mfs_store **store, struct mfs_volume **vol)
{
	struct cli_password pw = {0}, protect = {0};
	int rc;

	*store = NULL;
	*vol = NULL;
	if (cli_resolve_store(c) != 0)
		return 1;
	rc = mfs_store_open(store, c->store_dir);
	if (rc != 0)
		return cli_fail(c, rc, "cannot open the store %s", c->store_dir);
	if (cli_read_password(c, PW_MAIN, "Password: ", 0, &pw) != 0 ||
	    cli_read_password(c, PW_PROTECT, "Password of the volume to protect: ", 0, &protect) != 0)
		rc = 1;
	else
		rc = cli_volume_open(c, *store, &pw, &protect, vol);
	cli_password_clear(&pw);
	cli_password_clear(&protect);
	if (rc != 0) {
		mfs_store_close(*store);
		*store = NULL;
	}
	return rc;
}

void cli_human_bytes(char *out, size_t len, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}

int cli_parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		return MFS_E_FORMAT;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	case 'T': case 't':
		shift = 40;
		break;
	default:
		return MFS_E_FORMAT;
	}
	if (*end && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
		return MFS_E_FORMAT;
	if (shift && v > (UINT64_MAX >> shift))
		return MFS_E_FORMAT;
	*out = (uint64_t)v << shift;
	return 0;
}
