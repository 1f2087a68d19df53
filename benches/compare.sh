#!/usr/bin/env bash
# Measure certwire against the floor (and tshark where installed) on a generated capture.
#   benches/compare.sh [--dense] [--to-file] [SIZE_MIB] [SEED] [RUNS]
#                                                    (defaults: 256 MiB, seed 1, 5 runs)
# BASELINE=/path/to/an/older/certwire adds its runs on the file (before/after, interleaved).
# --dense: the handshake-dense profile (generate.rs --dense: mutual TLS 1.2 on 6443/10250,
# about 10,000 handshakes per 512 MiB) instead of the bulk one. --to-file: the timed runs
# write certwire's JSON Lines to a file (truncated before each run) instead of /dev/null.
# Builds in release mode, generates the capture with benches/generate.rs if it is not there
# (in ${TMPDIR:-/tmp}), reads it once so that it is in the page cache, then runs the floor
# (read() and header walk; and, for comparison, the same walk over the file mapped),
# certwire on the file, on stdin, on the file with --threads 1 (no read-ahead thread:
# one core), on the file with --jsonl-compact and on the file with the shipped node's files
# (--root captures/node: correlation and diagnosis against a node, as run on one), RUNS
# times, interleaved so that a change in the machine's load hits them all alike, then
# tshark once. Prints, per program, the median and fastest wall
# time (bash's microsecond clock), throughput, CPU time (user + system, all threads) and
# peak RSS (/usr/bin/time), then the ratio of medians to the floor, and checks what
# certwire reported (in one more, untimed run of each)
# against the generator's ground truth (benches/check_truth.py).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=bulk
sink=/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
while [ $# -gt 0 ]; do
    case $1 in
        --dense) profile=dense; shift ;;
        --to-file) sink=$work/timed-output; shift ;;
        *) break ;;
    esac
done
size=${1:-256}
seed=${2:-1}
runs=${3:-5}
if [ "$profile" = dense ]; then
    file=${TMPDIR:-/tmp}/certwire-bench-dense-$size-$seed.pcap
else
    file=${TMPDIR:-/tmp}/certwire-bench-$size-$seed.pcap
fi
cargo build --release --benches --bin certwire -q
[ -f "$file" ] || cargo bench -q --bench generate -- "$file" "$size" "$seed" $([ "$profile" = dense ] && echo --dense)
# Into the page cache the way a capture read from disk gets there: dropped first, then read
# once. (Pages left by the generator's writes were copied out at half the speed, which made
# the floor, and so every ratio, depend on how the file came to be cached.)
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$file"
cat "$file" > /dev/null
bytes=$(stat -c %s "$file")
# How much of the capture is in the page cache (a VM's memory reclaim, e.g. a DAMON
# kdamond, can take cold pages back between runs; reads from disk slow the floor most).
resident() { command -v fincore >/dev/null && fincore -n -o RES "$file" 2>/dev/null | tr -d ' ' || echo "?"; }
echo "page cache before the runs: $(resident) of $((bytes >> 20))M"

floor_bin=$(ls -t target/release/deps/floor-* | grep -v '\.d$' | head -1)
cw=target/release/certwire
run() {  # label, command... : appends "wall cpu rss_kib" to $work/label
    local label=$1; shift
    # Output to /dev/null by default: writing certwire's JSON into a file costs a
    # page-cache copy of its own, which the floor (one line of output) does not pay;
    # --to-file measures that too (the file is emptied first, outside the timed part).
    : > "$work/timed-output"
    local t0=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > "$sink" 2>/dev/null
    local t1=$EPOCHREALTIME
    read -r user sys rss < "$work/time"
    echo "$t0 $t1 $user $sys $rss" | awk '{ printf "%.6f %.2f %d\n", $2 - $1, $3 + $4, $5 }' >> "$work/$label"
}
echo "capture: $file ($profile profile, $((bytes >> 20)) MiB, $(grep -o '"packets": [0-9]*' "$file.truth.json" | grep -o '[0-9]*$') packets, $(grep -o '"handshakes_on_target_ports": [0-9]*' "$file.truth.json" | grep -o '[0-9]*$') handshakes), $runs runs, $(nproc) cores, output to $sink, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
    run floor "$floor_bin" "$file"
    run floor-mmap "$floor_bin" --mmap-sequential "$file"
    run certwire-file "$cw" analyze "$file" --format jsonl --no-default-certs
    run certwire-stdin sh -c "exec $cw analyze - --format jsonl --no-default-certs < '$file'"
    run certwire-1thread "$cw" analyze "$file" --format jsonl --no-default-certs --threads 1
    run certwire-compact "$cw" analyze "$file" --format jsonl --jsonl-compact --no-default-certs
    run certwire-node "$cw" analyze "$file" --format jsonl --root captures/node
    if [ -n "${BASELINE:-}" ]; then
        run baseline-file "$BASELINE" analyze "$file" --format jsonl --no-default-certs
    fi
done
report() {  # label
    sort -n "$work/$1" | awk -v l="$1" -v b="$bytes" '
        { wall[NR] = $1; cpu += $2; if ($3 > rss) rss = $3 }
        END {
            med = (NR % 2) ? wall[(NR + 1) / 2] : (wall[NR / 2] + wall[NR / 2 + 1]) / 2
            printf "%-16s median %6.3f s (%5.0f MB/s)  fastest %6.3f s  cpu %5.2f s  peak RSS %5.1f MiB\n",
                l, med, b / 1e6 / med, wall[1], cpu / NR, rss / 1024
            print med > "'"$work"'/median-" l
        }'
}
labels="certwire-file certwire-stdin certwire-1thread certwire-compact certwire-node${BASELINE:+ baseline-file}"
echo "page cache after the runs: $(resident) of $((bytes >> 20))M"
for l in floor floor-mmap $labels; do report "$l"; done
f=$(cat "$work/median-floor")
for l in $labels; do
    awk -v f="$f" -v c="$(cat "$work/median-$l")" -v l="$l" \
        'BEGIN { printf "%s / floor (median wall time): %.2f  (target: at most 2)\n", l, c / f }'
done
awk -v f="$(cat "$work/median-floor-mmap")" -v c="$(cat "$work/median-certwire-file")" \
    'BEGIN { printf "certwire-file / floor-mmap (median wall time): %.2f\n", c / f }'
# What was reported, from one more (untimed) run of each.
"$cw" analyze "$file" --format jsonl --no-default-certs > "$work/out-certwire-file"
"$cw" analyze - --format jsonl --no-default-certs < "$file" > "$work/out-certwire-stdin"
"$cw" analyze "$file" --format jsonl --no-default-certs --threads 1 > "$work/out-certwire-1thread"
"$cw" analyze "$file" --format jsonl --jsonl-compact --no-default-certs > "$work/out-certwire-compact"
"$cw" analyze "$file" --format jsonl --root captures/node > "$work/out-certwire-node"
for l in certwire-file certwire-stdin certwire-1thread certwire-compact certwire-node; do
    echo "ground truth, $l:"
    python3 benches/check_truth.py "$file.truth.json" "$work/out-$l" | sed 's/^/  /' || true
done
if command -v tshark >/dev/null && [ "${TSHARK:-1}" != 0 ]; then
    run tshark tshark -r "$file" -Y 'tls.handshake.type == 11' -T fields -e tls.handshake.certificate
    report tshark
    awk -v t="$(cat "$work/median-tshark")" -v c="$(cat "$work/median-certwire-file")" \
        'BEGIN { printf "tshark / certwire-file (median wall time): %.0f\n", t / c }'
fi
