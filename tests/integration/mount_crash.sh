# kill -9 of the mount while it reads and while cp writes: the mount point
# comes back with fusermount3 -u, the store opens, and the published state
# is the last complete manifest. The next mount sweeps the dead session cache.
source "$(dirname "$0")/lib.sh"

megafs init --size 1200M --kdf fast >/dev/null
link=$(megafs channel new "Crash")
mnt="$T/mnt"
random_file "$T/keep" $((50 << 20))
mount_channel "$link" "$mnt"
cp "$T/keep" "$mnt/keep.bin"
seq=$(sequence_of "$link")

# The read: dd through a FIFO this script drains, stopped at 10 MiB of the
# 50 until the mount is dead (a cat of the whole file can end before any
# fixed wait). A fresh mount first, so no page of the file is cached and
# the rest must come from the dead daemon.
unmount "$mnt"
mount_channel "$link" "$mnt"
pid=$(mount_pid "$mnt")
mkfifo "$T/drain"
dd if="$mnt/keep.bin" of="$T/drain" bs=1M 2>"$T/reader.err" &
reader=$!
exec 5<"$T/drain"
[ "$(head -c $((10 << 20)) <&5 | wc -c)" = $((10 << 20)) ] ||
	fail "the read stopped before the kill: $(cat "$T/reader.err")"
kill -9 "$pid"
cat <&5 >/dev/null
exec 5<&-
wait "$reader" && fail "the read went on after the mount died"
fusermount3 -u "$mnt" || fail "fusermount3 -u after kill -9 while reading"
megafs status >/dev/null || fail "the store does not open after kill -9"
[ "$(sequence_of "$link")" = "$seq" ] || fail "the manifest changed"
ok "kill -9 while reading: mount point recovered, store opens, manifest unchanged"

mount_channel "$link" "$mnt"
[ "$(ls "$MEGAFS_STORE" | grep -c '^session-.*\.mdb$')" = 1 ] \
	|| fail "the dead mount's session cache was not swept: $(ls "$MEGAFS_STORE")"
ok "the next mount sweeps the dead mount's session cache"

# One writer (dd: one descriptor, closed once; a close publishes) fed
# through a FIFO that stops halfway through the file until the mount is
# dead: a cp of the whole file can end before any fixed wait on a fast
# machine.
random_file "$T/big" $((400 << 20))
pid=$(mount_pid "$mnt")
mkfifo "$T/feed"
dd if="$T/feed" of="$mnt/big.bin" bs=1M iflag=fullblock 2>/dev/null &
writer=$!
exec 4>"$T/feed"
head -c $((200 << 20)) "$T/big" >&4
kill -9 "$pid"
tail -c +$(((200 << 20) + 1)) "$T/big" >&4 2>/dev/null || true
exec 4>&-
wait "$writer" 2>/dev/null && fail "the write survived the death of the mount"
fusermount3 -u "$mnt" || fail "fusermount3 -u after kill -9 during cp"
megafs status >/dev/null || fail "the store does not open after kill -9 during cp"
[ "$(sequence_of "$link")" = "$seq" ] || fail "a half-written file was published"
mount_channel "$link" "$mnt"
[ ! -e "$mnt/big.bin" ] || fail "the half-written file is visible"
cmp "$T/keep" "$mnt/keep.bin" || fail "the earlier file after the crash"
ok "kill -9 halfway through a write: nothing half-published, the earlier file intact"
unmount "$mnt"
finish
