/* cli: what every megafs subcommand shares: the common options, where the
 * store is, how passwords are read, opening the store and a volume, and
 * printing errors. Passwords live in guarded memory and are wiped. */
#ifndef MFS_CLI_H
#define MFS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/store/store.h"
#include "fs/store/volume.h"

enum cli_common_opt {
	OPT_STORE = 1000,
	OPT_PASSWORD_FILE,
	OPT_PROTECT_FILE,
	OPT_NEW_PASSWORD_FILE,
	OPT_PROTECT_PROMPT,
	OPT_TRACKER,
	OPT_LISTEN,
	OPT_PEER,
	OPT_DHT,
	OPT_DHT_BOOTSTRAP,
	OPT_DHT_INTERVAL,
	OPT_DHT_PORT,
	OPT_BOOTSTRAP,
	OPT_PROXY,
	OPT_TRANSPORT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_SNI,
	OPT_PT,
	OPT_MODE,
};

#define CLI_COMMON_OPTIONS                                                   \
	{"store", required_argument, NULL, OPT_STORE},                       \
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},       \
	{"protect-file", required_argument, NULL, OPT_PROTECT_FILE},         \
	{"new-password-file", required_argument, NULL, OPT_NEW_PASSWORD_FILE}, \
	{"protect", no_argument, NULL, OPT_PROTECT_PROMPT}

struct cli {
	const char *cmd;               /* e.g. "init", for messages */
	const char *store_arg;         /* --store, else MEGAFS_STORE, else default */
	const char *password_file;
	const char *protect_file;
	const char *new_password_file;
	int protect_prompt;            /* --protect: ask for the protect password */
	char store_dir[4096];
};

struct cli_password {
	char *text;                    /* guarded, NUL-terminated */
	size_t len;
};

enum cli_pw_kind { PW_MAIN, PW_PROTECT, PW_NEW };

void cli_init(struct cli *c, const char *cmd);
/* 1 when opt was a common option (and was taken), else 0. */
int cli_common_option(struct cli *c, int opt, const char *arg);
/* Parses the arguments of a subcommand that takes only the common options
 * and no operand: 0, else the exit status to return (2, said). */
int cli_parse_common_only(struct cli *c, int argc, char **argv);
/* Resolves the store directory into c->store_dir. */
int cli_resolve_store(struct cli *c);

/* Reads a password of the given kind: from its file option, its environment
 * variable, or the terminal without echo (twice when confirm is set).
 * PW_PROTECT is optional: *pw stays empty (text NULL) when no file or
 * variable names one and --protect did not ask for it. */
int cli_read_password(struct cli *c, enum cli_pw_kind kind, const char *prompt, int confirm,
		      struct cli_password *pw);
void cli_password_clear(struct cli_password *pw);

/* Opens the store and the volume the password opens (with the protected
 * volume, if one is named). Prints the error and returns non-zero on failure. */
int cli_open_volume(struct cli *c, struct mfs_store **store, struct mfs_volume **vol);
/* Opens, in an open store, the volume pw opens, protecting the one protect
 * opens (protect->text NULL: none). On failure prints what is wrong and
 * what to do (a protect password that opens the same volume, or opens
 * none while the password is right) and returns 1. */
int cli_volume_open(struct cli *c, struct mfs_store *store, const struct cli_password *pw,
		    const struct cli_password *protect, struct mfs_volume **vol);

/* "megafs <cmd>: <what>: <error>" on stderr; returns 1 (an exit status). */
int cli_fail(const struct cli *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A usage error: "megafs <cmd>: <what>" on stderr; returns 2. */
int cli_usage(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats a byte count like "1.5 MiB". */
void cli_human_bytes(char *out, size_t len, uint64_t bytes);
/* Parses "256M", "1G", "4096", "64K" (powers of 1024). */
int cli_parse_size(const char *text, uint64_t *out);

/* Subcommands: int cmd_x(int argc, char **argv), argv[0] = the subcommand. */
int cmd_init(int argc, char **argv);
int cmd_channel(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_tracker(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_dht(int argc, char **argv);

#endif
