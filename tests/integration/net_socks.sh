#!/usr/bin/env bash
# megafs fetch --proxy socks5://...: every peer and tracker dial through a
# SOCKS5 proxy (microsocks, then dante), the file byte for byte; a capture on
# every interface shows what the seeder and the trackers (the adversaries
# here: the far ends) see: connections only from the proxy's outgoing address
# (microsocks -b 127.0.0.2; the fetch itself would come from 127.0.0.1), no
# DNS query; strace of the fetch lists every connect and send it made: to
# the proxy and to its own tunnel (net/tunnel), nothing else.
# Proxies that refuse (wrong credentials, a closed port, a SOCKS error,
# only a tracker behind a closed port) fail the fetch within about 2 s with
# their reason, naming the proxy, and no direct dial; one that never answers
# at the fetch's timeout; one back within the redials is waited for.
source "$(dirname "$0")/lib.sh"
command -v microsocks >/dev/null || fail "microsocks is missing (tools/deps.sh installs it)"
command -v danted >/dev/null || fail "danted is missing (dante-server; tools/deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"
command -v strace >/dev/null || fail "strace is missing (tools/deps.sh installs it)"
unset SSL_CERT_FILE SSL_CERT_DIR

listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }

PUB="$T/pub" SUB="$T/sub"
publish_for_subscribers "$PUB" "Through a proxy" $((3 * 1024 * 1024 + 777))
link=$LINK
# Each subscriber store knows the manifest: what moves is the blobs.
new_sub() { new_subscriber "$@"; }

# Two trackers, ws:// and wss:// (self-signed, pinned), the seeder on both.
start_tracker "$T/tracker-db"
WS_URL=$TRACKER_URL
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=tracker.test -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/self.key" -out "$T/self.pem" 2>/dev/null || fail "openssl req failed"
start_tracker "$T/tracker-tls-db" --tls-cert "$T/self.pem" --tls-key "$T/self.key"
WSS_URL=$TRACKER_URL
url_port() { local p=${1#*://*:}; echo "${p%%[!0-9]*}"; }
tport=$(url_port "$WS_URL")
MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$WS_URL" \
	--tracker "$WSS_URL" >"$T/serve.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q serving "$T/serve.out" || fail "megafs serve did not start"
port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/serve.out")
key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$T/serve.out")
peer="127.0.0.1:$port#$key"

socks=$(free_port)
microsocks -i 127.0.0.1 -p "$socks" -b 127.0.0.2 -u alice -P 's3cret:pw' >"$T/microsocks.out" 2>&1 &
socks_pid=$!
PIDS+=($socks_pid)
wait_for 10 listening "$socks" || fail "microsocks did not start"

capture_start any "$T/syn.pcap" \
	"(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or udp port 53 or tcp port 53"
new_sub "$SUB"
# The password holds ':' (percent-encoded); argv loses the credentials.
# The proxy is stopped until the fetch's command line has been read: a
# fetch that finished first (a fast machine) would leave nothing to read.
kill -STOP "$socks_pid"
start=$(date +%s%N)
MEGAFS_STORE=$SUB "$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" --peer "$peer" \
	--proxy "socks5://alice:s3cret%3Apw@127.0.0.1:$socks" 2>"$T/fetch.err" &
fetch_pid=$!
# Read once the options are (the instant before is the read key's too).
wait_for 5 grep -qa 'socks5://\*' "/proc/$fetch_pid/cmdline" || true
seen_args=$(tr '\0' ' ' <"/proc/$fetch_pid/cmdline" 2>/dev/null || true)
kill -CONT "$socks_pid"
wait "$fetch_pid" || fail "the fetch through microsocks failed: $(cat "$T/fetch.err")"
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$T/file.bin" "$T/got.bin" || fail "the file fetched through the proxy differs"
ok "megafs fetch through microsocks (user and password) wrote the file byte for byte in $ms ms"
[[ "$seen_args" == *"socks5://"* ]] || fail "no --proxy in the fetch's command line: $seen_args"
[[ "$seen_args" == *"s3cret"* || "$seen_args" == *"alice"* ]] &&
	fail "the proxy's credentials show in the process list: $seen_args"
echo "   the process list showed: ${seen_args#*--proxy }"
ok "the proxy's user name and password do not show in /proc/PID/cmdline"

capture_stop
tcpdump -n -r "$T/syn.pcap" 2>/dev/null >"$T/syn.txt"
to_seeder=$(grep -c "> 127\.0\.0\.[0-9]*\.$port: " "$T/syn.txt" || true)
[ "$to_seeder" -ge 1 ] || fail "the capture holds no connection to the seeder: $(cat "$T/syn.txt")"
from_other=$(grep "> 127\.0\.0\.[0-9]*\.$port: " "$T/syn.txt" | grep -vc " 127\.0\.0\.2\.[0-9]* >" || true)
[ "$from_other" -eq 0 ] || fail "the seeder saw connections not from the proxy: $(grep "\.$port: " "$T/syn.txt")"
grep -q "> 127\.0\.0\.1\.$socks: " "$T/syn.txt" || fail "the capture holds no connection to the proxy"
if grep -qE "\.53: |\.53 >" "$T/syn.txt"; then fail "DNS in the capture: $(grep '\.53' "$T/syn.txt")"; fi
ok "the seeder saw $to_seeder connection(s), every one from the proxy's 127.0.0.2; no DNS on any interface"

# Trackers through the proxy. Each fetch knows only the link and one
# tracker (no --peer, no manifest): the manifest and the seeder come from
# the tracker, through microsocks. strace -f of the fetch: every connect is
# to the proxy or to the fetch's own tunnel (an abstract Unix socket of its
# own process: net/tunnel), no send names an address (lib.sh's
# strace_only_to).
for url in "$WS_URL" "$WSS_URL"; do
	scheme=${url%%://*}
	MEGAFS_STORE=$T/t-$scheme megafs init --size 64M --kdf fast >/dev/null 2>&1
	capture_start any "$T/t-$scheme.pcap" \
		"(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or port 53"
	MEGAFS_STORE=$T/t-$scheme strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg \
		-o "$T/t-$scheme.strace" "$MEGAFS" fetch "$link" file.bin -o "$T/t-$scheme.bin" \
		--tracker "$url" --proxy "socks5://alice:s3cret%3Apw@127.0.0.1:$socks" \
		2>"$T/t-$scheme.err" || fail "the fetch through the proxy with the $scheme:// tracker failed: $(cat "$T/t-$scheme.err")"
	capture_stop
	cmp "$T/file.bin" "$T/t-$scheme.bin" || fail "the file fetched with the $scheme:// tracker differs"
	strace_only_to "$socks" "$T/t-$scheme.strace"
	tcpdump -n -r "$T/t-$scheme.pcap" 2>/dev/null >"$T/t-$scheme.txt"
	for p in "$(url_port "$url")" "$port"; do
		grep -q " 127\.0\.0\.2\.[0-9]* > 127\.0\.0\.1\.$p: " "$T/t-$scheme.txt" ||
			fail "$scheme://: no connection from the proxy to port $p: $(cat "$T/t-$scheme.txt")"
		grep "> 127\.0\.0\.[0-9]*\.$p: " "$T/t-$scheme.txt" | grep -v " 127\.0\.0\.2\.[0-9]* >" &&
			fail "$scheme://: port $p saw a connection not from the proxy"
	done
	# (UDP of other tests on this machine may be on lo: strace speaks for megafs's.)
	grep -q "\.53: " "$T/t-$scheme.txt" && fail "$scheme://: DNS in the capture: $(grep -m3 '\.53: ' "$T/t-$scheme.txt")"
	ok "fetch through microsocks with only a $scheme:// tracker: the file byte for byte; the tracker and the seeder saw only the proxy's 127.0.0.2; strace: $(grep -c 'connect(' "$T/t-$scheme.strace") connects, each to the proxy or its tunnel, no send naming an address; no DNS"
done

# A tracker named by a host name: the proxy resolves it (megafs opens no
# resolver file and sends no query); microsocks connects to it.
MEGAFS_STORE=$T/t-name megafs init --size 64M --kdf fast >/dev/null 2>&1
capture_start any "$T/t-name.pcap" "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or port 53"
MEGAFS_STORE=$T/t-name strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg,openat \
	-o "$T/t-name.strace" "$MEGAFS" fetch "$link" file.bin -o "$T/t-name.bin" \
	--tracker "ws://localhost:$tport" --peer "$peer" --proxy "socks5://alice:s3cret%3Apw@127.0.0.1:$socks" \
	2>"$T/t-name.err" || fail "the fetch with ws://localhost through the proxy failed: $(cat "$T/t-name.err")"
capture_stop
cmp "$T/file.bin" "$T/t-name.bin" || fail "the file fetched with ws://localhost differs"
strace_only_to "$socks" "$T/t-name.strace"
grep -E 'openat\(.*"/etc/(hosts|resolv\.conf|gai\.conf)"' "$T/t-name.strace" &&
	fail "megafs opened a resolver file"
tcpdump -n -r "$T/t-name.pcap" 2>/dev/null >"$T/t-name.txt"
grep -q " 127\.0\.0\.2\.[0-9]* > 127\.0\.0\.1\.$tport: " "$T/t-name.txt" ||
	fail "the proxy did not connect to the tracker it resolved: $(cat "$T/t-name.txt")"
grep -q "\.53: " "$T/t-name.txt" && fail "DNS in the capture: $(grep -m3 '\.53: ' "$T/t-name.txt")"
ok "a tracker named ws://localhost:PORT is resolved by the proxy: megafs opened no resolver file, the tracker saw the proxy"

# A mount through the proxy, in a store that remembers the ws:// tracker
# and the seeder: both dialled through the proxy.
new_sub "$T/sub3"
MEGAFS_STORE=$T/sub3 megafs fetch "$link" file.bin -o "$T/direct.bin" --tracker "$WS_URL" \
	--peer "$peer" 2>/dev/null || fail "the direct fetch that remembers the tracker failed"
capture_start any "$T/mount.pcap" "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
mkdir -p "$T/mnt3"
MOUNTS+=("$T/mnt3")
MEGAFS_STORE=$T/sub3 "$MEGAFS" mount "$link" "$T/mnt3" -f \
	--proxy "socks5://alice:s3cret%3Apw@127.0.0.1:$socks" 2>"$T/mount3.err" &
mount3=$!
PIDS+=("$mount3")
wait_for 10 mountpoint -q "$T/mnt3" || fail "the mount through the proxy did not start: $(cat "$T/mount3.err")"
cmp "$T/file.bin" "$T/mnt3/file.bin" || fail "the file read through the mount and the proxy differs"
# The tracker is dialled at once; give its connection a moment to show.
tracker_dialled() { tcpdump -n -r "$T/mount.pcap" 2>/dev/null | grep -q " 127\.0\.0\.2\.[0-9]* > 127\.0\.0\.1\.$tport: "; }
wait_for 10 tracker_dialled || true
fusermount3 -u "$T/mnt3"
wait "$mount3" || fail "the mount through the proxy did not exit cleanly"
capture_stop
tcpdump -n -r "$T/mount.pcap" 2>/dev/null >"$T/mount.txt"
grep -q " 127\.0\.0\.2\.[0-9]* > 127\.0\.0\.1\.$tport: " "$T/mount.txt" ||
	fail "the mount's remembered tracker was not dialled through the proxy: $(cat "$T/mount.txt") $(cat "$T/mount3.err")"
grep -q " 127\.0\.0\.2\.[0-9]* > 127\.0\.0\.1\.$port: " "$T/mount.txt" ||
	fail "the mount's peer connection did not come from the proxy: $(cat "$T/mount.txt")"
grep -E "> 127\.0\.0\.[0-9]*\.($port|$tport): " "$T/mount.txt" | grep -qv " 127\.0\.0\.2\.[0-9]* >" &&
	fail "the seeder or the tracker saw a connection not from the proxy during the mount"
ok "a mount through the proxy reads the file; the tracker its store remembers and the seeder are dialled through the proxy only"

# dante, no authentication, its own configuration.
dport=$(free_port)
cat >"$T/danted.conf" <<CONF
logoutput: $T/danted.log
internal: 127.0.0.1 port = $dport
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
CONF
danted -f "$T/danted.conf" -p "$T/danted.pid" >"$T/danted.out" 2>&1 &
PIDS+=($!)
wait_for 10 listening "$dport" || fail "danted did not start: $(cat "$T/danted.out" "$T/danted.log" 2>/dev/null)"
new_sub "$T/sub2"
MEGAFS_STORE=$T/sub2 megafs fetch "$link" file.bin -o "$T/got2.bin" --peer "$peer" \
	--proxy "socks5://127.0.0.1:$dport" || fail "the fetch through dante failed"
cmp "$T/file.bin" "$T/got2.bin" || fail "the file fetched through dante differs"
ok "megafs fetch through dante (no authentication) wrote the file byte for byte"

# Refusals, side by side. A proxy that refuses (its port closed, the
# credentials wrong, a SOCKS error for the peer: here microsocks's
# "connection refused" for a seeder port where nothing listens) fails the
# fetch once its 4th dial in a row is refused (about 2 s of redials: a
# proxy restarting is waited for), naming the proxy, not after the 30 s
# fetch timeout. A proxy that accepts and never answers: each dial is cut
# by its handshake deadline (10 s, then 20 and 40: doubled per failure in
# a row), and the fetch, which sits out a peer's first three dials, fails
# when the third ends (some 71 s).
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >"$T/mute.port" &
PIDS+=($!)
wait_for 10 test -s "$T/mute.port" || fail "the mute proxy did not start"
mute=$(cat "$T/mute.port")
closed=$(free_port)
nobody=$(free_port)
refuse() { # NAME PROXY-URL [PEER]
	local t0
	new_sub "$T/r-$1"
	t0=$(date +%s%N)
	MEGAFS_STORE=$T/r-$1 timeout 120 "$MEGAFS" fetch "$link" file.bin -o "$T/r-$1.bin" \
		--peer "${3:-$peer}" --proxy "$2" >"$T/r-$1.out" 2>&1 && echo "succeeded" >>"$T/r-$1.out"
	echo $((($(date +%s%N) - t0) / 1000000)) >"$T/r-$1.ms"
	return 0
}
# Only a tracker, through a closed proxy port: the manifest cannot come
# (a store without it), nor peers (a store with it).
refuse_tracker() { # NAME with|without (the manifest)
	local t0
	if [ "$2" = with ]; then
		new_sub "$T/r-$1"
	else
		MEGAFS_STORE=$T/r-$1 megafs init --size 64M --kdf fast >/dev/null 2>&1
	fi
	t0=$(date +%s%N)
	MEGAFS_STORE=$T/r-$1 timeout 60 "$MEGAFS" fetch "$link" file.bin -o "$T/r-$1.bin" \
		--tracker "$WS_URL" --proxy "socks5://127.0.0.1:$closed" >"$T/r-$1.out" 2>&1 &&
		echo "succeeded" >>"$T/r-$1.out"
	echo $((($(date +%s%N) - t0) / 1000000)) >"$T/r-$1.ms"
	return 0
}
capture_start any "$T/refused.pcap" "tcp dst port $port"
refuse creds "socks5://alice:wrong@127.0.0.1:$socks" &
r1=$!
refuse closed "socks5://127.0.0.1:$closed" &
r2=$!
refuse mute "socks5://127.0.0.1:$mute" &
r3=$!
refuse peerdown "socks5://alice:s3cret%3Apw@127.0.0.1:$socks" "127.0.0.1:$nobody#$key" &
r4=$!
refuse_tracker trkbare without &
r5=$!
refuse_tracker trkknown with &
r6=$!
wait $r1 $r2 $r3 $r4 $r5 $r6
for r in creds closed mute peerdown trkbare trkknown; do
	echo "   $r ($(cat "$T/r-$r.ms") ms): $(grep -m1 'through the proxy:' "$T/r-$r.out" || tail -1 "$T/r-$r.out")"
	grep -q ":$port\b" "$T/r-$r.out" && fail "$r: the log names the peer: $(cat "$T/r-$r.out")"
	grep -q succeeded "$T/r-$r.out" && fail "a fetch through a refusing proxy ($r) succeeded"
	grep -q "Sanitizer\|runtime error" "$T/r-$r.out" && fail "$r: $(cat "$T/r-$r.out")"
	[ ! -e "$T/r-$r.bin" ] || fail "a refused fetch ($r) wrote its output"
done
grep -q "the proxy refused the user name and password" "$T/r-creds.out" ||
	fail "wrong credentials: $(cat "$T/r-creds.out")"
grep -q "the proxy at 127.0.0.1:$closed: .*refused" "$T/r-closed.out" ||
	fail "a closed proxy port: $(cat "$T/r-closed.out")"
grep -q "the proxy did not connect within 10000 ms" "$T/r-mute.out" ||
	fail "a mute proxy: $(cat "$T/r-mute.out")"
grep -q "through the proxy: .*connection refused" "$T/r-peerdown.out" ||
	fail "a peer refused beyond the proxy: $(cat "$T/r-peerdown.out")"
grep -q "Connection refused\|connection refused" "$T/r-creds.out" && fail "wrong credentials said refused"
ok "wrong credentials, a closed port, a mute proxy and a peer refused beyond it each fail the fetch with their reason"
grep -q "tracker ws://.*: cannot connect through the proxy: the proxy at 127.0.0.1:$closed: " \
	"$T/r-trkbare.out" || fail "a tracker through a closed proxy port: $(cat "$T/r-trkbare.out")"
grep -q "no manifest of .*: the proxy at 127.0.0.1:$closed refused every connection to the trackers" \
	"$T/r-trkbare.out" || fail "no manifest through a closed proxy: $(cat "$T/r-trkbare.out")"
for r in creds closed peerdown trkknown trkbare; do
	grep -q "the proxy at 127.0.0.1:[0-9]* refused every connection" "$T/r-$r.out" ||
		fail "$r: the fetch's error does not name the proxy: $(cat "$T/r-$r.out")"
	[ "$(cat "$T/r-$r.ms")" -lt 10000 ] ||
		fail "$r: the fetch took $(cat "$T/r-$r.ms") ms to give up on a refusing proxy"
done
[ "$(cat "$T/r-mute.ms")" -ge 69000 ] && [ "$(cat "$T/r-mute.ms")" -lt 100000 ] ||
	fail "the mute proxy's fetch gave up in $(cat "$T/r-mute.ms") ms, not after its third dial (70 s)"
ok "refused by the proxy: the fetch fails in $(cat "$T/r-closed.ms") ms (closed port), $(cat "$T/r-creds.ms") ms (credentials), $(cat "$T/r-peerdown.ms") ms (SOCKS error), $(cat "$T/r-trkbare.ms") ms (only a tracker, no manifest), $(cat "$T/r-trkknown.ms") ms (only a tracker, the manifest known), naming the proxy; a mute one after its third dial"
capture_stop
packets=$(tcpdump -n -r "$T/refused.pcap" 2>/dev/null | grep -c . || true)
[ "$packets" -eq 0 ] || fail "the seeder's port got $packets packets while every proxy refused"
ok "no packet reached the seeder's port while the proxies refused: nothing was dialled around them"
# A proxy that comes back within the redials (here 0.5 s after the fetch
# began) is waited for: a refusal is not taken as final at once.
late=$(free_port)
new_sub "$T/late"
MEGAFS_STORE=$T/late "$MEGAFS" fetch "$link" file.bin -o "$T/late.bin" --peer "$peer" \
	--proxy "socks5://127.0.0.1:$late" 2>"$T/late.err" &
late_fetch=$!
sleep 0.5
microsocks -i 127.0.0.1 -p "$late" >/dev/null 2>&1 &
PIDS+=($!)
wait "$late_fetch" || fail "the fetch through a proxy back after 0.5 s failed: $(cat "$T/late.err")"
cmp "$T/file.bin" "$T/late.bin" || fail "the file fetched through the late proxy differs"
ok "a proxy refusing for the first 0.5 s is waited for: the fetch completes ($(grep -c 'through the proxy' "$T/late.err") refusal logged)"
MEGAFS_STORE=$SUB expect_fail "resolving its name would send a DNS query" megafs fetch "$link" \
	file.bin -o "$T/x" --proxy "socks5://proxy.example:1080" --peer "$peer"
MEGAFS_STORE=$SUB expect_fail "--proxy socks5://...@...:" megafs fetch "$link" \
	file.bin -o "$T/x" --proxy "socks5://a:b@c:d@127.0.0.1:0" --peer "$peer"
MEGAFS_STORE=$SUB expect_fail "the DHT speaks UDP" megafs fetch "$link" \
	file.bin -o "$T/x" --proxy "socks5://127.0.0.1:$socks" --dht-bootstrap 127.0.0.1:6881
MEGAFS_STORE=$SUB expect_fail "the DHT speaks UDP" megafs mount "$link" "$T/x" --dht \
	--proxy "socks5://127.0.0.1:$socks"
ok "--proxy with the DHT (either order), a proxy named by a DNS name and a bad URL are refused"
finish
