/* mfs-test-evil-seeder: a peer that speaks the real wire protocol but
 * serves every blob of a store with one byte flipped (for the tests that
 * show corrupt data is caught and its sender dropped). It makes a fresh
 * node key each run.
 * usage: mfs-test-evil-seeder STORE_DIR PASSWORD LISTEN
 * Prints "HOST:PORT#NODEKEY" once listening; runs until SIGTERM/SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/node.h"

static struct mfs_serve_source honest;
static unsigned long served;

/* The blob with a bit flipped, and the honest leaves its volume keeps: the
 * leaves pass the id, the segment fails its leaf. */
static int lying_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
		     size_t *len, uint8_t **leaves)
{
	int rc = honest.get(ctx, id, blob, len, leaves);
	if (rc == 0 && *len > 0) {
		(*blob)[*len / 2] ^= 0x20;
		__atomic_add_fetch(&served, 1, __ATOMIC_RELAXED);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_loop *loop = NULL;
	struct mfs_netnode *node = NULL;
	uint8_t *sk;
	char hex[2 * MFS_NOISE_KEY_BYTES + 1];
	sigset_t stop;
	int sig, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s STORE_DIR PASSWORD LISTEN\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (mfs_crypto_init() != 0 || !(sk = mfs_secure_alloc(MFS_NOISE_KEY_BYTES)))
		return 1;
	rc = mfs_store_open(&store, argv[1]);
	if (rc == 0)
		rc = mfs_volume_open(&vol, store, argv[2], strlen(argv[2]), NULL, 0);
	uint8_t pk[MFS_NOISE_KEY_BYTES];
	mfs_noise_keypair(pk, sk); /* its own key, whatever the store's copy says */
	if (rc == 0)
		rc = mfs_store_source_new(&honest, vol, NULL);
	if (rc == 0)
		rc = mfs_loop_start(&loop);
	if (rc == 0) {
		struct mfs_node_config cfg = {
			.static_sk = sk,
			.listen = argv[3],
			.source = {.get = lying_get, .has = honest.has, .ctx = honest.ctx},
		};
		rc = mfs_node_start(&node, loop, &cfg);
	}
	if (rc != 0) {
		fprintf(stderr, "evil seeder: %s\n", mfs_strerror(rc));
	} else {
		mfs_hex_encode(hex, mfs_node_public_key(node), MFS_NOISE_KEY_BYTES);
		printf("127.0.0.1:%u#%s\n", mfs_node_port(node), hex);
		fflush(stdout);
		sigwait(&stop, &sig);
		fprintf(stderr, "evil seeder: served %lu corrupt blobs\n", served);
	}
	mfs_node_stop(node);
	mfs_loop_stop(loop);
	mfs_store_source_free(&honest);
	mfs_volume_close(vol);
	mfs_store_close(store);
	mfs_secure_free(sk);
	return rc ? 1 : 0;
}
