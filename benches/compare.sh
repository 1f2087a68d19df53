#!/usr/bin/env bash
# Measure certwire against the floor (and tshark where installed) on a generated capture.
#   benches/compare.sh [SIZE_MIB] [SEED]      (default 256 MiB)
# Prints wall time, throughput, the ratio to the floor, and peak RSS (from /usr/bin/time),
# for certwire reading the file and reading it from stdin. The file is written to
# ${TMPDIR:-/tmp} and read once first so that it is in the page cache for every run.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
seed=${2:-1}
file=${TMPDIR:-/tmp}/certwire-bench-$size-$seed.pcap
cargo build --release --benches --bin certwire -q
[ -f "$file" ] || cargo bench -q --bench generate -- "$file" "$size" "$seed"
cat "$file" > /dev/null
bytes=$(stat -c %s "$file")
measure() {  # label, command...
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o /tmp/certwire-bench-time "$@" > /tmp/certwire-bench-out 2>/dev/null
    read -r secs rss < /tmp/certwire-bench-time
    awk -v l="$label" -v s="$secs" -v r="$rss" -v b="$bytes" \
        'BEGIN { printf "%-28s %8.2f s  %8.0f MB/s  peak RSS %6.1f MiB\n", l, s, b/1e6/(s>0?s:0.001), r/1024 }'
    echo "$secs" > "/tmp/certwire-bench-$label"
}
echo "capture: $file ($((bytes >> 20)) MiB, $(grep -o '"packets": [0-9]*' "$file.truth.json" | grep -o '[0-9]*$') packets)"
floor_bin=$(ls -t target/release/deps/floor-* | grep -v '\.d$' | head -1)
measure floor "$floor_bin" "$file"
measure certwire-file target/release/certwire analyze "$file" --format jsonl --no-default-certs
measure certwire-stdin sh -c "target/release/certwire analyze - --format jsonl --no-default-certs < '$file'"
found=$(grep -c '"record":"connection"' /tmp/certwire-bench-out || true)
echo "handshakes reported: $found; ground truth: $(grep -o '"handshakes_on_target_ports": [0-9]*' "$file.truth.json" | grep -o '[0-9]*$')"
floor=$(cat /tmp/certwire-bench-floor); cw=$(cat /tmp/certwire-bench-certwire-file)
awk -v f="$floor" -v c="$cw" 'BEGIN { printf "certwire / floor time: %.2f (target: at most 2)\n", c/(f>0?f:0.001) }'
if command -v tshark >/dev/null; then
    measure tshark tshark -r "$file" -Y 'tls.handshake.type == 11' -T fields -e tls.handshake.certificate
fi
