#!/usr/bin/env bash
# megafs tracker as a plain BitTorrent tracker (BEP 3 HTTP announces,
# compact peer lists of BEP 23; net/bt_announce.h), with real clients on
# 127.0.x.y: a libtorrent seeder and an aria2c leecher find each other by
# its announces alone (no DHT, no local discovery, no peer exchange) and
# the file arrives identical; malformed announces get a bencoded failure
# reason and the tracker stays up; the limits per address range hold, and
# answers are mixed across ranges; the same over TLS (https://).
source "$(dirname "$0")/lib.sh"
LT_SEED=$(dirname "$0")/../tools/lt_seed.py
command -v aria2c >/dev/null || fail "aria2c is missing (tools/deps.sh installs aria2)"
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null ||
	fail "python3-libtorrent is missing (tools/deps.sh installs it)"

# bdecode: an announce's answer (stdin) as one line (tests/tools/bt_reply.py).
bdecode() { /usr/bin/python3 "$(dirname "$0")/../tools/bt_reply.py"; }
# hash20 N: a 20-byte value, percent-encoded, that differs by N (and holds
# %00 and %26, which an HTTP library may refuse or split on).
hash20() { printf '%%00%%26%%2B%%ff%%0a%%0d%s' "$(printf '%014d' "$1")"; }
# announce BASE INFOHASH PEER PORT LEFT [EXTRA [CURL OPTIONS...]]
announce() {
	local base=$1 ih=$2 peer=$3 port=$4 left=$5 extra=${6:-}
	shift 6 2>/dev/null || shift $#
	curl -sS --max-time 5 "$@" \
		"$base?info_hash=$ih&peer_id=$(hash20 "$peer")&port=$port&uploaded=0&downloaded=0&left=$left&compact=1$extra" |
		bdecode
}

start_tracker "$T/tdb" --http-port 0 --max-announced-per-range 3 --max-per-range 4
ANNOUNCE=$(sed -n 's/^megafs tracker: BitTorrent announces on \(http:[^ ]*\)$/\1/p' "$T"/tracker.*.out)
[[ "$ANNOUNCE" == http://127.0.0.1:*/announce ]] || fail "no announce URL printed: $(cat "$T"/tracker.*.out)"
ok "megafs tracker --http-port 0 prints its announce URL $ANNOUNCE"

# ---- a real swarm: libtorrent seeds, aria2c leeches --------------------------------
mkdir -p "$T/seed" "$T/leech"
random_file "$T/seed/data.bin" $((6 * 1024 * 1024 + 12345))
/usr/bin/python3 "$LT_SEED" --announce "$ANNOUNCE" --out "$T/data.torrent" "$T/seed/data.bin" \
	>"$T/seed.out" 2>"$T/seed.err" &
PIDS+=($!)
wait_for 20 grep -q '^ready' "$T/seed.out" || fail "the seeder did not start: $(cat "$T/seed.err")"
wait_for 20 grep -q 'received peers' "$T/seed.out" ||
	fail "the seeder's announce was not answered: $(cat "$T/seed.out" "$T/seed.err")"
SEED_PORT=$(sed -n 's/^ready port=\([0-9]*\) .*/\1/p' "$T/seed.out")
IH=$(sed -n 's/^ready .*info_hash=\([0-9a-f]*\)$/\1/p' "$T/seed.out")
IH_Q=$(sed 's/../%&/g' <<<"$IH")
ok "libtorrent seeds $IH and its announce was answered"

out=$(announce "$ANNOUNCE" "$IH_Q" 900 7000 1 "&numwant=10" --interface 127.0.9.1)
[[ "$out" == "complete=1 incomplete=1 interval=60 peers=127.0.0.1:$SEED_PORT" ]] ||
	fail "an announce for the torrent answered '$out'"
out=$(announce "$ANNOUNCE" "$IH_Q" 900 7000 1 "&event=stopped" --interface 127.0.9.1)
[[ "$out" == "complete=1 incomplete=0 interval=60 peers=127.0.0.1:$SEED_PORT" ]] ||
	fail "a stopped announce answered '$out'"
ok "the tracker lists the seeder (127.0.0.1:$SEED_PORT, complete=1); 'stopped' removes a peer"

start=$(date +%s.%N)
timeout 90 aria2c --dir "$T/leech" --enable-dht=false --enable-dht6=false \
	--bt-enable-lpd=false --enable-peer-exchange=false --seed-time=0 --summary-interval=0 \
	--console-log-level=warn --bt-tracker-connect-timeout=5 "$T/data.torrent" >"$T/aria2.out" 2>&1 ||
	fail "aria2c failed: $(tail -20 "$T/aria2.out")"
took=$(echo "$(date +%s.%N) - $start" | bc)
cmp "$T/seed/data.bin" "$T/leech/data.bin" || fail "the file aria2c fetched differs"
ok "aria2c found the libtorrent seeder through the tracker and fetched 6 MiB, cmp-identical (${took%.*}.$(cut -d. -f2 <<<"$took" | cut -c1-2) s)"

# ---- malformed announces ------------------------------------------------------------
# refused QUERY REASON: a GET /announce?QUERY is answered with that failure reason.
refused() {
	local out
	out=$(curl -sS --max-time 5 "$ANNOUNCE?$1" | bdecode)
	[[ "$out" == "failure: $2"* ]] || fail "?$1 answered '$out', expected failure: $2"
}
good="info_hash=$(hash20 1)&peer_id=$(hash20 2)&port=6881&uploaded=0&downloaded=0&left=0"
refused "" "no query"
refused "info_hash=abc&peer_id=$(hash20 2)&port=1&uploaded=0&downloaded=0&left=0" \
	"info_hash must be 20 bytes, not 3"
refused "${good/port=6881/port=0}" "port must be a number from 1 to 65535"
refused "${good/port=6881/port=65536}" "port must be a number from 1 to 65535"
refused "${good/left=0/left=-1}" "left must be a decimal number below 2^63"
refused "${good/left=0/left=9223372036854775808}" "left must be a decimal number below 2^63"
refused "${good/left=0/left=01}" "left must be a decimal number below 2^63"
refused "$good&port=6882" "port given twice"
refused "$good&&x=1" "empty parameter"
refused "$good&event=hello" "event must be"
refused "${good/info_hash=%00/info_hash=%0}" "info_hash: bad percent-encoding"
refused "${good/info_hash=%00/info_hash=%zz}" "info_hash: bad percent-encoding"
refused "${good/&left=0/}" "missing left"
refused "$good&compact=2" "compact must be 0 or 1"
out=$(curl -sS --max-time 5 "${ANNOUNCE%/announce}/scrape?$good" | bdecode)
[[ "$out" == "failure: only GET /announce"* ]] || fail "/scrape answered '$out'"
out=$(curl -sS --max-time 5 -X POST --data x "$ANNOUNCE?$good" | bdecode)
[[ "$out" == "failure: only GET /announce"* ]] || fail "POST answered '$out'"
out=$(curl -sS --max-time 5 "$ANNOUNCE?$good&key=$(head -c 3000 /dev/zero | tr '\0' a)" | bdecode)
[[ "$out" == "failure: query longer than 2048 bytes" ]] || fail "a long query answered '$out'"
out=$(/usr/bin/python3 -c '
import os, socket, sys
host, port = sys.argv[1].split("/")[2].split(":")
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(os.urandom(5000).replace(b"\r", b"x"))
reply = b""
while chunk := s.recv(65536):
	reply += chunk
sys.stdout.buffer.write(reply.split(b"\r\n\r\n", 1)[1])' "$ANNOUNCE" | bdecode)
[[ "$out" == "failure: request head longer than 4096 bytes" ]] || fail "5000 bytes of junk answered '$out'"
kill -0 "$TRACKER_PID" || fail "the tracker died"
out=$(announce "$ANNOUNCE" "$(hash20 1)" 2 6881 0 "")
[[ "$out" == "complete=1 incomplete=0 interval=60 peers=" ]] || fail "a good announce after them: '$out'"
ok "18 malformed announces answered with a bencoded failure reason each; the tracker is up, and %00 %26 %0a in a hash are data"

# ---- limits per address range ---------------------------------------------------------
T2=$(hash20 77)
for i in 1 2 3; do
	out=$(announce "$ANNOUNCE" "$T2" $((100 + i)) $((7100 + i)) 5 "" --interface 127.0.1.1)
	[[ "$out" == complete=* ]] || fail "peer $i of 127.0.1.1: '$out'"
done
out=$(announce "$ANNOUNCE" "$T2" 104 7104 5 "" --interface 127.0.1.1)
[[ "$out" == "failure: at most 3 peers of one torrent from one address range" ]] ||
	fail "a 4th peer of 127.0.1.0/24 was answered '$out'"
out=$(announce "$ANNOUNCE" "$T2" 101 7101 5 "" --interface 127.0.1.1)
[[ "$out" == complete=0\ incomplete=3* ]] || fail "peer 1 announcing again: '$out'"
ok "a torrent takes 3 peers of one /24 (--max-announced-per-range 3): the 4th is refused, the 1st announces again"

for r in 2 3 4 5 6; do
	out=$(announce "$ANNOUNCE" "$T2" $((200 + r)) $((7200 + r)) 5 "" --interface "127.0.$r.1")
	[[ "$out" == complete=* ]] || fail "the peer of 127.0.$r.1: '$out'"
done
for i in $(seq 20); do
	out=$(announce "$ANNOUNCE" "$T2" 999 7999 5 "&numwant=5" --interface 127.0.50.1)
	peers=$(sed 's/.*peers=//' <<<"$out" | tr , '\n')
	[ "$(wc -l <<<"$peers")" = 5 ] || fail "answer $i: $out"
	[ "$(cut -d. -f3 <<<"$peers" | sort -u | wc -l)" = 5 ] || fail "answer $i repeats a range: $out"
done
ok "20 answers of 5 peers among 3 of one /24 and 5 of others: each from 5 different ranges"

# Connections: --max-per-range 4 counts the announce listener's too; one
# that sends nothing is closed after 10 s and gives its slot back.
for i in 1 2 3 4; do
	exec {fd}<>/dev/tcp/127.0.0.1/"$(sed 's|.*:\([0-9]*\)/announce|\1|' <<<"$ANNOUNCE")"
	held+=("$fd")
done
sleep 0.5
out=$(announce "$ANNOUNCE" "$(hash20 5)" 5 7005 0 "" --interface 127.0.0.1 2>&1 || true)
[[ "$out" != complete=* ]] || fail "a 5th connection of 127.0.0.0/24 was served: '$out'"
out=$(announce "$ANNOUNCE" "$(hash20 5)" 5 7005 0 "" --interface 127.0.7.1)
[[ "$out" == complete=* ]] || fail "another range was refused while 127.0.0.0/24 was full: '$out'"
wait_for 15 bash -c "[[ \"\$(curl -sS --max-time 2 '$ANNOUNCE?$good' | head -c 8)\" == d8:compl ]]" ||
	fail "the silent connections were not closed"
for fd in "${held[@]}"; do exec {fd}>&-; done
ok "4 silent connections fill 127.0.0.0/24 (--max-per-range 4), others are served; closed within 10 s, the range is served again"

# ---- IPv6: peers6 -------------------------------------------------------------------------
if ip -6 addr show lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	"$MEGAFS" tracker --listen '[::1]:0' --http-port 0 --db "$T/tdb6" >"$T/tracker6.out" 2>&1 &
	PIDS+=($!)
	wait_for 10 grep -q 'BitTorrent announces' "$T/tracker6.out" || fail "no IPv6 tracker: $(cat "$T/tracker6.out")"
	V6=$(sed -n 's/^megafs tracker: BitTorrent announces on \(http:[^ ]*\)$/\1/p' "$T/tracker6.out")
	announce "$V6" "$(hash20 6)" 61 7061 0 "" -g >/dev/null
	out=$(announce "$V6" "$(hash20 6)" 62 7062 9 "" -g)
	[[ "$out" == "complete=1 incomplete=1 interval=60 peers=[::1]:7061" ]] || fail "IPv6 announce: '$out'"
	ok "over IPv6 ($V6) peers come as BEP 7's peers6: [::1]:7061"
else
	echo "skipped: no ::1 on lo, the IPv6 part"
fi

# ---- over TLS ----------------------------------------------------------------------------
unset SSL_CERT_FILE SSL_CERT_DIR
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=tracker.test -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/self.key" -out "$T/self.pem" 2>/dev/null || fail "openssl req failed"
rm -f "$T"/tracker.*.out
start_tracker "$T/tdb2" --http-port 0 --tls-cert "$T/self.pem" --tls-key "$T/self.key"
TLS_ANNOUNCE=$(sed -n 's/^megafs tracker: BitTorrent announces on \(https:[^ ]*\)$/\1/p' "$T"/tracker.*.out)
[[ "$TLS_ANNOUNCE" == https://127.0.0.1:*/announce ]] || fail "no https URL: $(cat "$T"/tracker.*.out)"
out=$(announce "$TLS_ANNOUNCE" "$(hash20 9)" 9 7009 0 "" --cacert "$T/self.pem")
[[ "$out" == "complete=1 incomplete=0 interval=60 peers=" ]] || fail "https announce: '$out'"
out=$(announce "$TLS_ANNOUNCE" "$(hash20 9)" 10 7010 3 "" --cacert "$T/self.pem")
[[ "$out" == "complete=1 incomplete=1 interval=60 peers=127.0.0.1:7009" ]] || fail "https announce: '$out'"
! curl -sS --max-time 5 "${TLS_ANNOUNCE/https/http}?$good" >/dev/null 2>&1 ||
	fail "plain http was answered on the TLS listener"
ok "with --tls-cert the announces are https:// ($TLS_ANNOUNCE), plain http is not answered"
finish
