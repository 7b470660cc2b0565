"""The original Python lake writer, as its documents describe it, for the peer
benchmark (bench/peers/peers_bench.mjs) to run beside cdc-writer.

- a confluent-kafka consumer in CONSUMER_GROUP_ID subscribed to the regex
  KAFKA_TOPIC_PATTERN, auto-commit off, reading from the earliest offset;
- one buffer of decoded rows per topic; every WRITE_INTERVAL_SECONDS each
  buffer that holds rows becomes a pandas DataFrame (the row image, `after`,
  or `before` for a delete, plus the CDC metadata columns below), written with
  DataFrame.to_parquet (pyarrow, Snappy) into memory and uploaded with the
  MinIO client's put_object to
  cdc_events/<table>/year=YYYY/month=MM/day=DD/<table>_<YYYYmmdd_HHMMSS_ffffff>.parquet
  (the date and stamp of the flush, UTC);
- once every buffer is written, one synchronous commit of the consumed
  positions (KAFKA_COMMIT_ASYNCHRONOUS=true makes it asynchronous).

Metadata columns, named as cdc-writer's first eight: _cdc_op, _cdc_ts (payload
ts_ms), _cdc_source_ts (source.ts_ms), _processed_at, _kafka_topic,
_kafka_partition, _kafka_offset, _kafka_timestamp.

Configuration: the original's environment variables and defaults (README,
Configuration), but PREFECT_* (the benchmark triggers nothing). A failed upload
keeps the buffers, commits nothing, and is tried again at the next interval.
After each commit one JSON line goes to stdout:
{"objects": N, "rows": R, "committed_rows": TOTAL}; logs go to stderr.
SIGTERM or SIGINT: the buffers are flushed and committed, then it exits.
"""
import io
import json
import logging
import os
import re
import signal
import sys
import time
from datetime import datetime, timezone

import pandas as pd
from confluent_kafka import Consumer, KafkaError, TIMESTAMP_NOT_AVAILABLE
from minio import Minio


def env(name, default):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name, default):
    return env(name, default).strip().lower() in ("1", "true", "yes", "on")


BOOTSTRAP = env("KAFKA_BOOTSTRAP_SERVERS", "kafka:29092")
TOPIC_PATTERN = env("KAFKA_TOPIC_PATTERN", r"^cdc\.oltp_dabi\.public\.(.*)")
GROUP_ID = env("CONSUMER_GROUP_ID", "dabi2-minio-lake-writer")
POLL_TIMEOUT = float(env("KAFKA_POLL_TIMEOUT", "1.0"))
COMMIT_ASYNC = env_bool("KAFKA_COMMIT_ASYNCHRONOUS", "false")
MINIO_ENDPOINT = env("MINIO_ENDPOINT", "minio:9000")
MINIO_ACCESS_KEY = env("MINIO_ACCESS_KEY", "minioadmin")
MINIO_SECRET_KEY = os.environ.get("MINIO_SECRET_KEY")
MINIO_BUCKET = env("MINIO_BUCKET", "datalake")
MINIO_USE_SSL = env_bool("MINIO_USE_SSL", "false")
WRITE_INTERVAL = int(env("WRITE_INTERVAL_SECONDS", "20"))
LOG_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "WARN": logging.WARNING,
              "ERROR": logging.ERROR, "CRITICAL": logging.ERROR}
LOG_LEVEL = LOG_LEVELS.get(env("LOG_LEVEL", "INFO").upper(), logging.INFO)

log = logging.getLogger("original_system")


def table_of(topic, pattern):
    """Group 1 of the pattern when it has one and it matches, else the topic's last part."""
    m = pattern.match(topic)
    if m and m.groups() and m.group(1):
        name = m.group(1)
    else:
        name = topic.rsplit(".", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def decode(msg):
    """One Kafka message to one row (a dict), or None for a tombstone."""
    raw = msg.value()
    if raw is None:
        return None
    envelope = json.loads(raw)
    if isinstance(envelope, dict) and "payload" in envelope and "schema" in envelope:
        envelope = envelope["payload"]
    op = envelope.get("op")
    image = envelope.get("before") if op == "d" else envelope.get("after")
    row = dict(image) if isinstance(image, dict) else {}
    source = envelope.get("source") or {}
    ts_type, ts = msg.timestamp()
    row["_cdc_op"] = op
    row["_cdc_ts"] = envelope.get("ts_ms")
    row["_cdc_source_ts"] = source.get("ts_ms")
    row["_processed_at"] = time.time_ns() // 1000
    row["_kafka_topic"] = msg.topic()
    row["_kafka_partition"] = msg.partition()
    row["_kafka_offset"] = msg.offset()
    row["_kafka_timestamp"] = None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts
    return row


def to_frame(rows):
    df = pd.DataFrame(rows)
    for column, unit in (("_cdc_ts", "ms"), ("_cdc_source_ts", "ms"), ("_processed_at", "us"), ("_kafka_timestamp", "ms")):
        df[column] = pd.to_datetime(df[column], unit=unit, utc=True)
    df["_kafka_partition"] = df["_kafka_partition"].astype("int32")
    df["_kafka_offset"] = df["_kafka_offset"].astype("int64")
    return df


class Writer:
    def __init__(self):
        self.pattern = re.compile(TOPIC_PATTERN)
        self.buffers = {}
        self.committed_rows = 0
        self.store = Minio(MINIO_ENDPOINT, access_key=MINIO_ACCESS_KEY, secret_key=MINIO_SECRET_KEY, secure=MINIO_USE_SSL)
        self.consumer = Consumer({
            "bootstrap.servers": BOOTSTRAP,
            "group.id": GROUP_ID,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        })

    def add(self, msg):
        row = decode(msg)
        if row is not None:
            self.buffers.setdefault(msg.topic(), []).append(row)

    def flush(self):
        """Writes every buffer that holds rows, then commits; False when an upload failed."""
        pending = [(topic, rows) for topic, rows in self.buffers.items() if rows]
        if not pending:
            return True
        written = 0
        for topic, rows in pending:
            table = table_of(topic, self.pattern)
            now = datetime.now(timezone.utc)
            key = (f"cdc_events/{table}/year={now.year:04d}/month={now.month:02d}/day={now.day:02d}/"
                   f"{table}_{now.strftime('%Y%m%d_%H%M%S_%f')}.parquet")
            body = io.BytesIO()
            to_frame(rows).to_parquet(body, engine="pyarrow", compression="snappy", index=False)
            size = body.tell()
            body.seek(0)
            try:
                self.store.put_object(MINIO_BUCKET, key, body, size, content_type="application/octet-stream")
            except Exception as e:  # kept for the next interval, nothing committed
                log.error("upload of %s failed: %s", key, e)
                return False
            log.info("wrote %d rows of %s to %s (%d bytes)", len(rows), topic, key, size)
            self.buffers[topic] = []
            written += len(rows)
        self.consumer.commit(asynchronous=COMMIT_ASYNC)
        self.committed_rows += written
        print(json.dumps({"objects": len(pending), "rows": written, "committed_rows": self.committed_rows}), flush=True)
        return True

    def run(self, stopping):
        self.consumer.subscribe([TOPIC_PATTERN if TOPIC_PATTERN.startswith("^") else "^" + TOPIC_PATTERN])
        last_flush = time.monotonic()
        while not stopping():
            msg = self.consumer.poll(POLL_TIMEOUT)
            if msg is not None:
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.error("consumer error: %s", msg.error())
                else:
                    self.add(msg)
            if time.monotonic() - last_flush >= WRITE_INTERVAL:
                self.flush()
                last_flush = time.monotonic()
        self.flush()
        self.consumer.close()


def main():
    logging.basicConfig(level=LOG_LEVEL, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    if not MINIO_SECRET_KEY:
        log.error("MINIO_SECRET_KEY is required")
        return 2
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    writer = Writer()
    log.info("consuming %s as %s, writing to %s/%s every %d s", TOPIC_PATTERN, GROUP_ID, MINIO_ENDPOINT,
             MINIO_BUCKET, WRITE_INTERVAL)
    writer.run(lambda: bool(stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
