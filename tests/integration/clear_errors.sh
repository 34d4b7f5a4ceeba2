# Errors that say what is wrong and what to do, not what a lower layer
# thought ("malformed input", fusermount3's "Invalid argument"); and the
# honest user, with the right input, still served.
source "$(dirname "$0")/lib.sh"
trap 'umount "$T/tmpfs" 2>/dev/null || true; cleanup' EXIT

hidden_pw="hidden password"
megafs init --size 64M --kdf fast >/dev/null
MEGAFS_NEW_PASSWORD=$hidden_pw megafs init --hidden >/dev/null
link=$(megafs channel new "Outer")

# expect_fail_not "message part" "must not say" cmd...
expect_fail_not() {
	local want=$1 not=$2 out
	shift 2
	if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
	grep -qF -- "$want" <<<"$out" || fail "'$*' said '$out', expected '$want'"
	grep -qF -- "$not" <<<"$out" && fail "'$*' still says '$not': $out"
	echo "   error shown: $(head -1 <<<"$out")"
}

printf '%s\n' "$MEGAFS_PASSWORD" >"$T/same.pw"
expect_fail_not "the protect password is the password itself" "malformed input" \
	megafs status --protect-file "$T/same.pw"
MEGAFS_PROTECT_PASSWORD=$MEGAFS_PASSWORD expect_fail_not \
	"give the other volume's password as the protect password" "malformed input" megafs status
mkdir -p "$T/mnt"
expect_fail_not "the protect password is the password itself" "malformed input" \
	megafs mount "$link" "$T/mnt" --protect-file "$T/same.pw"
mountpoint -q "$T/mnt" && fail "a refused mount is mounted"
MEGAFS_PROTECT_PASSWORD="not a password" expect_fail_not \
	"the password opens a volume, but the protect password opens none" "malformed input" \
	megafs status
MEGAFS_PASSWORD="not a password" MEGAFS_PROTECT_PASSWORD=$hidden_pw expect_fail \
	"wrong password: no volume in this store opens with it" megafs status
MEGAFS_PROTECT_PASSWORD=$hidden_pw megafs status >"$T/status" || fail "the right protect password"
grep -q "^protected " "$T/status" || fail "status with protection: $(cat "$T/status")"
ok "protect password: the same as the password, or opening nothing, says so; the other volume's works"

mkdir -p "$T/plain"
expect_fail_not "$T/plain is not a megafs mount: nothing is mounted there" "Invalid argument" \
	megafs umount "$T/plain"
expect_fail "No such file or directory" megafs umount "$T/nowhere"
mkdir -p "$T/tmpfs"
if mount -t tmpfs -o size=1M megafs-test "$T/tmpfs" 2>/dev/null; then
	expect_fail_not "is not a megafs mount (it is a tmpfs mount)" "Invalid argument" \
		megafs umount "$T/tmpfs"
	mountpoint -q "$T/tmpfs" || fail "megafs umount unmounted a tmpfs"
	umount "$T/tmpfs"
	ok "umount of a directory that is no mount, or another filesystem's: says so, touches nothing"
else
	ok "umount of a directory that is no mount: says so (no tmpfs here to try another type)"
fi

mount_channel "$link" "$T/mnt"
(cd "$T" && megafs umount mnt/) || fail "umount of a relative path with a slash"
mountpoint -q "$T/mnt" && fail "still mounted"
touch "$T/file"
expect_fail_not "the mount point $T/file is not a directory" "cannot mount" \
	megafs mount "$link" "$T/file"
mount_channel "$link" "$T/mnt"
expect_fail "$T/mnt is a megafs mount already (megafs umount $T/mnt first)" \
	megafs mount "$link" "$T/mnt"
[ "$(grep -c " $T/mnt " /proc/self/mountinfo)" = 1 ] || fail "a second mount on $T/mnt"
ok "mount on a file, or on a mount already there: says so before asking for anything"
(cd "$T/mnt" && exec sleep 60) &
busy=$!
PIDS+=("$busy")
sleep 0.3
expect_fail_not "$T/mnt is busy: a program has a file open there or its working directory in it" \
	"fusermount3 -u" megafs umount "$T/mnt"
mountpoint -q "$T/mnt" || fail "a busy mount was unmounted"
kill "$busy"
wait "$busy" 2>/dev/null || true
megafs umount "$T/mnt" || fail "umount once nothing is busy"
ok "umount of a busy mount says who to look for; once free, it unmounts"
mount_channel "$link" "$T/mnt"
kill -9 "$(mount_pid "$T/mnt")"
wait_for 5 sh -c "! stat '$T/mnt' >/dev/null 2>&1" || fail "the dead mount still answers"
expect_fail "$T/mnt is a mount whose process died (megafs umount $T/mnt first)" \
	megafs mount "$link" "$T/mnt"
megafs umount "$T/mnt" || fail "megafs umount of a mount whose process died"
mountpoint -q "$T/mnt" && fail "the dead mount is still mounted"
mount_channel "$link" "$T/mnt"
unmount "$T/mnt"
ok "umount of a live mount (relative path) and of one whose process died; mounting again works"
finish
