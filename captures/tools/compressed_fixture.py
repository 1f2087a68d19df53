#!/usr/bin/env python3
"""compressed_fixture.py: RFC 8879 CompressedCertificate messages over a real chain.

No TLS stack available here serves compressed certificates (OpenSSL 3.0 in Debian bookworm
has no RFC 8879; Go's crypto/tls does not implement it), so the decompression path is tested
on the RFC's structure built over real certificates: a TLS 1.3 Certificate message body
(empty request context; apiserver.crt then ca.crt of captures/node, each with empty
extensions) compressed with zlib (Python's zlib), brotli (the `brotli` package) and zstd
(the `zstandard` package), written as CompressedCertificate bodies:
algorithm(2) uncompressed_length(3) compressed<1..2^24-1>(3-byte length).

usage: tools/compressed_fixture.py   (from captures/; writes compressed/apiserver-chain.*.bin)
"""
import base64
import os
import zlib

import brotli
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def der(path):
    lines = open(os.path.join(TOP, path)).read().splitlines()
    return base64.b64decode("".join(l for l in lines if not l.startswith("-----")))


def u24(n):
    return n.to_bytes(3, "big")


def main():
    entries = b""
    for p in ["node/etc/kubernetes/pki/apiserver.crt", "node/etc/kubernetes/pki/ca.crt"]:
        d = der(p)
        entries += u24(len(d)) + d + b"\x00\x00"
    body = b"\x00" + u24(len(entries)) + entries
    out = os.path.join(TOP, "compressed")
    os.makedirs(out, exist_ok=True)
    for alg, name, data in [(1, "zlib", zlib.compress(body)), (2, "brotli", brotli.compress(body)),
                            (3, "zstd", zstandard.ZstdCompressor().compress(body))]:
        msg = alg.to_bytes(2, "big") + u24(len(body)) + u24(len(data)) + data
        open(os.path.join(out, "apiserver-chain.%s.bin" % name), "wb").write(msg)
        print(name, len(body), "->", len(data))


if __name__ == "__main__":
    main()
