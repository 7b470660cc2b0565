// parquet_check.mjs -- writes a Parquet file with cdc-writer's encoder
// (tests/tools/parquet_fixture) from a JS description, reads it back with two
// independent readers (DuckDB and hyparquet), and compares every value and
// the schema with what was described.
//
//   const spec = { columns: [{ name, type, optional, list, precision, scale, utc }],
//                  rows: [[...], ...], options: {...}, metadata: {...} };
//   const file = await writeWithFixture(spec, path);
//   await assertRoundTrip(spec, file);   // throws with the first difference
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import { query } from './parquet_reader.mjs';
import { run, repoRoot } from './services.mjs';

export function fixtureBinary() {
  if (process.env.CDCW_PARQUET_FIXTURE) return process.env.CDCW_PARQUET_FIXTURE;
  const p = join(repoRoot, 'build', 'tests', 'parquet_fixture');
  if (existsSync(p)) return p;
  throw new Error('CDCW_PARQUET_FIXTURE is not set and build/tests/parquet_fixture does not exist');
}

// Runs the fixture writer; resolves with { code, stderr }.
export async function writeWithFixture(spec, path) {
  const specPath = `${path}.json`;
  writeFileSync(specPath, JSON.stringify(spec));
  const r = await run(fixtureBinary(), [specPath, path]);
  return { code: r.code, stderr: r.stderr };
}

// ---- the canonical form both readers are brought to ----

function toNumber(v) {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === '-0') return -0;
  return Number(v);
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

export function formatDecimal(unscaled, scale) {
  let v = BigInt(unscaled);
  const neg = v < 0n;
  if (neg) v = -v;
  let digits = v.toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

function uuidText(h) {
  const x = h.replaceAll('-', '').toLowerCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function textOf(v) {
  if (typeof v === 'string') return v;
  if (v && v.repeat !== undefined) return v.repeat.repeat(v.count);
  if (v && v.hex !== undefined) return Buffer.from(v.hex, 'hex').toString('utf8');
  throw new Error(`not a text value: ${JSON.stringify(v)}`);
}

const INTEGER_TYPES = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'DATE', 'TIME_MILLIS',
  'TIME_MICROS', 'TIMESTAMP_MILLIS', 'TIMESTAMP_MICROS']);

function expectedScalar(col, v) {
  if (v === null || v === undefined) return null;
  const t = col.type;
  if (t === 'BOOLEAN') return v;
  if (INTEGER_TYPES.has(t)) return BigInt(v).toString();
  if (t === 'FLOAT') return Math.fround(toNumber(v));
  if (t === 'DOUBLE') return toNumber(v);
  if (t === 'STRING' || t === 'JSON' || t === 'ENUM') return textOf(v);
  if (t === 'BINARY') return typeof v === 'string' ? v.toLowerCase() : v.hex.toLowerCase();
  if (t === 'UUID') return uuidText(v);
  if (t === 'DECIMAL') return formatDecimal(v, col.scale ?? 0);
  throw new Error(`unknown type ${t}`);
}

export function expectedValue(col, v) {
  if (col.list) return v === null || v === undefined ? null : v.map((e) => expectedScalar(col, e));
  return expectedScalar(col, v);
}

function quoteIdent(name) {
  return `"${name.replaceAll('"', '""')}"`;
}

function duckdbScalarExpr(col, x) {
  switch (col.type) {
    case 'BOOLEAN': return x;
    case 'FLOAT':
    case 'DOUBLE': return `${x}::DOUBLE`;
    case 'BINARY': return `lower(hex(${x}))`;
    case 'DATE': return `(${x} - DATE '1970-01-01')::VARCHAR`;
    case 'TIME_MILLIS': return `(datediff('microsecond', TIME '00:00:00', ${x}::TIME) // 1000)::VARCHAR`;
    case 'TIME_MICROS': return `datediff('microsecond', TIME '00:00:00', ${x}::TIME)::VARCHAR`;
    case 'TIMESTAMP_MILLIS': return `epoch_ms(${x})::VARCHAR`;
    case 'TIMESTAMP_MICROS': return `epoch_us(${x})::VARCHAR`;
    default: return `${x}::VARCHAR`;
  }
}

function sqlString(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

export async function readWithDuckDB(spec, file) {
  const select = spec.columns.map((col) => {
    const c = quoteIdent(col.name);
    const expr = col.list ? `list_transform(${c}, x -> ${duckdbScalarExpr(col, 'x')})` : duckdbScalarExpr(col, c);
    return `${expr} AS ${quoteIdent(col.name)}`;
  });
  const rows = await query(`SELECT ${select.join(', ')} FROM read_parquet(${sqlString(file)})`, { js: true });
  // DuckDB prints DECIMAL(p, p) without the leading zero ("-.05"); bring it to "-0.05".
  const fix = (v) => (typeof v === 'string' ? v.replace(/^(-?)\./, '$10.') : v);
  for (const col of spec.columns.filter((c) => c.type === 'DECIMAL')) {
    for (const row of rows) {
      const v = row[col.name];
      row[col.name] = Array.isArray(v) ? v.map(fix) : fix(v);
    }
  }
  return rows;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function hyparquetScalar(col, v) {
  if (v === null || v === undefined) return null;
  switch (col.type) {
    case 'BOOLEAN': return v;
    case 'FLOAT':
    case 'DOUBLE': return Number(v);
    case 'BINARY': return hex(v);
    case 'ENUM': return typeof v === 'string' ? v : textDecoder.decode(v);
    case 'DECIMAL': return v; // a JS number: compared approximately
    default: return typeof v === 'bigint' ? v.toString() : String(v);
  }
}

export async function readWithHyparquet(spec, file) {
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const rows = await parquetReadObjects({
    file: ab,
    compressors,
    utf8: false,
    parsers: {
      timestampFromMilliseconds: (x) => String(x),
      timestampFromMicroseconds: (x) => String(x),
      dateFromDays: (d) => String(d),
      jsonFromBytes: (b) => b && textDecoder.decode(b),
    },
  });
  return rows.map((row) => Object.fromEntries(spec.columns.map((col) => {
    const v = row[col.name];
    if (col.list) return [col.name, v === null || v === undefined ? null : v.map((e) => hyparquetScalar(col, e))];
    return [col.name, hyparquetScalar(col, v)];
  })));
}

function sameScalar(col, actual, expected, approximateDecimals) {
  if (expected === null) return actual === null;
  if (col.type === 'FLOAT' || col.type === 'DOUBLE') return Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected));
  if (col.type === 'DECIMAL' && approximateDecimals) {
    const e = Number(expected);
    return typeof actual === 'number' && Math.abs(actual - e) <= 1e-9 * Math.max(1, Math.abs(e));
  }
  return actual === expected;
}

function sameValue(col, actual, expected, approximateDecimals) {
  if (col.list) {
    if (expected === null) return actual === null;
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    return expected.every((e, i) => sameScalar(col, actual[i], e, approximateDecimals));
  }
  return sameScalar(col, actual, expected, approximateDecimals);
}

function show(v) {
  return JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : Number.isNaN(x) ? 'NaN' : x))?.slice(0, 200);
}

export function compareRows(spec, rows, reader, { approximateDecimals = false } = {}) {
  assert.equal(rows.length, spec.rows.length, `${reader}: row count`);
  spec.rows.forEach((row, r) => {
    spec.columns.forEach((col, c) => {
      const expected = expectedValue(col, row[c]);
      const actual = rows[r][col.name];
      if (!sameValue(col, actual, expected, approximateDecimals)) {
        assert.fail(`${reader}: row ${r}, column '${col.name}' (${col.type}${col.list ? ' list' : ''}): expected ${show(expected)}, got ${show(actual)}`);
      }
    });
  });
}

// What each column must look like in the file's schema (parquet.thrift names).
export function expectedSchema(col) {
  const t = col.type;
  const physical = {
    BOOLEAN: 'BOOLEAN', INT8: 'INT32', INT16: 'INT32', INT32: 'INT32', INT64: 'INT64', FLOAT: 'FLOAT',
    DOUBLE: 'DOUBLE', STRING: 'BYTE_ARRAY', JSON: 'BYTE_ARRAY', ENUM: 'BYTE_ARRAY', BINARY: 'BYTE_ARRAY',
    UUID: 'FIXED_LEN_BYTE_ARRAY', DATE: 'INT32', TIME_MILLIS: 'INT32', TIME_MICROS: 'INT64',
    TIMESTAMP_MILLIS: 'INT64', TIMESTAMP_MICROS: 'INT64',
  }[t] ?? (col.precision <= 9 ? 'INT32' : col.precision <= 18 ? 'INT64' : 'FIXED_LEN_BYTE_ARRAY');
  const utc = col.utc !== false;
  const logical = {
    INT8: 'INTEGER', INT16: 'INTEGER', INT32: 'INTEGER', INT64: 'INTEGER', STRING: 'STRING', JSON: 'JSON',
    ENUM: 'ENUM', UUID: 'UUID', DECIMAL: 'DECIMAL', DATE: 'DATE', TIME_MILLIS: 'TIME', TIME_MICROS: 'TIME',
    TIMESTAMP_MILLIS: 'TIMESTAMP', TIMESTAMP_MICROS: 'TIMESTAMP',
  }[t];
  const converted = {
    INT8: 'INT_8', INT16: 'INT_16', INT32: 'INT_32', INT64: 'INT_64', STRING: 'UTF8', JSON: 'JSON',
    ENUM: 'ENUM', DECIMAL: 'DECIMAL', DATE: 'DATE',
    TIME_MILLIS: utc ? 'TIME_MILLIS' : undefined, TIME_MICROS: utc ? 'TIME_MICROS' : undefined,
    TIMESTAMP_MILLIS: utc ? 'TIMESTAMP_MILLIS' : undefined, TIMESTAMP_MICROS: utc ? 'TIMESTAMP_MICROS' : undefined,
  }[t];
  return { physical, logical, converted, utc };
}

export function checkSchemaWithHyparquet(spec, file) {
  const buf = readFileSync(file);
  const md = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const schema = md.schema;
  let i = 1;
  for (const col of spec.columns) {
    const want = expectedSchema(col);
    let leaf = schema[i];
    assert.equal(leaf.name, col.name, 'hyparquet: column name');
    if (col.list) {
      assert.equal(leaf.converted_type, 'LIST');
      assert.equal(leaf.logical_type?.type, 'LIST');
      assert.equal(leaf.repetition_type, col.optional ? 'OPTIONAL' : 'REQUIRED');
      assert.equal(schema[i + 1].repetition_type, 'REPEATED');
      assert.equal(schema[i + 1].name, 'list');
      leaf = schema[i + 2];
      assert.equal(leaf.name, 'element');
      assert.equal(leaf.repetition_type, 'OPTIONAL');
      i += 3;
    } else {
      assert.equal(leaf.repetition_type, col.optional ? 'OPTIONAL' : 'REQUIRED', `hyparquet: ${col.name} repetition`);
      i += 1;
    }
    assert.equal(leaf.type, want.physical, `hyparquet: ${col.name} physical type`);
    assert.equal(leaf.logical_type?.type, want.logical, `hyparquet: ${col.name} logical type`);
    assert.equal(leaf.converted_type, want.converted, `hyparquet: ${col.name} converted type`);
    if (col.type === 'DECIMAL') {
      assert.equal(leaf.logical_type.precision, col.precision);
      assert.equal(leaf.logical_type.scale, col.scale ?? 0);
      assert.equal(leaf.precision, col.precision);
      assert.equal(leaf.scale, col.scale ?? 0);
    }
    if (want.logical === 'TIMESTAMP' || want.logical === 'TIME') {
      assert.equal(leaf.logical_type.isAdjustedToUTC, want.utc, `hyparquet: ${col.name} isAdjustedToUTC`);
      assert.equal(leaf.logical_type.unit, col.type.endsWith('MILLIS') ? 'MILLIS' : 'MICROS');
    }
    if (col.type === 'INT8' || col.type === 'INT16' || col.type === 'INT32' || col.type === 'INT64') {
      assert.equal(leaf.logical_type.bitWidth, Number(col.type.slice(3)));
      assert.equal(leaf.logical_type.isSigned, true);
    }
  }
  return md;
}

export async function checkSchemaWithDuckDB(spec, file) {
  const rows = await query(`SELECT * FROM parquet_schema(${sqlString(file)})`);
  const leaves = rows.filter((r) => r.num_children === null);
  assert.equal(leaves.length, spec.columns.length, 'DuckDB: leaf column count');
  spec.columns.forEach((col, k) => {
    const want = expectedSchema(col);
    const leaf = leaves[k];
    assert.equal(leaf.name, col.list ? 'element' : col.name, 'DuckDB: column name');
    assert.equal(leaf.type, want.physical, `DuckDB: ${col.name} physical type`);
    assert.equal(leaf.repetition_type, col.list || col.optional ? 'OPTIONAL' : 'REQUIRED', `DuckDB: ${col.name} repetition`);
    assert.equal(leaf.converted_type ?? undefined, want.converted, `DuckDB: ${col.name} converted type`);
    if (col.type === 'DECIMAL') {
      assert.equal(Number(leaf.precision), col.precision);
      assert.equal(Number(leaf.scale), col.scale ?? 0);
    }
  });
  const described = await query(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  assert.deepEqual(described.map((d) => d.column_name), spec.columns.map((c) => c.name), 'DuckDB: column names');
  return described;
}

// Every check at once: schema and values with both readers.
export async function assertRoundTrip(spec, file) {
  await checkSchemaWithDuckDB(spec, file);
  const md = checkSchemaWithHyparquet(spec, file);
  compareRows(spec, await readWithDuckDB(spec, file), 'DuckDB');
  compareRows(spec, await readWithHyparquet(spec, file), 'hyparquet', { approximateDecimals: true });
  return md;
}
