/* mfs-test-krpc: sends one KRPC query (net/krpc) to a DHT node over UDP
 * and reads its answer with the same module, for tests/integration/
 * dht_krpc.sh against real DHT nodes (libtorrent).
 *
 *   mfs-test-krpc IPV4 PORT ping
 *   mfs-test-krpc IPV4 PORT find_node TARGET_HEX
 *   mfs-test-krpc IPV4 PORT get TARGET_HEX [SALT]
 *   mfs-test-krpc IPV4 PORT put TEXT [SEED_HEX SALT SEQ]
 *
 * Prints what the answer holds, one "key=value" a line (id, nodes,
 * nodes6, token, seq, k, v as hex). find_node pings first from the same
 * socket and id, so that the node knows this one, prints "self=ID PORT"
 * and each compact node as "node=ID IP PORT". For get, a value is checked as BEP 44
 * says: an immutable one must hash to the target; a mutable one's key and
 * SALT must hash to the target and its signature must verify; then it
 * prints "verified=immutable" or "verified=mutable". put stores TEXT (as a
 * bencoded string) as an immutable item, or, given a seed, as a mutable
 * item signed with the Ed25519 key of SEED (net/dht_item): it gets a write
 * token with a get, puts, and prints "target=HEX" once the node accepts.
 * Exit 0 on a valid
 * answer, 3 when a get finds no value, 1 on no answer (3 tries of 2 s), a
 * refused answer or an error answer, 2 on bad usage. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "net/dht_item.h"
#include "net/krpc.h"

static void print_hex(const char *key, const uint8_t *p, size_t len)
{
	printf("%s=", key);
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* Each compact node of the answer: "node=ID IP PORT". */
static void print_nodes(const struct mfs_krpc_msg *r)
{
	struct mfs_krpc_node n;
	char ip[INET6_ADDRSTRLEN];

	for (int family = 4; family <= 6; family += 2) {
		const uint8_t *list = family == 4 ? r->nodes : r->nodes6;
		size_t len = family == 4 ? r->nodes_len : r->nodes6_len;

		for (size_t i = 0; mfs_krpc_node_at(&n, list, len, family, i) == 0; i++) {
			printf("node=");
			for (size_t j = 0; j < sizeof n.id; j++)
				printf("%02x", n.id[j]);
			inet_ntop(family == 4 ? AF_INET : AF_INET6, n.ip, ip, sizeof ip);
			printf(" %s %u\n", ip, n.port);
		}
	}
}

/* Sends q to addr and waits for the answer with q's tid into buf. */
static int exchange(int fd, const struct sockaddr_in *addr, const struct mfs_krpc_msg *q,
		    struct mfs_krpc_msg *r, struct mfs_bnode *arena, uint8_t *buf, size_t cap)
{
	uint8_t out[MFS_KRPC_MSG_MAX];
	size_t len;
	char why[200];

	if (mfs_krpc_encode(out, sizeof out, &len, q) != 0)
		return -1;
	for (int tries = 0; tries < 3; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (sendto(fd, out, len, 0, (const struct sockaddr *)addr, sizeof *addr) < 0) {
			perror("sendto");
			return -1;
		}
		while (poll(&p, 1, 2000) == 1) {
			ssize_t n = recv(fd, buf, cap, 0);

			if (n < 0)
				break;
			if (mfs_krpc_parse(r, arena, MFS_KRPC_ARENA, buf, (size_t)n, why,
					   sizeof why) != 0) {
				fprintf(stderr, "mfs-test-krpc: refused answer: %s\n", why);
				return -1;
			}
			if (r->tid_len == q->tid_len && memcmp(r->tid, q->tid, q->tid_len) == 0)
				return 0;
		}
	}
	fprintf(stderr, "mfs-test-krpc: no answer\n");
	return -1;
}

/* BEP 44: a get's answer must match the target it was asked for. */
static int check_value(const struct mfs_krpc_msg *r, const uint8_t target[20], const char *salt)
{
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)salt,
				       .salt_len = salt ? strlen(salt) : 0, .seq = r->seq,
				       .v = r->v, .v_len = r->v_len};
	int rc = mfs_dht_item_check_got(target, r->k, r->sig, &item);

	if (rc != 0) {
		fprintf(stderr, "mfs-test-krpc: the item does not match the target: %s\n",
			mfs_strerror(rc));
		return 1;
	}
	printf("verified=%s\n", r->k ? "mutable" : "immutable");
	return 0;
}

/* put: a get for the token, then the put; 0 when the node accepts. */
static int put(int fd, const struct sockaddr_in *addr, struct mfs_krpc_msg *q, int argc,
	       char **argv, struct mfs_bnode *arena, uint8_t *buf, size_t cap)
{
	uint8_t v[MFS_DHT_VALUE_MAX], target[20], pk[32], sig[64], seed[32], token[64];
	uint8_t *sk = sodium_malloc(MFS_SIGN_SK_BYTES);
	const char *salt = argc > 6 ? argv[6] : "";
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)salt, .salt_len = strlen(salt),
				       .seq = argc > 7 ? atoll(argv[7]) : 0, .v = v};
	struct mfs_benc_w w;
	struct mfs_krpc_msg r;
	size_t n = 0;
	int rc = -1;

	mfs_benc_w_init(&w, v, sizeof v);
	mfs_benc_w_cstr(&w, argv[4]);
	if (!sk || mfs_benc_w_finish(&w, &item.v_len) != 0)
		goto out;
	if (argc > 7) {
		if (sodium_hex2bin(seed, 32, argv[5], strlen(argv[5]), NULL, &n, NULL) != 0 ||
		    n != 32)
			goto out;
		crypto_sign_seed_keypair(pk, sk, seed);
		if (mfs_dht_item_sign(sig, &item, sk) != 0 ||
		    mfs_dht_item_mutable_target(target, pk, item.salt, item.salt_len) != 0)
			goto out;
		*q = (struct mfs_krpc_msg){.kind = 'q', .tid = q->tid, .tid_len = q->tid_len,
					   .id = q->id, .k = pk, .sig = sig, .salt = item.salt,
					   .salt_len = item.salt_len, .has_seq = 1, .seq = item.seq};
	} else if (mfs_dht_item_immutable_target(target, v, item.v_len) != 0) {
		goto out;
	}
	struct mfs_krpc_msg get = {.kind = 'q', .method = MFS_KRPC_GET, .tid = q->tid,
				   .tid_len = q->tid_len, .id = q->id, .target = target};
	if (exchange(fd, addr, &get, &r, arena, buf, cap) != 0 || r.kind != 'r' || !r.token) {
		fprintf(stderr, "mfs-test-krpc: no write token from the get\n");
		goto out;
	}
	memcpy(token, r.token, r.token_len);
	q->method = MFS_KRPC_PUT;
	q->token = token;
	q->token_len = r.token_len;
	q->v = v;
	q->v_len = item.v_len;
	((uint8_t *)q->tid)[0] ^= 0x80;
	if (exchange(fd, addr, q, &r, arena, buf, cap) != 0)
		goto out;
	if (r.kind == 'e') {
		fprintf(stderr, "mfs-test-krpc: put refused: %lld %.*s\n", (long long)r.error_code,
			(int)r.error_msg_len, (const char *)r.error_msg);
		goto out;
	}
	print_hex("target", target, 20);
	rc = 0;
out:
	sodium_free(sk);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

int main(int argc, char **argv)
{
	static struct mfs_bnode arena[MFS_KRPC_ARENA];
	struct sockaddr_in addr = {.sin_family = AF_INET};
	uint8_t id[20], tid[2], target[20], buf[4096];
	struct mfs_krpc_msg q = {.kind = 'q', .tid = tid, .tid_len = 2, .id = id}, r;
	const char *method = argc > 3 ? argv[3] : "";
	size_t tlen = 0;
	int fd, rc;

	if (sodium_init() < 0 || argc < 4 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
		goto usage;
	addr.sin_port = htons((uint16_t)atoi(argv[2]));
	if (!strcmp(method, "ping"))
		q.method = MFS_KRPC_PING;
	else if (!strcmp(method, "find_node"))
		q.method = MFS_KRPC_FIND_NODE;
	else if (!strcmp(method, "get"))
		q.method = MFS_KRPC_GET;
	else if (!strcmp(method, "put") && argc >= 5 && (argc == 5 || argc == 8))
		q.method = MFS_KRPC_PUT;
	else
		goto usage;
	if (q.method == MFS_KRPC_FIND_NODE || q.method == MFS_KRPC_GET) {
		if (argc < 5 || sodium_hex2bin(target, 20, argv[4], strlen(argv[4]), NULL, &tlen,
					       NULL) != 0 || tlen != 20)
			goto usage;
		q.target = target;
	}
	randombytes_buf(id, sizeof id);
	randombytes_buf(tid, sizeof tid);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (q.method == MFS_KRPC_PUT) {
		rc = put(fd, &addr, &q, argc, argv, arena, buf, sizeof buf);
		close(fd);
		return rc == 0 ? 0 : 1;
	}
	if (q.method == MFS_KRPC_FIND_NODE) {
		struct mfs_krpc_msg ping = q;
		struct sockaddr_in self;
		socklen_t self_len = sizeof self;

		ping.method = MFS_KRPC_PING;
		ping.target = NULL;
		rc = exchange(fd, &addr, &ping, &r, arena, buf, sizeof buf);
		if (rc == 0 && getsockname(fd, (struct sockaddr *)&self, &self_len) == 0) {
			print_hex("self", id, 20);
			printf("self_port=%u\n", ntohs(self.sin_port));
		}
		tid[0] ^= 0x80;
	}
	rc = exchange(fd, &addr, &q, &r, arena, buf, sizeof buf);
	close(fd);
	if (rc != 0)
		return 1;
	if (r.kind == 'e') {
		printf("error=%lld %.*s\n", (long long)r.error_code, (int)r.error_msg_len,
		       (const char *)r.error_msg);
		return 1;
	}
	print_hex("id", r.id, 20);
	printf("nodes=%zu\nnodes6=%zu\n", r.nodes_len / MFS_KRPC_NODE4_BYTES,
	       r.nodes6_len / MFS_KRPC_NODE6_BYTES);
	print_nodes(&r);
	if (r.token)
		print_hex("token", r.token, r.token_len);
	if (r.has_seq)
		printf("seq=%lld\n", (long long)r.seq);
	if (r.k)
		print_hex("k", r.k, 32);
	if (r.v)
		print_hex("v", r.v, r.v_len);
	if (q.method != MFS_KRPC_GET)
		return 0;
	if (!r.v)
		return 3;
	return check_value(&r, target, argc > 5 ? argv[5] : NULL);
usage:
	fprintf(stderr, "usage: mfs-test-krpc IPV4 PORT ping|find_node TARGET_HEX|get TARGET_HEX "
			"[SALT]|put TEXT [SEED_HEX SALT SEQ]\n");
	return 2;
}
