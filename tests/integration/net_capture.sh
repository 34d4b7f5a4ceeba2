#!/usr/bin/env bash
# What a network observer sees of a transfer: a packet capture (tcpdump on
# lo) of a whole file moving between two peers holds neither the file's
# bytes (a marker planted in it), nor its name, nor any blob id (binary or
# hex). The handshake refuses a peer that proves another key.
source "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"

PUB="$T/pub" SUB="$T/sub"
MEGAFS_STORE=$PUB megafs init --size 64M --kdf fast >/dev/null
MEGAFS_STORE=$SUB megafs init --size 64M --kdf fast >/dev/null
link=$(MEGAFS_STORE=$PUB megafs channel new "Secret")
marker="plaintext-marker-$RANDOM$RANDOM$RANDOM"
name="name-$RANDOM$RANDOM.txt"
for i in $(seq 40000); do echo "$marker $i"; done >"$T/$name"
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub-mnt"
cp "$T/$name" "$T/pub-mnt/"
MEGAFS_STORE=$PUB megafs umount "$T/pub-mnt"
MEGAFS_STORE=$PUB megafs channel export "$link" >"$T/manifest.json"
MEGAFS_STORE=$SUB megafs channel subscribe "$link" >/dev/null  # its read key
MEGAFS_STORE=$SUB megafs channel import "$T/manifest.json" >/dev/null
# The blob ids are in the opened manifest (the exported one is sealed).
mapfile -t ids < <(MEGAFS_STORE=$PUB megafs channel show "$link" |
	grep -o '"id":"[0-9a-f]\{64\}"' | cut -d'"' -f4)
[ "${#ids[@]}" -ge 1 ] || fail "no blob ids in the manifest"

serve_peer "$PUB" "$T/serve.out"
serve_pid=$SERVE_PID port=$SERVE_PORT key=$SERVE_KEY

capture_start lo "$T/wire.pcap" "tcp port $port"
MEGAFS_STORE=$SUB megafs fetch "$link" "$name" -o "$T/got.txt" --peer "127.0.0.1:$port#$key" ||
	fail "the fetch failed"
cmp "$T/$name" "$T/got.txt" || fail "the fetched file differs"
capture_stop
bytes=$(stat -c %s "$T/wire.pcap")
[ "$bytes" -gt $(($(stat -c %s "$T/$name") / 2)) ] || fail "the capture ($bytes bytes) missed the transfer"
grep -qaF "$marker" "$T/wire.pcap" && fail "the plaintext marker is in the capture"
grep -qaF "$name" "$T/wire.pcap" && fail "the file name is in the capture"
wire_hex=$(od -An -v -tx1 "$T/wire.pcap" | tr -d ' \n')
for id in "${ids[@]}"; do
	grep -qaF "$id" "$T/wire.pcap" && fail "blob id $id is in the capture (hex)"
	[[ "$wire_hex" == *"$id"* ]] && fail "blob id $id is in the capture (binary)"
done
ok "a ${bytes}-byte capture of the transfer holds no marker, no name, none of ${#ids[@]} blob ids"

# The right address with another key: the handshake fails, nothing moves.
wrong_key=$(printf '%s' "$key" | sed 's/^./0/;t')
[ "$wrong_key" != "$key" ] || wrong_key="1${key:1}"
rm -f "$T/again.txt"
if MEGAFS_STORE=$SUB timeout 60 "$MEGAFS" fetch "$link" "$name" -o "$T/again.txt" \
	--peer "127.0.0.1:$port#$wrong_key" 2>"$T/wrong.err"; then
	fail "a fetch from a peer with the wrong key succeeded"
fi
echo "   error shown: $(tail -1 "$T/wrong.err")"
[ ! -e "$T/again.txt" ] || fail "a failed fetch left an output file"
ok "a peer proving another key is refused; the fetch fails and writes nothing"

# Bad requests: each says what is wrong, writes nothing.
peer="127.0.0.1:$port#$key"
MEGAFS_STORE=$SUB expect_fail "no such file" megafs fetch "$link" "nope.txt" -o "$T/x" --peer "$peer"
MEGAFS_STORE=$SUB expect_fail "a tracker is wss://" megafs fetch "$link" "$name" -o "$T/x" \
	--tracker ws://127.0.0.1:99999
MEGAFS_STORE=$SUB expect_fail "a tracker is wss://" megafs fetch "$link" "$name" -o "$T/x" \
	--tracker "wss://127.0.0.1:7000/#sha256=00"
MEGAFS_STORE=$SUB expect_fail "not a peer address" megafs fetch "$link" "$name" -o "$T/x" \
	--peer "127.0.0.1#$key"
MEGAFS_STORE=$SUB expect_fail "serves nobody" megafs fetch "$link" "$name" -o "$T/x" \
	--listen 127.0.0.1:0
MEGAFS_STORE=$T/fresh megafs init --size 64M --kdf fast >/dev/null
MEGAFS_STORE=$T/fresh expect_fail "no tracker or peer is known" megafs fetch "$link" "$name" \
	-o "$T/x"
[ ! -e "$T/x" ] && [ ! -e "$T/x.part" ] || fail "a refused fetch left a file"
ok "bad paths, tracker URLs, peer addresses and options are refused with a reason"

kill "$serve_pid"
wait "$serve_pid" || fail "megafs serve did not exit cleanly"
finish
