"""Reads Parquet files with pyarrow and with DuckDB and prints, for each file,
each reader's rows in one canonical form, so a test compares them with what
the source database holds without trusting either reader's own formatting.

    python lake_values.py FILE...   ->   [{"file", "types", "pyarrow", "duckdb"}]
    python lake_values.py --table DUCKDB_FILE TABLE   ->   {"types", "rows"}
    python lake_values.py --query SQL   ->   {"types", "rows"} of a query's result

types: {column: pyarrow's type}; pyarrow and duckdb: rows as {column: value}.
A value is null, or a string:
- integers and decimals: their exact decimal text;
- floating point: repr of the float, or NaN, Infinity, -Infinity;
- timestamps: microseconds since 1970 (UTC or local as stored); dates: days
  since 1970; times: microseconds since midnight; the largest and smallest
  value of the type (DuckDB's infinities): "infinity" and "-infinity";
- binary and UUID: lowercase hex; strings and JSON: the text itself;
- lists: a list of such values.
"""
import json
import math
import sys
import uuid

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def float_text(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def infinite(i, limit):
    if i == limit:
        return "infinity"
    if i == -limit:
        return "-infinity"
    return None


def arrow_values(col):
    t = col.type
    if isinstance(t, pa.ExtensionType):
        return arrow_values(pa.chunked_array([c.storage for c in col.chunks], type=t.storage_type))
    if pa.types.is_timestamp(t):
        scale = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": None}[t.unit]
        ints = col.cast(pa.int64()).to_pylist()
        return [None if i is None else infinite(i, INT64_MAX) or str(i * scale if scale else i // 1000) for i in ints]
    if pa.types.is_date32(t):
        return [None if i is None else infinite(i, INT32_MAX) or str(i) for i in col.cast(pa.int32()).to_pylist()]
    if pa.types.is_time(t):
        scale = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": None}[t.unit]
        width = pa.int32() if pa.types.is_time32(t) else pa.int64()
        ints = col.cast(width).to_pylist()
        return [None if i is None else str(i * scale if scale else i // 1000) for i in ints]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        out = []
        for chunk in col.chunks:
            for i in range(len(chunk)):
                item = chunk[i]
                if not item.is_valid:
                    out.append(None)
                else:
                    out.append(arrow_values(pa.chunked_array([item.values])))
        return out
    values = col.to_pylist()
    if pa.types.is_floating(t):
        return [None if v is None else float_text(v) for v in values]
    if pa.types.is_boolean(t):
        return [None if v is None else ("true" if v else "false") for v in values]
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_binary(t):
        return [None if v is None else v.hex() for v in values]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in values]
    return [None if v is None else (v.hex if isinstance(v, uuid.UUID) else str(v)) for v in values]


def duck_expr(name, kind):
    c = '"' + name.replace('"', '""') + '"'
    if kind.endswith("[]"):
        return f"to_json({c})::VARCHAR"
    if kind.startswith("TIMESTAMP"):
        return f"CASE WHEN isinf({c}) THEN {c}::VARCHAR ELSE epoch_us({c})::VARCHAR END"
    if kind == "DATE":
        return f"CASE WHEN isinf({c}) THEN {c}::VARCHAR ELSE ({c} - DATE '1970-01-01')::VARCHAR END"
    if kind.startswith("TIME"):
        return f"datediff('microsecond', TIME '00:00:00', {c}::TIME)::VARCHAR"
    if kind == "BLOB":
        return f"lower(hex({c}))"
    if kind == "UUID":
        return f"replace({c}::VARCHAR, '-', '')"
    return f"{c}::VARCHAR"


def duck_rows(db, source, params):
    """Canonical rows of SELECT * FROM source (a read_parquet(?) call or a table)."""
    described = db.execute(f"DESCRIBE SELECT * FROM {source}", params).fetchall()
    names = [r[0] for r in described]
    kinds = [r[1] for r in described]
    sql = "SELECT " + ", ".join(duck_expr(n, k) for n, k in zip(names, kinds)) + f" FROM {source}"
    rows = []
    for raw in db.execute(sql, params).fetchall():
        row = {}
        for n, k, v in zip(names, kinds, raw):
            if v is not None and k.endswith("[]"):
                v = json.loads(v)
                inner = k[:-2]
                v = [None if x is None else canonical_duck_scalar(x, inner) for x in v]
            elif v is not None:
                v = canonical_duck_scalar(v, k)
            row[n] = v
        rows.append(row)
    return rows, dict(zip(names, kinds))


def canonical_duck_scalar(v, kind):
    if kind in ("FLOAT", "DOUBLE"):
        f = float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity").replace("nan", "NaN"))
        if kind == "FLOAT" and not (math.isnan(f) or math.isinf(f)):
            return repr(float(pa.scalar(f, pa.float32()).as_py()))
        return float_text(f)
    if kind == "BOOLEAN":
        return "true" if v in (True, "true") else "false"
    return str(v)


def main(paths):
    out = []
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for path in paths:
        table = pq.read_table(path)
        columns = {name: arrow_values(table.column(name)) for name in table.column_names}
        pa_rows = [{name: columns[name][i] for name in table.column_names} for i in range(table.num_rows)]
        types = {f.name: str(f.type) for f in table.schema}
        d_rows, d_types = duck_rows(db, "read_parquet(?)", [path])
        out.append({"file": path, "types": types, "duckdb_types": d_types, "pyarrow": pa_rows, "duckdb": d_rows})
    json.dump(out, sys.stdout)


def table(dbfile, name):
    """A warehouse table's canonical rows, read with DuckDB."""
    db = duckdb.connect(dbfile, read_only=True)
    db.execute("SET TimeZone = 'UTC'")
    rows, types = duck_rows(db, '"' + name.replace('"', '""') + '"', [])
    json.dump({"types": types, "rows": rows}, sys.stdout)


def query(sql):
    """The canonical rows of a query run in an in-memory DuckDB."""
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    rows, types = duck_rows(db, f"({sql}) AS q", [])
    json.dump({"types": types, "rows": rows}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        table(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--query"]:
        query(sys.argv[2])
    else:
        main(sys.argv[1:])
