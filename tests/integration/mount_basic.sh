# A channel as a directory: cp to publish, cmp through the mount, players
# and seeks, edits as new manifests, read-only mounts, remounts.
source "$(dirname "$0")/lib.sh"
PREADS=${MFS_TEST_PREADS:?the ctest environment names mfs-test-preads}

megafs init --size 1200M --kdf fast >/dev/null
link=$(megafs channel new "Films")
mnt="$T/mnt"
mount_channel "$link" "$mnt"
[ "$(ls -A "$mnt")" = "" ] || fail "a new channel is empty"
ok "an owned channel mounts, empty"

# The kernel gives a FUSE mount 128 KiB of read-ahead whatever it asks;
# a mount made by root raises its own to 1 MiB (fs/fuse/bdi.h).
ra=$(cat "/sys/class/bdi/$(mountpoint -d "$mnt")/read_ahead_kb")
[ "$ra" = 1024 ] || fail "the mount's read-ahead is $ra KiB, not 1024"
ok "the mount's read-ahead is 1024 KiB"

chunk=$((1 << 20))
for size in 0 1 $chunk $((chunk + 1)); do
	random_file "$T/in.$size" "$size"
	cp "$T/in.$size" "$mnt/f.$size" || fail "cp of $size bytes"
	cmp "$T/in.$size" "$mnt/f.$size" || fail "cmp of $size bytes through the mount"
done
random_file "$T/big" $((300 << 20))
cp "$T/big" "$mnt/big.bin" || fail "cp of 300 MiB"
cmp "$T/big" "$mnt/big.bin" || fail "cmp of 300 MiB"
[ "$(stat -c %s "$mnt/big.bin")" = $((300 << 20)) ] || fail "true size"
# A file's preferred I/O size is a chunk: cp (which writes max(128 KiB,
# st_blksize) at a time) then hands the mount whole chunks.
[ "$(stat -c %o "$mnt/big.bin")" = "$chunk" ] || fail "st_blksize $(stat -c %o "$mnt/big.bin")"
ok "cp of 0, 1, chunk, chunk+1 bytes and 300 MiB; cmp through the mount; st_blksize a chunk"

make_video "$T/clip.mp4" 20
cp "$T/clip.mp4" "$mnt/clip.mp4"
ffprobe -v error -show_entries format=duration -of csv=p=0 "$mnt/clip.mp4" >"$T/duration" \
	|| fail "ffprobe through the mount"
ffmpeg -v error -ss 18 -i "$mnt/clip.mp4" -frames:v 1 -f null - || fail "seek to 90% and decode"
ok "ffprobe reads the mp4 ($(cat "$T/duration") s); a seek to 90% decodes"

random_file "$T/r200" $((200 << 20))
cp "$T/r200" "$mnt/r200.bin"
"$PREADS" "$mnt/r200.bin" "$T/r200" 2000 || fail "random preads"
ok "2000 random preads across 200 MiB match, chunk-straddling and past the end"

random_file "$T/a" $((20 << 20))
random_file "$T/b" $((20 << 20))
cp "$T/a" "$mnt/a.bin" & pa=$!
cp "$T/b" "$mnt/b.bin" & pb=$!
wait $pa || fail "first of two parallel cp"
wait $pb || fail "second of two parallel cp"
cmp "$T/a" "$mnt/a.bin" && cmp "$T/b" "$mnt/b.bin" || fail "two files written at once"
ok "two files written at once"

echo "hello" >"$mnt/echo.txt" || fail "echo > (a shell dups the file before writing)"
[ "$(cat "$mnt/echo.txt")" = "hello" ] || fail "echo > content"
dd if="$T/in.$chunk" of="$mnt/dd.bin" bs=4k status=none || fail "dd of="
cmp "$T/in.$chunk" "$mnt/dd.bin" || fail "dd content"
truncate -s $((3 << 20)) "$T/sparse"
printf 'head' | dd of="$T/sparse" conv=notrunc status=none
cp "$T/sparse" "$mnt/sparse.bin" || fail "cp of a file ending in a hole"
cmp "$T/sparse" "$mnt/sparse.bin" || fail "sparse content"
ok "echo >, dd of= and a sparse cp (ftruncate at the end) publish whole files"

# Every close of every copy of a descriptor reaches the mount: here each cat
# closes the copy it inherited while the shell, which opened the file, goes
# on writing; the shell's close publishes it, once.
seq=$(sequence_of "$link")
{ cat "$T/in.$chunk"; cat "$T/sparse"; } >"$mnt/group.bin" || fail "{ cat; cat; } >"
cat "$T/in.$chunk" "$T/sparse" | cmp - "$mnt/group.bin" || fail "{ cat; cat; } > content"
[ "$(sequence_of "$link")" = $((seq + 1)) ] || fail "{ cat; cat; } > published $(($(sequence_of "$link") - seq)) times"
# Closed by another thread than the one that opened it: the release
# publishes (the close does not wait for it).
python3 - "$mnt/thread.bin" "$T/in.$chunk" <<'PY' || fail "a close from another thread"
import os, sys, threading
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
with open(sys.argv[2], "rb") as src:
    os.write(fd, src.read())
t = threading.Thread(target=os.close, args=(fd,))
t.start()
t.join()
PY
for _ in $(seq 50); do cmp -s "$T/in.$chunk" "$mnt/thread.bin" && break; sleep 0.1; done
cmp "$T/in.$chunk" "$mnt/thread.bin" || fail "closed by another thread: not published"
ok "{ cat a; cat b; } > f publishes a then b, once; a file closed by another thread is published"

megafs channel export "$link" >"$T/old-manifest.json" || fail "channel export"
seq=$(sequence_of "$link")
mkdir "$mnt/Season 2" || fail mkdir
[ "$(sequence_of "$link")" = $((seq + 1)) ] || fail "mkdir publishes"
mv "$mnt/a.bin" "$mnt/Season 2/a.bin" || fail mv
[ "$(sequence_of "$link")" = $((seq + 2)) ] || fail "mv publishes"
cmp "$T/a" "$mnt/Season 2/a.bin" || fail "moved file"
rm "$mnt/b.bin" || fail rm
[ "$(sequence_of "$link")" = $((seq + 3)) ] || fail "rm publishes"
[ ! -e "$mnt/b.bin" ] || fail "removed file still there"
rmdir "$mnt/Season 2" 2>/dev/null && fail "rmdir of a non-empty directory"
expect_fail "replay or rollback" megafs channel import "$T/old-manifest.json"
ok "mkdir, mv, rm publish sequences $((seq + 1))..$((seq + 3)); the old manifest is refused"

unmount "$mnt"
mount_channel "$link" "$mnt"
for size in 0 1 $chunk $((chunk + 1)); do
	cmp "$T/in.$size" "$mnt/f.$size" || fail "after remount: $size bytes"
done
cmp "$T/big" "$mnt/big.bin" && cmp "$T/a" "$mnt/Season 2/a.bin" || fail "after remount"
ok "unmount, remount: identical"

ro="$T/ro"
mount_channel "$link" "$ro" -o ro
before=$(sequence_of "$link")
out=$(cp "$T/in.1" "$ro/new" 2>&1) && fail "a write to a read-only mount succeeded"
grep -q "Read-only file system" <<<"$out" || fail "not EROFS: $out"
out=$(mkdir "$ro/dir" 2>&1) && fail "mkdir on a read-only mount"
grep -q "Read-only file system" <<<"$out" || fail "mkdir: $out"
out=$(rm "$ro/f.1" 2>&1) && fail "rm on a read-only mount"
grep -q "Read-only file system" <<<"$out" || fail "rm: $out"
[ "$before" = "$(sequence_of "$link")" ] || fail "a read-only mount published"
cmp "$T/big" "$ro/big.bin" || fail "reading a read-only mount"
unmount "$ro"
ok "a read-only mount refuses writes with EROFS and changes nothing"

unmount "$mnt"
finish
