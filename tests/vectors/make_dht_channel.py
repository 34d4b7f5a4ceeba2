#!/usr/bin/python3
"""Writes tests/vectors/dht-channel.json: a channel's DHT keys and sealed
pointer (net/dht_channel, megafs(7) "THE CHANNEL IN THE DHT") computed
independently of megafs's C code: hashlib's keyed BLAKE2b for the
derivations, python3-cryptography's ChaCha20-Poly1305 under an HChaCha20
written here from draft-irtf-cfrg-xchacha for XChaCha20-Poly1305, and
the bencoded string built by hand. unit_dht_channel checks that
net/dht_channel produces the same bytes.

Run with Debian's python: /usr/bin/python3 tests/vectors/make_dht_channel.py
Inputs are fixed, so a rerun writes the same file."""
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def kh(key, outlen, *parts):
    return hashlib.blake2b(b"".join(parts), key=key, digest_size=outlen).digest()


def rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def hchacha20(key, nonce16):
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_seal(key, nonce24, plain, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


secret = bytes(range(0x20, 0x40))        # a read key
pk = bytes(range(0xA0, 0xC0))            # the channel's public key
nonce = bytes(range(0x50, 0x68))
seq = 7
blob_id = bytes(range(0x00, 0x20))
blob_key = bytes(range(0x60, 0x80))
length = 1234

salt = kh(secret, 32, b"megafs dht salt v1", pk)
seal = kh(secret, 32, b"megafs dht seal v1", pk)
info_hash = kh(secret, 20, b"megafs dht peers v1", pk)
plain = bytes([1]) + blob_id + blob_key + struct.pack("<Q", length)
sealed = nonce + xchacha_seal(seal, nonce, plain, pk + struct.pack("<Q", seq))
v = b"%d:%s" % (len(sealed), sealed)
target = hashlib.sha1(pk + salt).digest()
manifest = b'{"example":"a signed manifest"}'
mkey = kh(seal, 32, b"megafs dht manifest blob v1", hashlib.blake2b(manifest, digest_size=32).digest())
mblob = xchacha_seal(mkey, b"\0" * 24, manifest, b"")

out = {k: (x.hex() if isinstance(x, bytes) else x) for k, x in [
    ("secret", secret), ("pk", pk), ("nonce", nonce), ("seq", seq), ("blob_id", blob_id),
    ("blob_key", blob_key), ("length", length), ("salt", salt), ("seal_key", seal),
    ("info_hash", info_hash), ("target", target), ("v", v),
    ("manifest", manifest), ("manifest_blob_key", mkey), ("manifest_blob", mblob)]}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dht-channel.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
