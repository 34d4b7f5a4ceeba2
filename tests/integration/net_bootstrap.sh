#!/usr/bin/env bash
# Discovery when the primary way in is blocked (issue 13, fallback
# discovery): a publisher hands out a bootstrap file (`megafs channel
# bootstrap LINK`); a subscriber whose tracker is dropped by nftables finds
# the channel through the file's other tracker, and one whose trackers are
# all dropped fetches from the file's peer. Each time is reported and must
# be under 30 s (issue 13's bound for discovery with the primary methods
# blocked). Then domain fronting: with the tracker's own address dropped, a
# fronted tracker URL (wss://hidden.example/#front=front.example) reaches it
# through nginx, a stand-in for a CDN that routes by the Host header, and a
# capture shows the front's name on the wire and never the tracker's.
# A damaged file is refused before anything starts.
# Everything runs in namespaces of the test's own: network (the drops are
# nftables rules on its loopback) and mount (its /etc/hosts names
# front.example and hidden.example); both are made before any FUSE mount
# exists, so none is held elsewhere. Needs root.
if [ -z "${MFS_BOOTSTRAP_NETNS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: net_bootstrap.sh needs root (namespaces)" >&2; exit 1; }
	exec env MFS_BOOTSTRAP_NETNS=1 unshare -n -m -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
for tool in nft nginx tcpdump openssl ndpiReader; do
	command -v "$tool" >/dev/null || fail "$tool is missing (tools/deps.sh installs it)"
done
ip link set lo up
printf '127.0.0.1 localhost front.example hidden.example\n' >"$T/hosts"
mount --bind "$T/hosts" /etc/hosts
UMOUNTS+=(/etc/hosts)

publish_random "$T/pub" "Ways in" $((3 * 1024 * 1024))
link=$LINK

# start_tracker_at NAME: a tracker; sets URL_<NAME> and PORT_<NAME>.
start_tracker_at() {
	start_tracker "$T/db-$1"
	printf -v "URL_$1" '%s' "$TRACKER_URL"
	printf -v "PORT_$1" '%s' "$(sed -n 's|^ws://127.0.0.1:\([0-9]*\).*|\1|p' <<<"$TRACKER_URL")"
}
start_tracker_at A
start_tracker_at B
[ -n "$PORT_A" ] && [ -n "$PORT_B" ] || fail "tracker URLs not ws://127.0.0.1:PORT: $URL_A $URL_B"

# The publisher seeds once with both trackers: its volume remembers them.
serve() {
	# Gone before the new process starts: its shell truncates the file only
	# once forked, so the old run's "serving" could otherwise be read.
	rm -f "$T/serve.out"
	MEGAFS_STORE=$T/pub "$MEGAFS" serve --listen 127.0.0.1:0 "$@" >"$T/serve.out" 2>&1 &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_for 10 grep -q serving "$T/serve.out" || fail "megafs serve did not start: $(cat "$T/serve.out")"
}
serve --tracker "$URL_A" --tracker "$URL_B"
kill "$SERVE_PID"
wait "$SERVE_PID" || fail "megafs serve did not stop cleanly"

MEGAFS_STORE=$T/pub megafs channel bootstrap "$link" >"$T/boot.txt" ||
	fail "channel bootstrap failed: $(cat "$T/boot.txt")"
grep -qxF "tracker $URL_A" "$T/boot.txt" && grep -qxF "tracker $URL_B" "$T/boot.txt" ||
	fail "the bootstrap file lacks a tracker: $(cat "$T/boot.txt")"
ok "channel bootstrap wrote the trackers the publisher's volume remembers: $(grep -c . "$T/boot.txt") lines"

# Seeding again from what the volume remembers (no --tracker).
serve
key=$(sed -n 's/.* as node \([0-9a-f]*\)$/\1/p' "$T/serve.out")
port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$T/serve.out")
[ -n "$key" ] && [ -n "$port" ] || fail "no node key or port in: $(cat "$T/serve.out")"

# block PORT...: drop every TCP packet to these ports on the loopback.
block() {
	local ports
	ports=$(IFS=,; echo "$*")
	nft -f - <<-EOF2
	table inet mfsblock
	delete table inet mfsblock
	table inet mfsblock {
		chain out {
			type filter hook output priority 0; policy accept;
			tcp dport { $ports } drop
		}
	}
	EOF2
}
# fetch_in STORE OUT OPTIONS...: the file, timed (ms on stdout).
fetch_in() {
	local store=$1 out=$2 start
	shift 2
	start=$(date +%s%N)
	MEGAFS_STORE=$store timeout 120 "$MEGAFS" fetch "$link" file.bin -o "$out" "$@" \
		2>"$out.err" || fail "the fetch failed after $((($(date +%s%N) - start) / 1000000)) ms: $(cat "$out.err")"
	cmp "$T/file.bin" "$out" || fail "the file fetched differs"
	echo "$((($(date +%s%N) - start) / 1000000))"
}
under_30s() { [ "$1" -lt 30000 ] || fail "$2 took $1 ms, over the 30 s bound"; }

MEGAFS_STORE=$T/sub megafs init --size 64M --kdf fast >/dev/null 2>&1
block "$PORT_A"
rc=0
MEGAFS_STORE=$T/sub timeout 8 "$MEGAFS" fetch "$link" file.bin -o "$T/blocked.bin" \
	--tracker "$URL_A" 2>"$T/blocked.err" || rc=$?
[ "$rc" = 124 ] || fail "a fetch through the dropped tracker ended ($rc) within 8 s: $(cat "$T/blocked.err")"
[ ! -e "$T/blocked.bin" ] || fail "a fetch through the dropped tracker wrote the file"
ok "with tracker A dropped, a fetch through A alone is still waiting after 8 s"
ms=$(fetch_in "$T/sub" "$T/viab.bin" --tracker "$URL_A" --bootstrap "$T/boot.txt")
under_30s "$ms" "discovery through the bootstrap file's other tracker"
ok "tracker A dropped: --tracker A --bootstrap FILE found the channel through B, 3 MiB cmp-identical in $ms ms"

# Every tracker dropped: a subscriber that has the manifest (from an earlier
# session) reaches the seeder through the file's peer.
block "$PORT_A" "$PORT_B"
MEGAFS_STORE=$T/pub megafs channel export "$link" >"$T/manifest.json"
MEGAFS_STORE=$T/sub2 megafs init --size 64M --kdf fast >/dev/null 2>&1
MEGAFS_STORE=$T/sub2 megafs channel subscribe "$link" >/dev/null
MEGAFS_STORE=$T/sub2 megafs channel import "$T/manifest.json" >/dev/null
{ cat "$T/boot.txt"; echo "peer 127.0.0.1:$port#$key"; } >"$T/boot2.txt"
ms=$(fetch_in "$T/sub2" "$T/viapeer.bin" --bootstrap "$T/boot2.txt")
under_30s "$ms" "a fetch through the bootstrap file's peer"
ok "both trackers dropped: --bootstrap FILE reached the file's peer, 3 MiB cmp-identical in $ms ms"
MEGAFS_STORE=$T/sub2 megafs channel bootstrap "$link" | grep -qxF "peer 127.0.0.1:$port#$key" ||
	fail "the subscriber's volume did not remember the bootstrap peer"
ok "the subscriber's volume remembers the peer it was handed: its own channel bootstrap lists it"

# ---- domain fronting ----
# nginx on 127.0.0.1 with one certificate, front.example's: a request whose
# Host is hidden.example goes to tracker B (WebSocket upgrade passed on),
# any other gets nginx's own page. Its workers run as nobody, which the
# drop below spares: only megafs (root) is kept from B's own port.
mkdir -p "$T/nginx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=front.example -addext subjectAltName=DNS:front.example \
	-keyout "$T/nginx/front.key" -out "$T/nginx/front.pem" 2>/dev/null || fail "openssl req failed"
pin=$(openssl x509 -in "$T/nginx/front.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
front_port=$(free_port)
cat >"$T/nginx/nginx.conf" <<EOF2
daemon off;
user nobody nogroup;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	ssl_certificate $T/nginx/front.pem;
	ssl_certificate_key $T/nginx/front.key;
	ssl_protocols TLSv1.3;
	server {
		listen 127.0.0.1:$front_port ssl default_server;
		server_name front.example;
		location / { return 200 "front.example\\n"; }
	}
	server {
		listen 127.0.0.1:$front_port ssl;
		server_name hidden.example;
		location / {
			proxy_pass http://127.0.0.1:$PORT_B;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_read_timeout 1h;
		}
	}
}
EOF2
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$T/nginx/out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q . "$T/nginx/nginx.pid" || fail "nginx did not start: $(cat "$T/nginx/out" "$T/nginx/error.log" 2>/dev/null)"

nft -f - <<EOF2
table inet mfsblock
delete table inet mfsblock
table inet mfsblock {
	chain out {
		type filter hook output priority 0; policy accept;
		ct state new meta skuid != 65534 tcp dport { $PORT_A, $PORT_B } drop
	}
}
EOF2
fronted="wss://hidden.example:$front_port/#front=front.example&sha256=$pin"
printf 'tracker %s\n' "$fronted" >"$T/boot3.txt"
MEGAFS_STORE=$T/sub3 megafs init --size 64M --kdf fast >/dev/null 2>&1
capture_start lo "$T/front.pcap" tcp port "$front_port"
ms=$(fetch_in "$T/sub3" "$T/viafront.bin" --bootstrap "$T/boot3.txt")
under_30s "$ms" "discovery through the fronted tracker"
capture_stop
ok "both trackers' ports dropped: a bootstrap file's fronted tracker ($fronted) found the channel through nginx, 3 MiB cmp-identical in $ms ms"
grep -qaF front.example "$T/front.pcap" || fail "the capture does not show the front's name (no SNI?)"
if grep -qaF hidden.example "$T/front.pcap"; then
	fail "the tracker's own name crossed the wire in clear"
fi
ndpi=$(ndpiReader -d -i "$T/front.pcap" -v 2 2>&1) || fail "ndpiReader failed: $ndpi"
grep -q "TLS.*front.example" <<<"$ndpi" || fail "nDPI does not see TLS to front.example: $ndpi"
ok "the capture of the fronted connection names front.example (the SNI; nDPI: $(grep -o '\[proto: [^]]*\]' <<<"$ndpi" | sort -u | tr '\n' ' ')) and never hidden.example"

# A damaged file: refused with its line, nothing started, the store as it was.
cp -a "$T/sub2" "$T/sub2.before"
printf 'tracker %s\ntrackr ws://127.0.0.1:1/\n' "$URL_B" >"$T/bad.txt"
expect_fail "line 2: unknown kind 'trackr'" env MEGAFS_STORE=$T/sub2 "$MEGAFS" fetch "$link" \
	file.bin -o "$T/never.bin" --bootstrap "$T/bad.txt"
printf 'peer a:1\0\n' >"$T/nul.txt"
expect_fail "nul.txt: a NUL byte" env MEGAFS_STORE=$T/sub2 "$MEGAFS" fetch "$link" file.bin \
	-o "$T/never.bin" --bootstrap "$T/nul.txt"
head -c 70000 /dev/zero | tr '\0' '#' >"$T/big.txt"
expect_fail "larger than 65536 bytes" env MEGAFS_STORE=$T/sub2 "$MEGAFS" fetch "$link" \
	file.bin -o "$T/never.bin" --bootstrap "$T/big.txt"
# Past the limits: 17 trackers in all (16 is the most), 9 files (8).
for i in $(seq 17); do echo "tracker ws://127.0.0.1:$((20000 + i))/"; done >"$T/many.txt"
expect_fail "many.txt, line 16: at most 16 trackers in all" env MEGAFS_STORE=$T/sub2 "$MEGAFS" \
	fetch "$link" file.bin -o "$T/never.bin" --tracker "$URL_B" --bootstrap "$T/many.txt"
files=()
for i in $(seq 9); do files+=(--bootstrap "$T/boot.txt"); done
expect_fail "--bootstrap: at most 8 files" env MEGAFS_STORE=$T/sub2 "$MEGAFS" fetch "$link" \
	file.bin -o "$T/never.bin" "${files[@]}"
[ ! -e "$T/never.bin" ] || fail "a refused bootstrap file still fetched"
diff -r "$T/sub2" "$T/sub2.before" >/dev/null || fail "a refused bootstrap file changed the store"
ok "bad bootstrap files (unknown kind, NUL byte, 70 KB, 17 trackers in all, 9 files) refused, the store untouched"
finish
