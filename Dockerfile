# cdc-writer's container image: built in one stage, run from debian:bookworm-slim
# with only the runtime libraries, as a non-root user.
#
#   docker build -t cdc-writer .
#   docker run --rm -e MINIO_SECRET_KEY=... -e KAFKA_BOOTSTRAP_SERVERS=... cdc-writer
#
# The image takes the same environment variables as the binary (see README.md).

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config curl ca-certificates \
      libcurl4-openssl-dev libssl-dev libsnappy-dev libzstd-dev zlib1g-dev \
      libcjson-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# librdkafka 2.12.0 from source, linked statically: Debian 12's 2.0.2 cannot
# log in with SASL/SCRAM to Kafka 4.x (see scripts/build-librdkafka.sh).
COPY scripts/build-librdkafka.sh ./scripts/
RUN CDCW_STACK_CACHE=/tmp/deps ./scripts/build-librdkafka.sh /opt/librdkafka && rm -rf /tmp/deps
COPY CMakeLists.txt ./
COPY src ./src
COPY bench ./bench
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCDCW_TESTS=OFF -DCDCW_RDKAFKA_PREFIX=/opt/librdkafka \
 && cmake --build /build --target cdc-writer -j"$(nproc)" \
 && strip /build/cdc-writer

FROM debian:bookworm-slim
# Runtime libraries: one package per library the binary links (readelf -d: NEEDED),
# libc6 aside, which the base image has; ca-certificates for TLS to the object
# store; curl for the HEALTHCHECK. tests/e2e/deploy.test.mjs keeps this list exact.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libssl3 libsnappy1v5 libzstd1 zlib1g libcjson1 libmicrohttpd12 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin cdcwriter
COPY --from=build /build/cdc-writer /usr/local/bin/cdc-writer
USER 10001:10001
ENV HTTP_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${HTTP_PORT}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/cdc-writer"]
