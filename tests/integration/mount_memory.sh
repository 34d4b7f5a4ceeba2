# Memory stays bounded whatever the file size: read a 2 GiB file end to end
# through the mount and watch the mount's resident set.
source "$(dirname "$0")/lib.sh"

bound_mib=${MFS_RSS_BOUND_MIB:-128}
megafs init --size 2300M --kdf fast >/dev/null
link=$(megafs channel new "Memory")
mnt="$T/mnt"
mount_channel "$link" "$mnt"
head -c $((2048 << 20)) /dev/urandom >"$T/2g"
cp "$T/2g" "$mnt/2g.bin"
unmount "$mnt"
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
mount_channel "$link" "$mnt"
pid=$(mount_pid "$mnt")
peak=0
cmp "$mnt/2g.bin" "$T/2g" &
reader=$!
while kill -0 "$reader" 2>/dev/null; do
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	[ "${rss:-0}" -gt "$peak" ] && peak=$rss
	sleep 0.1
done
wait "$reader" || fail "the 2 GiB file differs"
anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
echo "   mount RSS peak while reading 2 GiB: $((peak / 1024)) MiB (bound ${bound_mib} MiB; RssAnon now $((anon / 1024)) MiB)"
[ $((peak / 1024)) -lt "$bound_mib" ] || fail "RSS peaked at $((peak / 1024)) MiB"
ok "reading 2 GiB end to end: RSS peak $((peak / 1024)) MiB < ${bound_mib} MiB"
unmount "$mnt"
finish
