#include "net/dht_token.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"

#define SECRET_BYTES 32

struct secrets {
	uint8_t cur[SECRET_BYTES];
	uint8_t prev[SECRET_BYTES];
};

struct mfs_dht_tokens {
	struct secrets *s; /* mfs_secure_alloc */
	uint64_t made;     /* when cur was made */
};

int mfs_dht_tokens_new(struct mfs_dht_tokens **out, uint64_t now)
{
	struct mfs_dht_tokens *t = calloc(1, sizeof *t);

	*out = NULL;
	if (t)
		t->s = mfs_secure_alloc(sizeof *t->s);
	if (!t || !t->s) {
		free(t);
		return -ENOMEM;
	}
	mfs_random(t->s->cur, SECRET_BYTES);
	mfs_random(t->s->prev, SECRET_BYTES);
	t->made = now;
	*out = t;
	return 0;
}

void mfs_dht_tokens_free(struct mfs_dht_tokens *t)
{
	if (!t)
		return;
	mfs_secure_free(t->s);
	free(t);
}

void mfs_dht_tokens_tick(struct mfs_dht_tokens *t, uint64_t now)
{
	if (now < t->made || now - t->made < MFS_DHT_TOKEN_ROTATE)
		return;
	if (now - t->made >= 2 * (uint64_t)MFS_DHT_TOKEN_ROTATE)
		mfs_random(t->s->prev, SECRET_BYTES);
	else
		memcpy(t->s->prev, t->s->cur, SECRET_BYTES);
	mfs_random(t->s->cur, SECRET_BYTES);
	t->made = now;
}

/* The IP address of from: 0 with *ip and *len, or -EAFNOSUPPORT. */
static int ip_of(const struct sockaddr *from, const uint8_t **ip, size_t *len)
{
	if (from->sa_family == AF_INET) {
		*ip = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
		*len = 4;
	} else if (from->sa_family == AF_INET6) {
		*ip = (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
		*len = 16;
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

static void token_under(uint8_t token[static MFS_DHT_TOKEN_BYTES],
			const uint8_t secret[static SECRET_BYTES], const uint8_t *ip, size_t ip_len,
			const uint8_t target[static 20])
{
	uint8_t h[16];

	mfs_keyed_hash(h, sizeof h, secret, ip, ip_len, target, 20);
	memcpy(token, h, MFS_DHT_TOKEN_BYTES);
}

int mfs_dht_token_make(uint8_t token[static MFS_DHT_TOKEN_BYTES], const struct mfs_dht_tokens *t,
		       const struct sockaddr *from, const uint8_t target[static 20])
{
	const uint8_t *ip;
	size_t ip_len;
	int rc = ip_of(from, &ip, &ip_len);

	if (rc == 0)
		token_under(token, t->s->cur, ip, ip_len, target);
	return rc;
}

int mfs_dht_token_check(const struct mfs_dht_tokens *t, const struct sockaddr *from,
			const uint8_t target[static 20], const uint8_t *token, size_t len)
{
	uint8_t cur[MFS_DHT_TOKEN_BYTES], prev[MFS_DHT_TOKEN_BYTES];
	const uint8_t *ip;
	size_t ip_len;
	int ok;

	if (len != MFS_DHT_TOKEN_BYTES || ip_of(from, &ip, &ip_len) != 0)
		return MFS_E_AUTH;
	token_under(cur, t->s->cur, ip, ip_len, target);
	token_under(prev, t->s->prev, ip, ip_len, target);
	ok = mfs_memeq(cur, token, len) | mfs_memeq(prev, token, len);
	return ok ? 0 : MFS_E_AUTH;
}
