# tools/bench/netlib.sh: what tools/bench/net.sh and tools/bench/first_byte.sh
# share, sourced by both: ending what a script started (every process it
# registers, every mount), timing and medians, waiting for a line or a first
# byte, and the megafs seeding side (a tracker on 127.0.0.1, a publisher's
# store with a channel and files, `megafs serve`, a probe fetched through it).
#
# The sourcing script sets: work (its scratch directory, with empty files
# pids and mounts), megafs (the binary), op_timeout (seconds a transfer may
# take), python (for free_port), mfs_dir (the megafs side's directory), and
# defines die and log.

# stat_fields PID: /proc/PID/stat from field 3 (the state) on, in F[];
# F[19] is the start time (clock ticks since boot), which tells a PID we
# started from a later process given the same number. (Not $(<FILE): under
# set -e, bash 5.2 ends the whole script when FILE cannot be opened, as
# when PID has exited and been reaped, even in an if's condition.)
stat_fields() {
	local s
	s=$(cat -- "/proc/$1/stat" 2>/dev/null) || return 1
	read -ra F <<<"${s##*) }"
}

started_at() { if stat_fields "$1"; then echo "${F[19]}"; fi; }

# alive PID START: still running (not a zombie) and still ours.
alive() { stat_fields "$1" && [[ ${F[0]} != Z && ${F[19]} == "$2" ]]; }

register_pid() {
	local st
	st=$(started_at "$1")
	[[ -n $st ]] && echo "$1 $st" >>"$work/pids"
	return 0
}

register_mount() { echo "$1 $2" >>"$work/mounts"; }

# release_all: unmount every mount, then end every process started here
# (TERM, and KILL for what is still there after 5 s). Used by the sides on
# their way out and by the script's own exit.
release_all() {
	local - kind m pid st left
	set +e
	while read -r kind m; do
		mountpoint -q "$m" 2>/dev/null || continue
		if [[ $kind == megafs ]]; then
			timeout 60 "$megafs" umount "$m" >/dev/null 2>&1
		fi
		mountpoint -q "$m" && fusermount3 -u "$m" 2>/dev/null
		mountpoint -q "$m" && umount -l "$m" 2>/dev/null
	done <"$work/mounts"
	while read -r pid st; do
		alive "$pid" "$st" && kill -TERM "$pid" 2>/dev/null
	done <"$work/pids"
	for _ in $(seq 50); do
		left=0
		while read -r pid st; do
			alive "$pid" "$st" && left=1
		done <"$work/pids"
		(( left )) || break
		sleep 0.1
	done
	while read -r pid st; do
		alive "$pid" "$st" && kill -KILL "$pid" 2>/dev/null
	done <"$work/pids"
	return 0
}

# remove_work: the scratch directory goes, unless something is still
# mounted below it (after release_all).
remove_work() {
	if findmnt -rn -o TARGET | grep -qF -- "$work/"; then
		log "something is still mounted below $work: left in place"
	else
		rm -rf -- "$work"
	fi
}

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mibps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb / s }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# drop_caches: the page cache dropped, then the harness's own helpers read
# back in (timeout and head, with them the C library every program here
# uses), so a cold timing counts the programs measured, not a helper that
# a shell function starts inside the timed span.
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	timeout 5 head -c 0 /dev/null
}

free_port() {
	"$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# status_kib PID FIELD: a KiB field of /proc/PID/status (VmHWM: the peak


# gone_within PID SECS: 0 once PID has exited, 1 when it still runs after SECS.
gone_within() {
	local i
	for (( i = 0; i < $2 * 10; i++ )); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# watchdog PID SECS WHAT: ends PID when it runs longer than SECS.
watchdog() {
	gone_within "$1" "$2" && return 0
	log "$3: still running after $2 s, ended"
	kill -TERM "$1" 2>/dev/null || true
}

# wait_line FILE REGEX PID SECS: until FILE has a line matching REGEX.
wait_line() {
	local i
	for (( i = 0; i < $4 * 50; i++ )); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

# first_byte FILE [PID]: until one byte of FILE can be read (the mount may
# not be there yet, or not list FILE yet); fails after BENCH_TIMEOUT_S or
# when PID, the filesystem's daemon, has died.
first_byte() {
	local deadline=$(( EPOCHSECONDS + op_timeout ))
	while (( EPOCHSECONDS < deadline )); do
		timeout --foreground -s KILL "$op_timeout" head -c 1 -- "$1" 2>/dev/null |
			read -r -n 1 -d '' _ && return 0
		[[ -z ${2:-} ]] || kill -0 "$2" 2>/dev/null || return 1
		sleep 0.002
	done
	return 1
}

new_store() { # DIR MiB
	rm -rf "$1"
	"$megafs" --store "$1" init --size "${2}M" --kdf fast >/dev/null
}

# mfs_mount STORE MNT: mounts the channel (the command returns once the
# mount works), then mfs_mount_pid.
mfs_mount() {
	mfs_mount_only "$@"
	mfs_mount_pid "$2"
}

# mfs_mount_only STORE MNT: only the mount command, for timed paths (what
# mfs_mount_pid does after it runs processes of its own).
mfs_mount_only() {
	[[ -d $2 ]] || mkdir -p "$2"
	register_mount megafs "$2"
	timeout --foreground "$op_timeout" "$megafs" --store "$1" mount "$mfs_link" "$2" \
		--tracker "$mfs_tracker" >>"$mfs_dir/mount.log" 2>&1 ||
		{ tail -5 "$mfs_dir/mount.log" >&2; die "megafs mount failed"; }
}

# mfs_mount_pid MNT: MFS_PID is the daemon serving MNT (the mount's source
# is megafs:PID), registered.
mfs_mount_pid() {
	local s
	s=$(findmnt -n -o SOURCE --mountpoint "$1") || die "megafs: $1 is not mounted"
	[[ $s == megafs:* ]] || die "megafs: the mount's source is '$s', not megafs:PID"
	MFS_PID=${s#megafs:}
	register_pid "$MFS_PID"
}

mfs_umount() { # MNT PID
	timeout 60 "$megafs" umount "$1" || fusermount3 -u "$1" || umount -l "$1"
	gone_within "$2" 5 && return 0
	log "megafs: the daemon $2 outlived its unmount, killed"
	kill -KILL "$2" 2>/dev/null || true
}


# mfs_seed PUB_MiB FILE...: a tracker on 127.0.0.1 (mfs_tracker: its URL), a
# publisher's store of PUB_MiB with a channel (mfs_link) that holds the
# FILEs, the last of which is a small probe the measured runs never read,
# and `megafs serve` seeding it; returns once a subscriber gets the probe
# through the tracker. MFS_SEED_PIDS: the tracker and the seeder.
mfs_seed() {
	local pub="$mfs_dir/pub" pub_mb=$1 tracker serve deadline probe="${!#}"
	shift
	mkdir -p "$mfs_dir/pubmnt" "$mfs_dir/tracker-db"
	"$megafs" tracker --listen 127.0.0.1:0 --db "$mfs_dir/tracker-db" \
		>"$mfs_dir/tracker.out" 2>"$mfs_dir/tracker.log" &
	tracker=$!
	register_pid "$tracker"
	wait_line "$mfs_dir/tracker.out" '^megafs tracker: listening on ws://' "$tracker" 30 ||
		{ cat "$mfs_dir/tracker.log" >&2; die "megafs tracker did not start"; }
	mfs_tracker=$(sed -n 's/^megafs tracker: listening on \(ws:[^ ]*\).*/\1/p' \
		"$mfs_dir/tracker.out")

	# The publisher's mount publishes each new manifest to the tracker.
	log "megafs: publisher store (${pub_mb}M), a channel, the files copied in"
	new_store "$pub" "$pub_mb"
	mfs_link=$("$megafs" --store "$pub" channel new "bench" | grep -oE 'megafs://[^[:space:]]+' |
		head -1) || true
	[[ -n $mfs_link ]] || die "megafs channel new printed no megafs:// link"
	register_mount megafs "$mfs_dir/pubmnt"
	"$megafs" --store "$pub" mount "$mfs_link" "$mfs_dir/pubmnt" --tracker "$mfs_tracker" \
		>>"$mfs_dir/mount.log" 2>&1
	cp "$@" "$mfs_dir/pubmnt/"
	"$megafs" umount "$mfs_dir/pubmnt"

	# Then megafs serve seeds the publisher's store.
	"$megafs" --store "$pub" serve --listen 127.0.0.1:0 --tracker "$mfs_tracker" \
		>"$mfs_dir/serve.log" 2>&1 &
	serve=$!
	register_pid "$serve"
	wait_line "$mfs_dir/serve.log" 'serving' "$serve" 60 ||
		{ tail -5 "$mfs_dir/serve.log" >&2; die "megafs serve did not start"; }
	MFS_SEED_PIDS=("$tracker" "$serve")

	# Ready once a subscriber gets a file through the tracker.
	log "megafs: waiting for the seeder to be found (fetching the probe)"
	new_store "$mfs_dir/probe" 64
	deadline=$(( EPOCHSECONDS + 60 ))
	until timeout --foreground 30 "$megafs" --store "$mfs_dir/probe" fetch "$mfs_link" \
		"${probe##*/}" -o "$mfs_dir/probe.out" --tracker "$mfs_tracker" \
		>>"$mfs_dir/fetch.log" 2>&1; do
		(( EPOCHSECONDS < deadline )) ||
			{ tail -5 "$mfs_dir/fetch.log" >&2; die "megafs fetch of the probe never worked"; }
		sleep 0.5
	done
	cmp -s "$probe" "$mfs_dir/probe.out" || die "megafs fetch: the probe differs"
	rm -rf "$mfs_dir/probe" "$mfs_dir/probe.out"
}
