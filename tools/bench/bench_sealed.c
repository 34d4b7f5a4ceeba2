/* mfs-bench-sealed: what sealing costs a private channel's manifests.
 *
 * For manifests of 10, 1,000 and 100,000 files (one collection, each file a
 * FileEntry of one chunk, names like "file-000001.mkv"), the public form
 * (seed 004's JSON: sign, then verify as a tracker or subscriber does)
 * beside the sealed form (encode the collections, seal them for the read
 * key and 3 grants, sign; verify, open with the read key, parse), and each
 * form's size on the wire. Times are medians of --runs runs (default 5),
 * one core, in memory. A manifest over MFS_CJSON_MAX_BYTES (16 MiB) is
 * refused by every reader: the table says so instead of a time; the
 * envelope's own cost (open with the read key, parse the body with
 * jansson, no size limit) is measured whatever the size.
 *
 *   mfs-bench-sealed [--runs N] [--files N]...   (prints a Markdown table) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/canon_json.h"
#include "crypto/manifest.h"
#include "crypto/mfs_error.h"
#include "crypto/sealed.h"
#include "crypto/secure.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static json_t *collections(size_t files)
{
	json_t *items = json_array();
	uint8_t raw[32];
	char id[65], key[65], name[64];

	for (size_t i = 0; i < files; i++) {
		mfs_random(raw, sizeof raw);
		mfs_hex_encode(id, raw, sizeof raw);
		mfs_random(raw, sizeof raw);
		mfs_hex_encode(key, raw, sizeof raw);
		snprintf(name, sizeof name, "file-%06zu.mkv", i);
		json_array_append_new(items, json_pack("{s:i, s:[{s:s, s:s, s:i}], s:s, s:i, s:s, s:I}",
					"chunkSize", 1048576, "chunks", "id", id, "key", key,
					"length", 700000, "mode", "convergent", "mtime",
					1764806400, "name", name, "size", (json_int_t)700000));
	}
	return json_pack("[{s:o, s:s}]", "items", items, "title", "Films");
}

struct row {
	size_t files;
	double pub_sign, pub_open, seal, open, unseal;
	size_t pub_bytes, sealed_bytes, body_bytes;
	int pub_refused, sealed_refused;
};

static void measure(struct row *r, size_t files, int runs, const uint8_t *pk, const uint8_t *sk,
		    const struct mfs_seal_to *to)
{
	json_t *cols = collections(files);
	double *t[5];

	memset(r, 0, sizeof *r);
	r->files = files;
	for (int k = 0; k < 5; k++)
		t[k] = calloc((size_t)runs, sizeof(double));
	for (int i = 0; i < runs; i++) {
		struct mfs_manifest m;
		char *pub = NULL, *body = NULL, *b64 = NULL, *sealed = NULL;
		size_t pub_len, body_len, b64_len, sealed_len, opened_len;
		uint8_t *opened = NULL;
		json_t *sc, *parsed = NULL;
		double t0 = now();

		if (mfs_manifest_sign(&pub, &pub_len, 1, 1, cols, pk, sk) != 0)
			abort();
		t[0][i] = now() - t0;
		t0 = now();
		r->pub_refused = mfs_manifest_verify(&m, pub, pub_len, pk, 0, NULL, 0) != 0;
		mfs_manifest_clear(&m);
		t[1][i] = now() - t0;
		t0 = now();
		if (mfs_cjson_encode(&body, &body_len, cols) != 0 ||
		    mfs_sealed_seal(&b64, &b64_len, (uint8_t *)body, body_len, pk, 1, to, NULL) != 0 ||
		    !(sc = mfs_sealed_collections(b64)) ||
		    mfs_manifest_sign(&sealed, &sealed_len, 1, 1, sc, pk, sk) != 0)
			abort();
		t[2][i] = now() - t0;
		json_decref(sc);
		t0 = now();
		r->sealed_refused = mfs_manifest_verify(&m, sealed, sealed_len, pk, 0, NULL, 0) != 0;
		if (!r->sealed_refused) {
			const char *found;
			size_t found_len;

			if (mfs_sealed_find(m.collections, &found, &found_len) != 1 ||
			    mfs_sealed_open(&opened, &opened_len, found, found_len, pk, 1, to->read_key,
					    NULL, NULL) != 0 ||
			    mfs_cjson_parse(&parsed, (char *)opened, opened_len, NULL, 0) != 0)
				abort();
		}
		t[3][i] = now() - t0;
		mfs_manifest_clear(&m);
		json_decref(parsed);
		mfs_secure_free(opened);
		opened = NULL;
		t0 = now();
		if (mfs_sealed_open(&opened, &opened_len, b64, b64_len, pk, 1, to->read_key, NULL,
				    NULL) != 0 ||
		    !(parsed = json_loadb((char *)opened, opened_len, 0, NULL)))
			abort();
		t[4][i] = now() - t0;
		json_decref(parsed);
		mfs_secure_free(opened);
		r->pub_bytes = pub_len;
		r->sealed_bytes = sealed_len;
		r->body_bytes = body_len;
		free(pub);
		free(body);
		free(b64);
		free(sealed);
	}
	r->pub_sign = median(t[0], runs);
	r->pub_open = median(t[1], runs);
	r->seal = median(t[2], runs);
	r->open = median(t[3], runs);
	r->unseal = median(t[4], runs);
	for (int k = 0; k < 5; k++)
		free(t[k]);
	json_decref(cols);
}

static void ms(char *out, size_t n, double s, int refused)
{
	if (refused)
		snprintf(out, n, "refused (> 16 MiB)");
	else
		snprintf(out, n, "%.3f", s * 1000);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"runs", required_argument, NULL, 'r'}, {"files", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0}};
	size_t counts[8] = {10, 1000, 100000}, n_counts = 3, given = 0;
	uint8_t pk[32], *sk = NULL, *rk = NULL, grants[3][32], gsk[32];
	struct mfs_seal_to to;
	int runs = 5, opt;

	if (mfs_crypto_init() != 0)
		return 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'r')
			runs = atoi(optarg);
		else if (opt == 'f' && given < 8)
			counts[given++] = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (given)
		n_counts = given;
	if (runs < 1)
		runs = 1;
	sk = mfs_secure_alloc(64);
	rk = mfs_secure_alloc(32);
	if (!sk || !rk)
		return 1;
	mfs_sign_keypair(pk, sk);
	mfs_random(rk, 32);
	for (int i = 0; i < 3; i++)
		mfs_box_keypair(grants[i], gsk);
	to = (struct mfs_seal_to){.read_key = rk, .grants = grants, .n_grants = 3};
	printf("| files | public bytes | sealed bytes | public sign ms | public verify ms | "
	       "seal+sign ms | verify+open+parse ms | envelope open+parse ms |\n"
	       "|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n_counts; i++) {
		struct row r;
		char a[32], b[32], c[32], d[32], e[32];

		measure(&r, counts[i], runs, pk, sk, &to);
		ms(a, sizeof a, r.pub_sign, 0);
		ms(b, sizeof b, r.pub_open, r.pub_refused);
		ms(c, sizeof c, r.seal, 0);
		ms(d, sizeof d, r.open, r.sealed_refused);
		ms(e, sizeof e, r.unseal, 0);
		printf("| %zu | %zu | %zu | %s | %s | %s | %s | %s |\n", r.files, r.pub_bytes,
		       r.sealed_bytes, a, b, c, d, e);
		fflush(stdout);
	}
	printf("\nmedians of %d runs; sealed for the read key and 3 grants (4 wraps)\n", runs);
	mfs_secure_free(sk);
	mfs_secure_free(rk);
	return 0;
}
