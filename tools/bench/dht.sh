#!/usr/bin/env bash
# tools/bench/dht.sh: megafs's Mainline DHT node (net/dht) next to
# libtorrent's, on loopback (issue 10's benchmark).
#
# 1. Lookups. For each size (20 and 100 nodes), a DHT of megafs nodes
#    (mfs-test-dht serve, each bootstrapped from up to 8 nodes started
#    before it), one of libtorrent nodes (tests/tools/lt_dht_nodes.py
#    --mesh: python3-libtorrent sessions that know each other) and a mixed
#    one (half of each, bootstrapped into each other). On each, a mutable
#    salted item is put and a peer announced, then BENCH_LOOKUPS get
#    (mutable) and get_peers lookups run, each from a fresh node: a new
#    mfs-test-dht process (tests/tools/dht_node.c) or a new libtorrent
#    session (tools/bench/lt_dht_lookups.py), bootstrapped from 3 nodes of
#    the network picked at random. Measured per lookup, after the fresh
#    node's bootstrap: the wall time from the call to its result, and the
#    queries the lookup sent (megafs: the lookup's own count, retries
#    included; libtorrent: its session counter dht_get_out or
#    dht_get_peers_out, before and after).
#    The megafs clients share one id and port and libtorrent's are
#    read-only (BEP 43), so that no lookup waits for the timeouts of a
#    client that has gone.
# 2. Channel resolve. A publisher (`megafs serve`, with `megafs tracker`
#    and, for the DHT rows, --dht-bootstrap into the megafs or libtorrent
#    DHT of each size) and subscribers that each mount the channel from a
#    fresh store with only --tracker or only --dht-bootstrap: the time from
#    the mount's start until the channel's file shows in it (the newest
#    manifest found, fetched and checked).
#
#   sudo tools/bench/dht.sh
#
# Environment:
#   BENCH_SIZES      network sizes (default "20 100")
#   BENCH_NETWORKS   which networks (default "megafs libtorrent mixed"; the
#                    resolve rows run on the first two)
#   BENCH_LOOKUPS    lookups of each kind from each side (default 20)
#   BENCH_REPEAT     resolves of each kind, the median shown (default 3)
#   BENCH_NETNS      1 (default): in a private network namespace that has
#                    only lo; 0: in the host's, every address 127.0.0.1
#   BENCH_TMPDIR     where the stores go (default /var/tmp)
#   BENCH_BUILD      the tree's build directory (default build/; configured
#                    and built when it has no megafs or mfs-test-dht)
#   BENCH_TIMEOUT_S  longest one lookup or resolve may take (default 60)
#
# Needs root (unshare; apt-get for python3-libtorrent when missing). Every
# process it starts is ended on exit, also on failure or Ctrl-C. A part
# that fails leaves its cells "-" with the reason under the table, the
# other parts still run, and the script exits 1 after the tables.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
build=${BENCH_BUILD:-"$root/build"}
megafs="$build/megafs"
dht_node="$build/tests/mfs-test-dht"
sizes=${BENCH_SIZES:-"20 100"}
networks=${BENCH_NETWORKS:-"megafs libtorrent mixed"}
lookups=${BENCH_LOOKUPS:-20}
repeat=${BENCH_REPEAT:-3}
netns=${BENCH_NETNS:-1}
op_timeout=${BENCH_TIMEOUT_S:-60}
python=/usr/bin/python3 # Debian's, which has python3-libtorrent
lt_nodes="$root/tests/tools/lt_dht_nodes.py"
lt_lookups="$script_dir/lt_dht_lookups.py"
export MEGAFS_PASSWORD="bench-password"
unset MEGAFS_STORE MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD

die() { echo "dht.sh: $*" >&2; exit 1; }
log() { echo "dht.sh: $*" >&2; }

for s in $networks; do
	[[ $s =~ ^(megafs|libtorrent|mixed)$ ]] || die "BENCH_NETWORKS: unknown '$s'"
done
wanted() { [[ " $networks " == *" $1 "* ]]; }
for s in $sizes; do
	[[ $s =~ ^[1-9][0-9]*$ ]] && (( s >= 4 )) || die "BENCH_SIZES: '$s' is not a number >= 4"
done
[[ $lookups =~ ^[1-9][0-9]*$ ]] || die "BENCH_LOOKUPS must be a positive integer"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $op_timeout =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT_S must be a positive integer"
[[ $netns =~ ^[01]$ ]] || die "BENCH_NETNS must be 0 or 1"
(( EUID == 0 )) || die "needs root (unshare, apt-get)"

# --- tools and build: before entering the namespace (apt-get needs the net) --
if [[ -z ${MFS_DHT_BENCH_NETNS:-} ]]; then
	need=()
	[[ -x $python ]] && "$python" -c 'import libtorrent, cryptography' 2>/dev/null ||
		need+=(python3-libtorrent python3-cryptography)
	[[ $netns == 1 ]] && ! command -v ip >/dev/null && need+=(iproute2)
	if (( ${#need[@]} )); then
		log "installing ${need[*]}"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
	if [[ ! -x $megafs || ! -x $dht_node ]]; then
		if [[ ! -f $build/CMakeCache.txt ]]; then
			log "configuring $build"
			cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
		fi
		make -C "$build" -s megafs mfs-test-dht >/dev/null
	fi
	if [[ $netns == 1 ]]; then
		# The same script, in a namespace whose only interface is lo.
		exec unshare --net -- env MFS_DHT_BENCH_NETNS=1 bash "${BASH_SOURCE[0]}" "$@"
	fi
fi
[[ ${MFS_DHT_BENCH_NETNS:-} == 1 ]] && ip link set lo up
[[ -x $megafs && -x $dht_node ]] || die "no $megafs or $dht_node (build them)"
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")

# --- scratch space, and ending what was started ------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/mfs-dht-bench.XXXXXX")
: >"$work/pids"
: >"$work/mounts"
mfs_dir="$work/mfs"
mkdir -p "$mfs_dir"

# register_pid, release_all, remove_work, secs/median, wait_line,
# new_store, free_port, mfs_seed.
source "$script_dir/netlib.sh"

cleanup() {
	set +e
	trap - INT TERM
	exec 3>&-
	release_all
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# p90 V...: the nearest-rank 90th percentile.
p90() {
	printf '%s\n' "$@" | sort -n |
		awk '{ v[NR] = $1 } END { i = int(NR * 0.9); if (i < NR * 0.9) i++; print v[i] }'
}
ms1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
hex_random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
pk_of() {
	"$python" -c 'import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as K
from cryptography.hazmat.primitives import serialization as s
k = K.from_private_bytes(bytes.fromhex(sys.argv[1])).public_key()
print(k.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())' "$1"
}
json_of() { # FILE KEY: a value of FILE's first JSON line (a list: space separated)
	"$python" -c 'import json, sys
v = json.loads(open(sys.argv[1]).readline())[sys.argv[2]]
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$@"
}
stamp() { # each line of stdin after the time it came (the logs the failures show)
	local line
	while IFS= read -r line; do printf '%s %s\n' "$(date +%T.%N | cut -c1-12)" "$line"; done
}
pick3() { shuf -n 3 -e "$@"; } # three ports of a network, at random

declare -A R      # R[row.side.column]: the table's cells
declare -a NOTES  # why a cell is empty, or what to know about it
failed=0
note() { NOTES+=("$*"); log "$*"; }

# --- the networks ------------------------------------------------------------
MFS_PORTS=() LT_PORTS=() LT_PID=""

# mfs_network N [LT_PORT...]: N megafs nodes; each bootstraps from up to 8
# random nodes started before it (and from the given libtorrent nodes).
mfs_network() {
	local n=$1 i out pid boot p
	shift
	MFS_PORTS=()
	for (( i = 0; i < n; i++ )); do
		boot=()
		for p in $( ((${#MFS_PORTS[@]})) && shuf -n 8 -e "${MFS_PORTS[@]}") $(
			(($#)) && shuf -n 8 -e "$@"); do
			boot+=(--bootstrap "127.0.0.1:$p")
		done
		out="$work/mfs-node-$i.out"
		"$dht_node" "${boot[@]}" serve >"$out" 2>&1 &
		pid=$!
		register_pid "$pid"
		# The first has nobody to bootstrap from: it prints no nodes= line.
		wait_line "$out" "$( ((${#boot[@]})) && echo '^nodes=' || echo '^port=')" "$pid" 10 ||
			{ cat "$out" >&2; return 1; }
		MFS_PORTS+=("$(sed -n 's/^port=//p' "$out")")
	done
}

# lt_network N: N libtorrent nodes that know each other; the first put a
# mutable item (LT_SEED, SALT). Commands go to fd 3.
lt_network() {
	local n=$1
	rm -f "$work/lt.in"
	mkfifo "$work/lt.in"
	exec 3<>"$work/lt.in"
	: >"$work/lt.json"
	TMPDIR=$work "$python" "$lt_nodes" --mesh "$n" "$LT_SEED" "$SALT" lt-immutable lt-mutable \
		<"$work/lt.in" >"$work/lt.json" 2>"$work/lt.err" &
	LT_PID=$!
	register_pid "$LT_PID"
	wait_line "$work/lt.json" '^\{' "$LT_PID" 120 || { cat "$work/lt.err" >&2; return 1; }
	read -r -a LT_PORTS <<<"$(json_of "$work/lt.json" ports)"
}

lt_ask() { # COMMAND...: one command to the libtorrent nodes, its JSON answer
	local before
	before=$(wc -l <"$work/lt.json")
	echo "$*" >&3
	for _ in $(seq $(( op_timeout * 10 ))); do
		(( $(wc -l <"$work/lt.json") > before )) && break
		sleep 0.1
	done
	tail -n 1 "$work/lt.json"
}

# stop_networks: ends every DHT node started for the last network.
stop_networks() {
	local pid st
	while read -r pid st; do
		if alive "$pid" "$st"; then kill -TERM "$pid" 2>/dev/null || true; fi
	done < <(tail -n +"$(( base_pids + 1 ))" "$work/pids")
	exec 3>&-
	LT_PID="" MFS_PORTS=() LT_PORTS=()
	sleep 0.5
}

# --- the lookups ---------------------------------------------------------------
# A megafs client: always the same id and port, so that the network sees one
# node that comes and goes rather than a new node each lookup that then
# disappears (the next lookups would wait for its timeouts).
CLIENT_ID=$(hex_random 20)
CLIENT_PORT=""

mfs_client() { # PORT... -- COMMAND...: a fresh megafs node bootstrapped from the PORTs
	local boot=()
	while [[ $1 != -- ]]; do boot+=(--bootstrap "127.0.0.1:$1"); shift; done
	shift
	timeout "$op_timeout" "$dht_node" --id "$CLIENT_ID" --bind "127.0.0.1:$CLIENT_PORT" \
		"${boot[@]}" "$@"
}

# mfs_lookups ROW OP ARG...: BENCH_LOOKUPS lookups from fresh megafs nodes;
# the cells R[ROW.megafs.*]. The network: ALL_PORTS.
mfs_lookups() {
	local row=$1 i out ms=() msgs=() found=0
	shift
	for (( i = 0; i < lookups; i++ )); do
		out=$(mfs_client $(pick3 "${ALL_PORTS[@]}") -- "$@" 2>&1) || true
		[[ $out =~ (^|$'\n')ms=([0-9.]+) ]] || { log "megafs $*: $out"; continue; }
		ms+=("${BASH_REMATCH[2]}")
		[[ $out =~ (^|$'\n')queries=([0-9]+) ]] && msgs+=("${BASH_REMATCH[2]}")
		[[ $out =~ (^|$'\n')(v|peer)= ]] && found=$(( found + 1 ))
	done
	cells "$row" megafs "$found" ms msgs
}

# lt_lookups ROW OP ARG...: the same from fresh libtorrent sessions.
lt_lookups() {
	local row=$1 line ms=() msgs=() found=0
	shift
	while read -r line; do
		echo "$line" >>"$work/lt-lookups.log"
		[[ $line =~ ms=([0-9.]+)\ msgs=([0-9]+).*found=([01]) ]] || continue
		ms+=("${BASH_REMATCH[1]}")
		msgs+=("${BASH_REMATCH[2]}")
		found=$(( found + BASH_REMATCH[3] ))
	done < <(timeout $(( op_timeout * lookups )) "$python" "$lt_lookups" --count "$lookups" \
		--slow-log "$work/lt-slow.log" \
		--boot "$(IFS=,; echo "${ALL_PORTS[*]}")" "$@" 2>>"$work/lt-lookups.err")
	cells "$row" libtorrent "$found" ms msgs
}

# cells ROW SIDE FOUND MS_ARRAY MSGS_ARRAY
cells() {
	local -n ms_=$4 msgs_=$5
	if (( ${#ms_[@]} == 0 )); then
		note "$1, $2: no lookup finished (see the log above)"
		failed=1
		return
	fi
	R[$1.$2.median]=$(ms1 "$(median "${ms_[@]}")")
	R[$1.$2.p90]=$(ms1 "$(p90 "${ms_[@]}")")
	R[$1.$2.msgs]=$( ((${#msgs_[@]})) && median "${msgs_[@]}" || echo -)
	R[$1.$2.found]="$3/$lookups"
}

# client_stays: the megafs client's id and port serve from now on, for what
# runs next on the network (the resolve): its entry in the routing tables
# answers again.
client_stays() {
	local boot=() p
	for p in $(pick3 "${ALL_PORTS[@]}"); do boot+=(--bootstrap "127.0.0.1:$p"); done
	"$dht_node" --id "$CLIENT_ID" --bind "127.0.0.1:$CLIENT_PORT" "${boot[@]}" serve \
		>"$work/client-serve.out" 2>&1 &
	register_pid $!
}

# megafs puts the item and announces a peer (the client's id and port).
mfs_put_and_announce() {
	local out
	out=$(mfs_client $(pick3 "${ALL_PORTS[@]}") -- put-mutable "$MFS_SEED" "$SALT" megafs-item 1 2>&1) ||
		{ log "megafs put-mutable: $out"; return 1; }
	log "  megafs put: $(grep -E '^(stored|queries)=' <<<"$out" | tr '\n' ' ')"
	out=$(mfs_client $(pick3 "${ALL_PORTS[@]}") -- announce "$INFOHASH" 6881 2>&1) ||
		{ log "megafs announce: $out"; return 1; }
	log "  megafs announce: $(grep -E '^(stored|queries)=' <<<"$out" | tr '\n' ' ')"
}

# libtorrent announces a magnet of INFOHASH_LT from its first node; returns
# once a fresh libtorrent session finds it (libtorrent announces a new
# torrent a little after it is added).
lt_announce() {
	local deadline=$(( EPOCHSECONDS + op_timeout ))
	lt_ask announce "$INFOHASH_LT" >/dev/null
	until "$python" "$lt_lookups" --count 1 --boot "$(IFS=,; echo "${ALL_PORTS[*]}")" \
		get_peers "$INFOHASH_LT" 2>/dev/null | grep -q 'found=1'; do
		(( EPOCHSECONDS < deadline )) || return 1
		sleep 1
	done
}

# --- the channel resolve -------------------------------------------------------
# resolve ROW NET_OPTION...: BENCH_REPEAT subscribers, each a megafs mount of
# the channel from a fresh store with only NET_OPTIONs, timed from the
# mount's start until the channel's file shows in it (the newest manifest
# found, fetched and checked). The mounts stay until unmount_subscribers:
# a subscriber that left would stay in the DHT's routing tables, and the
# next one's lookups would wait for its timeouts.
resolve() {
	local row=$1 i t0 t1 s mnt out pid ms=()
	shift
	for (( i = 0; i < repeat; i++ )); do
		s="$mfs_dir/sub-$row-$i" mnt="$mfs_dir/mnt-$row-$i" out="$mfs_dir/mount-$row-$i.log"
		new_store "$s" 64 2>/dev/null
		mkdir -p "$mnt"
		register_mount megafs "$mnt"
		SUB_MOUNTS+=("$mnt")
		t0=$EPOCHREALTIME
		"$megafs" --store "$s" mount "$mfs_link" "$mnt" -f "$@" > >(stamp >"$out") 2>&1 &
		pid=$!
		register_pid "$pid"
		until [[ -e $mnt/$probe_name ]]; do
			if ! kill -0 "$pid" 2>/dev/null ||
				(( $(ms "$(secs "$t0" "$EPOCHREALTIME")") > op_timeout * 1000 )); then
				log "$row: run $((i + 1)): no manifest after $(secs "$t0" "$EPOCHREALTIME") s:"
				sed 's/^/    /' "$out" >&2
				[[ -z $PUBLISHER_LOG ]] || sed 's/^/    publisher: /' "$PUBLISHER_LOG" >&2
				continue 2
			fi
			sleep 0.002
		done
		t1=$EPOCHREALTIME
		ms+=("$(ms "$(secs "$t0" "$t1")")")
		log "  $row: ${ms[-1]} ms"
	done
	if (( ${#ms[@]} == 0 )); then
		note "resolve $row: no subscriber saw the manifest"
		failed=1
		return
	fi
	RES[$row]="$(median "${ms[@]}") ${#ms[@]} $(printf '%s\n' "${ms[@]}" | sort -n | head -1)"
	RES[$row]+=" $(printf '%s\n' "${ms[@]}" | sort -n | tail -1)"
}
SUB_MOUNTS=()
PUBLISHER_LOG=""
unmount_subscribers() {
	local m
	for m in "${SUB_MOUNTS[@]}"; do
		if mountpoint -q "$m"; then
			timeout 60 "$megafs" umount "$m" >/dev/null 2>&1 || umount -l "$m" 2>/dev/null ||
				true
		fi
	done
	SUB_MOUNTS=()
	rm -rf "$mfs_dir"/sub-* "$mfs_dir"/mnt-* 2>/dev/null || true
}
declare -A RES # RES[row]: "median runs min max" (ms)
RES_ROWS=()

# dht_publisher WHAT PORT...: megafs serve of the publisher's store again,
# now with the tracker and --dht-bootstrap to the PORTs; returns once it put
# the channel's pointer (and, 2 s later, has announced).
dht_publisher() {
	local what=$1 boot=() p
	shift
	stop_publisher
	for p in "$@"; do boot+=(--dht-bootstrap "127.0.0.1:$p"); done
	PUBLISHER_LOG="$mfs_dir/serve-$what.log"
	"$megafs" --store "$mfs_dir/pub" serve --listen 127.0.0.1:0 --tracker "$mfs_tracker" \
		"${boot[@]}" > >(stamp >"$PUBLISHER_LOG") 2>&1 &
	PUBLISHER=$!
	register_pid "$PUBLISHER"
	wait_line "$mfs_dir/serve-$what.log" 'DHT: put the pointer' "$PUBLISHER" "$op_timeout" ||
		{ tail -n 5 "$mfs_dir/serve-$what.log" >&2; return 1; }
	sleep 2
}
# resolve_on ROW LABEL PORT...: the publisher bootstrapped into the DHT of
# the PORTs, then the subscribers with --dht-bootstrap alone.
resolve_on() {
	local row=$1 label=$2 p
	shift 2
	RES_ROWS+=("$row")
	log "resolve by the DHT alone ($label)"
	if dht_publisher "$row" $(pick3 "$@"); then
		resolve "$row" $(for p in $(pick3 "$@"); do echo --dht-bootstrap "127.0.0.1:$p"; done)
	else
		note "resolve, $label: megafs serve put no pointer"
		failed=1
	fi
}

# end_network: the subscribers, the publisher and the DHT nodes go.
end_network() {
	unmount_subscribers
	stop_publisher
	stop_networks
}

stop_publisher() {
	[[ -n ${PUBLISHER:-} ]] || return 0
	kill -TERM "$PUBLISHER" 2>/dev/null || true
	gone_within "$PUBLISHER" 10 || kill -KILL "$PUBLISHER" 2>/dev/null || true
	PUBLISHER=""
}

# --- the runs ------------------------------------------------------------------
SALT=megafs-bench
MFS_SEED=$(hex_random 32)
LT_SEED=$(hex_random 32)
MFS_PK=$(pk_of "$MFS_SEED")
INFOHASH=$(hex_random 20)
INFOHASH_LT=$(hex_random 20)
CLIENT_PORT=$(free_port)
started=$EPOCHREALTIME
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The publisher: a tracker, a channel with one small file, megafs serve.
log "publisher: megafs tracker, a channel, megafs serve"
head -c 4096 /dev/urandom >"$work/probe.bin"
mfs_seed 64 "$work/probe.bin"
PUBLISHER=${MFS_SEED_PIDS[1]}
RES_ROWS+=(tracker)
log "resolve by the tracker alone"
probe_name=probe.bin
resolve tracker --tracker "$mfs_tracker"
unmount_subscribers
base_pids=$(wc -l <"$work/pids") # the tracker and first publisher: not a network's

ROWS=()
for n in $sizes; do
	half=$(( n / 2 ))

	if ! wanted megafs; then
		:
	elif log "$n megafs nodes" && mfs_network "$n"; then
		ALL_PORTS=("${MFS_PORTS[@]}")
		if mfs_put_and_announce; then
			log "  $lookups get (mutable) and $lookups get_peers from fresh megafs nodes"
			mfs_lookups "$n.megafs.get" get-mutable "$MFS_PK" "$SALT"
			mfs_lookups "$n.megafs.peers" get-peers "$INFOHASH"
			client_stays
		else
			note "$n megafs nodes: the put or announce failed"; failed=1
		fi
		resolve_on "dht-mfs-$n" "$n megafs nodes" "${MFS_PORTS[@]}"
	else
		note "$n megafs nodes: a node did not start"; failed=1
	fi
	end_network
	wanted megafs && ROWS+=("$n.megafs")

	if ! wanted libtorrent; then
		:
	elif log "$n libtorrent nodes" && lt_network "$n"; then
		ALL_PORTS=("${LT_PORTS[@]}")
		log "  libtorrent's put: $(json_of "$work/lt.json" put_ok)"
		LT_PK=$(json_of "$work/lt.json" pk)
		if lt_announce; then
			log "  $lookups get (mutable) and $lookups get_peers from fresh libtorrent sessions"
			lt_lookups "$n.libtorrent.get" get_mutable "$LT_PK" "$SALT"
			lt_lookups "$n.libtorrent.peers" get_peers "$INFOHASH_LT"
		else
			note "$n libtorrent nodes: a fresh session never found libtorrent's announce"
			failed=1
		fi
		resolve_on "dht-lt-$n" "$n libtorrent nodes" "${LT_PORTS[@]}"
	else
		note "$n libtorrent nodes: they did not start ($(tail -n 1 "$work/lt.err"))"; failed=1
	fi
	end_network
	wanted libtorrent && ROWS+=("$n.libtorrent")

	if ! wanted mixed; then
		:
	elif log "mixed: $((n - half)) libtorrent and $half megafs nodes" &&
		lt_network $(( n - half )) && mfs_network "$half" "${LT_PORTS[@]}"; then
		for p in "${MFS_PORTS[@]}"; do lt_ask add_node "$p" >/dev/null; done
		ALL_PORTS=("${MFS_PORTS[@]}" "${LT_PORTS[@]}")
		if mfs_put_and_announce; then
			# libtorrent's nodes keep the megafs client (it is not
			# read-only): from here on its id and port answer.
			log "  megafs's item and peer, from fresh megafs nodes and libtorrent sessions"
			mfs_lookups "$n.mixed.get" get-mutable "$MFS_PK" "$SALT"
			mfs_lookups "$n.mixed.peers" get-peers "$INFOHASH"
			client_stays
			lt_lookups "$n.mixed.get" get_mutable "$MFS_PK" "$SALT"
			lt_lookups "$n.mixed.peers" get_peers "$INFOHASH"
		else
			note "$n mixed: megafs's put or announce failed"; failed=1
		fi
	else
		note "$n mixed: the nodes did not start"; failed=1
	fi
	end_network
	wanted mixed && ROWS+=("$n.mixed")
done
elapsed=$(secs "$started" "$EPOCHREALTIME")

# --- the tables ----------------------------------------------------------------
cell() { echo "${R[$1]:--}"; }
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
where="a private network namespace (lo only)"
[[ $netns == 1 ]] || where="the host's network namespace"
echo
echo "megafs $rev: DHT lookups and channel resolve on 127.0.0.1, in $where;"
echo "libtorrent $("$python" -c 'import libtorrent; print(libtorrent.__version__)');" \
	"$cpu, $(nproc) cores; load average before $load_before, after" \
	"$(cut -d' ' -f1-3 /proc/loadavg); run took $(printf '%.0f' "$elapsed") s."
echo
printf "%-24s %-11s | %8s %8s %5s %6s | %8s %8s %5s %6s\n" "" "" megafs "" "" "" libtorrent "" "" ""
printf "%-24s %-11s | %8s %8s %5s %6s | %8s %8s %5s %6s\n" network lookup "median" p90 msgs found \
	"median" p90 msgs found
for r in "${ROWS[@]}"; do
	n=${r%%.*} kind=${r#*.}
	case $kind in
	megafs) label="$n megafs nodes" ;;
	libtorrent) label="$n libtorrent nodes" ;;
	mixed) label="$n mixed ($(( n - n / 2 )) lt+$(( n / 2 )) mfs)" ;;
	esac
	for op in get peers; do
		printf "%-24s %-11s | %8s %8s %5s %6s | %8s %8s %5s %6s\n" "$label" \
			"$([[ $op == get ]] && echo get-mutable || echo get-peers)" \
			"$(cell "$r.$op.megafs.median")" "$(cell "$r.$op.megafs.p90")" \
			"$(cell "$r.$op.megafs.msgs")" "$(cell "$r.$op.megafs.found")" \
			"$(cell "$r.$op.libtorrent.median")" "$(cell "$r.$op.libtorrent.p90")" \
			"$(cell "$r.$op.libtorrent.msgs")" "$(cell "$r.$op.libtorrent.found")"
		label=""
	done
done
echo
echo "median, p90: ms from the lookup's call to its end, after the fresh node's own"
echo "  bootstrap (megafs: mfs-test-dht ms=; libtorrent: the authoritative item alert, or"
echo "  the get_peers traversal's DONE). msgs: median queries the lookup sent (megafs: its"
echo "  queries= count, retries included; libtorrent: its dht_get_out / dht_get_peers_out"
echo "  counters). found: lookups that returned the item (megafs put it, seq 1; on"
echo "  libtorrent's network its first node put it) or the announced peer. A megafs-only"
echo "  network has no libtorrent column and the reverse (-). megafs's defaults (alpha 3,"
echo "  timeout 2 s, 1 retry) and libtorrent's (search branching 5, aggressive lookups)."
echo "  Fresh nodes: a new process or session each, bootstrapped from 3 random nodes; the"
echo "  megafs ones share one id and port, libtorrent's are read-only (BEP 43), so that no"
echo "  lookup waits on a departed client."
echo
printf "%-38s %9s %5s %15s\n" "channel resolve (megafs mount)" "median ms" runs "min-max ms"
for r in "${RES_ROWS[@]}"; do
	case $r in
	tracker) label="tracker alone (megafs tracker)" ;;
	dht-mfs-*) label="DHT alone, ${r#dht-mfs-} megafs nodes" ;;
	dht-lt-*) label="DHT alone, ${r#dht-lt-} libtorrent nodes" ;;
	esac
	if [[ -n ${RES[$r]:-} ]]; then
		read -r med runs lo hi <<<"${RES[$r]}"
		printf "%-38s %9s %5s %15s\n" "$label" "$med" "$runs/$repeat" "$lo-$hi"
	else
		printf "%-38s %9s %5s %15s\n" "$label" - "0/$repeat" -
	fi
done
echo
echo "resolve: from starting megafs mount LINK DIR -f (a fresh store, --kdf fast) with only"
echo "  --tracker, or only --dht-bootstrap to 3 random nodes, until the channel's file shows"
echo "  in DIR (polled every 2 ms): the newest manifest found, fetched and checked. Includes"
echo "  the process start, the volume's open and the FUSE mount; the DHT rows the node's"
echo "  bootstrap, the pointer's get, the get_peers and the manifest blob from the publisher"
echo "  (megafs serve with the tracker and --dht-bootstrap to 3 random nodes, its pointer put"
echo "  and 2 s given to its announce). Each subscriber stays mounted until its network ends."
if [[ -s $work/lt-slow.log ]]; then
	# What libtorrent waited for (usually a node that has gone): its log.
	cp "$work/lt-slow.log" "${BENCH_TMPDIR:-/var/tmp}/mfs-dht-bench-lt-slow.log"
	note "$(grep -c '^--- ' "$work/lt-slow.log") libtorrent lookups or bootstraps took over 1 s;" \
		"their DHT log: ${BENCH_TMPDIR:-/var/tmp}/mfs-dht-bench-lt-slow.log"
fi
for x in "${NOTES[@]}"; do echo "note: $x"; done
(( ! failed ))
