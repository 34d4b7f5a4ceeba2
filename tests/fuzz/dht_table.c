/* dht_table: mfs_dht_table_load on any bytes (a routing table saved in
 * the volume, MDT2 or the older MDT1). What it accepts must save (as
 * MDT2, with the port it read), and that saving must load with the same
 * port and save again to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "net/dht_table.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[MFS_DHT_TABLE_SAVE_MAX], twice[MFS_DHT_TABLE_SAVE_MAX];
	struct mfs_dht_table *t, *t2;
	size_t len, len2;
	uint16_t port, port2;
	char why[100];

	if (mfs_dht_table_load(&t, &port, data, size, 0, why, sizeof why) != 0)
		return 0;
	if (mfs_dht_table_save(t, port, once, sizeof once, &len) != 0 ||
	    mfs_dht_table_load(&t2, &port2, once, len, 0, why, sizeof why) != 0 ||
	    port2 != port || mfs_dht_table_save(t2, port2, twice, sizeof twice, &len2) != 0 ||
	    len != len2 || memcmp(once, twice, len) != 0)
		abort();
	mfs_dht_table_free(t);
	mfs_dht_table_free(t2);
	return 0;
}
