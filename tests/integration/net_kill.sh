#!/usr/bin/env bash
# kill -9 during a transfer, of each process of the network in turn: the
# tracker (restarted on its port and database, it still hands out the
# channel's manifest), the seeder (megafs serve, restarted on its store) and
# the subscriber (megafs fetch, run again). Each time the fetch completes and
# the file is identical.
source "$(dirname "$0")/lib.sh"

PUB="$T/pub" SUB="$T/sub"
size_mb=${MFS_TEST_KILL_MB:-160}
MEGAFS_STORE=$PUB megafs init --size $((size_mb + 100))M --kdf fast >/dev/null
for s in "$SUB" "$T/late"; do
	MEGAFS_STORE=$s megafs init --size 16M --kdf fast >/dev/null
done
link=$(MEGAFS_STORE=$PUB megafs channel new "Kill")
random_file "$T/big.bin" $((size_mb * 1024 * 1024 + 4321))
random_file "$T/small.bin" 100000

# The tracker asks for announces every second, so that a restarted seeder
# is handed to the fetch in about that time.
start_tracker "$T/tracker-db" --interval 1
port=${TRACKER_URL##*:}
port=${port%%/*}
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-mnt" --tracker "$TRACKER_URL" \
	--listen 127.0.0.1:0
cp "$T/big.bin" "$T/small.bin" "$T/pub-mnt/"
# Once a subscriber fetches, the tracker holds the manifest.
MEGAFS_STORE=$SUB megafs fetch "$link" small.bin -o "$T/got-small" --tracker "$TRACKER_URL" \
	2>/dev/null || fail "the first fetch"
MEGAFS_STORE=$PUB megafs umount "$T/pub-mnt"

# start_seeder: megafs serve on the publisher's store (its tracker
# remembered); sets SEEDER_PID.
start_seeder() {
	local out="$T/serve.$RANDOM"
	MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 >"$out" 2>&1 &
	SEEDER_PID=$!
	PIDS+=("$SEEDER_PID")
	wait_for 10 grep -q "serving" "$out" || fail "megafs serve did not start: $(cat "$out")"
}
# start_fetch: megafs fetch of big.bin into $T/got in the background; sets
# FETCH_PID once the first bytes are written.
start_fetch() {
	rm -f "$T/got"
	MEGAFS_STORE=$SUB "$MEGAFS" fetch "$link" big.bin -o "$T/got" 2>"$T/fetch.err" &
	FETCH_PID=$!
	wait_for 30 test -s "$T/got.part" || fail "the fetch wrote nothing: $(cat "$T/fetch.err")"
	kill -0 "$FETCH_PID" 2>/dev/null || fail "the fetch ended before anything was killed"
}
end_fetch() {
	wait "$FETCH_PID" || fail "the fetch failed: $(cat "$T/fetch.err")"
	cmp "$T/big.bin" "$T/got" || fail "the fetched file differs"
	[ ! -e "$T/got.part" ] || fail "the fetch left its .part file"
}
start_seeder
ok "published ${size_mb} MiB through a mount; a seeder serves the store"

start_fetch
kill -9 "$TRACKER_PID"
wait "$TRACKER_PID" 2>/dev/null || true
# Again on its port (the channel's volumes remember the URL) and database.
start_tracker "$T/tracker-db" --interval 1 --listen "127.0.0.1:$port"
end_fetch
MEGAFS_STORE=$T/late megafs fetch "$link" small.bin -o "$T/late-small" \
	--tracker "$TRACKER_URL" 2>"$T/late.err" || fail "a new subscriber: $(cat "$T/late.err")"
cmp "$T/small.bin" "$T/late-small" || fail "small.bin differs from the restarted tracker"
ok "kill -9 of the tracker during a fetch: the fetch completed, identical; restarted on its database, the tracker hands the manifest to a new subscriber (the publisher is gone)"

start_fetch
kill -9 "$SEEDER_PID"
wait "$SEEDER_PID" 2>/dev/null || true
start_seeder
end_fetch
ok "kill -9 of the seeder during a fetch: restarted, it is found through the tracker and the fetch completed, identical"

start_fetch
kill -9 "$FETCH_PID"
wait "$FETCH_PID" 2>/dev/null || true
MEGAFS_STORE=$SUB megafs fetch "$link" big.bin -o "$T/got" 2>"$T/fetch.err" ||
	fail "the fetch after kill -9: $(cat "$T/fetch.err")"
cmp "$T/big.bin" "$T/got" || fail "the fetched file differs"
[ ! -e "$T/got.part" ] || fail "the fetch left its .part file"
ok "kill -9 of the subscriber (megafs fetch) during a fetch: run again, it completed, identical"

kill "$SEEDER_PID"
wait "$SEEDER_PID" || fail "megafs serve did not exit cleanly"
kill "$TRACKER_PID"
wait "$TRACKER_PID" || fail "the restarted tracker did not exit cleanly"
ok "the restarted seeder and tracker exit with 0 on SIGTERM"
finish
