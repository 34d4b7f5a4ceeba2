/* fs/fuse/bdi: a mount's device found in mountinfo text. */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/mfs_error.h"
#include "fs/fuse/bdi.h"

static const char *const INFO =
	"22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
	"40 22 0:35 / /mnt/a rw,nosuid,nodev,relatime shared:20 master:3 - fuse.megafs megafs:41 "
	"rw,user_id=0,group_id=0\n"
	"41 22 0:39 / /mnt/with\\040space rw,relatime - fuse megafs:4242 rw,user_id=0\n";

Test(bdi, the_mount_with_the_source_gives_its_device)
{
	char dev[32];

	cr_assert_eq(mfs_bdi_device_of(INFO, "megafs:4242", dev, sizeof dev), 0);
	cr_assert_str_eq(dev, "0:39");
	/* Optional fields (shared:, master:) before " - " are skipped. */
	cr_assert_eq(mfs_bdi_device_of(INFO, "megafs:41", dev, sizeof dev), 0);
	cr_assert_str_eq(dev, "0:35");
}

Test(bdi, a_source_is_matched_whole_and_only_past_the_separator)
{
	char dev[32];

	cr_assert_eq(mfs_bdi_device_of(INFO, "megafs:424", dev, sizeof dev), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_bdi_device_of(INFO, "megafs:42420", dev, sizeof dev), MFS_E_NOTFOUND);
	/* "ext4" is a field before the source, not the source. */
	cr_assert_eq(mfs_bdi_device_of(INFO, "ext4", dev, sizeof dev), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_bdi_device_of("", "megafs:1", dev, sizeof dev), MFS_E_NOTFOUND);
	cr_assert_eq(mfs_bdi_device_of("40 22 0:35 / /m rw\n", "megafs:1", dev, sizeof dev),
		     MFS_E_NOTFOUND);
}

Test(bdi, a_line_without_a_device_or_too_long_a_one_is_refused)
{
	char dev[4];

	cr_assert_eq(mfs_bdi_device_of("40 22 nodevice / /m rw - fuse megafs:1 rw", "megafs:1", dev,
				       sizeof dev), MFS_E_FORMAT);
	cr_assert_eq(mfs_bdi_device_of(INFO, "megafs:4242", dev, sizeof dev), MFS_E_FORMAT);
}

Test(bdi, no_such_mount_is_not_found_and_nothing_written)
{
	cr_assert_eq(mfs_bdi_raise_readahead("megafs:no-such-mount", 1024), MFS_E_NOTFOUND);
}
