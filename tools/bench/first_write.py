#!/usr/bin/python3
# tools/bench/first_write.py: for tools/bench/transport.sh, when a download
# first has the start of its file in its output: polls the output (each of
# the paths given: megafs fetch writes OUT.part and renames it, aria2c
# writes OUT) every 2 ms until its first 16 bytes are the source's first 16
# bytes, and prints that moment as seconds since the epoch (the clock of
# bash's $EPOCHREALTIME). Comparing bytes, not sizes: megafs fetch reserves
# the whole output (fallocate, zeros) before the first byte arrives.
# Prints "ready" first, once polling; prints nothing more and exits 1 after
# --timeout seconds.
#
#   first_write.py --src FILE --timeout S OUT...
import argparse
import sys
import time


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--src", required=True)
	ap.add_argument("--timeout", type=float, default=600)
	ap.add_argument("out", nargs="+")
	args = ap.parse_args()

	with open(args.src, "rb") as f:
		want = f.read(16)
	deadline = time.monotonic() + args.timeout
	print("ready", flush=True)
	while time.monotonic() < deadline:
		for path in args.out:
			try:
				with open(path, "rb") as f:
					if f.read(16) == want:
						print(f"{time.time():.6f}", flush=True)
						return 0
			except OSError:
				pass
		time.sleep(0.002)
	return 1


if __name__ == "__main__":
	sys.exit(main())
