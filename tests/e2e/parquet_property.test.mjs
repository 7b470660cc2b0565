// Property test of the Parquet writer: random schemas, random data and
// random writer options (codec, dictionary on/off and tiny limits that force
// a fallback, pages of a few rows, tiny row groups), thousands of files, each
// read back by DuckDB and hyparquet with identical values and schema.
//
// CDCW_PROPERTY_FILES (default 2000) sets the number of files;
// CDCW_PROPERTY_SEED replays one run (the seed is printed on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { assertRoundTrip, fixtureBinary } from '../harness/parquet_check.mjs';
import { run } from '../harness/services.mjs';

const FILES = Number(process.env.CDCW_PROPERTY_FILES ?? 2000);
const SEED = Number(process.env.CDCW_PROPERTY_SEED ?? Date.now() % 1000000007);
const BATCH = 250;

// A small deterministic PRNG (mulberry32), so a seed replays a run.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeGen(rand) {
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  const bigint = (bits) => {
    let v = 0n;
    for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(int(0, 0xffff));
    v &= (1n << BigInt(bits)) - 1n;
    return v - (1n << BigInt(bits - 1));
  };
  const hexBytes = (n) => Array.from({ length: n }, () => int(0, 255).toString(16).padStart(2, '0')).join('');
  const CHARS = ['a', 'b', 'Z', ' ', '0', 'é', 'ß', '東', '京', '🚀', '"', '\\', '\n', '\u00a0', 'ü'];
  const text = (max) => Array.from({ length: int(0, max) }, () => pick(CHARS)).join('');
  return { int, pick, bigint, hexBytes, text, rand };
}

const TYPES = ['BOOLEAN', 'INT8', 'INT16', 'INT32', 'INT64', 'FLOAT', 'DOUBLE', 'STRING', 'JSON', 'ENUM',
  'BINARY', 'UUID', 'DECIMAL', 'DATE', 'TIME_MILLIS', 'TIME_MICROS', 'TIMESTAMP_MILLIS', 'TIMESTAMP_MICROS'];

function randomColumn(g, k) {
  const type = g.pick(TYPES);
  const col = { name: `c${k}_${type.toLowerCase()}`, type, optional: g.rand() < 0.6, list: g.rand() < 0.15 };
  if (type === 'DECIMAL') {
    col.precision = g.int(1, 38);
    col.scale = g.int(0, col.precision);
  }
  if (type.startsWith('TIME')) col.utc = g.rand() < 0.5;
  col.lowCardinality = g.rand() < 0.4;
  return col;
}

function randomScalar(g, col) {
  switch (col.type) {
    case 'BOOLEAN': return g.rand() < 0.5;
    case 'INT8': return g.pick([-128, 127, 0, g.int(-128, 127)]);
    case 'INT16': return g.pick([-32768, 32767, g.int(-32768, 32767)]);
    case 'INT32': return g.pick([-2147483648, 2147483647, g.int(-2147483648, 2147483647)]);
    case 'INT64': return g.pick(['-9223372036854775808', '9223372036854775807', g.bigint(64).toString(), String(g.int(-9, 9))]);
    case 'FLOAT': return g.pick(['NaN', 'Infinity', '-Infinity', '-0', 0, Math.fround((g.rand() - 0.5) * 1e6), 3.4028234663852886e38, 1.401298464324817e-45]);
    case 'DOUBLE': return g.pick(['NaN', 'Infinity', '-Infinity', '-0', 0, (g.rand() - 0.5) * 1e12, 5e-324, -1.7976931348623157e308, g.rand()]);
    case 'STRING': return col.lowCardinality ? g.pick(['', 'a', 'é', 'Zoë']) : g.text(24);
    case 'JSON': return JSON.stringify({ k: g.text(5), n: g.int(-5, 5), l: [g.rand() < 0.5, null] });
    case 'ENUM': return g.pick(['RED', 'GREEN', 'BLUE', 'ÜBER']);
    case 'BINARY': return g.hexBytes(col.lowCardinality ? g.int(0, 1) : g.int(0, 20));
    case 'UUID': return g.hexBytes(16);
    case 'DECIMAL': {
      const digits = g.int(1, col.precision);
      let s = String(g.int(1, 9));
      for (let i = 1; i < digits; i++) s += String(g.int(0, 9));
      if (g.rand() < 0.1) s = '9'.repeat(col.precision);
      if (g.rand() < 0.1) s = '0';
      return g.rand() < 0.5 && s !== '0' ? `-${s}` : s;
    }
    case 'DATE': return g.int(-719162, 2932896);
    case 'TIME_MILLIS': return g.int(0, 86399999);
    case 'TIME_MICROS': return String(g.int(0, 86399999) * 1000 + g.int(0, 999));
    case 'TIMESTAMP_MILLIS': return String(g.int(-62135596800, 253402300799) * 1000 + g.int(0, 999));
    case 'TIMESTAMP_MICROS': return String(BigInt(g.int(-62135596800, 253402300799)) * 1000000n + BigInt(g.int(0, 999999)));
    default: throw new Error(col.type);
  }
}

function randomValue(g, col) {
  if (col.list) {
    if (col.optional && g.rand() < 0.15) return null;
    return Array.from({ length: g.int(0, 4) }, () => (g.rand() < 0.2 ? null : randomScalar(g, col)));
  }
  if (col.optional && g.rand() < 0.25) return null;
  return randomScalar(g, col);
}

function randomSpec(g) {
  const columns = Array.from({ length: g.int(1, 6) }, (_, k) => randomColumn(g, k));
  const allNull = g.rand() < 0.05;
  const rows = Array.from({ length: g.pick([0, 1, 2, 3, 9, 17, 40, g.int(0, 60)]) }, () =>
    columns.map((col) => (allNull && (col.optional || col.list) ? (col.list && !col.optional ? [] : null) : randomValue(g, col))));
  const options = {
    codec: g.pick(['snappy', 'zstd', 'gzip', 'none']),
    dictionary: g.rand() < 0.7,
    dictionary_limit: g.pick([16, 64, 1 << 20]),
    page_rows: g.pick([1, 2, 3, 7, 20000]),
    page_bytes: g.pick([64, 1 << 20]),
    row_group_bytes: g.pick([128, 1024, 64 << 20]),
  };
  return { columns, rows, options };
}

test(`${FILES} random files read back identically (seed ${SEED})`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-prop-'));
  const g = makeGen(prng(SEED));
  try {
    for (let start = 0; start < FILES; start += BATCH) {
      const specs = Array.from({ length: Math.min(BATCH, FILES - start) }, () => randomSpec(g));
      // A new directory per batch: DuckDB caches files by path and modification
      // time, so a file rewritten under the same name within a second could be
      // read from its cache.
      const batchDir = join(dir, `batch${start}`);
      mkdirSync(batchDir);
      const listPath = join(batchDir, 'specs.json');
      writeFileSync(listPath, JSON.stringify(specs));
      const r = await run(fixtureBinary(), ['--many', listPath, batchDir], { timeoutMs: 600000 });
      assert.equal(r.code, 0, r.stderr);
      const results = r.stdout.trim().split('\n');
      assert.equal(results.length, specs.length);
      for (let i = 0; i < specs.length; i++) {
        const context = `seed ${SEED}, file ${start + i}: ${JSON.stringify(specs[i]).slice(0, 300)}`;
        assert.equal(results[i], `${i} ok`, context);
        try {
          await assertRoundTrip(specs[i], join(batchDir, `${i}.parquet`));
        } catch (e) {
          e.message = `${e.message}\n  ${context}`;
          throw e;
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
