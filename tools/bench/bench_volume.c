/* mfs-bench-volume: the volume's read path with the store in the page cache
 * (what a mount's reader costs above the disk): 4 KiB reads at random
 * offsets of 1 MiB objects whose length is known (mfs_obj_read_known, as the
 * reader reads blobs), and whole 1 MiB objects (mfs_obj_read), each in its
 * own read transaction as the reader does. Prints the median of 5 runs.
 *
 *   build/mfs-bench-volume [DIR]    (a scratch store is made in DIR, /var/tmp) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/volume.h"

#define OBJECTS 16
#define OBJ_BYTES (1u << 20)
#define SMALL_READS 20000
#define BIG_READS 400
#define RUNS 5

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "mfs-bench-volume: %s: %s\n", what, mfs_strerror(rc));
	exit(1);
}

int main(int argc, char **argv)
{
	char dir[4096];
	struct mfs_kdf_limits kdf;
	struct mfs_store *s;
	struct mfs_volume *v;
	struct mfs_vtxn *t;
	uint8_t *buf = malloc(OBJ_BYTES);
	double small[RUNS], big[RUNS];
	int rc;

	snprintf(dir, sizeof dir, "%s/mfs-bench-volume-%d", argc > 1 ? argv[1] : "/var/tmp",
		 (int)getpid());
	if (mfs_crypto_init() != 0 || mfs_kdf_preset(&kdf, "fast") != 0)
		return 1;
	if ((rc = mfs_store_create(dir, 512, &kdf)) != 0 || (rc = mfs_store_open(&s, dir)) != 0)
		die("store", rc);
	if ((rc = mfs_volume_create(s, "pw", 2, NULL, 0)) != 0 ||
	    (rc = mfs_volume_open(&v, s, "pw", 2, NULL, 0)) != 0)
		die("volume", rc);
	mfs_random(buf, OBJ_BYTES);
	for (int i = 0; i < OBJECTS; i++) {
		char name[16];

		snprintf(name, sizeof name, "obj%d", i);
		if ((rc = mfs_vtxn_begin(v, 1, &t)) != 0 ||
		    (rc = mfs_obj_write(t, name, strlen(name), buf, OBJ_BYTES)) != 0 ||
		    (rc = mfs_vtxn_commit(t)) != 0)
			die("write", rc);
	}
	for (int run = 0; run < RUNS; run++) {
		double t0 = now();

		for (int i = 0; i < SMALL_READS; i++) {
			char name[16];

			snprintf(name, sizeof name, "obj%u", mfs_random_uniform(OBJECTS));
			if ((rc = mfs_vtxn_begin(v, 0, &t)) != 0 ||
			    (rc = mfs_obj_read_known(t, name, strlen(name), OBJ_BYTES,
						     mfs_random_uniform(OBJ_BYTES - 4096), buf,
						     4096)) != 0)
				die("read", rc);
			mfs_vtxn_abort(t);
		}
		small[run] = (now() - t0) / SMALL_READS * 1e6;
		t0 = now();
		for (int i = 0; i < BIG_READS; i++) {
			char name[16];

			snprintf(name, sizeof name, "obj%d", i % OBJECTS);
			if ((rc = mfs_vtxn_begin(v, 0, &t)) != 0 ||
			    (rc = mfs_obj_read(t, name, strlen(name), 0, buf, OBJ_BYTES)) != 0)
				die("read", rc);
			mfs_vtxn_abort(t);
		}
		big[run] = (double)BIG_READS * OBJ_BYTES / (1 << 20) / (now() - t0);
	}
	qsort(small, RUNS, sizeof small[0], cmp);
	qsort(big, RUNS, sizeof big[0], cmp);
	printf("4 KiB at a random offset, length known:        %.1f us (median of %d x %d)\n",
	       small[RUNS / 2], RUNS, SMALL_READS);
	printf("whole 1 MiB object, own transaction:          %.0f MiB/s (median of %d x %d)\n",
	       big[RUNS / 2], RUNS, BIG_READS);
	mfs_volume_close(v);
	mfs_store_close(s);
	{
		char cmd[4200];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	free(buf);
	return 0;
}
