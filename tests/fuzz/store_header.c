/* store_header: a store directory's 80-byte header file, decoded by
 * fs/store/store.c's header_decode (this file includes store.c, as
 * wireguard-tools' harnesses include their parser, so nothing new is made
 * public). The header ends with a checksum of the rest, so each input is
 * decoded twice: as it is, and with its checksum made right, which lets
 * the fuzzer reach the field checks. A header that decodes must encode
 * back to the same 80 bytes. */
#include "fs/store/store.c"

#include "tests/fuzz/fuzz.h"

static void decode(const uint8_t in[static HEADER_BYTES])
{
	struct mfs_store_header h;
	uint8_t again[HEADER_BYTES];

	if (header_decode(&h, in) != 0)
		return;
	if (h.version != STORE_VERSION || h.slot_bytes != MFS_SLOT_BYTES || h.slot_count == 0)
		abort();
	header_encode(again, &h);
	if (memcmp(again, in, HEADER_BYTES) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t in[HEADER_BYTES], sum[MFS_BLOB_ID_BYTES];

	if (mfs_crypto_init() != 0)
		abort();
	/* read_header refuses any other size before decoding; bytes past the
	 * header are ignored here so that the fuzzer need not keep the size. */
	if (size < HEADER_BYTES)
		return 0;
	memcpy(in, data, HEADER_BYTES);
	decode(in);
	mfs_hash32(sum, in, HEADER_BYTES - HEADER_SUM_BYTES);
	memcpy(in + HEADER_BYTES - HEADER_SUM_BYTES, sum, HEADER_SUM_BYTES);
	decode(in);
	return 0;
}
