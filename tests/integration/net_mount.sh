#!/usr/bin/env bash
# The network end to end, in separate processes on 127.0.0.1: a tracker, a
# publisher's mount, a subscriber's mount on another store; megafs fetch and
# megafs serve; the subscriber keeps reading from the peers it knows when
# the tracker is gone; everything exits cleanly.
source "$(dirname "$0")/lib.sh"

PUB="$T/pub-store" SUB="$T/sub-store" THIRD="$T/third-store"
for s in "$PUB" "$SUB" "$THIRD"; do
	MEGAFS_STORE=$s megafs init --size 400M --kdf fast >/dev/null
done
link=$(MEGAFS_STORE=$PUB megafs channel new "Films")

start_tracker "$T/tracker-db"
ok "tracker listening at $TRACKER_URL"

MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub" --tracker "$TRACKER_URL" --listen 127.0.0.1:0

# Nothing published yet: a subscriber's mount waits for a first manifest
# (at most 5 s), says none came, and mounts the empty channel.
MEGAFS_STORE=$THIRD mount_channel "$link" "$T/early" --tracker "$TRACKER_URL" 2>"$T/early.err" ||
	fail "a mount of a channel with nothing published failed: $(cat "$T/early.err")"
grep -q "no manifest of .* yet: its files appear when one comes" "$T/early.err" ||
	fail "the mount did not say that no manifest came: $(cat "$T/early.err")"
[ -z "$(ls -A "$T/early")" ] || fail "the empty channel's mount lists $(ls -A "$T/early")"
MEGAFS_STORE=$THIRD megafs umount "$T/early"
ok "a subscriber's mount of a channel with nothing published says so and mounts it empty"

random_file "$T/big.bin" $((40 * 1024 * 1024 + 12345))
make_video "$T/film.mp4" 20
cp "$T/big.bin" "$T/film.mp4" "$T/pub/"
ok "published two files through the owner's mount"

# A fresh subscriber's mount returns once the first manifest is shown:
# the files are there at once, no waiting (`mount && cp` works).
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub" --tracker "$TRACKER_URL"
test -e "$T/sub/film.mp4" || fail "the subscriber's mount returned before it showed the publication"
cmp "$T/big.bin" "$T/sub/big.bin" || fail "big.bin differs through the subscriber's mount"
cmp "$T/film.mp4" "$T/sub/film.mp4" || fail "film.mp4 differs through the subscriber's mount"
ok "the subscriber's mount reads both files byte for byte from the publisher"

MEGAFS_STORE=$SUB megafs umount "$T/sub"
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub" --tracker "$TRACKER_URL"
duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/sub/film.mp4") ||
	fail "ffprobe failed through the subscriber's mount"
[ "${duration%.*}" -ge 19 ] || fail "ffprobe says $duration s"
frames=$(ffmpeg -v error -ss 15 -i "$T/sub/film.mp4" -frames:v 5 -f framemd5 - | grep -vc '^#') ||
	fail "seek-and-decode failed through the subscriber's mount"
[ "$frames" -ge 5 ] || fail "seek-and-decode gave $frames frames"
ok "ffprobe ($duration s) and a seek to 15 s with decoding work on a fresh mount"

random_file "$T/late.bin" 3000000
start=$(date +%s%N)
cp "$T/late.bin" "$T/pub/"
wait_for 10 test -e "$T/sub/late.bin" || fail "a new file never reached the subscriber"
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$T/late.bin" "$T/sub/late.bin" || fail "late.bin differs"
ok "a cp on the publisher appeared on the subscriber in $ms ms, no remount"

MEGAFS_STORE=$THIRD megafs fetch "$link" big.bin -o "$T/fetched.bin" --tracker "$TRACKER_URL" ||
	fail "megafs fetch failed"
cmp "$T/big.bin" "$T/fetched.bin" || fail "megafs fetch wrote different bytes"
[ ! -e "$T/fetched.bin.part" ] || fail "megafs fetch left its .part file"
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/via-fifo" &
MEGAFS_STORE=$THIRD megafs fetch "$link" late.bin -o "$T/fifo" --tracker "$TRACKER_URL" ||
	fail "megafs fetch into a FIFO failed"
wait $!
[ -p "$T/fifo" ] || fail "megafs fetch replaced the FIFO with a file"
cmp "$T/late.bin" "$T/via-fifo" || fail "megafs fetch into a FIFO gave other bytes"
ok "megafs fetch (a third store) wrote big.bin byte for byte, and late.bin into a FIFO"

# The publisher goes: its store seeds through megafs serve instead.
MEGAFS_STORE=$PUB megafs umount "$T/pub"
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$TRACKER_URL" >"$T/serve.out" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for 10 grep -q "serving" "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
serve_port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/serve.out")
MEGAFS_STORE=$SUB megafs umount "$T/sub"
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub"
head -c 1000000 "$T/sub/big.bin" | cmp - <(head -c 1000000 "$T/big.bin") ||
	fail "reading through megafs serve failed"
ok "a mount with no --tracker uses the remembered tracker and reads from megafs serve"

# Every tracker down: the mount goes on with the peer it knows.
kill "$TRACKER_PID"
wait "$TRACKER_PID" || fail "the tracker did not exit cleanly on SIGTERM"
cmp "$T/big.bin" "$T/sub/big.bin" || fail "the rest of big.bin did not come with the tracker gone"
ok "with the tracker gone, the mount read the rest of big.bin from the peer it knew"

MEGAFS_STORE=$SUB megafs umount "$T/sub"
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub"
cmp "$T/late.bin" "$T/sub/late.bin" || fail "a remount with every tracker down could not read"
ok "a remount with every tracker down dials the peers the volume remembers"
MEGAFS_STORE=$SUB megafs umount "$T/sub"

kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve did not exit cleanly on SIGTERM (status $?): $(cat "$T/serve.out")"
! ss -ltn | grep -q ":$serve_port " || fail "port $serve_port still listening"
grep -qF "$T" /proc/mounts && fail "a mount is left: $(grep -F "$T" /proc/mounts)"
for s in "$PUB" "$SUB" "$THIRD"; do
	ls "$s" | grep -q '^session-' && fail "a session cache is left in $s"
done
ok "every process exited with 0; no sockets, mounts or session caches left"

# What the volume remembers can be forgotten: a name remembered nowhere
# changes nothing; a tracker by its URL; then every peer left.
expect_fail "remembers no tracker or peer 'ws://127.0.0.1:1'" \
	env MEGAFS_STORE="$SUB" "$MEGAFS" channel forget "$link" "$TRACKER_URL" ws://127.0.0.1:1
MEGAFS_STORE=$SUB megafs channel forget "$link" "$TRACKER_URL" >"$T/forgot" ||
	fail "forgetting the tracker: $(cat "$T/forgot")"
[ "$(cat "$T/forgot")" = "forgot tracker $TRACKER_URL" ] || fail "forget said: $(cat "$T/forgot")"
# A peer by HOST:PORT alone: the one kept with its key goes.
MEGAFS_STORE=$SUB megafs channel forget "$link" "127.0.0.1:$serve_port" >"$T/forgot" ||
	fail "forgetting the peer: $(cat "$T/forgot")"
grep -qx "forgot peer 127.0.0.1:$serve_port#[0-9a-f]\{64\}" "$T/forgot" ||
	fail "the peer met was not forgotten: $(cat "$T/forgot")"
MEGAFS_STORE=$SUB megafs channel forget "$link" >"$T/forgot" || fail "forgetting all: $(cat "$T/forgot")"
grep -q "^forgot tracker\|$serve_port#" "$T/forgot" && fail "forgotten twice: $(cat "$T/forgot")"
[ -z "$(MEGAFS_STORE=$SUB megafs channel forget "$link")" ] || fail "something is still remembered"
expect_fail "this volume does not know" env MEGAFS_STORE="$SUB" "$MEGAFS" channel forget \
	"megafs://$(printf '%064d' 5)"
ok "channel forget: a tracker by its URL, a peer by HOST:PORT, then the rest; nothing is left remembered; an unknown name forgets nothing"
finish
