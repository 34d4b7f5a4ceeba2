#!/usr/bin/env bash
# megafs tracker answers WebTorrent's WebSocket announces (net/webtorrent.h)
# on the same endpoint as its own messages: two clients of npm's
# bittorrent-tracker announce one torrent, get valid answers, and one's
# offer reaches the other and its answer comes back through the tracker;
# malformed WebTorrent messages get a failure reason on a connection that
# stays; the limits per address range hold; megafs's own announce still
# works on the same connection. All on 127.0.x.y.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}

start_tracker "$T/tdb" --max-announced-per-range 2
# A binary string of 20 characters, as bittorrent-tracker sends one: N
# (one byte, hex) then 19 bytes holding NUL, '&', 0x80 and 0xff.
bin20() { printf '\\u00%s\\u0000\\u0026\\u0080\\u00ff%s' "$1" "$(printf 'x%.0s' $(seq 15))"; }
IH=$(bin20 01)
wt_announce() { # PEER [EXTRA]
	printf '{"action":"announce","info_hash":"%s","peer_id":"%s","numwant":5,"left":0,"event":"started"%s}' \
		"$IH" "$(bin20 "$1")" "${2:-}"
}

# ---- bittorrent-tracker's client ------------------------------------------------------
mkdir -p "$T/npm"
if ! (cd "$T/npm" && timeout 180 npm install --no-audit --no-fund --ignore-scripts \
	bittorrent-tracker@11 >"$T/npm.log" 2>&1); then
	echo "skipped: npm install bittorrent-tracker failed (registry unreachable?): $(tail -3 "$T/npm.log")"
else
	cp "$(dirname "$0")/../tools/wt_clients.mjs" "$T/npm/"
	(cd "$T/npm" && timeout 30 node wt_clients.mjs "$TRACKER_URL" 00ff260a8000112233445566778899aabbccddee) \
		>"$T/wt.out" 2>&1 || fail "the clients did not finish: $(cat "$T/wt.out")"
	grep -qx '\["update","A",0,1\]' "$T/wt.out" || fail "A's answer: $(cat "$T/wt.out")"
	grep -qx '\["update","B",0,2\]' "$T/wt.out" || fail "B's answer: $(cat "$T/wt.out")"
	offer=$(sed -n 's/^\["offer","A","\(b\{32\}ff80c3e9\)","\(v=0 offer [0-9.]*\)"\]$/\2/p' "$T/wt.out")
	[ -n "$offer" ] || fail "B's offer did not reach A: $(cat "$T/wt.out")"
	grep -qxF "[\"answer\",\"B\",\"$(printf 'a%.0s' $(seq 32))00262b0a\",\"answer to $offer\"]" "$T/wt.out" ||
		fail "A's answer did not reach B: $(cat "$T/wt.out")"
	! grep -q warning "$T/wt.out" || fail "a client warned: $(cat "$T/wt.out")"
	ok "two bittorrent-tracker clients: answers (complete=0, incomplete=1 then 2), B's offer relayed to A, A's answer to B"
fi

# ---- malformed messages ----------------------------------------------------------------
bad=(
	"$(printf '{"action":"announce","info_hash":"%s","peer_id":"abc"}' "$IH")"
	"$(wt_announce 02 ',"offers":[1,2]')"
	"$(wt_announce 02 ",\"offers\":[$(for i in $(seq 11); do printf '{"offer":{"sdp":"x"},"offer_id":"%s"},' "$(bin20 03)"; done | sed 's/,$//')]")"
	"$(wt_announce 02 ',"answer":{"sdp":"x"}')"
	'{"action":"scrape","info_hash":"abcdefghijabcdefghij"}'
	'{"action":"announce","info_hash":"\u0100bcdefghijklmnopqrs","peer_id":"x"}'
)
out=$("$PROBE" talk "$TRACKER_URL" --wait 7 --timeout 10 "${bad[@]}" "$(wt_announce 09)")
[ "$(grep -c '"failure reason"' <<<"$out")" = 5 ] || fail "failure reasons: $out"
grep -q '^text {"action":"error","code":"format"' <<<"$out" ||
	fail "an info_hash of a character above U+00FF: not megafs's error: $out"
for why in "invalid peer_id" "invalid offer" "too many offers (at most 10)" \
	"invalid \`to_peer_id\` (required with \`answer\`)" "scrape is not served by this tracker"; do
	grep -qF "\"failure reason\":\"$why\"" <<<"$out" || fail "no '$why' in: $out"
done
[ "$(grep -c '"complete":1,"incomplete":0' <<<"$out")" = 1 ] || fail "the good announce after them: $out"
! grep -q '^close' <<<"$out" || fail "the connection was closed: $out"
kill -0 "$TRACKER_PID" || fail "the tracker died"
ok "5 malformed WebTorrent messages each get a failure reason, a 6th (not WebTorrent's) megafs's error; a good announce after them on the same connection is answered"

# ---- limits and the two protocols together --------------------------------------------
hold() { # FROM PEER: announce, stay 6 s, then print the answer
	"$PROBE" talk "$TRACKER_URL" --from "$1" --wait 1 --timeout 12 "$(wt_announce "$2")" sleep:6000 \
		>"$T/hold.$2" &
	HOLDERS+=($!)
	PIDS+=($!)
}
HOLDERS=()
hold 127.0.1.1 11
hold 127.0.1.1 12
sleep 1.5
out=$("$PROBE" talk "$TRACKER_URL" --from 127.0.1.2 --wait 1 "$(wt_announce 13)")
grep -qF '"failure reason":"at most 2 peers of one torrent from one address range"' <<<"$out" ||
	fail "a third connection of 127.0.1.0/24: $out"
out=$("$PROBE" talk "$TRACKER_URL" --from 127.0.2.1 --wait 1 "$(wt_announce 14)")
grep -q '"complete":3,' <<<"$out" || fail "a peer of another range: $out"
wait "${HOLDERS[@]}"
[ "$(cat "$T"/hold.1[12] | grep -c '"action":"announce","complete":[12],')" = 2 ] ||
	fail "the two of 127.0.1.0/24: $(cat "$T"/hold.*)"
ok "a torrent takes 2 WebTorrent peers of one /24 (--max-announced-per-range 2): the 3rd is refused, another /24 joins"

K=$(printf '%064x' 5)
out=$("$PROBE" talk "$TRACKER_URL" --wait 2 "$(wt_announce 15)" \
	"{\"action\":\"announce\",\"info_hash\":\"$K\",\"peer_id\":\"$K\",\"port\":7000}")
grep -q '"complete":' <<<"$out" || fail "WebTorrent's announce: $out"
grep -q '"peers":\[\]' <<<"$out" || fail "megafs's announce on the same connection: $out"
ok "one connection speaks both: WebTorrent's announce, then megafs's own"
finish
