#!/usr/bin/env bash
# Build certwire's static binary and a FROM scratch image holding only it (deploy/Dockerfile).
#
#   deploy/build-image.sh [IMAGE]        # default IMAGE: certwire:<version in Cargo.toml>
#
# Needs cargo and a running Docker engine (or anything answering `docker build`); nothing is
# pulled. Push the image to the cluster's registry and set `image:` in deploy/daemonset.yaml.
# CERTWIRE_BIN=PATH uses an already built static binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
image=${1:-certwire:$version}
target=x86_64-unknown-linux-gnu
bin=${CERTWIRE_BIN:-}
if [[ -z $bin ]]; then
    # As README "Running on a node": glibc linked statically.
    RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --release --locked --target "$target" --bin certwire
    bin=${CARGO_TARGET_DIR:-target}/$target/release/certwire
fi
# A dynamically linked binary would start nowhere in a scratch image: refuse it here.
if command -v readelf >/dev/null && readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
    echo "build-image: $bin is dynamically linked (RUSTFLAGS='-C target-feature=+crt-static'?)" >&2
    exit 1
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/tmp" "$ctx/rootfs/usr/local/bin"
chmod 1777 "$ctx/rootfs/tmp"
# The release profile keeps line tables (debug = 1) for backtraces; the image need not.
if command -v strip >/dev/null; then
    strip -o "$ctx/rootfs/usr/local/bin/certwire" "$bin"
else
    cp "$bin" "$ctx/rootfs/usr/local/bin/certwire"
fi
docker build --quiet --build-arg "VERSION=$version" -f deploy/Dockerfile -t "$image" "$ctx"
echo "build-image: built $image ($(du -h "$ctx/rootfs/usr/local/bin/certwire" | cut -f1) binary)"
