# What `cmake --install` puts in place, used from there: the binary
# (--version, and a real mount that publishes and reads a file back), the
# man pages, the systemd units (systemd-analyze verify, with a broken copy
# that must fail; readiness and a clean stop through systemd's notify
# protocol, as the units' Type=notify needs), and bash completion (every
# option `megafs help COMMAND` lists is offered). The build directory is the
# one holding the binary under test.
source "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$MEGAFS")
PREFIX="$T/prefix"

cmake --install "$BUILD" --prefix "$PREFIX" >"$T/install.log" 2>&1 ||
	fail "cmake --install: $(tail -5 "$T/install.log")"
for f in bin/megafs share/man/man1/megafs.1 share/man/man7/megafs.7 \
	lib/systemd/system/megafs-tracker.service lib/systemd/user/megafs-serve@.service \
	share/bash-completion/completions/megafs; do
	[ -f "$PREFIX/$f" ] || fail "cmake --install did not install $f"
done
grep -q "^ExecStart=$PREFIX/bin/megafs tracker " "$PREFIX/lib/systemd/system/megafs-tracker.service" ||
	fail "the tracker unit does not run the installed binary: $(grep ExecStart "$PREFIX"/lib/systemd/system/*)"
ok "cmake --install --prefix puts binary, man pages, units and completion in place; the units name $PREFIX/bin/megafs"

MEGAFS="$PREFIX/bin/megafs" # from here on, the installed binary
version=$(megafs --version)
[[ $version =~ ^megafs\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "--version said '$version'"
megafs init --size 64M --kdf fast >/dev/null
link=$(megafs channel new "Installed")
mnt="$T/mnt"
mount_channel "$link" "$mnt"
random_file "$T/in" $((3 << 20))
cp "$T/in" "$mnt/file.bin"
cmp "$T/in" "$mnt/file.bin" || fail "cmp through a mount of the installed binary"
megafs umount "$mnt" || fail "umount with the installed binary"
mountpoint -q "$mnt" && fail "still mounted after megafs umount"
ok "the installed binary ($version) mounts a channel, publishes a 3 MiB file and reads it back"

# systemd-analyze verify looks the units' Documentation= pages up with man.
export MANPATH="$PREFIX/share/man" XDG_RUNTIME_DIR="$T/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
command -v systemd-analyze >/dev/null || fail "needs systemd-analyze (Debian's systemd; tools/deps.sh)"
systemd-analyze verify "$PREFIX/lib/systemd/system/megafs-tracker.service" >"$T/verify" 2>&1 ||
	fail "the tracker unit: $(cat "$T/verify")"
# An instance, as systemctl --user enable megafs-serve@KEY makes it.
key=${link#megafs://}
key=${key%%#*} # the channel alone: a unit name never holds the read key
cp "$PREFIX/lib/systemd/user/megafs-serve@.service" "$T/megafs-serve@$key.service"
systemd-analyze verify --user "$T/megafs-serve@$key.service" >"$T/verify" 2>&1 ||
	fail "the serve unit: $(cat "$T/verify")"
sed "s|^ExecStart=$PREFIX/bin/megafs|ExecStart=$T/nowhere/megafs|" \
	"$PREFIX/lib/systemd/system/megafs-tracker.service" >"$T/broken.service"
if systemd-analyze verify "$T/broken.service" >"$T/verify" 2>&1; then
	fail "systemd-analyze verify passed a unit whose binary does not exist"
fi
exposure=$(systemd-analyze security --offline=true "$PREFIX/lib/systemd/system/megafs-tracker.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
	fail "the tracker unit's sandbox: exposure '$exposure' (systemd-analyze security; at most 2.0 wanted)"
ok "systemd-analyze verify passes both units (a serve@ instance too) and fails a broken copy; the tracker's exposure is $exposure"

# The notify protocol: a datagram socket the test holds, as systemd would.
cat >"$T/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg + "\n")
        out.flush()
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notes" & PIDS+=($!)
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
wait_note() { # wait_note TEXT COUNT: the socket heard TEXT COUNT times
	for _ in $(seq 150); do
		[ "$(grep -cx "$1" "$T/notes" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "no '$1' (number $2) on the notify socket; heard: $(tr '\n' ' ' <"$T/notes" 2>/dev/null)"
}
NOTIFY_SOCKET="$T/notify.sock" "$MEGAFS" tracker --listen 127.0.0.1:0 --db "$T/tdb" \
	>"$T/tracker.out" 2>"$T/tracker.err" & tpid=$!
PIDS+=($tpid)
wait_note READY=1 1
grep -q "listening on ws://127.0.0.1:" "$T/tracker.out" || fail "READY=1 before the tracker listened"
kill -TERM "$tpid"
wait "$tpid" || fail "the tracker did not stop cleanly on SIGTERM: $(cat "$T/tracker.err")"
wait_note STOPPING=1 1
NOTIFY_SOCKET="$T/notify.sock" "$MEGAFS" serve --listen 127.0.0.1:0 "$key" \
	>"$T/serve.out" 2>"$T/serve.err" & spid=$!
PIDS+=($spid)
wait_note READY=1 2
grep -q "serving 1 channel on port" "$T/serve.out" || fail "serve is ready but says: $(cat "$T/serve.out")"
kill -TERM "$spid"
wait "$spid" || fail "serve did not stop cleanly on SIGTERM: $(cat "$T/serve.err")"
wait_note STOPPING=1 2
expect_fail "this volume does not know" megafs serve "$(printf '%064d' 7)"
expect_fail "is not a channel link" megafs serve "megafs://$(printf '%063d' 7)"
# A NOTIFY_SOCKET that names no socket systemd could have made (neither a
# path nor @abstract) is no reason to fail: the tracker runs, stops, exits 0.
NOTIFY_SOCKET="notify.sock" "$MEGAFS" tracker --listen 127.0.0.1:0 --db "$T/tdb" \
	>"$T/tracker2.out" 2>"$T/tracker2.err" & tpid=$!
PIDS+=($tpid)
wait_for 10 grep -q "listening on ws://127.0.0.1:" "$T/tracker2.out" ||
	fail "with NOTIFY_SOCKET=notify.sock the tracker did not start: $(cat "$T/tracker2.err")"
kill -TERM "$tpid"
wait "$tpid" || fail "with NOTIFY_SOCKET=notify.sock the tracker did not stop cleanly"
ok "tracker and serve say READY=1 once they listen and STOPPING=1 on SIGTERM, exiting 0 (the units' Type=notify)"

# Completion, as bash runs it for a user who presses TAB.
[ -r /usr/share/bash-completion/bash_completion ] ||
	fail "needs bash-completion (Debian's; tools/deps.sh installs it)"
complete_words() { # complete_words WORD...: what TAB offers after them
	bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_megafs megafs "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$PREFIX/share/bash-completion/completions/megafs" "$@"
}
[ "$(complete_words megafs mo)" = mount ] || fail "'megafs mo<TAB>' offered: $(complete_words megafs mo)"
offered=$(complete_words megafs channel s)
grep -qx subscribe <<<"$offered" || fail "'megafs channel s<TAB>' offered: $offered"
offered=$(complete_words megafs dht s)
[ "$offered" = status ] || fail "'megafs dht s<TAB>' offered: $offered"
for cmd in init channel ingest extract fsck mount tracker serve fetch; do
	if [ "$cmd" = channel ]; then # its options belong to its subcommands
		offered=$(for sub in new grant revoke; do complete_words megafs channel "$sub" --; done)
	else
		offered=$(complete_words megafs "$cmd" --)
	fi
	for opt in $(megafs help "$cmd" 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qx -- "$opt" <<<"$offered" || fail "'megafs $cmd --<TAB>' does not offer $opt"
	done
done
ok "bash completion offers commands, channel subcommands and every option megafs help lists"
finish
