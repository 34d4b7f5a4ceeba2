#!/usr/bin/env bash
# wss:// trackers (net/tls, megafs(7) "TLS to trackers"), with real
# certificates made by `openssl req` and real processes on 127.0.0.x:
#  - a self-signed tracker: its pinned URL is accepted, a wrong pin and no
#    pin are refused with a clear error, a plain client on the TLS port
#    fails cleanly (and others are served), TLS 1.2 is refused;
#  - a packet capture (tcpdump on lo) of a wss:// publish + subscribe holds
#    none of the manifest's key, signature or file name; the same over
#    ws:// holds them (the search works);
#  - without a pin the system's CAs decide: a test CA named by
#    SSL_CERT_FILE (OpenSSL's own variable) vouches for a second tracker,
#    and not under another name;
#  - stalled TLS handshakes count against the connection limits and are
#    closed after 10 s.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}
command -v openssl >/dev/null || fail "openssl is missing (tools/deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"
unset SSL_CERT_FILE SSL_CERT_DIR

# ---- a self-signed tracker ---------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=tracker.test -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/self.key" -out "$T/self.pem" 2>/dev/null || fail "openssl req failed"
want=$(openssl x509 -noout -fingerprint -sha256 -in "$T/self.pem" | sed 's/.*=//; s/://g' |
	tr 'A-F' 'a-f')
start_tracker "$T/tdb" --tls-cert "$T/self.pem" --tls-key "$T/self.key" --max-per-range 2
SELF_URL=$TRACKER_URL SELF_PID=$TRACKER_PID
[[ "$SELF_URL" == wss://127.0.0.1:*/#sha256=$want ]] ||
	fail "the tracker printed $SELF_URL, expected its openssl fingerprint $want"
hostport=${SELF_URL#wss://}
hostport=${hostport%%/*}
port=${hostport##*:}
NOPIN=wss://$hostport/
ok "megafs tracker --tls-cert prints wss://$hostport/#sha256=<the openssl fingerprint>"

# A channel with one file, and its signed manifest.
megafs init --size 64M --kdf fast >/dev/null 2>&1
link=$(megafs channel new --public "Secret")  # what TLS hides: a public manifest
name="name-$RANDOM$RANDOM.txt"
pk=${link#megafs://}
mount_channel "$link" "$T/mnt"
echo "hello over TLS" >"$T/mnt/$name"
unmount "$T/mnt"
megafs channel export "$link" >"$T/manifest.json"
sig=$(grep -o '"signature":"[0-9a-f]*"' "$T/manifest.json" | cut -d'"' -f4)
[ -n "$sig" ] && grep -qF "$name" "$T/manifest.json" && grep -qF "$pk" "$T/manifest.json" ||
	fail "the manifest lacks its signature, key or file name: $(head -c 300 "$T/manifest.json")"

# capture PORT FILE CMD...: CMD while tcpdump records lo's traffic to PORT.
capture() {
	local cport=$1 file=$2
	shift 2
	capture_start lo "$file" "tcp port $cport"
	"$@"
	capture_stop
}
publish_and_get() {
	out=$("$PROBE" client "$1" --publish "$T/manifest.json" --published 1 --timeout 10)
	grep -q "^published 1$" <<<"$out" || fail "publish over $1: $out"
	out=$("$PROBE" client "$1" --subscribe "$pk" --manifests 1 --timeout 10)
	grep -q "^manifest 1" <<<"$out" || fail "subscribe over $1: $out"
}
# holds FILE: 0 when the capture holds the key, the signature or the name.
holds() { grep -qaF -e "$pk" -e "$sig" -e "$name" "$1"; }

capture "$port" "$T/wss.pcap" publish_and_get "$SELF_URL"
bytes=$(stat -c %s "$T/wss.pcap")
[ "$bytes" -gt "$(stat -c %s "$T/manifest.json")" ] || fail "the capture ($bytes bytes) missed the session"
holds "$T/wss.pcap" && fail "the wss:// capture holds the manifest's key, signature or a file name"
ok "pinned wss://: publish + subscribe work; a ${bytes}-byte capture holds neither the" \
	"channel key, nor the signature, nor the file name"

start_tracker "$T/plain-db"
plain_port=${TRACKER_URL##*:}
plain_port=${plain_port%%/*}
capture "$plain_port" "$T/ws.pcap" publish_and_get "$TRACKER_URL"
holds "$T/ws.pcap" || fail "the ws:// capture does not hold the manifest: the search is blind"
out=$("$PROBE" client "wss://127.0.0.1:$plain_port/" --timeout 2 || true)
grep -q "^error cannot connect: the TLS handshake failed" <<<"$out" ||
	fail "a wss:// client on a ws:// tracker: $out"
kill "$TRACKER_PID"
ok "the same session over ws:// shows the key, the signature and the name (the warning is true)"

# ---- refusals ----------------------------------------------------------------------
wrong=${SELF_URL%#*}#sha256=$(printf '%064d' 0)
out=$("$PROBE" client "$wrong" --subscribe "$pk" --manifests 1 --timeout 3 || true)
grep -q "^connected" <<<"$out" && fail "a wrong pin connected: $out"
grep -q "^error the tracker's certificate is not the pinned one (it has sha256=$want" <<<"$out" ||
	fail "a wrong pin: $out"
echo "   error shown: $(grep ^error <<<"$out" | head -1)"
[ "$(grep -c '^error' <<<"$out")" = 1 ] || fail "the same refusal was said more than once: $out"
ok "a wrong pin is refused in the TLS handshake, with both fingerprints, said once"

out=$("$PROBE" client "$NOPIN" --subscribe "$pk" --manifests 1 --timeout 3 || true)
grep -q "^connected" <<<"$out" && fail "an unpinned self-signed tracker connected: $out"
grep -q "^error the tracker's certificate is not trusted: self-signed certificate" <<<"$out" ||
	fail "no pin: $out"
echo "   error shown: $(grep ^error <<<"$out" | head -1)"
ok "without a pin a self-signed certificate is refused, and the error says to pin it"

MEGAFS_STORE=$T/sub megafs init --size 64M --kdf fast >/dev/null 2>&1
MEGAFS_STORE=$T/sub timeout 60 "$MEGAFS" fetch "$link" "$name" -o "$T/got" --tracker "$wrong" \
	2>"$T/fetch.err" & fetch=$!
PIDS+=("$fetch")
wait_for 10 grep -q "not the pinned one" "$T/fetch.err" ||
	fail "megafs fetch with a wrong pin said: $(cat "$T/fetch.err")"
kill "$fetch"
echo "   megafs fetch: $(grep -m1 "not the pinned one" "$T/fetch.err" | cut -c1-150)..."
# The volume remembers the wrongly pinned URL, as any: forgotten here, or
# every later start of the channel would try it (and log its refusal) too.
MEGAFS_STORE=$T/sub megafs channel forget "$link" "$wrong" >"$T/forgot" ||
	fail "channel forget of the wrongly pinned URL: $(cat "$T/forgot")"
grep -qxF "forgot tracker $wrong" "$T/forgot" || fail "channel forget said: $(cat "$T/forgot")"
ok "megafs fetch --tracker with a wrong pin logs the refusal at once; channel forget forgets that URL"

out=$("$PROBE" client "ws://$hostport/" --subscribe "$pk" --manifests 1 --timeout 3 || true)
grep -q "^error cannot connect: the tracker closed the connection during the handshake" \
	<<<"$out" || fail "a ws:// client on the TLS port: $out"
grep -q "^manifest" <<<"$out" && fail "a plain client got a manifest from the TLS port"
out=$("$PROBE" raw "$hostport" --hold 3 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n')
grep -q "^closed" <<<"$out" || fail "plain HTTP on the TLS port: $out"
! openssl s_client -connect "$hostport" -tls1_2 </dev/null >"$T/tls12.out" 2>&1 ||
	fail "a TLS 1.2 handshake succeeded"
openssl s_client -connect "$hostport" </dev/null 2>/dev/null | grep -q "TLSv1.3" ||
	fail "no TLS 1.3 handshake"
out=$("$PROBE" client "$SELF_URL" --subscribe "$pk" --manifests 1 --timeout 10)
grep -q "^manifest 1" <<<"$out" || fail "the tracker stopped serving after plain clients: $out"
ok "plain clients on the TLS port are closed (the client says why); TLS 1.2 is refused;" \
	"the tracker keeps serving"

# ---- a test CA through SSL_CERT_FILE -------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=megafs-test-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || fail "openssl req (CA) failed"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$T/ca-leaf.key" -out "$T/ca-leaf.csr" 2>/dev/null || fail "openssl req (CSR) failed"
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/ca-leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/ext" -out "$T/ca-leaf.pem" 2>/dev/null || fail "openssl x509 -req failed"
start_tracker "$T/ca-db" --tls-cert "$T/ca-leaf.pem" --tls-key "$T/ca-leaf.key"
ca_hostport=${TRACKER_URL#wss://}
ca_hostport=${ca_hostport%%/*}
out=$(SSL_CERT_FILE=$T/ca.pem "$PROBE" client "wss://$ca_hostport/" --subscribe "$pk" --timeout 2 ||
	true)
grep -q "^connected" <<<"$out" || fail "a CA-signed tracker with the CA trusted: $out"
out=$("$PROBE" client "wss://$ca_hostport/" --timeout 2 || true)
grep -q "^error the tracker's certificate is not trusted: unable to get local issuer" <<<"$out" ||
	fail "a CA-signed tracker, the CA not trusted: $out"
out=$(SSL_CERT_FILE=$T/ca.pem "$PROBE" client "wss://localhost:${ca_hostport##*:}/" --timeout 2 ||
	true)
grep -q "^error the tracker's certificate is not trusted: hostname mismatch" <<<"$out" ||
	fail "a CA-signed tracker under another name: $out"
kill "$TRACKER_PID"
ok "unpinned: a certificate from the CA in SSL_CERT_FILE is accepted for its address," \
	"refused without that CA and under another name (localhost)"

# ---- end to end, and the pin remembered with the tracker ------------------------------
"$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$SELF_URL" >"$T/serve.out" 2>&1 &
serve=$!
PIDS+=("$serve")
wait_for 10 grep -q "serving" "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
MEGAFS_STORE=$T/sub timeout 60 "$MEGAFS" fetch "$link" "$name" -o "$T/got" --tracker "$SELF_URL" ||
	fail "megafs fetch over wss:// failed"
cmp -s "$T/got" <(echo "hello over TLS") || fail "megafs fetch over wss:// wrote other bytes"
rm "$T/got"
# The seeder comes back on another port: only the tracker can say where.
kill "$serve"
wait "$serve" || fail "megafs serve did not exit cleanly"
"$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$SELF_URL" >"$T/serve2.out" 2>&1 &
serve=$!
PIDS+=("$serve")
wait_for 10 grep -q "serving" "$T/serve2.out" || fail "megafs serve did not start: $(cat "$T/serve2.out")"
MEGAFS_STORE=$T/sub timeout 60 "$MEGAFS" fetch "$link" "$name" -o "$T/got" 2>"$T/again.err" ||
	fail "megafs fetch with the remembered tracker failed: $(cat "$T/again.err")"
cmp -s "$T/got" <(echo "hello over TLS") || fail "the second fetch wrote other bytes"
grep -q "not trusted\|not the pinned" "$T/again.err" && fail "the remembered URL lost its pin"
kill "$serve"
wait "$serve" || fail "megafs serve did not exit cleanly"
ok "megafs serve + megafs fetch through the pinned wss:// tracker; with the seeder moved," \
	"a second fetch with no --tracker finds it through the remembered URL, pin included"

# ---- stalled TLS handshakes count against the limits ----------------------------------
# Three TCP connections from 127.0.9.1 that never say a word, on a tracker
# allowing 2 per range: the third is closed at once, the two others when their
# 10 s for the TLS handshake are over; other ranges are served meanwhile.
/usr/bin/python3 - "$port" >"$T/stall.out" <<'EOF' &
import select, socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.9.1", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
def closed(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1) == b""
    except ConnectionError:
        return True
time.sleep(1)
early = [closed(s) for s in socks]
print("early", sum(early), flush=True)
time.sleep(11)
print("late", sum(1 for s, e in zip(socks, early) if e or closed(s)), flush=True)
EOF
stall=$!
PIDS+=("$stall")
wait_for 5 grep -q "^early" "$T/stall.out" || fail "the stalled connections: $(cat "$T/stall.out")"
grep -q "^early 1$" "$T/stall.out" || fail "a third stalled connection of a full range: $(cat "$T/stall.out")"
out=$("$PROBE" client "$SELF_URL" --subscribe "$pk" --manifests 1 --timeout 10)
grep -q "^manifest 1" <<<"$out" || fail "another range was not served during the stall: $out"
wait "$stall" || fail "the stalling script failed: $(cat "$T/stall.out")"
grep -q "^late 3$" "$T/stall.out" || fail "stalled handshakes outlived 10 s: $(cat "$T/stall.out")"
kill -0 "$SELF_PID" || fail "the tracker died"
ok "2 stalled TLS handshakes fill 127.0.9.0/24: a 3rd is refused, another range is served," \
	"the stalled ones are closed after 10 s"
finish
