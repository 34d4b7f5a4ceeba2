#include "net/tracker_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

/* What jansson's tree costs per value, rounded up (see the header). */
#define COST_OBJECT 256u
#define COST_ARRAY 144u
#define COST_STRING 96u
#define COST_SCALAR 48u
#define COST_PER_BYTE 32u
#define COST_SLACK (64u << 10)

#define bad(why, why_len, ...) mfs_error_why(why, why_len, MFS_E_FORMAT, __VA_ARGS__)

static const struct {
	enum mfs_tracker_action action;
	const char *name;
} action_names[] = {
	{MFS_TRACKER_SUBSCRIBE, "subscribe"}, {MFS_TRACKER_PUBLISH, "publish"},
	{MFS_TRACKER_ANNOUNCE, "announce"},   {MFS_TRACKER_PUBLISHED, "published"},
	{MFS_TRACKER_PEERS, "announce"},      {MFS_TRACKER_ERROR, "error"},
};

static const char *action_name(enum mfs_tracker_action a)
{
	for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
		if (action_names[i].action == a)
			return action_names[i].name;
	return NULL;
}

static const struct {
	int code;
	const char *name;
} error_codes[] = {
	{MFS_E_FORMAT, "format"}, {MFS_E_AUTH, "auth"}, {MFS_E_REPLAY, "replay"},
	{-EPERM, "limit"},        {-EIO, "internal"},
};

static const char *const event_names[] = {
	[MFS_TRACKER_EVENT_NONE] = "",
	[MFS_TRACKER_EVENT_STARTED] = "started",
	[MFS_TRACKER_EVENT_STOPPED] = "stopped",
	[MFS_TRACKER_EVENT_COMPLETED] = "completed",
};

/* ---- reading fields ---------------------------------------------------- */

/* A 64-hex-digit field. Returns 1 when present and valid, 0 when absent
 * (and not required), else MFS_E_FORMAT. */
static int get_key(const json_t *obj, const char *name, uint8_t out[MFS_TRACKER_KEY_BYTES],
		   int required, char *why, size_t why_len)
{
	const json_t *v = json_object_get(obj, name);

	if (!v)
		return required ? bad(why, why_len, "missing field '%s'", name) : 0;
	if (!json_is_string(v) || json_string_length(v) != 2 * MFS_TRACKER_KEY_BYTES ||
	    mfs_hex_decode(out, MFS_TRACKER_KEY_BYTES, json_string_value(v)) != 0)
		return bad(why, why_len, "'%s' is not 64 lower-case hex digits", name);
	return 1;
}

/* An integer field in [min, max]. Same returns as get_key. */
static int get_uint(const json_t *obj, const char *name, uint64_t min, uint64_t max,
		    uint64_t *out, int required, char *why, size_t why_len)
{
	const json_t *v = json_object_get(obj, name);
	json_int_t n;

	if (!v)
		return required ? bad(why, why_len, "missing field '%s'", name) : 0;
	if (!json_is_integer(v))
		return bad(why, why_len, "'%s' is not an integer", name);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return bad(why, why_len, "'%s' is out of range (%llu..%llu)", name,
			   (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

static int parse_subscribe(struct mfs_tracker_msg *m, const json_t *root, char *why,
			   size_t why_len)
{
	int rc = get_key(root, "key", m->key, 1, why, why_len);

	if (rc < 0)
		return rc;
	m->has_key = 1;
	return 0;
}

/* Both directions: the manifest object, re-encoded canonically, with its
 * publicKey and sequence read (the signature is the receiver's business). */
static int parse_publish(struct mfs_tracker_msg *m, const json_t *root, char *why,
			 size_t why_len)
{
	const json_t *man = json_object_get(root, "manifest");
	int rc;

	if (!man)
		return bad(why, why_len, "missing field 'manifest'");
	if (!json_is_object(man))
		return bad(why, why_len, "'manifest' is not an object");
	if ((rc = get_key(man, "publicKey", m->key, 1, why, why_len)) < 0)
		return rc;
	m->has_key = 1;
	if ((rc = get_uint(man, "sequence", 1, INT64_MAX, &m->sequence, 1, why, why_len)) < 0)
		return rc;
	m->has_sequence = 1;
	rc = mfs_cjson_encode(&m->manifest, &m->manifest_len, man);
	if (rc == MFS_E_FORMAT)
		return bad(why, why_len, "the manifest holds a real number or nests too deep");
	if (rc == 0 && m->manifest_len > MFS_TRACKER_MANIFEST_MAX)
		return bad(why, why_len, "the manifest is larger than %u bytes",
			   MFS_TRACKER_MANIFEST_MAX);
	return rc;
}

static int parse_announce(struct mfs_tracker_msg *m, const json_t *root, char *why,
			  size_t why_len)
{
	const json_t *ev = json_object_get(root, "event");
	uint64_t port, numwant = MFS_TRACKER_DEFAULT_NUMWANT;
	int rc;

	if ((rc = get_key(root, "info_hash", m->key, 1, why, why_len)) < 0)
		return rc;
	m->has_key = 1;
	if ((rc = get_key(root, "peer_id", m->peer_id, 1, why, why_len)) < 0)
		return rc;
	if ((rc = get_uint(root, "port", 0, 65535, &port, 1, why, why_len)) < 0)
		return rc;
	if ((rc = get_uint(root, "numwant", 0, INT64_MAX, &numwant, 0, why, why_len)) < 0)
		return rc;
	m->port = (uint16_t)port;
	m->numwant = numwant > MFS_TRACKER_MAX_PEERS ? MFS_TRACKER_MAX_PEERS : (uint32_t)numwant;
	m->event = MFS_TRACKER_EVENT_NONE;
	if (ev) {
		size_t i, n = sizeof event_names / sizeof event_names[0];

		if (!json_is_string(ev))
			return bad(why, why_len, "'event' is not a string");
		for (i = 0; i < n; i++)
			if (strcmp(json_string_value(ev), event_names[i]) == 0)
				break;
		if (i == n)
			return bad(why, why_len, "unknown event");
		m->event = (enum mfs_tracker_event)i;
	}
	return 0;
}

static int parse_published(struct mfs_tracker_msg *m, const json_t *root, char *why,
			   size_t why_len)
{
	int rc;

	if ((rc = get_key(root, "key", m->key, 1, why, why_len)) < 0)
		return rc;
	m->has_key = 1;
	if ((rc = get_uint(root, "sequence", 1, INT64_MAX, &m->sequence, 1, why, why_len)) < 0)
		return rc;
	m->has_sequence = 1;
	return 0;
}

static int parse_peer(struct mfs_tracker_peer *p, const json_t *obj, char *why, size_t why_len)
{
	const json_t *ip = json_object_get(obj, "ip");
	struct in6_addr scratch;
	uint64_t port;
	int rc;

	if (!json_is_object(obj))
		return bad(why, why_len, "a peer is not an object");
	if (!json_is_string(ip) || json_string_length(ip) >= sizeof p->host)
		return bad(why, why_len, "a peer's 'ip' is not an address");
	memcpy(p->host, json_string_value(ip), json_string_length(ip) + 1);
	if (inet_pton(AF_INET, p->host, &scratch) != 1 && inet_pton(AF_INET6, p->host, &scratch) != 1)
		return bad(why, why_len, "a peer's 'ip' is not a numeric address");
	if ((rc = get_uint(obj, "port", 1, 65535, &port, 1, why, why_len)) < 0)
		return rc;
	p->port = (uint16_t)port;
	if ((rc = get_key(obj, "peer_id", p->node_pk, 1, why, why_len)) < 0)
		return rc;
	return 0;
}

static int parse_peers(struct mfs_tracker_msg *m, const json_t *root, char *why, size_t why_len)
{
	const json_t *peers = json_object_get(root, "peers");
	uint64_t interval;
	size_t n;
	int rc;

	if ((rc = get_key(root, "info_hash", m->key, 1, why, why_len)) < 0)
		return rc;
	m->has_key = 1;
	if ((rc = get_uint(root, "interval", 1, UINT32_MAX, &interval, 1, why, why_len)) < 0)
		return rc;
	m->interval = (uint32_t)interval;
	if (!json_is_array(peers))
		return bad(why, why_len, peers ? "'peers' is not an array" : "missing field 'peers'");
	n = json_array_size(peers);
	if (n > MFS_TRACKER_MAX_PEERS)
		return bad(why, why_len, "more than %d peers", MFS_TRACKER_MAX_PEERS);
	if (n && !(m->peers = calloc(n, sizeof *m->peers)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((rc = parse_peer(&m->peers[i], json_array_get(peers, i), why, why_len)) < 0)
			return rc;
	m->peer_count = n;
	return 0;
}

/* Copies at most cap-1 bytes, never ending inside a UTF-8 sequence;
 * control characters become '?'. */
static void copy_reason(char *dst, size_t cap, const char *src, size_t len)
{
	if (len > cap - 1) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	dst[len] = '\0';
}

static int parse_error(struct mfs_tracker_msg *m, const json_t *root, char *why, size_t why_len)
{
	const json_t *reason = json_object_get(root, "reason");
	const json_t *code = json_object_get(root, "code");
	const json_t *request = json_object_get(root, "request");
	int rc;

	if (!json_is_string(reason))
		return bad(why, why_len,
			   reason ? "'reason' is not a string" : "missing field 'reason'");
	copy_reason(m->reason, sizeof m->reason, json_string_value(reason),
		    json_string_length(reason));
	m->code = -EPROTO;
	if (code && !json_is_string(code))
		return bad(why, why_len, "'code' is not a string");
	for (size_t i = 0; code && i < sizeof error_codes / sizeof error_codes[0]; i++)
		if (strcmp(json_string_value(code), error_codes[i].name) == 0)
			m->code = error_codes[i].code;
	m->request = MFS_TRACKER_NONE;
	if (request) {
		if (!json_is_string(request))
			return bad(why, why_len, "'request' is not a string");
		if (strcmp(json_string_value(request), "subscribe") == 0)
			m->request = MFS_TRACKER_SUBSCRIBE;
		else if (strcmp(json_string_value(request), "publish") == 0)
			m->request = MFS_TRACKER_PUBLISH;
		else if (strcmp(json_string_value(request), "announce") == 0)
			m->request = MFS_TRACKER_ANNOUNCE;
	}
	if ((rc = get_key(root, "key", m->key, 0, why, why_len)) < 0)
		return rc;
	m->has_key = rc;
	if ((rc = get_uint(root, "sequence", 1, INT64_MAX, &m->sequence, 0, why, why_len)) < 0)
		return rc;
	m->has_sequence = rc;
	return 0;
}

int mfs_tracker_shape_check(const char *text, size_t len, char *why, size_t why_len)
{
	uint64_t cost = 0, budget;
	int in_string = 0, in_scalar = 0;

	if (len > MFS_TRACKER_MESSAGE_MAX)
		return bad(why, why_len, "message larger than %u bytes", MFS_TRACKER_MESSAGE_MAX);
	budget = (uint64_t)COST_PER_BYTE * len + COST_SLACK;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
			continue;
		}
		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-' ||
		    ch == '+' || ch == '.' || (ch >= 'A' && ch <= 'Z')) {
			if (!in_scalar)
				cost += COST_SCALAR;
			in_scalar = 1;
			continue;
		}
		in_scalar = 0;
		if (ch == '{')
			cost += COST_OBJECT;
		else if (ch == '[')
			cost += COST_ARRAY;
		else if (ch == '"') {
			cost += COST_STRING;
			in_string = 1;
		}
	}
	if (cost > budget)
		return bad(why, why_len, "too many values for the message's size");
	return 0;
}

typedef int (*parse_fn)(struct mfs_tracker_msg *, const json_t *, char *, size_t);

static int parse(struct mfs_tracker_msg *m, const char *buf, size_t len, int from_client,
		 char *why, size_t why_len)
{
	static const struct {
		const char *name;
		enum mfs_tracker_action client, tracker;
		parse_fn client_fn, tracker_fn;
	} table[] = {
		{"subscribe", MFS_TRACKER_SUBSCRIBE, MFS_TRACKER_NONE, parse_subscribe, NULL},
		{"publish", MFS_TRACKER_PUBLISH, MFS_TRACKER_PUBLISH, parse_publish, parse_publish},
		{"announce", MFS_TRACKER_ANNOUNCE, MFS_TRACKER_PEERS, parse_announce, parse_peers},
		{"published", MFS_TRACKER_NONE, MFS_TRACKER_PUBLISHED, NULL, parse_published},
		{"error", MFS_TRACKER_NONE, MFS_TRACKER_ERROR, NULL, parse_error},
	};
	json_error_t err;
	json_t *root = NULL;
	const json_t *action;
	int rc;

	memset(m, 0, sizeof *m);
	/* Counted first: the tree jansson builds may cost 80 x the text. */
	if ((rc = mfs_tracker_shape_check(buf, len, why, why_len)) != 0)
		return rc;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return bad(why, why_len, "invalid JSON: %s", err.text);
	rc = bad(why, why_len, "not a JSON object");
	if (!json_is_object(root))
		goto out;
	action = json_object_get(root, "action");
	rc = bad(why, why_len, action ? "'action' is not a string" : "missing field 'action'");
	if (!json_is_string(action))
		goto out;
	rc = bad(why, why_len, "unknown action");
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		parse_fn fn = from_client ? table[i].client_fn : table[i].tracker_fn;

		if (fn && strcmp(json_string_value(action), table[i].name) == 0) {
			m->action = from_client ? table[i].client : table[i].tracker;
			rc = fn(m, root, why, why_len);
			break;
		}
	}
out:
	json_decref(root);
	if (rc != 0)
		mfs_tracker_msg_clear(m);
	return rc;
}

int mfs_tracker_parse_request(struct mfs_tracker_msg *out, const char *buf, size_t len,
			      char *why, size_t why_len)
{
	return parse(out, buf, len, 1, why, why_len);
}

int mfs_tracker_parse_reply(struct mfs_tracker_msg *out, const char *buf, size_t len, char *why,
			    size_t why_len)
{
	return parse(out, buf, len, 0, why, why_len);
}

void mfs_tracker_msg_clear(struct mfs_tracker_msg *m)
{
	if (!m)
		return;
	free(m->manifest);
	free(m->peers);
	memset(m, 0, sizeof *m);
}

/* ---- building ---------------------------------------------------------- */

/* Encodes and releases obj (NULL: allocation failed). */
static int finish(char **out, size_t *out_len, json_t *obj)
{
	int rc;

	if (!obj)
		return -ENOMEM;
	rc = mfs_cjson_encode(out, out_len, obj);
	json_decref(obj);
	return rc;
}

/* Sets obj[name] to v, taking v's reference; a NULL v or failure poisons obj. */
static json_t *set(json_t *obj, const char *name, json_t *v)
{
	if (obj && (!v || json_object_set_new(obj, name, v) != 0)) {
		json_decref(obj);
		return NULL;
	}
	if (!obj)
		json_decref(v);
	return obj;
}

static json_t *hex_string(const uint8_t key[MFS_TRACKER_KEY_BYTES])
{
	char hex[2 * MFS_TRACKER_KEY_BYTES + 1];

	mfs_hex_encode(hex, key, MFS_TRACKER_KEY_BYTES);
	return json_string(hex);
}

static json_t *message(enum mfs_tracker_action a)
{
	json_t *obj = json_object();

	return set(obj, "action", json_string(action_name(a)));
}

int mfs_tracker_build_subscribe(char **out, size_t *out_len,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES])
{
	return finish(out, out_len, set(message(MFS_TRACKER_SUBSCRIBE), "key", hex_string(key)));
}

int mfs_tracker_build_publish(char **out, size_t *out_len, const char *manifest, size_t len)
{
	static const char head[] = "{\"action\":\"publish\",\"manifest\":";
	size_t total;
	char *text;

	if (len < 2 || manifest[0] != '{' || manifest[len - 1] != '}' ||
	    len > MFS_TRACKER_MANIFEST_MAX)
		return MFS_E_FORMAT;
	total = sizeof head - 1 + len + 1;
	if (!(text = malloc(total + 1)))
		return -ENOMEM;
	memcpy(text, head, sizeof head - 1);
	memcpy(text + sizeof head - 1, manifest, len);
	text[total - 1] = '}';
	text[total] = '\0';
	*out = text;
	*out_len = total;
	return 0;
}

int mfs_tracker_build_announce(char **out, size_t *out_len,
			       const uint8_t info_hash[static MFS_TRACKER_KEY_BYTES],
			       const uint8_t peer_id[static MFS_TRACKER_KEY_BYTES], uint16_t port,
			       uint32_t numwant, enum mfs_tracker_event event)
{
	json_t *obj;

	if ((unsigned)event >= sizeof event_names / sizeof event_names[0])
		return MFS_E_FORMAT;
	obj = set(message(MFS_TRACKER_ANNOUNCE), "info_hash", hex_string(info_hash));
	obj = set(obj, "peer_id", hex_string(peer_id));
	obj = set(obj, "port", json_integer(port));
	obj = set(obj, "numwant", json_integer(numwant));
	obj = set(obj, "event", json_string(event_names[event]));
	return finish(out, out_len, obj);
}

int mfs_tracker_build_published(char **out, size_t *out_len,
				const uint8_t key[static MFS_TRACKER_KEY_BYTES], uint64_t sequence)
{
	json_t *obj;

	if (sequence < 1 || sequence > INT64_MAX)
		return MFS_E_FORMAT;
	obj = set(message(MFS_TRACKER_PUBLISHED), "key", hex_string(key));
	obj = set(obj, "sequence", json_integer((json_int_t)sequence));
	return finish(out, out_len, obj);
}

int mfs_tracker_build_peers(char **out, size_t *out_len,
			    const uint8_t info_hash[static MFS_TRACKER_KEY_BYTES], uint32_t interval,
			    const struct mfs_tracker_peer *peers, size_t count)
{
	json_t *obj, *list;

	if (interval < 1 || count > MFS_TRACKER_MAX_PEERS)
		return MFS_E_FORMAT;
	list = json_array();
	for (size_t i = 0; list && i < count; i++) {
		struct in6_addr scratch;
		json_t *p;

		if (inet_pton(AF_INET, peers[i].host, &scratch) != 1 &&
		    inet_pton(AF_INET6, peers[i].host, &scratch) != 1) {
			json_decref(list);
			return MFS_E_FORMAT;
		}
		p = set(json_object(), "ip", json_string(peers[i].host));
		p = set(p, "port", json_integer(peers[i].port));
		p = set(p, "peer_id", hex_string(peers[i].node_pk));
		if (!p || json_array_append_new(list, p) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	obj = set(message(MFS_TRACKER_PEERS), "info_hash", hex_string(info_hash));
	obj = set(obj, "interval", json_integer(interval));
	obj = set(obj, "peers", list);
	return finish(out, out_len, obj);
}

int mfs_tracker_build_error(char **out, size_t *out_len, enum mfs_tracker_action request,
			    const uint8_t *key, uint64_t sequence, int code, const char *reason)
{
	char text[MFS_TRACKER_REASON_MAX];
	const char *code_name = "internal";
	json_t *obj, *r;

	copy_reason(text, sizeof text, reason ? reason : "", reason ? strlen(reason) : 0);
	for (size_t i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++)
		if (error_codes[i].code == code)
			code_name = error_codes[i].name;
	/* json_string refuses invalid UTF-8: a reason is never worth failing for. */
	if (!(r = json_string(text)))
		r = json_string("(reason not UTF-8)");
	obj = set(message(MFS_TRACKER_ERROR), "reason", r);
	obj = set(obj, "code", json_string(code_name));
	if (request == MFS_TRACKER_PEERS)
		request = MFS_TRACKER_ANNOUNCE;
	if (request == MFS_TRACKER_SUBSCRIBE || request == MFS_TRACKER_PUBLISH ||
	    request == MFS_TRACKER_ANNOUNCE)
		obj = set(obj, "request", json_string(action_name(request)));
	if (key)
		obj = set(obj, "key", hex_string(key));
	if (sequence >= 1 && sequence <= INT64_MAX)
		obj = set(obj, "sequence", json_integer((json_int_t)sequence));
	return finish(out, out_len, obj);
}
