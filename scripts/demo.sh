#!/usr/bin/env bash
# Runs cdc-writer end to end on a local default stack: a Kafka-protocol
# cluster (librdkafka's mock), s3rver as the object store and a Prefect
# double, all on 127.0.0.1. Installs what it needs and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec node scripts/demo.mjs "$@"
