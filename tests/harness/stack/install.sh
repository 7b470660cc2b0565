#!/usr/bin/env bash
# Fetches or builds, once, the real services that the real-stack tests and the
# demo run as plain processes on 127.0.0.1, each pinned by version, all in one
# cache folder: $CDCW_STACK_CACHE, by default ~/.cache/cdc-writer-stack.
#
#   tests/harness/stack/install.sh [kafka|minio|prefect|debezium|peers]...   (none: the first four)
#
# - kafka:    Apache Kafka's broker jars from Maven Central (kafka-runtime.pom.xml)
# - minio:    MinIO built from its Go module (a test process only, never linked or shipped)
# - prefect:  a Python virtual environment with Prefect, pyarrow, DuckDB and the
#             MinIO client (requirements.txt, every package pinned)
# - debezium: Kafka Connect's jars (connect-runtime.pom.xml) and Debezium's
#             PostgreSQL connector as a plugin directory (debezium-postgres.pom.xml),
#             from Maven Central; PostgreSQL 15's server from Debian's packages
# - peers:    only when named (bench/peers/peers_bench.mjs asks for it, CI does not):
#             a Python virtual environment with the original Python system's packages
#             (bench/peers/requirements.txt, every package pinned), named by a hash
#             of that file, so a changed list gets a new environment
# A component that is there already is not fetched again; each one is marked
# done only once complete. A failure names the component and the command to retry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CDCW_STACK_CACHE:-$HOME/.cache/cdc-writer-stack}"
mkdir -p "$cache"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka-runtime.pom.xml")
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # the module's last commit, 2026-02-12
PREFECT_VERSION=$(sed -n 's/^prefect==//p' "$here/requirements.txt")
CONNECT_VERSION=$(sed -n 's:.*<connect.version>\(.*\)</connect.version>.*:\1:p' "$here/connect-runtime.pom.xml")
DEBEZIUM_VERSION=$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$here/debezium-postgres.pom.xml")

fail() {
    echo "stack: $1 could not be installed: $2" >&2
    echo "stack: retry with: tests/harness/stack/install.sh $1" >&2
    exit 1
}

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "stack: apt-get install ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Copies a pom's runtime dependencies from Maven Central into root/subdir, once
# (root/.done marks it complete), for component; fails it unless the jar
# expect arrived. Further arguments go to mvn.
maven_copy() {
    local component="$1" pom="$2" root="$3" subdir="$4" expect="$5" what="$6"
    shift 6
    [ -f "$root/.done" ] && return 0
    command -v java >/dev/null || apt_install openjdk-17-jre-headless || fail "$component" "no Java runtime"
    command -v mvn >/dev/null || apt_install maven || fail "$component" "no Maven"
    echo "stack: fetching $what from Maven Central into $root (once)"
    rm -rf "$root"
    mvn -q -B -f "$here/$pom" dependency:copy-dependencies -DincludeScope=runtime "$@" \
        -DoutputDirectory="$root/$subdir" -Dmaven.repo.local="$cache/m2" ||
        fail "$component" "mvn dependency:copy-dependencies ($pom) failed"
    ls "$root/$subdir/$expect" >/dev/null || fail "$component" "$expect is missing"
    touch "$root/.done"
}

kafka() {
    maven_copy kafka kafka-runtime.pom.xml "$cache/kafka-$KAFKA_VERSION" libs "kafka_2.13-$KAFKA_VERSION.jar" \
        "Apache Kafka $KAFKA_VERSION's jars"
}

minio() {
    local bin="$cache/bin/minio-$MINIO_VERSION"
    [ -x "$bin" ] && return 0
    command -v go >/dev/null || fail minio "no Go toolchain (go on PATH)"
    echo "stack: building MinIO $MINIO_VERSION from its Go module into $bin (once; a few minutes)"
    mkdir -p "$cache/bin"
    GOPATH="$cache/go" GOCACHE="$cache/go-build" GOBIN="$cache/go/bin" GOFLAGS="-trimpath -modcacherw" \
        CGO_ENABLED=0 go install "github.com/minio/minio@$MINIO_VERSION" || fail minio "go install failed"
    mv "$cache/go/bin/minio" "$bin"
    # The binary is all that is kept: the module and build caches (about 2 GiB) go.
    GOPATH="$cache/go" GOCACHE="$cache/go-build" go clean -modcache -cache >/dev/null 2>&1 || true
    rm -rf "$cache/go" "$cache/go-build"
}

prefect() {
    local venv="$cache/venv-prefect-$PREFECT_VERSION"
    [ -f "$venv/.done" ] && return 0
    command -v python3 >/dev/null || apt_install python3 || fail prefect "no python3"
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv || fail prefect "no python3-venv"
    echo "stack: installing Prefect $PREFECT_VERSION, pyarrow and DuckDB from PyPI into $venv (once)"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail prefect "python3 -m venv failed"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$here/requirements.txt" ||
        fail prefect "pip install -r tests/harness/stack/requirements.txt failed"
    touch "$venv/.done"
}

debezium() {
    # The server binaries (initdb, pg_ctl) and contrib's extensions (citext, hstore).
    [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -f /usr/share/postgresql/15/extension/hstore.control ] ||
        apt_install postgresql-15 postgresql-client-15 || fail debezium "no PostgreSQL 15 server"
    maven_copy debezium connect-runtime.pom.xml "$cache/connect-$CONNECT_VERSION" libs \
        "connect-runtime-$CONNECT_VERSION.jar" "Kafka Connect $CONNECT_VERSION's jars"
    maven_copy debezium debezium-postgres.pom.xml "$cache/debezium-postgres-$DEBEZIUM_VERSION" \
        debezium-connector-postgres "debezium-connector-postgres-$DEBEZIUM_VERSION.jar" \
        "Debezium's PostgreSQL connector $DEBEZIUM_VERSION" -DexcludeArtifactIds=connect-api,kafka-clients,slf4j-api
}

peers() {
    local requirements="$here/../../../bench/peers/requirements.txt"
    [ -f "$requirements" ] || fail peers "bench/peers/requirements.txt is missing"
    local venv="$cache/venv-peers-$(sha256sum "$requirements" | cut -c1-12)"
    [ -f "$venv/.done" ] && return 0
    command -v python3 >/dev/null || apt_install python3 || fail peers "no python3"
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv || fail peers "no python3-venv"
    echo "stack: installing the original system's packages (confluent-kafka, pandas, pyarrow, minio) from PyPI into $venv (once)"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail peers "python3 -m venv failed"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$requirements" ||
        fail peers "pip install -r bench/peers/requirements.txt failed"
    touch "$venv/.done"
}

# peers is not in the default set: only the peer benchmark needs it.
[ "$#" -gt 0 ] || set -- kafka minio prefect debezium
for component in "$@"; do
    case "$component" in
    kafka | minio | prefect | debezium | peers) "$component" ;;
    *) echo "stack: unknown component '$component' (kafka, minio, prefect, debezium or peers)" >&2; exit 2 ;;
    esac
done
