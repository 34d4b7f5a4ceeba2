# Unmounting wipes the session: no cache file remains, and no plaintext of
# the files ever reaches the store directory or /tmp.
source "$(dirname "$0")/lib.sh"

# Made at run time, random: no file (this script included) holds it unless
# the mount leaked it.
marker="MFS-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-MARK"
megafs init --size 256M --kdf fast >/dev/null
link=$(megafs channel new "Wipe")
{
	for i in $(seq 1 20000); do echo "$marker $i"; done
	head -c 3000000 /dev/urandom
} >"$T/marked.txt"

for how in fusermount3 megafs-umount sigterm; do
	mnt="$T/mnt-$how"
	mount_channel "$link" "$mnt"
	ls "$MEGAFS_STORE"/session-*.mdb >/dev/null 2>&1 || fail "no session cache while mounted"
	cp "$T/marked.txt" "$mnt/marked-$how.txt"
	cmp "$T/marked.txt" "$mnt/marked-$how.txt" || fail "read back"
	grep -c "$marker" "$mnt/marked-$how.txt" >/dev/null || fail "grep through the mount"
	pid=$(pgrep -f "megafs mount $link $mnt" | head -1)
	case $how in
	fusermount3) fusermount3 -u "$mnt" ;;
	megafs-umount) megafs umount "$mnt" ;;
	sigterm) kill -TERM "$pid" ;;
	esac
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "the mount process did not exit ($how)"
	mountpoint -q "$mnt" && fail "still mounted after $how"
	if ls "$MEGAFS_STORE"/session-* >/dev/null 2>&1; then
		fail "a session cache file survived $how: $(ls "$MEGAFS_STORE")"
	fi
	ok "unmount by $how: the process exits and the session cache file is gone"
done

for where in "$MEGAFS_STORE" /tmp; do
	if grep -rqaF -- "$marker" "$where" 2>/dev/null; then fail "the marker is in $where"; fi
	if grep -rqaF -- "${marker:4:16}" "$where" 2>/dev/null; then fail "part of it is in $where"; fi
done
ok "no plaintext marker anywhere under the store directory or /tmp"
finish
