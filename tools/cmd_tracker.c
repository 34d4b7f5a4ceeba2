/* megafs tracker: run a tracker (net/tracker_server) in the foreground
 * until SIGINT or SIGTERM. It has no store and asks for no password. With
 * --tls-cert and --tls-key it speaks wss:// only and prints the URL to
 * hand out, its certificate's pin included; without, it warns that ws://
 * is readable on the path. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "crypto/mfs_error.h"
#include "net/hostport.h"
#include "net/tls.h"
#include "net/tracker_proto.h"
#include "net/tracker_server.h"
#include "tools/cli.h"
#include "tools/notify.h"

enum {
	TOPT_LISTEN = 1,
	TOPT_DB,
	TOPT_MAX_MESSAGE,
	TOPT_MAX_SUBSCRIPTIONS,
	TOPT_MAX_PER_RANGE,
	TOPT_RANGE_V4,
	TOPT_RANGE_V6,
	TOPT_IDLE_TIMEOUT,
	TOPT_MAX_ANNOUNCED,
	TOPT_MAX_KEYS,
	TOPT_MAX_BYTES,
	TOPT_MAX_KEYS_PER_RANGE,
	TOPT_MAX_BYTES_PER_RANGE,
	TOPT_MAX_CONNECTIONS,
	TOPT_INTERVAL,
	TOPT_TLS_CERT,
	TOPT_TLS_KEY,
	TOPT_HTTP_PORT,
};

struct run {
	struct mfs_tracker_server *server;
	uv_signal_t sigint, sigterm;
};

static int parse_count(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return errno || end == text || *end || text[0] == '-' || *out < 1 || *out > max ? -EINVAL
											 : 0;
}

/* The options that take a whole number, and where it goes. */
static const struct {
	int opt;
	const char *name;
	unsigned long max;
	const char *what; /* the number asked for, as an error says it */
	size_t offset;
	size_t width;     /* the field's size: unsigned or size_t */
} count_options[] = {
#define COUNT(o, n, m, w, field)                                                              \
	{o, n, m, w, offsetof(struct mfs_tracker_server_config, field),                       \
	 sizeof(((struct mfs_tracker_server_config *)0)->field)}
	COUNT(TOPT_MAX_SUBSCRIPTIONS, "max-subscriptions", 1ul << 20, "a count >= 1",
	      max_subscriptions),
	COUNT(TOPT_MAX_PER_RANGE, "max-per-range", 1ul << 20, "a count >= 1", max_per_range),
	COUNT(TOPT_RANGE_V4, "range-v4", 32, "prefix bits, 1 to 32", range_bits_v4),
	COUNT(TOPT_RANGE_V6, "range-v6", 128, "prefix bits, 1 to 128", range_bits_v6),
	COUNT(TOPT_IDLE_TIMEOUT, "idle-timeout", 86400, "seconds, 1 to 86400", idle_timeout),
	COUNT(TOPT_MAX_ANNOUNCED, "max-announced-per-range", 1ul << 20, "a count >= 1",
	      max_announced_per_range),
	COUNT(TOPT_MAX_KEYS, "max-keys", 1ul << 30, "a count >= 1", max_keys),
	COUNT(TOPT_MAX_KEYS_PER_RANGE, "max-keys-per-range", 1ul << 30, "a count >= 1",
	      max_keys_per_range),
	COUNT(TOPT_MAX_CONNECTIONS, "max-connections", 1ul << 20, "a count >= 1", max_connections),
	COUNT(TOPT_INTERVAL, "interval", 86400, "seconds, 1 to 86400", interval),
#undef COUNT
};

/* Sets the count option opt from text: 0, or the usage error's exit status. */
static int set_count(struct cli *c, struct mfs_tracker_server_config *cfg, int opt,
		     const char *text)
{
	unsigned long n;

	for (size_t i = 0; i < sizeof count_options / sizeof count_options[0]; i++) {
		if (count_options[i].opt != opt)
			continue;
		if (parse_count(text, count_options[i].max, &n) != 0)
			return cli_usage(c, "--%s %s: %s", count_options[i].name, text,
					 count_options[i].what);
		if (count_options[i].width == sizeof(unsigned))
			*(unsigned *)((char *)cfg + count_options[i].offset) = (unsigned)n;
		else
			*(size_t *)((char *)cfg + count_options[i].offset) = n;
		return 0;
	}
	return cli_usage(c, "usage: megafs tracker --listen HOST:PORT [--db DIR]");
}

/* mkdir -p, every new directory 0700. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int default_db(char *out, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/megafs-tracker", xdg);
	else if (home && home[0])
		n = snprintf(out, len, "%s/.local/share/megafs-tracker", home);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Every connection is a descriptor: take the hard limit, not the soft one. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct run *run = sig->data;

	(void)signum;
	mfs_notify("STOPPING=1");
	mfs_tracker_server_stop(run->server);
	run->server = NULL;
	uv_close((uv_handle_t *)&run->sigint, NULL);
	uv_close((uv_handle_t *)&run->sigterm, NULL);
}

int cmd_tracker(int argc, char **argv)
{
	static const struct option options[] = {
		{"listen", required_argument, NULL, TOPT_LISTEN},
		{"db", required_argument, NULL, TOPT_DB},
		{"max-message", required_argument, NULL, TOPT_MAX_MESSAGE},
		{"max-subscriptions", required_argument, NULL, TOPT_MAX_SUBSCRIPTIONS},
		{"max-per-range", required_argument, NULL, TOPT_MAX_PER_RANGE},
		{"range-v4", required_argument, NULL, TOPT_RANGE_V4},
		{"range-v6", required_argument, NULL, TOPT_RANGE_V6},
		{"idle-timeout", required_argument, NULL, TOPT_IDLE_TIMEOUT},
		{"max-announced-per-range", required_argument, NULL, TOPT_MAX_ANNOUNCED},
		{"max-keys", required_argument, NULL, TOPT_MAX_KEYS},
		{"max-bytes", required_argument, NULL, TOPT_MAX_BYTES},
		{"max-keys-per-range", required_argument, NULL, TOPT_MAX_KEYS_PER_RANGE},
		{"max-bytes-per-range", required_argument, NULL, TOPT_MAX_BYTES_PER_RANGE},
		{"max-connections", required_argument, NULL, TOPT_MAX_CONNECTIONS},
		{"interval", required_argument, NULL, TOPT_INTERVAL},
		{"tls-cert", required_argument, NULL, TOPT_TLS_CERT},
		{"tls-key", required_argument, NULL, TOPT_TLS_KEY},
		{"http-port", required_argument, NULL, TOPT_HTTP_PORT},
		{NULL, 0, NULL, 0},
	};
	struct mfs_tracker_server_config cfg = {0};
	char listen[MFS_HOSTPORT_HOST_MAX + 1], db[4096], shown[MFS_HOSTPORT_TEXT_MAX];
	char why[256], pin_text[MFS_TLS_PIN_TEXT_MAX];
	uint8_t pin[MFS_TLS_PIN_BYTES];
	const char *listen_arg = NULL, *db_arg = NULL;
	struct run run = {0};
	uint64_t size;
	uv_loop_t loop;
	struct cli c;
	int opt, rc;

	cli_init(&c, "tracker");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case TOPT_LISTEN:
			listen_arg = optarg;
			break;
		case TOPT_DB:
			db_arg = optarg;
			break;
		case TOPT_TLS_CERT:
			cfg.tls_cert = optarg;
			break;
		case TOPT_TLS_KEY:
			cfg.tls_key = optarg;
			break;
		case TOPT_HTTP_PORT: {
			char *end;
			unsigned long port;

			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || port > 65535)
				return cli_usage(&c, "--http-port %s: a port, 0 to 65535 (0: any)",
						 optarg);
			cfg.http = 1;
			cfg.http_port = (uint16_t)port;
			break;
		}
		case TOPT_MAX_MESSAGE:
			if (cli_parse_size(optarg, &size) != 0 || size < 1024 ||
			    size > MFS_TRACKER_MESSAGE_MAX)
				return cli_usage(&c, "--max-message %s: a size from 1K to 1M", optarg);
			cfg.max_message = size;
			break;
		case TOPT_MAX_BYTES:
		case TOPT_MAX_BYTES_PER_RANGE:
			if (cli_parse_size(optarg, &size) != 0 || size < 1024 || size > ((uint64_t)1 << 40))
				return cli_usage(&c, "--%s %s: a size from 1K to 1T",
						 opt == TOPT_MAX_BYTES ? "max-bytes" : "max-bytes-per-range",
						 optarg);
			*(opt == TOPT_MAX_BYTES ? &cfg.max_bytes : &cfg.max_bytes_per_range) = size;
			break;
		default:
			rc = set_count(&c, &cfg, opt, optarg);
			if (rc != 0)
				return rc;
		}
	}
	if (optind != argc)
		return cli_usage(&c, "unexpected argument '%s'", argv[optind]);
	if (!listen_arg)
		return cli_usage(&c, "usage: megafs tracker --listen HOST:PORT [--db DIR]");
	if (mfs_hostport_parse(listen, &cfg.port, listen_arg, strlen(listen_arg), 0) != 0)
		return cli_usage(&c, "--listen %s: expected HOST:PORT or [IPV6]:PORT", listen_arg);
	cfg.host = listen;
	if (!cfg.tls_cert != !cfg.tls_key)
		return cli_usage(&c, "%s: wss:// needs both --tls-cert FILE and --tls-key FILE",
				 cfg.tls_cert ? "--tls-cert" : "--tls-key");
	if (cfg.tls_cert && (rc = mfs_tls_server_check(pin, cfg.tls_cert, cfg.tls_key, why,
							sizeof why)) != 0)
		return cli_fail(&c, 0, "%s", why);
	if (db_arg) {
		if (strlen(db_arg) >= sizeof db)
			return cli_usage(&c, "--db: path too long");
		strcpy(db, db_arg);
	} else if ((rc = default_db(db, sizeof db)) != 0) {
		return cli_fail(&c, rc, "no --db and no HOME for the default database");
	}
	if ((rc = make_dirs(db)) != 0)
		return cli_fail(&c, rc, "%s", db);
	cfg.db_dir = db;
	raise_fd_limit();

	if ((rc = uv_loop_init(&loop)) != 0)
		return cli_fail(&c, rc, "starting the event loop");
	rc = mfs_tracker_server_start(&run.server, &loop, &cfg);
	if (rc != 0) {
		cli_fail(&c, rc, "listening on %s (database %s)", listen_arg, db);
		uv_run(&loop, UV_RUN_DEFAULT); /* lets lws finish closing */
		uv_loop_close(&loop);
		return 1;
	}
	uv_signal_init(&loop, &run.sigint);
	uv_signal_init(&loop, &run.sigterm);
	run.sigint.data = run.sigterm.data = &run;
	uv_signal_start(&run.sigint, on_signal, SIGINT);
	uv_signal_start(&run.sigterm, on_signal, SIGTERM);
	mfs_hostport_format(shown, sizeof shown, cfg.host, mfs_tracker_server_port(run.server));
	if (cfg.tls_cert) {
		mfs_tls_pin_format(pin_text, pin);
		printf("megafs tracker: listening on wss://%s/#%s\n", shown, pin_text);
		printf("megafs tracker: certificate %s (hand out the URL with it; clients "
		       "that trust a CA for this name may leave it out)\n", pin_text);
	} else {
		printf("megafs tracker: listening on ws://%s\n", shown);
		fprintf(stderr, "megafs tracker: warning: plain ws://: whoever is on a client's "
			"path reads the channels it follows and the manifests it publishes; "
			"give --tls-cert and --tls-key for wss://\n");
	}
	if (cfg.http) {
		mfs_hostport_format(shown, sizeof shown, cfg.host,
				    mfs_tracker_server_http_port(run.server));
		printf("megafs tracker: BitTorrent announces on %s://%s/announce\n",
		       cfg.tls_cert ? "https" : "http", shown);
	}
	fflush(stdout);
	mfs_notify("READY=1");

	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc != 0)
		return cli_fail(&c, rc, "closing the event loop");
	return 0;
}
