#!/usr/bin/env python3
"""Write a byte-order-swapped copy of a real classic pcap capture.

A big-endian capture is what libpcap writes on a big-endian host (s390x, PowerPC, SPARC,
MIPS-BE); this x86 machine cannot produce one, so this committed conversion stands in:
the magic number (a1b2c3d4 or a1b23c4d) and every field of the file header and of each
record header are written in the opposite byte order. Packet bytes are not touched (they
are in network order already; a LINKTYPE_NULL family header would stay as captured).

usage: swap_endian.py IN.pcap OUT.pcap
"""
import sys

from pcaplib import read_pcap, write_pcap


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    p = read_pcap(sys.argv[1])
    if p.linktype == 0:
        sys.exit("refusing LINKTYPE_NULL input: its family header is host-order packet data")
    src = "little" if p.endian == "<" else "big"
    p.endian = ">" if p.endian == "<" else "<"
    write_pcap(sys.argv[2], p)
    print("%s: %d packets, %s-endian -> %s-endian" % (sys.argv[2], len(p.records), src,
                                                    "big" if p.endian == ">" else "little"))


if __name__ == "__main__":
    main()
