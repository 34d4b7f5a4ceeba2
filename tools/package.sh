#!/usr/bin/env bash
# Builds megafs's Debian package with CPack: a Release build of the binary
# in BUILD_DIR (default build-pkg/), then BUILD_DIR/megafs_VERSION_ARCH.deb,
# whose path it prints last. Its files install below /usr (binary, man
# pages, systemd units, bash completion, libmegafs with its header and
# pkg-config file); its dependencies are Debian's
# package names, found by dpkg-shlibdeps. Installs the build's own
# dependencies first (tools/deps.sh).
#
#   tools/package.sh [BUILD_DIR]
#   sudo dpkg -i BUILD_DIR/megafs_*.deb    (or apt-get install ./BUILD_DIR/megafs_*.deb)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-pkg}

tools/deps.sh
command -v dpkg-shlibdeps >/dev/null || {
	sudo=$([ "$(id -u)" = 0 ] || echo sudo)
	$sudo apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
}
# Only the binary and libmegafs are built: the package holds nothing else
# that compiles.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target megafs megafs_shared -- --no-print-directory >/dev/null
rm -f "$build"/megafs_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
ls "$build"/megafs_*.deb
