# megafs fsck with fsck(8)'s exit statuses: a whole volume is clean (0); a
# hidden volume whose slots an unprotected outer session wrote over reads in
# full but is named as rebuilt (4); --repair writes it again (1); then it is
# clean (0) and every file reads back identical. A password that opens no
# volume is an operational error (8).
source "$(dirname "$0")/lib.sh"

outer_pw="outer password"
hidden_pw="hidden password"
as() { MEGAFS_PASSWORD=$1 megafs "${@:2}"; }
status_of() { set +e; "$@" >"$T/out" 2>&1; echo $?; set -e; }

as "$outer_pw" init --size 48M --kdf fast >/dev/null 2>&1
MEGAFS_NEW_PASSWORD=$hidden_pw as "$outer_pw" init --hidden >/dev/null
for i in $(seq 1 12); do
	random_file "$T/h$i" 190000
	as "$hidden_pw" ingest "$T/h$i" >"$T/h$i.json" 2>/dev/null
done
[ "$(status_of as "$hidden_pw" fsck)" = 0 ] || fail "a whole volume: $(cat "$T/out")"
grep -q "^checked .* 0 rebuilt from parity, 0 damaged$" "$T/out" || fail "$(cat "$T/out")"
[ "$(status_of as "$outer_pw" fsck)" = 0 ] || fail "the outer volume: $(cat "$T/out")"
ok "whole volumes: exit 0"

# The outer volume, opened alone, writes a quarter of what it sees as free.
free=$(as "$outer_pw" status | awk '/^free/ {print $2}')
random_file "$T/o" $((free / 4 * 65552))
as "$outer_pw" ingest "$T/o" >/dev/null 2>&1 || fail "outer ingest"
[ "$(status_of as "$hidden_pw" fsck)" = 4 ] || fail "rebuilt but not repaired: $(cat "$T/out")"
grep -q "megafs fsck --repair' writes them again" "$T/out" || fail "$(cat "$T/out")"
rebuilt=$(awk '/^checked/ {print $6}' "$T/out")
[ "$rebuilt" -gt 0 ] || fail "nothing rebuilt: $(cat "$T/out")"
ok "after unprotected outer writes: $rebuilt objects rebuilt from parity, exit 4"

[ "$(status_of as "$hidden_pw" fsck --repair)" = 1 ] || fail "--repair: $(cat "$T/out")"
grep -q "^repaired   $rebuilt objects written again$" "$T/out" || fail "$(cat "$T/out")"
[ "$(status_of as "$hidden_pw" fsck)" = 0 ] || fail "after --repair: $(cat "$T/out")"
for i in $(seq 1 12); do
	as "$hidden_pw" extract "$T/h$i.json" -o "$T/out.$i" || fail "extract $i after repair"
	cmp "$T/h$i" "$T/out.$i" || fail "file $i differs after repair"
done
[ "$(status_of as "$outer_pw" fsck)" = 0 ] || fail "repair hurt the outer volume: $(cat "$T/out")"
ok "--repair writes them again (exit 1), then clean (exit 0); every file identical, the outer volume whole"

[ "$(status_of as "no such password" fsck)" = 8 ] || fail "wrong password: $(cat "$T/out")"
grep -q "wrong password" "$T/out" || fail "$(cat "$T/out")"
ok "a password that opens nothing: exit 8, said so"
finish
