#include "tools/netopts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/channel/channel.h"
#include "net/bootstrap.h"
#include "net/hostport.h"
#include "net/tls_link.h"
#include "net/pt.h"
#include "net/tracker_client.h"

#define DHT_VIA_PROXY                                                                       \
	"--proxy and the DHT options: the DHT speaks UDP, which a SOCKS5 proxy does not "     \
	"carry, and a DHT node beside the proxy would show who you are"

/* The one proxy of the process (options are read once): guarded, wiped at exit. */
static struct mfs_socks5_proxy *the_proxy;

static void free_proxy(void)
{
	mfs_secure_free(the_proxy);
	the_proxy = NULL;
}

/* --proxy URL: read into guarded memory, and the URL's credentials in argv
 * overwritten, so that the process list does not show them for long. */
static int take_proxy(struct cli *c, struct net_opts *n, char *arg)
{
	char why[160];
	char *at = strrchr(arg, '@');

	if (n->dht)
		return cli_usage(c, DHT_VIA_PROXY);
	if (!the_proxy) {
		if (!(the_proxy = mfs_secure_alloc(sizeof *the_proxy)))
			return cli_fail(c, -ENOMEM, "--proxy");
		atexit(free_proxy);
	}
	if (mfs_socks5_url_parse(the_proxy, arg, why, sizeof why) != 0)
		return cli_usage(c, "--proxy %s: %s", at ? "socks5://...@..." : arg, why);
	for (char *p = arg + sizeof "socks5://" - 1; at && p < at; p++)
		*p = '*';
	n->proxy = the_proxy;
	return 1;
}

/* The texts of the bootstrap files read (entries point into them): freed
 * at exit, since the options live as long as the process. */
#define MAX_BOOTSTRAP_FILES 8
static char *bootstrap_texts[MAX_BOOTSTRAP_FILES];
static size_t n_bootstrap_texts;

static void free_bootstrap_texts(void)
{
	while (n_bootstrap_texts)
		free(bootstrap_texts[--n_bootstrap_texts]);
}

/* The whole of a small file, '\0'-terminated, in *out (free()): 0, -errno,
 * or -EFBIG past max bytes. */
static int read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = malloc(max + 2);
	size_t got = 0;
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || !buf) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while (got <= max && (n = read(fd, buf + got, max + 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		got += (size_t)n;
	}
	if (got > max)
		rc = -EFBIG;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

struct bootstrap_take {
	struct cli *c;
	struct net_opts *n;
	const char *path;
	char *copy_at; /* where the next value goes, '\0'-terminated */
};

/* One entry: into --tracker's or --peer's list, as if given there. The
 * file's text is rewritten in place: each value moves left over its kind
 * and gets its '\0', so the entries need no memory of their own. */
static int take_bootstrap_entry(void *ctx, enum mfs_bootstrap_kind kind, const char *value,
				size_t len, size_t line)
{
	struct bootstrap_take *b = ctx;
	struct net_opts *n = b->n;
	char *text = b->copy_at;

	memmove(text, value, len);
	text[len] = '\0';
	b->copy_at = text + len + 1;
	if (kind == MFS_BOOTSTRAP_TRACKER) {
		if (mfs_tracker_url_check(text) != 0)
			return cli_usage(b->c, "--bootstrap %s, line %zu: '%s' is not a tracker URL "
					 "(wss://HOST[:PORT][/PATH][#sha256=FINGERPRINT] or "
					 "ws://HOST[:PORT][/PATH])", b->path, line, text);
		if (n->n_trackers == NET_MAX_TRACKERS)
			return cli_usage(b->c, "--bootstrap %s, line %zu: at most %d trackers in all",
					 b->path, line, NET_MAX_TRACKERS);
		n->trackers[n->n_trackers++] = text;
	} else {
		if (n->n_peers == NET_MAX_PEERS)
			return cli_usage(b->c, "--bootstrap %s, line %zu: at most %d peers in all",
					 b->path, line, NET_MAX_PEERS);
		n->peers[n->n_peers++] = text;
	}
	return 0;
}

/* --bootstrap FILE: every entry or none (a usage error names the line). */
static int take_bootstrap(struct cli *c, struct net_opts *n, const char *path)
{
	struct bootstrap_take b = {.c = c, .n = n, .path = path};
	size_t len, line, trackers = n->n_trackers, peers = n->n_peers;
	char why[MFS_BOOTSTRAP_WHY_MAX];
	char *text;
	int rc;

	if (n_bootstrap_texts == MAX_BOOTSTRAP_FILES)
		return cli_usage(c, "--bootstrap: at most %d files", MAX_BOOTSTRAP_FILES);
	rc = read_small_file(path, MFS_BOOTSTRAP_FILE_MAX, &text, &len);
	if (rc == -EFBIG)
		return cli_usage(c, "--bootstrap %s: larger than %u bytes: not a bootstrap file",
				 path, MFS_BOOTSTRAP_FILE_MAX);
	if (rc != 0) {
		cli_fail(c, rc, "--bootstrap %s", path);
		return 2;
	}
	if (!n_bootstrap_texts)
		atexit(free_bootstrap_texts);
	bootstrap_texts[n_bootstrap_texts++] = text;
	b.copy_at = text;
	rc = mfs_bootstrap_parse(text, len, take_bootstrap_entry, &b, &line, why);
	if (rc == -EINVAL && why[0] && line)
		cli_usage(c, "--bootstrap %s, line %zu: %s", path, line, why);
	else if (rc == -EINVAL && why[0])
		cli_usage(c, "--bootstrap %s: %s", path, why);
	if (rc != 0) {
		n->n_trackers = trackers;
		n->n_peers = peers;
		return 2;
	}
	return 1;
}

/* The one tls context of the process (options are read once). */
static struct mfs_tls_link_ctx the_tls;

static void free_tls(void)
{
	mfs_tls_link_ctx_clear(&the_tls);
}

static int tls_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_TRANSPORT:
		if (strcmp(arg, "tcp") != 0 && strcmp(arg, "tls") != 0 && strcmp(arg, "obfs4") != 0)
			return cli_usage(c, "--transport %s: tcp, tls, or obfs4 (with --pt PATH, a "
					 "pluggable transport's binary)", arg);
		n->tls = strcmp(arg, "tls") == 0;
		n->transport = strcmp(arg, "obfs4") == 0 ? arg : NULL;
		n->transport_given = 1;
		return 1;
	case OPT_MODE:
		if (strcmp(arg, "direct") != 0 && strcmp(arg, "obfs") != 0 && strcmp(arg, "tor") != 0)
			return cli_usage(c, "--mode %s: direct, obfs or tor", arg);
		n->mode = arg;
		return 1;
	case OPT_TLS_CERT:
		n->tls_cert = arg;
		return 1;
	case OPT_TLS_KEY:
		n->tls_key = arg;
		return 1;
	case OPT_TLS_SNI:
		n->tls_sni = arg;
		return 1;
	default:
		return 0;
	}
}

/* A given peer is a bridge (";ARGS" after its address) exactly when a
 * transport is given. */
static int check_peer(struct cli *c, const struct net_opts *n, const char *peer)
{
	char head[MFS_PT_PEER_TEXT_MAX], args[MFS_PT_ARGS_MAX + 1];
	int addr_len = (int)strcspn(peer, ";");

	if (mfs_pt_peer_split(head, sizeof head, args, peer) != 0)
		return cli_usage(c, "--peer %.*s: bridge arguments are KEY=VALUE joined by ';', "
				 "255 bytes at most", addr_len, peer);
	if (n->transport && !args[0])
		return cli_usage(c, "--peer %s: through --transport %s a peer is a bridge, "
				 "HOST:PORT#KEY;cert=...;iat-mode=N, as megafs serve --transport "
				 "%s prints it", peer, n->transport, n->transport);
	if (!n->transport && args[0])
		return cli_usage(c, "--peer %.*s: a bridge (arguments after ';') is reached "
				 "only through its pluggable transport: --transport obfs4 --pt PATH",
				 addr_len, peer);
	return 0;
}

static int pt_check(struct cli *c, const struct net_opts *n)
{
	if (n->transport && !n->pt)
		return cli_usage(c, "--transport %s needs --pt PATH, the pluggable transport's "
				 "binary (e.g. /usr/bin/obfs4proxy)", n->transport);
	if (n->pt && !n->transport)
		return cli_usage(c, "--pt needs --transport (obfs4)");
	if (n->transport && n->proxy)
		return cli_usage(c, "--transport %s and --proxy: not chained (the transport's "
				 "own SOCKS5 port is every dial's proxy); give one", n->transport);
	if (n->transport && n->dht)
		return cli_usage(c, "--transport %s and the DHT options: the DHT speaks UDP "
				 "around the transport, and names no bridge", n->transport);
	if (n->transport && n->n_trackers)
		return cli_usage(c, "--transport %s and --tracker: a tracker names peers "
				 "without their bridge arguments, and is reached around the "
				 "transport; name the bridges with --peer", n->transport);
	for (size_t i = 0; i < n->n_peers; i++)
		if (check_peer(c, n, n->peers[i]) != 0)
			return 2;
	return 0;
}

/* --mode: the preset, applied after the options (what was given stays,
 * unless it contradicts the mode). 0, or 2 after a usage error. */
static int apply_mode(struct cli *c, struct net_opts *n)
{
	char tor_port[] = "socks5://127.0.0.1:9050"; /* take_proxy may write to it */

	if (!n->mode || strcmp(n->mode, "direct") == 0) {
		if (n->mode && n->proxy)
			return cli_usage(c, "--mode direct and --proxy: direct dials peers and "
					 "trackers itself; give one");
		return 0;
	}
	if (strcmp(n->mode, "obfs") == 0) {
		if (n->dht)
			return cli_usage(c, "--mode obfs and the DHT options: the DHT's UDP "
					 "messages are plain BitTorrent KRPC, plain to see on the wire");
		for (size_t i = 0; i < n->n_trackers; i++)
			if (strncasecmp(n->trackers[i], "wss://", 6) != 0)
				return cli_usage(c, "--mode obfs and the tracker %s: plain ws:// "
						 "shows megafs's messages on the wire; use wss://",
						 n->trackers[i]);
		if (!n->transport_given)
			n->tls = 1;
		return 0;
	}
	if (n->listen)
		return cli_usage(c, "--mode tor and --listen: a listener is reached at this "
				 "machine's own address, around Tor");
	if (n->transport)
		return cli_usage(c, "--mode tor and --transport %s: not chained (the "
				 "transport's own SOCKS5 port is every dial's proxy)", n->transport);
	if (!n->proxy && take_proxy(c, n, tor_port) != 1)
		return 2;
	return 0;
}

int net_check(struct cli *c, struct net_opts *n)
{
	char why[384];
	int rc;

	if (apply_mode(c, n) != 0 || pt_check(c, n) != 0)
		return 2;
	if (!n->tls) {
		if (n->tls_cert || n->tls_key || n->tls_sni)
			return cli_usage(c, "--tls-cert, --tls-key and --tls-sni go with "
					 "--transport tls");
		return 0;
	}
	if (n->listen && (!n->tls_cert || !n->tls_key))
		return cli_usage(c, "--transport tls with --listen needs --tls-cert FILE and "
				 "--tls-key FILE (PEM; `openssl req -x509 -newkey ec -pkeyopt "
				 "ec_paramgen_curve:P-256 -nodes -subj /CN=NAME -keyout k.pem -out "
				 "c.pem` makes a pair)");
	for (size_t i = 0; i < n->n_peers; i++)
		if (!strchr(n->peers[i], '#'))
			return cli_usage(c, "peer %s (a --peer or a --bootstrap file's): over "
					 "--transport tls a peer is HOST:PORT#KEY (the request's "
					 "path comes from its key)", n->peers[i]);
	if (!the_tls.client) {
		rc = mfs_tls_link_ctx_init(&the_tls, n->tls_sni, n->listen ? n->tls_cert : NULL,
					   n->listen ? n->tls_key : NULL, why, sizeof why);
		if (rc != 0)
			return cli_fail(c, 0, "%s", why);
		atexit(free_tls);
	}
	n->tls_ctx = &the_tls;
	return 0;
}

/* --dht, --dht-bootstrap, --dht-interval, --dht-port (never with --proxy). */
static int dht_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_DHT:
		n->dht = 1;
		return 1;
	case OPT_DHT_BOOTSTRAP: {
		char host[MFS_HOSTPORT_HOST_MAX + 1];
		uint16_t port;

		if (mfs_hostport_parse(host, &port, arg, strlen(arg), 0) != 0 || port == 0)
			return cli_usage(c, "--dht-bootstrap %s: HOST:PORT of a DHT node", arg);
		if (n->n_dht_bootstrap == NET_MAX_DHT_BOOTSTRAP)
			return cli_usage(c, "--dht-bootstrap: at most %d nodes", NET_MAX_DHT_BOOTSTRAP);
		n->dht_bootstrap[n->n_dht_bootstrap++] = arg;
		n->dht = 1;
		return 1;
	}
	case OPT_DHT_INTERVAL: {
		char *end;
		unsigned long s = strtoul(arg, &end, 10);

		if (*arg < '0' || *arg > '9' || *end || s == 0 || s > 86400)
			return cli_usage(c, "--dht-interval %s: seconds, 1 to 86400", arg);
		n->dht_interval_s = (unsigned)s;
		n->dht = 1;
		return 1;
	}
	case OPT_DHT_PORT: {
		char *end;
		unsigned long port = strtoul(arg, &end, 10);

		if (*arg < '0' || *arg > '9' || *end || port > 65535)
			return cli_usage(c, "--dht-port %s: a UDP port, 0 (any free one) to 65535",
					 arg);
		n->dht_port = (uint16_t)port;
		n->dht_port_given = 1;
		n->dht = 1;
		return 1;
	}
	default:
		return 0;
	}
}

int net_option(struct cli *c, struct net_opts *n, int opt, const char *arg)
{
	switch (opt) {
	case OPT_PROXY:
		return take_proxy(c, n, (char *)arg); /* optarg: argv's own bytes */
	case OPT_TRACKER:
		if (mfs_tracker_url_check(arg) != 0)
			return cli_usage(c, "--tracker %s: a tracker is wss://HOST[:PORT][/PATH]"
					 "[#sha256=FINGERPRINT] (64 hex digits, as `megafs tracker` "
					 "prints it) or ws://HOST[:PORT][/PATH]", arg);
		if (n->n_trackers == NET_MAX_TRACKERS)
			return cli_usage(c, "--tracker: at most %d trackers", NET_MAX_TRACKERS);
		n->trackers[n->n_trackers++] = arg;
		return 1;
	case OPT_PEER:
		if (n->n_peers == NET_MAX_PEERS)
			return cli_usage(c, "--peer: at most %d peers", NET_MAX_PEERS);
		n->peers[n->n_peers++] = arg;
		return 1;
	case OPT_LISTEN:
		n->listen = arg;
		return 1;
	case OPT_BOOTSTRAP:
		return take_bootstrap(c, n, arg);
	case OPT_PT:
		n->pt = arg;
		return 1;
	case OPT_DHT:
	case OPT_DHT_BOOTSTRAP:
	case OPT_DHT_INTERVAL:
	case OPT_DHT_PORT:
		if (n->proxy)
			return cli_usage(c, DHT_VIA_PROXY);
		return dht_option(c, n, opt, arg);
	default:
		return tls_option(c, n, opt, arg);
	}
}

void net_swarm_config(const struct net_opts *n, struct mfs_swarm_config *cfg)
{
	cfg->listen = n->listen;
	cfg->trackers = n->trackers;
	cfg->n_trackers = n->n_trackers;
	cfg->peers = n->peers;
	cfg->n_peers = n->n_peers;
	cfg->dht = n->dht;
	cfg->dht_bootstrap = n->dht_bootstrap;
	cfg->n_dht_bootstrap = n->n_dht_bootstrap;
	cfg->dht_interval_s = n->dht_interval_s;
	cfg->dht_port_given = n->dht_port_given;
	cfg->dht_port = n->dht_port;
	cfg->proxy = n->proxy;
	cfg->tls = n->tls_ctx;
	cfg->wss_only = n->mode && strcmp(n->mode, "obfs") == 0;
	cfg->pt_path = n->pt;
	cfg->pt_transport = n->transport;
}

int net_wanted(const struct net_opts *n)
{
	return n->n_trackers || n->n_peers || n->listen || n->dht;
}

static void log_stderr(void *ctx, const char *line)
{
	const struct cli *c = ctx;
	fprintf(stderr, "megafs %s: %s\n", c->cmd, line);
}

int net_start(struct cli *c, const struct net_opts *n, struct mfs_volume *vol,
	      struct mfs_session_cache *cache, const uint8_t (*channels)[MFS_SIGN_PK_BYTES],
	      size_t n_channels, void (*log)(void *ctx, const char *line), void *log_ctx,
	      struct mfs_swarm **out)
{
	struct mfs_swarm_config cfg = {
		.vol = vol,
		.cache = cache,
		.channels = channels,
		.n_channels = n_channels,
		.log = log ? log : log_stderr,
		.log_ctx = log ? log_ctx : c,
	};
	int rc;

	net_swarm_config(n, &cfg);
	rc = mfs_swarm_start(out, &cfg);
	if (rc != 0)
		return cli_fail(c, rc, "starting the network");
	return 0;
}

int net_all_channels(struct cli *c, struct mfs_volume *vol, uint8_t (**out)[MFS_SIGN_PK_BYTES],
		     size_t *count)
{
	int rc = mfs_channel_list_keys(vol, out, count);

	return rc == 0 ? 0 : cli_fail(c, rc, "reading the channels");
}
