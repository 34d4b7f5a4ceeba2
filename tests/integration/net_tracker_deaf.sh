#!/usr/bin/env bash
# A tracker that stops reading (tests/tools/deaf_tracker.py: it completes
# the WebSocket handshake, then never reads again, with the smallest receive
# buffer the kernel allows). A publisher mounted with it publishes a
# manifest per file it is given, each sent to the tracker: a client that
# queued without bound would hold every one of them. The mount must notice
# that the queue passed its cap (4 MiB past what a connection starts with,
# net/tracker_client.c), say so, drop the connection and dial again; its
# memory stays bounded; and the owner's files, all of them, stay there.
source "$(dirname "$0")/lib.sh"

megafs init --size 256M --kdf fast >/dev/null
link=$(megafs channel new "Deaf")
"$(dirname "$0")/../tools/deaf_tracker.py" "$T/port" >"$T/deaf.out" 2>&1 &
PIDS+=($!)
wait_for 10 test -s "$T/port" || fail "the deaf tracker did not start: $(cat "$T/deaf.out")"
url="ws://127.0.0.1:$(cat "$T/port")/"

# In the foreground, so that the tracker client's reports reach a file.
mkdir -p "$T/mnt"
MOUNTS+=("$T/mnt")
"$MEGAFS" mount "$link" "$T/mnt" -f --tracker "$url" >"$T/mount.log" 2>&1 &
mount=$!
PIDS+=("$mount")
wait_for 20 mountpoint -q "$T/mnt" || fail "the mount did not start: $(cat "$T/mount.log")"
wait_for 20 grep -qx "connection 1" "$T/deaf.out" ||
	fail "the mount never dialled the tracker: $(cat "$T/mount.log")"
ok "the publisher's mount connected to a tracker that does not read"

# Names of 200 characters make a manifest grow by about 300 bytes a file
# (file n's manifest: some 300 * n bytes), and each file is published.
name() { printf 'file-%0195d' "$1"; }
write() { printf 'content of file %d\n' "$1" >"$T/mnt/$(name "$1")" || fail "writing file $1"; }
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$mount/status"; }
stalled=
for ((i = 1; i <= 450; i++)); do
	write "$i"
	if grep -q "stopped reading what it is sent" "$T/mount.log"; then
		stalled=$i
		break
	fi
done
[ -n "$stalled" ] || fail "450 publishes to a tracker that reads nothing, and no report: $(cat "$T/mount.log")"
echo "   reported after $stalled files: $(grep -m1 "stopped reading" "$T/mount.log")"
wait_for 30 grep -qx "connection 2" "$T/deaf.out" ||
	fail "the mount did not dial the tracker again after dropping it"
ok "the mount reported the tracker that stopped reading, dropped it and dialled it again"

# 150 files more: their manifests, some 300 * n bytes each, add up to
# about twice the cap. Each connection may hold only 4 MiB past what it
# starts with, so the client must give up on the tracker again; a queue
# without a cap would hold them all on the second connection.
files=$((stalled + 150))
for ((i = stalled + 1; i <= files; i++)); do
	write "$i"
done
sent=$(((files * files - stalled * stalled) * 150 / 1024 / 1024))
[ "$sent" -ge 8 ] || fail "the test published too little ($sent MiB) to tell"
wait_for 30 grep -qx "connection 3" "$T/deaf.out" ||
	fail "about $sent MiB published to the second connection, and it was not dropped"
echo "   $sent MiB more published: the tracker was dialled $(grep -c ^connection "$T/deaf.out") times;" \
	"the mount's peak RSS: $(($(rss VmHWM) / 1024)) MiB"
ok "the cap held on the next connection too: dropped and dialled again"

n=$(find "$T/mnt" -maxdepth 1 -type f | wc -l)
[ "$n" = "$files" ] || fail "the mount shows $n files, not $files"
grep -qx "content of file 7" "$T/mnt/$(name 7)" || fail "file 7 reads wrong"
grep -qx "content of file $files" "$T/mnt/$(name $files)" || fail "file $files reads wrong"
kill -0 "$mount" || fail "the mount's daemon died"
unmount "$T/mnt"
wait "$mount" || fail "the mount ended with an error: $(tail -3 "$T/mount.log")"
mount_channel "$link" "$T/again"
n=$(find "$T/again" -maxdepth 1 -type f | wc -l)
[ "$n" = "$files" ] || fail "mounted again, the channel shows $n files, not $files"
unmount "$T/again"
ok "every file the owner gave is there, reads back, and is there when mounted again"
finish
