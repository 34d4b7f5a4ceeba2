/* mfs-test-blob-slots: where a blob's slots sit in a store's data file, so
 * a test can damage exactly them (a disk error, played with dd on the raw
 * file). Opens the volume STORE_DIR's PASSWORD opens.
 * usage: mfs-test-blob-slots STORE_DIR PASSWORD BLOB_ID_HEX
 * Prints one byte offset into data.mdb per data slot (a slot is
 * MFS_SLOT_BYTES long), slot 0 first. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/mfs_error.h"
#include "crypto/secure.h"
#include "fs/store/blobstore.h"
#include "fs/store/store.h"
#include "fs/store/volume.h"

int main(int argc, char **argv)
{
	uint8_t id[MFS_BLOB_ID_BYTES], name[MFS_BLOB_OBJ_NAME_MAX];
	struct mfs_store *s = NULL;
	struct mfs_volume *v = NULL;
	struct mfs_vtxn *t = NULL;
	size_t len = 0;
	int rc;

	if (argc != 4 || strlen(argv[3]) != 2 * sizeof id ||
	    mfs_hex_decode(id, sizeof id, argv[3]) != 0) {
		fprintf(stderr, "usage: mfs-test-blob-slots STORE_DIR PASSWORD BLOB_ID_HEX\n");
		return 2;
	}
	rc = mfs_crypto_init();
	if (rc == 0)
		rc = mfs_store_open(&s, argv[1]);
	if (rc == 0)
		rc = mfs_volume_open(&v, s, argv[2], strlen(argv[2]), NULL, 0);
	if (rc == 0)
		rc = mfs_vtxn_begin(v, 0, &t);
	if (rc == 0)
		rc = mfs_blob_size(t, id, &len);
	for (uint32_t i = 0; rc == 0 && i < mfs_obj_slots_for(len); i++) {
		uint32_t pos;

		rc = mfs_obj_slot_position(t, name, mfs_blob_object_name(name, id), i, &pos);
		if (rc == 0)
			printf("%" PRIu64 "\n", mfs_store_slot_offset(s, pos));
	}
	if (t)
		mfs_vtxn_abort(t);
	mfs_volume_close(v);
	mfs_store_close(s);
	if (rc != 0)
		fprintf(stderr, "mfs-test-blob-slots: %s\n", mfs_strerror(rc));
	return rc == 0 ? 0 : 1;
}
