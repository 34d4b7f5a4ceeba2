#!/usr/bin/env bash
# Two seeders (megafs serve, separate processes and stores), one killed
# halfway through a 500 MiB read: the read completes from the other. A
# seeder that serves corrupted blobs: caught, dropped, the file still
# arrives byte for byte from an honest one.
source "$(dirname "$0")/lib.sh"
: "${MFS_TEST_EVIL_SEEDER:?set by ctest: the corrupt seeder test tool}"

PUB="$T/pub" SUB="$T/sub"
size_mb=${MFS_TEST_SEEDERS_MB:-500}
MEGAFS_STORE=$PUB megafs init --size $((size_mb + 200))M --kdf fast >/dev/null
MEGAFS_STORE=$SUB megafs init --size 64M --kdf fast >/dev/null
link=$(MEGAFS_STORE=$PUB megafs channel new "Big")
random_file "$T/big.bin" $((size_mb * 1024 * 1024 + 777))
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-mnt"
cp "$T/big.bin" "$T/pub-mnt/"
MEGAFS_STORE=$PUB megafs umount "$T/pub-mnt"
# The second seeder's store holds the same blobs; each makes its own node
# key the first time it serves (no network has run on the store yet).
cp -a "$PUB" "$T/pub2"
MEGAFS_STORE=$PUB megafs channel export "$link" >"$T/manifest.json"
MEGAFS_STORE=$SUB megafs channel subscribe "$link" >/dev/null  # its read key
MEGAFS_STORE=$SUB megafs channel import "$T/manifest.json" >/dev/null
ok "a ${size_mb} MiB file published; two stores hold its blobs"

# serve_store STORE: starts megafs serve; sets SERVE_PID and SERVE_PEER
# ("127.0.0.1:PORT#KEY").
serve_store() {
	local out="$T/serve.$RANDOM"
	MEGAFS_STORE=$1 "$MEGAFS" serve --listen 127.0.0.1:0 >"$out" 2>&1 &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_for 10 grep -q "serving" "$out" || fail "megafs serve did not start: $(cat "$out")"
	SERVE_PEER=$(sed -n 's/.* on port \([0-9]*\) as node \([0-9a-f]*\)$/127.0.0.1:\1#\2/p' "$out")
}
serve_store "$PUB"
pid_a=$SERVE_PID peer_a=$SERVE_PEER
serve_store "$T/pub2"
pid_b=$SERVE_PID peer_b=$SERVE_PEER
[ "${peer_a#*#}" != "${peer_b#*#}" ] || fail "the two seeders have the same node key"

MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub-mnt" --peer "$peer_a" --peer "$peer_b"
half=$((size_mb / 2))
dd if="$T/sub-mnt/big.bin" of="$T/got.bin" bs=1M count=$half status=none ||
	fail "the first half did not read"
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
dd if="$T/sub-mnt/big.bin" of="$T/got.bin" bs=1M skip=$half seek=$half conv=notrunc \
	status=none || fail "the second half did not read with one seeder killed"
cmp "$T/big.bin" "$T/got.bin" || fail "the file read across the kill differs"
ok "one seeder killed (SIGKILL) halfway: the read completed from the other, identical"
MEGAFS_STORE=$SUB megafs umount "$T/sub-mnt"

# A liar, on a copy of the store, with its own key.
cp -a "$PUB" "$T/evil"
"$MFS_TEST_EVIL_SEEDER" "$T/evil" "$MEGAFS_PASSWORD" 127.0.0.1:0 >"$T/evil.out" 2>"$T/evil.err" &
pid_evil=$!
PIDS+=("$pid_evil")
wait_for 10 grep -q '#' "$T/evil.out" || fail "the evil seeder did not start: $(cat "$T/evil.err")"
peer_evil=$(head -1 "$T/evil.out")
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub-mnt" --peer "$peer_evil" --peer "$peer_b"
cmp "$T/big.bin" "$T/sub-mnt/big.bin" || fail "with a lying seeder, the file differs"
kill "$pid_evil"
wait "$pid_evil" || fail "the evil seeder did not exit cleanly"
lies=$(sed -n 's/.*served \([0-9]*\) corrupt blobs.*/\1/p' "$T/evil.err")
[ "${lies:-0}" -ge 1 ] || fail "the evil seeder was never asked: nothing was shown"
[ "$lies" -le 40 ] || fail "the evil seeder was asked $lies times: it was not dropped"
ok "a seeder serving corrupt blobs was caught ($lies bad answers, then dropped); file identical"
MEGAFS_STORE=$SUB megafs umount "$T/sub-mnt"

kill "$pid_b"
wait "$pid_b" || fail "megafs serve did not exit cleanly"
ok "the seeders exit with 0 on SIGTERM"
finish
