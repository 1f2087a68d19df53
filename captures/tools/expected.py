#!/usr/bin/env python3
"""expected.py: write the expected values for one sample capture, from independent tools.

Usage:
  captures/tools/expected.py CAPTURE [options]

  CAPTURE            a pcap / pcapng file, gzip-compressed or not (e.g. captures/foo.pcap.gz)

Options:
  --scenario TEXT    free text: who talks to whom with which cert and what should happen
  --ignored TEXT     free text: other traffic in the capture that must NOT be reported
  --outcome K=V      the handshake outcome of connections (V: completed|failed|incomplete|unknown),
                     which the capture alone cannot prove, so the capture script states it.
                     K selects connections: "*" (all), a server port ("6443"), or "#N" (the
                     N-th reported connection, 1-based, in order of first packet).
                     Repeatable; the most specific key wins (#N > port > *). Default "unknown".
  --ports LIST       server ports to report (default 6443,10250,2379,2380,10257,10259,
                     certwire's default)
  --keylog FILE      give tshark an NSS key log file (-o tls.keylog_file:FILE); TLS 1.3
                     connections whose handshake tshark then decrypts get visibility
                     "decrypted" and their certificates (as does a pcapng with a Decryption
                     Secrets Block, which tshark reads by itself)
  --tshark-arg=ARG   one more argument for every tshark run, e.g. a decode-as for a tunnel on a
                     port tshark does not know: --tshark-arg=-d --tshark-arg=udp.port==8472,vxlan
                     (VXLAN on the Linux/Flannel port 8472; tshark knows VXLAN on 4789, Geneve
                     on 6081, GRE, ERSPAN and IP-in-IP by itself). Write it with "=" (a separate
                     "-d" would be taken for an option of this script). Repeatable, kept in
                     order, placed right after "tshark -r CAPTURE"; written to the output's
                     "tshark_args" when given
  --other-ports      also count the TLS connections (a ClientHello or other TLS record tshark
                     decodes) whose server port is not in --ports: "other_ports" {port: count}
                     and "other_port_connections" (the same fields as "connections")
  --tcp-attempts     also list every TCP connection attempt that never connected (SYN without
                     SYN/ACK) in "tcp_attempts"
  --expect-connections N   fail (exit 1) unless exactly N connections are found
  --root DIR         the captures/ folder whose PEM files and kubeconfigs are matched by SHA-256
                     for the "file" field (default: the folder above this script)
  -o FILE            output path; "-" for stdout. Default: ROOT/expected/<capture name>.json
  -h, --help         this text

Example:
  tools/expected.py kubelet-rotated-tls12.pcap --outcome '*=completed' \\
      --scenario 'kubelet (rotated cert) -> apiserver' --ignored 'nothing' --expect-connections 2

Output format: captures/README.md, "Expected values", one JSON object:
  capture, scenario, format, ts_precision, byte_order, link_types, packets, connections[], ignored;
  tshark_args (when --tshark-arg is given), other_ports and other_port_connections (with
  --other-ports), tcp_attempts (with --tcp-attempts).
Where the values come from:
  - format / byte_order / ts_precision / link_types: the file header (pcap magic, pcapng SHB/IDBs,
    if_tsresol), cross-checked against capinfos; packets: capinfos -c.
  - per connection: tshark -T pdml (-d tcp.port==P,tls for every port so TLS is decoded on all of
    them; TCP/TLS reassembly on, tshark defaults). The client is the side that sent ClientHello
    (else the SYN sender, else the side whose port is not a server port).
    tls_version: ServerHello supported_versions, else ServerHello version; cipher suite from
    ServerHello; sni / alpn from ClientHello; certificates: the DER bytes of each
    tls.handshake.certificate in the first Certificate message of each side, each run through
    `openssl x509 -inform DER` for sha256 / serial / subject / issuer / dates;
    certificate_request.ca_names: tshark's decoding of each distinguished name, written as
    RFC 2253 (last RDN first, like openssl -nameopt RFC2253);
    alerts: every Alert record in order, its direction, level and code where tshark decodes
    them, "encrypted" when the record was sent encrypted (TLS 1.2 "Encrypted Alert" or after
    that side's ChangeCipherSpec; TLS 1.3 records tshark decrypted). A decrypted alert keeps its
    level/code with "encrypted": true.
    visibility: "encrypted" for TLS 1.3 without decrypted handshake messages, "decrypted" for
    TLS 1.3 where tshark decrypted them, else "plaintext".
    client / server addresses are those of the innermost IP header before TCP (the inner
    packet of a tunnel).
    Only when present (files of plain captures keep their shape):
    hello_retry_request: {selected_group, selected_group_name} from the key_share of a
    ServerHello carrying the RFC 8446 HelloRetryRequest random.
    compressed_certificates: {"server"|"client": {algorithm, algorithm_name,
    uncompressed_length, compressed_length, decompressed_by}} for an RFC 8879
    CompressedCertificate message (type 25); its certificates are that side's certificates.
    tshark 4.0 decompresses brotli itself ("decompressed_by": "tshark"); zlib it does not, so
    those bytes are inflated with Python's zlib and the TLS 1.3 Certificate message parsed here
    ("python zlib").
    encapsulation: the tunnel layers around the packet that carried the ClientHello, outer
    first, each {type: vxlan|geneve|gre|erspan|ipv4-in-ipv4|ipv6-in-ipv4|..., its identifiers
    (vni, udp_dst_port; geneve protocol_type, options; gre protocol_type, flags, key; erspan
    erspan_type II|III, gre_protocol_type, gre_flags, session_id, index (II) or hardware_id and
    direction (III)), outer_src, outer_dst} (the addresses of the IP header carrying that layer,
    client-to-server direction).
    proxy: the plaintext preamble before the TLS on the same TCP connection, as tshark decodes
    it: {protocol: http-connect, request (the request line), target, target_host, target_port,
    status} or {protocol: socks5|socks4, command, address_type (domain|ipv4|ipv6), target,
    target_host, target_port, reply, reply_text}. A connection with a proxy preamble is
    reported when its target port is in --ports (the TCP server is the proxy).
  - tcp_attempts: per TCP stream with a SYN and no SYN/ACK, in order: client, server,
    syn_times (frame.time_relative of each SYN and retransmission), syn_retransmissions,
    answer ("rst": a RST from the server's address; "icmp": an ICMP/ICMPv6 error quoting the
    SYN; "none"), rst_time, icmp {type, code, text, from, time} or null.
  - file: the first file under ROOT (node/ PEM files, then node/ kubeconfigs' *-data fields,
    then pki-extra/, then anything else, each sorted by path; symlinks skipped) holding a PEM
    certificate with the same SHA-256.
Needs: python3 (standard library), tshark, capinfos, openssl on PATH.
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timezone

DEFAULT_PORTS = "6443,10250,2379,2380,10257,10259"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.dirname(HERE)

DLT_NAMES = {0: "NULL", 1: "EN10MB", 12: "RAW", 101: "RAW", 108: "LOOP", 113: "LINUX_SLL",
             228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2"}
# RFC 8446 4.1.3: the ServerHello random that makes it a HelloRetryRequest
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
OUTCOMES = ("completed", "failed", "incomplete", "unknown")
TLS_VERSIONS = {0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}
OID_SHORT = {"2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
             "2.5.4.6": "C", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC",
             "0.9.2342.19200300.100.1.1": "UID"}


def die(msg):
    print("expected.py: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, input_bytes=None, ok_codes=(0,)):
    p = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode not in ok_codes:
        die("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    return p


# ------------------------------------------------------------------ file header
def read_head(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return f.read(1 << 20)  # the headers we need are at the start


def header_info(path):
    data = read_head(path)
    if len(data) < 24:
        die("%s: too short for a capture header" % path)
    m = data[:4]
    pcap_magics = {b"\xd4\xc3\xb2\xa1": ("le", "usec"), b"\xa1\xb2\xc3\xd4": ("be", "usec"),
                   b"\x4d\x3c\xb2\xa1": ("le", "nsec"), b"\xa1\xb2\x3c\x4d": ("be", "nsec")}
    if m in pcap_magics:
        bo, prec = pcap_magics[m]
        e = "<" if bo == "le" else ">"
        (linktype,) = struct.unpack(e + "I", data[20:24])
        return {"format": "pcap", "ts_precision": prec, "byte_order": bo,
                "link_types": [DLT_NAMES.get(linktype & 0xFFFF, "DLT_%d" % linktype)]}
    if m == b"\x0a\x0d\x0d\x0a":
        bom = data[8:12]
        if bom == b"\x4d\x3c\x2b\x1a":
            bo, e = "le", "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            bo, e = "be", ">"
        else:
            die("bad pcapng byte-order magic")
        links, precs, off = [], [], 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                break
            if btype == 1:  # IDB
                (lt,) = struct.unpack(e + "H", data[off + 8:off + 10])
                links.append(DLT_NAMES.get(lt, "DLT_%d" % lt))
                res = 6
                o = off + 16
                while o + 4 <= off + blen - 4:
                    code, olen = struct.unpack(e + "HH", data[o:o + 4])
                    if code == 0:
                        break
                    if code == 9 and olen >= 1:
                        r = data[o + 4]
                        res = r if r < 128 else None  # power-of-2 resolutions: not used here
                    o += 4 + ((olen + 3) & ~3)
                precs.append({6: "usec", 9: "nsec"}.get(res, "res%s" % res))
            elif btype == 6 or btype == 3:  # first packet: all IDBs of one section seen
                break
            off += blen
        p = sorted(set(precs))
        return {"format": "pcapng", "ts_precision": p[0] if len(p) == 1 else p,
                "byte_order": bo, "link_types": links}
    die("%s: not a pcap or pcapng file" % path)


def capinfos(path):
    p = run(["capinfos", "-M", path], ok_codes=(0, 1, 2))
    out = p.stdout.decode(errors="replace")
    m = re.search(r"Number of packets:\s*(\d+)", out)
    if not m:
        die("capinfos gave no packet count: " + out + p.stderr.decode(errors="replace"))
    return int(m.group(1)), out, p.stderr.decode(errors="replace")


# ------------------------------------------------------------------ certificates
def iso(openssl_date):
    dt = datetime.strptime(openssl_date.replace("  ", " ").strip(), "%b %d %H:%M:%S %Y GMT")
    return dt.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_summary(der, file_index):
    fields = {}
    for opt in ("-fingerprint", "-serial", "-subject", "-issuer", "-startdate", "-enddate"):
        cmd = ["openssl", "x509", "-inform", "DER", "-noout", opt, "-nameopt", "RFC2253"]
        if opt == "-fingerprint":
            cmd.append("-sha256")
        line = run(cmd, der).stdout.decode().strip()
        k, _, v = line.partition("=")
        fields[opt] = v
    sha = fields["-fingerprint"].replace(":", "").lower()
    if sha != hashlib.sha256(der).hexdigest():
        die("openssl fingerprint does not match the DER's SHA-256")
    return {"sha256": sha, "serial": fields["-serial"].lower(),
            "subject": fields["-subject"], "issuer": fields["-issuer"],
            "not_before": iso(fields["-startdate"]), "not_after": iso(fields["-enddate"]),
            "file": file_index.get(sha)}


PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)
KUBECONFIG_RE = re.compile(rb"^\s*(certificate-authority-data|client-certificate-data):\s*(\S+)", re.M)
SKIP_DIRS = {"expected", "keylogs", "scripts", "tools", ".git"}


def build_file_index(root):
    found = []  # (category, relpath, sha)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 1 << 20:
                continue
            rel = os.path.relpath(path, root)
            with open(path, "rb") as f:
                data = f.read()
            top = rel.split(os.sep)[0]
            pems = [(False, b) for b in PEM_RE.findall(data)]
            for _, b64 in KUBECONFIG_RE.findall(data):
                try:
                    pems += [(True, b) for b in PEM_RE.findall(base64.b64decode(b64))]
                except Exception:
                    pass
            for embedded, b in pems:
                try:
                    der = base64.b64decode(b"".join(b.split()))
                except Exception:
                    continue
                if top == "node":
                    cat = 1 if embedded else 0
                elif top == "pki-extra":
                    cat = 2
                else:
                    cat = 3
                found.append((cat, rel, hashlib.sha256(der).hexdigest()))
    index = {}
    for cat, rel, sha in sorted(found):
        index.setdefault(sha, rel.replace(os.sep, "/"))
    return index


# ------------------------------------------------------------------ tshark
def fields_named(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def first(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f
    return None


def rdn_value_escape(v):
    out = []
    for i, ch in enumerate(v):
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and (i == 0 or i == len(v) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def dname_to_rfc2253(dname):
    rdns = []
    for rdn in fields_named(dname, "x509if.RDNSequence_item"):
        atvs = []
        for atv in fields_named(rdn, "x509if.RelativeDistinguishedName_item_element"):
            oid = first(atv, "x509if.oid")
            if oid is None:
                die("distinguished name without an OID in tshark's output")
            val = None
            for f in atv.iter("field"):
                n = f.get("name", "")
                if n.startswith("x509sat.") and n.endswith("String") and n != "x509sat.DirectoryString":
                    val = f.get("show")
                    break
            if val is None:
                val = "#" + (first(atv, "x509sat.DirectoryString") or oid).get("value", "")
                atvs.append("%s=%s" % (OID_SHORT.get(oid.get("show"), oid.get("show")), val))
            else:
                atvs.append("%s=%s" % (OID_SHORT.get(oid.get("show"), oid.get("show")),
                                       rdn_value_escape(val)))
        rdns.append("+".join(atvs))
    return ",".join(reversed(rdns))


def tshark_pdml(path, ports, keylog, extra=()):
    cmd = ["tshark", "-r", path] + list(extra) + ["-T", "pdml", "-o", "tcp.desegment_tcp_streams:TRUE",
           "-o", "tls.desegment_ssl_records:TRUE",
           "-o", "tls.desegment_ssl_application_data:TRUE"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,tls" % p]
    if keylog:
        cmd += ["-o", "tls.keylog_file:" + os.path.abspath(keylog)]
    p = run(cmd, ok_codes=(0, 2))
    err = p.stderr.decode(errors="replace")
    err = "\n".join(l for l in err.splitlines() if "Running as user" not in l and l.strip())
    if p.returncode != 0 and "cut short" not in err:
        die("tshark failed: " + err)
    return ET.fromstring(p.stdout), err


def innermost_ip(pkt):
    """The last IPv4/IPv6 layer before TCP (the inner one of a tunnel), as (src, dst)."""
    found = None
    for proto in pkt.findall("proto"):
        name = proto.get("name")
        if name == "tcp":
            break
        if name == "ip":
            s, d = first(proto, "ip.src"), first(proto, "ip.dst")
            if s is not None and d is not None:
                found = (s.get("show"), d.get("show"))
        elif name == "ipv6":
            s, d = first(proto, "ipv6.src"), first(proto, "ipv6.dst")
            if s is not None and d is not None:
                found = ("[%s]" % s.get("show"), "[%s]" % d.get("show"))
    return found


def packet_endpoints(pkt):
    src = dst = None
    ips = innermost_ip(pkt)
    if ips is not None:
        src, dst = ips
    sp, dp = first(pkt, "tcp.srcport"), first(pkt, "tcp.dstport")
    if src is None or sp is None:
        return None
    return "%s:%s" % (src, sp.get("show")), "%s:%s" % (dst, dp.get("show"))


def port_of(ep):
    return int(ep.rsplit(":", 1)[1])


def analyze(root_xml, ports, file_index):
    """(connections on the followed ports, connections on other ports), each in order of first
    packet."""
    conns = {}  # tcp.stream -> state
    order = []
    for pkt in root_xml.iter("packet"):
        if top_proto(pkt, "tcp") is None:
            continue  # e.g. ICMP quoting a TCP header: not a packet of the connection
        stream = first(pkt, "tcp.stream")
        if stream is None:
            continue
        eps = packet_endpoints(pkt)
        if eps is None:
            continue
        sid = stream.get("show")
        c = conns.get(sid)
        if c is None:
            c = conns[sid] = {"syn_from": None, "hello_from": None, "eps": set(), "tls": False,
                              "ch": None, "sh": None, "certs": {}, "creq": None, "alerts": [],
                              "ccs": set(), "decrypted_hs": False, "tls13": False,
                              "proxy": None, "encap_first": None, "encap_hello": None,
                              "hrr": None, "compressed": {}}
            order.append(sid)
        src, dst = eps
        c["eps"].update(eps)
        if c["encap_first"] is None:
            c["encap_first"] = encapsulation(pkt)
        flags = first(pkt, "tcp.flags")
        if flags is not None and c["syn_from"] is None:
            fv = int(flags.get("value"), 16)
            if fv & 0x02 and not fv & 0x10:
                c["syn_from"] = (src, dst)
        protos = [p for p in pkt.findall("proto") if p.get("name") == "tls"]
        if not protos:
            proxy_preamble(c, pkt, src, dst)
        for tls in protos:
            c["tls"] = True
            for rec in tls.findall("field"):
                if rec.get("name") != "tls.record":
                    continue
                had_hello = c["hello_from"] is not None
                handle_record(c, rec, src, dst)
                if not had_hello and c["hello_from"] is not None:
                    c["encap_hello"] = encapsulation(pkt)
    out, other = [], []
    for sid in order:
        c = conns[sid]
        if not c["tls"]:
            continue
        if c["hello_from"]:
            client, server = c["hello_from"]
        elif c["syn_from"]:
            client, server = c["syn_from"]
        else:
            a, b = sorted(c["eps"])[:2]
            client, server = (b, a) if port_of(a) in ports else (a, b)
        port = port_of(server)
        if c["proxy"] and c["proxy"].get("target_port") is not None:
            port = c["proxy"]["target_port"]
        conn = finish(c, client, server, file_index)
        (out if port in ports else other).append(conn)
    return out, other


def top_proto(pkt, name):
    for proto in pkt.findall("proto"):
        if proto.get("name") == name:
            return proto
    return None


def show_of(elem, name, conv=None):
    f = first(elem, name) if elem is not None else None
    if f is None:
        return None
    v = f.get("show")
    return conv(v) if conv else v


def hexint(v):
    return int(v, 16) if v.lower().startswith("0x") else int(v)


def encapsulation(pkt):
    """The tunnel layers tshark decodes around the innermost IP header of one packet, outer
    first: VXLAN, Geneve, GRE (with or without ERSPAN), IPv4/IPv6-in-IP, each with the
    addresses of the IP header that carries it (outer_src / outer_dst, in this packet's
    direction). Per-packet values (UDP source port, GRE sequence number, ERSPAN timestamp) are
    left out. [] when the packet is not tunnelled (VLAN tags and link headers are not tunnels)."""
    layers = []
    protos = pkt.findall("proto")
    ip_idx = [i for i, p in enumerate(protos) if p.get("name") in ("ip", "ipv6")]
    tcp_idx = next((i for i, p in enumerate(protos) if p.get("name") == "tcp"), len(protos))
    ip_idx = [i for i in ip_idx if i < tcp_idx]
    last_ip = None
    for i, proto in enumerate(protos[:tcp_idx]):
        name = proto.get("name")
        if name in ("ip", "ipv6"):
            last_ip = proto
            # IP directly inside IP (no tunnel header between): IP-in-IP
            nxt = protos[i + 1].get("name") if i + 1 < len(protos) else None
            if nxt in ("ip", "ipv6") and i + 1 in ip_idx:
                inner_v = "ipv4" if nxt == "ip" else "ipv6"
                outer_v = "ipv4" if name == "ip" else "ipv6"
                layers.append(dict(type="%s-in-%s" % (inner_v, outer_v), **outer_addrs(proto)))
            continue
        if name == "vxlan":
            layers.append(dict(type="vxlan", vni=show_of(proto, "vxlan.vni", int),
                               udp_dst_port=show_of(pkt_udp_before(protos, i), "udp.dstport", int),
                               **outer_addrs(last_ip)))
        elif name == "geneve":
            layers.append(dict(type="geneve", vni=show_of(proto, "geneve.vni", hexint),
                               protocol_type="0x%04x" % show_of(proto, "geneve.proto_type", hexint),
                               options=show_of(proto, "geneve.options") is not None,
                               udp_dst_port=show_of(pkt_udp_before(protos, i), "udp.dstport", int),
                               **outer_addrs(last_ip)))
        elif name == "gre":
            nxt = protos[i + 1].get("name") if i + 1 < len(protos) else None
            gre = dict(protocol_type="0x%04x" % show_of(proto, "gre.proto", hexint),
                       flags="0x%04x" % show_of(proto, "gre.flags_and_version", hexint),
                       key=show_of(proto, "gre.key", hexint))
            if nxt == "erspan":
                er = protos[i + 1]
                ver = show_of(er, "erspan.version", int)
                e = dict(type="erspan", erspan_type={1: "II", 2: "III"}.get(ver, "version %s" % ver),
                         gre_protocol_type=gre["protocol_type"], gre_flags=gre["flags"],
                         session_id=show_of(er, "erspan.spanid", int))
                if ver == 1:
                    e["index"] = show_of(er, "erspan.index", int)
                elif ver == 2:
                    e["hardware_id"] = show_of(er, "erspan.hw", int)
                    e["direction"] = show_of(er, "erspan.direction", int)
                e.update(outer_addrs(last_ip))
                layers.append(e)
            else:
                layers.append(dict(type="gre", **gre, **outer_addrs(last_ip)))
    return layers


def pkt_udp_before(protos, i):
    for p in reversed(protos[:i]):
        if p.get("name") == "udp":
            return p
    return None


def outer_addrs(ip):
    if ip is None:
        return {"outer_src": None, "outer_dst": None}
    v = "ip" if ip.get("name") == "ip" else "ipv6"
    return {"outer_src": show_of(ip, v + ".src"), "outer_dst": show_of(ip, v + ".dst")}


def proxy_preamble(c, pkt, src, dst):
    """An HTTP CONNECT or SOCKS4/5 exchange before the TLS of a TCP connection, as tshark
    decodes it: the request's target and the proxy's answer."""
    http = top_proto(pkt, "http")
    if http is not None:
        method = show_of(http, "http.request.method")
        if method == "CONNECT" and c["proxy"] is None:
            uri = show_of(http, "http.request.uri")
            # the request line: the first text field of the HTTP proto
            first_line = None
            for f in http.findall("field"):
                sn = f.get("show", "")
                if sn.startswith("CONNECT "):
                    first_line = sn.replace("\\r\\n", "").strip()
                    break
            host, _, port = uri.rpartition(":")
            c["proxy"] = {"protocol": "http-connect", "request": first_line, "target": uri,
                          "target_host": host.strip("[]"), "target_port": int(port) if port.isdigit() else None,
                          "status": None, "from": src}
        code = show_of(http, "http.response.code", int)
        if code is not None and c["proxy"] and c["proxy"]["protocol"] == "http-connect" \
                and c["proxy"]["status"] is None and src != c["proxy"]["from"]:
            c["proxy"]["status"] = code
        return
    socks = top_proto(pkt, "socks")
    if socks is None:
        return
    ver = show_of(socks, "socks.version", int)
    cmd = show_of(socks, "socks.command", int)
    if cmd is not None and c["proxy"] is None and ver in (4, 5):
        if ver == 5:
            at = show_of(socks, "socks.address_type", int)
            host = {3: show_of(socks, "socks.remote_name"), 1: show_of(socks, "socks.dst"),
                    4: show_of(socks, "socks.dstV6")}.get(at)
            port = show_of(socks, "socks.port", int)
            atype = {1: "ipv4", 3: "domain", 4: "ipv6"}.get(at)
        else:
            name = show_of(socks, "socks.v4a_dns_name")
            host = name or show_of(socks, "socks.dst")
            port = show_of(socks, "socks.dstport", int)
            atype = "domain" if name else "ipv4"
        target = ("[%s]:%s" if atype == "ipv6" else "%s:%s") % (host, port)
        c["proxy"] = {"protocol": "socks%d" % ver, "command": cmd, "address_type": atype,
                      "target": target, "target_host": host, "target_port": port,
                      "reply": None, "from": src}
    res = first(socks, "socks.results")
    if res is not None and c["proxy"] and c["proxy"]["protocol"].startswith("socks") \
            and c["proxy"]["reply"] is None and src != c["proxy"]["from"]:
        c["proxy"]["reply"] = int(res.get("show"))
        c["proxy"]["reply_text"] = res.get("showname", "").split(": ", 1)[-1]


def handle_record(c, rec, src, dst):
    ctype_f = first(rec, "tls.record.content_type")
    opaque = first(rec, "tls.record.opaque_type") is not None
    ctype = int(ctype_f.get("show")) if ctype_f is not None else None
    if ctype == 20:
        c["ccs"].add(src)
    for hs in [f for f in rec.findall("field") if f.get("name") == "tls.handshake"]:
        t = first(hs, "tls.handshake.type")
        if t is None:
            continue
        htype = int(t.get("show"))
        # (a second ClientHello after a HelloRetryRequest is plaintext: it does not count)
        if opaque or (c["sh"] is not None and c["tls13"] and htype not in (1, 2)):
            c["decrypted_hs"] = True
        if htype == 1 and c["ch"] is None:
            c["hello_from"] = (src, dst)
            sni = first(hs, "tls.handshake.extensions_server_name")
            alpn = [f.get("show") for f in fields_named(hs, "tls.handshake.extensions_alpn_str")]
            has_alpn = any(f.get("name") == "tls.handshake.extension.type" and f.get("show") == "16"
                           for f in hs.iter("field"))
            c["ch"] = {"sni": sni.get("show") if sni is not None else None,
                       "alpn": alpn if (alpn or has_alpn) else None}
        elif htype == 2 and c["sh"] is None:
            rnd = first(hs, "tls.handshake.random")
            if rnd is not None and rnd.get("value", "").lower() == HRR_RANDOM:
                g = first(hs, "tls.handshake.extensions_key_share_selected_group")
                c["hrr"] = {"selected_group": int(g.get("show")) if g is not None else None,
                            "selected_group_name": (g.get("showname", "").split(": ", 1)[-1]
                                                    .rsplit(" (", 1)[0]) if g is not None else None}
            sv = first(hs, "tls.handshake.extensions.supported_version")
            v = int((sv if sv is not None else first(hs, "tls.handshake.version")).get("show"), 16)
            cs = first(hs, "tls.handshake.ciphersuite")
            m = re.match(r"Cipher Suite: (\S+) \(0x([0-9a-fA-F]{4})\)", cs.get("showname"))
            c["sh"] = {"version": TLS_VERSIONS.get(v, hex(v)), "cs_id": int(cs.get("show"), 16),
                       "cs_name": m.group(1) if m else None, "from": src}
            c["tls13"] = v == 0x0304
        elif htype == 11:
            side = src
            if side not in c["certs"]:
                ders = [bytes.fromhex(f.get("value")) for f in fields_named(hs, "tls.handshake.certificate")]
                for f in fields_named(hs, "tls.handshake.certificate"):
                    if int(f.get("size")) * 2 != len(f.get("value", "")):
                        die("tshark gave a partial certificate value")
                c["certs"][side] = ders
        elif htype == 25:
            # RFC 8879 CompressedCertificate: tshark 4.0 shows the certificates inside when it
            # can decompress (brotli); for zlib it shows only the compressed bytes, which are
            # then inflated here with Python's zlib and parsed as a TLS 1.3 Certificate message.
            side = src
            alg = int(first(hs, "tls.compress_certificate.algorithm").get("show"))
            alg_name = first(hs, "tls.compress_certificate.algorithm").get("showname", "")
            alg_name = alg_name.split(": ", 1)[-1].rsplit(" (", 1)[0]
            ulen = int(first(hs, "tls.compress_certificate.uncompressed_length").get("show"))
            blob = first(hs, "tls.compress_certificate.compressed_certificate_message")
            info = {"algorithm": alg, "algorithm_name": alg_name, "uncompressed_length": ulen,
                    "compressed_length": int(blob.get("size")), "decompressed_by": "tshark"}
            ders = [bytes.fromhex(f.get("value")) for f in fields_named(hs, "tls.handshake.certificate")]
            if not ders and alg == 1:
                raw = bytes.fromhex(blob.get("value"))
                if len(raw) != info["compressed_length"]:
                    die("tshark gave a partial compressed certificate message")
                msg = zlib.decompress(raw)
                if len(msg) != ulen:
                    die("zlib-compressed certificate: %d bytes, %d announced" % (len(msg), ulen))
                ders = tls13_certificate_list(msg)
                info["decompressed_by"] = "python zlib"
            c["compressed"][side] = info
            if side not in c["certs"] and ders:
                c["certs"][side] = ders
        elif htype == 13 and c["creq"] is None:
            names = [dname_to_rfc2253(d) for d in fields_named(hs, "tls.handshake.dname")]
            c["creq"] = {"ca_names": names}
    alert = first(rec, "tls.alert_message")
    if alert is not None and (ctype == 21 or opaque):
        lvl = first(rec, "tls.alert_message.level")
        desc = first(rec, "tls.alert_message.desc")
        enc = lvl is None or opaque or (src in c["ccs"])
        c["alerts"].append({"src": src,
                            "level": {1: "warning", 2: "fatal"}.get(int(lvl.get("show"))) if lvl is not None else None,
                            "code": int(desc.get("show")) if desc is not None else None,
                            "encrypted": bool(enc)})


def tls13_certificate_list(msg):
    """The DER certificates of a TLS 1.3 Certificate message body (RFC 8446 4.4.2)."""
    ctx = msg[0]
    p = 1 + ctx
    end = p + 3 + int.from_bytes(msg[p:p + 3], "big")
    p += 3
    ders = []
    while p < end:
        n = int.from_bytes(msg[p:p + 3], "big")
        ders.append(msg[p + 3:p + 3 + n])
        p += 3 + n
        p += 2 + int.from_bytes(msg[p:p + 2], "big")  # extensions
    if p != end or end != len(msg):
        die("cannot parse a decompressed Certificate message")
    return ders


def finish(c, client, server, file_index):
    ch, sh = c["ch"] or {}, c["sh"]
    tls13 = sh is not None and sh["version"] == "1.3"

    def certs(side):
        if side not in c["certs"]:
            return None
        return [cert_summary(d, file_index) for d in c["certs"][side]]

    if tls13:
        vis = "decrypted" if c["decrypted_hs"] else "encrypted"
    else:
        vis = "plaintext"
    out = {
        "client": client, "server": server,
        "tls_version": sh["version"] if sh else None,
        "cipher_suite_id": sh["cs_id"] if sh else None,
        "cipher_suite": sh["cs_name"] if sh else None,
        "sni": ch.get("sni"),
        "alpn": ch.get("alpn"),
        "server_certificates": certs(server),
        "client_certificates": certs(client),
        "certificate_request": c["creq"],
        "alerts": [{"from": "client" if a["src"] == client else "server", "level": a["level"],
                    "code": a["code"], "encrypted": a["encrypted"]} for a in c["alerts"]],
        "handshake": None,
        "visibility": vis,
    }
    # Only when present, so that files of plain captures keep their exact shape.
    if c["hrr"] is not None:
        out["hello_retry_request"] = c["hrr"]
    if c["compressed"]:
        out["compressed_certificates"] = {("client" if side == client else "server"): info
                                          for side, info in c["compressed"].items()}
    encap = c["encap_hello"] if c["encap_hello"] is not None else c["encap_first"]
    if encap:
        out["encapsulation"] = encap
    if c["proxy"] is not None:
        p = {k: v for k, v in c["proxy"].items() if k != "from"}
        out["proxy"] = p
    return out


# ------------------------------------------------------------------ TCP attempts
def tcp_attempts(root_xml):
    """Every TCP connection attempt that never connected: a SYN (and its retransmissions) that
    got no SYN/ACK. Per attempt: client, server, the SYN times (frame.time_relative, seconds
    from the first packet of the capture), and the answer: "rst" (a RST from the server's
    address), "icmp" (an ICMP/ICMPv6 destination unreachable quoting the SYN) or "none"."""
    streams, order = {}, []
    icmps = []
    for pkt in root_xml.iter("packet"):
        t = float(first(pkt, "frame.time_relative").get("show"))
        for iname, tname in (("icmp", "icmp.type"), ("icmpv6", "icmpv6.type")):
            ic = top_proto(pkt, iname)
            if ic is None:
                continue
            typ = show_of(ic, tname, int)
            code = show_of(ic, iname + ".code", int)
            qip = ic.find("proto[@name='ip']")
            if qip is None:
                qip = ic.find("proto[@name='ipv6']")
            qtcp = ic.find("proto[@name='tcp']")
            outer = innermost_ip_before(pkt, iname)
            if qip is None or qtcp is None or outer is None:
                continue
            v = "ip" if qip.get("name") == "ip" else "ipv6"
            fmt = "%s:%s" if v == "ip" else "[%s]:%s"
            q_src = fmt % (show_of(qip, v + ".src"), show_of(qtcp, "tcp.srcport"))
            q_dst = fmt % (show_of(qip, v + ".dst"), show_of(qtcp, "tcp.dstport"))
            icmps.append({"key": (q_src, q_dst), "time": t, "type": typ, "code": code,
                          "from": outer[0].strip("[]"),
                          "text": "%s, %s" % (
                              first(ic, tname).get("showname", "").split(" (", 1)[-1].rstrip(")"),
                              first(ic, iname + ".code").get("showname", "").split(" (", 1)[-1].rstrip(")"))})
        if top_proto(pkt, "tcp") is None:
            continue
        eps = packet_endpoints(pkt)
        stream = first(pkt, "tcp.stream")
        if eps is None or stream is None:
            continue
        sid = stream.get("show")
        fv = int(first(pkt, "tcp.flags").get("value"), 16)
        st = streams.get(sid)
        if st is None:
            st = streams[sid] = {"client": None, "server": None, "syns": [], "synack": False,
                                 "rst": None}
            order.append(sid)
        src, dst = eps
        if fv & 0x02 and not fv & 0x10:
            if st["client"] is None:
                st["client"], st["server"] = src, dst
            if src == st["client"]:
                st["syns"].append(t)
        elif fv & 0x12 == 0x12 and src == st["server"]:
            st["synack"] = True
        if fv & 0x04 and st["client"] is not None and src == st["server"] and st["rst"] is None:
            st["rst"] = t
    out = []
    for sid in order:
        st = streams[sid]
        if not st["syns"] or st["synack"]:
            continue
        ic = next((i for i in icmps if i["key"] == (st["client"], st["server"])), None)
        answer = "rst" if st["rst"] is not None else ("icmp" if ic else "none")
        out.append({
            "client": st["client"], "server": st["server"],
            "syn_times": [round(x, 6) for x in st["syns"]],
            "syn_retransmissions": len(st["syns"]) - 1,
            "answer": answer,
            "rst_time": round(st["rst"], 6) if st["rst"] is not None else None,
            "icmp": ({"type": ic["type"], "code": ic["code"], "text": ic["text"], "from": ic["from"],
                      "time": round(ic["time"], 6)} if ic else None),
        })
    return out


def innermost_ip_before(pkt, proto_name):
    found = None
    for proto in pkt.findall("proto"):
        if proto.get("name") == proto_name:
            break
        if proto.get("name") in ("ip", "ipv6"):
            v = proto.get("name")
            found = (show_of(proto, v + ".src"), show_of(proto, v + ".dst"))
    return found


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--scenario", default="")
    ap.add_argument("--ignored", default="")
    ap.add_argument("--outcome", action="append", default=[])
    ap.add_argument("--ports", default=DEFAULT_PORTS)
    ap.add_argument("--keylog")
    ap.add_argument("--expect-connections", type=int)
    ap.add_argument("--tshark-arg", action="append", default=[])
    ap.add_argument("--other-ports", action="store_true")
    ap.add_argument("--tcp-attempts", action="store_true")
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("-o", dest="out")
    ap.add_argument("-h", "--help", action="store_true")
    a = ap.parse_args()
    if a.help or not a.capture:
        print(__doc__)
        sys.exit(0 if a.help else 2)
    ports = [int(p) for p in a.ports.split(",") if p]
    outcomes = {}
    for o in a.outcome:
        k, _, v = o.partition("=")
        if v not in OUTCOMES:
            die("--outcome %s: outcome must be one of %s" % (o, ", ".join(OUTCOMES)))
        outcomes[k.strip()] = v

    name = os.path.basename(a.capture)
    hdr = header_info(a.capture)
    packets, capinfo_out, capinfo_err = capinfos(a.capture)
    # cross-checks against capinfos
    if hdr["format"] == "pcap" and not re.search(r"File type:\s*(nsec)?pcap\b", capinfo_out):
        die("capinfos disagrees about the file type:\n" + capinfo_out)
    if hdr["format"] == "pcapng" and "pcapng" not in capinfo_out:
        die("capinfos disagrees about the file type:\n" + capinfo_out)
    want = {"usec": "microseconds", "nsec": "nanoseconds"}.get(hdr["ts_precision"]) if isinstance(hdr["ts_precision"], str) else None
    if want and want not in capinfo_out:
        die("capinfos disagrees about the timestamp precision:\n" + capinfo_out)
    n_if = re.search(r"Number of interfaces in file:\s*(\d+)", capinfo_out)
    if n_if and int(n_if.group(1)) != len(hdr["link_types"]):
        die("capinfos counts %s interfaces, the header walk %d" % (n_if.group(1), len(hdr["link_types"])))

    file_index = build_file_index(a.root)
    xml_root, tshark_err = tshark_pdml(a.capture, ports, a.keylog, a.tshark_arg)
    conns, other = analyze(xml_root, ports, file_index)
    for i, c in enumerate(conns, 1):
        keys = ["#%d" % i, str(port_of(c["server"])), "*"]
        c["handshake"] = next((outcomes[k] for k in keys if k in outcomes), "unknown")
    for c in other:
        keys = [str(port_of(c["server"])), "*"]
        c["handshake"] = next((outcomes[k] for k in keys if k in outcomes), "unknown")
    used = {k for k in outcomes if k == "*" or k.isdigit() or (k.startswith("#") and k[1:].isdigit())}
    if used != set(outcomes):
        die("bad --outcome keys: %s" % sorted(set(outcomes) - used))
    if a.expect_connections is not None and len(conns) != a.expect_connections:
        die("%s: expected %d connections, found %d: %s" % (
            name, a.expect_connections, len(conns), [(c["client"], c["server"]) for c in conns]))

    doc = {"capture": name, "scenario": a.scenario}
    if a.tshark_arg:
        doc["tshark_args"] = a.tshark_arg
    doc.update(hdr)
    doc["packets"] = packets
    doc["connections"] = conns
    if a.other_ports:
        counts = {}
        for c in other:
            p = str(port_of(c["server"]))
            counts[p] = counts.get(p, 0) + 1
        doc["other_ports"] = dict(sorted(counts.items(), key=lambda kv: int(kv[0])))
        doc["other_port_connections"] = other
    if a.tcp_attempts:
        doc["tcp_attempts"] = tcp_attempts(xml_root)
    doc["ignored"] = a.ignored
    text = json.dumps(doc, indent=2) + "\n"
    out = a.out or os.path.join(a.root, "expected", name + ".json")
    if out == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
        print("expected.py: %s: %d connection(s) -> %s" % (name, len(conns), out), file=sys.stderr)
    if tshark_err:
        print("expected.py: tshark said: " + tshark_err, file=sys.stderr)


if __name__ == "__main__":
    main()
