#!/usr/bin/env bash
# The tracker's connection slots (net/tracker_server.h, "Connections"), with
# real processes on 127.0.x.y (each 127.0.x.0/24 a range of its own): idle
# connections (holding no subscription, no peer) give their slot to a
# newcomer of their range and are closed after the idle timeout, while
# connections that hold something keep theirs and a newcomer of a full
# busy range is refused; other ranges are served meanwhile.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}
probe() { "$PROBE" "$@"; }

start_tracker "$T/tdb" --max-per-range 4 --idle-timeout 3
out=$(probe mint "$TRACKER_URL" --from 127.0.0.1 --count 1 --keys "$T/keys")
[ "$out" = "published 1 refused 0" ] || fail "the honest publish: $out"
K=$(head -1 "$T/keys")
sub() { probe talk "$TRACKER_URL" --from "$1" --wait 1 "{\"action\":\"subscribe\",\"key\":\"$K\"}"; }
served() { grep -q '^text {"action":"publish"' <<<"$1"; }
ok "a channel published on a tracker allowing 4 connections per /24, 3 s idle"

# ---- idle connections give way ----------------------------------------------------
"$PROBE" limit "$TRACKER_URL" --from 127.0.1.1 --count 4 --hold 8 >"$T/idle.out" &
idle=$!
PIDS+=("$idle")
wait_for 10 grep -q "^accepted" "$T/idle.out" || fail "4 idle connections: $(cat "$T/idle.out")"
grep -q "^accepted 4 refused 0$" "$T/idle.out" || fail "4 idle connections: $(cat "$T/idle.out")"
out=$(sub 127.0.1.2)
served "$out" || fail "a newcomer of the full idle range was not served: $out"
wait "$idle" || fail "wsprobe limit: $(cat "$T/idle.out")"
grep -q "^closed 4$" "$T/idle.out" || fail "idle connections kept: $(cat "$T/idle.out")"
ok "4 idle connections fill 127.0.1.0/24; a 5th from 127.0.1.2 takes a slot and is served;" \
	"the idle ones are all closed within 8 s (one made room, three timed out)"

# ---- busy connections keep their slots ---------------------------------------------
"$PROBE" limit "$TRACKER_URL" --from 127.0.2.1 --count 4 --subscribe "$K" --hold 6 >"$T/busy.out" &
busy=$!
PIDS+=("$busy")
wait_for 10 grep -q "^accepted" "$T/busy.out" || fail "4 subscribers: $(cat "$T/busy.out")"
grep -q "^accepted 4 refused 0$" "$T/busy.out" || fail "4 subscribers: $(cat "$T/busy.out")"
out=$(sub 127.0.2.9 || true)
served "$out" && fail "a 5th connection of a busy full range was served: $out"
grep -q "^refused" <<<"$out" || fail "a 5th connection of a busy full range: $out"
out=$(sub 127.0.3.1)
served "$out" || fail "another range was not served: $out"
wait "$busy" || fail "wsprobe limit: $(cat "$T/busy.out")"
grep -q "^closed 0$" "$T/busy.out" || fail "subscribed connections were closed: $(cat "$T/busy.out")"
ok "4 subscribers fill 127.0.2.0/24 and stay past the idle timeout; a 5th from 127.0.2.9 is" \
	"refused; 127.0.3.1 is served"
kill -0 "$TRACKER_PID" || fail "the tracker died"
finish
