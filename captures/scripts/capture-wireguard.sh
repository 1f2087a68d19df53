#!/bin/bash
# capture-wireguard.sh: a TLS handshake inside a WireGuard tunnel, captured on the underlay,
# where nobody can read it: what a node running Cilium's or Calico's WireGuard encryption
# shows tcpdump on eth0. This kernel has no wireguard module, so the tunnel is Debian's
# wireguard-go (the userspace implementation on a tun device), the protocol unchanged.
# Makes wireguard.pcap and expected/wireguard.pcap.wg.json (tshark's count of WireGuard
# messages by type). Needs root, wireguard-go, wireguard-tools (wg), openssl, tcpdump, tshark.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
[ "$(id -u)" = 0 ] || { echo "capture-wireguard.sh: run as root" >&2; exit 1; }
A=cw-wg-a; B=cw-wg-b
WORK=$(mktemp -d /tmp/capture-wireguard.XXXXXX)
cleanup() {
    for p in $(cat "$WORK"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cleanup_ns() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
cleanup_ns
ip netns add $A; ip netns add $B
ip link add veth-wa netns $A type veth peer name veth-wb netns $B
ip -n $A addr add 198.18.7.1/24 dev veth-wa; ip -n $B addr add 198.18.7.2/24 dev veth-wb
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set veth-wa up; ip -n $B link set veth-wb up
umask 077
wg genkey > "$WORK/a.key"; wg pubkey < "$WORK/a.key" > "$WORK/a.pub"
wg genkey > "$WORK/b.key"; wg pubkey < "$WORK/b.key" > "$WORK/b.pub"
# One device name per side: wireguard-go's control socket (/var/run/wireguard/NAME.sock)
# lives in the shared mount namespace.
for side in a b; do
    ns=$([ $side = a ] && echo $A || echo $B)
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 ip netns exec $ns wireguard-go -f wg$side > "$WORK/wg-$side.log" 2>&1 &
    echo $! > "$WORK/wg-$side.pid"
done
for i in $(seq 50); do
    ip -n $A link show wga >/dev/null 2>&1 && ip -n $B link show wgb >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec $A wg set wga private-key "$WORK/a.key" listen-port 51820 \
    peer "$(cat "$WORK/b.pub")" endpoint 198.18.7.2:51820 allowed-ips 198.19.7.2/32
ip netns exec $B wg set wgb private-key "$WORK/b.key" listen-port 51820 \
    peer "$(cat "$WORK/a.pub")" endpoint 198.18.7.1:51820 allowed-ips 198.19.7.1/32
ip -n $A addr add 198.19.7.1/24 dev wga; ip -n $B addr add 198.19.7.2/24 dev wgb
ip -n $A link set wga up; ip -n $B link set wgb up
PKI=$HERE/node/etc/kubernetes/pki
ip netns exec $A tcpdump -i veth-wa -U --immediate-mode -w "$WORK/wireguard.pcap" 2> "$WORK/tcpdump.log" &
echo $! > "$WORK/tcpdump.pid"
sleep 1
ip netns exec $B openssl s_server -accept 198.19.7.2:6443 -cert "$PKI/apiserver.crt" -key "$PKI/apiserver.key" \
    -CAfile "$PKI/ca.crt" -tls1_2 -www -quiet > "$WORK/server.log" 2>&1 &
echo $! > "$WORK/server.pid"
sleep 1
echo | ip netns exec $A timeout 10 openssl s_client -connect 198.19.7.2:6443 -servername kubernetes \
    -cert "$HERE/node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem" -CAfile "$PKI/ca.crt" -tls1_2 > "$WORK/client.log" 2>&1 || true
sleep 1
kill "$(cat "$WORK/tcpdump.pid")"; wait "$(cat "$WORK/tcpdump.pid")" 2>/dev/null || true
grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.log" || { cat "$WORK/tcpdump.log"; exit 1; }
grep -q "Verify return code: 0" "$WORK/client.log" || { cat "$WORK/client.log"; exit 1; }
cp "$WORK/wireguard.pcap" "$HERE/wireguard.pcap"
# tshark's view: WireGuard messages by type, and no TCP anywhere in the clear.
tshark -r "$HERE/wireguard.pcap" -Y wg -T fields -e wg.type | sort | uniq -c | \
  python3 -c 'import json,sys; d={l.split()[1]: int(l.split()[0]) for l in sys.stdin}; tcp=0; print(json.dumps({"wg_messages_by_type": d, "wg_frames": sum(d.values())}, indent=2))' \
  > "$HERE/expected/wireguard.pcap.wg.json"
echo "tcp frames in the clear: $(tshark -r "$HERE/wireguard.pcap" -Y tcp | wc -l)"
cat "$HERE/expected/wireguard.pcap.wg.json"
