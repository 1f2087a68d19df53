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

# no-clienthello.pcap: connection #3 of broken-certs.pcap (Go client dialing the kubelet's
# serving certificate without IP SANs by IP; it rejected it with bad_certificate) without
# the packet that carried its ClientHello, as a capture started a moment too late or a
# lossy tap shows it: the SNI is unknown, so no name can be judged.
rm -f no-clienthello.pcap
hello=$(tshark -r broken-certs.pcap -Y 'tcp.port==55454 && tls.handshake.type==1' -T fields -e frame.number)
frames=$(tshark -r broken-certs.pcap -Y 'tcp.port==55454' -T fields -e frame.number | sed -n '1p;$p' | paste -sd-)
editcap -F pcap -r broken-certs.pcap /tmp/conn3.$$.pcap "$frames"
first=${frames%-*}
editcap -F pcap /tmp/conn3.$$.pcap no-clienthello.pcap $((hello - first + 1))
rm -f /tmp/conn3.$$.pcap
tools/expected.py no-clienthello.pcap \
  --scenario "broken-certs.pcap connection #3 (Go client -> kubelet :10250 whose serving certificate has no IP SANs, dialed by IP; the client sent fatal bad_certificate) with the packet carrying the ClientHello removed by 'editcap -r' then 'editcap' (frame deletion): the server's flight and the client's alert are whole, the ClientHello (and so the SNI) is missing." \
  --ignored "nothing" --outcome '*=failed' --expect-connections 1
