/* mfs-bench-randread: cold 4 KiB random reads of one file, each page once
 * (tools/bench/fuse.sh's random-read rows).
 *
 *   mfs-bench-randread FILE [N [SEED]]
 *
 * Draws N (default 3000) distinct 4 KiB-aligned offsets within FILE's whole
 * pages from splitmix64 seeded with SEED (default 1): the same list, in the
 * same order, for every file of the same size and the same seed, so every
 * filesystem reads the same pages. Then pread()s 4 KiB at each offset once,
 * in that order, timing each read with CLOCK_MONOTONIC. No page is read
 * twice, so a run cannot be faster by hitting pages it read itself; the
 * caller empties the page cache (and remounts) first. The kernel's
 * readahead is switched off for the descriptor (POSIX_FADV_RANDOM, as fio
 * does for random reads): each read asks the filesystem for its own page,
 * and pages read ahead cannot answer later reads.
 *
 * Prints, one per line, "reads N", "p50_us P", "p99_us P" (nearest-rank
 * percentiles of the single reads, microseconds) and "iops X" (N divided by
 * the seconds of the whole loop). Exits 1 with a message on stderr if the
 * file cannot be read or a pread returns anything but 4096 bytes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define DEFAULT_N 3000u
#define DEFAULT_SEED 1u

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* draw_pages: n distinct page numbers below pages into out, in the order
 * splitmix64 draws them (duplicates skipped, through an open-addressing set
 * of twice n slots). Returns 0 or -ENOMEM. */
static int draw_pages(uint64_t *out, size_t n, uint64_t pages, uint64_t seed)
{
	size_t cap = 2, got = 0;
	uint64_t *set, state = seed;

	while (cap < 2 * n)
		cap <<= 1;
	set = calloc(cap, sizeof(*set)); /* holds page + 1; 0 is empty */
	if (!set)
		return -ENOMEM;
	while (got < n) {
		uint64_t page = splitmix64(&state) % pages;
		size_t i = (size_t)(page * 0x9e3779b97f4a7c15u) & (cap - 1);

		while (set[i] && set[i] != page + 1)
			i = (i + 1) & (cap - 1);
		if (set[i])
			continue;
		set[i] = page + 1;
		out[got++] = page;
	}
	free(set);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least pct % of them at or below. */
static double percentile_us(const uint64_t *sorted_ns, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return (double)sorted_ns[rank ? rank - 1 : 0] / 1000.0;
}

/* read_all: one pread of PAGE bytes at each page's offset, in order; each
 * read's nanoseconds into ns_out, the whole loop's into *total_ns. Returns 0
 * or a negative errno (-EIO for a short read); says which on stderr. */
static int read_all(uint64_t *ns_out, uint64_t *total_ns, int fd, const uint64_t *pages,
		    size_t n)
{
	static unsigned char buf[PAGE];
	uint64_t start = now_ns();

	for (size_t i = 0; i < n; i++) {
		off_t off = (off_t)(pages[i] * PAGE);
		uint64_t t0 = now_ns();
		ssize_t got = pread(fd, buf, PAGE, off);
		uint64_t t1 = now_ns();

		if (got != (ssize_t)PAGE) {
			int err = got < 0 ? errno : EIO;

			fprintf(stderr, "mfs-bench-randread: pread of %u bytes at offset %jd returned %zd%s%s\n",
				PAGE, (intmax_t)off, got, got < 0 ? ": " : " (short read)",
				got < 0 ? strerror(err) : "");
			return -err;
		}
		ns_out[i] = t1 - t0;
	}
	*total_ns = now_ns() - start;
	return 0;
}

static int parse_u64(uint64_t *out, const char *s)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	uint64_t n = DEFAULT_N, seed = DEFAULT_SEED, pages, total_ns = 0;
	uint64_t *offs = NULL, *ns = NULL;
	struct stat st;
	int fd = -1, rc = 1;

	if (argc < 2 || argc > 4 || (argc > 2 && parse_u64(&n, argv[2])) ||
	    (argc > 3 && parse_u64(&seed, argv[3])) || n == 0) {
		fprintf(stderr, "usage: mfs-bench-randread FILE [N [SEED]]  (N >= 1, default %u; SEED default %u)\n",
			DEFAULT_N, DEFAULT_SEED);
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "mfs-bench-randread: %s: %s\n", argv[1], strerror(errno));
		goto cleanup;
	}
	pages = (uint64_t)st.st_size / PAGE;
	if (n > pages) {
		fprintf(stderr, "mfs-bench-randread: %s has %" PRIu64 " whole 4 KiB pages, fewer than N = %" PRIu64 "\n",
			argv[1], pages, n);
		goto cleanup;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	offs = malloc(n * sizeof(*offs));
	ns = malloc(n * sizeof(*ns));
	if (!offs || !ns || draw_pages(offs, n, pages, seed)) {
		fprintf(stderr, "mfs-bench-randread: out of memory\n");
		goto cleanup;
	}
	if (read_all(ns, &total_ns, fd, offs, n))
		goto cleanup;
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("reads %" PRIu64 "\n", n);
	printf("p50_us %.1f\n", percentile_us(ns, n, 50));
	printf("p99_us %.1f\n", percentile_us(ns, n, 99));
	printf("iops %.0f\n", (double)n / ((double)total_ns / 1e9));
	rc = 0;
cleanup:
	free(ns);
	free(offs);
	if (fd >= 0)
		close(fd);
	return rc;
}
