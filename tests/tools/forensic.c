/* mfs-test-forensic: the adversary of megafs(7)'s DENIABILITY section.
 *
 * It holds what the threat model hands over: the store directory byte for
 * byte, the outer password, and megafs's source (so it may use megafs's
 * crypto primitives and formats, never its store or volume code). From a
 * store it reads data.mdb raw: both LMDB meta pages, both B-trees and their
 * diff, the free list, every slot; with the outer password it finds the
 * outer volume's superblock, map and slots, and classifies every other slot.
 *
 *   mfs-test-forensic inspect DIR PASSWORD      features of one store
 *   mfs-test-forensic pairs N WORKDIR           N pairs of stores with the
 *       same outer history, one with hidden-volume activity (megafs's volume
 *       API makes them); the adversary guesses which: accuracy per feature
 *   mfs-test-forensic snapshots N WORKDIR       the multi-snapshot
 *       adversary: copies before and after one session, outer or hidden
 *   mfs-test-forensic legacy N WORKDIR          the same game on stores
 *       written the way format 1 wrote them (every slot write an LMDB
 *       copy-on-write commit, owner tags on records): the attack of issue 8,
 *       which must win there
 *
 * pairs and legacy print one line per feature, "feature NAME accuracy X",
 * and "combined accuracy X"; the test script judges them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/le.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/store.h"
#include "fs/store/volume.h"

#define OUTER_PW "outer password"
#define HIDDEN_PW "hidden password"
#define SLOTS 128

/* ---- LMDB, read raw ---- */

#define P_BRANCH 0x01
#define P_LEAF 0x02
#define F_BIGDATA 0x01

struct meta {
	uint64_t txnid, last_pg, main_root, main_entries, free_root, free_entries;
	uint32_t psize;
};

struct file {
	const uint8_t *b;
	size_t len;
};

/* A leaf of the main tree: key and the page its value starts on. */
struct rec {
	uint8_t key[16];
	uint64_t pgno;
};

struct tree {
	struct rec *r;
	size_t n, cap;
	uint64_t pages;
	uint64_t free_records, free_pages; /* free DB: records and page ids */
};

static void meta_read(struct meta *m, const struct file *f, int which)
{
	const uint8_t *p = f->b + (size_t)which * 4096 + 16;

	memset(m, 0, sizeof *m);
	if (f->len < 8192)
		return;
	m->psize = (uint32_t)mfs_le_get(p + 24, 4);
	m->free_entries = mfs_le_get(p + 24 + 32, 8);
	m->free_root = mfs_le_get(p + 24 + 40, 8);
	m->main_entries = mfs_le_get(p + 72 + 32, 8);
	m->main_root = mfs_le_get(p + 72 + 40, 8);
	m->last_pg = mfs_le_get(p + 120, 8);
	m->txnid = mfs_le_get(p + 128, 8);
}

static const uint8_t *page_at(const struct file *f, uint32_t psize, uint64_t pgno)
{
	if (psize == 0 || pgno > f->len / psize || (pgno + 1) * psize > f->len)
		return NULL;
	return f->b + pgno * psize;
}

static void rec_add(struct tree *t, const uint8_t *key, uint64_t pgno)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->r = realloc(t->r, t->cap * sizeof *t->r);
	}
	memcpy(t->r[t->n].key, key, 16);
	t->r[t->n++].pgno = pgno;
}

/* Walks a tree from root; main: records, free: counts. Depth-bounded. */
static void walk(struct tree *t, const struct file *f, uint32_t psize, uint64_t pgno, int free_db,
		 int depth)
{
	const uint8_t *p = page_at(f, psize, pgno);
	uint16_t flags, lower;

	if (!p || depth > 16 || pgno == UINT64_MAX)
		return;
	t->pages++;
	flags = (uint16_t)mfs_le_get(p + 10, 2);
	lower = (uint16_t)mfs_le_get(p + 12, 2);
	for (unsigned i = 0; lower >= 16 && i < (unsigned)(lower - 16) / 2; i++) {
		uint16_t off = (uint16_t)mfs_le_get(p + 16 + 2 * i, 2);
		const uint8_t *node = p + off;
		uint16_t nflags, ksize;

		if (off + 8u > psize)
			return;
		nflags = (uint16_t)mfs_le_get(node + 4, 2);
		ksize = (uint16_t)mfs_le_get(node + 6, 2);
		if (flags & P_BRANCH) {
			uint64_t child = mfs_le_get(node, 2) | mfs_le_get(node + 2, 2) << 16 |
					 (uint64_t)nflags << 32;
			walk(t, f, psize, child, free_db, depth + 1);
		} else if (flags & P_LEAF) {
			if (free_db) {
				uint64_t count = off + 8u + ksize + 8u <= psize
							 ? mfs_le_get(node + 8 + ksize, 8) : 0;
				t->free_records++;
				t->free_pages += count;
			} else if (ksize == 16 && (nflags & F_BIGDATA) && off + 8u + 16 + 8 <= psize) {
				rec_add(t, node + 8, mfs_le_get(node + 8 + 16, 8));
			}
		}
	}
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void tree_read(struct tree *t, const struct file *f, const struct meta *m)
{
	memset(t, 0, sizeof *t);
	walk(t, f, m->psize, m->main_root, 0, 0);
	walk(t, f, m->psize, m->free_root, 1, 0);
	qsort(t->r, t->n, sizeof *t->r, rec_cmp);
}

/* ---- the adversary's view of one store ---- */

struct features {
	/* LMDB: the history a copy-on-write file keeps. */
	double txnid_gap;      /* newest minus older meta's transaction id */
	double diff_records;   /* records whose value moved between the two trees */
	double diff_other;     /* of those, records not the outer volume's now */
	double freelist_pages; /* page ids the free list holds */
	double records;        /* records in the newest tree */
	/* Slots, with the outer password. */
	double outer_slots;    /* slots the outer volume's map names */
	double outer_sb;       /* slots that open as an outer superblock */
	double gen_gap;        /* outer superblock generation minus newest slot's */
	double worst_chi2;     /* least random-looking slot that is not the outer's */
	double dup_prefix;     /* slots sharing their first 16 bytes with another */
	double lock_file;      /* lock.mdb exists */
	double size_mib;       /* data.mdb's size */
	/* The running machine, after megafs exited. */
	double resident_other; /* pages in the page cache of slots not the outer's */
	double unlock_ms;      /* time megafs takes to open the outer volume */
};

/* An overflow record: LMDB's 16-byte page header, then the value. */
#define SLOT_PAGES ((16 + MFS_SLOT_BYTES + 4095) / 4096)

#define NFEAT 14
static const char *const feature_names[NFEAT] = {
	"txnid_gap",  "diff_records", "diff_other", "freelist_pages", "records",
	"outer_slots", "outer_sb",    "gen_gap",    "worst_chi2",     "dup_prefix",
	"lock_file",  "size_mib",     "resident_other", "unlock_ms"};

static double feat(const struct features *x, int i)
{
	const double *v = &x->txnid_gap;

	return v[i];
}

struct outer_keys {
	uint8_t master[32], naming[32], bucket[32], seal[32], meta[32];
	uint8_t legacy_tag[32]; /* format 1's owner-tag key (legacy game) */
};

static int read_whole(const char *dir, const char *name, uint8_t **out, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !(*out = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -EIO;
	}
	*len = (size_t)st.st_size;
	for (size_t done = 0; done < *len;) {
		ssize_t n = pread(fd, *out + done, *len - done, (off_t)done);

		if (n <= 0) {
			close(fd);
			free(*out);
			return -EIO;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/* Which of data.mdb's 4 KiB pages are in the page cache (mincore(2) on a
 * mapping that touches none): what root on the running machine sees. */
static int resident_pages(const char *dir, uint8_t **vec, size_t *npages)
{
	char path[PATH_MAX];
	struct stat st;
	void *map = MAP_FAILED;
	int fd, rc = 0;

	*vec = NULL;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_size == 0)
		rc = -EIO;
	*npages = rc == 0 ? ((size_t)st.st_size + 4095) / 4096 : 0;
	if (rc == 0 && (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		rc = -errno;
	if (rc == 0 && !(*vec = malloc(*npages)))
		rc = -ENOMEM;
	if (rc == 0 && mincore(map, (size_t)st.st_size, *vec) != 0)
		rc = -errno;
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	close(fd);
	if (rc != 0) {
		free(*vec);
		*vec = NULL;
	}
	return rc;
}

/* The outer volume's keys, from the header's salt and limits. */
static int outer_keys(struct outer_keys *k, const char *dir, const char *pw)
{
	struct mfs_kdf_limits kdf;
	uint8_t *h;
	size_t len;
	int rc = read_whole(dir, "header", &h, &len);

	if (rc != 0)
		return rc;
	if (len != 80) {
		free(h);
		return MFS_E_CORRUPT;
	}
	kdf.ops = mfs_le_get(h + 32, 8);
	kdf.mem = mfs_le_get(h + 40, 8);
	rc = mfs_kdf_password(k->master, pw, strlen(pw), h + 48, &kdf);
	free(h);
	mfs_kdf_subkey(k->naming, 1, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->bucket, 2, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->seal, 3, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->meta, 4, "mfs-vol2", k->master);
	mfs_kdf_subkey(k->legacy_tag, 2, "mfs-vol_", k->master);
	return rc;
}

static void meta_id(uint8_t vid[16], const struct outer_keys *k, const char *what, uint32_t i)
{
	uint8_t idx[4];

	mfs_le_put(idx, i, 4);
	mfs_keyed_hash(vid, 16, k->meta, what, strlen(what), idx, sizeof idx);
}

/* A slot as megafs(7) (VOLUMES, Slots) lays it out: four pieces, each the
 * slot's nonce N, then payload bytes [from, to) sealed with RFC 8439's
 * AEAD under HChaCha20(seal key, N[0..16]) with the nonce u32(k) || N[16..24]. */
static int opens(uint8_t *out, const uint8_t *value, const struct outer_keys *k,
		 const uint8_t vid[16], uint64_t gen)
{
	static const size_t from[5] = {0, 16392, 32776, 49160, MFS_SLOT_PAYLOAD};
	uint8_t ad[24], subkey[32], nonce[12];
	int ok = 1;

	memcpy(ad, vid, 16);
	mfs_le_put(ad + 16, gen, 8);
	mfs_aead_xsplit(subkey, nonce, value, k->seal);
	for (unsigned p = 0; ok && p < 4; p++) {
		const uint8_t *piece = value + 40 * p + from[p];

		mfs_le_put(nonce, p, 4);
		ok = memcmp(piece, value, 24) == 0 &&
		     mfs_aead_ietf_open(out + from[p], piece + 24, from[p + 1] - from[p], ad, sizeof ad,
					nonce, subkey) == 0;
	}
	return ok;
}

static double chi2_of(const uint8_t *b, size_t len)
{
	uint64_t c[256] = {0};
	double e = (double)len / 256, s = 0;

	for (size_t i = 0; i < len; i++)
		c[b[i]]++;
	for (int i = 0; i < 256; i++)
		s += ((double)c[i] - e) * ((double)c[i] - e) / e;
	return s;
}

struct pos_rec {
	uint8_t key[16];
	uint64_t off;
};

/* The outer volume's slots in the format-2 layout (the position map). */
static void outer_view(struct features *x, const struct file *f, const struct tree *t,
		       const struct outer_keys *k, uint8_t *is_outer)
{
	const uint64_t n = t->n;
	uint8_t sb_vid[16], *plain = malloc(MFS_SLOT_PAYLOAD);
	uint64_t best_gen = 0, newest_entry = 0;
	const uint8_t *best = NULL;
	uint8_t *best_copy = malloc(MFS_SLOT_PAYLOAD);

	meta_id(sb_vid, k, "superblock", 0);
	/* Every candidate of the outer superblock is the outer volume's to
	 * write (megafs(7), The superblock). */
	{
		uint64_t want = n / 8, cand[32];
		unsigned found = 0;

		want = want < 4 ? 4 : want > 32 ? 32 : want;
		for (uint32_t j = 0; found < want && j < 256; j++) {
			uint8_t h[16];
			uint64_t pos;
			int dup = 0;

			meta_id(h, k, "candidate", j);
			pos = mfs_le_get(h, 8) % n;
			for (unsigned c = 0; c < found; c++)
				dup |= cand[c] == pos;
			if (!dup)
				cand[found++] = pos;
			is_outer[pos] = 1;
		}
	}
	for (uint64_t pos = 0; pos < n; pos++) {
		const uint8_t *v = f->b + t->r[pos].pgno * 4096 + 16;

		if (t->r[pos].pgno * 4096 + 16 + MFS_SLOT_BYTES > f->len)
			continue;
		if (opens(plain, v, k, sb_vid, 0)) {
			uint64_t gen = mfs_le_get(plain + 8, 8);

			x->outer_sb++;
			is_outer[pos] = 1;
			if (!best || gen > best_gen) {
				best_gen = gen;
				best = v;
				memcpy(best_copy, plain, MFS_SLOT_PAYLOAD);
			}
		}
	}
	if (best) {
		uint32_t nb = (uint32_t)mfs_le_get(best_copy + 60, 4);

		/* Format 4: per bucket a u64 generation, then a u32 position per
		 * copy; the superblock says how many copies (offset 76: one, or
		 * 5 to 16 in a redundant volume, never an outer one). */
		unsigned copies = (unsigned)mfs_le_get(best_copy + 76, 4);

		copies = copies < 1 || copies > 16 ? 1 : copies;
		for (uint32_t b = 0; b < nb && b < 4096; b++) {
			const uint8_t *d = best_copy + 96 + (size_t)b * (8 + 4 * copies);
			uint32_t pp = (uint32_t)mfs_le_get(d + 8, 4);
			uint64_t pg = mfs_le_get(d, 8);
			uint8_t vid[16];

			if (pp >= n)
				continue;
			meta_id(vid, k, "map", b);
			if (!opens(plain, f->b + t->r[pp].pgno * 4096 + 16, k, vid, pg))
				continue;
			is_outer[pp] = 1;
			for (uint32_t i = 0; i < mfs_le_get(plain, 4) && i < 2727; i++) {
				const uint8_t *e = plain + 4 + (size_t)i * 24;
				uint32_t ep = (uint32_t)mfs_le_get(e + 16, 4);
				uint32_t eg = (uint32_t)mfs_le_get(e + 20, 4);

				if (ep < n) {
					is_outer[ep] = 1;
					x->outer_slots++;
				}
				if (eg != 0 && (uint32_t)(best_gen - eg) < (uint32_t)(best_gen - newest_entry))
					newest_entry = eg;
			}
		}
		x->gen_gap = (double)(uint32_t)(best_gen - newest_entry);
	}
	free(plain);
	free(best_copy);
}

/* Format 1's outer records: tagged with PRF(tag key, record key). */
static int legacy_outer(const struct outer_keys *k, const uint8_t key[16], const uint8_t *value)
{
	uint8_t tag[16];

	mfs_keyed_hash(tag, 16, k->legacy_tag, key, 16, NULL, 0);
	return memcmp(tag, value, 16) == 0;
}

static int inspect_keep(struct features *x, const char *dir, const char *pw, int legacy,
			uint8_t **keep_outer)
{
	struct outer_keys *k = mfs_secure_alloc(sizeof *k);
	struct meta m[2], *newer, *older;
	struct tree tn, to;
	struct file f;
	uint8_t *bytes, *is_outer, *resident;
	char path[PATH_MAX];
	size_t len, npages = 0;
	int rc;

	memset(x, 0, sizeof *x);
	/* First: reading the file brings all of it into the page cache. */
	rc = resident_pages(dir, &resident, &npages);
	if (rc == 0)
		rc = read_whole(dir, "data.mdb", &bytes, &len);
	if (rc == 0)
		rc = outer_keys(k, dir, pw);
	if (rc != 0) {
		free(resident);
		mfs_secure_free(k);
		return rc;
	}
	f.b = bytes;
	f.len = len;
	meta_read(&m[0], &f, 0);
	meta_read(&m[1], &f, 1);
	newer = m[0].txnid > m[1].txnid ? &m[0] : &m[1];
	older = newer == &m[0] ? &m[1] : &m[0];
	tree_read(&tn, &f, newer);
	tree_read(&to, &f, older);
	x->txnid_gap = (double)(newer->txnid - older->txnid);
	x->records = (double)tn.n;
	x->freelist_pages = (double)tn.free_pages;
	is_outer = calloc(tn.n + 1, 1);
	if (legacy) {
		for (size_t i = 0; i < tn.n; i++) {
			const uint8_t *v = f.b + tn.r[i].pgno * 4096 + 16;

			is_outer[i] = tn.r[i].pgno * 4096 + 16 + 64 <= f.len &&
				      legacy_outer(k, tn.r[i].key, v);
			x->outer_slots += is_outer[i];
		}
	} else {
		outer_view(x, &f, &tn, k, is_outer);
	}
	/* The diff of the two trees: what the last commit did. */
	for (size_t i = 0; i < tn.n; i++) {
		struct rec *o = bsearch(tn.r[i].key, to.r, to.n, sizeof *to.r, rec_cmp);

		if (!o || o->pgno != tn.r[i].pgno) {
			x->diff_records++;
			x->diff_other += !is_outer[i];
		}
	}
	for (size_t i = 0; i < tn.n; i++) {
		const uint8_t *v = f.b + tn.r[i].pgno * 4096 + 16;
		double c;

		if (is_outer[i] || tn.r[i].pgno * 4096 + 16 + MFS_SLOT_BYTES > f.len)
			continue;
		/* (Format 1's replay is liblmdb's writes, not megafs's sessions.) */
		for (uint64_t pg = tn.r[i].pgno; !legacy && pg < tn.r[i].pgno + SLOT_PAGES && pg < npages;
		     pg++)
			x->resident_other += resident[pg] & 1;
		c = chi2_of(v, MFS_SLOT_BYTES);
		if (c > x->worst_chi2)
			x->worst_chi2 = c;
		for (size_t j = i + 1; j < tn.n && j < i + 64; j++)
			if (tn.r[j].pgno * 4096 + 16 + 16 <= f.len &&
			    memcmp(v, f.b + tn.r[j].pgno * 4096 + 16, 16) == 0)
				x->dup_prefix++;
	}
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	x->lock_file = access(path, F_OK) == 0;
	x->size_mib = (double)len / (1 << 20);
	if (keep_outer)
		*keep_outer = is_outer;
	else
		free(is_outer);
	free(tn.r);
	free(to.r);
	free(bytes);
	free(resident);
	mfs_secure_free(k);
	return 0;
}

static int inspect(struct features *x, const char *dir, const char *pw, int legacy)
{
	return inspect_keep(x, dir, pw, legacy, NULL);
}

/* ---- making pairs of stores ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t bound)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((rng_state >> 33) % bound);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "mfs-test-forensic: %s: %s\n", what, mfs_strerror(rc));
	exit(2);
}

static void copy_file(const char *from, const char *to)
{
	uint8_t *b;
	size_t len;
	char dir[PATH_MAX], name[PATH_MAX], path[PATH_MAX];
	const char *slash = strrchr(from, '/');
	int fd;

	snprintf(dir, sizeof dir, "%.*s", (int)(slash - from), from);
	snprintf(name, sizeof name, "%s", slash + 1);
	if (read_whole(dir, name, &b, &len) != 0)
		die(from, -EIO);
	snprintf(path, sizeof path, "%s", to);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, b, len) != (ssize_t)len || fdatasync(fd) != 0)
		die(to, -EIO);
	/* On disk and out of the page cache, as init leaves a store. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	free(b);
}

static void obj_put(struct mfs_volume *v, const char *name, size_t len)
{
	struct mfs_vtxn *t;
	uint8_t *data = malloc(len + 1);
	int rc;

	mfs_random(data, len);
	rc = mfs_vtxn_begin(v, 1, &t);
	if (rc == 0)
		rc = mfs_obj_write(t, name, strlen(name), data, len);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc != 0 && rc != MFS_E_FULL)
		die("write", rc);
	free(data);
}

static void obj_del(struct mfs_volume *v, const char *name)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(v, 1, &t);

	if (rc == 0)
		rc = mfs_obj_delete(t, name, strlen(name));
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc != 0 && rc != MFS_E_NOTFOUND)
		die("delete", rc);
}

static void obj_touch_read(struct mfs_volume *v, const char *name)
{
	struct mfs_vtxn *t;
	uint64_t len;

	if (mfs_vtxn_begin(v, 0, &t) == 0) {
		mfs_obj_size(t, name, strlen(name), &len);
		mfs_vtxn_abort(t);
	}
}

/* protect_pw: the user who keeps a hidden volume writes to the outer one
 * with --protect-file, as megafs(1) says to. */
static struct mfs_volume *open_vol(struct mfs_store *s, const char *pw, const char *protect_pw)
{
	struct mfs_volume *v;
	int rc = mfs_volume_open(&v, s, pw, strlen(pw), protect_pw,
				 protect_pw ? strlen(protect_pw) : 0);

	if (rc != 0)
		die("open", rc);
	return v;
}

/* One world's history. Outer sessions are the same in both; at the extra
 * points world A runs an outer session that changes nothing and world B a
 * hidden-volume session of some kind. */
static void copy_file(const char *from, const char *to);

/* snap: where to copy data.mdb before the last step (NULL: nowhere). */
static void run_history(const char *dir, int hidden, uint64_t seed, const char *snap)
{
	struct mfs_store *s;
	int steps, made_hidden = 0, rc;
	char name[32];

	rng_state = seed;
	rc = mfs_store_open(&s, dir);
	if (rc != 0)
		die("store", rc);
	rc = mfs_volume_create(s, OUTER_PW, strlen(OUTER_PW), NULL, 0);
	if (rc != 0)
		die("create outer", rc);
	steps = 3 + (int)rnd(6);
	for (int i = 0; i < steps; i++) {
		int extra = i > 0 && (rnd(100) < 45 || i == steps - 1);
		uint32_t kind = rnd(4), sz = 1 + rnd(300000), obj = rnd(6);

		if (snap && i == steps - 1) {
			char from[PATH_MAX];

			snprintf(from, sizeof from, "%s/data.mdb", dir);
			copy_file(from, snap);
		}

		if (!extra) {
			struct mfs_volume *v = open_vol(s, OUTER_PW, made_hidden ? HIDDEN_PW : NULL);

			snprintf(name, sizeof name, "o%u", obj);
			if (rnd(4) == 0)
				obj_del(v, name);
			else
				obj_put(v, name, sz);
			mfs_volume_close(v);
			continue;
		}
		if (!hidden) {
			struct mfs_volume *v = open_vol(s, OUTER_PW, NULL);

			obj_touch_read(v, "o0");
			mfs_volume_close(v);
			continue;
		}
		if (!made_hidden) {
			rc = mfs_volume_create(s, HIDDEN_PW, strlen(HIDDEN_PW), OUTER_PW,
					       strlen(OUTER_PW));
			if (rc != 0)
				die("create hidden", rc);
			made_hidden = 1;
			continue;
		}
		{
			struct mfs_volume *v = open_vol(s, HIDDEN_PW, NULL);

			snprintf(name, sizeof name, "h%u", obj);
			if (kind == 0)
				obj_touch_read(v, name); /* mounted, only read */
			else if (kind == 1)
				obj_del(v, name);
			else
				obj_put(v, name, sz); /* written: a cp, a pushed manifest */
			mfs_volume_close(v);
		}
	}
	mfs_store_close(s);
}

/* format 1's writes, replayed with liblmdb: records keyed at random, the
 * outer volume's tagged, a write an insert plus a delete, every write a
 * copy-on-write commit; world B also rewrites records the outer volume
 * cannot read (the hidden superblock) and inserts others. */
static void legacy_history(const char *dir, int hidden, uint64_t seed, const struct outer_keys *k)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val key, val;
	uint8_t kb[16];
	int steps;

	rng_state = seed;
	mdb_env_create(&env);
	mdb_env_set_mapsize(env, (size_t)64 << 20);
	if (mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0)
		die("legacy env", -EIO);
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	for (int i = 0; i < SLOTS; i++) {
		mfs_random(kb, 16);
		key = (MDB_val){16, kb};
		val = (MDB_val){MFS_SLOT_BYTES, NULL};
		mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
		mfs_random(val.mv_data, MFS_SLOT_BYTES);
	}
	mdb_txn_commit(txn);
	steps = 3 + (int)rnd(6);
	for (int i = 0; i < steps; i++) {
		int extra = i > 0 && (rnd(100) < 45 || i == steps - 1);
		int other = extra && hidden;

		if (extra && !hidden)
			continue; /* format 1: a session that changes nothing writes nothing */
		mdb_txn_begin(env, NULL, 0, &txn);
		mdb_cursor_open(txn, dbi, &c);
		if (other && rnd(2) == 0) {
			/* rewrite a record in place: a hidden superblock update */
			mdb_cursor_get(c, &key, &val, MDB_FIRST);
			for (uint32_t skip = rnd(SLOTS / 2); skip > 0; skip--)
				mdb_cursor_get(c, &key, &val, MDB_NEXT);
			while (legacy_outer(k, key.mv_data, val.mv_data))
				mdb_cursor_get(c, &key, &val, MDB_NEXT);
			memcpy(kb, key.mv_data, 16);
			key = (MDB_val){16, kb};
			val = (MDB_val){MFS_SLOT_BYTES, NULL};
			mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
			mfs_random(val.mv_data, MFS_SLOT_BYTES);
		} else {
			/* take a slot: insert at a new key, delete a free record */
			mfs_random(kb, 16);
			key = (MDB_val){16, kb};
			val = (MDB_val){MFS_SLOT_BYTES, NULL};
			mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
			mfs_random(val.mv_data, MFS_SLOT_BYTES);
			if (!other)
				mfs_keyed_hash(val.mv_data, 16, k->legacy_tag, kb, 16, NULL, 0);
			mdb_cursor_get(c, &key, &val, MDB_FIRST);
			for (uint32_t skip = rnd(SLOTS / 2); skip > 0; skip--)
				mdb_cursor_get(c, &key, &val, MDB_NEXT);
			while (legacy_outer(k, key.mv_data, val.mv_data) ||
			       memcmp(key.mv_data, kb, 16) == 0)
				mdb_cursor_get(c, &key, &val, MDB_NEXT);
			mdb_cursor_del(c, 0);
		}
		mdb_cursor_close(c);
		mdb_txn_commit(txn);
	}
	mdb_env_close(env);
}

static double unlock_ms(const char *dir)
{
	struct mfs_store *s;
	struct mfs_volume *v;
	struct timespec t0, t1;

	if (mfs_store_open(&s, dir) != 0)
		die("store", -EIO);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mfs_volume_open(&v, s, OUTER_PW, strlen(OUTER_PW), NULL, 0) != 0)
		die("unlock", -EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mfs_volume_close(v);
	mfs_store_close(s);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* The adversary's guess per feature: the store with the larger value is
 * the one with a hidden volume (ties: a coin). Returns hits per feature. */
static void judge(const struct features *a, const struct features *b, int *hits, double *score_a,
		  double *score_b)
{
	for (int i = 0; i < NFEAT; i++) {
		double x = feat(a, i), y = feat(b, i);

		if (y > x || (y == x && rnd(2) == 0))
			hits[i]++;
	}
	/* The combined adversary: the deterministic proofs first (pages of
	 * slots the outer volume does not hold, still in the page cache;
	 * records it cannot read that the last commit touched), then
	 * everything else as tie-breakers. */
	*score_a = a->resident_other * 1e9 + a->diff_other * 1e6 + a->txnid_gap * 1e3 + a->outer_sb +
		   a->dup_prefix;
	*score_b = b->resident_other * 1e9 + b->diff_other * 1e6 + b->txnid_gap * 1e3 + b->outer_sb +
		   b->dup_prefix;
}

static int play(int pairs, const char *work, int legacy)
{
	struct mfs_kdf_limits kdf;
	struct outer_keys *k = mfs_secure_alloc(sizeof *k);
	int hits[NFEAT] = {0}, combined = 0;
	char base[1024], w[2][1024], fa[PATH_MAX], fb[PATH_MAX];

	mfs_kdf_preset(&kdf, "fast");
	snprintf(base, sizeof base, "%s/base", work);
	snprintf(w[0], sizeof w[0], "%s/w0", work);
	snprintf(w[1], sizeof w[1], "%s/w1", work);
	for (int p = 0; p < pairs; p++) {
		struct features xa, xb;
		double sa, sb;
		uint64_t seed;
		uint8_t coin;
		const char *a, *b;
		int rc;

		mfs_random(&seed, sizeof seed);
		/* Which directory holds the hidden world is a coin too: two paths
		 * in one file system differ in where their blocks sit and how long
		 * a sync takes there, for a whole run, and that is no property of
		 * the store. */
		mfs_random(&coin, 1);
		a = w[coin & 1];
		b = w[!(coin & 1)];
		rc = mfs_store_create(base, SLOTS, &kdf);
		if (rc != 0)
			die("create store", rc);
		/* Twins: one init, copied, so both start byte-identical. */
		mkdir(a, 0700);
		mkdir(b, 0700);
		snprintf(fa, sizeof fa, "%s/header", base);
		snprintf(fb, sizeof fb, "%s/header", a);
		copy_file(fa, fb);
		snprintf(fb, sizeof fb, "%s/header", b);
		copy_file(fa, fb);
		snprintf(fa, sizeof fa, "%s/data.mdb", base);
		snprintf(fb, sizeof fb, "%s/data.mdb", a);
		copy_file(fa, fb);
		snprintf(fb, sizeof fb, "%s/data.mdb", b);
		copy_file(fa, fb);
		if (legacy) {
			if (outer_keys(k, base, OUTER_PW) != 0)
				die("keys", -EIO);
			unlink(fb);
			snprintf(fa, sizeof fa, "%s/data.mdb", a);
			unlink(fa);
			legacy_history(a, 0, seed, k);
			legacy_history(b, 1, seed, k);
		} else {
			run_history(a, 0, seed, NULL);
			run_history(b, 1, seed, NULL);
		}
		if (inspect(&xa, a, OUTER_PW, legacy) != 0 || inspect(&xb, b, OUTER_PW, legacy) != 0)
			die("inspect", -EIO);
		/* Last (opening writes): how long unlocking takes, as a user sees it. */
		if (!legacy && rnd(2)) {
			xa.unlock_ms = unlock_ms(a);
			xb.unlock_ms = unlock_ms(b);
		} else if (!legacy) { /* in random order: the second runs warmer */
			xb.unlock_ms = unlock_ms(b);
			xa.unlock_ms = unlock_ms(a);
		}
		if (getenv("MFS_FORENSIC_VERBOSE"))
			fprintf(stderr,
				"pair %d: A in %s txn %.0f diff %.0f/%.0f outer %.0f unlock %.3f | "
				"B txn %.0f diff %.0f/%.0f outer %.0f unlock %.3f\n",
				p, a + strlen(work) + 1, xa.txnid_gap, xa.diff_records, xa.diff_other,
				xa.outer_slots, xa.unlock_ms, xb.txnid_gap, xb.diff_records,
				xb.diff_other, xb.outer_slots, xb.unlock_ms);
		/* Shown in random order: the adversary names the hidden one. */
		if (rnd(2) == 0) {
			judge(&xa, &xb, hits, &sa, &sb);
			combined += sb > sa || (sb == sa && rnd(2) == 0);
		} else {
			int flipped[NFEAT] = {0};

			judge(&xb, &xa, flipped, &sb, &sa);
			for (int i = 0; i < NFEAT; i++)
				hits[i] += 1 - flipped[i];
			combined += sb > sa || (sb == sa && rnd(2) == 0);
		}
		for (const char *d = base; d; d = d == base ? a : d == a ? b : NULL) {
			const char *files[] = {"header", "data.mdb", "lock.mdb", "header.tmp"};

			for (int i = 0; i < 4; i++) {
				snprintf(fa, sizeof fa, "%s/%s", d, files[i]);
				unlink(fa);
			}
			rmdir(d);
		}
	}
	for (int i = 0; i < NFEAT; i++)
		printf("feature %-15s accuracy %.3f\n", feature_names[i], (double)hits[i] / pairs);
	printf("combined accuracy %.3f over %d pairs\n", (double)combined / pairs, pairs);
	mfs_secure_free(k);
	return 0;
}

/* Positions whose bytes differ between data.mdb and its earlier copy, and
 * of those, the ones that are the outer volume's in neither. */
static void snapshot_diff(const char *dir, const char *before, double *changed, double *other)
{
	struct features x;
	uint8_t *outer_now, *outer_then, *now, *then;
	size_t now_len, then_len;
	char path[PATH_MAX];
	struct meta m;
	struct tree t;
	struct file f;

	*changed = *other = 0;
	/* The outer volume as it is now and as it was: inspect the copy in a
	 * directory of its own (header shared). */
	if (inspect_keep(&x, dir, OUTER_PW, 0, &outer_now) != 0 ||
	    read_whole(dir, "data.mdb", &now, &now_len) != 0)
		die("snapshot", -EIO);
	snprintf(path, sizeof path, "%s/then", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/header", dir);
	{
		char to[PATH_MAX];

		snprintf(to, sizeof to, "%s/then/header", dir);
		copy_file(path, to);
		snprintf(to, sizeof to, "%s/then/data.mdb", dir);
		copy_file(before, to);
	}
	snprintf(path, sizeof path, "%s/then", dir);
	if (inspect_keep(&x, path, OUTER_PW, 0, &outer_then) != 0 ||
	    read_whole(path, "data.mdb", &then, &then_len) != 0 || then_len != now_len)
		die("snapshot", -EIO);
	f.b = now;
	f.len = now_len;
	meta_read(&m, &f, 0);
	{
		struct meta m1;

		meta_read(&m1, &f, 1);
		tree_read(&t, &f, m1.txnid > m.txnid ? &m1 : &m);
	}
	for (size_t i = 0; i < t.n; i++) {
		size_t off = t.r[i].pgno * 4096 + 16;

		if (off + MFS_SLOT_BYTES > now_len || memcmp(now + off, then + off, MFS_SLOT_BYTES) == 0)
			continue;
		(*changed)++;
		*other += !outer_now[i] && !outer_then[i];
	}
	snprintf(path, sizeof path, "%s/then/header", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/then/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/then", dir);
	rmdir(path);
	free(t.r);
	free(now);
	free(then);
	free(outer_now);
	free(outer_then);
}

/* Two snapshots, before and after one session (an idle outer one, or a
 * hidden one): the multi-snapshot adversary formats 2 and 3 do not defeat. */
static int play_snapshots(int pairs, const char *work)
{
	struct mfs_kdf_limits kdf;
	char dir[1024], snap[PATH_MAX], f[PATH_MAX];
	int hits = 0;
	double sum_a = 0, sum_b = 0;

	mfs_kdf_preset(&kdf, "fast");
	for (int p = 0; p < pairs; p++) {
		double changed[2], other[2];
		uint64_t seed;

		mfs_random(&seed, sizeof seed);
		for (int hidden = 0; hidden < 2; hidden++) {
			snprintf(dir, sizeof dir, "%s/w%d", work, hidden);
			if (mfs_store_create(dir, SLOTS, &kdf) != 0)
				die("create store", -EIO);
			snprintf(snap, sizeof snap, "%s/before.mdb", work);
			run_history(dir, hidden, seed, snap);
			snapshot_diff(dir, snap, &changed[hidden], &other[hidden]);
			unlink(snap);
			snprintf(f, sizeof f, "%s/header", dir);
			unlink(f);
			snprintf(f, sizeof f, "%s/data.mdb", dir);
			unlink(f);
			rmdir(dir);
		}
		sum_a += other[0];
		sum_b += other[1];
		hits += other[1] > other[0] || (other[1] == other[0] && rnd(2) == 0);
	}
	printf("snapshots: positions changed that the outer volume never held: %.1f after an "
	       "outer session, %.1f after a hidden one (means)\n",
	       sum_a / pairs, sum_b / pairs);
	printf("snapshots accuracy %.3f over %d pairs\n", (double)hits / pairs, pairs);
	return 0;
}

int main(int argc, char **argv)
{
	if (mfs_crypto_init() != 0)
		return 2;
	mfs_random(&rng_state, sizeof rng_state);
	if (argc == 4 && strcmp(argv[1], "inspect") == 0) {
		struct features x;
		int legacy = strcmp(argv[3], "--legacy") == 0;
		int rc = inspect(&x, argv[2], legacy ? OUTER_PW : argv[3], legacy);

		if (rc != 0)
			die(argv[2], rc);
		for (int i = 0; i < NFEAT; i++)
			printf("%s %.0f\n", feature_names[i], feat(&x, i));
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "snapshots") == 0)
		return play_snapshots(atoi(argv[2]), argv[3]);
	if (argc == 4 && (strcmp(argv[1], "pairs") == 0 || strcmp(argv[1], "legacy") == 0))
		return play(atoi(argv[2]), argv[3], strcmp(argv[1], "legacy") == 0);
	fprintf(stderr, "usage: mfs-test-forensic inspect DIR PASSWORD | pairs N WORKDIR | "
			"legacy N WORKDIR\n");
	return 2;
}
