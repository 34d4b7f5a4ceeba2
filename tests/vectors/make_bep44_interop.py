#!/usr/bin/python3
"""Writes tests/vectors/bep44-interop.json: BEP 44 mutable and immutable
items computed by an implementation independent of megafs's C code:
python3-cryptography's Ed25519 (OpenSSL) signs, hashlib's SHA-1 makes the
targets, and the bencoding and the signed buffer are built here from BEP 3
and BEP 44's text. unit_dht_item checks that net/dht_item produces the same
bytes, the same targets and the same signatures (Ed25519 is deterministic).

Run with Debian's python (/usr/bin/python3, python3-cryptography):
    /usr/bin/python3 tests/vectors/make_bep44_interop.py
Seeds are fixed, so a rerun writes the same file."""
import hashlib
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def benc(x):
    """Canonical bencoding (BEP 3): bytes, int, list, dict with bytes keys."""
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(benc(i) for i in x) + b"e"
    if isinstance(x, dict):
        return b"d" + b"".join(benc(k) + benc(x[k]) for k in sorted(x)) + b"e"
    raise TypeError(x)


def signed_buffer(salt, seq, v):
    """BEP 44, Signature Verification: the salt part only for a non-empty salt."""
    out = b""
    if salt:
        out += b"4:salt" + benc(salt)
    return out + b"3:seqi%de1:v" % seq + v


CASES = [
    # name, seed byte, salt, seq, v (a Python value, bencoded here)
    ("no salt", 1, b"", 1, b"Hello World!"),
    ("text salt", 2, b"foobar", 1, b"Hello World!"),
    ("binary salt of 64 bytes, seq 0, a dict", 3, bytes(range(64)), 0,
     {b"a": 1, b"b": b"xyz", b"c": [b"", -7]}),
    ("a value of exactly 1000 bytes, a large seq", 4, b"s", 2 ** 62, b"\xa5" * 996),
    ("the largest seq, a list", 5, b"\x00", 2 ** 63 - 1, [1, [2, [3]], {b"k": b"v"}]),
    ("negative seq, an integer value", 6, b"", -1, -42),
]


def main():
    mutable, immutable = [], []
    for name, seed_byte, salt, seq, value in CASES:
        seed = bytes([seed_byte]) * 32
        key = Ed25519PrivateKey.from_private_bytes(seed)
        pk = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
        v = benc(value)
        assert len(v) <= 1000, name
        buf = signed_buffer(salt, seq, v)
        sig = key.sign(buf)
        key.public_key().verify(sig, buf)
        mutable.append({
            "name": name,
            "seed": seed.hex(),
            "public_key": pk.hex(),
            "salt": salt.hex(),
            "seq": seq,
            "value": v.hex(),
            "signed": buf.hex(),
            "signature": sig.hex(),
            "target": hashlib.sha1(pk + salt).hexdigest(),
        })
        immutable.append({"name": name, "value": v.hex(),
                          "target": hashlib.sha1(v).hexdigest()})
    out = {
        "source": "tests/vectors/make_bep44_interop.py: python3-cryptography Ed25519 and "
                  "hashlib SHA-1 over bencoding built from the text of BEP 3 and BEP 44. "
                  "Bytes in hex; seed is the Ed25519 private key (RFC 8032).",
        "mutable": mutable,
        "immutable": immutable,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bep44-interop.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
