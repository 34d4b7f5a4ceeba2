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

# The same through ftruncate (setattr): the store's "full" reaches the
# program as ENOSPC, not as a number the kernel does not know (ERANGE). A
# hole is zeros, one convergent blob however long: fill the store first.
for kib in 32768 16384 8192 4096 2048 1024 512 256 128 64; do
	random_file "$T/fill" $((kib << 10))
	cp "$T/fill" "$mnt/fill.$kib" 2>/dev/null || rm -f "$mnt/fill.$kib"
done
seq=$(sequence_of "$link")
used=$(megafs status | grep '^used')
out=$(truncate -s 100M "$mnt/sparse.bin" 2>&1) && fail "no room left, yet a 1 MiB blob fit"
grep -q "No space left on device" <<<"$out" || fail "truncate: not ENOSPC: $out"
grep -q "out of range" <<<"$out" && fail "a megafs code reached the program as ERANGE: $out"
echo "   error shown: $out"
[ "$(sequence_of "$link")" = "$seq" ] || fail "a failed truncate published a manifest"
[ "$used" = "$(megafs status | grep '^used')" ] || fail "the failed truncate kept slots"
# (the kernel may show the created name until its 1 s entry cache expires)
wait_for 3 test ! -e "$mnt/sparse.bin" || fail "the failed truncate left a file"
cmp "$T/keep" "$mnt/keep.bin" || fail "the earlier file after the failed truncate"
ok "store full during ftruncate: ENOSPC, nothing published, slots given back"
unmount "$mnt"
finish
