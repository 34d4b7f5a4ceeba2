#!/usr/bin/env bash
# tools/bench/store.sh: what the deniable store costs to write. The megafs
# of this tree beside an earlier megafs (built from git, default 0a2da2b,
# the last commit of store format 1) and a plain cp to the same disk, on the
# same random file, each from a fresh store and a dropped page cache.
#
#   sudo tools/bench/store.sh
#
# Rows: `megafs ingest FILE` (MiB/s), `cp FILE` into an owned mount (MiB/s,
# until cp and sync return), and bytes the megafs process wrote to disk per
# byte of the file (/proc/PID/io write_bytes; the ingest command, the
# mount's daemon). Medians of BENCH_REPEAT runs.
#
# Environment: BENCH_SIZE_MB (default 512), BENCH_REPEAT (3), BENCH_OLD_REV
# (0a2da2b), BENCH_TMPDIR (/var/tmp; needs ~4x BENCH_SIZE_MB free).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
size_mb=${BENCH_SIZE_MB:-512}
repeat=${BENCH_REPEAT:-3}
old_rev=${BENCH_OLD_REV:-0a2da2b}
tmp=${BENCH_TMPDIR:-/var/tmp}
die() { echo "store.sh: $*" >&2; exit 1; }
log() { echo "store.sh: $*" >&2; }
(( EUID == 0 )) || die "needs root (drop_caches)"
[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer"

work=$(mktemp -d "$tmp/mfs-bench-store-XXXXXX")
old_src="$work/old-src"
cleanup() {
	mountpoint -q "$work/m" 2>/dev/null && fusermount3 -u "$work/m"
	git -C "$root" worktree remove --force "$old_src" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$root/tools/build.sh" build >/dev/null
new="$root/build/megafs"
log "building megafs $old_rev for the 'before' column"
git -C "$root" worktree add --detach "$old_src" "$old_rev" >/dev/null 2>&1 || die "no revision $old_rev"
cmake -S "$old_src" -B "$old_src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$old_src/build" -j"$(nproc)" --target megafs -- --no-print-directory >/dev/null
old="$old_src/build/megafs"

head -c $((size_mb << 20)) /dev/urandom >"$work/file"
store_mb=$((size_mb * 2 + 256))
export MEGAFS_PASSWORD=bench-password

cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mibs() { awk -v b=$((size_mb << 20)) -v t="$1" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ingest BIN: seconds and bytes written per byte, one run.
ingest_run() {
	local bin=$1 s="$work/s" t0 t1 wb
	rm -rf "$s"
	MEGAFS_STORE=$s "$bin" init --size "${store_mb}M" --kdf interactive >/dev/null
	cold
	t0=$EPOCHREALTIME
	MEGAFS_STORE=$s "$bin" ingest "$work/file" >/dev/null 2>"$work/err" &
	local pid=$!
	wb=0
	while kill -0 "$pid" 2>/dev/null; do
		wb=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io" 2>/dev/null || echo "$wb")
		sleep 0.05
	done
	wait "$pid" || die "ingest failed: $(cat "$work/err")"
	sync
	t1=$EPOCHREALTIME
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(awk -v w="$wb" -v b=$((size_mb << 20)) 'BEGIN { printf "%.2f", w / b }')"
}

# cp BIN: seconds (cp + sync) and bytes the mount daemon wrote per byte.
cp_run() {
	local bin=$1 s="$work/s" link t0 t1 pid wb
	rm -rf "$s"
	mkdir -p "$work/m"
	MEGAFS_STORE=$s "$bin" init --size "${store_mb}M" --kdf interactive >/dev/null
	link=$(MEGAFS_STORE=$s "$bin" channel new bench)
	MEGAFS_STORE=$s "$bin" mount "$link" "$work/m"
	pid=$(awk -v d="$(readlink -f "$work/m")" \
		'$2 == d && $1 ~ /^megafs:/ { sub("megafs:", "", $1); print $1 }' /proc/mounts)
	cold
	t0=$EPOCHREALTIME
	cp "$work/file" "$work/m/file"
	sync
	t1=$EPOCHREALTIME
	wb=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
	MEGAFS_STORE=$s "$bin" umount "$work/m"
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(awk -v w="$wb" -v b=$((size_mb << 20)) 'BEGIN { printf "%.2f", w / b }')"
}

plain_run() {
	local t0 t1
	rm -f "$work/plain"
	cold
	t0=$EPOCHREALTIME
	cp "$work/file" "$work/plain"
	sync
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

declare -A secs amp
for side in old new; do
	bin=${!side}
	for row in ingest cp; do
		: >"$work/t" ; : >"$work/a"
		for r in $(seq 1 "$repeat"); do
			read -r t a < <(${row}_run "$bin")
			log "$side $row run $r: $t s, $a bytes written per byte"
			echo "$t" >>"$work/t"
			echo "$a" >>"$work/a"
		done
		secs[$side.$row]=$(median <"$work/t")
		amp[$side.$row]=$(median <"$work/a")
	done
done
: >"$work/t"
for r in $(seq 1 "$repeat"); do plain_run >>"$work/t"; done
plain=$(median <"$work/t")

echo
echo "store writes, $size_mb MiB random file, medians of $repeat (fresh store, cold cache)"
printf '%-34s %12s %12s %12s\n' "row" "format 1" "format 2" "plain cp"
printf '%-34s %12s %12s %12s\n' "megafs ingest (MiB/s)" "$(mibs "${secs[old.ingest]}")" "$(mibs "${secs[new.ingest]}")" "$(mibs "$plain")"
printf '%-34s %12s %12s %12s\n' "cp into the mount (MiB/s)" "$(mibs "${secs[old.cp]}")" "$(mibs "${secs[new.cp]}")" "$(mibs "$plain")"
printf '%-34s %12s %12s %12s\n' "ingest: bytes written per byte" "${amp[old.ingest]}" "${amp[new.ingest]}" "1.00"
printf '%-34s %12s %12s %12s\n' "cp: bytes written per byte" "${amp[old.cp]}" "${amp[new.cp]}" "1.00"
