#!/usr/bin/env bash
# Magnet items authored (issue 12, part 4): a NAME.magnet file written into
# an owned mount, or `megafs channel add`, publishes a magnet link; a
# subscriber on another store, through a real tracker, lists it with the
# same content; rm takes it away. What is not a magnet link megafs accepts
# is refused with a clear reason, and publishes nothing.
source "$(dirname "$0")/lib.sh"

PUB="$T/pub-store" SUB="$T/sub-store"
for s in "$PUB" "$SUB"; do
	MEGAFS_STORE=$s megafs init --size 64M --kdf fast >/dev/null
done
link=$(MEGAFS_STORE=$PUB megafs channel new "Magnets")
start_tracker "$T/tracker-db"
MEGAFS_STORE=$PUB mount_channel "$link" "$T/pub" --tracker "$TRACKER_URL"
MEGAFS_STORE=$SUB mount_channel "$link" "$T/sub" --tracker "$TRACKER_URL"
ok "a tracker, the owner's mount and a subscriber's mount (two stores)"

hash1=0123456789abcdef0123456789abcdef01234567
m1="magnet:?xt=urn:btih:$hash1&dn=Big+Buck+Bunny+%282008%29&tr=udp%3A%2F%2Ftracker.example%3A1337"
echo "$m1" >"$T/pub/Big Buck Bunny (2008).magnet" || fail "echo > NAME.magnet failed"
printf '%s\n' "$m1" >"$T/want1"
cmp "$T/want1" "$T/pub/Big Buck Bunny (2008).magnet" || fail "the owner's mount shows other bytes"
wait_for 10 test -e "$T/sub/Big Buck Bunny (2008).magnet" ||
	fail "the subscriber never listed the magnet: $(ls "$T/sub")"
cmp "$T/want1" "$T/sub/Big Buck Bunny (2008).magnet" || fail "the subscriber shows other bytes"
ok "echo LINK > NAME.magnet on the owner: the subscriber lists it, same content"

# A link without dn shows as its info hash: cp of such a file works too.
m2="magnet:?xt=urn:btih:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
printf '%s\r\n' "$m2" >"$T/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet"
cp "$T/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet" "$T/pub/" || fail "cp of a .magnet failed"
wait_for 10 test -e "$T/sub/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet" ||
	fail "the cp'd magnet never reached the subscriber"
[ "$(cat "$T/sub/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet")" = "$m2" ] ||
	fail "the cp'd magnet reads '$(cat "$T/sub/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet")'"
ok "cp of HASH.magnet (CRLF line end dropped) reaches the subscriber"

seq_before=$(MEGAFS_STORE=$PUB sequence_of "$link")
# Each refused write: cp reports the failed close, nothing appears.
refuse() { # NAME CONTENT
	printf '%s\n' "$2" >"$T/$1"
	if cp "$T/$1" "$T/pub/$1" 2>"$T/err"; then fail "'$1' with '$2' was accepted"; fi
	[ ! -e "$T/pub/$1" ] || fail "a refused $1 is in the mount"
	echo "   refused: $1 ($(sed 's/.*: //' "$T/err"))"
}
refuse notes.magnet "these are my notes, not a link"
refuse other.magnet "$m1"
refuse bad.magnet "magnet:?xt=urn:btih:1234&dn=x"
refuse space.magnet "magnet:?xt=urn:btih:$hash1&dn=a b"
refuse nodup.magnet "magnet:?xt=urn:btih:$hash1&dn=nodup&dn=nodup"
head -c 10000 /dev/zero | tr '\0' a >"$T/huge.magnet"
if cp "$T/huge.magnet" "$T/pub/" 2>"$T/err"; then
	fail "a 10,000-byte .magnet was accepted"
fi
echo "   refused: huge.magnet ($(sed 's/.*: //' "$T/err"))"
[ "$(MEGAFS_STORE=$PUB sequence_of "$link")" = "$seq_before" ] ||
	fail "a refused .magnet published a manifest"
ok "not a link, a name that is not the link's, a bad hash, a space, two dn, 10 KB: EINVAL/EFBIG, nothing published"

# channel add: refused before any password for bad input, then published.
expect_fail "not a magnet link megafs publishes" env MEGAFS_PASSWORD= MEGAFS_STORE="$PUB" \
	"$MEGAFS" channel add "$link" "magnet:?dn=no-hash"
expect_fail "is not a channel link" megafs channel add "megafs://nope" "$m2"
sublink=$(MEGAFS_STORE=$PUB megafs channel new "Other")
MEGAFS_STORE=$SUB megafs channel subscribe "$sublink" >/dev/null
expect_fail "does not own" env MEGAFS_STORE="$SUB" "$MEGAFS" channel add "$sublink" "$m2"
m3="magnet:?xt=urn:btmh:1220$(printf 'ab%.0s' $(seq 32))&dn=Season+one+episode+1&xl=1048576"
out=$(MEGAFS_STORE=$PUB megafs channel add "$link" "$m3" "Season 1") || fail "channel add failed"
echo "   $out"
wait_for 10 test -e "$T/pub/Season 1/Season one episode 1.magnet" ||
	fail "the owner's mount never showed the added link"
wait_for 10 test -e "$T/sub/Season 1/Season one episode 1.magnet" ||
	fail "the subscriber never listed the added link (the owner's mount passes it on)"
[ "$(cat "$T/sub/Season 1/Season one episode 1.magnet")" = "$m3" ] || fail "channel add: other bytes"
ok "channel add LINK MAGNET DIR: the owner's mount shows it and sends it on to the subscriber"

# Replacing a magnet (the same name, another link) and removing one.
m1b="magnet:?xt=urn:btih:fedcba9876543210fedcba9876543210fedcba98&dn=Big+Buck+Bunny+%282008%29"
echo "$m1b" >"$T/pub/Big Buck Bunny (2008).magnet" || fail "overwriting a .magnet failed"
wait_for 10 grep -q fedcba "$T/sub/Big Buck Bunny (2008).magnet" ||
	fail "the subscriber never saw the replaced link"
rm "$T/pub/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet" || fail "rm of a .magnet failed"
wait_for 10 test ! -e "$T/sub/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.magnet" ||
	fail "a removed magnet stayed on the subscriber"
manifest=$(MEGAFS_STORE=$SUB megafs channel show "$link")  # opened: the channel is private
grep -qF "fedcba9876543210" <<<"$manifest" || fail "the subscriber's manifest lacks the new link"
grep -qF "ABCDEFGHIJ" <<<"$manifest" && fail "the subscriber's manifest still has the removed link"
ok "overwrite replaces a magnet, rm removes it, on the subscriber too"

MEGAFS_STORE=$SUB megafs umount "$T/sub"
MEGAFS_STORE=$PUB megafs umount "$T/pub"
finish
