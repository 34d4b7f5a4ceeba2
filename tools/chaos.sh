#!/usr/bin/env bash
# tools/chaos.sh: random kill -9 and restarts of five peers of one channel
# (two seeders, three subscribers) while the subscribers fetch its files
# over and over, all on 127.0.0.1 through one tracker; at the end every
# subscriber gets every file once more, and each must be identical.
#
#   tools/chaos.sh [MINUTES] [MEGAFS]
#
#   MINUTES  how long the kills go on (default 30; decimals work: 0.5)
#   MEGAFS   the binary (default build/megafs)
#
# The peers, each a separate process restarted by a supervising loop after
# a random pause (0.2-2 s) when it dies:
#   seed1, seed2  `megafs serve` on two stores holding the channel's blobs
#                 (each its own node key), new port at each restart;
#   fetch1, fetch2  `megafs fetch` of a random file, again and again, each
#                 on its own store (a kill -9 lands mid-download);
#   mount1        `megafs mount --listen` on its own store (it serves what it
#                 fetched to the others), a random file read by cp; killed,
#                 its stale mount is lazily unmounted and it mounts again.
# Every CHAOS_KILL_EVERY seconds at most (default 4; at random, at least
# 0.5) one of the five, at random, gets SIGKILL. A fetch or read that ends
# for another reason (no peer answered: both seeders were down) is retried
# and counted; a download that completes but differs fails the run at once.
# The tracker (`--interval 1`, so a restarted seeder is found in a second)
# is not killed: net_kill.sh does that.
#
# Prints the counts (kills, restarts, fetches completed, bytes, failures
# retried and what they said); exits 1 when a file differs or the final
# round misses one. Needs fuse3 (fusermount3). Run by ctest as
# tools/chaos.sh 1 (integration_chaos_short).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
minutes=${1:-30}
megafs_bin=${2:-$root/build/megafs}
kill_every=${CHAOS_KILL_EVERY:-4}
[[ $minutes =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "chaos.sh: MINUTES is a number, not '$minutes'" >&2; exit 2; }
[ -x "$megafs_bin" ] || { echo "chaos.sh: no megafs at $megafs_bin (build it: tools/build.sh)" >&2; exit 2; }
# lib.sh: $T (a private directory in /var/tmp), start_tracker, wait_for,
# mount_pid, fail, and a cleanup of its PIDS and MOUNTS.
source "$root/tests/integration/lib.sh" "$megafs_bin"

E=$T/events  # one line per event, appended by every loop
LOOPS=()
stop_all() {
	touch "$T/stop" "$T/stop-seed"
	for p in "${LOOPS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for f in "$T"/*.pid; do
		[ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	for p in "${LOOPS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	LOOPS=()
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	MOUNTS=()
	cleanup
}
trap stop_all EXIT

# pause: a random 0.2-2.0 s.
pause() { sleep "$((RANDOM % 19 / 10)).$((RANDOM % 10))"; }

# --- the channel: files published through a mount with no network -------
names=(a.bin b.bin c.bin d.bin)
sizes=(65536 $((1024 * 1024 + 11)) $((4 * 1024 * 1024 + 333)) $((16 * 1024 * 1024 + 4444)))
mkdir "$T/files"
for i in "${!names[@]}"; do
	random_file "$T/files/${names[i]}" "${sizes[i]}"
done
PUB=$T/seed1
MEGAFS_STORE=$PUB megafs init --size 64M --kdf fast 2>/dev/null >/dev/null
link=$(MEGAFS_STORE=$PUB megafs channel new "Chaos")
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-mnt"
cp "$T"/files/* "$T/pub-mnt/"
MEGAFS_STORE=$PUB megafs umount "$T/pub-mnt"
# The second seeder's store is a copy made before any network ran on the
# first, so each makes its own node key. The subscribers take the signed
# manifest from a file (no publisher runs to push it to the tracker); they
# find the peers through the tracker.
cp -a "$PUB" "$T/seed2"
MEGAFS_STORE=$PUB megafs channel export "$link" >"$T/manifest.json"
for s in fetch1 fetch2 mount1; do
	MEGAFS_STORE=$T/$s megafs init --size 16M --kdf fast 2>/dev/null >/dev/null
	MEGAFS_STORE=$T/$s megafs channel subscribe "$link" >/dev/null # its read key
	MEGAFS_STORE=$T/$s megafs channel import "$T/manifest.json" >/dev/null
	mkdir "$T/$s.out"
done
start_tracker "$T/tracker-db" --interval 1

# --- the peers --------------------------------------------------------
seeder_loop() {
	local name=$1 rc first=1
	while [ ! -e "$T/stop-seed" ]; do
		[ $first = 1 ] || echo "restart $name" >>"$E"
		first=0
		MEGAFS_STORE=$T/$name "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$TRACKER_URL" \
			>>"$T/$name.log" 2>&1 &
		echo $! >"$T/$name.pid"
		rc=0
		wait $! || rc=$?
		rm -f "$T/$name.pid"
		[ $rc = 137 ] || [ -e "$T/stop-seed" ] || echo "exit $name $rc" >>"$E"
		pause
	done
}

fetch_loop() {
	local name=$1 rc i f
	while [ ! -e "$T/stop" ]; do
		i=$((RANDOM % ${#names[@]}))
		f=${names[i]}
		MEGAFS_STORE=$T/$name "$MEGAFS" fetch "$link" "$f" -o "$T/$name.out/$f" \
			--tracker "$TRACKER_URL" 2>"$T/$name.err" &
		echo $! >"$T/$name.pid"
		rc=0
		wait $! || rc=$?
		rm -f "$T/$name.pid"
		if [ $rc = 0 ]; then
			cmp -s "$T/files/$f" "$T/$name.out/$f" || { echo "corrupt $name $f" >>"$E"; return 1; }
			echo "fetched $name ${sizes[i]}" >>"$E"
			rm -f "$T/$name.out/$f"
		elif [ $rc = 137 ]; then
			pause
			echo "restart $name" >>"$E"
		else
			echo "failed $name (exit $rc) $(grep -v '^megafs fetch: subscribed' "$T/$name.err" | tail -1)" >>"$E"
			sleep 1
		fi
	done
}

# mount_up NAME: (re)mounts NAME's store at $T/NAME.mnt; its daemon's pid
# goes to NAME.pid.
mount_up() {
	local name=$1 mnt=$T/$1.mnt
	fusermount3 -u -z "$mnt" 2>/dev/null || true
	MEGAFS_STORE=$T/$name "$MEGAFS" mount "$link" "$mnt" --listen 127.0.0.1:0 \
		--tracker "$TRACKER_URL" 2>"$T/$name.err" || return 1
	mount_pid "$mnt" >"$T/$name.pid"
}

# mount_alive NAME: its daemon runs. A killed daemon may stay a zombie
# (here no one may reap it: it left its parent) while its mount fails.
mount_alive() {
	local pid state
	pid=$(cat "$T/$1.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

mount_loop() {
	local name=$1 mnt=$T/$1.mnt i f
	while [ ! -e "$T/stop" ]; do
		if ! mount_alive "$name"; then
			pause
			if ! mount_up "$name"; then
				echo "failed $name mount: $(tail -1 "$T/$name.err")" >>"$E"
				sleep 1
				continue
			fi
			echo "restart $name" >>"$E"
		fi
		i=$((RANDOM % ${#names[@]}))
		f=${names[i]}
		if cp "$mnt/$f" "$T/$name.out/$f" 2>"$T/$name.cperr"; then
			cmp -s "$T/files/$f" "$T/$name.out/$f" || { echo "corrupt $name $f" >>"$E"; return 1; }
			echo "fetched $name ${sizes[i]}" >>"$E"
		elif wait_for 5 eval '! mount_alive "$name"'; then
			: # killed: the mount fails as soon as the daemon's descriptors
			  # close, which may be a second before the process is gone
		else
			echo "failed $name $(tail -1 "$T/$name.cperr")" >>"$E"
			sleep 1
		fi
		rm -f "$T/$name.out/$f"
	done
}

touch "$E"
mkdir -p "$T/mount1.mnt"
MOUNTS+=("$T/mount1.mnt")
mount_up mount1 || fail "the first mount: $(cat "$T/mount1.err")"
for s in seed1 seed2; do
	seeder_loop $s 2>>"$T/$s.loop" &
	LOOPS+=($!)
done
wait_for 10 grep -q serving "$T/seed1.log" || fail "seed1 did not start: $(cat "$T/seed1.log")"
wait_for 10 grep -q serving "$T/seed2.log" || fail "seed2 did not start: $(cat "$T/seed2.log")"
fetch_loop fetch1 2>>"$T/fetch1.loop" &
LOOPS+=($!)
fetch_loop fetch2 2>>"$T/fetch2.loop" &
LOOPS+=($!)
mount_loop mount1 2>>"$T/mount1.loop" &
LOOPS+=($!)

# --- the killer ---------------------------------------------------------
peers=(seed1 seed2 fetch1 fetch2 mount1)
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
echo "chaos: ${minutes} min of kill -9 (one every 0.5-${kill_every} s) of ${peers[*]}"
start=$SECONDS
while ((SECONDS - start < seconds)); do
	sleep "$(awk -v r=$RANDOM -v k="$kill_every" 'BEGIN { printf "%.2f", 0.5 + (k - 0.5) * r / 32767 }')"
	grep -q '^corrupt' "$E" && break
	p=${peers[RANDOM % ${#peers[@]}]}
	pid=$(cat "$T/$p.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && echo "kill $p" >>"$E"
done

# --- the end: every subscriber gets every file once more ----------------
touch "$T/stop"
for p in "${LOOPS[@]:2}"; do
	wait "$p" 2>/dev/null || true
done
grep '^corrupt' "$E" && fail "a fetched file differs from the published one"
# The seeders keep running (restarted if the last kill hit one).
wait_for 10 test -e "$T/seed1.pid" -a -e "$T/seed2.pid" || fail "the seeders are not back"
if ! mount_alive mount1; then
	mount_up mount1 || fail "the final mount: $(cat "$T/mount1.err")"
	echo "restart mount1" >>"$E"
fi
final=0
for f in "${names[@]}"; do
	for s in fetch1 fetch2; do
		MEGAFS_STORE=$T/$s "$MEGAFS" fetch "$link" "$f" -o "$T/$s.out/$f" 2>"$T/$s.err" ||
			fail "the final fetch of $f by $s: $(cat "$T/$s.err")"
		cmp "$T/files/$f" "$T/$s.out/$f" || fail "$s: $f differs"
		final=$((final + 1))
	done
	cp "$T/mount1.mnt/$f" "$T/mount1.out/$f" || fail "the final read of $f through mount1"
	cmp "$T/files/$f" "$T/mount1.out/$f" || fail "mount1: $f differs"
	final=$((final + 1))
done

count() { grep -c "$1" "$E" || true; }
mib() { awk -v w="$1" '$1 == "fetched" && $2 ~ w { b += $3 } END { printf "%d", b / 1048576 }' "$E"; }
echo "chaos: $((SECONDS - start)) s, $(count '^kill ') kills, $(count '^restart ') restarts," \
	"$(count '^fetched fetch') fetches completed ($(mib '^fetch') MiB)," \
	"$(count '^fetched mount') reads through the mount ($(mib '^mount') MiB; a file read" \
	"again comes from its session cache until it restarts)," \
	"$(count '^failed ') failed and retried, 0 differed"
for p in "${peers[@]}"; do
	printf '  %-7s %4d kills %4d restarts %5d completed %4d failed\n' "$p" \
		"$(count "^kill $p\$")" "$(count "^restart $p\$")" "$(count "^fetched $p ")" \
		"$(count "^failed $p ")"
done
if grep -q '^failed ' "$E"; then
	echo "  what the failures said:"
	sed -n 's/^failed [^ ]* //p' "$E" | sed 's/[0-9]\{2,\}/N/g' | sort | uniq -c | sort -rn | head -8
fi
grep '^exit ' "$E" | sed 's/^/  a peer ended by itself: /' || true
echo "chaos: every file identical on every subscriber after the kills ($final final reads: ${#names[@]} files x 3 subscribers)"
