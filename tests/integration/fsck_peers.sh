# megafs fsck --repair fetches damaged blobs again from the channel's peers:
# a blob whose slots a disk error destroyed (random bytes written over them
# in the raw data file) is named; with no peer known the repair says so and
# changes nothing; a peer that sends corrupt bytes is refused; an honest
# peer (megafs serve on another store holding the blob) makes the file read
# back identical, its pins as they were, and the next check is clean.
source "$(dirname "$0")/lib.sh"
: "${MFS_TEST_BLOB_SLOTS:?set by ctest: the slot position test tool}"
: "${MFS_TEST_EVIL_SEEDER:?set by ctest: the corrupt seeder test tool}"

status_of() { set +e; "$@" >"$T/out" 2>&1; echo $?; set -e; }

megafs init --size 64M --kdf fast >/dev/null 2>&1
link=$(megafs channel new "Films")
random_file "$T/film.bin" $((3 * 1024 * 1024 + 777))
megafs ingest "$T/film.bin" --channel "$link" >"$T/film.json" 2>/dev/null
# A second store holding the same blobs (the same channel's blobs, kept by
# another of its peers), and a liar on a third copy.
cp -a "$MEGAFS_STORE" "$T/copy"
cp -a "$MEGAFS_STORE" "$T/evil"
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["chunks"][1]["id"])' \
	"$T/film.json")
[ "$(status_of megafs fsck)" = 0 ] || fail "a whole volume: $(cat "$T/out")"
expect_fail "--listen: megafs fsck serves nobody" megafs fsck --repair --listen 127.0.0.1:0

# The disk loses the blob: every one of its slots overwritten in place.
slots=$("$MFS_TEST_BLOB_SLOTS" "$MEGAFS_STORE" "$MEGAFS_PASSWORD" "$id")
[ "$(wc -l <<<"$slots")" -ge 1 ] || fail "no slot positions for blob $id"
slot_bytes=69616
for off in $slots; do
	head -c $slot_bytes /dev/urandom |
		dd of="$MEGAFS_STORE/data.mdb" bs=$slot_bytes seek="$off" oflag=seek_bytes \
			conv=notrunc status=none
done
[ "$(status_of megafs fsck)" = 4 ] || fail "a damaged blob: $(cat "$T/out")"
grep -q "^damaged    blob $id$" "$T/out" || fail "the blob is not named: $(cat "$T/out")"
expect_fail "damaged" megafs extract "$T/film.json" -o "$T/x"
ok "a blob lost to the disk: fsck names it (exit 4); extract refuses"

[ "$(status_of megafs fsck --repair)" = 4 ] || fail "--repair without peers: $(cat "$T/out")"
grep -q "no tracker or peer is known" "$T/out" || fail "no reason given: $(cat "$T/out")"
grep -q "^not found  blob $id" "$T/out" || fail "$(cat "$T/out")"
[ "$(status_of megafs fsck)" = 4 ] || fail "after a repair with no peer: $(cat "$T/out")"
grep -q "^checked    .* 0 rebuilt from parity, 1 damaged$" "$T/out" || fail "$(cat "$T/out")"
ok "--repair with no peer known: says to give --tracker or --peer (exit 4), the rest intact"

"$MFS_TEST_EVIL_SEEDER" "$T/evil" "$MEGAFS_PASSWORD" 127.0.0.1:0 >"$T/evil.out" 2>"$T/evil.err" &
pid_evil=$!
PIDS+=("$pid_evil")
wait_for 10 grep -q '#' "$T/evil.out" || fail "the evil seeder did not start: $(cat "$T/evil.err")"
[ "$(status_of megafs fsck --repair --peer "$(head -1 "$T/evil.out")")" = 4 ] ||
	fail "--repair from a liar: $(cat "$T/out")"
grep -q "^not found  blob $id" "$T/out" || fail "$(cat "$T/out")"
kill "$pid_evil"
wait "$pid_evil" || true
lies=$(sed -n 's/.*served \([0-9]*\) corrupt blobs.*/\1/p' "$T/evil.err")
[ "${lies:-0}" -ge 1 ] || fail "the liar was never asked"
expect_fail "damaged" megafs extract "$T/film.json" -o "$T/x"
ok "--repair from a peer that sends corrupt bytes: refused ($lies answers), still damaged (exit 4)"

MEGAFS_STORE=$T/copy "$MEGAFS" serve --listen 127.0.0.1:0 >"$T/serve.out" 2>&1 &
PIDS+=("$!")
wait_for 10 grep -q "serving" "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
peer=$(sed -n 's/.* on port \([0-9]*\) as node \([0-9a-f]*\)$/127.0.0.1:\1#\2/p' "$T/serve.out")
[ "$(status_of megafs fsck --repair --peer "$peer")" = 1 ] || fail "--repair: $(cat "$T/out")"
grep -q "^refetched  blob $id: written again with a peer's copy$" "$T/out" || fail "$(cat "$T/out")"
grep -q "^refetched  1 damaged blobs written again" "$T/out" || fail "$(cat "$T/out")"
ok "--repair from an honest peer: the blob written again (exit 1)"

[ "$(status_of megafs fsck)" = 0 ] || fail "after the repair: $(cat "$T/out")"
megafs extract "$T/film.json" -o "$T/film.out"
cmp "$T/film.bin" "$T/film.out" || fail "the repaired file differs"
# Its pin came through: gc frees nothing of it.
megafs gc >/dev/null
megafs extract "$T/film.json" -o "$T/film.out2"
cmp "$T/film.bin" "$T/film.out2" || fail "gc took the repaired blob"
ok "then clean (exit 0); the file reads back identical, and gc keeps it"
finish
