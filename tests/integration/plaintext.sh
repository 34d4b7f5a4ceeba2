# No plaintext on disk: markers inside ingested files, channel titles and
# passwords never appear in any file under the store directory.
source "$(dirname "$0")/lib.sh"

marker="MEGAFS-PLAINTEXT-MARKER-7f3a9c"
title="TitleMarker-b41e22"
megafs init --size 64M --kdf fast >/dev/null
megafs channel new "$title" >/dev/null
{
	for i in $(seq 1 3000); do echo "$marker line $i"; done
	head -c 2000000 /dev/zero
	for i in $(seq 1 3000); do echo "$marker tail $i"; done
} >"$T/marked.txt"
printf '%s' "$marker" >"$T/tiny.txt"
megafs ingest "$T/marked.txt" >"$T/m.json" 2>/dev/null
megafs ingest "$T/tiny.txt" --mode random >/dev/null 2>/dev/null
megafs extract "$T/m.json" -o "$T/m.out" && cmp "$T/marked.txt" "$T/m.out" || fail "round trip"
ok "marked files ingested"

for needle in "$marker" "$title" "$MEGAFS_PASSWORD" "marked.txt"; do
	if grep -rqaF -- "$needle" "$MEGAFS_STORE"; then fail "'$needle' found in the store"; fi
done
# A marker split across a page boundary would escape grep: look for a
# shorter piece too.
if grep -rqaF -- "PLAINTEXT-MARK" "$MEGAFS_STORE"; then fail "marker fragment found"; fi
ok "no marker, title, password or file name anywhere under the store directory"
finish
