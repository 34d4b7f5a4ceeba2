#!/usr/bin/env bash
# tools/bench/slow_seek.sh [MEGAFS [OLD_MEGAFS]]: a seek right after the
# first byte, on a slow link (issue 9's wire priorities).
#
# One network namespace whose loopback is held to 256 kbit/s (tc tbf rate
# 256kbit burst 4kb latency 400ms, as tools/bench/transport.sh's 256k
# link; MTU 1500); megafs serve and a fresh subscriber's mount (the manifest held,
# --peer, no tracker) both inside it. Each run: mount, read the first byte
# of a fresh 4 MiB file (head -c 1), then 4 KiB at 3.5 MiB (dd), unmount.
# With OLD_MEGAFS (another build's binary) its runs alternate with
# MEGAFS's, in the same namespace. Prints each run and the medians.
# Root (a namespace, tc). BENCH_REPEAT: runs each (3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ${1:-} == --inner ]]; then
	# Inside the namespace: BIN STORE LINK PEER MNT; prints "FIRST_MS SEEK_MS".
	bin=$2 store=$3 link=$4 peer=$5 mnt=$6
	mkdir -p "$mnt"
	MEGAFS_STORE=$store "$bin" mount "$link" "$mnt" --peer "$peer" >/dev/null
	t0=$(date +%s%N)
	head -c 1 "$mnt/file.bin" >/dev/null
	t1=$(date +%s%N)
	dd if="$mnt/file.bin" of=/dev/null bs=4096 skip=$((3584 * 256 / 1024)) count=1 status=none
	t2=$(date +%s%N)
	MEGAFS_STORE=$store "$bin" umount "$mnt"
	echo "$(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000))"
	exit 0
fi

new=$(readlink -f "${1:-$root/build/megafs}")
old=${2:+$(readlink -f "$2")}
repeat=${BENCH_REPEAT:-3}
[ "$(id -u)" = 0 ] || { echo "slow_seek.sh: needs root (a namespace, tc)" >&2; exit 2; }
source "$root/tests/integration/lib.sh" "$new"

# The publisher's mount ends before the namespace exists (a mount
# namespace made while a FUSE mount lives holds a copy of it).
PUB="$T/pub"
publish_for_subscribers "$PUB" "Slow seek" $((4 * 1024 * 1024))
NS=mfsseek$$
NETNS+=("$NS")
ip netns add "$NS"
# MTU 1500 as a real link's: tbf never sends a packet larger than its
# burst, and loopback's 64 KiB segments would all be held.
ip -n "$NS" link set lo mtu 1500 up
tc -n "$NS" qdisc add dev lo root tbf rate 256kbit burst 4kb latency 400ms

# run BIN: one run of BIN (its own serve and a fresh subscriber store).
run() {
	local bin=$1 out key port
	out="$T/serve.out"
	MEGAFS_STORE=$PUB ip netns exec "$NS" "$bin" serve --listen 127.0.0.1:0 >"$out" 2>&1 &
	local pid=$!
	wait_for 10 grep -q serving "$out" || fail "megafs serve did not start: $(cat "$out")"
	port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$out")
	key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$out")
	rm -rf "$T/sub"
	MEGAFS=$bin new_subscriber "$T/sub"
	ip netns exec "$NS" "$0" --inner "$bin" "$T/sub" "$LINK" "127.0.0.1:$port#$key" "$T/mnt"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A first seek
names=(new)
[ -n "$old" ] && names+=(old)
for i in $(seq "$repeat"); do
	for name in "${names[@]}"; do
		bin=$new
		[ "$name" = old ] && bin=$old
		read -r f s < <(run "$bin")
		echo "run $i $name: first byte $f ms, 4 KiB at 3.5 MiB $s ms"
		first[$name]+="$f "
		seek[$name]+="$s "
	done
done
printf '%-6s %14s %20s\n' build "first byte ms" "seek after it ms"
for name in "${names[@]}"; do
	printf '%-6s %14s %20s\n' "$name" "$(tr ' ' '\n' <<<"${first[$name]}" | grep . | median)" \
		"$(tr ' ' '\n' <<<"${seek[$name]}" | grep . | median)"
done
