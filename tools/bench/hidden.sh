#!/usr/bin/env bash
# tools/bench/hidden.sh: what a hidden volume's parity costs: megafs ingest
# into the outer volume and into a hidden one, side by side in one run,
# each into a fresh store (init --kdf fast) with the page cache dropped
# first (when root), and the slots each volume then uses.
#
#   tools/bench/hidden.sh [MEGAFS ...]
#
# Each MEGAFS binary given (default build/megafs) is measured in turn, so an
# older build can sit beside the tree's (e.g. one built from another commit
# with tools/build.sh /tmp/old). Environment: BENCH_SIZE_MB (default 64),
# BENCH_RUNS (default 3), BENCH_TMPDIR (default /var/tmp). Prints a table of
# medians.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
size_mb=${BENCH_SIZE_MB:-64}
runs=${BENCH_RUNS:-3}
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$root/build/megafs")
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-bench-hidden-XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c $((size_mb << 20)) /dev/urandom >"$work/file"

drop_caches() {
	sync
	[ "$(id -u)" = 0 ] && echo 3 >/proc/sys/vm/drop_caches || true
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# run BIN VOLUME: one ingest; prints "MiB/s used_slots"
run() {
	local store=$work/store pw=outer
	rm -rf "$store"
	MEGAFS_STORE=$store MEGAFS_PASSWORD=outer "$1" init --size $((size_mb * 8))M --kdf fast \
		>/dev/null 2>&1
	MEGAFS_STORE=$store MEGAFS_PASSWORD=outer MEGAFS_NEW_PASSWORD=hidden "$1" init --hidden \
		>/dev/null 2>&1
	[ "$2" = hidden ] && pw=hidden
	drop_caches
	local t0 t1
	t0=$(date +%s.%N)
	MEGAFS_STORE=$store MEGAFS_PASSWORD=$pw "$1" ingest "$work/file" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "$(awk -v s="$size_mb" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", s / (b - a)}')" \
		"$(MEGAFS_STORE=$store MEGAFS_PASSWORD=$pw "$1" status 2>/dev/null |
			awk '/^used/ {print $2}')"
}

printf '| binary | volume | ingest MiB/s (median of %d) | slots used for %d MiB |\n' "$runs" "$size_mb"
printf '|---|---|---|---|\n'
for bin in "${bins[@]}"; do
	for vol in outer hidden; do
		: >"$work/rates"
		slots=
		for _ in $(seq 1 "$runs"); do
			read -r rate slots < <(run "$bin" "$vol")
			echo "$rate" >>"$work/rates"
		done
		printf '| %s | %s | %s | %s |\n' "$bin" "$vol" "$(median <"$work/rates")" "$slots"
	done
done
