/* net/dht_token: write tokens bind the asker's IP address and the target,
 * live 5 to 10 minutes across the secrets' rotation, and are refused from
 * another address, for another target, when mangled or when too old. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "net/dht_token.h"

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	cr_assert_eq(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

static const uint8_t target[20] = "target-of-the-put..", other_target[20] = "another-target......";

Test(dht_token, a_token_is_good_only_from_its_address_for_its_target)
{
	struct mfs_dht_tokens *t = NULL;
	struct sockaddr_in a = v4("192.0.2.7", 6881), same_ip = v4("192.0.2.7", 40000),
			   b = v4("192.0.2.8", 6881);
	struct sockaddr_in6 c = v6("2001:db8::7", 6881), mapped = v6("::ffff:192.0.2.7", 6881);
	struct sockaddr other = {.sa_family = AF_UNIX};
	uint8_t tok[MFS_DHT_TOKEN_BYTES], tok6[MFS_DHT_TOKEN_BYTES], bad[MFS_DHT_TOKEN_BYTES];

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(mfs_dht_tokens_new(&t, 1000), 0);
	cr_assert_eq(mfs_dht_token_make(tok, t, SA(a), target), 0);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok, sizeof tok), 0);
	cr_assert_eq(mfs_dht_token_check(t, SA(same_ip), target, tok, sizeof tok), 0,
		     "a NAT may change the port");
	cr_assert_eq(mfs_dht_token_check(t, SA(b), target, tok, sizeof tok), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_token_check(t, SA(c), target, tok, sizeof tok), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_token_check(t, SA(mapped), target, tok, sizeof tok), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), other_target, tok, sizeof tok), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok, sizeof tok - 1), MFS_E_AUTH);
	cr_assert_eq(mfs_dht_token_check(t, SA(other), target, tok, sizeof tok), MFS_E_AUTH);
	for (size_t i = 0; i < sizeof tok; i++) {
		memcpy(bad, tok, sizeof bad);
		bad[i] ^= 0x20;
		cr_assert_eq(mfs_dht_token_check(t, SA(a), target, bad, sizeof bad), MFS_E_AUTH);
	}
	cr_assert_eq(mfs_dht_token_make(tok6, t, SA(c), target), 0);
	cr_assert_eq(mfs_dht_token_check(t, SA(c), target, tok6, sizeof tok6), 0);
	cr_assert_eq(mfs_dht_token_make(bad, t, &other, target), -EAFNOSUPPORT);
	mfs_dht_tokens_free(t);
	mfs_dht_tokens_free(NULL);
}

Test(dht_token, a_token_outlives_one_rotation_and_not_two)
{
	struct mfs_dht_tokens *t = NULL, *u = NULL;
	struct sockaddr_in a = v4("198.51.100.1", 1);
	uint8_t tok[MFS_DHT_TOKEN_BYTES], tok2[MFS_DHT_TOKEN_BYTES];

	cr_assert_eq(mfs_crypto_init(), 0);
	cr_assert_eq(mfs_dht_tokens_new(&t, 1000), 0);
	cr_assert_eq(mfs_dht_token_make(tok, t, SA(a), target), 0);
	mfs_dht_tokens_tick(t, 1000 + MFS_DHT_TOKEN_ROTATE - 1);
	cr_assert_eq(mfs_dht_token_make(tok2, t, SA(a), target), 0);
	cr_assert_arr_eq(tok2, tok, sizeof tok, "no rotation before its time");
	mfs_dht_tokens_tick(t, 1000 + MFS_DHT_TOKEN_ROTATE);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok, sizeof tok), 0,
		     "the previous secret still counts");
	cr_assert_eq(mfs_dht_token_make(tok2, t, SA(a), target), 0);
	cr_assert(memcmp(tok2, tok, sizeof tok) != 0, "a new secret, a new token");
	mfs_dht_tokens_tick(t, 500); /* a clock going back changes nothing */
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok, sizeof tok), 0);
	mfs_dht_tokens_tick(t, 1000 + 2 * MFS_DHT_TOKEN_ROTATE);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok, sizeof tok), MFS_E_AUTH,
		     "two rotations: too old");
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok2, sizeof tok2), 0);
	/* After a long silence both secrets are new at once. */
	mfs_dht_tokens_tick(t, 1000 + 10 * MFS_DHT_TOKEN_ROTATE);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok2, sizeof tok2), MFS_E_AUTH);
	/* Another node's secrets make other tokens. */
	cr_assert_eq(mfs_dht_tokens_new(&u, 1000), 0);
	cr_assert_eq(mfs_dht_token_make(tok2, u, SA(a), target), 0);
	cr_assert_eq(mfs_dht_token_check(t, SA(a), target, tok2, sizeof tok2), MFS_E_AUTH);
	mfs_dht_tokens_free(u);
	mfs_dht_tokens_free(t);
}
