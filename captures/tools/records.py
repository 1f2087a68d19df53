#!/usr/bin/env python3
"""records.py: write the TLS record layout of a capture, per connection and direction, from tshark.

Usage:
  captures/tools/records.py CAPTURE [--keylog FILE] [--ports LIST] [-o FILE]

  CAPTURE        a pcap / pcapng file (a pcapng Decryption Secrets Block is read by tshark itself)
  --keylog FILE  NSS key log for tshark (-o tls.keylog_file:FILE), so protected TLS 1.3 records
                 are decrypted and their inner content type and handshake messages are shown
  --ports LIST   server ports decoded as TLS (-d tcp.port==P,tls) and reported
                 (default 6443,10250,2379,2380,10257,10259, as tools/expected.py)
  -o FILE        output path, "-" for stdout; default ROOT/expected/<capture name>.records.json

Sidecar format (expected/<capture>.records.json), one JSON object:
  capture      the capture's file name
  keylog       the key log given to tshark (path relative to captures/), or null; a pcapng DSB
               is noted as "dsb" when tshark reads secrets from the file itself and no --keylog
  tshark       the tshark command line the values come from (-T pdml, TCP and TLS reassembly on)
  connections  one per TCP stream with a TLS record on a reported port, in tshark's tcp.stream
               order (order of first packet):
    stream            tcp.stream
    client, server    "ip:port" ("[ipv6]:port"); the client is the ClientHello sender (else the
                      SYN sender)
    client_to_server, server_to_client
                      every TLS record tshark decodes in that direction, in wire order:
      frame      frame number in which tshark shows the record (the frame that completes it
                 when it spans TCP segments)
      type       the content type on the wire: tls.record.opaque_type for a TLS 1.3 protected
                 record (always 23), else tls.record.content_type (20 CCS, 21 alert,
                 22 handshake, 23 application data)
      length     tls.record.length: the record's length field (payload bytes after the 5-byte
                 header; for a protected record: inner plaintext + 1 content-type byte +
                 any zero padding + 16-byte AEAD tag)
      protected  true for a TLS 1.3 protected record (tshark shows an opaque type)
      inner_type for a protected record tshark decrypted: its inner tls.record.content_type;
                 null when tshark could not decrypt it (no keys) or the record is not protected
      handshake  the handshake messages tshark decodes in the record, in order (plaintext
                 records, or protected records tshark decrypted): [{"type": tls.handshake.type,
                 "length": tls.handshake.length}] (length excludes the 4-byte message header);
                 [] when none is shown
      alert      for an alert tshark can read (plaintext, or decrypted):
                 {"level": tls.alert_message.level, "code": tls.alert_message.desc}, else absent
Values come from tshark only; nothing is computed from the bytes here.
Needs: python3 (standard library), tshark.
"""
import argparse
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

DEFAULT_PORTS = "6443,10250,2379,2380,10257,10259"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def die(msg):
    print("records.py: " + msg, file=sys.stderr)
    sys.exit(1)


def first(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f
    return None


def children(elem, name):
    return [f for f in elem.findall("field") if f.get("name") == name]


def endpoints(pkt):
    ip = first(pkt, "ip.src")
    if ip is not None:
        src, dst = ip.get("show"), first(pkt, "ip.dst").get("show")
    else:
        ip6 = first(pkt, "ipv6.src")
        if ip6 is None:
            return None
        src, dst = "[%s]" % ip6.get("show"), "[%s]" % first(pkt, "ipv6.dst").get("show")
    sp, dp = first(pkt, "tcp.srcport"), first(pkt, "tcp.dstport")
    if sp is None:
        return None
    return "%s:%s" % (src, sp.get("show")), "%s:%s" % (dst, dp.get("show"))


def record_info(frame, rec):
    length = int(first(rec, "tls.record.length").get("show"))
    opaque = children(rec, "tls.record.opaque_type")
    ctype = children(rec, "tls.record.content_type")
    out = {"frame": frame}
    if opaque:
        out["type"] = int(opaque[0].get("show"))
        out["length"] = length
        out["protected"] = True
        out["inner_type"] = int(ctype[0].get("show")) if ctype else None
    else:
        out["type"] = int(ctype[0].get("show")) if ctype else None
        out["length"] = length
        out["protected"] = False
        out["inner_type"] = None
    hs = []
    for h in rec.iter("field"):
        if h.get("name") != "tls.handshake":
            continue
        t, l = children(h, "tls.handshake.type"), children(h, "tls.handshake.length")
        if t and l:
            hs.append({"type": int(t[0].get("show")), "length": int(l[0].get("show"))})
    out["handshake"] = hs
    lvl, desc = first(rec, "tls.alert_message.level"), first(rec, "tls.alert_message.desc")
    if desc is not None:
        out["alert"] = {"level": int(lvl.get("show")) if lvl is not None else None,
                        "code": int(desc.get("show"))}
    return out


def has_dsb(path):
    """True if PATH is a pcapng file with a Decryption Secrets Block (type 0x0000000A)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        return False
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if btype == 0x0A:
            return True
        if blen < 12:
            return False
        off += blen
    return False


def dump(doc):
    """JSON with one line per record (the files stay short and diffable)."""
    lines = ["{"]
    for k in ("capture", "keylog", "tshark"):
        lines.append("  %s: %s," % (json.dumps(k), json.dumps(doc[k])))
    lines.append('  "connections": [')
    for i, c in enumerate(doc["connections"]):
        lines.append("    {")
        for k in ("stream", "client", "server"):
            lines.append("      %s: %s," % (json.dumps(k), json.dumps(c[k])))
        for j, d in enumerate(("client_to_server", "server_to_client")):
            recs = [json.dumps(r) for r in c[d]]
            lines.append("      %s: [" % json.dumps(d))
            lines += ["        " + r + ("," if n < len(recs) - 1 else "") for n, r in enumerate(recs)]
            lines.append("      ]" + ("," if j == 0 else ""))
        lines.append("    }" + ("," if i < len(doc["connections"]) - 1 else ""))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if json.loads(text) != json.loads(json.dumps(doc)):
        die("internal: dump() does not round-trip")
    return text


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--keylog")
    ap.add_argument("--ports", default=DEFAULT_PORTS)
    ap.add_argument("-o", dest="out")
    ap.add_argument("-h", "--help", action="store_true")
    a = ap.parse_args()
    if a.help or not a.capture:
        print(__doc__)
        sys.exit(0 if a.help else 2)
    ports = [int(p) for p in a.ports.split(",") if p]
    rel = lambda p: os.path.relpath(os.path.abspath(p), ROOT)
    cmd = ["tshark", "-r", a.capture, "-T", "pdml", "-o", "tcp.desegment_tcp_streams:TRUE",
           "-o", "tls.desegment_ssl_records:TRUE", "-o", "tls.desegment_ssl_application_data:TRUE"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,tls" % p]
    if a.keylog:
        cmd += ["-o", "tls.keylog_file:" + os.path.abspath(a.keylog)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        die("tshark failed: " + p.stderr.decode(errors="replace"))
    root = ET.fromstring(p.stdout)
    conns, order = {}, []
    for pkt in root.iter("packet"):
        stream = first(pkt, "tcp.stream")
        eps = endpoints(pkt)
        if stream is None or eps is None:
            continue
        sid = int(stream.get("show"))
        c = conns.get(sid)
        if c is None:
            c = conns[sid] = {"syn": None, "hello": None, "recs": [], "eps": set()}
            order.append(sid)
        c["eps"].update(eps)
        flags = first(pkt, "tcp.flags")
        if flags is not None and c["syn"] is None:
            fv = int(flags.get("value"), 16)
            if fv & 0x02 and not fv & 0x10:
                c["syn"] = eps
        frame = int(first(pkt, "frame.number").get("show"))
        for proto in pkt.findall("proto"):
            if proto.get("name") != "tls":
                continue
            for rec in children(proto, "tls.record"):
                info = record_info(frame, rec)
                if c["hello"] is None and any(h["type"] == 1 for h in info["handshake"]):
                    c["hello"] = eps
                c["recs"].append((eps[0], info))
    out = []
    for sid in order:
        c = conns[sid]
        if not c["recs"]:
            continue
        client, server = c["hello"] or c["syn"] or (None, None)
        if client is None:
            die("tcp.stream %d: cannot tell client from server" % sid)
        if int(server.rsplit(":", 1)[1]) not in ports:
            continue
        out.append({"stream": sid, "client": client, "server": server,
                    "client_to_server": [r for s, r in c["recs"] if s == client],
                    "server_to_client": [r for s, r in c["recs"] if s == server]})
    shown = ["tshark", "-r", os.path.basename(a.capture)] + cmd[3:]
    if a.keylog:
        shown[-1] = "tls.keylog_file:" + rel(a.keylog)
    doc = {"capture": os.path.basename(a.capture),
           "keylog": rel(a.keylog) if a.keylog else ("dsb" if has_dsb(a.capture) else None),
           "tshark": " ".join(shown),
           "connections": out}
    text = dump(doc)
    dest = a.out or os.path.join(ROOT, "expected", os.path.basename(a.capture) + ".records.json")
    if dest == "-":
        sys.stdout.write(text)
    else:
        with open(dest, "w") as f:
            f.write(text)
        print("records.py: %s: %d connection(s) -> %s" % (doc["capture"], len(out), dest), file=sys.stderr)


if __name__ == "__main__":
    main()
