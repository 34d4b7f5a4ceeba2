/* dht_pointer: a channel's DHT pointer (net/dht_channel) as it comes from
 * the DHT, under fixed keys. Input byte 0 chooses: even, the rest is a v
 * to open (form checks and the AEAD: nothing opens but by chance); odd,
 * the rest is a pointer's plain text that is sealed here first, so the
 * checks after opening (version, length) see any bytes. A pointer that
 * opens must seal back to a v that opens the same. The same bytes are
 * also opened as a manifest blob under the pointer's key. */
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/le.h"
#include "crypto/secure.h"
#include "net/dht_channel.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[32] = {1, 2, 3}, pk[32] = {9, 8, 7}, nonce[24] = {5};
	uint8_t v[MFS_DHT_POINTER_V_BYTES], plain[MFS_DHT_POINTER_PLAIN_BYTES] = {0}, ad[40];
	struct mfs_dht_channel_keys k;
	struct mfs_dht_pointer p, back;
	const uint8_t *in = data;
	size_t len = size;
	char *json = NULL;
	size_t json_len;

	if (mfs_crypto_init() != 0)
		abort();
	mfs_dht_channel_derive(&k, secret, pk);
	if (size > 0 && (data[0] & 1)) {
		memcpy(plain, data + 1, size - 1 < sizeof plain ? size - 1 : sizeof plain);
		memcpy(ad, pk, 32);
		mfs_le_put(ad + 32, 3, 8);
		memcpy(v, "113:", 4);
		memcpy(v + 4, nonce, 24);
		mfs_aead_seal(v + 28, plain, sizeof plain, ad, sizeof ad, nonce, k.seal_key);
		in = v;
		len = sizeof v;
	} else if (size > 0) {
		in = data + 1;
		len = size - 1;
	}
	if (mfs_dht_pointer_open(&p, in, len, &k, pk, 3) == 0) {
		if (p.length <= MFS_AEAD_TAG_BYTES ||
		    p.length > MFS_DHT_MANIFEST_MAX + MFS_AEAD_TAG_BYTES)
			abort();
		mfs_dht_pointer_seal(v, &p, &k, pk, 3, nonce);
		if (mfs_dht_pointer_open(&back, v, sizeof v, &k, pk, 3) != 0 ||
		    memcmp(&back, &p, sizeof p) != 0)
			abort();
		p.length = size;
		if (mfs_dht_manifest_open(&json, &json_len, data, size, &p) == 0 &&
		    (json_len + MFS_AEAD_TAG_BYTES != size || json[json_len] != '\0'))
			abort();
		free(json);
	}
	return 0;
}
