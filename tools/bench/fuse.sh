#!/usr/bin/env bash
# tools/bench/fuse.sh: megafs mounted, side by side with gocryptfs, cryfs and
# the plain file on the same disk (the limit), on the same random file and
# the same mp4.
#
#   sudo tools/bench/fuse.sh
#
# Environment:
#   BENCH_SIZE_MB   size of the random file in MiB (default 1024)
#   BENCH_VIDEO_S   length of the test mp4 in seconds (default 120)
#   BENCH_FIO_S     seconds of each fio random-read run (default 20)
#   BENCH_REPEAT    cold ffprobe / seek runs per filesystem, the median shown
#                   (default 3)
#   BENCH_FS        which columns to run (default "megafs gocryptfs cryfs plain")
#   BENCH_PERF      1: perf record (DWARF call graphs) the megafs daemon
#                   during its cold sequential read and its fio run, and print
#                   the top symbols and megafs' inclusive costs (perf slows
#                   what it watches: not for the table's numbers; with
#                   BENCH_FS=megafs it takes ~1 minute)
#   BENCH_TMPDIR    where the stores, mounts and files go (default /var/tmp);
#                   it needs ~6x BENCH_SIZE_MB + 1 GiB free
#
# Needs root: the cold rows drop the page cache (echo 3 > drop_caches), and
# missing tools (gocryptfs, cryfs, fio, ffmpeg, jq) are installed with
# apt-get. Every FUSE filesystem is unmounted and mounted again before each
# cold row, so no in-process cache (megafs' session cache and reader, cryfs'
# block cache) is warm. Nothing leaves the machine.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
build="$root/build"
size_mb=${BENCH_SIZE_MB:-1024}
video_s=${BENCH_VIDEO_S:-120}
fio_s=${BENCH_FIO_S:-20}
repeat=${BENCH_REPEAT:-3}
fs_list=${BENCH_FS:-"megafs gocryptfs cryfs plain"}
perf_on=${BENCH_PERF:-0}
pw="bench-password"

die() { echo "fuse.sh: $*" >&2; exit 1; }
log() { echo "fuse.sh: $*" >&2; }

[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer"
[[ $video_s =~ ^[1-9][0-9]*$ ]] || die "BENCH_VIDEO_S must be a positive integer"
[[ $fio_s =~ ^[1-9][0-9]*$ ]] || die "BENCH_FIO_S must be a positive integer"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
for f in $fs_list; do
	[[ $f =~ ^(megafs|gocryptfs|cryfs|plain)$ ]] || die "BENCH_FS: unknown '$f'"
done
(( EUID == 0 )) || die "needs root (drop_caches, apt-get)"

# --- tools (installed only when missing) --------------------------------------
need=()
command -v fio >/dev/null || need+=(fio)
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v jq >/dev/null || need+=(jq)
command -v fusermount3 >/dev/null || need+=(fuse3)
[[ " $fs_list " == *" gocryptfs "* ]] && ! command -v gocryptfs >/dev/null && need+=(gocryptfs)
[[ " $fs_list " == *" cryfs "* ]] && ! command -v cryfs >/dev/null && need+=(cryfs)
[[ $perf_on == 1 ]] && ! command -v perf >/dev/null && need+=(linux-perf)
if (( ${#need[@]} )); then
	log "installing ${need[*]}"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- build (make decides what is out of date) -------------------------------
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
if [[ ! -f $build/CMakeCache.txt ]]; then
	log "configuring $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
make -C "$build" -s megafs >/dev/null
megafs="$build/megafs"

# --- scratch space -----------------------------------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-fuse-bench.XXXXXX")
declare -A MNT PID LINK
perf_pid=""
cleanup() {
	set +e
	[[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
	for f in "${!MNT[@]}"; do
		mountpoint -q "${MNT[$f]}" 2>/dev/null || continue
		if [[ $f == megafs ]]; then
			"$megafs" umount "${MNT[$f]}" 2>/dev/null || fusermount3 -u "${MNT[$f]}"
		else
			fusermount3 -u "${MNT[$f]}" 2>/dev/null
		fi
	done
	for f in "${!PID[@]}"; do
		[[ -n ${PID[$f]} ]] && wait "${PID[$f]}" 2>/dev/null
	done
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The source file, the mp4, each filesystem's store and the plain copies.
free_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$(( 6 * size_mb + 1024 ))
(( free_mb >= need_mb )) || die "$work has $free_mb MiB free, needs ~$need_mb MiB"

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mibps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb / s }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# wait_mounted DIR PID: until DIR is a mount point (or PID died).
wait_mounted() {
	for _ in $(seq 600); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# --- the filesystems: setup, mount, umount -----------------------------------
# MNT[f] is where the files go; for plain, a directory on the same disk.
fs_setup() {
	local f=$1 d="$work/$1"
	mkdir -p "$d/mnt"
	MNT[$f]="$d/mnt"
	PID[$f]=""
	case $f in
	megafs)
		export MEGAFS_STORE="$d/store" MEGAFS_PASSWORD="$pw"
		"$megafs" init --size "${store_mb}M" --kdf fast >/dev/null
		LINK[$f]=$("$megafs" channel new "bench")
		;;
	gocryptfs)
		mkdir -p "$d/cipher"
		gocryptfs -q -init -extpass "echo $pw" "$d/cipher" >/dev/null
		;;
	cryfs)
		mkdir -p "$d/cipher" "$d/xdg"
		;;
	esac
	fs_mount "$f"
}

fs_mount() {
	local f=$1 d="$work/$1"
	case $f in
	megafs)
		"$megafs" mount "${LINK[$f]}" "${MNT[$f]}"
		PID[$f]=$(pgrep -f -- "mount ${LINK[$f]} ${MNT[$f]}\$" | head -1)
		;;
	gocryptfs)
		gocryptfs -q -fg -extpass "echo $pw" "$d/cipher" "${MNT[$f]}" >>"$d/log" 2>&1 &
		PID[$f]=$!
		;;
	cryfs)
		# The first mount creates the filesystem (noninteractive: no
		# questions); its local state goes to $d/xdg, not ~/.local.
		echo "$pw" | CRYFS_FRONTEND=noninteractive CRYFS_NO_UPDATE_CHECK=true \
			XDG_DATA_HOME="$d/xdg" cryfs -f --cipher xchacha20-poly1305 \
			"$d/cipher" "${MNT[$f]}" >>"$d/log" 2>&1 &
		PID[$f]=$!
		;;
	plain)
		return 0
		;;
	esac
	if [[ $f != megafs ]] && ! wait_mounted "${MNT[$f]}" "${PID[$f]}"; then
		cat "$d/log" >&2
		die "$f did not mount"
	fi
	mountpoint -q "${MNT[$f]}" || die "$f is not mounted on ${MNT[$f]}"
}

fs_umount() {
	local f=$1
	case $f in
	megafs) "$megafs" umount "${MNT[$f]}" ;; # returns once the daemon exited
	plain) return 0 ;;
	*)
		fusermount3 -u "${MNT[$f]}"
		wait "${PID[$f]}" || true # until it has written out and exited
		;;
	esac
	PID[$f]=""
}

# cold: a fresh mount and an empty page cache.
cold() {
	if [[ $1 != plain ]]; then
		fs_umount "$1"
		fs_mount "$1"
	fi
	drop_caches
}

perf_start() {
	[[ $perf_on == 1 && $1 == megafs ]] || return 0
	perf record -q --call-graph dwarf,16384 -F 499 -o "$work/perf.$2.data" \
		-p "${PID[megafs]}" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.3
}

perf_stop() {
	[[ -n $perf_pid ]] || return 0
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=""
}

# --- the test files ----------------------------------------------------------
src="$work/src/file.bin"
clip="$work/src/clip.mp4"
mkdir -p "$work/src"
log "writing $size_mb MiB of random data"
head -c "$((size_mb * 1048576))" /dev/urandom >"$src"
log "making a ${video_s} s 1280x720 mp4 (H.264 + AAC, a keyframe every 2 s)"
ffmpeg -v error -f lavfi -i "testsrc=duration=$video_s:size=1280x720:rate=25" \
	-f lavfi -i "sine=frequency=440:duration=$video_s" -c:v libx264 -preset ultrafast \
	-g 50 -c:a aac -shortest -y "$clip" </dev/null
clip_bytes=$(stat -c %s "$clip")
clip_mb=$(( clip_bytes / 1048576 + 1 ))
duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$clip")
seek_to=$(awk -v d="$duration" 'BEGIN { printf "%.2f", d * 0.9 }')

# megafs: 17 slots of 64 KiB per 1 MiB chunk, 16 nominal slots per MiB;
# twice the content, as the integration tests size theirs, plus room for
# manifests.
store_mb=$(( 2 * (size_mb + clip_mb) + 256 ))

# --- the runs ----------------------------------------------------------------
declare -A R # R[metric.fs]
ffprobe_cmd() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1" >/dev/null; }
seek_cmd() { ffmpeg -v error -ss "$seek_to" -i "$1" -frames:v 1 -f null - </dev/null; }

run_fs() {
	local f=$1 m t0 t1 js
	log "$f: setting up"
	fs_setup "$f"
	m=${MNT[$f]}

	# cp in: source in the page cache, everything before it written out;
	# the time is cp + sync (all filesystems' dirty data, the backing
	# store's included).
	log "$f: cp in"
	sync
	cat "$src" >/dev/null
	t0=$(now)
	cp "$src" "$m/file.bin"
	sync
	t1=$(now)
	R[cp.$f]=$(mibps "$size_mb" "$(secs "$t0" "$t1")")
	cp "$clip" "$m/clip.mp4"
	sync
	[[ $(stat -c %s "$m/file.bin") == $((size_mb * 1048576)) ]] || die "$f: wrong size after cp"

	log "$f: cold sequential read"
	cold "$f"
	perf_start "$f" seqread
	t0=$(now)
	dd if="$m/file.bin" of=/dev/null bs=1M status=none
	t1=$(now)
	perf_stop
	R[cold.$f]=$(mibps "$size_mb" "$(secs "$t0" "$t1")")

	log "$f: warm sequential read"
	t0=$(now)
	dd if="$m/file.bin" of=/dev/null bs=1M status=none
	t1=$(now)
	R[warm.$f]=$(mibps "$size_mb" "$(secs "$t0" "$t1")")

	log "$f: fio 4 KiB random reads, ${fio_s} s"
	cold "$f"
	js="$work/fio.$f.json"
	perf_start "$f" fio
	fio --name=r --filename="$m/file.bin" --rw=randread --bs=4k --ioengine=psync \
		--direct=0 --runtime="$fio_s" --time_based --size="${size_mb}m" --invalidate=1 \
		--readonly --output-format=json --output="$js" >/dev/null
	perf_stop
	R[p50.$f]=$(jq '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$js")
	R[p99.$f]=$(jq '.jobs[0].read.clat_ns.percentile["99.000000"] / 1000 | round' "$js")
	R[iops.$f]=$(jq '.jobs[0].read.iops | round' "$js")

	# Each a few times, cold every time: the median (ffmpeg's own start-up
	# is most of it, and varies by some 10 ms).
	local probes=() seeks=()
	for _ in $(seq "$repeat"); do
		log "$f: ffprobe, cold"
		cold "$f"
		t0=$(now)
		ffprobe_cmd "$m/clip.mp4"
		t1=$(now)
		probes+=("$(ms "$(secs "$t0" "$t1")")")

		log "$f: seek to ${seek_to} s and decode a frame, cold"
		cold "$f"
		t0=$(now)
		seek_cmd "$m/clip.mp4"
		t1=$(now)
		seeks+=("$(ms "$(secs "$t0" "$t1")")")
	done
	R[probe.$f]=$(median "${probes[@]}")
	R[seek.$f]=$(median "${seeks[@]}")

	# What was measured was the file: the mp4 must come back identical.
	cmp -s "$clip" "$m/clip.mp4" || die "$f: the mp4 read back differs"

	fs_umount "$f"
	rm -rf -- "$work/$f"
	unset "MNT[$f]"
}

started=$(now)
for f in $fs_list; do
	run_fs "$f"
done
elapsed=$(secs "$started" "$(now)")

# --- the table ---------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
disk=$(df -P "$work" | awk 'NR == 2 { print $1 " (" $6 ")" }')
vers="gocryptfs $(gocryptfs -version 2>/dev/null | awk '{ sub(";", "", $2); print $2; exit }' || echo -)"
vers+=", cryfs $(cryfs --version 2>/dev/null | awk '/Version/ { print $3; exit }' || echo -)"
vers+=", fio $(fio --version 2>/dev/null || echo -), kernel $(uname -r)"

# better METRIC: "hi" or "lo" (MiB/s and IOPS higher, times lower).
declare -A BETTER=([cp]=hi [cold]=hi [warm]=hi [iops]=hi [p50]=lo [p99]=lo [probe]=lo [seek]=lo)
# goal METRIC: whether megafs beats gocryptfs and cryfs (those run), and for
# the cold read reaches half of plain.
goal() {
	local k=$1 mine=${R[$1.megafs]:-} o v verdict=yes compared=0
	[[ -n $mine ]] || { echo "-"; return; }
	for o in gocryptfs cryfs; do
		v=${R[$k.$o]:-}
		[[ -n $v ]] || continue
		compared=1
		if [[ ${BETTER[$k]} == hi ]]; then
			awk -v a="$mine" -v b="$v" 'BEGIN { exit !(a > b) }' || verdict=NO
		else
			awk -v a="$mine" -v b="$v" 'BEGIN { exit !(a < b) }' || verdict=NO
		fi
	done
	if [[ $k == cold && -n ${R[cold.plain]:-} ]]; then
		compared=1
		awk -v a="$mine" -v b="${R[cold.plain]}" 'BEGIN { exit !(a >= b / 2) }' || verdict=NO
	fi
	(( compared )) || verdict="-"
	echo "$verdict"
}

row() {
	local k=$1 label=$2 f
	printf "%-44s" "$label"
	for f in megafs gocryptfs cryfs plain; do
		printf " %10s" "${R[$k.$f]:--}"
	done
	printf " %6s\n" "$(goal "$k")"
}

echo
echo "megafs $rev mounted, next to gocryptfs, cryfs and the plain file; $size_mb MiB random"
echo "file, ${video_s} s 1280x720 mp4 ($((clip_bytes / 1024)) KiB, seek to ${seek_to} s); $cpu, $(nproc) cores"
echo "All on $disk; $vers; run took $(printf '%.0f' "$elapsed") s."
echo
printf "%-44s %10s %10s %10s %10s %6s\n" "" megafs gocryptfs cryfs plain "goal"
row cp "cp in (MiB/s)"
row cold "cold sequential read, dd bs=1M (MiB/s)"
row warm "warm sequential read, dd bs=1M (MiB/s)"
row p50 "4 KiB random read p50, cold-ish (us)"
row p99 "4 KiB random read p99, cold-ish (us)"
row iops "4 KiB random read, cold-ish (IOPS)"
row probe "ffprobe the mp4, cold (ms)"
row seek "seek to 90% + decode a frame, cold (ms)"
echo
echo "Goals: megafs faster than gocryptfs and cryfs on every row; its cold sequential"
echo "read at least half of plain's. (goal column: yes when met.)"
echo "cp in: time of cp (source in the page cache) + sync, the same rule for all; for"
echo "  plain a directory on the same disk; for megafs cp's close publishes. cryfs may"
echo "  still hold blocks in its own cache after sync (it writes them out at unmount)."
echo "Cold rows: FUSE filesystems unmounted and mounted again, then sync and"
echo "  drop_caches (3). Warm: the same dd right after the cold one."
echo "Random reads: fio psync, 4 KiB, 1 job, ${fio_s} s, --invalidate=1, buffered; clat"
echo "  percentiles. The page cache fills during the run, hence cold-ish."
echo "ffprobe / seek: wall time of ffprobe -show_entries format=duration, and of"
echo "  ffmpeg -ss ${seek_to} -i clip.mp4 -frames:v 1 -f null - (process start included);"
echo "  median of $repeat, each cold."

if [[ $perf_on == 1 ]]; then
	# libsodium is stripped: its hot code shows as addresses (ChaCha20's
	# AVX2 rounds, Poly1305); the inclusive view names megafs' callers.
	report() { perf report -i "$1" --stdio -g none "${@:2}" 2>/dev/null | grep -v -e '^#' -e '^$' || true; }
	for p in seqread fio; do
		d="$work/perf.$p.data"
		[[ -f $d ]] || continue
		echo
		echo "perf, megafs daemon during the $p run, by library (self %):"
		report "$d" --no-children --sort dso --percent-limit 0.5 | head -8
		echo "top symbols (self %):"
		report "$d" --no-children --sort dso,symbol --percent-limit 1 | head -15
		echo "megafs functions, inclusive (children %):"
		report "$d" --children --sort dso,symbol --percent-limit 3 | awk '$3 == "megafs"' | head -25
	done
fi
