// decoder_bench.mjs -- the Debezium decoder against DuckDB's read_json on
// the same 1,000,000 envelopes, single-threaded, in one run: once with their
// schema, once schemaless.
//
//   node bench/decoder_bench.mjs [N] [BUILD_DIR]
//
// 1. build/bench_decoder writes N Debezium envelopes (with schema) as NDJSON,
//    then decodes them into column buffers and prints its figures.
// 2. DuckDB (threads=1) reads the same file with read_json into the same
//    flattened rows (the row image plus op, ts_ms and source.ts_ms).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const n = Number(process.argv[2] ?? 1000000);
const build = process.argv[3] ?? join(root, 'build');
const dir = mkdtempSync(join(tmpdir(), 'cdcw-decbench-'));
try {
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await db.connect();
  await conn.run('SET threads=1');
  // With schema ({"schema":..,"payload":..}, the JSON converter's default), then
  // the payloads alone (schemas.enable=false).
  for (const form of ['with schema', 'schemaless']) {
    const file = join(dir, `envelopes-${form.replace(' ', '-')}.ndjson`);
    const schemaless = form === 'schemaless';
    execFileSync(join(build, 'bench_decoder'), ['gen', file, String(n), ...(schemaless ? ['--schemaless'] : [])]);
    const bytes = statSync(file).size;
    const ours = JSON.parse(execFileSync(join(build, 'bench_decoder'), ['run', file]).toString());

    const at = schemaless ? '' : 'payload.';
    const start = process.hrtime.bigint();
    await conn.run(`CREATE OR REPLACE TABLE t AS
      SELECT unnest(${at}after), ${at}op AS _cdc_op, ${at}ts_ms AS _cdc_ts, ${at}source.ts_ms AS _cdc_source_ts
      FROM read_json('${file}', format = 'newline_delimited', maximum_object_size = 67108864)`);
    const duckSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rows = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM t')).getRowObjectsJson()[0].n;
    if (rows !== n) throw new Error(`DuckDB produced ${rows} rows, expected ${n}`);

    const duckRate = n / duckSeconds;
    console.log(`envelopes ${form.padEnd(12)}  ${fmt(n)}, ${fmt(bytes / n)} bytes each on average, ${fmt(bytes)} bytes`);
    console.log(`  cdc-writer decoder    ${fmt(ours.messages_per_second)} messages/s, ${ours.mb_per_second.toFixed(1)} MB/s (${ours.seconds.toFixed(2)} s)`);
    console.log(`  DuckDB read_json      ${fmt(duckRate)} rows/s, ${(bytes / duckSeconds / 1e6).toFixed(1)} MB/s (${duckSeconds.toFixed(2)} s, 1 thread)`);
    console.log(`  ratio                 ${(ours.messages_per_second / duckRate).toFixed(2)}x DuckDB`);
  }
  conn.closeSync();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
