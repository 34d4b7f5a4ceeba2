#include "fs/channel/channel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/sealed.h"
#include "crypto/secure.h"
#include "fs/blob/fileentry.h"
#include "fs/channel/grant.h"
#include "fs/channel/identity.h"
#include "fs/store/keyring.h"

/* Object names of a channel's newest manifest: "m" + the raw public key (as
 * signed), and for a private channel "o" + the public key (as opened). */
#define MANIFEST_NAME_LEN (1 + MFS_SIGN_PK_BYTES)
#define MAGNET_PREFIX "magnet:?"

/* A name (borrowed from the manifest) and where it came from, for finding
 * duplicates by sorting. */
struct named {
	const char *name;
	size_t index;
};

static void object_name(uint8_t name[static MANIFEST_NAME_LEN], char kind,
			const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	name[0] = (uint8_t)kind;
	memcpy(name + 1, pk, MFS_SIGN_PK_BYTES);
}

static void manifest_name(uint8_t name[static MANIFEST_NAME_LEN],
			  const uint8_t pk[static MFS_SIGN_PK_BYTES])
{
	object_name(name, 'm', pk);
}

static void say(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* 1 when s is a JSON string with no NUL byte inside ("\u0000"). */
static int plain_string(const json_t *s)
{
	return json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s);
}

int mfs_channel_title_valid(const char *title)
{
	const char *p = title;

	if (*p == '\0')
		return 1;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || n > MFS_NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '\0')
			return 1;
		p++; /* the slash: a trailing one leaves an empty component */
	}
}

static int by_name(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Sorts v[n]; 1 and the indexes of the first equal pair, or 0. Sorting keeps
 * a hostile manifest of many names from costing n^2 comparisons. */
static int find_duplicate(struct named *v, size_t n, size_t *first, size_t *second)
{
	if (n < 2)
		return 0;
	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0) {
			*first = v[i - 1].index < v[i].index ? v[i - 1].index : v[i].index;
			*second = v[i - 1].index < v[i].index ? v[i].index : v[i - 1].index;
			return 1;
		}
	return 0;
}

/* The items of collections[ci]: magnet links, and valid file entries with
 * distinct names. */
static int check_items(const json_t *items, size_t ci, char *why, size_t why_len)
{
	size_t n = json_array_size(items), files = 0, j, a, b;
	struct named *names = malloc((n ? n : 1) * sizeof *names);
	struct mfs_file_entry e;
	const json_t *item;
	char detail[160];
	int rc = 0;

	if (!names)
		return -ENOMEM;
	json_array_foreach(items, j, item) {
		if (json_is_string(item)) {
			if (!plain_string(item) || strncmp(json_string_value(item), MAGNET_PREFIX,
							   sizeof MAGNET_PREFIX - 1) != 0) {
				say(why, why_len, "collections[%zu].items[%zu]: a string item must be "
				    "a magnet link (magnet:?...)", ci, j);
				rc = MFS_E_FORMAT;
				break;
			}
			continue;
		}
		rc = mfs_entry_from_json(&e, item, detail, sizeof detail);
		mfs_entry_clear(&e);
		if (rc == MFS_E_FORMAT)
			say(why, why_len, "collections[%zu].items[%zu]: %s", ci, j, detail);
		if (rc != 0)
			break;
		/* Valid, so "name" is a string the manifest keeps alive. */
		names[files].name = json_string_value(json_object_get(item, "name"));
		names[files].index = j;
		files++;
	}
	if (rc == 0 && find_duplicate(names, files, &a, &b)) {
		say(why, why_len, "collections[%zu]: items[%zu] and items[%zu] have the same file name",
		    ci, a, b);
		rc = MFS_E_FORMAT;
	}
	free(names);
	return rc;
}

/* What this module demands of collections beyond crypto/manifest's shape
 * check: valid titles, unique within the manifest, and valid items. */
static int check_collections(const json_t *collections, char *why, size_t why_len)
{
	size_t n = json_array_size(collections), i, a, b;
	struct named *titles;
	const json_t *c;
	int rc = 0;

	if (!json_is_array(collections)) {
		say(why, why_len, "'collections' is not an array");
		return MFS_E_FORMAT;
	}
	titles = malloc((n ? n : 1) * sizeof *titles);
	if (!titles)
		return -ENOMEM;
	json_array_foreach(collections, i, c) {
		const json_t *title = json_object_get(c, "title");
		const json_t *items = json_object_get(c, "items");

		if (!json_is_string(title) || !json_is_array(items)) {
			say(why, why_len, "collections[%zu] must be {\"items\":[...],\"title\":\"...\"}",
			    i);
			rc = MFS_E_FORMAT;
			break;
		}
		if (!plain_string(title) || !mfs_channel_title_valid(json_string_value(title))) {
			say(why, why_len, "collections[%zu]: a title must be \"\" or a path like "
			    "\"A/B\": parts of 1 to %d bytes, not . or .., single slashes between",
			    i, MFS_NAME_MAX);
			rc = MFS_E_FORMAT;
			break;
		}
		titles[i].name = json_string_value(title);
		titles[i].index = i;
		rc = check_items(items, i, why, why_len);
		if (rc != 0)
			break;
	}
	if (rc == 0 && find_duplicate(titles, n, &a, &b)) {
		say(why, why_len, "collections[%zu] and collections[%zu] have the same title", a, b);
		rc = MFS_E_FORMAT;
	}
	free(titles);
	return rc;
}

static int read_object(struct mfs_vtxn *t, char kind, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		       char **json, size_t *len)
{
	uint8_t name[MANIFEST_NAME_LEN];
	char *buf;
	uint64_t n;
	int rc;

	*json = NULL;
	*len = 0;
	object_name(name, kind, pk);
	rc = mfs_obj_size(t, name, sizeof name, &n);
	if (rc != 0)
		return rc;
	if (n == 0 || n > MFS_CJSON_MAX_BYTES)
		return MFS_E_CORRUPT;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	rc = mfs_obj_read(t, name, sizeof name, 0, buf, (size_t)n);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*json = buf;
	*len = (size_t)n;
	return 0;
}

int mfs_channel_manifest(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			 char **json, size_t *len)
{
	return read_object(t, 'm', pk, json, len);
}

int mfs_channel_plain(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		      char **json, size_t *len)
{
	int rc = read_object(t, 'o', pk, json, len);

	return rc == MFS_E_NOTFOUND ? read_object(t, 'm', pk, json, len) : rc;
}

int mfs_channel_open(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     struct mfs_manifest *out)
{
	const char *b64;
	size_t len, b64_len;
	char *json = NULL;
	json_t *root = NULL, *seq, *ts;
	int rc = read_object(t, 'o', pk, &json, &len);

	memset(out, 0, sizeof *out);
	if (rc == MFS_E_NOTFOUND) {
		/* Public: the signed manifest is the one to read. Stored only
		 * once verified: one that no longer verifies is damaged. */
		rc = mfs_channel_manifest(t, pk, &json, &len);
		if (rc == 0 && mfs_manifest_verify(out, json, len, pk, 0, NULL, 0) != 0)
			rc = MFS_E_CORRUPT;
		if (rc == 0 && mfs_sealed_find(out->collections, &b64, &b64_len) != 0) {
			mfs_manifest_clear(out);
			rc = MFS_E_NOKEY;
		}
		mfs_wipe_free(json);
		return rc;
	}
	if (rc == 0 && mfs_cjson_parse(&root, json, len, NULL, 0) != 0)
		rc = MFS_E_CORRUPT;
	mfs_wipe_free(json);
	if (rc != 0)
		return rc;
	seq = json_object_get(root, "sequence");
	ts = json_object_get(root, "timestamp");
	if (!json_is_integer(seq) || !json_is_integer(ts) || json_integer_value(seq) < 1 ||
	    json_integer_value(ts) < 0 || !json_is_array(json_object_get(root, "collections"))) {
		json_decref(root);
		return MFS_E_CORRUPT;
	}
	memcpy(out->public_key, pk, MFS_SIGN_PK_BYTES);
	out->sequence = (uint64_t)json_integer_value(seq);
	out->timestamp = (uint64_t)json_integer_value(ts);
	out->root = root;
	out->collections = json_object_get(root, "collections");
	return 0;
}

int mfs_channel_foreach_entry(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			      int (*fn)(void *ctx, const struct mfs_file_entry *e), void *ctx)
{
	struct mfs_manifest m = {0};
	json_t *col, *item;
	size_t ci, ii;
	int rc = mfs_channel_open(t, pk, &m);

	json_array_foreach(rc == 0 ? m.collections : NULL, ci, col) {
		json_array_foreach(json_object_get(col, "items"), ii, item) {
			struct mfs_file_entry e;

			if (!json_is_object(item) || mfs_entry_from_json(&e, item, NULL, 0) != 0)
				continue; /* a magnet link: no blobs of ours */
			rc = fn(ctx, &e);
			mfs_entry_clear(&e);
			if (rc != 0)
				break;
		}
		if (rc != 0)
			break;
	}
	mfs_manifest_clear(&m);
	return rc;
}

/* Opens the sealed envelope b64 of manifest m with what the volume holds:
 * the read key of its keyring entry (ch may be NULL) and the volume's
 * identity. *cols receives the collections (checked). */
static int open_sealed(struct mfs_vtxn *t, const struct mfs_manifest *m,
		       const struct mfs_channel *ch, const struct mfs_channel_secret *secret,
		       const char *b64, size_t b64_len, json_t **cols, char *why, size_t why_len)
{
	uint8_t id_pk[MFS_BOX_KEY_BYTES], *id_sk = mfs_secure_alloc(MFS_BOX_KEY_BYTES);
	char link[MFS_LINK_BYTES];
	uint8_t *body = NULL;
	size_t len = 0;
	json_t *root = NULL;
	int rc, have_id;

	*cols = NULL;
	if (!id_sk)
		return -ENOMEM;
	rc = mfs_identity_get(t, 0, id_pk, id_sk);
	have_id = rc == 0;
	if (rc == 0 || rc == MFS_E_NOTFOUND)
		rc = mfs_sealed_open(&body, &len, b64, b64_len, m->public_key, m->sequence,
				     ch && ch->has_read_key ? secret->read_key : NULL,
				     have_id ? id_sk : NULL, have_id ? id_pk : NULL);
	mfs_secure_free(id_sk);
	mfs_link_format(link, m->public_key);
	if (rc == MFS_E_NOKEY)
		say(why, why_len, "%s is private and no key of this volume opens its manifest %llu: "
		    "ask its owner for its link with the read key (%s#READ-KEY) or for a grant "
		    "to this volume's key (megafs id prints it); a read key that was rotated or a "
		    "grant that expired or was revoked reads nothing newer", link,
		    (unsigned long long)m->sequence, link);
	else if (rc == MFS_E_AUTH)
		say(why, why_len, "the sealed body of manifest %llu of %s does not open: it was "
		    "changed, or moved from another channel or sequence",
		    (unsigned long long)m->sequence, link);
	else if (rc == MFS_E_FORMAT)
		say(why, why_len, "manifest %llu of %s: malformed sealed envelope",
		    (unsigned long long)m->sequence, link);
	if (rc == 0 && mfs_cjson_parse(&root, (const char *)body, len, why, why_len) != 0)
		rc = MFS_E_FORMAT;
	mfs_secure_free(body);
	if (rc == 0)
		rc = check_collections(root, why, why_len);
	if (rc == 0)
		*cols = root;
	else
		json_decref(root);
	return rc;
}

/* Stores (or removes, cols NULL) the opened form "o" + pk of manifest m. */
static int store_plain(struct mfs_vtxn *t, const struct mfs_manifest *m, json_t *cols)
{
	uint8_t name[MANIFEST_NAME_LEN];
	char *text = NULL;
	size_t len;
	int rc;

	object_name(name, 'o', m->public_key);
	if (!cols) {
		rc = mfs_obj_delete(t, name, sizeof name);
		return rc == MFS_E_NOTFOUND ? 0 : rc;
	}
	rc = mfs_manifest_unsigned(&text, &len, m->sequence, m->timestamp, cols, m->public_key);
	if (rc == 0)
		rc = mfs_obj_write(t, name, sizeof name, text, len);
	mfs_wipe_free(text);
	return rc;
}

int mfs_channel_accept(struct mfs_vtxn *t, const char *json, size_t len, int subscribe_unknown,
		       struct mfs_manifest *out, char *why, size_t why_len)
{
	struct mfs_channel_list list = {0};
	uint8_t name[MANIFEST_NAME_LEN];
	char link[MFS_LINK_BYTES];
	struct mfs_manifest m;
	json_t *opened = NULL;
	const char *b64;
	size_t b64_len;
	int rc, sealed;
	long i;

	if (why && why_len)
		why[0] = '\0';
	if (out)
		memset(out, 0, sizeof *out);
	/* The channel, and so the last sequence seen, is known only once the
	 * manifest is parsed: verify with 0, then refuse old sequences here.
	 * Verification checks the signature before the sequence anyway, so the
	 * outcome is the same as passing the keyring's sequence. */
	rc = mfs_manifest_verify(&m, json, len, NULL, 0, why, why_len);
	if (rc != 0)
		return rc;
	sealed = mfs_sealed_find(m.collections, &b64, &b64_len);
	if (sealed < 0) {
		say(why, why_len, "a collection titled \"%s\" must hold one sealed envelope",
		    MFS_SEALED_TITLE);
		rc = sealed;
	} else if (!sealed) {
		rc = check_collections(m.collections, why, why_len);
	}
	if (rc != 0)
		goto out;
	rc = mfs_keyring_load(t, &list);
	if (rc != 0)
		goto out;
	i = mfs_keyring_find(&list, m.public_key);
	if (i < 0 && !subscribe_unknown) {
		mfs_link_format(link, m.public_key);
		say(why, why_len, "%s is not a channel of this volume (subscribe to it first)", link);
		rc = MFS_E_NOTFOUND;
		goto out;
	}
	if (i >= 0 && m.sequence <= list.items[i].sequence) {
		say(why, why_len, "sequence %llu <= last seen %llu (replay or rollback)",
		    (unsigned long long)m.sequence, (unsigned long long)list.items[i].sequence);
		rc = MFS_E_REPLAY;
		goto out;
	}
	if (sealed) {
		rc = open_sealed(t, &m, i >= 0 ? &list.items[i] : NULL,
				 i >= 0 ? &list.secrets[i] : NULL, b64, b64_len, &opened, why,
				 why_len);
		if (rc != 0)
			goto out;
	}
	if (i < 0) {
		mfs_keyring_clear(&list);
		rc = mfs_keyring_subscribe(t, m.public_key, "");
		if (rc == 0)
			rc = mfs_keyring_load(t, &list);
		if (rc != 0)
			goto out;
		i = mfs_keyring_find(&list, m.public_key);
		if (i < 0) {
			rc = MFS_E_CORRUPT;
			goto out;
		}
	}
	manifest_name(name, m.public_key);
	rc = mfs_obj_write(t, name, sizeof name, json, len);
	if (rc == 0)
		rc = store_plain(t, &m, opened);
	if (rc != 0)
		goto out;
	list.items[i].sequence = m.sequence;
	list.items[i].sealed = list.items[i].sealed || sealed;
	rc = mfs_keyring_store(t, &list);
out:
	json_decref(opened);
	mfs_keyring_clear(&list);
	if (rc != 0 && why && why_len && why[0] == '\0')
		say(why, why_len, "%s", mfs_strerror(rc));
	if (rc == 0 && out)
		*out = m;
	else
		mfs_manifest_clear(&m);
	return rc;
}

int mfs_channel_list_read(struct mfs_volume *vol, struct mfs_channel_list *out)
{
	struct mfs_vtxn *t;
	int rc = mfs_vtxn_begin(vol, 0, &t);

	memset(out, 0, sizeof *out);
	if (rc != 0)
		return rc;
	rc = mfs_keyring_load(t, out);
	mfs_vtxn_abort(t);
	return rc;
}

int mfs_channel_list_keys(struct mfs_volume *vol, uint8_t (**out)[MFS_SIGN_PK_BYTES],
			  size_t *count)
{
	struct mfs_channel_list list;
	int rc = mfs_channel_list_read(vol, &list);

	if (rc != 0)
		return rc;
	*out = calloc(list.count ? list.count : 1, sizeof **out);
	for (size_t i = 0; *out && i < list.count; i++)
		memcpy((*out)[i], list.items[i].pk, MFS_SIGN_PK_BYTES);
	*count = *out ? list.count : 0;
	mfs_keyring_clear(&list);
	return *out ? 0 : -ENOMEM;
}

int mfs_channel_find(struct mfs_volume *vol, const uint8_t pk[static MFS_SIGN_PK_BYTES],
		     struct mfs_channel *out, struct mfs_channel_secret *secret)
{
	struct mfs_channel_list list;
	long i;
	int rc = mfs_channel_list_read(vol, &list);

	if (rc != 0)
		return rc;
	i = mfs_keyring_find(&list, pk);
	if (i < 0) {
		rc = MFS_E_NOTFOUND;
	} else {
		if (out)
			*out = list.items[i];
		if (secret)
			*secret = list.secrets[i];
	}
	mfs_keyring_clear(&list);
	return rc;
}

/* The sealed form of collections for manifest seq of owned private channel
 * pk stamped ts: wrapped for the read key and the grants valid at ts. */
static int seal_collections(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			    const struct mfs_channel *ch, const struct mfs_channel_secret *secret,
			    json_t *collections, uint64_t seq, uint64_t ts, json_t **out)
{
	struct mfs_grant_list grants = {0};
	uint8_t (*keys)[MFS_BOX_KEY_BYTES] = NULL;
	struct mfs_seal_to to = {0};
	char *body = NULL, *b64 = NULL;
	size_t body_len, b64_len;
	int rc;

	*out = NULL;
	rc = mfs_cjson_encode(&body, &body_len, collections);
	if (rc == 0)
		rc = mfs_grants_load(t, pk, &grants);
	if (rc == 0)
		rc = mfs_grants_valid(&grants, ts, &keys, &to.n_grants);
	if (rc == 0) {
		to.read_key = ch->has_read_key ? secret->read_key : NULL;
		to.grants = (const uint8_t(*)[MFS_BOX_KEY_BYTES])keys;
		rc = mfs_sealed_seal(&b64, &b64_len, (const uint8_t *)body, body_len, pk, seq, &to,
				     NULL);
	}
	if (rc == 0 && !(*out = mfs_sealed_collections(b64)))
		rc = -ENOMEM;
	mfs_wipe_free(body);
	free(b64);
	free(keys);
	mfs_grants_clear(&grants);
	return rc;
}

int mfs_channel_publish(struct mfs_vtxn *t, const uint8_t pk[static MFS_SIGN_PK_BYTES],
			json_t *collections, uint64_t timestamp_ms, uint64_t *sequence)
{
	struct mfs_channel_list list;
	struct mfs_manifest m = {0};
	uint8_t name[MANIFEST_NAME_LEN];
	json_t *sealed = NULL;
	char *text = NULL;
	uint64_t next;
	size_t len;
	long i;
	int rc = mfs_keyring_load(t, &list);

	if (rc != 0)
		return rc;
	i = mfs_keyring_find(&list, pk);
	if (i < 0)
		rc = MFS_E_NOTFOUND;
	else if (!list.items[i].owned)
		rc = -EPERM;
	else
		rc = check_collections(collections, NULL, 0);
	if (rc != 0)
		goto out;
	/* Past INT64_MAX (never in practice) signing refuses with MFS_E_FORMAT. */
	next = list.items[i].sequence + 1;
	if (list.items[i].sealed)
		rc = seal_collections(t, pk, &list.items[i], &list.secrets[i], collections, next,
				      timestamp_ms, &sealed);
	if (rc == 0)
		rc = mfs_manifest_sign(&text, &len, next, timestamp_ms, sealed ? sealed : collections,
				       pk, list.secrets[i].sk);
	if (rc != 0)
		goto out;
	manifest_name(name, pk);
	rc = mfs_obj_write(t, name, sizeof name, text, len);
	memcpy(m.public_key, pk, MFS_SIGN_PK_BYTES);
	m.sequence = next;
	m.timestamp = timestamp_ms;
	if (rc == 0)
		rc = store_plain(t, &m, sealed ? collections : NULL);
	if (rc != 0)
		goto out;
	list.items[i].sequence = next;
	rc = mfs_keyring_store(t, &list);
	if (rc == 0 && sequence)
		*sequence = next;
out:
	json_decref(sealed);
	mfs_wipe_free(text);
	mfs_keyring_clear(&list);
	return rc;
}

int mfs_channel_needs_recording(struct mfs_volume *vol, const struct mfs_link *link, int *owned)
{
	struct mfs_channel ch;
	int rc = mfs_channel_find(vol, link->pk, &ch, NULL), known = rc == 0;

	if (owned)
		*owned = known && ch.owned;
	if (rc != 0 && rc != MFS_E_NOTFOUND)
		return rc;
	/* Nothing to record: known, and the link carries no key (or the
	 * volume owns the channel and keeps its own). */
	return !(known && (ch.owned || link->kind == MFS_LINK_PUBLIC));
}

int mfs_channel_record(struct mfs_vtxn *t, const struct mfs_link *link, const char *title,
		       int *subscribed)
{
	struct mfs_channel_list list;
	int rc = mfs_keyring_load(t, &list), known, owned;
	long i;

	*subscribed = 0;
	if (rc != 0)
		return rc;
	i = mfs_keyring_find(&list, link->pk);
	known = i >= 0;
	owned = known && list.items[i].owned;
	mfs_keyring_clear(&list);
	/* The owner keeps its own key; a public link adds nothing to a known
	 * channel. */
	if (known && (owned || link->kind == MFS_LINK_PUBLIC))
		return 0;
	if (!known) {
		rc = mfs_keyring_subscribe(t, link->pk, title);
		*subscribed = rc == 0;
	}
	if (rc == 0 && link->kind != MFS_LINK_PUBLIC)
		rc = mfs_keyring_set_private(t, link->pk, link->kind == MFS_LINK_READ_KEY ?
						   link->read_key : NULL);
	if (rc != 0)
		*subscribed = 0;
	return rc;
}

int mfs_channel_know(struct mfs_volume *vol, const struct mfs_link *link, const char *title,
		     int *subscribed, int *owned)
{
	struct mfs_vtxn *t;
	int rc = mfs_channel_needs_recording(vol, link, owned);

	*subscribed = 0;
	if (rc <= 0)
		return rc;
	rc = mfs_vtxn_begin(vol, 1, &t);
	if (rc != 0)
		return rc;
	rc = mfs_channel_record(t, link, title, subscribed);
	if (rc == 0)
		rc = mfs_vtxn_commit(t);
	else
		mfs_vtxn_abort(t);
	if (rc != 0)
		*subscribed = 0;
	return rc;
}
