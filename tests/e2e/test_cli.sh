#!/usr/bin/env bash
# Command-line behaviour of cdc-writer: --help, --version, --check and its
# exit status and error lines. Usage: test_cli.sh /path/to/cdc-writer
set -u
bin="$1"
passed=0
failed=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() { # name, condition (a command)
    local name="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name" >&2
        echo "--- stdout:" >&2
        cat "$out" >&2
        echo "--- stderr:" >&2
        cat "$err" >&2
    fi
}

run() { # env assignments... -- args...
    local envs=()
    while [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    env -i PATH="$PATH" "${envs[@]}" "$bin" "$@" >"$out" 2>"$err"
    status=$?
}

# --help lists every variable with its default and exits 0.
run -- --help
check "help exits 0" test "$status" -eq 0
for var in KAFKA_BOOTSTRAP_SERVERS KAFKA_TOPIC_PATTERN CONSUMER_GROUP_ID KAFKA_POLL_TIMEOUT \
    KAFKA_COMMIT_ASYNCHRONOUS MINIO_ENDPOINT MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_BUCKET \
    MINIO_USE_SSL MINIO_REGION MINIO_CA_BUNDLE WRITE_INTERVAL_SECONDS MAX_BATCH_SIZE \
    MAX_BATCH_BYTES PREFECT_API_URL PREFECT_API_KEY PREFECT_FLOW_NAME PREFECT_DEPLOYMENT_NAME \
    LOG_LEVEL LOG_FORMAT CDC_METADATA; do
    check "help lists $var" grep -q "^  $var " "$out"
done
check "help shows the group default" grep -q "dabi2-minio-lake-writer" "$out"

# --version names cdc-writer and the linked libraries.
run -- --version
check "version exits 0" test "$status" -eq 0
check "version first line" grep -Eq '^cdc-writer [0-9]+\.[0-9]+\.[0-9]+$' "$out"
for lib in librdkafka libcurl OpenSSL snappy zstd cJSON libmicrohttpd; do
    check "version lists $lib" grep -Eq "^  $lib +[0-9]" "$out"
done

# --check with a valid configuration.
run MINIO_SECRET_KEY=abc -- --check-config
check "check valid exits 0" test "$status" -eq 0
check "check valid says ok" grep -q "configuration: ok" "$out"

# --check with a missing secret and a malformed interval: two lines, exit 2.
run WRITE_INTERVAL_SECONDS=soon -- --check
check "check invalid exits 2" test "$status" -eq 2
check "check invalid prints two lines" test "$(wc -l <"$err")" -eq 2
check "names MINIO_SECRET_KEY" grep -q "configuration error: MINIO_SECRET_KEY: required, not set" "$err"
check "names WRITE_INTERVAL_SECONDS" \
    grep -q "configuration error: WRITE_INTERVAL_SECONDS='soon': expected a whole number" "$err"

# A CDC_METADATA word that is not a group is refused before anything starts.
run MINIO_SECRET_KEY=abc CDC_METADATA=source,kafka -- --check-config
check "bad CDC_METADATA exits 2" test "$status" -eq 2
check "bad CDC_METADATA named" \
    grep -q "configuration error: CDC_METADATA='source,kafka': 'kafka' is not a group" "$err"
run MINIO_SECRET_KEY=abc CDC_METADATA=headers -- --check-config
check "CDC_METADATA=headers is valid" test "$status" -eq 0

# A bad librdkafka pass-through property is reported by --check too.
run MINIO_SECRET_KEY=abc KAFKA_NO_SUCH_THING=1 -- --check
check "bad pass-through exits 2" test "$status" -eq 2
check "bad pass-through named" grep -q "KAFKA_NO_SUCH_THING='1': librdkafka rejects" "$err"

# Secrets never reach the logs, even at DEBUG.
run MINIO_SECRET_KEY=TopSecret123 PREFECT_API_KEY=TopSecret456 KAFKA_SASL_PASSWORD=TopSecret789 \
    LOG_LEVEL=DEBUG -- --check-config
check "debug check exits 0" test "$status" -eq 0
check "debug dumps the configuration" grep -q "config MINIO_SECRET_KEY=<redacted>" "$err"
check "no secret in any output" bash -c "! grep -q TopSecret '$out' '$err'"

# JSON log format gives one JSON object per line.
run MINIO_SECRET_KEY=abc LOG_LEVEL=DEBUG LOG_FORMAT=json -- --check-config
check "json log lines" bash -c "grep -q . '$err' && ! grep -qv '^{\"ts\":\"[0-9T:.-]*Z\",\"level\":\"debug\",\"msg\":\".*\"}$' '$err'"

# Unknown argument is a usage error.
run MINIO_SECRET_KEY=abc -- --frobnicate
check "unknown argument exits 2" test "$status" -eq 2
check "unknown argument named" grep -q "unknown argument '--frobnicate'" "$err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
