#!/bin/bash
# node-broken.sh: the fixtures of `certwire node` (issue 16): copies of the healthy node tree
# captures/node/ that each carry exactly ONE known problem, and beside each the findings that
# problem must cause, written down from how it was made (not from certwire's output).
#
#   captures/node-broken/<problem>/           `cp -a` of node/ (the absolute symlink
#                                             var/lib/kubelet/pki/kubelet-client-current.pem is
#                                             kept as it is), then one change made with openssl
#   captures/node-broken/<problem>/expected.json
#       {"problem": how it was made, "changed": [files that differ from node/],
#        "findings": [{"code", "severity", "file", "role"}]}: the findings this problem must
#       cause beyond those of the healthy tree, at the audit time below. "file" is relative to
#       the tree's root, with "#users[NAME]" for a kubeconfig user; "role" is the role (as in
#       certwire's JSON) of the certificate the finding is about.
#   captures/node/expected-node.json          the same for the healthy tree itself (written here
#                                             because scripts/pki.sh wipes node/).
#
# Audit time of every test: --at 2026-11-29T12:00:00Z. At that time, in node/ (see pki.sh):
# CAs 2025-10-30..2035-10-28, kubeadm/kubeconfig/kubelet serving certs 2026-10-25..2027-10-25,
# the current rotated kubelet client cert 2026-11-27T09:25..2026-12-07T09:25 (7.9 of 10 days
# left), the older rotated one 2026-11-20T09:55..2026-11-30T09:55 (0.9 days left, but no
# component uses it: kubelet-client-current.pem points at the newer one).
#
# Every certificate is issued with `openssl ca` (throw-away database, fixed serial, fixed
# -startdate/-enddate, the extensions cfssl's profile in pki.sh gives the original), re-issued
# with the original's own key unless the key is the problem; the subject is copied from the
# original (`openssl x509 -x509toreq`, PrintableString kept) unless the subject is the problem.
# Keys that must be "another key" are existing keys of pki-extra/ (no key is generated), and
# every signature is RSA PKCS#1 v1.5 (deterministic), so a rerun on the same node/ and
# pki-extra/ writes the same bytes. Idempotent: wipes node-broken/ and recreates it. Run it
# again after scripts/pki.sh (pki.sh runs it at its end). Tools: bash, openssl 3, base64, cmp,
# diff, sed.
#
# The trees (problem: what was changed; the finding expected):
#   expired                  apiserver-kubelet-client.crt re-issued 2025-11-25..2026-11-25
#                            -> expired (error), role apiserver-to-kubelet
#   expires-soon             admin.conf's client-certificate-data re-issued 2025-12-10..2026-12-10
#                            (10.8 days left of 365) -> expires-soon (warning), admin
#   not-yet-valid            etcd/server.crt re-issued 2026-12-05..2027-12-05 -> not-yet-valid
#                            (error), etcd-server
#   unknown-authority        apiserver-etcd-client.crt signed by a rogue CA whose subject is the
#                            same bytes as etcd/ca.crt's (CN=etcd-ca, key pki-extra/rogue-ca.key;
#                            the rogue CA is in no file of the tree) -> unknown-authority (error),
#                            apiserver-to-etcd
#   key-mismatch             apiserver.key replaced by pki-extra/kubelet-noipsan.key -> key-mismatch
#                            (error) on apiserver.crt, kube-apiserver
#   incompatible-key-usage   front-proxy-client.crt re-issued with extendedKeyUsage serverAuth only
#                            -> incompatible-key-usage (error), front-proxy
#   no-ip-san                apiserver.crt re-issued with its DNS SANs only (no IP SAN at all: not
#                            the --advertise-address 127.0.0.1, not 10.96.0.1, not ::1) -> no-ip-san
#                            (error), kube-apiserver
#   name-mismatch            apiserver.crt re-issued without DNS:kubernetes, kubernetes.default,
#                            kubernetes.default.svc, kubernetes.default.svc.cluster.local (node1 and
#                            the IPs kept) -> name-mismatch (error), kube-apiserver
#   identity                 controller-manager.conf's user cert re-issued with
#                            CN=kube-controller-manager (not system:kube-controller-manager)
#                            -> identity (error), controller-manager
#   identity-kubelet         the current rotated kubelet client cert (kubelet-client-2026-11-27-
#                            09-30-00.pem) re-issued without O=system:nodes -> identity (error),
#                            kubelet-client
#   front-proxy-ca           front-proxy-client.crt signed by the cluster CA (ca.crt) instead of
#                            front-proxy-ca -> front-proxy-ca (error), front-proxy
#   kubeconfig-ca            scheduler.conf's certificate-authority-data replaced by
#                            pki-extra/rogue-ca.crt (same name CN=kubernetes, another key)
#                            -> kubeconfig-ca (error), scheduler
#   stale-rotation           a newer rotated kubelet client cert kubelet-client-2026-11-29-08-00-00.pem
#                            added (2026-11-29T07:55..2026-12-09T07:55, ECDSA key of
#                            pki-extra/node2-kubelet-client.key, CN=system:node:node1,
#                            O=system:nodes), kubelet-client-current.pem left on 2026-11-27
#                            -> stale-rotation (warning) on kubelet-client-current.pem
#   stale-rotation-old       kubelet-client-current.pem pointed at the older rotated file
#                            (2026-11-20), which then is the kubelet's certificate and expires in
#                            0.9 days -> stale-rotation (warning) and expires-soon (warning) on
#                            kubelet-client-2026-11-20-10-00-00.pem, kubelet-client
#   sa-key-mismatch          sa.pub replaced by the public key of pki-extra/rogue-client.key
#                            -> sa-key-mismatch (error) on sa.pub
#   ca-expires-first         front-proxy-ca.crt re-self-signed with its own key and SKID,
#                            2025-10-30..2027-06-01, before front-proxy-client.crt's 2027-10-25
#                            -> ca-expires-first (warning), front-proxy-ca
# The healthy tree node/ itself: no finding at all (expected-node.json).
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
NODE=$HERE/node
EXTRA=$HERE/pki-extra
OUT=$HERE/node-broken
PKI=etc/kubernetes/pki                          # relative to a tree's root
KPKI=var/lib/kubelet/pki
AT=2026-11-29T12:00:00Z

fail() { echo "node-broken.sh: $*" >&2; exit 1; }
for f in "$NODE/$PKI/ca.key" "$NODE/$PKI/etcd/ca.key" "$NODE/$PKI/front-proxy-ca.key" \
         "$EXTRA/rogue-ca.key" "$EXTRA/rogue-ca.crt" "$EXTRA/kubelet-noipsan.key" \
         "$EXTRA/rogue-client.key" "$EXTRA/node2-kubelet-client.key"; do
    [ -f "$f" ] || fail "no $f (run scripts/pki.sh)"
done

WORK=$(mktemp -d /tmp/certwire-node-broken.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

rm -rf "$OUT"
mkdir -p "$OUT"
SERIAL=0

# ---------------------------------------------------------------- extensions (pki.sh's profiles, in
# the order cfssl writes them)
LEAF=("basicConstraints = critical, CA:FALSE" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid")
KU_RSA="keyUsage = critical, digitalSignature, keyEncipherment"
KU_EC="keyUsage = critical, digitalSignature"
CLIENT=("$KU_RSA" "extendedKeyUsage = clientAuth" "${LEAF[@]}")
SERVER=("$KU_RSA" "extendedKeyUsage = serverAuth" "${LEAF[@]}")
PEER=("$KU_RSA" "extendedKeyUsage = serverAuth, clientAuth" "${LEAF[@]}")
KUBELET_CLIENT=("$KU_EC" "extendedKeyUsage = clientAuth" "${LEAF[@]}")
APISERVER_DNS="DNS:node1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local"
APISERVER_IP="IP:10.96.0.1, IP:127.0.0.1, IP:::1"
NODE_SANS="DNS:node1, DNS:localhost, IP:127.0.0.1, IP:::1"

# issue CSR CA_CRT CA_KEY START END OUT EXT...: `openssl ca` with a throw-away database and the
# next fixed serial; CA_CRT "-" = self-signed (-selfsign, with CA_KEY)
issue() {
    local csr=$1 cacrt=$2 cakey=$3 start=$4 end=$5 out=$6; shift 6
    SERIAL=$((SERIAL + 1))
    local d=$WORK/ca-$SERIAL
    mkdir -p "$d/new"; : > "$d/index.txt"; printf '4e0de0000000%04x\n' "$SERIAL" > "$d/serial"
    {
        printf '[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\n' "$d/index.txt" "$d/new" "$d/serial"
        printf 'default_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\nemail_in_dn = no\n'
        printf '[policy_any]\ncommonName = supplied\norganizationName = optional\n[ext]\n'
        printf '%s\n' "$@"
    } > "$d/ca.cnf"
    local signer=(-cert "$cacrt")
    [ "$cacrt" = - ] && signer=(-selfsign)
    openssl ca -batch -config "$d/ca.cnf" "${signer[@]}" -keyfile "$cakey" -in "$csr" \
        -out "$d/cert.pem" -notext -preserveDN -startdate "$start" -enddate "$end" \
        -extensions ext 2>"$d/ca.log" || { cat "$d/ca.log" >&2; fail "openssl ca failed for $out"; }
    openssl x509 -in "$d/cert.pem" -out "$out"
}

# csr_like CERT KEY OUT: a CSR with CERT's subject (same bytes) and KEY
csr_like() { openssl x509 -x509toreq -in "$1" -key "$2" -out "$3" 2>/dev/null; }
# csr_subj SUBJ KEY OUT: a CSR with subject SUBJ (PrintableString where possible, as cfssl)
csr_subj() {
    printf '[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n' > "$WORK/req.cnf"
    openssl req -new -config "$WORK/req.cnf" -key "$2" -subj "$1" -out "$3"
}

# kubeconfig data: kc_get FILE FIELD (decoded to stdout), kc_set FILE FIELD PEMFILE
kc_get() { sed -n "s/^    $2: //p" "$1" | base64 -d; }
kc_set() {
    [ "$(grep -c "^    $2: " "$1")" = 1 ] || fail "$1: not one $2"
    local b64; b64=$(base64 -w0 < "$3")
    sed -i "s|^    $2: .*|    $2: $b64|" "$1"
}

# pem_key FILE: the private key block of a cert+key PEM
pem_key() { sed -n '/-----BEGIN [A-Z ]*PRIVATE KEY-----/,/-----END [A-Z ]*PRIVATE KEY-----/p' "$1"; }

# new_tree NAME: a copy of node/, its path in $T
new_tree() {
    T=$OUT/$1
    cp -a "$NODE" "$T"
    rm -f "$T/expected-node.json"
}

# expect NAME CHANGED PROBLEM FINDING... (FINDING = "code severity file role"): writes
# NAME/expected.json and checks that exactly the CHANGED files (space-separated) differ from node/
expect() {
    local name=$1 changed=$2 problem=$3; shift 3
    local t=$OUT/$name got="" line p
    while IFS= read -r line; do
        case $line in
            "Files $NODE/"*" differ"|"Symbolic links $NODE/"*" differ")
                p=${line#* "$NODE"/}; p=${p%% and *} ;;
            "Only in $t: "*|"Only in $NODE: "*) p=${line#*: } ;;
            "Only in $t/"*|"Only in $NODE/"*)
                p=${line#Only in }; p=${p%%: *}; p=${p#"$t"/}; p=${p#"$NODE"/}; p=$p/${line#*: } ;;
            *) fail "$name: diff says: $line" ;;
        esac
        case $p in expected.json|expected-node.json) continue ;; esac
        got="$got $p"
    done < <(diff -rq --no-dereference "$NODE" "$t" || true)
    got=$(tr ' ' '\n' <<<"$got" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$(tr ' ' '\n' <<<"$changed" | sort | tr '\n' ' ' | sed 's/ $//')" ] \
        || fail "$name: files differing from node/: [$got], want [$changed]"
    {
        printf '{\n  "problem": "%s",\n  "changed": [' "$problem"
        local first=1 c
        for c in $changed; do
            [ $first = 1 ] || printf ', '; first=0
            printf '"%s"' "$c"
        done
        printf '],\n  "findings": ['
        first=1
        local f code sev file role
        for f in "$@"; do
            read -r code sev file role <<<"$f"
            [ $first = 1 ] || printf ','; first=0
            printf '\n    {"code": "%s", "severity": "%s", "file": "%s", "role": "%s"}' "$code" "$sev" "$file" "$role"
        done
        printf '\n  ]\n}\n'
    } > "$t/expected.json"
}

# verifies CAFILE CERT [openssl verify options]: openssl's own view, at the audit time
ATTIME=$(date -d "$AT" +%s)
verifies() { openssl verify -attime "$ATTIME" -CAfile "$1" "${@:3}" "$2" >/dev/null 2>&1; }
chains() { openssl verify -no_check_time -CAfile "$1" "${@:3}" "$2" >/dev/null 2>&1; }   # at any time
same_key() {  # same_key CERT KEY
    [ "$(openssl x509 -in "$1" -noout -pubkey | openssl sha256)" = "$(openssl pkey -in "$2" -pubout | openssl sha256)" ]
}

# ---------------------------------------------------------------- expired
new_tree expired
f=$T/$PKI/apiserver-kubelet-client.crt
csr_like "$f" "$T/$PKI/apiserver-kubelet-client.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20251125080000Z 20261125080000Z "$f" "${CLIENT[@]}"
! verifies "$T/$PKI/ca.crt" "$f" -purpose sslclient || fail "expired: still valid"
chains "$T/$PKI/ca.crt" "$f" -purpose sslclient || fail "expired: does not chain"
expect expired "$PKI/apiserver-kubelet-client.crt" \
    "apiserver-kubelet-client.crt re-issued by ca.crt with its own key, subject and extensions, valid 2025-11-25T08:00:00Z..2026-11-25T08:00:00Z (expired 4 days before the audit time)" \
    "expired error $PKI/apiserver-kubelet-client.crt apiserver-to-kubelet"

# ---------------------------------------------------------------- expires-soon
new_tree expires-soon
conf=$T/etc/kubernetes/admin.conf
kc_get "$conf" client-certificate-data > "$WORK/admin.crt"
kc_get "$conf" client-key-data > "$WORK/admin.key"
csr_like "$WORK/admin.crt" "$WORK/admin.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20251210080000Z 20261210080000Z "$WORK/admin-new.crt" "${CLIENT[@]}"
kc_set "$conf" client-certificate-data "$WORK/admin-new.crt"
verifies "$T/$PKI/ca.crt" "$WORK/admin-new.crt" -purpose sslclient || fail "expires-soon: not valid"
same_key "$WORK/admin-new.crt" "$WORK/admin.key" || fail "expires-soon: key"
expect expires-soon etc/kubernetes/admin.conf \
    "admin.conf's client-certificate-data (user kubernetes-admin) re-issued by ca.crt with its own key (client-key-data unchanged), subject and extensions, valid 2025-12-10T08:00:00Z..2026-12-10T08:00:00Z: 10.8 days of 365 left at the audit time (under 30 days and under 30 % of its lifetime)" \
    "expires-soon warning etc/kubernetes/admin.conf#users[kubernetes-admin] admin"

# ---------------------------------------------------------------- not-yet-valid
new_tree not-yet-valid
f=$T/$PKI/etcd/server.crt
csr_like "$f" "$T/$PKI/etcd/server.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/etcd/ca.crt" "$T/$PKI/etcd/ca.key" 20261205080000Z 20271205080000Z "$f" \
    "${PEER[@]}" "subjectAltName = $NODE_SANS"
! verifies "$T/$PKI/etcd/ca.crt" "$f" || fail "not-yet-valid: valid"
chains "$T/$PKI/etcd/ca.crt" "$f" -purpose sslserver || fail "not-yet-valid: does not chain"
expect not-yet-valid "$PKI/etcd/server.crt" \
    "etcd/server.crt re-issued by etcd/ca.crt with its own key, subject, extensions and SANs, valid 2026-12-05T08:00:00Z..2027-12-05T08:00:00Z (not valid until 6 days after the audit time)" \
    "not-yet-valid error $PKI/etcd/server.crt etcd-server"

# ---------------------------------------------------------------- unknown-authority
new_tree unknown-authority
csr_like "$T/$PKI/etcd/ca.crt" "$EXTRA/rogue-ca.key" "$WORK/rogue.csr"
issue "$WORK/rogue.csr" - "$EXTRA/rogue-ca.key" 20261125120000Z 20361123120000Z "$WORK/rogue-etcd-ca.crt" \
    "keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign, cRLSign" "basicConstraints = critical, CA:TRUE" \
    "subjectKeyIdentifier = hash"
cmp -s <(openssl x509 -in "$WORK/rogue-etcd-ca.crt" -noout -subject -nameopt RFC2253) \
       <(openssl x509 -in "$T/$PKI/etcd/ca.crt" -noout -subject -nameopt RFC2253) || fail "rogue etcd-ca: subject"
f=$T/$PKI/apiserver-etcd-client.crt
csr_like "$f" "$T/$PKI/apiserver-etcd-client.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$WORK/rogue-etcd-ca.crt" "$EXTRA/rogue-ca.key" 20261025080000Z 20271025080000Z "$f" "${CLIENT[@]}"
verifies "$WORK/rogue-etcd-ca.crt" "$f" -purpose sslclient || fail "unknown-authority: not from the rogue CA"
! verifies "$T/$PKI/etcd/ca.crt" "$f" || fail "unknown-authority: verifies against etcd/ca.crt"
[ "$(openssl x509 -in "$f" -noout -issuer)" = "issuer=CN = etcd-ca" ] || fail "unknown-authority: issuer name"
expect unknown-authority "$PKI/apiserver-etcd-client.crt" \
    "apiserver-etcd-client.crt re-issued with its own key, subject, extensions and dates by a rogue CA whose subject is etcd/ca.crt's (CN=etcd-ca, same bytes) with another key (pki-extra/rogue-ca.key) and SKID; the rogue CA is in no file of the tree; etcd trusts etcd/ca.crt (--trusted-ca-file) and so does kube-apiserver's --etcd-cafile" \
    "unknown-authority error $PKI/apiserver-etcd-client.crt apiserver-to-etcd"

# ---------------------------------------------------------------- key-mismatch
new_tree key-mismatch
cp "$EXTRA/kubelet-noipsan.key" "$T/$PKI/apiserver.key"
! same_key "$T/$PKI/apiserver.crt" "$T/$PKI/apiserver.key" || fail "key-mismatch: keys match"
expect key-mismatch "$PKI/apiserver.key" \
    "apiserver.key (--tls-private-key-file) replaced by another RSA 2048 key (a copy of pki-extra/kubelet-noipsan.key); apiserver.crt (--tls-cert-file) unchanged" \
    "key-mismatch error $PKI/apiserver.crt kube-apiserver"

# ---------------------------------------------------------------- incompatible-key-usage
new_tree incompatible-key-usage
f=$T/$PKI/front-proxy-client.crt
csr_like "$f" "$T/$PKI/front-proxy-client.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/front-proxy-ca.crt" "$T/$PKI/front-proxy-ca.key" 20261025080000Z 20271025080000Z "$f" "${SERVER[@]}"
verifies "$T/$PKI/front-proxy-ca.crt" "$f" -purpose sslserver || fail "incompatible-key-usage: not valid"
! verifies "$T/$PKI/front-proxy-ca.crt" "$f" -purpose sslclient || fail "incompatible-key-usage: valid for clients"
expect incompatible-key-usage "$PKI/front-proxy-client.crt" \
    "front-proxy-client.crt (--proxy-client-cert-file) re-issued by front-proxy-ca with its own key, subject and dates but extendedKeyUsage serverAuth only (no clientAuth)" \
    "incompatible-key-usage error $PKI/front-proxy-client.crt front-proxy"

# ---------------------------------------------------------------- no-ip-san
new_tree no-ip-san
f=$T/$PKI/apiserver.crt
csr_like "$f" "$T/$PKI/apiserver.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261025080000Z 20271025080000Z "$f" \
    "${SERVER[@]}" "subjectAltName = $APISERVER_DNS"
verifies "$T/$PKI/ca.crt" "$f" -purpose sslserver || fail "no-ip-san: not valid"
! verifies "$T/$PKI/ca.crt" "$f" -verify_ip 127.0.0.1 || fail "no-ip-san: valid for 127.0.0.1"
verifies "$T/$PKI/ca.crt" "$f" -verify_hostname kubernetes.default.svc || fail "no-ip-san: DNS names"
expect no-ip-san "$PKI/apiserver.crt" \
    "apiserver.crt re-issued by ca.crt with its own key, subject, extensions and dates, SANs DNS:node1, kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local and no IP SAN at all (missing: 127.0.0.1 = --advertise-address and the kubeconfigs' server, 10.96.0.1 = first IP of --service-cluster-ip-range, ::1)" \
    "no-ip-san error $PKI/apiserver.crt kube-apiserver"

# ---------------------------------------------------------------- name-mismatch
new_tree name-mismatch
f=$T/$PKI/apiserver.crt
csr_like "$f" "$T/$PKI/apiserver.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261025080000Z 20271025080000Z "$f" \
    "${SERVER[@]}" "subjectAltName = DNS:node1, $APISERVER_IP"
verifies "$T/$PKI/ca.crt" "$f" -verify_ip 127.0.0.1 || fail "name-mismatch: not valid for 127.0.0.1"
! verifies "$T/$PKI/ca.crt" "$f" -verify_hostname kubernetes.default.svc || fail "name-mismatch: valid for kubernetes.default.svc"
expect name-mismatch "$PKI/apiserver.crt" \
    "apiserver.crt re-issued by ca.crt with its own key, subject, extensions and dates, SANs DNS:node1, IP:10.96.0.1, IP:127.0.0.1, IP:::1: without DNS:kubernetes, kubernetes.default, kubernetes.default.svc and kubernetes.default.svc.cluster.local (the names of the kubernetes Service, cluster domain cluster.local)" \
    "name-mismatch error $PKI/apiserver.crt kube-apiserver"

# ---------------------------------------------------------------- identity (controller-manager)
new_tree identity
conf=$T/etc/kubernetes/controller-manager.conf
kc_get "$conf" client-key-data > "$WORK/cm.key"
csr_subj "/CN=kube-controller-manager" "$WORK/cm.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261025080000Z 20271025080000Z "$WORK/cm.crt" "${CLIENT[@]}"
kc_set "$conf" client-certificate-data "$WORK/cm.crt"
verifies "$T/$PKI/ca.crt" "$WORK/cm.crt" -purpose sslclient || fail "identity: not valid"
[ "$(openssl x509 -in "$WORK/cm.crt" -noout -subject)" = "subject=CN = kube-controller-manager" ] || fail "identity: subject"
expect identity etc/kubernetes/controller-manager.conf \
    "controller-manager.conf's client-certificate-data (user system:kube-controller-manager) re-issued by ca.crt with its own key (client-key-data unchanged), extensions and dates but subject CN=kube-controller-manager instead of CN=system:kube-controller-manager (the user the system:kube-controller-manager ClusterRoleBinding names)" \
    "identity error etc/kubernetes/controller-manager.conf#users[system:kube-controller-manager] controller-manager"

# ---------------------------------------------------------------- identity (kubelet client, no O)
new_tree identity-kubelet
f=$T/$KPKI/kubelet-client-2026-11-27-09-30-00.pem
pem_key "$f" > "$WORK/kc.key"
csr_subj "/CN=system:node:node1" "$WORK/kc.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261127092500Z 20261207092500Z "$WORK/kc.crt" "${KUBELET_CLIENT[@]}"
cat "$WORK/kc.crt" "$WORK/kc.key" > "$f"
verifies "$T/$PKI/ca.crt" "$f" -purpose sslclient || fail "identity-kubelet: not valid"
same_key "$f" "$WORK/kc.key" || fail "identity-kubelet: key"
[ "$(openssl x509 -in "$f" -noout -subject)" = "subject=CN = system:node:node1" ] || fail "identity-kubelet: subject"
expect identity-kubelet "$KPKI/kubelet-client-2026-11-27-09-30-00.pem" \
    "the current rotated kubelet client cert (kubelet-client-current.pem -> kubelet-client-2026-11-27-09-30-00.pem) re-issued by ca.crt with its own ECDSA key (the key block after it unchanged), extensions and dates, subject CN=system:node:node1 without O=system:nodes (the Node authorizer and NodeRestriction need the group)" \
    "identity error $KPKI/kubelet-client-2026-11-27-09-30-00.pem kubelet-client"

# ---------------------------------------------------------------- front-proxy-ca
new_tree front-proxy-ca
f=$T/$PKI/front-proxy-client.crt
csr_like "$f" "$T/$PKI/front-proxy-client.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261025080000Z 20271025080000Z "$f" "${CLIENT[@]}"
verifies "$T/$PKI/ca.crt" "$f" -purpose sslclient || fail "front-proxy-ca: not from ca.crt"
! verifies "$T/$PKI/front-proxy-ca.crt" "$f" || fail "front-proxy-ca: verifies against front-proxy-ca"
expect front-proxy-ca "$PKI/front-proxy-client.crt" \
    "front-proxy-client.crt (--proxy-client-cert-file) re-issued with its own key, subject, extensions and dates by the cluster CA ca.crt (CN=kubernetes) instead of front-proxy-ca.crt (--requestheader-client-ca-file)" \
    "front-proxy-ca error $PKI/front-proxy-client.crt front-proxy"

# ---------------------------------------------------------------- kubeconfig-ca
new_tree kubeconfig-ca
kc_set "$T/etc/kubernetes/scheduler.conf" certificate-authority-data "$EXTRA/rogue-ca.crt"
! verifies <(kc_get "$T/etc/kubernetes/scheduler.conf" certificate-authority-data) "$T/$PKI/apiserver.crt" \
    || fail "kubeconfig-ca: apiserver.crt verifies against the rogue CA"
expect kubeconfig-ca etc/kubernetes/scheduler.conf \
    "scheduler.conf's certificate-authority-data (cluster kubernetes) replaced by pki-extra/rogue-ca.crt: a CA with the cluster CA's name CN=kubernetes and another key (valid 2026-11-25..2036-11-23); its user's certificate and key unchanged. The scheduler cannot verify apiserver.crt" \
    "kubeconfig-ca error etc/kubernetes/scheduler.conf scheduler"

# ---------------------------------------------------------------- stale-rotation
new_tree stale-rotation
f=$T/$KPKI/kubelet-client-2026-11-29-08-00-00.pem
csr_like "$T/$KPKI/kubelet-client-2026-11-27-09-30-00.pem" "$EXTRA/node2-kubelet-client.key" "$WORK/r.csr"
issue "$WORK/r.csr" "$T/$PKI/ca.crt" "$T/$PKI/ca.key" 20261129075500Z 20261209075500Z "$WORK/kc.crt" "${KUBELET_CLIENT[@]}"
cat "$WORK/kc.crt" "$EXTRA/node2-kubelet-client.key" > "$f"
verifies "$T/$PKI/ca.crt" "$f" -purpose sslclient || fail "stale-rotation: not valid"
[ "$(readlink "$T/$KPKI/kubelet-client-current.pem")" = /var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem ] \
    || fail "stale-rotation: symlink"
expect stale-rotation "$KPKI/kubelet-client-2026-11-29-08-00-00.pem" \
    "a newer rotated kubelet client cert added: kubelet-client-2026-11-29-08-00-00.pem = cert (ca.crt, CN=system:node:node1, O=system:nodes, clientAuth, 2026-11-29T07:55:00Z..2026-12-09T07:55:00Z) + its EC key (pki-extra/node2-kubelet-client.key), as the kubelet writes one; kubelet-client-current.pem still points at /var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem (valid, 7.9 of 10 days left)" \
    "stale-rotation warning $KPKI/kubelet-client-current.pem kubelet-client"

# ---------------------------------------------------------------- stale-rotation-old
new_tree stale-rotation-old
ln -sfn /var/lib/kubelet/pki/kubelet-client-2026-11-20-10-00-00.pem "$T/$KPKI/kubelet-client-current.pem"
expect stale-rotation-old "$KPKI/kubelet-client-current.pem" \
    "kubelet-client-current.pem (absolute symlink, as the kubelet makes it) pointed at the older rotated file /var/lib/kubelet/pki/kubelet-client-2026-11-20-10-00-00.pem instead of the newest (2026-11-27-09-30-00); that cert, now the kubelet's, is valid 2026-11-20T09:55:00Z..2026-11-30T09:55:00Z: 0.9 of 10 days left at the audit time" \
    "stale-rotation warning $KPKI/kubelet-client-current.pem kubelet-client" \
    "expires-soon warning $KPKI/kubelet-client-2026-11-20-10-00-00.pem kubelet-client"

# ---------------------------------------------------------------- sa-key-mismatch
new_tree sa-key-mismatch
openssl rsa -in "$EXTRA/rogue-client.key" -pubout -out "$T/$PKI/sa.pub" 2>/dev/null
[ "$(openssl pkey -in "$T/$PKI/sa.key" -pubout)" != "$(cat "$T/$PKI/sa.pub")" ] || fail "sa-key-mismatch: keys match"
expect sa-key-mismatch "$PKI/sa.pub" \
    "sa.pub (--service-account-key-file) replaced by the public key of another RSA 2048 key (pki-extra/rogue-client.key); sa.key (--service-account-signing-key-file) unchanged: tokens the apiserver signs do not verify with the key it checks them with" \
    "sa-key-mismatch error $PKI/sa.pub service-account"

# ---------------------------------------------------------------- ca-expires-first
new_tree ca-expires-first
f=$T/$PKI/front-proxy-ca.crt
skid=$(openssl x509 -in "$f" -noout -ext subjectKeyIdentifier | sed -n '2s/ //gp')
csr_like "$f" "$T/$PKI/front-proxy-ca.key" "$WORK/r.csr"
issue "$WORK/r.csr" - "$T/$PKI/front-proxy-ca.key" 20251030080000Z 20270601000000Z "$WORK/fpca.crt" \
    "keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign, cRLSign" "basicConstraints = critical, CA:TRUE" \
    "subjectKeyIdentifier = $skid"
cp "$WORK/fpca.crt" "$f"
verifies "$f" "$T/$PKI/front-proxy-client.crt" -purpose sslclient || fail "ca-expires-first: leaf does not chain"
[ "$(openssl x509 -in "$f" -noout -ext subjectKeyIdentifier)" = "$(openssl x509 -in "$NODE/$PKI/front-proxy-ca.crt" -noout -ext subjectKeyIdentifier)" ] \
    || fail "ca-expires-first: SKID"
expect ca-expires-first "$PKI/front-proxy-ca.crt" \
    "front-proxy-ca.crt re-self-signed with its own key, subject and SKID, valid 2025-10-30T08:00:00Z..2027-06-01T00:00:00Z: it expires before the leaf it signed, front-proxy-client.crt (until 2027-10-25T08:00:00Z); 184 days left at the audit time" \
    "ca-expires-first warning $PKI/front-proxy-ca.crt front-proxy-ca"

# ---------------------------------------------------------------- the healthy tree
cat > "$NODE/expected-node.json" <<'EOF'
{
  "problem": null,
  "changed": [],
  "findings": [],
  "notes": "The healthy tree made by scripts/pki.sh: every certificate chains to the CA its verifier is configured with, keys match, EKUs and SANs fit the roles (apiserver.crt: node1, kubernetes*, 10.96.0.1, 127.0.0.1, ::1; etcd and kubelet serving: node1/127.0.0.1/::1), identities are kubeadm's, kubeconfigs embed ca.crt, sa.pub is sa.key's. At 2026-11-29T12:00:00Z every certificate a component uses or trusts is valid with more than 30 % of its lifetime left (the current rotated kubelet client cert: 7.9 of 10 days). The older rotated kubelet-client-2026-11-20-10-00-00.pem (0.9 days left) is used by no component (kubelet-client-current.pem points at the newer one; the kubelet never deletes superseded files, so judging their validity would put an expired error on every real node a month after a rotation): no finding is expected for it. Info findings are not counted."
}
EOF

echo "node-broken.sh: $(ls "$OUT" | wc -l) trees written to $OUT (and $NODE/expected-node.json)" >&2
