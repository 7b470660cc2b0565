#!/usr/bin/env bash
# Installs what building and testing cdc-writer needs on Debian 12:
# the C toolchain and libraries (apt-get), the pinned librdkafka
# (scripts/build-librdkafka.sh: Debian's 2.0.2 cannot log in with SASL/SCRAM
# to Kafka 4.x) and the test tools (npm ci).
# Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    build-essential cmake pkg-config git clang libclang-rt-14-dev
    libcurl4-openssl-dev libssl-dev libsnappy-dev libzstd-dev zlib1g-dev
    libcjson-dev libmicrohttpd-dev libcmocka-dev python3 python3-botocore openssl curl
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test tools (s3rver, DuckDB's node package, hyparquet), pinned by package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

# librdkafka, built once into the stack cache (prints its prefix).
./scripts/build-librdkafka.sh >/dev/null
