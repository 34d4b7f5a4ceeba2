# The command line end to end: init, channels, ingest and extract round trips.
source "$(dirname "$0")/lib.sh"

megafs --version | grep -q '^megafs [0-9]' || fail "--version"
megafs help | grep -q 'megafs ingest' || fail "help lists commands"
megafs help ingest | grep -q 'usage: megafs ingest' || fail "help COMMAND"
expect_fail "unknown command" megafs frobnicate
expect_fail "no megafs store" megafs status
ok "version, help, unknown command, missing store"

megafs init --size 96M --kdf fast >"$T/init.out"
grep -q "1536 slots" "$T/init.out" || fail "init summary: $(cat "$T/init.out")"
expect_fail "already holds a store" megafs init --size 96M --kdf fast
ok "init makes a store once"

link=$(megafs channel new "Films")
[[ $link =~ ^megafs://[0-9a-f]{64}#[0-9a-f]{64}$ ]] || fail "private channel link $link"
open_link=$(megafs channel new --public "Open")
[[ $open_link =~ ^megafs://[0-9a-f]{64}$ ]] || fail "public channel link $open_link"
other="megafs://$(printf '%064d' 7)"
megafs channel subscribe "$other" "Someone else" >/dev/null
megafs channel list >"$T/list"
grep -q "^owned  *${link%%#*} seq=0 Films (private)$" "$T/list" || fail "list: $(cat "$T/list")"
grep -q "^owned  *$open_link seq=0 Open$" "$T/list" || fail "list: $(cat "$T/list")"
grep -q "^subscribed *$other seq=0 Someone else$" "$T/list" || fail "list: $(cat "$T/list")"
expect_fail "already knows" megafs channel subscribe "$other"
expect_fail "not a channel link" megafs channel subscribe "megafs://xyz"
ok "channel new (private by default, --public), subscribe, list"

chunk=$((1 << 20))
for size in 0 1 $chunk $((chunk + 1)) $((5 * chunk + 12345)); do
	random_file "$T/in.$size" "$size"
	megafs ingest "$T/in.$size" >"$T/e.$size" 2>/dev/null
	megafs extract "$T/e.$size" -o "$T/out.$size"
	cmp "$T/in.$size" "$T/out.$size" || fail "round trip of $size bytes"
done
ok "ingest/extract byte-identical at 0, 1, chunk, chunk+1 and 5 chunks+ bytes"

megafs ingest "$T/in.$chunk" --mode random --chunk-size 64K >"$T/r.json" 2>/dev/null
grep -q '"chunkSize":65536' "$T/r.json" || fail "chunk size option"
grep -q '"mode":"random"' "$T/r.json" || fail "mode option"
megafs extract "$T/r.json" -o - | cmp - "$T/in.$chunk" || fail "extract to stdout"
# A FIFO (or a device: -o /dev/null) is written where it is, not renamed over.
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/via-fifo" &
megafs extract "$T/r.json" -o "$T/fifo" || fail "extract into a FIFO"
wait $!
[ -p "$T/fifo" ] || fail "extract replaced the FIFO with a file"
cmp "$T/via-fifo" "$T/in.$chunk" || fail "extract into a FIFO gave other bytes"
megafs ingest "$T/in.1" --channel "$link" >/dev/null 2>&1 || fail "ingest --channel"
expect_fail "does not own" megafs ingest "$T/in.1" --channel "$other"
expect_fail "--mode takes" megafs ingest "$T/in.1" --mode xor
expect_fail "is not a regular file" megafs ingest "$T"
set +e
megafs ingest "$T/in.1" --mode random --global 2>/dev/null; [ $? -eq 2 ] || fail "usage errors exit 2"
megafs init --hidden --size 1M 2>/dev/null; [ $? -eq 2 ] || fail "init --hidden --size exits 2"
megafs status --bogus 2>"$T/bogus"; [ $? -eq 2 ] || fail "unknown options exit 2"
set -e
grep -q "^megafs status: unrecognized option" "$T/bogus" || fail "getopt names the command"
expect_fail "give one" megafs ingest "$T/in.1" --channel "$link" --global
ok "ingest options: mode, chunk size, channel; conflicting options exit 2"

before=$(megafs status | grep '^used')
megafs ingest "$T/in.$((5 * chunk + 12345))" 2>"$T/again.err" >/dev/null
grep -q "0 new blobs, 6 already stored" "$T/again.err" || fail "dedup: $(cat "$T/again.err")"
[ "$before" = "$(megafs status | grep '^used')" ] || fail "a second ingest took slots"
ok "a second convergent ingest costs zero new slots"

megafs status >"$T/status"
for line in store capacity used free blobs channels kdf; do
	grep -q "^$line " "$T/status" || fail "status lacks $line"
done
grep -q "^capacity   1536 slots " "$T/status" || fail "capacity: $(cat "$T/status")"
grep -q "^channels   2 owned, 1 subscribed$" "$T/status" || fail "status channels"
ok "status"

MEGAFS_PASSWORD= expect_fail "no password" setsid -w "$MEGAFS" status </dev/null
printf 'correct horse battery staple\n' >"$T/pwfile"
MEGAFS_PASSWORD=wrong megafs --store "$T/store" status --password-file "$T/pwfile" >/dev/null \
	|| fail "--password-file wins over the environment"
ok "password sources: file, environment, none"

# A pipe may deliver a password in pieces: all of it counts, not the first read.
pipe_store="$T/pipe-store"
(printf abc; sleep 0.5; printf 'defghij\n') |
	megafs --store "$pipe_store" init --size 16M --kdf fast --password-file /dev/stdin >/dev/null
MEGAFS_PASSWORD=abcdefghij megafs --store "$pipe_store" status >/dev/null \
	|| fail "the whole piped password does not open the volume"
MEGAFS_PASSWORD=abc expect_fail "wrong password" megafs --store "$pipe_store" status
ok "a password piped in pieces is read to its end"

printf '\n' >"$T/empty-pw"
expect_fail "is empty" megafs --store "$T/empty1" init --size 16M --kdf fast --password-file "$T/empty-pw"
: | expect_fail "is empty" megafs --store "$T/empty2" init --size 16M --kdf fast \
	--password-file /dev/stdin
[ ! -e "$T/empty1/header" ] && [ ! -e "$T/empty2/header" ] || fail "an empty password made a store"
long=$(head -c 4096 /dev/zero | tr '\0' x)
printf '%sx\n' "$long" >"$T/long-pw"
expect_fail "longer than 4096 bytes" megafs --store "$T/long1" init --size 16M --kdf fast \
	--password-file "$T/long-pw"
MEGAFS_PASSWORD="${long}x" expect_fail "longer than 4096 bytes" megafs status
[ ! -e "$T/long1/header" ] || fail "a password over the limit made a store"
printf '%s\n' "$long" >"$T/max-pw"
megafs --store "$T/long2" init --size 16M --kdf fast --password-file "$T/max-pw" >/dev/null \
	|| fail "a password of exactly 4096 bytes was refused"
MEGAFS_PASSWORD=$long megafs --store "$T/long2" status >/dev/null || fail "the 4096-byte password"
ok "empty passwords and passwords over 4096 bytes are refused; 4096 bytes are taken"

# The terminal: asked twice, never echoed; a mismatch changes nothing.
tty_store="$T/tty-store"
(sleep 0.5; printf 'typed-secret\n'; sleep 0.3; printf 'typed-secret\n') |
	env -u MEGAFS_PASSWORD script -qc "'$MEGAFS' --store '$tty_store' init --size 16M --kdf fast" \
	/dev/null >"$T/tty.out"
grep -q "New password:" "$T/tty.out" && grep -q "Repeat the password:" "$T/tty.out" \
	|| fail "prompts: $(cat -A "$T/tty.out")"
grep -q "typed-secret" "$T/tty.out" && fail "the password was echoed"
MEGAFS_PASSWORD=typed-secret megafs --store "$tty_store" status >/dev/null || fail "typed password"
(sleep 0.5; printf 'one\n'; sleep 0.3; printf 'two\n') |
	env -u MEGAFS_PASSWORD script -qc "'$MEGAFS' --store '$T/tty2' init --size 16M --kdf fast" \
	/dev/null >"$T/tty2.out" || true
grep -q "the two passwords differ; nothing was changed" "$T/tty2.out" || fail "mismatch"
[ ! -e "$T/tty2/header" ] || fail "a mismatched init made a store"
ok "terminal prompts: twice, without echo; a mismatch makes nothing"
MEGAFS_STORE=$T/fastkdf megafs init --size 1M --kdf fast 2>"$T/fast.err" >/dev/null
grep -q "warning: --kdf fast .*for tests only" "$T/fast.err" || fail "no warning for --kdf fast: $(cat "$T/fast.err")"
MEGAFS_STORE=$T/slowkdf megafs init --size 1M --kdf interactive 2>"$T/slow.err" >/dev/null
[ ! -s "$T/slow.err" ] || fail "a warning for a real preset: $(cat "$T/slow.err")"
ok "init --kdf fast warns that it is for tests only; the real presets do not"
finish
