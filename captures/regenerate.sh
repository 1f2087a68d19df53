#!/bin/bash
# regenerate.sh: rebuild the sample PKI, every capture and every expected-values file.
#   1. scripts/pki.sh          new keys, serials, node tree (node/) and broken certs (pki-extra/);
#                              at its end scripts/pki-variants.sh, scripts/pki-k8s.sh and
#                              scripts/node-broken.sh (openssl; node-broken/, `certwire node`'s trees)
#   2. scripts/capture-*.sh    each one makes its captures (real TLS stacks on loopback in a
#                              private network namespace, real tcpdump/dumpcap) and writes
#                              expected/<capture>.json with tools/expected.py (tshark + openssl),
#                              in name order: capture-basic, capture-derived, capture-k8s
#                              (Kubernetes behaviour: scripts/k8sserver, goclient and real etcd;
#                              also node-variants/ and expected/<capture>.{log,outcome.json}),
#                              capture-links, capture-tls13, capture-tunnels (VXLAN in the kernel,
#                              Geneve/GRE/ERSPAN/IPIP via tools/tunnel_endpoint.py, tinyproxy and
#                              danted in front of s_client/curl/kubectl, refused / dropped /
#                              ICMP-rejected connections, TLS on 443/8443, a TLS 1.3 HRR,
#                              RFC 8879 compressed certificates on BoringSSL)
# Needs root (network namespaces), openssl 3, cfssl/cfssljson, tcpdump, dumpcap, tshark, capinfos,
# ethtool, go (for scripts/goclient, goserver, k8sserver), etcd/etcdctl, python3, curl, kubectl,
# tinyproxy, danted, nft, gcc + android-libboringssl-dev. Does not touch anything outside
# captures/ except temporary folders under /tmp, its own network namespaces and
# /etc/netns/<its namespaces>/, which it removes.
set -euo pipefail
cd "$(dirname "$0")"
scripts/pki.sh
for s in scripts/capture-*.sh; do
    echo "regenerate.sh: running $s" >&2
    "$s"
done
tools/file_fingerprints.py
echo "regenerate.sh: done" >&2
