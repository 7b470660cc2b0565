"""The downstream job cdc-writer triggers: the deployment
cdc_minio_to_duckdb_flow/dwh-pipeline loads the Parquet files a flush stored
into a DuckDB database file, the warehouse. A reference to start from.

cdc-writer (with PREFECT_SEND_PARAMETERS=true) passes the bucket, the table,
the object keys of the files stored and their row count. Each file is read
from the object store and, in one transaction, loaded into two tables.

cdc_<table>, the events: every change once. A row is identified by
(_kafka_topic, _kafka_partition, _kafka_offset): loading a file again (a
replay rewrote it, a run was retried) replaces its rows. Columns that appear
later (schema changes) are added to the table; a column keeps the type it was
created with until a file brings another (an ALTER COLUMN ... TYPE in the
source): it is then widened to a type that holds both, e.g. DECIMAL(12,2)
and DECIMAL(14,4) to DECIMAL(14,4), INTEGER and VARCHAR to VARCHAR.

mirror_<table>, the current state of the source table. Its columns: four
for bookkeeping,
  _mirror_key        the change's _kafka_key (null for a table without key)
  _mirror_lsn        _cdc_lsn of the change that wrote the row (may be null)
  _mirror_partition  its _kafka_partition
  _mirror_offset     its _kafka_offset
then the data columns of cdc_<table> (all but cdc-writer's metadata columns,
METADATA below) with their types, in the order they appeared. A column
added in the source appears (null in rows written before); a column dropped
is kept (null in rows written after). Read the state with
SELECT * EXCLUDE (_mirror_key, _mirror_lsn, _mirror_partition, _mirror_offset).

Source order is (_cdc_lsn, _kafka_partition, _kafka_offset), a change
without _cdc_lsn before every change with one.
- With a key (_kafka_key not null), the row of a key is the image of its last
  change in source order in cdc_<table> (c, r, u: the row; d: no row), so a
  change loaded after a newer one of its key, or loaded twice, changes nothing.
- A truncate (t) removes the rows whose change came before it in source
  order, and changes before it are not applied later.
- Without a key, a file's changes are applied once, when its rows first reach
  cdc_<table>: c and r insert the row; d removes one row equal to its row
  image on every column of its file, the oldest there is at its place in
  source order (a row created after the delete stays). u cannot be applied,
  as the row image is the new row only: it is skipped with a warning.
- m (a logical decoding message) is not a change of the table.
A file without the column _kafka_key (from a cdc-writer that did not record
keys) is loaded into cdc_<table> only, with a warning. The mirror holds the
changes loaded since it was created: to build it over events loaded before,
drop cdc_<table> and mirror_<table> and load the files again. A source
column whose name starts with _mirror_ fails the run (that name is the
mirror's).

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
METADATA = ("_cdc_op", "_cdc_ts", "_cdc_source_ts", "_processed_at", "_kafka_topic", "_kafka_partition",
            "_kafka_offset", "_kafka_timestamp", "_cdc_lsn", "_cdc_tx_id", "_cdc_sequence", "_cdc_snapshot",
            "_cdc_source", "_cdc_position", "_cdc_tx_order", "_cdc_tx_collection_order", "_kafka_key",
            "_kafka_headers")
BOOKKEEPING = (("_mirror_key", "VARCHAR"), ("_mirror_lsn", "BIGINT"), ("_mirror_partition", "INTEGER"),
               ("_mirror_offset", "BIGINT"))
# The row images: after for c, r, u; before for d.
CHANGES = "('c', 'r', 'u', 'd')"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def object_store() -> Minio:
    return Minio(
        os.environ["MINIO_ENDPOINT"],
        access_key=os.environ["MINIO_ACCESS_KEY"],
        secret_key=os.environ["MINIO_SECRET_KEY"],
        secure=os.environ.get("MINIO_USE_SSL", "false").lower() == "true",
    )


def exists(db: duckdb.DuckDBPyConnection, table: str) -> bool:
    return db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
        [table],
    ).fetchone()[0] > 0


def columns(db: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in db.execute(f"DESCRIBE {quote(relation)}").fetchall()]


DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


def wider(db: duckdb.DuckDBPyConnection, old: str, new: str) -> str:
    """A type that holds every value of both: DuckDB's union type, or VARCHAR
    when that would round a decimal (both at 38 digits with other scales)."""
    union = db.execute(f"SELECT typeof(x) FROM (SELECT NULL::{old} AS x UNION ALL SELECT NULL::{new}) LIMIT 1").fetchone()[0]
    a, b, u = DECIMAL.fullmatch(old), DECIMAL.fullmatch(new), DECIMAL.fullmatch(union)
    if a and b and u:
        need_int = max(int(a[1]) - int(a[2]), int(b[1]) - int(b[2]))
        need_scale = max(int(a[2]), int(b[2]))
        if int(u[2]) < need_scale or int(u[1]) - int(u[2]) < need_int:
            return "VARCHAR"
    return union


def widen(db: duckdb.DuckDBPyConnection, target: str, kinds: list[tuple[str, str]]) -> None:
    """Adds the columns target lacks and widens those whose type changed (an
    ALTER COLUMN ... TYPE in the source), so that no later value is cut to
    an earlier file's type."""
    have = dict(columns(db, target))
    for name, kind in kinds:
        if name not in have:
            db.execute(f"ALTER TABLE {quote(target)} ADD COLUMN {quote(name)} {kind}")
        elif have[name] != kind:
            to = wider(db, have[name], kind)
            if to != have[name]:
                db.execute(f"ALTER TABLE {quote(target)} ALTER COLUMN {quote(name)} TYPE {to}")


def load_events(db: duckdb.DuckDBPyConnection, target: str) -> int:
    """Loads the temp table incoming into target, replacing rows it already holds."""
    if not exists(db, target):
        db.execute(f"CREATE TABLE {quote(target)} AS SELECT * FROM incoming LIMIT 0")
    widen(db, target, columns(db, "incoming"))
    match = " AND ".join(f"t.{quote(c)} = i.{quote(c)}" for c in KEY_COLUMNS)
    db.execute(f"DELETE FROM {quote(target)} t WHERE EXISTS (SELECT 1 FROM incoming i WHERE {match})")
    db.execute(f"INSERT INTO {quote(target)} BY NAME SELECT * FROM incoming")
    return db.execute("SELECT count(*) FROM incoming").fetchone()[0]


def position(lsn: str, partition: str, offset: str) -> str:
    """A change's place in source order, as a list that compares lexicographically."""
    return f"[coalesce({lsn}, -1), {partition}, {offset}]::BIGINT[]"


def update_mirror(db, events: str, mirror: str, file_data: list[str], logger) -> None:
    """Applies the changes of the temp table incoming, already in events, to mirror.
    The temp table fresh holds the positions of the incoming rows that events
    did not hold before this file."""
    ev, mi = quote(events), quote(mirror)
    data = [(n, t) for n, t in columns(db, events) if n not in METADATA]
    clash = [n for n, _ in data if n.startswith("_mirror_")]
    if clash:
        raise ValueError(f"{events}: source columns named _mirror_* would clash with the mirror's own: {clash}")
    if not exists(db, mirror):
        defs = ", ".join(f"{quote(n)} {t}" for n, t in list(BOOKKEEPING) + data)
        db.execute(f"CREATE TABLE {mi} ({defs})")
    widen(db, mirror, data)
    lsn = "_cdc_lsn" if "_cdc_lsn" in {n for n, _ in columns(db, events)} else "NULL::BIGINT"
    pos = position(lsn, "_kafka_partition", "_kafka_offset")
    row_pos = position("_mirror_lsn", "_mirror_partition", "_mirror_offset")
    cols = ", ".join(quote(n) for n, _ in data)
    row = f"{cols}, _kafka_key AS _mirror_key, {lsn} AS _mirror_lsn, _kafka_partition AS _mirror_partition, " \
          "_kafka_offset AS _mirror_offset"

    # The last truncate in source order: rows and changes before it are gone.
    last = db.execute(f"SELECT max({pos}) FROM {ev} WHERE _cdc_op = 't'").fetchone()[0]
    after_truncate = "true" if last is None else f"{pos} > {position(*map(str, last))}"
    if last is not None and db.execute("SELECT count(*) FROM incoming WHERE _cdc_op = 't'").fetchone()[0]:
        db.execute(f"DELETE FROM {mi} WHERE {row_pos} < {position(*map(str, last))}")

    # With a key: each key the file names takes the image of its last change.
    db.execute(f"CREATE TEMP TABLE mirror_keys AS SELECT DISTINCT _kafka_key AS k FROM incoming "
               f"WHERE _kafka_key IS NOT NULL AND _cdc_op IN {CHANGES}")
    try:
        db.execute(f"DELETE FROM {mi} WHERE _mirror_key IN (SELECT k FROM mirror_keys)")
        db.execute(f"""INSERT INTO {mi} BY NAME SELECT {row} FROM (
            SELECT * FROM {ev} WHERE _kafka_key IN (SELECT k FROM mirror_keys) AND _cdc_op IN {CHANGES}
            QUALIFY row_number() OVER (PARTITION BY _kafka_key ORDER BY {pos} DESC) = 1)
            WHERE _cdc_op <> 'd' AND {after_truncate}""")
        keys = db.execute("SELECT count(*) FROM mirror_keys").fetchone()[0]
    finally:
        db.execute("DROP TABLE mirror_keys")

    # Without a key: the file's changes that were not loaded before, in source order.
    match = " AND ".join(f"e.{quote(c)} = f.{quote(c)}" for c in KEY_COLUMNS)
    db.execute(f"""CREATE TEMP TABLE mirror_fresh AS
        SELECT e.*, {pos} AS _mirror_pos, CASE WHEN _cdc_op = 'd' THEN -1 ELSE 1 END AS _mirror_step,
            row_number() OVER () AS _mirror_id
        FROM {ev} e WHERE _kafka_key IS NULL AND _cdc_op IN {CHANGES} AND {after_truncate}
            AND EXISTS (SELECT 1 FROM fresh f WHERE {match})""")
    try:
        updates = db.execute("SELECT count(*) FROM mirror_fresh WHERE _cdc_op = 'u'").fetchone()[0]
        if updates:
            logger.warning("%s: %d updates without key skipped (the old row is unknown)", mirror, updates)
        db.execute("DELETE FROM mirror_fresh WHERE _cdc_op = 'u'")
        keyless = db.execute("SELECT count(*) FROM mirror_fresh").fetchone()[0]
        if db.execute("SELECT count(*) FROM mirror_fresh WHERE _mirror_step = -1").fetchone()[0]:
            apply_keyless_deletes(db, mi, row_pos, [quote(n) for n in file_data])
        db.execute(f"INSERT INTO {mi} BY NAME SELECT {row} FROM mirror_fresh WHERE _mirror_step = 1")
    finally:
        db.execute("DROP TABLE mirror_fresh")
    logger.info("%s: %d keys set, %d changes without key applied", mirror, keys, keyless)


def apply_keyless_deletes(db, mi: str, row_pos: str, by: list[str]) -> None:
    """Takes, for each value (the columns by) that a delete of mirror_fresh
    names, the rows of mirror and the changes of mirror_fresh in source order.
    A delete removes the oldest row there is, so the rows left are the newest,
    as many as the count of rows, stopped at zero, comes to at the end. Rows of
    mirror that go are deleted, and so are the deletes and the creates that go
    from mirror_fresh; the caller inserts the creates left."""
    def value(alias: str) -> str:
        return f"row({', '.join(f'{alias}.{c}' for c in by)})"
    db.execute(f"""CREATE TEMP TABLE mirror_gone AS
        WITH seq AS (
            SELECT {value('m')} AS v, {row_pos} AS pos, 1 AS step, m.rowid AS rid, NULL AS id FROM {mi} m
            WHERE m._mirror_key IS NULL AND EXISTS (SELECT 1 FROM mirror_fresh d
                WHERE d._mirror_step = -1 AND {value('d')} IS NOT DISTINCT FROM {value('m')})
            UNION ALL
            SELECT {value('f')}, _mirror_pos, _mirror_step, NULL, _mirror_id FROM mirror_fresh f),
        walk AS (
            SELECT *, sum(step) OVER (PARTITION BY v ORDER BY pos ROWS UNBOUNDED PRECEDING) AS count FROM seq),
        kept AS (
            SELECT *, max_by(count, pos) OVER (PARTITION BY v) - least(0, min(count) OVER (PARTITION BY v)) AS kept,
                row_number() OVER (PARTITION BY v, step ORDER BY pos DESC) AS newest
            FROM walk)
        SELECT rid, id FROM kept WHERE step = 1 AND newest > kept""")
    try:
        db.execute(f"DELETE FROM {mi} WHERE rowid IN (SELECT rid FROM mirror_gone WHERE rid IS NOT NULL)")
        db.execute("DELETE FROM mirror_fresh WHERE _mirror_step = -1 OR _mirror_id IN (SELECT id FROM mirror_gone)")
    finally:
        db.execute("DROP TABLE mirror_gone")


def load_file(db: duckdb.DuckDBPyConnection, table: str, path: str, logger) -> int:
    """Loads one Parquet file into cdc_<table> and applies it to mirror_<table>."""
    events, mirror = "cdc_" + table, "mirror_" + table
    db.execute("CREATE TEMP TABLE incoming AS SELECT * FROM read_parquet(?)", [path])
    try:
        names = [n for n, _ in columns(db, "incoming")]
        keyed = "_kafka_key" in names
        if keyed:
            known = exists(db, events)
            match = " AND ".join(f"t.{quote(c)} = i.{quote(c)}" for c in KEY_COLUMNS)
            seen = f"EXISTS (SELECT 1 FROM {quote(events)} t WHERE {match})" if known else "false"
            db.execute(f"CREATE TEMP TABLE fresh AS SELECT {', '.join(KEY_COLUMNS)} FROM incoming i WHERE NOT {seen}")
        loaded = load_events(db, events)
        if keyed:
            update_mirror(db, events, mirror, [n for n in names if n not in METADATA], logger)
        else:
            logger.warning("%s: the file has no column _kafka_key; %s left as it is", path, mirror)
        return loaded
    finally:
        db.execute("DROP TABLE IF EXISTS fresh")
        db.execute("DROP TABLE incoming")


@flow(name="cdc_minio_to_duckdb_flow")  # the name cdc-writer looks up (the default would use hyphens)
def cdc_minio_to_duckdb_flow(
    bucket: str | None = None, table: str | None = None, keys: list[str] | None = None, rows: int | None = None
) -> int:
    logger = get_run_logger()
    if not bucket or not table or not keys:
        logger.info("nothing to load (bucket=%s, table=%s, %d keys)", bucket, table, len(keys or []))
        return 0
    name = re.sub(r"[^0-9A-Za-z_]", "_", table)
    store = object_store()
    loaded = 0
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(os.environ["WAREHOUSE_PATH"]) as db:
        for i, key in enumerate(keys):
            path = os.path.join(tmp, f"{i}.parquet")
            store.fget_object(bucket, key, path)
            db.execute("BEGIN")
            loaded += load_file(db, name, path, logger)
            db.execute("COMMIT")
    logger.info("loaded %d rows of %s from %d files (cdc-writer counted %s)", loaded, table, len(keys), rows)
    return loaded


if __name__ == "__main__":
    cdc_minio_to_duckdb_flow.serve(name="dwh-pipeline", limit=1)
