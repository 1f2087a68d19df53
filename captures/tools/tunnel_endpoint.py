#!/usr/bin/env python3
"""One end of a tunnel, in userspace, writing the headers the Linux tunnel drivers write.

Used by captures/scripts/capture-tunnels.sh because this machine's kernel has no geneve, gre
(ip_gre: gre, gretap, erspan), ipip or sit module. Like the kernel driver it stands in for, one
process serves one tunnel device in one network namespace: it creates a tun (L3) or tap (L2)
device there, reads what the kernel routes into that device, encapsulates it and sends it
through an ordinary socket of the same namespace to the peer's underlay address; what arrives
on that socket from the peer is checked (outer source, protocol, key / VNI / session) and its
inner packet or frame is written into the device. The OUTER IPv4 header is always made by the
kernel's own IP stack for that socket (addresses, IP ID, header checksum, TTL 64, TOS 0); this
program builds only the tunnel header(s) after it:

  geneve   UDP socket, destination port 6081; RFC 8926 header, 8 bytes, no options, exactly as
           the Linux geneve driver's geneve_build_header(): Ver 0, Opt Len 0, O 0, C 0,
           Protocol Type 0x6558 (Transparent Ethernet Bridging), VNI (--vni), reserved 0; then
           the inner Ethernet frame (tap device). UDP checksum 0 (SO_NO_CHECK: the driver's
           default without "udpcsum"), DF clear (the driver's default "df unset"). UDP source
           port: one per inner flow, 32768..60999 (the driver's udp_flow_src_port() range)
           from a symmetric hash of the inner addresses/ports (the kernel's hash is keyed per
           boot, so the exact numbers differ), as geneve and vxlan do.
  gretap   raw IPPROTO_GRE (47) socket; RFC 2784 + RFC 2890 key extension, 8 bytes, as
           ip_gre's gre_tap_xmit() with "key N" writes it: flags 0x2000 (K), version 0,
           Protocol Type 0x6558, Key (--key); then the inner Ethernet frame (tap). No
           checksum, no sequence number (the "ip link add type gretap key N" default).
  gre      raw IPPROTO_GRE socket; as ip_gre's ipgre_xmit() for "type gre key N": flags 0x2000
           (K), Protocol Type 0x0800 (IPv4), Key; then the inner IPv4 packet (tun).
  erspan2  raw IPPROTO_GRE socket; ERSPAN type II (draft-foschiano-erspan-03, Linux
           "type erspan erspan_ver 1"), as ip_gre's erspan_xmit() + erspan_build_header():
           GRE 8 bytes: flags 0x1000 (S only: erspan_xmit clears K), Protocol Type 0x88BE,
           Sequence Number (0, 1, 2, ... per tunnel); ERSPAN II 8 bytes: Ver 1, VLAN 0,
           COS = inner IPv4 TOS >> 5, En 0 (no VLAN tag), T 0, Session ID (--session, 10
           bits), Reserved 0, Index (--index, 20 bits); then the inner Ethernet frame (tap).
  erspan3  raw IPPROTO_GRE socket; ERSPAN type III (Linux "erspan_ver 2"), as
           erspan_build_header_v2(): GRE flags 0x1000 (S), Protocol Type 0x22EB, Sequence
           Number; ERSPAN III 12 bytes: Ver 2, VLAN 0, COS, BSO (erspan_detect_bso: 1 "short"
           for a frame under 60 bytes, 2 "oversized" above 1514, else 0), T 0, Session ID,
           Timestamp (wall clock in units of 100 microseconds, low 32 bits), SGT 0, P 1, FT 0,
           HW ID (--hwid, 6 bits), D (--direction), Gra 0 (100 us), O 0; then the frame (tap).
  ipip     raw IPPROTO_IPIP (4) socket; RFC 2003: nothing between the outer IPv4 header and
           the inner IPv4 packet (tun). DF set (the driver's default "pmtudisc"). Two ipip
           endpoints in a row (the inner one's outer address routed into the outer one's
           tun device) make a twice nested IPv4-in-IPv4 packet; each level's outer header is
           made by the kernel for that level's socket.
  sit      raw IPPROTO_IPV6 (41) socket on AF_INET: IPv6-in-IPv4 (RFC 4213, Linux sit):
           nothing between the outer IPv4 header and the inner IPv6 packet (tun). DF set.

Raw sockets are bound to --local, so each receives only packets addressed to it (the kernel
gives every raw socket of a protocol a copy); packets from another source than --remote, or
with another key / session / protocol type, are left to the other endpoints, as the Linux
tunnel lookup (ip_tunnel_lookup by addresses and key) does. Inner packets are never changed.

usage: tunnel_endpoint.py MODE --dev NAME --local ADDR --remote ADDR [--vni N] [--key N]
                          [--session N] [--index N] [--hwid N] [--direction 0|1]
                          [--ready FILE]
Run it inside the namespace (ip netns exec NS ...). It writes its pid to READY_FILE once the
device and socket exist, then relays until SIGTERM/SIGINT; the caller sets the device's
addresses, MTU and link state with iproute2.
"""
import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time
import zlib

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
SO_NO_CHECK = 11                            # <asm-generic/socket.h>
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0   # <linux/in.h> (not in every Python's socket module)
GENEVE_PORT = 6081
ETH_P_TEB, ETH_P_IP, ETH_P_ERSPAN, ETH_P_ERSPAN2 = 0x6558, 0x0800, 0x88BE, 0x22EB
GRE_K, GRE_S = 0x2000, 0x1000

L2_MODES = {"geneve", "gretap", "erspan2", "erspan3"}
RAW_PROTO = {"gretap": socket.IPPROTO_GRE, "gre": socket.IPPROTO_GRE,
             "erspan2": socket.IPPROTO_GRE, "erspan3": socket.IPPROTO_GRE,
             "ipip": socket.IPPROTO_IPIP, "sit": socket.IPPROTO_IPV6}


def open_dev(name, tap):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    return fd


def inner_flow_hash(frame):
    """Symmetric hash of the inner IPv4 addresses, protocol and ports of an Ethernet frame
    (the same value both ways, like the kernel's consistentified flow hash)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return zlib.crc32(frame[0:12])  # not IPv4 (ARP): the MAC addresses, like the kernel's fallback
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    a, b = frame[26:30], frame[30:34]
    pa = pb = b""
    if proto in (6, 17) and len(frame) >= 14 + ihl + 4:
        pa, pb = frame[14 + ihl:16 + ihl], frame[16 + ihl:18 + ihl]
    ends = sorted([a + pa, b + pb])
    return zlib.crc32(ends[0] + ends[1] + bytes([proto]))


class Endpoint:
    def __init__(self, a):
        self.a = a
        self.mode = a.mode
        self.seq = 0
        self.dev = open_dev(a.dev, a.mode in L2_MODES)
        if a.mode == "geneve":
            self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.rx.bind((a.local, GENEVE_PORT))
            self.tx = {}  # source port -> socket
        else:
            self.rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, RAW_PROTO[a.mode])
            self.rx.bind((a.local, 0))
            # the kernel's default for a raw socket, IP_PMTUDISC_WANT, sets DF like pmtudisc

    # ------------------------------------------------------------------ encapsulation
    def geneve_socket(self, frame):
        sport = 32768 + inner_flow_hash(frame) % (60999 - 32768 + 1)
        s = self.tx.get(sport)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
            s.bind((self.a.local, sport))
            self.tx[sport] = s
        return s

    def send(self, pkt):
        a, m = self.a, self.mode
        if m == "geneve":
            hdr = struct.pack("!BBH", 0, 0, ETH_P_TEB) + struct.pack("!I", (a.vni & 0xFFFFFF) << 8)
            self.geneve_socket(pkt).sendto(hdr + pkt, (a.remote, GENEVE_PORT))
            return
        if m == "gretap":
            hdr = struct.pack("!HHI", GRE_K, ETH_P_TEB, a.key)
        elif m == "gre":
            hdr = struct.pack("!HHI", GRE_K, ETH_P_IP, a.key)
        elif m in ("erspan2", "erspan3"):
            tos = pkt[15] if len(pkt) > 15 else 0   # ip_hdr(skb)->tos: the byte after the MAC header + 1
            cos = (tos >> 2) >> 3
            sid = a.session & 0x3FF
            if m == "erspan2":
                gre = struct.pack("!HHI", GRE_S, ETH_P_ERSPAN, self.seq)
                base = struct.pack("!HH", (1 << 12) | 0, (cos << 13) | (0 << 11) | (0 << 10) | sid)
                md = struct.pack("!I", a.index & 0xFFFFF)
            else:
                bso = 1 if len(pkt) < 60 else (2 if len(pkt) > 1514 else 0)
                gre = struct.pack("!HHI", GRE_S, ETH_P_ERSPAN2, self.seq)
                base = struct.pack("!HH", (2 << 12) | 0, (cos << 13) | (bso << 11) | (0 << 10) | sid)
                ts = int(time.time_ns() // 100000) & 0xFFFFFFFF
                hwid = a.hwid & 0x3F
                # P(1) FT(5) HW ID(6) D(1) Gra(2) O(1)
                last = (1 << 15) | (0 << 10) | (hwid << 4) | ((a.direction & 1) << 3) | (0 << 1) | 0
                md = struct.pack("!IHH", ts, 0, last)
            self.seq = (self.seq + 1) & 0xFFFFFFFF
            hdr = gre + base + md
        else:  # ipip, sit
            hdr = b""
        try:
            self.rx.sendto(hdr + pkt, (a.remote, 0))
        except OSError as e:
            print("tunnel_endpoint %s: send: %s" % (a.dev, e), file=sys.stderr)

    # ------------------------------------------------------------------ decapsulation
    def receive(self):
        data, addr = self.rx.recvfrom(65536)
        if addr[0] != self.a.remote:
            return None
        m, a = self.mode, self.a
        if m == "geneve":
            if len(data) < 8:
                return None
            ver_optlen, _flags, proto = struct.unpack("!BBH", data[:4])
            vni = struct.unpack("!I", data[4:8])[0] >> 8
            optlen = (ver_optlen & 0x3F) * 4
            if ver_optlen >> 6 != 0 or proto != ETH_P_TEB or vni != a.vni:
                return None
            return data[8 + optlen:]
        ihl = (data[0] & 0x0F) * 4
        p = data[ihl:]
        if m in ("ipip", "sit"):
            return p
        if len(p) < 4:
            return None
        flags, proto = struct.unpack("!HH", p[:4])
        if flags & 0x0007:  # GRE version must be 0
            return None
        off = 4
        key = None
        if flags & 0x8000:  # C: checksum + reserved1
            off += 4
        if flags & GRE_K:
            key = struct.unpack("!I", p[off:off + 4])[0]
            off += 4
        if flags & GRE_S:
            off += 4
        if m == "gretap":
            return p[off:] if proto == ETH_P_TEB and key == a.key else None
        if m == "gre":
            return p[off:] if proto == ETH_P_IP and key == a.key else None
        want = ETH_P_ERSPAN if m == "erspan2" else ETH_P_ERSPAN2
        if proto != want or len(p) < off + 4:
            return None
        ver = p[off] >> 4
        sid = struct.unpack("!H", p[off + 2:off + 4])[0] & 0x3FF
        if ver != (1 if m == "erspan2" else 2) or sid != (a.session & 0x3FF):
            return None
        return p[off + (8 if m == "erspan2" else 12):]

    def run(self, ready):
        stop = []
        signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
        signal.signal(signal.SIGINT, lambda *x: stop.append(1))
        if ready:
            with open(ready, "w") as f:
                f.write("%d\n" % os.getpid())
        while not stop:
            try:
                r, _, _ = select.select([self.dev, self.rx], [], [], 0.5)
            except InterruptedError:
                continue
            for fd in r:
                if fd == self.dev:
                    try:
                        pkt = os.read(self.dev, 65536)
                    except OSError:
                        continue
                    if pkt:
                        self.send(pkt)
                else:
                    inner = self.receive()
                    if inner:
                        try:
                            os.write(self.dev, inner)
                        except OSError:
                            pass  # device down: lost, as on a wire


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=sorted(L2_MODES | set(RAW_PROTO)))
    ap.add_argument("--dev", required=True)
    ap.add_argument("--local", required=True)
    ap.add_argument("--remote", required=True)
    ap.add_argument("--vni", type=int, default=0)
    ap.add_argument("--key", type=int, default=0)
    ap.add_argument("--session", type=int, default=0)
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--hwid", type=int, default=0)
    ap.add_argument("--direction", type=int, default=0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    Endpoint(a).run(a.ready)


if __name__ == "__main__":
    main()
