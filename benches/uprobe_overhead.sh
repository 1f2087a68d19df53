#!/bin/sh
# What the uprobe on crypto/tls.(*Config).writeKeyLog costs a Go program, per TLS 1.3
# handshake: benches/handshakes (client and server in one process, mutual TLS 1.3 over
# loopback) timed alone and while `certwire analyze --live lo --keys-from <it>` runs, in
# interleaved rounds; medians. Two certwire modes: probe only (a port nobody uses is
# followed, so only the probe works) and probe + capture of the handshakes themselves.
# Needs root, Debian's golang-go and a release build; prints the figures, asserts nothing.
#
#   sudo benches/uprobe_overhead.sh [ROUNDS=7] [HANDSHAKES=2000]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
N=${2:-2000}
PORT=18443
TMP=$(mktemp -d)
trap 'kill $CW 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
CW=
cargo build --release --quiet
(cd benches/handshakes && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$TMP/handshakes" .)
BIN=target/release/certwire

run() { "$TMP/handshakes" -n "$N" -port $PORT | sed 's/.*ns_per_handshake=//'; }

with_certwire() { # $1: ports certwire follows
	$BIN analyze --live lo --ports "$1" --keys-from "$TMP/handshakes" --format jsonl --no-default-certs >/dev/null 2>"$TMP/cw.err" &
	CW=$!
	i=0
	until grep -q "capturing on" "$TMP/cw.err" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat "$TMP/cw.err"; exit 1; }; sleep 0.1
	done
	grep -q "attached" "$TMP/cw.err" || { cat "$TMP/cw.err"; exit 1; }
	v=$(run)
	kill -INT $CW; wait $CW 2>/dev/null || true; CW=
	grep -o "[0-9]* secret(s) taken" "$TMP/cw.err" | sed 's/ .*//' >>"$TMP/secrets"
	echo "$v"
}

: >"$TMP/alone"; : >"$TMP/probe"; : >"$TMP/capture"; : >"$TMP/secrets"
r=0
while [ $r -lt "$ROUNDS" ]; do
	run >>"$TMP/alone"
	with_certwire 1 >>"$TMP/probe"
	with_certwire $PORT >>"$TMP/capture"
	r=$((r + 1))
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
A=$(median "$TMP/alone"); P=$(median "$TMP/probe"); C=$(median "$TMP/capture")
S=$(median "$TMP/secrets")
echo "rounds=$ROUNDS handshakes_per_run=$N; secrets taken per run (median): $S, $(awk "BEGIN {printf \"%.1f\", $S/$N}") per handshake"
echo "(a mutual TLS 1.3 handshake makes 8 writeKeyLog calls: 4 in the client, 4 in the server)"
echo "alone:                 $A ns/handshake"
echo "with the probe:        $P ns/handshake  (+$((P - A)) ns, $(awk "BEGIN {printf \"%.1f\", ($P-$A)*100/$A}") %)"
echo "with probe + capture:  $C ns/handshake  (+$((C - A)) ns, $(awk "BEGIN {printf \"%.1f\", ($C-$A)*100/$A}") %)"
