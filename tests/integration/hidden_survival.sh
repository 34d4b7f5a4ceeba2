# A hidden volume after outer writes made WITHOUT --protect-file: how much
# of it survives when the outer volume fills 10 %, 25 % and 50 % of the free
# space, and that every hidden file either comes back byte-identical or is
# refused with a clear message (never garbage). The hidden volume's parity
# must bring back every file at 10 % and at least 22 of 24 at 25 % (a file's
# one-chunk blob is 4 data + 11 parity slots: lost only when 12 of 15 are,
# about 0.03 % of blobs when a third of the positions go, which is what a
# 25 % share reaches). At 50 % (about 60 % of the hidden slots written
# over) the hidden volume must still open, its map pages kept in 16 copies
# (with 5 it did not open in 2 runs of 6); what survives is reported. Outer
# writes made with the protect password lose nothing (deniability.sh).
source "$(dirname "$0")/lib.sh"

outer_pw="outer password"
hidden_pw="hidden password"
files=24
as() { MEGAFS_STORE=$1 MEGAFS_PASSWORD=$2 megafs "${@:3}"; }

for pct in 10 25 50; do
	s="$T/s$pct"
	as "$s" "$outer_pw" init --size 48M --kdf fast >/dev/null
	MEGAFS_NEW_PASSWORD=$hidden_pw as "$s" "$outer_pw" init --hidden >/dev/null
	for i in $(seq 1 $files); do
		random_file "$T/h$i" 190000
		as "$s" "$hidden_pw" ingest "$T/h$i" >"$T/h$i.json" 2>/dev/null
	done
	free=$(as "$s" "$outer_pw" status | awk '/^free/ {print $2}')
	fill=$((free * pct / 100 * 65552))
	# The outer volume, opened alone, writes pct % of what it sees as free.
	while [ "$fill" -gt 0 ]; do
		n=$((fill > 3000000 ? 3000000 : fill))
		random_file "$T/o" "$n"
		as "$s" "$outer_pw" ingest "$T/o" >/dev/null 2>&1 || fail "outer ingest"
		fill=$((fill - n))
	done
	intact=0
	lost=0
	opened=0
	if out=$(as "$s" "$hidden_pw" status 2>&1); then
		opened=1
		for i in $(seq 1 $files); do
			rm -f "$T/out"
			if err=$(as "$s" "$hidden_pw" extract "$T/h$i.json" -o "$T/out" 2>&1); then
				cmp -s "$T/h$i" "$T/out" || fail "hidden file $i came back different"
				intact=$((intact + 1))
			else
				grep -q "damaged\|overwritten" <<<"$err" || fail "unclear loss: $err"
				[ ! -e "$T/out" ] || fail "a failed extract left a partial file"
				lost=$((lost + 1))
			fi
		done
	else
		grep -q "wrong password\|damaged\|overwritten" <<<"$out" || fail "unclear: $out"
		lost=$files
		echo "   the hidden volume no longer opens: $(head -1 <<<"$out")"
	fi
	echo "   outer wrote $pct % of the free space unprotected: $intact of $files hidden files intact, $lost refused as damaged"
	case $pct in
	10) [ "$intact" -eq "$files" ] || fail "10 %: parity should bring back every file" ;;
	25) [ "$intact" -ge $((files - 2)) ] || fail "25 %: parity should bring back nearly every file" ;;
	50) [ "$opened" -eq 1 ] || fail "50 %: the hidden volume should still open" ;;
	esac
	ok "$pct %: every hidden file intact or clearly refused ($intact/$files intact)"
	rm -rf "$s"
done
finish
