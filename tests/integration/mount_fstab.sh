# /etc/fstab: mount(8) mounts a channel through mount.fuse, which runs
# "megafs LINK DIR -o OPTIONS" (store=, password_file= say what the
# environment would). Tested with an fstab of the test's own (mount -T).
source "$(dirname "$0")/lib.sh"

megafs init --size 64M --kdf fast >/dev/null
link=$(megafs channel new "Fstab")
random_file "$T/x" 100000
mnt="$T/mnt"
mount_channel "$link" "$mnt"
cp "$T/x" "$mnt/x.bin"
unmount "$mnt"
printf '%s\n' "$MEGAFS_PASSWORD" >"$T/pw"

# The form mount.fuse uses for type fuse.megafs (with megafs on root's PATH).
env -u MEGAFS_PASSWORD -u MEGAFS_STORE "$MEGAFS" "$link" "$mnt" \
	-o "store=$MEGAFS_STORE,password_file=$T/pw,noauto,nofail,x-systemd.automount"
MOUNTS+=("$mnt")
cmp "$T/x" "$mnt/x.bin" || fail "read through a mount made the way mount.fuse does"
unmount "$mnt"
ok "megafs LINK DIR -o store=...,password_file=... (mount(8)'s own options ignored)"

# A real mount(8) with an fstab line (type fuse, PROGRAM#SOURCE: mount(8)
# resets PATH, and the test installs nothing system-wide).
echo "$MEGAFS#$link $mnt fuse store=$MEGAFS_STORE,password_file=$T/pw,noauto,ro 0 0" >"$T/fstab"
env -u MEGAFS_PASSWORD -u MEGAFS_STORE mount -T "$T/fstab" "$mnt" || fail "mount -T fstab"
MOUNTS+=("$mnt")
grep -q " $mnt fuse.megafs ro," /proc/mounts || fail "not in /proc/mounts as fuse.megafs ro"
cmp "$T/x" "$mnt/x.bin" || fail "read through the fstab mount"
touch "$mnt/new" 2>/dev/null && fail "ro from fstab was not honoured"
unmount "$mnt"
ok "mount -T fstab with a megafs line: mounted read-only, readable"
finish
