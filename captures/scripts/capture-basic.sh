#!/bin/bash
# capture-basic.sh: make the basic sample captures with real TLS stacks on loopback.
#
# Runs itself inside a private network namespace (loopback only, mtu 1500, TSO/GSO/GRO off so
# the kernel really cuts certificate flights into MSS-sized segments: with offloads on, lo hands
# tcpdump 64K "super-segments" even at mtu 1500). Servers are `openssl s_server`, clients
# `openssl s_client` or scripts/goclient (Go crypto/tls); captures are taken by tcpdump or
# dumpcap. For every capture it writes
#   captures/<capture>                     the capture
#   captures/keylogs/<capture>.keys        NSS key log of every connection (client side)
#   captures/expected/<capture>.json       via tools/expected.py (tshark + openssl)
# Needs the PKI from scripts/pki.sh. Run as root. Makes:
#   kubelet-rotated-tls12.pcap  kubeconfig-go-sll2.pcap  rogue-ca-sll.pcap
#   kubelet-serving-ipv6.pcapng nanosecond.pcap  filtered-0x16.pcap  truncated.pcap
#   kubelet-rotated-tls12.pcap.gz  tls13-openssl.pcap  broken-certs.pcap
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
NS=certwire-basic-$$

if [ "${CERTWIRE_IN_NETNS:-}" != "1" ]; then
    [ "$(id -u)" = 0 ] || { echo "capture-basic.sh: run as root" >&2; exit 1; }
    [ -f "$HERE/node/etc/kubernetes/pki/ca.crt" ] || { echo "run scripts/pki.sh first" >&2; exit 1; }
    WORK=$(mktemp -d /tmp/certwire-capture.XXXXXX)
    cleanup() { ip netns del "$NS" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
    trap cleanup EXIT
    (cd "$HERE/scripts/goclient" && go build -o "$WORK/goclient" .)
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
EXPECTED=tools/expected.py
# kubelet-client-current.pem is an absolute symlink (as the kubelet makes it): resolve it in the tree
KUBELET_CURRENT=node$(readlink "$KPKI/kubelet-client-current.pem")
# the admin.conf client cert/key, extracted the way a user would
grep client-certificate-data node/etc/kubernetes/admin.conf | awk '{print $2}' | base64 -d > "$WORK/admin.crt"
grep client-key-data node/etc/kubernetes/admin.conf | awk '{print $2}' | base64 -d > "$WORK/admin.key"

BGPIDS=()
cleanup_ns() { for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup_ns EXIT

CAP=""; CAP_PID=""; CAP_LOG=""; CONN=0
log() { echo "capture-basic: $*" >&2; }

# cap_start FILE TOOL ARGS...: start tcpdump/dumpcap writing captures/FILE
cap_start() {
    CAP=$1; local tool=$2; shift 2
    CONN=0
    rm -f "$CAP" "keylogs/$CAP.keys"
    CAP_LOG=$WORK/logs/$CAP.capture.log
    # -B: with --immediate-mode libpcap uses one ring frame per snaplen (256 KiB), so the
    # default 2 MiB buffer holds only ~8 packets and -i any drops some: use 32 MiB
    case $tool in
        tcpdump) tcpdump --immediate-mode -U -B 32768 -w "$CAP" "$@" >"$CAP_LOG" 2>&1 & ;;
        dumpcap) dumpcap -w "$CAP" "$@" >"$CAP_LOG" 2>&1 & ;;
    esac
    CAP_PID=$!; BGPIDS+=("$CAP_PID")
    sleep 1.5
}

cap_stop() {
    sleep 0.5
    kill -INT "$CAP_PID"; wait "$CAP_PID" || true
    if grep -q 'packets dropped by kernel' "$CAP_LOG"; then
        grep -q '^0 packets dropped by kernel' "$CAP_LOG" || { cat "$CAP_LOG" >&2; exit 1; }
    else
        # dumpcap: "Packets received/dropped on interface 'X': N/0 (pcap:0/dumpcap:0/flushed:0/...)"
        if grep 'received/dropped' "$CAP_LOG" | grep -vq '/0 (pcap:0/dumpcap:0/flushed:0/'; then
            cat "$CAP_LOG" >&2; exit 1
        fi
    fi
    log "$CAP: $(grep -E 'packets captured|Packets captured' "$CAP_LOG" | head -1)"
}

# wait_listen PORT
wait_listen() {
    for _ in $(seq 100); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    log "nothing listens on port $1"; exit 1
}

# srv ADDR PORT CERT KEY CAFILE [extra s_server args]: one s_server that accepts one connection
srv() {
    local addr=$1 port=$2 cert=$3 key=$4 ca=$5; shift 5
    CONN=$((CONN + 1))
    SRV_LOG=$WORK/logs/$CAP.$CONN.server.log
    timeout 20 openssl s_server -accept "$addr:$port" -cert "$cert" -key "$key" -CAfile "$ca" \
        -Verify 1 -verify_return_error -naccept 1 -rev -alpn h2,http/1.1 "$@" \
        </dev/null >"$SRV_LOG" 2>&1 &
    SRV_PID=$!; BGPIDS+=("$SRV_PID")
    wait_listen "$port"
}

srv_wait() { wait "$SRV_PID" || true; sleep 0.3; }

# cli ARGS...: openssl s_client, writes one line, then closes stdin (close_notify + FIN)
cli() {
    CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
    (echo "hello from s_client"; sleep 0.5) | timeout 20 openssl s_client -keylogfile "keylogs/$CAP.keys" "$@" \
        >"$CLI_LOG" 2>&1 || true
    srv_wait
    log "$CAP #$CONN client: $(grep -E '^(New|Verify return code|.*alert)' "$CLI_LOG" | tr '\n' ' ' | cut -c1-200)"
    log "$CAP #$CONN server: $(grep -Ei 'alert|error|verify|CIPHER is' "$SRV_LOG" | tr '\n' ' ' | cut -c1-200)"
}

# gocli ARGS...: scripts/goclient
gocli() {
    CLI_LOG=$WORK/logs/$CAP.$CONN.client.log
    timeout 20 "$GOCLIENT" -keylog "keylogs/$CAP.keys" "$@" >"$CLI_LOG" 2>&1 || true
    srv_wait
    log "$CAP #$CONN goclient: $(tr '\n' ' ' < "$CLI_LOG" | cut -c1-200)"
    log "$CAP #$CONN server: $(grep -Ei 'alert|error|verify|CIPHER is' "$SRV_LOG" | tr '\n' ' ' | cut -c1-200)"
}

# expect_ok / expect_fail: the real outcome, checked from the logs
expect_ok() {
    grep -qE '^(New, TLS|goclient: handshake ok)' "$CLI_LOG" || { log "$CAP #$CONN: handshake did not complete"; cat "$CLI_LOG" "$SRV_LOG" >&2; exit 1; }
}
expect_fail() {
    if grep -qE '^(New, TLS|goclient: handshake ok)' "$CLI_LOG" && ! grep -qi 'alert' "$CLI_LOG"; then
        log "$CAP #$CONN: handshake completed but should have failed"; cat "$CLI_LOG" "$SRV_LOG" >&2; exit 1
    fi
}

S_CLIENT_K8S=(-servername kubernetes -alpn h2,http/1.1)

# ================================================================== (a) kubelet-rotated-tls12.pcap
cap_start kubelet-rotated-tls12.pcap tcpdump -i lo
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert "$WORK/admin.crt" -key "$WORK/admin.key" \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
cap_stop
A_SCEN="Two TLS 1.2 connections to the apiserver (openssl s_server on 127.0.0.1:6443 with apiserver.crt; it sends apiserver.crt + ca.crt and requests a client cert, CA list CN=kubernetes). #1 is the kubelet with client-cert rotation on: openssl s_client with -cert/-key = /var/lib/kubelet/pki/kubelet-client-current.pem (symlink to kubelet-client-2026-11-27-09-30-00.pem, ECDSA P-256 cert + key in one PEM); it sends that cert + ca.crt (OpenSSL adds the CA from its CAfile), NOT the RSA cert embedded in kubelet.conf. #2 is kubectl with admin.conf's embedded cert (CN=kubernetes-admin, O=system:masters) + ca.crt. SNI kubernetes, ALPN h2,http/1.1 offered (server picks h2). Both complete and end with close_notify (encrypted alerts) from both sides."
$EXPECTED kubelet-rotated-tls12.pcap --outcome '*=completed' --expect-connections 2 \
    --scenario "$A_SCEN" --ignored "nothing else in the capture"

# ================================================================== (h) kubelet-rotated-tls12.pcap.gz
gzip -9 -n -c kubelet-rotated-tls12.pcap > kubelet-rotated-tls12.pcap.gz
$EXPECTED kubelet-rotated-tls12.pcap.gz --outcome '*=completed' --expect-connections 2 \
    --scenario "gzip -9 -n of kubelet-rotated-tls12.pcap (tickets carry .pcap.gz). $A_SCEN" \
    --ignored "nothing else in the capture"

# ================================================================== (g) truncated.pcap
# cut kubelet-rotated-tls12.pcap in the middle of the record of the second connection's first
# packet (its SYN), like a tcpdump killed while writing: only connection #1 is wholly before the cut
SYN2=$(tshark -r kubelet-rotated-tls12.pcap -Y 'tcp.stream == 1' -T fields -e frame.number 2>/dev/null | head -1)
CUT=$(python3 - kubelet-rotated-tls12.pcap "$SYN2" <<'PYEOF'
import struct, sys
data = open(sys.argv[1], "rb").read(); want = int(sys.argv[2])
assert data[:4] == b"\xd4\xc3\xb2\xa1"
off, n = 24, 0
while off < len(data):
    n += 1
    caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
    if n == want:
        print(off + 16 + caplen // 2); break
    off += 16 + caplen
PYEOF
)
head -c "$CUT" kubelet-rotated-tls12.pcap > truncated.pcap
$EXPECTED truncated.pcap --outcome '*=completed' --expect-connections 1 \
    --scenario "kubelet-rotated-tls12.pcap cut with head -c $CUT: the cut falls in the middle of packet record $SYN2 (the SYN of the second connection, the admin.conf one), so only connection #1 (kubelet with kubelet-client-current.pem, TLS 1.2, completed) is in the file; a reader must report it and warn that the file was cut short in the middle of a packet record at byte offset $CUT (of $(stat -c %s kubelet-rotated-tls12.pcap))." \
    --ignored "the partial packet record at the end of the file (byte offset $CUT onwards)"

# ================================================================== (b) kubeconfig-go-sll2.pcap
cap_start kubeconfig-go-sll2.pcap tcpdump -i any
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
gocli -kubeconfig node/etc/kubernetes/kubelet.conf -addr 127.0.0.1:6443 -max 1.2
expect_ok
# an aggregated apiserver on 443 (front-proxy-client cert, verified against front-proxy-ca)
srv 127.0.0.1 443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/front-proxy-ca.crt
cli -connect 127.0.0.1:443 -tls1_2 -cert $PKI/front-proxy-client.crt -key $PKI/front-proxy-client.key \
    -CAfile $PKI/ca.crt -servername kubernetes -alpn h2,http/1.1
expect_ok
cap_stop
$EXPECTED kubeconfig-go-sll2.pcap --outcome '*=completed' --expect-connections 1 \
    --scenario "tcpdump -i any (LINUX_SLL2). A Go crypto/tls client (scripts/goclient, Go 1.19, MaxVersion TLS 1.2) using the cert/key embedded in kubelet.conf (RSA 2048, CN=system:node:node1, O=system:nodes: kubelet with rotation off) connects to the apiserver (openssl s_server, 127.0.0.1:6443, apiserver.crt + ca.crt). Go sends only the leaf. Dialed by IP, so no SNI; ALPN h2,http/1.1. Completed; Go ends with close_notify (encrypted alert)." \
    --ignored "a TLS 1.2 handshake on 127.0.0.1:443 (aggregated apiserver: openssl s_client with front-proxy-client.crt, server requests certs from CN=front-proxy-ca): port 443 is not a default port"

# ================================================================== (c) rogue-ca-sll.pcap
cap_start rogue-ca-sll.pcap tcpdump -i any -y LINUX_SLL
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert $EXTRA/rogue-client.crt -key $EXTRA/rogue-client.key \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_fail
ROGUE1_SRV=$(grep -iE 'error|alert' "$SRV_LOG" | tr '\n' ' ')
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
gocli -cert $EXTRA/rogue-client.crt -key $EXTRA/rogue-client.key -ca $PKI/ca.crt -addr 127.0.0.1:6443 -max 1.2
expect_fail
ROGUE2_CLI=$(tr '\n' ' ' < "$CLI_LOG")
cap_stop
$EXPECTED rogue-ca-sll.pcap --outcome '*=failed' --expect-connections 2 \
    --scenario "tcpdump -i any -y LINUX_SLL. Client cert signed by a rogue CA whose subject is also CN=kubernetes (pki-extra/rogue-ca.crt, a different key) presented to the apiserver (openssl s_server -Verify 1 -verify_return_error, CAfile ca.crt). #1 openssl s_client (sends only rogue-client.crt: its CAfile has the real CA, so it cannot chain the rogue one); #2 Go client with the same cert. The server rejects both after the client's Certificate with a fatal plaintext alert (see alerts; server log: $ROGUE1_SRV). Go client said: $ROGUE2_CLI" \
    --ignored "nothing else in the capture"

# ================================================================== (d) kubelet-serving-ipv6.pcapng
cap_start kubelet-serving-ipv6.pcapng dumpcap -i lo -B 32 -i any -B 32 -q
srv '[::1]' 10250 $KPKI/kubelet.crt $KPKI/kubelet.key $PKI/ca.crt
cli -6 -connect '[::1]:10250' -tls1_2 -cert $PKI/apiserver-kubelet-client.crt \
    -key $PKI/apiserver-kubelet-client.key -CAfile $PKI/ca.crt -verify_return_error \
    -noservername -alpn http/1.1
expect_ok
cap_stop
D_ORDER=$(capinfos -o kubelet-serving-ipv6.pcapng 2>/dev/null | sed -n 's/^Strict time order: *//p')
$EXPECTED kubelet-serving-ipv6.pcapng --outcome '*=completed' --expect-connections 1 \
    --scenario "dumpcap -i lo -i any: pcapng with two interfaces (0: lo, EN10MB; 1: any, LINUX_SLL; nanosecond if_tsresol), and every packet appears twice, once per interface (same 5-tuple, same TCP bytes): one connection, reported once. dumpcap writes the packets in per-interface batches, so the file is not in time order (capinfos 'Strict time order': $D_ORDER; the any copy of a packet is stamped about 1 us before the lo copy) and tshark, reading in file order, takes the second copies for retransmissions. apiserver -> kubelet over IPv6: openssl s_server as the kubelet on [::1]:10250 with /var/lib/kubelet/pki/kubelet.crt (+ ca.crt), requesting a client cert (CAfile ca.crt); openssl s_client -6 with apiserver-kubelet-client.crt (+ ca.crt), no SNI, ALPN http/1.1. TLS 1.2, completed." \
    --ignored "the second copy of every packet (interface 1, any)"

# ================================================================== (e) nanosecond.pcap
cap_start nanosecond.pcap tcpdump --time-stamp-precision nano -i lo
srv 127.0.0.1 2379 $PKI/etcd/server.crt $PKI/etcd/server.key $PKI/etcd/ca.crt
cli -connect 127.0.0.1:2379 -tls1_2 -cert $PKI/apiserver-etcd-client.crt -key $PKI/apiserver-etcd-client.key \
    -CAfile $PKI/etcd/ca.crt -verify_return_error -noservername -alpn h2
expect_ok
srv 127.0.0.1 2379 $PKI/etcd/server.crt $PKI/etcd/server.key $PKI/etcd/ca.crt
cli -connect 127.0.0.1:2379 -tls1_2 -cert $PKI/etcd/healthcheck-client.crt -key $PKI/etcd/healthcheck-client.key \
    -CAfile $PKI/etcd/ca.crt -verify_return_error -noservername -alpn h2
expect_ok
cap_stop
$EXPECTED nanosecond.pcap --outcome '*=completed' --expect-connections 2 \
    --scenario "tcpdump --time-stamp-precision nano -i lo (pcap magic a1b23c4d, nanosecond timestamps). etcd-like server (openssl s_server on 127.0.0.1:2379 with etcd/server.crt + etcd/ca.crt, requesting client certs from CN=etcd-ca). #1 apiserver -> etcd with apiserver-etcd-client.crt (+ etcd/ca.crt); #2 etcd health check with etcd/healthcheck-client.crt (+ etcd/ca.crt). No SNI, ALPN h2. TLS 1.2, both completed." \
    --ignored "nothing else in the capture"

# ================================================================== (f) filtered-0x16.pcap
cap_start filtered-0x16.pcap tcpdump -i lo 'tcp port 6443 and (tcp[((tcp[12] & 0xf0) >> 2)] = 0x16)'
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
cap_stop
# which certificate DERs (from the PEM files) lie whole, or only as a prefix, in each kept segment
F_SEGS=$(tshark -r filtered-0x16.pcap -T fields -e frame.number -e tcp.srcport -e tcp.seq -e tcp.payload 2>/dev/null \
  | python3 -c '
import base64, glob, os, re, sys
certs = {}
for f in sorted(glob.glob("node/**/*.crt", recursive=True) + glob.glob("node/**/*.pem", recursive=True)):
    if os.path.islink(f):
        continue
    for b in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", open(f).read(), re.S):
        certs.setdefault(base64.b64decode("".join(b.split())), f)
out = []
for line in sys.stdin:
    num, port, seq, payload = line.split("\t")
    data = bytes.fromhex(payload.strip())
    side = "client" if port != "6443" else "server"
    notes = []
    for der, f in certs.items():
        if der in data:
            notes.append("the whole DER of %s" % f)
        else:
            for n in range(len(der) - 1, 15, -1):
                if data.endswith(der[:n]):
                    notes.append("the first %d of %d bytes of %s" % (n, len(der), f)); break
    out.append("frame %s (%s, seq %s, %d bytes)%s" % (num, side, seq, len(data),
               ": " + ", ".join(notes) if notes else ""))
print("; ".join(out))
')
case "$F_SEGS" in
    *"server, seq 1, "*"bytes): the whole DER of node/etc/kubernetes/pki/apiserver.crt, the first "*" bytes of node/etc/kubernetes/pki/ca.crt;"*) ;;
    *) log "filtered-0x16.pcap: the segment layout changed ($F_SEGS): update the scenario text"; exit 1 ;;
esac
F_FRAMES=$(tshark -r filtered-0x16.pcap -d tcp.port==6443,tls -T fields -e frame.number -e _ws.col.Info 2>/dev/null | sed 's/\t/: /' | tr '\n' ';' | sed 's/;$//; s/;/; /g')
$EXPECTED filtered-0x16.pcap --outcome '*=incomplete' --expect-connections 1 \
    --scenario "The article's filter: tcpdump -i lo 'tcp port 6443 and (tcp[((tcp[12] & 0xf0) >> 2)] = 0x16)' during the same kubelet -> apiserver TLS 1.2 handshake as kubelet-rotated-tls12.pcap #1 (server sends apiserver.crt + ca.crt and a CertificateRequest, client sends kubelet-client-current.pem + ca.crt; on the wire it completed). With mtu 1500 the flights span several TCP segments and only segments whose TCP payload starts with byte 0x16 were kept: no SYN/ACK/FIN, no segment that starts in the middle of a record (continuations), no alert or application-data records. What tshark decodes: $F_FRAMES. Raw payload check (tshark tcp.payload against the DER in the PEM files): $F_SEGS. The certificates listed below are exactly those in Certificate messages tshark could decode whole (null = none): the server's Certificate message is cut by the gap after the first server segment (that segment holds the whole apiserver.crt DER but only part of ca.crt), so tshark shows no server certificates and no CertificateRequest; a reader must report the connection as incomplete with the gap, may report the apiserver.crt it holds whole, and must not invent the rest." \
    --ignored "nothing else in the capture"

# ================================================================== (i) tls13-openssl.pcap
cap_start tls13-openssl.pcap tcpdump -i lo
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -cert "$KUBELET_CURRENT" -key "$KUBELET_CURRENT" \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -cert "$WORK/admin.crt" -key "$WORK/admin.key" \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
cap_stop
I_SCEN="Same two connections as kubelet-rotated-tls12.pcap but TLS 1.3 (no -tls1_2): #1 kubelet with kubelet-client-current.pem, #2 kubectl with admin.conf's cert; server apiserver.crt + ca.crt, client cert requested (CA list CN=kubernetes, in the encrypted CertificateRequest). Everything after ServerHello is encrypted. The NSS key log is keylogs/tls13-openssl.pcap.keys."
$EXPECTED tls13-openssl.pcap --outcome '*=completed' --expect-connections 2 \
    --scenario "$I_SCEN Without keys the certificates are not visible: certificates null, visibility encrypted." \
    --ignored "nothing else in the capture"
$EXPECTED tls13-openssl.pcap --outcome '*=completed' --expect-connections 2 \
    --keylog keylogs/tls13-openssl.pcap.keys -o expected/tls13-openssl.pcap.decrypted.json \
    --scenario "$I_SCEN With the key log (tshark -o tls.keylog_file:keylogs/tls13-openssl.pcap.keys) the handshake is decrypted: the certificates below are what tshark shows; visibility decrypted; alerts sent encrypted keep the level/code tshark decrypted, with encrypted true." \
    --ignored "nothing else in the capture"

# ================================================================== (j) broken-certs.pcap
cap_start broken-certs.pcap tcpdump -i lo
# 1: node client cert without clientAuth (serverAuth only)
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert $EXTRA/noclientauth-client.crt -key $EXTRA/noclientauth-client.key \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
J1=$(grep -qE '^New, TLS' "$CLI_LOG" && ! grep -qi 'alert' "$CLI_LOG" && echo completed || echo failed)
J1_SRV=$(grep -iE 'error|alert' "$SRV_LOG" | tr '\n' ' ')
# 2: expired node client cert
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert $EXTRA/expired-client.crt -key $EXTRA/expired-client.key \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
J2=$(grep -qE '^New, TLS' "$CLI_LOG" && ! grep -qi 'alert' "$CLI_LOG" && echo completed || echo failed)
J2_SRV=$(grep -iE 'error|alert' "$SRV_LOG" | tr '\n' ' ')
# 3: kubelet serving cert without IP SANs, dialed by IP by a Go client (like the apiserver)
srv 127.0.0.1 10250 $EXTRA/kubelet-noipsan.crt $EXTRA/kubelet-noipsan.key $PKI/ca.crt
gocli -cert $PKI/apiserver-kubelet-client.crt -key $PKI/apiserver-kubelet-client.key -ca $PKI/ca.crt \
    -addr 127.0.0.1:10250 -max 1.2 -alpn http/1.1
J3=$(grep -q 'handshake ok' "$CLI_LOG" && echo completed || echo failed)
J3_CLI=$(tr '\n' ' ' < "$CLI_LOG")
# 4: wrong identity (CN=system:node:node2, O=system:authenticated): TLS is fine, authz is not
srv 127.0.0.1 6443 $PKI/apiserver.crt $PKI/apiserver.key $PKI/ca.crt
cli -connect 127.0.0.1:6443 -tls1_2 -cert $EXTRA/wrongid-client.crt -key $EXTRA/wrongid-client.key \
    -CAfile $PKI/ca.crt -verify_return_error "${S_CLIENT_K8S[@]}"
expect_ok
J4=completed
cap_stop
$EXPECTED broken-certs.pcap --outcome "#1=$J1" --outcome "#2=$J2" --outcome "#3=$J3" --outcome "#4=$J4" \
    --expect-connections 4 \
    --scenario "Four TLS 1.2 connections with the broken certs users hit. #1 6443: openssl s_client with pki-extra/noclientauth-client.crt (CN=system:node:node1, O=system:nodes, signed by the real CA, EKU serverAuth only) to the apiserver (s_server -Verify 1 -verify_return_error, CAfile ca.crt): $J1 (server log: $J1_SRV). #2 6443: pki-extra/expired-client.crt (same identity, real CA, valid 2025-11-01..2026-11-01, expired): $J2 (server log: $J2_SRV). #3 10250: a kubelet serving pki-extra/kubelet-noipsan.crt (CN=node1, DNS:node1 only, no IP SANs; + ca.crt) dialed by IP 127.0.0.1 by a Go client (like the apiserver) with apiserver-kubelet-client.crt: $J3 on the client side, Go said: $J3_CLI. #4 6443: pki-extra/wrongid-client.crt (CN=system:node:node2, O=system:authenticated, real CA, clientAuth): the TLS handshake completes (the identity is wrong only for the Node authorizer)." \
    --ignored "nothing else in the capture"

log "done"
