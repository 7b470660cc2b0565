#!/usr/bin/env bash
# Runs a libFuzzer target for a fixed number of inputs from a copy of the
# seed corpus (so the source tree is never written to).
# Usage: run_fuzz.sh TARGET RUNS SEED_DIR...
# Longer runs for developers: run_fuzz.sh build-fuzz/tests/fuzz_decoder 10000000 tests/fixtures/bad tests/fixtures/debezium
set -euo pipefail
target="$1"
runs="$2"
shift 2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for d in "$@"; do
    cp "$d"/*.json "$corpus"/
done
"$target" -runs="$runs" -seed=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 "$corpus"
