#!/usr/bin/env bash
# tools/bench/transport.sh: issue 13's benchmark table. `megafs fetch` of a
# random file from `megafs serve` over each peer transport (tcp, tls, obfs4
# through obfs4proxy, Tor through a private Tor network), beside aria2c
# fetching the same file over HTTP from nginx, on five links: loopback, and
# a veth pair between two network namespaces clean, at 10 % and at 40 %
# packet loss, and held to 256 kbit/s. One table: per row MiB/s, the time to
# first byte and the bytes on the wire per byte delivered.
#
#   sudo tools/bench/transport.sh
#
# The setup. Namespace A holds every server: megafs serve (one per
# transport; obfs4proxy in front of the obfs4 one), nginx, and the Tor
# network (3 nodes that are each directory authority, relay and exit, as
# tests/integration/net_tor.sh makes it), all on A's veth address
# 10.231.9.1. Namespace B holds nothing but the veth's other end. The
# loopback rows run the subscriber in A (to 10.231.9.1, i.e. over lo); the
# veth rows run it in B. Tor: a Tor client in A (loopback rows; it binds
# its connections to 127.0.0.2 so they can be counted) and one in B (veth
# rows); megafs fetch --proxy socks5 to the client of its namespace, --peer
# the tcp seeder, which an exit in A reaches. The Tor clients stay up for
# the whole run: only the first circuit is built before the measuring.
# Links: loss is dropped on arrival, in each namespace's prerouting hook
# (nftables numgen random mod 100 < N drop), both ways; a drop on the way
# out (net_lossy.sh) would tell the sender's TCP its segment was not sent,
# which is no loss at all. 256 kbit/s: tc tbf rate 256kbit burst 4kb
# latency 400ms on both ends (this kernel has no netem, so no delay).
#
# The columns, each the median of BENCH_REPEAT runs; every run is cold: the
# page cache dropped (both sides read from disk), a new subscriber store
# holding only the channel's manifest (megafs) or an empty directory (aria2c).
#   MiB/s: file size / wall time of the download, from starting the command
#     (megafs fetch, aria2c) to its exit; the output is compared with the
#     source afterwards.
#   first byte (ms): from starting the command until the first 16 bytes of
#     the file are in its output file (tools/bench/first_write.py polls it
#     every 2 ms), in the same run. megafs fetch checks each chunk (1 MiB)
#     before writing it, so this is its first verified chunk; aria2c runs
#     with --disk-cache=0 so what it gets reaches the file at once.
#   wire/B: IP bytes that crossed the link, both ways, per byte of the
#     file, counted by an nftables rule in the prerouting hook of the
#     receiver, before the loss rule (bytes lost on the link count; what
#     tbf drops from a full queue at the sender never left and does not).
#     Loopback: the packets to or from the
#     server's port (the obfs4 bridge's for obfs4: obfs4proxy to obfs4proxy;
#     the Tor client's 127.0.0.2 for Tor: client to its guard); veth: every
#     packet on the veth, both namespaces (for Tor: the client's traffic with
#     its guard, the directory fetches it makes meanwhile included).
# A run that fails or passes its timeout ends the cell: "timeout" or
# "failed" (the reason in the log above the table), the other runs skipped.
#
# Environment:
#   BENCH_TRANSPORTS  rows of each link (default "tcp tls obfs4 tor aria2c")
#   BENCH_LINKS       default "loopback veth loss10 loss40 slow256"
#   BENCH_REPEAT      cold runs per cell, the median shown (default 3)
#   BENCH_SIZE_MB     file size of the loopback and clean veth rows (default 64)
#   BENCH_LOSS10_MB   file size at 10 % loss (default 16)
#   BENCH_LOSS40_MB   file size at 40 % loss (default 1: 0.5 to 3 minutes
#                     a run for megafs, as measured here)
#   BENCH_SLOW_MB     file size at 256 kbit/s (default 1: about 33 s)
#   BENCH_TIMEOUT_S   longest one transfer may take (default 150)
#   BENCH_BUILD       the tree's build directory (default build/)
#   BENCH_TMPDIR      scratch space (default /var/tmp)
#   BENCH_RTO_MAX_MS  net.ipv4.tcp_rto_max_ms in both namespaces, set before
#                     anything starts there (Linux 6.15+; the kernel's default
#                     is 120000). megafs bounds its own sockets' backoff at
#                     1 s; this bounds the others' too (obfs4proxy's, Tor's,
#                     aria2c's, nginx's), which megafs cannot set.
#
# Needs root (network namespaces, nft, tc, drop_caches), and aria2, nginx,
# obfs4proxy, tor (tools/deps.sh installs them). Everything it starts is
# ended on exit, also on failure or Ctrl-C: every process in its two
# namespaces, the namespaces, its scratch directory.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
megafs=$(readlink -f "${BENCH_BUILD:-$root/build}/megafs")
transports=${BENCH_TRANSPORTS:-"tcp tls obfs4 tor aria2c"}
links=${BENCH_LINKS:-"loopback veth loss10 loss40 slow256"}
repeat=${BENCH_REPEAT:-3}
op_timeout=${BENCH_TIMEOUT_S:-150}
declare -A SIZE=([loopback]=${BENCH_SIZE_MB:-64} [veth]=${BENCH_SIZE_MB:-64}
	[loss10]=${BENCH_LOSS10_MB:-16} [loss40]=${BENCH_LOSS40_MB:-1} [slow256]=${BENCH_SLOW_MB:-1})
declare -A LINK_NAME=([loopback]="loopback" [veth]="veth 0 %" [loss10]="veth 10 %"
	[loss40]="veth 40 %" [slow256]="veth 256k")
python=/usr/bin/python3
export MEGAFS_PASSWORD="bench-password"
unset MEGAFS_STORE MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD

die() { echo "transport.sh: $*" >&2; exit 1; }
log() { echo "transport.sh: $*" >&2; }

[[ -x $megafs ]] || die "no megafs at $megafs (build it, or set BENCH_BUILD)"
(( EUID == 0 )) || die "needs root (network namespaces, nft, tc, drop_caches)"
for v in repeat op_timeout; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
for l in $links; do
	[[ -n ${LINK_NAME[$l]:-} ]] || die "BENCH_LINKS: unknown '$l'"
	[[ ${SIZE[$l]} =~ ^[1-9][0-9]*$ ]] || die "the file size of $l must be a positive integer"
done
for t in $transports; do
	[[ $t =~ ^(tcp|tls|obfs4|tor|aria2c)$ ]] || die "BENCH_TRANSPORTS: unknown '$t'"
done
has() { [[ " $transports " == *" $1 "* ]]; }
for tool in ip nft tc nsenter; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
has obfs4 && { command -v obfs4proxy >/dev/null || die "obfs4proxy is missing"; }
has aria2c && { command -v aria2c >/dev/null && command -v nginx >/dev/null ||
	die "aria2c or nginx is missing"; }
has tor && { command -v tor >/dev/null && command -v tor-gencert >/dev/null ||
	die "tor is missing"; }

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-transport-bench.XXXXXX")
: >"$work/pids"
: >"$work/mounts"
mfs_dir=$work
# register_pid, release_all, remove_work, secs/ms/mibps/median,
# drop_caches, free_port, wait_line.
source "$script_dir/netlib.sh"
source "$root/tests/integration/veth.sh"

A=mfsbenchA$$ B=mfsbenchB$$ VA=vbA$$ VB=vbB$$
SRV=10.231.9.1 CLI=10.231.9.2
cleanup() {
	local ns
	set +e
	trap - INT TERM
	release_all
	# Whatever still runs in the namespaces (a PT a killed fetch left).
	for ns in "$A" "$B"; do
		[[ -e /run/netns/$ns ]] || continue
		ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns"
	done
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_ns NS CMD...: CMD in the network namespace NS (only: the mounts stay
# the host's). In the background the script calls nsenter itself, so that
# $! is the command's PID (nsenter execs it), not a subshell's.
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# --- the namespaces and the veth ---------------------------------------------
veth_pair "$A" "$B" "$VA" "$VB" "$SRV" "$CLI"
rto_note="the kernel's TCP backoff bound"
if [[ -n ${BENCH_RTO_MAX_MS:-} ]]; then
	for ns in "$A" "$B"; do
		in_ns "$ns" sysctl -qw net.ipv4.tcp_rto_max_ms="$BENCH_RTO_MAX_MS" ||
			die "cannot set net.ipv4.tcp_rto_max_ms (Linux 6.15 or later)"
	done
	rto_note="net.ipv4.tcp_rto_max_ms=$BENCH_RTO_MAX_MS in both namespaces"
fi

# set_link LINK: the veth's loss and rate for LINK (loopback and veth: none).
set_link() {
	local ns dev pct=""
	for ns in "$A:$VA" "$B:$VB"; do
		dev=${ns#*:} ns=${ns%%:*}
		in_ns "$ns" nft delete table inet mfsbench_loss 2>/dev/null || true
		tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
		case $1 in
		loss10) pct=10 ;;
		loss40) pct=40 ;;
		slow256) slow_link "$ns" "$dev" ;;
		esac
		[[ -z $pct ]] || drop_arriving "$ns" "$dev" "$pct" mfsbench_loss
	done
}

# count_start LINK MATCH...: a fresh byte counter in both namespaces, of
# what arrives (before the loss rules drop any: it crossed the link; what a
# full tbf queue drops at the sender never left): on the veth for the veth
# links, else the packets on lo matching each MATCH.
count_start() {
	local l=$1 ns rules="" m
	shift
	if [[ $l == loopback ]]; then
		for m in "$@"; do
			rules+="iifname \"lo\" $m counter; "
		done
	fi
	for ns in "$A:$VA" "$B:$VB"; do
		[[ $l == loopback ]] || rules="iifname \"${ns#*:}\" counter;"
		in_ns "${ns%%:*}" nft delete table inet mfsbench_count 2>/dev/null || true
		in_ns "${ns%%:*}" nft -f - <<NFT
table inet mfsbench_count {
	chain in { type filter hook prerouting priority -400; policy accept; $rules }
}
NFT
	done
}
# loss_seen: the share of the packets arriving on the veth that the loss
# rules dropped, both namespaces, since set_link ("-" without loss rules).
loss_seen() {
	local ns
	for ns in "$A" "$B"; do
		in_ns "$ns" nft list table inet mfsbench_loss 2>/dev/null || true
	done | awk '/counter packets/ { n = $0; sub(/.*counter packets /, "", n); sub(/ .*/, "", n)
			if (/drop/) d += n; else a += n }
		END { if (a) printf "%.1f %% of %d", 100 * d / a, a; else print "-" }'
}

count_bytes() {
	local ns
	for ns in "$A" "$B"; do
		in_ns "$ns" nft list table inet mfsbench_count
	done | grep -o 'bytes [0-9]*' | awk '{ s += $2 } END { print s + 0 }'
}

# --- the files, the publisher, the servers -------------------------------------
mkdir -p "$work/files" "$work/pubmnt"
declare -A FILE # FILE[MiB]: the source file of that size
pub_mb=64
for l in $links; do
	mb=${SIZE[$l]}
	[[ -n ${FILE[$mb]:-} ]] && continue
	FILE[$mb]="$work/files/f$mb.bin"
	head -c $((mb << 20)) /dev/urandom >"${FILE[$mb]}"
	pub_mb=$((pub_mb + mb * 5 / 4))
done
log "publisher: a store of ${pub_mb} MiB, a channel holding $(ls "$work/files" | paste -sd' ')"
"$megafs" --store "$work/pub" init --size "${pub_mb}M" --kdf fast >/dev/null 2>&1
link=$("$megafs" --store "$work/pub" channel new bench)
"$megafs" --store "$work/pub" mount "$link" "$work/pubmnt" >/dev/null
register_mount megafs "$work/pubmnt"
cp "$work"/files/*.bin "$work/pubmnt/"
"$megafs" --store "$work/pub" umount "$work/pubmnt"
"$megafs" --store "$work/pub" channel export "$link" >"$work/manifest.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=cdn.example.org -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null

declare -A PEER PORT # per transport: what fetch gives to --peer, the port on the wire
# serve TRANSPORT OPTIONS...: megafs serve in A on SRV:PORT.
serve() {
	local t=$1 out="$work/serve-$1.out" port pid
	shift
	port=$(free_port)
	nsenter --net="/run/netns/$A" "$megafs" --store "$work/pub" serve --listen "$SRV:$port" "$@" >"$out" 2>&1 &
	pid=$!
	register_pid "$pid"
	if [[ $t == obfs4 ]]; then
		wait_line "$out" 'obfs4 bridge' "$pid" 30 || die "megafs serve ($t) did not start: $(cat "$out")"
		PEER[$t]=$(sed -n 's/^megafs serve: obfs4 bridge //p' "$out")
	else
		wait_line "$out" 'serving' "$pid" 30 || die "megafs serve ($t) did not start: $(cat "$out")"
		PEER[$t]="$SRV:$port#$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$out")"
	fi
	PORT[$t]=$port
}
if has tcp || has tor; then serve tcp; fi
has tls && serve tls --transport tls --tls-cert "$work/c.pem" --tls-key "$work/k.pem"
has obfs4 && serve obfs4 --transport obfs4 --pt "$(command -v obfs4proxy)"

if has aria2c; then
	PORT[aria2c]=$(free_port)
	mkdir -p "$work/nginx"
	cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events {}
http {
	access_log off;
	sendfile on;
	client_body_temp_path $work/nginx;
	proxy_temp_path $work/nginx;
	fastcgi_temp_path $work/nginx;
	uwsgi_temp_path $work/nginx;
	scgi_temp_path $work/nginx;
	server { listen $SRV:${PORT[aria2c]}; root $work/files; }
}
CONF
	nsenter --net="/run/netns/$A" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
	register_pid $!
	for _ in $(seq 100); do
		in_ns "$A" bash -c "exec 3<>/dev/tcp/$SRV/${PORT[aria2c]}" 2>/dev/null && break
		sleep 0.1
	done
fi

# --- Tor: a private network in A, a client in A and one in B -------------------
declare -A SOCKS # SOCKS[namespace]: its Tor client's SOCKS port
# The nodes' and the clients' torrc: tests/integration/tornet.sh.
source "$root/tests/integration/tornet.sh"
tor_network() {
	local why n ns
	why=$(tornet_nodes "$work/tor" "$SRV") || die "$why"
	SOCKS[$A]=$(free_port)
	SOCKS[$B]=$(free_port)
	# Counted by this address on loopback.
	tornet_client "$work/tor" clientA "${SOCKS[$A]}" "OutboundBindAddress 127.0.0.2"
	tornet_client "$work/tor" clientB "${SOCKS[$B]}"
	for n in a1 a2 a3 clientA clientB; do
		ns=$A
		[[ $n == clientB ]] && ns=$B
		nsenter --net="/run/netns/$ns" tor -f "$work/tor/$n/torrc" --quiet >"$work/tor/$n/stdout" 2>&1 &
		register_pid $!
	done
	for n in clientA clientB; do
		for _ in $(seq 900); do
			tornet_bootstrapped "$work/tor" "$n" && break
			sleep 0.1
		done
		tornet_bootstrapped "$work/tor" "$n" ||
			die "the Tor client $n did not bootstrap in 90 s: $(tail -3 "$work/tor/$n/notice.log")"
	done
}
if has tor; then
	log "starting a private Tor network (3 relays in A, a client in A and one in B)"
	tor_network
	log "Tor bootstrapped"
fi

# --- one run -------------------------------------------------------------------
# run_once TRANSPORT LINK: one cold download; appends to RATE, TTFB, WIRE,
# or returns 1 with STATUS "timeout" or "failed".
run_once() {
	local t=$1 l=$2 mb=${SIZE[$2]} ns=$B out="$work/out" src pid poll rc=0 t0 t1 tf
	local -a cmd
	src=${FILE[$mb]}
	[[ $l == loopback ]] && ns=$A
	rm -rf "$work/sub" "$out"
	mkdir -p "$out"
	case $t in
	aria2c)
		cmd=(aria2c --dir="$out" --out=f.bin --file-allocation=none --disk-cache=0
			--max-tries=0 --retry-wait=1 --allow-overwrite=true --auto-file-renaming=false
			--summary-interval=0 --console-log-level=warn --download-result=hide
			"http://$SRV:${PORT[aria2c]}/${src##*/}")
		;;
	*)
		"$megafs" --store "$work/sub" init --size $((mb * 5 / 4 + 64))M --kdf fast >/dev/null 2>&1
		"$megafs" --store "$work/sub" channel subscribe "$link" >/dev/null
		"$megafs" --store "$work/sub" channel import "$work/manifest.json" >/dev/null
		cmd=("$megafs" --store "$work/sub" fetch "$link" "${src##*/}" -o "$out/f.bin")
		case $t in
		tcp) cmd+=(--peer "${PEER[tcp]}") ;;
		tls) cmd+=(--transport tls --tls-sni cdn.example.org --peer "${PEER[tls]}") ;;
		obfs4) cmd+=(--transport obfs4 --pt "$(command -v obfs4proxy)" --peer "${PEER[obfs4]}") ;;
		tor) cmd+=(--proxy "socks5://127.0.0.1:${SOCKS[$ns]}" --peer "${PEER[tcp]}") ;;
		esac
		;;
	esac
	case $t in
	tor) count_start "$l" "ip saddr 127.0.0.2" "ip daddr 127.0.0.2" ;;
	*) count_start "$l" "tcp sport ${PORT[$t]}" "tcp dport ${PORT[$t]}" ;;
	esac
	drop_caches
	"$python" "$script_dir/first_write.py" --src "$src" --timeout "$op_timeout" \
		"$out/f.bin.part" "$out/f.bin" >"$work/first" &
	poll=$!
	register_pid "$poll"
	wait_line "$work/first" '^ready' "$poll" 10 || die "first_write.py did not start"
	t0=$EPOCHREALTIME
	timeout -k 10 "$op_timeout" nsenter --net="/run/netns/$ns" "${cmd[@]}" >"$work/run.log" 2>&1 &
	pid=$!
	register_pid "$pid"
	wait "$pid" || rc=$?
	t1=$EPOCHREALTIME
	kill "$poll" 2>/dev/null || true
	wait "$poll" 2>/dev/null || true
	if (( rc == 124 || rc == 137 )); then
		STATUS=timeout
		log "  $t over $l: no whole file after $op_timeout s: $(tail -2 "$work/run.log" | paste -sd' ')"
		return 1
	elif (( rc != 0 )); then
		STATUS=failed
		log "  $t over $l: failed ($rc) after $(secs "$t0" "$t1") s: $(tail -3 "$work/run.log" | paste -sd' ')"
		return 1
	elif ! cmp -s "$src" "$out/f.bin"; then
		STATUS=failed
		log "  $t over $l: the file downloaded differs from the source"
		return 1
	fi
	tf=$(sed -n 2p "$work/first")
	RATE+=("$(awk -v mb="$mb" -v s="$(secs "$t0" "$t1")" \
		'BEGIN { printf(mb / s < 1 ? "%.3f" : "%.1f", mb / s) }')")
	TTFB+=("$( [[ -n $tf ]] && ms "$(secs "$t0" "$tf")" || echo -)")
	WIRE+=("$(awk -v b="$(count_bytes)" -v n=$((mb << 20)) 'BEGIN { printf "%.3f", b / n }')")
	log "  $t over $l, $mb MiB: ${RATE[-1]} MiB/s, first byte ${TTFB[-1]} ms, ${WIRE[-1]} wire/B"
}

# --- the table -------------------------------------------------------------------
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
started=$EPOCHREALTIME
: >"$work/table"
for l in $links; do
	set_link "$l"
	for t in $transports; do
		RATE=() TTFB=() WIRE=() STATUS=""
		for i in $(seq "$repeat"); do
			log "${LINK_NAME[$l]}, $t: run $i/$repeat"
			run_once "$t" "$l" || break
		done
		if [[ -n $STATUS ]]; then
			printf '%-10s %-7s %5s %9s %10s %8s\n' "${LINK_NAME[$l]}" "$t" "${SIZE[$l]}" \
				"$STATUS" - - >>"$work/table"
		else
			printf '%-10s %-7s %5s %9s %10s %8s\n' "${LINK_NAME[$l]}" "$t" "${SIZE[$l]}" \
				"$(median "${RATE[@]}")" "$(median "${TTFB[@]}")" "$(median "${WIRE[@]}")" \
				>>"$work/table"
		fi
	done
	case $l in loss*) echo "${LINK_NAME[$l]}: $(loss_seen) packets dropped" >>"$work/losses" ;; esac
done
elapsed=$(secs "$started" "$EPOCHREALTIME")

echo
echo "megafs $rev: issue 13's transports over each link, beside aria2c over HTTP (nginx)."
echo "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores;" \
	"kernel $(uname -r); $(obfs4proxy -version 2>/dev/null)," \
	"tor $(tor --version 2>/dev/null | awk 'NR == 1 { sub(/\.$/, "", $3); print $3 }'), aria2c $(aria2c --version | awk 'NR == 1 { print $3 }')."
echo "Median of $repeat cold runs per row; timeout $op_timeout s per transfer; took $(printf '%.0f' "$elapsed") s;"
echo "$rto_note."
echo
printf '%-10s %-7s %5s %9s %10s %8s\n' link row MiB MiB/s "1st B ms" wire/B
cat "$work/table"
echo
echo "MiB: the file's size. MiB/s: size / wall time of megafs fetch or aria2c, start"
echo "to exit. 1st B: start to the file's first 16 bytes in the output file (megafs"
echo "writes a chunk, 1 MiB, once verified). wire/B: IP bytes over the link both ways"
echo "per byte of the file, lost ones included (loopback: to or from the server's port;"
echo "obfs4: between the two obfs4proxy; tor: between the Tor client and its guard;"
echo "veth: all of it). tcp, tls, obfs4: megafs fetch --peer to megafs serve"
echo "[--transport T]; tor: megafs fetch --proxy socks5 through a private 3-relay Tor"
echo "network to the tcp seeder; aria2c: HTTP from nginx, its default 1-5 connections."
echo "Loss: N % dropped at random on arrival, each way; 256k: tbf 256 kbit/s each way."
echo "See the script's header."
[[ -s $work/losses ]] && echo "Measured: $(paste -sd';' "$work/losses" | sed 's/;/; /g')."
grep -q 'timeout\|failed' "$work/table" && exit 1
exit 0
