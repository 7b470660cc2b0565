"""The downstream job cdc-writer triggers: the deployment
cdc_minio_to_duckdb_flow/dwh-pipeline loads the Parquet files a flush stored
into a DuckDB database file, the warehouse. A reference to start from.

cdc-writer (with PREFECT_SEND_PARAMETERS=true) passes the bucket, the table,
the object keys of the files stored and their row count. Each file is read
from the object store and loaded into the warehouse table cdc_<table>. A row
is identified by (_kafka_topic, _kafka_partition, _kafka_offset): loading a
file again (a replay rewrote it, a run was retried) replaces its rows, so the
warehouse holds every change once. Columns that appear later (schema changes)
are added to the table.

Configuration (environment): MINIO_ENDPOINT, MINIO_ACCESS_KEY,
MINIO_SECRET_KEY, MINIO_USE_SSL (true/false), WAREHOUSE_PATH (the DuckDB file).

Serve it (one run at a time: DuckDB has one writer):
    PREFECT_API_URL=http://127.0.0.1:4200/api python cdc_minio_to_duckdb_flow.py
"""
import os
import re
import tempfile

import duckdb
from minio import Minio
from prefect import flow, get_run_logger

KEY_COLUMNS = ("_kafka_topic", "_kafka_partition", "_kafka_offset")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def object_store() -> Minio:
    return Minio(
        os.environ["MINIO_ENDPOINT"],
        access_key=os.environ["MINIO_ACCESS_KEY"],
        secret_key=os.environ["MINIO_SECRET_KEY"],
        secure=os.environ.get("MINIO_USE_SSL", "false").lower() == "true",
    )


def load_file(db: duckdb.DuckDBPyConnection, target: str, path: str) -> int:
    """Loads one Parquet file into target, replacing rows it already holds."""
    db.execute(f"CREATE TEMP TABLE incoming AS SELECT * FROM read_parquet(?)", [path])
    try:
        exists = db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
            [target],
        ).fetchone()[0]
        if not exists:
            db.execute(f"CREATE TABLE {quote(target)} AS SELECT * FROM incoming LIMIT 0")
        have = {r[0] for r in db.execute(f"DESCRIBE {quote(target)}").fetchall()}
        for name, kind, *_ in db.execute("DESCRIBE incoming").fetchall():
            if name not in have:
                db.execute(f"ALTER TABLE {quote(target)} ADD COLUMN {quote(name)} {kind}")
        match = " AND ".join(f"t.{quote(c)} = i.{quote(c)}" for c in KEY_COLUMNS)
        db.execute(f"DELETE FROM {quote(target)} t WHERE EXISTS (SELECT 1 FROM incoming i WHERE {match})")
        db.execute(f"INSERT INTO {quote(target)} BY NAME SELECT * FROM incoming")
        return db.execute("SELECT count(*) FROM incoming").fetchone()[0]
    finally:
        db.execute("DROP TABLE incoming")


@flow(name="cdc_minio_to_duckdb_flow")  # the name cdc-writer looks up (the default would use hyphens)
def cdc_minio_to_duckdb_flow(
    bucket: str | None = None, table: str | None = None, keys: list[str] | None = None, rows: int | None = None
) -> int:
    logger = get_run_logger()
    if not bucket or not table or not keys:
        logger.info("nothing to load (bucket=%s, table=%s, %d keys)", bucket, table, len(keys or []))
        return 0
    target = "cdc_" + re.sub(r"[^0-9A-Za-z_]", "_", table)
    store = object_store()
    loaded = 0
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(os.environ["WAREHOUSE_PATH"]) as db:
        for i, key in enumerate(keys):
            path = os.path.join(tmp, f"{i}.parquet")
            store.fget_object(bucket, key, path)
            db.execute("BEGIN")
            loaded += load_file(db, target, path)
            db.execute("COMMIT")
    logger.info("loaded %d rows of %s from %d files (cdc-writer counted %s)", loaded, table, len(keys), rows)
    return loaded


if __name__ == "__main__":
    cdc_minio_to_duckdb_flow.serve(name="dwh-pipeline", limit=1)
