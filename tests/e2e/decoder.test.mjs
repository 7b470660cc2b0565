// The Debezium decoder and the column buffers, end to end: message values go
// through tests/tools/decode_tool into Parquet files that DuckDB reads back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { run, repoRoot } from '../harness/services.mjs';
import { query, readParquet } from '../harness/parquet_reader.mjs';

const fixtures = join(repoRoot, 'tests', 'fixtures');
let dir;
let n = 0;
before(() => { dir = mkdtempSync(join(tmpdir(), 'cdcw-dec-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function tool() {
  return process.env.CDCW_DECODE_TOOL ?? join(repoRoot, 'build', 'tests', 'decode_tool');
}

// Runs decode_tool; resolves with the per-message results and the written files.
async function decode(inputs, { ndjson = false, metadata } = {}) {
  const prefix = join(dir, `out${n++}`);
  const args = [...(ndjson ? ['--ndjson'] : []), ...(metadata ? ['--metadata', metadata] : []), prefix, ...inputs];
  const r = await run(tool(), args);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  return {
    results: lines.filter((l) => l.offset !== undefined),
    flushes: lines.filter((l) => l.flush !== undefined),
  };
}

function ndjsonFile(messages) {
  const path = join(dir, `in${n++}.ndjson`);
  writeFileSync(path, messages.map((m) => (m === null ? '' : typeof m === 'string' ? m : JSON.stringify(m))).join('\n'));
  return path;
}

const sql = (s) => `'${s.replaceAll("'", "''")}'`;

test('every bad message gets its precise error, and no row', async () => {
  const bad = join(fixtures, 'bad');
  const names = readdirSync(bad).filter((f) => f.endsWith('.json')).sort();
  assert.ok(names.length >= 50, `the corpus has ${names.length} messages`);
  const { results, flushes } = await decode(names.map((f) => join(bad, f)));
  assert.equal(results.length, names.length);
  names.forEach((name, i) => {
    const expected = readFileSync(join(bad, name.replace(/\.json$/, '.expect')), 'utf8').trim();
    assert.equal(results[i].result, 'error', `${name} should be refused`);
    assert.ok(results[i].error.includes(expected), `${name}: '${results[i].error}' should include '${expected}'`);
  });
  const [{ rows }] = await query(`SELECT count(*)::INTEGER AS rows FROM read_parquet(${sql(flushes[0].flush)})`);
  assert.equal(rows, 0, 'no partial row from any bad message');
});

test('Debezium samples: every operation, with and without schema, and flattened records', async () => {
  const deb = join(fixtures, 'debezium');
  const order = ['pg_read_snapshot_with_schema.json', 'pg_create_with_schema.json', 'pg_update_with_schema.json',
    'pg_update_replica_identity_default_with_schema.json', 'pg_delete_with_schema.json'];
  const { results, flushes } = await decode(order.map((f) => join(deb, f)));
  assert.deepEqual(results.map((r) => r.result), ['row', 'row', 'row', 'row', 'row']);
  assert.equal(flushes.length, 1, 'one schema, one file');
  const { columns, rows } = await readParquet(flushes[0].flush);
  assert.deepEqual(columns.map((c) => `${c.name} ${c.type}`), [
    'id INTEGER', 'first_name VARCHAR', 'last_name VARCHAR', 'email VARCHAR',
    '_cdc_op VARCHAR', '_cdc_ts TIMESTAMP WITH TIME ZONE', '_cdc_source_ts TIMESTAMP WITH TIME ZONE',
    '_processed_at TIMESTAMP WITH TIME ZONE', '_kafka_topic VARCHAR', '_kafka_partition INTEGER', '_kafka_offset BIGINT',
    '_kafka_timestamp TIMESTAMP WITH TIME ZONE', '_cdc_lsn BIGINT', '_cdc_tx_id BIGINT', '_cdc_sequence VARCHAR',
    '_cdc_snapshot VARCHAR', '_cdc_source VARCHAR', '_cdc_position VARCHAR', '_cdc_tx_order BIGINT',
    '_cdc_tx_collection_order BIGINT', '_kafka_key VARCHAR']);
  assert.deepEqual(rows.map((r) => r._cdc_op), ['r', 'c', 'u', 'u', 'd']);
  assert.deepEqual(rows.map((r) => r.first_name), ['Anne', 'Anne', 'Anne Marie', 'Anne Marie', null]);
  assert.deepEqual(rows[4], {
    id: 1, first_name: null, last_name: null, email: null, _cdc_op: 'd',
    _cdc_ts: '2016-06-10 18:05:02.461+00', _cdc_source_ts: '2016-06-10 18:05:02.457+00',
    _processed_at: '2023-11-14 22:13:20+00', _kafka_topic: 'cdc.test.public.t', _kafka_partition: 0, _kafka_offset: '4',
    _kafka_timestamp: null, _cdc_lsn: '46523128', _cdc_tx_id: '555', _cdc_sequence: '["24023119","46523128"]',
    _cdc_snapshot: 'false', _cdc_source: 'postgres.public.customers', _cdc_position: null, _cdc_tx_order: null,
    _cdc_tx_collection_order: null, _kafka_key: null,
  }, 'a delete keeps the key of the before image, other columns null');

  const schemaless = ['pg_create_without_schema.json', 'pg_delete_without_schema.json', 'pg_truncate_without_schema.json',
    'pg_message_without_schema.json'];
  const s = await decode(schemaless.map((f) => join(deb, f)));
  assert.deepEqual(s.results.map((r) => r.result), ['row', 'row', 'row', 'row']);
  const sl = await readParquet(s.flushes[0].flush);
  assert.equal(sl.columns.find((c) => c.name === 'id').type, 'BIGINT', 'schema-less integers are INT64');
  assert.deepEqual(sl.rows.map((r) => [r._cdc_op, r.id, r.email]), [
    ['c', '1', 'annek@noanswer.org'], ['d', '1', 'annek@noanswer.org'], ['t', null, null], ['m', null, null]]);
  assert.equal(sl.rows[3]._cdc_ts, '2019-05-28 08:58:24.961+00');

  const flat = await decode(['flattened_create.json', 'flattened_delete_rewrite.json'].map((f) => join(deb, f)));
  const fl = await readParquet(flat.flushes[0].flush);
  assert.deepEqual(fl.rows.map((r) => [r._cdc_op, r.first_name, r.__deleted, r.__table]), [
    ['c', 'Anne', 'false', 'customers'], ['d', 'Anne Marie', 'true', 'customers']]);
  assert.equal(fl.rows[0]._cdc_source_ts, '2019-05-28 08:58:24.859+00', '__source_ts_ms becomes _cdc_source_ts');
  assert.ok(!fl.columns.some((c) => c.name === '__op'), '__op is metadata, not a data column');

  const key = await decode([join(deb, 'key_with_schema.json')]);
  assert.equal(key.results[0].result, 'error');
});

test('source metadata columns: PostgreSQL recorded, MySQL with a transaction block, flattened; each group on its own', async () => {
  const deb = join(fixtures, 'debezium');
  const inputs = ['pg_recorded_types_snapshot_with_schema.json', 'mysql_update_without_schema.json', 'flattened_create.json'];
  const { results, flushes } = await decode(inputs.map((f) => join(deb, f)), { metadata: 'source,key,headers' });
  assert.deepEqual(results.map((r) => r.result), ['row', 'row', 'row']);
  const meta = '_cdc_lsn, _cdc_tx_id, _cdc_sequence, _cdc_snapshot, _cdc_source, _cdc_position, _cdc_tx_order, _cdc_tx_collection_order';
  const files = flushes.map((f) => f.flush);
  assert.equal(files.length, 2, 'with a schema, then the schema-less two');
  const all = `read_parquet([${files.map(sql).join(', ')}], union_by_name = true)`;
  const rows = await query(`SELECT ${meta}, _kafka_key, _kafka_headers FROM ${all} ORDER BY _kafka_offset`);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], {
    _cdc_lsn: '22466840', _cdc_tx_id: '743', _cdc_sequence: '[null,"22466840"]', _cdc_snapshot: 'last',
    _cdc_source: 'postgres.public.t', _cdc_position: null, _cdc_tx_order: null, _cdc_tx_collection_order: null,
    _kafka_key: null, _kafka_headers: null,
  }, 'the source block of Debezium 3.6.1');
  assert.deepEqual(rows[1], {
    _cdc_lsn: null, _cdc_tx_id: null, _cdc_sequence: null, _cdc_snapshot: 'false', _cdc_source: 'inventory.customers',
    _cdc_position: '{"server_id":223344,"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:23","file":"mysql-bin.000003","pos":484,"row":0}',
    _cdc_tx_order: '1', _cdc_tx_collection_order: '1', _kafka_key: null, _kafka_headers: null,
  }, 'MySQL: the binlog position, the transaction block');
  const [{ pos }] = await query(`SELECT (_cdc_position->>'pos')::BIGINT AS pos FROM read_parquet(${sql(files[1])})`);
  assert.equal(pos, '484', 'DuckDB reads the position as JSON');
  assert.equal(rows[2]._cdc_lsn, '24023128', '__lsn of a flattened record');
  assert.equal(rows[2]._cdc_source, 'customers', '__table alone');
  const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet(${sql(files[1])})`)).map((r) => [r.column_name, r.column_type]));
  assert.equal(types.__lsn, 'BIGINT', '__lsn stays a data column');
  assert.equal(types._kafka_headers, 'VARCHAR');

  const none = await decode([join(deb, 'mysql_update_without_schema.json')], { metadata: 'none' });
  const cols = (await readParquet(none.flushes[0].flush)).columns.map((c) => c.name);
  assert.deepEqual(cols.slice(-8), ['_cdc_op', '_cdc_ts', '_cdc_source_ts', '_processed_at', '_kafka_topic',
    '_kafka_partition', '_kafka_offset', '_kafka_timestamp'], 'no optional group: the base columns alone');
  const headersOnly = await decode([join(deb, 'mysql_update_without_schema.json')], { metadata: 'headers' });
  const last = (await readParquet(headersOnly.flushes[0].flush)).columns.map((c) => c.name).slice(-2);
  assert.deepEqual(last, ['_kafka_timestamp', '_kafka_headers']);
});

test('tombstones produce no row but are reported', async () => {
  const create = readFileSync(join(fixtures, 'debezium', 'pg_create_without_schema.json'), 'utf8').replaceAll('\n', ' ');
  const file = ndjsonFile([create, null, create, '{"schema": {"type": "struct", "fields": []}, "payload": null}']);
  const { results, flushes } = await decode([file], { ndjson: true });
  assert.deepEqual(results.map((r) => r.result), ['row', 'tombstone', 'row', 'tombstone']);
  const [{ rows, offsets }] = await query(`SELECT count(*)::INTEGER AS rows, list(_kafka_offset ORDER BY _kafka_offset)::VARCHAR AS offsets FROM read_parquet(${sql(flushes[0].flush)})`);
  assert.equal(rows, 2);
  assert.equal(offsets, '[0, 2]');
});

test('semantic types map to Parquet types with exact values', async () => {
  const gen = join(fixtures, 'generated');
  const { results, flushes } = await decode([join(gen, 'semantic_types_0.json'), join(gen, 'semantic_types_1.json')]);
  assert.deepEqual(results.map((r) => r.result), ['row', 'row']);
  const file = flushes[0].flush;
  const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet(${sql(file)})`)).map((r) => [r.column_name, r.column_type]));
  assert.deepEqual(types, {
    i8: 'TINYINT', i16: 'SMALLINT', i32: 'INTEGER', i64: 'BIGINT', f32: 'FLOAT', f64: 'DOUBLE', b: 'BOOLEAN',
    s: 'VARCHAR', by: 'BLOB', dec: 'DECIMAL(10,2)', dec_wide: 'DECIMAL(30,4)', dec_noprec: 'DECIMAL(38,3)', vdec: 'VARCHAR',
    d: 'DATE', cd: 'DATE', t: 'TIME', mt: 'TIME', nt: 'TIME', ts: 'TIMESTAMP', mts: 'TIMESTAMP', nts: 'TIMESTAMP',
    cts: 'TIMESTAMP WITH TIME ZONE', zts: 'TIMESTAMP WITH TIME ZONE', j: 'JSON', u: 'UUID', e: 'VARCHAR',
    arr: 'INTEGER[]', sarr: 'VARCHAR[]', darr: 'DECIMAL(5,1)[]', geom: 'JSON', hstore: 'JSON',
    _cdc_op__src: 'VARCHAR', _cdc_op: 'VARCHAR', _cdc_ts: 'TIMESTAMP WITH TIME ZONE', _cdc_source_ts: 'TIMESTAMP WITH TIME ZONE',
    _processed_at: 'TIMESTAMP WITH TIME ZONE', _kafka_topic: 'VARCHAR', _kafka_partition: 'INTEGER', _kafka_offset: 'BIGINT',
    _kafka_timestamp: 'TIMESTAMP WITH TIME ZONE', _cdc_lsn: 'BIGINT', _cdc_tx_id: 'BIGINT', _cdc_sequence: 'VARCHAR',
    _cdc_snapshot: 'VARCHAR', _cdc_source: 'VARCHAR', _cdc_position: 'VARCHAR', _cdc_tx_order: 'BIGINT',
    _cdc_tx_collection_order: 'BIGINT', _kafka_key: 'VARCHAR',
  });
  const rows = await query(`SELECT i8, i16, i32, i64::VARCHAR AS i64, f32, f64::VARCHAR AS f64, b, s, hex("by") AS "by",
      dec::VARCHAR AS dec, dec_wide::VARCHAR AS dec_wide, dec_noprec::VARCHAR AS dec_noprec, vdec, d::VARCHAR AS d, cd::VARCHAR AS cd,
      t::VARCHAR AS t, mt::VARCHAR AS mt, nt::VARCHAR AS nt, epoch_us(ts)::VARCHAR AS ts, epoch_us(mts)::VARCHAR AS mts,
      epoch_us(nts)::VARCHAR AS nts, epoch_us(cts)::VARCHAR AS cts, epoch_us(zts)::VARCHAR AS zts, j::VARCHAR AS j,
      u::VARCHAR AS u, e, arr::VARCHAR AS arr, sarr::VARCHAR AS sarr, darr::VARCHAR AS darr, geom::VARCHAR AS geom,
      hstore::VARCHAR AS hstore, _cdc_op__src, _cdc_op FROM read_parquet(${sql(file)}) ORDER BY _kafka_offset`);
  assert.deepEqual(rows[0], {
    i8: -128, i16: 32767, i32: -2147483648, i64: '9223372036854775807', f32: 1.5, f64: 'nan', b: true, s: 'Zoë 東京',
    by: '010203', dec: '-123.45', dec_wide: '-12345678901234567890123456.7890', dec_noprec: '0.001', vdec: '-12.345',
    d: '1969-12-31', cd: '2022-01-08', t: '01:02:03.456', mt: '01:02:03.456789', nt: '01:02:03.456789',
    ts: '-1000', mts: '1559033904863123', nts: '-2', cts: '1559033904863000', zts: '1559033904863123',
    j: '{"a":[1,2]}', u: '123e4567-e89b-12d3-a456-426614174000', e: 'RED', arr: '[1, NULL, -3]', sarr: '[]',
    darr: '[-1.5, NULL]', geom: '{"wkb": "AQ==", "srid": 4326}', hstore: '{"k": "v"}',
    _cdc_op__src: 'source column', _cdc_op: 'c',
  });
  assert.equal(rows[1].s, '', 'an empty string stays empty, not null');
  assert.equal(rows[1].i16, null);
  assert.equal(rows[1].vdec, '1000000000000000000000000000000');
  assert.equal(rows[1].d, '0001-01-01');
  assert.equal(rows[1].mts, '-62135596800000000');
  assert.equal(rows[1].zts, '-1', 'a ZonedTimestamp before 1970');
  assert.equal(rows[1].dec, '0.00');
});

test('without a schema, types are inferred per batch and widened without losing a value', async () => {
  const m = (after) => ({ op: 'c', ts_ms: 1, source: { ts_ms: 1 }, after });
  // Written as text: JavaScript numbers cannot hold these integers exactly.
  const file = ndjsonFile([
    '{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"ints":1,"mixed_num":1,"to_text":1,"big":9007199254740993,"bools":true,"objs":{"a":1},"nulls":null,"huge":1}}',
    '{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"ints":-9223372036854775808,"mixed_num":2.5,"to_text":"x","big":0.5,"bools":false,"objs":[1,2],"nulls":null,"huge":12345678901234567890}}',
    m({ ints: 3, late: 'appears later', to_text: { k: [true] } }),
  ]);
  const { flushes } = await decode([file], { ndjson: true });
  assert.equal(flushes.length, 1, 'inference never splits a batch');
  const f = flushes[0].flush;
  const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet(${sql(f)})`)).map((r) => [r.column_name, r.column_type]));
  assert.equal(types.ints, 'BIGINT');
  assert.equal(types.mixed_num, 'DOUBLE');
  assert.equal(types.to_text, 'VARCHAR');
  assert.equal(types.big, 'VARCHAR', '2^53 + 1 cannot be a DOUBLE exactly: kept as text');
  assert.equal(types.bools, 'BOOLEAN');
  assert.equal(types.objs, 'JSON');
  assert.equal(types.nulls, 'VARCHAR');
  assert.equal(types.huge, 'VARCHAR', 'an integer beyond INT64 is kept as text');
  const rows = await query(`SELECT ints::VARCHAR AS ints, mixed_num, to_text, big, bools, objs::VARCHAR AS objs, nulls, late, huge
                            FROM read_parquet(${sql(f)}) ORDER BY _kafka_offset`);
  assert.deepEqual(rows, [
    { ints: '1', mixed_num: 1, to_text: '1', big: '9007199254740993', bools: true, objs: '{"a":1}', nulls: null, late: null, huge: '1' },
    { ints: '-9223372036854775808', mixed_num: 2.5, to_text: 'x', big: '0.5', bools: false, objs: '[1,2]', nulls: null, late: null, huge: '12345678901234567890' },
    { ints: '3', mixed_num: null, to_text: '{"k":[true]}', big: null, bools: null, objs: null, nulls: null, late: 'appears later', huge: null },
  ]);
});

test('without a schema, fractions become the doubles their text rounds to, however long', async () => {
  const long = `1.${'0'.repeat(450)}e-300`; // past any fixed buffer: the exponent must still count
  const file = ndjsonFile([
    `{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"price":123.45,"tiny":${long},"neg":-0.0}}`,
    '{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"price":0.1,"tiny":2.5e-3,"neg":-12345678901234567e-5}}',
  ]);
  const { flushes } = await decode([file], { ndjson: true });
  const f = flushes[0].flush;
  const rows = await query(`SELECT price, tiny, neg, signbit(neg) AS negative FROM read_parquet(${sql(f)}) ORDER BY _kafka_offset`);
  assert.deepEqual(rows, [
    { price: 123.45, tiny: 1e-300, neg: -0, negative: true },
    { price: 0.1, tiny: 0.0025, neg: -123456789012.34567, negative: true },
  ]);
});

test('without a schema, a number a double cannot hold makes its column text, each value exact', async () => {
  const digits = `1.${'0'.repeat(450)}5e-300`; // 452 significant digits
  const file = ndjsonFile([
    `{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"big":1e400,"small":1e-400,"long":${digits},"dec":1234567890123456789.012345678901,"dbl":1.5}}`,
    '{"op":"c","ts_ms":1,"source":{"ts_ms":1},"after":{"big":2.5,"small":2.5,"long":2.5,"dec":2.5,"dbl":0.30000000000000004}}',
  ]);
  const { flushes } = await decode([file], { ndjson: true });
  const f = flushes[0].flush;
  const rows = await query(`SELECT big, small, long, dec, dbl FROM read_parquet(${sql(f)}) ORDER BY _kafka_offset`);
  assert.deepEqual(rows, [
    { big: '1e400', small: '1e-400', long: digits, dec: '1234567890123456789.012345678901', dbl: 1.5 },
    { big: '2.5', small: '2.5', long: '2.5', dec: '2.5', dbl: 0.30000000000000004 },
  ]);
});

test('a declared type change ends the file; an added column does not', async () => {
  const schema = (idType, extra = []) => ({
    type: 'struct', name: 'x.Envelope', fields: [
      { type: 'struct', optional: true, field: 'after', fields: [{ type: idType, optional: false, field: 'id' }, ...extra] },
      { type: 'string', optional: false, field: 'op' }],
  });
  const msg = (s, after) => ({ schema: s, payload: { after, op: 'c' } });
  const file = ndjsonFile([
    msg(schema('int32'), { id: 1 }),
    msg(schema('int32', [{ type: 'string', optional: true, field: 'note' }]), { id: 2, note: 'added' }),
    msg(schema('int64'), { id: 3 }),
    msg(schema('int64'), { id: 4 }),
  ]);
  const { results, flushes } = await decode([file], { ndjson: true });
  assert.deepEqual(results.map((r) => r.result), ['row', 'row', 'row', 'row']);
  assert.equal(flushes.length, 2);
  assert.equal(flushes[0].why, "column 'id' changed from INT32 to INT64");
  const first = await query(`SELECT id, note FROM read_parquet(${sql(flushes[0].flush)}) ORDER BY id`);
  assert.deepEqual(first, [{ id: 1, note: null }, { id: 2, note: 'added' }]);
  const second = await query(`SELECT id::VARCHAR AS id FROM read_parquet(${sql(flushes[1].flush)}) ORDER BY id`);
  assert.deepEqual(second, [{ id: '3' }, { id: '4' }]);
  const [{ t }] = await query(`SELECT typeof(id) AS t FROM read_parquet(${sql(flushes[1].flush)}) LIMIT 1`);
  assert.equal(t, 'BIGINT');
  assert.ok(existsSync(flushes[1].flush));
});

test('messages whose schema was seen before take the fast path with the same results', async () => {
  // Kafka Connect's own compact form, made without JSON.parse: JavaScript
  // numbers would round the int64 values.
  const minify = (text) => {
    let out = '';
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        out += ch;
        if (ch === '\\') out += text[++i];
        else if (ch === '"') inString = false;
      } else if (ch === '"') {
        inString = true;
        out += ch;
      } else if (!' \n\r\t'.includes(ch)) {
        out += ch;
      }
    }
    return out;
  };
  const compact = minify(readFileSync(join(fixtures, 'generated', 'semantic_types_0.json'), 'utf8'));
  const payloadAt = compact.indexOf(',"payload":');
  const schemaText = compact.slice('{"schema":'.length, payloadAt);
  const payloadText = compact.slice(payloadAt + ',"payload":'.length, -1);
  const withPayload = (payload) => `{"schema":${schemaText},"payload":${payload}}`;
  const badInt = { before: null, after: { i8: 300 }, op: 'c' };
  const file = ndjsonFile([
    compact, // parses and caches the schema
    compact, // the fast path
    withPayload(JSON.stringify(badInt)),
    `${compact} x`,
    withPayload(payloadText.slice(0, -1)),
    withPayload('null'),
    withPayload(`${payloadText}, "extra": 1`),
  ]);
  const bytesFile = ndjsonFile([compact]);
  const { results, flushes } = await decode([file], { ndjson: true });
  assert.deepEqual(results.map((r) => r.result), ['row', 'row', 'error', 'error', 'error', 'tombstone', 'error']);
  assert.equal(results[2].error, 'payload.after.i8: 300 is out of the int8 range');
  assert.match(results[3].error, /^invalid JSON at byte \d+: text after the message$/);
  assert.match(results[4].error, /^invalid JSON at byte \d+/);
  // Valid JSON with a member after the payload: refused as on the general path
  // (it was "invalid JSON at byte N" on the fast path only).
  assert.match(results[6].error, /^payload: not a Debezium change event: no 'op'/);
  const rows = await query(`SELECT * EXCLUDE (_kafka_offset) FROM read_parquet(${sql(flushes[0].flush)})`, { js: true });
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[1], rows[0], 'the fast path decodes exactly like the general path');
  const general = await decode([join(fixtures, 'generated', 'semantic_types_0.json')]);
  const reference = await query(`SELECT * EXCLUDE (_kafka_offset) FROM read_parquet(${sql(general.flushes[0].flush)})`, { js: true });
  // Struct fields keep their exact JSON text, whitespace included.
  assert.equal(rows[0].geom, '{"wkb":"AQ==","srid":4326}');
  assert.equal(reference[0].geom, '{"wkb": "AQ==", "srid": 4326}');
  for (const r of [rows[0], reference[0]]) {
    delete r.geom;
    delete r.hstore;
  }
  assert.deepEqual(rows[0], reference[0]);

  // Invalid UTF-8 in the payload of a known schema is caught, with its offset in the message.
  const good = Buffer.from(compact);
  const at = good.indexOf('Zo') + 2;
  const broken = Buffer.concat([good, Buffer.from('\n'), good.subarray(0, at), Buffer.from([0xff]), good.subarray(at + 2)]);
  writeFileSync(bytesFile, broken);
  const u = await decode([bytesFile], { ndjson: true });
  assert.deepEqual(u.results.map((r) => r.result), ['row', 'error']);
  assert.equal(u.results[1].error, `invalid UTF-8 at byte ${at}`);
});
