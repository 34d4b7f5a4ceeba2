# megafs gc: the blobs pinned by a killed ingest and by a mount killed during
# cp are freed (status shows the slots back), the channel's files still read
# back identical, a second gc frees nothing, and an ingest at work is left
# alone.
source "$(dirname "$0")/lib.sh"

used() { megafs status | awk '/^used/ {print $2}'; }
blob_count() { megafs status | awk '/^blobs/ {print $2}'; }
stored_more_than() { [ "$(blob_count)" -gt "$1" ]; }
# kill_when_stored PID COUNT: kill -9 PID once the volume holds more than
# COUNT blobs (a batch of the file was committed).
kill_when_stored() {
	wait_for 30 stored_more_than "$2" || fail "nothing was stored in 30 s"
	kill -9 "$1"
}
freed_of() { awk '/^freed/ {print $2}' "$T/gc.out"; }

megafs init --size 600M --kdf fast >/dev/null
link=$(megafs channel new "Kept")
mnt="$T/mnt"
random_file "$T/a" $((5 << 20))
random_file "$T/b" $((3 << 20))
random_file "$T/c" 1000
mount_channel "$link" "$mnt"
cp "$T/a" "$T/b" "$T/c" "$mnt/"
unmount "$mnt"
megafs ingest "$T/b" --channel "$link" >"$T/b.json" 2>/dev/null # the same blobs, pinned twice
megafs gc >"$T/gc.out" || fail "gc on a clean volume: $(cat "$T/gc.out")"
[ "$(freed_of)" = 0 ] || fail "a clean volume lost blobs: $(cat "$T/gc.out")"
base=$(used)
ok "a clean volume: gc frees nothing ($base slots used)"

random_file "$T/big" $((300 << 20))
before=$(blob_count)
"$MEGAFS" ingest "$T/big" >/dev/null 2>&1 &
ingest=$!
kill_when_stored "$ingest" "$before"
wait "$ingest" 2>/dev/null && fail "the ingest finished before it was killed"
left=$(used)
[ "$left" -gt "$base" ] || fail "the killed ingest left nothing to free"
megafs gc >"$T/gc.out" || fail "gc: $(cat "$T/gc.out")"
grep -q "^undone     1 files left half stored" "$T/gc.out" || fail "$(cat "$T/gc.out")"
[ "$(used)" = "$base" ] || fail "status shows $(used) slots used, $base before the ingest"
ok "kill -9 of an ingest: gc $(grep '^freed' "$T/gc.out" | cut -c12-), $((left - base)) slots back"

before=$(blob_count)
mount_channel "$link" "$mnt"
pid=$(mount_pid "$mnt")
cp "$T/big" "$mnt/big.bin" 2>/dev/null &
writer=$!
kill_when_stored "$pid" "$before"
wait "$writer" 2>/dev/null && fail "cp survived the death of the mount"
fusermount3 -u "$mnt" || fail "fusermount3 -u after kill -9 during cp"
left=$(used)
megafs gc >"$T/gc.out" || fail "gc: $(cat "$T/gc.out")"
grep -q "^undone     1 files" "$T/gc.out" || fail "$(cat "$T/gc.out")"
[ "$(used)" = "$base" ] || fail "status shows $(used) slots used, $base before the cp"
ok "kill -9 of a mount during cp: gc $(grep '^freed' "$T/gc.out" | cut -c12-), $((left - base)) slots back"

megafs gc >"$T/gc.out" || fail "second gc: $(cat "$T/gc.out")"
[ "$(freed_of)" = 0 ] || fail "the second gc freed something: $(cat "$T/gc.out")"
grep -q "^undone" "$T/gc.out" && fail "the second gc undid something: $(cat "$T/gc.out")"
mount_channel "$link" "$mnt" -o ro
for f in a b c; do
	cmp "$T/$f" "$mnt/$f" || fail "$f differs after gc"
done
[ ! -e "$mnt/big.bin" ] || fail "the half-written file is visible"
unmount "$mnt"
megafs extract "$T/b.json" -o "$T/b.out" && cmp "$T/b" "$T/b.out" || fail "the ingested entry"
ok "a second gc frees nothing; every file of the channel and the ingested entry read back identical"

before=$(blob_count)
"$MEGAFS" ingest "$T/big" >"$T/big.json" 2>/dev/null &
ingest=$!
wait_for 30 stored_more_than "$before" || fail "nothing was stored in 30 s"
megafs gc >"$T/gc.out" || fail "gc beside an ingest: $(cat "$T/gc.out")"
wait "$ingest" || fail "the ingest failed beside gc"
megafs extract "$T/big.json" -o "$T/big.out" && cmp "$T/big" "$T/big.out" \
	|| fail "the file ingested beside gc"
ok "gc beside an ingest at work: $(grep -c '^at work' "$T/gc.out") left alone, the file whole"
finish
