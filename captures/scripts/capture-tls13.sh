#!/bin/bash
# capture-tls13.sh: TLS 1.3 sample captures with their key logs, from real TLS stacks on loopback.
#
# Like capture-basic.sh it runs itself inside a private network namespace (lo only, mtu 1500,
# TSO/GSO/GRO off, so flights are cut into real 1448-byte segments) and captures with tcpdump.
# TLS stacks: Go 1.19 crypto/tls (scripts/goserver, scripts/goclient, built with /usr/bin/go),
# etcd 3.4 and etcdctl from Debian (etcd-server / etcd-client, built with Go 1.19), OpenSSL 3.0
# s_server / s_client. Runs after capture-basic.sh (regenerate.sh runs scripts in name order):
# tls13-openssl-dsb.pcapng and kubelet-rotated-tls12.pcap.decrypted.json are made from its files.
# For every capture it writes
#   captures/<capture>                               the capture
#   captures/keylogs/<capture>.keys                  NSS key log (client side: Go's
#                                                    tls.Config.KeyLogWriter or s_client -keylogfile)
#   captures/expected/<capture>.json                 tools/expected.py without keys (encrypted)
#   captures/expected/<capture>.decrypted.json       tools/expected.py --keylog (decrypted)
#   captures/expected/<capture>.records.json         tools/records.py --keylog: TLS record
#                                                    lengths/types per connection and direction,
#                                                    with the decrypted handshake messages (the
#                                                    format is documented at the top of
#                                                    tools/records.py and in captures/README.md)
# Makes:
#   tls13-go.pcap  tls13-etcd.pcap  tls13-openssl-variants.pcap  tls13-openssl-dsb.pcapng
#   expected/tls13-openssl.pcap.records.json  expected/kubelet-rotated-tls12.pcap.decrypted.json
# Needs: root, the PKI from scripts/pki.sh, go, openssl, tcpdump, tshark, editcap, capinfos,
# ethtool, python3, etcd + etcdctl (apt-get install etcd-server etcd-client if missing).
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
NS=certwire-tls13-$$

if [ "${CERTWIRE_IN_NETNS:-}" != "1" ]; then
    [ "$(id -u)" = 0 ] || { echo "capture-tls13.sh: run as root" >&2; exit 1; }
    [ -f "$HERE/node/etc/kubernetes/pki/ca.crt" ] || { echo "run scripts/pki.sh first" >&2; exit 1; }
    if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
    fi
    WORK=$(mktemp -d /tmp/certwire-tls13.XXXXXX)
    cleanup() { ip netns del "$NS" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
    trap cleanup EXIT
    (cd "$HERE/scripts/goclient" && /usr/bin/go build -o "$WORK/goclient" .)
    (cd "$HERE/scripts/goserver" && /usr/bin/go build -o "$WORK/goserver" .)
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
KPKI=node/var/lib/kubelet/pki
EXTRA=pki-extra
GOCLIENT=$WORK/goclient
GOSERVER=$WORK/goserver
EXPECTED=tools/expected.py
RECORDS=tools/records.py
# kubelet-client-current.pem is an absolute symlink (as the kubelet makes it): resolve it in the tree
KUBELET_CURRENT=node$(readlink "$KPKI/kubelet-client-current.pem")

BGPIDS=()
cleanup_ns() { for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup_ns EXIT

CAP=""; CAP_PID=""; CAP_LOG=""; CONN=0
log() { echo "capture-tls13: $*" >&2; }
die() { log "$*"; exit 1; }
oneline() { tr '\n' ' ' < "$1" | sed 's/ *$//'; }

# cap_start FILE TCPDUMP-ARGS...: start tcpdump writing captures/FILE (key log emptied too)
cap_start() {
    CAP=$1; shift
    CONN=0
    rm -f "$CAP" "keylogs/$CAP.keys"
    CAP_LOG=$WORK/logs/$CAP.capture.log
    tcpdump --immediate-mode -U -B 32768 -w "$CAP" "$@" >"$CAP_LOG" 2>&1 &
    CAP_PID=$!; BGPIDS+=("$CAP_PID")
    sleep 1.5
}

cap_stop() {
    sleep 0.5
    kill -INT "$CAP_PID"; wait "$CAP_PID" || true
    grep -q '^0 packets dropped by kernel' "$CAP_LOG" || { cat "$CAP_LOG" >&2; exit 1; }
    [ ! -f "keylogs/$CAP.keys" ] || chmod 644 "keylogs/$CAP.keys"   # Go creates it 0600
    log "$CAP: $(grep -E 'packets captured' "$CAP_LOG" | head -1), $(stat -c %s "$CAP") bytes"
}

# tcp_ends CAPTURE SERVER-PORT: how each TCP connection ended, from tshark (FIN/RST senders in order)
tcp_ends() {
    tshark -r "$1" -Y 'tcp.flags.fin == 1 || tcp.flags.reset == 1' \
        -T fields -e tcp.stream -e tcp.srcport -e tcp.flags.fin -e tcp.flags.reset 2>/dev/null \
    | awk -F'\t' -v sp="$2" '
        { who = ($2 == sp) ? "server" : "client"; what = ($4 == 1 || $4 == "True") ? "RST" : "FIN"
          if (!($1 in seen)) { order[n++] = $1; seen[$1] = "" }
          seen[$1] = seen[$1] (seen[$1] == "" ? "" : ", ") who " " what }
        END { for (i = 0; i < n; i++) printf "%s#%d: %s", (i ? "; " : ""), order[i] + 1, seen[order[i]] }'
}

wait_listen() {
    for _ in $(seq 200); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

# gocli ARGS...: scripts/goclient, TLS 1.3 allowed, key log appended to keylogs/$CAP.keys
gocli() {
    CONN=$((CONN + 1))
    CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
    timeout 20 "$GOCLIENT" -keylog "keylogs/$CAP.keys" -max 1.3 "$@" >"$CLI_LOG" 2>&1 || true
    sleep 0.3
    log "$CAP #$CONN goclient: $(oneline "$CLI_LOG" | cut -c1-300)"
}

# osrv [s_server args]: one openssl s_server (apiserver.crt) on 127.0.0.1:6443, one connection
osrv() {
    SRV_LOG=$WORK/logs/$CAP.$((CONN + 1)).server.log
    timeout 20 openssl s_server -accept 127.0.0.1:6443 -cert $PKI/apiserver.crt -key $PKI/apiserver.key \
        -CAfile $PKI/ca.crt -naccept 1 -rev -alpn h2,http/1.1 "$@" </dev/null >"$SRV_LOG" 2>&1 &
    SRV_PID=$!; BGPIDS+=("$SRV_PID")
    wait_listen 6443
}

# ocli [s_client args]: openssl s_client, writes one line, then closes (close_notify + FIN)
ocli() {
    CONN=$((CONN + 1))
    CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
    (echo "hello from s_client"; sleep 0.5) | timeout 20 openssl s_client -connect 127.0.0.1:6443 \
        -keylogfile "keylogs/$CAP.keys" -CAfile $PKI/ca.crt -verify_return_error \
        -servername kubernetes -alpn h2,http/1.1 "$@" >"$CLI_LOG" 2>&1 || true
    wait "$SRV_PID" || true
    sleep 0.3
    grep -qE '^New, TLSv1.3, Cipher is ' "$CLI_LOG" || { cat "$CLI_LOG" "$SRV_LOG" >&2; die "$CAP #$CONN: no TLS 1.3 handshake"; }
    grep -q '^Protocol version: TLSv1.3' "$SRV_LOG" || { cat "$CLI_LOG" "$SRV_LOG" >&2; die "$CAP #$CONN: server did not complete"; }
    log "$CAP #$CONN s_client: $(grep -E '^(New,|Verify return code|.*alert)' "$CLI_LOG" | tr '\n' ' ')"
    log "$CAP #$CONN s_server: $(grep -Ei 'alert|error|^Protocol version|^Ciphersuite|^Peer certificate|^No peer|^Verification' "$SRV_LOG" | tr '\n' ' ')"
}

# want FILE REGEX WHAT: the log must say it (the real outcome, checked)
want() { grep -qE "$2" "$1" || { cat "$1" >&2; die "$CAP: $3: expected /$2/ in $(basename "$1")"; }; }

# records CAPTURE [--keylog FILE]: the sidecar expected/CAPTURE.records.json
records() { "$RECORDS" "$@"; }

# check that tshark shows every certificate with the keys: NAME KEYLOG(or -) MIN-CERT-MESSAGES
check_decrypts() {
    local cap=$1 keys=$2 want_n=$3 opt=()
    [ "$keys" = - ] || opt=(-o "tls.keylog_file:$keys")
    local n
    n=$(tshark -r "$cap" "${opt[@]}" -d tcp.port==6443,tls -d tcp.port==2379,tls -Y 'tls.handshake.type == 11' \
        -T fields -e frame.number 2>/dev/null | wc -l)
    [ "$n" -ge "$want_n" ] || die "$cap: tshark shows $n Certificate messages with the keys, want >= $want_n"
    log "$cap: tshark decrypts $n Certificate messages"
}

# ================================================================== 1. tls13-go.pcap
cap_start tls13-go.pcap -i lo
GOSRV_LOG=$WORK/logs/tls13-go.pcap.server.log
timeout 60 "$GOSERVER" -addr 127.0.0.1:6443 -cert $PKI/apiserver.crt -key $PKI/apiserver.key \
    -clientca $PKI/ca.crt -n 3 >"$GOSRV_LOG" 2>&1 &
GOSRV_PID=$!; BGPIDS+=("$GOSRV_PID")
wait_listen 6443
# (a) kubelet with the rotated client cert
gocli -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" -ca $PKI/ca.crt -addr 127.0.0.1:6443
want "$CLI_LOG" '^goclient: handshake ok: version=0x0304 ' "#1 TLS 1.3"
want "$CLI_LOG" '^goclient: got "HTTP/1.1 200 OK' "#1 answer"
G1_CLI=$(oneline "$CLI_LOG")
# (b) the rogue client cert (same issuer name CN=kubernetes, other key)
gocli -cert $EXTRA/rogue-client.crt -key $EXTRA/rogue-client.key -ca $PKI/ca.crt -addr 127.0.0.1:6443
want "$CLI_LOG" '^goclient: read: remote error: tls: ' "#2 rejected"
G2_CLI=$(oneline "$CLI_LOG")
# (c) no client certificate at all
gocli -ca $PKI/ca.crt -addr 127.0.0.1:6443
want "$CLI_LOG" '^goclient: read: remote error: tls: ' "#3 rejected"
G3_CLI=$(oneline "$CLI_LOG")
wait "$GOSRV_PID" || true
cap_stop
want "$GOSRV_LOG" '^goserver: conn 1: handshake ok' "server #1"
want "$GOSRV_LOG" '^goserver: conn 2: http: TLS handshake error from ' "server #2"
want "$GOSRV_LOG" '^goserver: conn 3: http: TLS handshake error from ' "server #3"
G_TCP=$(tcp_ends tls13-go.pcap 6443)
G1_SRV=$(grep '^goserver: conn 1:' "$GOSRV_LOG" | tr '\n' ' ' | sed 's/ *$//')
G2_SRV=$(grep '^goserver: conn 2:' "$GOSRV_LOG")
G3_SRV=$(grep '^goserver: conn 3:' "$GOSRV_LOG")
G_SCEN="Go 1.19 crypto/tls on both sides, TLS 1.3 (Go's default maximum), tcpdump -i lo. Server: scripts/goserver as the apiserver on 127.0.0.1:6443 with apiserver.crt (Go sends the leaf only), ClientAuth RequireAndVerifyClientCert, ClientCAs node/etc/kubernetes/pki/ca.crt, ALPN http/1.1; it answers a completed connection with a short HTTP/1.1 200 response. Clients: scripts/goclient (dialed by IP, so no SNI; ALPN h2,http/1.1 offered; key log from tls.Config.KeyLogWriter in keylogs/tls13-go.pcap.keys). In TLS 1.3 the client's Handshake() returns after it sent its Finished, before the server has checked the client certificate, so the client only learns of a rejection from the server's alert when it reads. #1 kubelet with node/var/lib/kubelet/pki/kubelet-client-current.pem (the absolute symlink resolved in the tree: kubelet-client-2026-11-27-09-30-00.pem, rotated ECDSA cert): completed. Client said: $G1_CLI. Server said: $G1_SRV. #2 pki-extra/rogue-client.crt (issuer CN=kubernetes but signed by the rogue CA's key): the server rejects it after the client's Certificate/CertificateVerify/Finished and sends a fatal alert, which in TLS 1.3 is encrypted (under the server's application traffic key): failed. Server said: $G2_SRV. Client said: $G2_CLI. #3 a client with no certificate at all (goclient without -cert): it answers the CertificateRequest with an empty Certificate message; the server rejects it: failed. Go 1.19 sends bad_certificate (42) here, not certificate_required (116) (crypto/tls processCertsFromClient: sendAlert(alertBadCertificate), 'client didn't provide a certificate'). Server said: $G3_SRV. Client said: $G3_CLI. The Go client writes its request right after its Finished, so in #2/#3 it can reach a server that has already given up: TCP endings as tshark shows them (FIN/RST senders in order): $G_TCP."
$EXPECTED tls13-go.pcap --outcome '#1=completed' --outcome '#2=failed' --outcome '#3=failed' --expect-connections 3 \
    --scenario "$G_SCEN Without keys every certificate and alert is encrypted: certificates null, and since a TLS 1.3 alert is an application_data record on the wire, no alert is listed; visibility encrypted." \
    --ignored "nothing else in the capture"
$EXPECTED tls13-go.pcap --outcome '#1=completed' --outcome '#2=failed' --outcome '#3=failed' --expect-connections 3 \
    --keylog keylogs/tls13-go.pcap.keys -o expected/tls13-go.pcap.decrypted.json \
    --scenario "$G_SCEN With the key log (tshark -o tls.keylog_file:keylogs/tls13-go.pcap.keys) the handshakes and alerts are decrypted: the certificates below are what tshark shows (#3's client Certificate message is empty: []); visibility decrypted; decrypted alerts keep their level and code with encrypted true." \
    --ignored "nothing else in the capture"
records tls13-go.pcap --keylog keylogs/tls13-go.pcap.keys
check_decrypts tls13-go.pcap keylogs/tls13-go.pcap.keys 6

# ================================================================== 2. tls13-etcd.pcap
ETCD_LOG=$WORK/logs/etcd.log
rm -rf "$WORK/etcd"
timeout 120 etcd --name node1 --data-dir "$WORK/etcd" \
    --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
    --cert-file $PKI/etcd/server.crt --key-file $PKI/etcd/server.key \
    --client-cert-auth --trusted-ca-file $PKI/etcd/ca.crt \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster node1=http://127.0.0.1:2380 --initial-cluster-state new \
    --logger zap --log-outputs stderr >"$ETCD_LOG" 2>&1 &
ETCD_PID=$!; BGPIDS+=("$ETCD_PID")
for _ in $(seq 200); do grep -q 'serving client traffic securely' "$ETCD_LOG" && break; sleep 0.1; done
grep -q 'serving client traffic securely' "$ETCD_LOG" || { cat "$ETCD_LOG" >&2; die "etcd did not start"; }
wait_listen 2379
sleep 1
ETCD_LINES_BEFORE=$(wc -l < "$ETCD_LOG")
cap_start tls13-etcd.pcap -i lo 'tcp port 2379'
gocli -cert $PKI/apiserver-etcd-client.crt -key $PKI/apiserver-etcd-client.key -ca $PKI/etcd/ca.crt \
    -addr 127.0.0.1:2379 -alpn http/1.1 -get /health
want "$CLI_LOG" '^goclient: handshake ok: version=0x0304 ' "#1 TLS 1.3"
want "$CLI_LOG" 'HTTP/1.1 200 OK' "#1 /health"
E1_CLI=$(oneline "$CLI_LOG")
E1_VER=$(sed -n 's/^goclient: handshake ok: version=\(0x[0-9a-f]*\) cipher=\([^ ]*\).*/\1 \2/p' "$CLI_LOG")
CONN=$((CONN + 1))
CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
ETCDCTL_API=3 timeout 20 etcdctl --endpoints https://127.0.0.1:2379 --cacert $PKI/etcd/ca.crt \
    --cert $PKI/etcd/healthcheck-client.crt --key $PKI/etcd/healthcheck-client.key \
    endpoint health >"$CLI_LOG" 2>&1 || true
want "$CLI_LOG" '^https://127.0.0.1:2379 is healthy' "#2 etcdctl endpoint health"
E2_CLI=$(oneline "$CLI_LOG")
log "$CAP #2 etcdctl: $E2_CLI"
sleep 0.5
cap_stop
ETCD_SAID=$(tail -n +$((ETCD_LINES_BEFORE + 1)) "$ETCD_LOG" | tr '\n' ' ' | sed 's/ *$//')
kill "$ETCD_PID"; wait "$ETCD_PID" || true
E_VER=$(tshark -r tls13-etcd.pcap -d tcp.port==2379,tls -Y 'tls.handshake.type == 2' \
    -T fields -e tcp.stream -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite 2>/dev/null \
    | awk -F'\t' '{printf "%sstream %s: %s %s", (NR > 1 ? "; " : ""), $1, $2, $3}')
E_SCEN="etcd 3.4.23 from Debian (etcd-server, built with Go 1.19.8) as the apiserver's etcd: etcd --listen-client-urls https://127.0.0.1:2379 --cert-file etc/kubernetes/pki/etcd/server.crt --key-file etcd/server.key --client-cert-auth --trusted-ca-file etcd/ca.crt (peer URL plain http://127.0.0.1:2380, single member, no peer traffic); tcpdump -i lo 'tcp port 2379', started after etcd was ready. etcd negotiates TLS 1.3 (Go 1.19 default maximum; etcd 3.4 sets only a minimum of 1.2); tshark's ServerHello supported_version / cipher per stream: $E_VER. etcd sends its leaf only (Go). #1 the apiserver's etcd client cert (apiserver-etcd-client.crt) from scripts/goclient offering ALPN http/1.1 only (etcd's client listener lists only h2, and Go 1.19's server then lets an http/1.1-only client in without selecting any protocol: no ALPN in EncryptedExtensions, goclient's alpn=\"\"), one GET https://127.0.0.1:2379/health (etcd answers {\"health\":\"true\"} with Connection: close and closes first), key log in keylogs/tls13-etcd.pcap.keys: completed ($E1_VER). Client said: $E1_CLI. #2 etcdctl 3.4.23 (Debian etcd-client) --endpoints https://127.0.0.1:2379 --cacert etcd/ca.crt --cert etcd/healthcheck-client.crt --key etcd/healthcheck-client.key endpoint health (gRPC, ALPN h2): completed; etcdctl has no key log option, so this connection has no keys and stays encrypted even in tls13-etcd.pcap.decrypted.json (visibility encrypted, certificates null there too). etcdctl said: $E2_CLI. etcd logged during the capture: ${ETCD_SAID:-nothing}."
$EXPECTED tls13-etcd.pcap --outcome '*=completed' --expect-connections 2 \
    --scenario "$E_SCEN Without keys both connections are encrypted: certificates null, visibility encrypted." \
    --ignored "nothing else in the capture (only port 2379 was captured)"
$EXPECTED tls13-etcd.pcap --outcome '*=completed' --expect-connections 2 \
    --keylog keylogs/tls13-etcd.pcap.keys -o expected/tls13-etcd.pcap.decrypted.json \
    --scenario "$E_SCEN With the key log (tshark -o tls.keylog_file:keylogs/tls13-etcd.pcap.keys) #1 is decrypted (certificates as tshark shows them, visibility decrypted); #2 (etcdctl) has no keys in the file and stays encrypted." \
    --ignored "nothing else in the capture (only port 2379 was captured)"
records tls13-etcd.pcap --keylog keylogs/tls13-etcd.pcap.keys
check_decrypts tls13-etcd.pcap keylogs/tls13-etcd.pcap.keys 2

# ================================================================== 4. tls13-openssl-variants.pcap
cap_start tls13-openssl-variants.pcap -i lo
# (a) ChaCha20-Poly1305
osrv -Verify 1 -verify_return_error
ocli -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" -ciphersuites TLS_CHACHA20_POLY1305_SHA256
want "$CLI_LOG" '^New, TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256' "#1 cipher"
V1=$(grep -E '^New, TLS' "$CLI_LOG")
# (b) AES-128-GCM
osrv -Verify 1 -verify_return_error
ocli -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" -ciphersuites TLS_AES_128_GCM_SHA256
want "$CLI_LOG" '^New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256' "#2 cipher"
V2=$(grep -E '^New, TLS' "$CLI_LOG")
# (c) HelloRetryRequest: the client's only key share (X25519) is not in the server's groups
osrv -Verify 1 -verify_return_error -groups P-384
ocli -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" -groups X25519:P-384
V3=$(grep -E '^New, TLS' "$CLI_LOG")
V3_TMP=$(grep -E '^(Server Temp Key|Peer Temp Key|Negotiated TLS1.3 group)' "$CLI_LOG" | tr '\n' ' ' | sed 's/ *$//')
# (d) the server asks for a certificate (optional: -verify 1) and the client has none
osrv -verify 1
ocli
want "$CLI_LOG" '^No client certificate CA names sent|^Acceptable client certificate CA names' "#4 CertificateRequest"
V4=$(grep -E '^New, TLS' "$CLI_LOG")
V4_SRV=$(grep -E '^(Protocol version|Ciphersuite|Peer certificate|No peer certificate|Verification)' "$SRV_LOG" | tr '\n' ' ' | sed 's/ *$//')
cap_stop
HRR=$(tshark -r tls13-openssl-variants.pcap -d tcp.port==6443,tls -Y 'tls.handshake.type == 2' \
    -T fields -e tcp.stream -e _ws.col.Info 2>/dev/null | grep -c 'Hello Retry Request' || true)
HRR_STREAM=$(tshark -r tls13-openssl-variants.pcap -d tcp.port==6443,tls -Y 'tls.handshake.type == 2' \
    -T fields -e tcp.stream -e _ws.col.Info 2>/dev/null | awk -F'\t' '/Hello Retry Request/ {print $1}' | tr '\n' ' ')
[ "$HRR" = 1 ] && [ "$HRR_STREAM" = "2 " ] || die "tls13-openssl-variants.pcap: want one HelloRetryRequest in tcp.stream 2, tshark shows $HRR in streams '$HRR_STREAM'"
CH3=$(tshark -r tls13-openssl-variants.pcap -d tcp.port==6443,tls -Y 'tcp.stream == 2 && tls.handshake.type == 1' \
    -T fields -e tls.handshake.extensions_key_share_group 2>/dev/null | tr '\n' ';' | sed 's/;$//')
V_SCEN="OpenSSL 3.0 s_server (apiserver.crt + ca.crt on 127.0.0.1:6443, -rev) and s_client (SNI kubernetes, ALPN h2,http/1.1, -keylogfile keylogs/tls13-openssl-variants.pcap.keys), TLS 1.3, four connections, tcpdump -i lo. #1 s_client -ciphersuites TLS_CHACHA20_POLY1305_SHA256, kubelet-client-current.pem (+ ca.crt), server -Verify 1 -verify_return_error: completed ($V1). #2 s_client -ciphersuites TLS_AES_128_GCM_SHA256, same certs: completed ($V2). #3 HelloRetryRequest: s_server -groups P-384, s_client -groups X25519:P-384 (its first ClientHello carries only an X25519 key share); the server answers with a HelloRetryRequest (a ServerHello with the HRR random, tshark: 'Hello Retry Request', tcp.stream 2 only), the client sends a second ClientHello with a P-384 share (tshark key_share groups in the two ClientHellos: $CH3; 29 = x25519, 24 = secp384r1); completed ($V3; $V3_TMP). The reported cipher suite is the one in the first ServerHello-type message, the HRR, which is the one the real ServerHello repeats. #4 s_server -verify 1 (lowercase: asks for a client certificate but does not require one), s_client without -cert: the client answers the CertificateRequest with an empty Certificate message (client certificates [] when decrypted); completed ($V4; server said: $V4_SRV)."
$EXPECTED tls13-openssl-variants.pcap --outcome '*=completed' --expect-connections 4 \
    --scenario "$V_SCEN Without keys: certificates null, visibility encrypted." \
    --ignored "nothing else in the capture"
$EXPECTED tls13-openssl-variants.pcap --outcome '*=completed' --expect-connections 4 \
    --keylog keylogs/tls13-openssl-variants.pcap.keys -o expected/tls13-openssl-variants.pcap.decrypted.json \
    --scenario "$V_SCEN With the key log (tshark -o tls.keylog_file:keylogs/tls13-openssl-variants.pcap.keys): certificates as tshark shows them, visibility decrypted, decrypted alerts (close_notify) keep their level and code with encrypted true." \
    --ignored "nothing else in the capture"
records tls13-openssl-variants.pcap --keylog keylogs/tls13-openssl-variants.pcap.keys
check_decrypts tls13-openssl-variants.pcap keylogs/tls13-openssl-variants.pcap.keys 7

# ================================================================== 3. tls13-openssl-dsb.pcapng
# (from capture-basic.sh's tls13-openssl.pcap and its key log)
rm -f tls13-openssl-dsb.pcapng
editcap --inject-secrets tls,keylogs/tls13-openssl.pcap.keys tls13-openssl.pcap tls13-openssl-dsb.pcapng
D_SCEN="tls13-openssl.pcap (two TLS 1.3 connections: #1 kubelet with kubelet-client-current.pem, #2 kubectl with admin.conf's cert, both to s_server with apiserver.crt + ca.crt; completed) converted to pcapng by 'editcap --inject-secrets tls,keylogs/tls13-openssl.pcap.keys tls13-openssl.pcap tls13-openssl-dsb.pcapng': the NSS key log is embedded in a pcapng Decryption Secrets Block (secrets type TLS Key Log 0x544c534b) before the packets, and packets are unchanged. tshark reads the DSB by itself: these values come from expected.py WITHOUT --keylog, and still the handshakes are decrypted (certificates shown, visibility decrypted). A reader that honours DSBs should decrypt with no key log file; one that does not sees what expected/tls13-openssl.pcap.json shows."
$EXPECTED tls13-openssl-dsb.pcapng --outcome '*=completed' --expect-connections 2 \
    --scenario "$D_SCEN" --ignored "nothing else in the capture"
records tls13-openssl-dsb.pcapng
check_decrypts tls13-openssl-dsb.pcapng - 4
grep -q '"visibility": "decrypted"' expected/tls13-openssl-dsb.pcapng.json || die "tshark did not use the DSB"

# ================================================================== sidecars for capture-basic.sh's files
# records of tls13-openssl.pcap (made by capture-basic.sh), with its key log
records tls13-openssl.pcap --keylog keylogs/tls13-openssl.pcap.keys
# 5. kubelet-rotated-tls12.pcap: its key log has the TLS 1.2 CLIENT_RANDOM lines of both connections
K_RANDOMS=$(tshark -r kubelet-rotated-tls12.pcap -d tcp.port==6443,tls -Y 'tls.handshake.type == 1' \
    -T fields -e tls.handshake.random 2>/dev/null | tr -d ':' | sort)
K_KEYS=$(awk '$1 == "CLIENT_RANDOM" {print $2}' keylogs/kubelet-rotated-tls12.pcap.keys | sort)
[ -n "$K_RANDOMS" ] && [ "$K_RANDOMS" = "$K_KEYS" ] || die "keylogs/kubelet-rotated-tls12.pcap.keys: CLIENT_RANDOM lines do not match the ClientHello randoms"
$EXPECTED kubelet-rotated-tls12.pcap --outcome '*=completed' --expect-connections 2 \
    --keylog keylogs/kubelet-rotated-tls12.pcap.keys -o expected/kubelet-rotated-tls12.pcap.decrypted.json \
    --scenario "kubelet-rotated-tls12.pcap (TLS 1.2, made by capture-basic.sh: #1 kubelet with kubelet-client-current.pem, #2 kubectl with admin.conf's cert, to s_server with apiserver.crt + ca.crt; both completed) read with its key log keylogs/kubelet-rotated-tls12.pcap.keys (one CLIENT_RANDOM line per connection, from s_client -keylogfile). TLS 1.2 sends the certificates in clear, so they are the same as without keys; what the keys add is the content of the encrypted alerts sent after ChangeCipherSpec: tshark decrypts them as close_notify (warning, 0), kept with encrypted true. visibility stays plaintext (it is TLS 1.2)." \
    --ignored "nothing else in the capture"
python3 - <<'PYEOF' || die "kubelet-rotated-tls12.pcap.decrypted.json: encrypted alerts not decrypted to close_notify"
import json
d = json.load(open("expected/kubelet-rotated-tls12.pcap.decrypted.json"))
alerts = [a for c in d["connections"] for a in c["alerts"]]
assert alerts and all(a["encrypted"] and a["level"] == "warning" and a["code"] == 0 for a in alerts), alerts
PYEOF

for f in tls13-go.pcap tls13-etcd.pcap tls13-openssl-variants.pcap tls13-openssl-dsb.pcapng; do
    s=$(stat -c %s "$f")
    [ "$s" -lt 61440 ] || die "$f is $s bytes (limit 60 KB)"
done
log "done"
