/* megafs ingest / extract: a file into pinned blobs and a FileEntry, and back. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/canon_json.h"
#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/outfile.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "tools/cli.h"

/* Convergence secret: the channel's, the public global one, or the volume's. */
static int convergence_secret(struct cli *c, struct mfs_volume *v, const char *channel,
			      int global, uint8_t secret[static 32])
{
	struct mfs_channel_secret *known;
	struct mfs_channel ch;
	uint8_t pk[MFS_SIGN_PK_BYTES];
	int rc;

	if (global) {
		static const char label[] = "megafs global convergence v1";

		mfs_hash32(secret, label, sizeof label - 1);
		return 0;
	}
	if (!channel) {
		mfs_volume_subkey(v, secret, 1, "mfsconv_");
		return 0;
	}
	if (mfs_link_parse(pk, channel) != 0)
		return cli_fail(c, 0, "'%s' is not a channel link", channel);
	known = mfs_secure_alloc(sizeof *known);
	rc = known ? mfs_channel_find(v, pk, &ch, known) : -ENOMEM;
	if (rc == 0 && ch.owned)
		memcpy(secret, known->convergence, 32);
	mfs_secure_free(known);
	if (rc == MFS_E_NOTFOUND || (rc == 0 && !ch.owned))
		return cli_fail(c, 0, "this volume does not own the channel %s", channel);
	if (rc != 0)
		return cli_fail(c, rc, "reading the channels");
	return 0;
}

static int print_entry(const struct mfs_file_entry *e)
{
	json_t *json;
	char *text = NULL;
	size_t len;
	int rc = mfs_entry_to_json(&json, e);

	if (rc != 0)
		return rc;
	rc = mfs_cjson_encode(&text, &len, json);
	json_decref(json);
	if (rc == 0 && (fwrite(text, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
			fflush(stdout) != 0))
		rc = -EIO;
	if (text)
		mfs_memzero(text, len);
	mfs_wipe_free(text);
	return rc;
}

int cmd_ingest(int argc, char **argv)
{
	static const struct option options[] = {
		{"mode", required_argument, NULL, 'm'},
		{"chunk-size", required_argument, NULL, 'c'},
		{"channel", required_argument, NULL, 'C'},
		{"global", no_argument, NULL, 'g'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct mfs_ingest_opts o = {.mode = MFS_MODE_CONVERGENT};
	struct mfs_file_entry entry = {0};
	struct mfs_volume_sink sink = {0};
	struct mfs_blob_sink as_sink;
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_ingest *w = NULL;
	uint8_t *secret = NULL;
	const char *channel = NULL, *path;
	char name_buf[4096];
	struct stat st;
	uint64_t chunk = 0;
	int global = 0, opt, rc, fd = -1, status = 1;
	struct cli c;

	cli_init(&c, "ingest");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		switch (opt) {
		case 'm':
			if (strcmp(optarg, "convergent") == 0)
				o.mode = MFS_MODE_CONVERGENT;
			else if (strcmp(optarg, "random") == 0)
				o.mode = MFS_MODE_RANDOM;
			else
				return cli_usage(&c, "--mode takes convergent or random");
			break;
		case 'c':
			if (cli_parse_size(optarg, &chunk) != 0 || !mfs_chunk_size_valid(chunk))
				return cli_usage(&c, "--chunk-size takes a power of two from 64K to 16M");
			o.chunk_size = (uint32_t)chunk;
			break;
		case 'C':
			channel = optarg;
			break;
		case 'g':
			global = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_usage(&c, "usage: megafs ingest FILE [options] > entry.json");
	if (channel && global)
		return cli_usage(&c, "--channel and --global name two convergence secrets; give one");
	if (o.mode == MFS_MODE_RANDOM && (channel || global))
		return cli_usage(&c, "--channel and --global choose convergent keys; random mode has none");
	path = argv[optind];
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail(&c, -errno, "%s", path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cli_fail(&c, 0, "%s is not a regular file", path);
	}
	snprintf(name_buf, sizeof name_buf, "%s", path);
	if (cli_open_volume(&c, &store, &vol) != 0)
		goto out;
	secret = mfs_secure_alloc(32);
	if (!secret) {
		cli_fail(&c, -ENOMEM, "ingest");
		goto out;
	}
	if (o.mode == MFS_MODE_CONVERGENT) {
		if (convergence_secret(&c, vol, channel, global, secret) != 0)
			goto out;
		o.convergence = secret;
	}
	mfs_volume_sink_init(&sink, vol, 1);
	as_sink = mfs_volume_sink_as_sink(&sink);
	rc = mfs_ingest_begin(&w, basename(name_buf), &o, &as_sink);
	if (rc == 0)
		rc = mfs_ingest_write_fd(w, fd);
	if (rc == 0) {
		rc = mfs_ingest_finish(w, st.st_mtim.tv_sec, &entry);
		w = NULL;
	}
	/* The pins are the entry's from here: it goes to stdout, or is lost
	 * with its pins (space, not correctness). */
	if (rc == 0)
		rc = mfs_volume_sink_finish(&sink);
	if (rc != 0) {
		int undo = mfs_volume_sink_rollback(&sink);

		cli_fail(&c, rc, "%s: %s", path,
			 undo == 0 ? "nothing was kept" : "rolling back failed too; run status");
		goto out;
	}
	rc = print_entry(&entry);
	if (rc != 0) {
		cli_fail(&c, rc, "writing the entry");
		goto out;
	}
	fprintf(stderr, "ingested %s: %llu bytes, %llu chunks, %llu new blobs, %llu already stored\n",
		entry.name, (unsigned long long)entry.size, (unsigned long long)entry.chunk_count,
		(unsigned long long)sink.blobs_added, (unsigned long long)sink.blobs_deduplicated);
	status = 0;
out:
	mfs_ingest_abort(w);
	mfs_entry_clear(&entry);
	mfs_volume_sink_clear(&sink);
	mfs_secure_free(secret);
	mfs_volume_close(vol);
	mfs_store_close(store);
	if (fd >= 0)
		close(fd);
	return status;
}

static int load_entry(struct cli *c, const char *path, struct mfs_file_entry *e)
{
	json_error_t err;
	char why[160];
	json_t *json = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
					      : json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	int rc;

	if (!json)
		return cli_fail(c, 0, "%s: not a file entry: %s (line %d)", path, err.text, err.line);
	rc = mfs_entry_from_json(e, json, why, sizeof why);
	json_decref(json);
	if (rc != 0)
		return cli_fail(c, 0, "%s: %s", path, why);
	return 0;
}

int cmd_extract(int argc, char **argv)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct mfs_file_entry entry = {0};
	struct mfs_store *store = NULL;
	struct mfs_volume *vol = NULL;
	struct mfs_blob_source src;
	struct mfs_outfile out;
	const char *out_path = NULL;
	int opt, rc, status = 1, to_stdout;
	struct cli c;

	cli_init(&c, "extract");
	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		if (opt != 'o')
			return 2;
		out_path = optarg;
	}
	if (optind + 1 != argc || !out_path)
		return cli_usage(&c, "usage: megafs extract ENTRY.json -o OUT");
	to_stdout = strcmp(out_path, "-") == 0;
	if (load_entry(&c, argv[optind], &entry) != 0)
		return 1;
	if (cli_open_volume(&c, &store, &vol) != 0)
		goto out;
	if (to_stdout) {
		mfs_outfile_borrow(&out, STDOUT_FILENO);
	} else if ((rc = mfs_outfile_open(&out, out_path, 0600)) != 0) {
		cli_fail(&c, rc, "%s", out_path);
		goto out;
	}
	src = mfs_volume_source(vol);
	rc = mfs_outfile_close(&out, mfs_extract_fd(&entry, &src, out.fd));
	if (rc == MFS_E_NOTFOUND)
		cli_fail(&c, 0, "%s: a blob of this file is not in the volume", entry.name);
	else if (rc == MFS_E_AUTH)
		cli_fail(&c, 0, "%s: a chunk does not open with its key: the entry is not this "
			 "file's or a blob is damaged; nothing was written", entry.name);
	else if (rc != 0)
		cli_fail(&c, rc, "%s", entry.name);
	else
		status = 0;
out:
	mfs_entry_clear(&entry);
	mfs_volume_close(vol);
	mfs_store_close(store);
	return status;
}
