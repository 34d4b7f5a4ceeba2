#!/usr/bin/python3
"""Runs N libtorrent DHT nodes (python3-libtorrent, Debian's) on 127.0.0.1
that know each other, puts one immutable and one mutable salted BEP 44 item
from the first, and then serves until killed (or until its stdin closes),
answering commands read from stdin, one a line, with one JSON line each:

    get_immutable TARGET_HEX    -> {"value": hex of the bencoded value} or {}
    get_mutable PK_HEX SALT     -> {"value": hex, "seq": n, "signature": hex} or {}
    put_immutable TEXT          -> {"target": hex, "stored": nodes that accepted}
    put_mutable SEED_HEX SALT TEXT -> {"target": hex, "stored": n} (libtorrent
                                   picks the seq: one above the highest it finds)
    get_peers INFOHASH_HEX      -> {"peers": ["IP:PORT", ...]}
    announce INFOHASH_HEX       -> {"port": n} (a magnet-only torrent added to
                                   the first node, which announces it: its Python
                                   dht_announce is broken in 2.0.8)
    add_node PORT               -> {} (every node learns 127.0.0.1:PORT)

(the first node looks the item up in the DHT; libtorrent checks the target
hash and the signature of what it returns, and itself never reads its own
storage). TEXT travels as a bencoded string (one word: commands split at spaces).

    /usr/bin/python3 lt_dht_nodes.py [--mesh] N SEED_HEX SALT IMMUTABLE_TEXT MUTABLE_TEXT

Without --mesh each node has the others as its bootstrap routers, and
libtorrent never puts a router into its routing table: the nodes answer
with no nodes, and a lookup reaches only the nodes it starts from (enough
for 3 nodes). With --mesh they have no routers and learn each other with
add_dht_node: their routing tables fill and lookups walk the DHT as on the
Internet (tools/bench/dht.sh).

Prints one JSON line on stdout once both puts are done (or failed):
{"ports": [...], "immutable_target": hex, "mutable_target": hex, "pk": hex,
 "put_ok": {"immutable": n, "mutable": n}}. The mutable item is signed
with the Ed25519 key of SEED (libtorrent wants the 64-byte expanded secret
key: SHA-512 of the seed, clamped; the public key comes from
python3-cryptography). Settings as /work/shared/TOOLS.md says they work on
loopback, and no per-IP rate limit (tools/bench/dht.sh runs up to 100 of
these nodes)."""
import hashlib
import json
import select
import socket
import sys
import tempfile
import time

import libtorrent as lt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


def keys(seed):
    """libtorrent's 64-byte secret key and the public key of an Ed25519 seed."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 63
    h[31] |= 64
    return bytes(h), pk


def session(port, others, routers=True, extra=None):
    """A session on 127.0.0.1:port that knows the nodes on ports others
    (as its bootstrap routers too, unless routers is False), with the
    settings in extra on top (from the start: the DHT starts at once)."""
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": ",".join("127.0.0.1:%d" % p for p in others) if routers else "",
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        # Every node is on 127.0.0.1: libtorrent's per-IP rate limit (5
        # packets a second) would block the others for 5 minutes once there
        # are more than a few, and its 8,000 bytes/s upload limit would
        # slow the answers to a crawl.
        "dht_block_ratelimit": 1000000,
        "dht_upload_rate_limit": 100000000,
        "alert_mask": lt.alert.category_t.dht_notification | lt.alert.category_t.error_notification
        | lt.alert.category_t.dht_operation_notification,
    }
    settings.update(extra or {})
    s = lt.session(settings)
    for p in others:
        s.add_dht_node(("127.0.0.1", p))
    return s


def main():
    mesh = sys.argv[1] == "--mesh"
    n, seed_hex, salt, imm_text, mut_text = sys.argv[1 + mesh:6 + mesh]
    n = int(n)
    seed = bytes.fromhex(seed_hex)
    salt = salt.encode()
    sk64, pk = keys(seed)

    ports = [free_port() for _ in range(n)]
    sessions = [session(p, [q for q in ports if q != p], not mesh) for p in ports]
    time.sleep(3)
    for s in sessions:  # nodes learnt again after start, as TOOLS.md advises
        for p in ports:
            s.add_dht_node(("127.0.0.1", p))
    time.sleep(1)
    first = sessions[0]
    imm_target = first.dht_put_immutable_item(imm_text.encode())
    first.dht_put_mutable_item(sk64, pk, mut_text.encode(), salt)
    done = {"immutable": None, "mutable": None}
    deadline = time.time() + 20
    while time.time() < deadline and None in done.values():
        for a in first.pop_alerts():
            if isinstance(a, lt.dht_put_alert):
                kind = "mutable" if bytes(a.public_key) == pk else "immutable"
                done[kind] = a.num_success
        time.sleep(0.1)
    print(json.dumps({
        "ports": ports,
        "immutable_target": str(imm_target),
        "mutable_target": hashlib.sha1(pk + salt).hexdigest(),
        "pk": pk.hex(),
        "put_ok": done,
    }), flush=True)
    # Serve until killed or until stdin closes.
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        for s in sessions[1:]:
            s.pop_alerts()
        if not r:
            continue
        line = sys.stdin.readline()
        if not line:
            break
        print(json.dumps(command(sessions, ports, line.split())), flush=True)


def wait_alert(s, kind, seconds=60):
    """The first alert of kind from session s within seconds, or None."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        for a in s.pop_alerts():
            if isinstance(a, kind):
                return a
        time.sleep(0.1)
    return None


def command(sessions, ports, words):
    """One command through the first session; what libtorrent reports."""
    s = sessions[0]
    s.pop_alerts()
    if words[0] == "add_node":
        for t in sessions:
            t.add_dht_node(("127.0.0.1", int(words[1])))
        return {}
    if words[0] == "put_immutable":
        target = s.dht_put_immutable_item(words[1].encode())
        a = wait_alert(s, lt.dht_put_alert)
        return {"target": str(target), "stored": a.num_success if a else 0}
    if words[0] == "put_mutable":
        sk64, pk = keys(bytes.fromhex(words[1]))
        s.dht_put_mutable_item(sk64, pk, words[3].encode(), words[2].encode())
        a = wait_alert(s, lt.dht_put_alert)
        return {"target": hashlib.sha1(pk + words[2].encode()).hexdigest(),
                "stored": a.num_success if a else 0, "seq": a.seq if a else 0}
    if words[0] == "get_peers":
        s.dht_get_peers(lt.sha1_hash(bytes.fromhex(words[1])))
        a = wait_alert(s, lt.dht_get_peers_reply_alert)
        return {"peers": ["%s:%d" % p for p in a.peers()] if a else []}
    if words[0] == "announce":
        atp = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + words[1])
        atp.save_path = tempfile.mkdtemp()
        s.add_torrent(atp)
        return {"port": ports[0]}
    if words[0] == "get_immutable":
        s.dht_get_immutable_item(lt.sha1_hash(bytes.fromhex(words[1])))
    elif words[0] == "get_mutable":
        s.dht_get_mutable_item(bytes.fromhex(words[1]), words[2].encode())
    else:
        return {"error": "unknown command"}
    found = {}
    deadline = time.time() + 15
    while time.time() < deadline:
        for a in s.pop_alerts():
            if words[0] == "get_immutable" and isinstance(a, lt.dht_immutable_item_alert):
                return {"value": lt.bencode(a.item["value"]).hex()}
            if words[0] == "get_mutable" and isinstance(a, lt.dht_mutable_item_alert):
                item = a.item
                if item["seq"] > 0:
                    found = {"value": lt.bencode(item["value"]).hex(), "seq": item["seq"],
                             "signature": bytes(item["signature"]).hex()}
                if item["authoritative"]:
                    return found
        time.sleep(0.1)
    return found


if __name__ == "__main__":
    main()
