# Bad input: a clear error every time, and nothing lost.
source "$(dirname "$0")/lib.sh"

megafs init --size 32M --kdf fast >/dev/null
random_file "$T/keep" 3000000
megafs ingest "$T/keep" >"$T/keep.json" 2>/dev/null
data="$MEGAFS_STORE/data.mdb"

sum=$(sha256sum <"$data")
MEGAFS_PASSWORD=wrong expect_fail "wrong password: no volume in this store opens with it" megafs status
MEGAFS_PASSWORD=wrong expect_fail "wrong password" megafs ingest "$T/keep"
[ "$sum" = "$(sha256sum <"$data")" ] || fail "a wrong password changed data.mdb"
ok "wrong password: clear error, store byte-identical"

random_file "$T/huge" $((40 << 20))
megafs status | grep -E '^(used|blobs)' >"$T/before"
expect_fail "store full" megafs ingest "$T/huge"
megafs status | grep -E '^(used|blobs)' | diff "$T/before" - || fail "a failed ingest kept slots or blobs"
# Small chunks: hundreds of blobs committed in batches before the store fills.
expect_fail "store full" megafs ingest "$T/huge" --chunk-size 64K --mode random
megafs status | grep -E '^(used|blobs)' | diff "$T/before" - || fail "rollback of many blobs"
# Large chunks: the rollback frees more slots than the store's slack.
big="$T/big-store"
megafs --store "$big" init --size 128M --kdf fast >/dev/null
random_file "$T/huge2" $((200 << 20))
MEGAFS_STORE=$big megafs status | grep -E '^(used|blobs)' >"$T/before2"
MEGAFS_STORE=$big expect_fail "store full" megafs ingest "$T/huge2" --chunk-size 16M --mode random
MEGAFS_STORE=$big megafs status | grep -E '^(used|blobs)' | diff "$T/before2" - \
	|| fail "rollback of 16 MiB blobs"
rm -rf "$big" "$T/huge2"
megafs extract "$T/keep.json" -o "$T/keep.out" && cmp "$T/keep" "$T/keep.out" || fail "keep"
ok "store full: clear error, nothing half-written, earlier file intact"

sed 's/"size":3000000/"size":3000001/' "$T/keep.json" >"$T/bad1.json"
expect_fail "file entry:" megafs extract "$T/bad1.json" -o "$T/x"
echo '{"name":' >"$T/bad2.json"
expect_fail "not a file entry" megafs extract "$T/bad2.json" -o "$T/x"
# A key that is not this file's: the blob will not open, nothing is written.
python3 - "$T/keep.json" "$T/bad3.json" <<'PY' 2>/dev/null || sed 's/"key":"\(.\)/"key":"0/' "$T/keep.json" >"$T/bad3.json"
import json, sys
e = json.load(open(sys.argv[1]))
k = e["chunks"][0]["key"]
e["chunks"][0]["key"] = ("1" if k[0] != "1" else "2") + k[1:]
json.dump(e, open(sys.argv[2], "w"))
PY
expect_fail "does not open with its key" megafs extract "$T/bad3.json" -o "$T/x"
[ ! -e "$T/x" ] && [ ! -e "$T/x.part" ] || fail "a failed extract left a file"
ok "malformed and wrong file entries: clear errors, no output file"

cp "$data" "$T/data.bak"
truncate -s 1M "$data"
expect_fail "store file is truncated" megafs status
cp "$T/data.bak" "$data"
cp "$MEGAFS_STORE/header" "$T/header.bak"
printf '\x01' | dd of="$MEGAFS_STORE/header" bs=1 seek=30 conv=notrunc status=none
expect_fail "stored data is damaged" megafs status
cp "$T/header.bak" "$MEGAFS_STORE/header"
megafs extract "$T/keep.json" -o "$T/keep.out2" && cmp "$T/keep" "$T/keep.out2" || fail "after repair"
ok "truncated store and damaged header: clear errors; restored store reads"
finish
