#!/usr/bin/env python3
"""Check certwire's JSON Lines output against a generated capture's ground truth.

    benches/check_truth.py CAPTURE.truth.json CERTWIRE.jsonl

The truth comes from the generator, which takes it from the templates' tshark expectations:
the handshakes on the Kubernetes ports, how many presented each server and client leaf
certificate (by SHA-256), every certificate of each side's chain (newer truth files), and
how many were TLS 1.3. Reads the default JSON Lines and the compact form
(`--jsonl-compact`: certificate records once, connections naming them by SHA-256; every
SHA-256 a connection names must have come as a certificate record before it). Prints one
line per check and exits non-zero if any fails.
"""
import collections
import json
import sys

TARGET_PORTS = {6443, 10250, 2379, 2380, 10257, 10259}


def sha(cert):
    """A chain entry: a certificate object (default form) or its SHA-256 (compact form)."""
    return cert if isinstance(cert, str) else cert["sha256"]


def main(truth_path, output_path):
    truth = json.load(open(truth_path))
    conns = []
    certificates = set()
    unknown_refs = 0
    for line in open(output_path):
        record = json.loads(line)
        if record.get("record") == "certificate":
            certificates.add(record["sha256"])
        elif record.get("record") == "connection":
            conns.append(record)
            for side in ("server_certificates", "client_certificates"):
                unknown_refs += sum(
                    isinstance(c, str) and c not in certificates for c in record.get(side) or []
                )

    def counts(side, whole_chain):
        counts = collections.Counter()
        for c in conns:
            chain = c.get(side) or []
            for cert in chain if whole_chain else chain[:1]:
                counts[sha(cert)] += 1
        return dict(counts)

    off_port = [c["server"] for c in conns if int(c["server"].rsplit(":", 1)[1]) not in TARGET_PORTS]
    checks = [
        ("handshakes on the target ports", len(conns), truth["handshakes_on_target_ports"]),
        ("connections reported on other ports", len(off_port), 0),
        ("TLS 1.3 handshakes", sum(c.get("tls_version") == "1.3" for c in conns), truth["tls13_handshakes"]),
        ("server leaf certificates by SHA-256", counts("server_certificates", False), truth["server_leaf_sha256_counts"]),
        ("client leaf certificates by SHA-256", counts("client_certificates", False), truth["client_leaf_sha256_counts"]),
    ]
    if "server_chain_sha256_counts" in truth:
        checks += [
            ("server chain certificates by SHA-256", counts("server_certificates", True), truth["server_chain_sha256_counts"]),
            ("client chain certificates by SHA-256", counts("client_certificates", True), truth["client_chain_sha256_counts"]),
        ]
    if unknown_refs or certificates:
        checks.append(("certificates referred to before their record (compact form)", unknown_refs, 0))
    failed = 0
    for name, got, want in checks:
        ok = got == want
        failed += not ok
        shown = sum(got.values()) if isinstance(got, dict) else got
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {shown}" + ("" if ok else f" (truth: {want}, got: {got})"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
