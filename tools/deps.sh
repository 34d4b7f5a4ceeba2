#!/usr/bin/env bash
# Installs the Debian packages megafs needs to build and test, if missing.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libsodium-dev libssl-dev liblmdb-dev libisal-dev libjansson-dev libcriterion-dev libfuse3-dev fuse3
	libuv1-dev libwebsockets-dev libwebsockets-evlib-uv
	ffmpeg tcpdump iproute2 openssl
	util-linux coreutils binutils
	# forensics.sh: fincore, the page cache a session leaves behind
	util-linux-extra
	# net_full.sh: a small ext2 image on a loop device (mkfs.ext2, mount -o loop)
	e2fsprogs mount
	# The Mainline DHT's interop tests: real DHT nodes (dht_krpc.sh) and an
	# independent Ed25519 for the BEP 44 vectors (make_bep44_interop.py)
	python3-libtorrent python3-cryptography
	# The install test: systemd-analyze verify (and man, for the units'
	# Documentation=), bash completion; tools/package.sh: dpkg-shlibdeps
	systemd man-db bash-completion dpkg-dev
	# net_bt_tracker.sh: a BitTorrent leecher of another implementation
	aria2
	# net_socks.sh: two SOCKS5 servers (--proxy); net_socks.sh and net_tor.sh:
	# strace lists every connect and send of the process behind the proxy
	microsocks dante-server strace
	# net_tor.sh: a private Tor network on loopback (tor-gencert comes with it)
	tor
	# net_lossy.sh: packet loss between two network namespaces (no netem here)
	nftables
	# net_bootstrap.sh: a CDN's stand-in for domain fronting (routes by Host);
	# net_obfs4.sh, test_pt and test_node: Tor's obfs4 pluggable transport
	# (--transport obfs4 --pt), both ends; nDPI's ndpiReader (-d: no port
	# guessing) says what captures of the transports look like to a DPI box;
	# curl probes the tls seeder
	nginx-light obfs4proxy libndpi-bin curl
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tools/deps.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
