// decoder_bench.mjs -- the Debezium decoder against DuckDB's read_json on the
// same envelopes, single-threaded, in one run: generated envelopes (1,000,000
// of an 8-column table) and envelopes recorded from the real connector
// (tests/fixtures/debezium/recorded/, the 43-column wide table), each with
// their schema and schemaless.
//
//   node bench/decoder_bench.mjs [N] [BUILD_DIR]
//     RECORDED=200000   messages of each recorded form (the 6 recorded ones
//                       over and over, the k-th with id k, so rows differ)
//     ROUNDS=3          runs of each side, alternating; medians are printed
//     BENCH_INPUTS=generated,recorded
//
// For each input file, each round runs in this order:
//   cdc-writer  build/bench_decoder run: decodes into column buffers
//   DuckDB      read_json into a table of the same flattened rows (the row
//               image plus op, ts_ms and source.ts_ms)
//   cdc-writer  build/bench_decoder run --parquet: column buffers written as
//               Parquet (Snappy) every 100,000 rows, as the daemon's flushes
//   DuckDB      COPY (the same SELECT) TO a Parquet file (Snappy)
//   DuckDB      count(*) over read_json: parsing alone
// DuckDB runs with threads=1 in this process; its CPU seconds are this
// process's. Each run's rows are counted (and for Parquet, sum(id) and the
// column names compared) so that both sides are seen to read every envelope.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const n = Number(process.argv[2] ?? 1000000);
const build = process.argv[3] ?? join(root, 'build');
const recordedN = Number(process.env.RECORDED ?? 200000);
const rounds = Number(process.env.ROUNDS ?? 3);
const inputs = (process.env.BENCH_INPUTS ?? 'generated,recorded').split(',');
const recorded = join(root, 'tests/fixtures/debezium/recorded');
// Columns of cdc-writer's files that DuckDB's SELECT does not make: the
// record's and, with bench_decoder's default groups (source, key), the source
// metadata (read from each envelope's source block) and the key.
const ourOwn = new Set(['_processed_at', '_kafka_topic', '_kafka_partition', '_kafka_offset', '_kafka_timestamp',
  '_cdc_lsn', '_cdc_tx_id', '_cdc_sequence', '_cdc_snapshot', '_cdc_source', '_cdc_position', '_cdc_tx_order',
  '_cdc_tx_collection_order', '_kafka_key']);
const bench = join(build, 'bench_decoder');

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const dir = mkdtempSync(join(tmpdir(), 'cdcw-decbench-'));
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await db.connect();
await conn.run('SET threads=1');
const one = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson()[0];
const columns = async (sql) =>
  (await conn.runAndReadAll(`DESCRIBE ${sql}`)).getRowObjectsJson().map((r) => r.column_name);

async function duck(sql) {
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  await conn.run(sql);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: cpuNow() - cpu };
}

// What a Parquet output holds: rows, sum(id), the columns in order.
async function parquetFacts(glob) {
  const src = `read_parquet('${glob}')`;
  const f = await one(`SELECT count(*)::BIGINT AS n, sum(id)::VARCHAR AS ids FROM ${src}`);
  return { rows: Number(f.n), ids: f.ids, columns: await columns(`SELECT * FROM ${src}`) };
}

// One input file through every side, `rounds` times; returns the medians.
async function measure(file, count, schemaless) {
  const at = schemaless ? '' : 'payload.';
  const src = `read_json('${file}', format = 'newline_delimited', maximum_object_size = 67108864)`;
  const select = `SELECT unnest(${at}after), ${at}op AS _cdc_op, ${at}ts_ms AS _cdc_ts,
    ${at}source.ts_ms AS _cdc_source_ts FROM ${src}`;
  const ourDir = join(dir, 'ours');
  const duckFile = join(dir, 'duckdb.parquet');
  const expectIds = String((BigInt(count) * BigInt(count + 1)) / 2n);
  const runs = { buffers: [], table: [], ourParquet: [], duckParquet: [], count: [] };
  const check = (what, got) => {
    if (got !== count) throw new Error(`${what} produced ${got} rows of ${file}, expected ${count}`);
  };
  let sizes, tableColumns;
  const ours = (args) => {
    const r = JSON.parse(execFileSync(bench, ['run', file, ...args]).toString());
    check('cdc-writer', r.rows);
    return { seconds: r.seconds, cpu: r.cpu_seconds, read: r.read_seconds, bytes: r.parquet_bytes, files: r.files };
  };
  for (let round = 0; round < rounds; round++) {
    runs.buffers.push(ours([]));

    runs.table.push(await duck(`CREATE OR REPLACE TABLE t AS ${select}`));
    check('DuckDB read_json', Number((await one('SELECT count(*)::BIGINT AS n FROM t')).n));
    tableColumns = (await columns('SELECT * FROM t')).length;
    await conn.run('DROP TABLE t');

    rmSync(ourDir, { recursive: true, force: true });
    mkdirSync(ourDir);
    runs.ourParquet.push(ours(['--parquet', ourDir]));

    rmSync(duckFile, { force: true });
    runs.duckParquet.push(await duck(`COPY (${select}) TO '${duckFile}' (FORMAT parquet, COMPRESSION snappy)`));

    const start = process.hrtime.bigint();
    const cpu = cpuNow();
    const c = await one(`SELECT count(*)::BIGINT AS n FROM ${src}`);
    runs.count.push({ seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: cpuNow() - cpu });
    check('DuckDB count(*)', Number(c.n));

    // Both Parquet outputs hold the same rows (count and sum of ids) and the
    // same columns, but for cdc-writer's metadata columns.
    const mine = await parquetFacts(join(ourDir, '*.parquet'));
    const theirs = await parquetFacts(duckFile);
    check('cdc-writer Parquet', mine.rows);
    check('DuckDB Parquet', theirs.rows);
    if (mine.ids !== expectIds || theirs.ids !== expectIds)
      throw new Error(`sum(id): cdc-writer ${mine.ids}, DuckDB ${theirs.ids}, expected ${expectIds}`);
    const mineCols = mine.columns.filter((c) => !ourOwn.has(c)).join(',');
    if (mineCols !== theirs.columns.join(','))
      throw new Error(`the Parquet files' columns differ:\n  cdc-writer ${mineCols}\n  DuckDB     ${theirs.columns}`);
    sizes = {
      ours: readdirSync(ourDir).reduce((s, f) => s + statSync(join(ourDir, f)).size, 0),
      files: readdirSync(ourDir).length,
      duck: statSync(duckFile).size,
      columns: theirs.columns.length,
    };
    if (tableColumns !== sizes.columns) throw new Error(`DuckDB's table has ${tableColumns} columns, its file ${sizes.columns}`);
  }
  const med = {};
  for (const [side, list] of Object.entries(runs))
    med[side] = {
      seconds: median(list.map((r) => r.seconds)),
      cpu: median(list.map((r) => r.cpu)),
      all: list.map((r) => r.seconds.toFixed(2)).join(' '),
    };
  med.read = median(runs.buffers.map((r) => r.read));
  return { med, sizes };
}

function report(title, file, count, { med, sizes }) {
  const bytes = statSync(file).size;
  console.log(`${title}: ${fmt(count)} messages, ${fmt(bytes / count)} bytes each on average, ` +
    `${fmt(bytes / 1e6)} MB; medians of ${rounds} runs each, alternating`);
  console.log(`  ${''.padEnd(36)} ${'messages/s'.padStart(10)} ${'MB/s'.padStart(7)} ${'CPU s/10^6 msgs'.padStart(16)}  runs (s)`);
  const line = (label, m) =>
    console.log(`  ${label.padEnd(36)} ${fmt(count / m.seconds).padStart(10)} ${(bytes / m.seconds / 1e6).toFixed(0).padStart(7)} ` +
      `${(m.cpu / (count / 1e6)).toFixed(2).padStart(16)}  ${m.all}`);
  const ratio = (a, b) =>
    console.log(`  ${'  cdc-writer / DuckDB'.padEnd(36)} ${(b.seconds / a.seconds).toFixed(2).padStart(9)}x ${''.padStart(7)} ` +
      `${(a.cpu / b.cpu).toFixed(2).padStart(15)}x`);
  line('cdc-writer decoder -> column buffers', med.buffers);
  line('DuckDB read_json -> table', med.table);
  ratio(med.buffers, med.table);
  line('cdc-writer decoder -> Parquet', med.ourParquet);
  line('DuckDB read_json -> COPY Parquet', med.duckParquet);
  ratio(med.ourParquet, med.duckParquet);
  line('DuckDB read_json count(*), parse only', med.count);
  console.log(`  Parquet: cdc-writer ${fmt(sizes.ours)} bytes in ${sizes.files} file${sizes.files === 1 ? '' : 's'}, DuckDB ${fmt(sizes.duck)} bytes; ` +
    `${fmt(count)} rows and sum(id) equal, the same ${sizes.columns} columns (+${ourOwn.size} metadata columns in cdc-writer's)`);
  console.log(`  reading the file once (1 MiB pieces, page cache) takes ${med.read.toFixed(2)} s: in DuckDB's times, not cdc-writer's`);
}

try {
  if (inputs.includes('generated')) {
    // With schema ({"schema":..,"payload":..}, the JSON converter's default), then
    // the payloads alone (schemas.enable=false).
    for (const form of ['with schema', 'schemaless']) {
      const file = join(dir, `generated-${form.replace(' ', '-')}.ndjson`);
      const schemaless = form === 'schemaless';
      execFileSync(bench, ['gen', file, String(n), ...(schemaless ? ['--schemaless'] : [])]);
      report(`generated, 8 columns, ${form}`, file, n, await measure(file, n, schemaless));
      rmSync(file);
    }
  }
  if (inputs.includes('recorded')) {
    for (const [form, name] of [['with schema', 'wide_default'], ['schemaless', 'wide_noschema']]) {
      const file = join(dir, `recorded-${name}.ndjson`);
      execFileSync(bench, ['repeat', join(recorded, `${name}.ndjson`), file, String(recordedN)]);
      report(`recorded ${name}, 43 columns, ${form}`, file, recordedN, await measure(file, recordedN, form === 'schemaless'));
      rmSync(file);
    }
  }
} finally {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
}
