/* megafs: one binary, one table of subcommands, one file per subcommand. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secure.h"
#include "net/pt.h"
#include "tools/cli.h"

#ifndef MFS_VERSION
#define MFS_VERSION "0"
#endif

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int cmd_help(int argc, char **argv);

/* The bootstrap and DHT options of mount, serve, fetch and fsck
 * (tools/netopts.h). */
#define DISCOVERY_OPTIONS \
	"[--bootstrap FILE]... [--dht] [--dht-bootstrap HOST:PORT]... [--dht-interval S]\n" \
	"                 [--dht-port PORT]"
/* The transport options of the same (tools/netopts.h). */
#define TRANSPORT_OPTIONS \
	"[--transport tcp|tls|obfs4] [--tls-cert FILE --tls-key FILE] [--tls-sni NAME]\n" \
	"                 [--pt PATH] [--mode direct|obfs|tor]"

static const struct subcommand commands[] = {
	{"init", cmd_init, "init [--size N] [--kdf PRESET] | init --hidden"},
	{"channel", cmd_channel,
	 "channel new [--public] TITLE | list | subscribe LINK [TITLE] | import FILE|- |\n"
	 "                 export LINK | show LINK | add LINK MAGNET [DIR] |\n"
	 "                 grant LINK --to KEY --expires DURATION | revoke LINK --to KEY | rekey LINK |\n"
	 "                 forget LINK [TRACKER-URL|HOST:PORT]... | bootstrap LINK"},
	{"id", cmd_id, "id"},
	{"ingest", cmd_ingest,
	 "ingest FILE [--mode convergent|random] [--chunk-size N] [--channel LINK|--global]"},
	{"extract", cmd_extract, "extract ENTRY.json -o OUT"},
	{"status", cmd_status, "status"},
	{"fsck", cmd_fsck,
	 "fsck [--repair] [--tracker URL]... [--peer ADDR]... [--proxy URL]\n"
	 "                 " DISCOVERY_OPTIONS "\n"
	 "                 " TRANSPORT_OPTIONS},
	{"gc", cmd_gc, "gc"},
	{"mount", cmd_mount,
	 "mount LINK DIR [-f] [-o OPTIONS] [--tracker URL]... [--listen HOST:PORT]\n"
	 "                 [--peer HOST:PORT[#KEY][;ARGS]]... [--proxy socks5://[USER:PASS@]HOST:PORT]\n"
	 "                 " DISCOVERY_OPTIONS "\n"
	 "                 " TRANSPORT_OPTIONS},
	{"umount", cmd_umount, "umount DIR"},
	{"tracker", cmd_tracker,
	 "tracker --listen HOST:PORT [--db DIR] [--max-message N] [--max-subscriptions N]\n"
	 "                 [--max-per-range N] [--max-connections N] [--idle-timeout S]\n"
	 "                 [--range-v4 BITS] [--range-v6 BITS] [--max-announced-per-range N]\n"
	 "                 [--max-keys N] [--max-bytes N] [--max-keys-per-range N]\n"
	 "                 [--max-bytes-per-range N] [--interval S]\n"
	 "                 [--tls-cert FILE --tls-key FILE] [--http-port PORT]"},
	{"serve", cmd_serve,
	 "serve [--listen HOST:PORT] [--tracker URL]... [--peer ADDR]... [--proxy URL]\n"
	 "                 " DISCOVERY_OPTIONS "\n"
	 "                 " TRANSPORT_OPTIONS " [LINK]..."},
	{"fetch", cmd_fetch,
	 "fetch LINK PATH -o OUT [--tracker URL]... [--peer HOST:PORT[#KEY][;ARGS]]... [--proxy URL]\n"
	 "                 " DISCOVERY_OPTIONS "\n"
	 "                 " TRANSPORT_OPTIONS},
	{"dht", cmd_dht, "dht status"},
	{"help", cmd_help, "help [COMMAND]"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"megafs %s: a private, censorship-resistant shared filesystem\n\n"
		"usage: megafs [--store DIR] COMMAND [ARGS]\n\n",
		MFS_VERSION);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  megafs %s\n", commands[i].usage);
	fprintf(f,
		"\nEvery command takes:\n"
		"  --store DIR              the store (default $MEGAFS_STORE, else\n"
		"                           $XDG_DATA_HOME/megafs or ~/.local/share/megafs)\n"
		"  --password-file F        the volume's password (or MEGAFS_PASSWORD;\n"
		"                           else it is asked on the terminal)\n"
		"  --protect-file F         a second (hidden) volume whose slots must not be\n"
		"                           overwritten (or MEGAFS_PROTECT_PASSWORD)\n"
		"  --protect                ask for that password on the terminal\n"
		"  --new-password-file F    init --hidden: the new volume's password\n"
		"                           (or MEGAFS_NEW_PASSWORD)\n\n"
		"A tracker URL is wss://HOST[:PORT][/PATH][#sha256=FINGERPRINT] (TLS 1.3; the\n"
		"fingerprint megafs tracker prints pins its certificate, else a CA must vouch\n"
		"for HOST) or ws://HOST[:PORT][/PATH] (plain text: readable on its path).\n"
		"wss://HOST/#front=NAME (with &sha256=... or not) reaches HOST by domain\n"
		"fronting: dialled at NAME, a CDN's, with NAME as the TLS server name and HOST\n"
		"only in the Host header, inside TLS.\n\n"
		"--dht finds a channel with no tracker: its owner puts a pointer to the newest\n"
		"manifest in the Mainline DHT (every hour and after each publication) and peers\n"
		"announce there; a subscriber looks every --dht-interval seconds (60). Public\n"
		"channels are found by anyone with the link; a private one only with its read\n"
		"key (a #grant reader uses trackers and peers). --dht-bootstrap replaces the\n"
		"volume's saved routing table and the well-known routers. The DHT's UDP port\n"
		"is --dht-port (0: any; one in use is an error), else the port saved with the\n"
		"routing table when free, else any; the port used is saved. Peers met through\n"
		"a tracker or the DHT are remembered per channel and dialled at the next start,\n"
		"even with no --dht and no tracker.\n\n"
		"--bootstrap FILE takes the trackers and peers a bootstrap file lists (lines\n"
		"'tracker URL' and 'peer HOST:PORT#KEY'; '#' comments), as if each were given\n"
		"with --tracker or --peer: ways in for when the usual ones are blocked, handed\n"
		"over out of band. 'megafs channel bootstrap LINK' writes one from what the\n"
		"volume remembers for the channel (it names peers' addresses: give it only to\n"
		"those you would give the link).\n\n"
		"--proxy socks5://[USER:PASS@]HOST:PORT dials every peer and tracker through a\n"
		"SOCKS5 proxy such as Tor's (HOST an IP address; a tracker's name is resolved\n"
		"by the proxy; wss:// keeps its TLS check inside). Not with the DHT (UDP). A\n"
		"proxy that refuses every dial fails a read after about 2 s of redials.\n\n"
		"--mode picks a connection mode (seed 000's) as a preset of these options:\n"
		"direct (the default; no --proxy), obfs (--transport tls; no ws:// tracker,\n"
		"no DHT: their bytes say what they are) or tor (--proxy socks5://127.0.0.1:9050\n"
		"unless --proxy is given; no --listen, no DHT, no --transport obfs4).\n\n"
		"--transport tls dresses every peer connection as a visit to a web page: TLS\n"
		"1.3 (SNI --tls-sni, default www.example.com; ALPN h2, http/1.1), then an\n"
		"HTTP/1.1 WebSocket upgrade on a path derived from the peer's node key, so\n"
		"each --peer is HOST:PORT#KEY and both ends must use tls. A listener needs\n"
		"--tls-cert and --tls-key (PEM; any certificate: the peer's key is checked\n"
		"inside); any other request gets an ordinary web page. Trackers keep wss://.\n\n"
		"--transport obfs4 --pt PATH runs PATH (e.g. /usr/bin/obfs4proxy) as Tor's\n"
		"pluggable transport: every peer is a bridge, dialled through it, named\n"
		"HOST:PORT#KEY;cert=...;iat-mode=N as `megafs serve --transport obfs4 --pt PATH\n"
		"--listen HOST:PORT` prints it (the PT listens there; its identity is kept in\n"
		"the volume). Bridges are given with --peer and remembered; not with --proxy,\n"
		"--tracker or the DHT (none carries a bridge's cert).\n\n"
		"Which volume opens depends only on the password. See megafs(1), megafs(7);\n"
		"programs use megafs through libmegafs (megafs.h, pkg-config megafs):\n"
		"libmegafs(3).\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 1)
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (strcmp(argv[1], commands[i].name) == 0) {
				printf("usage: megafs %s\n", commands[i].usage);
				return 0;
			}
	usage(stdout);
	return 0;
}

static int all_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mfs_hex_digit(p[i]) < 0)
			return 0;
	return 1;
}

/* A private channel's link carries its read key after the '#', and every
 * local user reads a process's command line (/proc/PID/cmdline, ps): an
 * argument ending in 64 hex digits, '#' and 64 hex digits (a link, alone
 * or after "--option=") is replaced by a copy in guarded memory, and the
 * key's digits in the original are zeroed before anything else runs. What
 * a daemon forks keeps that. The copies live as long as the process. */
#define KEY_DIGITS 64 /* hex digits of a public or a read key in a link */

static int hide_read_keys(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *hash = strrchr(argv[i], '#'), *copy;
		size_t len = strlen(argv[i]);

		if (!hash || hash - argv[i] < KEY_DIGITS ||
		    strlen(hash + 1) != KEY_DIGITS || !all_hex(hash + 1, KEY_DIGITS) ||
		    !all_hex(hash - KEY_DIGITS, KEY_DIGITS))
			continue;
		if (!(copy = mfs_secure_alloc(len + 1)))
			return -ENOMEM;
		memcpy(copy, argv[i], len + 1);
		mfs_memzero(hash + 1, KEY_DIGITS);
		argv[i] = copy;
	}
	return 0;
}

/* A bridge's arguments (HOST:PORT#KEY;cert=...) let whoever reads them
 * reach the bridge and confirm what it is: as a read key, an argument
 * holding them (net/pt's syntax after its first ';', an address before)
 * is replaced by a guarded copy, and the original shows '*' for them. */
static int hide_bridge_arguments(int argc, char **argv)
{
	char head[MFS_PT_PEER_TEXT_MAX], args[MFS_PT_ARGS_MAX + 1];

	for (int i = 1; i < argc; i++) {
		char *semi = strchr(argv[i], ';'), *copy;
		size_t len = strlen(argv[i]);

		if (!semi || mfs_pt_peer_split(head, sizeof head, args, argv[i]) != 0 ||
		    !strchr(head, ':'))
			continue;
		if (!(copy = mfs_secure_alloc(len + 1)))
			return -ENOMEM;
		memcpy(copy, argv[i], len + 1);
		memset(semi + 1, '*', strlen(semi + 1));
		argv[i] = copy;
	}
	mfs_memzero(args, sizeof args);
	return 0;
}

/* glibc gives each thread that allocates an arena of its own, up to 8 per
 * core, and each keeps what its blob buffers (1 MiB each) once took: a
 * mount streaming 256 MiB over the network (21 threads) peaked at 88 MiB
 * here, 64-73 with two arenas, for no more CPU (fetch: 38 -> 31 MiB).
 *
 * Those buffers come and go by the thousand, each on another thread than
 * the one before. Left to glibc's defaults, a freed buffer at the top of a
 * thread's heap is handed back to the kernel (the trim threshold follows
 * the mmap threshold up to only ~2 MiB) and faulted in again, zeroed, by
 * the next: a cold 512 MiB read of a local file took 13,000-45,000 page
 * faults and 1.56-2.01 CPU-s in the daemon, against about 2,700 and
 * 1.28-1.30 with the two thresholds below (streaming 256 MiB from a peer:
 * 1.5-2.0 s -> 1.08-1.18 s wall). The peak RSS did not move: what stays
 * mapped is what was in use a moment before. Large buffers from mmap (a
 * lower mmap threshold) cost three times the CPU in page faults. */
#define MMAP_THRESHOLD (2 << 20)  /* above a blob with its slot overhead */
#define TRIM_THRESHOLD (16 << 20) /* free bytes a heap keeps at its top */

static void tune_malloc(void)
{
#ifdef M_ARENA_MAX
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	mallopt(M_ARENA_MAX, cores < 2 ? 2 : cores > 4 ? 4 : (int)cores);
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
#endif
}

int main(int argc, char **argv)
{
	int first = 1;
	const char *store = NULL;

	if (mfs_crypto_init() != 0) {
		fprintf(stderr, "megafs: cannot initialise libsodium\n");
		return 1;
	}
	tune_malloc();
	if (hide_read_keys(argc, argv) != 0 || hide_bridge_arguments(argc, argv) != 0) {
		fprintf(stderr, "megafs: out of memory\n");
		return 1;
	}
	/* A peer that resets a connection must cost that connection, not the
	 * process: libuv writes with write(2). */
	signal(SIGPIPE, SIG_IGN);
	/* A --store before the command applies to it. */
	while (first < argc && strncmp(argv[first], "--store", 7) == 0) {
		if (argv[first][7] == '=') {
			store = argv[first] + 8;
			first++;
		} else if (argv[first][7] == '\0' && first + 1 < argc) {
			store = argv[first + 1];
			first += 2;
		} else {
			break;
		}
	}
	if (store && setenv("MEGAFS_STORE", store, 1) != 0)
		return 1;
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[first], "--version") == 0 || strcmp(argv[first], "version") == 0) {
		printf("megafs %s\n", MFS_VERSION);
		return 0;
	}
	if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0)
		return cmd_help(1, argv);
	/* mount(8) with type fuse.megafs (/etc/fstab) runs, through mount.fuse,
	 * "megafs LINK DIR -o OPTIONS": that is a mount. */
	if (strncmp(argv[first], "megafs://", 9) == 0) {
		char *mount_argv[64];
		int n = 0;

		mount_argv[n++] = "megafs mount";
		for (int i = first; i < argc && n < 63; i++)
			mount_argv[n++] = argv[i];
		mount_argv[n] = NULL;
		return cmd_mount(n, mount_argv);
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[first], commands[i].name) == 0) {
			/* getopt names argv[0] in its messages: "megafs init: ..." */
			char prog[64];

			snprintf(prog, sizeof prog, "megafs %s", commands[i].name);
			argv[first] = prog;
			return commands[i].run(argc - first, argv + first);
		}
	fprintf(stderr, "megafs: unknown command '%s' (try 'megafs help')\n", argv[first]);
	return 2;
}
