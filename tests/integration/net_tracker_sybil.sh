#!/usr/bin/env bash
# The tracker's peer lists against one network announcing many peers
# (net/tracker_server.h, "Announces"), with real processes on 127.0.x.y
# (each 127.0.x.0/24 a range of its own): a range may announce only a few
# peers per channel, and an answer takes one peer of each range before a
# second of any, so the honest peers of other ranges are handed out.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}
probe() { "$PROBE" "$@"; }

start_tracker "$T/tdb" --max-announced-per-range 3
K=$(printf '%064x' 7)
announce() { # PEER PORT [NUMWANT]
	printf '{"action":"announce","info_hash":"%s","peer_id":"%s","port":%s,"event":"started","numwant":%s}' \
		"$K" "$(printf '%064x' "$1")" "$2" "${3:-50}"
}
# peers_of OUTPUT: the ips of the peers answered, one a line.
peers_of() { grep -o '"ip":"[^"]*"' <<<"$1" | cut -d'"' -f4; }

# One network: 6 peers from 127.0.1.1, on one connection held 12 s.
items=()
for i in 1 2 3 4 5 6; do items+=("$(announce $((100 + i)) $((7000 + i)))"); done
"$PROBE" talk "$TRACKER_URL" --from 127.0.1.1 --wait 6 --timeout 20 "${items[@]}" sleep:12000 \
	>"$T/sybil.out" &
PIDS+=($!)
# Ten honest peers, each of its own range.
for r in $(seq 10); do
	"$PROBE" talk "$TRACKER_URL" --from "127.0.$((10 + r)).1" --wait 1 --timeout 20 \
		"$(announce $((200 + r)) $((8000 + r)))" sleep:12000 >/dev/null &
	PIDS+=($!)
done
everyone() { [ "$(peers_of "$(probe talk "$TRACKER_URL" --from 127.0.50.1 --wait 1 "$(announce 999 0)")" |
	wc -l)" = 13 ]; }
wait_for 10 everyone || fail "13 peers were never listed"
ok "one /24 announced 6 peers of a channel, 10 other /24s one each: 13 listed (3 + 10)"

for i in $(seq 20); do
	out=$(probe talk "$TRACKER_URL" --from 127.0.50.1 --wait 1 "$(announce 999 0 5)")
	ips=$(peers_of "$out")
	[ "$(wc -l <<<"$ips")" = 5 ] || fail "answer $i: $out"
	[ "$(grep -c '^127\.0\.1\.1$' <<<"$ips")" -le 1 ] ||
		fail "answer $i holds more than one peer of one range: $ips"
	[ "$(cut -d. -f3 <<<"$ips" | sort -u | wc -l)" = 5 ] || fail "answer $i repeats a range: $ips"
done
ok "20 answers of 5 peers: each from 5 different ranges, at most one of the busy one"

wait_for 20 grep -q "peers of one channel" "$T/sybil.out" || fail "$(cat "$T/sybil.out")"
[ "$(grep -c '"action":"announce"' "$T/sybil.out")" = 3 ] || fail "$(cat "$T/sybil.out")"
[ "$(grep -c '"code":"limit".*at most 3 peers of one channel from one address range' \
	"$T/sybil.out")" = 3 ] || fail "$(cat "$T/sybil.out")"
ok "the 4th to 6th peers of that range were refused: 'at most 3 peers of one channel from one address range'"
kill -0 "$TRACKER_PID" || fail "the tracker died"
finish
