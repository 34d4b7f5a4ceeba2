# A full store during cp through the mount: cp fails with ENOSPC, the
# previous manifest stays in force, nothing is half-published, and the slots
# the failed file took are given back.
source "$(dirname "$0")/lib.sh"

megafs init --size 64M --kdf fast >/dev/null
link=$(megafs channel new "Full")
mnt="$T/mnt"
random_file "$T/keep" 3000000
random_file "$T/huge" $((100 << 20))
mount_channel "$link" "$mnt"
cp "$T/keep" "$mnt/keep.bin"
seq=$(sequence_of "$link")
used=$(megafs status | grep '^used')
out=$(cp "$T/huge" "$mnt/huge.bin" 2>&1) && fail "a 100 MiB file fit in a 64 MiB store"
grep -q "No space left on device" <<<"$out" || fail "not ENOSPC: $out"
echo "   error shown: $out"
[ "$(sequence_of "$link")" = "$seq" ] || fail "a failed cp published a manifest"
[ ! -e "$mnt/huge.bin" ] || fail "the failed file is visible"
[ "$used" = "$(megafs status | grep '^used')" ] || fail "the failed file's slots were not given back"
cmp "$T/keep" "$mnt/keep.bin" || fail "the earlier file after the failure"
cp "$T/keep" "$mnt/again.bin" && cmp "$T/keep" "$mnt/again.bin" || fail "the mount works after"
ok "store full during cp: ENOSPC, manifest $seq kept, slots given back, earlier file intact"
unmount "$mnt"
finish
