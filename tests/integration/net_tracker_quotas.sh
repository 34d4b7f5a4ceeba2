#!/usr/bin/env bash
# The tracker's storage quotas (net/tracker_server.h, "Storage"), with real
# processes on 127.0.x.y (each 127.0.x.0/24 a range of its own): throwaway
# channels from one range stop at that range's quota; when the whole
# tracker is full, the oldest channels nobody subscribes to are dropped for
# new ones; when every channel left has subscribers the publisher is told
# "tracker full"; a subscribed honest channel survives all of it, and the
# counts survive a restart.
source "$(dirname "$0")/lib.sh"
PROBE=${MFS_TEST_WSPROBE:?the ctest environment names mfs-test-wsprobe (tests/tools/wsprobe.c)}
probe() { "$PROBE" "$@"; }

LIMITS=(--max-keys 12 --max-keys-per-range 4 --max-bytes 1M --max-bytes-per-range 256K)
start_tracker "$T/tdb" "${LIMITS[@]}"
# mint FROM COUNT [options...]: publishes COUNT fresh channels from FROM;
# their keys are appended to $T/keys.<FROM>.
mint() {
	local from=$1 count=$2
	shift 2
	probe mint "$TRACKER_URL" --from "$from" --count "$count" --keys "$T/keys.$from" "$@"
}
# stored KEY: the tracker still serves KEY's manifest.
stored() {
	probe talk "$TRACKER_URL" --wait 1 --timeout 2 "{\"action\":\"subscribe\",\"key\":\"$1\"}" |
		grep -q '^text {"action":"publish"'
}
key() { sed -n "${2}p" "$T/keys.$1"; }

out=$(mint 127.0.0.1 1)
[ "$out" = "published 1 refused 0" ] || fail "the honest publish: $out"
K=$(key 127.0.0.1 1)
# Background processes run "$PROBE" itself (a function would run in a
# subshell, whose pid the cleanup would kill instead).
"$PROBE" client "$TRACKER_URL" --subscribe "$K" --manifests 2 --timeout 120 >"$T/sub.out" &
PIDS+=($!)
wait_for 10 grep -q "^manifest 1$" "$T/sub.out" || fail "the subscriber: $(cat "$T/sub.out")"
ok "an honest channel, published and subscribed to"

# ---- one range's quota ---------------------------------------------------------
out=$(mint 127.0.1.1 6)
grep -q "^published 4 refused 2$" <<<"$out" || fail "6 channels from one range: $out"
grep -q '"code":"limit".*tracker full for your address range: at most 4 channels' <<<"$out" ||
	fail "the refusal does not say why: $out"
ok "6 throwaway channels from 127.0.1.1: 4 stored, 2 refused with 'tracker full for your address range'"

# ---- the whole tracker full: the oldest unsubscribed go ---------------------------
for r in 2 3; do
	out=$(mint 127.0.$r.1 4)
	[ "$out" = "published 4 refused 0" ] || fail "4 channels from 127.0.$r.1: $out"
done
stored "$(key 127.0.1.1 1)" && fail "the oldest unsubscribed channel was kept"
stored "$(key 127.0.1.1 2)" || fail "more than the oldest was dropped"
stored "$K" || fail "the subscribed honest channel was dropped"
ok "12 channels allowed: the 13th dropped the oldest one nobody subscribes to; the honest one stays"

out=$(mint 127.0.7.1 3 --bytes 100000)
grep -q "^published 2 refused 1$" <<<"$out" || fail "3 manifests of 100 KB from one range: $out"
grep -q "tracker full for your address range: at most 4 channels and 262144 bytes" <<<"$out" ||
	fail "the refusal does not say why: $out"
ok "bytes per range: 2 manifests of 100 KB stored from 127.0.7.1, a 3rd refused (256 KiB)"

# ---- full of subscribed channels: the publisher is told ---------------------------
for r in 4 5; do
	"$PROBE" mint "$TRACKER_URL" --from 127.0.$r.1 --count 4 --keys "$T/keys.127.0.$r.1" \
		--subscribe 1 --hold 60 >"$T/held.$r" &
	PIDS+=($!)
	wait_for 20 grep -q "^published" "$T/held.$r" || fail "127.0.$r.1: $(cat "$T/held.$r")"
	grep -q "^published 4 refused 0$" "$T/held.$r" || fail "127.0.$r.1: $(cat "$T/held.$r")"
done
out=$(mint 127.0.6.1 4 --subscribe 1)
grep -q "^published 3 refused 1$" <<<"$out" || fail "a full tracker: $out"
grep -q '"code":"limit".*tracker full: at most 12 channels.*every other channel it keeps has subscribers' \
	<<<"$out" || fail "the refusal does not say why: $out"
stored "$K" || fail "the subscribed honest channel was dropped"
stored "$(key 127.0.4.1 1)" || fail "a subscribed channel was dropped"
ok "with every other channel subscribed the 4th of 127.0.6.1 is refused with 'tracker full';" \
	"subscribed channels all kept"

# ---- the counts survive a restart ------------------------------------------------
kill "$TRACKER_PID"
wait "$TRACKER_PID" || fail "the tracker exited $?"
start_tracker "$T/tdb" "${LIMITS[@]}"
stored "$K" || fail "the honest channel is gone after a restart"
out=$(mint 127.0.4.1 1)
grep -q "tracker full for your address range" <<<"$out" ||
	fail "after a restart, 127.0.4.1 could publish a 5th channel: $out"
ok "restarted: the honest channel is served, and 127.0.4.1 (4 stored) still may not add a 5th"
finish
