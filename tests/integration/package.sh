# The Debian package tools/package.sh builds: its control fields (Debian's
# package names as dependencies, the lws plugin loaded at run time among
# them) and contents, then installed with dpkg on this machine: megafs on
# PATH, its man page found by man, the units where systemd looks, libmegafs
# known to ldconfig and pkg-config; removed
# again at the end (also on failure). Skipped, saying why, when not root
# or when a megafs package is installed already (it is not ours to replace).
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

"$ROOT/tools/package.sh" "$T/pkg" >"$T/package.log" 2>&1 ||
	fail "tools/package.sh: $(tail -5 "$T/package.log")"
deb=$(tail -1 "$T/package.log")
[ -f "$deb" ] || fail "tools/package.sh printed no package: $(tail -3 "$T/package.log")"
dpkg-deb --info "$deb" >"$T/info"
depends=$(sed -n 's/^ Depends: //p' "$T/info")
for need in fuse3 libfuse3-3 libsodium23 liblmdb0 libuv1 libjansson4 libssl3 libwebsockets17 \
	libwebsockets-evlib-uv libisal2; do
	grep -qE "(^|, )$need( |,|$)" <<<"$depends" || fail "the package does not depend on $need: $depends"
done
grep -q "^ Package: megafs$" "$T/info" || fail "not a megafs package: $(cat "$T/info")"
dpkg-deb --contents "$deb" | awk '{print $6}' >"$T/contents"
for f in ./usr/bin/megafs ./usr/share/man/man1/megafs.1 ./usr/share/man/man7/megafs.7 \
	./usr/lib/systemd/system/megafs-tracker.service ./usr/lib/systemd/user/megafs-serve@.service \
	./usr/share/bash-completion/completions/megafs ./usr/lib/libmegafs.so.0 ./usr/include/megafs.h \
	./usr/lib/pkgconfig/megafs.pc ./usr/share/man/man3/libmegafs.3; do
	grep -qx -- "$f" "$T/contents" || fail "the package lacks $f: $(tr '\n' ' ' <"$T/contents")"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/megafs-tracker.service |
	grep -q '^ExecStart=/usr/bin/megafs tracker ' || fail "the packaged unit does not run /usr/bin/megafs"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/pkgconfig/megafs.pc | grep -x 'prefix=/usr' >/dev/null ||
	fail "the packaged megafs.pc does not name /usr"
ok "$(basename "$deb"): depends on Debian's packages ($depends), holds binary, man pages, units, completion, libmegafs (header, megafs.pc, libmegafs(3))"

if [ "$(id -u)" != 0 ]; then
	echo "   skipped: installing the package needs root"
elif dpkg-query -W -f='${Status}' megafs 2>/dev/null | grep -q "install ok installed"; then
	echo "   skipped: a megafs package is installed on this machine already; not replacing it"
else
	cleanup_package() { dpkg -P megafs >/dev/null 2>&1 || true; cleanup; }
	trap cleanup_package EXIT
	dpkg -i "$deb" >"$T/dpkg.log" 2>&1 || fail "dpkg -i: $(tail -5 "$T/dpkg.log")"
	[ "$(type -P megafs)" = /usr/bin/megafs ] || fail "megafs on PATH is '$(type -P megafs)'"
	installed=$(megafs_on_path=$(type -P megafs) && "$megafs_on_path" --version)
	[ "$installed" = "$("$MEGAFS" --version)" ] || fail "the installed megafs says '$installed'"
	[ -f /usr/lib/systemd/system/megafs-tracker.service ] || fail "the tracker unit is not where systemd looks"
	man -w megafs >/dev/null 2>&1 || fail "man does not find megafs(1) once installed"
	ldconfig -p | grep -E "^\s*libmegafs\.so\.0 .*=> (/usr)?/lib/libmegafs\.so\.0$" >/dev/null ||
		fail "ldconfig does not know libmegafs.so.0 once installed"
	[ "$(pkg-config --modversion megafs 2>&1)" = "${installed#megafs }" ] ||
		fail "pkg-config megafs says '$(pkg-config --modversion megafs 2>&1)'"
	dpkg -P megafs >"$T/dpkg.log" 2>&1 || fail "dpkg -P: $(tail -5 "$T/dpkg.log")"
	[ ! -e /usr/bin/megafs ] || fail "/usr/bin/megafs is left after dpkg -P"
	ldconfig -p | grep libmegafs.so.0 >/dev/null && fail "ldconfig still knows libmegafs.so.0 after dpkg -P"
	ok "dpkg -i puts megafs on PATH (/usr/bin/megafs: $installed), man finds megafs(1), ldconfig and pkg-config find libmegafs; dpkg -P (purge: its postrm runs ldconfig, so -r would leave its record) removes them"
fi
finish
