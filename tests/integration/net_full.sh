#!/usr/bin/env bash
# A subscriber whose store and download sit on a small filesystem that a
# `megafs fetch` fills up (a real tracker, seeder and subscriber, separate
# processes on 127.0.0.1). Twice: on tmpfs, where fetch reserves the file's
# room first and fails before it downloads, and on ext2 (a loop device),
# which cannot reserve, so the disk fills up during the download. Each time:
# a clear error, no partial file, the store unchanged (status before ==
# after), the disk's free space given back, the file fetched before still
# identical; and a later fetch to a disk with room works. Needs root (mount).
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "net_full.sh mounts a tmpfs and an ext2 image: it needs root"

PUB="$T/pub"
MEGAFS_STORE=$PUB megafs init --size 96M --kdf fast >/dev/null
link=$(MEGAFS_STORE=$PUB megafs channel new "Full")
random_file "$T/big.bin" $((24 * 1024 * 1024 + 123))
random_file "$T/small.bin" 300000

start_tracker "$T/tracker-db"
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-mnt" --tracker "$TRACKER_URL" \
	--listen 127.0.0.1:0
cp "$T/big.bin" "$T/small.bin" "$T/pub-mnt/"
# A first subscriber hands the manifest to the tracker; then the publisher's
# store is served by megafs serve (its tracker remembered).
MEGAFS_STORE=$T/first megafs init --size 16M --kdf fast >/dev/null
MEGAFS_STORE=$T/first megafs fetch "$link" small.bin -o "$T/first-small" \
	--tracker "$TRACKER_URL" 2>/dev/null || fail "the first fetch"
MEGAFS_STORE=$PUB megafs umount "$T/pub-mnt"
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 >"$T/serve.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "serving" "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
ok "a tracker, a seeder (megafs serve) of a 24 MiB file"

# free_bytes DIR: the bytes free on DIR's filesystem.
free_bytes() { df -B1 --output=avail "$1" | tail -1 | tr -d ' '; }

# fill_up DIR WANT: a subscriber's store on the small filesystem at DIR
# fetches small.bin (it fits), then big.bin (it does not): the error must
# say WANT, and nothing may change.
fill_up() {
	local dir=$1 want=$2 sub=$1/store out status free
	MEGAFS_STORE=$sub megafs init --size 16M --kdf fast >/dev/null
	MEGAFS_STORE=$sub megafs fetch "$link" small.bin -o "$dir/small.bin" \
		--tracker "$TRACKER_URL" 2>"$T/err" || fail "small.bin into $dir: $(cat "$T/err")"
	cmp "$T/small.bin" "$dir/small.bin" || fail "small.bin differs"
	status=$(MEGAFS_STORE=$sub megafs status)
	free=$(free_bytes "$dir")
	[ "$free" -lt $((24 * 1024 * 1024)) ] || fail "$dir has $free bytes free: big.bin fits"
	out=$(MEGAFS_STORE=$sub megafs fetch "$link" big.bin -o "$dir/big.bin" 2>&1) &&
		fail "a 24 MiB file fit in $free bytes"
	grep -qF "$want" <<<"$out" || fail "the full disk said '$out', not '$want'"
	grep -qF "No space left on device" <<<"$out" || fail "the error does not say why: $out"
	grep -qF "give -o a path on a disk with room" <<<"$out" || fail "the error says no remedy: $out"
	echo "   error shown: $(grep -F "$want" <<<"$out")"
	[ ! -e "$dir/big.bin" ] && [ ! -e "$dir/big.bin.part" ] || fail "a partial file is left: $(ls -l "$dir")"
	[ "$(free_bytes "$dir")" = "$free" ] || fail "free space $free before, $(free_bytes "$dir") after"
	[ "$(MEGAFS_STORE=$sub megafs status)" = "$status" ] || fail "the store changed: $status"
	cmp "$T/small.bin" "$dir/small.bin" || fail "small.bin after the failure"
	MEGAFS_STORE=$sub megafs fsck >/dev/null || fail "fsck of the store after the failure"
	# The same store fetches to a disk with room.
	MEGAFS_STORE=$sub megafs fetch "$link" big.bin -o "$T/got.bin" 2>"$T/err" ||
		fail "a fetch to a disk with room after the failure: $(cat "$T/err")"
	cmp "$T/big.bin" "$T/got.bin" || fail "big.bin fetched after the failure differs"
	rm -f "$T/got.bin"
}

mkdir "$T/tmpfs"
mount -t tmpfs -o size=32m tmpfs "$T/tmpfs" || fail "cannot mount a tmpfs"
UMOUNTS+=("$T/tmpfs")
fill_up "$T/tmpfs" "no room for $T/tmpfs/big.bin: the file is 24.0 MiB and its disk has"
ok "tmpfs of 32 MiB: the fetch reserves its room first and fails at once, clearly; nothing kept, the store and free space unchanged, small.bin identical; the same store fetches big.bin to a disk with room"

mkdir "$T/ext2"
truncate -s 40M "$T/ext2.img"
mkfs.ext2 -q -F "$T/ext2.img" || fail "mkfs.ext2"
mount -o loop "$T/ext2.img" "$T/ext2" || fail "cannot mount an ext2 image (loop devices?)"
UMOUNTS+=("$T/ext2")
fill_up "$T/ext2" "the disk of $T/ext2/big.bin filled up after"
ok "ext2 of 40 MiB (no reservation): the disk filled up during the fetch; a clear error, the partial file removed, free space given back, the store unchanged, small.bin identical; the same store fetches big.bin to a disk with room"
finish
