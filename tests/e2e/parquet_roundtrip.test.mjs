// The Parquet writer, checked by readers no one here wrote: every type,
// encoding, codec and edge case is written by tests/tools/parquet_fixture and
// read back by DuckDB and by hyparquet, schema and every value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  writeWithFixture, assertRoundTrip, readWithHyparquet, checkSchemaWithHyparquet,
} from '../harness/parquet_check.mjs';
import { query } from '../harness/parquet_reader.mjs';
import { python } from '../harness/real_services.mjs';

let dir;
let n = 0;
before(() => { dir = mkdtempSync(join(tmpdir(), 'cdcw-pq-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

async function roundTrip(spec) {
  const file = join(dir, `${n++}.parquet`);
  const { code, stderr } = await writeWithFixture(spec, file);
  assert.equal(code, 0, `the writer failed: ${stderr}`);
  const md = await assertRoundTrip(spec, file);
  return { file, md };
}

const sql = (s) => `'${s.replaceAll("'", "''")}'`;

// Every column type, with the values at the edges of each.
const TYPED_COLUMNS = [
  ['BOOLEAN', {}, [true, false, true, false, true, true]],
  ['INT8', {}, [-128, 127, 0, -1, 1, 42]],
  ['INT16', {}, [-32768, 32767, 0, -1, 1, 42]],
  ['INT32', {}, [-2147483648, 2147483647, 0, -1, 1, 42]],
  ['INT64', {}, ['-9223372036854775808', '9223372036854775807', '0', '-1', '1', '4611686018427387904']],
  ['FLOAT', {}, [1.5, 'NaN', '-Infinity', 'Infinity', '-0', 3.4028234663852886e38]],
  ['DOUBLE', {}, [1e-300, 'NaN', '-Infinity', 'Infinity', '-0', -1.7976931348623157e308]],
  ['STRING', {}, ['', 'plain', 'Zoë 東京 🚀', { hex: '610062' } /* a NUL inside */, 'x'.repeat(300), 'z']],
  ['JSON', {}, ['{"a":[1,2,{"b":null}]}', '[]', '"s"', '1', 'null', '{}']],
  ['ENUM', {}, ['RED', 'GREEN', 'RED', 'BLUE', 'RED', 'GREEN']],
  ['BINARY', {}, ['', '00', 'ff00ff', '0102030405', 'deadbeef', '7f']],
  ['UUID', {}, ['00000000000000000000000000000000', 'ffffffffffffffffffffffffffffffff',
    '0123456789abcdef0123456789abcdef', '123e4567e89b12d3a456426614174000', '80000000000000000000000000000000', '7fffffffffffffffffffffffffffffff']],
  ['DECIMAL', { precision: 5, scale: 2 }, ['-12345', '0', '99999', '-1', '5', '-99999']],
  ['DECIMAL', { precision: 9, scale: 0 }, ['-999999999', '999999999', '0', '1', '-1', '7']],
  ['DECIMAL', { precision: 18, scale: 6 }, ['-999999999999999999', '999999999999999999', '0', '-1', '1000000', '123456789012']],
  ['DECIMAL', { precision: 25, scale: 3 }, ['-9999999999999999999999999', '9999999999999999999999999', '0', '-1', '1', '-128']],
  ['DECIMAL', { precision: 38, scale: 10 }, ['-99999999999999999999999999999999999999', '99999999999999999999999999999999999999', '0', '-1', '10000000000', '-170141183460469231731687303715884105']],
  ['DATE', {}, [-719162, -1, 0, 2932896, 19000, -25567]],
  ['TIME_MILLIS', {}, [0, 86399999, 1, 43200000, 3723456, 999]],
  ['TIME_MICROS', { utc: false }, ['0', '86399999999', '1', '43200000000', '3723456789', '999999']],
  ['TIMESTAMP_MILLIS', {}, ['-62135596800000', '-1', '0', '253402300799999', '1700000000123', '-86400000']],
  ['TIMESTAMP_MICROS', {}, ['-62135596800000000', '-5', '0', '253402300799999999', '1700000000123456', '-1000001']],
  ['TIMESTAMP_MILLIS', { utc: false }, ['-1', '0', '1', '1559033904863', '-2208988800000', '4102444800000']],
  ['TIMESTAMP_MICROS', { utc: false }, ['-1', '0', '1', '1559033904863123', '-2208988800000000', '4102444800000000']],
];

function typedSpec(options) {
  const columns = [];
  const rows = Array.from({ length: 8 }, () => []);
  TYPED_COLUMNS.forEach(([type, extra, values], k) => {
    for (const optional of [false, true]) {
      columns.push({ name: `${type.toLowerCase()}_${k}_${optional ? 'opt' : 'req'}`, type, optional, ...extra });
      for (let r = 0; r < rows.length; r++) {
        const v = values[r % values.length];
        rows[r].push(optional && (r === 1 || r === 6) ? null : v);
      }
    }
  });
  return { options, columns, rows };
}

for (const codec of ['snappy', 'zstd', 'gzip', 'none']) {
  for (const dictionary of [true, false]) {
    test(`every type and edge value, ${codec}, ${dictionary ? 'dictionary' : 'PLAIN'}`, async () => {
      const { md } = await roundTrip(typedSpec({ codec, dictionary }));
      const codecName = { snappy: 'SNAPPY', zstd: 'ZSTD', gzip: 'GZIP', none: 'UNCOMPRESSED' }[codec];
      for (const chunk of md.row_groups[0].columns) {
        assert.equal(chunk.meta_data.codec, codecName);
        const dictPages = chunk.meta_data.encodings.includes('RLE_DICTIONARY');
        if (!dictionary) assert.equal(dictPages, false, 'PLAIN only when the dictionary is off');
      }
      if (dictionary) {
        // Repeated short values are dictionary encoded; BOOLEAN never is.
        const enumChunk = md.row_groups[0].columns.find((c) => c.meta_data.path_in_schema[0].startsWith('enum_'));
        assert.ok(enumChunk.meta_data.encodings.includes('RLE_DICTIONARY'));
        assert.ok(enumChunk.meta_data.dictionary_page_offset !== undefined);
        assert.ok(enumChunk.meta_data.dictionary_page_offset < enumChunk.meta_data.data_page_offset);
        const boolChunk = md.row_groups[0].columns.find((c) => c.meta_data.path_in_schema[0].startsWith('boolean_'));
        assert.deepEqual(boolChunk.meta_data.encodings, ['PLAIN', 'RLE']);
      }
    });
  }
}

test('zero rows: a valid file with the schema and no row group', async () => {
  const spec = typedSpec({});
  spec.rows = [];
  const { file, md } = await roundTrip(spec);
  assert.equal(md.row_groups.length, 0);
  assert.equal(Number(md.num_rows), 0);
  const [{ c }] = await query(`SELECT count(*)::INTEGER AS c FROM read_parquet(${sql(file)})`);
  assert.equal(c, 0);
});

test('all-null columns, empty strings versus nulls', async () => {
  const columns = [
    { name: 'all_null_s', type: 'STRING', optional: true },
    { name: 'all_null_i', type: 'INT64', optional: true },
    { name: 'all_null_d', type: 'DECIMAL', precision: 30, scale: 2, optional: true },
    { name: 's', type: 'STRING', optional: true },
  ];
  const rows = Array.from({ length: 300 }, (_, i) => [null, null, null, i % 3 === 0 ? null : i % 3 === 1 ? '' : 'v']);
  const { file, md } = await roundTrip({ columns, rows });
  const stats = md.row_groups[0].columns[0].meta_data.statistics;
  assert.equal(Number(stats.null_count), 300);
  assert.equal(stats.min_value, undefined, 'no min for an all-null chunk');
  const [r] = await query(`SELECT count(*) FILTER (WHERE s = '')::INTEGER AS empty, count(*) FILTER (WHERE s IS NULL)::INTEGER AS nulls FROM read_parquet(${sql(file)})`);
  assert.deepEqual(r, { empty: 100, nulls: 100 });
});

test('multi-MiB strings and binaries', async () => {
  const columns = [
    { name: 'big', type: 'STRING', optional: true },
    { name: 'blob', type: 'BINARY', optional: true },
  ];
  const rows = [
    [{ repeat: 'ü-€-abc ', count: 400000 }, { hex: 'ab'.repeat(3 << 20) }],
    [null, null],
    [{ repeat: 'x', count: 5 << 20 }, { hex: '00'.repeat(1 << 20) }],
    ['small', ''],
  ];
  const { file } = await roundTrip({ columns, rows });
  const [r] = await query(`SELECT max(strlen(big))::INTEGER AS longest FROM read_parquet(${sql(file)})`);
  assert.equal(r.longest, 5 << 20);
});

test('lists: null, empty, null elements, every element type', async () => {
  const types = [['INT32', [1, -2]], ['INT64', ['-9223372036854775808', '7']], ['STRING', ['', 'é']],
    ['DOUBLE', ['NaN', 2.5]], ['BOOLEAN', [true, false]], ['DECIMAL', ['-12345', '1'], { precision: 20, scale: 4 }],
    ['TIMESTAMP_MICROS', ['-1', '1700000000000000']], ['DATE', [-1, 19000]], ['UUID', ['0123456789abcdef0123456789abcdef', 'ffffffffffffffffffffffffffffffff']]];
  const columns = [];
  const rows = Array.from({ length: 6 }, () => []);
  types.forEach(([type, [a, b], extra], k) => {
    columns.push({ name: `l${k}`, type, list: true, optional: true, ...(extra ?? {}) });
    columns.push({ name: `r${k}`, type, list: true, optional: false, ...(extra ?? {}) });
    const values = [[a, b], [], [null], [a, null, b, a], null, [b]];
    rows.forEach((row, r) => {
      row.push(values[r]);
      row.push(values[r] === null ? [] : values[r]);
    });
  });
  const { file } = await roundTrip({ columns, rows });
  const [r] = await query(`SELECT len(l0)::INTEGER AS n FROM read_parquet(${sql(file)}) LIMIT 1 OFFSET 3`);
  assert.equal(r.n, 4);
});

test('many row groups and pages keep every value in order', async () => {
  const columns = [
    { name: 'id', type: 'INT64' },
    { name: 's', type: 'STRING', optional: true },
    { name: 'l', type: 'INT32', list: true, optional: true },
  ];
  const rows = Array.from({ length: 5000 }, (_, i) => [String(i), i % 7 === 0 ? null : `v${i % 50}`, i % 5 === 0 ? null : [i, i + 1].slice(0, i % 3)]);
  const { md } = await roundTrip({ columns, rows, options: { row_group_bytes: 16384, page_rows: 100 } });
  assert.ok(md.row_groups.length > 3, `expected several row groups, got ${md.row_groups.length}`);
  const pages = md.row_groups[0].columns[0].meta_data.encoding_stats.find((e) => e.page_type === 'DATA_PAGE').count;
  assert.ok(pages > 1, 'several data pages per chunk');
  const total = md.row_groups.reduce((a, g) => a + Number(g.num_rows), 0);
  assert.equal(total, 5000);
});

// Integers without a dictionary are DELTA_BINARY_PACKED where that is smaller:
// steps of one (offsets), uneven steps (times), steps across the ends of INT32
// and INT64 (which wrap around in the reader too), nulls, and pages that end
// inside a miniblock or hold one value. Random INT64s stay PLAIN.
test('integer sequences are DELTA_BINARY_PACKED, read back by DuckDB, hyparquet and pyarrow', async () => {
  const columns = [
    { name: 'offset', type: 'INT64' },
    { name: 'at', type: 'TIMESTAMP_MICROS', optional: true },
    { name: 'wrap32', type: 'INT32' },
    { name: 'wrap64', type: 'INT64', optional: true },
    { name: 'day', type: 'DATE' },
    { name: 'noise', type: 'INT64' },
  ];
  const n = 1000;
  let x = 0x2545f4914f6cdd1dn;
  const noise = () => { x ^= x << 13n; x &= (1n << 64n) - 1n; x ^= x >> 7n; x ^= x << 17n; x &= (1n << 64n) - 1n; return BigInt.asIntN(64, x).toString(); };
  const rows = Array.from({ length: n }, (_, i) => [
    String(1099511627776 + i),
    i % 9 === 4 ? null : String(1735689600000000n + BigInt(i) * 1000n + BigInt((i * 7919) % 997)),
    Number(BigInt.asIntN(32, 2147483647n - 500n + BigInt(i))),
    i % 5 === 0 ? null : BigInt.asIntN(64, 9223372036854775807n - 300n + BigInt(i) * 3n).toString(),
    19000 + Math.floor(i / 100),
    noise(),
  ]);
  const { file, md } = await roundTrip({ columns, rows, options: { dictionary: false, page_rows: 333 } });
  // And pyarrow, the third reader, as the integers under each type.
  const byArrow = await python(`import json, sys
import pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
kinds = {'offset': pa.int64(), 'at': pa.int64(), 'wrap32': pa.int32(), 'wrap64': pa.int64(), 'day': pa.int32(), 'noise': pa.int64()}
print(json.dumps({k: [None if v is None else str(v) for v in t.column(k).cast(kind).to_pylist()] for k, kind in kinds.items()}))`, [file]);
  columns.forEach((c, k) => assert.deepEqual(byArrow[c.name], rows.map((r) => (r[k] === null ? null : String(r[k]))), `pyarrow: ${c.name}`));
  // 1000 rows in pages of 333: the last page's one value is smaller PLAIN.
  const pages = (k) => Object.fromEntries(md.row_groups[0].columns[k].meta_data.encoding_stats
    .map((e) => [e.encoding, e.count]));
  for (const k of [0, 1, 2, 3, 4]) {
    assert.ok(md.row_groups[0].columns[k].meta_data.encodings.includes('DELTA_BINARY_PACKED'), columns[k].name);
    assert.deepEqual(pages(k), { DELTA_BINARY_PACKED: 3, PLAIN: 1 }, columns[k].name);
  }
  assert.deepEqual(pages(5), { PLAIN: 4 }, 'random INT64s are not smaller as deltas');
  assert.deepEqual(md.row_groups[0].columns[5].meta_data.encodings, ['PLAIN', 'RLE']);
  const offsetBytes = Number(md.row_groups[0].columns[0].meta_data.total_uncompressed_size);
  assert.ok(offsetBytes < n, `steps of one take under a byte per value (${offsetBytes} bytes for ${n})`);
});

test('10^6 high-cardinality strings fall back from dictionary to PLAIN', async () => {
  const spec = {
    columns: [
      { name: 'i', type: 'INT64', gen: 'id' },
      { name: 'unique', type: 'STRING', gen: 'unique' },
      { name: 'low', type: 'STRING', gen: 'card:10' },
    ],
    generate: 1000000,
  };
  const file = join(dir, 'highcard.parquet');
  const { code, stderr } = await writeWithFixture(spec, file);
  assert.equal(code, 0, stderr);
  const [r] = await query(`SELECT count(*)::INTEGER AS n,
      count(*) FILTER (WHERE "unique" <> 'row-' || i || '-' || ((i * 7919) % 1000003))::INTEGER AS bad_unique,
      count(*) FILTER (WHERE low <> 'c' || (i % 10))::INTEGER AS bad_low,
      count(DISTINCT "unique")::INTEGER AS distinct_unique,
      (max(i) = 999999 AND min(i) = 0) AS ids
    FROM read_parquet(${sql(file)})`);
  assert.deepEqual(r, { n: 1000000, bad_unique: 0, bad_low: 0, distinct_unique: 1000000, ids: true });

  const md = checkSchemaWithHyparquet({ columns: spec.columns }, file);
  const chunk = (g, k) => md.row_groups[g].columns[k].meta_data;
  assert.ok(!chunk(0, 1).encodings.includes('RLE_DICTIONARY'), 'the unique strings fell back to PLAIN');
  assert.ok(chunk(0, 2).encodings.includes('RLE_DICTIONARY'), 'the low-cardinality strings kept their dictionary');

  // hyparquet reads the whole file too.
  const rows = await readWithHyparquet({ columns: spec.columns }, file);
  assert.equal(rows.length, 1000000);
  for (const i of [0, 1, 123456, 999999]) {
    assert.equal(rows[i].unique, `row-${i}-${(i * 7919) % 1000003}`);
    assert.equal(rows[i].low, `c${i % 10}`);
  }
});

test('statistics use each logical type\'s sort order', async () => {
  const columns = [
    { name: 'i32', type: 'INT32', optional: true },
    { name: 's', type: 'STRING', optional: true },
    { name: 'dec', type: 'DECIMAL', precision: 5, scale: 2, optional: true },
    { name: 'wide', type: 'DECIMAL', precision: 30, scale: 0, optional: true },
    { name: 'dbl', type: 'DOUBLE', optional: true },
    { name: 'ts', type: 'TIMESTAMP_MICROS', optional: true },
    { name: 'u', type: 'UUID', optional: true },
    { name: 'zero', type: 'DOUBLE' },
  ];
  const rows = [
    [-5, 'b', '-100', '-5', 'NaN', '-1000000', 'f0000000000000000000000000000000', 0],
    [3, 'é', '50', '10', 1.5, '0', '0f000000000000000000000000000000', '-0'],
    [null, null, null, null, null, null, null, 0],
    [10, 'a', '-7', '-123456789012345678901234567890'.slice(0, 30), -2, '1700000000000000', '10000000000000000000000000000000', 0],
    [-1, 'z', '0', '999', 'NaN', '-5', null, '-0'],
  ];
  const { file, md } = await roundTrip({ columns, rows, options: { page_rows: 2 } });
  const stats = await query(`SELECT path_in_schema AS col, stats_min_value AS min, stats_max_value AS max, stats_null_count::INTEGER AS nulls
                             FROM parquet_metadata(${sql(file)}) ORDER BY column_id`);
  const by = Object.fromEntries(stats.map((s) => [s.col, s]));
  assert.deepEqual([by.i32.min, by.i32.max, by.i32.nulls], ['-5', '10', 1]);
  assert.deepEqual([by.s.min, by.s.max], ['a', 'é'], 'strings compare as unsigned bytes: é (0xC3) sorts after z');
  assert.deepEqual([by.dec.min, by.dec.max], ['-1.00', '0.50']);
  assert.deepEqual([by.wide.min, by.wide.max], ['-12345678901234567890123456789', '999']);
  assert.deepEqual([by.dbl.min, by.dbl.max], ['-2.0', '1.5'], 'NaN is never a min or max');
  assert.equal(by.u.min, '0f000000-0000-0000-0000-000000000000');
  assert.equal(by.u.max, 'f0000000-0000-0000-0000-000000000000');
  assert.deepEqual([by.zero.min, by.zero.max], ['-0.0', '0.0'], 'zeros: min -0, max +0');
  // hyparquet decodes the same statistics from the footer (as Dates, to the millisecond).
  const ts = md.row_groups[0].columns[5].meta_data.statistics;
  assert.equal(ts.min_value.getTime(), -1000);
  assert.equal(ts.max_value.getTime(), 1700000000000);
  assert.equal(Number(ts.null_count), 1);
  assert.equal(by.ts.nulls, 1);
});

test('created_by names cdc-writer; key-value metadata is kept', async () => {
  const spec = {
    columns: [{ name: 'x', type: 'INT32' }],
    rows: [[1]],
    metadata: { 'cdc.topic': 'cdc.oltp_dabi.public.customers', 'cdc.offsets': '0-41' },
  };
  const { file, md } = await roundTrip(spec);
  assert.match(md.created_by, /^cdc-writer version \d+\.\d+\.\d+ \(build [0-9a-z]+\)$/);
  const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sql(file)}) ORDER BY k`);
  assert.deepEqual(kv, [{ k: 'cdc.offsets', v: '0-41' }, { k: 'cdc.topic', v: 'cdc.oltp_dabi.public.customers' }]);
  const [fm] = await query(`SELECT created_by FROM parquet_file_metadata(${sql(file)})`);
  assert.equal(fm.created_by, md.created_by);
});

test('column names are kept as they are', async () => {
  const columns = ['with space', 'ünïcødé', 'dot.ted', '_cdc_op', '123', 'quote"d', 'é'.repeat(100)].map((name) => ({ name, type: 'STRING', optional: true }));
  await roundTrip({ columns, rows: [columns.map((c) => c.name)] });
});

test('bad values are refused with an error naming column and row, not written', async () => {
  const cases = [
    [{ name: 's', type: 'STRING' }, { hex: '6f6bc328' }, "row 1: column 's': invalid UTF-8 at byte 2"],
    [{ name: 'd', type: 'DECIMAL', precision: 4, scale: 2 }, '10000', "row 1: column 'd': decimal value has more than 4 digits"],
    [{ name: 'b', type: 'INT8' }, 300, "row 1: column 'b': 300 is out of the INT8 range"],
    [{ name: 'r', type: 'INT32' }, null, "row 1: column 'r' is required and cannot be null"],
  ];
  for (const [col, bad, message] of cases) {
    const good = col.type === 'STRING' ? 'ok' : col.type === 'DECIMAL' ? '1' : 1;
    const file = join(dir, `bad-${n++}.parquet`);
    const { code, stderr } = await writeWithFixture({ columns: [col], rows: [[good], [bad]] }, file);
    assert.equal(code, 1);
    assert.ok(stderr.includes(message), `${stderr} should include ${message}`);
  }
});
