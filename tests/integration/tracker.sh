# The tracker (megafs tracker) with real processes on 127.0.0.x: publish
# and subscribe (live and late), forged and replayed manifests refused,
# oversized and garbage input survived, 1,000 subscribers served at once,
# the limits, announce, a restart that keeps the newest manifest and still
# refuses replays, and clean exits on SIGTERM and SIGINT.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}
probe() { "$PROBE" "$@"; }

# ---- signed manifests, made with the real CLI: each cp publishes one --------
megafs init --size 32M --kdf fast >/dev/null
link=$(megafs channel new --public "Tracked")
K=${link#megafs://}
K=${K%%#*}
mount_channel "$link" "$T/mnt"
for i in 1 2 3 4 5; do
	echo "file $i" >"$T/mnt/f$i.txt"
	megafs channel export "$link" >"$T/m$i.json" || fail "channel export"
	grep -q "\"sequence\":$i," "$T/m$i.json" || fail "manifest $i has sequence $(sequence_of "$link")"
	printf '{"action":"publish","manifest":%s}' "$(cat "$T/m$i.json")" >"$T/pub$i.msg"
done
unmount "$T/mnt"
# A forged one: manifest 5 with one hex digit of its signature changed.
sig1=$(sed -n 's/.*"signature":"\(.\).*/\1/p' "$T/m5.json")
[ "$sig1" = 0 ] && other=1 || other=0
sed "s/\"signature\":\"$sig1/\"signature\":\"$other/" "$T/m5.json" >"$T/forged.json"
cmp -s "$T/m5.json" "$T/forged.json" && fail "the forgery changed nothing"
printf '{"action":"publish","manifest":%s}' "$(cat "$T/forged.json")" >"$T/forged.msg"
ok "five signed manifests of one channel from megafs (sequences 1..5) and a forgery"

# run_tracker LISTEN DB [options...]: starts megafs tracker; sets TPID, TURL,
# THOST (HOST:PORT), TPORT and TERR (its stderr, which must stay empty).
run_tracker() {
	local listen=$1 db=$2 out="$T/tracker.$RANDOM.out"
	shift 2
	"$MEGAFS" tracker --listen "$listen" --db "$db" "$@" >"$out" 2>"$out.err" &
	TPID=$!
	TERR=$out.err
	PIDS+=("$TPID")
	wait_for 10 grep -q "^megafs tracker: listening on ws://" "$out" ||
		fail "the tracker did not start: $(cat "$out" "$out.err")"
	TURL=$(sed -n 's/^megafs tracker: listening on \(ws:.*\)$/\1/p' "$out")
	THOST=${TURL#ws://}
	TPORT=${THOST##*:}
	[ "$(wc -l <"$out")" = 1 ] || fail "the tracker printed more than one line: $(cat "$out")"
}

# forget PID: a process waited for is no longer the cleanup's to kill.
forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# stop_tracker SIGNAL: the tracker must exit 0 and leave no listening socket.
stop_tracker() {
	local status=0
	kill -s "$1" "$TPID"
	wait "$TPID" || status=$?
	forget "$TPID"
	[ $status = 0 ] || fail "the tracker exited $status after SIG$1"
	[ -z "$(ss -Hltn "sport = :$TPORT")" ] || fail "port $TPORT still listening after SIG$1"
	# A plain ws:// tracker warns once that its traffic is readable; nothing else.
	grep -q "warning: plain ws://" "$TERR" || fail "a ws:// tracker did not warn"
	[ -z "$(grep -v "warning: plain ws://" "$TERR")" ] ||
		fail "the tracker wrote to stderr: $(head -20 "$TERR")"
}

alive() { kill -0 "$TPID" 2>/dev/null || fail "the tracker died ($*)"; }

DB=$T/db
run_tracker 127.0.0.1:0 "$DB" --max-per-range 50 --range-v4 32 --max-subscriptions 8 --interval 1
[ "$(stat -c %a "$DB")" = 700 ] || fail "the database directory is not 0700"
ok "megafs tracker listens on $TURL (one line on stdout), database in a 0700 directory"

# talk ARGS...: one WebSocket conversation; its lines on stdout.
talk() { probe talk "$TURL" "$@"; }
published() { echo "text {\"action\":\"published\",\"key\":\"$K\",\"sequence\":$1}"; }

# ---- publish, live push, late subscribe --------------------------------------
out=$(talk --wait 1 @"$T/pub1.msg")
[ "$out" = "$(published 1)" ] || fail "publish 1: $out"
probe client "$TURL" --subscribe "$K" --manifests 2 --timeout 20 >"$T/live.out" &
live=$!
wait_for 10 grep -q "^manifest 1$" "$T/live.out" || fail "subscriber: $(cat "$T/live.out")"
out=$(talk --wait 1 @"$T/pub2.msg")
[ "$out" = "$(published 2)" ] || fail "publish 2: $out"
wait $live || fail "the live subscriber did not get manifest 2: $(cat "$T/live.out")"
grep -q "^manifest 2$" "$T/live.out" || fail "live push: $(cat "$T/live.out")"
out=$(talk --wait 1 "{\"action\":\"subscribe\",\"key\":\"$K\"}")
[ "$out" = "text $(cat "$T/pub2.msg")" ] || fail "late subscribe: $out"
ok "publish: acknowledged, pushed live to a subscriber, served byte for byte on a late subscribe"

stored() { talk --wait 1 "{\"action\":\"subscribe\",\"key\":\"$K\"}"; }
# ---- forged, replayed, older ---------------------------------------------------
out=$(talk --wait 1 @"$T/forged.msg")
grep -q '"code":"auth"' <<<"$out" || fail "forged: $out"
grep -q 'signature does not verify' <<<"$out" || fail "forged: $out"
grep -q '"request":"publish"' <<<"$out" || fail "forged: $out"
[ "$(stored)" = "text $(cat "$T/pub2.msg")" ] || fail "a forgery changed the stored manifest"
out=$(talk --wait 1 @"$T/pub2.msg")
grep -q '"code":"replay".*sequence 2 <= last seen 2' <<<"$out" || fail "replay: $out"
out=$(talk --wait 1 @"$T/pub1.msg")
grep -q '"code":"replay".*sequence 1 <= last seen 2' <<<"$out" || fail "older: $out"
[ "$(stored)" = "text $(cat "$T/pub2.msg")" ] || fail "a replay changed the stored manifest"
echo "   refusal: $(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' <<<"$out")"
ok "a forged signature, a replay and an older sequence are refused; the stored manifest stays"

# One connection: the refusal keeps it open for what follows.
out=$(talk --wait 2 @"$T/pub1.msg" @"$T/pub3.msg")
grep -q '"code":"replay"' <<<"$(sed -n 1p <<<"$out")" || fail "refusal then publish: $out"
[ "$(sed -n 2p <<<"$out")" = "$(published 3)" ] || fail "refusal then publish: $out"
ok "after a refusal the connection stays open: the next publish (3) is accepted"

# ---- oversized messages and garbage -------------------------------------------
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$T/big.msg"
out=$(talk @"$T/big.msg")
grep -q "^close 1009" <<<"$out" || fail "oversized message: $out"
out=$(talk --wait 1 frag:"{\"action\":\"subscribe\",\"key\":\"$K\"}")
[ "$out" = "text $(cat "$T/pub3.msg")" ] || fail "a fragmented message: $out"
ok "a message over 1 MiB closes its connection with 1009; fragmented messages are joined"

garbage=(
	'not json'
	'{"action":'
	'[1,2,3]'
	'"subscribe"'
	'{}'
	'{"action":"scrape"}'
	'{"action":"subscribe","key":"XYZ"}'
	"{\"action\":\"subscribe\",\"key\":\"${K^^}\"}"
	'{"action":"announce","info_hash":"00","peer_id":"00","port":1}'
	'{"action":"publish","manifest":"{}"}'
	"{\"action\":\"subscribe\",\"action\":\"subscribe\",\"key\":\"$K\"}"
)
out=$(talk --wait ${#garbage[@]} "${garbage[@]}")
[ "$(grep -c '^text {"action":"error","code":"format"' <<<"$out")" = ${#garbage[@]} ] ||
	fail "garbage text: $out"
out=$(talk --wait 2 'not json' "{\"action\":\"subscribe\",\"key\":\"$K\"}")
[ "$(sed -n 2p <<<"$out")" = "text $(cat "$T/pub3.msg")" ] || fail "after garbage: $out"
ok "${#garbage[@]} malformed text messages: one format error each, the connection kept"

out=$(talk bin:"{\"action\":\"subscribe\",\"key\":\"$K\"}")
grep -q "^close 1003" <<<"$out" || fail "binary frame: $out"
out=$(talk $'{"action":"\xff\xfe"}')
grep -q "^close 1007" <<<"$out" || fail "invalid UTF-8: $out"
out=$(probe raw "$THOST" 'garbage that is not HTTP\r\n\r\n')
[ "$(tail -1 <<<"$out")" = closed ] || fail "raw garbage: connection $out"
out=$(probe raw "$THOST" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')
[ "$(tail -1 <<<"$out")" = closed ] || fail "a TLS hello: connection $out"
probe raw "$THOST" --hold 14 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' >"$T/half.out" &
half=$!
out=$(probe raw "$THOST" 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
[ "$out" = $'reply HTTP/1.1 400 Bad Request\nclosed' ] || fail "plain HTTP: $out"
out=$(talk --protocol megafs-tracker --wait 1 "{\"action\":\"subscribe\",\"key\":\"$K\"}")
[ "$out" = "text $(cat "$T/pub3.msg")" ] || fail "while a handshake hangs: $out"
set +e
out=$(talk --protocol chat "{\"action\":\"subscribe\",\"key\":\"$K\"}")
status=$?
set -e
[ $status = 3 ] || fail "an unknown sub-protocol was accepted: $out"
alive "garbage"
ok "binary (1003), bad UTF-8 (1007), raw bytes, a TLS hello, plain HTTP (400), an unknown" \
	"sub-protocol refused; still serving"

# ---- limits -------------------------------------------------------------------
keys=()
for i in $(seq 9); do keys+=("{\"action\":\"subscribe\",\"key\":\"$(printf '%064x' "$i")\"}"); done
out=$(talk --wait 1 "${keys[@]}")
grep -q '"code":"limit".*at most 8 subscriptions per connection' <<<"$out" || fail "9th key: $out"
anns=()
for i in $(seq 9); do
	anns+=("$(printf '{"action":"announce","info_hash":"%s","peer_id":"%064x","port":%d}' \
		"$K" $((300 + i)) $((6000 + i)))")
done
out=$(talk --wait 9 "${anns[@]}")
[ "$(grep -c '"action":"announce"' <<<"$out")" = 8 ] || fail "8 announces: $out"
grep -q '"code":"limit".*at most 8 announced peers per connection' <<<"$(sed -n 9p <<<"$out")" ||
	fail "9th peer: $out"
out=$(probe limit "$TURL" --from 127.0.0.90 --count 51 --subscribe "$K")
[ "$out" = "accepted 50 refused 1" ] || fail "per-address limit: $out"
out=$(talk --from 127.0.0.91 --wait 1 "{\"action\":\"subscribe\",\"key\":\"$K\"}")
[ "$out" = "text $(cat "$T/pub3.msg")" ] || fail "another address: $out"
ok "limits: a 9th subscription and a 9th announced peer refused (8 allowed)," \
	"a 51st connection from one address (50, each subscribed: none idle)"

# ---- 1,000 subscribers ---------------------------------------------------------
probe many "$TURL" "$K" --from-base 127.0.0.10 --addrs 20 --per 50 --seq 3 --next 4 \
	--timeout 60 >"$T/many.out" 2>&1 &
many=$!
wait_for 60 grep -q "^ready 1000$" "$T/many.out" || fail "1,000 subscribers: $(cat "$T/many.out")"
started=$(date +%s%N)
out=$(talk --wait 1 @"$T/pub4.msg")
[ "$out" = "$(published 4)" ] || fail "publish 4: $out"
wait $many || fail "1,000 subscribers: $(cat "$T/many.out")"
ms=$((($(date +%s%N) - started) / 1000000))
grep -q "^all 1000 received 4$" "$T/many.out" || fail "$(cat "$T/many.out")"
ok "1,000 subscribers from 20 addresses all received manifest 4 (${ms} ms from publish)"

# ---- announce ------------------------------------------------------------------
P1=$(printf '%064x' 101) P2=$(printf '%064x' 102) P3=$(printf '%064x' 103) P4=$(printf '%064x' 104)
announce() { # PEER PORT [EVENT]
	printf '{"action":"announce","info_hash":"%s","peer_id":"%s","port":%s,"event":"%s"}\n' \
		"$K" "$1" "$2" "${3:-started}"
}
# keep_announcing PEER PORT SECONDS: one connection, an announce every 0.8 s.
keep_announcing() {
	local items=() i
	for ((i = 0; i < $3 * 5 / 4; i++)); do items+=("$(announce "$1" "$2")" sleep:800); done
	talk --timeout 1 "${items[@]}" >/dev/null
}
sees() { talk --wait 1 "$(announce "$P4" 0)" | grep -q "$1"; }

keep_announcing "$P1" 5001 4 &
p1=$!
wait_for 5 sees "$P1" || fail "the first announce was not recorded"
out=$(talk --wait 1 "$(announce "$P2" 5002)")
grep -q "\"ip\":\"127.0.0.1\",\"peer_id\":\"$P1\",\"port\":5001" <<<"$out" || fail "announce: $out"
grep -q "\"interval\":1," <<<"$out" || fail "interval: $out"
grep -q "$P2" <<<"$out" && fail "the asker is among its peers: $out"
# P2's connection is gone, and so is its record; "stopped" removes one.
out=$(talk --wait 4 "$(announce "$P3" 5003)" "$(announce "$P4" 0)" \
	"$(announce "$P3" 5003 stopped)" "$(announce "$P4" 0)")
grep -q "$P2" <<<"$out" && fail "a closed connection's peer is still listed: $out"
[ "$(grep -c "$P1" <<<"$out")" = 4 ] || fail "P1 missing: $out"
grep -q "$P3" <<<"$(sed -n 2p <<<"$out")" || fail "P3 was not recorded: $out"
grep -q "$P3" <<<"$(sed -n 4p <<<"$out")" && fail "P3 stopped but is still listed: $out"
wait $p1
out=$(talk --wait 1 "$(announce "$P2" 0)")
grep -q '"peers":\[\]' <<<"$out" || fail "after every announcer left: $out"
ok "announce: the other peers (ip, port, peer_id), never the asker; gone on close and on stopped"

talk --timeout 1 "$(announce "$P1" 5001)" sleep:4500 >/dev/null &
p1=$!
wait_for 5 sees "$P1" || fail "P1 was not recorded"
sleep 3.5
sees "$P1" && fail "P1 did not expire after 3 intervals"
wait $p1
ok "a peer that stops announcing expires after 3 intervals (3 s here)"

# The client library: it announces again every interval the tracker gives.
N1=$(printf '%064x' 201) N2=$(printf '%064x' 202)
probe client "$TURL" --announce "$K:4001:$N1" --peers 4 --timeout 20 >"$T/a.out" &
a=$!
wait_for 5 grep -q "^peers" "$T/a.out" || fail "client announce: $(cat "$T/a.out")"
out=$(probe client "$TURL" --announce "$K:4002:$N2" --peers 1 --timeout 10)
grep -q "^peers 1 127.0.0.1:4001:$N1$" <<<"$out" || fail "client sees the other client: $out"
wait $a || fail "the announcing client: $(cat "$T/a.out")"
[ "$(grep -c '^peers' "$T/a.out")" = 4 ] || fail "re-announces: $(cat "$T/a.out")"
ok "tracker clients announce, see each other, and re-announce every interval"

# ---- a restart keeps the newest manifest and the replay check ------------------
probe client "$TURL" --subscribe "$K" --manifests 2 --timeout 40 >"$T/reconnect.out" &
rc_client=$!
wait_for 10 grep -q "^manifest 4$" "$T/reconnect.out" || fail "$(cat "$T/reconnect.out")"
stop_tracker TERM
ok "SIGTERM: the tracker exits 0 with connections open, its port closed"
run_tracker "127.0.0.1:$TPORT" "$DB" --max-per-range 50 --range-v4 32 --interval 1
wait $rc_client || fail "the client did not come back: $(cat "$T/reconnect.out")"
[ "$(grep -c '^manifest 4$' "$T/reconnect.out")" = 2 ] || fail "$(cat "$T/reconnect.out")"
grep -q "^disconnected$" "$T/reconnect.out" || fail "$(cat "$T/reconnect.out")"
[ "$(stored)" = "text $(cat "$T/pub4.msg")" ] || fail "after a restart: $(stored)"
out=$(talk --wait 1 @"$T/pub3.msg")
grep -q '"code":"replay".*sequence 3 <= last seen 4' <<<"$out" || fail "replay after restart: $out"
out=$(probe client "$TURL" --publish "$T/m5.json" --published 1)
[ "$out" = $'connected\npublished 5' ] || fail "client publish: $out"
out=$(probe client "$TURL" --publish "$T/m5.json" --published 1)
grep -q "^refused 5 sequence 5 <= last seen 5" <<<"$out" || fail "client replay: $out"
ok "restarted on port $TPORT: a subscribed client reconnects and gets the newest manifest again;" \
	"the replay check survives; the client library publishes and reports refusals"

wait $half
[ "$(tail -1 "$T/half.out")" = closed ] || fail "a half handshake was never closed: $(cat "$T/half.out")"
stop_tracker INT
ok "SIGINT: exit 0, port closed; a half handshake had been closed by its timeout"

# ---- the command line -----------------------------------------------------------
set +e
megafs tracker 2>"$T/usage"
status=$?
set -e
[ $status = 2 ] || fail "no --listen: exit $status"
grep -q "^megafs tracker: usage: megafs tracker --listen" "$T/usage" || fail "$(cat "$T/usage")"
for bad in "--listen nowhere" "--listen 127.0.0.1:99999" "--listen 127.0.0.1:1 --interval 0" \
	"--listen 127.0.0.1:1 --max-message 1" "--listen 127.0.0.1:1 extra" \
	"--listen 127.0.0.1:1 --range-v4 33" "--listen 127.0.0.1:1 --range-v6 0" \
	"--listen 127.0.0.1:1 --idle-timeout 0" "--listen 127.0.0.1:1 --max-bytes 1" \
	"--listen 127.0.0.1:1 --max-keys-per-range 0" "--listen 127.0.0.1:1 --max-per-address 5"; do
	set +e
	# shellcheck disable=SC2086 # split on purpose
	megafs tracker $bad 2>/dev/null
	status=$?
	set -e
	[ $status = 2 ] || fail "'tracker $bad' exited $status, expected 2"
done
run_tracker 127.0.0.1:0 "$T/db2"
expect_fail "Address already in use" megafs tracker --listen "127.0.0.1:$TPORT" --db "$T/db3"
stop_tracker TERM
ok "usage errors exit 2; a port in use is refused (exit 1)"

out=$(probe selftest 2>&1) || fail "selftest: $out"
ok "in one process: a server and clients on one loop, freed in every state, the loop ends clean"
finish
