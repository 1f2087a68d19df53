#!/usr/bin/env bash
# (Re)build the fuzz targets' seed corpora from captures/, into fuzz/corpus/<target>/.
#
#   fuzz/seed.sh           add the seeds to the corpora (existing entries are kept)
#   fuzz/seed.sh --clean   empty the corpora first (then fuzz and `cargo fuzz cmin` again)
#   fuzz/seed.sh --check   only check the corpora for private key material
#   fuzz/seed.sh --scrub   delete the corpus files that check finds (before committing:
#                          the fuzzer learns the words PRIVATE KEY from the PEM splitter's
#                          label test and writes them into new inputs)
#
# Seeds are named by a hash of their contents, so reruns add nothing twice. No private key
# ever goes in: *.key files are skipped, PEM private key blocks and kubeconfig
# client-key-data lines are cut out, and the final check fails if any key material (or the
# words PRIVATE KEY, plain or base64) is found in a corpus.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
captures="$root/captures"
corpus="$fuzz/corpus"
targets=(fuzz_capture fuzz_wire fuzz_reassembly fuzz_tls_records fuzz_tls_messages fuzz_tls_compressed
    fuzz_x509 fuzz_keylog fuzz_yaml fuzz_pem)

# Each key's base64 lines (and "PRIVATE KEY" itself, in the three base64 alignments) must
# appear in no corpus file.
check() {
    local keys public patterns hits
    keys=$(mktemp) public=$(mktemp) patterns=$(mktemp)
    # Lines of key blocks, less those that a certificate or public key has too (an RSA
    # key's modulus can line up with the same base64 lines in its certificate).
    find "$captures" -type f \( -name '*.key' -o -name '*.pem' \) -print0 |
        xargs -0 awk 'FNR == 1 { k = 0 }
                      /-----BEGIN .*PRIVATE KEY-----/ { k = 1; next }
                      /-----END .*PRIVATE KEY-----/ { k = 0 }
                      k && length($0) >= 40 { print }' | sort -u >"$keys"
    find "$captures" -type f \( -name '*.crt' -o -name '*.pem' -o -name '*.pub' \) -print0 |
        xargs -0 awk 'FNR == 1 { k = 0 }
                      /-----BEGIN .*PRIVATE KEY-----/ { k = 1; next }
                      /-----END .*PRIVATE KEY-----/ { k = 0 }
                      !k { print }' | sort -u >"$public"
    {
        printf '%s\n' 'PRIVATE KEY' UFJJVkFURSBL SVZBVEUgS0VZ UklWQVRFIEtF client-key-data
        comm -23 "$keys" "$public"
    } >"$patterns"
    hits=$(grep -rlaF -f "$patterns" "$corpus" 2>/dev/null || true)
    rm -f "$keys" "$public" "$patterns"
    if [[ -n "$hits" && "${1:-}" == scrub ]]; then
        echo "$hits" | xargs rm -f --
        echo "seed.sh: deleted $(echo "$hits" | wc -l) corpus file(s) with private key words or material"
    elif [[ -n "$hits" ]]; then
        echo "seed.sh: private key material (or the words) in the corpus:" >&2
        echo "$hits" >&2
        return 1
    else
        echo "seed.sh: no private key material in $corpus"
    fi
}

# put TARGET FILE: copy FILE into TARGET's corpus under a content hash.
put() {
    local dir="$corpus/$1" sum
    mkdir -p "$dir"
    sum=$(sha1sum <"$2" | cut -c1-40)
    if [[ -s "$2" ]]; then cp "$2" "$dir/seed-$sum"; fi
}

case "${1:-}" in
--check)
    check
    exit
    ;;
--scrub)
    check scrub
    exit
    ;;
--clean)
    for t in "${targets[@]}"; do rm -rf "${corpus:?}/$t"; done
    ;;
"") ;;
*)
    echo "usage: $0 [--clean|--check|--scrub]" >&2
    exit 2
    ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fuzz_capture: the sample captures as they are (gzip included).
for f in "$captures"/*.pcap "$captures"/*.pcapng "$captures"/*.gz; do
    put fuzz_capture "$f"
done

# fuzz_keylog: the sample key logs.
for f in "$captures"/keylogs/*; do
    put fuzz_keylog "$f"
done

# fuzz_yaml: kubeconfigs, kubelet config.yaml, static pod manifests, without the
# client-key-data lines (a base64 private key each).
find "$captures/node" "$captures/node-variants" -type f \( -name '*.conf' -o -name '*.yaml' \) -print0 |
    while IFS= read -r -d '' f; do
        grep -v 'client-key-data' "$f" >"$tmp/yaml" || true
        put fuzz_yaml "$tmp/yaml"
    done

# fuzz_pem: certificate files and the certificate halves of cert+key files (the key block
# cut out), and a public key (a label that is neither).
find "$captures/node" "$captures/pki-extra" -type f \( -name '*.crt' -o -name '*.pem' -o -name '*.pub' \) -print0 |
    while IFS= read -r -d '' f; do
        sed '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/d' "$f" >"$tmp/pem"
        put fuzz_pem "$tmp/pem"
    done

# Everything taken out of the captures' packets, and certificate DERs (seedgen/).
cargo run --quiet --release --locked --manifest-path "$fuzz/Cargo.toml" \
    -p certwire-fuzz-seedgen -- "$captures" "$corpus"

for t in "${targets[@]}"; do
    printf 'seed.sh: %-18s %5d files %6d KiB\n' "$t" \
        "$(find "$corpus/$t" -type f | wc -l)" "$(du -sk "$corpus/$t" | cut -f1)"
done
check
