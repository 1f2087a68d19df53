#!/usr/bin/env python3
"""Check certwire's JSON Lines output against a generated capture's ground truth.

    benches/check_truth.py CAPTURE.truth.json CERTWIRE.jsonl

The truth comes from the generator, which takes it from the templates' tshark expectations:
the handshakes on the Kubernetes ports, how many presented each server and client leaf
certificate (by SHA-256), and how many were TLS 1.3. Prints one line per check and exits
non-zero if any fails.
"""
import collections
import json
import sys

TARGET_PORTS = {6443, 10250, 2379, 2380, 10257, 10259}


def main(truth_path, output_path):
    truth = json.load(open(truth_path))
    conns = []
    for line in open(output_path):
        record = json.loads(line)
        if record.get("record") == "connection":
            conns.append(record)

    def leaf_counts(side):
        counts = collections.Counter()
        for c in conns:
            chain = c.get(side) or []
            if chain:
                counts[chain[0]["sha256"]] += 1
        return dict(counts)

    off_port = [c["server"] for c in conns if int(c["server"].rsplit(":", 1)[1]) not in TARGET_PORTS]
    checks = [
        ("handshakes on the target ports", len(conns), truth["handshakes_on_target_ports"]),
        ("connections reported on other ports", len(off_port), 0),
        ("TLS 1.3 handshakes", sum(c.get("tls_version") == "1.3" for c in conns), truth["tls13_handshakes"]),
        ("server leaf certificates by SHA-256", leaf_counts("server_certificates"), truth["server_leaf_sha256_counts"]),
        ("client leaf certificates by SHA-256", leaf_counts("client_certificates"), truth["client_leaf_sha256_counts"]),
    ]
    failed = 0
    for name, got, want in checks:
        ok = got == want
        failed += not ok
        shown = sum(got.values()) if isinstance(got, dict) else got
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {shown}" + ("" if ok else f" (truth: {want}, got: {got})"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
