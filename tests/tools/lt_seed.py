#!/usr/bin/python3
# tests/tools/lt_seed.py: a libtorrent seeder that finds its peers only by
# the tracker of its torrent (tests/integration/net_bt_tracker.sh).
#
#   /usr/bin/python3 tests/tools/lt_seed.py --announce URL --out TORRENT FILE
#
# Makes a BitTorrent v1 torrent of FILE with URL as its only tracker, writes
# it to TORRENT, seeds it from 127.0.0.1 (tools/bench/bt_seed.py's loopback
# settings: TCP only; DHT, local peer discovery, UPnP and NAT-PMP off; and
# no peer exchange), prints one line
#   ready port=PORT info_hash=HEX
# then a line "tracker: MESSAGE" for each answer or error of the tracker
# that libtorrent reports, until SIGTERM or SIGINT. Needs python3-libtorrent
# (Debian's /usr/bin/python3).
import argparse
import os
import signal
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench"))
from bt_seed import loopback_settings  # noqa: E402 (TCP only, no DHT, LSD, UPnP, NAT-PMP)


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--announce", required=True)
	ap.add_argument("--out", required=True)
	ap.add_argument("file")
	args = ap.parse_args()

	ses = lt.session(loopback_settings("127.0.0.1:0", {
		"announce_to_all_trackers": True,
		"allow_multiple_connections_per_ip": True,
		"alert_mask": lt.alert.category_t.error_notification |
			      lt.alert.category_t.status_notification |
			      lt.alert.category_t.tracker_notification,
	}))
	deadline = time.monotonic() + 10
	while ses.listen_port() == 0 and time.monotonic() < deadline:
		ses.wait_for_alert(100)
		ses.pop_alerts()
	if ses.listen_port() == 0:
		sys.exit("lt_seed.py: the seeder did not start listening")

	fs = lt.file_storage()
	lt.add_files(fs, args.file)
	ct = lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only)
	ct.add_tracker(args.announce)
	lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.file)))
	with open(args.out, "wb") as f:
		f.write(lt.bencode(ct.generate()))

	p = lt.add_torrent_params()
	p.ti = lt.torrent_info(args.out)
	p.save_path = os.path.dirname(os.path.abspath(args.file))
	p.flags = lt.torrent_flags.seed_mode | lt.torrent_flags.disable_dht | \
		  lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
	ses.add_torrent(p)

	stop = []
	signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
	signal.signal(signal.SIGINT, lambda *_: stop.append(1))
	print(f"ready port={ses.listen_port()} info_hash={p.ti.info_hashes().v1}", flush=True)
	while not stop:
		ses.wait_for_alert(200)
		for a in ses.pop_alerts():
			if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert,
					  lt.tracker_warning_alert)):
				print(f"tracker: {a.message()}", flush=True)
			elif a.category() & lt.alert.category_t.error_notification:
				print(f"lt_seed.py: {a.message()}", file=sys.stderr, flush=True)
	ses.pause()


if __name__ == "__main__":
	main()
