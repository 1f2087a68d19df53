#!/bin/bash
# pki-variants.sh: certificates that share an identity with node/'s apiserver.crt without
# being it, for the correlation tests (run by pki.sh after the node PKI is made):
#   pki-variants/apiserver-reissued.crt     same key as apiserver.key, new serial (a re-issue)
#   pki-variants/apiserver-same-serial.crt  same issuer and serial as apiserver.crt, other
#                                           validity, so other bytes (what tampering or a
#                                           re-signing with a reused serial looks like)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PKI=$HERE/node/etc/kubernetes/pki
VAR=$HERE/pki-variants
rm -rf "$VAR"; mkdir -p "$VAR"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=DNS:kubernetes,IP:127.0.0.1\n' > "$tmp/ext"
openssl req -new -key "$PKI/apiserver.key" -subj /CN=kube-apiserver -out "$tmp/api.csr"
openssl x509 -req -in "$tmp/api.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 0x5eed0001 \
    -days 365 -extfile "$tmp/ext" -out "$VAR/apiserver-reissued.crt" 2>/dev/null
serial=$(openssl x509 -in "$PKI/apiserver.crt" -noout -serial | cut -d= -f2)
openssl x509 -req -in "$tmp/api.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$serial" \
    -days 30 -extfile "$tmp/ext" -out "$VAR/apiserver-same-serial.crt" 2>/dev/null
[ "$(openssl x509 -in "$VAR/apiserver-same-serial.crt" -noout -serial)" = "serial=$serial" ] || { echo "serial mismatch" >&2; exit 1; }
echo "pki-variants.sh: written to $VAR"
