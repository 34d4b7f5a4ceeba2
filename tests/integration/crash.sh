# kill -9 in the middle of large ingests: the store opens, earlier objects
# are intact, and the store keeps working.
source "$(dirname "$0")/lib.sh"

megafs init --size 1200M --kdf fast >/dev/null
random_file "$T/early" 4000000
megafs ingest "$T/early" >"$T/early.json" 2>/dev/null
random_file "$T/big" $((600 << 20))
capacity=$(megafs status | grep '^capacity')

for delay in 0.3 1.0 2.0; do
	megafs ingest "$T/big" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	megafs status >"$T/status" || fail "store does not open after kill -9 at ${delay}s"
	[ "$capacity" = "$(grep '^capacity' "$T/status")" ] || fail "capacity changed"
	megafs extract "$T/early.json" -o "$T/early.out" || fail "extract after kill at ${delay}s"
	cmp "$T/early" "$T/early.out" || fail "early file differs after kill at ${delay}s"
	ok "kill -9 at ${delay}s into a 600 MiB ingest: store opens, earlier file intact"
done

megafs ingest "$T/big" >"$T/big.json" 2>/dev/null || fail "ingest after the crashes"
megafs extract "$T/big.json" -o "$T/big.out"
cmp "$T/big" "$T/big.out" || fail "big file"
ok "the store keeps working after the crashes"
finish
