// parquet_bench.mjs -- cdc-writer's Parquet encoder against DuckDB's writer,
// single-threaded, on the same 1,000,000-row CDC table, in one run.
//
//   node bench/parquet_bench.mjs [ROWS] [BUILD_DIR]
//
// 1. build/bench_parquet generates the table and times our encoder (SNAPPY).
// 2. DuckDB (threads=1) loads that file into an in-memory table (untimed)
//    and times COPY ... (FORMAT PARQUET, COMPRESSION SNAPPY) of it.
// 3. Prints rows/s of both, the ratio, both file sizes, and our memory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rows = Number(process.argv[2] ?? 1000000);
const build = process.argv[3] ?? join(root, 'build');
const dir = mkdtempSync(join(tmpdir(), 'cdcw-bench-'));
try {
  const ours = join(dir, 'cdc-writer.parquet');
  const duck = join(dir, 'duckdb.parquet');
  const result = JSON.parse(execFileSync(join(build, 'bench_parquet'), [ours, String(rows), 'snappy']).toString());

  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await db.connect();
  await conn.run('SET threads=1');
  await conn.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${ours}')`);
  const count = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM t')).getRowObjectsJson()[0].n;
  if (count !== rows) throw new Error(`DuckDB read ${count} rows from our file, expected ${rows}`);
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    await conn.run(`COPY t TO '${duck}' (FORMAT PARQUET, COMPRESSION SNAPPY)`);
    runs.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const duckSeconds = Math.min(...runs);
  const duckRate = rows / duckSeconds;
  const duckBytes = statSync(duck).size;
  conn.closeSync();

  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`rows                    ${fmt(rows)} (14 columns, ~10% nulls in 9 of them)`);
  console.log(`cdc-writer encoder      ${fmt(result.rows_per_second)} rows/s  (${result.seconds.toFixed(3)} s)  ${fmt(result.file_bytes)} bytes`);
  console.log(`DuckDB COPY, 1 thread   ${fmt(duckRate)} rows/s  (${duckSeconds.toFixed(3)} s, best of 3)  ${fmt(duckBytes)} bytes`);
  console.log(`speed ratio             ${(result.rows_per_second / duckRate).toFixed(2)}x DuckDB`);
  console.log(`size ratio              ${(result.file_bytes / duckBytes).toFixed(3)} of DuckDB's file`);
  console.log(`encoder memory          peak RSS growth ${fmt(result.peak_rss_growth_bytes)} bytes for a row group of ${fmt(result.row_group_raw_bytes)} raw bytes (${(result.peak_rss_growth_bytes / result.row_group_raw_bytes).toFixed(2)}x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
