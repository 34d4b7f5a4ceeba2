#!/usr/bin/env bash
# tools/bench/transport.sh: the peer transports side by side on loopback:
# `megafs fetch --peer` of one random file from `megafs serve`, over plain
# tcp and over tls (net/tls_link), each run cold (the page cache dropped, a
# new subscriber store that holds the manifest). Per run: the wall time,
# MiB/s, and the bytes on the wire per byte of the file (IP bytes both ways,
# counted by an nftables rule on the server's port).
#
#   sudo tools/bench/transport.sh
#
# Environment:
#   BENCH_SIZE_MB     the file's size in MiB (default 256)
#   BENCH_REPEAT      runs of each transport (default 3)
#   BENCH_TRANSPORTS  which ones (default "tcp tls")
#   BENCH_BUILD       the tree's build directory (default build/)
#
# Needs root (drop_caches, nft). Everything it starts is ended on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
megafs=$(readlink -f "${BENCH_BUILD:-$root/build}/megafs")
size_mb=${BENCH_SIZE_MB:-256}
repeat=${BENCH_REPEAT:-3}
transports=${BENCH_TRANSPORTS:-"tcp tls"}
export MEGAFS_PASSWORD="bench-password"
unset MEGAFS_STORE MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD

die() { echo "transport.sh: $*" >&2; exit 1; }
[[ -x $megafs ]] || die "no megafs at $megafs (build it, or set BENCH_BUILD)"
(( EUID == 0 )) || die "needs root (drop_caches, nft)"
command -v nft >/dev/null || die "nft is missing (nftables)"

W=$(mktemp -d /var/tmp/mfs-transport-bench.XXXXXX)
serve_pid=""
cleanup() {
	[[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
	mountpoint -q "$W/mnt" && fusermount3 -u "$W/mnt"
	nft delete table inet mfs_transport_bench 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# The publisher's store and the file; the manifest every subscriber imports.
MEGAFS_STORE=$W/pub "$megafs" init --size $((size_mb * 5 / 4 + 64))M --kdf fast >/dev/null 2>&1
link=$(MEGAFS_STORE=$W/pub "$megafs" channel new bench)
head -c $((size_mb << 20)) /dev/urandom >"$W/file.bin"
mkdir -p "$W/mnt"
MEGAFS_STORE=$W/pub "$megafs" mount "$link" "$W/mnt"
cp "$W/file.bin" "$W/mnt/"
MEGAFS_STORE=$W/pub "$megafs" umount "$W/mnt"
MEGAFS_STORE=$W/pub "$megafs" channel export "$link" >"$W/manifest.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=cdn.example.org -keyout "$W/k.pem" -out "$W/c.pem" 2>/dev/null

count_port() {
	nft delete table inet mfs_transport_bench 2>/dev/null || true
	nft -f - <<NFT
table inet mfs_transport_bench {
	chain out { type filter hook output priority 0; tcp sport $1 counter; tcp dport $1 counter; }
}
NFT
}
counted() {
	nft list table inet mfs_transport_bench | grep -o 'bytes [0-9]*' | awk '{s += $2} END {print s}'
}

for transport in $transports; do
	serve_opts=() fetch_opts=()
	if [[ $transport == tls ]]; then
		serve_opts=(--transport tls --tls-cert "$W/c.pem" --tls-key "$W/k.pem")
		fetch_opts=(--transport tls --tls-sni cdn.example.org)
	fi
	MEGAFS_STORE=$W/pub "$megafs" serve --listen 127.0.0.1:0 "${serve_opts[@]}" >"$W/serve.out" 2>&1 &
	serve_pid=$!
	for _ in $(seq 100); do grep -q serving "$W/serve.out" && break; sleep 0.1; done
	port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$W/serve.out")
	key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$W/serve.out")
	[[ -n $port && -n $key ]] || die "megafs serve ($transport) did not start: $(cat "$W/serve.out")"
	for run in $(seq "$repeat"); do
		rm -rf "$W/sub" "$W/got.bin"
		MEGAFS_STORE=$W/sub "$megafs" init --size $((size_mb * 5 / 4 + 64))M --kdf fast >/dev/null 2>&1
		MEGAFS_STORE=$W/sub "$megafs" channel subscribe "$link" >/dev/null
		MEGAFS_STORE=$W/sub "$megafs" channel import "$W/manifest.json" >/dev/null
		count_port "$port"
		sync
		echo 3 >/proc/sys/vm/drop_caches
		start=$(date +%s%N)
		MEGAFS_STORE=$W/sub "$megafs" fetch "$link" file.bin -o "$W/got.bin" "${fetch_opts[@]}" \
			--peer "127.0.0.1:$port#$key" 2>"$W/fetch.err" || die "fetch ($transport): $(cat "$W/fetch.err")"
		ms=$((($(date +%s%N) - start) / 1000000))
		cmp -s "$W/file.bin" "$W/got.bin" || die "the file fetched over $transport differs"
		bytes=$(counted)
		printf '%s run %d: %d MiB in %d ms, %.1f MiB/s, %.4f bytes on the wire per byte\n' \
			"$transport" "$run" "$size_mb" "$ms" "$(echo "$size_mb * 1000 / $ms" | bc -l)" \
			"$(echo "$bytes / ($size_mb * 1048576)" | bc -l)"
	done
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null || true
	serve_pid=""
done
