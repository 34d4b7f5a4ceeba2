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
	pid=$(mount_pid "$mnt")
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

# A relative mount point with a space, options after it: umount still
# waits for the wipe.
mkdir -p "$T/with space"
(cd "$T" && megafs mount "$link" "with space" -o ro) || fail "mount of a relative path"
MOUNTS+=("$T/with space")
grep -q 'megafs:[0-9]* .*with\\040space fuse.megafs ro' /proc/mounts || fail "source names the pid"
(cd / && megafs umount "$T/with space") || fail "umount"
ls "$MEGAFS_STORE"/session-* >/dev/null 2>&1 && fail "umount returned before the wipe"
ok "umount of a relative mount point with a space and options: returns after the wipe"

# Ctrl-C in the foreground: a clean unmount, exit status 0.
mkdir -p "$T/fg"
"$MEGAFS" mount "$link" "$T/fg" -f >/dev/null 2>&1 &
fg=$!
MOUNTS+=("$T/fg")
for _ in $(seq 1 50); do mountpoint -q "$T/fg" 2>/dev/null && break; sleep 0.1; done
kill -INT "$fg"
for _ in $(seq 1 100); do kill -0 "$fg" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$fg" 2>/dev/null; then
	kill -9 "$fg"
	fusermount3 -u "$T/fg"
	fail "Ctrl-C did not end the mount within 10 s"
fi
wait "$fg" || fail "Ctrl-C: exit status $?"
mountpoint -q "$T/fg" && fail "still mounted after Ctrl-C"
ls "$MEGAFS_STORE"/session-* >/dev/null 2>&1 && fail "Ctrl-C left the session cache"
ok "Ctrl-C in the foreground: unmounted, wiped, exit status 0"

for where in "$MEGAFS_STORE" /tmp; do
	if grep -rqaF -- "$marker" "$where" 2>/dev/null; then fail "the marker is in $where"; fi
	if grep -rqaF -- "${marker:4:16}" "$where" 2>/dev/null; then fail "part of it is in $where"; fi
done
ok "no plaintext marker anywhere under the store directory or /tmp"
finish
