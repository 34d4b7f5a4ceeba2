/* dht_table: mfs_dht_table_load on any bytes (a routing table saved in
 * the volume). What it accepts must save, and that saving must load and
 * save again to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "net/dht_table.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[MFS_DHT_TABLE_SAVE_MAX], twice[MFS_DHT_TABLE_SAVE_MAX];
	struct mfs_dht_table *t, *t2;
	size_t len, len2;
	char why[100];

	if (mfs_dht_table_load(&t, data, size, 0, why, sizeof why) != 0)
		return 0;
	if (mfs_dht_table_save(t, once, sizeof once, &len) != 0 ||
	    mfs_dht_table_load(&t2, once, len, 0, why, sizeof why) != 0 ||
	    mfs_dht_table_save(t2, twice, sizeof twice, &len2) != 0 || len != len2 ||
	    memcmp(once, twice, len) != 0)
		abort();
	mfs_dht_table_free(t);
	mfs_dht_table_free(t2);
	return 0;
}
