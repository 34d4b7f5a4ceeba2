#!/usr/bin/python3
"""Lookups in a DHT on 127.0.0.1 from fresh libtorrent nodes, for
tools/bench/dht.sh: each lookup runs from a new libtorrent session (an empty
routing table) that bootstraps from a few nodes of the network, waits for
its bootstrap to end, then runs one lookup, and prints one line:

    ms=WALL msgs=N sent=M found=0|1 boot_ms=B

ms: from the call (dht_get_mutable_item, dht_get_peers) to the lookup's
end: the authoritative dht_mutable_item_alert of a get, the traversal's
"get_peers DONE" log line of a get_peers (its reply alert comes per answer
that holds peers, not at the end). msgs: the lookup's queries, from the
session's counters (dht.dht_get_out or dht.dht_get_peers_out, read before
and after); sent: every DHT datagram the session sent meanwhile
(dht.dht_messages_out: replies to others' queries too). found: the item
(any seq >= 1) or at least one peer came back.

The sessions are read-only DHT nodes (BEP 43, dht_read_only): the network
does not put them in its routing tables, so a client that has gone does
not slow the next lookup down with queries to a node that is no longer
there.

    /usr/bin/python3 lt_dht_lookups.py --count N --boot PORT,PORT,... \\
        [--per-lookup K] [--slow-log FILE] get_mutable PK_HEX SALT | get_peers INFOHASH_HEX

Each lookup bootstraps from K (default 3) of the ports, picked at random.
--slow-log FILE: libtorrent's DHT log of each lookup (with its bootstrap)
that took over a second is appended to FILE.
Exit 0 once every lookup ran (found or not); 1 when a session did not
bootstrap within 30 s."""
import argparse
import os
import random
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "tools"))
from lt_dht_nodes import free_port, session  # noqa: E402

WAIT_S = 30


def counters(s):
    """The session's counters (name -> value), read now."""
    s.post_session_stats()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        s.wait_for_alert(1000)
        for a in s.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                return a.values
    raise RuntimeError("no session_stats_alert")


TRACE = []  # the DHT log lines of the lookup under way


def wait_for(s, done, seconds=WAIT_S):
    """Pops alerts until done(alert) is true; False after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.wait_for_alert(int((deadline - time.monotonic()) * 1000) + 1)
        for a in s.pop_alerts():
            if isinstance(a, lt.dht_log_alert):
                TRACE.append("%.3f %s" % (time.monotonic(), a.message()))
            if done(a):
                return True
    return False


def lookup(boot, args):
    # Read-only from the start: a bootstrap query without "ro" would put
    # the session in the network's routing tables after all.
    s = session(free_port(), boot, extra={
        "dht_read_only": True,
        "alert_mask": lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.dht_log_notification
        | lt.alert.category_t.stats_notification,
    })
    t0 = time.monotonic()
    if not wait_for(s, lambda a: isinstance(a, lt.dht_bootstrap_alert)):
        return None
    boot_ms = (time.monotonic() - t0) * 1000
    kind = "dht.dht_get_out" if args.op == "get_mutable" else "dht.dht_get_peers_out"
    before = counters(s)
    found = [False]
    t1 = time.monotonic()
    if args.op == "get_mutable":
        s.dht_get_mutable_item(bytes.fromhex(args.key), args.salt.encode())

        def done(a):
            if isinstance(a, lt.dht_mutable_item_alert):
                found[0] = found[0] or a.seq > 0
                return a.authoritative
            return False
    else:
        s.dht_get_peers(lt.sha1_hash(bytes.fromhex(args.key)))

        def done(a):
            if isinstance(a, lt.dht_get_peers_reply_alert):
                found[0] = found[0] or a.num_peers() > 0
            return isinstance(a, lt.dht_log_alert) and "] get_peers DONE" in a.message()
    ended = wait_for(s, done)
    ms = (time.monotonic() - t1) * 1000
    if args.slow_log and (ms > 1000 or boot_ms > 1000):
        with open(args.slow_log, "a") as f:
            f.write("--- a lookup of %.0f ms after a bootstrap of %.0f ms\n%s\n"
                    % (ms, boot_ms, "\n".join(TRACE)))
    del TRACE[:]
    after = counters(s)
    return ("ms=%.3f msgs=%d sent=%d found=%d boot_ms=%.1f%s" % (
        ms, after[kind] - before[kind],
        after["dht.dht_messages_out"] - before["dht.dht_messages_out"],
        found[0], boot_ms, "" if ended else " unfinished=1"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--boot", required=True)
    p.add_argument("--per-lookup", type=int, default=3)
    p.add_argument("--slow-log", help="where the DHT log of a lookup or bootstrap over 1 s goes")
    p.add_argument("op", choices=["get_mutable", "get_peers"])
    p.add_argument("key")
    p.add_argument("salt", nargs="?", default="")
    args = p.parse_args()
    ports = [int(x) for x in args.boot.split(",")]
    for _ in range(args.count):
        line = lookup(random.sample(ports, min(args.per_lookup, len(ports))), args)
        if line is None:
            print("lt_dht_lookups.py: a session did not bootstrap in %d s" % WAIT_S,
                  file=sys.stderr)
            return 1
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
