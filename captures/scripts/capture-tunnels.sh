#!/usr/bin/env bash
# capture-tunnels.sh: certwire sample captures of TLS inside tunnels and behind proxies, of TCP
# connections that never connected, of TLS on ports certwire does not follow by default, of a
# TLS 1.3 HelloRetryRequest and of RFC 8879 compressed certificates (issue 14, "Test captures").
#
# Real TLS stacks (openssl s_server/s_client 3.0, curl 7.88 with OpenSSL, kubectl 1.32 = Go
# crypto/tls) talk across network namespaces that this script creates and deletes; tcpdump 4.99
# captures on the link named per capture. Tunnels:
#  - VXLAN: the kernel's own vxlan driver (ip link add ... type vxlan);
#  - Geneve, GRE (gretap / gre with a key), ERSPAN type II and III, IPv4-in-IPv4 (nested twice)
#    and IPv6-in-IPv4: this kernel has no geneve, ip_gre, ipip or sit module, so a userspace
#    endpoint per namespace (tools/tunnel_endpoint.py, on a tun/tap device) writes the tunnel
#    headers as the Linux driver does and sends them through a real UDP or raw IP socket, whose
#    outer IPv4 header the kernel makes.
# Proxies are Debian's tinyproxy 1.11 (HTTP CONNECT) and dante 1.4 danted (SOCKS4/5), run in a
# namespace between client and server. Refused / dropped / ICMP-rejected connections use
# nftables rules in the server namespace. Compressed certificates come from BoringSSL (Debian's
# android-libboringssl) in scripts/certcomp, which registers zlib and brotli with it.
#
# Addresses: only inside the namespaces created here: 198.18.0.0/15 and 2001:db8::/32.
# Namespaces: cwt-a (client / node A), cwt-b (server / node B), cwt-p (proxy). Name
# resolution for the proxy captures: /etc/netns/cwt-a/hosts and /etc/netns/cwt-p/hosts (bind-
# mounted over /etc/hosts by `ip netns exec`), created here and removed at exit.
#
# usage: capture-tunnels.sh [NAME...]     (default: all)
#   names: tunnel-vxlan tunnel-geneve tunnel-gre tunnel-erspan tunnel-ipip-nested
#          proxy-connect proxy-socks5 never-connected other-ports tls13-hrr
#          tls13-compressed-cert
# Writes captures/<name>.pcap, captures/expected/<name>.pcap.json (tools/expected.py),
# captures/keylogs/<name>.pcap.keys (every client that can write one: s_client -keylogfile,
# curl via SSLKEYLOGFILE; kubectl cannot; proxy-connect-upstream.pcap gets a copy of
# proxy-connect.pcap's: the same sessions), and for tls13-hrr.pcap also
# expected/tls13-hrr.pcap.decrypted.json and .records.json (tls13-compressed-cert.pcap too).
# Needs root, iproute2, ethtool, openssl, curl, kubectl, tcpdump, tshark, capinfos, python3;
# apt-installs tinyproxy, dante-server, nftables, and for tls13-compressed-cert.pcap gcc,
# android-libboringssl-dev, zlib1g-dev and libbrotli-dev, if missing.
set -Eeuo pipefail
trap '[[ $- != *e* ]] || echo "capture-tunnels: line $LINENO (${FUNCNAME[*]}, from ${BASH_LINENO[*]}): failed: $BASH_COMMAND" >&2' ERR

[[ $(id -u) == 0 ]] || { echo "capture-tunnels.sh: run as root (network namespaces)" >&2; exit 1; }

HERE=$(cd "$(dirname "$0")" && pwd)
CAP=$(cd "$HERE/.." && pwd)
OUT=${OUT_DIR:-$CAP}
TOOLS=$CAP/tools
EXPECTED_PY=$TOOLS/expected.py
ENDPOINT=$TOOLS/tunnel_endpoint.py
mkdir -p "$OUT" "$OUT/expected" "$OUT/keylogs"

PKI=$CAP/node/etc/kubernetes/pki
KPKI=$CAP/node/var/lib/kubelet/pki
CA=$PKI/ca.crt
SRV_CRT=$PKI/apiserver.crt; SRV_KEY=$PKI/apiserver.key
KSRV_CRT=$KPKI/kubelet.crt; KSRV_KEY=$KPKI/kubelet.key
ACLI_CRT=$PKI/apiserver-kubelet-client.crt; ACLI_KEY=$PKI/apiserver-kubelet-client.key
FPC_CRT=$PKI/front-proxy-client.crt; FPC_KEY=$PKI/front-proxy-client.key; FP_CA=$PKI/front-proxy-ca.crt
N2_CRT=$CAP/pki-extra/node2-kubelet-client.crt; N2_KEY=$CAP/pki-extra/node2-kubelet-client.key
# kubelet-client-current.pem is an absolute symlink (as the kubelet makes it): resolve it in node/
KCLI_PEM=$KPKI/$(basename "$(readlink "$KPKI/kubelet-client-current.pem")")
for f in "$CA" "$SRV_CRT" "$SRV_KEY" "$KSRV_CRT" "$KSRV_KEY" "$KCLI_PEM" "$ACLI_CRT" "$ACLI_KEY" \
         "$FPC_CRT" "$FPC_KEY" "$FP_CA" "$N2_CRT" "$N2_KEY" "$CAP/node/etc/kubernetes/admin.conf"; do
  [[ -r $f ]] || { echo "capture-tunnels: missing $f (run scripts/pki.sh)" >&2; exit 1; }
done

log() { echo "== $*" >&2; }
die() {
  local l
  for l in "${WORK:-/nonexistent}"/endpoint.*.log; do [[ -s $l ]] && { echo "--- $l" >&2; tail -20 "$l" >&2; }; done
  echo "capture-tunnels: $*" >&2; exit 1
}

# ---------------------------------------------------------------- prerequisites
need_pkgs=()
command -v tinyproxy >/dev/null || need_pkgs+=(tinyproxy)
command -v danted    >/dev/null || need_pkgs+=(dante-server)
command -v nft       >/dev/null || need_pkgs+=(nftables)
# tls13-compressed-cert: scripts/certcomp (C) on Debian's BoringSSL, zlib and brotli
command -v gcc       >/dev/null || need_pkgs+=(gcc)
[[ -f /usr/include/android/openssl/ssl.h ]] || need_pkgs+=(android-libboringssl-dev)
[[ -f /usr/include/zlib.h ]]                 || need_pkgs+=(zlib1g-dev)
[[ -f /usr/include/brotli/encode.h ]]        || need_pkgs+=(libbrotli-dev)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for t in tcpdump tshark capinfos openssl curl kubectl python3 ip ethtool tinyproxy danted nft; do
  command -v $t >/dev/null || die "$t not found"
done
# The kubectl on PATH may be Google Cloud SDK's version dispatcher, which first asks the server
# for its version on a connection of its own (User-Agent kubectl-dispatcher): use the real
# kubectl binary it would run, so that each kubectl run is one TLS connection.
KUBECTL=$(command -v kubectl)
for k in "$(dirname "$(readlink -f "$KUBECTL")")"/kubectl.1.3[0-9]; do [[ -x $k ]] && KUBECTL=$k; done
KUBECTL_VERSION=$("$KUBECTL" version --client 2>/dev/null | awk '/^Client Version/ {print $3}')

# ---------------------------------------------------------------- state and cleanup
NS_A=cwt-a; NS_B=cwt-b; NS_P=cwt-p
WORK=$(mktemp -d /tmp/capture-tunnels.XXXXXX)
PIDS=()
cleanup() {
  local errexit=$-
  set +e
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
  for p in $NS_A $NS_B $NS_P; do ip netns del $p 2>/dev/null; done
  rm -rf /etc/netns/$NS_A /etc/netns/$NS_P
  [[ $errexit != *e* ]] || set -e
}
trap 'cleanup; [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# ns_fresh NS... : new namespaces, lo up; IPv6 off on every device created later unless the
# script enables it on one (no ND/MLD noise in IPv4 captures).
ns_fresh() {
  cleanup
  local n
  for n in "$@"; do
    ip netns add $n
    ip -n $n link set lo up
    ip netns exec $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0
  done
}
ipv6_on() { # ns dev: enable IPv6 on one device only
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$2.disable_ipv6=0"
  local d
  for d in $(ip -n "$1" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
    [[ $d == "$2" || $d == lo ]] || ip netns exec "$1" sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1"
  done
}
offloads_off() { # ns dev
  ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
}
# veth NS1 DEV1 MAC1 ADDR1 NS2 DEV2 MAC2 ADDR2 (addresses with prefix)
veth() {
  ip link add "$2" netns "$1" address "$3" type veth peer name "$6" netns "$5" address "$7"
  offloads_off "$1" "$2"; offloads_off "$5" "$6"
  ip -n "$1" addr add "$4" dev "$2"; ip -n "$5" addr add "$8" dev "$6"
  ip -n "$1" link set "$2" up; ip -n "$5" link set "$6" up
}
# The underlay of every tunnel capture: cwt-a cwt-u0 198.18.0.1 <-> cwt-b cwt-u1 198.18.0.2
underlay_up() {
  ns_fresh $NS_A $NS_B
  veth $NS_A cwt-u0 02:00:5e:c1:00:01 198.18.0.1/24 $NS_B cwt-u1 02:00:5e:c1:00:02 198.18.0.2/24
}

# endpoint NS MODE DEV LOCAL REMOTE [tunnel_endpoint.py options]: start one userspace endpoint
endpoint() {
  local ns=$1 mode=$2 dev=$3 local=$4 remote=$5; shift 5
  local ready=$WORK/ep.$ns.$dev.ready
  rm -f "$ready"
  ip netns exec "$ns" python3 "$ENDPOINT" "$mode" --dev "$dev" --local "$local" --remote "$remote" \
     --ready "$ready" "$@" 2>>"$WORK/endpoint.$ns.$dev.log" &
  PIDS+=($!)
  local i
  for i in $(seq 50); do [[ -s $ready ]] && break; sleep 0.1; done
  [[ -s $ready ]] || { cat "$WORK/endpoint.$ns.$dev.log" >&2; die "endpoint $ns/$dev did not start"; }
  offloads_off "$ns" "$dev"
}
# l2dev NS DEV MAC ADDR/PFX MTU ; l3dev NS DEV ADDR PEER MTU
l2dev() { ip -n "$1" link set "$2" address "$3" mtu "$5"; ip -n "$1" addr add "$4" dev "$2"; ip -n "$1" link set "$2" up; }
l3dev() { ip -n "$1" link set "$2" mtu "$5"; ip -n "$1" addr add "$3" peer "$4" dev "$2"; ip -n "$1" link set "$2" up; }

# ---------------------------------------------------------------- capture and TLS helpers
TD_PID=; TD_LOG=
td_start() { # ns iface file [tcpdump args...]
  TD_LOG=$WORK/tcpdump.$(basename "$3").log
  rm -f "$3"
  ip netns exec "$1" tcpdump -i "$2" -U --immediate-mode -B 32768 -s 262144 -w "$3" "${@:4}" 2>"$TD_LOG" &
  TD_PID=$!; PIDS+=($TD_PID)
  sleep 1
}
td_stop() { # [pid log] (default: the last td_start)
  local pid=${1:-$TD_PID} lg=${2:-$TD_LOG}
  sleep 0.5
  kill -INT "$pid"; wait "$pid" || true
  cat "$lg" >&2
  grep -q '^0 packets dropped by kernel' "$lg" || die "tcpdump dropped packets ($lg)"
}

SRV_PIDS=()
# openssl s_server, TLS 1.2 only, requests and verifies a client cert against ca.crt
srv_start() { # ns accept-spec cert key naccept [extra s_server args...]
  local tag=${2//[^0-9a-z]/_}
  ip netns exec "$1" openssl s_server -accept "$2" -cert "$3" -key "$4" -CAfile "$CA" \
     -Verify 1 -verify_return_error -www -naccept "$5" -tls1_2 "${@:6}" \
     </dev/null >"$WORK/s_server.$1.$tag.log" 2>&1 &
  SRV_PIDS+=($!); PIDS+=($!)
}
srv_wait_all() {
  local p
  for p in "${SRV_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill "$p" 2>/dev/null || true
  done
  SRV_PIDS=()
}
wait_listen() { # ns port
  for _ in $(seq 50); do
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.1
  done
  die "nothing listens on $1:$2"
}
KEYS=  # key log of the capture being made
# openssl s_client, TLS 1.2, sends an HTTP/1.0 request and waits for the server to close.
cli() { # ns host:port cert key sni|- alpn|- [extra s_client args...]
  local sni=() alpn=()
  if [[ $5 == - ]]; then sni=(-noservername); else sni=(-servername "$5"); fi
  [[ $6 == - ]] || alpn=(-alpn "$6")
  printf 'GET /healthz HTTP/1.0\r\n\r\n' | ip netns exec "$1" timeout 20 openssl s_client \
     -connect "$2" -tls1_2 -cert "$3" -key "$4" -CAfile "$CA" "${sni[@]}" "${alpn[@]}" \
     -keylogfile "$KEYS" -ign_eof "${@:7}" >"$WORK/s_client.log" 2>&1 \
     || { cat "$WORK/s_client.log" >&2; die "s_client $2 failed"; }
  grep -q 'Verify return code: 0 (ok)' "$WORK/s_client.log" \
     || log "note: s_client $2: $(grep '^Verify return code' "$WORK/s_client.log")"
  log "s_client $2: $(grep -E '^(New,|Verify return code)' "$WORK/s_client.log" | tr '\n' ' ')"
  sleep 0.3
}
# tshark with the capture's decode-as arguments
TSHARK_ARGS=()
ts() { tshark -r "$1" "${TSHARK_ARGS[@]}" "${@:2}" 2>/dev/null; }
show() { # file
  capinfos -t -E -c -l "$1" 2>/dev/null | sed 's/^/   /' >&2
  ts "$1" -Y 'tls.handshake.type==11 || tls.handshake.type==1 || tls.alert_message' | sed 's/^/   /' >&2
}
# check FILE N: tshark must show N ClientHellos and N server Certificate messages whose first
# certificate is a node/ file's, inside the given encapsulation filter
check_tls() { # file n-hellos n-cert-msgs display-filter
  local f=$1 h c
  h=$(ts "$f" -Y "($4) && tls.handshake.type==1" | wc -l)
  c=$(ts "$f" -Y "($4) && tls.handshake.type==11" | wc -l)
  [[ $h == "$2" && $c == "$3" ]] || die "$f: tshark shows $h ClientHello(s) and $c Certificate message(s) with '$4', want $2 and $3"
  log "$f: tshark: $h ClientHello(s), $c Certificate message(s) under '$4'"
}

want() { # name
  local w
  [[ ${#TARGETS[@]} -eq 0 ]] && return 0
  for w in "${TARGETS[@]}"; do [[ $w == "$1" ]] && return 0; done
  return 1
}

# expected/<capture>.json from tshark + openssl via tools/expected.py
expect() { # file n-connections scenario ignored [expected.py options, --outcome K=V...]
  local f=$1 n=$2 sc=$3 ig=$4; shift 4
  local a args=()
  for a in "${TSHARK_ARGS[@]}"; do args+=("--tshark-arg=$a"); done
  python3 "$EXPECTED_PY" "$OUT/$f" --scenario "$sc" --ignored "$ig" "${args[@]}" "$@" \
     --expect-connections "$n" -o "$OUT/expected/$f.json"
}

keys_begin() { KEYS=$OUT/keylogs/$1.keys; rm -f "$KEYS"; : >"$KEYS"; chmod 644 "$KEYS"; }

K6443='kubelet (node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem = kubelet-client-current.pem, ECDSA, sent with ca.crt by s_client) -> apiserver :6443 (openssl s_server, apiserver.crt + ca.crt, -Verify 1 -verify_return_error -CAfile ca.crt, TLS 1.2 only), TLS 1.2, SNI kubernetes, ALPN h2,http/1.1; CertificateRequest CA names CN=kubernetes; GET /healthz, close_notify both ways; completed'
A10250='apiserver (apiserver-kubelet-client.crt + ca.crt) -> kubelet :10250 (openssl s_server, var/lib/kubelet/pki/kubelet.crt + ca.crt, client cert required and verified, TLS 1.2 only), TLS 1.2, no SNI (dialed by IP), ALPN http/1.1; GET /healthz, close_notify both ways; completed'

# tunnel_conns NS-SRV ADDR6443 ADDR10250: the two standard connections across a tunnel
tunnel_conns() {
  cli $NS_A "$1:6443" "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
  cli $NS_A "$2:10250" "$ACLI_CRT" "$ACLI_KEY" - http/1.1
}
tunnel_servers() {
  srv_start $NS_B 6443 "$SRV_CRT" "$SRV_KEY" 1
  srv_start $NS_B 10250 "$KSRV_CRT" "$KSRV_KEY" 1
  wait_listen $NS_B 6443; wait_listen $NS_B 10250
}

# ---------------------------------------------------------------- 1. VXLAN (kernel)
cap_vxlan() {
  local f=tunnel-vxlan.pcap
  log "$f"
  underlay_up
  local ns side me peer
  for side in a b; do
    if [[ $side == a ]]; then ns=$NS_A me=198.18.0.1 peer=198.18.0.2 dev=cwt-u0; else ns=$NS_B me=198.18.0.2 peer=198.18.0.1 dev=cwt-u1; fi
    local n=$([[ $side == a ]] && echo 1 || echo 2)
    ip -n $ns link add vxlan42 address 02:00:5e:c1:2a:0$n type vxlan id 42 dstport 4789 \
       local $me remote $peer dev $dev
    ip -n $ns link add flannel.1 address 02:00:5e:c1:01:0$n type vxlan id 1 dstport 8472 \
       local $me remote $peer dev $dev
    offloads_off $ns vxlan42; offloads_off $ns flannel.1
    ip -n $ns addr add 198.19.42.$n/24 dev vxlan42
    ip -n $ns addr add 198.19.1.$n/24 dev flannel.1
    ip -n $ns link set vxlan42 up; ip -n $ns link set flannel.1 up
  done
  tunnel_servers
  keys_begin $f
  TSHARK_ARGS=(-d udp.port==8472,vxlan)
  td_start $NS_B cwt-u1 "$OUT/$f"
  tunnel_conns 198.19.42.2 198.19.1.2
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 1 2 'vxlan.vni==42 && udp.dstport==4789'
  check_tls "$OUT/$f" 1 2 'vxlan.vni==1 && udp.dstport==8472'
  [[ $(ts "$OUT/$f" -Y 'tcp && !vxlan' | wc -l) == 0 ]] || die "$f: TCP outside VXLAN"
  expect $f 2 \
    "Real kernel VXLAN (Linux vxlan driver, ip link add ... type vxlan) between two network namespaces over a veth underlay (outer 198.18.0.1 <-> 198.18.0.2, MACs 02:00:5e:c1:00:01/02), captured by tcpdump on the server namespace's underlay veth: every frame is outer Ethernet / IPv4 / UDP / VXLAN / inner Ethernet / IPv4 / TCP (or inner ARP). Outer UDP source ports are the kernel's per-flow hash. 1) VXLAN VNI 42, UDP destination port 4789 (IANA), device vxlan42, inner 198.19.42.1 -> 198.19.42.2: $K6443. 2) VXLAN VNI 1, UDP destination port 8472 (the Linux kernel's default, used by Flannel and Cilium; tshark needs -d udp.port==8472,vxlan), device flannel.1, inner 198.19.1.1 -> 198.19.1.2: $A10250." \
    "inner ARP inside each VXLAN tunnel" '--outcome' '*=completed'
}

# ---------------------------------------------------------------- 2. userspace endpoints
cap_geneve() {
  local f=tunnel-geneve.pcap
  log "$f"
  underlay_up
  endpoint $NS_A geneve genev_sys_6081 198.18.0.1 198.18.0.2 --vni 5000
  endpoint $NS_B geneve genev_sys_6081 198.18.0.2 198.18.0.1 --vni 5000
  l2dev $NS_A genev_sys_6081 02:00:5e:c1:50:01 198.19.50.1/24 1450
  l2dev $NS_B genev_sys_6081 02:00:5e:c1:50:02 198.19.50.2/24 1450
  tunnel_servers
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-u1 "$OUT/$f"
  tunnel_conns 198.19.50.2 198.19.50.2
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 2 4 'geneve.vni==5000 && udp.dstport==6081 && geneve.proto_type==0x6558'
  [[ $(ts "$OUT/$f" -Y 'tcp && !geneve' | wc -l) == 0 ]] || die "$f: TCP outside Geneve"
  expect $f 2 \
    "Geneve (RFC 8926) between two network namespaces over a veth underlay (outer 198.18.0.1 <-> 198.18.0.2), captured on the server namespace's underlay veth: outer Ethernet / IPv4 / UDP (destination port 6081, checksum 0, DF clear) / Geneve (version 0, no options, O=0 C=0, protocol type 0x6558 Transparent Ethernet Bridging, VNI 5000) / inner Ethernet / IPv4 / TCP. The Geneve headers are written by tools/tunnel_endpoint.py (this kernel has no geneve module) exactly as the Linux geneve driver's geneve_build_header() does, sent over a real UDP socket (the kernel makes the outer IPv4/UDP headers); UDP source port per inner flow (32768-60999). Device genev_sys_6081 (Open vSwitch's name), inner 198.19.50.1 -> 198.19.50.2. 1) $K6443. 2) $A10250." \
    "inner ARP inside the tunnel" '--outcome' '*=completed'
}

cap_gre() {
  local f=tunnel-gre.pcap
  log "$f"
  underlay_up
  endpoint $NS_A gretap gretap1 198.18.0.1 198.18.0.2 --key 100
  endpoint $NS_B gretap gretap1 198.18.0.2 198.18.0.1 --key 100
  endpoint $NS_A gre gre1 198.18.0.1 198.18.0.2 --key 200
  endpoint $NS_B gre gre1 198.18.0.2 198.18.0.1 --key 200
  l2dev $NS_A gretap1 02:00:5e:c1:64:01 198.19.100.1/24 1458
  l2dev $NS_B gretap1 02:00:5e:c1:64:02 198.19.100.2/24 1458
  l3dev $NS_A gre1 198.19.200.1 198.19.200.2 1472
  l3dev $NS_B gre1 198.19.200.2 198.19.200.1 1472
  tunnel_servers
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-u1 "$OUT/$f"
  tunnel_conns 198.19.100.2 198.19.200.2
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 1 2 'gre.key==100 && gre.proto==0x6558'
  check_tls "$OUT/$f" 1 2 'gre.key==200 && gre.proto==0x0800'
  [[ $(ts "$OUT/$f" -Y 'tcp && !gre' | wc -l) == 0 ]] || die "$f: TCP outside GRE"
  [[ $(ts "$OUT/$f" -Y 'icmp' | wc -l) == 0 ]] || die "$f: ICMP on the underlay"
  expect $f 2 \
    "GRE (RFC 2784 with the RFC 2890 key) between two network namespaces over a veth underlay (outer 198.18.0.1 <-> 198.18.0.2, IPv4 protocol 47, DF set, TTL 64), captured on the server namespace's underlay veth. GRE headers written by tools/tunnel_endpoint.py (this kernel has no ip_gre module) as Linux ip_gre writes them for 'ip link add ... type gretap|gre key N': 8 bytes, flags 0x2000 (K only: no checksum, no sequence number), version 0, then the key; sent over a raw IPPROTO_GRE socket (the kernel makes the outer IPv4 header). 1) gretap (Open vSwitch-style L2 GRE): protocol type 0x6558 Transparent Ethernet Bridging, key 100, inner Ethernet / IPv4 198.19.100.1 -> 198.19.100.2: $K6443. 2) gre (L3): protocol type 0x0800, key 200, inner IPv4 directly (no inner Ethernet) 198.19.200.1 -> 198.19.200.2: $A10250." \
    "inner ARP inside the gretap tunnel" '--outcome' '*=completed'
}

cap_erspan() {
  local f=tunnel-erspan.pcap
  log "$f"
  underlay_up
  endpoint $NS_A erspan2 erspan1 198.18.0.1 198.18.0.2 --session 10 --index 123
  endpoint $NS_B erspan2 erspan1 198.18.0.2 198.18.0.1 --session 10 --index 123
  endpoint $NS_A erspan3 erspan2 198.18.0.1 198.18.0.2 --session 20 --hwid 7 --direction 0
  endpoint $NS_B erspan3 erspan2 198.18.0.2 198.18.0.1 --session 20 --hwid 7 --direction 1
  l2dev $NS_A erspan1 02:00:5e:c1:6e:01 198.19.110.1/24 1450
  l2dev $NS_B erspan1 02:00:5e:c1:6e:02 198.19.110.2/24 1450
  l2dev $NS_A erspan2 02:00:5e:c1:78:01 198.19.120.1/24 1446
  l2dev $NS_B erspan2 02:00:5e:c1:78:02 198.19.120.2/24 1446
  tunnel_servers
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-u1 "$OUT/$f"
  tunnel_conns 198.19.110.2 198.19.120.2
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 1 2 'gre.proto==0x88be && erspan.version==1 && erspan.spanid==10'
  check_tls "$OUT/$f" 1 2 'gre.proto==0x22eb && erspan.version==2 && erspan.spanid==20'
  [[ $(ts "$OUT/$f" -Y 'tcp && !erspan' | wc -l) == 0 ]] || die "$f: TCP outside ERSPAN"
  expect $f 2 \
    "ERSPAN over GRE between two network namespaces over a veth underlay (outer 198.18.0.1 <-> 198.18.0.2, IPv4 protocol 47, DF set, TTL 64), captured on the server namespace's underlay veth; used here as a two-way L2 tunnel (Linux erspan devices decapsulate what they receive). Headers written by tools/tunnel_endpoint.py (this kernel has no ip_gre module) as Linux ip_gre's erspan_xmit() with erspan_build_header() / erspan_build_header_v2() does: GRE 8 bytes with flags 0x1000 (S only) and a sequence number counting from 0 per tunnel and direction, then the ERSPAN header, then the mirrored Ethernet frame. 1) ERSPAN type II (GRE protocol 0x88be; ERSPAN version 1, VLAN 0, COS 0, En 0, T 0, session ID 10, index 123), device erspan1, inner 198.19.110.1 -> 198.19.110.2: $K6443. 2) ERSPAN type III (GRE protocol 0x22eb; ERSPAN version 2, session ID 20, BSO 1 for frames under 60 bytes else 0, timestamp in 100 us units, SGT 0, P 1, FT 0, hardware ID 7, direction 0 from node A and 1 from node B, granularity 0), device erspan2, inner 198.19.120.1 -> 198.19.120.2: $A10250." \
    "inner ARP inside each ERSPAN tunnel" '--outcome' '*=completed'
}

cap_ipip() {
  local f=tunnel-ipip-nested.pcap
  log "$f"
  underlay_up
  # Node A/B: two IPv4-in-IPv4 levels. ipip-in carries the inner 198.19.5.0/24 and sends to the
  # middle address 198.19.4.x, which is routed into ipip-mid, whose endpoint sends to the underlay.
  local ns me peer n
  for n in 1 2; do
    if ((n == 1)); then ns=$NS_A me=198.18.0.1 peer=198.18.0.2; else ns=$NS_B me=198.18.0.2 peer=198.18.0.1; fi
    local o=$((3 - n))
    endpoint $ns ipip ipip-mid $me $peer
    l3dev $ns ipip-mid 198.19.4.$n 198.19.4.$o 1480
    endpoint $ns ipip ipip-in 198.19.4.$n 198.19.4.$o
    l3dev $ns ipip-in 198.19.5.$n 198.19.5.$o 1460
    endpoint $ns sit sit1 $me $peer
    ip -n $ns link set sit1 mtu 1480
    ipv6_on $ns sit1
    ip -n $ns addr add 2001:db8:41::$n/64 dev sit1 nodad
    ip -n $ns link set sit1 up
  done
  srv_start $NS_B 6443 "$SRV_CRT" "$SRV_KEY" 1 -4
  srv_start $NS_B '[::]:10250' "$KSRV_CRT" "$KSRV_KEY" 1 -6
  wait_listen $NS_B 6443; wait_listen $NS_B 10250
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-u1 "$OUT/$f"
  tunnel_conns 198.19.5.2 '[2001:db8:41::2]'
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 1 2 'ip.proto==4 && (ip.src==198.19.4.1 || ip.src==198.19.4.2)'
  check_tls "$OUT/$f" 1 2 'ip.proto==41 && ipv6'
  [[ $(ts "$OUT/$f" -Y 'tcp.port==6443 && !(ip.addr==198.19.4.1 && ip.addr==198.19.5.1)' | wc -l) == 0 ]] \
    || die "$f: a 6443 packet without both tunnel levels"
  [[ $(ts "$OUT/$f" -Y 'icmp || icmpv6.type < 128' | wc -l) == 0 ]] || die "$f: ICMP errors on the underlay"
  expect $f 2 \
    "IP-in-IP between two network namespaces over a veth underlay (outer 198.18.0.1 <-> 198.18.0.2), captured on the server namespace's underlay veth. Written by tools/tunnel_endpoint.py (this kernel has no ipip or sit module): each level is one endpoint on a tun device sending through a raw IPv4 socket (IPPROTO_IPIP 4 or IPPROTO_IPV6 41), so every outer IPv4 header is made by the kernel (DF set, TTL 64, RFC 2003 / RFC 4213: nothing between the headers). 1) IPv4-in-IPv4 nested twice: outer IPv4 198.18.0.1 -> 198.18.0.2 protocol 4 / middle IPv4 198.19.4.1 -> 198.19.4.2 protocol 4 / inner IPv4 198.19.5.1 -> 198.19.5.2 / TCP (three IPv4 headers; devices ipip-mid and ipip-in, MTU 1480 and 1460): $K6443. 2) IPv6-in-IPv4 (sit, protocol 41): outer IPv4 198.18.0.1 -> 198.18.0.2 / inner IPv6 2001:db8:41::1 -> [2001:db8:41::2] / TCP: $A10250." \
    "IPv6 MLD reports inside the sit tunnel, if any" '--outcome' '*=completed'
}

# ---------------------------------------------------------------- 3./4. proxies
# client cwt-a cwt-c0 198.18.0.1 <-> cwt-p0 198.18.0.2 [proxy cwt-p] cwt-p1 198.18.1.254 <-> cwt-s0 198.18.1.2 cwt-b
proxy_net() {
  ns_fresh $NS_A $NS_P $NS_B
  veth $NS_A cwt-c0 02:00:5e:c1:a0:01 198.18.0.1/24 $NS_P cwt-p0 02:00:5e:c1:a0:02 198.18.0.2/24
  veth $NS_P cwt-p1 02:00:5e:c1:a1:fe 198.18.1.254/24 $NS_B cwt-s0 02:00:5e:c1:a1:02 198.18.1.2/24
  mkdir -p /etc/netns/$NS_A /etc/netns/$NS_P
  printf '127.0.0.1\tlocalhost\n198.18.1.2\tkubernetes node1\n' >/etc/netns/$NS_P/hosts
  printf '127.0.0.1\tlocalhost\n198.18.1.2\tkubernetes node1\n' >/etc/netns/$NS_A/hosts
  # kubeconfigs for kubectl: admin.conf's user and CA, server by name or by IP
  local kc=$CAP/node/etc/kubernetes/admin.conf
  grep client-certificate-data "$kc" | awk '{print $2}' | base64 -d >"$WORK/admin.crt"
  grep client-key-data "$kc" | awk '{print $2}' | base64 -d >"$WORK/admin.key"
  mkdir -p "$WORK/home"
  local name server
  for name in byname byip; do
    if [[ $name == byname ]]; then server=https://kubernetes:6443; else server=https://198.18.1.2:6443; fi
    KUBECONFIG=$WORK/$name.conf kubectl config set-cluster kubernetes --server=$server \
      --certificate-authority="$CA" --embed-certs=true >/dev/null
    [[ $name == byip ]] && KUBECONFIG=$WORK/$name.conf kubectl config set-cluster kubernetes --tls-server-name=kubernetes >/dev/null
    KUBECONFIG=$WORK/$name.conf kubectl config set-credentials kubernetes-admin \
      --client-certificate="$WORK/admin.crt" --client-key="$WORK/admin.key" --embed-certs=true >/dev/null
    KUBECONFIG=$WORK/$name.conf kubectl config set-context admin --cluster=kubernetes --user=kubernetes-admin >/dev/null
    KUBECONFIG=$WORK/$name.conf kubectl config use-context admin >/dev/null
  done
}
KUBECTL_SAID=; CURL_SAID=
kubectl_run() { # kubeconfig-name proxy-url
  local out=$WORK/kubectl.out
  ip netns exec $NS_A env -i HOME=$WORK/home PATH=/usr/bin:/bin HTTPS_PROXY="$2" \
    timeout 30 "$KUBECTL" --kubeconfig "$WORK/$1.conf" --request-timeout=10s get --raw /version >"$out" 2>&1 \
    && KUBECTL_RC=0 || KUBECTL_RC=$?
  KUBECTL_SAID="exit status $KUBECTL_RC, output: $(head -c 160 "$out" | tr '\n' ' ' | sed "s|$CAP/||g; s/  */ /g; s/ \$//")..."
  log "kubectl ($1, HTTPS_PROXY=$2): $KUBECTL_SAID"
  sleep 0.3
}
curl_run() { # curl args...
  local out=$WORK/curl.out
  ip netns exec $NS_A env SSLKEYLOGFILE="$KEYS" timeout 30 curl -sS --tlsv1.2 --tls-max 1.2 \
    --cacert "$CA" "$@" >"$out" 2>&1 && CURL_RC=0 || CURL_RC=$?
  CURL_SAID="exit status $CURL_RC, first line: $(head -1 "$out" | tr -d '\r' | sed "s|$CAP/||g")"
  log "curl $*: $CURL_SAID"
  sleep 0.3
}

cap_proxy_connect() {
  local f=proxy-connect.pcap up=proxy-connect-upstream.pcap
  log "$f + $up"
  proxy_net
  cat >"$WORK/tinyproxy.conf" <<EOF
Port 3128
Listen 198.18.0.2
Timeout 60
LogFile "$WORK/tinyproxy.log"
LogLevel Info
PidFile "$WORK/tinyproxy.pid"
MaxClients 10
Allow 198.18.0.0/24
ConnectPort 6443
DisableViaHeader Yes
EOF
  ip netns exec $NS_P tinyproxy -d -c "$WORK/tinyproxy.conf" >"$WORK/tinyproxy.out" 2>&1 &
  PIDS+=($!)
  wait_listen $NS_P 3128
  srv_start $NS_B 198.18.1.2:6443 "$SRV_CRT" "$SRV_KEY" 3
  wait_listen $NS_B 6443
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_P cwt-p1 "$OUT/$up"; local up_pid=$TD_PID up_log=$TD_LOG
  td_start $NS_P cwt-p0 "$OUT/$f"
  # 1) s_client -proxy: CONNECT kubernetes:6443
  cli $NS_A kubernetes:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1 -proxy 198.18.0.2:3128
  # 2) kubectl, HTTPS_PROXY, kubeconfig by IP (tls-server-name kubernetes)
  kubectl_run byip http://198.18.0.2:3128; local k_said=$KUBECTL_SAID
  # 3) curl --proxy, by name, node2's kubelet client cert
  curl_run --proxy http://198.18.0.2:3128 --cert "$N2_CRT" --key "$N2_KEY" https://kubernetes:6443/healthz
  local c_said=$CURL_SAID
  td_stop; td_stop "$up_pid" "$up_log"; srv_wait_all
  # the same TLS sessions pass through the proxy unchanged: the key log fits both captures
  cp "$KEYS" "$OUT/keylogs/$up.keys"; chmod 644 "$OUT/keylogs/$up.keys"
  log "tinyproxy log:"; sed 's/^/   /' "$WORK/tinyproxy.log" >&2 || true
  show "$OUT/$f"; show "$OUT/$up"
  [[ $(ts "$OUT/$f" -Y 'http.request.method == "CONNECT"' | wc -l) == 3 ]] || die "$f: want 3 CONNECT requests"
  check_tls "$OUT/$f" 3 6 'tcp.port==3128'
  check_tls "$OUT/$up" 3 6 'tcp.port==6443'
  local connects
  connects=$(python3 "$EXPECTED_PY" "$OUT/$f" -o - 2>/dev/null | python3 -c '
import json, sys
print("; ".join("#%d %s -> %s" % (i, c["proxy"]["request"], c["proxy"]["status"])
                for i, c in enumerate(json.load(sys.stdin)["connections"], 1)))')
  log "$f: CONNECT/response per stream: $connects"
  local who="1) kubelet: openssl s_client -proxy 198.18.0.2:3128 -connect kubernetes:6443 (CONNECT kubernetes:6443 HTTP/1.0, as OpenSSL 3.0 writes it), then $K6443. 2) kubectl $KUBECTL_VERSION get --raw /version with HTTPS_PROXY=http://198.18.0.2:3128 and a kubeconfig with admin.conf's user (CN=kubernetes-admin, O=system:masters; Go sends the leaf only), server https://198.18.1.2:6443 and tls-server-name kubernetes (CONNECT 198.18.1.2:6443 HTTP/1.1 from Go's http.Transport): TLS 1.2 (the server allows only 1.2), SNI kubernetes, ALPN h2,http/1.1, no ALPN selected (s_server without -alpn), then Go's GET /version over HTTP/1.1; kubectl said: $k_said. 3) curl 7.88.1 --proxy http://198.18.0.2:3128 --cert pki-extra/node2-kubelet-client.crt https://kubernetes:6443/healthz (CONNECT kubernetes:6443 HTTP/1.1): TLS 1.2, SNI kubernetes, ALPN h2,http/1.1; curl said: $c_said. All three completed; key log: s_client and curl lines (kubectl cannot write one)."
  expect $f 3 \
    "HTTP CONNECT proxy: tinyproxy 1.11.1 (Debian) in its own namespace listening on 198.18.0.2:3128 (not a port certwire follows), captured by tcpdump on the proxy's client-side veth (client 198.18.0.1 <-> proxy 198.18.0.2). Each TCP connection to 3128 carries an HTTP CONNECT request naming the target, tinyproxy's 'HTTP/1.0 200 Connection established', then TLS to the apiserver (openssl s_server on 198.18.1.2:6443, apiserver.crt + ca.crt, TLS 1.2 only, client certificate required; the proxy resolves kubernetes to 198.18.1.2). tshark's request line and status per connection (tools/expected.py, field proxy): $connects. $who The same connections as the proxy sent them upstream are in proxy-connect-upstream.pcap." \
    "nothing (ARP)" --outcome '*=completed'
  expect $up 3 \
    "The upstream side of proxy-connect.pcap: tinyproxy 1.11.1 (198.18.1.254) -> apiserver 198.18.1.2:6443, captured on the proxy's server-side veth at the same time: plain TCP + TLS on 6443, no preamble; the three TLS handshakes byte for byte as in proxy-connect.pcap (tinyproxy relays the bytes). $who" \
    "nothing (ARP)" --outcome '*=completed'
}

cap_proxy_socks() {
  local f=proxy-socks5.pcap
  log "$f"
  proxy_net
  cat >"$WORK/danted.conf" <<EOF
logoutput: $WORK/danted.log
internal: 198.18.0.2 port = 1080
external: 198.18.1.254
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 198.18.0.0/24 to: 0.0.0.0/0
  log: connect disconnect error
}
socks pass {
  from: 198.18.0.0/24 to: 0.0.0.0/0
  command: connect
  log: connect disconnect error
}
EOF
  ip netns exec $NS_P danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" >"$WORK/danted.out" 2>&1 &
  PIDS+=($!)
  wait_listen $NS_P 1080
  srv_start $NS_B 198.18.1.2:6443 "$SRV_CRT" "$SRV_KEY" 4
  wait_listen $NS_B 6443
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_P cwt-p0 "$OUT/$f"
  curl_run --socks5-hostname 198.18.0.2:1080 --cert "$KCLI_PEM" --key "$KCLI_PEM" https://kubernetes:6443/healthz
  local c1=$CURL_SAID
  curl_run --socks5 198.18.0.2:1080 --cert "$N2_CRT" --key "$N2_KEY" https://kubernetes:6443/healthz
  local c2=$CURL_SAID
  kubectl_run byname socks5://198.18.0.2:1080; local k_said=$KUBECTL_SAID
  curl_run --socks4 198.18.0.2:1080 --cert "$KCLI_PEM" --key "$KCLI_PEM" https://kubernetes:6443/healthz
  local c4=$CURL_SAID
  td_stop; srv_wait_all
  log "danted log:"; sed 's/^/   /' "$WORK/danted.log" >&2 || true
  show "$OUT/$f"
  check_tls "$OUT/$f" 4 8 'tcp.port==1080'
  local socks
  socks=$(python3 "$EXPECTED_PY" "$OUT/$f" -o - 2>/dev/null | python3 -c '
import json, sys
print("; ".join("#%d %s %s %s, reply %s" % (i, c["proxy"]["protocol"], c["proxy"]["address_type"], c["proxy"]["target"], c["proxy"]["reply_text"])
                for i, c in enumerate(json.load(sys.stdin)["connections"], 1)))')
  log "$f: SOCKS per stream: $socks"
  expect $f 4 \
    "SOCKS proxy: dante 1.4.2 danted (Debian dante-server) in its own namespace on 198.18.0.2:1080, no authentication (method 0), captured by tcpdump on the proxy's client-side veth (client 198.18.0.1 <-> proxy 198.18.0.2): each TCP connection to 1080 starts with the SOCKS exchange, then TLS to the apiserver (openssl s_server 198.18.1.2:6443, apiserver.crt + ca.crt, TLS 1.2 only, client certificate required; danted resolves kubernetes to 198.18.1.2). tshark's SOCKS request and reply per connection (tools/expected.py, field proxy): $socks. 1) curl --socks5-hostname 198.18.0.2:1080 https://kubernetes:6443/healthz with the kubelet's client cert (SOCKS5 greeting, CONNECT with the domain name kubernetes, port 6443), then $K6443 but from curl; curl said: $c1. 2) curl --socks5 (curl resolves kubernetes itself: CONNECT to IPv4 198.18.1.2:6443) with pki-extra/node2-kubelet-client.crt: TLS 1.2, SNI kubernetes, ALPN h2,http/1.1; curl said: $c2. 3) kubectl $KUBECTL_VERSION get --raw /version with HTTPS_PROXY=socks5://198.18.0.2:1080, kubeconfig server https://kubernetes:6443 with admin.conf's user (Go sends the domain name kubernetes; leaf only; SNI kubernetes, ALPN h2,http/1.1); kubectl said: $k_said. 4) curl --socks4 (SOCKS4 CONNECT to 198.18.1.2:6443, user id empty) with the kubelet's client cert; curl said: $c4. All four TLS handshakes completed; key log: curl's lines (kubectl cannot write one)." \
    "nothing (ARP)" --outcome '*=completed'
}

# ---------------------------------------------------------------- 5. never connected
cap_never() {
  local f=never-connected.pcap
  log "$f"
  ns_fresh $NS_A $NS_B
  veth $NS_A cwt-c0 02:00:5e:c1:b0:01 198.18.0.1/24 $NS_B cwt-s0 02:00:5e:c1:b0:02 198.18.0.2/24
  ip -n $NS_A addr add 198.18.0.11/24 dev cwt-c0
  ip netns exec $NS_B nft -f - <<'EOF'
table ip certwire {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 10250 drop
    tcp dport 2379 reject with icmp type port-unreachable
  }
}
EOF
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-s0 "$OUT/$f"
  local said=()
  # a) kubectl -> 6443, nothing listens: the kernel answers RST
  local kc=$WORK/never.conf
  KUBECONFIG=$kc kubectl config set-cluster k --server=https://198.18.0.2:6443 --certificate-authority="$CA" --embed-certs=true >/dev/null
  KUBECONFIG=$kc kubectl config set-credentials a --client-certificate="$ACLI_CRT" --client-key="$ACLI_KEY" --embed-certs=true >/dev/null
  KUBECONFIG=$kc kubectl config set-context k --cluster=k --user=a >/dev/null
  KUBECONFIG=$kc kubectl config use-context k >/dev/null
  mkdir -p "$WORK/home"
  ip netns exec $NS_A env -i HOME=$WORK/home PATH=/usr/bin:/bin timeout 30 "$KUBECTL" --kubeconfig "$kc" \
    --request-timeout=5s get --raw /version >"$WORK/a.out" 2>&1 || true
  said+=("a) kubectl: $(tr '\n' ' ' <"$WORK/a.out" | sed 's/ *$//')")
  sleep 1
  # b) apiserver -> kubelet 10250, dropped: SYN retransmissions until curl gives up after 5 s
  #    (kernel defaults: net.ipv4.tcp_syn_linear_timeouts=4 on Linux >= 6.7, so 1 s apart)
  ip netns exec $NS_A curl -sS --connect-timeout 5 --cacert "$CA" --cert "$ACLI_CRT" --key "$ACLI_KEY" \
    https://198.18.0.2:10250/healthz >"$WORK/b.out" 2>&1 || true
  said+=("b) curl: $(tr '\n' ' ' <"$WORK/b.out" | sed 's/ *$//')")
  sleep 1
  # c) -> etcd 2379, rejected with ICMP port unreachable
  ip netns exec $NS_A curl -sS --connect-timeout 5 --cacert "$PKI/etcd/ca.crt" \
    --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key" \
    https://198.18.0.2:2379/health >"$WORK/c.out" 2>&1 || true
  said+=("c) curl: $(tr '\n' ' ' <"$WORK/c.out" | sed 's/ *$//')")
  sleep 1
  # d) the kubelet (198.18.0.11) retrying 6443 three times, a second apart
  local i
  for i in 1 2 3; do
    ip netns exec $NS_A curl -sS --interface 198.18.0.11 --connect-timeout 5 --cacert "$CA" \
      --cert "$KCLI_PEM" --key "$KCLI_PEM" https://198.18.0.2:6443/healthz >"$WORK/d$i.out" 2>&1 || true
    said+=("d$i) curl: $(tr '\n' ' ' <"$WORK/d$i.out" | sed 's/ *$//')")
    sleep 1
  done
  # e) the apiserver is up: the kubelet's next attempt connects
  srv_start $NS_B 6443 "$SRV_CRT" "$SRV_KEY" 1
  wait_listen $NS_B 6443
  cli $NS_A 198.18.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1 -bind 198.18.0.11:0
  td_stop; srv_wait_all
  show "$OUT/$f"
  ts "$OUT/$f" -Y 'tcp.flags.syn==1 || tcp.flags.reset==1 || icmp' | sed 's/^/   /' >&2
  check_tls "$OUT/$f" 1 2 'tcp.port==6443'
  local attempts
  attempts=$(python3 "$EXPECTED_PY" "$OUT/$f" --tcp-attempts -o - 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
out = []
for i, t in enumerate(d["tcp_attempts"], 1):
    out.append("%s -> %s: %d SYN(s) at %s s, answer %s" % (t["client"], t["server"], len(t["syn_times"]),
               ", ".join("%.3f" % x for x in t["syn_times"]), t["answer"]))
print("; ".join(out))')
  log "$f: attempts: $attempts"
  local s
  s=$(printf '%s; ' "${said[@]}")
  expect $f 1 \
    "TCP connections that never connected, client namespace 198.18.0.1 (and the kubelet's address 198.18.0.11) -> server namespace 198.18.0.2 over a veth, captured on the server's veth. The server's nftables input chain drops TCP to 10250 and rejects TCP to 2379 with ICMP port unreachable; at first nothing listens on 6443. a) kubectl (apiserver-kubelet-client cert, irrelevant: no TLS happens) get --raw /version to https://198.18.0.2:6443: the kernel answers the SYN with RST/ACK (connection refused). b) curl --connect-timeout 5 https://198.18.0.2:10250/healthz: the SYN is dropped and never answered; the client's kernel retransmits it until curl gives up at 5 s (Linux 6.18 with its default net.ipv4.tcp_syn_linear_timeouts=4, in place since Linux 6.7: the first four retransmissions come 1 s apart, where older kernels wait 1, 2, 4 s). c) curl --connect-timeout 5 https://198.18.0.2:2379/health: the server's nftables answers with ICMP destination unreachable, port unreachable (type 3 code 3) quoting the SYN. d) the kubelet (curl --interface 198.18.0.11, kubelet client cert) tries https://198.18.0.2:6443/healthz three times, one second apart: three SYNs each answered by RST/ACK. e) then openssl s_server starts on 6443 and the kubelet's next attempt (s_client -bind 198.18.0.11) connects: $K6443. tshark, per TCP attempt that never connected (tools/expected.py --tcp-attempts, times relative to the first packet): $attempts. What the clients said: $s" \
    "ARP; the never-connected attempts are listed in tcp_attempts, not as connections" \
    --tcp-attempts --outcome '*=completed'
}

# ---------------------------------------------------------------- 6. other ports
cap_other_ports() {
  local f=other-ports.pcap
  log "$f"
  ns_fresh $NS_A $NS_B
  veth $NS_A cwt-c0 02:00:5e:c1:c0:01 198.18.0.1/24 $NS_B cwt-s0 02:00:5e:c1:c0:02 198.18.0.2/24
  grep client-certificate-data "$CAP/node/etc/kubernetes/admin.conf" | awk '{print $2}' | base64 -d >"$WORK/admin.crt"
  grep client-key-data "$CAP/node/etc/kubernetes/admin.conf" | awk '{print $2}' | base64 -d >"$WORK/admin.key"
  srv_start $NS_B 443 "$SRV_CRT" "$SRV_KEY" 1
  # 8443: an aggregated API server: verifies the front-proxy client (CA front-proxy-ca), serves
  # kubelet.crt with ca.crt as its chain
  ip netns exec $NS_B openssl s_server -accept 8443 -cert "$KSRV_CRT" -key "$KSRV_KEY" -cert_chain "$CA" \
     -CAfile "$FP_CA" -Verify 1 -verify_return_error -www -naccept 1 -tls1_2 \
     </dev/null >"$WORK/s_server.8443.log" 2>&1 &
  SRV_PIDS+=($!); PIDS+=($!)
  srv_start $NS_B 6443 "$SRV_CRT" "$SRV_KEY" 1
  wait_listen $NS_B 443; wait_listen $NS_B 8443; wait_listen $NS_B 6443
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-s0 "$OUT/$f"
  cli $NS_A 198.18.0.2:443 "$WORK/admin.crt" "$WORK/admin.key" kubernetes h2,http/1.1
  cli $NS_A 198.18.0.2:8443 "$FPC_CRT" "$FPC_KEY" metrics-server.kube-system.svc http/1.1
  cli $NS_A 198.18.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
  td_stop; srv_wait_all
  show "$OUT/$f"
  check_tls "$OUT/$f" 3 6 'tcp.port in {443,8443,6443}'
  expect $f 1 \
    "TLS on ports certwire does not follow by default, and one it does; client 198.18.0.1 -> server namespace 198.18.0.2 over a veth, captured on the server's veth; openssl s_server/s_client, TLS 1.2, all completed. 1) :443 (the kubernetes Service port): kubectl-like client with admin.conf's cert (CN=kubernetes-admin, O=system:masters) + ca.crt, SNI kubernetes, ALPN h2,http/1.1 -> apiserver.crt + ca.crt, CertificateRequest CA CN=kubernetes. 2) :8443 (an aggregated API server): the apiserver's front-proxy-client.crt (issuer front-proxy-ca; leaf only: s_client's -CAfile ca.crt holds no issuer to add), SNI metrics-server.kube-system.svc, ALPN http/1.1 -> server kubelet.crt + ca.crt (-cert_chain), CertificateRequest CA CN=front-proxy-ca. 3) :6443: $K6443. With the default ports only #3 is a connection; other_ports counts the TLS handshakes seen on 443 and 8443 (one each) and lists them as tshark decodes them (tools/expected.py --other-ports)." \
    "ARP" --other-ports --outcome '*=completed'
}

# ---------------------------------------------------------------- 7. TLS 1.3 HelloRetryRequest
cap_hrr() {
  local f=tls13-hrr.pcap
  log "$f"
  ns_fresh $NS_A $NS_B
  veth $NS_A cwt-c0 02:00:5e:c1:d0:01 198.18.0.1/24 $NS_B cwt-s0 02:00:5e:c1:d0:02 198.18.0.2/24
  ip netns exec $NS_B openssl s_server -accept 6443 -cert "$SRV_CRT" -key "$SRV_KEY" -CAfile "$CA" \
     -Verify 1 -verify_return_error -www -naccept 2 -tls1_3 -groups P-256 -alpn h2,http/1.1 \
     </dev/null >"$WORK/s_server.hrr.log" 2>&1 &
  SRV_PIDS+=($!); PIDS+=($!)
  wait_listen $NS_B 6443
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-s0 "$OUT/$f"
  local g
  for g in X25519:P-256 P-256:X25519; do
    printf 'GET /healthz HTTP/1.0\r\n\r\n' | ip netns exec $NS_A timeout 20 openssl s_client \
       -connect 198.18.0.2:6443 -tls1_3 -groups $g -cert "$KCLI_PEM" -key "$KCLI_PEM" -CAfile "$CA" \
       -servername kubernetes -alpn h2,http/1.1 -keylogfile "$KEYS" -ign_eof >"$WORK/s_client.log" 2>&1 \
       || { cat "$WORK/s_client.log" >&2; die "s_client -groups $g failed"; }
    grep -q '^New, TLSv1.3' "$WORK/s_client.log" || { cat "$WORK/s_client.log" >&2; die "no TLS 1.3"; }
    log "s_client -groups $g: $(grep -E '^(New,|Verify return code|Server Temp Key)' "$WORK/s_client.log" | tr '\n' ' ')"
    sleep 0.3
  done
  td_stop; srv_wait_all
  show "$OUT/$f"
  local hrr
  hrr=$(ts "$OUT/$f" -Y 'tls.handshake.type==2 && tls.handshake.random==cf:21:ad:74:e5:9a:61:11:be:1d:8c:02:1e:65:b8:91:c2:a2:11:16:7a:bb:8c:5e:07:9e:09:e2:c8:a8:33:9c' \
        -T fields -e tcp.stream -e tls.handshake.extensions_key_share_selected_group)
  [[ $(wc -l <<<"$hrr") == 1 && $hrr == 0$'\t'23 ]] || die "$f: want one HRR in stream 0 asking for group 23 (secp256r1), tshark: '$hrr'"
  local shares
  shares=$(ts "$OUT/$f" -Y 'tls.handshake.type==1' -T fields -e tcp.stream -e tls.handshake.extensions_key_share_group | tr '\t\n' ' ;')
  log "$f: ClientHello key shares per stream: $shares"
  local sc="TLS 1.3 HelloRetryRequest: kubelet (s_client -tls1_3, kubelet-client-2026-11-27-09-30-00.pem = kubelet-client-current.pem, SNI kubernetes, ALPN h2,http/1.1, key log keylogs/tls13-hrr.pcap.keys) 198.18.0.1 -> apiserver 198.18.0.2:6443 (openssl s_server -tls1_3 -groups P-256, apiserver.crt + ca.crt, client certificate required, ALPN h2,http/1.1) over a veth, captured on the server's veth. 1) client -groups X25519:P-256: the first ClientHello carries only an X25519 (29) key share; the server answers with a HelloRetryRequest (ServerHello with the RFC 8446 HRR random cf21ad74...) whose key_share asks for group 23 secp256r1 (P-256); the client sends a second ClientHello with a secp256r1 key share, then the handshake completes (the server's middlebox-compatibility ChangeCipherSpec follows the HRR). 2) client -groups P-256:X25519: its first key share is already secp256r1, no HRR. tshark's ClientHello key_share groups per stream (stream group;): $shares. Both completed, TLS_AES_256_GCM_SHA384; certificates encrypted (visible with the key log: tls13-hrr.pcap.decrypted.json)."
  expect $f 2 "$sc" "ARP" --outcome '*=completed'
  python3 "$EXPECTED_PY" "$OUT/$f" --scenario "$sc" --ignored "ARP" --outcome '*=completed' \
     --keylog "$KEYS" --expect-connections 2 -o "$OUT/expected/$f.decrypted.json"
  python3 "$TOOLS/records.py" "$OUT/$f" --keylog "$KEYS" -o "$OUT/expected/$f.records.json"
}

# ---------------------------------------------------------------- 8. RFC 8879 compressed certificates
# BoringSSL (Debian android-libboringssl: Android 13's) implements RFC 8879 and takes the
# compression functions from the application: scripts/certcomp registers zlib and brotli.
cap_certcomp() {
  local f=tls13-compressed-cert.pcap
  log "$f"
  local bdir=/usr/lib/x86_64-linux-gnu/android
  gcc -O2 -Wall -I/usr/include/android "$HERE/certcomp/certcomp.c" -L$bdir -Wl,-rpath,$bdir \
    -lssl -lcrypto -lz -lbrotlienc -lbrotlidec -o "$WORK/certcomp"
  ns_fresh $NS_A $NS_B
  veth $NS_A cwt-c0 02:00:5e:c1:e0:01 198.18.0.1/24 $NS_B cwt-s0 02:00:5e:c1:e0:02 198.18.0.2/24
  cat "$SRV_CRT" "$CA" >"$WORK/apiserver-chain.pem"
  ip netns exec $NS_B "$WORK/certcomp" server 6443 "$WORK/apiserver-chain.pem" "$SRV_KEY" "$CA" 3 brotli,zlib \
    2>"$WORK/certcomp.server.log" &
  SRV_PIDS+=($!); PIDS+=($!)
  wait_listen $NS_B 6443
  keys_begin $f
  TSHARK_ARGS=()
  td_start $NS_B cwt-s0 "$OUT/$f"
  local alg said=()
  for alg in brotli zlib none; do
    ip netns exec $NS_A timeout 20 "$WORK/certcomp" client 198.18.0.2 6443 "$KCLI_PEM" "$KCLI_PEM" "$CA" \
      kubernetes $alg "$KEYS" 2>"$WORK/certcomp.client.log" || { cat "$WORK/certcomp.client.log" >&2; die "certcomp client $alg failed"; }
    said+=("$alg: $(tr '\n' ' ' <"$WORK/certcomp.client.log" | sed 's/ *$//')")
    log "certcomp client $alg: ${said[-1]}"
    sleep 0.3
  done
  td_stop; srv_wait_all
  log "server: $(tr '\n' ' ' <"$WORK/certcomp.server.log")"
  show "$OUT/$f"
  local tcs
  tcs=$(ts "$OUT/$f" -o "tls.keylog_file:$KEYS" -Y 'tls.handshake.type==25 || tls.handshake.type==11' \
        -T fields -e tcp.stream -e tcp.srcport -e tls.handshake.type -e tls.compress_certificate.algorithm \
        -e tls.compress_certificate.uncompressed_length -e tls.compress_certificate.compressed_certificate_message.length | tr '\t\n' ' ;')
  log "$f: Certificate / CompressedCertificate messages (stream, source port, types, algorithm, lengths): $tcs"
  [[ $(ts "$OUT/$f" -o "tls.keylog_file:$KEYS" -Y 'tls.handshake.type==25 && tls.compress_certificate.algorithm==2' | wc -l) == 1 ]] \
    || die "$f: no brotli CompressedCertificate"
  [[ $(ts "$OUT/$f" -o "tls.keylog_file:$KEYS" -Y 'tls.handshake.type==25 && tls.compress_certificate.algorithm==1' | wc -l) == 1 ]] \
    || die "$f: no zlib CompressedCertificate"
  local s
  s=$(printf '%s; ' "${said[@]}")
  local sc="RFC 8879 certificate compression in TLS 1.3: server and clients are scripts/certcomp, a small C program on BoringSSL (Debian bookworm's android-libboringssl 13.0.0, Android 13's BoringSSL, which implements RFC 8879 and takes the compression functions from the application via SSL_CTX_add_cert_compression_alg, as Chrome does; certcomp registers zlib = algorithm 1 (zlib compress2 level 9) and brotli = algorithm 2 (libbrotli 1.0.9, quality 11)). Client 198.18.0.1 -> server 198.18.0.2:6443 over a veth, captured on the server's veth. Server: apiserver.crt + ca.crt, TLS 1.3 only, client certificate required (CertificateRequest CA CN=kubernetes), algorithms brotli then zlib. Clients: the kubelet (kubelet-client-2026-11-27-09-30-00.pem, BoringSSL sends the leaf only), SNI kubernetes, ALPN h2,http/1.1 (none selected), GET /healthz -> HTTP/1.1 200, key log keylogs/tls13-compressed-cert.pcap.keys. 1) client offers compress_certificate [brotli]: the server sends CompressedCertificate (handshake type 25) algorithm 2 brotli instead of Certificate. 2) client offers [zlib]: CompressedCertificate algorithm 1 zlib (tshark 4.0 does not inflate zlib: tools/expected.py inflates tshark's compressed bytes with Python's zlib, decompressed_by \"python zlib\"). 3) client offers no compression: ordinary Certificate (type 11). The clients' own Certificate messages are uncompressed (BoringSSL's server does not offer compress_certificate in its CertificateRequest). tshark per record holding a Certificate (11) or CompressedCertificate (25) (stream, source port, handshake types in the record, algorithm, uncompressed length, compressed length): $tcs. All three completed, TLS_AES_128_GCM_SHA256; certificates encrypted without the key log (tls13-compressed-cert.pcap.decrypted.json shows them). certcomp said: $s"
  expect $f 3 "$sc" "ARP" --outcome '*=completed'
  python3 "$EXPECTED_PY" "$OUT/$f" --scenario "$sc" --ignored "ARP" --outcome '*=completed' \
     --keylog "$KEYS" --expect-connections 3 -o "$OUT/expected/$f.decrypted.json"
  python3 "$TOOLS/records.py" "$OUT/$f" --keylog "$KEYS" -o "$OUT/expected/$f.records.json"
}

# ---------------------------------------------------------------- main
TARGETS=("$@")
cd "$OUT"
if want tunnel-vxlan; then cap_vxlan; fi
if want tunnel-geneve; then cap_geneve; fi
if want tunnel-gre; then cap_gre; fi
if want tunnel-erspan; then cap_erspan; fi
if want tunnel-ipip-nested; then cap_ipip; fi
if want proxy-connect; then cap_proxy_connect; fi
if want proxy-socks5; then cap_proxy_socks; fi
if want never-connected; then cap_never; fi
if want other-ports; then cap_other_ports; fi
if want tls13-hrr; then cap_hrr; fi
if want tls13-compressed-cert; then cap_certcomp; fi
chmod 644 "$OUT"/*.pcap 2>/dev/null || true
log done
