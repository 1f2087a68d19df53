#!/usr/bin/env bash
# capture-links.sh: certwire sample captures for link types and TCP edge cases.
#
# Real TLS stacks (openssl s_server/s_client 3.0, Go 1.19 crypto/tls) talk across network
# namespaces that this script creates and deletes; tcpdump/dumpcap capture the traffic.
# Only where Linux cannot produce a format at all (BSD loopback DLT_NULL, big-endian pcap)
# is a real capture converted, by the committed scripts in captures/tools/.
#
# This machine's kernel has no 8021q, ipip, sit, ip6tnl or gre support and no netem, so:
#  - VLAN tags (802.1Q, and 802.1ad+802.1Q QinQ) are pushed by the kernel's own vlan code,
#    driven by a two-instruction tc/eBPF program (bpf_skb_vlan_push / bpf_skb_vlan_pop) on
#    each veth's egress/ingress, assembled here with llvm-mc;
#  - LINKTYPE_RAW comes from tun devices joined by a userspace relay (tools/tunrelay.py);
#  - IPv6 extension headers come from the IPV6_HOPOPTS/IPV6_DSTOPTS socket options of a Go
#    TLS client (scripts/exthdr-client);
#  - loss comes from iptables "statistic" random drops, reordering from an HTB qdisc with a
#    slower class for odd IP IDs.
#
# Addresses: only inside the namespaces created here: 198.18.0.0/15 (RFC 2544 benchmark
# range) and 2001:db8::/32 (documentation range).
#
# usage: capture-links.sh [NAME...]     (default: all)
#   names: vlan-8021q vlan-qinq rawip null-loopback plain big-endian midstream
#          ipv6-exthdr retransmit-reorder any-multi
# env:   OUT_DIR (default: captures/), TEST_PKI=DIR (throwaway certs: ca.crt, srv.crt/.key,
#        ks.crt/.key, kc.pem, cli.crt/.key) instead of the node/ tree.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CAP=$(cd "$HERE/.." && pwd)
OUT=${OUT_DIR:-$CAP}
TOOLS=$CAP/tools
EXPECTED_PY=${EXPECTED_PY:-$TOOLS/expected.py}
mkdir -p "$OUT" "$OUT/expected"

if [[ -n "${TEST_PKI:-}" ]]; then
  CA=$TEST_PKI/ca.crt
  SRV_CRT=$TEST_PKI/srv.crt; SRV_KEY=$TEST_PKI/srv.key          # :6443 apiserver
  KSRV_CRT=$TEST_PKI/ks.crt; KSRV_KEY=$TEST_PKI/ks.key          # :10250 kubelet
  KCLI_PEM=$TEST_PKI/kc.pem                                     # kubelet client (cert+key)
  ACLI_CRT=$TEST_PKI/cli.crt; ACLI_KEY=$TEST_PKI/cli.key        # apiserver-kubelet-client
else
  PKI=$CAP/node/etc/kubernetes/pki
  KPKI=$CAP/node/var/lib/kubelet/pki
  CA=$PKI/ca.crt
  SRV_CRT=$PKI/apiserver.crt; SRV_KEY=$PKI/apiserver.key
  KSRV_CRT=$KPKI/kubelet.crt; KSRV_KEY=$KPKI/kubelet.key
  ACLI_CRT=$PKI/apiserver-kubelet-client.crt; ACLI_KEY=$PKI/apiserver-kubelet-client.key
  # kubelet-client-current.pem is a symlink with the node's absolute target
  # (/var/lib/kubelet/pki/kubelet-client-<ts>.pem): resolve it inside node/.
  KCLI_PEM=$KPKI/kubelet-client-current.pem
  if [[ -L $KCLI_PEM ]]; then KCLI_PEM=$KPKI/$(basename "$(readlink "$KCLI_PEM")"); fi
fi
for f in "$CA" "$SRV_CRT" "$SRV_KEY" "$KSRV_CRT" "$KSRV_KEY" "$KCLI_PEM" "$ACLI_CRT" "$ACLI_KEY"; do
  [[ -r $f ]] || { echo "missing $f" >&2; exit 1; }
done

log() { echo "== $*" >&2; }
die() { echo "capture-links: $*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
need_pkgs=()
command -v iptables >/dev/null || need_pkgs+=(iptables)
command -v ethtool  >/dev/null || need_pkgs+=(ethtool)
command -v llvm-mc  >/dev/null || need_pkgs+=(llvm)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for t in tcpdump dumpcap tshark editcap capinfos openssl go python3 ip tc; do
  command -v $t >/dev/null || die "$t not found"
done

# ---------------------------------------------------------------- state and cleanup
NS_C=cwl-cli     # client namespace
NS_S=cwl-srv     # server namespace
NS_R=cwl-rtr     # router namespace (retransmit-reorder only)
WORK=$(mktemp -d /tmp/capture-links.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
  ip netns del $NS_C 2>/dev/null
  ip netns del $NS_S 2>/dev/null
  ip netns del $NS_R 2>/dev/null
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# A fresh pair of namespaces. $1 = "v4" disables IPv6 (no ND/MLD noise in IPv4 captures).
ns_fresh() {
  cleanup
  local n
  for n in $NS_C $NS_S; do
    ip netns add $n
    ip -n $n link set lo up
    ip -n $n link set lo mtu 1500
    ip netns exec $n ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec $n sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
    if [[ ${1:-} == v4 ]]; then
      ip netns exec $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
    fi
  done
}

# veth cwl-c0 (client ns) <-> cwl-s0 (server ns), fixed MACs, offloads off so that the
# capture shows wire-size segments with correct checksums.
veth_up() {
  ip link add cwl-c0 netns $NS_C address 02:00:5e:c0:00:01 type veth \
     peer name cwl-s0 netns $NS_S address 02:00:5e:c0:00:02
  ip netns exec $NS_C ethtool -K cwl-c0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec $NS_S ethtool -K cwl-s0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  if [[ ${1:-} != noaddr ]]; then
    if [[ ${1:-} != v6only ]]; then
      ip -n $NS_C addr add 198.18.0.1/24 dev cwl-c0
      ip -n $NS_S addr add 198.18.0.2/24 dev cwl-s0
    fi
    if [[ ${1:-} == v6 || ${1:-} == v6only ]]; then
      ip -n $NS_C addr add 2001:db8::1/64 dev cwl-c0 nodad
      ip -n $NS_S addr add 2001:db8::2/64 dev cwl-s0 nodad
    fi
  fi
  ip -n $NS_C link set cwl-c0 up
  ip -n $NS_S link set cwl-s0 up
}

# tun cwl-t0 (client ns) <-> cwl-t1 (server ns) through tools/tunrelay.py
tun_up() {
  rm -f "$WORK/tun.ready"
  python3 "$TOOLS/tunrelay.py" $NS_C cwl-t0 $NS_S cwl-t1 "$WORK/tun.ready" 2>"$WORK/tunrelay.log" &
  PIDS+=($!)
  local i
  for i in $(seq 50); do [[ -s $WORK/tun.ready ]] && break; sleep 0.1; done
  [[ -s $WORK/tun.ready ]] || { cat "$WORK/tunrelay.log" >&2; die "tunrelay did not start"; }
  ip -n $NS_C addr add 198.18.1.1 peer 198.18.1.2 dev cwl-t0
  ip -n $NS_S addr add 198.18.1.2 peer 198.18.1.1 dev cwl-t1
  if [[ ${1:-} == v6 ]]; then
    ip -n $NS_C addr add 2001:db8:1::1/64 dev cwl-t0 nodad
    ip -n $NS_S addr add 2001:db8:1::2/64 dev cwl-t1 nodad
  fi
  ip -n $NS_C link set cwl-t0 up
  ip -n $NS_S link set cwl-t1 up
}

# ---------------------------------------------------------------- eBPF VLAN programs
# Each program is a tc direct-action classifier calling the kernel helper
# bpf_skb_vlan_push (18) or bpf_skb_vlan_pop (19); the tag itself is written by the
# kernel's skb_vlan_push(). vlan_proto is __be16: htons(0x8100) = 0x0081 = 129,
# htons(0x88a8) = 0xa888 = 43144 on this little-endian host.
bpf_prog() { # name body-lines...
  local name=$1; shift
  {
    printf '\t.section\tclassifier,"ax",@progbits\n\t.type\t%s,@function\n\t.globl\t%s\n%s:\n' "$name" "$name" "$name"
    printf '\t%s\n' "$@"
    printf '\tr0 = 0\n\texit\n.Lend:\n\t.size\t%s, .Lend-%s\n' "$name" "$name"
    printf '\t.section\tlicense,"aw",@progbits\n\t.globl\t_license\n_license:\n\t.asciz\t"GPL"\n'
  } >"$WORK/$name.s"
  llvm-mc -arch=bpf -filetype=obj -o "$WORK/$name.o" "$WORK/$name.s"
}
bpf_build() {
  [[ -f $WORK/push_q100.o ]] && return 0
  bpf_prog push_q100 'r6 = r1' 'r2 = 129' 'r3 = 100' 'call 18'
  bpf_prog push_qinq 'r6 = r1' 'r2 = 129' 'r3 = 20' 'call 18' 'r1 = r6' 'r2 = 43144' 'r3 = 10' 'call 18'
  bpf_prog pop_one   'call 19'
  bpf_prog pop_two   'r6 = r1' 'call 19' 'r1 = r6' 'call 19'
}
vlan_attach() { # ns dev egress-prog ingress-prog
  ip netns exec "$1" tc qdisc add dev "$2" clsact
  ip netns exec "$1" tc filter add dev "$2" egress bpf da obj "$WORK/$3.o" sec classifier
  ip netns exec "$1" tc filter add dev "$2" ingress bpf da obj "$WORK/$4.o" sec classifier
}

# ---------------------------------------------------------------- capture and TLS helpers
TD_PID=; TD_LOG=
td_start() { # ns iface file [tcpdump args...]
  TD_LOG=$WORK/tcpdump.$(basename "$3").log
  ip netns exec "$1" tcpdump -i "$2" -U --immediate-mode -B 32768 -s 262144 -w "$3" "${@:4}" 2>"$TD_LOG" &
  TD_PID=$!; PIDS+=($TD_PID)
  sleep 1
}
td_stop() {
  sleep 0.5
  kill -INT "$TD_PID"; wait "$TD_PID" || true
  cat "$TD_LOG" >&2
  grep -q '^0 packets dropped by kernel' "$TD_LOG" || die "tcpdump dropped packets ($TD_LOG)"
}

SRV_PIDS=()
# openssl s_server that requests and verifies a client cert against ca.crt
srv_start() { # ns accept-spec cert key naccept [extra s_server args...]
  local tag=${2//[^0-9a-z]/_}
  ip netns exec "$1" openssl s_server -accept "$2" -cert "$3" -key "$4" -CAfile "$CA" \
     -Verify 1 -verify_return_error -www -naccept "$5" "${@:6}" \
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
# openssl s_client, TLS 1.2, sends an HTTP/1.0 request and waits for the server to close.
cli() { # ns host:port cert key sni|- alpn|- [extra s_client args...]
  local sni=() alpn=()
  if [[ $5 == - ]]; then sni=(-noservername); else sni=(-servername "$5"); fi
  [[ $6 == - ]] || alpn=(-alpn "$6")
  printf 'GET /healthz HTTP/1.0\r\n\r\n' | ip netns exec "$1" timeout 20 openssl s_client \
     -connect "$2" -tls1_2 -cert "$3" -key "$4" -CAfile "$CA" "${sni[@]}" "${alpn[@]}" \
     -ign_eof "${@:7}" >"$WORK/s_client.log" 2>&1 \
     || { cat "$WORK/s_client.log" >&2; die "s_client $2 failed"; }
  grep -q 'Verify return code: 0 (ok)' "$WORK/s_client.log" \
     || log "note: s_client $2: $(grep '^Verify return code' "$WORK/s_client.log")"
  sleep 0.3
}
wait_listen() { # ns port
  for _ in $(seq 50); do
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.1
  done
  die "nothing listens on $1:$2"
}

show() { # file
  capinfos -t -E -c -l "$1" 2>/dev/null | sed 's/^/   /' >&2
  tshark -r "$1" -Y 'tls.handshake.type==11 || tls.handshake.type==1 || tls.alert_message' 2>/dev/null | sed 's/^/   /' >&2
}

want() { # name
  local w
  [[ ${#TARGETS[@]} -eq 0 ]] && return 0
  for w in "${TARGETS[@]}"; do [[ $w == "$1" ]] && return 0; done
  return 1
}

# ---------------------------------------------------------------- the captures
cap_vlan() { # file mode(8021q|qinq)
  local f=$1 mode=$2
  log "$f"
  ns_fresh v4; veth_up; bpf_build
  if [[ $mode == 8021q ]]; then
    vlan_attach $NS_C cwl-c0 push_q100 pop_one; vlan_attach $NS_S cwl-s0 push_q100 pop_one
  else
    vlan_attach $NS_C cwl-c0 push_qinq pop_two; vlan_attach $NS_S cwl-s0 push_qinq pop_two
  fi
  srv_start $NS_S 6443 "$SRV_CRT" "$SRV_KEY" 1
  srv_start $NS_S 10250 "$KSRV_CRT" "$KSRV_KEY" 1
  wait_listen $NS_S 6443; wait_listen $NS_S 10250
  td_start $NS_S cwl-s0 "$OUT/$f"
  cli $NS_C 198.18.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
  cli $NS_C 198.18.0.2:10250 "$ACLI_CRT" "$ACLI_KEY" - http/1.1
  td_stop; srv_wait_all
  local tags
  if [[ $mode == 8021q ]]; then
    tags=$(tshark -r "$OUT/$f" -T fields -e vlan.id 2>/dev/null | sort -u | tr '\n' ' ')
    [[ $tags == "100 " ]] || die "$f: vlan ids '$tags', want 100 on every frame"
  else
    tags=$(tshark -r "$OUT/$f" -T fields -e vlan.etype -e vlan.id 2>/dev/null | sort -u | tr '\t\n' '  ')
    [[ $(tshark -r "$OUT/$f" -Y 'not (ieee8021ad.id == 10 && vlan.id == 20)' 2>/dev/null | wc -l) == 0 ]] \
      || die "$f: frames without the 802.1ad 10 / 802.1Q 20 tags"
  fi
  show "$OUT/$f"
}

cap_rawip() { # file
  local f=$1
  log "$f"
  ns_fresh; tun_up v6
  srv_start $NS_S 6443 "$SRV_CRT" "$SRV_KEY" 1 -4
  srv_start $NS_S '[2001:db8:1::2]:10250' "$KSRV_CRT" "$KSRV_KEY" 1 -6
  wait_listen $NS_S 6443; wait_listen $NS_S 10250
  td_start $NS_C cwl-t0 "$OUT/$f"
  cli $NS_C 198.18.1.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
  cli $NS_C '[2001:db8:1::2]:10250' "$ACLI_CRT" "$ACLI_KEY" - http/1.1
  td_stop; srv_wait_all
  show "$OUT/$f"
}

cap_plain() { # file: an ordinary Ethernet capture, source of big-endian.pcap and midstream*.pcap
  local f=$1
  log "$f"
  ns_fresh v4; veth_up
  srv_start $NS_S 6443 "$SRV_CRT" "$SRV_KEY" 1
  srv_start $NS_S 10250 "$KSRV_CRT" "$KSRV_KEY" 1
  wait_listen $NS_S 6443; wait_listen $NS_S 10250
  td_start $NS_C cwl-c0 "$f"
  cli $NS_C 198.18.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
  cli $NS_C 198.18.0.2:10250 "$ACLI_CRT" "$ACLI_KEY" - http/1.1
  td_stop; srv_wait_all
  show "$f"
}

cap_exthdr() { # file
  local f=$1
  log "$f"
  ns_fresh; veth_up v6only
  (cd "$HERE/exthdr-client" && GOFLAGS=-mod=mod go build -o "$WORK/exthdr-client" .)
  srv_start $NS_S '[2001:db8::2]:6443' "$SRV_CRT" "$SRV_KEY" 2 -6
  wait_listen $NS_S 6443
  td_start $NS_S cwl-s0 "$OUT/$f"
  ip netns exec $NS_C "$WORK/exthdr-client" -connect '[2001:db8::2]:6443' -cert "$KCLI_PEM" \
     -ca "${EXTHDR_CA-$CA}" -sni kubernetes -dstopts
  sleep 0.3
  ip netns exec $NS_C "$WORK/exthdr-client" -connect '[2001:db8::2]:6443' -cert "$KCLI_PEM" \
     -ca "${EXTHDR_CA-$CA}" -sni kubernetes -hopopts -dstopts
  td_stop; srv_wait_all
  local n
  n=$(tshark -r "$OUT/$f" -Y 'tcp.port==6443 && !ipv6.dstopts' 2>/dev/null | wc -l)
  show "$OUT/$f"
  log "$f: client->server frames of port 6443 without Destination Options: $n (server->client carry none)"
  [[ $(tshark -r "$OUT/$f" -Y 'ipv6.hopopts && ipv6.dstopts && tls.handshake.type==1' 2>/dev/null | wc -l) -ge 1 ]] \
    || die "$f: no ClientHello behind Hop-by-Hop + Destination Options headers"
}

# Counts, per TCP direction of port 6443 in a capture: "gap" = a segment tshark flags as a
# retransmission whose original is not in the capture; "dup" = the same seq+len captured
# twice; "reorder" = a segment whose IP ID is lower than one captured before it in the same
# direction (overtaken in the network: retransmissions get fresh, higher IDs).
tcp_edge_stats() { # file
  tshark -r "$1" -Y 'tcp.port==6443 && tcp.len>0' -T fields -e tcp.stream -e ip.src -e ip.id \
     -e tcp.seq -e tcp.len -e tcp.analysis.retransmission -e tcp.analysis.out_of_order 2>/dev/null |
  python3 -c '
import sys
seen, maxid = set(), {}
gap = dup = reorder = rtflag = oooflag = 0
for line in sys.stdin:
    stream, src, ipid, seq, ln, rt, ooo = (line.rstrip("\n").split("\t") + [""] * 7)[:7]
    key, ipid = (stream, src), int(ipid, 16)
    if (key, seq, ln) in seen:
        dup += 1
    elif rt:
        gap += 1
    if ipid < maxid.get(key, -1):
        reorder += 1
    maxid[key] = max(maxid.get(key, -1), ipid)
    seen.add((key, seq, ln))
    rtflag += bool(rt); oooflag += bool(ooo)
ok = "OK" if gap and dup and reorder and oooflag else "not yet"
print("gap-then-retransmission %d, duplicate segments %d, reordered segments %d; tshark flags: retransmission %d, out-of-order %d: %s" % (gap, dup, reorder, rtflag, oooflag, ok))
'
}

cap_retrans() { # file
  local f=$1 try
  for try in 1 2 3 4 5 6 7 8; do
    log "$f (try $try)"
    # client cwl-c0 198.18.0.1 -- cwl-r0 [router] cwl-r1 -- cwl-s0 198.19.0.2 server
    ns_fresh v4
    ip netns add $NS_R
    ip -n $NS_R link set lo up
    ip netns exec $NS_R sysctl -qw net.ipv4.ip_forward=1
    ip link add cwl-c0 netns $NS_C address 02:00:5e:c0:00:01 type veth \
       peer name cwl-r0 netns $NS_R address 02:00:5e:c0:00:fe
    ip link add cwl-s0 netns $NS_S address 02:00:5e:c0:01:02 type veth \
       peer name cwl-r1 netns $NS_R address 02:00:5e:c0:01:fe
    local n d
    for n in "$NS_C cwl-c0" "$NS_R cwl-r0" "$NS_R cwl-r1" "$NS_S cwl-s0"; do
      set -- $n
      ip netns exec $1 ethtool -K $2 tx off tso off gso off gro off >/dev/null 2>&1 || true
      ip -n $1 link set $2 up
    done
    set -- "$f"
    ip -n $NS_C addr add 198.18.0.1/24 dev cwl-c0
    ip -n $NS_R addr add 198.18.0.254/24 dev cwl-r0
    ip -n $NS_R addr add 198.19.0.254/24 dev cwl-r1
    ip -n $NS_S addr add 198.19.0.2/24 dev cwl-s0
    ip -n $NS_C route add default via 198.18.0.254
    ip -n $NS_S route add default via 198.19.0.254
    # Loss the capture cannot see: the router drops 20% of the server's data segments, so
    # the client-side capture shows a gap and later the retransmission.
    ip netns exec $NS_R iptables -A FORWARD -p tcp --sport 6443 -m length --length 300:65535 \
       -m statistic --mode random --probability 0.2 -j DROP
    # Loss the capture does see: the client's INPUT chain drops 15% after tcpdump's tap, so
    # the capture holds such a segment twice (original + retransmission).
    ip netns exec $NS_C iptables -A INPUT -p tcp --sport 6443 -m length --length 300:65535 \
       -m statistic --mode random --probability 0.15 -j DROP
    # Reordering: the router's HTB qdisc towards the client sends the server's segments with
    # an odd IP ID through a 100 Mbit/s class with a tiny bucket; even ones overtake them.
    ip netns exec $NS_R tc qdisc add dev cwl-r0 root handle 1: htb default 20
    ip netns exec $NS_R tc class add dev cwl-r0 parent 1: classid 1:10 htb rate 100mbit ceil 100mbit \
       burst 10 cburst 10 quantum 1514
    ip netns exec $NS_R tc class add dev cwl-r0 parent 1: classid 1:20 htb rate 1gbit quantum 60000
    ip netns exec $NS_R tc filter add dev cwl-r0 parent 1: protocol ip prio 1 u32 \
       match ip sport 6443 0xffff match u16 0x0001 0x0001 at 4 flowid 1:10
    srv_start $NS_S 6443 "$SRV_CRT" "$SRV_KEY" 3
    wait_listen $NS_S 6443
    td_start $NS_C cwl-c0 "$OUT/$f"
    for d in 1 2 3; do
      cli $NS_C 198.19.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1
    done
    td_stop; srv_wait_all
    local verdict
    verdict=$(tcp_edge_stats "$OUT/$f")
    log "$f: $verdict"
    if [[ $verdict == *OK* ]]; then
      if (( $(stat -c %s "$OUT/$f") < 60000 )) || ((try >= 6)); then show "$OUT/$f"; return 0; fi
      log "$f: $(stat -c %s "$OUT/$f") bytes, trying for a smaller one"
    fi
  done
  die "$f: did not get gaps, duplicates and reordering in $try tries"
}

cap_any_multi() { # file
  local f=$1
  log "$f"
  ns_fresh v4; veth_up; tun_up
  srv_start $NS_S 6443 "$SRV_CRT" "$SRV_KEY" 2 -4
  srv_start $NS_C 127.0.0.1:10250 "$KSRV_CRT" "$KSRV_KEY" 1
  wait_listen $NS_S 6443; wait_listen $NS_C 10250
  local log=$WORK/dumpcap.log
  ip netns exec $NS_C dumpcap -q -i lo -i cwl-c0 -i cwl-t0 -w "$OUT/$f" 2>"$log" &
  local dc=$!; PIDS+=($dc)
  sleep 2
  cli $NS_C 198.18.0.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1      # over the veth
  cli $NS_C 198.18.1.2:6443 "$KCLI_PEM" "$KCLI_PEM" kubernetes h2,http/1.1      # over the tun
  cli $NS_C 127.0.0.1:10250 "$ACLI_CRT" "$ACLI_KEY" - http/1.1                  # over lo
  sleep 0.5
  kill -INT $dc; wait $dc || true
  cat "$log" >&2
  srv_wait_all
  show "$OUT/$f"
}

# expected/<capture>.json from tshark + openssl via tools/expected.py
expect() { # file n-connections scenario ignored outcome...
  local f=$1 n=$2 sc=$3 ig=$4; shift 4
  local o args=()
  for o in "$@"; do args+=(--outcome "$o"); done
  python3 "$EXPECTED_PY" "$OUT/$f" --scenario "$sc" --ignored "$ig" "${args[@]}" \
     --expect-connections "$n" -o "$OUT/expected/$f.json"
}

# ---------------------------------------------------------------- main
TARGETS=("$@")
cd "$OUT"

want vlan-8021q && cap_vlan vlan-8021q.pcap 8021q
want vlan-qinq && cap_vlan vlan-qinq.pcap qinq
want rawip && cap_rawip rawip.pcap
if want null-loopback || want rawip; then
  log null-loopback.pcap
  python3 "$TOOLS/to_dlt_null.py" "$OUT/rawip.pcap" "$OUT/null-loopback.pcap"
  show "$OUT/null-loopback.pcap"
fi
if want plain || want big-endian || want midstream; then
  PLAIN=$WORK/plain.pcap
  cap_plain "$PLAIN"
  log big-endian.pcap
  python3 "$TOOLS/swap_endian.py" "$PLAIN" "$OUT/big-endian.pcap"
  show "$OUT/big-endian.pcap"
  # midstream.pcap: keep from the first ClientHello on (no SYN, SYN/ACK, ACK).
  ch=$(tshark -r "$PLAIN" -Y 'tls.handshake.type==1' -T fields -e frame.number 2>/dev/null | head -1)
  total=$(capinfos -M -c "$PLAIN" | awk '/^Number of packets/ {print $NF}')
  rm -f "$OUT/midstream.pcap" "$OUT/midstream-cut.pcap"
  editcap -F pcap -r "$PLAIN" "$OUT/midstream.pcap" "$ch-$total"
  [[ -s $OUT/midstream.pcap ]] || die "editcap failed for midstream.pcap"
  log "midstream.pcap: frames $ch- of the plain capture"; show "$OUT/midstream.pcap"
  # midstream-cut.pcap: keep from the second data segment of the first connection's
  # server flight on: ServerHello and the start of the Certificate message are missing.
  srvsegs=($(tshark -r "$PLAIN" -Y 'tcp.stream==0 && tcp.srcport==6443 && tcp.len>0' -T fields -e frame.number 2>/dev/null))
  ((${#srvsegs[@]} >= 3)) || die "server flight is not split into segments"
  editcap -F pcap -r "$PLAIN" "$OUT/midstream-cut.pcap" "${srvsegs[1]}-$total"
  [[ -s $OUT/midstream-cut.pcap ]] || die "editcap failed for midstream-cut.pcap"
  log "midstream-cut.pcap: frames ${srvsegs[1]}- of the plain capture"; show "$OUT/midstream-cut.pcap"
fi
want ipv6-exthdr && cap_exthdr ipv6-exthdr.pcap
want retransmit-reorder && cap_retrans retransmit-reorder.pcap
want any-multi && cap_any_multi any-multi.pcapng
chmod 644 "$OUT"/*.pcap "$OUT"/*.pcapng 2>/dev/null || true

# ---------------------------------------------------------------- expected values
K6443='kubelet (var/lib/kubelet/pki/kubelet-client-current.pem, ECDSA, chain sent with ca.crt by s_client) -> apiserver :6443 (apiserver.crt + ca.crt), TLS 1.2, SNI kubernetes, ALPN h2,http/1.1; the server requests a client cert (CA names: CN=kubernetes) and verifies it; GET /healthz; close_notify from both sides'
A10250='apiserver (apiserver-kubelet-client.crt + ca.crt) -> kubelet :10250 (var/lib/kubelet/pki/kubelet.crt + ca.crt), TLS 1.2, no SNI (dialed by IP), ALPN http/1.1; client cert requested and verified; GET /healthz; close_notify from both sides'
if [[ ! -f $EXPECTED_PY ]]; then
  log "no $EXPECTED_PY: expected/*.json not written"
else
  want vlan-8021q && expect vlan-8021q.pcap 2 \
    "802.1Q VLAN 100 on every frame (both directions), captured on the server's veth. 1) $K6443. 2) $A10250. Both handshakes complete. Tags are pushed/popped by the kernel (bpf_skb_vlan_push/pop in tc; this kernel has no 8021q module)." \
    "ARP inside VLAN 100" '*=completed'
  want vlan-qinq && expect vlan-qinq.pcap 2 \
    "QinQ: outer 802.1ad tag (TPID 0x88a8) VLAN 10, inner 802.1Q VLAN 20, on every frame, captured on the server's veth. 1) $K6443. 2) $A10250. Both handshakes complete." \
    "ARP inside the double tag" '*=completed'
  if want rawip; then
    expect rawip.pcap 2 \
      "LINKTYPE_RAW (no link header), captured by tcpdump on a Linux tun device; the two namespaces are joined by tools/tunrelay.py (this kernel has no ipip/sit/ip6tnl/gre). 1) IPv4 198.18.1.1 -> 198.18.1.2: $K6443. 2) IPv6 2001:db8:1::1 -> [2001:db8:1::2]: $A10250. Both complete." \
      "nothing (IPv6 router solicitations / MLD, if any)" '*=completed'
    expect null-loopback.pcap 2 \
      "LINKTYPE_NULL (BSD loopback: 4-byte little-endian address family, AF_INET=2, AF_INET6=24) CONVERTED from rawip.pcap by tools/to_dlt_null.py because Linux cannot capture DLT_NULL; packets otherwise identical. 1) IPv4 $K6443. 2) IPv6 $A10250. Both complete." \
      "nothing" '*=completed'
  fi
  if want plain || want big-endian || want midstream; then
    expect big-endian.pcap 2 \
      "Big-endian pcap (magic a1b2c3d4 stored big-endian, usec): a byte-order-swapped copy, made by tools/swap_endian.py, of a real little-endian Ethernet veth capture (x86 cannot write big-endian pcap). 1) $K6443. 2) $A10250. Both complete." \
      "ARP" '*=completed'
    expect midstream.pcap 2 \
      "Capture starting mid-connection: the big-endian.pcap source capture (little-endian) cut by editcap so it starts at connection 1's ClientHello: no SYN, SYN/ACK or ACK for connection 1. 1) $K6443 (whole TLS handshake present). 2) $A10250 (complete, with its TCP handshake)." \
      "nothing" '*=completed'
    expect midstream-cut.pcap 2 \
      "Capture starting in the middle of connection 1's server flight: the big-endian.pcap source capture cut by editcap before the server's second data segment, so ClientHello, ServerHello and the first part of the server's Certificate message are missing and the server certificates cannot be read. Client certificates later in the connection are whole. 1) $K6443: in the capture incomplete. 2) $A10250: complete." \
      "nothing" '#1=incomplete' '#2=completed'
  fi
  want ipv6-exthdr && expect ipv6-exthdr.pcap 2 \
    "IPv6 with extension headers, Ethernet veth, captured on the server side. Client: Go 1.19 crypto/tls (scripts/exthdr-client) as kubelet with kubelet-client-current.pem (Go sends the leaf only), TLS 1.2, SNI kubernetes, ALPN h2,http/1.1 -> openssl s_server [2001:db8::2]:6443 (apiserver.crt + ca.crt), client cert requested and verified, GET /, close_notify. Connection 1: every client->server packet (SYN included) carries a Destination Options header (next header 60, 8 octets, option 0x1e) before TCP. Connection 2: Hop-by-Hop Options (0) then Destination Options (60) then TCP. Server->client packets carry no extension header. Both complete." \
    "ICMPv6 neighbour discovery / MLD" '*=completed'
  # tshark 4.0 does not reassemble out-of-order TCP segments by default
  # (tcp.reassemble_out_of_order: FALSE), so a Certificate message whose first segment
  # arrived late would be missed; expected.py runs tshark through this wrapper here.
  mkdir -p "$WORK/bin"
  printf '#!/bin/sh\nexec %s -o tcp.reassemble_out_of_order:TRUE "$@"\n' "$(command -v tshark)" >"$WORK/bin/tshark"
  chmod +x "$WORK/bin/tshark"
  want retransmit-reorder && PATH=$WORK/bin:$PATH expect retransmit-reorder.pcap 3 \
    "TCP loss, duplicates and reordering, captured on the client's veth; three connections: $K6443, via a router namespace (server 198.19.0.2). The router drops ~20% of the server's data segments at random (iptables statistic): the capture has gaps filled later by retransmissions; the client's INPUT chain drops ~15% after the capture point: those segments appear twice (original + retransmission, same seq and bytes); the router's HTB sends odd-IP-ID segments through a slower class, so later segments overtake them (out of order). All three handshakes complete with the same certificates. Expected values made with tshark -o tcp.reassemble_out_of_order:TRUE (off by default in tshark 4.0, which then misses a Certificate message whose first segment arrived after later ones)." \
    "ARP" '*=completed'
  want any-multi && expect any-multi.pcapng 3 \
    "pcapng from dumpcap on three interfaces of the client namespace with different link types: lo (Ethernet), cwl-c0 veth (Ethernet), cwl-t0 tun (Raw IP). 1) over the veth 198.18.0.1 -> 198.18.0.2: $K6443. 2) over the tun 198.18.1.1 -> 198.18.1.2: the same. 3) over lo 127.0.0.1 -> 127.0.0.1:10250: $A10250. All complete; each connection is seen on one interface only." \
    "ARP on the veth" '*=completed'
fi
log done
