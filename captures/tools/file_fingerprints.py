#!/usr/bin/env python3
"""file_fingerprints.py: write expected/files.json, the openssl view of every certificate
file under node/ and pki-extra/ (and the certificates embedded in kubeconfigs).

Each entry is keyed by the path relative to captures/ ("#N" appended for the N-th
certificate of a bundle, "#users[NAME]" / "#clusters[NAME]" for kubeconfig data) and holds
sha256 (DER, lowercase hex), serial (lowercase), subject and issuer (-nameopt RFC2253), as
`openssl x509` prints them, and spki_sha256 (SHA-256 of the public key's DER, via
`openssl pkey -pubin -outform DER`). Tests use it as the independent source of truth for files.
Private keys are skipped: only CERTIFICATE blocks are read.

Usage: tools/file_fingerprints.py [ROOT]   (ROOT defaults to the captures/ folder)
"""
import base64, json, os, re, subprocess, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\s*", re.S)

def openssl(pem: bytes) -> dict:
    def run(*args):
        return subprocess.run(["openssl", "x509", "-noout", *args], input=pem, capture_output=True, check=True).stdout.decode().strip()
    fp = run("-fingerprint", "-sha256").split("=", 1)[1].replace(":", "").lower()
    serial = run("-serial").split("=", 1)[1].lower()
    subject = run("-subject", "-nameopt", "RFC2253").split("=", 1)[1]
    issuer = run("-issuer", "-nameopt", "RFC2253").split("=", 1)[1]
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem, capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True, check=True).stdout
    spki_sha = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=spki, capture_output=True, check=True).stdout.decode().split()[0]
    return {"sha256": fp, "serial": serial, "subject": subject, "issuer": issuer, "spki_sha256": spki_sha}

def kubeconfig_certs(text: str):
    """(entry label, PEM bytes) for each *-data field, by a line scan of the kubeconfig's
    top-level lists (no YAML library needed for the files pki.sh writes)."""
    section, items = None, []
    for line in text.splitlines():
        m = re.match(r"^(\w[\w-]*):", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("- "):
            items.append((section, []))
        if items and items[-1][0] == section:
            items[-1][1].append(line)
    for section, lines in items:
        name = next((m.group(1) for l in lines for m in [re.match(r"^[-\s]*name:\s*(\S+)", l)] if m), "?")
        for l in lines:
            m = re.match(r"^\s*(certificate-authority-data|client-certificate-data):\s*(\S+)", l)
            if not m:
                continue
            try:
                pem = base64.b64decode(m.group(2))
            except Exception:
                continue
            for i, block in enumerate(PEM.findall(pem)):
                yield f"{section}[{name}].{m.group(1)}" + (f"#{i}" if i else ""), block

out = {}
for top in ("node", "pki-extra", "pki-variants"):
    for dirpath, dirs, files in os.walk(os.path.join(root, top)):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                continue
            rel = os.path.relpath(p, root)
            data = open(p, "rb").read()
            blocks = PEM.findall(data)
            for i, b in enumerate(blocks):
                out[rel + (f"#{i}" if i else "")] = openssl(b)
            if not blocks and b"apiVersion" in data and b"-data:" in data:
                for label, b in kubeconfig_certs(data.decode(errors="replace")):
                    out[f"{rel}#{label}"] = openssl(b)
json.dump(dict(sorted(out.items())), open(os.path.join(root, "expected", "files.json"), "w"), indent=2)
print(f"{len(out)} certificates", file=sys.stderr)
