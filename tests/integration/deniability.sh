# With the outer password, a store with a hidden volume looks like one
# without; hidden data survives outer writes made with --protect-file.
source "$(dirname "$0")/lib.sh"

outer_pw="outer password"
hidden_pw="hidden password"
random_file "$T/public" 3000000
random_file "$T/secret" 5000000

# Same steps on two stores; only B gets a hidden volume.
make_store() {
	local dir=$1 with_hidden=$2
	MEGAFS_STORE=$dir MEGAFS_PASSWORD=$outer_pw megafs init --size 64M --kdf fast >/dev/null
	if [ "$with_hidden" = yes ]; then
		MEGAFS_STORE=$dir MEGAFS_PASSWORD=$outer_pw MEGAFS_NEW_PASSWORD=$hidden_pw \
			megafs init --hidden >/dev/null
		MEGAFS_STORE=$dir MEGAFS_PASSWORD=$hidden_pw megafs channel new "Secret" >/dev/null
		MEGAFS_STORE=$dir MEGAFS_PASSWORD=$hidden_pw megafs ingest "$T/secret" \
			>"$T/secret.json" 2>/dev/null
	fi
	MEGAFS_STORE=$dir MEGAFS_PASSWORD=$outer_pw MEGAFS_PROTECT_PASSWORD=${3:-} \
		megafs channel new "Public" >/dev/null
	MEGAFS_STORE=$dir MEGAFS_PASSWORD=$outer_pw MEGAFS_PROTECT_PASSWORD=${3:-} \
		megafs ingest "$T/public" >/dev/null 2>&1
}
make_store "$T/a" no
make_store "$T/b" yes
# the second store's outer writes were made without protection above only if
# MEGAFS_PROTECT_PASSWORD was empty; redo them protected in a third store.
make_store "$T/c" yes "$hidden_pw"

view() {
	MEGAFS_STORE=$1 MEGAFS_PASSWORD=$outer_pw megafs status | grep -v '^store '
	MEGAFS_STORE=$1 MEGAFS_PASSWORD=$outer_pw megafs channel list | sed 's|megafs://[0-9a-f]*|LINK|'
}
view "$T/a" >"$T/view.a"
view "$T/b" >"$T/view.b"
view "$T/c" >"$T/view.c"
diff "$T/view.a" "$T/view.b" || fail "outer view differs with a hidden volume"
diff "$T/view.a" "$T/view.c" || fail "outer view differs with a protected hidden volume"
grep -q '^channels   1 owned, 0 subscribed$' "$T/view.a" || fail "$(cat "$T/view.a")"
ok "status and channel list are identical with and without a hidden volume"

for s in b c; do
	[ "$(stat -c %s "$T/a/data.mdb")" = "$(stat -c %s "$T/$s/data.mdb")" ] || fail "file size"
	[ "$(stat -c %s "$T/a/header")" = "$(stat -c %s "$T/$s/header")" ] || fail "header size"
done
ok "file sizes identical: $(stat -c %s "$T/a/data.mdb") bytes"

MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$hidden_pw megafs channel list | grep -q ' Secret (private)$' \
	|| fail "the hidden volume opens with its password"
MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$hidden_pw megafs extract "$T/secret.json" -o "$T/secret.out"
cmp "$T/secret" "$T/secret.out" || fail "hidden file after protected outer writes"
ok "hidden data survives outer writes made with --protect-file"

# Fill the outer volume as far as it may go, protected: the hidden file stays.
random_file "$T/filler" $((58 << 20))
MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$outer_pw MEGAFS_PROTECT_PASSWORD=$hidden_pw \
	megafs ingest "$T/filler" >/dev/null 2>&1 && fail "filler should not fit"
for n in $(seq 1 20); do
	random_file "$T/f$n" $((4 << 20))
	MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$outer_pw MEGAFS_PROTECT_PASSWORD=$hidden_pw \
		megafs ingest "$T/f$n" >/dev/null 2>&1 || break
done
free=$(MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$outer_pw MEGAFS_PROTECT_PASSWORD=$hidden_pw \
	megafs status | awk '/^free/ {print $2}')
[ "$free" -lt 100 ] || fail "outer volume not filled ($free free)"
MEGAFS_STORE=$T/c MEGAFS_PASSWORD=$hidden_pw megafs extract "$T/secret.json" -o "$T/secret.out2"
cmp "$T/secret" "$T/secret.out2" || fail "hidden file after filling the outer volume"
ok "outer volume filled to $free free slots with protection: hidden file intact"

MEGAFS_STORE=$T/c MEGAFS_PASSWORD="hidden passworD" \
	expect_fail "wrong password" megafs status
MEGAFS_STORE=$T/a MEGAFS_PASSWORD=$hidden_pw expect_fail "wrong password" megafs status
ok "the hidden volume is found only with its password"
finish
