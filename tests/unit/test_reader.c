/* fs/fuse/reader: byte ranges of files, segments, read-ahead, the fetch seam. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/fuse/reader.h"
#include "fs/store/blobstore.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static const uint8_t secret[32] = {7};

static void setup(void)
{
	tu_fixture_open(&fx, 2048);
}

static void teardown(void)
{
	tu_fixture_close(&fx);
}

TestSuite(reader, .init = setup, .fini = teardown, .timeout = 300);

static uint8_t *ingest(size_t len, uint32_t chunk_size, struct mfs_file_entry *e)
{
	struct mfs_ingest_opts o = {.chunk_size = chunk_size, .mode = MFS_MODE_CONVERGENT,
				    .convergence = secret};
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_ingest *w;
	uint8_t *data = malloc(len + 1);

	tu_fill_random(data, len, len);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "f", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write(w, data, len), 0);
	cr_assert_eq(mfs_ingest_finish(w, 0, e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
	return data;
}

Test(reader, random_reads_match_the_file)
{
	const size_t len = (40u << 20) + 12345;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(300000);
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_reader_config cfg = {.cache_bytes = 4u << 20}; /* far smaller than the file */
	uint64_t x = 12345;

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, &cfg), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	for (int i = 0; i < 2000; i++) {
		uint64_t off, n;
		ssize_t got;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		off = x % (len + 1000); /* some past the end */
		n = (x >> 32) % 300000;
		got = mfs_rfile_read(f, off, n, buf);
		if (off >= len) {
			cr_assert_eq(got, 0, "read past the end");
			continue;
		}
		cr_assert_eq(got, (ssize_t)(off + n > len ? len - off : n), "length at %llu",
			     (unsigned long long)off);
		cr_assert_arr_eq(buf, data + off, (size_t)got, "content at %llu",
				 (unsigned long long)off);
	}
	/* Straddling a chunk boundary and a segment boundary. */
	cr_assert_eq(mfs_rfile_read(f, (1u << 20) - 100, 200, buf), 200);
	cr_assert_arr_eq(buf, data + (1u << 20) - 100, 200);
	cr_assert_eq(mfs_rfile_read(f, 65536 - 1, 2, buf), 2);
	cr_assert_arr_eq(buf, data + 65535, 2);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

static void read_in_pages(struct mfs_rfile *f, uint8_t *buf, const uint8_t *data, size_t len);

/* Reads n bytes at off of f (of len bytes) as a seek (a byte far away read
 * first), checks them against data; 1 when the read hit the cache. */
static int seek_read(struct mfs_reader *r, struct mfs_rfile *f, uint64_t off, size_t n,
		     const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(n), far;
	struct mfs_reader_stats before, after;

	cr_assert_eq(mfs_rfile_read(f, off < len / 2 ? len - 1 : 0, 1, &far), 1);
	mfs_reader_stats(r, &before);
	cr_assert_eq(mfs_rfile_read(f, off, n, buf), (ssize_t)n);
	mfs_reader_stats(r, &after);
	cr_assert_arr_eq(buf, data + off, n, "at %llu", (unsigned long long)off);
	free(buf);
	return after.segment_hits > before.segment_hits;
}

/* A seek loads only the bytes it reads of a segment held in the volume
 * (the slot's pieces that hold them): the cache keeps that part, a later
 * seek inside it hits, a seek to other bytes of the segment loads them
 * (into the same cache slot, or into a buffer of its own while the part is
 * pinned), and a sequential read afterwards gets every byte. */
Test(reader, a_seek_loads_the_part_it_reads_and_later_reads_get_the_rest)
{
	const size_t len = (8u << 20) + 5000, seg = 65536;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(len);
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_rread held;
	const uint64_t at = (5u << 20) + 3 * seg + 20480; /* inside piece 1 of a slot */

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_not(seek_read(r, f, at, 4096, data, len), "the first: a load");
	cr_assert(seek_read(r, f, at + 100, 1000, data, len), "inside the part loaded: a hit");
	cr_assert_not(seek_read(r, f, at - 20480, 8192, data, len), "outside it: a load");
	/* Pinned, the part cannot be loaded over: other bytes of its segment
	 * come through a buffer of their own, and it stays. */
	cr_assert_eq(mfs_rfile_read_pinned(f, at - 20480, 4096, &held), 4096);
	cr_assert_not(seek_read(r, f, at + 8192, 8192, data, len));
	cr_assert(seek_read(r, f, at - 20480, 4096, data, len), "the pinned part stayed");
	mfs_rread_release(&held);
	cr_assert_not(seek_read(r, f, at + 8192, 8192, data, len), "loaded over it now");
	cr_assert(seek_read(r, f, at + 8192, 4096, data, len));
	read_in_pages(f, buf, data, len);
	cr_assert_eq(mfs_rfile_read(f, 0, len, buf), (ssize_t)len);
	cr_assert_arr_eq(buf, data, len);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

/* The segment cache takes memory as reads need it, 2 MiB at a time, up to
 * its bound: one small read holds one block, not the whole cache (which a
 * reader that locked it all at its start held from the first byte). */
Test(reader, the_cache_holds_memory_for_what_was_read_up_to_its_bound)
{
	const size_t len = 24u << 20;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), buf[4096];
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_reader_config cfg = {.cache_bytes = 6u << 20, .readahead_chunks = 1};
	struct mfs_reader_stats st;

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, &cfg), 0);
	mfs_reader_stats(r, &st);
	cr_assert_eq(st.cache_held_bytes, 0, "nothing held before a read");
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 5u << 20, sizeof buf, buf), (ssize_t)sizeof buf);
	cr_assert_arr_eq(buf, data + (5u << 20), sizeof buf);
	mfs_reader_stats(r, &st);
	cr_assert_eq(st.cache_held_bytes, 2u << 20, "one read holds one block: %llu bytes",
		     (unsigned long long)st.cache_held_bytes);
	for (size_t off = 0; off < len; off += 64u << 10) {
		cr_assert_eq(mfs_rfile_read(f, off, sizeof buf, buf), (ssize_t)sizeof buf);
		cr_assert_arr_eq(buf, data + off, sizeof buf, "content at %zu", off);
	}
	mfs_reader_stats(r, &st);
	cr_assert_eq(st.cache_held_bytes, cfg.cache_bytes, "the bound, not more: %llu bytes",
		     (unsigned long long)st.cache_held_bytes);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
}

/* Bytes gathered from a pinned read's pieces. */
static size_t gather(const struct mfs_rread *rr, uint8_t *out)
{
	size_t n = 0;

	for (int i = 0; i < rr->count; i++) {
		memcpy(out + n, rr->iov[i].iov_base, rr->iov[i].iov_len);
		n += rr->iov[i].iov_len;
	}
	return n;
}

/* The mount replies from pinned pieces: the same bytes as a copying read,
 * across segment and chunk boundaries and at the end of the file; held
 * pieces are never evicted, so a cache of 32 segments with 32 pinned
 * still serves another read (from pieces of its own) and the pinned bytes
 * stay as they were. */
Test(reader, pinned_reads_give_the_bytes_and_hold_them)
{
	const size_t len = (3u << 20) + 777, seg = 65536;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(1u << 20);
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_rread held, other;
	struct mfs_reader_config cfg = {.cache_bytes = 32 * seg}; /* one block */
	struct mfs_reader_stats st;
	const uint64_t offs[] = {0, seg - 1, (1u << 20) - 100, len - 500, len - 1, len, len + 9};
	const size_t lens[] = {1, 2, 200, 1000, 1, 10, 10};

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, &cfg), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		ssize_t want = offs[i] >= len ? 0 : (ssize_t)(offs[i] + lens[i] > len ? len - offs[i]
										  : lens[i]);

		cr_assert_eq(mfs_rfile_read_pinned(f, offs[i], lens[i], &held), want, "at %zu", i);
		cr_assert_eq(gather(&held, buf), (size_t)want);
		if (want)
			cr_assert_arr_eq(buf, data + offs[i], (size_t)want);
		else
			cr_assert_eq(held.count, 0, "nothing pinned past the end");
		mfs_rread_release(&held);
		mfs_rread_release(&held); /* twice is harmless */
	}
	/* Every slot of the cache pinned (33 pieces, one from a buffer of its
	 * own), then a read elsewhere. */
	cr_assert_eq(mfs_rfile_read_pinned(f, seg / 2, 32 * seg, &held), (ssize_t)(32 * seg));
	cr_assert_eq(held.count, 33, "32 segments straddled: 33 pieces");
	mfs_reader_stats(r, &st);
	cr_assert_eq(st.cache_held_bytes, 32 * seg, "the cache is 32 slots: %llu bytes",
		     (unsigned long long)st.cache_held_bytes);
	cr_assert_eq(mfs_rfile_read_pinned(f, 34 * seg, 3 * seg, &other), (ssize_t)(3 * seg));
	cr_assert_eq(gather(&other, buf), 3 * seg);
	cr_assert_arr_eq(buf, data + 34 * seg, 3 * seg);
	mfs_rread_release(&other);
	for (size_t at = 0, i = 0; i < (size_t)held.count; at += held.iov[i++].iov_len)
		cr_assert_arr_eq(held.iov[i].iov_base, data + seg / 2 + at, held.iov[i].iov_len,
				 "pinned piece %zu kept its bytes", i);
	mfs_rread_release(&held);
	/* Longer than the pieces the struct holds (1 MiB): arrays of its own. */
	cr_assert_eq(mfs_rfile_read_pinned(f, 100, (2u << 20) + 1, &held), (ssize_t)(2u << 20) + 1);
	cr_assert_eq(held.count, 33, "segments 0 to 32: 2 MiB of 64 KiB ones, one more for the offset");
	cr_assert_neq(held.iov, held.iov_inline);
	for (size_t at = 0, i = 0; i < (size_t)held.count; at += held.iov[i++].iov_len)
		cr_assert_arr_eq(held.iov[i].iov_base, data + 100 + at, held.iov[i].iov_len);
	mfs_rread_release(&held);
	cr_assert_eq(held.iov, held.iov_inline, "released: its own arrays again");
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

struct copy_seen {
	uint64_t calls, last, stop_after;
};

static int note_copy(void *ctx, uint64_t done)
{
	struct copy_seen *s = ctx;

	cr_assert_gt(done, s->last, "progress only grows");
	s->last = done;
	return ++s->calls == s->stop_after;
}

/* The end of a test that copies a file out through a reader. */
static void copy_test_end(int fd, struct mfs_rfile *f, struct mfs_reader *r,
			  struct mfs_file_entry *e, uint8_t *back, uint8_t *data)
{
	close(fd);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(e);
	free(back);
	free(data);
}

/* A download reads each byte once: its cache holds the read-ahead window
 * and the chunk being copied, and what is decrypted ahead is not evicted
 * before the copy takes it (evicted, a chunk is loaded again). Threads
 * interleaving badly still load one now and then twice (48 to 52 loads for
 * 48 chunks with two busy loops beside); with plain LRU order, which
 * evicted the read-ahead before the segments already read, 62 to 91. */
Test(reader, a_download_seldom_loads_a_chunk_twice)
{
	const size_t len = 48u << 20;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *back = malloc(len);
	struct mfs_reader_config cfg = mfs_reader_download_config(e.chunk_size);
	struct mfs_reader_stats st;
	struct mfs_reader *r;
	struct mfs_rfile *f;
	uint64_t done = 0;
	int fd = memfd_create("download", 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(cfg.cache_bytes, len / 2, "the file is larger than the cache");
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, &cfg), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_copy_fd(f, 0, len, fd, NULL, NULL, &done), 0);
	cr_assert_eq(pread(fd, back, len, 0), (ssize_t)len);
	cr_assert_arr_eq(back, data, len);
	mfs_reader_stats(r, &st);
	cr_assert_leq(st.readahead_chunks, e.chunk_count + e.chunk_count / 8,
		      "%llu chunk loads for %llu chunks",
		      (unsigned long long)st.readahead_chunks, (unsigned long long)e.chunk_count);
	cr_assert_leq(st.cache_held_bytes, cfg.cache_bytes + (2u << 20));
	copy_test_end(fd, f, r, &e, back, data);
}

/* A download's copy: the bytes of a range land in the file whole, progress
 * is told a piece at a time, a nonzero answer stops it, and a range past
 * the end of the file is an error with what was written said. */
Test(reader, copy_to_a_file_descriptor)
{
	const size_t len = (3u << 20) + 777;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *back = malloc(len);
	struct mfs_reader_config cfg = mfs_reader_download_config(e.chunk_size);
	struct copy_seen seen = {0};
	struct mfs_reader *r;
	struct mfs_rfile *f;
	uint64_t done = 0;
	int fd = memfd_create("copy", 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, &cfg), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_copy_fd(f, 1000, len - 1000, fd, note_copy, &seen, &done), 0);
	cr_assert_eq(done, len - 1000);
	cr_assert_eq(seen.calls, 3, "223 bytes short of 3 MiB: three pieces");
	cr_assert_eq(seen.last, len - 1000);
	cr_assert_eq(pread(fd, back, len, 0), (ssize_t)(len - 1000));
	cr_assert_arr_eq(back, data + 1000, len - 1000);

	seen = (struct copy_seen){.stop_after = 2};
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(mfs_rfile_copy_fd(f, 0, len, fd, note_copy, &seen, &done), -ECANCELED);
	cr_assert_eq(done, 2u << 20, "stopped after the second piece");

	cr_assert_eq(mfs_rfile_copy_fd(f, len - 10, 20, fd, NULL, NULL, &done), MFS_E_CORRUPT);
	cr_assert_eq(done, 10, "the ten bytes the file has were written");
	cr_assert_eq(mfs_rfile_copy_fd(f, 0, 10, -1, NULL, NULL, &done), -EBADF);
	cr_assert_eq(done, 0);
	copy_test_end(fd, f, r, &e, back, data);
}

Test(reader, sequential_reads_load_ahead)
{
	const size_t len = 24u << 20;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(128 * 1024);
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_reader_stats st;

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	for (size_t off = 0; off < len; off += 128 * 1024) {
		cr_assert_eq(mfs_rfile_read(f, off, 128 * 1024, buf), 128 * 1024);
		cr_assert_arr_eq(buf, data + off, 128 * 1024, "at %zu", off);
	}
	mfs_reader_stats(r, &st);
	cr_assert_gt(st.readahead_chunks, 0, "workers loaded chunks ahead");
	cr_assert_gt(st.asked_ahead, 0, "and asked the disk for the queued ones early");
	cr_assert_gt(st.segment_hits, 0, "and the reader found them");
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

/* A random reader lands near its last read now and then: one read in the
 * window is not a sequential reader, and loads only its segment (it loaded
 * the chunk and queued the next ones: 5 MiB for 4 KiB). Two in a row are. */
Test(reader, a_lone_read_near_the_last_loads_no_chunk)
{
	const size_t len = 24u << 20;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(4096);
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_reader_stats st;
	const uint64_t at = 10u << 20;

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, at, 4096, buf), 4096); /* a seek */
	cr_assert_eq(mfs_rfile_read(f, at + 200 * 1024, 4096, buf), 4096);
	cr_assert_arr_eq(buf, data + at + 200 * 1024, 4096);
	mfs_reader_stats(r, &st);
	cr_assert_eq(st.readahead_chunks, 0, "no chunk loaded for two scattered reads");
	cr_assert_eq(st.segment_loads, 2, "one segment each");
	cr_assert_eq(mfs_rfile_read(f, at + 260 * 1024, 4096, buf), 4096);
	cr_assert_arr_eq(buf, data + at + 260 * 1024, 4096);
	mfs_reader_stats(r, &st);
	cr_assert_gt(st.readahead_chunks, 0, "the second read in a row loads its chunk whole");
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

Test(reader, index_tree_files_and_many_readers)
{
	/* 64 KiB chunks: more than 32 chunks means index blobs. */
	const size_t len = 3000u * 1024 + 7;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 65536, &e), *buf = malloc(70000);
	struct mfs_reader *r;
	struct mfs_rfile *f[3];

	cr_assert_gt(e.index_depth, 0);
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mfs_rfile_open(&f[i], r, &e), 0);
	for (size_t off = 0; off < len; off += 69999) {
		ssize_t got = mfs_rfile_read(f[off % 3], off, 70000, buf);

		cr_assert_eq(got, (ssize_t)(len - off < 70000 ? len - off : 70000));
		cr_assert_arr_eq(buf, data + off, (size_t)got);
	}
	for (int i = 0; i < 3; i++)
		mfs_rfile_close(f[i]);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
	free(buf);
}

/* A stand-in for the network: serves blobs it was given, maybe damaged. */
struct fake_peer {
	uint8_t id[32];
	uint8_t *blob;
	size_t len;
	int corrupt;
	int calls;
};

static int fake_fetch(void *ctx, const uint8_t id[static 32], int urgent, uint8_t **blob,
		      size_t *len)
{
	struct fake_peer *p = ctx;

	(void)urgent;
	p->calls++;
	if (memcmp(id, p->id, 32) != 0)
		return MFS_E_NOTFOUND;
	*blob = malloc(p->len);
	memcpy(*blob, p->blob, p->len);
	if (p->corrupt)
		(*blob)[10] ^= 1;
	*len = p->len;
	return 0;
}

/* Closes and frees what a fetcher test made. */
static void close_all(struct mfs_rfile *f, struct mfs_reader *r, struct fake_peer *peer,
		      struct mfs_file_entry *e, uint8_t *buf, uint8_t *data)
{
	mfs_rfile_close(f);
	mfs_reader_free(r);
	free(peer->blob);
	mfs_entry_clear(e);
	free(buf);
	free(data);
}

/* Reads f whole, 4 KiB at a time, into buf and compares it with data. */
static void read_in_pages(struct mfs_rfile *f, uint8_t *buf, const uint8_t *data, size_t len)
{
	for (size_t off = 0; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;
		cr_assert_eq(mfs_rfile_read(f, off, n, buf + off), (ssize_t)n);
	}
	cr_assert_arr_eq(buf, data, len);
}

/* Moves the blob of e's first chunk out of the volume, into the "peer". */
static void move_to_peer(struct fake_peer *peer, const struct mfs_file_entry *e)
{
	struct mfs_vtxn *t;

	memcpy(peer->id, e->chunks[0].id, 32);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_blob_get(t, peer->id, &peer->blob, &peer->len), 0);
	cr_assert_eq(mfs_blob_delete(t, peer->id), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

Test(reader, missing_blobs_come_from_the_fetcher_checked)
{
	const size_t len = 100000;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), buf[100];
	struct fake_peer peer = {0};
	struct mfs_blob_fetcher fetcher = {.fetch = fake_fetch, .ctx = &peer};
	struct mfs_reader *r;
	struct mfs_rfile *f;

	move_to_peer(&peer, &e);

	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 0, sizeof buf, buf), MFS_E_NOTFOUND, "no fetcher, no blob");
	mfs_rfile_close(f);
	mfs_reader_free(r);

	peer.corrupt = 1;
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, &fetcher, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 5000, sizeof buf, buf), MFS_E_CORRUPT,
		     "a blob that does not hash to its id is refused");
	peer.corrupt = 0;
	cr_assert_eq(mfs_rfile_read(f, 5000, sizeof buf, buf), sizeof buf);
	cr_assert_arr_eq(buf, data + 5000, sizeof buf);
	cr_assert_geq(peer.calls, 2);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	free(peer.blob);
	mfs_entry_clear(&e);
	free(data);
}

/* A blob fetched for one segment fills the cache with its others: read
 * from its start, a chunk's blob crossed the network once per segment (16
 * times for 1 MiB), which on a lossy link cost minutes. */
Test(reader, a_fetched_blob_serves_all_its_segments)
{
	const size_t len = 300000; /* one chunk, five segments */
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(len);
	struct fake_peer peer = {0};
	struct mfs_blob_fetcher fetcher = {.fetch = fake_fetch, .ctx = &peer};
	struct mfs_reader *r;
	struct mfs_rfile *f;

	cr_assert_eq(e.chunk_count, 1);
	move_to_peer(&peer, &e);
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, &fetcher, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	read_in_pages(f, buf, data, len);
	cr_assert_eq(peer.calls, 1, "the blob was fetched %d times for one read of its chunk",
		     peer.calls);
	close_all(f, r, &peer, &e, buf, data);
}

/* A slow peer that holds the blob of chunk 1 (fake_peer's, 50 ms a fetch). */
static int slow_fetch(void *ctx, const uint8_t id[static 32], int urgent, uint8_t **blob,
		      size_t *len)
{
	struct fake_peer *p = ctx;

	__atomic_add_fetch(&p->calls, 1, __ATOMIC_RELAXED);
	(void)urgent;
	if (memcmp(id, p->id, 32) != 0)
		return MFS_E_NOTFOUND;
	usleep(50 * 1000);
	*blob = malloc(p->len);
	memcpy(*blob, p->blob, p->len);
	*len = p->len;
	return 0;
}

struct page_reader {
	struct mfs_rfile *f;
	uint64_t off;
	uint8_t page[4096];
	ssize_t got;
};

static void *read_page(void *arg)
{
	struct page_reader *pr = arg;

	pr->got = mfs_rfile_read(pr->f, pr->off, sizeof pr->page, pr->page);
	return NULL;
}

/* The kernel hands a sequential reader's read-ahead to FUSE's threads at
 * once: several reads of one chunk that is not cached yet, beside the
 * reader's own read-ahead worker. The chunk's blob is got once, the others
 * wait for that copy (each got its own: a cold read opened every blob 2.3
 * times). */
Test(reader, concurrent_reads_of_one_chunk_get_its_blob_once)
{
	const size_t len = 3u << 20;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e);
	struct fake_peer peer = {0};
	struct mfs_blob_fetcher fetcher = {.fetch = slow_fetch, .ctx = &peer};
	struct page_reader pr[6];
	pthread_t th[6];
	struct mfs_reader *r;
	struct mfs_rfile *f;
	struct mfs_vtxn *t;
	uint8_t page[4096];

	cr_assert_eq(e.chunk_count, 3);
	memcpy(peer.id, e.chunks[1].id, 32);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_blob_get(t, peer.id, &peer.blob, &peer.len), 0);
	cr_assert_eq(mfs_blob_delete(t, peer.id), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, &fetcher, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	/* Two reads near the end of chunk 0 make the reader sequential. */
	cr_assert_eq(mfs_rfile_read(f, (1u << 20) - 8192, sizeof page, page), sizeof page);
	cr_assert_eq(mfs_rfile_read(f, (1u << 20) - 4096, sizeof page, page), sizeof page);
	for (int i = 0; i < 6; i++) {
		pr[i] = (struct page_reader){.f = f, .off = (1u << 20) + (uint64_t)i * 65536 * 2};
		cr_assert_eq(pthread_create(&th[i], NULL, read_page, &pr[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(pr[i].got, (ssize_t)sizeof pr[i].page);
		cr_assert_arr_eq(pr[i].page, data + pr[i].off, sizeof pr[i].page);
	}
	cr_assert_eq(peer.calls, 1, "chunk 1's blob was got %d times for 6 readers at once",
		     peer.calls);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	free(peer.blob);
	mfs_entry_clear(&e);
	free(data);
}

/* The fetcher's fetch_segment: piece index of the peer's blob. */
struct segment_peer {
	struct fake_peer *peer;
	int calls;
	uint32_t last_index;
};

static int fake_fetch_segment(void *ctx, const uint8_t id[static 32], int urgent, uint32_t index,
			      uint8_t *out, size_t cap, size_t *len)
{
	struct segment_peer *sp = ctx;
	struct fake_peer *p = sp->peer;
	size_t at = (size_t)index * MFS_BLOB_LEAF_BYTES;

	(void)urgent;
	__atomic_add_fetch(&sp->calls, 1, __ATOMIC_RELAXED);
	sp->last_index = index;
	if (memcmp(id, p->id, 32) != 0)
		return MFS_E_NOTFOUND;
	if (at >= p->len)
		return MFS_E_CORRUPT;
	*len = mfs_blob_leaf_len(p->len, index);
	if (*len > cap)
		return -ENOBUFS;
	memcpy(out, p->blob + at, *len);
	return 0;
}

static int fetch_via_segment_peer(void *ctx, const uint8_t id[static 32], int urgent,
				  uint8_t **blob, size_t *len)
{
	struct segment_peer *sp = ctx;
	return fake_fetch(sp->peer, id, urgent, blob, len);
}

/* With a fetcher that hands segments over as they arrive, a read of a
 * blob held nowhere here asks for its own segment only, not the whole
 * blob; reading on gets every byte right. */
Test(reader, a_read_waits_for_its_segment_not_the_whole_blob)
{
	const size_t len = 300000; /* one chunk, five segments */
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), *buf = malloc(len);
	struct fake_peer peer = {0};
	struct segment_peer sp = {.peer = &peer};
	struct mfs_blob_fetcher fetcher = {.fetch = fetch_via_segment_peer,
					   .fetch_segment = fake_fetch_segment,
					   .ctx = &sp,
					   .verifies = 1};
	struct mfs_reader *r;
	struct mfs_rfile *f;

	move_to_peer(&peer, &e);
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, &fetcher, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 200000, 4096, buf), 4096);
	cr_assert_arr_eq(buf, data + 200000, 4096);
	cr_assert_eq(sp.calls, 1);
	cr_assert_eq(sp.last_index, 200000 / 65536, "the segment the read falls in");
	cr_assert_eq(peer.calls, 0, "the whole blob was not asked for");
	read_in_pages(f, buf, data, len);
	close_all(f, r, &peer, &e, buf, data);
}

/* The reader decrypts what its sources showed authentic without checking
 * the segments' tags again (megafs(7), BLOBS): a key the entry gets wrong,
 * the signed word of the channel's owner like the blob's id, gives other
 * bytes, not an error, and the same bytes however the read is cut. */
Test(reader, a_chunk_under_another_key_reads_as_other_bytes)
{
	const size_t len = 200000;
	struct mfs_file_entry e;
	uint8_t *data = ingest(len, 0, &e), buf[64], again[64];
	struct mfs_reader *r;
	struct mfs_rfile *f;

	e.chunks[0].key[0] ^= 1;
	cr_assert_eq(mfs_reader_new(&r, fx.vol, NULL, NULL, NULL), 0);
	cr_assert_eq(mfs_rfile_open(&f, r, &e), 0);
	cr_assert_eq(mfs_rfile_read(f, 0, sizeof buf, buf), sizeof buf);
	cr_assert_neq(memcmp(buf, data, sizeof buf), 0, "not the file's bytes");
	cr_assert_eq(mfs_rfile_read(f, 0, 16, again), 16);
	cr_assert_eq(mfs_rfile_read(f, 16, sizeof again - 16, again + 16), sizeof again - 16);
	cr_assert_arr_eq(again, buf, sizeof buf);
	mfs_rfile_close(f);
	mfs_reader_free(r);
	mfs_entry_clear(&e);
	free(data);
}
