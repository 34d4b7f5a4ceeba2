# Channel manifests between stores: import and export refuse bad input with
# a clear reason and change nothing. (Success paths, which need a signed
# manifest, are in tests/unit/test_channel.c until the CLI can publish.)
source "$(dirname "$0")/lib.sh"

A=$T/a
B=$T/b
megafs --store "$A" init --size 16M --kdf fast >/dev/null
megafs --store "$B" init --size 16M --kdf fast >/dev/null
link=$(MEGAFS_STORE=$A megafs channel new "Films")
pk=${link#megafs://}
pk=${pk%%#*}
export MEGAFS_STORE=$B

megafs help channel | grep -q 'import FILE' || fail "help channel lists import"
megafs help channel | grep -q 'export LINK' || fail "help channel lists export"
for args in "import" "export" "import a b" "export a b"; do
	set +e
	# shellcheck disable=SC2086 # split on purpose
	megafs channel $args 2>"$T/usage"
	status=$?
	set -e
	[ $status -eq 2 ] || fail "'channel $args' exited $status, expected 2"
	grep -q "^megafs channel: usage: megafs channel ${args%% *}" "$T/usage" \
		|| fail "usage: $(cat "$T/usage")"
done
ok "usage errors exit 2 and name the verb; help lists import and export"

MEGAFS_STORE=$A expect_fail "$link has no manifest in this volume yet" \
	megafs channel export "$link"
expect_fail "this volume does not know $link" megafs channel export "$link"
expect_fail "'megafs://xyz' is not a channel link" megafs channel export "megafs://xyz"
MEGAFS_STORE=$A megafs channel export "$link" >"$T/out" 2>/dev/null && fail "export succeeded"
[ ! -s "$T/out" ] || fail "a failed export printed something"
ok "export: no manifest, unknown channel, bad link"

data="$B/data.mdb"
sum=$(sha256sum <"$data")
printf 'this is not a manifest' >"$T/garbage"
expect_fail "megafs channel: $T/garbage: invalid JSON" megafs channel import "$T/garbage"
expect_fail "megafs channel: stdin: invalid JSON" megafs channel import - <"$T/garbage"
: >"$T/empty"
expect_fail "$T/empty: invalid JSON" megafs channel import "$T/empty"
expect_fail "$T/missing: No such file" megafs channel import "$T/missing"
expect_fail "$T: Is a directory" megafs channel import "$T"
head -c $((17 << 20)) /dev/zero >"$T/huge"
expect_fail "larger than the 16 MiB a manifest may be" megafs channel import "$T/huge"
set +e
megafs channel import "$T/garbage" 2>/dev/null
status=$?
set -e
[ $status -eq 1 ] || fail "a refused import exited $status, expected 1"
ok "import: not JSON, empty, missing, directory, too large (exit 1)"

# Well-formed and canonical, for a's channel, but not signed by its key.
magnet="magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"
zeros=$(printf '%0128d' 0)
body='{"collections":[{"items":["'$magnet'"],"title":""}],"publicKey":"'$pk'"'
printf '%s,"sequence":1,"signature":"%s","timestamp":0}' "$body" "$zeros" >"$T/forged"
expect_fail "$T/forged: signature does not verify" megafs channel import "$T/forged"
printf '\n' >>"$T/forged"
expect_fail "$T/forged: signature does not verify" megafs channel import "$T/forged"
printf '\n' >>"$T/forged"
expect_fail "$T/forged: not canonical" megafs channel import "$T/forged"
printf '%s,"sequence":1,"timestamp":0}' "$body" >"$T/unsigned"
expect_fail "$T/unsigned: missing field 'signature'" megafs channel import "$T/unsigned"
printf '%s, "sequence":1,"signature":"%s","timestamp":0}' "$body" "$zeros" >"$T/spaced"
expect_fail "$T/spaced: not canonical" megafs channel import "$T/spaced"
printf '%s,"sequence":0,"signature":"%s","timestamp":0}' "$body" "$zeros" >"$T/seq0"
expect_fail "$T/seq0: 'sequence' must be an integer >= 1" megafs channel import "$T/seq0"
ok "import: forged signature (with one trailing newline too), two newlines, unsigned, not canonical, sequence 0"

# Refused before the store is opened: not a byte of it changed (any command
# that opens a volume rewrites its superblock, see megafs(7)).
[ "$sum" = "$(sha256sum <"$data")" ] || fail "refused imports changed data.mdb"
megafs channel list 2>&1 | grep -q "^no channels in this volume" || fail "a refused import subscribed"
MEGAFS_STORE=$A megafs channel list | grep -q "^owned  *${link%%#*} seq=0 Films (private)$" || fail "a's channel"
ok "refused imports leave the store byte-identical and subscribe to nothing"
finish
