#!/usr/bin/env bash
# The megafs DHT node (net/dht, driven by mfs-test-dht) in one DHT on
# 127.0.0.1 with three libtorrent nodes (python3-libtorrent 2.0.8,
# tests/tools/lt_dht_nodes.py) and one node of npm's bittorrent-dht 11
# (tests/tools/btdht_node.mjs; installed once into a cache directory this
# test makes; when npm cannot install it, that part says "skipped: ...").
# Three megafs nodes serve; each put or get runs from a fresh megafs node
# that bootstraps from them. Checked:
# - a mutable salted item put by megafs is got by libtorrent and by
#   bittorrent-dht with the same value, seq and signature (each checks
#   the signature and target before it returns an item), and items those
#   two put are got by megafs (which checks the same); the same for
#   immutable items (their value hashes to the target);
# - get_peers from libtorrent finds a peer megafs announced, and megafs
#   finds libtorrent's announce (of a magnet-only torrent: TOOLS.md);
# - bad input against a megafs node (malformed bencode, a value over 1,000
#   bytes, a bad signature, a lower seq, a cas mismatch, a token got from
#   another address) is refused with BEP 44's codes, no answer is more
#   than 8 times its query, and the node answers a ping afterwards.
# megafs's own use of the DHT (mount, serve, fetch --dht) is dht_channel.sh's.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-libtorrent (see TOOLS.md)
DHT=${MFS_TEST_DHT:?MFS_TEST_DHT names mfs-test-dht}
HOSTILE=${MFS_TEST_DHT_HOSTILE:?MFS_TEST_DHT_HOSTILE names mfs-test-dht-hostile}
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)
SEED_M=$(printf '0a%.0s' $(seq 32)) # megafs's key
SEED_L=$(printf '0b%.0s' $(seq 32)) # libtorrent's
SEED_B=$(printf '0c%.0s' $(seq 32)) # bittorrent-dht's
SALT=megafs-dht-node

$PY -c 'import libtorrent, cryptography' 2>/dev/null ||
	fail "needs python3-libtorrent and python3-cryptography (tools/deps.sh installs them)"
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
benc() { hexof "${#1}:$1"; } # a text as a bencoded string, in hex
pk_of() {
	$PY -c 'import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as K
from cryptography.hazmat.primitives import serialization as s
k = K.from_private_bytes(bytes.fromhex(sys.argv[1])).public_key()
print(k.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())' "$1"
}
json() { # json FILE KEY...: a value of FILE's last JSON line
	$PY -c 'import json, sys
v = json.loads(open(sys.argv[1]).read().splitlines()[-1])
for k in sys.argv[2:]:
    v = v.get(k, "") if isinstance(v, dict) else ""
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$@"
}
# wait_line FILE PID: until FILE has a line (PID must stay alive).
wait_line() {
	for _ in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# ask FD FILE COMMAND...: one command to a node script, its JSON answer.
ask() {
	local fd=$1 file=$2 before
	shift 2
	before=$(wc -l <"$file")
	echo "$*" >&"$fd"
	for _ in $(seq 900); do
		[ "$(wc -l <"$file")" -gt "$before" ] && break
		sleep 0.1
	done
	tail -n 1 "$file"
}

# Three libtorrent nodes; their stdin is a FIFO kept open.
mkfifo "$T/lt.in"
exec 3<>"$T/lt.in"
TMPDIR=$T $PY "$TOOLS/lt_dht_nodes.py" 3 "$SEED_L" "$SALT" "lt first" "lt first" \
	<"$T/lt.in" >"$T/lt.json" 2>"$T/lt.err" &
PIDS+=($!)
wait_line "$T/lt.json" $! || fail "libtorrent nodes did not start: $(cat "$T/lt.err")"
read -r -a LT <<<"$(json "$T/lt.json" ports)"
ok "three libtorrent nodes on ports ${LT[*]}"

# Three megafs nodes that serve.
M=()
for i in 1 2 3; do
	boot=(--bootstrap "127.0.0.1:${LT[0]}")
	[ $i -gt 1 ] && boot+=(--bootstrap "127.0.0.1:${M[0]}")
	"$DHT" --timeout-ms 500 "${boot[@]}" serve >"$T/m$i.out" 2>&1 &
	PIDS+=($!)
	eval "MPID$i=$!"
	for _ in $(seq 100); do
		grep -q '^nodes=' "$T/m$i.out" && break
		sleep 0.1
	done
	M+=("$(sed -n 's/^port=//p' "$T/m$i.out")")
	[ -n "${M[-1]}" ] || fail "megafs node $i did not start: $(cat "$T/m$i.out")"
done
for p in "${M[@]}"; do ask 3 "$T/lt.json" add_node "$p" >/dev/null; done
ok "three megafs nodes on ports ${M[*]}, known to libtorrent's"

# bittorrent-dht, installed once into a cache directory.
BT=0
BT_AND=
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/megafs-tests/bittorrent-dht-11.0.12
if [ ! -f "$CACHE/node_modules/bittorrent-dht/package.json" ]; then
	mkdir -p "$CACHE"
	(cd "$CACHE" && timeout 300 npm install --no-audit --no-fund bittorrent-dht@11.0.12) \
		>"$T/npm.log" 2>&1 || true
fi
if ! command -v node >/dev/null; then
	echo "skipped: bittorrent-dht (no node on PATH)"
elif [ ! -f "$CACHE/node_modules/bittorrent-dht/package.json" ]; then
	echo "skipped: bittorrent-dht (npm could not install it: $(tail -n 1 "$T/npm.log"))"
else
	cp "$TOOLS/btdht_node.mjs" "$CACHE/"
	mkfifo "$T/bt.in"
	exec 4<>"$T/bt.in"
	ports=$(IFS=,; echo "${LT[*]},${M[*]}")
	(cd "$CACHE" && exec node btdht_node.mjs "$ports") <"$T/bt.in" >"$T/bt.json" 2>"$T/bt.err" &
	PIDS+=($!)
	wait_line "$T/bt.json" $! || fail "bittorrent-dht did not start: $(cat "$T/bt.err")"
	BT_PORT=$(json "$T/bt.json" port)
	ask 3 "$T/lt.json" add_node "$BT_PORT" >/dev/null
	BT=1
	BT_AND=" and bittorrent-dht"
	ok "a bittorrent-dht node on port $BT_PORT"
fi
# The megafs clients all have one id and port, and between two commands a
# node with them serves: libtorrent's lookups see one node that answers,
# not a new one each command that then went silent (a lookup waits 15 s
# for each such node before it ends: tools/bench/dht.sh does the same).
CLIENT_PORT=$($PY -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
BOOT=(--timeout-ms 500 --id "$(printf '0d%.0s' $(seq 20))" --bind "127.0.0.1:$CLIENT_PORT")
for p in "${M[@]}" "${LT[@]}"; do BOOT+=(--bootstrap "127.0.0.1:$p"); done
stay=-1 # the serving client's place in PIDS
client_leaves() {
	[ "$stay" -ge 0 ] || return 0
	kill "${PIDS[stay]}" 2>/dev/null || true
	wait "${PIDS[stay]}" 2>/dev/null || true
}
client_stays() {
	"$DHT" "${BOOT[@]}" serve >>"$T/client.out" 2>&1 3>&- 4>&- &
	if [ "$stay" -lt 0 ]; then
		stay=${#PIDS[@]}
		PIDS+=($!)
	else
		PIDS[stay]=$!
	fi
}
mfs() {
	local rc=0
	client_leaves
	"$DHT" "${BOOT[@]}" "$@" || rc=$?
	client_stays
	return "$rc"
}

# megafs puts a mutable salted item; libtorrent and bittorrent-dht get it.
PK_M=$(pk_of "$SEED_M")
mfs put-mutable "$SEED_M" "$SALT" "megafs mutable" 7 >"$T/put-m" 2>&1 ||
	fail "megafs put-mutable: $(cat "$T/put-m")"
[ "$(sed -n 's/^target=//p' "$T/put-m")" = \
	"$($PY -c 'import hashlib,sys; print(hashlib.sha1(bytes.fromhex(sys.argv[1]) + sys.argv[2].encode()).hexdigest())' "$PK_M" "$SALT")" ] ||
	fail "the mutable target is not hashlib's: $(cat "$T/put-m")"
grep -Eq '^stored=[1-9]' "$T/put-m" || fail "no node stored megafs's item: $(cat "$T/put-m")"
mfs get-mutable "$PK_M" "$SALT" >"$T/get-m" 2>&1 || fail "megafs get-mutable: $(cat "$T/get-m")"
SIG_M=$(sed -n 's/^sig=//p' "$T/get-m")
ask 3 "$T/lt.json" get_mutable "$PK_M" "$SALT" >"$T/lt-m"
[ "$(json "$T/lt-m" value)" = "$(benc 'megafs mutable')" ] && [ "$(json "$T/lt-m" seq)" = 7 ] &&
	[ "$(json "$T/lt-m" signature)" = "$SIG_M" ] ||
	fail "libtorrent did not get megafs's mutable item: $(cat "$T/lt-m") (ours: $SIG_M)"
ok "megafs's mutable salted item (seq 7): libtorrent gets the same value, seq and signature"
if [ $BT = 1 ]; then
	ask 4 "$T/bt.json" get_mutable "$PK_M" "$SALT" >"$T/bt-m"
	[ "$(json "$T/bt-m" value)" = "$(benc 'megafs mutable')" ] &&
		[ "$(json "$T/bt-m" seq)" = 7 ] && [ "$(json "$T/bt-m" signature)" = "$SIG_M" ] ||
		fail "bittorrent-dht did not get megafs's mutable item: $(cat "$T/bt-m")"
	ok "... and so does bittorrent-dht"
fi

# The reverse: libtorrent and bittorrent-dht put, megafs gets.
ask 3 "$T/lt.json" put_mutable "$SEED_L" "$SALT" "libtorrent-mutable" >"$T/lt-put"
[ "$(json "$T/lt-put" stored)" -ge 1 ] || fail "libtorrent's put: $(cat "$T/lt-put")"
mfs get-mutable "$(pk_of "$SEED_L")" "$SALT" >"$T/get-l" 2>&1 ||
	fail "megafs did not get libtorrent's item: $(cat "$T/get-l")"
grep -qx "v=$(benc 'libtorrent-mutable')" "$T/get-l" &&
	grep -qx "seq=$(json "$T/lt-put" seq)" "$T/get-l" ||
	fail "megafs got another item: $(cat "$T/get-l")"
ok "libtorrent's mutable salted item: megafs gets it, signature and target checked"
if [ $BT = 1 ]; then
	ask 4 "$T/bt.json" put_mutable "$SEED_B" "$SALT" "bittorrent-dht-mutable" 3 >"$T/bt-put"
	[ "$(json "$T/bt-put" stored)" -ge 1 ] 2>/dev/null || fail "bittorrent-dht's put: $(cat "$T/bt-put")"
	mfs get-mutable "$(pk_of "$SEED_B")" "$SALT" >"$T/get-b" 2>&1 ||
		fail "megafs did not get bittorrent-dht's item: $(cat "$T/get-b")"
	grep -qx "v=$(benc 'bittorrent-dht-mutable')" "$T/get-b" && grep -qx "seq=3" "$T/get-b" ||
		fail "megafs got another item: $(cat "$T/get-b")"
	ok "bittorrent-dht's mutable salted item: megafs gets it"
fi

# Immutable items, both ways.
mfs put-immutable "megafs immutable" >"$T/put-i" 2>&1 || fail "megafs put-immutable: $(cat "$T/put-i")"
IMM=$(sed -n 's/^target=//p' "$T/put-i")
[ "$IMM" = "$(printf '16:megafs immutable' | sha1sum | cut -c1-40)" ] ||
	fail "the immutable target is not sha1sum's: $(cat "$T/put-i")"
ask 3 "$T/lt.json" get_immutable "$IMM" >"$T/lt-i"
[ "$(json "$T/lt-i" value)" = "$(benc 'megafs immutable')" ] ||
	fail "libtorrent did not get megafs's immutable item: $(cat "$T/lt-i")"
if [ $BT = 1 ]; then
	ask 4 "$T/bt.json" get_immutable "$IMM" >"$T/bt-i"
	[ "$(json "$T/bt-i" value)" = "$(benc 'megafs immutable')" ] ||
		fail "bittorrent-dht did not get megafs's immutable item: $(cat "$T/bt-i")"
fi
ok "megafs's immutable item: libtorrent$BT_AND get the value"
ask 3 "$T/lt.json" put_immutable "libtorrent-immutable" >"$T/lt-puti"
mfs get-immutable "$(json "$T/lt-puti" target)" >"$T/get-li" 2>&1 ||
	fail "megafs did not get libtorrent's immutable item: $(cat "$T/get-li") $(cat "$T/lt-puti")"
grep -qx "v=$(benc 'libtorrent-immutable')" "$T/get-li" || fail "$(cat "$T/get-li")"
if [ $BT = 1 ]; then
	ask 4 "$T/bt.json" put_immutable "bittorrent-dht-immutable" >"$T/bt-puti"
	mfs get-immutable "$(json "$T/bt-puti" target)" >"$T/get-bi" 2>&1 ||
		fail "megafs did not get bittorrent-dht's immutable item: $(cat "$T/get-bi")"
	grep -qx "v=$(benc 'bittorrent-dht-immutable')" "$T/get-bi" || fail "$(cat "$T/get-bi")"
fi
ok "immutable items of libtorrent$BT_AND: megafs gets them, hashed to their target"

# Peers: megafs announces, libtorrent finds it; libtorrent announces, megafs finds it.
IH1=$(printf 'megafs peers' | sha1sum | cut -c1-40)
mfs announce "$IH1" 5555 >"$T/ann" 2>&1 || fail "megafs announce: $(cat "$T/ann")"
ask 3 "$T/lt.json" get_peers "$IH1" >"$T/lt-peers"
grep -qF '"127.0.0.1:5555"' "$T/lt-peers" ||
	fail "libtorrent's get_peers did not find megafs's announce: $(cat "$T/lt-peers")"
ok "megafs announces 127.0.0.1:5555; libtorrent's get_peers finds it"
IH2=$(printf 'libtorrent peers' | sha1sum | cut -c1-40)
LT_PORT=$(ask 3 "$T/lt.json" announce "$IH2" | sed 's/[^0-9]//g')
found=0
for _ in $(seq 20); do
	mfs get-peers "$IH2" >"$T/peers" 2>&1 || true
	grep -qx "peer=127.0.0.1:$LT_PORT" "$T/peers" && { found=1; break; }
	sleep 1
done
[ $found = 1 ] || fail "megafs did not find libtorrent's announce of port $LT_PORT: $(cat "$T/peers")"
ok "libtorrent announces a magnet on port $LT_PORT; megafs's get_peers finds it"

# Bad input against the first megafs node.
"$HOSTILE" 127.0.0.1 "${M[0]}" >"$T/hostile" 2>&1 || fail "mfs-test-dht-hostile: $(cat "$T/hostile")"
want() { grep -qx "$1" "$T/hostile" || fail "expected '$1': $(cat "$T/hostile")"; }
want "malformed=none"
want "oversized=none"
want "bad_signature=error 206"
want "valid_seq5=ok"
want "lower_seq4=error 302"
want "cas_mismatch=error 301"
want "token_from_other_address=error 203"
want "valid_seq6_cas5=ok"
want "ping=ok"
ok "bad input is refused (malformed and oversized dropped; 206, 302, 301, 203) and the node answers a ping"
worst=$(sed -n 's/^ratio=//p' "$T/hostile" | awk -F/ '{ r = $1 / $2; if (r > m) m = r } END { printf "%.2f", m }')
awk -v w="$worst" 'BEGIN { exit !(w <= 8) }' || fail "an answer $worst times its query"
ok "no answer was more than 8 times its query (the largest: $worst times)"
for i in 1 2 3; do
	eval "pid=\$MPID$i"
	kill -0 "$pid" 2>/dev/null || fail "megafs node $i died: $(cat "$T/m$i.out")"
done
ok "the three megafs nodes are still up"
exec 3>&-
[ $BT = 0 ] || exec 4>&-
echo "dht_node: $passes checks passed"
