#!/usr/bin/env bash
# Peers over --transport tls (net/tls_link): a seeder serves over TLS 1.3
# and a WebSocket, a fetch through it is byte for byte; nDPI (ndpiReader
# -d: no guessing by port) on a capture of the transfer says TLS with the
# SNI megafs sent, and what it says of the plain tcp transport is
# recorded; an active prober (curl -k, openssl s_client) gets an ordinary
# web page and no word of megafs; garbage is closed and the seeder goes on
# serving; the options refuse what cannot work.
source "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"
command -v ndpiReader >/dev/null || fail "ndpiReader is missing (libndpi-bin; tools/deps.sh installs it)"
command -v curl >/dev/null || fail "curl is missing (tools/deps.sh installs it)"
SNI=cdn.example.org

PUB="$T/pub" SUB="$T/sub"
publish_random "$PUB" "Over TLS" $((2 * 1024 * 1024 + 4321))
link=$LINK
MEGAFS_STORE=$PUB megafs channel export "$link" >"$T/manifest.json"
new_sub() { subscriber_store "$1" "$link" "$T/manifest.json"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=$SNI" -keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null || fail "openssl req failed"

# start_serve NAME OPTIONS...: a seeder of PUB; sets PORT and KEY.
start_serve() {
	local name=$1
	shift
	MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 "$@" >"$T/$name.out" 2>&1 &
	SERVE_PID=$!
	PIDS+=($SERVE_PID)
	wait_for 10 grep -q serving "$T/$name.out" || fail "megafs serve $* did not start: $(cat "$T/$name.out")"
	PORT=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/$name.out")
	KEY=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$T/$name.out")
}
stop_serve() {
	kill "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null || true
}

# The options refuse what cannot work.
expect_fail "needs --tls-cert FILE and --tls-key FILE" \
	env MEGAFS_STORE="$PUB" "$MEGAFS" serve --listen 127.0.0.1:0 --transport tls
expect_fail "a peer is HOST:PORT#KEY" \
	env MEGAFS_STORE="$PUB" "$MEGAFS" fetch "$link" file.bin -o "$T/x" --transport tls \
	--peer 127.0.0.1:9
expect_fail "go with --transport tls" \
	env MEGAFS_STORE="$PUB" "$MEGAFS" fetch "$link" file.bin -o "$T/x" --tls-sni "$SNI" \
	--peer 127.0.0.1:9
expect_fail "--tls-key $T/c.pem" \
	env MEGAFS_STORE="$PUB" "$MEGAFS" serve --listen 127.0.0.1:0 --transport tls \
	--tls-cert "$T/c.pem" --tls-key "$T/c.pem"
expect_fail "--transport udp: tcp, tls, or obfs4" \
	env MEGAFS_STORE="$PUB" "$MEGAFS" serve --transport udp
ok "serve and fetch refuse --transport tls without a certificate, a --peer without its key, --tls-* without --transport tls, a key that is no key, and a transport that does not exist"

# A fetch over tls, captured.
start_serve tls --transport tls --tls-cert "$T/c.pem" --tls-key "$T/k.pem"
capture_start lo "$T/tls.pcap" "tcp port $PORT"
new_sub "$SUB"
MEGAFS_STORE=$SUB "$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" --transport tls \
	--tls-sni "$SNI" --peer "127.0.0.1:$PORT#$KEY" 2>"$T/fetch.err" ||
	fail "the fetch over tls failed: $(cat "$T/fetch.err")"
capture_stop
cmp "$T/file.bin" "$T/got.bin" || fail "the file fetched over tls differs"
ok "megafs fetch --transport tls from megafs serve --transport tls: the file byte for byte"

# A mount over tls reads it too.
new_sub "$T/sub-mount"
MEGAFS_STORE=$T/sub-mount mount_channel "$link" "$T/mnt" --transport tls --tls-sni "$SNI" \
	--peer "127.0.0.1:$PORT#$KEY"
wait_for 30 test -e "$T/mnt/file.bin" || fail "the mount over tls shows no file.bin"
cmp "$T/file.bin" "$T/mnt/file.bin" || fail "the file read through the mount over tls differs"
MEGAFS_STORE=$T/sub-mount megafs umount "$T/mnt"
ok "megafs mount --transport tls reads the file byte for byte"

ndpiReader -d -i "$T/tls.pcap" -v 2 >"$T/tls.ndpi" 2>&1 || fail "ndpiReader failed: $(tail -5 "$T/tls.ndpi")"
flow=$(grep -E "^\s*1\s+TCP " "$T/tls.ndpi" | head -1)
[ -n "$flow" ] || fail "ndpiReader listed no TCP flow: $(cat "$T/tls.ndpi")"
grep -q "\[proto: 91/TLS\]" <<<"$flow" || fail "nDPI did not say TLS: $flow"
grep -q "\[Hostname/SNI: $SNI\]" <<<"$flow" || fail "nDPI did not see the SNI $SNI: $flow"
grep -q "\[ALPN: h2;http/1.1\]" <<<"$flow" || fail "nDPI did not see ALPN h2,http/1.1: $flow"
grep -q "\[TLSv1.3\]" <<<"$flow" || fail "nDPI did not see TLS 1.3: $flow"
echo "   nDPI, tls: $(grep -oE '\[(proto|Hostname/SNI|ALPN|JA3C|Cipher): [^]]*\]|\[TLSv1\.3\]|\[Safari\]|\[Chrome\]|\[Firefox\]' <<<"$flow" | tr '\n' ' ')"
ok "ndpiReader -d on the capture of the tls transfer: TLS, SNI $SNI, ALPN h2,http/1.1, TLS 1.3"

# A prober: curl, and openssl s_client with a browser's ALPN.
curl -sk --max-time 10 -D "$T/curl.head" -o "$T/curl.body" "https://127.0.0.1:$PORT/" ||
	fail "curl -k of the tls seeder failed"
grep -q "^HTTP/1.1 200 OK" "$T/curl.head" || fail "curl got no 200: $(cat "$T/curl.head")"
grep -q "^Server: nginx" "$T/curl.head" || fail "curl saw no web server: $(cat "$T/curl.head")"
grep -q "Welcome to nginx!" "$T/curl.body" || fail "curl got no page: $(cat "$T/curl.body")"
grep -qi megafs "$T/curl.head" "$T/curl.body" && fail "the page names megafs"
printf 'GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n' "$SNI" |
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername "$SNI" \
	-alpn h2,http/1.1 -ign_eof >"$T/s_client.out" 2>&1 || true
grep -q "ALPN protocol: http/1.1" "$T/s_client.out" || fail "s_client: no ALPN http/1.1: $(cat "$T/s_client.out")"
grep -q "Protocol  *: TLSv1.3" "$T/s_client.out" || fail "s_client: not TLS 1.3"
grep -q "^HTTP/1.1 200 OK" "$T/s_client.out" || fail "s_client got no page: $(cat "$T/s_client.out")"
grep -qi megafs "$T/s_client.out" && fail "s_client's session names megafs"
ok "a prober gets a web server: curl -k https://127.0.0.1:$PORT/ and openssl s_client (ALPN http/1.1, TLS 1.3) get nginx's welcome page, 200, no word of megafs"

# Garbage, then a half-sent ClientHello: closed; the seeder serves on.
head -c 3000 /dev/urandom >"$T/junk"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
cat "$T/junk" >&3 2>/dev/null || true
timeout 5 cat <&3 >/dev/null 2>&1 || fail "the seeder did not close a connection sending garbage"
exec 3>&-
kill -0 "$SERVE_PID" || fail "megafs serve died of the garbage"
rm -rf "$SUB" "$T/got.bin"
new_sub "$SUB"
MEGAFS_STORE=$SUB "$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" --transport tls \
	--tls-sni "$SNI" --peer "127.0.0.1:$PORT#$KEY" 2>"$T/fetch2.err" ||
	fail "the fetch after the garbage failed: $(cat "$T/fetch2.err")"
cmp "$T/file.bin" "$T/got.bin" || fail "the second file differs"
ok "3000 random bytes are answered by a close; the seeder serves the next fetch byte for byte"

# A subscriber that speaks plain tcp to the tls seeder gets nothing.
rm -rf "$SUB" "$T/got.bin"
new_sub "$SUB"
if MEGAFS_STORE=$SUB timeout 60 "$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" \
	--peer "127.0.0.1:$PORT#$KEY" >"$T/fetch3.err" 2>&1; then
	fail "a plain tcp fetch from the tls seeder succeeded"
fi
ok "a plain tcp fetch from the tls seeder fails: $(tail -1 "$T/fetch3.err")"
stop_serve

# The plain tcp transport, for the record.
start_serve tcp
capture_start lo "$T/tcp.pcap" "tcp port $PORT"
rm -rf "$SUB" "$T/got.bin"
new_sub "$SUB"
MEGAFS_STORE=$SUB "$MEGAFS" fetch "$link" file.bin -o "$T/got.bin" \
	--peer "127.0.0.1:$PORT#$KEY" 2>"$T/fetch4.err" || fail "the plain fetch failed: $(cat "$T/fetch4.err")"
capture_stop
cmp "$T/file.bin" "$T/got.bin" || fail "the plain file differs"
stop_serve
ndpiReader -d -i "$T/tcp.pcap" -v 2 >"$T/tcp.ndpi" 2>&1 || fail "ndpiReader failed on the tcp capture"
flow=$(grep -E "^\s*1\s+TCP " "$T/tcp.ndpi" | head -1)
proto=$(grep -oE '\[proto: [^]]*\]' <<<"$flow" | head -1)
[ -n "$proto" ] || fail "ndpiReader listed no TCP flow for tcp: $(cat "$T/tcp.ndpi")"
grep -q TLS <<<"$proto" && fail "nDPI said TLS of the plain transport: $flow"
ok "ndpiReader -d on the plain tcp transport says $proto (recorded; the Noise handshake is not classified)"
finish
