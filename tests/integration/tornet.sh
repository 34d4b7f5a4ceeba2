# tests/integration/tornet.sh: the configuration of a private Tor network
# (Debian's tor, no chutney), sourced by tests/integration/net_tor.sh and
# tools/bench/transport.sh, which start the tor processes themselves (the
# bench in network namespaces). Three nodes that are each a directory
# authority, a relay and an exit, and clients.
#
# A consensus every 10 s, the first one too (TestingTorNetwork alone: 150
# s, then 5 minutes); the vote and distribution delays at the least tor
# 0.4.9 takes (their sum under half the interval, each at least 2 s). Exits
# need ExitPolicy accept *:*, ExitPolicyRejectPrivate 0 and
# TestingMinExitFlagThreshold 0, or a client finds no exit.
#
# The sourcing script defines free_port. Each function prints what failed
# and returns 1.

TORNET_NODES=3

# tornet_common DIR NICK: the lines every node and client has.
tornet_common() {
	cat <<CONF
TestingTorNetwork 1
DataDirectory $1
Nickname $2
PidFile $1/pid
Log notice file $1/notice.log
SafeLogging 0
ShutdownWaitLength 0
DisableDebuggerAttachment 0
AssumeReachable 1
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
CONF
	cat "${1%/*}/dirauthorities"
}

# tornet_nodes DIR ADDR: keys and DIR/a1..a3/torrc of the three nodes,
# listening on ADDR (ports from free_port); DIR/dirauthorities names them.
tornet_nodes() {
	local dir=$1 addr=$2 i d v3ident fpr
	local -a or_port dir_port
	mkdir -p "$dir"
	: >"$dir/dirauthorities"
	for i in $(seq $TORNET_NODES); do
		d=$dir/a$i
		mkdir -p "$d/keys"
		or_port[i]=$(free_port)
		dir_port[i]=$(free_port)
		echo "" | tor-gencert --create-identity-key -m 12 -a "$addr:${dir_port[i]}" \
			-i "$d/keys/authority_identity_key" -s "$d/keys/authority_signing_key" \
			-c "$d/keys/authority_certificate" --passphrase-fd 0 >"$d/gencert.out" 2>&1 ||
			{ echo "tor-gencert: $(cat "$d/gencert.out")"; return 1; }
		v3ident=$(sed -n 's/^fingerprint //p' "$d/keys/authority_certificate")
		fpr=$(tor --quiet --ignore-missing-torrc --list-fingerprint --orport 1 --datadirectory "$d" |
			awk '{ $1 = ""; gsub(" ", ""); print }')
		[ -n "$v3ident" ] && [ ${#fpr} -eq 40 ] ||
			{ echo "no fingerprints for node $i: '$v3ident' '$fpr'"; return 1; }
		echo "DirAuthority a$i orport=${or_port[i]} no-v2 v3ident=$v3ident $addr:${dir_port[i]} $fpr" \
			>>"$dir/dirauthorities"
	done
	for i in $(seq $TORNET_NODES); do
		d=$dir/a$i
		{
			tornet_common "$d" "a$i"
			cat <<CONF
SocksPort 0
Address $addr
ORPort $addr:${or_port[i]}
DirPort $addr:${dir_port[i]}
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo a$i@megafs.test
TestingV3AuthInitialVotingInterval 10
V3AuthVotingInterval 10
TestingV3AuthInitialVoteDelay 2
V3AuthVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthDistDelay 2
ExitRelay 1
ExitPolicy accept *:*
ExitPolicyRejectPrivate 0
CONF
		} >"$d/torrc"
	done
}

# tornet_client DIR NAME SOCKS [LINE]...: DIR/NAME/torrc of a client of the
# network tornet_nodes made in DIR, its SOCKS port on 127.0.0.1:SOCKS, the
# LINEs added.
tornet_client() {
	local d=$1/$2
	mkdir -p "$d"
	{
		tornet_common "$d" "$2"
		echo "SocksPort 127.0.0.1:$3"
		shift 3
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$d/torrc"
}

# tornet_bootstrapped DIR NAME: the client NAME has a circuit.
tornet_bootstrapped() { grep -q "Bootstrapped 100%" "$1/$2/notice.log" 2>/dev/null; }
