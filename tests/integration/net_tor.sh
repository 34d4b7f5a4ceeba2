#!/usr/bin/env bash
# megafs through a private Tor network on loopback (Debian's tor, no
# chutney): three nodes that are each a directory authority, a relay and an
# exit, and one client whose SocksPort megafs is given with --proxy. A
# megafs serve on 127.0.0.1 announces to a tracker (both straight); a
# megafs fetch and a megafs mount that know only the link and the tracker
# reach both through Tor, and the file they give is byte for byte the one
# published.
#
# The proof that megafs sent nothing around the proxy: every relay and the
# client are on 127.0.0.1 too, so a capture of lo cannot tell megafs's
# packets from Tor's. Two things can. (1) strace -f of the fetch and of the
# mount: every connect() they made was to the Tor client's SocksPort or to
# their own tunnel (net/tunnel: an abstract Unix socket of the same
# process), and no send named an address (no UDP, no DNS). A process
# reaches the network only through such calls, so this is the whole list.
# (2) ss -tnp while the mount reads: every connection to the seeder's port
# and to the tracker's port is owned by one of the Tor relays' processes
# (their exits), none by the mount (the serve's own connection to the
# tracker aside).
#
# Skipped (exit 77, saying why) when tor is not installed.
source "$(dirname "$0")/lib.sh"
if ! command -v tor >/dev/null || ! command -v tor-gencert >/dev/null; then
	echo "skipped: tor is missing (tools/deps.sh installs it)"
	exit 77
fi
command -v strace >/dev/null || fail "strace is missing (tools/deps.sh installs it)"
began=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - $1) / 1000000)) ms"; }

# ---- the Tor network ----------------------------------------------------------------
# tornet.sh: the nodes' and the client's configuration.
source "$(dirname "$0")/tornet.sh"
TOR_PIDS=()
why=$(tornet_nodes "$T/tor" 127.0.0.1) || fail "$why"
socks=$(free_port)
tornet_client "$T/tor" client "$socks"
for n in a1 a2 a3 client; do
	tor -f "$T/tor/$n/torrc" --quiet >"$T/tor/$n/stdout" 2>&1 &
	TOR_PIDS+=($!)
	PIDS+=($!)
done
wait_for 90 tornet_bootstrapped "$T/tor" client ||
	fail "the Tor client did not bootstrap in 90 s: $(tail -5 "$T/tor/client/notice.log")"
ok "a private Tor network (3 authority+relay+exit nodes, 1 client) bootstrapped in $(elapsed "$began")"

# ---- the seeder and the tracker (straight, on 127.0.0.1) ----------------------------
PUB="$T/pub"
publish_random "$PUB" "Through Tor" $((2 * 1024 * 1024 + 333))
link=$LINK
start_tracker "$T/tracker-db"
tport=${TRACKER_URL#ws://*:}
tport=${tport%%[!0-9]*}
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$TRACKER_URL" >"$T/serve.out" 2>&1 &
serve_pid=$!
PIDS+=("$serve_pid")
wait_for 10 grep -q serving "$T/serve.out" || fail "megafs serve did not start"
port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/serve.out")

# ---- a fetch through Tor --------------------------------------------------------------
MEGAFS_STORE=$T/sub megafs init --size 64M --kdf fast >/dev/null 2>&1
start=$(date +%s%N)
MEGAFS_STORE=$T/sub strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg -o "$T/fetch.strace" \
	"$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" --tracker "$TRACKER_URL" \
	--proxy "socks5://127.0.0.1:$socks" 2>"$T/fetch.err" ||
	fail "the fetch through Tor failed: $(cat "$T/fetch.err")"
fetch_time=$(elapsed "$start")
cmp "$T/file.bin" "$T/got.bin" || fail "the file fetched through Tor differs"
strace_only_to "$socks" "$T/fetch.strace"
ok "megafs fetch through Tor (manifest and seeder from the tracker, through Tor too): byte for byte in $fetch_time; strace: $(grep -c 'connect(' "$T/fetch.strace") connects, each to Tor's SocksPort or the fetch's own tunnel, no send naming an address"

# ---- a mount through Tor ----------------------------------------------------------------
MEGAFS_STORE=$T/sub2 megafs init --size 64M --kdf fast >/dev/null 2>&1
mkdir -p "$T/mnt"
MOUNTS+=("$T/mnt")
start=$(date +%s%N)
MEGAFS_STORE=$T/sub2 strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg -o "$T/mount.strace" \
	"$MEGAFS" mount "$link" "$T/mnt" -f --tracker "$TRACKER_URL" \
	--proxy "socks5://127.0.0.1:$socks" 2>"$T/mount.err" &
mount_strace=$!
PIDS+=("$mount_strace")
wait_for 10 mountpoint -q "$T/mnt" || fail "the mount through Tor did not start: $(cat "$T/mount.err")"
wait_for 60 test -e "$T/mnt/file.bin" || fail "the channel's file did not show through Tor: $(cat "$T/mount.err")"
cmp "$T/file.bin" "$T/mnt/file.bin" || fail "the file read through the mount and Tor differs"
mount_time=$(elapsed "$start")
# While the mount's connections are up: who holds the other end of every
# connection to the seeder and to the tracker.
ss -tnpH state established "( dport = :$port or dport = :$tport )" >"$T/ss.txt"
fusermount3 -u "$T/mnt"
wait "$mount_strace" || fail "the mount through Tor did not exit cleanly: $(cat "$T/mount.err")"
strace_only_to "$socks" "$T/mount.strace"
owners=$(grep -o 'pid=[0-9]*' "$T/ss.txt" | sort -u | sed 's/pid=//')
[ -n "$owners" ] || fail "ss shows no connection to the seeder or the tracker: $(cat "$T/ss.txt")"
grep -q ":$port\b" "$T/ss.txt" || fail "ss shows no connection to the seeder: $(cat "$T/ss.txt")"
relays=0
for p in $owners; do
	if [ "$p" = "$serve_pid" ]; then continue; fi # the serve's own announce
	[[ " ${TOR_PIDS[*]} " == *" $p "* ]] ||
		fail "a connection to the seeder or the tracker held by pid $p ($(cat /proc/"$p"/comm 2>/dev/null)), not a Tor relay: $(cat "$T/ss.txt")"
	relays=$((relays + 1))
done
[ "$relays" -ge 1 ] || fail "no Tor relay holds a connection to the seeder: $(cat "$T/ss.txt")"
ok "megafs mount through Tor reads the file byte for byte ($mount_time from the mount to the file read); the connections to the seeder and the tracker belong to $relays Tor relay process(es), none to the mount; strace: every connect to Tor or its tunnel"
echo "   the whole test took $(elapsed "$began")"
finish
