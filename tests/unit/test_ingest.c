/* fs/blob: FileEntry, ingest and extract through a volume, index trees. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/mfs_error.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/store/blobstore.h"
#include "tests/unit/testutil.h"

static struct tu_fixture fx;
static const uint8_t secret[32] = {9, 9, 9};

static void setup(void)
{
	tu_fixture_open(&fx, 4096);
}

static void teardown(void)
{
	tu_fixture_close(&fx);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 300);

static uint64_t used(void)
{
	struct mfs_volume_stats st;

	cr_assert_eq(mfs_volume_stats(fx.vol, &st), 0);
	return st.used_slots;
}

static void ingest(const uint8_t *data, size_t len, enum mfs_key_mode mode, uint32_t chunk_size,
		   struct mfs_file_entry *e)
{
	struct mfs_ingest_opts o = {.chunk_size = chunk_size, .mode = mode, .convergence = secret};
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_ingest *w;

	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "file.bin", &o, &as), 0);
	/* Odd write sizes, as a FUSE write or a pipe would deliver them. */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 77777 ? len - off : 77777;

		int wrc = mfs_ingest_write(w, data + off, n);

		cr_assert_eq(wrc, 0, "write: %s", mfs_strerror(wrc));
		off += n;
	}
	cr_assert_eq(mfs_ingest_finish(w, 1234, e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
}

static void extract_and_compare(const struct mfs_file_entry *e, const uint8_t *data, size_t len)
{
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	int fd = memfd_create("extract", 0);
	uint8_t *back = malloc(len + 1);

	cr_assert(fd >= 0);
	cr_assert_eq(mfs_extract_fd(e, &src, fd), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)len);
	cr_assert_eq(pread(fd, back, len, 0), (ssize_t)len);
	cr_assert_arr_eq(back, data, len);
	close(fd);
	free(back);
}

static void round_trip(size_t len, enum mfs_key_mode mode, uint32_t chunk_size)
{
	uint8_t *data = malloc(len + 1);
	struct mfs_file_entry e, again;
	char why[160];
	json_t *json;

	tu_fill_random(data, len, len + mode);
	ingest(data, len, mode, chunk_size, &e);
	cr_assert_eq(e.size, len);
	cr_assert_eq(e.chunk_count, (len + e.chunk_size - 1) / e.chunk_size);
	extract_and_compare(&e, data, len);
	/* Through JSON and back, as a manifest would carry it. */
	cr_assert_eq(mfs_entry_to_json(&json, &e), 0);
	cr_assert_eq(mfs_entry_from_json(&again, json, why, sizeof why), 0, "%s", why);
	json_decref(json);
	extract_and_compare(&again, data, len);
	mfs_entry_clear(&again);
	mfs_entry_clear(&e);
	free(data);
}

/* The bytes a file descriptor reads, to its end: a pipe delivers them in
 * pieces. */
Test(ingest, write_fd_takes_everything_a_pipe_delivers)
{
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT, .convergence = secret};
	size_t len = (2u << 20) + 4321;
	uint8_t *data = malloc(len);
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_file_entry e, direct;
	struct mfs_ingest *w;
	int fds[2];
	pid_t child;

	tu_fill_random(data, len, 77);
	cr_assert_eq(pipe(fds), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(fds[0]);
		for (size_t off = 0; off < len;) {
			ssize_t n = write(fds[1], data + off, len - off < 5000 ? len - off : 5000);
			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(fds[1]);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "file.bin", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write_fd(w, fds[0]), 0);
	cr_assert_eq(mfs_ingest_finish(w, 1234, &e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
	close(fds[0]);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_assert_eq(e.size, len);
	extract_and_compare(&e, data, len);
	/* Convergent: the same blobs as the bytes written directly. */
	ingest(data, len, MFS_MODE_CONVERGENT, 0, &direct);
	cr_assert_eq(memcmp(e.chunks[0].id, direct.chunks[0].id, MFS_BLOB_ID_BYTES), 0);
	mfs_entry_clear(&direct);
	mfs_entry_clear(&e);
	/* A descriptor that cannot be read: its error, nothing ingested. */
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "bad.bin", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write_fd(w, -1), -EBADF);
	mfs_ingest_abort(w);
	mfs_volume_sink_clear(&sink);
	free(data);
}

Test(ingest, round_trips_at_edges)
{
	const size_t mib = 1u << 20;

	round_trip(0, MFS_MODE_CONVERGENT, 0);
	round_trip(1, MFS_MODE_CONVERGENT, 0);
	round_trip(mib, MFS_MODE_CONVERGENT, 0);
	round_trip(mib + 1, MFS_MODE_RANDOM, 0);
	round_trip(33 * mib - 1, MFS_MODE_RANDOM, 0); /* 33 chunks: first size past inline */
}

/* A source that passes calls on to the volume's and writes them down (from
 * any thread: extract reads on two when the source allows it). */
#define RECORDED_MAX 256
struct recorded {
	struct mfs_blob_source inner;
	pthread_mutex_t mu;
	char op[RECORDED_MAX];                /* 'p' prefetch, 'g' get */
	uint8_t id[RECORDED_MAX][MFS_BLOB_ID_BYTES];
	size_t len[RECORDED_MAX];
	int n;
	const uint8_t *slow; /* a blob whose get takes 50 ms longer, or NULL */
};

static void record(struct recorded *r, char op, const uint8_t *id, size_t len)
{
	pthread_mutex_lock(&r->mu);
	cr_assert_lt(r->n, RECORDED_MAX);
	r->op[r->n] = op;
	memcpy(r->id[r->n], id, MFS_BLOB_ID_BYTES);
	r->len[r->n++] = len;
	pthread_mutex_unlock(&r->mu);
}

/* The chunks whose blobs r saw got. */
static int gets_of(const struct recorded *r)
{
	int gets = 0;

	for (int i = 0; i < r->n; i++)
		gets += r->op[i] == 'g';
	return gets;
}

static int recorded_get(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], uint8_t **blob,
			size_t *len)
{
	struct recorded *r = ctx;
	int rc = r->inner.get(r->inner.ctx, id, blob, len);

	if (r->slow && memcmp(id, r->slow, MFS_BLOB_ID_BYTES) == 0)
		usleep(50000);

	record(r, 'g', id, rc == 0 ? *len : 0);
	return rc;
}

static void recorded_prefetch(void *ctx, const uint8_t id[static MFS_BLOB_ID_BYTES], size_t len)
{
	struct recorded *r = ctx;

	record(r, 'p', id, len);
	r->inner.prefetch(r->inner.ctx, id, len);
}

/* Extract asks its source ahead for each chunk's blob, once, in the file's
 * order, at most two chunks ahead of the one it reads, with the blob's length;
 * the bytes come out the same. */
Test(ingest, extract_asks_ahead_for_the_chunks_it_reads_next)
{
	const size_t len = 6 * (1u << 20) + 5;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct recorded r = {.inner = mfs_volume_source(fx.vol), .mu = PTHREAD_MUTEX_INITIALIZER};
	struct mfs_blob_source src = {.get = recorded_get, .prefetch = recorded_prefetch, .ctx = &r};
	struct mfs_file_entry e;
	int fd = memfd_create("extract", 0), gets = 0, asked = 0;

	tu_fill_random(data, len, 77);
	ingest(data, len, MFS_MODE_RANDOM, 0, &e);
	cr_assert_eq(e.index_depth, 0, "chunks inline: the blobs read are the chunks");
	cr_assert_eq(mfs_extract_fd(&e, &src, fd), 0);
	cr_assert_eq(pread(fd, back, len, 0), (ssize_t)len);
	cr_assert_arr_eq(back, data, len);
	for (int i = 0; i < r.n; i++) {
		if (r.op[i] == 'p') {
			cr_assert_lt(asked, (int)e.chunk_count);
			cr_assert_arr_eq(r.id[i], e.chunks[asked].id, MFS_BLOB_ID_BYTES, "ask %d", asked);
			cr_assert_eq(r.len[i], mfs_blob_len(mfs_chunk_padded_len(e.chunks[asked].length)));
			cr_assert_leq(asked, gets + 2, "asked at most two chunks ahead");
			asked++;
		} else {
			cr_assert_lt(gets, asked, "chunk %d asked for before it is read", gets);
			cr_assert_arr_eq(r.id[i], e.chunks[gets].id, MFS_BLOB_ID_BYTES);
			cr_assert_eq(r.len[i], mfs_blob_len(mfs_chunk_padded_len(e.chunks[gets].length)),
				     "the length asked ahead is the blob's");
			gets++;
		}
	}
	cr_assert_eq(asked, (int)e.chunk_count);
	cr_assert_eq(gets, (int)e.chunk_count);
	close(fd);
	mfs_entry_clear(&e);
	free(data);
	free(back);
}

Test(ingest, round_trip_100_mib)
{
	round_trip(100u << 20, MFS_MODE_CONVERGENT, 0);
}

Test(ingest, index_tree_two_levels)
{
	/* 64 KiB chunks: 963 refs per index blob, so 1000 chunks need depth 2. */
	const size_t len = 1000u * 65536u + 17;
	uint8_t *data = malloc(len);
	struct mfs_file_entry e;
	struct mfs_chunk_cursor *cur;
	struct mfs_chunk_ref ref;
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	uint8_t out[100];

	tu_fill_random(data, len, 5);
	ingest(data, len, MFS_MODE_CONVERGENT, 65536, &e);
	cr_assert_eq(e.index_depth, 2);
	extract_and_compare(&e, data, len);
	/* Random access straight to a chunk in the second leaf. */
	cr_assert_eq(mfs_chunk_cursor_new(&cur, &e, &src), 0);
	cr_assert_eq(mfs_chunk_cursor_get(cur, 990, &ref), 0);
	cr_assert_eq(mfs_chunk_read(&src, &ref, 100, sizeof out, out), 0);
	cr_assert_arr_eq(out, data + 990u * 65536u + 100, sizeof out);
	cr_assert_eq(mfs_chunk_cursor_get(cur, 1000, &ref), 0);
	cr_assert_eq(ref.length, 17);
	cr_assert_eq(mfs_chunk_cursor_get(cur, 1001, &ref), MFS_E_FORMAT);
	mfs_chunk_cursor_free(cur);
	mfs_entry_clear(&e);
	free(data);
}

Test(ingest, convergent_dedups_random_does_not)
{
	const size_t len = (24u << 20) + 5000, chunk = MFS_CHUNK_SIZE_DEFAULT;
	uint8_t *data = malloc(len), key[MFS_CHUNK_KEY_BYTES];
	struct mfs_file_entry a, b, c, d;
	uint64_t before;

	tu_fill_random(data, len, 11);
	ingest(data, len, MFS_MODE_CONVERGENT, 0, &a);
	/* Each key is its chunk's own, whether a worker hashed it alone or
	 * beside another (crypto/sha256x2.h). */
	cr_assert_eq(a.chunk_count, 25);
	for (uint64_t i = 0; i < a.chunk_count; i++) {
		size_t n = len - i * chunk < chunk ? len - i * chunk : chunk;

		mfs_chunk_key_convergent(key, data + i * chunk, n, secret);
		cr_assert_arr_eq(a.chunks[i].key, key, sizeof key, "chunk %" PRIu64, i);
	}
	before = used();
	ingest(data, len, MFS_MODE_CONVERGENT, 0, &b);
	cr_assert_eq(used(), before, "a second convergent ingest takes zero new slots");
	for (int i = 0; i < 3; i++)
		cr_assert_arr_eq(a.chunks[i].id, b.chunks[i].id, 32, "same content, same blob ids");
	ingest(data, len, MFS_MODE_RANDOM, 0, &c);
	ingest(data, len, MFS_MODE_RANDOM, 0, &d);
	for (int i = 0; i < 3; i++) {
		cr_assert_arr_neq(c.chunks[i].id, d.chunks[i].id, 32, "random keys, new blobs");
		cr_assert_arr_neq(a.chunks[i].id, c.chunks[i].id, 32);
	}
	mfs_entry_clear(&a);
	mfs_entry_clear(&b);
	mfs_entry_clear(&c);
	mfs_entry_clear(&d);
	free(data);
}

/* A sink that fails after n puts, to test rollback. */
struct failing {
	struct mfs_volume_sink inner;
	int left;
};

static int failing_put(void *ctx, const uint8_t id[static 32], const uint8_t *blob, size_t len)
{
	struct failing *f = ctx;
	struct mfs_blob_sink s = mfs_volume_sink_as_sink(&f->inner);

	if (f->left-- == 0)
		return MFS_E_FULL;
	return s.put(s.ctx, id, blob, len);
}

Test(ingest, failed_ingest_rolls_back_everything)
{
	const size_t len = 64u << 20; /* past the failing put and the ring behind it */
	uint8_t *data = malloc(len);
	struct mfs_ingest_opts o = {.mode = MFS_MODE_RANDOM};
	struct failing f = {.left = 30};
	struct mfs_blob_sink sink = {.put = failing_put, .ctx = &f};
	struct mfs_blob_stats st;
	struct mfs_ingest *w;
	struct mfs_vtxn *t;
	uint64_t before = used();
	int rc;

	tu_fill_random(data, len, 12);
	mfs_volume_sink_init(&f.inner, fx.vol, 1);
	cr_assert_eq(mfs_ingest_begin(&w, "big", &o, &sink), 0);
	rc = mfs_ingest_write(w, data, len);
	cr_assert_eq(rc, MFS_E_FULL);
	mfs_ingest_abort(w);
	cr_assert_eq(mfs_volume_sink_rollback(&f.inner), 0);
	mfs_volume_sink_clear(&f.inner);
	cr_assert_eq(used(), before, "every slot given back, committed batches too");
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.count, 0);
	mfs_vtxn_abort(t);
	free(data);
}

/* A full batch is committed behind the caller (fs/blob/volume_io.h): when
 * that commit fails (the store is full), the caller hears it at its next
 * call, every later call says it too until the rollback, and the rollback
 * gives back every slot, the batches committed behind it included. */
Test(ingest, a_batch_failing_behind_the_caller_fails_every_call_until_the_rollback)
{
	const size_t len = 128u << 20; /* past a store of 1,200 slots (80 MiB) */
	uint8_t *data = malloc(len);
	struct mfs_ingest_opts o = {.mode = MFS_MODE_RANDOM};
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_blob_stats st;
	struct mfs_ingest *w;
	struct mfs_vtxn *t;
	uint64_t before;
	int rc;

	tu_fixture_close(&fx);
	tu_fixture_open(&fx, 1200);
	before = used();
	tu_fill_random(data, len, 13);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "big", &o, &as), 0);
	rc = mfs_ingest_write(w, data, len);
	if (rc == 0)
		rc = mfs_ingest_flush(w); /* the storer may still be behind */
	cr_assert_eq(rc, MFS_E_FULL, "the write: %s", mfs_strerror(rc));
	mfs_ingest_abort(w);
	cr_assert_eq(mfs_volume_sink_commit(&sink), MFS_E_FULL, "said again");
	cr_assert_eq(mfs_volume_sink_finish(&sink), MFS_E_FULL, "and again");
	cr_assert_gt(used(), before, "batches were committed before the one that failed");
	cr_assert_eq(mfs_volume_sink_rollback(&sink), 0);
	cr_assert_eq(used(), before, "every slot given back");
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0, "a rollback clears the error");
	mfs_volume_sink_clear(&sink);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	mfs_blob_stats(t, &st);
	cr_assert_eq(st.count, 0);
	mfs_vtxn_abort(t);
	free(data);
}

/* The committer chains its batches' commits and keeps the chain's write
 * transaction, and with it the store's lock, open between them
 * (fs/blob/volume_io.c). Another writer, here on the caller's own thread
 * between two writes (as a FUSE thread publishing would be), gets the
 * lock once no batch has come for a moment: it is not shut out until the
 * file ends. Without that rule this test does not end (the committer
 * waits for a batch that the blocked caller cannot give) unless the
 * writer came before the batch's commit, which then did not chain. */
Test(ingest, another_writer_gets_the_lock_while_a_file_is_being_written)
{
	const size_t len = 48u << 20; /* one batch handed to the committer, one gathering */
	uint8_t *data = malloc(len);
	struct mfs_ingest_opts o = {.mode = MFS_MODE_RANDOM};
	struct mfs_volume_sink sink;
	struct mfs_file_entry e;
	struct mfs_blob_sink as;
	struct mfs_ingest *w;
	struct timespec t0, t1;
	struct mfs_vtxn *t;
	double waited;

	tu_fill_random(data, len, 17);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "big", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write(w, data, 30u << 20), 0);
	cr_assert_eq(mfs_ingest_flush(w), 0);
	/* Most likely after the batch's chained commit: the chain is open and
	 * waits for the next batch. */
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(mfs_obj_write(t, "other", 5, "x", 1), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_log_info("the other writer waited %.3f s for the lock", waited);
	cr_assert_lt(waited, 10.0);
	cr_assert_eq(mfs_ingest_write(w, data + (30u << 20), len - (30u << 20)), 0);
	cr_assert_eq(mfs_ingest_finish(w, 1, &e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
	extract_and_compare(&e, data, len);
	mfs_entry_clear(&e);
	free(data);
}

Test(ingest, bad_entries_are_refused)
{
	static const char *const bad[] = {
		"{}",
		"{\"chunkSize\":1048576,\"chunks\":[],\"mode\":\"convergent\",\"mtime\":0,\"name\":\"a/b\",\"size\":0}",
		"{\"chunkSize\":1000,\"chunks\":[],\"mode\":\"convergent\",\"mtime\":0,\"name\":\"a\",\"size\":0}",
		"{\"chunkSize\":1048576,\"chunks\":[],\"mode\":\"xor\",\"mtime\":0,\"name\":\"a\",\"size\":0}",
		"{\"chunkSize\":1048576,\"chunks\":[],\"mode\":\"random\",\"mtime\":0,\"name\":\"a\",\"size\":5}",
		"{\"chunkSize\":1048576,\"chunks\":[],\"mode\":\"random\",\"mtime\":0,\"name\":\"..\",\"size\":0}",
	};
	struct mfs_file_entry e;
	char why[160];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);

		cr_assert_not_null(j);
		cr_assert_eq(mfs_entry_from_json(&e, j, why, sizeof why), MFS_E_FORMAT, "%s", bad[i]);
		cr_assert(strncmp(why, "file entry: ", 12) == 0);
		json_decref(j);
	}
}

/* Swaps blob id for another of the same length: its key will not open it. */
static void tamper(const uint8_t *id)
{
	struct mfs_vtxn *t;
	uint8_t *blob;
	size_t blob_len;

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_blob_get(t, id, &blob, &blob_len), 0);
	cr_assert_eq(mfs_blob_delete(t, id), 0);
	blob[100] ^= 1;
	cr_assert_eq(mfs_blob_put_hashed(t, id, blob, blob_len, 1, NULL), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	free(blob);
}

Test(ingest, tampered_blob_is_detected_on_extract)
{
	const size_t len = 200000;
	uint8_t *data = malloc(len);
	struct mfs_file_entry e;
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	int fd = memfd_create("x", 0);

	tu_fill_random(data, len, 13);
	ingest(data, len, MFS_MODE_RANDOM, 0, &e);
	tamper(e.chunks[0].id);
	cr_assert_eq(mfs_extract_fd(&e, &src, fd), MFS_E_AUTH);
	close(fd);
	mfs_entry_clear(&e);
	free(data);
}

/* A chunk that does not open stops extract, on one thread or two. What
 * came before it is written, nothing of it or after it, and the reading
 * stops within reach of the failure (the other thread's chunk and the two
 * asked ahead) instead of reading the rest of the file. */
static void stops_at_a_chunk_that_does_not_open(int concurrent)
{
	const size_t chunk = 1u << 16, len = 12 * chunk;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct recorded r = {.inner = mfs_volume_source(fx.vol), .mu = PTHREAD_MUTEX_INITIALIZER};
	struct mfs_blob_source src = {.get = recorded_get, .prefetch = recorded_prefetch, .ctx = &r,
				      .concurrent = concurrent};
	struct mfs_file_entry e;
	int fd = memfd_create("x", 0);

	tu_fill_random(data, len, 31);
	ingest(data, len, MFS_MODE_RANDOM, (uint32_t)chunk, &e);
	cr_assert_eq(e.chunk_count, 12);
	tamper(e.chunks[3].id);
	/* On two threads, the other one has read chunk 4 and waits for its
	 * turn when chunk 3 fails: it must not write it. */
	r.slow = e.chunks[3].id;
	cr_assert_eq(mfs_extract_fd(&e, &src, fd), MFS_E_AUTH);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)(3 * chunk), "the chunks before it, whole");
	cr_assert_eq(pread(fd, back, 3 * chunk, 0), (ssize_t)(3 * chunk));
	cr_assert_arr_eq(back, data, 3 * chunk);
	cr_assert_geq(gets_of(&r), 4);
	cr_assert_leq(gets_of(&r), 6, "read %d of 12 chunks after the fourth failed", gets_of(&r));
	close(fd);
	mfs_entry_clear(&e);
	free(data);
	free(back);
}

Test(ingest, extract_stops_at_the_first_chunk_that_does_not_open)
{
	stops_at_a_chunk_that_does_not_open(0);
	stops_at_a_chunk_that_does_not_open(1);
}

/* An output that refuses the bytes (here a descriptor open for reading):
 * its error, and the reading stops. */
static void returns_the_outputs_error(int concurrent)
{
	const size_t chunk = 1u << 16, len = 12 * chunk;
	uint8_t *data = malloc(len);
	struct recorded r = {.inner = mfs_volume_source(fx.vol), .mu = PTHREAD_MUTEX_INITIALIZER};
	struct mfs_blob_source src = {.get = recorded_get, .prefetch = recorded_prefetch, .ctx = &r,
				      .concurrent = concurrent};
	struct mfs_file_entry e;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	tu_fill_random(data, len, 32);
	ingest(data, len, MFS_MODE_RANDOM, (uint32_t)chunk, &e);
	cr_assert_eq(mfs_extract_fd(&e, &src, fd), -EBADF);
	cr_assert_leq(gets_of(&r), 3, "read %d of 12 chunks after the first write failed",
		      gets_of(&r));
	close(fd);
	mfs_entry_clear(&e);
	free(data);
}

Test(ingest, extract_returns_the_outputs_error_and_stops_reading)
{
	returns_the_outputs_error(0);
	returns_the_outputs_error(1);
}

/* On two threads (a source that allows it) the chunks still go out in the
 * file's order, each blob read once and asked for before it is read; here
 * through an index tree (40 chunks), whose nodes the threads share. */
Test(ingest, extract_on_two_threads_writes_in_order_and_reads_each_blob_once)
{
	const size_t chunk = 1u << 16, len = 40 * chunk + 17;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct recorded r = {.inner = mfs_volume_source(fx.vol), .mu = PTHREAD_MUTEX_INITIALIZER};
	struct mfs_blob_source src = {.get = recorded_get, .prefetch = recorded_prefetch, .ctx = &r,
				      .concurrent = 1};
	struct mfs_file_entry e;
	int fd = memfd_create("x", 0);

	tu_fill_random(data, len, 34);
	ingest(data, len, MFS_MODE_RANDOM, (uint32_t)chunk, &e);
	cr_assert_gt(e.index_depth, 0);
	for (int round = 0; round < 3; round++) {
		r.n = 0;
		cr_assert_eq(ftruncate(fd, 0), 0);
		cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
		cr_assert_eq(mfs_extract_fd(&e, &src, fd), 0);
		cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)len);
		cr_assert_eq(pread(fd, back, len, 0), (ssize_t)len);
		cr_assert_arr_eq(back, data, len, "round %d", round);
		for (uint64_t c = 0; c < e.chunk_count; c++) {
			struct mfs_chunk_cursor *cur;
			struct mfs_chunk_ref ref;
			int asked_at = -1, got = 0;

			cr_assert_eq(mfs_chunk_cursor_new(&cur, &e, &r.inner), 0);
			cr_assert_eq(mfs_chunk_cursor_get(cur, c, &ref), 0);
			mfs_chunk_cursor_free(cur);
			for (int i = 0; i < r.n; i++) {
				if (memcmp(r.id[i], ref.id, MFS_BLOB_ID_BYTES) != 0)
					continue;
				if (r.op[i] == 'p' && asked_at < 0)
					asked_at = i;
				if (r.op[i] == 'g') {
					cr_assert_geq(asked_at, 0, "chunk %lu read before asked", c);
					got++;
				}
			}
			cr_assert_eq(got, 1, "chunk %lu read %d times", c, got);
		}
	}
	close(fd);
	mfs_entry_clear(&e);
	free(data);
	free(back);
}

/* A blob missing from the source: its error, and the chunks before it
 * written. */
Test(ingest, extract_writes_what_it_read_before_a_missing_blob)
{
	const size_t chunk = 1u << 16, len = 5 * chunk;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	struct mfs_file_entry e;
	struct mfs_vtxn *t;
	int fd = memfd_create("x", 0);

	tu_fill_random(data, len, 33);
	ingest(data, len, MFS_MODE_RANDOM, (uint32_t)chunk, &e);
	cr_assert_eq(mfs_vtxn_begin(fx.vol, 1, &t), 0);
	cr_assert_eq(mfs_blob_delete(t, e.chunks[2].id), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_extract_fd(&e, &src, fd), MFS_E_NOTFOUND);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)(2 * chunk));
	cr_assert_eq(pread(fd, back, 2 * chunk, 0), (ssize_t)(2 * chunk));
	cr_assert_arr_eq(back, data, 2 * chunk);
	close(fd);
	mfs_entry_clear(&e);
	free(data);
	free(back);
}

/* mfs_chunk_open_blob's bad inputs: a range past the chunk, a blob too
 * short for the chunk its ref names; nothing is written to out. */
Test(ingest, open_blob_refuses_a_bad_range_and_a_short_blob)
{
	const size_t len = 3000;
	uint8_t *data = malloc(len), *blob, out[16];
	struct mfs_blob_source src = mfs_volume_source(fx.vol);
	struct mfs_file_entry e;
	size_t blob_len;

	tu_fill_random(data, len, 35);
	ingest(data, len, MFS_MODE_RANDOM, 0, &e);
	cr_assert_eq(src.get(src.ctx, e.chunks[0].id, &blob, &blob_len), 0);
	memset(out, 0xAA, sizeof out);
	cr_expect_eq(mfs_chunk_open_blob(&e.chunks[0], blob, blob_len, len - 8, 16, out),
		     MFS_E_FORMAT);
	cr_expect_eq(mfs_chunk_open_blob(&e.chunks[0], blob, blob_len, len + 1, 0, out),
		     MFS_E_FORMAT);
	cr_expect_eq(mfs_chunk_open_blob(&e.chunks[0], blob, blob_len / 2, 0, 16, out),
		     MFS_E_CORRUPT);
	for (size_t i = 0; i < sizeof out; i++)
		cr_expect_eq(out[i], 0xAA, "byte %zu written", i);
	cr_expect_eq(mfs_chunk_open_blob(&e.chunks[0], blob, blob_len, 100, 16, out), 0);
	cr_expect_arr_eq(out, data + 100, 16);
	free(blob);
	mfs_entry_clear(&e);
	free(data);
}

/* The binary is linked with --wrap=malloc (tests/CMakeLists.txt): while
 * fail_malloc_of is set, an allocation of exactly that many bytes fails,
 * as with no memory left for it. Every other goes through. */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static size_t fail_malloc_of;
static unsigned long mallocs_failed;

void *__wrap_malloc(size_t size)
{
	if (size != 0 && size == __atomic_load_n(&fail_malloc_of, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&mallocs_failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	return __real_malloc(size);
}

/* Seals chunk i (plain_len random bytes) into blob and names it. */
static size_t make_blob(uint8_t *blob, uint8_t *plain, size_t plain_len, uint64_t i,
			uint8_t id[static MFS_BLOB_ID_BYTES])
{
	const uint8_t key[MFS_CHUNK_KEY_BYTES] = {7};
	const size_t len = mfs_blob_len(mfs_chunk_padded_len(plain_len));

	tu_fill_random(plain, plain_len, 1000 + i);
	mfs_chunk_seal(blob, plain, plain_len, key);
	mfs_blob_id(id, blob, len);
	return len;
}

/* Blob i as make_blob made it (plain_len bytes of plain) reads back whole
 * under id; plain and blob are scratch. */
static void made_blob_reads_back(struct mfs_vtxn *t, const uint8_t id[static MFS_BLOB_ID_BYTES],
				 int i, size_t plain_len, uint8_t *plain, uint8_t *blob)
{
	uint8_t *back, again[MFS_BLOB_ID_BYTES];
	size_t back_len, len = make_blob(blob, plain, plain_len, (uint64_t)i, again);

	cr_assert_eq(mfs_blob_get(t, id, &back, &back_len), 0, "blob %d", i);
	cr_assert_eq(back_len, len);
	cr_assert_arr_eq(back, blob, len, "blob %d reads back whole", i);
	free(back);
}

/* The volume sink keeps a prepared blob's buffer instead of copying it
 * and gives back one of the same size: the buffers of stored batches come
 * back as those spares (memory stays bounded by what is in flight), a
 * caller that changes size gets buffers of the new size, and every blob
 * reads back whole. */
Test(ingest, the_sink_keeps_prepared_buffers_and_gives_back_spares_of_their_size)
{
	enum { BLOBS = 64, SMALL = 4 };
	const size_t big_plain = MFS_CHUNK_SIZE_DEFAULT, small_plain = 5000;
	uint8_t ids[BLOBS + SMALL][MFS_BLOB_ID_BYTES];
	uint8_t *plain = malloc(big_plain), *blob = malloc(mfs_blob_len(big_plain) + 64);
	uint8_t *seen[BLOBS];
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_vtxn *t;
	size_t cap, small_cap, recycled = 0;
	uint8_t *buf;

	tu_fixture_close(&fx);
	tu_fixture_open(&fx, 2048);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cap = as.prepared_bytes(as.ctx, mfs_blob_len(mfs_chunk_padded_len(big_plain)));
	buf = malloc(cap);
	for (int i = 0; i < BLOBS; i++) {
		size_t len = make_blob(blob, plain, big_plain, (uint64_t)i, ids[i]);
		uint8_t *given = buf;

		as.prepare(as.ctx, ids[i], NULL, blob, len, buf);
		cr_assert_eq(as.put_prepared(as.ctx, ids[i], len, &buf, cap), 0);
		cr_assert_neq(buf, given, "blob %d: the buffer was kept, another given", i);
		cr_assert_geq(malloc_usable_size(buf), cap);
		seen[i] = given;
		for (int j = 0; j < i && buf; j++)
			if (seen[j] == buf) {
				recycled++;
				break;
			}
		memset(buf, 0xA5, cap); /* the caller's whole, every byte */
	}
	cr_assert_gt(recycled, BLOBS / 4, "stored batches' buffers come back (%zu)", recycled);

	small_cap = as.prepared_bytes(as.ctx, mfs_blob_len(mfs_chunk_padded_len(small_plain)));
	cr_assert_lt(small_cap, cap);
	free(buf);
	buf = malloc(small_cap);
	for (int i = BLOBS; i < BLOBS + SMALL; i++) {
		size_t len = make_blob(blob, plain, small_plain, (uint64_t)i, ids[i]);

		as.prepare(as.ctx, ids[i], NULL, blob, len, buf);
		cr_assert_eq(as.put_prepared(as.ctx, ids[i], len, &buf, small_cap), 0);
		cr_assert_geq(malloc_usable_size(buf), small_cap);
		memset(buf, 0x5A, small_cap);
	}
	free(buf);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	for (int i = 0; i < BLOBS + SMALL; i++)
		made_blob_reads_back(t, ids[i], i, i < BLOBS ? big_plain : small_plain, plain, blob);
	mfs_vtxn_abort(t);
	free(plain);
	free(blob);
}

/* With no memory for a spare buffer, the sink copies the prepared blob
 * into its batch and the caller keeps its own buffer (and may write over
 * it at once): nothing is lost, and once memory is back the buffers are
 * exchanged again. */
Test(ingest, with_no_memory_for_a_spare_the_sink_copies_the_prepared_blob)
{
	enum { BLOBS = 4, COPIED = 2 };
	const size_t plain_len = MFS_CHUNK_SIZE_DEFAULT;
	uint8_t ids[BLOBS][MFS_BLOB_ID_BYTES];
	uint8_t *plain = malloc(plain_len), *blob = malloc(mfs_blob_len(plain_len));
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_vtxn *t;
	uint8_t *buf;
	size_t cap;

	tu_fixture_close(&fx);
	tu_fixture_open(&fx, 512);
	mfs_volume_sink_init(&sink, fx.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cap = as.prepared_bytes(as.ctx, mfs_blob_len(plain_len));
	buf = malloc(cap);
	mallocs_failed = 0;
	for (int i = 0; i < BLOBS; i++) {
		size_t len = make_blob(blob, plain, plain_len, (uint64_t)i, ids[i]);
		uint8_t *given = buf;
		int rc;

		as.prepare(as.ctx, ids[i], NULL, blob, len, buf);
		__atomic_store_n(&fail_malloc_of, i < COPIED ? cap : 0, __ATOMIC_RELEASE);
		rc = as.put_prepared(as.ctx, ids[i], len, &buf, cap);
		__atomic_store_n(&fail_malloc_of, 0, __ATOMIC_RELEASE);
		cr_assert_eq(rc, 0, "blob %d", i);
		if (i < COPIED)
			cr_assert_eq(buf, given, "blob %d: no spare, so the caller keeps its buffer", i);
		else
			cr_assert_neq(buf, given, "blob %d: memory is back, the buffer was kept", i);
		memset(buf, 0xA5, cap); /* the caller's whole, every byte */
	}
	cr_assert_geq(mallocs_failed, COPIED, "the spare's allocation failed (%lu)", mallocs_failed);
	free(buf);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);

	cr_assert_eq(mfs_vtxn_begin(fx.vol, 0, &t), 0);
	for (int i = 0; i < BLOBS; i++)
		made_blob_reads_back(t, ids[i], i, plain_len, plain, blob);
	mfs_vtxn_abort(t);
	free(plain);
	free(blob);
}
