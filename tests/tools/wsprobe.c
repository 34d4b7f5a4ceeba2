/* wsprobe: drives a megafs tracker for tests/integration/tracker.sh.
 *
 * Raw modes speak WebSocket by hand over plain sockets (an implementation
 * independent of libwebsockets, able to send what a real client never
 * would); "client" and "selftest" use net/tracker_client (and
 * net/tracker_server) as the mount does.
 *
 *   wsprobe talk URL [--from IP] [--protocol P] [--wait N] [--timeout S] ITEM...
 *       Connects, sends each ITEM, then prints what comes back, one line
 *       each: "text <message>", "binary <bytes>", "close <code> <reason>",
 *       "eof", "timeout". Stops after N text messages (default: at the
 *       timeout, 5 s) or when the connection ends. ITEM: a text message,
 *       @FILE (a text message read from FILE), bin:TEXT (a binary one),
 *       frag:TEXT (a text message in two fragments), sleep:MS.
 *       Exit 0; 3 when the handshake failed ("refused <why>").
 *   wsprobe raw HOST:PORT [--hold S] DATA
 *       Writes DATA (C escapes \r \n \xNN) to a TCP connection and waits
 *       up to S seconds (default 2) for the tracker to close it: prints the
 *       first line of any reply ("reply <line>"), then "closed" or "open".
 *   wsprobe many URL KEY --from-base IP --addrs A --per P --seq N [--next M] [--timeout S]
 *       Opens A x P connections (P from each of A addresses counting up
 *       from IP), subscribes each to KEY, waits until every one received
 *       a manifest of sequence N, prints "ready", then (with --next) until
 *       every one received sequence M: "all <count> received <M>".
 *   wsprobe limit URL --from IP --count N [--subscribe KEY] [--hold S]
 *       Opens N connections from IP, keeping them open: "accepted K refused R".
 *       With --subscribe, each subscribes to KEY (which must have a
 *       manifest) and waits for it before the next opens; a connection
 *       refused or closed before then counts as refused. With --hold, it
 *       then keeps them S seconds and prints "closed C": how many of them
 *       the tracker closed meanwhile.
 *   wsprobe mint URL --from IP --count N [--bytes B] [--keys FILE]
 *                    [--subscribe 1] [--hold S]
 *       On one connection from IP, publishes N manifests, each of a channel
 *       made for it (fresh keys, sequence 1, a title padding the manifest
 *       to about B bytes), one after the other, waiting for each answer.
 *       Prints "published P refused R", then "reason <why>" of the first
 *       refusal. --keys appends each published channel's key (hex) to
 *       FILE; --subscribe 1 subscribes the connection to each one it
 *       published; --hold keeps the connection S seconds more.
 *   wsprobe client URL [--subscribe KEY]... [--announce KEY:PORT:NODEPK]...
 *                      [--publish FILE]... [--manifests N] [--peers N]
 *                      [--published N] [--timeout S]
 *       Runs one tracker client and prints its callbacks as lines
 *       ("connected", "manifest <sequence>", "peers <n> ip:port:pk ...",
 *       "published <seq>", "refused <seq> <reason>", "error <why>");
 *       stops when the counts are reached (exit 0) or at the timeout (1).
 *   wsprobe serve [--connections C] [--repeat N] FILE...
 *       A hostile tracker: listens on 127.0.0.1 (any port; prints "port
 *       P"), and after the WebSocket handshake sends its k-th connection
 *       the messages of FILE k (the last FILE for later connections): each
 *       line of FILE is one text message, sent N times (default 1) with
 *       "%SEQ%" replaced by 1000, 1001, ... Then it reads and drops what
 *       the client sends until it closes; per connection it prints "sent
 *       K" (messages) once they are out and "closed" at the end. Stops
 *       after C connections (default: when killed).
 *       The client mode's --hwm 1 prints the client's peak memory when it
 *       stops ("hwm <KiB>", VmHWM).
 *   wsprobe selftest
 *       In one process: a server and clients on one loop (publish, push,
 *       announce; clients freed while connecting and inside a callback;
 *       the server stopped with clients connected; the loop must end with
 *       every handle closed), then a subscriber that never reads, which
 *       the server must cut off while others are served. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <libwebsockets.h>

#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/tracker_client.h"
#include "net/tracker_server.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wsprobe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* ---- a hand-made WebSocket client ---------------------------------------- */

struct url {
	char host[64];
	int port;
	char path[256];
};

static void parse_url(struct url *u, const char *text)
{
	const char *p;

	if (strncmp(text, "ws://", 5) != 0)
		die("%s: expected ws://HOST:PORT[/PATH]", text);
	p = strchr(text + 5, ':');
	if (!p || (size_t)(p - text - 5) >= sizeof u->host)
		die("%s: expected ws://HOST:PORT[/PATH]", text);
	memcpy(u->host, text + 5, (size_t)(p - text - 5));
	u->host[p - text - 5] = '\0';
	u->port = atoi(p + 1);
	p = strchr(p, '/');
	snprintf(u->path, sizeof u->path, "%s", p ? p : "/");
}

struct ws {
	int fd;
	unsigned char *in;       /* bytes received, not yet parsed */
	size_t in_len, in_cap;
	char *msg;               /* the message being assembled */
	size_t msg_len, msg_cap;
	int msg_opcode;
	int done;                /* closed or failed */
	long long seq_seen;      /* many: the highest sequence received */
	int ready;
};

static void append(unsigned char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 256;
		if (!(*buf = realloc(*buf, *cap)))
			die("out of memory");
	}
	memcpy(*buf + *len, data, n);
	*len += n;
}

static int tcp_connect(const char *host, int port, const char *from)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (from) {
		struct sockaddr_in b = {.sin_family = AF_INET};

		if (inet_pton(AF_INET, from, &b.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&b, sizeof b) != 0)
			die("bind %s: %s", from, strerror(errno));
	}
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("%s: not an IPv4 address", host);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void base64(char *out, const unsigned char *in, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*out++ = tab[in[i + 2] & 63];
	}
	if (len - i == 1) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[(in[i] & 3) << 4];
		*out++ = '=';
		*out++ = '=';
	} else if (len - i == 2) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = tab[(in[i + 1] & 15) << 2];
		*out++ = '=';
	}
	*out = '\0';
}

/* Connects and upgrades. 0, or -1 with why filled in. */
static int ws_open(struct ws *w, const struct url *u, const char *from, const char *protocol,
		   char *why, size_t why_len)
{
	unsigned char nonce[16];
	char key[32], req[1024], resp[4096];
	size_t got = 0;
	char *end;

	memset(w, 0, sizeof *w);
	w->fd = tcp_connect(u->host, u->port, from);
	if (w->fd < 0) {
		snprintf(why, why_len, "connect: %s", strerror(errno));
		return -1;
	}
	mfs_random(nonce, sizeof nonce);
	base64(key, nonce, sizeof nonce);
	snprintf(req, sizeof req,
		 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
		 u->path, u->host, u->port, key, protocol ? "Sec-WebSocket-Protocol: " : "",
		 protocol ? protocol : "", protocol ? "\r\n" : "");
	if (write_all(w->fd, req, strlen(req)) != 0) {
		snprintf(why, why_len, "send: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0) {
			snprintf(why, why_len, "no handshake reply");
			goto fail;
		}
		n = recv(w->fd, resp + got, sizeof resp - 1 - got, 0);
		if (n <= 0) {
			snprintf(why, why_len, "closed during the handshake");
			goto fail;
		}
		got += (size_t)n;
		resp[got] = '\0';
		if ((end = strstr(resp, "\r\n\r\n")))
			break;
		if (got == sizeof resp - 1) {
			snprintf(why, why_len, "handshake reply too long");
			goto fail;
		}
	}
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		snprintf(why, why_len, "%.*s", (int)strcspn(resp, "\r\n"), resp);
		goto fail;
	}
	end += 4;
	append(&w->in, &w->in_len, &w->in_cap, end, got - (size_t)(end - resp));
	return 0;
fail:
	close(w->fd);
	w->fd = -1;
	return -1;
}

static int ws_send(struct ws *w, int opcode, int fin, const void *data, size_t len)
{
	unsigned char head[14], mask[4], *frame;
	size_t h = 0;
	int rc;

	head[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		head[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		head[h++] = 0x80 | 126;
		head[h++] = (unsigned char)(len >> 8);
		head[h++] = (unsigned char)len;
	} else {
		head[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			head[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	mfs_random(mask, sizeof mask);
	memcpy(head + h, mask, 4);
	h += 4;
	if (!(frame = malloc(h + len)))
		die("out of memory");
	memcpy(frame, head, h);
	for (size_t i = 0; i < len; i++)
		frame[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
	rc = write_all(w->fd, frame, h + len);
	free(frame);
	return rc;
}

enum ev { EV_NONE, EV_TEXT, EV_BINARY, EV_CLOSE };

/* The next complete event in w->in, if any. For EV_CLOSE, *code is set. */
static enum ev ws_next(struct ws *w, int *code)
{
	for (;;) {
		unsigned char *p = w->in;
		size_t avail = w->in_len, h = 2;
		uint64_t len;
		int opcode, fin;

		if (avail < 2)
			return EV_NONE;
		fin = p[0] & 0x80;
		opcode = p[0] & 15;
		len = p[1] & 127;
		if (len == 126) {
			if (avail < 4)
				return EV_NONE;
			len = (uint64_t)p[2] << 8 | p[3];
			h = 4;
		} else if (len == 127) {
			if (avail < 10)
				return EV_NONE;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			h = 10;
		}
		if (p[1] & 0x80)
			h += 4; /* a server must not mask; tolerated here */
		if (avail < h + len)
			return EV_NONE;
		if (opcode == 9) {
			ws_send(w, 10, 1, p + h, len);
		} else if (opcode == 8) {
			*code = len >= 2 ? p[h] << 8 | p[h + 1] : 1005;
			w->msg_len = 0;
			append((unsigned char **)&w->msg, &w->msg_len, &w->msg_cap,
			       p + h + (len >= 2 ? 2 : 0), len >= 2 ? len - 2 : 0);
			w->in_len -= h + len;
			memmove(w->in, w->in + h + len, w->in_len);
			return EV_CLOSE;
		} else if (opcode < 8) {
			if (opcode != 0) {
				w->msg_opcode = opcode;
				w->msg_len = 0;
			}
			append((unsigned char **)&w->msg, &w->msg_len, &w->msg_cap, p + h, len);
		}
		w->in_len -= h + len;
		memmove(w->in, w->in + h + len, w->in_len);
		if (opcode < 8 && fin)
			return w->msg_opcode == 2 ? EV_BINARY : EV_TEXT;
	}
}

/* Reads what is there. 0, or -1 when the connection ended. */
static int ws_read(struct ws *w)
{
	unsigned char buf[65536];
	ssize_t n = recv(w->fd, buf, sizeof buf, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 0)
		append(&w->in, &w->in_len, &w->in_cap, buf, (size_t)n);
	return 0;
}

static void ws_close(struct ws *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->in);
	free(w->msg);
	memset(w, 0, sizeof *w);
	w->fd = -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		die("%s: %s", path, strerror(errno));
	if (!(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("%s: cannot read", path);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* ---- talk ----------------------------------------------------------------- */

static int cmd_talk(int argc, char **argv)
{
	const char *from = NULL, *protocol = NULL;
	int wait = -1, timeout_s = 5, first = 0, got = 0, code;
	long long deadline;
	struct url u;
	struct ws w;
	char why[256];

	if (argc < 3)
		die("usage: wsprobe talk URL [options] ITEM...");
	parse_url(&u, argv[2]);
	for (first = 3; first < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
		if (first + 1 >= argc)
			die("%s needs a value", argv[first]);
		if (strcmp(argv[first], "--from") == 0)
			from = argv[first + 1];
		else if (strcmp(argv[first], "--protocol") == 0)
			protocol = argv[first + 1];
		else if (strcmp(argv[first], "--wait") == 0)
			wait = atoi(argv[first + 1]);
		else if (strcmp(argv[first], "--timeout") == 0)
			timeout_s = atoi(argv[first + 1]);
		else
			die("unknown option %s", argv[first]);
	}
	if (ws_open(&w, &u, from, protocol, why, sizeof why) != 0) {
		printf("refused %s\n", why);
		return 3;
	}
	for (int i = first; i < argc; i++) {
		const char *item = argv[i];
		int rc;

		if (item[0] == '@') {
			size_t len;
			char *text = read_file(item + 1, &len);

			rc = ws_send(&w, 1, 1, text, len);
			free(text);
		} else if (strncmp(item, "bin:", 4) == 0) {
			rc = ws_send(&w, 2, 1, item + 4, strlen(item + 4));
		} else if (strncmp(item, "frag:", 5) == 0) {
			size_t len = strlen(item + 5), half = len / 2;

			rc = ws_send(&w, 1, 0, item + 5, half);
			if (rc == 0)
				rc = ws_send(&w, 0, 1, item + 5 + half, len - half);
		} else if (strncmp(item, "sleep:", 6) == 0) {
			usleep((useconds_t)atoi(item + 6) * 1000);
			rc = 0;
		} else {
			rc = ws_send(&w, 1, 1, item, strlen(item));
		}
		if (rc != 0) {
			printf("send failed\n");
			break;
		}
	}
	fflush(stdout);
	deadline = now_ms() + 1000LL * timeout_s;
	for (;;) {
		struct pollfd p = {.fd = w.fd, .events = POLLIN};
		enum ev ev;

		while ((ev = ws_next(&w, &code)) != EV_NONE) {
			if (ev == EV_TEXT) {
				printf("text %.*s\n", (int)w.msg_len, w.msg);
				got++;
			} else if (ev == EV_BINARY) {
				printf("binary %zu\n", w.msg_len);
			} else {
				printf("close %d %.*s\n", code, (int)w.msg_len, w.msg);
				goto out;
			}
			fflush(stdout);
			if (wait >= 0 && got >= wait)
				goto out;
		}
		if (now_ms() >= deadline) {
			printf("timeout\n");
			break;
		}
		if (poll(&p, 1, (int)(deadline - now_ms())) > 0 && ws_read(&w) != 0) {
			while ((ev = ws_next(&w, &code)) != EV_NONE)
				if (ev == EV_TEXT)
					printf("text %.*s\n", (int)w.msg_len, w.msg);
				else if (ev == EV_CLOSE) {
					printf("close %d %.*s\n", code, (int)w.msg_len, w.msg);
					goto out;
				}
			printf("eof\n");
			break;
		}
	}
out:
	fflush(stdout);
	ws_close(&w);
	return 0;
}

/* ---- raw ------------------------------------------------------------------ */

static size_t unescape(char *out, const char *in)
{
	size_t n = 0;

	while (*in) {
		if (in[0] == '\\' && in[1] == 'r') {
			out[n++] = '\r';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'n') {
			out[n++] = '\n';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3]) {
			char hex[3] = {in[2], in[3], 0};

			out[n++] = (char)strtol(hex, NULL, 16);
			in += 4;
		} else {
			out[n++] = *in++;
		}
	}
	return n;
}

static int cmd_raw(int argc, char **argv)
{
	char host[64], *colon, *data;
	int hold = 2, fd, closed = 0, got = 0;
	long long deadline;
	size_t len;

	if (argc < 4)
		die("usage: wsprobe raw HOST:PORT [--hold S] DATA");
	snprintf(host, sizeof host, "%s", argv[2]);
	if (!(colon = strchr(host, ':')))
		die("%s: expected HOST:PORT", argv[2]);
	*colon = '\0';
	if (strcmp(argv[3], "--hold") == 0 && argc >= 6) {
		hold = atoi(argv[4]);
		argv += 2;
	}
	if ((fd = tcp_connect(host, atoi(colon + 1), NULL)) < 0)
		die("connect: %s", strerror(errno));
	data = malloc(strlen(argv[3]) + 1);
	len = unescape(data, argv[3]);
	if (write_all(fd, data, len) != 0)
		closed = 1;
	free(data);
	deadline = now_ms() + 1000LL * hold;
	while (!closed && now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[4096];
		ssize_t n;

		if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof buf, 0)) <= 0)
			closed = 1;
		else if (!got++) {
			ssize_t line = 0;

			while (line < n && buf[line] != '\r' && buf[line] != '\n')
				line++;
			printf("reply %.*s\n", (int)line, buf);
		}
	}
	printf("%s\n", closed ? "closed" : "open");
	close(fd);
	return 0;
}

/* ---- many and limit ----------------------------------------------------- */

/* The sequence of a "publish" text message, or -1. */
static long long sequence_of(const char *msg, size_t len)
{
	const char *p;
	char *copy;
	long long seq = -1;

	if (!(copy = strndup(msg, len)))
		die("out of memory");
	if (strstr(copy, "\"action\":\"publish\"") && (p = strstr(copy, "\"sequence\":")))
		seq = atoll(p + 11);
	free(copy);
	return seq;
}

static void next_address(char *out, size_t len, const char *base, int k)
{
	struct in_addr a;

	if (inet_pton(AF_INET, base, &a) != 1)
		die("%s: not an IPv4 address", base);
	a.s_addr = htonl(ntohl(a.s_addr) + (uint32_t)k);
	inet_ntop(AF_INET, &a, out, (socklen_t)len);
}

/* Waits until every connection saw a sequence >= want. 0 or -1 (timeout). */
static int wait_all(struct ws *ws, int n, long long want, long long deadline, int *have)
{
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int code;

	for (;;) {
		*have = 0;
		for (int i = 0; i < n; i++) {
			enum ev ev;

			while (!ws[i].done && (ev = ws_next(&ws[i], &code)) != EV_NONE) {
				long long s = ev == EV_TEXT ? sequence_of(ws[i].msg, ws[i].msg_len) : -1;

				if (ev == EV_CLOSE)
					ws[i].done = 1;
				if (s > ws[i].seq_seen)
					ws[i].seq_seen = s;
			}
			*have += ws[i].seq_seen >= want;
			p[i].fd = ws[i].done ? -1 : ws[i].fd;
			p[i].events = POLLIN;
		}
		if (*have == n || now_ms() >= deadline)
			break;
		if (poll(p, (nfds_t)n, (int)(deadline - now_ms())) > 0)
			for (int i = 0; i < n; i++)
				if (p[i].revents && ws_read(&ws[i]) != 0)
					ws[i].done = 1;
	}
	free(p);
	return *have == n ? 0 : -1;
}

static int cmd_many(int argc, char **argv)
{
	const char *base = "127.0.0.2";
	int addrs = 1, per = 1, timeout_s = 30, n, have;
	long long seq = 1, next = -1;
	char from[INET_ADDRSTRLEN], why[256], sub[128];
	struct ws *ws;
	struct url u;

	if (argc < 4)
		die("usage: wsprobe many URL KEY --from-base IP --addrs A --per P --seq N [--next M]");
	parse_url(&u, argv[2]);
	snprintf(sub, sizeof sub, "{\"action\":\"subscribe\",\"key\":\"%s\"}", argv[3]);
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--from-base") == 0)
			base = argv[i + 1];
		else if (strcmp(argv[i], "--addrs") == 0)
			addrs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--per") == 0)
			per = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seq") == 0)
			seq = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "--next") == 0)
			next = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = atoi(argv[i + 1]);
		else
			die("unknown option %s", argv[i]);
	}
	n = addrs * per;
	raise_fd_limit();
	if (!(ws = calloc((size_t)n, sizeof *ws)))
		die("out of memory");
	for (int i = 0; i < n; i++) {
		next_address(from, sizeof from, base, i / per);
		if (ws_open(&ws[i], &u, from, NULL, why, sizeof why) != 0)
			die("connection %d from %s: %s", i, from, why);
		if (ws_send(&ws[i], 1, 1, sub, strlen(sub)) != 0)
			die("connection %d: subscribe failed", i);
	}
	if (wait_all(ws, n, seq, now_ms() + 1000LL * timeout_s, &have) != 0) {
		printf("only %d of %d received sequence %lld\n", have, n, seq);
		return 1;
	}
	printf("ready %d\n", n);
	fflush(stdout);
	if (next >= 0) {
		if (wait_all(ws, n, next, now_ms() + 1000LL * timeout_s, &have) != 0) {
			printf("only %d of %d received sequence %lld\n", have, n, next);
			return 1;
		}
		printf("all %d received %lld\n", n, next);
	}
	for (int i = 0; i < n; i++)
		ws_close(&ws[i]);
	free(ws);
	return 0;
}

/* 1 when the message received last holds text. */
static int has_text(const struct ws *w, const char *text)
{
	return w->msg && memmem(w->msg, w->msg_len, text, strlen(text)) != NULL;
}

/* Subscribes w to key and waits up to 5 s for the manifest. 0 or -1. */
static int subscribe_one(struct ws *w, const char *key)
{
	char sub[128];
	long long deadline = now_ms() + 5000;
	int code;

	snprintf(sub, sizeof sub, "{\"action\":\"subscribe\",\"key\":\"%s\"}", key);
	if (ws_send(w, 1, 1, sub, strlen(sub)) != 0)
		return -1;
	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		enum ev e;

		while ((e = ws_next(w, &code)) != EV_NONE)
			if (e == EV_TEXT)
				return has_text(w, "\"action\":\"publish\"") ? 0 : -1;
			else if (e == EV_CLOSE)
				return -1;
		if (now_ms() >= deadline || poll(&p, 1, (int)(deadline - now_ms())) <= 0 ||
		    ws_read(w) != 0)
			return -1;
	}
}

/* How many of the n connections end within s seconds. */
static int count_closed(struct ws *ws, int n, int seconds)
{
	long long deadline = now_ms() + 1000LL * seconds;
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int closed = 0, code;

	if (!p)
		die("out of memory");
	while (now_ms() < deadline) {
		for (int i = 0; i < n; i++) {
			p[i].fd = ws[i].fd > 0 && !ws[i].done ? ws[i].fd : -1;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (ws_read(&ws[i]) != 0) {
				ws[i].done = 1;
				closed++;
				continue;
			}
			while (ws_next(&ws[i], &code) != EV_NONE)
				;
		}
	}
	free(p);
	return closed;
}

static int cmd_limit(int argc, char **argv)
{
	const char *from = "127.0.0.1", *key = NULL;
	int count = 1, accepted = 0, refused = 0, hold = -1;
	char why[256];
	struct ws *ws;
	struct url u;

	if (argc < 3)
		die("usage: wsprobe limit URL --from IP --count N");
	parse_url(&u, argv[2]);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--from") == 0)
			from = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--subscribe") == 0)
			key = argv[i + 1];
		else if (strcmp(argv[i], "--hold") == 0)
			hold = atoi(argv[i + 1]);
		else
			die("unknown option %s", argv[i]);
	}
	raise_fd_limit();
	ws = calloc((size_t)count, sizeof *ws);
	for (int i = 0; i < count; i++) {
		if (ws_open(&ws[i], &u, from, NULL, why, sizeof why) == 0 &&
		    (!key || subscribe_one(&ws[i], key) == 0)) {
			accepted++;
		} else {
			refused++;
			ws_close(&ws[i]);
		}
	}
	printf("accepted %d refused %d\n", accepted, refused);
	fflush(stdout);
	if (hold >= 0)
		printf("closed %d\n", count_closed(ws, count, hold));
	for (int i = 0; i < count; i++)
		if (ws[i].fd > 0)
			ws_close(&ws[i]);
	free(ws);
	return 0;
}

/* ---- mint: many channels of one publisher ---------------------------------- */

/* The next text message of w (in w->msg), waiting up to 10 s. 0 or -1. */
static int next_text(struct ws *w)
{
	long long deadline = now_ms() + 10000;
	int code;

	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		enum ev e;

		while ((e = ws_next(w, &code)) != EV_NONE)
			if (e == EV_TEXT)
				return 0;
			else if (e == EV_CLOSE)
				return -1;
		if (now_ms() >= deadline || poll(&p, 1, (int)(deadline - now_ms())) <= 0 ||
		    ws_read(w) != 0)
			return -1;
	}
}

/* A signed manifest of a fresh channel, about bytes long; its key in hex. */
static char *mint_manifest(size_t bytes, char key_hex[65], size_t *len)
{
	uint8_t pk[MFS_SIGN_PK_BYTES], *sk = mfs_secure_alloc(MFS_SIGN_SK_BYTES);
	size_t pad = bytes > 400 ? bytes - 400 : 1;
	char *title = malloc(pad + 1), *out = NULL;
	json_t *cols;

	if (!sk || !title)
		die("out of memory");
	mfs_sign_keypair(pk, sk);
	memset(title, 'x', pad);
	title[pad] = '\0';
	cols = json_pack("[{s:[], s:s}]", "items", "title", title);
	if (!cols || mfs_manifest_sign(&out, len, 1, (uint64_t)time(NULL) * 1000, cols, pk, sk) != 0)
		die("cannot sign a manifest");
	json_decref(cols);
	free(title);
	mfs_secure_free(sk);
	mfs_hex_encode(key_hex, pk, MFS_SIGN_PK_BYTES);
	return out;
}

static int cmd_mint(int argc, char **argv)
{
	const char *from = "127.0.0.1", *keys_path = NULL;
	int count = 1, published = 0, refused = 0, subscribe = 0, hold = 0;
	size_t bytes = 0;
	char why[256], *reason = NULL, key[65];
	FILE *keys = NULL;
	struct ws w;
	struct url u;

	if (argc < 3)
		die("usage: wsprobe mint URL --from IP --count N [--bytes B] [--keys FILE]");
	parse_url(&u, argv[2]);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--from") == 0)
			from = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--bytes") == 0)
			bytes = (size_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--keys") == 0)
			keys_path = argv[i + 1];
		else if (strcmp(argv[i], "--subscribe") == 0)
			subscribe = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--hold") == 0)
			hold = atoi(argv[i + 1]);
		else
			die("unknown option %s", argv[i]);
	}
	if (keys_path && !(keys = fopen(keys_path, "a")))
		die("%s: %s", keys_path, strerror(errno));
	if (ws_open(&w, &u, from, NULL, why, sizeof why) != 0)
		die("connect from %s: %s", from, why);
	for (int i = 0; i < count; i++) {
		size_t len;
		char *manifest = mint_manifest(bytes, key, &len), *msg;

		if (asprintf(&msg, "{\"action\":\"publish\",\"manifest\":%s}", manifest) < 0)
			die("out of memory");
		free(manifest);
		if (ws_send(&w, 1, 1, msg, strlen(msg)) != 0 || next_text(&w) != 0)
			die("publish %d: the connection ended", i);
		free(msg);
		if (has_text(&w, "\"action\":\"published\"")) {
			published++;
			if (keys)
				fprintf(keys, "%s\n", key);
			if (subscribe) {
				char sub[128];

				snprintf(sub, sizeof sub, "{\"action\":\"subscribe\",\"key\":\"%s\"}",
					 key);
				if (ws_send(&w, 1, 1, sub, strlen(sub)) != 0 || next_text(&w) != 0)
					die("subscribe %d: no manifest back", i);
			}
		} else {
			refused++;
			if (!reason)
				reason = strndup(w.msg, w.msg_len);
		}
	}
	if (keys)
		fclose(keys);
	printf("published %d refused %d\n", published, refused);
	if (reason)
		printf("reason %s\n", reason);
	fflush(stdout);
	free(reason);
	if (hold > 0)
		count_closed(&w, 1, hold);
	ws_close(&w);
	return 0;
}

/* ---- client (net/tracker_client) ----------------------------------------- */

struct watch {
	uv_loop_t loop;
	uv_timer_t timeout;
	struct mfs_tracker_client *client;
	int want_manifests, want_peers, want_published;
	int manifests, peers, published;
	int timed_out;
};

static void watch_stop(struct watch *w)
{
	mfs_tracker_client_free(w->client);
	w->client = NULL;
	uv_close((uv_handle_t *)&w->timeout, NULL);
}

static void watch_check(struct watch *w)
{
	if (w->client && w->manifests >= w->want_manifests && w->peers >= w->want_peers &&
	    w->published >= w->want_published)
		watch_stop(w);
}

static void on_manifest(void *ctx, const uint8_t key[32], uint64_t sequence, const char *json,
			size_t len)
{
	struct watch *w = ctx;
	struct mfs_manifest m;
	char why[160];

	(void)key;
	(void)sequence;
	if (mfs_manifest_verify(&m, json, len, NULL, 0, why, sizeof why) == 0) {
		printf("manifest %llu\n", (unsigned long long)m.sequence);
		mfs_manifest_clear(&m);
	} else {
		printf("manifest-invalid %s\n", why);
	}
	fflush(stdout);
	w->manifests++;
	watch_check(w);
}

static void on_peers(void *ctx, const uint8_t key[32], const struct mfs_tracker_peer *p, size_t n)
{
	struct watch *w = ctx;
	char hex[65];

	(void)key;
	printf("peers %zu", n);
	for (size_t i = 0; i < n; i++) {
		mfs_hex_encode(hex, p[i].node_pk, 32);
		printf(" %s:%u:%s", p[i].host, p[i].port, hex);
	}
	printf("\n");
	fflush(stdout);
	w->peers++;
	watch_check(w);
}

static void on_published(void *ctx, const uint8_t key[32], uint64_t seq, int err,
			 const char *reason)
{
	struct watch *w = ctx;

	(void)key;
	if (err == 0)
		printf("published %llu\n", (unsigned long long)seq);
	else
		printf("refused %llu %s (%s)\n", (unsigned long long)seq, reason, mfs_strerror(err));
	fflush(stdout);
	w->published++;
	watch_check(w);
}

static void on_connected(void *ctx, int up)
{
	(void)ctx;
	printf("%s\n", up ? "connected" : "disconnected");
	fflush(stdout);
}

static void on_error(void *ctx, const char *reason)
{
	(void)ctx;
	printf("error %s\n", reason);
	fflush(stdout);
}

static void on_timeout(uv_timer_t *t)
{
	struct watch *w = t->data;

	printf("timeout\n");
	fflush(stdout);
	w->timed_out = 1;
	watch_stop(w);
}

static void hex_key(uint8_t out[32], const char *hex)
{
	char buf[65];

	snprintf(buf, sizeof buf, "%s", hex);
	if (strlen(hex) < 64 || mfs_hex_decode(out, 32, buf) != 0)
		die("%s: not a 64-hex-digit key", hex);
}

static const struct mfs_tracker_client_callbacks watch_callbacks = {
	.manifest = on_manifest,
	.peers = on_peers,
	.published = on_published,
	.connected = on_connected,
	.error = on_error,
};

/* This process's peak resident memory in KiB (VmHWM), or -1. */
static long peak_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static int cmd_client(int argc, char **argv)
{
	struct watch w = {0};
	int timeout_s = 10, rc, hwm = 0;

	if (argc < 3)
		die("usage: wsprobe client URL [options]");
	if (uv_loop_init(&w.loop) != 0)
		die("uv_loop_init");
	rc = mfs_tracker_client_new(&w.client, &w.loop, argv[2], &watch_callbacks, &w);
	if (rc != 0)
		die("%s: %s", argv[2], mfs_strerror(rc));
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *v = argv[i + 1];
		uint8_t key[32], pk[32];

		if (strcmp(argv[i], "--subscribe") == 0) {
			hex_key(key, v);
			mfs_tracker_client_subscribe(w.client, key);
		} else if (strcmp(argv[i], "--announce") == 0) {
			const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			if (!c2)
				die("--announce KEY:PORT:NODEPK");
			hex_key(key, v);
			hex_key(pk, c2 + 1);
			mfs_tracker_client_announce(w.client, key, (uint16_t)atoi(c1 + 1), pk);
		} else if (strcmp(argv[i], "--publish") == 0) {
			size_t len;
			char *json = read_file(v, &len);

			while (len && (json[len - 1] == '\n'))
				len--;
			if ((rc = mfs_tracker_client_publish(w.client, json, len)) != 0)
				die("%s: %s", v, mfs_strerror(rc));
			free(json);
		} else if (strcmp(argv[i], "--manifests") == 0) {
			w.want_manifests = atoi(v);
		} else if (strcmp(argv[i], "--peers") == 0) {
			w.want_peers = atoi(v);
		} else if (strcmp(argv[i], "--published") == 0) {
			w.want_published = atoi(v);
		} else if (strcmp(argv[i], "--timeout") == 0) {
			timeout_s = atoi(v);
		} else if (strcmp(argv[i], "--hwm") == 0) {
			hwm = atoi(v);
		} else {
			die("unknown option %s", argv[i]);
		}
	}
	uv_timer_init(&w.loop, &w.timeout);
	w.timeout.data = &w;
	uv_timer_start(&w.timeout, on_timeout, 1000ull * timeout_s, 0);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&w.loop);
	if (rc != 0)
		die("the loop did not end clean: %s", uv_strerror(rc));
	if (hwm)
		printf("hwm %ld\n", peak_kib());
	return w.timed_out;
}

/* ---- serve: a hostile tracker ------------------------------------------------ */

/* One unmasked text frame, as a server sends it. */
static int send_server_text(int fd, const char *data, size_t len)
{
	unsigned char head[10];
	size_t h = 0;

	head[h++] = 0x81;
	if (len < 126) {
		head[h++] = (unsigned char)len;
	} else if (len < 65536) {
		head[h++] = 126;
		head[h++] = (unsigned char)(len >> 8);
		head[h++] = (unsigned char)len;
	} else {
		head[h++] = 127;
		for (int i = 7; i >= 0; i--)
			head[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	return write_all(fd, head, h) == 0 && write_all(fd, data, len) == 0 ? 0 : -1;
}

/* Reads the client's upgrade request and answers 101. 0 or -1. */
static int server_handshake(int fd)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char req[8192] = "", accept_key[64], reply[256], joined[128];
	unsigned char digest[20];
	size_t got = 0;
	const char *k;
	size_t klen;

	while (!strstr(req, "\r\n\r\n")) {
		ssize_t n;

		if (got == sizeof req - 1)
			return -1;
		n = recv(fd, req + got, sizeof req - 1 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		req[got] = '\0';
	}
	if (!(k = strcasestr(req, "Sec-WebSocket-Key:")))
		return -1;
	k += strlen("Sec-WebSocket-Key:");
	k += strspn(k, " ");
	klen = strcspn(k, "\r\n ");
	if (klen > 40)
		return -1;
	snprintf(joined, sizeof joined, "%.*s%s", (int)klen, k, guid);
	lws_SHA1((const unsigned char *)joined, strlen(joined), digest);
	base64(accept_key, digest, sizeof digest);
	snprintf(reply, sizeof reply,
		 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept_key);
	return write_all(fd, reply, strlen(reply));
}

/* Sends each line of text[len] repeat times; the number of messages sent. */
static long serve_lines(int fd, const char *text, size_t len, long repeat, long *seq)
{
	long sent = 0;

	for (const char *line = text, *end; line < text + len; line = end + 1) {
		const char *mark;
		size_t n;

		if (!(end = memchr(line, '\n', (size_t)(text + len - line))))
			end = text + len;
		n = (size_t)(end - line);
		mark = memmem(line, n, "%SEQ%", 5);
		for (long r = 0; n && r < repeat; r++) {
			char *msg = malloc(n + 32);
			size_t m = n;

			if (!msg)
				die("out of memory");
			if (mark) {
				int w = sprintf(msg, "%.*s%ld", (int)(mark - line), line, (*seq)++);

				memcpy(msg + w, mark + 5, n - (size_t)(mark - line) - 5);
				m = (size_t)w + n - (size_t)(mark - line) - 5;
			} else {
				memcpy(msg, line, n);
			}
			if (send_server_text(fd, msg, m) != 0) {
				free(msg);
				return sent;
			}
			free(msg);
			sent++;
		}
	}
	return sent;
}

static int cmd_serve(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	long repeat = 1, connections = -1, seq = 1000;
	int first = 2, lfd;

	for (; first + 1 < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
		if (strcmp(argv[first], "--repeat") == 0)
			repeat = atol(argv[first + 1]);
		else if (strcmp(argv[first], "--connections") == 0)
			connections = atol(argv[first + 1]);
		else
			die("unknown option %s", argv[first]);
	}
	if (first >= argc)
		die("usage: wsprobe serve [--connections C] [--repeat N] FILE...");
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		die("listen: %s", strerror(errno));
	printf("port %u\n", ntohs(a.sin_port));
	fflush(stdout);
	for (long k = 0; connections < 0 || k < connections; k++) {
		int file = first + (int)k < argc ? first + (int)k : argc - 1;
		int fd = accept(lfd, NULL, NULL);
		char buf[65536];
		long sent = 0;
		size_t len;
		char *text;

		if (fd < 0)
			die("accept: %s", strerror(errno));
		if (server_handshake(fd) == 0) {
			text = read_file(argv[file], &len);
			sent = serve_lines(fd, text, len, repeat, &seq);
			free(text);
			printf("sent %ld\n", sent);
			fflush(stdout);
			while (recv(fd, buf, sizeof buf, 0) > 0)
				;
		}
		close(fd);
		printf("closed\n");
		fflush(stdout);
	}
	close(lfd);
	return 0;
}

/* ---- selftest ------------------------------------------------------------- */

struct selftest {
	uv_loop_t loop;
	uv_timer_t step;
	struct mfs_tracker_server *server;
	struct mfs_tracker_client *a, *b, *c, *doomed, *dialer;
	uint8_t pk[32], sk[64], node_a[32], node_b[32];
	char *manifest;
	size_t manifest_len;
	int b_manifests, c_manifests, a_published, b_peers, a_unannounced, b_gone, phase;
	char *db;
};

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond))                                                      \
			die("selftest: %s:%d: %s", __FILE__, __LINE__, #cond);    \
	} while (0)

static void st_manifest_b(void *ctx, const uint8_t key[32], uint64_t sequence, const char *json,
			  size_t len)
{
	struct selftest *t = ctx;

	(void)key;
	(void)sequence;
	CHECK(len == t->manifest_len && memcmp(json, t->manifest, len) == 0);
	t->b_manifests++;
}

static void st_manifest_c(void *ctx, const uint8_t key[32], uint64_t sequence, const char *json,
			  size_t len)
{
	(void)key;
	(void)sequence;
	struct selftest *t = ctx;

	(void)json;
	(void)len;
	t->c_manifests++;
	/* Freeing from inside a callback is allowed; nothing may follow. */
	mfs_tracker_client_free(t->c);
	t->c = NULL;
}

static void st_peers_a(void *ctx, const uint8_t key[32], const struct mfs_tracker_peer *p,
		       size_t n)
{
	(void)ctx;
	(void)key;
	(void)p;
	(void)n;
}

static void st_peers_b(void *ctx, const uint8_t key[32], const struct mfs_tracker_peer *p,
		       size_t n)
{
	struct selftest *t = ctx;

	int a_seen = 0;

	CHECK(memcmp(key, t->pk, 32) == 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(memcmp(p[i].node_pk, t->node_b, 32) != 0);
		if (memcmp(p[i].node_pk, t->node_a, 32) == 0 && p[i].port == 4001 &&
		    strcmp(p[i].host, "127.0.0.1") == 0)
			a_seen = 1;
	}
	t->b_peers += a_seen;
	if (t->a_unannounced && !a_seen)
		t->b_gone = 1;
}

static void st_published_a(void *ctx, const uint8_t key[32], uint64_t seq, int err,
			   const char *reason)
{
	struct selftest *t = ctx;

	(void)reason;
	CHECK(memcmp(key, t->pk, 32) == 0 && seq == 1 && err == 0);
	t->a_published++;
}

static void st_never(void *ctx, const uint8_t key[32], uint64_t sequence, const char *json,
		     size_t len)
{
	(void)key;
	(void)sequence;
	(void)ctx;
	(void)json;
	(void)len;
	die("selftest: a freed client called back");
}

static void st_step(uv_timer_t *timer)
{
	struct selftest *t = timer->data;

	t->phase++;
	if (t->phase > 400)
		die("selftest: stuck (b %d c %d published %d peers %d gone %d)", t->b_manifests,
		    t->c_manifests, t->a_published, t->b_peers, t->b_gone);
	if (t->b_peers && !t->a_unannounced) {
		/* A says "stopped": B's next answers must not list it. */
		mfs_tracker_client_unannounce(t->a, t->pk);
		t->a_unannounced = 1;
	}
	if (t->a_published && t->b_manifests && t->c_manifests && t->b_gone) {
		struct mfs_tracker_server_stats st;

		mfs_tracker_server_stats(t->server, &st);
		CHECK(st.published == 1 && st.connections >= 2);
		/* Stop with clients connected: everything must still close. */
		mfs_tracker_server_stop(t->server);
		mfs_tracker_client_free(t->a);
		mfs_tracker_client_free(t->b);
		mfs_tracker_client_free(t->dialer);
		uv_close((uv_handle_t *)timer, NULL);
		printf("selftest: publish, push, announce, unannounce, free inside a callback: ok\n");
	}
}

static void selftest_clients(void)
{
	struct mfs_tracker_client_callbacks cb_a = {.manifest = st_never, .peers = st_peers_a,
						    .published = st_published_a};
	struct mfs_tracker_client_callbacks cb_b = {.manifest = st_manifest_b,
						    .peers = st_peers_b};
	struct mfs_tracker_client_callbacks cb_c = {.manifest = st_manifest_c,
						    .peers = st_peers_a};
	struct mfs_tracker_client_callbacks cb_never = {.manifest = st_never,
							.peers = st_peers_a};
	struct mfs_tracker_server_config cfg = {.host = "127.0.0.1", .interval = 1};
	char tmpl[] = "/var/tmp/wsprobe-XXXXXX", url[64], cmd[128];
	struct selftest t = {0};
	json_t *cols;
	int rc;

	CHECK(mkdtemp(tmpl) != NULL);
	cfg.db_dir = tmpl;
	CHECK(uv_loop_init(&t.loop) == 0);
	mfs_sign_keypair(t.pk, t.sk);
	mfs_random(t.node_a, 32);
	mfs_random(t.node_b, 32);
	cols = json_pack("[{s:[s],s:s}]", "items", "magnet:?xt=urn:btih:00", "title", "t");
	CHECK(mfs_manifest_sign(&t.manifest, &t.manifest_len, 1, 1, cols, t.pk, t.sk) == 0);
	json_decref(cols);

	/* A client freed at once, and one dialling a port nobody listens on. */
	CHECK(mfs_tracker_client_new(&t.doomed, &t.loop, "ws://127.0.0.1:9/", &cb_never, &t) == 0);
	mfs_tracker_client_free(t.doomed);
	CHECK(mfs_tracker_client_new(&t.dialer, &t.loop, "ws://127.0.0.1:9/", &cb_never, &t) == 0);
	CHECK(mfs_tracker_client_new(&t.a, &t.loop, "https://x/", &cb_a, &t) == -EPROTONOSUPPORT);
	CHECK(mfs_tracker_client_new(&t.a, &t.loop, "ws://x/#sha256=00", &cb_a, &t) == -EINVAL);
	CHECK(mfs_tracker_client_new(&t.a, &t.loop, "ws://", &cb_a, &t) == -EINVAL);
	CHECK(mfs_tracker_client_new(&t.a, &t.loop, "ws://h:0/", &cb_a, &t) == -EINVAL);

	rc = mfs_tracker_server_start(&t.server, &t.loop, &cfg);
	CHECK(rc == 0);
	snprintf(url, sizeof url, "ws://127.0.0.1:%u/", mfs_tracker_server_port(t.server));
	CHECK(mfs_tracker_client_new(&t.a, &t.loop, url, &cb_a, &t) == 0);
	CHECK(mfs_tracker_client_new(&t.b, &t.loop, url, &cb_b, &t) == 0);
	CHECK(mfs_tracker_client_new(&t.c, &t.loop, url, &cb_c, &t) == 0);
	CHECK(mfs_tracker_client_subscribe(t.b, t.pk) == 0);
	CHECK(mfs_tracker_client_subscribe(t.c, t.pk) == 0);
	CHECK(mfs_tracker_client_publish(t.a, "{}", 2) == MFS_E_FORMAT);
	CHECK(mfs_tracker_client_publish(t.a, t.manifest, t.manifest_len) == 0);
	CHECK(mfs_tracker_client_announce(t.a, t.pk, 4001, t.node_a) == 0);
	CHECK(mfs_tracker_client_announce(t.b, t.pk, 4002, t.node_b) == 0);
	uv_timer_init(&t.loop, &t.step);
	t.step.data = &t;
	uv_timer_start(&t.step, st_step, 50, 50);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&t.loop);
	CHECK(rc == 0);
	printf("selftest: the loop ended with every handle closed: ok\n");
	free(t.manifest);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
}

/* A subscriber that never reads, on its own thread (the loop must run). */
struct sloth {
	struct url url;
	char subscribe[128];
	volatile int subscribed, release, closed;
	long long bytes;
};

static void *sloth_main(void *arg)
{
	struct sloth *s = arg;
	char why[256], buf[65536];
	struct ws w;
	ssize_t n;

	if (ws_open(&w, &s->url, NULL, NULL, why, sizeof why) != 0)
		die("selftest: slow subscriber: %s", why);
	if (ws_send(&w, 1, 1, s->subscribe, strlen(s->subscribe)) != 0)
		die("selftest: slow subscriber: subscribe failed");
	s->subscribed = 1;
	while (!s->release)
		usleep(10000);
	/* Now read everything: the tracker must have cut the connection. */
	while ((n = recv(w.fd, buf, sizeof buf, 0)) > 0)
		s->bytes += n;
	s->closed = 1;
	ws_close(&w);
	return NULL;
}

struct slowtest {
	uv_loop_t loop;
	uv_timer_t step;
	struct mfs_tracker_server *server;
	struct mfs_tracker_client *publisher;
	struct sloth sloth;
	pthread_t thread;
	uint8_t pk[32], sk[64];
	uint64_t sequence;
	int started, done;
};

static void slow_publish_next(struct slowtest *t)
{
	json_t *cols;
	char *big = malloc(900000), *text;
	size_t len;

	memset(big, 'a', 899999);
	big[899999] = '\0';
	cols = json_pack("[{s:[s],s:s}]", "items", big, "title", "big");
	CHECK(mfs_manifest_sign(&text, &len, ++t->sequence, 1, cols, t->pk, t->sk) == 0);
	CHECK(mfs_tracker_client_publish(t->publisher, text, len) == 0);
	json_decref(cols);
	free(text);
	free(big);
}

static void slow_published(void *ctx, const uint8_t key[32], uint64_t seq, int err,
			   const char *reason)
{
	struct slowtest *t = ctx;
	struct mfs_tracker_server_stats st;

	(void)key;
	CHECK(err == 0 || !reason);
	CHECK(seq == t->sequence);
	mfs_tracker_server_stats(t->server, &st);
	if (st.connections == 1) {
		/* Only the publisher is left: the sloth was cut off. */
		t->done = 1;
		return;
	}
	if (t->sequence >= 60)
		die("selftest: a subscriber that never reads was never cut off");
	slow_publish_next(t);
}

static void slow_step(uv_timer_t *timer)
{
	struct slowtest *t = timer->data;

	if (!t->started && t->sloth.subscribed && mfs_tracker_client_is_connected(t->publisher)) {
		t->started = 1;
		slow_publish_next(t);
	}
	if (t->done) {
		t->sloth.release = 1;
		mfs_tracker_client_free(t->publisher);
		mfs_tracker_server_stop(t->server);
		uv_close((uv_handle_t *)timer, NULL);
	}
}

static void selftest_slow(void)
{
	struct mfs_tracker_client_callbacks cb = {.manifest = st_never, .peers = st_peers_a,
						  .published = slow_published};
	struct mfs_tracker_server_config cfg = {.host = "127.0.0.1",
						.max_message = MFS_TRACKER_MESSAGE_MAX};
	char tmpl[] = "/var/tmp/wsprobe-XXXXXX", url[64], cmd[128], hex[65];
	struct slowtest t = {0};

	CHECK(mkdtemp(tmpl) != NULL);
	cfg.db_dir = tmpl;
	CHECK(uv_loop_init(&t.loop) == 0);
	mfs_sign_keypair(t.pk, t.sk);
	CHECK(mfs_tracker_server_start(&t.server, &t.loop, &cfg) == 0);
	snprintf(url, sizeof url, "ws://127.0.0.1:%u/", mfs_tracker_server_port(t.server));
	CHECK(mfs_tracker_client_new(&t.publisher, &t.loop, url, &cb, &t) == 0);
	parse_url(&t.sloth.url, url);
	mfs_hex_encode(hex, t.pk, 32);
	snprintf(t.sloth.subscribe, sizeof t.sloth.subscribe,
		 "{\"action\":\"subscribe\",\"key\":\"%s\"}", hex);
	CHECK(pthread_create(&t.thread, NULL, sloth_main, &t.sloth) == 0);
	uv_timer_init(&t.loop, &t.step);
	t.step.data = &t;
	uv_timer_start(&t.step, slow_step, 10, 10);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&t.loop) == 0);
	pthread_join(t.thread, NULL);
	CHECK(t.sloth.closed);
	printf("selftest: a subscriber that never reads is cut off after %llu manifests of 900 KB"
	       " (%lld bytes reached it): ok\n",
	       (unsigned long long)t.sequence, t.sloth.bytes);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
	if (mfs_crypto_init() != 0)
		die("cannot initialise libsodium");
	if (argc < 2)
		die("usage: wsprobe talk|raw|many|limit|client|serve|selftest ...");
	if (strcmp(argv[1], "talk") == 0)
		return cmd_talk(argc, argv);
	if (strcmp(argv[1], "raw") == 0)
		return cmd_raw(argc, argv);
	if (strcmp(argv[1], "many") == 0)
		return cmd_many(argc, argv);
	if (strcmp(argv[1], "mint") == 0)
		return cmd_mint(argc, argv);
	if (strcmp(argv[1], "limit") == 0)
		return cmd_limit(argc, argv);
	if (strcmp(argv[1], "client") == 0)
		return cmd_client(argc, argv);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(argv[1], "selftest") == 0) {
		selftest_clients();
		selftest_slow();
		return 0;
	}
	die("unknown mode %s", argv[1]);
}
