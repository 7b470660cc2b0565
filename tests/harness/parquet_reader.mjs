// parquet_reader.mjs -- reads Parquet files with DuckDB, an independent
// reader no one here wrote, for test assertions.
//
// As a module: readParquet(path) -> { schema, columns, rows }
//   schema:  DuckDB's parquet_schema() rows of the leaf columns (name, type,
//            repetition_type, converted_type, logical_type, scale, precision)
//   columns: [{ name, type }] as DuckDB types them (e.g. "TIMESTAMP WITH TIME ZONE")
//   rows:    row objects with JSON-safe values (BIGINTs and DECIMALs as strings)
// As a command: node parquet_reader.mjs FILE prints that object as JSON.
import { DuckDBInstance } from '@duckdb/node-api';
import { pathToFileURL } from 'node:url';

let instancePromise = null;

async function connection() {
  instancePromise ??= DuckDBInstance.create(':memory:', { threads: '1' });
  const instance = await instancePromise;
  return instance.connect();
}

function sqlString(text) {
  return `'${String(text).replaceAll("'", "''")}'`;
}

// Rows of a query: JSON-safe values, or JS values ({ js: true }: NaN, BigInt, arrays).
export async function query(sql, { js = false } = {}) {
  const conn = await connection();
  try {
    const reader = await conn.runAndReadAll(sql);
    return js ? reader.getRowObjectsJS() : reader.getRowObjectsJson();
  } finally {
    conn.closeSync();
  }
}

export async function readParquet(path, { orderBy } = {}) {
  const file = sqlString(path);
  const schema = (await query(`SELECT * FROM parquet_schema(${file})`)).filter(
    (r) => r.type !== null && r.type !== undefined && r.num_children === null,
  );
  const described = await query(`DESCRIBE SELECT * FROM read_parquet(${file})`);
  const columns = described.map((r) => ({ name: r.column_name, type: r.column_type }));
  const order = orderBy ? ` ORDER BY ${orderBy}` : '';
  const rows = await query(`SELECT * FROM read_parquet(${file})${order}`);
  return { schema, columns, rows };
}

export async function parquetMetadata(path) {
  return query(`SELECT * FROM parquet_metadata(${sqlString(path)})`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2];
  if (!path) {
    console.error('usage: node parquet_reader.mjs FILE');
    process.exit(2);
  }
  console.log(JSON.stringify(await readParquet(path), null, 2));
}
