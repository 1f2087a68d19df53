#!/bin/bash
# capture-k8s.sh: sample captures of how Kubernetes components really behave with certificates,
# made with real programs on loopback, with the programs' logs kept beside them.
#
# Like capture-basic.sh it runs itself inside a private network namespace (lo only, mtu 1500,
# TSO/GSO/GRO off, so flights are cut into real 1448-byte segments) and captures with
# `tcpdump -i lo --immediate-mode -U -B 32768` (0 packets dropped is checked).
# Programs (built from scripts/ to a temp dir with /usr/bin/go, Go 1.19 from Debian):
#   scripts/k8sserver  an HTTPS server that does TLS and client authentication the way
#                      kube-apiserver (-mode apiserver) and the kubelet (-mode kubelet) do:
#                      tls.RequestClientCert, then per request the x509 authenticator of
#                      k8s.io/apiserver (and the front-proxy request-header one, and a bearer
#                      token), logging "Unable to authenticate the request" like the apiserver
#   scripts/goclient   Go crypto/tls client (TLS 1.2 forced with -max 1.2, so certificates are
#                      visible), one GET per connection; NSS key log of every connection
#   etcd 3.4.23        Debian etcd-server, with peer TLS as kubeadm's manifest configures it
# For every capture it writes
#   captures/<capture>                       the capture
#   captures/keylogs/<capture>.keys          NSS key log of every connection (client side)
#   captures/expected/<capture>.json         tools/expected.py (tshark + openssl), --outcome from
#                                            the logs
#   captures/expected/<capture>.log          each program's stderr during the capture, verbatim,
#                                            under one header line per program (etcd trimmed to
#                                            its version, peer TLS and capture-time lines)
#   captures/expected/<capture>.outcome.json per TCP connection: handshake, alert, HTTP status and
#                                            the exact lines each side logged (tools/outcome.py
#                                            build, read from the logs; then tools/outcome.py
#                                            check against the tshark view)
# Makes:
#   k8s-apiserver-authn.pcap  k8s-stale-kubeconfig.pcap  k8s-kubelet.pcap  k8s-etcd-peer.pcap
#   node-variants/etcd-allowed-cn/   a copy of node/ whose etcd.yaml has --peer-cert-allowed-cn
#   node-variants/no-manifests/      node/etc/kubernetes/{pki,*.conf} only, plus root/.kube/config
#                                    (the stale kubeconfig of k8s-stale-kubeconfig.pcap)
# Needs the PKI of scripts/pki.sh + scripts/pki-k8s.sh (committed; NOT rerun here), root, go,
# openssl, tcpdump, tshark, capinfos, ethtool, python3, etcd (apt-get install etcd-server if
# missing). Idempotent: rewrites exactly the files above.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
NS=certwire-k8s-$$

if [ "${CERTWIRE_IN_NETNS:-}" != "1" ]; then
    [ "$(id -u)" = 0 ] || { echo "capture-k8s.sh: run as root" >&2; exit 1; }
    [ -f "$HERE/node/etc/kubernetes/pki/ca.crt" ] || { echo "run scripts/pki.sh first" >&2; exit 1; }
    [ -f "$HERE/pki-extra/kubelet-server-bootstrap.crt" ] || { echo "run scripts/pki-k8s.sh first" >&2; exit 1; }
    if ! command -v etcd >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
    fi
    WORK=$(mktemp -d /tmp/certwire-k8s.XXXXXX)
    cleanup() { ip netns del "$NS" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
    trap cleanup EXIT
    (cd "$HERE/scripts/goclient" && /usr/bin/go build -o "$WORK/goclient" .)
    (cd "$HERE/scripts/k8sserver" && /usr/bin/go build -o "$WORK/k8sserver" .)
    ip netns add "$NS"
    CERTWIRE_IN_NETNS=1 WORK=$WORK ip netns exec "$NS" "$0" "$@"
    exit $?
fi

# ------------------------------------------------------------------ inside the namespace
cd "$HERE"
mkdir -p expected keylogs "$WORK/logs"
ip link set lo up
ip link set lo mtu 1500
ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true

PKI=node/etc/kubernetes/pki
EXTRA=pki-extra
GOCLIENT=$WORK/goclient
K8SSERVER=$WORK/k8sserver
EXPECTED=tools/expected.py
OUTCOME=tools/outcome.py
GO_VERSION=$(/usr/bin/go version | awk '{print $3}')
GO_ALERTS=$(/usr/bin/go env GOROOT)/src/crypto/tls/alert.go
ETCD_VERSION=$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')
TOKEN=scraper-token-4c1f0e2a   # the one bearer token k8sserver -token accepts (webhook stand-in)

BGPIDS=()
cleanup_ns() { for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup_ns EXIT

CAP=""; CAP_PID=""; CAP_LOG=""; CONN=0
log() { echo "capture-k8s: $*" >&2; }
die() { log "$*"; exit 1; }

# cap_start FILE TCPDUMP-ARGS...: start tcpdump writing captures/FILE (key log, manifest, log emptied)
cap_start() {
    CAP=$1; shift
    CONN=0
    rm -f "$CAP" "keylogs/$CAP.keys" "expected/$CAP.log" "expected/$CAP.outcome.json" "expected/$CAP.json"
    MANIFEST=$WORK/logs/$CAP.manifest; : > "$MANIFEST"
    LOGPARTS=$WORK/logs/$CAP.parts; : > "$LOGPARTS"
    CAP_LOG=$WORK/logs/$CAP.capture.log
    tcpdump --immediate-mode -U -B 32768 -w "$CAP" "$@" >"$CAP_LOG" 2>&1 &
    CAP_PID=$!; BGPIDS+=("$CAP_PID")
    sleep 1.5
}

cap_stop() {
    sleep 0.5
    kill -INT "$CAP_PID"; wait "$CAP_PID" || true
    grep -q '^0 packets dropped by kernel' "$CAP_LOG" || { cat "$CAP_LOG" >&2; die "$CAP: tcpdump dropped packets"; }
    [ ! -f "keylogs/$CAP.keys" ] || chmod 644 "keylogs/$CAP.keys"   # Go creates it 0600
    log "$CAP: $(grep -E 'packets captured' "$CAP_LOG" | head -1), $(grep -E 'dropped by kernel' "$CAP_LOG"), $(stat -c %s "$CAP") bytes"
}

wait_listen() {
    for _ in $(seq 200); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

# wait_for FILE REGEX: until the log has the line (at most 10 s)
wait_for() {
    for _ in $(seq 200); do
        grep -qE "$2" "$1" && return 0
        sleep 0.05
    done
    cat "$1" >&2; die "$CAP: no /$2/ in $(basename "$1")"
}

# logpart HEADER FILE: add a program's log, under a header line, to expected/$CAP.log
logpart() { printf '%s\t%s\n' "$1" "$2" >> "$LOGPARTS"; }
write_log() {
    {
        echo "# $CAP: what each program wrote to stderr while the capture was taken, verbatim (made by scripts/capture-k8s.sh)"
        while IFS=$'\t' read -r header file; do
            echo "==> $header <=="
            cat "$file"
        done < "$LOGPARTS"
    } > "expected/$CAP.log"
}

# start_k8sserver ARGS...: scripts/k8sserver in the background, log in $SRV_LOG
SRV_N=0
start_k8sserver() {
    SRV_N=$((SRV_N + 1))
    SRV_LOG=$WORK/logs/$CAP.server$SRV_N.log
    timeout 60 "$K8SSERVER" "$@" >"$SRV_LOG" 2>&1 &
    SRV_PID=$!; BGPIDS+=("$SRV_PID")
    SRV_ARGS="$*"
    SRV_CONN=0
}

# conn KIND DONE-REGEX DESCRIPTION GOCLIENT-ARGS...: one goclient connection; the server lines
# written meanwhile (until DONE-REGEX; %N = the connection's number for this server process)
# are kept for it
conn() {
    local kind=$1 done_re=$2 desc=$3; shift 3
    CONN=$((CONN + 1)); SRV_CONN=$((SRV_CONN + 1))
    CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
    local srv_part=$WORK/logs/$CAP.$CONN.server-part.log
    local before; before=$(wc -l < "$SRV_LOG")
    timeout 20 "$GOCLIENT" -keylog "keylogs/$CAP.keys" -max 1.2 "$@" >"$CLI_LOG" 2>&1 || true
    wait_for "$SRV_LOG" "${done_re//%N/$SRV_CONN}"
    sleep 0.2
    tail -n +$((before + 1)) "$SRV_LOG" > "$srv_part"
    printf '%s\t%s\t%s\t%s\t%s\n' "$CONN" "$desc" "$CLI_LOG" "$srv_part" "$kind" >> "$MANIFEST"
    logpart "goclient, connection #$CONN (client, stderr): goclient -keylog keylogs/$CAP.keys -max 1.2 $*" "$CLI_LOG"
    log "$CAP #$CONN client: $(tr '\n' ' ' < "$CLI_LOG" | cut -c1-220)"
    log "$CAP #$CONN server: $(grep -vE '^k8sserver\[\w+\]: connection' "$srv_part" | tr '\n' ' ' | cut -c1-260)"
}
K8S_DONE='^k8sserver\[\w+\]: connection %N from .* closed$'

# finish SCENARIO IGNORED: outcome (from the logs) -> expected.py -> check against tshark
finish() {
    write_log
    local outcomes
    outcomes=$("$OUTCOME" build "$MANIFEST" -o "expected/$CAP.outcome.json" --alerts "$GO_ALERTS")
    local args=()
    for o in $outcomes; do args+=(--outcome "$o"); done
    "$EXPECTED" "$CAP" "${args[@]}" --expect-connections "$CONN" --scenario "$1" --ignored "$2"
    "$OUTCOME" check "expected/$CAP.outcome.json" "expected/$CAP.json"
    # what tshark shows: handshake messages and alerts per TCP stream (TLS 1.2: certificates in clear)
    tshark -r "$CAP" -d tcp.port==6443,tls -d tcp.port==10250,tls -d tcp.port==2380,tls \
        -Y 'tls.handshake or tls.alert_message' -T fields -e tcp.stream -e tcp.srcport \
        -e tls.handshake.type -e tls.alert_message.desc 2>/dev/null \
      | awk -F'\t' '{ printf "  stream %s from %s: handshake types [%s] alert [%s]\n", $1, $2, $3, $4 }' >&2
}

# subj FILE: the certificate's subject, RFC 2253
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
# one line of a log, quoted for the scenario texts
line_of() { grep -m1 -E "$2" "$1" || echo "(nothing)"; }
sed_tab() { tr '\t' ' '; }

# the admin.conf client cert/key and data, extracted the way a user would
field() { grep "$1" "$2" | awk '{print $2}'; }
ADMIN_CERT_DATA=$(field client-certificate-data node/etc/kubernetes/admin.conf)
ADMIN_KEY_DATA=$(field client-key-data node/etc/kubernetes/admin.conf)

# ================================================================== node-variants
# (e) no-manifests: the node's /etc/kubernetes/pki and kubeconfigs only (no manifests, no
# /var/lib/kubelet), plus root's ~/.kube/config: a stale copy whose certificate-authority-data
# is the rogue CA (same name CN=kubernetes, other key), user = the admin cert of admin.conf
rm -rf node-variants/no-manifests node-variants/etcd-allowed-cn
mkdir -p node-variants/no-manifests/etc/kubernetes node-variants/no-manifests/root/.kube
cp -a node/etc/kubernetes/pki node-variants/no-manifests/etc/kubernetes/pki
for c in admin kubelet controller-manager scheduler; do
    cp -a "node/etc/kubernetes/$c.conf" node-variants/no-manifests/etc/kubernetes/
done
STALE_KUBECONFIG=node-variants/no-manifests/root/.kube/config
cat > "$STALE_KUBECONFIG" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 < $EXTRA/rogue-ca.crt)
    server: https://127.0.0.1:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: $ADMIN_CERT_DATA
    client-key-data: $ADMIN_KEY_DATA
EOF
chmod 600 "$STALE_KUBECONFIG"
# (d) etcd-allowed-cn: the whole node tree (symlinks kept as symlinks), etcd.yaml with
# --peer-cert-allowed-cn=etcd-member (kubeadm sorts the flags: it goes before --peer-cert-file)
mkdir -p node-variants
cp -a node node-variants/etcd-allowed-cn
sed -i 's/^    - --peer-cert-file=/    - --peer-cert-allowed-cn=etcd-member\n&/' \
    node-variants/etcd-allowed-cn/etc/kubernetes/manifests/etcd.yaml
grep -q -- '- --peer-cert-allowed-cn=etcd-member$' node-variants/etcd-allowed-cn/etc/kubernetes/manifests/etcd.yaml \
    || die "etcd.yaml: flag not added"
[ -L node-variants/etcd-allowed-cn/var/lib/kubelet/pki/kubelet-client-current.pem ] || die "symlink not kept"
log "node-variants: $(cd node-variants && find . -type f -o -type l | wc -l) files"

APISERVER_ARGS=(-mode apiserver -addr 127.0.0.1:6443 -cert $PKI/apiserver.crt -key $PKI/apiserver.key
                -clientca $PKI/ca.crt,$PKI/front-proxy-ca.crt -v 5)
K8S_GO=(-addr 127.0.0.1:6443 -servername kubernetes -ca $PKI/ca.crt -get /api)

# ================================================================== (a) k8s-apiserver-authn.pcap
cap_start k8s-apiserver-authn.pcap -i lo
start_k8sserver "${APISERVER_ARGS[@]}" -n 4
wait_listen 6443
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION crypto/tls, TLS 1.2, SNI kubernetes, verifies the server with ca.crt) with pki-extra/rogue-client.crt: CN=system:node:node1, O=system:nodes, issued by the rogue CA that is also named CN=kubernetes; GET /api" \
    -cert $EXTRA/rogue-client.crt -key $EXTRA/rogue-client.key "${K8S_GO[@]}"
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, SNI kubernetes) as another node's kubelet: pki-extra/node2-kubelet-client.crt (CN=system:node:node2, O=system:nodes, ECDSA P-256, issued by ca.crt; not in this node's files); GET /api" \
    -cert $EXTRA/node2-kubelet-client.crt -key $EXTRA/node2-kubelet-client.key "${K8S_GO[@]}"
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, SNI kubernetes) sending pki-extra/restricted-eku-client.crt (CN=restricted-eku-client, O=dev, clientAuth) + pki-extra/serverauth-intermediate-ca.crt (intermediate CA signed by ca.crt, extendedKeyUsage serverAuth only) with -chain; GET /api" \
    -cert $EXTRA/restricted-eku-client.crt -key $EXTRA/restricted-eku-client.key \
    -chain $EXTRA/serverauth-intermediate-ca.crt "${K8S_GO[@]}"
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, SNI kubernetes) as kubectl with admin.conf's embedded client cert (CN=kubernetes-admin, O=system:masters) via -kubeconfig node/etc/kubernetes/admin.conf; GET /api" \
    -kubeconfig node/etc/kubernetes/admin.conf "${K8S_GO[@]}"
wait "$SRV_PID" || true
cap_stop
logpart "k8sserver (server, stderr): k8sserver $SRV_ARGS" "$SRV_LOG"
A_SRV=$(grep -vE '^k8sserver\[\w+\]: (connection|listening|exiting)' "$SRV_LOG" | sed 's/$/ | /' | tr -d '\n' | sed 's/ | $//')
finish "kube-apiserver's client authentication, TLS 1.2 (client -max 1.2), tcpdump -i lo. Server: scripts/k8sserver -mode apiserver on 127.0.0.1:6443 ($GO_VERSION crypto/tls via net/http, serving node/etc/kubernetes/pki/apiserver.crt, leaf only) configured like kube-apiserver v1.31 from kubeadm: tls.RequestClientCert with ClientCAs = ca.crt + front-proxy-ca.crt (the CertificateRequest lists CN=kubernetes and CN=front-proxy-ca), so EVERY handshake completes whatever client certificate is sent; then per request the union of the request-header authenticator (front-proxy-ca.crt) and the x509 authenticator (ca.crt only, ExtKeyUsageClientAuth, intermediates from the client's chain), as k8s.io/apiserver v0.31.2 does; a failure is HTTP 401 after a completed handshake, logged as 'Unable to authenticate the request' with the aggregated x509 errors. ALPN: the server offers http/1.1 only (HTTP/2 off; the real apiserver would pick h2). Clients: scripts/goclient, SNI kubernetes, ALPN h2,http/1.1 offered, verifying apiserver.crt with ca.crt, one GET /api each; Go sends the leaf only unless -chain adds certificates. #1 pki-extra/rogue-client.crt (issuer CN=kubernetes, but signed by the rogue CA's key): completed, 401. #2 pki-extra/node2-kubelet-client.crt (another node's kubelet, CN=system:node:node2): completed, 200. #3 pki-extra/restricted-eku-client.crt + serverauth-intermediate-ca.crt (Go sends both): the chain leads to ca.crt but the intermediate's extendedKeyUsage is serverAuth only and Go checks EKU along the whole chain: completed, 401. #4 admin.conf's cert (CN=kubernetes-admin, O=system:masters): completed, 200. The server logged (its own narration lines about connections left out): $A_SRV. Per-connection outcomes with the exact lines: expected/k8s-apiserver-authn.pcap.outcome.json; full logs: expected/k8s-apiserver-authn.pcap.log." \
    "nothing else in the capture"

# ================================================================== (b) k8s-stale-kubeconfig.pcap
cap_start k8s-stale-kubeconfig.pcap -i lo
start_k8sserver "${APISERVER_ARGS[@]}" -n 1
wait_listen 6443
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2) acting like client-go with the stale kubeconfig node-variants/no-manifests/root/.kube/config: server https://127.0.0.1:6443 (an IP: no SNI), certificate-authority-data = pki-extra/rogue-ca.crt (CN=kubernetes, other key), user = admin.conf's client cert; GET /api" \
    -kubeconfig "$STALE_KUBECONFIG" -addr 127.0.0.1:6443 -get /api
wait "$SRV_PID" || true
cap_stop
logpart "k8sserver (server, stderr): k8sserver $SRV_ARGS" "$SRV_LOG"
B_CLI=$(line_of "$CLI_LOG" '^goclient: handshake: ')
B_SRV=$(line_of "$SRV_LOG" 'http: TLS handshake error')
finish "A kubeconfig whose CA is stale: ~/.kube/config (node-variants/no-manifests/root/.kube/config) holds certificate-authority-data of another CA with the same name CN=kubernetes (pki-extra/rogue-ca.crt, a different key), server https://127.0.0.1:6443 and admin.conf's client cert. scripts/goclient -kubeconfig (like client-go/kubectl: verifies the server chain and the dialed name in the handshake; dialed by IP so no SNI; ALPN h2,http/1.1; TLS 1.2) connects to scripts/k8sserver -mode apiserver -v 5 (apiserver.crt, issued by the real CA; RequestClientCert, CA list CN=kubernetes + CN=front-proxy-ca). The server's Certificate is apiserver.crt; the client finds the candidate CA by name (CN=kubernetes) in its roots, the signature check fails, and Go 1.19 aborts the handshake with a plaintext fatal alert to the server before sending its own certificate: failed, the client certificate is never sent (client certificates null). Client said: $B_CLI. Server said (kube-apiserver logs this only at -v 5 or more): $B_SRV." \
    "nothing else in the capture"

# ================================================================== (c) k8s-kubelet.pcap
cap_start k8s-kubelet.pcap -i lo
start_k8sserver -mode kubelet -addr 127.0.0.1:10250 -cert $EXTRA/kubelet-server-bootstrap.crt \
    -key $EXTRA/kubelet-server-bootstrap.key -clientca $PKI/ca.crt -token "$TOKEN" -n 2
wait_listen 10250
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, -insecure: InsecureSkipVerify) as kube-apiserver without --kubelet-certificate-authority: client cert node/etc/kubernetes/pki/apiserver-kubelet-client.crt ($(subj $PKI/apiserver-kubelet-client.crt)), dials 127.0.0.1:10250 (no SNI); GET /pods" \
    -insecure -cert $PKI/apiserver-kubelet-client.crt -key $PKI/apiserver-kubelet-client.key \
    -addr 127.0.0.1:10250 -get /pods
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, -insecure) as a metrics scraper with insecure_skip_verify and a bearer token, no client certificate (empty Certificate message); GET /metrics" \
    -insecure -token "$TOKEN" -addr 127.0.0.1:10250 -get /metrics
wait "$SRV_PID" || true
logpart "k8sserver (server, stderr), connections #1-#2: k8sserver $SRV_ARGS" "$SRV_LOG"
C1_SRV_LOG=$SRV_LOG
# the same kubelet restarted with serverTLSBootstrap on and its serving CSR not approved yet
start_k8sserver -mode kubelet -addr 127.0.0.1:10250 -no-serving-cert -clientca $PKI/ca.crt -token "$TOKEN" -n 1
wait_listen 10250
conn k8sserver "$K8S_DONE" "goclient ($GO_VERSION, TLS 1.2, -insecure) as kube-apiserver with apiserver-kubelet-client.crt, to the kubelet restarted with serverTLSBootstrap: true whose serving CSR is still pending (no serving certificate); GET /pods" \
    -insecure -cert $PKI/apiserver-kubelet-client.crt -key $PKI/apiserver-kubelet-client.key \
    -addr 127.0.0.1:10250 -get /pods
wait "$SRV_PID" || true
cap_stop
logpart "k8sserver (server, stderr), connection #3: k8sserver $SRV_ARGS" "$SRV_LOG"
C_SRV1=$(grep -E -- '-> [0-9]{3}$' "$C1_SRV_LOG" | sed 's/$/ | /' | tr -d '\n' | sed 's/ | $//')
C_SRV3=$(line_of "$SRV_LOG" 'http: TLS handshake error')
C_CLI3=$(line_of "$CLI_LOG" '^goclient: handshake: ')
finish "The kubelet's port 10250, TLS 1.2 (client -max 1.2), tcpdump -i lo. Server: scripts/k8sserver -mode kubelet ($GO_VERSION crypto/tls via net/http) configured like the kubelet: tls.RequestClientCert with ClientCAs = ca.crt (CA list CN=kubernetes), x509 authenticator (ca.crt, clientAuth) then bearer token (webhook token authentication stand-in), anonymous off. #1 and #2: serving pki-extra/kubelet-server-bootstrap.crt, a serving certificate from server TLS bootstrap (CN=system:node:node1, O=system:nodes, EKU serverAuth only, ECDSA P-256, issuer CN=kubernetes, SAN DNS:node1 IP:127.0.0.1), leaf only. #1 the apiserver WITHOUT --kubelet-certificate-authority (goclient -insecure: the serving cert is not verified at all) with apiserver-kubelet-client.crt, no SNI (dialed by IP), GET /pods: completed, 200. #2 a scraper with insecure_skip_verify and a bearer token, no client certificate (an empty Certificate message answers the CertificateRequest), GET /metrics: completed, 200 by token. Server said: $C_SRV1. #3 the kubelet restarted with serverTLSBootstrap: true and its serving CSR not yet approved (k8sserver -no-serving-cert: tls.Config.GetCertificate returns 'no serving certificate available for the kubelet'): Go answers the ClientHello with a plaintext fatal alert, no ServerHello, no certificates on either side: failed. The kubelet logs it through net/http's error log redirected to klog. Server said: $C_SRV3. Client said: $C_CLI3." \
    "nothing else in the capture"

# ================================================================== (d) k8s-etcd-peer.pcap
ETCD_LOG=$WORK/logs/etcd.log
rm -rf "$WORK/etcd"
ETCD_ARGS=(--name=node1 --data-dir="$WORK/etcd"
    --advertise-client-urls=https://127.0.0.1:2379 --listen-client-urls=https://127.0.0.1:2379
    --cert-file=$PKI/etcd/server.crt --key-file=$PKI/etcd/server.key
    --client-cert-auth=true --trusted-ca-file=$PKI/etcd/ca.crt
    --listen-metrics-urls=http://127.0.0.1:2381
    --listen-peer-urls=https://127.0.0.1:2380 --initial-advertise-peer-urls=https://127.0.0.1:2380
    --initial-cluster=node1=https://127.0.0.1:2380
    --peer-cert-allowed-cn=etcd-member
    --peer-cert-file=$PKI/etcd/peer.crt --peer-key-file=$PKI/etcd/peer.key
    --peer-client-cert-auth=true --peer-trusted-ca-file=$PKI/etcd/ca.crt
    --snapshot-count=10000)
timeout 120 etcd "${ETCD_ARGS[@]}" >"$ETCD_LOG" 2>&1 &
ETCD_PID=$!; BGPIDS+=("$ETCD_PID")
for _ in $(seq 200); do grep -q 'serving client requests on' "$ETCD_LOG" && break; sleep 0.1; done
grep -q 'serving client requests on' "$ETCD_LOG" || { cat "$ETCD_LOG" >&2; die "etcd did not start"; }
wait_listen 2380
sleep 1
ETCD_BEFORE=$(wc -l < "$ETCD_LOG")
cap_start k8s-etcd-peer.pcap -i lo 'tcp port 2380'
SRV_LOG=$ETCD_LOG; SRV_CONN=0
conn etcd 'rejected connection from' "goclient ($GO_VERSION, TLS 1.2, no ALPN, like etcd's peer transport) as another etcd member dialing https://127.0.0.1:2380 (no SNI: an IP; verifies etcd's peer cert by its IP SAN 127.0.0.1 against etcd/ca.crt) with node/etc/kubernetes/pki/etcd/peer.crt (CN=node1, serverAuth+clientAuth, issued by etcd-ca) as client cert; GET /version" \
    -cert $PKI/etcd/peer.crt -key $PKI/etcd/peer.key -ca $PKI/etcd/ca.crt -addr 127.0.0.1:2380 -alpn '' -get /version
sleep 0.5
cap_stop
kill "$ETCD_PID"; wait "$ETCD_PID" || true
# the etcd log, trimmed: version lines, the peer TLS configuration, and what it said during the capture
ETCD_TRIM=$WORK/logs/etcd.trimmed.log
{
    grep -E 'etcdmain: (etcd Version|Go Version)|embed: (peerTLS|ClientTLS|listening for peers|serving client requests on)' \
        <(head -n "$ETCD_BEFORE" "$ETCD_LOG")
    echo "... (capture started; everything etcd wrote from here until it was stopped after the capture) ..."
    tail -n +$((ETCD_BEFORE + 1)) "$ETCD_LOG"
} > "$ETCD_TRIM"
: > "$LOGPARTS"
logpart "etcd $ETCD_VERSION (server, stderr, trimmed): etcd ${ETCD_ARGS[*]//$WORK/\$TMPDIR}" "$ETCD_TRIM"
logpart "goclient, connection #1 (client, stderr): goclient -keylog keylogs/$CAP.keys -max 1.2 -cert $PKI/etcd/peer.crt -key $PKI/etcd/peer.key -ca $PKI/etcd/ca.crt -addr 127.0.0.1:2380 -alpn '' -get /version" "$CLI_LOG"
D_SRV=$(line_of "$ETCD_TRIM" 'rejected connection')
D_CLI=$(line_of "$CLI_LOG" '^goclient: handshake: |^goclient: read: ')
finish "Real etcd $ETCD_VERSION (Debian etcd-server, built with $GO_VERSION, default capnslog logger) started with kubeadm's etcd.yaml flags plus --peer-cert-allowed-cn=etcd-member (node-variants/etcd-allowed-cn/etc/kubernetes/manifests/etcd.yaml): peer TLS on https://127.0.0.1:2380 with etcd/peer.crt (leaf only), --peer-client-cert-auth (RequireAndVerifyClientCert, CA list CN=etcd-ca), --peer-trusted-ca-file etcd/ca.crt; client side on :2379 with etcd/server.crt (not captured: tcpdump -i lo 'tcp port 2380', started after etcd was ready; single member, no peer traffic of its own). One connection, TLS 1.2 (goclient -max 1.2), from scripts/goclient as another member would dial: no SNI (the peer URL is an IP), no ALPN, verifying etcd's peer.crt against etcd/ca.crt, presenting node/etc/kubernetes/pki/etcd/peer.crt (CN=node1, valid chain to etcd-ca, clientAuth). The chain verifies, but its CN is not etcd-member: etcd's VerifyPeerCertificate rejects it after the client's flight with a plaintext fatal alert: failed. etcd said: $D_SRV. Client said: $D_CLI." \
    "nothing else in the capture (only port 2380 was captured)"

log "Go: $GO_VERSION, etcd: $ETCD_VERSION"
log "done"
