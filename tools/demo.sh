#!/usr/bin/env bash
# The network, for real, on this machine: a tracker, a publisher and a
# subscriber, each its own process with its own store, over 127.0.0.1.
# The publisher makes a channel, mounts it and cp's a video in (encrypted,
# stored, signed, published to the tracker); the subscriber mounts the
# same link, ffprobe reads the video there and ffmpeg seeks into it (blobs
# fetched from the publisher on demand); a second file and a magnet link
# cp'd on the publisher appear on the subscriber live. At the end: what the
# tracker holds on disk (its stored manifest), and whether a file name is
# readable in it.
#
#   tools/demo.sh [path/to/megafs]
#
# With a binary given (ctest does) nothing is installed or built. On a
# terminal the mounts stay up until Ctrl-C, which unmounts them and wipes
# their session caches; otherwise (CI) it exits after the checks.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ge 1 ]; then
	megafs=$(readlink -f "$1")
else
	tools/deps.sh
	[ -x build/megafs ] || tools/build.sh build
	megafs=$PWD/build/megafs
fi
start_time=$(date +%s)
work=$(mktemp -d /var/tmp/megafs-demo-XXXXXX)
export MEGAFS_PASSWORD="demo password (throwaway)"
unset MEGAFS_STORE MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD
pub_store=$work/publisher-store sub_store=$work/subscriber-store
pub=$work/publisher sub=$work/subscriber
tracker_pid=

cleanup() {
	trap - EXIT INT TERM
	for m in "$sub" "$pub"; do
		mountpoint -q "$m" 2>/dev/null && "$megafs" umount "$m"
	done
	if [ -n "$tracker_pid" ]; then
		kill "$tracker_pid" 2>/dev/null || true
		wait "$tracker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
	echo "unmounted; session caches wiped; tracker stopped; $work deleted"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}
# as_pub / as_sub CMD...: megafs on the publisher's or the subscriber's store.
as_pub() { MEGAFS_STORE=$pub_store "$megafs" "$@"; }
as_sub() { MEGAFS_STORE=$sub_store "$megafs" "$@"; }
# wait_for SECONDS CMD...: retries CMD every 0.1 s.
wait_for() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

step "1. Two throwaway stores (publisher, subscriber): 128 MiB of random-looking slots each"
as_pub init --size 128M --kdf interactive
as_sub init --size 128M --kdf interactive

step "2. A tracker on 127.0.0.1 (its own process; it stores only signed manifests)"
"$megafs" tracker --listen 127.0.0.1:0 --db "$work/tracker-db" >"$work/tracker.log" 2>&1 &
tracker_pid=$!
wait_for 10 grep -q "listening on ws://" "$work/tracker.log" ||
	die "the tracker did not start: $(cat "$work/tracker.log")"
tracker=$(sed -n 's/^megafs tracker: listening on \(ws:[^ ]*\).*/\1/p' "$work/tracker.log")
echo "tracker at $tracker (pid $tracker_pid)"

step "3. The publisher makes a channel: the link is all a subscriber needs"
link=$(as_pub channel new "Demo films")
echo "$link"

step "4. A sample video, made with ffmpeg (30 s, 720p, H.264 at 3 Mbit/s + AAC), and a short second one"
ffmpeg -v error -f lavfi -i "testsrc2=duration=30:size=1280x720:rate=25" \
	-f lavfi -i "sine=frequency=440:duration=30" -c:v libx264 -preset ultrafast \
	-b:v 3M -maxrate 3M -bufsize 6M -x264-params nal-hrd=cbr -g 50 \
	-c:a aac -shortest -y "$work/sample.mp4"
ffmpeg -v error -f lavfi -i "testsrc2=duration=5:size=640x360:rate=25" -c:v libx264 \
	-preset ultrafast -y "$work/trailer.mp4"
ls -l "$work/sample.mp4" "$work/trailer.mp4"

step "5. The publisher mounts it (it owns it: read-write), serves its blobs, cp's the video in"
mkdir -p "$pub" "$sub"
as_pub mount "$link" "$pub" --tracker "$tracker" --listen 127.0.0.1:0
cp "$work/sample.mp4" "$pub/"
ls -l "$pub"
as_pub channel list

step "6. The subscriber (another store, another process) mounts the same link"
as_sub mount "$link" "$sub" --tracker "$tracker"
wait_for 15 test -e "$sub/sample.mp4" || die "the subscriber never saw sample.mp4"
ls -l "$sub"
if touch "$sub/new" 2>/dev/null; then
	die "the subscriber's mount accepted a write: this is a bug"
fi
echo "the subscriber's writes are refused: $(touch "$sub/new" 2>&1 | sed 's/.*: //')"

step "7. Any program reads it there: ffprobe, a seek to 90% and a decode (blobs fetched on demand)"
ffprobe -v error -show_entries format=duration,bit_rate:stream=codec_name,width,height \
	-of compact "$sub/sample.mp4"
time ffmpeg -v error -ss 27 -i "$sub/sample.mp4" -frames:v 5 -f null -
cmp "$work/sample.mp4" "$sub/sample.mp4"
echo "byte-identical through the subscriber's mount"

step "8. Live: a second file and a magnet link cp'd on the publisher appear on the subscriber"
magnet="magnet:?xt=urn:btih:dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c&dn=Big+Buck+Bunny"
begin=$(date +%s%N)
cp "$work/trailer.mp4" "$pub/"
echo "$magnet" >"$pub/Big Buck Bunny.magnet"
wait_for 15 test -e "$sub/Big Buck Bunny.magnet" -a -e "$sub/trailer.mp4" ||
	die "the new files never reached the subscriber: $(ls "$sub")"
echo "appeared on the subscriber $((($(date +%s%N) - begin) / 1000000)) ms after the cp, no remount"
cmp "$work/trailer.mp4" "$sub/trailer.mp4"
echo "trailer.mp4 byte-identical; Big Buck Bunny.magnet holds: $(cat "$sub/Big Buck Bunny.magnet")"
ls -l "$sub"

step "9. No plaintext on disk: neither store, nor the tracker's database"
# A long string from the video itself (its encoder tag): four bytes would
# turn up in a store of random bytes by chance.
probe=$(strings -n 12 "$work/sample.mp4" | head -1)
for d in "$pub_store" "$sub_store" "$work/tracker-db"; do
	if grep -rqaF -- "$probe" "$d"; then
		die "plaintext of the video found under $d: this is a bug"
	fi
done
echo "no plaintext of the video (e.g. \"$probe\") under either store or the tracker's database"

step "10. What the tracker holds: its database file, as whoever seizes or runs it reads it"
db_file=$work/tracker-db/data.mdb
[ -f "$db_file" ] || die "no tracker database at $db_file"
# The newest manifest: the stored JSON with the highest sequence (older
# ones may linger in LMDB's free pages: they are the tracker's too).
manifest=$(strings -n 64 "$db_file" | grep -F '"signature"' |
	awk '{ s = $0; sub(/.*"sequence":/, "", s); sub(/[^0-9].*/, "", s); print s "\t" $0 }' |
	sort -n | tail -1 | cut -f2-)
[ -n "$manifest" ] || die "no manifest in the tracker's database"
echo "its stored manifest (${#manifest} bytes; first 700 shown):"
printf '%s\n' "${manifest:0:700}" | fold -w 100
printf '...\n\n'
# The names as the manifest spells them (a magnet link's dn is URL-encoded).
for name in sample.mp4 trailer.mp4 "Big+Buck+Bunny"; do
	if grep -qaF -- "$name" "$db_file"; then
		echo "\"$name\": VISIBLE to the tracker (the manifest is in the clear: names, sizes, chunk keys)"
		# A private channel (its link carries a read key) must not show one.
		[[ $link != *#* ]] || die "a private channel's file name reached the tracker"
	else
		echo "\"$name\": not visible to the tracker"
	fi
done

step "Done in $(($(date +%s) - start_time)) s"
cat <<MSG
Running now: the tracker (pid $tracker_pid, $tracker) and two mounts:
  $pub      publisher, read-write (cp, mkdir, mv, rm publish new signed manifests)
  $sub     subscriber, read-only, another store
Try: mpv "$sub/sample.mp4"
     cp some-file "$pub/" && ls "$sub"     # appears there within a second
MSG
if [ -t 0 ] && [ -t 1 ]; then
	echo "Press Ctrl-C to unmount, wipe the session caches, stop the tracker and delete it all."
	while :; do sleep 3600; done
fi
