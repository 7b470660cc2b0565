#!/usr/bin/env bash
# Builds the pinned librdkafka cdc-writer links, as a static library, into
# PREFIX (default: ~/.cache/cdc-writer-stack/librdkafka-<version>).
#
#   scripts/build-librdkafka.sh [PREFIX]      prints PREFIX when done
#
# Why not Debian 12's librdkafka (2.0.2): before 2.6.1 librdkafka repeats the
# client nonce in the SCRAM client-final-message (librdkafka#4895). Apache
# Kafka 4.x checks the nonce as RFC 5802 says and refuses every SCRAM login of
# such a client with "invalid credentials", so SASL/SCRAM cannot work at all.
#
# The source comes from the npm registry (reachable where GitHub is not):
# node-rdkafka's package carries librdkafka's full source tree in
# deps/librdkafka. The tarball is checked against its sha256 before use.
# Idempotent: nothing is fetched or built when PREFIX holds the build.
set -euo pipefail

RDKAFKA_VERSION=2.12.0
CARRIER=node-rdkafka-3.6.1.tgz   # node-rdkafka 3.6.1 bundles librdkafka 2.12.0
CARRIER_URL="https://registry.npmjs.org/node-rdkafka/-/$CARRIER"
CARRIER_SHA256=148f7e7b65c510314c70762d8f1be052c8fe1fdf03a128e6c78083a729a57a30

cache=${CDCW_STACK_CACHE:-$HOME/.cache/cdc-writer-stack}
prefix=${1:-$cache/librdkafka-$RDKAFKA_VERSION}
if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
fi

fail() {
    echo "build-librdkafka: librdkafka $RDKAFKA_VERSION: $*" >&2
    echo "build-librdkafka: to retry: $0${1:+ $prefix}" >&2
    exit 1
}

mkdir -p "$cache/downloads"
tarball="$cache/downloads/$CARRIER"
if [ ! -f "$tarball" ] || ! echo "$CARRIER_SHA256  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
    echo "build-librdkafka: downloading $CARRIER_URL" >&2
    curl -fsSL --retry 3 -o "$tarball.part" "$CARRIER_URL" || fail "download of $CARRIER_URL failed"
    echo "$CARRIER_SHA256  $tarball.part" | sha256sum -c --quiet - || fail "$CARRIER: sha256 mismatch"
    mv "$tarball.part" "$tarball"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/deps/librdkafka || fail "cannot unpack $tarball"
src="$work/package/deps/librdkafka"
grep -q "define RD_KAFKA_VERSION 0x020c00ff" "$src/src/rdkafka.h" || fail "$CARRIER does not hold librdkafka $RDKAFKA_VERSION"

echo "build-librdkafka: building librdkafka $RDKAFKA_VERSION into $prefix (about 3 minutes on 2 cores)" >&2
# SSL, SASL/SCRAM and PLAIN (built in), zlib, zstd, the bundled lz4; no GSSAPI
# (Cyrus SASL) and no libcurl-based OIDC, which cdc-writer does not offer.
(
    cd "$src"
    ./configure --prefix="$prefix" --disable-gssapi --disable-curl --disable-lz4-ext --no-download
    make -j"$(nproc 2>/dev/null || echo 2)" libs
    rm -rf "$prefix"
    make install-subdirs
) > "$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "configure or make failed (log above)"; }
# Static only, so nothing at run time depends on this directory.
rm -f "$prefix"/lib/*.so "$prefix"/lib/*.so.* "$prefix"/lib/librdkafka++*
touch "$prefix/.complete"
echo "$prefix"
