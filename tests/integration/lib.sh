# Shared by the integration scripts: a private temporary directory, the
# binary under test, and assertions that print what went wrong.
set -euo pipefail

MEGAFS=${1:?usage: $0 path/to/megafs}
MEGAFS=$(readlink -f "$MEGAFS")
# Work files live in /var/tmp: the mount tests prove no plaintext reaches /tmp.
T=$(mktemp -d /var/tmp/mfs-it-XXXXXX)
MOUNTS=()
PIDS=()
UMOUNTS=() # other filesystems mounted in $T (umount once the processes end)
NETNS=()   # network namespaces the test made (deleted once the processes end)
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
	done
	# Then wait, but not forever: a tor relay once deadlocked in its own
	# clean exit after "Catching signal TERM, exiting cleanly" and held
	# the test until ctest's timeout. What is left after 10 s is killed.
	for _ in $(seq 100); do
		local left=0
		for p in "${PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && left=1
		done
		((left)) || break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do
		{ kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; } || true
		wait "$p" 2>/dev/null || true
	done
	for m in "${UMOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
export MEGAFS_STORE="$T/store"
export MEGAFS_PASSWORD="correct horse battery staple"
unset MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD XDG_DATA_HOME

passes=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passes=$((passes + 1)); echo "ok $passes - $*"; }
megafs() { "$MEGAFS" "$@"; }

# expect_fail "message part" cmd...: the command must fail and say that.
expect_fail() {
	local want=$1 out
	shift
	if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
	grep -qF -- "$want" <<<"$out" || fail "'$*' said '$out', expected '$want'"
	echo "   error shown: $(head -1 <<<"$out")"
}

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

finish() { echo "$passes passed, 0 failed"; }

# mount_channel LINK DIR [options...]: mounts in the background (the daemon
# returns once the mount works) and remembers DIR for the cleanup.
mount_channel() {
	local link=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	MOUNTS+=("$dir")
	megafs mount "$link" "$dir" "$@"
	mountpoint -q "$dir" || fail "$dir is not a mount point after megafs mount"
}

# publish_random STORE TITLE BYTES: a new store with a new channel TITLE
# holding file.bin, BYTES random bytes (kept as $T/file.bin); sets LINK.
publish_random() {
	local store=$1
	MEGAFS_STORE=$store megafs init --size 64M --kdf fast >/dev/null 2>&1
	LINK=$(MEGAFS_STORE=$store megafs channel new "$2")
	random_file "$T/file.bin" "$3"
	MEGAFS_STORE=$store mount_channel "$LINK" "$T/pub-mnt"
	cp "$T/file.bin" "$T/pub-mnt/"
	MEGAFS_STORE=$store megafs umount "$T/pub-mnt"
}

# subscriber_store STORE LINK MANIFEST: a new store subscribed to LINK that
# holds the manifest exported to the file MANIFEST: what moves is the blobs.
subscriber_store() {
	MEGAFS_STORE=$1 megafs init --size 64M --kdf fast >/dev/null 2>&1
	MEGAFS_STORE=$1 megafs channel subscribe "$2" >/dev/null
	MEGAFS_STORE=$1 megafs channel import "$3" >/dev/null
}

# publish_for_subscribers STORE TITLE BYTES: publish_random, and the
# channel's manifest exported to $T/manifest.json; sets LINK.
publish_for_subscribers() {
	publish_random "$@"
	MEGAFS_STORE=$1 megafs channel export "$LINK" >"$T/manifest.json"
}

# new_subscriber STORE: subscriber_store of $LINK and $T/manifest.json
# (what publish_for_subscribers made).
new_subscriber() { subscriber_store "$1" "$LINK" "$T/manifest.json"; }

# serve_peer STORE OUT: megafs serve of STORE on 127.0.0.1 (any port), its
# output to OUT; sets SERVE_PID, SERVE_PORT and SERVE_KEY.
serve_peer() {
	rm -f "$2" # an old run's "serving" must not be read before the fork truncates it
	MEGAFS_STORE=$1 "$MEGAFS" serve --listen 127.0.0.1:0 >"$2" 2>&1 &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_for 10 grep -q serving "$2" || fail "megafs serve did not start: $(cat "$2")"
	SERVE_PORT=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$2")
	SERVE_KEY=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$2")
}

unmount() {
	local pid
	pid=$(mount_pid "$1")
	megafs umount "$1" || fail "megafs umount $1$(stuck_threads "$pid")"
	mountpoint -q "$1" && fail "$1 still mounted"
	return 0
}

# stuck_threads PID: where each thread of a process that should have ended
# waits (gdb's backtraces when gdb is here, else the kernel's wait channels).
stuck_threads() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	echo
	if command -v gdb >/dev/null; then
		timeout 60 gdb -p "$1" -batch -ex "thread apply all bt" 2>/dev/null | grep -E "^(Thread|#)"
	else
		grep -H . /proc/"$1"/task/*/wchan 2>/dev/null
	fi
}

# The sequence of the newest manifest of LINK in the current store.
sequence_of() {
	megafs channel list | awk -v l="${1%%#*}" '$2 == l { sub("seq=", "", $3); print $3 }'
}

# make_video PATH SECONDS: an mp4 (H.264 + AAC) made by ffmpeg.
make_video() {
	ffmpeg -v error -f lavfi -i "testsrc=duration=$2:size=640x360:rate=25" \
		-f lavfi -i "sine=frequency=440:duration=$2" -c:v libx264 -preset ultrafast \
		-g 50 -c:a aac -shortest -y "$1" || fail "ffmpeg could not make a video"
}

# start_tracker DBDIR [options...]: runs `megafs tracker` on 127.0.0.1 (any
# port) in the background; sets TRACKER_PID and TRACKER_URL (wss://...#sha256=
# with --tls-cert and --tls-key).
start_tracker() {
	local db=$1 out
	shift
	out="$T/tracker.$RANDOM.out"
	"$MEGAFS" tracker --listen 127.0.0.1:0 --db "$db" "$@" >"$out" 2>&1 &
	TRACKER_PID=$!
	PIDS+=("$TRACKER_PID")
	for _ in $(seq 100); do
		TRACKER_URL=$(sed -n 's/^megafs tracker: listening on \(wss\{0,1\}:[^ ]*\).*/\1/p' "$out")
		[ -n "$TRACKER_URL" ] && return 0
		kill -0 "$TRACKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$out" >&2
	fail "the tracker did not start"
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# capture_start IFACE FILE FILTER...: tcpdump writes IFACE's packets that
# FILTER matches to FILE, from the moment this returns. Immediate mode: each
# packet is handed over as it comes; without it the kernel holds them in a
# ring block for up to a second, and a capture stopped sooner loses them.
capture_start() {
	local iface=$1 file=$2
	shift 2
	# A 32 MiB buffer: with the default 2 MiB the kernel dropped packets of
	# a loopback transfer when a busy machine kept tcpdump from reading.
	tcpdump -i "$iface" --immediate-mode -B 32768 -n -U -s 0 -w "$file" "$@" 2>"$file.err" &
	CAPTURE_PID=$!
	PIDS+=("$CAPTURE_PID")
	wait_for 10 grep -q "listening on $iface" "$file.err" ||
		fail "tcpdump did not start: $(cat "$file.err")"
}

# free_port: a TCP port of 127.0.0.1 free a moment ago.
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# strace_only_to PORT FILE: FILE, from strace -f -e trace=connect,sendto,
# sendmsg,sendmmsg, shows connects to 127.0.0.1:PORT (a proxy) and none
# elsewhere but the process's own tunnel into it (net/tunnel's abstract
# Unix socket), and no send naming an address (no UDP, no DNS). A process
# reaches the network only through such calls: this is the whole list.
strace_only_to() {
	local port=$1 file=$2 bad
	local to_proxy="sin_port=htons\($port\), sin_addr=inet_addr\(\"127\.0\.0\.1\"\)"
	grep -qE "connect\(.*$to_proxy" "$file" ||
		fail "strace shows no connect to 127.0.0.1:$port: $(grep connect "$file" | head -5)"
	bad=$(grep -E "connect\(" "$file" | grep -vE "$to_proxy" |
		grep -vE 'sun_path=@"megafs-tunnel-[0-9a-f]{16}"' | grep -v "resumed>" || true)
	[ -z "$bad" ] || fail "a connect not to 127.0.0.1:$port: $bad"
	bad=$(grep -E "(sendto|sendmsg|sendmmsg)\(" "$file" | grep -vE "sendto\([0-9]+, .*, NULL, 0\)" |
		grep -vE "sendmsg\([0-9]+, \{msg_name=NULL" | grep -v "resumed>" || true)
	[ -z "$bad" ] || fail "a send naming an address: $bad"
	return 0
}

# capture_stop: ends the capture capture_start began (what is in flight first).
capture_stop() {
	sleep 0.5
	kill "$CAPTURE_PID"
	wait "$CAPTURE_PID" 2>/dev/null || true
}

# The daemon pid behind a megafs mount (its source is megafs:PID).
mount_pid() {
	awk -v d="$1" '$2 == d && $1 ~ /^megafs:/ { sub("megafs:", "", $1); print $1 }' /proc/mounts
}
