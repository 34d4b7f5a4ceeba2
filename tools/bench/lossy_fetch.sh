#!/usr/bin/env bash
# tools/bench/lossy_fetch.sh [MEGAFS [OLD_MEGAFS]]: `megafs fetch` of a
# fresh 4 MiB file over a bad link (issue 13's lossy and slow links), two
# builds side by side.
#
# Two network namespaces joined by a veth pair: megafs serve in one, the
# subscriber (a fresh store holding the manifest, --peer, no tracker) in
# the other. The links, one after the other (BENCH_LINKS):
#   loss40   40 % of the packets dropped where they arrive, each way
#            (nftables numgen in the prerouting hook: a drop on the way out
#            would tell the sender's TCP at once, which is no loss)
#   slow256  each side held to 256 kbit/s (tc tbf rate 256kbit burst 4kb
#            latency 400ms, as tools/bench/transport.sh's 256k link)
# With OLD_MEGAFS (another build's binary) its runs alternate with
# MEGAFS's. A run past BENCH_TIMEOUT_S ends its build's cell on that link
# ("timeout"; the other runs skipped). Prints each run, then per link and
# build the median in seconds and the runs.
# Root (namespaces, nft, tc). BENCH_REPEAT: runs each (3); BENCH_SIZE_MB (4);
# BENCH_TIMEOUT_S (600); BENCH_LINKS ("loss40 slow256").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
new=$(readlink -f "${1:-$root/build/megafs}")
old=${2:+$(readlink -f "$2")}
repeat=${BENCH_REPEAT:-3}
size_mb=${BENCH_SIZE_MB:-4}
limit=${BENCH_TIMEOUT_S:-600}
links=${BENCH_LINKS:-"loss40 slow256"}
[ "$(id -u)" = 0 ] || { echo "lossy_fetch.sh: needs root (namespaces, nft, tc)" >&2; exit 2; }
source "$root/tests/integration/lib.sh" "$new"
source "$root/tests/integration/veth.sh"

# The publisher's mount ends before the namespaces exist (a mount namespace
# made while a FUSE mount lives holds a copy of it).
PUB="$T/pub"
publish_for_subscribers "$PUB" "Lossy fetch" $((size_mb * 1024 * 1024))
A=mfsla$$ B=mfslb$$
NETNS+=("$A" "$B")
veth_pair "$A" "$B" "va$$" "vb$$" 10.231.11.1 10.231.11.2

# shape LINK on|off: the link's loss or rate on both ends.
shape() {
	local side ns dev
	for side in "$A:va$$" "$B:vb$$"; do
		ns=${side%%:*} dev=${side##*:}
		case "$1 $2" in
		"loss40 on") drop_arriving "$ns" "$dev" 40 lossy ;;
		"loss40 off") ip netns exec "$ns" nft delete table inet lossy ;;
		"slow256 on") slow_link "$ns" "$dev" ;;
		"slow256 off") tc -n "$ns" qdisc del dev "$dev" root ;;
		*) fail "no link $1" ;;
		esac
	done
}

# run BIN: one fetch by BIN from its own serve into a fresh subscriber
# store; prints the seconds it took, or "timeout".
run() {
	local bin=$1 out="$T/serve.out" key pid start rc=0
	MEGAFS_STORE=$PUB ip netns exec "$A" "$bin" serve --listen 10.231.11.1:7001 >"$out" 2>&1 &
	pid=$!
	wait_for 10 grep -q serving "$out" || fail "megafs serve did not start: $(cat "$out")"
	key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$out")
	rm -rf "$T/sub" "$T/got.bin"
	MEGAFS=$bin new_subscriber "$T/sub"
	start=$(date +%s%N)
	MEGAFS_STORE=$T/sub timeout "$limit" ip netns exec "$B" "$bin" fetch "$LINK" file.bin \
		-o "$T/got.bin" --peer "10.231.11.1:7001#$key" 2>"$T/fetch.err" || rc=$?
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	if [ "$rc" = 124 ]; then
		echo timeout
		return
	fi
	[ "$rc" = 0 ] || fail "the fetch failed: $(cat "$T/fetch.err")"
	cmp -s "$T/file.bin" "$T/got.bin" || fail "the file fetched differs"
	awk -v ns="$(($(date +%s%N) - start))" 'BEGIN { printf "%.1f", ns / 1e9 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A runs
names=(new)
[ -n "$old" ] && names+=(old)
for link in $links; do
	shape "$link" on
	for i in $(seq "$repeat"); do
		for name in "${names[@]}"; do
			[[ ${runs[$link $name]:-} == *timeout* ]] && continue
			bin=$new
			[ "$name" = old ] && bin=$old
			s=$(run "$bin")
			echo "$link run $i $name: $s s"
			runs[$link $name]+="$s "
		done
	done
	shape "$link" off
done
echo "megafs fetch of $size_mb MiB over a veth pair; seconds, median of $repeat (timeout: $limit s)"
printf '%-8s %-5s %8s  %s\n' link build median runs
for link in $links; do
	for name in "${names[@]}"; do
		r=${runs[$link $name]}
		if [[ $r == *timeout* ]]; then
			m=timeout
		else
			m=$(tr ' ' '\n' <<<"$r" | grep . | median)
		fi
		printf '%-8s %-5s %8s  %s\n' "$link" "$name" "$m" "$r"
	done
done
