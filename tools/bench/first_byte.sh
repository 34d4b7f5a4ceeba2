#!/usr/bin/env bash
# tools/bench/first_byte.sh: time to the first byte of a fresh remote file
# through a megafs mount, and where that time goes. On 127.0.0.1: a tracker,
# a publisher's channel holding a random file, `megafs serve` seeding it
# (tools/bench/netlib.sh, as tools/bench/net.sh sets them up); then, for
# each run, a subscriber with a new store and a cold page cache: timed from
# starting `megafs mount LINK DIR` until `head -c 1 DIR/file.bin` returns a
# byte (retried while the mount is not there or does not list the file).
#
#   sudo tools/bench/first_byte.sh [MEGAFS ...]
#
# Each MEGAFS binary given (default build/megafs) mounts in turn, run after
# run, so an older build can sit beside the tree's (e.g. one built from
# another commit with tools/build.sh /tmp/old); the first one publishes and
# seeds. Then one more run of each under strace shows where the time goes:
# the process starts, forks, syncs, store opens and connections, in ms from
# the start (strace slows every system call it shows: the trace's total is
# longer than the timed runs').
#
# Environment:
#   BENCH_SIZE_MB    size of the random file in MiB (default 64)
#   BENCH_REPEAT     timed runs of each binary, the median shown (default 5)
#   BENCH_TIMEOUT_S  longest a mount or first byte may take (default 60)
#   BENCH_TRACE      1 (default): the strace run; 0: none
#   BENCH_TMPDIR     where the stores go (default /var/tmp)
#
# Needs root (the page cache is dropped before every run) and strace for
# the trace. Every process it starts and every mount it makes is ended on
# exit, also on failure or Ctrl-C.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
size_mb=${BENCH_SIZE_MB:-64}
repeat=${BENCH_REPEAT:-5}
op_timeout=${BENCH_TIMEOUT_S:-60}
trace=${BENCH_TRACE:-1}
python=python3
export MEGAFS_PASSWORD="bench-password"
unset MEGAFS_STORE MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD

die() { echo "first_byte.sh: $*" >&2; exit 1; }
log() { echo "first_byte.sh: $*" >&2; }

[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $op_timeout =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT_S must be a positive integer"
[[ $trace =~ ^[01]$ ]] || die "BENCH_TRACE must be 0 or 1"
(( EUID == 0 )) || die "needs root (drop_caches)"
(( trace == 0 )) || command -v strace >/dev/null ||
	die "BENCH_TRACE=1 needs strace (apt-get install strace), or set BENCH_TRACE=0"
bins=("$@")
(( ${#bins[@]} )) || bins=("$root/build/megafs")
for b in "${bins[@]}"; do
	[[ -x $b ]] || die "$b is not an executable megafs (build it: tools/build.sh)"
done

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-first-byte.XXXXXX")
: >"$work/pids"
: >"$work/mounts"
mfs_dir="$work/mfs"
mkdir -p "$mfs_dir"
megafs=${bins[0]}
source "$script_dir/netlib.sh"

cleanup() {
	set +e
	trap - INT TERM
	release_all
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

src="$work/file.bin"
probe="$work/probe.bin"
head -c "$((size_mb * 1048576))" /dev/urandom >"$src"
head -c 4096 /dev/urandom >"$probe"
store_mb=$(( 2 * size_mb + 256 ))
mfs_seed "$store_mb" "$src" "$probe"

# one_run BIN: a fresh subscriber; prints "MOUNT_MS FIRST_BYTE_MS".
one_run() {
	local s="$mfs_dir/sub" mnt="$mfs_dir/mnt" t0 tm t1 megafs=$1
	new_store "$s" "$store_mb"
	mkdir -p "$mnt" # a mount point is there before the mount
	drop_caches
	t0=$EPOCHREALTIME
	mfs_mount_only "$s" "$mnt"
	tm=$EPOCHREALTIME
	first_byte "$mnt/file.bin" || die "$1: no first byte through the mount"
	t1=$EPOCHREALTIME
	mfs_mount_pid "$mnt"
	mfs_umount "$mnt" "$MFS_PID"
	rm -rf "$s"
	echo "$(ms "$(secs "$t0" "$tm")") $(ms "$(secs "$t0" "$t1")")"
}

# traced BIN: one run under strace -f; prints the timeline, in ms from the
# start, of what the mount's processes did.
traced() {
	local s="$mfs_dir/sub" mnt="$mfs_dir/mnt" t0 t1 st megafs=$1 out="$mfs_dir/strace.txt"
	new_store "$s" "$store_mb"
	mkdir -p "$mnt"
	register_mount megafs "$mnt"
	drop_caches
	t0=$EPOCHREALTIME
	strace -f -ttt -o "$out" -e trace=execve,clone,clone3,fdatasync,fsync,connect,mount,openat,exit_group \
		"$megafs" --store "$s" mount "$mfs_link" "$mnt" \
		--tracker "$mfs_tracker" >>"$mfs_dir/mount.log" 2>&1 &
	st=$!
	register_pid "$st"
	first_byte "$mnt/file.bin" || die "$1 under strace: no first byte through the mount"
	t1=$EPOCHREALTIME
	timeout 60 "$megafs" umount "$mnt" >/dev/null 2>&1 || fusermount3 -u "$mnt"
	wait "$st" || true
	echo "  first byte after $(ms "$(secs "$t0" "$t1")") ms under strace; the timeline" \
		"(ms, pid, call; threads' clones and openat outside the store left out):"
	awk -v t0="$t0" -v t1="$t1" -v store="$s" '
		$2 > t1 { next }
		/ openat\(/ && index($0, store) == 0 { next }
		/ clone3?\(/ && /CLONE_THREAD/ { threads[$1]++; next }
		/resumed>/ { next }
		{
			line = $0
			sub(/^[0-9]+ +[0-9.]+ +/, "", line)
			if (length(line) > 110)
				line = substr(line, 1, 107) "..."
			printf "  %7.1f %7d %s\n", ($2 - t0) * 1000, $1, line
			if ($0 ~ / f(data)?sync\(/) syncs[$1]++
		}
		END {
			for (p in syncs) printf "  pid %d: %d fsync/fdatasync\n", p, syncs[p]
			for (p in threads) printf "  pid %d: %d threads started\n", p, threads[p]
		}' "$out"
	rm -rf "$s"
}

declare -A MOUNT FIRST
for i in $(seq "$repeat"); do
	for b in "${bins[@]}"; do
		log "run $i/$repeat: $b"
		read -r m f < <(one_run "$b")
		[[ -n ${f:-} ]] || die "$b: the run failed"
		MOUNT[$b]+="$m " FIRST[$b]+="$f "
		log "  mount returned after $m ms, first byte after $f ms"
	done
done

rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
echo
echo "megafs first byte over loopback (tree $rev): a fresh subscriber store (${store_mb}M,"
echo "--kdf fast), page cache dropped (then the harness's timeout and head read back"
echo "in, with the C library; the mount point made before), one seeder (megafs serve)"
echo "and a tracker on 127.0.0.1; a ${size_mb} MiB random file. Median of $repeat runs, ms;"
echo "the runs in brackets."
echo
printf "%-44s %14s %14s\n" "binary" "mount returns" "first byte"
for b in "${bins[@]}"; do
	# shellcheck disable=SC2086 # the runs, split
	printf "%-44s %14s %14s\n" "$b" "$(median ${MOUNT[$b]})" "$(median ${FIRST[$b]})"
	printf "%-44s %14s %14s\n" "" "[${MOUNT[$b]% }]" "[${FIRST[$b]% }]"
done
echo
echo "mount returns: \`megafs mount LINK DIR --tracker URL\` started until it exits (the"
echo "daemon serves the mount). first byte: from the same start until \`head -c 1"
echo "DIR/file.bin\` returns a byte. Not timed: making the subscriber's store (init)."
if (( trace )); then
	for b in "${bins[@]}"; do
		echo
		echo "$b under strace:"
		traced "$b"
	done
fi
