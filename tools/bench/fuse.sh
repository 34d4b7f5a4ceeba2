#!/usr/bin/env bash
# tools/bench/fuse.sh: megafs mounted, side by side with gocryptfs, cryfs and
# the plain file on the same disk (the limit), on the same random file and
# the same mp4; optionally an older megafs build beside this tree's.
#
#   sudo tools/bench/fuse.sh
#
# Every number is the median of BENCH_REPEAT runs. Each run starts from a
# fresh filesystem (a new store, cipher directory or plain directory), so
# each run's cp in writes into an empty one. "Cold" means: every FUSE
# filesystem unmounted and mounted again (no in-process cache warm: megafs'
# session cache and reader, cryfs' block cache), then sync and
# echo 3 > /proc/sys/vm/drop_caches (the backing disk's pages gone too);
# for plain, only the latter. The rows, per column:
#
#   cp in              MiB/s of `cp FILE MNT/` + `sync` (the source in the
#                      page cache first; for megafs, cp's close publishes;
#                      cryfs may still hold blocks in its own cache after
#                      sync: it writes them out at unmount)
#   cold seq read      MiB/s of `dd bs=1M` of the whole file, cold
#   warm seq read      MiB/s of the same dd right after the cold one, nothing
#                      dropped: what the page cache (and the filesystem's own
#                      caches) give a second read; the plain column's is the
#                      page cache alone, and the next row is each column's as
#                      a percentage of plain's
#   daemon CPU         CPU-seconds (user + system, /proc/PID/stat of the FUSE
#                      daemon, all its threads) spent during the cold dd, per
#                      GiB read; none for plain (the kernel reads it)
#   random p50/p99     4 KiB random reads, cold: mfs-bench-randread (from
#                      tools/bench/randread.c) reads BENCH_RANDREAD_N distinct
#                      4 KiB-aligned pages of the file once each, in an order
#                      fixed by the seed (splitmix64): the same pages in the
#                      same order on every filesystem (run r uses seed
#                      BENCH_SEED + r - 1), readahead off (POSIX_FADV_RANDOM);
#                      the median and 99th percentile of the single preads
#                      (us). No page is read twice, so the page cache cannot
#                      answer any of them.
#   random IOPS        the same run's reads / its seconds
#   ffprobe            ms of `ffprobe -show_entries format=duration` of the
#                      mp4, cold (process start included)
#   seek + decode      ms of `ffmpeg -ss 90% -i clip.mp4 -frames:v 1 -f null -`,
#                      cold (process start included)
#
# Environment:
#   BENCH_SIZE_MB     size of the random file in MiB (default 1024)
#   BENCH_VIDEO_S     length of the test mp4 in seconds (default 120)
#   BENCH_REPEAT      runs per filesystem, the median shown (default 3)
#   BENCH_FS          which columns to run (default "megafs gocryptfs cryfs
#                     plain")
#   BENCH_OLD_REV     a git revision (e.g. 746f839): also build that commit
#                     of megafs in a temporary worktree and run it as the
#                     column "megafs@REV", next to megafs (or first, when
#                     BENCH_FS has no megafs); each megafs column inits,
#                     ingests and mounts with its own binary, store formats
#                     differing between revisions. Default: none.
#   BENCH_RANDREAD_N  4 KiB pages each random-read run reads (default 3000;
#                     at most the file's pages)
#   BENCH_SEED        the random-read seed of the first run (default 1)
#   BENCH_BUILD       the tree's build directory (default build/; configured
#                     RelWithDebInfo when it has no CMakeCache.txt). The old
#                     revision is built with the same CMAKE_BUILD_TYPE.
#   BENCH_JOBS        parallel jobs for the builds (default: all cores)
#   BENCH_PERF        1: perf record (DWARF call graphs) the megafs daemon
#                     during the first run's cold sequential read and random
#                     reads, and print the top symbols and megafs' inclusive
#                     costs (perf slows what it watches: that run's numbers
#                     count in the medians, so use it apart from the table)
#   BENCH_TMPDIR      where the stores, mounts and files go (default /var/tmp);
#                     it needs ~6x BENCH_SIZE_MB + 1 GiB free
#
# Needs root: the cold rows drop the page cache, and missing tools
# (gocryptfs, cryfs, ffmpeg, fuse3, perf) are installed with apt-get.
# Prints one Markdown table (rows: measurements, columns: filesystems) on
# stdout, progress on stderr. Nothing leaves the machine.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
build=${BENCH_BUILD:-"$root/build"}
size_mb=${BENCH_SIZE_MB:-1024}
video_s=${BENCH_VIDEO_S:-120}
repeat=${BENCH_REPEAT:-3}
fs_list=${BENCH_FS:-"megafs gocryptfs cryfs plain"}
old_rev=${BENCH_OLD_REV:-}
rr_n=${BENCH_RANDREAD_N:-3000}
rr_seed=${BENCH_SEED:-1}
jobs=${BENCH_JOBS:-$(nproc)}
perf_on=${BENCH_PERF:-0}
pw="bench-password"
export MEGAFS_PASSWORD=$pw # every megafs column's store

die() { echo "fuse.sh: $*" >&2; exit 1; }
log() { echo "fuse.sh: $*" >&2; }

# The command line and the date, for the table's header.
cmdline=""
for v in $(compgen -e | grep '^BENCH_' || true); do
	cmdline+="$v=$(printf '%q' "${!v}") "
done
cmdline+="$0${*:+ $*}"
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')

[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer"
[[ $video_s =~ ^[1-9][0-9]*$ ]] || die "BENCH_VIDEO_S must be a positive integer"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $rr_n =~ ^[1-9][0-9]*$ ]] || die "BENCH_RANDREAD_N must be a positive integer"
[[ $rr_seed =~ ^[0-9]+$ ]] || die "BENCH_SEED must be a non-negative integer"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer"
for f in $fs_list; do
	[[ $f =~ ^(megafs|gocryptfs|cryfs|plain)$ ]] || die "BENCH_FS: unknown '$f'"
done
(( EUID == 0 )) || die "needs root (drop_caches, apt-get)"
pages=$(( size_mb * 256 ))
(( rr_n <= pages )) || rr_n=$pages

# --- tools (installed only when missing) --------------------------------------
# apt_install PKG...: apt-get install; on failure apt-get update, then again.
apt_install() {
	log "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
	log "apt-get install failed: apt-get update, then again"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
		die "could not install $*"
}
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v fusermount3 >/dev/null || need+=(fuse3)
[[ " $fs_list " == *" gocryptfs "* ]] && ! command -v gocryptfs >/dev/null && need+=(gocryptfs)
[[ " $fs_list " == *" cryfs "* ]] && ! command -v cryfs >/dev/null && need+=(cryfs)
[[ $perf_on == 1 ]] && ! command -v perf >/dev/null && need+=(linux-perf)
(( ${#need[@]} == 0 )) || apt_install "${need[@]}"

# --- scratch space -----------------------------------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-fuse-bench.XXXXXX")
old_src="$work/old-src"
declare -A MNT PID LINK BIN DIR
perf_pid=""
cleanup() {
	set +e
	[[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
	for f in "${!MNT[@]}"; do
		mountpoint -q "${MNT[$f]}" 2>/dev/null || continue
		if [[ $(kind "$f") == megafs ]]; then
			"${BIN[$f]}" umount "${MNT[$f]}" 2>/dev/null || fusermount3 -u "${MNT[$f]}"
		else
			fusermount3 -u "${MNT[$f]}" 2>/dev/null
		fi
	done
	for f in "${!PID[@]}"; do
		[[ -n ${PID[$f]} && $(kind "$f") != megafs ]] && wait "${PID[$f]}" 2>/dev/null
	done
	if [[ -d $old_src ]]; then
		git -C "$root" worktree remove --force "$old_src" 2>/dev/null
		git -C "$root" worktree prune 2>/dev/null
	fi
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# kind COLUMN: megafs for megafs and megafs@REV, else the column's name.
kind() { [[ $1 == megafs || $1 == megafs@* ]] && echo megafs || echo "$1"; }

free_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$(( 6 * size_mb + 1024 ))
(( free_mb >= need_mb )) || die "$work has $free_mb MiB free, needs ~$need_mb MiB"

# --- builds: this tree's megafs and randread; BENCH_OLD_REV's megafs ---------
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
if [[ ! -f $build/CMakeCache.txt ]]; then
	log "configuring $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
else
	cmake -S "$root" -B "$build" >/dev/null # so it knows targets added since
fi
cmake --build "$build" -j"$jobs" --target megafs mfs-bench-randread >/dev/null
randread="$build/mfs-bench-randread"
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$build/CMakeCache.txt")

cols=()
for f in $fs_list; do
	cols+=("$f")
	[[ $f == megafs ]] && BIN[$f]="$build/megafs"
done
if [[ -n $old_rev ]]; then
	old_short=$(git -C "$root" rev-parse --short "$old_rev^{commit}" 2>/dev/null) ||
		die "BENCH_OLD_REV: no revision '$old_rev'"
	old_col="megafs@$old_short"
	log "building megafs $old_short ($build_type) for the column $old_col"
	git -C "$root" worktree add --detach "$old_src" "$old_short" >/dev/null 2>&1 ||
		die "could not check out $old_short"
	cmake -S "$old_src" -B "$old_src/build" -DCMAKE_BUILD_TYPE="${build_type:-Release}" >/dev/null
	cmake --build "$old_src/build" -j"$jobs" --target megafs >/dev/null ||
		die "megafs $old_short does not build"
	BIN[$old_col]="$old_src/build/megafs"
	# Right after megafs, or first.
	if [[ " $fs_list " == *" megafs "* ]]; then
		new_cols=()
		for f in "${cols[@]}"; do
			new_cols+=("$f")
			[[ $f == megafs ]] && new_cols+=("$old_col")
		done
		cols=("${new_cols[@]}")
	else
		cols=("$old_col" "${cols[@]}")
	fi
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mibps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb / s }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

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

# cpu_ticks PID: user + system clock ticks of the process (all threads).
# Fields 14 and 15 of /proc/PID/stat, counted after the ")" closing comm.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)

# --- the filesystems: setup, mount, umount, teardown -----------------------------
# MNT[f] is where the files go; for plain, a directory on the same disk.
# DIR[f] holds the column's store (or cipher directory) and its mount point.
fs_setup() {
	local f=$1 d="$work/fs-${1//@/-}"
	rm -rf -- "$d"
	mkdir -p "$d/mnt"
	DIR[$f]=$d
	MNT[$f]="$d/mnt"
	PID[$f]=""
	case $(kind "$f") in
	megafs)
		MEGAFS_STORE="$d/store" "${BIN[$f]}" init --size "${store_mb}M" --kdf fast >/dev/null
		LINK[$f]=$(MEGAFS_STORE="$d/store" "${BIN[$f]}" channel new "bench")
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
	local f=$1 d=${DIR[$1]}
	case $(kind "$f") in
	megafs)
		MEGAFS_STORE="$d/store" "${BIN[$f]}" mount "${LINK[$f]}" "${MNT[$f]}"
		# The daemon's pid is the mount's source (megafs:PID); its command
		# line no longer shows a private link whole.
		PID[$f]=$(awk -v d="$(readlink -f "${MNT[$f]}")" \
			'$2 == d && $1 ~ /^megafs:/ { sub("megafs:", "", $1); print $1 }' /proc/mounts)
		[[ -n ${PID[$f]} ]] || die "$f: no mount process found"
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
	if [[ $(kind "$f") != megafs ]] && ! wait_mounted "${MNT[$f]}" "${PID[$f]}"; then
		cat "$d/log" >&2
		die "$f did not mount"
	fi
	mountpoint -q "${MNT[$f]}" || die "$f is not mounted on ${MNT[$f]}"
}

fs_umount() {
	local f=$1
	case $(kind "$f") in
	megafs) "${BIN[$f]}" umount "${MNT[$f]}" ;; # returns once the daemon exited
	plain) return 0 ;;
	*)
		fusermount3 -u "${MNT[$f]}"
		wait "${PID[$f]}" || true # until it has written out and exited
		;;
	esac
	PID[$f]=""
}

fs_teardown() {
	fs_umount "$1"
	rm -rf -- "${DIR[$1]}"
	unset "MNT[$1]"
}

# cold: a fresh mount and an empty page cache.
cold() {
	if [[ $1 != plain ]]; then
		fs_umount "$1"
		fs_mount "$1"
	fi
	drop_caches
}

# perf_start COLUMN RUN NAME: record the megafs column's daemon, first run only.
perf_start() {
	[[ $perf_on == 1 && $1 == megafs && $2 == 1 ]] || return 0
	perf record -q --call-graph dwarf,16384 -F 499 -o "$work/perf.$3.data" \
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
declare -A S # S[metric.column]: the runs' values, space-separated
declare -A R # R[metric.column]: their median
ffprobe_cmd() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1" >/dev/null; }
seek_cmd() { ffmpeg -v error -ss "$seek_to" -i "$1" -frames:v 1 -f null - </dev/null; }
add() { S[$1.$2]+="$3 "; }

# cold_ms ROW FS CMD...: CMD's wall time in ms, after FS is made cold, into ROW.
cold_ms() {
	local row=$1 f=$2 t0 t1
	shift 2
	cold "$f"
	t0=$EPOCHREALTIME
	"$@"
	t1=$EPOCHREALTIME
	add "$row" "$f" "$(ms "$(secs "$t0" "$t1")")"
}

# run_once COLUMN RUN: one run of every row, from a fresh filesystem.
run_once() {
	local f=$1 r=$2 m t0 t1 c0 c1 out
	log "$f, run $r of $repeat: setting up"
	fs_setup "$f"
	m=${MNT[$f]}

	# cp in: source in the page cache, everything before it written out;
	# the time is cp + sync (all filesystems' dirty data, the backing
	# store's included).
	log "$f: cp in"
	sync
	cat "$src" >/dev/null
	t0=$EPOCHREALTIME
	cp "$src" "$m/file.bin"
	sync
	t1=$EPOCHREALTIME
	add cp "$f" "$(mibps "$size_mb" "$(secs "$t0" "$t1")")"
	cp "$clip" "$m/clip.mp4"
	sync
	[[ $(stat -c %s "$m/file.bin") == $((size_mb * 1048576)) ]] || die "$f: wrong size after cp"

	log "$f: cold sequential read"
	cold "$f"
	perf_start "$f" "$r" seqread
	[[ -n ${PID[$f]} ]] && c0=$(cpu_ticks "${PID[$f]}")
	t0=$EPOCHREALTIME
	dd if="$m/file.bin" of=/dev/null bs=1M status=none
	t1=$EPOCHREALTIME
	[[ -n ${PID[$f]} ]] && c1=$(cpu_ticks "${PID[$f]}")
	perf_stop
	add cold "$f" "$(mibps "$size_mb" "$(secs "$t0" "$t1")")"
	if [[ -n ${PID[$f]} ]]; then
		add cpu "$f" "$(awk -v t=$((c1 - c0)) -v hz="$clk_tck" -v mb="$size_mb" \
			'BEGIN { printf "%.2f", t / hz / (mb / 1024) }')"
	fi

	log "$f: warm sequential read"
	t0=$EPOCHREALTIME
	dd if="$m/file.bin" of=/dev/null bs=1M status=none
	t1=$EPOCHREALTIME
	add warm "$f" "$(mibps "$size_mb" "$(secs "$t0" "$t1")")"

	log "$f: $rr_n 4 KiB random reads, cold"
	cold "$f"
	perf_start "$f" "$r" randread
	out=$("$randread" "$m/file.bin" "$rr_n" $((rr_seed + r - 1))) || die "$f: random reads failed"
	perf_stop
	add p50 "$f" "$(awk '$1 == "p50_us" { print $2 }' <<<"$out")"
	add p99 "$f" "$(awk '$1 == "p99_us" { print $2 }' <<<"$out")"
	add iops "$f" "$(awk '$1 == "iops" { print $2 }' <<<"$out")"

	log "$f: ffprobe, cold"
	cold_ms probe "$f" ffprobe_cmd "$m/clip.mp4"

	log "$f: seek to ${seek_to} s and decode a frame, cold"
	cold_ms seek "$f" seek_cmd "$m/clip.mp4"

	# What was measured was the file: the mp4 must come back identical.
	cmp -s "$clip" "$m/clip.mp4" || die "$f: the mp4 read back differs"

	fs_teardown "$f"
}

metrics=(cp cold warm cpu p50 p99 iops probe seek)
started=$EPOCHREALTIME
for f in "${cols[@]}"; do
	for r in $(seq "$repeat"); do
		run_once "$f" "$r"
	done
	for k in "${metrics[@]}"; do
		[[ -n ${S[$k.$f]:-} ]] || continue
		# shellcheck disable=SC2086 # the runs' values, one word each
		R[$k.$f]=$(median ${S[$k.$f]})
	done
done
elapsed=$(secs "$started" "$EPOCHREALTIME")

# Each column's warm read as a percentage of plain's (the page cache alone).
if [[ -n ${R[warm.plain]:-} ]]; then
	for f in "${cols[@]}"; do
		R[warmpct.$f]=$(awk -v a="${R[warm.$f]}" -v b="${R[warm.plain]}" 'BEGIN { printf "%.0f", 100 * a / b }')
	done
fi

# --- the table ---------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
disk=$(df -P "$work" | awk 'NR == 2 { print $1 " (" $6 ")" }')
vers=""
[[ " ${cols[*]} " == *" gocryptfs "* ]] &&
	vers+="gocryptfs $(gocryptfs -version 2>/dev/null | awk '{ sub(";", "", $2); print $2; exit }'), "
[[ " ${cols[*]} " == *" cryfs "* ]] &&
	vers+="cryfs $(cryfs --version 2>/dev/null | awk '/Version/ { print $3; exit }'), "
vers+="$(ffmpeg -version 2>/dev/null | awk 'NR == 1 { print $1 " " $3 }'), kernel $(uname -r)"

# better METRIC: "hi" or "lo" (MiB/s and IOPS higher, times and CPU lower).
declare -A BETTER=([cp]=hi [cold]=hi [warm]=hi [iops]=hi [p50]=lo [p99]=lo [probe]=lo
	[seek]=lo [cpu]=lo)
# The issue's goals (issue 9): megafs at least as good as gocryptfs and
# cryfs on every row, cp at least 1.5x gocryptfs'; the cold read at least
# 0.9x plain's, the warm one at least half of it.
declare -A FACTOR=([cp.gocryptfs]=1.5)
declare -A OF_PLAIN=([cold]=0.9 [warm]=0.5)
# goal METRIC: whether megafs meets the row's goals against the columns run.
goal() {
	local k=$1 mine=${R[$1.megafs]:-} o v f verdict=yes compared=0
	[[ -n $mine && -n ${BETTER[$k]:-} ]] || { echo "-"; return; }
	for o in gocryptfs cryfs; do
		v=${R[$k.$o]:-}
		f=${FACTOR[$k.$o]:-1}
		[[ -n $v ]] || continue
		compared=1
		if [[ ${BETTER[$k]} == hi ]]; then
			awk -v a="$mine" -v b="$v" -v f="$f" 'BEGIN { exit !(a >= f * b) }' || verdict=NO
		else
			awk -v a="$mine" -v b="$v" -v f="$f" 'BEGIN { exit !(a <= f * b) }' || verdict=NO
		fi
	done
	if [[ -n ${OF_PLAIN[$k]:-} && -n ${R[$k.plain]:-} ]]; then
		compared=1
		awk -v a="$mine" -v b="${R[$k.plain]}" -v f="${OF_PLAIN[$k]}" \
			'BEGIN { exit !(a >= f * b) }' || verdict=NO
	fi
	(( compared )) || verdict="-"
	echo "$verdict"
}

row() {
	local k=$1 f line="| $2 |"
	for f in "${cols[@]}"; do
		line+=" ${R[$k.$f]:--} |"
	done
	echo "$line $(goal "$k") |"
}

echo
echo "\`$cmdline\`, $started_at"
echo
echo "megafs $rev ($build_type) mounted${old_rev:+, megafs $old_short built the same way}, next to the other"
echo "columns; $size_mb MiB random file, ${video_s} s 1280x720 mp4 ($((clip_bytes / 1024)) KiB, seek to ${seek_to} s);"
echo "medians of $repeat run(s) each; $cpu, $(nproc) cores; all on $disk;"
echo "$vers; the run took $(printf '%.0f' "$elapsed") s."
echo
header="| |" sep="|---|"
for f in "${cols[@]}"; do
	header+=" $f |"
	sep+="---:|"
done
echo "$header goal |"
echo "$sep:---:|"
row cp "cp in (MiB/s)"
row cold "cold sequential read, dd bs=1M (MiB/s)"
row warm "warm sequential read, dd bs=1M (MiB/s)"
[[ -n ${R[warm.plain]:-} ]] && row warmpct "warm sequential read, % of plain's (%)"
row cpu "daemon CPU, cold sequential read (CPU-s/GiB)"
row p50 "4 KiB random read p50, cold, $rr_n pages once (us)"
row p99 "4 KiB random read p99, cold, $rr_n pages once (us)"
row iops "4 KiB random reads, cold, $rr_n pages once (IOPS)"
row probe "ffprobe the mp4, cold (ms)"
row seek "seek to 90% + decode a frame, cold (ms)"
echo
echo "Goals (issue 9): megafs at least as good as gocryptfs and cryfs on every row (as"
echo "little CPU), cp at least 1.5x gocryptfs'; its cold sequential read at least 0.9x"
echo "plain's, its warm one at least half of plain's. (goal column: yes when met.)"
echo "Every run from a fresh filesystem. Cold: FUSE filesystems unmounted and mounted"
echo "again, then sync and drop_caches (3). Warm: the same dd right after the cold one."
echo "cp in: cp (source in the page cache) + sync; for megafs cp's close publishes."
echo "Daemon CPU: utime + stime of the FUSE process during the cold dd, per GiB."
echo "Random reads: mfs-bench-randread, $rr_n distinct 4 KiB pages (splitmix64, seed"
echo "$rr_seed in run 1, one more in each further run: the same pages on every"
echo "filesystem), each read once, readahead off; percentiles of the single preads;"
echo "IOPS = reads / seconds."
echo "ffprobe / seek: wall time of ffprobe -show_entries format=duration, and of"
echo "ffmpeg -ss ${seek_to} -i clip.mp4 -frames:v 1 -f null - (process start included)."

if [[ $perf_on == 1 ]]; then
	# libsodium is stripped: its hot code shows as addresses (ChaCha20's
	# AVX2 rounds, Poly1305); the inclusive view names megafs' callers.
	report() { perf report -i "$1" --stdio -g none "${@:2}" 2>/dev/null | grep -v -e '^#' -e '^$' || true; }
	for p in seqread randread; do
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
