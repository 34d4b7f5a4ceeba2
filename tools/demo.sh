#!/usr/bin/env bash
# The main job on an embedded default: a throwaway store, a channel, a
# sample video copied into the owner's mount (encrypted, stored, signed,
# published), then a second, read-only mount of the same channel where
# ffprobe and a seek-and-decode read it lazily. On a terminal the mounts stay
# up until Ctrl-C, which unmounts them and wipes their session caches.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
[ -x build/megafs ] || tools/build.sh build
megafs=$PWD/build/megafs
work=$(mktemp -d /var/tmp/megafs-demo-XXXXXX)
export MEGAFS_STORE=$work/store
export MEGAFS_PASSWORD="demo password (throwaway)"
owner=$work/films
viewer=$work/films-ro

cleanup() {
	trap - EXIT INT TERM
	for m in "$viewer" "$owner"; do
		mountpoint -q "$m" 2>/dev/null && "$megafs" umount "$m"
	done
	rm -rf "$work"
	echo "unmounted; session caches wiped; $work deleted"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A throwaway store: 256 MiB of random-looking slots"
"$megafs" init --size 256M --kdf interactive

step "2. A channel: an Ed25519 key pair; the link is what you share"
link=$("$megafs" channel new "Demo films")
echo "$link"

step "3. A sample video, made with ffmpeg (60 s, 720p, H.264 + AAC)"
ffmpeg -v error -f lavfi -i "testsrc=duration=60:size=1280x720:rate=25" \
	-f lavfi -i "sine=frequency=440:duration=60" -c:v libx264 -preset ultrafast -g 50 \
	-c:a aac -shortest -y "$work/sample.mp4"
ls -l "$work/sample.mp4"

step "4. Mount the channel (you own it: read-write) and cp the video in"
mkdir -p "$owner" "$viewer"
"$megafs" mount "$link" "$owner"
cp "$work/sample.mp4" "$owner/"
mkdir "$owner/Extras"
ls -l "$owner"
"$megafs" channel list

step "5. A second, read-only mount of the same channel"
"$megafs" mount "$link" "$viewer" -o ro
cmp "$work/sample.mp4" "$viewer/sample.mp4"
echo "byte-identical through the mount"
if touch "$viewer/new" 2>/dev/null; then
	echo "a read-only mount accepted a write: this is a bug" >&2
	exit 1
fi
echo "writes are refused: $(touch "$viewer/new" 2>&1 | sed 's/.*: //')"

step "6. Any program reads it: ffprobe, then a seek to 90% and a decode"
ffprobe -v error -show_entries format=duration,bit_rate:stream=codec_name,width,height \
	-of compact "$viewer/sample.mp4"
time ffmpeg -v error -ss 54 -i "$viewer/sample.mp4" -frames:v 1 -f null -
# A long string from the video itself (its encoder tag): four bytes would
# turn up in a store of random bytes by chance.
probe=$(strings -n 12 "$work/sample.mp4" | head -1)
if grep -rqaF -- "$probe" "$MEGAFS_STORE"; then
	echo "plaintext of the video found in the store: this is a bug" >&2
	exit 1
fi
echo "no plaintext of the video (e.g. \"$probe\") anywhere under the store directory"

step "Done"
cat <<MSG
Mounted now:
  $owner      read-write (cp, mkdir, mv, rm publish new signed manifests)
  $viewer   read-only
Try: mpv $viewer/sample.mp4
     cp some-file $owner/ && ls $viewer     # appears there within a second
MSG
if [ -t 0 ] && [ -t 1 ]; then
	echo "Press Ctrl-C to unmount, wipe the session caches and delete the store."
	while :; do sleep 3600; done
fi
