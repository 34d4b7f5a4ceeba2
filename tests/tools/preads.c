/* mfs-test-preads: N random preads of random lengths across FILE, compared
 * byte for byte with the same ranges of REFERENCE (the original). Reads
 * cross chunk and segment boundaries and pass the end of the file.
 * usage: mfs-test-preads FILE REFERENCE [N [SEED]]; exit 0 when all match. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_READ (3u << 20)

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int main(int argc, char **argv)
{
	int fd, ref;
	struct stat st;
	long n = argc > 3 ? atol(argv[3]) : 2000;
	uint64_t x = argc > 4 ? strtoull(argv[4], NULL, 10) : 88172645463325252ull;
	uint8_t *a = malloc(MAX_READ), *b = malloc(MAX_READ);

	if (argc < 3 || !a || !b) {
		fprintf(stderr, "usage: mfs-test-preads FILE REFERENCE [N [SEED]]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	ref = open(argv[2], O_RDONLY);
	if (fd < 0 || ref < 0 || fstat(ref, &st) != 0) {
		perror("open");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		uint64_t size = (uint64_t)st.st_size;
		uint64_t off = next(&x) % (size + 4096);
		size_t len = (size_t)(next(&x) % (i % 4 == 0 ? MAX_READ : 70000)) + 1;
		ssize_t got, want;

		/* Every fourth read straddles a 1 MiB chunk boundary. */
		if (i % 4 == 1 && size > (1u << 20))
			off = ((next(&x) % (size >> 20)) << 20) + (1u << 20) - len / 2;
		got = pread(fd, a, len, (off_t)off);
		want = pread(ref, b, len, (off_t)off);
		if (got != want || (got > 0 && memcmp(a, b, (size_t)got) != 0)) {
			fprintf(stderr, "read %ld at %llu (+%zu): got %zd bytes, want %zd%s\n", i,
				(unsigned long long)off, len, got, want,
				got == want ? ", contents differ" : "");
			return 1;
		}
	}
	printf("%ld random reads matched\n", n);
	return 0;
}
