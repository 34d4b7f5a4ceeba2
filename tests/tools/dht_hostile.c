/* mfs-test-dht-hostile: bad input against a running DHT node (a megafs
 * one, mfs-test-dht serve), for tests/integration/dht_node.sh:
 *
 *   mfs-test-dht-hostile IPV4 PORT
 *
 * Sends, each from a fresh UDP socket on 127.0.0.1 (127.0.0.2 for the
 * stolen token): malformed bencode; a put whose v is over 1,000 bytes; a
 * mutable put with a bad signature; a valid one (seq 5), then one of a
 * lower seq (4), then one whose cas is not 5; a put whose token was got
 * from another address. Prints "CASE=ANSWER" for each ("none" when the
 * node stays silent, "error CODE", or "ok"), each query's and answer's
 * size as "ratio=ANSWER/QUERY", and finally "ping=ok" when the node still
 * answers a ping. Exit 0 when it could run every case (the script judges
 * the answers), 1 when not, 2 on bad usage. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/dht_item.h"
#include "net/krpc.h"

static struct sockaddr_in node;
static uint8_t my_id[20];
static struct mfs_bnode arena[MFS_KRPC_ARENA];

static int socket_on(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends buf and waits 1 s for an answer into r (its bytes in ans): 1 with
 * an answer, 0 without. */
static int send_wait(int fd, const uint8_t *buf, size_t len, struct mfs_krpc_msg *r,
		     uint8_t *ans, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (sendto(fd, buf, len, 0, (struct sockaddr *)&node, sizeof node) < 0)
		return 0;
	if (poll(&p, 1, 1000) != 1 || (n = recv(fd, ans, cap, 0)) <= 0)
		return 0;
	printf("ratio=%zd/%zu\n", n, len);
	return mfs_krpc_parse(r, arena, MFS_KRPC_ARENA, ans, (size_t)n, NULL, 0) == 0;
}

static int query(int fd, struct mfs_krpc_msg *q, struct mfs_krpc_msg *r, uint8_t *ans, size_t cap)
{
	uint8_t buf[MFS_KRPC_MSG_MAX];
	size_t len;
	static uint8_t tid[2];

	tid[1]++;
	q->kind = 'q';
	q->tid = tid;
	q->tid_len = 2;
	q->id = my_id;
	if (mfs_krpc_encode(buf, sizeof buf, &len, q) != 0)
		return 0;
	return send_wait(fd, buf, len, r, ans, cap);
}

static void report(const char *name, int answered, const struct mfs_krpc_msg *r)
{
	if (!answered)
		printf("%s=none\n", name);
	else if (r->kind == 'e')
		printf("%s=error %lld\n", name, (long long)r->error_code);
	else
		printf("%s=ok\n", name);
}

/* A write token for target, got over fd. */
static int token_for(int fd, const uint8_t *target, uint8_t *token, size_t *token_len)
{
	struct mfs_krpc_msg q = {.method = MFS_KRPC_GET, .target = target}, r;
	uint8_t ans[MFS_KRPC_MSG_MAX];

	if (!query(fd, &q, &r, ans, sizeof ans) || r.kind != 'r' || !r.token)
		return -1;
	memcpy(token, r.token, r.token_len);
	*token_len = r.token_len;
	return 0;
}

struct signer {
	uint8_t pk[32], sk[64], target[20];
	uint8_t v[64];
	struct mfs_dht_mutable item;
};

/* A mutable put of seq (cas when has_cas) from fd with a token got on
 * token_fd; bad_sig flips a bit of the signature. */
static void put(const char *name, struct signer *s, int fd, int token_fd, int64_t seq,
		int has_cas, int64_t cas, int bad_sig)
{
	uint8_t token[MFS_KRPC_TOKEN_MAX], sig[64], ans[MFS_KRPC_MSG_MAX];
	size_t token_len = 0;
	struct mfs_krpc_msg q = {.method = MFS_KRPC_PUT}, r;

	s->item.seq = seq;
	if (token_for(token_fd, s->target, token, &token_len) != 0 ||
	    mfs_dht_item_sign(sig, &s->item, s->sk) != 0) {
		printf("%s=could not run\n", name);
		exit(1);
	}
	sig[0] ^= (uint8_t)bad_sig;
	q.token = token;
	q.token_len = token_len;
	q.v = s->item.v;
	q.v_len = s->item.v_len;
	q.k = s->pk;
	q.sig = sig;
	q.salt = s->item.salt;
	q.salt_len = s->item.salt_len;
	q.has_seq = 1;
	q.seq = seq;
	q.has_cas = has_cas;
	q.cas = cas;
	report(name, query(fd, &q, &r, ans, sizeof ans), &r);
}

/* A put dictionary whose v is a 1,100-byte string: written by hand, as
 * krpc's writer refuses it. */
static void oversized(int fd, const uint8_t *token, size_t token_len)
{
	static uint8_t buf[2048], big[1100];
	struct mfs_benc_w w;
	struct mfs_krpc_msg r;
	uint8_t ans[MFS_KRPC_MSG_MAX];
	size_t len;

	memset(big, 'x', sizeof big);
	mfs_benc_w_init(&w, buf, sizeof buf);
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "a");
	mfs_benc_w_dict(&w);
	mfs_benc_w_key(&w, "id");
	mfs_benc_w_str(&w, my_id, 20);
	mfs_benc_w_key(&w, "token");
	mfs_benc_w_str(&w, token, token_len);
	mfs_benc_w_key(&w, "v");
	mfs_benc_w_str(&w, big, sizeof big);
	mfs_benc_w_end(&w);
	mfs_benc_w_key(&w, "q");
	mfs_benc_w_cstr(&w, "put");
	mfs_benc_w_key(&w, "t");
	mfs_benc_w_cstr(&w, "zz");
	mfs_benc_w_key(&w, "y");
	mfs_benc_w_cstr(&w, "q");
	mfs_benc_w_end(&w);
	if (mfs_benc_w_finish(&w, &len) != 0)
		exit(1);
	report("oversized", send_wait(fd, buf, len, &r, ans, sizeof ans), &r);
}

int main(int argc, char **argv)
{
	static const char malformed[] = "d1:ad2:id20:0123456789abcdefghije1:q4:ping1:t2:aa1:y1:q";
	struct signer s = {0};
	struct mfs_krpc_msg q = {.method = MFS_KRPC_PING}, r;
	uint8_t ans[MFS_KRPC_MSG_MAX], token[MFS_KRPC_TOKEN_MAX], seed[32];
	size_t token_len;
	int a, b;

	if (argc != 3 || sodium_init() < 0 || inet_pton(AF_INET, argv[1], &node.sin_addr) != 1) {
		fprintf(stderr, "usage: mfs-test-dht-hostile IPV4 PORT\n");
		return 2;
	}
	node.sin_family = AF_INET;
	node.sin_port = htons((uint16_t)atoi(argv[2]));
	randombytes_buf(my_id, sizeof my_id);
	a = socket_on("127.0.0.1");
	b = socket_on("127.0.0.2");
	if (a < 0 || b < 0) {
		perror("mfs-test-dht-hostile: socket");
		return 1;
	}
	report("malformed", send_wait(a, (const uint8_t *)malformed, sizeof malformed - 1, &r, ans,
				      sizeof ans), &r);

	randombytes_buf(seed, sizeof seed);
	crypto_sign_seed_keypair(s.pk, s.sk, seed);
	memcpy(s.v, "12:hostile test", 15);
	s.item = (struct mfs_dht_mutable){.salt = (const uint8_t *)"hostile", .salt_len = 7,
					  .v = s.v, .v_len = 15};
	mfs_dht_item_mutable_target(s.target, s.pk, s.item.salt, s.item.salt_len);
	if (token_for(a, s.target, token, &token_len) != 0) {
		fprintf(stderr, "mfs-test-dht-hostile: no token from the node\n");
		return 1;
	}
	oversized(a, token, token_len);
	put("bad_signature", &s, a, a, 5, 0, 0, 1);
	put("valid_seq5", &s, a, a, 5, 0, 0, 0);
	put("lower_seq4", &s, a, a, 4, 0, 0, 0);
	put("cas_mismatch", &s, a, a, 6, 1, 3, 0);
	put("token_from_other_address", &s, b, a, 7, 0, 0, 0);
	put("valid_seq6_cas5", &s, a, a, 6, 1, 5, 0);
	if (query(a, &q, &r, ans, sizeof ans) && r.kind == 'r')
		printf("ping=ok\n");
	else
		printf("ping=none\n");
	sodium_memzero(s.sk, sizeof s.sk);
	close(a);
	close(b);
	return 0;
}
