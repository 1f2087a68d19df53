#!/bin/bash
# capture-derived.sh: captures derived from real ones by a standard tool, for input shapes a
# capture tool writes on request: a snaplen-cut capture ('editcap -s' writes exactly what
# 'tcpdump -s N' would have). Runs after capture-basic.sh (regenerate.sh runs scripts in
# name order). Needs editcap, tshark, capinfos, openssl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f snaplen-300.pcap
editcap -F pcap -s 300 kubelet-rotated-tls12.pcap snaplen-300.pcap
tools/expected.py snaplen-300.pcap \
  --scenario "kubelet-rotated-tls12.pcap with every frame cut to 300 bytes by 'editcap -F pcap -s 300' (what 'tcpdump -s 300' writes): certificate flights are cut, so no chain can be read whole; both handshakes did complete, as in the source capture, and application data flowed both ways." \
  --ignored "nothing" --outcome '*=completed' --expect-connections 2
