# libmegafs as another program uses it (issue 14, part 4): `cmake --install`
# into a temporary prefix, then tests/embed/embed.c built there with only
# the installed header and `pkg-config --cflags --libs megafs`, run against
# a real `megafs tracker` and a real seeder (`megafs serve`): it publishes a
# file into a channel, fetches it from the seeder into another store (cmp,
# progress told) and a byte range of it (cmp with those bytes); then
# tools/examples/fetch.py (ctypes, /usr/bin/python3) fetches the same file;
# last, the library itself seeds (embed serve) and the megafs command
# fetches from it. The library exports megafs_* alone (nm -D), every
# function of the header among them, under the soname libmegafs.so.0.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(dirname "$MEGAFS")
PREFIX="$T/prefix"

cmake --install "$BUILD" --prefix "$PREFIX" >"$T/install.log" 2>&1 ||
	fail "cmake --install: $(tail -5 "$T/install.log")"
pc=$(find "$PREFIX" -name megafs.pc)
so=$(find "$PREFIX" -name libmegafs.so.0)
for f in "$pc" "$so" "$PREFIX/include/megafs.h" "$PREFIX/share/man/man3/libmegafs.3"; do
	[ -n "$f" ] && [ -f "$f" ] || fail "cmake --install did not install $f: $(find "$PREFIX" -type f | tr '\n' ' ')"
done
[ "$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = libmegafs.so.0 ] ||
	fail "the soname is not libmegafs.so.0: $(readelf -d "$so" | grep -i soname)"
ok "cmake --install puts libmegafs.so.0 (soname libmegafs.so.0), megafs.h, megafs.pc and libmegafs(3) in $PREFIX"

# What the library exports: the header's functions, and nothing else.
nm -D --defined-only "$so" | awk '{print $3}' | sort >"$T/exported"
others=$(grep -v '^megafs_' "$T/exported" || true)
[ -z "$others" ] || fail "libmegafs exports more than megafs_*: $(tr '\n' ' ' <<<"$others" | head -c 500)"
grep -o 'megafs_[a-z_]*(' "$PREFIX/include/megafs.h" | tr -d '(' | sort -u >"$T/declared"
missing=$(comm -23 "$T/declared" "$T/exported")
[ -z "$missing" ] || fail "declared in megafs.h but not exported: $missing"
extra=$(comm -13 "$T/declared" "$T/exported")
[ -z "$extra" ] || fail "exported but not declared in megafs.h: $extra"
ok "nm -D: libmegafs exports exactly the $(wc -l <"$T/exported") functions megafs.h declares"

# The program, built as its user would: a copy away from the source tree,
# the installed header and library through pkg-config alone.
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs megafs) || fail "pkg-config --cflags --libs megafs failed"
[[ $flags == *"-I$PREFIX/include"* && $flags == *-lmegafs* ]] || fail "pkg-config said '$flags'"
pkg-config --exists 'megafs >= 0.1' || fail "pkg-config: megafs's version is $(pkg-config --modversion megafs)"
cp "$ROOT/tests/embed/embed.c" "$T/embed.c"
cc -std=c17 -Wall -Wextra -Werror -o "$T/embed" "$T/embed.c" $flags 2>"$T/cc.log" ||
	fail "cc embed.c \$(pkg-config --cflags --libs megafs): $(cat "$T/cc.log")"
export LD_LIBRARY_PATH="$(dirname "$so")"
embed() { "$T/embed" "$@"; }
[ "$(ldd "$T/embed" | awk '$1 == "libmegafs.so.0" {print $3}')" = "$so" ] ||
	fail "embed does not load the installed library: $(ldd "$T/embed" | grep megafs)"
ok "embed.c builds with cc \$(pkg-config --cflags --libs megafs) ($flags) and loads $so"

MEGAFS="$PREFIX/bin/megafs" # the installed command, beside the library
start_tracker "$T/tdb"
PUB="$T/pub"
for store in "$PUB" "$T/fetcher" "$T/py" "$T/again"; do
	MEGAFS_STORE=$store megafs init --size 64M --kdf fast >/dev/null 2>"$T/init.log" ||
		fail "megafs init: $(cat "$T/init.log")"
done
embed "$PUB" new Films >"$T/new.out" || fail "embed new: $(cat "$T/new.out")"
link=$(grep '^megafs://' "$T/new.out")
random_file "$T/in" $((5 << 20))
embed "$PUB" publish "$link" "Season 1/film.bin" "$T/in" >"$T/pub.out" ||
	fail "embed publish: $(cat "$T/pub.out")"
grep -q "as sequence 1" "$T/pub.out" || fail "embed publish said: $(cat "$T/pub.out")"
embed "$PUB" list | grep -q "^owned $link seq=1 Films" || fail "embed list: $(embed "$PUB" list)"
ok "embed made a channel and published a 5 MiB file into it through the library"

MEGAFS_STORE=$PUB "$MEGAFS" serve --listen 127.0.0.1:0 --tracker "$TRACKER_URL" \
	>"$T/serve.out" 2>&1 & serve_pid=$!
PIDS+=("$serve_pid")
wait_for 10 grep -q "serving" "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"

timeout 60 "$T/embed" "$T/fetcher" fetch "$link" "Season 1/film.bin" "$T/out" "$TRACKER_URL" \
	>"$T/fetch.out" 2>"$T/fetch.err" || fail "embed fetch: $(cat "$T/fetch.out" "$T/fetch.err")"
cmp "$T/in" "$T/out" || fail "the file embed fetched differs"
told=$(grep -c '^progress ' "$T/fetch.err" || true)
[ "$told" -ge 5 ] || fail "progress told $told times for 5 MiB: $(cat "$T/fetch.err")"
[ "$(grep '^progress ' "$T/fetch.err" | tail -1)" = "progress $((5 << 20)) $((5 << 20))" ] ||
	fail "the last progress was $(grep '^progress ' "$T/fetch.err" | tail -1)"
ok "embed fetched the file from megafs serve through the tracker (cmp equal), progress told $told times up to 5 MiB"

off=1234567 len=300000
timeout 60 "$T/embed" "$T/fetcher" range "$link" "Season 1/film.bin" $off $len "$T/range" \
	"$TRACKER_URL" >"$T/range.out" 2>&1 || fail "embed range: $(cat "$T/range.out")"
cmp <(tail -c +$((off + 1)) "$T/in" | head -c $len) "$T/range" || fail "the range differs"
ok "embed fetched bytes $off..$((off + len)) of it (cmp equal)"

timeout 60 /usr/bin/python3 "$ROOT/tools/examples/fetch.py" --lib "$so" --store "$T/py" \
	--tracker "$TRACKER_URL" "$link" "Season 1/film.bin" "$T/py.out" >"$T/py.log" 2>&1 ||
	fail "fetch.py: $(cat "$T/py.log")"
cmp "$T/in" "$T/py.out" || fail "the file fetch.py fetched differs"
grep -q "^progress $((5 << 20)) $((5 << 20))$" "$T/py.log" || fail "fetch.py heard no progress: $(cat "$T/py.log")"
ok "tools/examples/fetch.py (ctypes) fetched the same file (cmp equal), progress told"

# The library as the seeder: megafs serve stops, embed serves, megafs fetches.
kill "$serve_pid"
wait "$serve_pid" || fail "megafs serve did not stop cleanly"
# embed serves until its stdin ends: a fifo this script holds open.
mkfifo "$T/serve.in"
"$T/embed" "$PUB" serve "$TRACKER_URL" <"$T/serve.in" >"$T/embed-serve.out" 2>&1 & embed_pid=$!
PIDS+=("$embed_pid")
exec 3>"$T/serve.in"
wait_for 10 grep -q "^serving on port " "$T/embed-serve.out" ||
	fail "embed serve did not start: $(cat "$T/embed-serve.out")"
serving=$(grep "^serving on port " "$T/embed-serve.out")
MEGAFS_STORE="$T/again" timeout 60 "$MEGAFS" fetch "$link" "Season 1/film.bin" -o "$T/again.out" \
	--tracker "$TRACKER_URL" >"$T/again.log" 2>&1 || fail "megafs fetch from embed: $(cat "$T/again.log")"
cmp "$T/in" "$T/again.out" || fail "the file fetched from the library's server differs"
exec 3>&- # stdin ends: embed stops its server and closes the store
wait "$embed_pid" || fail "embed serve exited $?: $(cat "$T/embed-serve.out")"
[ "$(tail -1 "$T/embed-serve.out")" = stopped ] || fail "embed serve said: $(cat "$T/embed-serve.out")"
ok "megafs fetch got the file from the library's own server ($serving; cmp equal); it stopped cleanly"
finish
