#!/usr/bin/env bash
# tools/bench/disk.sh: the ceilings this disk sets under megafs's store,
# with no megafs in the way (mfs-bench-disk, tools/bench/disk.c). The rows
# anchor fuse.sh's: cp in against what the store's write pattern can reach,
# the random reads against what one slot's read costs.
#
#   sudo tools/bench/disk.sh
#
# Rows, medians of BENCH_REPEAT runs, the orders alternated within a run:
#   slot writes, random        1 GiB of whole slots at uniformly random
#                              positions of a file twice the store's size,
#                              committed as the volume commits an ingest
#                              batch (24 MiB, sync, superblock, sync): the
#                              store's pattern, megafs's cp ceiling today
#   slot writes, overlapped    the same with each batch's syncs on a second
#                              thread while the next batch is written (two
#                              commits in flight)
#   slot writes, sequential    the same slots one after another
#   plain cp                   cp of a 1 GiB file + sync, as the plain
#                              column of fuse.sh writes
#   4 KiB / slot random read   p50 and p99 of BENCH_READS cold preads of
#                              4 KiB and of one slot (69,632 bytes) at
#                              distinct random offsets (no readahead)
# The write rows start with the file in the page cache, as fuse.sh's cp
# starts right after `megafs init` wrote the store; the reads start cold.
#
# Environment: BENCH_REPEAT (3), BENCH_READS (3000), BENCH_TMPDIR
# (/var/tmp; needs 4 GiB free).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
repeat=${BENCH_REPEAT:-3}
reads=${BENCH_READS:-3000}
tmp=${BENCH_TMPDIR:-/var/tmp}
die() { echo "disk.sh: $*" >&2; exit 1; }
log() { echo "disk.sh: $*" >&2; }
(( EUID == 0 )) || die "needs root (drop_caches)"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $reads =~ ^[1-9][0-9]*$ ]] || die "BENCH_READS must be a positive integer"

work=$(mktemp -d "$tmp/mfs-bench-disk-XXXXXX")
trap 'rm -rf "$work"' EXIT

"$root/tools/build.sh" build >/dev/null
bench="$root/build/mfs-bench-disk"
[[ -x $bench ]] || die "no $bench"

log "writing a 2 GiB slot file and a 1 GiB source file"
head -c $((2 << 30)) /dev/urandom >"$work/slots"
head -c $((1 << 30)) /dev/urandom >"$work/src"
sync

cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A S
add() { S[$1]+="$2"$'\n'; }
field() { awk -v k="$1" '$1 == k { print $2 }'; }

for r in $(seq 1 "$repeat"); do
	for order in random overlapped sequential; do
		cold
		cat "$work/slots" >/dev/null
		out=$("$bench" write "$order" "$work/slots" 1024) || die "write $order failed"
		add "$order" "$(field mibps <<<"$out")"
		log "run $r: slot writes, $order: $(field mibps <<<"$out") MiB/s" \
			"(writes $(field write_s <<<"$out") s, syncs $(field sync_s <<<"$out") s)"
	done
	rm -f "$work/plain"
	cold
	cat "$work/src" >/dev/null
	t0=$EPOCHREALTIME
	cp "$work/src" "$work/plain"
	sync
	t1=$EPOCHREALTIME
	add plain "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", 1024 / (b - a) }')"
	for bytes in 4096 69632; do
		cold
		out=$("$bench" read "$bytes" "$work/slots" "$reads") || die "read $bytes failed"
		add "p50.$bytes" "$(field p50_us <<<"$out")"
		add "p99.$bytes" "$(field p99_us <<<"$out")"
	done
	log "run $r: plain cp $(tail -n 1 <<<"${S[plain]%$'\n'}") MiB/s"
done

m() { printf '%s' "${S[$1]}" | median; }
echo
echo "the disk under the store ($(findmnt -no SOURCE -T "$tmp")), medians of $repeat runs"
printf '%-44s %10s\n' "row" "value"
printf '%-44s %10s\n' "slot writes, random positions (MiB/s)" "$(m random)"
printf '%-44s %10s\n' "slot writes, random, two commits in flight" "$(m overlapped)"
printf '%-44s %10s\n' "slot writes, sequential positions (MiB/s)" "$(m sequential)"
printf '%-44s %10s\n' "plain cp + sync (MiB/s)" "$(m plain)"
printf '%-44s %10s\n' "4 KiB random read, cold, p50 / p99 (us)" "$(m p50.4096) / $(m p99.4096)"
printf '%-44s %10s\n' "slot random read, cold, p50 / p99 (us)" "$(m p50.69632) / $(m p99.69632)"
