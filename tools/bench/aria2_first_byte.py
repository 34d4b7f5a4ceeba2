#!/usr/bin/python3
# tools/bench/aria2_first_byte.py: for tools/bench/net.sh, when aria2c first
# has a byte of its download: polls aria2c's JSON-RPC (aria2.tellActive, every
# 2 ms) until some download reports completedLength > 0, which aria2c counts
# in verified pieces, and prints that moment as seconds since the epoch
# (the clock of bash's $EPOCHREALTIME). Prints nothing and exits 1 when
# aria2c goes away first or after --timeout seconds.
#
#   aria2_first_byte.py --port RPC_PORT --secret SECRET [--timeout S]
import argparse
import json
import time
import urllib.error
import urllib.request


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--port", type=int, required=True)
	ap.add_argument("--secret", required=True)
	ap.add_argument("--timeout", type=float, default=600)
	args = ap.parse_args()

	url = f"http://127.0.0.1:{args.port}/jsonrpc"
	body = json.dumps({"jsonrpc": "2.0", "id": "bench", "method": "aria2.tellActive",
			   "params": [f"token:{args.secret}", ["completedLength"]]}).encode()
	deadline = time.monotonic() + args.timeout
	connected = False
	while time.monotonic() < deadline:
		try:
			req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
			with urllib.request.urlopen(req, timeout=5) as r:
				active = json.load(r).get("result", [])
			connected = True
		except (urllib.error.URLError, ConnectionError, OSError):
			if connected:
				return 1  # aria2c has exited
			time.sleep(0.002)
			continue
		if any(int(d.get("completedLength", "0")) > 0 for d in active):
			print(f"{time.time():.6f}")
			return 0
		time.sleep(0.002)
	return 1


if __name__ == "__main__":
	raise SystemExit(main())
