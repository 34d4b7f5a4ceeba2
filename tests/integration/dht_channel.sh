#!/usr/bin/env bash
# A channel found through the Mainline DHT alone (issue 10, parts 2-4), on
# 127.0.0.1: four DHT nodes (mfs-test-dht, net/dht), a publisher (the
# owner's mount with --dht and --listen, no tracker) and a subscriber
# (a mount by link with --dht, no tracker, no --peer, no --listen). The
# subscriber finds the pointer the owner put (BEP 44, salted), the peers
# announced under the channel's info-hash, fetches the manifest blob,
# and reads a file byte for byte; a new cp on the publisher appears on
# the subscriber within the polling interval (--dht-interval 2: the delay
# is printed). The same for a private channel by its link with the read
# key; a link without it finds nothing. megafs dht status shows what the
# volumes recorded; the routing table is saved and a remount with no
# --dht-bootstrap starts from it. The publisher, found through the DHT
# alone, is remembered once it proved its node key: a remount with no
# --dht and no tracker reads from it. megafs serve --dht seeds and puts,
# and megafs fetch --dht on a fresh store finds it. --dht-port binds the
# DHT's UDP port; the port is saved with the table and bound again by the
# next start without the option; a port in use given with --dht-port is
# an error that names it, and a saved one in use gives way to a random one.
source "$(dirname "$0")/lib.sh"
DHT=${MFS_TEST_DHT:?MFS_TEST_DHT names mfs-test-dht}
INTERVAL=2

PUB="$T/pub-store" SUB="$T/sub-store"
for s in "$PUB" "$SUB"; do
	MEGAFS_STORE=$s megafs init --size 200M --kdf fast >/dev/null
done

# Four DHT nodes: BEP 44 puts need a few to land on.
M=()
for i in 1 2 3 4; do
	boot=()
	[ $i -gt 1 ] && boot=(--bootstrap "127.0.0.1:${M[0]}")
	"$DHT" --timeout-ms 500 "${boot[@]}" serve >"$T/d$i.out" 2>&1 &
	PIDS+=($!)
	wait_for 10 grep -q '^port=' "$T/d$i.out" || fail "DHT node $i did not start: $(cat "$T/d$i.out")"
	M+=("$(sed -n 's/^port=//p' "$T/d$i.out")")
done
BOOT=(--dht-bootstrap "127.0.0.1:${M[0]}" --dht-bootstrap "127.0.0.1:${M[1]}")
ok "four DHT nodes on ports ${M[*]}"

# run_channel NAME LINK: publisher and subscriber of LINK through the DHT.
run_channel() {
	local name=$1 link=$2 start ms
	MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-$name" --listen 127.0.0.1:0 "${BOOT[@]}"
	random_file "$T/$name-first.bin" 300000
	cp "$T/$name-first.bin" "$T/pub-$name/"

	start=$(date +%s%N)
	MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub-$name" "${BOOT[@]}" \
		--dht-interval $INTERVAL
	wait_for 30 test -e "$T/sub-$name/$name-first.bin" ||
		fail "$name: the subscriber never saw the publication through the DHT"
	cmp "$T/$name-first.bin" "$T/sub-$name/$name-first.bin" ||
		fail "$name: the file differs through the subscriber's mount"
	ms=$((($(date +%s%N) - start) / 1000000))
	ok "$name channel: a subscriber with only --dht mounted by link and read a file byte for byte ($ms ms from the mount)"

	random_file "$T/$name-late.bin" 200000
	start=$(date +%s%N)
	cp "$T/$name-late.bin" "$T/pub-$name/"
	wait_for 30 test -e "$T/sub-$name/$name-late.bin" ||
		fail "$name: a new file never reached the subscriber through the DHT"
	ms=$((($(date +%s%N) - start) / 1000000))
	cmp "$T/$name-late.bin" "$T/sub-$name/$name-late.bin" || fail "$name: late file differs"
	ok "$name channel: a cp on the publisher appeared on the subscriber in $ms ms (polling every $INTERVAL s), no tracker, no remount"
}

pub_link=$(MEGAFS_STORE=$PUB megafs channel new --public "Open")
run_channel public "$pub_link"

priv_link=$(MEGAFS_STORE=$PUB megafs channel new "Closed")
case $priv_link in *"#"*) ;; *) fail "a private channel's link has no read key: $priv_link" ;; esac
run_channel private "$priv_link"

# A link without the read key finds nothing: the salt and info-hash are
# derived from the key, so the public key alone names another target.
# That fetch waits out the 90 s a --dht fetch gives a manifest: it runs
# beside the steps below and is checked at the end.
MEGAFS_STORE=$SUB megafs umount "$T/sub-private"
THIRD="$T/third-store"
MEGAFS_STORE=$THIRD megafs init --size 100M --kdf fast >/dev/null
(expect_fail "no manifest of" env MEGAFS_STORE="$THIRD" "$MEGAFS" fetch "${priv_link%%#*}" \
	private-first.bin -o "$T/nokey.bin" "${BOOT[@]}") >"$T/nokey.out" 2>&1 &
NOKEY_PID=$!
PIDS+=("$NOKEY_PID")

# dht_status STORE WHO WHAT: megafs dht status of STORE (into $T/WHO-status)
# shows a saved routing table and a pointer WHAT ("put" or "seen") for
# both channels.
dht_status() {
	MEGAFS_STORE=$1 megafs dht status >"$T/$2-status" || fail "dht status failed"
	grep -q "^routing table  [1-9][0-9]* nodes\? saved" "$T/$2-status" ||
		fail "the $2 saved no routing table: $(cat "$T/$2-status")"
	[ "$(grep -c "pointer $3 *seq [1-9]" "$T/$2-status")" = 2 ] ||
		fail "the $2's status lists no pointer $3 for both: $(cat "$T/$2-status")"
}
MEGAFS_STORE=$SUB megafs umount "$T/sub-public"
dht_status "$SUB" subscriber seen

# A remount with --dht alone starts from the saved table (its nodes are
# all on 127.0.0.1, so the loopback peers it names are dialled).
MEGAFS_STORE=$SUB mount_channel "$pub_link" "$T/sub-again" --dht
cmp "$T/public-late.bin" "$T/sub-again/public-late.bin" || fail "a remount from the table cannot read"
MEGAFS_STORE=$SUB megafs umount "$T/sub-again"
ok "a remount with --dht and no bootstrap started from the saved routing table and read a file"

# The publisher was found through the DHT alone (no tracker, no --peer)
# and proved its node key: the volume remembers it as a tracker's peer,
# so a mount with neither --dht nor a tracker dials it. Blobs fetched
# live in a mount's session cache only: this read crosses the network.
MEGAFS_STORE=$SUB mount_channel "$pub_link" "$T/sub-memory"
cmp "$T/public-first.bin" "$T/sub-memory/public-first.bin" ||
	fail "a remount with no --dht and no tracker cannot read from the peer the DHT found"
MEGAFS_STORE=$SUB megafs umount "$T/sub-memory"
MEGAFS_STORE=$SUB megafs channel forget "$pub_link" >"$T/forgot-dht" ||
	fail "channel forget failed: $(cat "$T/forgot-dht")"
grep -q "^forgot peer 127\.0\.0\.1:[0-9]*#[0-9a-f]\{64\}$" "$T/forgot-dht" ||
	fail "the peer found through the DHT is not remembered with its key: $(cat "$T/forgot-dht")"
ok "the publisher found through the DHT was remembered (HOST:PORT#KEY): a remount with no --dht and no tracker read a file from it"

# The owner's store seeds with megafs serve --dht instead of its mount;
# megafs fetch --dht on a third store finds it through the DHT alone. A gc
# first: the manifest blob the pointer names is pinned, so it stays. The
# fetch starts first, so its first lookup of the channel's peers finds
# only the mount, gone: the seeder that announces after it is found by the
# lookups repeated while the blob is fetched (once a race that failed CI).
MEGAFS_STORE=$PUB megafs umount "$T/pub-public"
MEGAFS_STORE=$PUB megafs gc >"$T/gc.out" || fail "gc failed: $(cat "$T/gc.out")"
FOURTH="$T/fourth-store"
MEGAFS_STORE=$FOURTH megafs init --size 100M --kdf fast >/dev/null 2>&1
MEGAFS_STORE=$FOURTH "$MEGAFS" fetch "$pub_link" public-first.bin -o "$T/fetched.bin" "${BOOT[@]}" \
	>"$T/fetch4.out" 2>&1 &
FETCH_PID=$!
PIDS+=("$FETCH_PID")
wait_for 10 grep -q "DHT: bootstrapped" "$T/fetch4.out" ||
	fail "megafs fetch --dht did not bootstrap: $(cat "$T/fetch4.out")"
start=$(date +%s%N)
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 "${BOOT[@]}" "$pub_link" >"$T/serve.out" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait "$FETCH_PID" ||
	fail "megafs fetch --dht failed: $(cat "$T/fetch4.out"); megafs serve said: $(cat "$T/serve.out")"
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$T/public-first.bin" "$T/fetched.bin" || fail "megafs fetch --dht wrote other bytes"
wait_for 30 grep -q "DHT: put the pointer" "$T/serve.out" ||
	fail "megafs serve --dht put no pointer: $(cat "$T/serve.out")"
kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve --dht did not exit cleanly: $(cat "$T/serve.out")"
ok "after a gc, megafs serve --dht put the pointer and seeded; megafs fetch --dht (a fresh store, no tracker, no --peer), started first, found it and wrote the file byte for byte ($ms ms after the serve started)"

MEGAFS_STORE=$PUB megafs umount "$T/pub-private"
dht_status "$PUB" publisher put
cat "$T/publisher-status" "$T/subscriber-status"
ok "megafs dht status: the saved table's nodes, the pointers put (publisher) and seen (subscriber)"

# --dht-bootstrap replaces the saved table (megafs(1)): a serve bootstrapped
# from a fifth node that knows no other knows that node alone, although
# the publisher's volume saved the four above (all still up). It binds the
# DHT on the --dht-port given.
"$DHT" --timeout-ms 500 serve >"$T/d5.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q '^port=' "$T/d5.out" || fail "DHT node 5 did not start: $(cat "$T/d5.out")"
D5=(--dht-bootstrap "127.0.0.1:$(sed -n 's/^port=//p' "$T/d5.out")")
DHT_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
udp_bound() { ss -Huln "sport = :$1" | grep -q "127\.0\.0\.1:$1 "; }
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 "${D5[@]}" --dht-port "$DHT_PORT" \
	>"$T/serve5.out" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for 10 grep -q "DHT: bootstrapped" "$T/serve5.out" ||
	fail "megafs serve did not bootstrap: $(cat "$T/serve5.out")"
udp_bound "$DHT_PORT" || fail "--dht-port $DHT_PORT: not bound: $(ss -Huln)"
kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve did not exit cleanly: $(cat "$T/serve5.out")"
grep -q "DHT: bootstrapped, 1 nodes known (1 answered)" "$T/serve5.out" ||
	fail "megafs serve --dht-bootstrap also used the saved table: $(cat "$T/serve5.out")"
ok "--dht-bootstrap replaces the volume's saved routing table (serve knew the one node given); --dht-port $DHT_PORT was bound (ss -uln)"

# Without --dht-port the port saved with the table is bound again.
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 "${D5[@]}" >"$T/serve6.out" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for 10 grep -q "DHT: bootstrapped" "$T/serve6.out" ||
	fail "megafs serve did not bootstrap: $(cat "$T/serve6.out")"
udp_bound "$DHT_PORT" && grep -q "DHT: on UDP port $DHT_PORT$" "$T/serve6.out" ||
	fail "a start without --dht-port did not bind the saved port $DHT_PORT: $(cat "$T/serve6.out")"
MEGAFS_STORE=$PUB megafs dht status >"$T/port-status"
grep -q "^UDP port       $DHT_PORT " "$T/port-status" ||
	fail "megafs dht status does not show port $DHT_PORT: $(cat "$T/port-status")"
ok "a start without --dht-port bound the saved port $DHT_PORT again; megafs dht status shows it"

# That port is taken now: given with --dht-port it is an error naming it;
# saved (the publisher's volume saved it), a random one is bound instead.
expect_fail "--dht-port $DHT_PORT: UDP port $DHT_PORT" env MEGAFS_STORE="$FOURTH" "$MEGAFS" \
	fetch "$pub_link" public-first.bin -o "$T/busy.bin" "${D5[@]}" --dht-port "$DHT_PORT"
[ ! -e "$T/busy.bin" ] || fail "a fetch whose --dht-port is in use wrote a file"
MEGAFS_STORE=$PUB "$MEGAFS" fetch "$pub_link" public-first.bin -o "$T/own.bin" "${D5[@]}" \
	>"$T/fetch-own.out" 2>&1 || fail "megafs fetch beside the serve failed: $(cat "$T/fetch-own.out")"
[ "$(grep -c "the saved UDP port $DHT_PORT cannot be bound" "$T/fetch-own.out")" = 1 ] ||
	fail "a saved port in use was not said once: $(cat "$T/fetch-own.out")"
cmp "$T/public-first.bin" "$T/own.bin" || fail "megafs fetch on a random DHT port wrote other bytes"
kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve did not exit cleanly: $(cat "$T/serve6.out")"
ok "--dht-port $DHT_PORT in use: megafs fetch fails naming it; the saved port in use: a random one, said in one line"

wait "$NOKEY_PID" || fail "a fetch without the read key: $(cat "$T/nokey.out")"
cat "$T/nokey.out"
[ ! -e "$T/nokey.bin" ] || fail "a fetch without the read key wrote a file"
ok "without the read key the private channel's pointer is not found (megafs fetch fails)"
finish
