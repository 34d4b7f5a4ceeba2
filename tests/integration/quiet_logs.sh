#!/usr/bin/env bash
# No log says what was transferred or from whom (issue 13, seed 003): a
# publisher's mount, a subscriber's mount and a megafs fetch, in the
# foreground so that what they log reaches files (a background mount sends
# the same lines to syslog), and the tracker, all at their default
# verbosity, move a file of a private channel. Read as an adversary who
# seizes the machine's logs would: none of them names the file, holds its
# contents, one of its blob ids or chunk keys, or says which peer served
# what (the publisher's listening port appears in no other process's log).
source "$(dirname "$0")/lib.sh"

PUB="$T/pub" SUB="$T/sub" THIRD="$T/third"
for s in "$PUB" "$SUB" "$THIRD"; do
	MEGAFS_STORE=$s megafs init --size 200M --kdf fast >/dev/null 2>&1
done
link=$(MEGAFS_STORE=$PUB megafs channel new "Quiet")
"$MEGAFS" tracker --listen 127.0.0.1:0 --db "$T/tdb" >"$T/tracker.log" 2>&1 &
tracker=$!
PIDS+=("$tracker")
wait_for 10 grep -q "listening on" "$T/tracker.log" || fail "the tracker did not start"
url=$(sed -n 's/.*listening on \(ws:[^ ]*\).*/\1/p' "$T/tracker.log")
pport=$((20000 + RANDOM % 20000))

# foreground NAME STORE DIR [options]: a mount whose log is $T/NAME.log
foreground() {
	local name=$1 store=$2 dir=$3
	shift 3
	mkdir -p "$dir"
	MOUNTS+=("$dir")
	MEGAFS_STORE=$store "$MEGAFS" mount "$link" "$dir" -f "$@" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	wait_for 20 mountpoint -q "$dir" || fail "the $name mount did not start: $(cat "$T/$name.log")"
}

marker="quiet-marker-$RANDOM$RANDOM"
name="secret-file-$RANDOM$RANDOM.bin"
{
	for i in $(seq 20000); do echo "$marker $i"; done
	head -c 3000000 /dev/urandom
} >"$T/$name"
foreground publisher "$PUB" "$T/pm" --tracker "$url" --listen "127.0.0.1:$pport"
cp "$T/$name" "$T/pm/"
foreground subscriber "$SUB" "$T/sm" --tracker "$url"
wait_for 20 test -e "$T/sm/$name" || fail "the subscriber never saw the file"
cmp "$T/$name" "$T/sm/$name" || fail "the subscriber read other bytes"
MEGAFS_STORE=$THIRD megafs fetch "$link" "$name" -o "$T/fetched" --tracker "$url" 2>"$T/fetch.log" ||
	fail "megafs fetch: $(cat "$T/fetch.log")"
cmp "$T/$name" "$T/fetched" || fail "megafs fetch wrote other bytes"
ok "a private file went from a publisher's mount to a subscriber's mount and to megafs fetch"

# What the adversary looks for: every 64-hex-digit value of the manifest
# (the file's blob ids and chunk keys) but the channel's public key, which
# the mounts name when they say what they mount.
pk=${link#megafs://}
pk=${pk%%#*}
MEGAFS_STORE=$PUB megafs channel show "$link" >"$T/manifest.json" || fail "channel show"
grep -oE '[0-9a-f]{64}' "$T/manifest.json" | sort -u | grep -vx "$pk" >"$T/secrets" || true
[ "$(wc -l <"$T/secrets")" -ge 2 ] || fail "the manifest shows no blob id or key: $(head -c 300 "$T/manifest.json")"
echo "$name" >>"$T/secrets"
echo "$marker" >>"$T/secrets"
echo "${link#*#}" >>"$T/secrets"

for d in "$T/sm" "$T/pm"; do unmount "$d"; done
kill -TERM "$tracker"
wait "$tracker" 2>/dev/null || true
logs=("$T/publisher.log" "$T/subscriber.log" "$T/fetch.log" "$T/tracker.log")
for log in "${logs[@]}"; do
	echo "   $(basename "$log"): $(wc -l <"$log") lines"
	sed 's/^/      /' "$log" | cut -c1-150
	if grep -qiFf "$T/secrets" "$log"; then
		fail "$(basename "$log") names what was transferred: $(grep -iFf "$T/secrets" "$log" | head -3)"
	fi
done
ok "no log names the file, holds its contents or the read key, or one of its $(($(wc -l <"$T/secrets") - 3)) blob ids and keys"

for log in "$T/subscriber.log" "$T/fetch.log" "$T/tracker.log"; do
	grep -q ":$pport\b" "$log" && fail "$(basename "$log") names the peer that served: $(grep ":$pport" "$log")"
done
ok "no other process's log names the publisher's address (port $pport), so none says from whom"
finish
