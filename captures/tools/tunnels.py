#!/usr/bin/env python3
"""tunnels.py: the tunnel around each inner TCP connection of a capture, as tshark decodes it.

usage: tools/tunnels.py CAPTURE [-d DECODE_AS ...] > expected/CAPTURE.tunnels.json

For every inner TCP connection (by its client endpoint, the side that sent the SYN),
writes {"client", "server", "kind", "id", "outer_client", "outer_server", "layers"} from
tshark's own dissection of the first SYN: kind from the outermost tunnel protocol in the
frame (vxlan, geneve, gre / erspan, ip-in-ip), id from vxlan.vni, geneve.vni, gre.key or
erspan.spanid, outer addresses from the first IP header, layers from the number of IP
headers minus one. An independent view to compare certwire's `tunnel` with.
"""
import json
import subprocess
import sys

FIELDS = ["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "vxlan.vni", "geneve.vni", "gre.key", "erspan.spanid"]


def main():
    args = sys.argv[1:]
    capture, extra = args[0], []
    i = 1
    while i < len(args):
        if args[i] == "-d":
            extra += ["-d", args[i + 1]]
            i += 2
        else:
            raise SystemExit(__doc__)
    cmd = ["tshark", "-r", capture, "-n"] + extra + [
        "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-E", "separator=|",
        "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    seen, result = set(), []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("|")))
        protos = v["frame.protocols"].split(":")
        v4 = [a for a in v["ip.src"].split(",") if a]
        v4d = [a for a in v["ip.dst"].split(",") if a]
        v6 = [a for a in v["ipv6.src"].split(",") if a]
        v6d = [a for a in v["ipv6.dst"].split(",") if a]
        # IP headers in frame order: tshark lists each field's occurrences in order;
        # the protocol chain says which family each layer is.
        layers, i4, i6, srcs, dsts = [], 0, 0, [], []
        for p in protos:
            if p == "ip":
                srcs.append(v4[i4]); dsts.append(v4d[i4]); i4 += 1
            elif p == "ipv6":
                srcs.append("[%s]" % v6[i6]); dsts.append("[%s]" % v6d[i6]); i6 += 1
        kind = next((k for p, k in [("erspan", "erspan"), ("vxlan", "vxlan"), ("geneve", "geneve"),
                                    ("gre", "gre")] if p in protos), "ipip" if len(srcs) > 1 else None)
        ident = next((v[f].split(",")[0] for f in ["vxlan.vni", "geneve.vni", "gre.key", "erspan.spanid"]
                      if v[f]), None)
        sport, dport = v["tcp.srcport"].split(",")[-1], v["tcp.dstport"].split(",")[-1]
        client = "%s:%s" % (srcs[-1], sport)
        if client in seen or kind is None:
            continue
        seen.add(client)
        result.append({
            "client": client,
            "server": "%s:%s" % (dsts[-1], dport),
            "kind": kind,
            "id": int(ident, 0) if ident else None,
            "outer_client": srcs[0].strip("[]"),
            "outer_server": dsts[0].strip("[]"),
            "layers": len(srcs) - 1,
        })
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
