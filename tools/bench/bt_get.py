#!/usr/bin/python3
# tools/bench/bt_get.py: the libtorrent download column of tools/bench/net.sh.
# Downloads one file of a torrent with libtorrent-rasterbar as a client, the
# way aria2c does in the column beside it, and exits when the file is whole
# on disk and checked.
#
#   /usr/bin/python3 tools/bench/bt_get.py --torrent T --dir D --port P --file N
#
# Only file index N (0-based) is wanted; the others get priority 0. The
# client listens on 127.0.0.1:P over TCP (uTP off: on loopback it runs at a
# few MB/s), with DHT, local peer discovery, UPnP, NAT-PMP and peer exchange
# off, so the only peer it meets is the one bt_seed.py's tracker has dial
# it. Settings: bt_seed.loopback_settings (libtorrent's high_performance_seed
# preset, whose large buffers serve a downloader as well). Prints nothing on
# success; exits 1 with a message after --timeout seconds or on an error
# alert. Needs python3-libtorrent (Debian's /usr/bin/python3).
import argparse
import sys
import time

import libtorrent as lt

from bt_seed import loopback_settings


def main():
	ap = argparse.ArgumentParser(description="Download one file of a torrent with libtorrent.")
	ap.add_argument("--torrent", required=True)
	ap.add_argument("--dir", required=True, help="where the torrent's files go")
	ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
	ap.add_argument("--file", type=int, default=0, help="index of the wanted file")
	ap.add_argument("--timeout", type=float, default=600)
	args = ap.parse_args()

	settings = loopback_settings(f"127.0.0.1:{args.port}")
	ses = lt.session(settings)
	p = lt.add_torrent_params()
	p.ti = lt.torrent_info(args.torrent)
	if not 0 <= args.file < p.ti.num_files():
		sys.exit(f"bt_get.py: the torrent has no file {args.file}")
	p.save_path = args.dir
	p.file_priorities = [4 if i == args.file else 0 for i in range(p.ti.num_files())]
	p.flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | \
		   lt.torrent_flags.disable_pex
	h = ses.add_torrent(p)

	deadline = time.monotonic() + args.timeout
	while time.monotonic() < deadline:
		ses.wait_for_alert(50)
		for a in ses.pop_alerts():
			if a.category() & lt.alert.category_t.error_notification:
				sys.exit(f"bt_get.py: {a.message()}")
		# Finished: every wanted piece downloaded and hash-checked.
		if h.status().is_finished:
			ses.pause()
			return
	sys.exit(f"bt_get.py: not done after {args.timeout:g} s")


if __name__ == "__main__":
	main()
