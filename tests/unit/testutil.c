#include "tests/unit/testutil.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/kdf.h"
#include "crypto/noise.h"
#include "fs/store/blobstore.h"
#include "crypto/secure.h"
#include "fs/fuse/fs.h"
#include "fs/store/keyring.h"

char *tu_tempdir(void)
{
	char *dir = strdup("/tmp/mfs-test-XXXXXX");

	cr_assert_not_null(dir);
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_store(char **dir, uint64_t slot_count)
{
	struct mfs_kdf_limits kdf;

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(mfs_kdf_preset(&kdf, "fast"), 0);
	*dir = tu_tempdir();
	cr_assert_eq(mfs_store_create(*dir, slot_count, &kdf), 0);
}

struct mfs_volume *tu_volume(struct mfs_store *s, const char *pw, const char *protect_pw)
{
	struct mfs_volume *v = NULL;

	cr_assert_eq(mfs_volume_create(s, pw, strlen(pw), protect_pw,
				       protect_pw ? strlen(protect_pw) : 0), 0);
	cr_assert_eq(mfs_volume_open(&v, s, pw, strlen(pw), protect_pw,
				     protect_pw ? strlen(protect_pw) : 0), 0);
	return v;
}

void tu_fixture_open(struct tu_fixture *f, uint64_t slot_count)
{
	tu_store(&f->dir, slot_count);
	cr_assert_eq(mfs_store_open(&f->store, f->dir), 0);
	f->vol = tu_volume(f->store, "pw", NULL);
}

void tu_fixture_close(struct tu_fixture *f)
{
	mfs_volume_close(f->vol);
	mfs_store_close(f->store);
	tu_rmtree(f->dir);
	free(f->dir);
}

void tu_channel_new(struct mfs_volume *v, uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_keyring_new_channel(t, "test", pk), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

struct mfs_fs *tu_fs_start(struct tu_fixture *f, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			   int writable, void (*published)(void *ctx, const char *json, size_t len),
			   void *ctx)
{
	struct mfs_fs_config cfg = {.store_dir = f->dir, .writable = writable,
				    .cache_bytes = 16u << 20, .published = published,
				    .published_ctx = ctx};
	struct mfs_fs *fs;

	memcpy(cfg.pk, pk, sizeof cfg.pk);
	cr_assert_eq(mfs_fs_new(&fs, &cfg), 0);
	cr_assert_eq(mfs_fs_start(fs, f->store, f->vol, NULL), 0);
	return fs;
}

void tu_fill_random(void *buf, size_t len, uint64_t seed)
{
	/* xorshift: reproducible, fast, not cryptographic (test data only). */
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

void tu_ingest_random(struct mfs_volume_sink *sink, const char *name, size_t len, uint64_t seed,
		      struct mfs_file_entry *out)
{
	static const uint8_t secret[32] = {3};
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT, .convergence = secret};
	struct mfs_blob_sink as = mfs_volume_sink_as_sink(sink);
	uint8_t *data = malloc(len + 1);
	struct mfs_ingest *w;

	cr_assert_not_null(data);
	tu_fill_random(data, len, seed);
	cr_assert_eq(mfs_ingest_begin(&w, name, &o, &as), 0);
	cr_assert_eq(mfs_ingest_write(w, data, len), 0);
	cr_assert_eq(mfs_ingest_finish(w, 1700000000, out), 0);
	free(data);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	cr_assert(fd >= 0, "open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

int tu_pin_count(struct mfs_volume *v, const uint8_t id[32])
{
	struct mfs_vtxn *t;
	int pins;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	pins = mfs_blob_pin_count(t, id);
	mfs_vtxn_abort(t);
	return pins;
}

int tu_loopback_socket(uint16_t *port, int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	if (backlog > 0)
		cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

void tu_golden(const char *dir, const char *name, const void *bytes, size_t len)
{
	char path[4096];
	uint8_t *want;
	size_t want_len;
	FILE *f;

	cr_assert(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path);
	if (getenv("MFS_WRITE_VECTORS")) {
		f = fopen(path, "wb");
		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(fwrite(bytes, 1, len, f), len);
		cr_assert_eq(fclose(f), 0);
		return;
	}
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s is missing", path);
	want = malloc(len + 1);
	cr_assert_not_null(want);
	want_len = fread(want, 1, len + 1, f);
	fclose(f);
	cr_assert_eq(want_len, len, "%s: %zu bytes made, %zu in the file", name, len, want_len);
	cr_assert_arr_eq(want, bytes, len, "%s: the bytes made differ from the file", name);
	free(want);
}

static void on_guard(uv_timer_t *t)
{
	cr_assert_fail("the loop did not finish in %u ms", (unsigned)(uintptr_t)t->data);
}

void tu_uv_start(uv_loop_t *loop, uv_timer_t *guard, unsigned ms)
{
	cr_assert_eq(uv_loop_init(loop), 0);
	cr_assert_eq(uv_timer_init(loop, guard), 0);
	guard->data = (void *)(uintptr_t)ms;
	cr_assert_eq(uv_timer_start(guard, on_guard, ms, 0), 0);
	uv_unref((uv_handle_t *)guard);
}

void tu_uv_listen(uv_loop_t *loop, uv_tcp_t *server, struct sockaddr_in *addr,
		  uv_connection_cb cb)
{
	int len = sizeof *addr;

	cr_assert_eq(uv_tcp_init(loop, server), 0);
	cr_assert_eq(uv_ip4_addr("127.0.0.1", 0, addr), 0);
	cr_assert_eq(uv_tcp_bind(server, (struct sockaddr *)addr, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)server, 8, cb), 0);
	cr_assert_eq(uv_tcp_getsockname(server, (struct sockaddr *)addr, &len), 0);
}

void tu_uv_finish(uv_loop_t *loop, uv_timer_t *guard, uv_tcp_t *server,
		  const int *server_open)
{
	cr_assert_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
	uv_close((uv_handle_t *)guard, NULL);
	if (*server_open) /* read now: a connection callback may have closed it */
		uv_close((uv_handle_t *)server, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(loop), 0, "a handle outlived the test's objects");
}

void tu_peer_pair_start(struct tu_peer_pair *pp, unsigned guard_ms)
{
	memset(pp, 0, sizeof *pp);
	tu_uv_start(&pp->loop, &pp->guard, guard_ms); /* the loop ends when the peers do */
}

static void pair_on_connection(uv_stream_t *server, int status)
{
	struct tu_peer_pair *pp = server->data;

	cr_assert_eq(status, 0);
	cr_assert_null(*pp->peer[1], "one connection per round");
	cr_assert_eq(mfs_peer_accept(pp->peer[1], server, &pp->cfg[1], &pp->cb, pp->ctx[1]), 0);
	cr_assert_not_null(*pp->peer[1]);
	uv_close((uv_handle_t *)server, NULL);
	pp->server_open = 0;
}

void tu_peer_pair_listen(struct tu_peer_pair *pp)
{
	tu_uv_listen(&pp->loop, &pp->server, &pp->addr, pair_on_connection);
	pp->server.data = pp;
	pp->server_open = 1;
}

void tu_peer_pair_dial(struct tu_peer_pair *pp, const uint8_t *expected)
{
	cr_assert_eq(mfs_peer_connect(pp->peer[0], &pp->loop, (struct sockaddr *)&pp->addr,
				      expected, &pp->cfg[0], &pp->cb, pp->ctx[0]),
		     0);
	cr_assert_not_null(*pp->peer[0]);
}

void tu_peer_pair_run(struct tu_peer_pair *pp)
{
	tu_uv_finish(&pp->loop, &pp->guard, &pp->server, &pp->server_open);
}

/* ---- raw peer-wire endpoints ---- */

void tu_raw_set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = 10};
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* All of len bytes sent (sending) or received, EINTR retried; 0 or -1. */
static int whole_io(int fd, uint8_t *b, size_t len, int sending)
{
	while (len) {
		ssize_t n = sending ? send(fd, b, len, MSG_NOSIGNAL) : recv(fd, b, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int tu_raw_write_all(int fd, const void *buf, size_t len)
{
	return whole_io(fd, (uint8_t *)buf, len, 1); /* send does not write to it */
}

int tu_raw_read_full(int fd, void *buf, size_t len)
{
	return whole_io(fd, buf, len, 0);
}

/* One write per Noise message: no Nagle wait on a lone length prefix. */
int tu_raw_send_frame(struct tu_raw *w, const uint8_t *msg, size_t len)
{
	uint8_t *buf = malloc(2 + len);
	int err = -1;

	if (buf) {
		buf[0] = (uint8_t)(len >> 8);
		buf[1] = (uint8_t)len;
		memcpy(buf + 2, msg, len);
		err = tu_raw_write_all(w->fd, buf, 2 + len);
	}
	free(buf);
	return err;
}

int tu_raw_recv_frame(struct tu_raw *w, size_t *len)
{
	uint8_t l[2];

	if (tu_raw_read_full(w->fd, l, 2))
		return -1;
	*len = (size_t)l[0] << 8 | l[1];
	return tu_raw_read_full(w->fd, w->frame, *len);
}

int tu_raw_handshake(struct tu_raw *w, int initiator, const uint8_t *sk)
{
	struct mfs_noise_hs *hs;
	uint8_t msg[256], hash[MFS_NOISE_HASH_BYTES];
	size_t len, plen;
	int err = mfs_noise_hs_new(&hs, initiator, sk, (const uint8_t *)MFS_PEER_PROLOGUE,
				   strlen(MFS_PEER_PROLOGUE));

	if (err)
		return -1;
	for (int step = 0; step < 3 && !err; step++) {
		if ((step % 2 == 0) == (initiator != 0)) {
			err = mfs_noise_hs_write(hs, msg, sizeof msg, &len, NULL, 0);
			if (!err)
				err = tu_raw_send_frame(w, msg, len);
		} else {
			err = tu_raw_recv_frame(w, &len);
			if (!err)
				err = mfs_noise_hs_read(hs, NULL, 0, &plen, w->frame, len);
		}
	}
	if (!err)
		err = mfs_noise_hs_split(hs, &w->t, hash, w->remote_pk);
	mfs_noise_hs_free(hs);
	return err ? -1 : 0;
}

int tu_raw_send_plain(struct tu_raw *w, const uint8_t *plain, size_t len, long flip)
{
	uint8_t *ct = malloc(len + MFS_NOISE_TAG_BYTES);
	int err = ct ? mfs_noise_encrypt(w->t, ct, plain, len) : -1;

	if (!err && flip >= 0)
		ct[flip] ^= 0x01;
	if (!err)
		err = tu_raw_send_frame(w, ct, len + MFS_NOISE_TAG_BYTES);
	free(ct);
	return err ? -1 : 0;
}

int tu_raw_send_msg(struct tu_raw *w, const struct mfs_wire_msg *m, long flip)
{
	uint8_t buf[2048];
	size_t n = mfs_wire_encode(buf, sizeof buf, m);

	return n ? tu_raw_send_plain(w, buf, n, flip) : -1;
}

int tu_raw_recv_msg(struct tu_raw *w, struct mfs_wire_msg *m)
{
	enum mfs_wire_type type;
	size_t len, body_len;

	if (tu_raw_recv_frame(w, &len) || len < MFS_NOISE_TAG_BYTES)
		return -1;
	if (mfs_noise_decrypt(w->t, w->frame, w->frame, len))
		return -1;
	len -= MFS_NOISE_TAG_BYTES;
	if (len < MFS_WIRE_HEAD_BYTES || mfs_wire_head_parse(w->frame, &type, &body_len) ||
	    body_len != len - MFS_WIRE_HEAD_BYTES)
		return -1;
	return mfs_wire_parse(m, type, w->frame + MFS_WIRE_HEAD_BYTES, body_len) ? -1 : 0;
}

void tu_raw_close(struct tu_raw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	mfs_noise_transport_free(w->t);
	w->t = NULL;
}
