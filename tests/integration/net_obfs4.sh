#!/usr/bin/env bash
# --transport obfs4 --pt obfs4proxy: Tor's pluggable-transport spec with
# Debian's obfs4proxy, both ends. A seeder serves behind obfs4proxy in
# server mode (megafs serve prints the bridge line: HOST:PORT#KEY;cert=...;
# iat-mode=0); a subscriber fetches through obfs4proxy in client mode, the
# file byte for byte. A capture of that transfer, read by nDPI with port
# guessing off (ndpiReader -d), says Unknown; the same for a plain TCP
# transfer is recorded beside it. The bridge's identity is kept in the
# volume: a restarted seeder prints the same line. A wrong cert (obfs4
# then hangs silently) fails the fetch at its timeout with the dial's
# reason; a missing PT binary, or one that is not a PT, fails at once with
# a clear error, and no PT process or state directory is left behind.
source "$(dirname "$0")/lib.sh"
OBFS4=$(command -v obfs4proxy || true)
if [ -z "$OBFS4" ]; then
	# Skip only when it cannot be had at all.
	apt-cache show obfs4proxy >/dev/null 2>&1 &&
		fail "obfs4proxy is missing (tools/deps.sh installs it)"
	echo "SKIP: obfs4proxy is not installable here"
	exit 77
fi
command -v ndpiReader >/dev/null || fail "ndpiReader is missing (libndpi-bin; tools/deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"

export TMPDIR=$T/tmp # the PTs' private state directories go here
mkdir -p "$TMPDIR"
# State directories there but those of the seeder that runs ($KEEP).
KEEP=
leftover() { ls "$TMPDIR" | grep -vxF "${KEEP:-/}" | head -3 || true; }
pt_children() { pgrep -P "$1" -f obfs4proxy || true; }

PUB="$T/pub" SUB="$T/sub"
publish_for_subscribers "$PUB" "Through obfs4" $((2 * 1024 * 1024 + 333))
link=$LINK
new_sub() { new_subscriber "$@"; }

# serve_bridge OUT PORT: megafs serve behind obfs4proxy on 127.0.0.1:PORT;
# sets BRIDGE_PID and BRIDGE (the line a subscriber gives to --peer).
serve_bridge() {
	MEGAFS_STORE=$PUB "$MEGAFS" serve --transport obfs4 --pt "$OBFS4" \
		--listen "127.0.0.1:$2" >"$1" 2>&1 &
	BRIDGE_PID=$!
	PIDS+=("$BRIDGE_PID")
	wait_for 20 grep -q "obfs4 bridge" "$1" || fail "megafs serve --transport obfs4 did not start: $(cat "$1")"
	BRIDGE=$(sed -n 's/^megafs serve: obfs4 bridge //p' "$1")
	KEEP=$(ls "$TMPDIR")
}
stop_serve() {
	kill "$BRIDGE_PID"
	wait "$BRIDGE_PID" 2>/dev/null || true
	KEEP=
}

bport=$(free_port)
serve_bridge "$T/serve.out" "$bport"
[[ "$BRIDGE" =~ ^127\.0\.0\.1:$bport#[0-9a-f]{64}\;cert=[A-Za-z0-9+/]+\;iat-mode=0$ ]] ||
	fail "the bridge line is not HOST:PORT#KEY;cert=...;iat-mode=0: '$BRIDGE'"
ss -ltnp "sport = :$bport" | grep -q obfs4proxy || fail "obfs4proxy does not listen on $bport: $(ss -ltnp "sport = :$bport")"
[ -n "$(pt_children "$BRIDGE_PID")" ] || fail "no obfs4proxy child of megafs serve"
ok "megafs serve --transport obfs4: obfs4proxy listens on 127.0.0.1:$bport and the bridge line is printed (${BRIDGE:0:40}...)"

# The fetch through obfs4, captured on lo.
new_sub "$SUB"
capture_start lo "$T/obfs4.pcap" "tcp port $bport"
start=$(date +%s%N)
MEGAFS_STORE=$SUB megafs fetch "$link" file.bin -o "$T/got.bin" --transport obfs4 \
	--pt "$OBFS4" --peer "$BRIDGE" 2>"$T/fetch.err" || fail "the fetch through obfs4 failed: $(cat "$T/fetch.err")"
ms=$((($(date +%s%N) - start) / 1000000))
capture_stop
cmp "$T/file.bin" "$T/got.bin" || fail "the file fetched through obfs4 differs"
ok "megafs fetch --transport obfs4 through obfs4proxy (client) to the bridge: the file byte for byte ($(stat -c %s "$T/got.bin") bytes in $ms ms)"
[ -z "$(leftover)" ] || fail "the client's PT state is left behind: $(leftover)"
ok "the client's obfs4proxy is gone with the fetch, its state directory removed"

# The bridge is remembered with its arguments: a second fetch names none
# (fetch keeps no blob: it goes through obfs4 again). Without the
# transport the remembered bridge is skipped, saying so.
MEGAFS_STORE=$SUB megafs fetch "$link" file.bin -o "$T/again.bin" --transport obfs4 \
	--pt "$OBFS4" 2>"$T/again.err" || fail "a fetch through the remembered bridge failed: $(cat "$T/again.err")"
cmp "$T/file.bin" "$T/again.bin" || fail "the file fetched through the remembered bridge differs"
MEGAFS_STORE=$SUB timeout 5 "$MEGAFS" fetch "$link" file.bin -o "$T/plain-again.bin" \
	>"$T/plain-again.err" 2>&1 || true
grep -q "1 remembered peer skipped: bridges, reached only through their pluggable transport" \
	"$T/plain-again.err" || fail "no word of the remembered bridge skipped: $(cat "$T/plain-again.err")"
ok "the bridge is remembered with its arguments: a fetch with --transport obfs4 and no --peer is byte for byte; without the transport it is skipped, saying so"

# A mount through obfs4: the daemon runs the PT, and stops it at the unmount.
new_sub "$T/sub-mount"
MEGAFS_STORE=$T/sub-mount mount_channel "$link" "$T/mnt" --transport obfs4 --pt "$OBFS4" \
	--peer "$BRIDGE"
daemon=$(mount_pid "$T/mnt")
[ -n "$(pt_children "$daemon")" ] || fail "no obfs4proxy child of the mount's daemon ($daemon)"
cmp "$T/file.bin" "$T/mnt/file.bin" || fail "the file read through the obfs4 mount differs"
cert=${BRIDGE#*;cert=}
cert=${cert%%;*}
args_seen=$(tr '\0' ' ' <"/proc/$daemon/cmdline")
[[ "$args_seen" == *"${BRIDGE%%;*};****"* ]] || fail "the bridge's arguments are not hidden: $args_seen"
[[ "$args_seen" == *"$cert"* ]] && fail "the bridge's cert shows in the process list: $args_seen"
mount_pt=$(pt_children "$daemon")
MEGAFS_STORE=$T/sub-mount megafs umount "$T/mnt"
wait_for 10 bash -c "! kill -0 $mount_pt" || fail "the mount's obfs4proxy ($mount_pt) outlived the unmount"
[ -z "$(leftover)" ] || fail "the mount's PT state is left behind: $(leftover)"
ok "megafs mount --transport obfs4: the file read through the mount is byte for byte, the process list shows the bridge as ${BRIDGE:0:20}...;****...; the unmount stops its obfs4proxy"

# nDPI, guessing by port off: obfs4 is bytes nobody can name.
ndpi_says() {
	ndpiReader -d -i "$1" -v 2 2>&1 | tee "$1.ndpi" |
		sed -n 's/^[[:space:]]*[0-9]*[[:space:]]*TCP .*\[proto: [0-9./]*\/\([A-Za-z0-9_.]*\)\].*/\1/p' | sort -u | paste -sd,
}
# The capture must hold the transfer: its TCP payload at least half the
# file's size (a count of packets is not a measure: loopback segments reach
# 64 KiB; and a machine busy with other tests once kept tcpdump from
# reading 4 % of them, see capture_start). nDPI decides on a flow's first
# packets: what it needs is the flow, not every byte.
packets=$(tcpdump -n -r "$T/obfs4.pcap" 2>/dev/null | wc -l)
payload=$(tcpdump -n -r "$T/obfs4.pcap" 2>/dev/null |
	awk '{ for (i = 1; i < NF; i++) if ($i == "length") s += $(i + 1) } END { print s + 0 }')
[ "$payload" -ge "$(($(stat -c %s "$T/file.bin") / 2))" ] ||
	fail "the capture of the obfs4 transfer holds $payload bytes of payload ($packets packets)"
said=$(ndpi_says "$T/obfs4.pcap")
[ "$said" = "Unknown" ] || fail "nDPI says '$said' of the obfs4 transfer: $(grep -m3 TCP "$T/obfs4.pcap.ndpi")"
ok "nDPI (ndpiReader -d, no port guessing) on the obfs4 transfer ($packets packets, $payload bytes of TCP payload): $said"

# The same transfer on plain TCP, for comparison (recorded, not asserted).
serve_peer "$PUB" "$T/plain.out"
plain_pid=$SERVE_PID pport=$SERVE_PORT pkey=$SERVE_KEY
new_sub "$T/sub-plain"
capture_start lo "$T/plain.pcap" "tcp port $pport"
MEGAFS_STORE=$T/sub-plain megafs fetch "$link" file.bin -o "$T/plain.bin" \
	--peer "127.0.0.1:$pport#$pkey" 2>"$T/plain.err" || fail "the plain fetch failed: $(cat "$T/plain.err")"
capture_stop
kill "$plain_pid"
cmp "$T/file.bin" "$T/plain.bin" || fail "the plain fetch differs"
ok "for comparison, nDPI on a plain TCP transfer says: $(ndpi_says "$T/plain.pcap")"

# The bridge's identity lives in the volume: a restart prints the same line.
pt_pid=$(pt_children "$BRIDGE_PID")
stop_serve
wait_for 5 bash -c "! kill -0 $pt_pid" || fail "obfs4proxy ($pt_pid) outlived megafs serve"
[ -z "$(leftover)" ] || fail "the server's PT state is left behind: $(leftover)"
old=$BRIDGE
serve_bridge "$T/serve2.out" "$bport"
[ "$BRIDGE" = "$old" ] || fail "a restarted bridge changed its line: '$old' then '$BRIDGE'"
ok "megafs serve stops its obfs4proxy and leaves no state directory; restarted, the bridge line is the same (kept in the volume)"

# A wrong cert: obfs4's server drops the handshake silently; the dial's
# deadline ends each try (10 s, then 20 and 40), and the fetch, which sits
# out its peer's first three dials, fails with the reason.
wrong=${BRIDGE%%;cert=*}";cert=$(head -c 52 /dev/urandom | base64 -w0 | tr -d =);iat-mode=0"
new_sub "$T/sub-wrong"
start=$(date +%s)
if MEGAFS_STORE=$T/sub-wrong timeout 120 "$MEGAFS" fetch "$link" file.bin -o "$T/wrong.bin" \
	--transport obfs4 --pt "$OBFS4" --peer "$wrong" >"$T/wrong.out" 2>&1; then
	fail "a fetch with a wrong cert succeeded"
fi
took=$(($(date +%s) - start))
[ "$took" -lt 100 ] || fail "the fetch with a wrong cert took $took s (timeout 120)"
grep -q "dialling a bridge through the pluggable transport: .* within" "$T/wrong.out" ||
	fail "the wrong cert's failure does not say why: $(cat "$T/wrong.out")"
ok "a wrong cert fails the fetch in $took s: $(paste -sd' ' "$T/wrong.out")"
[ -z "$(leftover)" ] || fail "state left behind after the failed fetch: $(leftover)"

# The PT binary missing, or not a PT: a clear error at once.
new_sub "$T/sub-missing"
expect_fail "the pluggable transport $T/nope: no such file" \
	env MEGAFS_STORE="$T/sub-missing" "$MEGAFS" fetch "$link" file.bin -o "$T/x.bin" \
	--transport obfs4 --pt "$T/nope" --peer "$BRIDGE"
printf '#!/bin/sh\necho "VERSION-ERROR no-version"\n' >"$T/not-pt"
chmod +x "$T/not-pt"
expect_fail "VERSION-ERROR no-version" env MEGAFS_STORE="$T/sub-missing" "$MEGAFS" fetch \
	"$link" file.bin -o "$T/x.bin" --transport obfs4 --pt "$T/not-pt" --peer "$BRIDGE"
printf '#!/bin/sh\nexec sleep 60\n' >"$T/silent-pt"
chmod +x "$T/silent-pt"
start=$(date +%s)
expect_fail "did not say it was ready within 10000 ms" env MEGAFS_STORE="$T/sub-missing" \
	"$MEGAFS" fetch "$link" file.bin -o "$T/x.bin" --transport obfs4 --pt "$T/silent-pt" --peer "$BRIDGE"
pgrep -f "$T/silent-pt" >/dev/null && fail "the silent PT was left running"
[ -z "$(leftover)" ] || fail "state left behind after a PT that failed: $(leftover)"
ok "a missing PT binary, one answering VERSION-ERROR and a silent one ($(($(date +%s) - start)) s) each fail with their reason, nothing left running"

# Options that cannot go with a transport, and peers that are not bridges.
expect_fail "--transport obfs4 needs --pt" megafs fetch "$link" file.bin -o "$T/x.bin" \
	--transport obfs4 --peer "$BRIDGE"
expect_fail "not chained" megafs fetch "$link" file.bin -o "$T/x.bin" --transport obfs4 \
	--pt "$OBFS4" --proxy socks5://127.0.0.1:9 --peer "$BRIDGE"
expect_fail "the DHT speaks UDP" megafs fetch "$link" file.bin -o "$T/x.bin" \
	--transport obfs4 --pt "$OBFS4" --dht --peer "$BRIDGE"
expect_fail "name the bridges with --peer" megafs fetch "$link" file.bin -o "$T/x.bin" \
	--transport obfs4 --pt "$OBFS4" --tracker ws://127.0.0.1:9 --peer "$BRIDGE"
expect_fail "a peer is a bridge" megafs fetch "$link" file.bin -o "$T/x.bin" \
	--transport obfs4 --pt "$OBFS4" --peer "127.0.0.1:$pport#$pkey"
expect_fail "reached only through its pluggable transport" megafs fetch "$link" file.bin \
	-o "$T/x.bin" --peer "$BRIDGE"
ok "--transport without --pt, with --proxy, --dht or --tracker, a plain peer through obfs4 and a bridge without it are refused with a sentence"

# channel forget names a bridge by its address and key, as a peer.
MEGAFS_STORE=$SUB megafs channel forget "$link" "${BRIDGE%%;*}" >"$T/forgot" ||
	fail "channel forget of the bridge failed: $(cat "$T/forgot")"
grep -qF "$BRIDGE" "$T/forgot" || fail "channel forget did not list the bridge: $(cat "$T/forgot")"
ok "channel forget LINK HOST:PORT#KEY forgets the remembered bridge"

stop_serve
finish
