#!/usr/bin/env python3
"""memory.py: peak RSS of certwire reading hostile streams from stdin, in every format.

Usage: benches/memory.py [CERTWIRE] [SCALE]
  CERTWIRE  the binary (default target/release/certwire)
  SCALE     multiplies the stream sizes (default 1)

Streams (generated here, from the committed sample capture kubelet-rotated-tls12.pcap):
  handshakes  its two TLS 1.2 handshakes again and again, each copy from another client
  new-flows   TCP SYNs of distinct 4-tuples on port 6443, none ever finishing
  secrets     a pcapng alternating a Decryption Secrets Block and a SYN of a new flow
Each is piped to `certwire analyze - --root captures/node -f FORMAT` with
CERTWIRE_PEAK_RSS=1, which prints the process's VmHWM at exit. Prints a Markdown table.
"""
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CAPTURES = os.path.join(TOP, "captures")


def read_pcap(path):
    b = open(path, "rb").read()
    frames, at = [], 24
    while at + 16 <= len(b):
        sec, usec, incl, _ = struct.unpack("<IIII", b[at:at + 16])
        frames.append((sec, usec, b[at + 16:at + 16 + incl]))
        at += 16 + incl
    return b[:24], frames


def handshakes(copies):
    header, frames = read_pcap(os.path.join(CAPTURES, "kubelet-rotated-tls12.pcap"))
    out = bytearray(header)
    for k in range(copies):
        for sec, usec, f in frames:
            f = bytearray(f)
            t = 14 + (f[14] & 15) * 4
            from_client = struct.unpack(">H", f[t:t + 2])[0] != 6443
            port_at, ip_at = (t, 26) if from_client else (t + 2, 30)
            f[port_at:port_at + 2] = struct.pack(">H", 10000 + k % 50000)
            f[ip_at + 1], f[ip_at + 2] = (k >> 8) & 255, k & 255
            out += struct.pack("<IIII", sec + k, usec, len(f), len(f)) + f
    return bytes(out)


def syn(i):
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 6
    ip[2:4] = struct.pack(">H", 40)
    ip[12:16] = bytes([10]) + struct.pack(">I", i >> 8)[1:]
    ip[16:20] = bytes([127, 0, 0, 1])
    tcp = bytearray(20)
    tcp[0:4] = struct.pack(">HH", 1024 + (i & 255), 6443)
    tcp[4:8] = struct.pack(">I", (i * 2654435761) & 0xFFFFFFFF)
    tcp[12], tcp[13] = 0x50, 0x02
    return bytes(12) + b"\x08\x00" + bytes(ip) + bytes(tcp)


def new_flows(n):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        f = syn(i)
        out += struct.pack("<IIII", 1_700_000_000 + i // 1000, 0, len(f), len(f)) + f
    return bytes(out)


def block(kind, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def secrets(n):
    out = bytearray(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    out += block(1, struct.pack("<HHI", 1, 0, 65535))
    for i in range(n):
        line = ("CLIENT_RANDOM %064x %s\n" % (i, "ab" * 48)).encode()
        out += block(10, struct.pack("<II", 0x544C534B, len(line)) + line)
        f = syn(i)
        out += block(6, struct.pack("<IIIII", 0, 0, i, len(f), len(f)) + f)
    return bytes(out)


def peak(binary, fmt, data):
    env = dict(os.environ, CERTWIRE_PEAK_RSS="1")
    p = subprocess.run([binary, "analyze", "-", "--root", "node", "-f", fmt],
                       input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=CAPTURES, env=env)
    for line in p.stderr.decode(errors="replace").splitlines():
        if line.startswith("certwire: peak RSS "):
            return int(line.split()[3]) // 1024
    raise SystemExit("no peak RSS line: " + p.stderr.decode(errors="replace")[-500:])


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "target/release/certwire"))
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    streams = [
        ("handshakes", "%d connections" % (2 * int(10000 * scale)), handshakes(int(10000 * scale))),
        ("new-flows", "%d SYNs" % int(200000 * scale), new_flows(int(200000 * scale))),
        ("secrets", "%d secrets blocks" % int(200000 * scale), secrets(int(200000 * scale))),
    ]
    formats = ["jsonl", "json", "table", "markdown", "html"]
    print("| stream | size | " + " | ".join(formats) + " |")
    print("|---|---|" + "---|" * len(formats))
    for name, what, data in streams:
        cells = ["%d MiB" % peak(binary, f, data) for f in formats]
        print("| %s | %s, %.0f MB | %s |" % (name, what, len(data) / 1e6, " | ".join(cells)))


if __name__ == "__main__":
    main()
