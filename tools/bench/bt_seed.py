#!/usr/bin/python3
# tools/bench/bt_seed.py: the BitTorrent side of tools/bench/net.sh. One
# process that makes a torrent of some files, seeds it with
# libtorrent-rasterbar, and runs the tiny HTTP tracker that points every
# client at that seeder. Loopback only: the tracker and the seeder listen on
# 127.0.0.2 (--host), and DHT, local peer discovery, UPnP and NAT-PMP are off.
#
#   /usr/bin/python3 tools/bench/bt_seed.py --out DIR [--piece-kb N] FILE...
#
# The FILEs share one directory, D: writes DIR/<basename of D>.torrent
# (BitTorrent v1, the files in D's name in the order given, the tracker as
# announce URL), then prints one line on stdout,
#   ready tracker=PORT seeder=PORT
# and seeds until SIGTERM or SIGINT. Seeding starts in seed mode (the pieces
# were just hashed from the same files, no second check). Needs
# python3-libtorrent (Debian: /usr/bin/python3, not a virtualenv's python).
#
# The tracker gives every client an empty peer list and has the seeder dial
# the client instead (TCP, to the address and port it announced). Were the
# seeder in the list, a libtorrent client (btfs) would first try uTP, which
# the seeder does not take (uTP on loopback runs at a few MB/s), and fall
# back to TCP only after a 3.5 s connect timeout; dialled over TCP, the
# transfer starts at once. The client never learns of any other peer.
#
# Why 127.0.0.2: btfs leaves local peer discovery on, finds itself on the
# loopback, and bans that address ("connected to ourselves"); a seeder on
# the client's own 127.0.0.1 would be refused.
import argparse
import http.server
import os
import signal
import sys
import threading
import time
import urllib.parse

import libtorrent as lt


def bencode(value):
	if isinstance(value, int):
		return b"i%de" % value
	if isinstance(value, str):
		value = value.encode()
	if isinstance(value, bytes):
		return b"%d:%s" % (len(value), value)
	if isinstance(value, list):
		return b"l" + b"".join(bencode(v) for v in value) + b"e"
	if isinstance(value, dict):
		items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
		return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
	raise TypeError(f"cannot bencode {type(value)}")


def tracker_handler(handles):
	dialled = set()
	lock = threading.Lock()

	class Announce(http.server.BaseHTTPRequestHandler):
		def do_GET(self):
			url = urllib.parse.urlsplit(self.path)
			# latin-1: the info-hash and peer id are raw bytes, %-escaped.
			query = urllib.parse.parse_qs(url.query, encoding="latin-1")
			first = lambda k: query.get(k, [""])[0]
			info_hash = first("info_hash").encode("latin-1")
			if url.path != "/announce" or info_hash not in handles:
				self.reply({"failure reason": "unknown torrent"})
				return
			key = (info_hash, first("peer_id"))
			with lock:
				new = key not in dialled and first("event") != "stopped"
				if new:
					dialled.add(key)
			# A libtorrent client announces once per listen socket:
			# one connection is enough.
			if new and first("port").isdigit():
				handles[info_hash].connect_peer((self.client_address[0],
								 int(first("port"))))
			self.reply({"interval": 1800, "peers": b""})

		def reply(self, value):
			body = bencode(value)
			self.send_response(200)
			self.send_header("Content-Type", "text/plain")
			self.send_header("Content-Length", str(len(body)))
			self.end_headers()
			try:
				self.wfile.write(body)
			except (BrokenPipeError, ConnectionResetError):
				pass  # a client that announced "stopped" and left

		def log_message(self, *args):
			pass

	return Announce


def loopback_settings(listen, extra=None):
	"""libtorrent's high_performance_seed for a session on loopback: TCP only
	(uTP on loopback runs at a few MB/s), no DHT, local peer discovery,
	UPnP or NAT-PMP, errors and status alerts. Peer connections start on
	the session's tick (500 ms by default): 20 ms. bt_get.py uses it too."""
	settings = lt.high_performance_seed()
	settings.update({
		"listen_interfaces": listen,
		"enable_dht": False,
		"enable_lsd": False,
		"enable_upnp": False,
		"enable_natpmp": False,
		"enable_incoming_utp": False,
		"enable_outgoing_utp": False,
		"tick_interval": 20,
		"alert_mask": lt.alert.category_t.error_notification |
			      lt.alert.category_t.status_notification,
	})
	settings.update(extra or {})
	return settings


def make_torrent(paths, piece_kb, announce, out_dir):
	"""One torrent of PATHS, which share a directory; returns its path."""
	root = os.path.dirname(os.path.abspath(paths[0]))
	if any(os.path.dirname(os.path.abspath(p)) != root for p in paths):
		sys.exit("bt_seed.py: the files must be in one directory")
	name = os.path.basename(root)
	fs = lt.file_storage()
	for p in paths:
		fs.add_file(os.path.join(name, os.path.basename(p)), os.path.getsize(p))
	ct = lt.create_torrent(fs, piece_kb * 1024, flags=lt.create_torrent.v1_only)
	ct.add_tracker(announce)
	ct.set_creator("megafs tools/bench/bt_seed.py")
	lt.set_piece_hashes(ct, os.path.dirname(root))
	torrent = os.path.join(out_dir, name + ".torrent")
	with open(torrent, "wb") as f:
		f.write(lt.bencode(ct.generate()))
	return torrent


def main():
	ap = argparse.ArgumentParser(description="Seed FILEs as one torrent, with a tracker, on loopback.")
	ap.add_argument("--out", required=True, help="where the .torrent file goes")
	ap.add_argument("--piece-kb", type=int, default=0,
			help="piece size in KiB (0: libtorrent chooses)")
	ap.add_argument("--host", default="127.0.0.2",
			help="the loopback address of the seeder and the tracker")
	ap.add_argument("files", nargs="+")
	args = ap.parse_args()

	settings = loopback_settings(f"{args.host}:0", {
		"outgoing_interfaces": args.host,
		"allow_multiple_connections_per_ip": True,
		# A plaintext handshake when dialling: no Diffie-Hellman round
		# before the first byte (the clients take either).
		"out_enc_policy": int(lt.enc_policy.disabled),
	})
	ses = lt.session(settings)

	# The session's port is known once it listens.
	seed_port = 0
	deadline = time.monotonic() + 10
	while seed_port == 0 and time.monotonic() < deadline:
		ses.wait_for_alert(100)
		for a in ses.pop_alerts():
			if isinstance(a, lt.listen_failed_alert):
				sys.exit(f"bt_seed.py: {a.message()}")
		seed_port = ses.listen_port()
	if seed_port == 0:
		sys.exit("bt_seed.py: the seeder did not start listening")

	handles = {}
	tracker = http.server.ThreadingHTTPServer((args.host, 0), tracker_handler(handles))
	tracker.daemon_threads = True
	announce = f"http://{args.host}:{tracker.server_address[1]}/announce"

	p = lt.add_torrent_params()
	p.ti = lt.torrent_info(make_torrent(args.files, args.piece_kb, announce, args.out))
	p.save_path = os.path.dirname(os.path.dirname(os.path.abspath(args.files[0])))
	# No announces of its own: the tracker would have it dial itself.
	p.trackers = []
	p.flags = lt.torrent_flags.seed_mode | lt.torrent_flags.override_trackers | \
		  lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | \
		  lt.torrent_flags.disable_pex
	handles[p.ti.info_hashes().v1.to_bytes()] = ses.add_torrent(p)
	threading.Thread(target=tracker.serve_forever, daemon=True).start()

	stop = threading.Event()
	signal.signal(signal.SIGTERM, lambda *_: stop.set())
	signal.signal(signal.SIGINT, lambda *_: stop.set())
	print(f"ready tracker={tracker.server_address[1]} seeder={seed_port}", flush=True)
	while not stop.is_set():
		ses.wait_for_alert(500)
		for a in ses.pop_alerts():
			if a.category() & lt.alert.category_t.error_notification:
				print(f"bt_seed.py: {a.message()}", file=sys.stderr, flush=True)
	tracker.shutdown()
	ses.pause()


if __name__ == "__main__":
	main()
