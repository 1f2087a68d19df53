#!/usr/bin/env python3
"""Convert a real LINKTYPE_RAW capture (IPv4/IPv6 packets without link header, as tcpdump
writes on a Linux tun device) into a BSD loopback / LINKTYPE_NULL (0) capture.

Linux cannot capture DLT_NULL (its loopback is Ethernet-framed), so this committed
conversion stands in for a capture on a BSD/macOS lo0: each packet gets the 4-byte
address-family header that BSD's loopback prepends, in host byte order of a little-endian
machine: AF_INET = 2, AF_INET6 = 24 (the NetBSD/OpenBSD value; FreeBSD uses 28, macOS 30;
Wireshark accepts all three). caplen and orig_len grow by 4, snaplen too. Packet bytes
after the new header are unchanged; timestamps, byte order and precision are kept.

usage: to_dlt_null.py IN.pcap OUT.pcap
"""
import struct
import sys

from pcaplib import read_pcap, write_pcap

LINKTYPE_NULL = 0
RAW_TYPES = (101, 12, 14)  # LINKTYPE_RAW, and DLT_RAW's historic values some tools write
AF_INET = 2
AF_INET6 = 24


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    p = read_pcap(sys.argv[1])
    if p.linktype not in RAW_TYPES:
        sys.exit("input link type is %d, not RAW (101)" % p.linktype)
    recs = []
    for ts_sec, ts_frac, orig, data in p.records:
        version = data[0] >> 4 if data else 0
        if version == 4:
            af = AF_INET
        elif version == 6:
            af = AF_INET6
        else:
            sys.exit("packet at %d.%d is neither IPv4 nor IPv6" % (ts_sec, ts_frac))
        recs.append((ts_sec, ts_frac, orig + 4, struct.pack("<I", af) + data))
    p.records = recs
    p.linktype = LINKTYPE_NULL
    p.snaplen = p.snaplen + 4
    write_pcap(sys.argv[2], p)
    print("%s: %d packets, link type NULL" % (sys.argv[2], len(recs)))


if __name__ == "__main__":
    main()
