#!/usr/bin/python3
# tests/tools/bt_reply.py: a BitTorrent tracker's bencoded answer (stdin) as
# one line, for tests/integration/net_bt_tracker.sh:
#   failure: REASON
#   complete=C incomplete=I interval=N peers=IP:PORT,IP:PORT,...
# ("peers" then "peers6", in the order sent). Exits 1 when stdin is not
# bencoded or lacks a field. Needs python3-libtorrent (its bdecode).
import ipaddress
import sys

import libtorrent as lt

try:
	d = lt.bdecode(sys.stdin.buffer.read())
except RuntimeError as e:
	sys.exit(f"bt_reply.py: {e}")
if not isinstance(d, dict):
	sys.exit("bt_reply.py: not a bencoded dictionary")
if b"failure reason" in d:
	print("failure:", d[b"failure reason"].decode())
	sys.exit()
peers = []
for key, width in ((b"peers", 4), (b"peers6", 16)):
	raw = d.get(key, b"")
	if len(raw) % (width + 2):
		sys.exit(f"bt_reply.py: {key.decode()} of {len(raw)} bytes")
	for i in range(0, len(raw), width + 2):
		ip = ipaddress.ip_address(raw[i:i + width])
		port = int.from_bytes(raw[i + width:i + width + 2], "big")
		peers.append(f"[{ip}]:{port}" if width == 16 else f"{ip}:{port}")
print(f"complete={d[b'complete']} incomplete={d[b'incomplete']} interval={d[b'interval']} "
      f"peers={','.join(peers)}")
