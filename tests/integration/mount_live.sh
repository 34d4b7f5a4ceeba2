# Live updates: a manifest stored by another process shows in a mounted
# tree without a remount, within a second or so.
source "$(dirname "$0")/lib.sh"

megafs init --size 256M --kdf fast >/dev/null
link=$(megafs channel new "Live")
rw="$T/rw"
ro="$T/ro"
mount_channel "$link" "$rw"
mount_channel "$link" "$ro" -o ro
ls "$ro" >/dev/null
random_file "$T/x" 3000000

# wait_for PATH: up to 5 s; prints how long it took.
wait_for() {
	local start=$(date +%s%N)
	for _ in $(seq 1 100); do
		if [ -e "$1" ]; then
			echo "$(( ($(date +%s%N) - start) / 1000000 )) ms"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

cp "$T/x" "$rw/x.bin"
took=$(wait_for "$ro/x.bin") || fail "the other mount never showed x.bin"
cmp "$T/x" "$ro/x.bin" || fail "read through the other mount"
ok "a file published by one mount shows in another without a remount ($took)"

mkdir "$rw/New dir"
took=$(wait_for "$ro/New dir") || fail "mkdir not seen"
rm "$rw/x.bin"
for _ in $(seq 1 100); do [ -e "$ro/x.bin" ] || break; sleep 0.05; done
[ -e "$ro/x.bin" ] && fail "rm not seen"
ok "mkdir ($took) and rm show too"

# Another store: a subscriber mounts the channel; the owner's newer manifest
# arrives by channel import (the tracker will do this in the network issue).
sub="$T/sub-store"
MEGAFS_STORE=$sub megafs init --size 64M --kdf fast >/dev/null
subm="$T/sub"
MEGAFS_STORE=$sub mount_channel "$link" "$subm" 2>/dev/null
[ "$(ls -A "$subm")" = "" ] || fail "nothing known yet"
cp "$T/x" "$rw/y.bin"
megafs channel export "$link" >"$T/m.json"
MEGAFS_STORE=$sub megafs channel import "$T/m.json" >/dev/null || fail "import"
took=$(wait_for "$subm/y.bin") || fail "import not seen by the mount"
[ "$(stat -c %s "$subm/y.bin")" = 3000000 ] || fail "size"
ok "a manifest imported into a mounted subscriber shows ($took)"
MEGAFS_STORE=$sub unmount "$subm"
unmount "$ro"
unmount "$rw"
finish
