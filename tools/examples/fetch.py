#!/usr/bin/python3
"""Fetch one file of a megafs channel from Python, through libmegafs (ctypes).

    MEGAFS_PASSWORD=... tools/examples/fetch.py --store DIR --tracker URL \\
        LINK PATH OUT [--lib /usr/lib/libmegafs.so.0]

The store is one `megafs init` made; the channel is subscribed to when the
volume does not know it. Progress goes to stderr; the exit status is 0, or 1
with libmegafs's words for what went wrong. The declarations below are those
of <megafs.h> (libmegafs(3)): nothing else of the library is reachable.
"""
import argparse
import ctypes
import ctypes.util
import getpass
import os
import sys


class NetOptions(ctypes.Structure):
    """struct megafs_net_options."""
    _fields_ = [
        ("trackers", ctypes.POINTER(ctypes.c_char_p)),
        ("tracker_count", ctypes.c_size_t),
        ("peers", ctypes.POINTER(ctypes.c_char_p)),
        ("peer_count", ctypes.c_size_t),
        ("listen", ctypes.c_char_p),
        ("timeout_ms", ctypes.c_uint),
        ("log", ctypes.c_void_p),
        ("log_user", ctypes.c_void_p),
    ]


PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path or ctypes.util.find_library("megafs") or "libmegafs.so.0")
    lib.megafs_version.restype = ctypes.c_char_p
    lib.megafs_version.argtypes = [ctypes.c_void_p] * 3
    lib.megafs_strerror.restype = ctypes.c_char_p
    lib.megafs_strerror.argtypes = [ctypes.c_int]
    lib.megafs_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                ctypes.c_void_p, ctypes.c_size_t]
    lib.megafs_close.argtypes = [ctypes.c_void_p]
    lib.megafs_fetch_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_char_p, ctypes.POINTER(NetOptions), PROGRESS,
                                      ctypes.c_void_p]
    return lib


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--tracker", action="append", default=[])
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--lib", help="the library's path (default: found as libmegafs)")
    ap.add_argument("link")
    ap.add_argument("path")
    ap.add_argument("out")
    args = ap.parse_args()

    lib = load(args.lib)
    print("libmegafs", lib.megafs_version(None, None, None).decode(), file=sys.stderr)

    def error(what, rc):
        print(f"fetch.py: {what}: {lib.megafs_strerror(rc).decode()} ({rc})", file=sys.stderr)
        return 1

    # Bytes with a length, as megafs_open takes them; wiped after the call.
    raw = os.environb.get(b"MEGAFS_PASSWORD") or getpass.getpass().encode()
    password = ctypes.create_string_buffer(raw, len(raw))
    handle = ctypes.c_void_p()
    rc = lib.megafs_open(ctypes.byref(handle), args.store.encode(), password, len(raw))
    ctypes.memset(password, 0, len(password))
    if rc != 0:
        return error("open", rc)

    trackers = (ctypes.c_char_p * max(1, len(args.tracker)))(*[t.encode() for t in args.tracker])
    peers = (ctypes.c_char_p * max(1, len(args.peer)))(*[p.encode() for p in args.peer])
    net = NetOptions(trackers=trackers, tracker_count=len(args.tracker),
                     peers=peers, peer_count=len(args.peer))
    calls = [0]

    @PROGRESS
    def progress(done, total, _user):
        calls[0] += 1
        print(f"progress {done} {total}", file=sys.stderr)
        return 0  # nonzero would cancel the fetch

    rc = lib.megafs_fetch_file(handle, args.link.encode(), args.path.encode(),
                               args.out.encode(), ctypes.byref(net), progress, None)
    close_rc = lib.megafs_close(handle)
    if rc != 0:
        return error("fetch", rc)
    if close_rc != 0:
        return error("close", close_rc)
    print(f"fetched {args.path} into {args.out}, progress told {calls[0]} times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
