"""Minimal classic-pcap reader/writer shared by to_dlt_null.py and swap_endian.py.

Only the libpcap file format (not pcapng) is handled. Packet bytes are passed through
untouched; only the file and record headers are rewritten.
"""
import struct

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D


class PcapFile:
    def __init__(self, endian, magic, major, minor, thiszone, sigfigs, snaplen, linktype, records):
        self.endian = endian          # "<" or ">"
        self.magic = magic            # MAGIC_USEC or MAGIC_NSEC
        self.major, self.minor = major, minor
        self.thiszone, self.sigfigs = thiszone, sigfigs
        self.snaplen, self.linktype = snaplen, linktype
        self.records = records        # list of (ts_sec, ts_frac, orig_len, data)


def read_pcap(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", buf[:4])[0]
        if magic in (MAGIC_USEC, MAGIC_NSEC):
            break
    else:
        raise ValueError("%s: not a classic pcap file (pcapng is not handled)" % path)
    major, minor, thiszone, sigfigs, snaplen, linktype = struct.unpack(endian + "HHiIII", buf[4:24])
    records = []
    off = 24
    while off < len(buf):
        if off + 16 > len(buf):
            raise ValueError("%s: truncated record header at offset %d" % (path, off))
        ts_sec, ts_frac, incl, orig = struct.unpack(endian + "IIII", buf[off:off + 16])
        off += 16
        data = buf[off:off + incl]
        if len(data) != incl:
            raise ValueError("%s: truncated record at offset %d" % (path, off))
        off += incl
        records.append((ts_sec, ts_frac, orig, data))
    return PcapFile(endian, magic, major, minor, thiszone, sigfigs, snaplen, linktype & 0xFFFF, records)


def write_pcap(path, p):
    e = p.endian
    out = [struct.pack(e + "IHHiIII", p.magic, p.major, p.minor, p.thiszone, p.sigfigs, p.snaplen, p.linktype)]
    for ts_sec, ts_frac, orig, data in p.records:
        out.append(struct.pack(e + "IIII", ts_sec, ts_frac, len(data), orig))
        out.append(data)
    with open(path, "wb") as f:
        f.write(b"".join(out))
