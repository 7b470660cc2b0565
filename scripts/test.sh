#!/usr/bin/env bash
# The whole test suite: installs what it needs (the C libraries, the test
# tools, the real services), builds cdc-writer twice (a
# normal build and one with AddressSanitizer + UndefinedBehaviorSanitizer),
# and runs every test (unit, command line, harness and end-to-end) in both.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# The real services the end-to-end tests run (Apache Kafka, MinIO, Prefect),
# fetched or built once into ~/.cache/cdc-writer-stack.
./tests/harness/stack/install.sh

jobs=$(nproc 2>/dev/null || echo 2)
rdkafka=$(./scripts/build-librdkafka.sh)   # built by install-deps.sh; prints where
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

for variant in build build-asan; do
    sanitize=OFF
    [ "$variant" = build-asan ] && sanitize=ON
    echo "=== $variant (sanitizers: $sanitize)"
    cmake -S . -B "$variant" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDCW_SANITIZE="$sanitize" \
        -DCDCW_RDKAFKA_PREFIX="$rdkafka" >/dev/null
    cmake --build "$variant" -j "$jobs"
    (cd "$variant" && ctest --output-on-failure -j "$jobs")
done

# The decoder's libFuzzer target, a short fixed run (clang build).
echo "=== build-fuzz (libFuzzer, ASan, UBSan)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDCW_FUZZ=ON -DCDCW_RDKAFKA_PREFIX="$rdkafka" >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_decoder
(cd build-fuzz && ctest --output-on-failure -L fuzz)
