#!/usr/bin/env bash
# net/krpc and net/dht_item against real DHT nodes: three libtorrent nodes
# (python3-libtorrent 2.0.8, tests/tools/lt_dht_nodes.py) on 127.0.0.1
# know each other; the first puts an immutable item and a mutable salted
# item signed with a key python3-cryptography made. mfs-test-krpc (our KRPC
# writer and parser over UDP) pings each node, asks one for nodes (and
# finds itself among them, decoded from compact node info), and gets both
# items from the nodes that store them: the immutable value must hash to
# its target, the mutable one's key and salt must hash to its target and
# its signature must verify (BEP 44). Then the other way: mfs-test-krpc
# puts an immutable and a mutable salted item signed by net/dht_item, the
# storing libtorrent nodes accept them (they check the signature first),
# and another libtorrent node gets both. Nothing of megafs's CLI uses the
# DHT yet; this checks the formats against another implementation.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-libtorrent (see TOOLS.md)
PROBE=${MFS_TEST_KRPC:?MFS_TEST_KRPC names mfs-test-krpc}
SEED=$(printf '07%.0s' $(seq 32))
SALT=megafs-dht-test

$PY -c 'import libtorrent, cryptography' 2>/dev/null ||
	fail "needs python3-libtorrent and python3-cryptography (tools/deps.sh installs them)"

# The nodes serve until killed; their stdin is a FIFO kept open and silent.
mkfifo "$T/hold"
exec 3<>"$T/hold"
$PY "$(dirname "$0")/../tools/lt_dht_nodes.py" 3 "$SEED" "$SALT" "megafs interop" \
	"Hello World!" <"$T/hold" >"$T/nodes.json" 2>"$T/nodes.err" &
PIDS+=($!)
for _ in $(seq 300); do
	[ -s "$T/nodes.json" ] && break
	kill -0 "${PIDS[0]}" 2>/dev/null || fail "libtorrent nodes died: $(cat "$T/nodes.err")"
	sleep 0.1
done
[ -s "$T/nodes.json" ] || fail "libtorrent nodes never reported: $(cat "$T/nodes.err")"
field() { # field KEY...: a value of the nodes' first JSON line
	$PY -c 'import json, sys
v = json.loads(open(sys.argv[1]).readline())
for k in sys.argv[2:]:
    v = v[k]
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$T/nodes.json" "$@"
}
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
read -r -a PORTS <<<"$(field ports)"
IMM=$(field immutable_target)
MUT=$(field mutable_target)
PK=$(field pk)
[ "$(field put_ok immutable)" -ge 1 ] && [ "$(field put_ok mutable)" -ge 1 ] ||
	fail "libtorrent could not put its items: $(cat "$T/nodes.json")"
ok "three libtorrent nodes on ports ${PORTS[*]} stored both items"

for p in "${PORTS[@]}"; do
	"$PROBE" 127.0.0.1 "$p" ping >"$T/ping" 2>&1 || fail "ping $p: $(cat "$T/ping")"
	grep -Eq '^id=[0-9a-f]{40}$' "$T/ping" || fail "ping $p: no node id: $(cat "$T/ping")"
done
ok "every node answers our ping with its 20-byte id, our transaction id echoed"

"$PROBE" 127.0.0.1 "${PORTS[0]}" find_node "$IMM" >"$T/find" 2>&1 ||
	fail "find_node: $(cat "$T/find")"
# libtorrent's routing table stays empty on loopback (TOOLS.md), but it adds
# a node that queried it: ours, pinged first from the same socket.
self=$(sed -n 's/^self=//p' "$T/find")
self_port=$(sed -n 's/^self_port=//p' "$T/find")
grep -qx "node=$self 127.0.0.1 $self_port" "$T/find" ||
	fail "find_node: our own node not among its compact nodes: $(cat "$T/find")"
ok "find_node answers compact node info that decodes to our own id, address and port"

# get: the first node does not store its own put; the others do.
get_from_any() {
	local target=$1 out=$2 p rc
	shift 2
	for p in "${PORTS[@]:1}"; do
		rc=0
		"$PROBE" 127.0.0.1 "$p" get "$target" "$@" >"$out" 2>&1 || rc=$?
		[ $rc -eq 0 ] && return 0
		[ $rc -eq 3 ] || fail "get $target from $p: $(cat "$out")"
	done
	fail "no node holds $target: $(cat "$out")"
}
get_from_any "$IMM" "$T/imm"
grep -qx "verified=immutable" "$T/imm" || fail "immutable get: $(cat "$T/imm")"
grep -qx "v=$(hexof '14:megafs interop')" "$T/imm" ||
	fail "immutable value: $(cat "$T/imm")"
ok "libtorrent's immutable item: the value we parse hashes to its target"

get_from_any "$MUT" "$T/mut" "$SALT"
grep -qx "verified=mutable" "$T/mut" || fail "mutable get: $(cat "$T/mut")"
grep -qx "k=$PK" "$T/mut" || fail "mutable get: not the key python made: $(cat "$T/mut")"
grep -qx "seq=1" "$T/mut" || fail "mutable get: seq: $(cat "$T/mut")"
grep -qx "v=$(hexof '12:Hello World!')" "$T/mut" ||
	fail "mutable value: $(cat "$T/mut")"
ok "libtorrent's mutable salted item: key and salt hash to the target, the signature verifies"

# The same item asked with another salt: its key no longer hashes to the target.
rc=0
for p in "${PORTS[@]:1}"; do
	"$PROBE" 127.0.0.1 "$p" get "$MUT" wrong-salt >"$T/bad" 2>&1 || rc=$?
	[ $rc -eq 1 ] && break
done
[ $rc -eq 1 ] && grep -q "does not match the target" "$T/bad" ||
	fail "a wrong salt was not caught: $(cat "$T/bad")"
ok "with the wrong salt the answer is refused"

# The other way: megafs signs and puts, libtorrent gets (and checks, as it
# checks every item it returns: target hash, signature).
ask() { # ask COMMAND: the libtorrent nodes' JSON answer to one command
	local before
	before=$(wc -l <"$T/nodes.json")
	echo "$*" >&3
	for _ in $(seq 200); do
		[ "$(wc -l <"$T/nodes.json")" -gt "$before" ] && break
		sleep 0.1
	done
	tail -n 1 "$T/nodes.json"
}
for p in "${PORTS[@]:1}"; do
	"$PROBE" 127.0.0.1 "$p" put "from megafs" >"$T/put-imm" 2>&1 ||
		fail "immutable put to $p: $(cat "$T/put-imm")"
done
target=$(sed -n 's/^target=//p' "$T/put-imm")
[ "$target" = "$(printf '11:from megafs' | sha1sum | cut -c1-40)" ] ||
	fail "immutable target $target is not sha1sum's"
ask get_immutable "$target" >"$T/lt-imm"
grep -qF "\"value\": \"$(hexof '11:from megafs')\"" "$T/lt-imm" ||
	fail "libtorrent did not get megafs's immutable item: $(cat "$T/lt-imm")"
ok "megafs's immutable put: its target is sha1sum's, and libtorrent gets the value"

SEED2=$(printf '09%.0s' $(seq 32))
PK2=$($PY -c 'import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as K
from cryptography.hazmat.primitives import serialization as s
k = K.from_private_bytes(bytes.fromhex(sys.argv[1])).public_key()
print(k.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())' "$SEED2")
for p in "${PORTS[@]:1}"; do
	"$PROBE" 127.0.0.1 "$p" put "megafs says hi" "$SEED2" megafs-salt 5 >"$T/put-mut" 2>&1 ||
		fail "mutable put to $p: $(cat "$T/put-mut")"
done
[ "$(sed -n 's/^target=//p' "$T/put-mut")" = \
	"$($PY -c 'import hashlib,sys; print(hashlib.sha1(bytes.fromhex(sys.argv[1]) + b"megafs-salt").hexdigest())' "$PK2")" ] ||
	fail "mutable target is not hashlib's: $(cat "$T/put-mut")"
ask get_mutable "$PK2" megafs-salt >"$T/lt-mut"
grep -qF "\"value\": \"$(hexof '14:megafs says hi')\", \"seq\": 5," "$T/lt-mut" ||
	fail "libtorrent did not get megafs's mutable item: $(cat "$T/lt-mut")"
ok "megafs's mutable salted put (seq 5): libtorrent gets it with a signature it accepts"
exec 3>&-
echo "dht_krpc: $passes checks passed"
