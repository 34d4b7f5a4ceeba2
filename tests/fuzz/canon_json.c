/* canon_json: mfs_cjson_parse on any bytes. Whatever it accepts must
 * re-encode to exactly the bytes given (that is what makes a signature over
 * them mean something). */
#include <stdlib.h>
#include <string.h>

#include "crypto/canon_json.h"
#include "crypto/secure.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *json = NULL;
	char why[128];
	char *again = NULL;
	size_t again_len;

	if (mfs_crypto_init() != 0)
		abort();
	if (mfs_cjson_parse(&json, (const char *)data, size, why, sizeof why) != 0)
		return 0;
	if (mfs_cjson_encode(&again, &again_len, json) != 0 || again_len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	json_decref(json);
	return 0;
}
