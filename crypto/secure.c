#include "crypto/secure.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto/mfs_error.h"

void mfs_wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

/* jansson reports some of its failed allocations as errors in the input
 * ("string or '}' expected"): each failure is noted for the thread, so that
 * mfs_cjson_parse can tell a want of memory from a malformed document. */
static _Thread_local int json_alloc_failed;

static void *json_malloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		json_alloc_failed = 1;
	return p;
}

void mfs_json_alloc_watch(void)
{
	json_alloc_failed = 0;
}

int mfs_json_alloc_failed(void)
{
	return json_alloc_failed;
}

int mfs_crypto_init(void)
{
	if (sodium_init() < 0)
		return -EIO;
	/* jansson holds file entries, chunk keys included, in ordinary
	 * memory: every block it frees is wiped first. */
	json_set_alloc_funcs(json_malloc, mfs_wipe_free);
	return 0;
}

#ifdef MFS_FUZZ_ORDINARY_SECRETS
/* libFuzzer builds only (MFS_FUZZ): each sodium_malloc maps, guards and
 * locks pages of its own and fills them, and a run of fuzz_index took four
 * fifths of its time in the kernel doing that (780 runs/s). Here secrets
 * take ordinary memory behind a length, wiped on free, where ASan's red
 * zones check every byte's bounds more closely than guard pages do. Never
 * in a build of the product: the CMake option builds only tests/fuzz. */
#define ORDINARY_HEAD 16 /* the length, kept so as to keep max_align_t */

void *mfs_secure_alloc(size_t len)
{
	uint8_t *p;

	if (len > SIZE_MAX - ORDINARY_HEAD || !(p = malloc(ORDINARY_HEAD + len)))
		return NULL;
	memcpy(p, &len, sizeof len);
	return p + ORDINARY_HEAD;
}

void mfs_secure_free(void *p)
{
	uint8_t *head;
	size_t len;

	if (!p)
		return;
	head = (uint8_t *)p - ORDINARY_HEAD;
	memcpy(&len, head, sizeof len);
	sodium_memzero(p, len);
	free(head);
}

void *mfs_secure_map(size_t len)
{
	return mfs_secure_alloc(len);
}

void mfs_secure_unmap(void *p, size_t len)
{
	(void)len;
	mfs_secure_free(p);
}
#else
void *mfs_secure_alloc(size_t len)
{
	return sodium_malloc(len);
}

void mfs_secure_free(void *p)
{
	if (p)
		sodium_free(p);
}

static size_t page_bytes(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

/* Transparent huge pages, where the region is at least one: aligned and
 * asked for (MADV_HUGEPAGE; most kernels give them only when asked). */
#define HUGE_BYTES ((size_t)2 << 20)

/* The bytes mapped for len (a whole number of huge pages, or of pages),
 * and their alignment. */
static size_t map_inner(size_t len, size_t page, size_t *align)
{
	*align = len >= HUGE_BYTES ? HUGE_BYTES : page;
	return (len + *align - 1) / *align * *align;
}

/* sodium_malloc fills what it gives with a garbage byte through 4 KiB
 * pages: the reader's cache paid 1.3-1.5 ms per MiB grown on this machine
 * (a virtual machine where each first touch of a small page traps to the
 * host), under the cache's lock. A region of huge pages costs about
 * 0.09 ms per MiB at its first touch (mlock's here), and is not written. */
void *mfs_secure_map(size_t len)
{
	const size_t page = page_bytes();
	size_t align, inner, span;
	uint8_t *base, *p;

	if (len == 0 || len > SIZE_MAX / 2)
		return NULL;
	inner = map_inner(len, page, &align);
	span = inner + align + 2 * page; /* room to align, and a guard page each side */
	base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)base + page + align - 1) & ~(uintptr_t)(align - 1));
	if (p - page > base)
		munmap(base, (size_t)(p - page - base));
	if (p + inner + page < base + span)
		munmap(p + inner + page, (size_t)(base + span - (p + inner + page)));
	if (mprotect(p, inner, PROT_READ | PROT_WRITE) != 0) {
		munmap(p - page, inner + 2 * page);
		return NULL;
	}
	if (align == HUGE_BYTES)
		(void)madvise(p, inner, MADV_HUGEPAGE);
	/* Best effort, as libsodium's own: a process over its RLIMIT_MEMLOCK
	 * still gets the memory, unlocked. */
	(void)madvise(p, inner, MADV_DONTDUMP);
	(void)mlock(p, inner);
	return p;
}

void mfs_secure_unmap(void *p, size_t len)
{
	const size_t page = page_bytes();
	size_t align, inner;

	if (!p)
		return;
	inner = map_inner(len, page, &align);
	sodium_memzero(p, inner);
	(void)munlock(p, inner);
	munmap((uint8_t *)p - page, inner + 2 * page);
}
#endif

void mfs_memzero(void *p, size_t len)
{
	sodium_memzero(p, len);
}

/* OpenSSL's DRBG (CTR-DRBG over AES-256, seeded from getrandom, one per
 * thread, reseeded after fork) rather than libsodium 1.0.18's, which makes
 * a getrandom system call per request: every slot written takes a nonce,
 * 4,016 bytes of padding and a position, 25.8 us a slot through the kernel
 * against 6.4 us, and a slot wiped with noise 405 us against 14 (one core
 * here). libsodium's stays as the fallback when OpenSSL fails. */
void mfs_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (RAND_bytes(p, n) != 1)
			randombytes_buf(p, (size_t)n);
		p += n;
		len -= (size_t)n;
	}
}

uint32_t mfs_random_uniform(uint32_t bound)
{
	return randombytes_uniform(bound);
}

int mfs_memeq(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void mfs_hex_encode(char *out, const uint8_t *in, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

int mfs_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mfs_hex_decode(uint8_t *out, size_t outlen, const char *hex)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * outlen)
		return MFS_E_FORMAT;
	/* Lower case only: one spelling per value keeps signed formats canonical. */
	for (size_t i = 0; i < 2 * outlen; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return MFS_E_FORMAT;
	if (sodium_hex2bin(out, outlen, hex, 2 * outlen, NULL, &bin_len, &end) != 0 ||
	    bin_len != outlen || *end != '\0')
		return MFS_E_FORMAT;
	return 0;
}
