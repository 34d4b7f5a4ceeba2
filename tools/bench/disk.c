/* mfs-bench-disk: what the disk under a store gives to its access
 * pattern, with no megafs in the way (tools/bench/disk.sh's rows).
 *
 *   mfs-bench-disk write ORDER FILE MIB   ORDER: random, overlapped, sequential
 *   mfs-bench-disk read BYTES FILE N
 *
 * write: MIB MiB of whole slots (17 pages, as the store writes them) into
 * FILE, which must exist and be large, committed as a volume commits a
 * 24 MiB ingest batch: the batch's slots, fdatasync, one more slot (the
 * superblock), fdatasync. random puts each slot at a position drawn
 * uniformly at random (the store's placement), and overlapped does the
 * same with each commit's syncs on a second thread while the next batch's
 * slots are written (two commits in flight); sequential writes the slots
 * one after another from a random start. Prints "mibps X", then the
 * seconds spent in the writes and in the syncs.
 *
 * read: N preads of BYTES each at distinct random BYTES-aligned offsets
 * (POSIX_FADV_RANDOM: no readahead), timed one by one. Prints "p50_us P"
 * and "p99_us P". The caller empties the page cache first. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOT (17u * 4096u)
#define BATCH_BYTES (24u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void die(const char *what)
{
	fprintf(stderr, "mfs-bench-disk: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct writer {
	int fd;
	uint64_t slots, next_seq, rng;
	int sequential;
	uint8_t *buf;
	double write_s, sync_s;
};

static void put_slot(struct writer *w, uint64_t pos)
{
	if (pwrite(w->fd, w->buf, SLOT, (off_t)(pos * SLOT)) != (ssize_t)SLOT)
		die("pwrite");
}

static void write_batch(struct writer *w, unsigned count)
{
	double t0 = now();

	for (unsigned i = 0; i < count; i++)
		put_slot(w, w->sequential ? w->next_seq++ : splitmix64(&w->rng) % w->slots);
	w->write_s += now() - t0;
}

/* A commit's durable half: the batch, then the superblock. */
static void commit(struct writer *w, double *sync_s)
{
	double t0 = now();

	if (fdatasync(w->fd) != 0)
		die("fdatasync");
	put_slot(w, splitmix64(&w->rng) % w->slots);
	if (fdatasync(w->fd) != 0)
		die("fdatasync");
	*sync_s += now() - t0;
}

/* The second thread of overlapped: commits a batch while the next one is
 * written. */
struct syncer {
	struct writer *w;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int pending, quit;
	double sync_s;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->pending && !s->quit)
			pthread_cond_wait(&s->changed, &s->lock);
		if (!s->pending)
			break;
		pthread_mutex_unlock(&s->lock);
		commit(s->w, &s->sync_s);
		pthread_mutex_lock(&s->lock);
		s->pending = 0;
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void syncer_hand(struct syncer *s, int quit)
{
	pthread_mutex_lock(&s->lock);
	while (s->pending)
		pthread_cond_wait(&s->changed, &s->lock);
	s->pending = !quit;
	s->quit = quit;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

static int bench_write(const char *order, const char *path, uint64_t mib)
{
	struct writer w = {.rng = (uint64_t)time(NULL)};
	const unsigned per_batch = BATCH_BYTES / SLOT;
	const uint64_t batches = (mib << 20) / BATCH_BYTES;
	int overlapped = strcmp(order, "overlapped") == 0;
	struct syncer s = {.w = &w};
	pthread_t thread;
	double t0, total;
	off_t size;

	w.sequential = strcmp(order, "sequential") == 0;
	if (!w.sequential && !overlapped && strcmp(order, "random") != 0) {
		fprintf(stderr, "mfs-bench-disk: ORDER is random, overlapped or sequential\n");
		return 2;
	}
	if ((w.fd = open(path, O_RDWR)) < 0)
		die(path);
	if ((size = lseek(w.fd, 0, SEEK_END)) < 0)
		die("lseek");
	w.slots = (uint64_t)size / SLOT;
	if (batches == 0 || w.slots < 2 * batches * per_batch) {
		fprintf(stderr, "mfs-bench-disk: %s must be at least twice MIB (and MIB >= 24)\n", path);
		return 2;
	}
	w.next_seq = splitmix64(&w.rng) % (w.slots - batches * per_batch);
	if (!(w.buf = malloc(SLOT)))
		die("malloc");
	for (unsigned i = 0; i < SLOT; i++)
		w.buf[i] = (uint8_t)splitmix64(&w.rng);
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.changed, NULL);
	if (overlapped && (errno = pthread_create(&thread, NULL, syncer_main, &s)) != 0)
		die("pthread_create");
	t0 = now();
	for (uint64_t b = 0; b < batches; b++) {
		write_batch(&w, per_batch);
		if (overlapped)
			syncer_hand(&s, 0);
		else
			commit(&w, &w.sync_s);
	}
	if (overlapped) {
		syncer_hand(&s, 1);
		pthread_join(thread, NULL);
		w.sync_s = s.sync_s;
	}
	total = now() - t0;
	printf("mibps %.1f\nwrite_s %.2f\nsync_s %.2f\n",
	       (double)(batches * per_batch) * SLOT / 1048576.0 / total, w.write_s, w.sync_s);
	pthread_cond_destroy(&s.changed);
	pthread_mutex_destroy(&s.lock);
	free(w.buf);
	close(w.fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench_read(size_t bytes, const char *path, unsigned n)
{
	uint64_t rng = 1, blocks;
	uint8_t *buf, *seen;
	double *us;
	off_t size;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		die(path);
	if ((size = lseek(fd, 0, SEEK_END)) < 0)
		die("lseek");
	blocks = (uint64_t)size / bytes;
	if (blocks < 2u * n) {
		fprintf(stderr, "mfs-bench-disk: %s holds fewer than 2N blocks of BYTES\n", path);
		return 2;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	buf = malloc(bytes);
	seen = calloc((size_t)(blocks + 7) / 8, 1);
	us = malloc(n * sizeof *us);
	if (!buf || !seen || !us)
		die("malloc");
	for (unsigned i = 0; i < n; i++) {
		uint64_t b;
		double t0;

		do
			b = splitmix64(&rng) % blocks;
		while (seen[b / 8] & (1u << (b % 8)));
		seen[b / 8] |= (uint8_t)(1u << (b % 8));
		t0 = now();
		if (pread(fd, buf, bytes, (off_t)(b * bytes)) != (ssize_t)bytes)
			die("pread");
		us[i] = (now() - t0) * 1e6;
	}
	qsort(us, n, sizeof *us, cmp_double);
	printf("p50_us %.0f\np99_us %.0f\n", us[(n - 1) / 2], us[(n * 99 + 99) / 100 - 1]);
	free(us);
	free(seen);
	free(buf);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "write") == 0)
		return bench_write(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "read") == 0 && atol(argv[2]) > 0 && atoi(argv[4]) > 0)
		return bench_read((size_t)atol(argv[2]), argv[3], (unsigned)atoi(argv[4]));
	fprintf(stderr, "usage: mfs-bench-disk write random|overlapped|sequential FILE MIB\n"
			"       mfs-bench-disk read BYTES FILE N\n");
	return 2;
}
