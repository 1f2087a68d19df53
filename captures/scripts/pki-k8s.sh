#!/bin/bash
# pki-k8s.sh: the extra certificates used by scripts/capture-k8s.sh, signed with openssl by the
# committed test CAs of node/ (node/etc/kubernetes/pki/ca.key). Run by pki.sh at its end (pki.sh
# wipes pki-extra/); capture-k8s.sh does NOT run it (the certificates are committed).
# Writes, in captures/pki-extra/ (cert + key, PEM):
#   kubelet-server-bootstrap.crt/.key   a kubelet serving cert as server TLS bootstrap
#                                       (serverTLSBootstrap: true) gets it from the
#                                       kubernetes.io/kubelet-serving signer: CN=system:node:node1,
#                                       O=system:nodes, EKU serverAuth only, keyUsage
#                                       digitalSignature, SAN DNS:node1 IP:127.0.0.1, ECDSA P-256
#                                       (the kubelet's CSR key), issuer ca.crt (CN=kubernetes)
#   node2-kubelet-client.crt/.key       another node's kubelet client cert (signer
#                                       kubernetes.io/kube-apiserver-client-kubelet):
#                                       CN=system:node:node2, O=system:nodes, EKU clientAuth,
#                                       ECDSA P-256, issuer ca.crt
#   serverauth-intermediate-ca.crt/.key an intermediate CA (CA:TRUE, pathlen 0, keyCertSign)
#                                       signed by ca.crt whose extendedKeyUsage is serverAuth only
#   restricted-eku-client.crt/.key      CN=restricted-eku-client, O=dev, EKU clientAuth, signed
#                                       by that intermediate: a valid client leaf under a CA that
#                                       may only issue server certs (Go checks EKU along the chain)
# The two CSR-signed certs (kubelet-server-bootstrap, node2-kubelet-client) carry no Subject Key
# Identifier, as the kube-controller-manager's signer makes them (Go's x509.CreateCertificate
# adds none to a leaf), only the Authority Key Identifier; the other two are openssl-style
# (SKID + AKID).
# Validity of all four: 2026-10-25T08:00:00Z .. 2027-10-25T08:00:00Z (`openssl ca -startdate
# -enddate`: OpenSSL 3.0's `x509 -req` has no -not_before/-not_after). Serials are random
# (`openssl ca -rand_serial`), so every run makes new keys, serials and fingerprints: rerun
# regenerate.sh (or at least capture-k8s.sh) afterwards.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
PKI=$HERE/node/etc/kubernetes/pki
EXTRA=$HERE/pki-extra
START=20261025080000Z
END=20271025080000Z

[ -f "$PKI/ca.key" ] || { echo "pki-k8s.sh: no $PKI/ca.key (run scripts/pki.sh)" >&2; exit 1; }
mkdir -p "$EXTRA"
WORK=$(mktemp -d /tmp/certwire-pki-k8s.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

fail() { echo "pki-k8s.sh: $*" >&2; exit 1; }

# sign NAME CA-CRT CA-KEY SUBJECT KEY OUT EXTENSIONS...: openssl ca with a throw-away database
sign() {
    local name=$1 cacrt=$2 cakey=$3 subj=$4 key=$5 out=$6; shift 6
    local d=$WORK/$name
    mkdir -p "$d/new"; : > "$d/index.txt"; echo 01 > "$d/serial"   # serial: required key, unused with -rand_serial
    {
        printf '[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\n' "$d/index.txt" "$d/new" "$d/serial"
        printf 'default_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\nemail_in_dn = no\n'
        printf '[policy_any]\ncommonName = supplied\norganizationName = optional\n[ext]\n'
        printf '%s\n' "$@"
    } > "$d/ca.cnf"
    openssl req -new -key "$key" -subj "$subj" -out "$d/req.csr"
    openssl ca -batch -config "$d/ca.cnf" -cert "$cacrt" -keyfile "$cakey" -in "$d/req.csr" \
        -out "$d/cert.pem" -notext -preserveDN -rand_serial -startdate $START -enddate $END \
        -extensions ext 2>"$d/ca.log" || { cat "$d/ca.log" >&2; fail "openssl ca failed for $name"; }
    openssl x509 -in "$d/cert.pem" -out "$out"
}
eckey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1"; }
rsakey() { openssl genrsa -traditional -out "$1" 2048 2>/dev/null; }

# ---------------------------------------------------------------- kubelet serving cert (server TLS bootstrap)
eckey "$EXTRA/kubelet-server-bootstrap.key"
sign kubelet-server-bootstrap "$PKI/ca.crt" "$PKI/ca.key" "/O=system:nodes/CN=system:node:node1" \
    "$EXTRA/kubelet-server-bootstrap.key" "$EXTRA/kubelet-server-bootstrap.crt" \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = serverAuth" \
    "subjectKeyIdentifier = none" \
    "authorityKeyIdentifier = keyid" \
    "subjectAltName = DNS:node1, IP:127.0.0.1"

# ---------------------------------------------------------------- node2's kubelet client cert
eckey "$EXTRA/node2-kubelet-client.key"
sign node2-kubelet-client "$PKI/ca.crt" "$PKI/ca.key" "/O=system:nodes/CN=system:node:node2" \
    "$EXTRA/node2-kubelet-client.key" "$EXTRA/node2-kubelet-client.crt" \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = clientAuth" \
    "subjectKeyIdentifier = none" \
    "authorityKeyIdentifier = keyid"

# ---------------------------------------------------------------- serverAuth-only intermediate + its client leaf
rsakey "$EXTRA/serverauth-intermediate-ca.key"
sign serverauth-intermediate-ca "$PKI/ca.crt" "$PKI/ca.key" "/CN=serverauth-intermediate-ca" \
    "$EXTRA/serverauth-intermediate-ca.key" "$EXTRA/serverauth-intermediate-ca.crt" \
    "basicConstraints = critical, CA:TRUE, pathlen:0" \
    "keyUsage = critical, digitalSignature, keyCertSign, cRLSign" \
    "extendedKeyUsage = serverAuth" \
    "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid"
rsakey "$EXTRA/restricted-eku-client.key"
sign restricted-eku-client "$EXTRA/serverauth-intermediate-ca.crt" "$EXTRA/serverauth-intermediate-ca.key" \
    "/O=dev/CN=restricted-eku-client" \
    "$EXTRA/restricted-eku-client.key" "$EXTRA/restricted-eku-client.crt" \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature, keyEncipherment" \
    "extendedKeyUsage = clientAuth" \
    "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid"

# ---------------------------------------------------------------- checks (openssl's own view)
verify() { openssl verify -CAfile "$1" "${@:3}" "$2" >/dev/null 2>&1 || fail "verify $2 against $1 (${*:3})"; }
verify "$PKI/ca.crt" "$EXTRA/kubelet-server-bootstrap.crt" -purpose sslserver
verify "$PKI/ca.crt" "$EXTRA/node2-kubelet-client.crt" -purpose sslclient
verify "$PKI/ca.crt" "$EXTRA/serverauth-intermediate-ca.crt"
# the leaf chains to ca.crt through the intermediate, but not for client auth (EKU of the CA)
verify "$PKI/ca.crt" "$EXTRA/restricted-eku-client.crt" -untrusted "$EXTRA/serverauth-intermediate-ca.crt"
! openssl verify -CAfile "$PKI/ca.crt" -untrusted "$EXTRA/serverauth-intermediate-ca.crt" -purpose sslclient \
    "$EXTRA/restricted-eku-client.crt" >/dev/null 2>&1 || fail "restricted-eku-client verifies for client auth"
! openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$EXTRA/kubelet-server-bootstrap.crt" >/dev/null 2>&1 \
    || fail "kubelet-server-bootstrap verifies for client auth"
for n in kubelet-server-bootstrap node2-kubelet-client serverauth-intermediate-ca restricted-eku-client; do
    [ "$(openssl x509 -in "$EXTRA/$n.crt" -noout -pubkey | openssl sha256)" = \
      "$(openssl pkey -in "$EXTRA/$n.key" -pubout | openssl sha256)" ] || fail "$n: key mismatch"
    [ "$(openssl x509 -in "$EXTRA/$n.crt" -noout -startdate)" = "notBefore=Oct 25 08:00:00 2026 GMT" ] || fail "$n: notBefore"
    [ "$(openssl x509 -in "$EXTRA/$n.crt" -noout -enddate)" = "notAfter=Oct 25 08:00:00 2027 GMT" ] || fail "$n: notAfter"
done
for n in kubelet-server-bootstrap node2-kubelet-client; do
    grep -q 'BEGIN EC PRIVATE KEY' "$EXTRA/$n.key" || fail "$n: not an EC key"
    ! openssl x509 -in "$EXTRA/$n.crt" -noout -ext subjectKeyIdentifier 2>/dev/null | grep -q . \
        || fail "$n: has a Subject Key Identifier"
done
echo "pki-k8s.sh: written to $EXTRA (kubelet-server-bootstrap, node2-kubelet-client, serverauth-intermediate-ca, restricted-eku-client)" >&2
