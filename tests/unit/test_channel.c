/* fs/channel: publishing, accepting across stores, replays, bad items. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/blob/ingest.h"
#include "fs/blob/volume_io.h"
#include "fs/channel/channel.h"
#include "fs/store/keyring.h"
#include "tests/unit/testutil.h"

#define TS 1700000000000ull
#define MAGNET "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=ep1"

/* Store a publishes, store b subscribes. */
static struct tu_fixture a, b;

static void setup(void)
{
	tu_fixture_open(&a, 512);
	tu_fixture_open(&b, 512);
}

static void teardown(void)
{
	tu_fixture_close(&a);
	tu_fixture_close(&b);
}

TestSuite(channel, .init = setup, .fini = teardown, .timeout = 300);

/* A 0-byte file entry named name. */
static json_t *empty_entry(const char *name)
{
	json_t *e = json_pack("{s:i, s:[], s:s, s:i, s:s, s:i}", "chunkSize", 1048576, "chunks",
			      "mode", "convergent", "mtime", 0, "name", name, "size", 0);

	cr_assert_not_null(e);
	return e;
}

/* [{"items":[...], "title":title}] with the given items (stolen). */
static json_t *one_collection(const char *title, json_t *items)
{
	json_t *c = json_pack("[{s:o, s:s}]", "items", items, "title", title);

	cr_assert_not_null(c);
	return c;
}

static json_t *sample_collections(void)
{
	json_t *c = json_pack("[{s:[s, o], s:s}, {s:[o, o], s:s}]", "items", MAGNET,
			      empty_entry("a"), "title", "", "items", empty_entry("a"),
			      empty_entry("b"), "title", "Films/2024");

	cr_assert_not_null(c);
	return c;
}

static void new_channel(struct mfs_volume *v, uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_keyring_new_channel(t, "Films", pk), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

static void subscribe(struct mfs_volume *v, const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	struct mfs_vtxn *t;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	cr_assert_eq(mfs_keyring_subscribe(t, pk, "theirs"), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
}

/* Publishes collections (borrowed) in its own transaction, committed only
 * on success. */
static int publish(struct mfs_volume *v, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		   json_t *collections, uint64_t *seq)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	rc = mfs_channel_publish(t, pk, collections, TS, seq);
	if (rc == 0)
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	else
		mfs_vtxn_abort(t);
	return rc;
}

static int accept_text(struct mfs_volume *v, const char *text, size_t len, int subscribe_unknown,
		  struct mfs_manifest *out, char *why)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 1, &t), 0);
	rc = mfs_channel_accept(t, text, len, subscribe_unknown, out, why, 200);
	if (rc == 0)
		cr_assert_eq(mfs_vtxn_commit(t), 0);
	else
		mfs_vtxn_abort(t);
	return rc;
}

static int manifest(struct mfs_volume *v, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		    char **text, size_t *len)
{
	struct mfs_vtxn *t;
	int rc;

	cr_assert_eq(mfs_vtxn_begin(v, 0, &t), 0);
	rc = mfs_channel_manifest(t, pk, text, len);
	mfs_vtxn_abort(t);
	return rc;
}

/* The keyring's sequence for pk, or -1 when the volume does not know it;
 * *owned (may be NULL) receives its owned flag. */
static long long keyring_sequence(struct mfs_volume *v, const uint8_t pk[static MFS_SIGN_PK_BYTES],
				  int *owned)
{
	struct mfs_channel ch;
	int rc = mfs_channel_find(v, pk, &ch, NULL);

	cr_assert(rc == 0 || rc == MFS_E_NOTFOUND, "%s", mfs_strerror(rc));
	if (rc != 0)
		return -1;
	if (owned)
		*owned = ch.owned;
	return (long long)ch.sequence;
}

/* Publishes sample collections on a's channel pk and returns the stored
 * manifest (free()). */
static char *publish_sample(const uint8_t pk[static MFS_SIGN_PK_BYTES], uint64_t want_seq,
			    size_t *len)
{
	json_t *cols = sample_collections();
	uint64_t seq = 0;
	char *text;

	cr_assert_eq(publish(a.vol, pk, cols, &seq), 0);
	cr_assert_eq(seq, want_seq);
	json_decref(cols);
	cr_assert_eq(manifest(a.vol, pk, &text, len), 0);
	return text;
}

Test(channel, publish_gives_sequences_1_2_3_and_stored_manifests_verify)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	json_t *cols = sample_collections();
	struct mfs_manifest m;
	char why[200], *text;
	size_t len;
	int owned = 0;

	new_channel(a.vol, pk);
	cr_assert_eq(manifest(a.vol, pk, &text, &len), MFS_E_NOTFOUND, "none before publishing");
	for (uint64_t want = 1; want <= 3; want++) {
		uint64_t seq = 0;

		cr_assert_eq(publish(a.vol, pk, cols, &seq), 0);
		cr_assert_eq(seq, want);
		cr_assert_eq(keyring_sequence(a.vol, pk, &owned), (long long)want);
		cr_assert(owned);
		cr_assert_eq(manifest(a.vol, pk, &text, &len), 0);
		cr_assert_eq(strlen(text), len, "NUL-terminated, no NUL inside");
		cr_assert_eq(mfs_manifest_verify(&m, text, len, pk, want - 1, why, sizeof why), 0,
			     "%s", why);
		cr_assert_eq(m.sequence, want);
		cr_assert_eq(m.timestamp, TS);
		cr_assert(json_equal(m.collections, cols));
		mfs_manifest_clear(&m);
		free(text);
	}
	cr_assert_eq(publish(a.vol, pk, cols, NULL), 0, "sequence may be NULL");
	cr_assert_eq(keyring_sequence(a.vol, pk, NULL), 4);
	json_decref(cols);
}

Test(channel, publish_needs_an_owned_channel)
{
	uint8_t theirs[MFS_SIGN_PK_BYTES], unknown[MFS_SIGN_PK_BYTES];
	json_t *cols = sample_collections();
	char *text;
	size_t len;

	new_channel(b.vol, theirs);
	subscribe(a.vol, theirs);
	memset(unknown, 7, sizeof unknown);
	cr_assert_eq(publish(a.vol, theirs, cols, NULL), -EPERM);
	cr_assert_eq(publish(a.vol, unknown, cols, NULL), MFS_E_NOTFOUND);
	cr_assert_eq(manifest(a.vol, theirs, &text, &len), MFS_E_NOTFOUND);
	cr_assert_eq(keyring_sequence(a.vol, theirs, NULL), 0);
	json_decref(cols);
}

/* The lookups mount, ingest, the writer and the swarm make, each in a read
 * transaction of its own. */
Test(channel, find_and_list_read_see_the_keyring)
{
	uint8_t mine[MFS_SIGN_PK_BYTES], theirs[MFS_SIGN_PK_BYTES], unknown[MFS_SIGN_PK_BYTES];
	struct mfs_channel_secret *secret = mfs_secure_alloc(sizeof *secret), zero = {0};
	struct mfs_channel_list list;
	struct mfs_channel ch;

	cr_assert_not_null(secret);
	cr_assert_eq(mfs_channel_list_read(a.vol, &list), 0);
	cr_assert_eq(list.count, 0, "a new volume knows no channel");
	mfs_keyring_clear(&list);
	new_channel(a.vol, mine);
	new_channel(b.vol, theirs);
	subscribe(a.vol, theirs);
	memset(unknown, 7, sizeof unknown);

	cr_assert_eq(mfs_channel_find(a.vol, mine, &ch, secret), 0);
	cr_assert(ch.owned);
	cr_assert_eq(memcmp(ch.pk, mine, sizeof mine), 0);
	cr_assert_neq(memcmp(secret->convergence, zero.convergence, 32), 0, "owned: secrets");
	cr_assert_eq(mfs_channel_find(a.vol, theirs, &ch, secret), 0);
	cr_assert_not(ch.owned);
	cr_assert_eq(memcmp(secret, &zero, sizeof zero), 0, "subscribed: no secrets");
	cr_assert_eq(mfs_channel_find(a.vol, unknown, &ch, secret), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_channel_find(a.vol, mine, NULL, NULL), 0, "both outputs optional");

	cr_assert_eq(mfs_channel_list_read(a.vol, &list), 0);
	cr_assert_eq(list.count, 2);
	cr_assert_geq(mfs_keyring_find(&list, mine), 0);
	cr_assert_geq(mfs_keyring_find(&list, theirs), 0);
	mfs_keyring_clear(&list);
	mfs_secure_free(secret);
}

Test(channel, list_keys_gives_every_known_channel_in_keyring_order)
{
	uint8_t mine[MFS_SIGN_PK_BYTES], theirs[MFS_SIGN_PK_BYTES];
	uint8_t (*keys)[MFS_SIGN_PK_BYTES] = NULL;
	size_t count = 99;

	cr_assert_eq(mfs_channel_list_keys(a.vol, &keys, &count), 0);
	cr_assert_eq(count, 0);
	cr_assert_not_null(keys, "room for one even when there is none");
	free(keys);
	new_channel(a.vol, mine);
	new_channel(b.vol, theirs);
	subscribe(a.vol, theirs);
	cr_assert_eq(mfs_channel_list_keys(a.vol, &keys, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(memcmp(keys[0], mine, sizeof mine), 0);
	cr_assert_eq(memcmp(keys[1], theirs, sizeof theirs), 0);
	free(keys);
}

/* A link known in two steps (a mount records it in its swarm's start
 * transaction): what needs recording, and the record, whose changes hold
 * only once that transaction commits. */
Test(channel, a_link_is_recorded_in_the_callers_transaction)
{
	uint8_t mine[MFS_SIGN_PK_BYTES], theirs[MFS_SIGN_PK_BYTES];
	struct mfs_link link = {.kind = MFS_LINK_PUBLIC};
	struct mfs_vtxn *t;
	struct mfs_channel ch;
	int owned = -1, subscribed = -1;

	new_channel(a.vol, mine);
	new_channel(b.vol, theirs);
	memcpy(link.pk, mine, sizeof mine);
	cr_assert_eq(mfs_channel_needs_recording(a.vol, &link, &owned), 0, "owned: nothing to do");
	cr_assert_eq(owned, 1);
	memcpy(link.pk, theirs, sizeof theirs);
	cr_assert_eq(mfs_channel_needs_recording(a.vol, &link, &owned), 1, "unknown");
	cr_assert_eq(owned, 0);

	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_record(t, &link, "", &subscribed), 0);
	cr_assert_eq(subscribed, 1);
	mfs_vtxn_abort(t);
	cr_assert_eq(mfs_channel_find(a.vol, theirs, &ch, NULL), MFS_E_NOTFOUND,
		     "an aborted start records nothing");

	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_record(t, &link, "", &subscribed), 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_channel_find(a.vol, theirs, &ch, NULL), 0);
	cr_assert_not(ch.owned);
	cr_assert_eq(mfs_channel_needs_recording(a.vol, &link, &owned), 0, "known now");

	/* A read key for the known channel: recorded, once, and not a subscription. */
	link.kind = MFS_LINK_READ_KEY;
	memset(link.read_key, 9, sizeof link.read_key);
	cr_assert_eq(mfs_channel_needs_recording(a.vol, &link, &owned), 1);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_record(t, &link, "", &subscribed), 0);
	cr_assert_eq(subscribed, 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_channel_find(a.vol, theirs, &ch, NULL), 0);
	cr_assert(ch.sealed, "the read key made it private");
	/* The owner's own channel is left as it is, key or not. */
	memcpy(link.pk, mine, sizeof mine);
	cr_assert_eq(mfs_vtxn_begin(a.vol, 1, &t), 0);
	cr_assert_eq(mfs_channel_record(t, &link, "", &subscribed), 0);
	cr_assert_eq(subscribed, 0);
	cr_assert_eq(mfs_vtxn_commit(t), 0);
	cr_assert_eq(mfs_channel_find(a.vol, mine, &ch, NULL), 0);
	cr_assert(ch.owned);
	cr_assert_not(ch.sealed, "an owned public channel stays public");
}

Test(channel, publish_refuses_bad_collections)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	json_t *bad[] = {
		one_collection("../x", json_array()),
		one_collection("", json_pack("[s]", "http://example.com/")),
		one_collection("", json_pack("[o, o]", empty_entry("a"), empty_entry("a"))),
		json_pack("[{s:[], s:s}, {s:[], s:s}]", "items", "title", "A", "items", "title", "A"),
		json_pack("{s:[]}", "collections"),
		/* NUL bytes inside (which canonical parsing refuses anyway). */
		one_collection("", json_pack("[s%]", "magnet:?\0x", (size_t)10)),
		json_pack("[{s:[], s:s%}]", "items", "title", "a\0b", (size_t)3),
	};
	char *text;
	size_t len;

	new_channel(a.vol, pk);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(publish(a.vol, pk, bad[i], NULL), MFS_E_FORMAT, "case %zu", i);
		json_decref(bad[i]);
	}
	cr_assert_eq(keyring_sequence(a.vol, pk, NULL), 0);
	cr_assert_eq(manifest(a.vol, pk, &text, &len), MFS_E_NOTFOUND);
}

Test(channel, accept_across_stores_refuses_replays_and_rollbacks)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	size_t len1, len2, len3, len;
	char *m1, *m2, *m3, *text, why[200];
	struct mfs_manifest m;
	json_t *empty;
	int owned = 1;

	new_channel(a.vol, pk);
	m1 = publish_sample(pk, 1, &len1);
	m2 = publish_sample(pk, 2, &len2);
	m3 = publish_sample(pk, 3, &len3);

	cr_assert_eq(accept_text(b.vol, m2, len2, 1, &m, why), 0, "%s", why);
	cr_assert_eq(m.sequence, 2);
	cr_assert_arr_eq(m.public_key, pk, sizeof pk);
	cr_assert_eq(json_array_size(m.collections), 2);
	mfs_manifest_clear(&m);
	cr_assert_eq(keyring_sequence(b.vol, pk, &owned), 2, "subscribed at sequence 2");
	cr_assert(!owned);
	cr_assert_eq(manifest(b.vol, pk, &text, &len), 0);
	cr_assert_eq(len, len2);
	cr_assert_arr_eq(text, m2, len, "stored byte for byte");
	free(text);

	cr_assert_eq(accept_text(b.vol, m2, len2, 1, NULL, why), MFS_E_REPLAY, "the same bytes again");
	cr_assert(strstr(why, "sequence 2 <= last seen 2 (replay or rollback)"), "%s", why);
	cr_assert_eq(accept_text(b.vol, m1, len1, 1, NULL, why), MFS_E_REPLAY, "an older one");
	cr_assert(strstr(why, "sequence 1 <= last seen 2"), "%s", why);
	cr_assert_eq(keyring_sequence(b.vol, pk, NULL), 2);

	cr_assert_eq(accept_text(b.vol, m3, len3, 0, NULL, why), 0, "a newer one: %s", why);
	cr_assert_eq(keyring_sequence(b.vol, pk, NULL), 3);
	cr_assert_eq(manifest(b.vol, pk, &text, &len), 0);
	cr_assert_eq(len, len3);
	cr_assert_arr_eq(text, m3, len);
	free(text);

	/* The subscriber cannot publish; the publisher refuses its own old ones. */
	empty = json_array();
	cr_assert_eq(publish(b.vol, pk, empty, NULL), -EPERM);
	json_decref(empty);
	cr_assert_eq(accept_text(a.vol, m3, len3, 0, NULL, why), MFS_E_REPLAY);
	free(m1);
	free(m2);
	free(m3);
}

Test(channel, accept_of_an_unknown_channel_needs_subscribe_unknown)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	size_t len;
	char *m1, why[200];
	struct mfs_manifest m = {.sequence = 99};

	new_channel(a.vol, pk);
	m1 = publish_sample(pk, 1, &len);
	cr_assert_eq(accept_text(b.vol, m1, len, 0, &m, why), MFS_E_NOTFOUND);
	cr_assert(strstr(why, "is not a channel of this volume"), "%s", why);
	cr_assert_null(m.root, "out is cleared on failure");
	cr_assert_eq(keyring_sequence(b.vol, pk, NULL), -1, "not subscribed");
	subscribe(b.vol, pk);
	cr_assert_eq(accept_text(b.vol, m1, len, 0, NULL, why), 0, "%s", why);
	cr_assert_eq(keyring_sequence(b.vol, pk, NULL), 1);
	free(m1);
}

Test(channel, accept_refuses_tampered_manifests)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	size_t len;
	char *m1, why[200];
	char *digit, was;

	new_channel(a.vol, pk);
	m1 = publish_sample(pk, 1, &len);
	digit = strstr(m1, "\"signature\":\"");
	cr_assert_not_null(digit);
	digit += 13;
	was = *digit;
	*digit = was == '0' ? '1' : '0'; /* still hex, so only the signature fails */
	cr_assert_eq(accept_text(b.vol, m1, len, 1, NULL, why), MFS_E_AUTH, "%s", why);
	cr_assert(strstr(why, "signature does not verify"), "%s", why);
	*digit = was;
	cr_assert_eq(accept_text(b.vol, m1, len - 1, 1, NULL, why), MFS_E_FORMAT, "truncated");
	cr_assert_eq(accept_text(b.vol, "not json", 8, 1, NULL, why), MFS_E_FORMAT);
	cr_assert_eq(keyring_sequence(b.vol, pk, NULL), -1, "nothing subscribed on failure");
	free(m1);
}

/* Signs collections (stolen) as sequence 1 of a fresh key and offers the
 * result to b. */
static int accept_signed(json_t *collections, char *why)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];
	uint8_t *sk = mfs_secure_alloc(MFS_SIGN_SK_BYTES);
	char *text;
	size_t len;
	int rc;

	cr_assert_not_null(sk);
	cr_assert_not_null(collections);
	mfs_sign_keypair(pk, sk);
	cr_assert_eq(mfs_manifest_sign(&text, &len, 1, TS, collections, pk, sk), 0);
	mfs_secure_free(sk);
	json_decref(collections);
	rc = accept_text(b.vol, text, len, 1, NULL, why);
	if (rc != 0)
		cr_assert_eq(keyring_sequence(b.vol, pk, NULL), -1, "refused: not subscribed");
	free(text);
	return rc;
}

static void expect_format(json_t *collections, const char *reason)
{
	char why[200];

	cr_assert_eq(accept_signed(collections, why), MFS_E_FORMAT, "expected: %s", reason);
	cr_assert(strstr(why, reason), "why '%s' lacks '%s'", why, reason);
}

Test(channel, accept_refuses_bad_items_and_titles)
{
	json_t *bad_size = empty_entry("a");
	const char *bad_titles[] = {"../x", "a//b", "/a", "a/", "/", ".", "..", "a/./b", "a/../b"};
	char why[200], long_title[2 + MFS_NAME_MAX + 2];

	json_object_set_new(bad_size, "size", json_integer(5)); /* 1 chunk, none listed */
	expect_format(one_collection("", json_pack("[o]", bad_size)), "file entry:");
	expect_format(one_collection("", json_pack("[{s:s}]", "name", "x")), "file entry:");
	expect_format(one_collection("", json_pack("[o, s, o]", empty_entry("a"), MAGNET,
						   empty_entry("a"))),
		      "items[0] and items[2] have the same file name");
	expect_format(one_collection("", json_pack("[s]", "http://example.com/x.torrent")),
		      "must be a magnet link");
	for (size_t i = 0; i < sizeof bad_titles / sizeof bad_titles[0]; i++)
		expect_format(one_collection(bad_titles[i], json_array()), "a title must be");
	/* "x/" + a part one byte longer than a file name may be, then as long. */
	memset(long_title, 'x', sizeof long_title - 1);
	long_title[1] = '/';
	long_title[sizeof long_title - 1] = '\0';
	expect_format(one_collection(long_title, json_array()), "parts of 1 to 255 bytes");
	long_title[sizeof long_title - 2] = '\0';
	cr_assert_eq(accept_signed(one_collection(long_title, json_array()), why), 0, "%s", why);
	expect_format(json_pack("[{s:[], s:s}, {s:[], s:s}, {s:[], s:s}]", "items", "title", "A/B",
				"items", "title", "", "items", "title", "A/B"),
		      "collections[0] and collections[2] have the same title");

	/* The same names in different collections, and good titles, are fine. */
	cr_assert_eq(accept_signed(json_pack("[{s:[o], s:s}, {s:[o], s:s}, {s:[], s:s}]", "items",
					     empty_entry("a"), "title", "", "items",
					     empty_entry("a"), "title", "A/B c/.d",
					     "items", "title", "..."),
				   why),
		     0, "%s", why);
}

Test(channel, ingested_file_entries_travel_between_stores)
{
	struct mfs_ingest_opts o = {.chunk_size = 65536, .mode = MFS_MODE_RANDOM};
	size_t len = 200000, text_len;
	uint8_t pk[MFS_SIGN_PK_BYTES], *data = malloc(len);
	struct mfs_file_entry e, back;
	struct mfs_volume_sink sink;
	struct mfs_blob_sink as;
	struct mfs_ingest *w;
	struct mfs_manifest m;
	json_t *entry, *cols;
	char *text, why[200];

	cr_assert_not_null(data);
	tu_fill_random(data, len, 42);
	new_channel(a.vol, pk);
	mfs_volume_sink_init(&sink, a.vol, 1);
	as = mfs_volume_sink_as_sink(&sink);
	cr_assert_eq(mfs_ingest_begin(&w, "clip.bin", &o, &as), 0);
	cr_assert_eq(mfs_ingest_write(w, data, len), 0);
	cr_assert_eq(mfs_ingest_finish(w, 1234, &e), 0);
	cr_assert_eq(mfs_volume_sink_finish(&sink), 0);
	mfs_volume_sink_clear(&sink);
	cr_assert_eq(mfs_entry_to_json(&entry, &e), 0);
	cols = one_collection("Clips", json_pack("[o]", entry));
	cr_assert_eq(publish(a.vol, pk, cols, NULL), 0);
	json_decref(cols);

	cr_assert_eq(manifest(a.vol, pk, &text, &text_len), 0);
	cr_assert_eq(accept_text(b.vol, text, text_len, 1, &m, why), 0, "%s", why);
	entry = json_array_get(json_object_get(json_array_get(m.collections, 0), "items"), 0);
	cr_assert_eq(mfs_entry_from_json(&back, entry, why, sizeof why), 0, "%s", why);
	cr_assert_str_eq(back.name, "clip.bin");
	cr_assert_eq(back.size, len);
	cr_assert_eq(back.chunk_count, e.chunk_count);
	cr_assert_arr_eq(back.chunks, e.chunks, e.chunk_count * sizeof *e.chunks);
	mfs_entry_clear(&back);
	mfs_entry_clear(&e);
	mfs_manifest_clear(&m);
	free(text);
	free(data);
}
