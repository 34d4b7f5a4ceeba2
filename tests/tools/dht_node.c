/* mfs-test-dht: one megafs DHT node (net/dht) on the loop thread
 * (net/loop), for tests/integration/dht_node.sh. It binds, bootstraps from
 * the addresses given (no well-known router is ever contacted), runs one
 * command and prints what it found, one "key=value" a line:
 *
 *   mfs-test-dht [--bind IP:PORT] [--bootstrap IP:PORT]... [--timeout-ms N] [--id HEX] COMMAND
 *
 *   serve                               prints port=N, then answers until killed
 *   put-mutable SEED_HEX SALT TEXT SEQ [CAS]   target=, stored=
 *   get-mutable PK_HEX SALT             v= seq= k= sig= (hex), or exit 3
 *   put-immutable TEXT                  target=, stored=
 *   get-immutable TARGET_HEX            v=, or exit 3
 *   announce INFOHASH_HEX PORT          stored= (PORT 0: implied_port)
 *   get-peers INFOHASH_HEX              peer=IP:PORT each, or exit 3
 *
 * TEXT is stored as a bencoded string. The mutable item is signed with the
 * Ed25519 key of SEED by net/dht_item. A got item was checked by the node
 * (target hash, signature) before it is printed. Every command also prints
 * port=, nodes= (after the bootstrap), queries= (datagrams its lookup
 * sent) and ms= (the lookup's wall time, from its start after the
 * bootstrap to its result; tools/bench/dht.sh). --id gives the node a
 * fixed id (40 hex digits): clients run one after another on one port
 * with one id look like a single node to the network, so none of them
 * leaves a departed node in its routing tables. Exit 0 when the command
 * succeeded, 1 when it failed (with the reason on stderr), 2 on bad
 * usage, 3 when a get found nothing.
 * A test tool, not a megafs command (megafs mount/serve/fetch --dht run the
 * same node inside the swarm: net/swarm_dht). */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/mfs_error.h"
#include "net/dht.h"
#include "net/hostport.h"
#include "net/loop.h"

#define MAX_BOOT 16

struct job {
	/* The command, as parsed. */
	const char *cmd;
	char **args;
	int n_args;
	struct sockaddr_storage bind;
	struct sockaddr_storage boot[MAX_BOOT];
	size_t n_boot;
	unsigned timeout_ms;
	uint8_t id[20];
	int has_id;
	uint64_t started_ns; /* the command's lookup, uv_hrtime */
	struct mfs_loop *loop;
	struct mfs_dht *node;
	uint8_t v[MFS_DHT_VALUE_MAX];
	size_t v_len;
	/* Done: the main thread waits for it. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, exit_code;
};

static void print_hex(const char *key, const uint8_t *p, size_t len)
{
	printf("%s=", key);
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int hex(uint8_t *out, size_t want, const char *text)
{
	size_t n = 0;

	return sodium_hex2bin(out, want, text, strlen(text), NULL, &n, NULL) == 0 && n == want
		       ? 0
		       : -EINVAL;
}

static void finish(struct job *j, int code)
{
	fflush(stdout);
	pthread_mutex_lock(&j->lock);
	j->done = 1;
	j->exit_code = code;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void on_result(void *arg, const struct mfs_dht_result *r)
{
	struct job *j = arg;
	char ip[INET6_ADDRSTRLEN];

	printf("queries=%zu\nanswered=%zu\nms=%.3f\n", r->queries, r->answered,
	       (double)(uv_hrtime() - j->started_ns) / 1e6);
	if (r->status != 0) {
		fprintf(stderr, "mfs-test-dht: %s: %s (code %lld)\n", j->cmd,
			mfs_strerror(r->status), (long long)r->error_code);
		finish(j, 1);
		return;
	}
	if (!strncmp(j->cmd, "put-", 4) || !strcmp(j->cmd, "announce")) {
		printf("stored=%zu\n", r->stored);
		finish(j, 0);
		return;
	}
	if (!strcmp(j->cmd, "get-peers")) {
		for (size_t i = 0; i < r->n_peers; i++) {
			inet_ntop(r->peers[i].family == 4 ? AF_INET : AF_INET6, r->peers[i].ip, ip,
				  sizeof ip);
			printf("peer=%s:%u\n", ip, r->peers[i].port);
		}
		finish(j, r->n_peers ? 0 : 3);
		return;
	}
	if (!r->found) {
		finish(j, 3);
		return;
	}
	print_hex("v", r->v, r->v_len);
	if (r->has_seq) {
		printf("seq=%lld\n", (long long)r->seq);
		print_hex("k", r->k, MFS_SIGN_PK_BYTES);
		print_hex("sig", r->sig, MFS_SIGN_BYTES);
	}
	finish(j, 0);
}

static int text_value(struct job *j, const char *text)
{
	struct mfs_benc_w w;

	mfs_benc_w_init(&w, j->v, sizeof j->v);
	mfs_benc_w_cstr(&w, text);
	return mfs_benc_w_finish(&w, &j->v_len);
}

static int put_mutable(struct job *j)
{
	uint8_t seed[32], pk[MFS_SIGN_PK_BYTES], sig[MFS_SIGN_BYTES], target[20];
	uint8_t *sk = sodium_malloc(MFS_SIGN_SK_BYTES);
	const char *salt = j->args[1];
	struct mfs_dht_mutable item = {.salt = (const uint8_t *)salt, .salt_len = strlen(salt),
				       .seq = atoll(j->args[3]), .v = j->v};
	int rc = sk && hex(seed, 32, j->args[0]) == 0 ? text_value(j, j->args[2]) : -EINVAL;

	item.v_len = j->v_len;
	if (rc == 0) {
		crypto_sign_seed_keypair(pk, sk, seed);
		rc = mfs_dht_item_sign(sig, &item, sk);
	}
	if (rc == 0)
		rc = mfs_dht_item_mutable_target(target, pk, item.salt, item.salt_len);
	if (rc == 0) {
		print_hex("target", target, 20);
		rc = mfs_dht_put_mutable(j->node, pk, sig, &item, j->n_args > 4,
					 j->n_args > 4 ? atoll(j->args[4]) : 0, on_result, j);
	}
	sodium_free(sk);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

/* The command, once bootstrapped (on the loop thread). */
static int start_command(struct job *j)
{
	uint8_t a[32], t[20];
	int rc = -EINVAL;

	if (!strcmp(j->cmd, "put-mutable") && (j->n_args == 4 || j->n_args == 5))
		return put_mutable(j);
	if (!strcmp(j->cmd, "get-mutable") && j->n_args == 2 && hex(a, 32, j->args[0]) == 0)
		return mfs_dht_get_mutable(j->node, a, (const uint8_t *)j->args[1],
					   strlen(j->args[1]), on_result, j);
	if (!strcmp(j->cmd, "put-immutable") && j->n_args == 1) {
		rc = text_value(j, j->args[0]);
		if (rc == 0)
			rc = mfs_dht_item_immutable_target(t, j->v, j->v_len);
		if (rc == 0) {
			print_hex("target", t, 20);
			rc = mfs_dht_put_immutable(j->node, j->v, j->v_len, on_result, j);
		}
		return rc;
	}
	if (!strcmp(j->cmd, "get-immutable") && j->n_args == 1 && hex(t, 20, j->args[0]) == 0)
		return mfs_dht_get_immutable(j->node, t, on_result, j);
	if (!strcmp(j->cmd, "announce") && j->n_args == 2 && hex(t, 20, j->args[0]) == 0)
		return mfs_dht_announce(j->node, t, (uint16_t)atoi(j->args[1]), on_result, j);
	if (!strcmp(j->cmd, "get-peers") && j->n_args == 1 && hex(t, 20, j->args[0]) == 0)
		return mfs_dht_get_peers(j->node, t, on_result, j);
	return rc;
}

static void on_bootstrapped(void *arg, const struct mfs_dht_result *r)
{
	struct job *j = arg;
	struct mfs_dht_stats st;
	int rc;

	mfs_dht_stats(j->node, &st);
	printf("nodes=%zu\n", st.nodes);
	fflush(stdout);
	if (!strcmp(j->cmd, "serve"))
		return;
	if (r->status != 0 && st.nodes == 0) {
		fprintf(stderr, "mfs-test-dht: bootstrap: %s\n", mfs_strerror(r->status));
		finish(j, 1);
		return;
	}
	j->started_ns = uv_hrtime();
	rc = start_command(j);
	if (rc != 0) {
		fprintf(stderr, "mfs-test-dht: %s: %s\n", j->cmd, mfs_strerror(rc));
		finish(j, rc == -EINVAL ? 2 : 1);
	}
}

static void close_node(void *arg)
{
	mfs_dht_close(arg);
}

static int start(void *arg)
{
	struct job *j = arg;
	struct mfs_dht_config cfg = {.timeout_ms = j->timeout_ms, .id = j->has_id ? j->id : NULL};
	int rc;

	if (j->bind.ss_family == AF_INET6)
		cfg.bind6 = (const struct sockaddr *)&j->bind;
	else
		cfg.bind4 = (const struct sockaddr *)&j->bind;
	rc = mfs_dht_new(&j->node, mfs_loop_uv(j->loop), &cfg);
	if (rc == 0)
		rc = mfs_loop_add_hook(j->loop, close_node, j->node);
	if (rc != 0)
		return rc;
	printf("port=%u\n", mfs_dht_port(j->node, j->bind.ss_family == AF_INET6 ? 6 : 4));
	print_hex("id", mfs_dht_id(j->node), 20);
	fflush(stdout);
	rc = mfs_dht_bootstrap(j->node, j->boot, j->n_boot, on_bootstrapped, j);
	if (rc == MFS_E_NOTFOUND && !strcmp(j->cmd, "serve"))
		rc = 0; /* the first node of a network: others bootstrap from it */
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"bind", required_argument, NULL, 'b'},
					     {"bootstrap", required_argument, NULL, 'B'},
					     {"timeout-ms", required_argument, NULL, 't'},
					     {"id", required_argument, NULL, 'i'},
					     {NULL, 0, NULL, 0}};
	static struct job j = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	int c, rc;

	if (sodium_init() < 0 || mfs_hostport_resolve_numeric(&j.bind, "127.0.0.1:0") != 0)
		return 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'b' && mfs_hostport_resolve_numeric(&j.bind, optarg) == 0)
			continue;
		if (c == 'B' && j.n_boot < MAX_BOOT &&
		    mfs_hostport_resolve_numeric(&j.boot[j.n_boot], optarg) == 0) {
			j.n_boot++;
			continue;
		}
		if (c == 't' && atoi(optarg) > 0) {
			j.timeout_ms = (unsigned)atoi(optarg);
			continue;
		}
		if (c == 'i' && hex(j.id, sizeof j.id, optarg) == 0) {
			j.has_id = 1;
			continue;
		}
		goto usage;
	}
	if (optind >= argc)
		goto usage;
	j.cmd = argv[optind];
	j.args = argv + optind + 1;
	j.n_args = argc - optind - 1;
	if (mfs_loop_start(&j.loop) != 0)
		return 1;
	rc = mfs_loop_call(j.loop, start, &j);
	if (rc != 0) {
		fprintf(stderr, "mfs-test-dht: %s\n", mfs_strerror(rc));
		mfs_loop_stop(j.loop);
		return 1;
	}
	if (!strcmp(j.cmd, "serve"))
		for (;;)
			pause(); /* until killed */
	pthread_mutex_lock(&j.lock);
	while (!j.done)
		pthread_cond_wait(&j.cond, &j.lock);
	pthread_mutex_unlock(&j.lock);
	mfs_loop_stop(j.loop);
	return j.exit_code;
usage:
	fprintf(stderr, "usage: mfs-test-dht [--bind IP:PORT] [--bootstrap IP:PORT]... "
			"[--timeout-ms N] [--id HEX] serve|put-mutable SEED_HEX SALT TEXT SEQ [CAS]|"
			"get-mutable PK_HEX SALT|put-immutable TEXT|get-immutable TARGET_HEX|"
			"announce INFOHASH_HEX PORT|get-peers INFOHASH_HEX\n");
	return 2;
}
