#!/usr/bin/env python3
"""ws_payloads: what an observer reads of the TCP streams in a pcap.

Usage: ws_payloads.py CAPTURE.pcap > STREAMS.bin

Reassembles each TCP stream of a tcpdump capture (Ethernet or Linux
cooked link layer, IPv4) and writes every stream's bytes; in a stream that
upgraded to WebSocket, each frame's payload is written unmasked (a client's
frames are XOR-masked on the wire, which hides nothing from an observer but
does hide it from grep). Prints "streams N frames M" on stderr.
"""
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        pos += 16
        yield link, data[pos:pos + incl]
        pos += incl


def tcp_segments(path):
    for link, frame in packets(path):
        if link == 1:            # Ethernet
            if len(frame) < 14 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
        elif link == 113:        # Linux cooked
            if len(frame) < 16 or frame[14:16] != b"\x08\x00":
                continue
            ip = frame[16:]
        else:
            continue
        if len(ip) < 20 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        off = (tcp[12] >> 4) * 4
        payload = tcp[off:]
        if payload:
            yield (ip[12:16], sport, ip[16:20], dport), seq, payload


def streams(path):
    flows = {}
    for key, seq, payload in tcp_segments(path):
        flows.setdefault(key, {})
        flows[key].setdefault(seq, payload)   # a retransmission adds nothing
    for key, segs in flows.items():
        out, nxt = bytearray(), None
        for seq in sorted(segs):
            p = segs[seq]
            if nxt is not None and seq < nxt:
                p = p[nxt - seq:]
            out += p
            nxt = seq + len(segs[seq])
        yield bytes(out)


def ws_frames(buf):
    """Payloads of the WebSocket frames in buf (after the HTTP upgrade)."""
    pos, out = 0, []
    while pos + 2 <= len(buf):
        b1 = buf[pos + 1]
        n, pos = b1 & 127, pos + 2
        if n == 126:
            n, pos = struct.unpack(">H", buf[pos:pos + 2])[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack(">Q", buf[pos:pos + 8])[0], pos + 8
        mask = None
        if b1 & 128:
            mask, pos = buf[pos:pos + 4], pos + 4
        payload = buf[pos:pos + n]
        pos += n
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        out.append(payload)
    return out


def main():
    n_streams = n_frames = 0
    w = sys.stdout.buffer
    for s in streams(sys.argv[1]):
        n_streams += 1
        w.write(s)
        head = s.find(b"\r\n\r\n")
        if head > 0 and (s.startswith(b"GET ") or s.startswith(b"HTTP/1.1 101")):
            frames = ws_frames(s[head + 4:])
            n_frames += len(frames)
            for f in frames:
                w.write(b"\n" + f)
    print("streams %d frames %d" % (n_streams, n_frames), file=sys.stderr)


if __name__ == "__main__":
    main()
