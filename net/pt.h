/* pt: Tor's pluggable-transport spec, version 1, from the side of the
 * program that runs the transport (the "managed proxy" side): megafs
 * starts the PT binary (obfs4proxy...) with the TOR_PT_* variables, reads
 * what it says on its standard output, and then either dials peers
 * through the SOCKS5 port it opened (client) or has it listen on the
 * public address in front of megafs's own peer listener (server).
 *
 * Three parts:
 *   - mfs_pt_line_parse: one line the PT printed (untrusted bytes) into a
 *     struct; a pure function (fuzzed: tests/fuzz/pt.c).
 *   - mfs_pt_peer_split: a peer's address as megafs writes one for a
 *     bridge, "HOST:PORT[#KEY];ARGS", where ARGS is what the bridge's
 *     SMETHOD line said (cert=...,iat-mode=N) written as the SOCKS5
 *     username the PT's client wants ("cert=...;iat-mode=N"); pure.
 *   - mfs_pt_start / mfs_pt_stop: the PT as a child process: its stdin a
 *     pipe (TOR_PT_EXIT_ON_STDIN_CLOSE=1: it dies with us), its stderr
 *     /dev/null (nothing it logs reaches ours), no other descriptor of
 *     ours, an environment of the TOR_PT_* variables alone, a process
 *     group of its own (a terminal's ^C is ours), its stdout read until the
 *     *METHODS DONE line, then read and dropped until it exits. Started
 *     on the caller's thread (blocks for at most the start timeout); the
 *     reader is one thread of its own. stop closes its stdin, waits,
 *     then SIGTERM, SIGKILL, and reaps it.
 *
 * Threads: the parsers on any thread; start and stop on one owning thread;
 * the accessors between them. Strings a struct mfs_pt hands out live until
 * mfs_pt_stop. */
#ifndef MFS_PT_H
#define MFS_PT_H

#include <stddef.h>
#include <stdint.h>

#include "net/hostport.h"
#include "net/socks5.h"

#define MFS_PT_LINE_MAX 4096        /* a longer line from the PT is refused */
#define MFS_PT_NAME_MAX 64          /* a transport's name */
#define MFS_PT_ARGS_MAX MFS_SOCKS5_FIELD_MAX /* they travel as the SOCKS5 username */
#define MFS_PT_MESSAGE_MAX 160      /* an *-ERROR's message, as kept (cut, printable) */
/* The longest peer text with bridge arguments: HOST:PORT, '#', the key's
 * 64 hex digits, ';', the arguments, '\0'. */
#define MFS_PT_PEER_TEXT_MAX (MFS_HOSTPORT_TEXT_MAX + 1 + 64 + 1 + MFS_PT_ARGS_MAX)

enum mfs_pt_kind {
	MFS_PT_OTHER = 0,   /* a line the spec allows that we ignore (LOG, STATUS...) */
	MFS_PT_VERSION,     /* message: the version chosen */
	MFS_PT_VERSION_ERROR,
	MFS_PT_ENV_ERROR,
	MFS_PT_CMETHOD,     /* name, proto, host, port */
	MFS_PT_CMETHOD_ERROR, /* name, message */
	MFS_PT_CMETHODS_DONE,
	MFS_PT_SMETHOD,     /* name, host, port, args (may be empty) */
	MFS_PT_SMETHOD_ERROR, /* name, message */
	MFS_PT_SMETHODS_DONE,
};

struct mfs_pt_line {
	enum mfs_pt_kind kind;
	char name[MFS_PT_NAME_MAX + 1];
	char proto[8];                        /* CMETHOD: "socks5", "socks4" */
	char host[MFS_HOSTPORT_HOST_MAX + 1];
	uint16_t port;
	char args[MFS_PT_ARGS_MAX + 1];       /* SMETHOD's ARGS as "k=v;k=v" */
	char message[MFS_PT_MESSAGE_MAX + 1]; /* printable ASCII only */
};

/* Reads one line (without its '\n'; a trailing '\r' is taken off) of
 * line[len]. 0, or MFS_E_FORMAT: a keyword with fields missing or bad
 * (a name out of [A-Za-z0-9_], an address that is not HOST:PORT with a
 * port, an ARGS key with a byte outside [A-Za-z0-9_-] or a value with
 * one outside [A-Za-z0-9+/_.-] once unescaped (so that it goes into the
 * SOCKS5 username with no escape), arguments longer than MFS_PT_ARGS_MAX), a NUL byte, or a
 * line longer than MFS_PT_LINE_MAX. out is unspecified after an error. */
int mfs_pt_line_parse(struct mfs_pt_line *out, const uint8_t *line, size_t len);

/* Splits a peer's text "HOST:PORT[#KEY][;ARGS]" at its first ';': the
 * part before into addr[addr_cap] (what net/node reads as HOST:PORT[#KEY]),
 * the arguments into args[MFS_PT_ARGS_MAX + 1] ("" when none). ARGS is
 * one or more "KEY=VALUE" joined by ';', KEY of [A-Za-z0-9_-], VALUE of
 * [A-Za-z0-9+/_.-] (obfs4's cert is unpadded base64), 255 bytes at most. 0, or
 * -EINVAL (empty or bad arguments, a part too long). Pure. */
int mfs_pt_peer_split(char *addr, size_t addr_cap, char args[static MFS_PT_ARGS_MAX + 1],
		      const char *text);

struct mfs_pt_config {
	const char *path;          /* the PT binary */
	const char *transport;     /* "obfs4" */
	/* TOR_PT_STATE_LOCATION: a private directory of the caller's (the PT
	 * keeps its keys there); it must exist. */
	const char *state_dir;
	/* Server: the public "HOST:PORT" the PT listens on, and megafs's own
	 * listener it relays to ("127.0.0.1:PORT"). Both NULL: client. */
	const char *bind;
	const char *orport;
	unsigned timeout_ms;       /* for the PT to say it is ready; 0: 10 s */
};

struct mfs_pt;

/* Starts the PT and waits until it is ready: 0, or an error with the
 * sentence in why[why_len]: -ENOENT (no such binary), -EACCES (not
 * executable), -ETIMEDOUT (silent past the timeout), MFS_E_FORMAT (a line
 * it wrote is not the spec's), -EPROTO (it refused: VERSION-ERROR,
 * ENV-ERROR, a CMETHOD-ERROR or SMETHOD-ERROR for the transport, or DONE
 * with no method for it, or a client method not socks5), -ECHILD (it
 * exited before it was ready), or -errno. After an error nothing is left
 * running. */
int mfs_pt_start(struct mfs_pt **out, const struct mfs_pt_config *cfg, char *why, size_t why_len);

/* Where it listens: a client's SOCKS5 port, or a server's public address. */
const char *mfs_pt_host(const struct mfs_pt *pt);
uint16_t mfs_pt_port(const struct mfs_pt *pt);
/* A server's bridge arguments, as a client's SOCKS5 username
 * ("cert=...;iat-mode=0"); "" for a client. */
const char *mfs_pt_args(const struct mfs_pt *pt);

/* Closes its stdin (it exits), waits up to 2 s, then SIGTERM, then
 * SIGKILL after 1 s more; reaps it and frees pt. NULL-safe. */
void mfs_pt_stop(struct mfs_pt *pt);

#endif
