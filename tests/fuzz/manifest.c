/* manifest: mfs_manifest_verify on any bytes, for any channel and for one
 * fixed key (the golden vector's), with no sequence seen and with one. An
 * accepted manifest must carry a sequence newer than the last one seen and,
 * when a key was expected, that key. */
#include <stdlib.h>
#include <string.h>

#include "crypto/manifest.h"
#include "crypto/secure.h"
#include "tests/fuzz/fuzz.h"

/* tests/vectors/manifest.json's publicKey. */
static const char golden_pk[] =
	"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";

static void verify(const uint8_t *data, size_t size, const uint8_t *pk, uint64_t last)
{
	struct mfs_manifest m;
	char why[160];

	if (mfs_manifest_verify(&m, (const char *)data, size, pk, last, why, sizeof why) != 0)
		return;
	if (m.sequence <= last || m.sequence == 0 || !m.root || !m.collections ||
	    (pk && memcmp(m.public_key, pk, MFS_SIGN_PK_BYTES) != 0))
		abort();
	mfs_manifest_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pk[MFS_SIGN_PK_BYTES];

	if (mfs_crypto_init() != 0 || mfs_hex_decode(pk, sizeof pk, golden_pk) != 0)
		abort();
	verify(data, size, NULL, 0);
	verify(data, size, pk, 1);
	return 0;
}
