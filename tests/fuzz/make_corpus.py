#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: a few valid
inputs and a few broken ones per harness (see each harness's comment for
its input's layout). The manifest and FileEntry seeds start from the golden
vectors of tests/vectors/. Run it again after changing a format or a
harness's layout; it rewrites only the files it names."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors")


def vector(name):
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def canon_json():
    write("canon_json", "ok-vector", vector("canon.json"))
    write("canon_json", "ok-nested", '{"a":[1,{"b":[]},"\\u00E9"],"z":-9}')
    write("canon_json", "ok-scalars", "[true,false,null,0,-1,9223372036854775807]")
    write("canon_json", "bad-unsorted", '{"b":1,"a":2}')
    write("canon_json", "bad-space", '{"a": 1}')
    write("canon_json", "bad-real", '{"a":1.5}')
    write("canon_json", "bad-dup", '{"a":1,"a":1}')
    write("canon_json", "bad-utf8", '["\xc3\xa9"]'.encode("latin-1"))
    write("canon_json", "bad-lowerhex", '["\\u00e9"]')


def manifest():
    m = vector("manifest.json")
    write("manifest", "ok-vector", m)
    write("manifest", "bad-signature", m.replace(b'"signature":"d6', b'"signature":"d7'))
    write("manifest", "bad-sequence", m.replace(b'"sequence":3', b'"sequence":4'))
    write("manifest", "bad-truncated", m[:-1])
    write("manifest", "bad-extra", m[:-1] + b',"x":1}')
    write("manifest", "bad-empty", "{}")


def fileentry():
    e = vector("fileentry.json")
    write("fileentry", "ok-vector", e)
    write("fileentry", "ok-empty",
          '{"chunkSize":65536,"chunks":[],"mode":"random","mtime":0,"name":"e","size":0}')
    key = "5a" * 32
    write("fileentry", "ok-index",
          '{"chunkSize":65536,"index":{"depth":2,"id":"%s","key":"%s","length":76},'
          '"mode":"random","mtime":-5,"name":"big","size":4294967296}' % ("11" * 32, key))
    write("fileentry", "bad-count", e.replace(b'"size":100000', b'"size":200000'))
    write("fileentry", "bad-name", e.replace(b'"golden.txt"', b'".."'))
    write("fileentry", "bad-chunksize", e.replace(b'"chunkSize":65536', b'"chunkSize":65537'))
    write("fileentry", "bad-hex", e.replace(b'"id":"10', b'"id":"zz'))


RECORD = 68


def index_node(level, records):
    body = b"".join(rid + b"\0" * 32 + struct.pack("<I", length) for rid, length in records)
    return struct.pack("<BxxxI", level, len(records)) + body


def index_input(depth_byte, size, lookup, nodes):
    out = bytes([depth_byte]) + struct.pack("<QQ", size, lookup)
    for n in nodes:
        out += struct.pack("<H", len(n)) + n
    return out


def index():
    cs = 65536
    size = 40 * cs + 100  # 41 chunks: one level-0 node
    chunks = [(bytes([i]) * 32, cs if i < 40 else 100) for i in range(41)]
    leaf = index_node(0, chunks)
    write("index", "ok-depth1", index_input(0, size, 7, [leaf]))
    # Depth 2: a root of one record naming the leaf, then the leaf.
    root = index_node(1, [(b"\x77" * 32, len(leaf))])
    write("index", "ok-depth2", index_input(1, size, 40, [root, leaf, leaf, leaf]))
    write("index", "bad-level", index_input(0, size, 3, [index_node(1, chunks)]))
    write("index", "bad-count", index_input(0, size, 3, [leaf[:4] + b"\xff\0\0\0" + leaf[8:]]))
    write("index", "bad-short", index_input(0, size, 3, [index_node(0, chunks[:3])]))
    write("index", "bad-length", index_input(0, size, 40, [index_node(0, chunks[:40] + [(b"\1" * 32, 99)])]))


def wire():
    rid = bytes(range(32))

    def msg(t, body):
        return struct.pack(">BI", t, len(body)) + body

    hello = msg(0, struct.pack(">HHH", 1, 7000, 16))
    write("wire", "ok-hello", hello + msg(1, struct.pack(">HHH", 1, 0, 8)))
    write("wire", "ok-request", msg(2, struct.pack(">I", 9) + rid + struct.pack(">II", 3, 2)))
    write("wire", "bad-request-count", msg(2, struct.pack(">I", 9) + rid + struct.pack(">II", 3, 0)))
    # A head for a blob of 65,553 bytes (two leaves) from segment 1, then
    # a segment of it.
    write("wire", "ok-response", msg(3, struct.pack(">I", 9) + rid + struct.pack(">II", 65553, 1)
                                     + rid + rid[::-1])
          + msg(8, struct.pack(">II", 9, 1) + b"segment bytes"))
    write("wire", "bad-response-leaves", msg(3, struct.pack(">I", 9) + rid
                                             + struct.pack(">II", 65552, 0) + rid + rid))
    write("wire", "bad-segment-index", msg(8, struct.pack(">II", 9, 256) + b"x"))
    write("wire", "ok-have-want", msg(4, rid * 3) + msg(5, rid))
    write("wire", "ok-notfound-error", msg(6, struct.pack(">I", 1) + rid)
          + msg(7, struct.pack(">H", 2) + "busy \u00e9\u2603".encode()))
    write("wire", "ok-cancel", msg(9, struct.pack(">I", 9)) + msg(10, struct.pack(">I", 9)))
    write("wire", "bad-cancel-len", msg(9, struct.pack(">I", 9) + b"x"))
    write("wire", "bad-type", msg(11, b"x"))
    write("wire", "bad-hello-len", msg(0, b"\0\1\0"))
    write("wire", "bad-have-len", msg(4, rid + b"\1"))
    write("wire", "bad-error-utf8", msg(7, b"\0\1\xc0\xaf"))
    write("wire", "bad-long", struct.pack(">BI", 3, 0xFFFFFFFF) + rid)


def noise():
    def inp(mode, first, rest):
        return bytes([mode]) + struct.pack("<H", len(first)) + first + rest

    write("noise", "ok-honest-empty", inp(1, b"", b""))
    write("noise", "ok-honest-payloads", inp(1, b"megafs/1 hello", b"identity proof " * 4))
    write("noise", "bad-honest-flipped", inp(3 | (40 << 2), b"hi", b"there"))
    write("noise", "bad-raw-short", inp(0, b"\x01" * 31, b""))
    write("noise", "bad-raw-msg3", inp(0, bytes(range(32)) + b"payload", bytes(range(64))))
    write("noise", "bad-raw-zero-e", inp(0, b"\0" * 32, b"\0" * 80))


def tracker():
    k = "ab" * 32
    p = "cd" * 32
    m = vector("manifest.json").decode()
    write("tracker", "ok-subscribe", '{"action":"subscribe","key":"%s"}' % k)
    write("tracker", "ok-publish", '{"action":"publish","manifest":%s}' % m)
    write("tracker", "ok-announce", '{"action":"announce","event":"started","info_hash":"%s",'
          '"numwant":500,"peer_id":"%s","port":7000}' % (k, p))
    write("tracker", "ok-peers", '{"action":"announce","info_hash":"%s","interval":60,"peers":'
          '[{"ip":"127.0.0.1","peer_id":"%s","port":7001},{"ip":"::1","peer_id":"%s","port":1}]}'
          % (k, p, k))
    write("tracker", "ok-published", '{"action":"published","key":"%s","sequence":3}' % k)
    write("tracker", "ok-error", '{"action":"error","code":"limit","key":"%s","reason":'
          '"too many \\u0007 keys \u00e9","request":"subscribe","sequence":2}' % k)
    write("tracker", "bad-key", '{"action":"subscribe","key":"%s"}' % k.upper())
    write("tracker", "bad-port", '{"action":"announce","info_hash":"%s","peer_id":"%s",'
          '"port":70000}' % (k, p))
    write("tracker", "bad-shape", "[" + "[]," * 1500 + "[]]")
    write("tracker", "bad-ip", '{"action":"announce","info_hash":"%s","interval":1,"peers":'
          '[{"ip":"localhost","peer_id":"%s","port":1}]}' % (k, p))
    write("tracker", "bad-action", '{"action":"scrape"}')


def store_header():
    h = vector("store_header.bin")
    write("store_header", "ok-vector", h)
    write("store_header", "old-version", h[:8] + b"\1" + h[9:])
    write("store_header", "bad-sum", h[:-1] + bytes([h[-1] ^ 1]))
    write("store_header", "bad-slots", h[:16] + b"\0" * 8 + h[24:])
    write("store_header", "bad-kdf", h[:32] + b"\0" * 8 + h[40:])
    write("store_header", "bad-magic", b"MEGAFS\0T" + h[8:])


def magnet():
    """The links of the golden vector magnet.txt (verdict, tab, link with
    \\xHH escapes), each a seed as a file holds it."""
    for i, line in enumerate(vector("magnet.txt").decode().splitlines()):
        verdict, link = line.split("\t", 1)
        raw = link.encode("latin-1").decode("unicode_escape").encode("latin-1")
        write("magnet", "%s-%02d" % ("ok" if verdict != "refused" else "bad", i), raw)
    write("magnet", "ok-line", "magnet:?xt=urn:btih:%s&dn=x\n" % ("ab" * 20))


def volmap():
    """Superblocks (format 6) and map pages, behind the harness's 6-byte
    head (mode, log2 of the bucket count, bucket)."""
    def sb(nb, redundant, copies, dir_copies=None, version=6):
        dc = copies if dir_copies is None else dir_copies
        head = struct.pack("<IIQQQQQQIIQII", 0x5653464D, version, 0x1234, 3, 4, 5, 6, 7, 1,
                           nb, 3, redundant, copies)
        head += b"\0" * (96 - len(head))
        d = b""
        for b in range(nb):
            d += struct.pack("<Q", 0 if b else 3)
            d += b"".join(struct.pack("<I", (0xFFFFFFFF if b else 40 + c)) for c in range(dc))
        return b"\0\1\0\0\0\0" + head + d
    write("volmap", "superblock", sb(2, 0, 1))
    write("volmap", "superblock-bad-nb", sb(3, 0, 1))
    write("volmap", "superblock-redundant", sb(2, 1, 16))
    write("volmap", "superblock-redundant-5", sb(2048, 1, 5))
    write("volmap", "superblock-copies-0", sb(2, 1, 0, 1))
    write("volmap", "superblock-copies-17", sb(2, 1, 17))
    write("volmap", "superblock-outer-copies-2", sb(2, 0, 2))
    write("volmap", "superblock-outer-copies-3", sb(2, 0, 3))
    write("volmap", "superblock-dir-too-big", sb(2048, 1, 16, 5))
    write("volmap", "superblock-version-4", sb(2, 1, 5, version=4))
    write("volmap", "superblock-version-5", sb(2, 0, 1, version=5))


def volobj():
    """Reads of an object whose slots the harness patches and seals again:
    a 13-byte head (volume and read, offset, length, told length), then
    patches (slot, payload offset, count, bytes; a count of 0 loses the
    slot)."""
    slot_data = 65552
    payload = 8 + slot_data + 32  # the length, the data, the data's leaf
    obj_len = 2 * slot_data + 1000

    def inp(volume, read, off=0, length=0, total=obj_len, patches=()):
        head = bytes([volume | read << 1]) + struct.pack("<III", off, length, total)
        for slot, at, data in patches:
            if at > 0xffff:  # counted back from the payload's last byte
                slot, at = slot | 0x80, payload - 1 - at
            head += struct.pack("<BHH", slot, at, len(data)) + data
        return head

    def length(n):
        return struct.pack("<Q", n)
    for v, name in ((0, "outer"), (1, "hidden")):
        write("volobj", "get-" + name, inp(v, 0))
        write("volobj", "read-across-slots-" + name, inp(v, 1, slot_data - 100, 300))
        write("volobj", "read-past-end-" + name, inp(v, 1, obj_len - 10, 11))
        write("volobj", "known-" + name, inp(v, 2, 2 * slot_data + 5, 900))
        write("volobj", "known-wrong-total-" + name, inp(v, 2, 0, 10, obj_len + 1))
        write("volobj", "check-" + name, inp(v, 3))
        write("volobj", "get-slot1-lost-" + name, inp(v, 0, patches=[(1, 0, b"")]))
        write("volobj", "get-slot0-longer-" + name,
              inp(v, 0, patches=[(0, 0, length(obj_len + slot_data))]))
        write("volobj", "get-slot0-shorter-" + name, inp(v, 0, patches=[(0, 0, length(10))]))
        write("volobj", "get-slot2-disagrees-" + name,
              inp(v, 0, patches=[(2, 0, length(obj_len - 1))]))
        write("volobj", "read-slot2-huge-" + name,
              inp(v, 1, 2 * slot_data, 16, patches=[(2, 0, length(2 ** 63))]))
        write("volobj", "known-data-patched-" + name,
              inp(v, 2, slot_data + 40, 64, patches=[(1, 48, b"patched")]))
        write("volobj", "check-two-lost-" + name,
              inp(v, 3, patches=[(0, 0, b""), (2, 0, b"")]))
        # The leaf after each slot's data: a get with leaves, a leaf
        # patched (the get gives it as it is, check calls it damage), a
        # data byte patched under its old leaf.
        write("volobj", "get-leaves-" + name, inp(v, 0 | 4))
        write("volobj", "get-leaves-slot1-lost-" + name, inp(v, 0 | 4, patches=[(1, 0, b"")]))
        write("volobj", "get-leaves-leaf-patched-" + name,
              inp(v, 0 | 4, patches=[(2, 8 + slot_data, b"leaf")]))
        write("volobj", "check-leaf-patched-" + name,
              inp(v, 3, patches=[(1, 8 + slot_data + 31, b"!")]))
        write("volobj", "check-data-patched-" + name,
              inp(v, 3, patches=[(0, 8, b"data")]))
    write("volobj", "get-parity-lost-hidden", inp(1, 0, patches=[(3, 0, b""), (0, 0, b"")]))
    write("volobj", "get-parity-patched-hidden",
          inp(1, 0, patches=[(3, 100, b"\xff" * 32), (1, 0, b"")]))


def bep5_packets():
    """(name, bytes) of each example packet of the golden vector bep5-krpc.txt."""
    for line in vector("bep5-krpc.txt").decode().splitlines():
        if line and not line.startswith("#"):
            yield tuple(line.split("\t", 1))


def bencode():
    """BEP 5's example packets (the golden vector bep5-krpc.txt), a few
    canonical values, and the refusals the parser names."""
    for name, packet in bep5_packets():
        write("bencode", "ok-bep5-" + name, packet)
    write("bencode", "ok-ints", "li0ei-1ei9223372036854775807ei-9223372036854775808ee")
    write("bencode", "ok-nested", "d0:le1:ad1:bl1:cdeee2:zzi1ee")
    write("bencode", "ok-binary", b"3:\x00\x01\xff")
    write("bencode", "bad-leading-zero", "i03e")
    write("bencode", "bad-minus-zero", "i-0e")
    write("bencode", "bad-overflow", "i9223372036854775808e")
    write("bencode", "bad-unsorted", "d1:bi1e1:ai2ee")
    write("bencode", "bad-duplicate", "d1:ai1e1:ai2ee")
    write("bencode", "bad-long-string", "9:abc")
    write("bencode", "bad-deep", "l" * 40 + "e" * 40)
    write("bencode", "bad-trailing", "i1ei2e")


def krpc():
    """BEP 5's example packets, BEP 44's get and put both ways, and
    datagrams the parser refuses."""
    for name, packet in bep5_packets():
        write("krpc", ("bad-" if "nodes" in name else "ok-") + name, packet)
    nid, tgt = b"abcdefghij0123456789", b"mnopqrstuvwxyz123456"
    node4 = tgt + bytes([127, 0, 0, 1, 0x1a, 0xe1])
    node6 = tgt + bytes(15) + b"\x01" + b"\x1a\xe1"
    write("krpc", "ok-get", b"d1:ad2:id20:" + nid + b"3:seqi4e6:target20:" + tgt +
          b"e1:q3:get1:t2:aa1:y1:qe")
    write("krpc", "ok-put-mutable", b"d1:ad3:casi3e2:id20:" + nid + b"1:k32:" + b"k" * 32 +
          b"4:salt6:foobar3:seqi4e3:sig64:" + b"s" * 64 + b"5:token2:tk1:v12:Hello World!e"
          b"1:q3:put1:t2:aa1:y1:qe")
    write("krpc", "ok-get-answer", b"d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id20:" + tgt +
          b"1:k32:" + b"k" * 32 + b"5:nodes26:" + node4 + b"6:nodes638:" + node6 +
          b"3:seqi4e3:sig64:" + b"s" * 64 + b"5:token2:tk1:vli1eee1:t2:aa1:v4:LT\x02\x001:y1:re")
    write("krpc", "bad-put-no-sig", b"d1:ad2:id20:" + nid + b"1:k32:" + b"k" * 32 +
          b"5:token2:tk1:vi1ee1:q3:put1:t2:aa1:y1:qe")
    write("krpc", "bad-values", b"d1:rd2:id20:" + tgt + b"6:valuesl5:abcdeee1:t2:aa1:y1:re")
    write("krpc", "bad-kind", "d1:t2:aa1:y1:xe")


def dht():
    """Every query a node answers (as krpc's seeds and BEP 5's examples),
    answers and errors it did not ask for, and datagrams it drops."""
    nid, tgt = b"abcdefghij0123456789", b"mnopqrstuvwxyz123456"
    for name, packet in bep5_packets():
        write("dht", name, packet)
    write("dht", "get", b"d1:ad2:id20:" + nid + b"6:target20:" + tgt + b"e1:q3:get1:t2:aa1:y1:qe")
    write("dht", "get-seq", b"d1:ad2:id20:" + nid + b"3:seqi4e6:target20:" + tgt +
          b"e1:q3:get1:t2:aa1:y1:qe")
    write("dht", "put-immutable", b"d1:ad2:id20:" + nid + b"5:token8:12345678"
          b"1:v12:Hello World!e1:q3:put1:t2:aa1:y1:qe")
    write("dht", "put-mutable", b"d1:ad3:casi3e2:id20:" + nid + b"1:k32:" + b"k" * 32 +
          b"4:salt6:foobar3:seqi4e3:sig64:" + b"s" * 64 + b"5:token8:12345678"
          b"1:v12:Hello World!e1:q3:put1:t2:aa1:y1:qe")
    write("dht", "unknown-method", b"d1:ad2:id20:" + nid + b"e1:q3:foo1:t2:aa1:y1:qe")
    write("dht", "own-id", b"d1:ad2:id20:" + nid + b"e1:q4:ping1:t1:a1:y1:qe")
    write("dht", "truncated", b"d1:ad2:id20:" + nid + b"e1:q4:ping1:t2:aa1:y1:q")


def dht_table():
    """Saved routing tables (MDT2: our id, our port, family + compact node
    info; the older MDT1 has no port)."""
    me, a, b = b"abcdefghij0123456789", b"mnopqrstuvwxyz123456", b"ABCDEFGHIJKLMNOPQRST"
    port = bytes([0x1a, 0xe9])  # 6889
    two = (b"\x04" + a + bytes([127, 0, 0, 1, 0x1a, 0xe1]) +
           b"\x06" + b + bytes(15) + b"\x01\x1a\xe1")
    write("dht_table", "ok-empty", b"MDT2" + me + port)
    write("dht_table", "ok-no-port", b"MDT2" + me + bytes(2))
    write("dht_table", "ok-two", b"MDT2" + me + port + two)
    write("dht_table", "ok-v1-two", b"MDT1" + me + two)
    write("dht_table", "ok-v1-empty", b"MDT1" + me)
    write("dht_table", "ok-self-skipped", b"MDT2" + me + port + b"\x04" + me + bytes([10, 0, 0, 1, 0, 1]))
    write("dht_table", "bad-family", b"MDT2" + me + port + b"\x05" + a + bytes(6))
    write("dht_table", "bad-short", b"MDT2" + me + port + b"\x04" + a)
    write("dht_table", "bad-short-head", b"MDT2" + me + port[:1])
    write("dht_table", "bad-magic", b"MDT0" + me)


def bt_announce():
    """BitTorrent HTTP announces as aria2c and libtorrent send them (the
    20-byte values holding %00 and %26), and broken ones."""
    ih = "%00%26%3D%2B%0d%0A%25%ff%FFabcdefghijk"
    good = ("info_hash=" + ih + "&peer_id=-LT2080-abcdefghijkl&port=6881&uploaded=0"
            "&downloaded=0&left=1234")
    head = "GET /announce?%s HTTP/1.1\r\nHost: 127.0.0.1:6969\r\nUser-Agent: x\r\n\r\n"
    write("bt_announce", "ok-libtorrent", head % (good + "&corrupt=0&key=5f1a&event=started"
                                                    "&numwant=200&compact=1&no_peer_id=1"))
    write("bt_announce", "ok-aria2c", head % ("info_hash=" + ih + "&peer_id=A2-1-36-0-%a5%12%00"
                                                "%ff%01%02%03%04%05%06&uploaded=0&downloaded=0"
                                                "&left=6303777&compact=1&key=%5b%07%ff%00"
                                                "&event=stopped&numwant=50&no_peer_id=1&port=6881"
                                                "&supportcrypto=1"))
    write("bt_announce", "ok-http10", "GET /announce?%s HTTP/1.0\r\n\r\n" % good)
    write("bt_announce", "bad-twice", head % (good + "&port=1"))
    write("bt_announce", "bad-short-hash", head % good.replace("%ff%FF", ""))
    write("bt_announce", "bad-escape", head % good.replace("%0d", "%0"))
    write("bt_announce", "bad-path", "GET /scrape?%s HTTP/1.1\r\n\r\n" % good)
    write("bt_announce", "bad-empty-pair", head % (good + "&&x=1"))


def webtorrent():
    """WebTorrent announces (one message a line, its first byte picking the
    connection): joins with offers, an answer, a stop, and broken ones."""
    def b(c):
        return "\\u0000&\\u0080\\u00ff" + c * 16
    ih = b("h")
    def ann(peer, extra=""):
        return '{"action":"announce","info_hash":"%s","peer_id":"%s"%s}' % (ih, b(peer), extra)
    offer = ',"offers":[{"offer":{"type":"offer","sdp":"v=0"},"offer_id":"%s"}]' % b("o")
    write("webtorrent", "ok-offer-answer", "\n".join([
        "0" + ann("a", ',"left":0,"event":"started"' + offer),
        "1" + ann("b", offer),
        "0" + ann("a", ',"to_peer_id":"%s","answer":{"type":"answer","sdp":"x"},"offer_id":"%s"'
                  % (b("b"), b("o"))),
        "1" + ann("b", ',"event":"stopped"'),
        "2" + ann("c", offer)]))
    write("webtorrent", "bad-mixed", "\n".join([
        "0" + '{"action":"announce","info_hash":"short"}',
        "1" + '{"action":"scrape","info_hash":["%s"]}' % ih,
        "2" + ann("a", ',"offers":[1]'),
        "0" + ann("a", ',"answer":{}'),
        "1" + '{"action":"announce","info_hash":"%s"}' % ("0" * 64)]))


def socks5():
    """Proxies' answers: flags (1: credentials; 2, 4: IPv6 or name target;
    0x80: a URL follows), piece size, then the bytes."""
    v4 = bytes([5, 0, 0, 1, 10, 0, 0, 2, 4, 56])
    write("socks5", "ok-noauth-v4", bytes([0, 15, 5, 0]) + v4 + b"tunnel")
    write("socks5", "ok-auth-byte-by-byte", bytes([1, 0, 5, 2, 1, 0]) + v4)
    write("socks5", "ok-name-reply", bytes([4, 3, 5, 0, 5, 0, 0, 3, 3]) + b"a.b" + bytes([0, 1]))
    write("socks5", "ok-v6-reply", bytes([2, 7, 5, 0, 5, 0, 0, 4]) + bytes(16) + bytes([0, 1]))
    write("socks5", "bad-refused", bytes([0, 15, 5, 0, 5, 5, 0, 1]) + bytes(6))
    write("socks5", "bad-no-method", bytes([1, 15, 5, 0xff]))
    write("socks5", "bad-creds", bytes([1, 15, 5, 2, 1, 1]))
    write("socks5", "bad-atyp", bytes([0, 15, 5, 0, 5, 0, 0, 9]))
    write("socks5", "bad-empty-name", bytes([0, 15, 5, 0, 5, 0, 0, 3, 0, 0, 0]))
    write("socks5", "url-ok", b"\x80socks5://cert=x;iat-mode=0:%00@127.0.0.1:9050")
    write("socks5", "url-bad", b"\x80socks5://u:%z@[::1]:0")


def ws_frame():
    """A peer's frames: flags (1: masked, from a client; 0x80: a round trip
    of the rest), piece size - 1, then the bytes."""
    mask = bytes([0x37, 0xFA, 0x21, 0x3D])
    hello = bytes(a ^ mask[i % 4] for i, a in enumerate(b"Hello"))
    write("ws_frame", "ok-server-frames", bytes([0, 255, 0x82, 5]) + b"Hello" +
          bytes([0x89, 0, 0x02, 0x7E, 0, 200]) + bytes(200) + bytes([0x88, 0]))
    write("ws_frame", "ok-client-masked", bytes([1, 2, 0x82, 0x85]) + mask + hello)
    write("ws_frame", "ok-64bit-length", bytes([0, 255, 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]) +
          bytes(300))
    write("ws_frame", "ok-round-trip", bytes([0x81, 6]) + bytes(range(100)))
    write("ws_frame", "bad-text", bytes([0, 255, 0x81, 1]) + b"a")
    write("ws_frame", "bad-unmasked-client", bytes([1, 255, 0x82, 1]) + b"a")
    write("ws_frame", "bad-short-form", bytes([0, 255, 0x82, 126, 0, 5]) + bytes(5))
    write("ws_frame", "bad-long-ping", bytes([0, 255, 0x89, 126, 0, 200]))


def http_head():
    """A request (0) or an answer (1), then the head's bytes."""
    write("http_head", "ok-upgrade", b"\0GET /live/abcdefghijklmnopqrstuv HTTP/1.1\r\n"
          b"Host: cdn.example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    write("http_head", "ok-curl", b"\0GET / HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"
          b"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
    write("http_head", "ok-answer", b"\1HTTP/1.1 101 Switching Protocols\r\n"
          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    write("http_head", "bad-folded", b"\0GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n")
    write("http_head", "bad-cut", b"\0GET / HTTP/1.1\r\nHost: a\r\n")
    write("http_head", "bad-answer-200", b"\1HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def pt():
    """A pluggable transport's stdout lines (first byte 0: obfs4proxy
    0.0.14's own, as captured) or a bridge's address (first byte 1)."""
    cert = b"F5jbRytwD2sbrGHJGvrg5oO8zamS7kULixr6zGG0NhGGhBnUlnhVkMJrxjkrNZrIclWDRw"
    for name, line in [("version", b"VERSION 1"),
                       ("cmethod", b"CMETHOD obfs4 socks5 127.0.0.1:43543"),
                       ("smethod", b"SMETHOD obfs4 127.0.0.1:47001 ARGS:cert=" + cert +
                        b",iat-mode=0"),
                       ("smethod-escaped", b"SMETHOD x_1 [::1]:9 OTHER:stuff ARGS:a\\-b=c\\.d"),
                       ("cmethods-done", b"CMETHODS DONE"),
                       ("smethods-done", b"SMETHODS DONE\r"),
                       ("cmethod-error", b"CMETHOD-ERROR foo no such transport is supported"),
                       ("version-error", b"VERSION-ERROR no-version"),
                       ("env-error", b"ENV-ERROR bad \x1b[31m\xff"),
                       ("log", b'LOG SEVERITY=notice MESSAGE="hi"'),
                       ("bad-args-comma", b"SMETHOD obfs4 127.0.0.1:1 ARGS:k=a\\,b")]:
        write("pt", name, b"\0" + line)
    write("pt", "bridge", b"\x01127.0.0.1:443#" + b"0123456789abcdef" * 4 + b";cert=" + cert +
          b";iat-mode=0")
    write("pt", "bridge-plain", b"\x01[::1]:7")
    write("pt", "bridge-bad", b"\x01h:1;a=b;;c=d")


def sha256x2():
    # prefix lengths, split (big-endian), then bytes: block edges, padding in
    # one block or two, a prefix too long for the pair, a blob of three leaves.
    def inp(pa, pb, split, data):
        return bytes([pa, pb, split >> 8, split & 0xFF]) + data
    pattern = bytes(range(256))
    write("sha256x2", "empty", inp(0, 0, 0, b""))
    write("sha256x2", "tag-byte", inp(1, 1, 55, pattern[:55] + pattern[:64]))
    write("sha256x2", "hmac-prefix", inp(72, 8, 200, pattern * 2))
    write("sha256x2", "too-long-prefix", inp(130, 129, 300, pattern * 3))
    write("sha256x2", "three-leaves", inp(1, 1, 65552 & 0xFFFF, pattern * 769))


for make in (canon_json, manifest, fileentry, index, wire, noise, tracker, store_header, magnet,
             volmap, volobj, bencode, krpc, dht, dht_table, bt_announce, webtorrent,
             socks5, ws_frame, http_head, pt, sha256x2):
    make()
