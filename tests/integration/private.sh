#!/usr/bin/env bash
# Private channels (issue 12, parts 1 and 2), with real processes on
# 127.0.0.1: what a network observer and the tracker's database hold of a
# publish, a subscribe and a fetch through a ws:// tracker (a packet capture
# and the database read byte for byte: no file name, no FileEntry field, no
# chunk key as hex or bytes); a link without the read key refused by mount
# and fetch with what to ask for; a tampered sealed body and a body moved to
# another sequence or channel refused; grants that expire, revoke and rekey;
# the owner's mount unaffected throughout.
source "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null || fail "tcpdump is missing (tools/deps.sh installs it)"

PUB="$T/pub-store" SUB="$T/sub-store" GR="$T/grantee-store" NOKEY="$T/nokey-store"
for s in "$PUB" "$SUB" "$GR" "$NOKEY"; do
	MEGAFS_STORE=$s megafs init --size 64M --kdf fast >/dev/null 2>&1
done
link=$(MEGAFS_STORE=$PUB megafs channel new "Films")
pk=${link%%#*}
[[ $link =~ ^megafs://[0-9a-f]{64}#[0-9a-f]{64}$ ]] || fail "a private link carries its read key: $link"

start_tracker "$T/tracker-db"
tport=${TRACKER_URL##*:}
tport=${tport%%/*}
pport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
capture_start lo "$T/wire.pcap" "tcp port $tport or tcp port $pport"

marker="plaintext-marker-$RANDOM$RANDOM$RANDOM"
name="secret-name-$RANDOM$RANDOM.txt"
for i in $(seq 90000); do echo "$marker $i"; done >"$T/$name"
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub" --tracker "$TRACKER_URL" --listen "127.0.0.1:$pport"
cp "$T/$name" "$T/pub/"
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub" --tracker "$TRACKER_URL"
wait_for 20 test -e "$T/sub/$name" || fail "the subscriber (read key) never saw the publication"
cmp "$T/$name" "$T/sub/$name" || fail "the subscriber's mount reads other bytes"
MEGAFS_STORE=$NOKEY megafs fetch "$link" "$name" -o "$T/fetched" --tracker "$TRACKER_URL" ||
	fail "megafs fetch with the read key failed"
cmp "$T/$name" "$T/fetched" || fail "megafs fetch wrote other bytes"
ok "publish, subscribe (a mount) and fetch of a private channel through $TRACKER_URL"

# Every local user reads a process's command line (ps, /proc/PID/cmdline):
# the subscriber's mount was given the link with its read key, and must not
# show the key there (megafs zeroes it in its arguments as it starts).
read_key=${link#*#}
for dir in "$T/sub" "$T/pub"; do
	pid=$(mount_pid "$dir")
	[ -n "$pid" ] || fail "no daemon behind $dir"
	shown=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	grep -q "${link%%#*}" <<<"$shown" || fail "the command line of $dir's daemon: $shown"
	grep -qi "$read_key" <<<"$shown" && fail "$dir's daemon shows the read key to every user: $shown"
done
# The same for a link given as --option=LINK#KEY: an ingest held open on a
# fifo (it opens its FILE before anything else) shows its command line.
mkfifo "$T/held"
MEGAFS_STORE=$PUB "$MEGAFS" ingest "$T/held" --channel="$link" >/dev/null 2>&1 &
held=$!
PIDS+=("$held")
# Blocked opening the fifo: main() has run, the wipe included.
wait_for 10 grep -qx wait_for_partner "/proc/$held/wchan" || fail "megafs ingest did not start"
shown=$(tr '\0' ' ' <"/proc/$held/cmdline")
grep -q -- "--channel=${link%%#*}#" <<<"$shown" || fail "the ingest's command line: $shown"
grep -qi "$read_key" <<<"$shown" && fail "--channel=LINK shows the read key to every user: $shown"
# ingest refuses a fifo (not a regular file) as soon as it opens it: the
# write may find the reader gone, and the SIGPIPE would end this script.
(echo x >"$T/held") 2>/dev/null || true
wait "$held" 2>/dev/null || true
ok "the mounts' command lines (/proc/PID/cmdline, what every local user reads) show the link without its read key, and so does --channel=LINK's"

# What the owner knows: the opened manifest, its chunk keys and blob ids.
MEGAFS_STORE=$PUB megafs channel show "$link" >"$T/open.json"
grep -qF "\"name\":\"$name\"" "$T/open.json" || fail "the owner's opened manifest lacks the file"
mapfile -t keys < <(grep -o '"key":"[0-9a-f]\{64\}"' "$T/open.json" | cut -d'"' -f4)
[ "${#keys[@]}" -ge 1 ] || fail "no chunk keys in the opened manifest"
capture_stop
# Every byte the tracker keeps, in one file; every stream of the capture
# with the clients' WebSocket frames unmasked (masking hides nothing from an
# observer, only from grep).
find "$T/tracker-db" -type f -exec cat {} + >"$T/db.bin"
grep -qaF "${pk#megafs://}" "$T/db.bin" || fail "the tracker's database does not hold the channel"
python3 "$(dirname "$0")/../tools/ws_payloads.py" "$T/wire.pcap" >"$T/wire.bin" 2>"$T/wire.err" ||
	fail "ws_payloads.py: $(cat "$T/wire.err")"
grep -qaF '"action":"subscribe"' "$T/wire.bin" || fail "the capture missed the subscription"
grep -qaF '"action":"publish"' "$T/wire.bin" || fail "the capture missed the publication"
grep -qaF "${pk#megafs://}" "$T/wire.bin" || fail "the capture missed the channel's key"
for f in "$T/wire.pcap" "$T/wire.bin" "$T/db.bin"; do
	what=$([ "$f" = "$T/db.bin" ] && echo "the tracker's database" || echo "the capture ($f)")
	grep -qaF "$name" "$f" && fail "the file name is in $what"
	grep -qaF "$marker" "$f" && fail "the plaintext is in $what"
	for field in '"chunkSize"' '"chunks"' '"mtime"' '"mode"' '"convergent"' '"size"' '"length"' \
		'"name"'; do
		grep -qaF "$field" "$f" && fail "FileEntry field $field is in $what"
	done
	hex=$(od -An -v -tx1 "$f" | tr -d ' \n')
	for k in "${keys[@]}"; do
		grep -qaF "$k" "$f" && fail "chunk key $k is in $what (hex)"
		[[ "$hex" == *"$k"* ]] && fail "chunk key $k is in $what (bytes)"
	done
done
ok "a $(stat -c %s "$T/wire.pcap")-byte capture ($(cat "$T/wire.err")) and the $(stat -c %s "$T/db.bin")-byte tracker database hold no name, no FileEntry field, none of ${#keys[@]} chunk keys"

# A link without the read key: refused at once, saying what to ask for.
mkdir -p "$T/nokey"
MOUNTS+=("$T/nokey")
expect_fail "is a private channel and this link has no read key: ask its owner for the link with the read key" \
	env MEGAFS_STORE="$GR" "$MEGAFS" mount "$pk" "$T/nokey" --tracker "$TRACKER_URL"
mountpoint -q "$T/nokey" && fail "a refused mount stayed mounted"
expect_fail "this channel is private and this volume holds no key that opens it" \
	env MEGAFS_STORE="$GR" "$MEGAFS" fetch "$pk" "$name" -o "$T/nope" --tracker "$TRACKER_URL"
[ -e "$T/nope" ] && fail "a refused fetch wrote a file"
expect_fail "is not a channel link" env MEGAFS_STORE="$GR" "$MEGAFS" mount "$pk#0123" "$T/nokey"
expect_fail "is not a channel link" env MEGAFS_STORE="$GR" "$MEGAFS" mount "$pk#GRANT" "$T/nokey"
ok "mount and fetch of a link without the read key refused with what to ask the owner for"

MEGAFS_STORE=$SUB megafs umount "$T/sub"
# Manifests carried by hand (export, import) from here: each import is
# fs/channel's acceptance, as for a manifest a tracker pushes.
export_to() { MEGAFS_STORE=$PUB megafs channel export "$pk" >"$1"; }
export_to "$T/m-a.json"
b64=$(grep -o '"items":\["[A-Za-z0-9_-]*"\]' "$T/m-a.json" | cut -d'"' -f4)
[ ${#b64} -ge 5000 ] || fail "no sealed envelope in the exported manifest"
# Tampered: one base64 character of the sealed body changed.
pos=$((${#b64} - 100))
c=${b64:$pos:1}
[ "$c" = A ] && r=B || r=A
printf '%s' "$(sed "s|$b64|${b64:0:$pos}$r${b64:$((pos + 1))}|" "$T/m-a.json")" >"$T/tampered.json"
cmp -s "$T/m-a.json" "$T/tampered.json" && fail "the tampering changed nothing"
# Moved: the sealed body of this manifest put into the next one.
echo "moved $RANDOM" >"$T/pub/second.txt"
export_to "$T/m-b.json"
b64_b=$(grep -o '"items":\["[A-Za-z0-9_-]*"\]' "$T/m-b.json" | cut -d'"' -f4)
printf '%s' "$(sed "s|$b64_b|$b64|" "$T/m-b.json")" >"$T/moved.json"
# Moved to another channel: this channel's body under another owned channel.
other=$(MEGAFS_STORE=$PUB megafs channel new "Other")
MEGAFS_STORE=$PUB mount_channel "$other" "$T/other"
echo x >"$T/other/x.txt"
MEGAFS_STORE=$PUB megafs umount "$T/other"
MEGAFS_STORE=$PUB megafs channel export "$other" >"$T/o.json"
b64_o=$(grep -o '"items":\["[A-Za-z0-9_-]*"\]' "$T/o.json" | cut -d'"' -f4)
printf '%s' "$(sed "s|$b64_o|$b64|" "$T/o.json")" >"$T/other-moved.json"
for f in tampered moved other-moved; do
	MEGAFS_STORE=$SUB expect_fail "signature does not verify" megafs channel import "$T/$f.json"
done
MEGAFS_STORE=$SUB megafs channel import "$T/m-b.json" >/dev/null || fail "the genuine manifest was refused"
ok "a tampered sealed body, a body moved to another sequence and to another channel: refused (re-signed moves: tests/unit/test_sealed.c)"

# Grants: a few seconds of reading for GR's key.
gkey=$(MEGAFS_STORE=$GR megafs id)
[[ $gkey =~ ^[0-9a-f]{64}$ ]] || fail "megafs id printed '$gkey'"
[ "$(MEGAFS_STORE=$GR megafs id)" = "$gkey" ] || fail "megafs id changed"
glink=$(MEGAFS_STORE=$PUB megafs channel grant "$link" --to "$gkey" --expires 4s 2>"$T/grant.err")
granted_at=$(date +%s%N)
[ "$glink" = "$pk#grant" ] || fail "grant printed '$glink'"
grep -q "granted to $gkey until" "$T/grant.err" || fail "grant said: $(cat "$T/grant.err")"
MEGAFS_STORE=$GR megafs channel subscribe "$glink" >/dev/null
export_to "$T/g1.json"
MEGAFS_STORE=$GR megafs channel import "$T/g1.json" >/dev/null || fail "the grant did not read"
MEGAFS_STORE=$GR megafs channel show "$pk" | grep -qF "\"name\":\"$name\"" ||
	fail "the grantee does not see the file"
while [ $((($(date +%s%N) - granted_at) / 1000000)) -lt 4500 ]; do sleep 0.2; done
echo "after the grant" >"$T/pub/late-$RANDOM.txt"
export_to "$T/g2.json"
MEGAFS_STORE=$GR expect_fail "no key of this volume opens its manifest" megafs channel import "$T/g2.json"
MEGAFS_STORE=$GR megafs channel show "$pk" | grep -qF "\"name\":\"$name\"" ||
	fail "what the grant read before its expiry is gone"
MEGAFS_STORE=$GR megafs channel show "$pk" | grep -qF "late-" && fail "the expired grant reads a newer manifest"
ok "a 4 s grant read the manifest before its expiry and not the one after; what it read stays"

MEGAFS_STORE=$PUB megafs channel grant "$link" --to "$gkey" --expires 30d >/dev/null 2>&1
export_to "$T/g3.json"
MEGAFS_STORE=$GR megafs channel import "$T/g3.json" >/dev/null || fail "a renewed grant did not read"
# A grantee mounts with its grant, through the tracker, and reads a file
# published after the grant from the owner's peer.
echo "for the grantee $RANDOM" >"$T/granted.txt"
cp "$T/granted.txt" "$T/pub/"
MEGAFS_STORE=$GR mount_channel "$glink" "$T/gr" --tracker "$TRACKER_URL"
wait_for 20 test -e "$T/gr/granted.txt" || fail "the grantee's mount never saw granted.txt"
cmp "$T/granted.txt" "$T/gr/granted.txt" || fail "the grantee's mount reads other bytes"
MEGAFS_STORE=$GR megafs umount "$T/gr"
ok "a grantee's mount (LINK#grant) through the tracker reads a file published after the grant"
MEGAFS_STORE=$PUB megafs channel revoke "$link" --to "$gkey" 2>"$T/revoke.err" || fail "revoke failed"
export_to "$T/g4.json"
MEGAFS_STORE=$GR expect_fail "no key of this volume opens its manifest" megafs channel import "$T/g4.json"
MEGAFS_STORE=$PUB expect_fail "has no grant to $gkey" megafs channel revoke "$link" --to "$gkey"
ok "revoke: the next manifest is sealed without the grant"

# Rekey: the old link reads nothing newer; the owner's mount is unaffected.
MEGAFS_STORE=$SUB megafs channel import "$T/g4.json" >/dev/null || fail "the read key did not read"
newlink=$(MEGAFS_STORE=$PUB megafs channel rekey "$link" 2>/dev/null)
[[ $newlink =~ ^$pk#[0-9a-f]{64}$ && $newlink != "$link" ]] || fail "rekey printed '$newlink'"
echo "after the rekey" >"$T/pub/rekeyed.txt"
export_to "$T/r1.json"
MEGAFS_STORE=$SUB expect_fail "no key of this volume opens its manifest" megafs channel import "$T/r1.json"
MEGAFS_STORE=$SUB megafs channel subscribe "$newlink" >/dev/null
MEGAFS_STORE=$SUB megafs channel import "$T/r1.json" >/dev/null || fail "the new link does not read"
MEGAFS_STORE=$SUB megafs channel show "$pk" | grep -qF '"name":"rekeyed.txt"' || fail "rekeyed.txt"
cmp "$T/$name" "$T/pub/$name" || fail "the owner's mount lost $name"
[ "$(cat "$T/pub/rekeyed.txt")" = "after the rekey" ] || fail "the owner's mount after rekey"
MEGAFS_STORE=$PUB megafs umount "$T/pub"
MEGAFS_STORE=$PUB mount_channel "$newlink" "$T/pub"
ls "$T/pub" | grep -q "^late-" || fail "the owner's remount lost a file"
cmp "$T/$name" "$T/pub/$name" || fail "the owner's remount reads other bytes"
ok "rekey: the old link reads nothing newer, the new one does; the owner's mounts unaffected"

MEGAFS_STORE=$PUB expect_fail "is a public channel" megafs channel rekey \
	"$(MEGAFS_STORE=$PUB megafs channel new --public Open)"
MEGAFS_STORE=$SUB expect_fail "only its owner says who reads it" megafs channel grant "$link" \
	--to "$gkey" --expires 1d
expect_fail "--expires DURATION" megafs channel grant "$link" --to "$gkey" --expires 3x
expect_fail "--to KEY" megafs channel revoke "$link" --to nothex
ok "grant, revoke, rekey refuse public channels, subscribers and bad arguments"
finish
