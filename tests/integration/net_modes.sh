#!/usr/bin/env bash
# --mode direct|obfs|tor, seed 000's connection modes as presets of the
# network options (tools/netopts.h). tor: Tor's SOCKS port 127.0.0.1:9050
# (here a microsocks in the test's own network namespace, so the port is
# free and nothing else answers there): a fetch through it works, and
# strace shows every connect of the fetch going to 9050 or its own tunnel.
# obfs: the tls transport; a fetch from a tls seeder works with --mode obfs
# alone and a plain seeder gives it nothing. The contradictions are refused
# with a sentence. Needs root (unshare -n).
if [ -z "${MFS_MODES_NETNS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: net_modes.sh needs root (a network namespace)" >&2; exit 1; }
	exec env MFS_MODES_NETNS=1 unshare -n -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
for tool in microsocks strace openssl; do
	command -v "$tool" >/dev/null || fail "$tool is missing (tools/deps.sh installs it)"
done
ip link set lo up

PUB="$T/pub"
publish_for_subscribers "$PUB" "Modes" $((2 * 1024 * 1024 + 99))
link=$LINK
start_tracker "$T/tracker-db"

# The refusals, before anything is started.
expect_fail "--mode fast: direct, obfs or tor" megafs fetch "$link" file.bin -o "$T/x" --mode fast
expect_fail "--mode direct and --proxy" megafs fetch "$link" file.bin -o "$T/x" --mode direct \
	--proxy socks5://127.0.0.1:9050
expect_fail "plain ws:// shows megafs's messages" megafs fetch "$link" file.bin -o "$T/x" \
	--mode obfs --tracker "$TRACKER_URL"
expect_fail "--mode obfs and the DHT options" megafs fetch "$link" file.bin -o "$T/x" --mode obfs --dht
expect_fail "--mode tor and --listen" megafs serve --mode tor --listen 127.0.0.1:0
expect_fail "the DHT speaks UDP" megafs fetch "$link" file.bin -o "$T/x" --mode tor --dht
expect_fail "--mode tor and --transport obfs4" megafs fetch "$link" file.bin -o "$T/x" --mode tor \
	--transport obfs4 --pt /usr/bin/obfs4proxy
[ ! -e "$T/x" ] || fail "a refused mode wrote a file"
ok "the modes refuse what contradicts them: a proxy with direct, ws:// and the DHT with obfs, a listener, the DHT and a transport with tor"

# ---- tor: everything through 127.0.0.1:9050 ----
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$TRACKER_URL" >"$T/serve.out" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for 10 grep -q serving "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
microsocks -i 127.0.0.1 -p 9050 >"$T/microsocks.out" 2>&1 &
PIDS+=($!)
wait_for 10 sh -c 'ss -ltn "sport = :9050" | grep -q LISTEN' || fail "microsocks did not start on 9050"
MEGAFS_STORE=$T/tor megafs init --size 64M --kdf fast >/dev/null 2>&1
start=$(date +%s%N)
MEGAFS_STORE=$T/tor strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg -o "$T/tor.strace" \
	"$MEGAFS" fetch "$link" file.bin -o "$T/tor.bin" --mode tor --tracker "$TRACKER_URL" \
	2>"$T/tor.err" || fail "the fetch with --mode tor failed: $(cat "$T/tor.err")"
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$T/file.bin" "$T/tor.bin" || fail "the file fetched with --mode tor differs"
strace_only_to 9050 "$T/tor.strace"
ok "--mode tor: the tracker and the peer through 127.0.0.1:9050, every connect of the fetch to it or its own tunnel, 2 MiB cmp-identical in $ms ms"
kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve did not stop cleanly"

# ---- obfs: the tls transport ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=www.example.com -keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null || fail "openssl req failed"
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --mode obfs --tls-cert "$T/c.pem" \
	--tls-key "$T/k.pem" >"$T/obfs.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q serving "$T/obfs.out" || fail "megafs serve --mode obfs did not start: $(cat "$T/obfs.out")"
port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/obfs.out")
key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$T/obfs.out")
new_subscriber "$T/obfs"
MEGAFS_STORE=$T/obfs megafs fetch "$link" file.bin -o "$T/obfs.bin" --mode obfs \
	--peer "127.0.0.1:$port#$key" 2>"$T/obfs.err" || fail "the fetch with --mode obfs failed: $(cat "$T/obfs.err")"
cmp "$T/file.bin" "$T/obfs.bin" || fail "the file fetched with --mode obfs differs"
new_subscriber "$T/plain"
rc=0
MEGAFS_STORE=$T/plain timeout 8 "$MEGAFS" fetch "$link" file.bin -o "$T/plain.bin" \
	--peer "127.0.0.1:$port#$key" 2>"$T/plain.err" || rc=$?
[ "$rc" != 0 ] && [ ! -e "$T/plain.bin" ] || fail "a plain fetch got the file from the obfs seeder"
ok "--mode obfs is the tls transport: a fetch from the --mode obfs seeder is cmp-identical, a plain one gets nothing"

# A store that remembers a ws:// tracker (the tor fetch above gave one):
# --mode obfs skips it, says so, and never dials its port.
MEGAFS_STORE=$T/tor megafs channel bootstrap "$link" | grep -qxF "tracker $TRACKER_URL" ||
	fail "the tor fetch's store does not remember the ws:// tracker"
tracker_port=${TRACKER_URL##*:}
tracker_port=${tracker_port%%/*}
rm -f "$T/tor.bin"
MEGAFS_STORE=$T/tor strace -f -qq -e trace=connect -o "$T/obfs2.strace" "$MEGAFS" fetch "$link" \
	file.bin -o "$T/tor.bin" --mode obfs --peer "127.0.0.1:$port#$key" 2>"$T/obfs2.err" ||
	fail "the fetch with --mode obfs from a store that remembers ws:// failed: $(cat "$T/obfs2.err")"
cmp "$T/file.bin" "$T/tor.bin" || fail "the file fetched differs"
grep -q "1 remembered ws:// tracker skipped" "$T/obfs2.err" ||
	fail "no line said the remembered ws:// tracker was skipped: $(cat "$T/obfs2.err")"
if grep -q "htons($tracker_port)" "$T/obfs2.strace"; then
	fail "--mode obfs connected to the remembered ws:// tracker"
fi
ok "--mode obfs skips the ws:// tracker the volume remembers (said, never dialled), the file cmp-identical"
finish
