# A link between two network namespaces, and the ways it is made bad:
# sourced by the lossy-link test (net_lossy.sh) and the benchmarks that
# measure over such a link (tools/bench/lossy_fetch.sh, transport.sh).
# The caller deletes the namespaces (ip netns del takes the veth along).

# Commands run in a namespace with nsenter --net=/run/netns/NS, not ip netns
# exec: that also makes a mount namespace, a copy of every mount (/ is
# private here), and a FUSE mount of a test running beside this one
# (tools/test.sh runs some two at a time) would live on in the copy for as
# long as the command runs: its unmount could not end.

# veth_pair NS_A NS_B DEV_A DEV_B ADDR_A ADDR_B: two fresh namespaces, each
# with its loopback up and one end of a veth pair, addressed ADDR/24.
veth_pair() {
	local a=$1 b=$2 va=$3 vb=$4
	ip netns add "$a"
	ip netns add "$b"
	ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b"
	ip -n "$a" addr add "$5/24" dev "$va"
	ip -n "$b" addr add "$6/24" dev "$vb"
	ip -n "$a" link set lo up
	ip -n "$b" link set lo up
	ip -n "$a" link set "$va" up
	ip -n "$b" link set "$vb" up
}

# drop_arriving NS DEV PERCENT TABLE: PERCENT of the packets arriving on
# DEV in NS are dropped, counted (a counter for all that arrive, one for
# those dropped), in nftables table inet TABLE. Dropped where they arrive,
# not where they leave: a drop on output is told to the sender's TCP at
# once, which is no loss at all.
drop_arriving() {
	nsenter --net="/run/netns/$1" nft -f - <<-EOF
	table inet $4 {
		chain in {
			type filter hook prerouting priority -300; policy accept;
			iifname "$2" counter
			iifname "$2" numgen random mod 100 < $3 counter drop
		}
	}
	EOF
}

# slow_link NS DEV: DEV in NS sends at most 256 kbit/s (tbf: what does not
# fit its 400 ms queue is dropped at the sender).
slow_link() {
	tc -n "$1" qdisc add dev "$2" root tbf rate 256kbit burst 4kb latency 400ms
}
