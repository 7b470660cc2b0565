#!/usr/bin/env bash
# Runs cdc-writer end to end on a local stack on 127.0.0.1: Apache Kafka,
# MinIO and a Prefect server serving the shipped flow (fetched or built once
# into ~/.cache/cdc-writer-stack), or with --mock the quick doubles
# (librdkafka's mock cluster, s3rver, a Prefect double). Installs what it
# needs and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDCW_RDKAFKA_PREFIX="$(./scripts/build-librdkafka.sh)" >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
case " $* " in *" --mock "*) ;; *) ./tests/harness/stack/install.sh ;; esac
exec node scripts/demo.mjs "$@"
