// Debezium on PostgreSQL, end to end, on the real systems: PostgreSQL 15,
// Kafka Connect with Debezium's PostgreSQL connector (configured from
// deploy/debezium/postgres-connector.json), Apache Kafka, MinIO and cdc-writer.
// In each connector mode, tables with a column of each type get a snapshot and
// then every kind of change; the lake is read with pyarrow, DuckDB and
// hyparquet, and every change must be there once, in source order, each value
// equal to what PostgreSQL itself returned for that row.
//
// What PostgreSQL returned: a trigger logs each change's row image as
// hstore_to_json(hstore(row)), every column in PostgreSQL's own text output;
// tests/harness/pg_values.mjs (the test's code, not cdc-writer's) turns that
// text into the value the lake must hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import { startWriter, writerEnv, stopAll, waitFor, fetchObjects, committedOffsets, repoRoot, run } from '../harness/services.mjs';
import { startRealKafka, startMinio, startRealPrefect, venvPython, ensureStack } from '../harness/real_services.mjs';
import { startPostgres, startKafkaConnect, debeziumConfig } from '../harness/source_services.mjs';
import { canonicalFromPg, sameValue, schemalessFromPg, sameSchemaless } from '../harness/pg_values.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-dbz-'));
let kafka, s3, pg, connect;
before(async () => {
  await ensureStack(['kafka', 'minio', 'prefect', 'debezium']);
  [kafka, s3, pg] = await Promise.all([startRealKafka(), startMinio({ buckets: MODES.map((m) => bucketOf(m)) }), startPostgres()]);
  connect = await startKafkaConnect({ kafka });
});
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const UNWRAP = {
  transforms: 'unwrap', 'transforms.unwrap.type': 'io.debezium.transforms.ExtractNewRecordState',
  // Debezium 3's name for 2.x's delete.handling.mode=rewrite: deletes as records with __deleted.
  'transforms.unwrap.delete.tombstone.handling.mode': 'rewrite',
  'transforms.unwrap.add.fields': 'op,source.ts_ms,ts_ms',
};
// mirror: cdc-writer triggers the shipped Prefect flow, whose mirror tables
// must then equal the PostgreSQL tables.
const MODES = [
  { name: 'default', overrides: {}, mirror: true },
  { name: 'noschema', overrides: { 'key.converter.schemas.enable': 'false', 'value.converter.schemas.enable': 'false' } },
  { name: 'unwrap', overrides: UNWRAP },
  { name: 'connect', overrides: { 'time.precision.mode': 'connect' } },
  { name: 'decstring', overrides: { 'decimal.handling.mode': 'string' } },
  { name: 'decdouble', overrides: { 'decimal.handling.mode': 'double' } },
];
const bucketOf = (mode) => `lake-${mode.name}`;

// The tables: name, key columns (none: REPLICA IDENTITY FULL without a key),
// identity, and each column's type as pg_values.mjs names it.
const WIDE = {
  id: 'int4', c_smallint: 'int2', c_integer: 'int4', c_bigint: 'int8', c_real: 'float4', c_double: 'float8',
  c_num12_2: 'numeric(12,2)', c_num38_10: 'numeric(38,10)', c_numeric: 'numeric', c_money: 'money', c_bool: 'bool',
  c_text: 'text', c_varchar: 'varchar', c_char: 'char', c_citext: 'citext', c_uuid: 'uuid', c_json: 'json',
  c_jsonb: 'jsonb', c_xml: 'xml', c_date: 'date', c_time: 'time', c_time6: 'time', c_timetz: 'timetz',
  c_ts3: 'timestamp(3)', c_ts6: 'timestamp', c_tstz: 'timestamptz', c_interval: 'interval', c_bytea: 'bytea',
  c_bit1: 'bit1', c_bit10: 'bit', c_varbit: 'varbit', c_enum: 'enum', c_int_arr: 'int4[]', c_text_arr: 'text[]',
  c_num_arr: 'numeric[]', c_inet: 'inet', c_cidr: 'cidr', c_macaddr: 'macaddr', c_point: 'point',
  c_int4range: 'int4range', c_hstore: 'hstore', 'Größe Ñame': 'text', 'UPPER Case': 'int4',
};
const TABLES = {
  'Wide Types Ä': { key: ['id'], full: true, columns: WIDE },
  order_lines: { key: ['order_id', 'line_no'], full: false, columns: { order_id: 'int4', line_no: 'int4', sku: 'text', qty: 'numeric(10,3)' } },
  event_log: { key: [], full: true, columns: { at: 'timestamptz', level: 'text', msg: 'text' } },
  Accounts: { key: ['id'], full: false, columns: { id: 'int8', Name: 'text', balance: 'numeric(14,4)', note: 'text' } },
};
// A table's name in the lake and in its topic (Debezium replaces what a topic cannot hold).
const lakeTableOf = (table) => table.replace(/[^A-Za-z0-9._-]/g, '_');
const topicOf = (mode, table) => `cdc.${mode.name}.public.${lakeTableOf(table)}`;

// tests/harness/lake_values.py with args: its JSON output.
async function lakeValues(args, timeoutMs = 120000) {
  const r = await run(venvPython(), [join(repoRoot, 'tests', 'harness', 'lake_values.py'), ...args], { timeoutMs });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// A PostgreSQL table's rows as { column: PostgreSQL's text }.
const pgRows = async (db, table) =>
  (await pg.sql(`SELECT hstore_to_json(hstore(t)) FROM "${table}" t`, { db })).map(([j]) => JSON.parse(j));

const SCHEMA = `
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE "Wide Types Ä" (
  id integer PRIMARY KEY,
  c_smallint smallint, c_integer integer, c_bigint bigint, c_real real, c_double double precision,
  c_num12_2 numeric(12,2), c_num38_10 numeric(38,10), c_numeric numeric, c_money money, c_bool boolean,
  c_text text, c_varchar varchar(20), c_char char(5), c_citext citext, c_uuid uuid, c_json json, c_jsonb jsonb,
  c_xml xml, c_date date, c_time time, c_time6 time(6), c_timetz timetz, c_ts3 timestamp(3), c_ts6 timestamp(6),
  c_tstz timestamptz, c_interval interval, c_bytea bytea, c_bit1 bit(1), c_bit10 bit(10), c_varbit varbit,
  c_enum mood, c_int_arr int[], c_text_arr text[], c_num_arr numeric[], c_inet inet, c_cidr cidr,
  c_macaddr macaddr, c_point point, c_int4range int4range, c_hstore hstore,
  "Größe Ñame" text, "UPPER Case" integer
);
ALTER TABLE "Wide Types Ä" REPLICA IDENTITY FULL;
CREATE TABLE order_lines (order_id int, line_no int, sku text, qty numeric(10,3), PRIMARY KEY (order_id, line_no));
CREATE TABLE event_log (at timestamptz, level text, msg text);
ALTER TABLE event_log REPLICA IDENTITY FULL;
CREATE TABLE "Accounts" (id bigint PRIMARY KEY, "Name" text, balance numeric(12,2));
ALTER TABLE "Accounts" REPLICA IDENTITY DEFAULT;

CREATE SCHEMA audit;
-- A change's WAL record is written between stmt_lsn, the WAL insert position
-- when its statement began, and lsn, the position when its row trigger ran
-- (AFTER ROW triggers run once the statement has changed every row); tx: its
-- transaction.
CREATE TABLE audit.log (seq bigserial PRIMARY KEY, tbl text, op text, img json, old json, at timestamptz DEFAULT clock_timestamp(),
  stmt_lsn pg_lsn DEFAULT current_setting('audit.stmt_lsn')::pg_lsn, lsn pg_lsn DEFAULT pg_current_wal_insert_lsn(),
  tx bigint DEFAULT txid_current());
CREATE FUNCTION audit.statement_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('audit.stmt_lsn', pg_current_wal_insert_lsn()::text, true);
  RETURN NULL;
END $$;
CREATE FUNCTION audit.capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO audit.log (tbl, op) VALUES (TG_TABLE_NAME, 't');
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO audit.log (tbl, op, img) VALUES (TG_TABLE_NAME, 'i', hstore_to_json(hstore(NEW)));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO audit.log (tbl, op, img, old) VALUES (TG_TABLE_NAME, 'u', hstore_to_json(hstore(NEW)), hstore_to_json(hstore(OLD)));
  ELSE
    INSERT INTO audit.log (tbl, op, old) VALUES (TG_TABLE_NAME, 'd', hstore_to_json(hstore(OLD)));
  END IF;
  RETURN NULL;
END $$;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['Wide Types Ä', 'order_lines', 'event_log', 'Accounts'] LOOP
    EXECUTE format('CREATE TRIGGER capture AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit.capture()', t);
    EXECUTE format('CREATE TRIGGER capture_truncate AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit.capture()', t);
    EXECUTE format('CREATE TRIGGER statement_start BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit.statement_start()', t);
  END LOOP;
END $$;
`;

const WIDE_COLUMNS = Object.keys(WIDE).map((c) => `"${c}"`).join(', ');
// Rows there before the connector starts (the snapshot): edges, NULLs, infinities.
const SNAPSHOT = `
INSERT INTO "Wide Types Ä" (${WIDE_COLUMNS}) VALUES
 (1, -32768, -2147483648, -9223372036854775808, -3.4028235e38, 'NaN', -9999999999.99,
  -9999999999999999999999999999.9999999999, -123456789012345678901234567890.123456789, -92233720368547758.08, false,
  E'tab\\there', 'v', 'ab', 'MiXeD', '00000000-0000-0000-0000-000000000000', '{"a": [1, 2.50, "x"]}', '{"b": {"c": null}}',
  '<a x="1">t</a>', '1900-01-01', '00:00:00', '00:00:00.000001', '00:00:00+14', '1900-01-01 00:00:00.001', '1969-12-31 23:59:59.999999',
  '1901-12-13 20:45:52+00', '-178000000 years', '\\x00ff', B'0', B'0000000001', B'', 'sad', '{-2147483648,NULL,2147483647}',
  '{"",NULL,"a,b","q\\"uote"}', '{1.5,NULL,-0.001}', '0.0.0.0', '10.0.0.0/8', '00:00:00:00:00:00', '(-1.5,2.25)', '[1,10)',
  'a=>1, "b c"=>NULL', 'ö', -1),
 (2, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 'Infinity', 9999999999.99,
  9999999999999999999999999999.9999999999, 0.000000000000000000000000000001, 92233720368547758.07, true,
  '😀 é (e + U+0301: é) 中文', 'twenty chars exactly', 'abcde', 'CITEXT', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '[1, "two"]',
  '<r/>', '2100-12-31', '23:59:59.999999', '23:59:59.999999', '23:59:59.999999-12', '2100-12-31 23:59:59.999', '2262-04-11 23:47:16.854775',
  '2100-12-31 23:59:59.999999+00', '1 year 2 mons 3 days 04:05:06.789012', '\\x', B'1', B'1111111111', B'101', 'happy', '{}', '{}',
  '{}', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '(0,0)', 'empty', '', 'x', 2147483647),
 (3, 0, 0, 0, 1.17549435e-38, '-Infinity', 0, 0, 'NaN', 0, NULL, '', '', '', '', '12345678-1234-5678-1234-567812345678',
  '"s"', '"s"', NULL, 'infinity', '12:00:00', '12:34:56.123456', '12:34:56+05:30', '1970-01-01 00:00:00', '2000-02-29 12:00:00',
  'infinity', '-1 days -00:00:01', '\\x0102', NULL, NULL, NULL, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '(,)', NULL, NULL, NULL);
INSERT INTO "Wide Types Ä" (id, c_date, c_tstz) VALUES (4, '-infinity', '-infinity');
INSERT INTO order_lines VALUES (10, 1, 'snap', 1.000);
INSERT INTO event_log VALUES ('2023-12-31 23:59:59+00', 'info', 'before the connector');
INSERT INTO "Accounts" VALUES (100, 'Snap', 0.01);
`;

// Every kind of change, after the snapshot; the last statement marks the end.
const CHANGES = `
BEGIN;
INSERT INTO "Wide Types Ä" (${WIDE_COLUMNS}) VALUES
 (7, 1, 2, 3, 0.1, 0.1, 0.01, 1.0000000001, 1e-5, 0.99, true, E'line\\nbreak and "quotes"', 'x', 'x', 'x',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"n": 12345678901234567890}', '{"z": 1, "a": [true, false]}', '<x/>',
  '2038-01-19', '13:14:15.5', '13:14:15.123456', '13:14:15.5-03:30', '2038-01-19 03:14:08.123', '2038-01-19 03:14:08.123456',
  '2038-01-19 03:14:08.123456+00', '2 days 00:00:00.000001', '\\xdeadbeef', B'1', B'1010101010', B'0111', 'ok',
  '{0}', '{"é"}', '{0.1,99999999999999999999.5}', '192.168.1.1/24', '192.168.0.0/16', '08:00:2b:01:02:03', '(3.25,-4)',
  '(,5]', '"k"=>"v"', 'ü', 0);
INSERT INTO "Wide Types Ä" (id, c_date, c_ts3, c_ts6, c_tstz) VALUES (8, 'infinity', 'infinity', '-infinity', 'infinity');
COMMIT;
UPDATE "Wide Types Ä" SET c_text = 'updated ✓', c_num12_2 = 1.5, c_tstz = '2024-06-30 23:59:59.5+02', c_double = -0.0 WHERE id = 2;
UPDATE "Wide Types Ä" SET id = 10 WHERE id = 1;
DELETE FROM "Wide Types Ä" WHERE id = 4;
INSERT INTO order_lines VALUES (1, 1, 'A', 1.5), (1, 2, 'B', 2), (2, 1, 'C', 0.001);
UPDATE order_lines SET qty = 9.999 WHERE order_id = 1 AND line_no = 2;
UPDATE order_lines SET line_no = 3 WHERE order_id = 1 AND line_no = 1;
DELETE FROM order_lines WHERE order_id = 2;
BEGIN;
INSERT INTO event_log VALUES ('2024-01-01 00:00:00+00', 'info', 'a'), ('2024-01-01 00:00:01+00', 'warn', E'b\\tc');
UPDATE event_log SET level = 'error' WHERE msg = 'a';
COMMIT;
DELETE FROM event_log WHERE level = 'warn';
TRUNCATE event_log;
INSERT INTO event_log VALUES ('2024-01-02 00:00:00+00', 'info', 'after the truncate');
INSERT INTO "Accounts" VALUES (1, 'Ann', 10.50), (2, 'Bob', -3);
ALTER TABLE "Accounts" ADD COLUMN note text;
UPDATE "Accounts" SET note = 'added' WHERE id = 1;
ALTER TABLE "Accounts" ALTER COLUMN balance TYPE numeric(14,4);
UPDATE "Accounts" SET balance = balance + 0.1234 WHERE id = 2;
ALTER TABLE "Accounts" DROP COLUMN "Name";
INSERT INTO "Accounts" VALUES (3, 99.9999, 'no name');
DELETE FROM "Accounts" WHERE id = 1;
`;

// PostgreSQL's text of an LSN (hi/lo in hex) as a number.
const lsnOf = (text) => {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

// The changes Debezium must deliver, from the audit log: per table, in
// source order, { op, image (column -> PostgreSQL's text), at, tx, and the
// bounds of its WAL record: after <= record < lsn }.
async function expectedChanges(db, snapshotSeq) {
  const rows = await pg.sql('SELECT seq, tbl, op, img, old, at, stmt_lsn, lsn, tx FROM audit.log ORDER BY seq', { db });
  const out = Object.fromEntries(Object.keys(TABLES).map((t) => [t, []]));
  let snapshotLsn = 0n;
  for (const [seq, tbl, op, img, old, at, stmtLsn, lsnText, tx] of rows) {
    const spec = TABLES[tbl];
    const image = img === '\\N' ? null : JSON.parse(img);
    const before = old === '\\N' ? null : JSON.parse(old);
    const snapshot = Number(seq) <= snapshotSeq;
    const keyOnly = (row) => Object.fromEntries(Object.keys(row).map((c) => [c, spec.key.includes(c) ? row[c] : null]));
    const deleted = (row) => (spec.full ? row : keyOnly(row));
    const list = out[tbl];
    const lsn = lsnOf(lsnText);
    const where = { at, tx, lsn, after: lsnOf(stmtLsn) };
    if (snapshot) snapshotLsn = lsn;
    if (op === 'i') list.push({ op: snapshot ? 'r' : 'c', image, snapshot, ...where });
    else if (op === 't') list.push({ op: 't', image: null, ...where });
    else if (op === 'd') list.push({ op: 'd', image: deleted(before), ...where });
    else if (spec.key.some((k) => image[k] !== before[k])) {
      list.push({ op: 'd', image: deleted(before), ...where }, { op: 'c', image, ...where });
    } else list.push({ op: 'u', image, ...where });
  }
  out.snapshotLsn = snapshotLsn;
  return out;
}

// The changes a mode delivers: ExtractNewRecordState drops truncates.
const delivered = (mode, changes) => changes.filter((c) => !(mode.name === 'unwrap' && c.op === 't'));

// Kafka messages per topic: one per change, and a tombstone after each delete
// (none when ExtractNewRecordState rewrites deletes).
const messagesOf = (mode, changes) => changes.length + (mode.name === 'unwrap' ? 0 : changes.filter((c) => c.op === 'd').length);

// The lake of one mode, read by pyarrow and DuckDB (lake_values.py) and hyparquet.
async function readLake(mode) {
  const dir = mkdtempSync(join(work, `${mode.name}-`));
  const objects = await fetchObjects(s3, 'cdc_events/', dir, bucketOf(mode));
  const files = await lakeValues(objects.map((o) => o.path), 300000);
  for (const f of files) {
    const buffer = readFileSync(f.file);
    const ab = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
    f.hyparquet = await parquetReadObjects({ file: ab, compressors });
    f.key = objects.find((o) => o.path === f.file).key;
  }
  return files;
}

async function runMode(mode) {
  const db = `m_${mode.name}`;
  await pg.createDatabase(db);
  await pg.script(SCHEMA + SNAPSHOT, { db });
  const snapshotSeq = Number((await pg.sql('SELECT max(seq) FROM audit.log', { db }))[0][0]);
  const slot = `slot_${mode.name}`;
  const name = `pg-${mode.name}`;
  await connect.createConnector(name, debeziumConfig({ pg, db, prefix: `cdc.${mode.name}`, slot, overrides: mode.overrides }));
  await connect.waitRunning(name);
  // Streaming has begun (so the snapshot is done) once the slot is active.
  await waitFor(async () => (await pg.sql(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`))[0]?.[0] === 't',
    { timeoutMs: 120000, what: `slot ${slot} active`, log: () => connect.log() });
  const prefect = mode.mirror ? await startRealPrefect({ s3 }) : null;
  const writer = startWriter(writerEnv({ kafka, s3, prefect, extra: {
    ...(prefect ? { PREFECT_SEND_PARAMETERS: 'true' } : {}),
    KAFKA_TOPIC_PATTERN: `^cdc\\.${mode.name}\\.public\\.(.*)`, CONSUMER_GROUP_ID: `lake-${mode.name}`,
    MINIO_BUCKET: bucketOf(mode), WRITE_INTERVAL_SECONDS: '2',
  } }));
  await pg.script(CHANGES, { db });
  const expected = await expectedChanges(db, snapshotSeq);
  // Every message of every table committed: all of them are in the lake.
  for (const table of Object.keys(TABLES)) {
    const want = messagesOf(mode, delivered(mode, expected[table]));
    await waitFor(async () => {
      const [c] = await committedOffsets(kafka.bootstrap, `lake-${mode.name}`, topicOf(mode, table), 1);
      return c.offset >= want;
    }, { timeoutMs: 120000, what: `${mode.name}: ${want} messages of ${table} committed`, log: () => `${writer.log().slice(-4000)}\n--- Kafka Connect's errors:\n${connectErrors()}` });
  }
  await writer.stop();
  const exit = await writer.exited;
  assert.equal(exit.code, 0, writer.log());
  await connect.deleteConnector(name);
  const files = await readLake(mode);
  const mirrors = prefect ? await readMirrors(prefect, files, db) : null;
  return { expected, files, mirrors, db };
}

// Once a flow run per file has COMPLETED: each mirror table of the warehouse
// and its PostgreSQL table, both as { rows, types }.
async function readMirrors(prefect, files, db) {
  const runs = await waitFor(async () => {
    const all = await prefect.flowRuns();
    return all.length >= files.length && all.every((r) => ['COMPLETED', 'FAILED', 'CRASHED'].includes(r.state_type)) ? all : null;
  }, { timeoutMs: 300000, intervalMs: 500, what: `${files.length} flow runs finished`, log: () => prefect.log() });
  for (const r of runs) assert.equal(r.state_type, 'COMPLETED', `${r.name}: ${JSON.stringify(r.state)}\n${prefect.log().slice(-6000)}`);
  const out = {};
  for (const table of Object.keys(TABLES)) {
    const mirror = await lakeValues(['--table', prefect.warehouse, `mirror_${lakeTableOf(table).replace(/[^0-9A-Za-z_]/g, '_')}`]);
    out[table] = { mirror: mirror.rows, source: await pgRows(db, table) };
  }
  await prefect.stop();
  return out;
}

// Each row equals one PostgreSQL row, value for value, and none is left over.
function sameRows(label, rows, source, spec, mode) {
  const problems = [];
  if (rows.length !== source.length) problems.push(`${label}: ${rows.length} rows, PostgreSQL has ${source.length}`);
  const left = [...rows];
  for (const row of source) {
    const i = left.findIndex((m) => Object.entries(row).every(([c, text]) =>
      sameValue(canonicalFromPg(spec.columns[c], text, mode.name), m[c] ?? null)));
    if (i < 0) problems.push(`${label}: no row equal to PostgreSQL's ${JSON.stringify(row)}`);
    else left.splice(i, 1);
  }
  for (const m of left) problems.push(`${label}: a row PostgreSQL does not have: ${JSON.stringify(m)}`);
  return problems;
}

function checkMirrors(mode, mirrors) {
  return Object.entries(TABLES).flatMap(([table, spec]) =>
    sameRows(`mirror of ${table}`, mirrors[table].mirror, mirrors[table].source, spec, mode));
}

// The README's query for the latest row of each key, run with DuckDB over the
// lake's files of each table with a key: what is not deleted must be the table.
const latestQuery = (paths) => `SELECT * FROM (
  SELECT * FROM read_parquet([${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}], union_by_name = true)
  QUALIFY row_number() OVER (PARTITION BY _kafka_key ORDER BY _cdc_lsn DESC, _kafka_offset DESC) = 1
) WHERE _cdc_op <> 'd'`;

async function checkLatest(mode, files, db) {
  const problems = [];
  const counts = {};
  for (const [table, spec] of Object.entries(TABLES)) {
    if (spec.key.length === 0) continue; // no key, no latest row of one
    const paths = files.filter((f) => f.key.startsWith(`cdc_events/${lakeTableOf(table)}/`)).map((f) => f.file);
    const latest = (await lakeValues(['--query', latestQuery(paths)])).rows;
    problems.push(...sameRows(`latest rows of ${table}`, latest, await pgRows(db, table), spec, mode));
    counts[table] = latest.length;
  }
  return { problems, counts };
}

// Kafka Connect's ERROR lines and the first line of each exception.
const connectErrors = () => connect.log().split('\n')
  .filter((l, i, all) => / ERROR |Exception:|^Caused by/.test(l) || /Exception:/.test(all[i - 1] ?? '') ||
    /Exception:/.test(all[i - 2] ?? '') || /Exception:/.test(all[i - 3] ?? '')).slice(-40).join('\n');

const META = new Set(['_cdc_op', '_cdc_ts', '_cdc_source_ts', '_processed_at', '_kafka_topic', '_kafka_partition', '_kafka_offset',
  '_kafka_timestamp', '_cdc_lsn', '_cdc_tx_id', '_cdc_sequence', '_cdc_snapshot', '_cdc_source', '_cdc_position', '_cdc_tx_order',
  '_cdc_tx_collection_order', '_kafka_key', '_kafka_headers']);

// The expected DuckDB type of a column in a mode (null: not checked).
function duckType(mode, pgType) {
  const base = pgType.replace(/\(.*\)$/, '');
  if (mode.name === 'noschema') return null; // inferred per file, see the README
  const decimal = mode.name === 'decstring' ? 'VARCHAR' : mode.name === 'decdouble' ? 'DOUBLE' : null;
  const table = {
    int2: 'SMALLINT', int4: 'INTEGER', int8: 'BIGINT', float4: 'FLOAT', float8: 'DOUBLE', bool: 'BOOLEAN',
    text: 'VARCHAR', varchar: 'VARCHAR', char: 'VARCHAR', citext: 'VARCHAR', xml: 'VARCHAR', enum: 'VARCHAR',
    inet: 'VARCHAR', cidr: 'VARCHAR', macaddr: 'VARCHAR', int4range: 'VARCHAR', uuid: 'UUID', json: 'JSON',
    jsonb: 'JSON', hstore: 'JSON', point: 'JSON', date: 'DATE', timetz: 'TIME WITH TIME ZONE',
    time: mode.name === 'connect' ? 'TIME WITH TIME ZONE' : 'TIME',
    timestamp: mode.name === 'connect' ? 'TIMESTAMP WITH TIME ZONE' : 'TIMESTAMP', timestamptz: 'TIMESTAMP WITH TIME ZONE',
    interval: 'BIGINT', bytea: 'BLOB', bit1: 'BOOLEAN', bit: 'VARCHAR', varbit: 'VARCHAR',
    'int4[]': 'INTEGER[]', 'text[]': 'VARCHAR[]', 'numeric[]': decimal === 'DOUBLE' ? 'DOUBLE[]' : 'VARCHAR[]',
    money: decimal ?? 'DECIMAL(38,2)',
  };
  if (base === 'numeric') {
    if (decimal) return decimal;
    if (pgType === 'numeric') return 'VARCHAR';
    return pgType.replace('numeric', 'DECIMAL').replace(' ', '');
  }
  return table[pgType] ?? table[base];
}

// hyparquet's value as the canonical text, for the types it gives exactly.
function hyparquetText(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v;
  return undefined; // dates, decimals, binary: not compared with hyparquet
}

// The source metadata of one change against what PostgreSQL logged for it:
// its WAL position, its transaction, the snapshot marker, its table, its key.
function checkSource(mode, table, spec, w, row, snapshotLsn, where) {
  const problems = [];
  const lsn = row._cdc_lsn === null ? null : BigInt(row._cdc_lsn);
  if (w.op === 'r') {
    // The snapshot reads the tables after their rows were written.
    if (lsn === null || lsn < snapshotLsn) problems.push(`${where}: snapshot _cdc_lsn ${lsn}, before the snapshot's rows (${snapshotLsn})`);
    if (!['true', 'first', 'first_in_data_collection', 'last_in_data_collection', 'last'].includes(row._cdc_snapshot)) {
      problems.push(`${where}: _cdc_snapshot ${row._cdc_snapshot} for a snapshot row`);
    }
  } else {
    if (lsn === null || lsn < w.after || lsn >= w.lsn) problems.push(`${where}: _cdc_lsn ${lsn}, the change's WAL record is at or after ${w.after}, before ${w.lsn}`);
    if (row._cdc_tx_id !== String(w.tx)) problems.push(`${where}: _cdc_tx_id ${row._cdc_tx_id}, txid_current() was ${w.tx}`);
    if (row._cdc_snapshot !== 'false') problems.push(`${where}: _cdc_snapshot ${row._cdc_snapshot} after the snapshot`);
    const sequence = row._cdc_sequence === null ? null : JSON.parse(row._cdc_sequence);
    if (!Array.isArray(sequence) || sequence[1] !== String(lsn)) problems.push(`${where}: _cdc_sequence ${row._cdc_sequence} does not end at _cdc_lsn ${lsn}`);
  }
  if (row._cdc_source !== `m_${mode.name}.public.${table}`) problems.push(`${where}: _cdc_source ${row._cdc_source}`);
  if (w.op === 't' || spec.key.length === 0) {
    if (row._kafka_key !== null) problems.push(`${where}: _kafka_key ${row._kafka_key} for a change without a key`);
  } else {
    const key = row._kafka_key === null ? null : JSON.parse(row._kafka_key);
    const want = Object.fromEntries(spec.key.map((k) => [k, w.image[k]]));
    const got = key && Object.fromEntries(Object.entries(key).map(([k, v]) => [k, String(v)]));
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${where}: _kafka_key ${row._kafka_key}, the row's key is ${JSON.stringify(want)}`);
  }
  return problems;
}

function checkMode(mode, { expected, files }) {
  const problems = [];
  let compared = 0;
  for (const [table, spec] of Object.entries(TABLES)) {
    const topic = topicOf(mode, table);
    const mine = files.filter((f) => f.pyarrow.length > 0 && f.pyarrow[0]._kafka_topic === topic);
    // All three readers read the same rows.
    const rows = [];
    for (const f of mine) {
      assert.equal(f.duckdb.length, f.pyarrow.length, `${f.key}: DuckDB and pyarrow row counts`);
      assert.equal(f.hyparquet.length, f.pyarrow.length, `${f.key}: hyparquet and pyarrow row counts`);
      f.pyarrow.forEach((row, i) => {
        for (const [c, v] of Object.entries(row)) {
          assert.deepEqual(f.duckdb[i][c], v, `${f.key} row ${i} column ${c}: DuckDB read ${f.duckdb[i][c]}, pyarrow ${v}`);
          const h = hyparquetText(f.hyparquet[i][c]);
          if (h !== undefined && typeof v === 'string' && /^(int|bool|string)/.test(f.types[c]) && !f.types[c].includes('json')) {
            assert.equal(h, v, `${f.key} row ${i} column ${c}: hyparquet read ${h}, pyarrow ${v}`);
          }
        }
        rows.push({ row, types: f.duckdb_types, key: f.key });
      });
    }
    rows.sort((a, b) => Number(a.row._kafka_offset) - Number(b.row._kafka_offset));
    // Nothing twice: each Kafka offset once (a change Debezium delivered twice
    // would have two offsets; none is expected, as Connect is not restarted).
    const offsets = rows.map((r) => r.row._kafka_offset);
    assert.equal(new Set(offsets).size, offsets.length, `${mode.name} ${table}: an offset is in the lake twice`);
    const want = delivered(mode, expected[table]);
    assert.equal(rows.length, want.length,
      `${mode.name} ${table}: ${rows.length} rows in the lake, ${want.length} changes in PostgreSQL\n${rows.map((r) => r.row._cdc_op).join('')}\n${want.map((w) => w.op).join('')}`);
    // The snapshot comes in table order; the changes after it in source order.
    const keyText = (img) => spec.key.map((k) => img?.[k]).join('/');
    const snapWant = want.filter((w) => w.op === 'r').sort((a, b) => keyText(a.image).localeCompare(keyText(b.image)));
    const snapGot = rows.filter((r) => r.row._cdc_op === 'r').sort((a, b) => keyText(a.row).localeCompare(keyText(b.row)));
    const pairs = [...snapWant.map((w, i) => [w, snapGot[i]]),
      ...want.filter((w) => w.op !== 'r').map((w, i) => [w, rows.filter((r) => r.row._cdc_op !== 'r')[i]])];
    for (const [w, got] of pairs) {
      const where = `${mode.name} ${table} offset ${got?.row._kafka_offset}`;
      if (!got) { problems.push(`${where}: missing ${w.op}`); continue; }
      if (got.row._cdc_op !== w.op) problems.push(`${where}: _cdc_op ${got.row._cdc_op}, PostgreSQL's change was ${w.op}`);
      // _cdc_source_ts: the commit, at or after the statement's clock.
      if (w.op !== 'r' && got.row._cdc_source_ts !== null) {
        const at = BigInt(canonicalFromPg('timestamptz', w.at));
        const src = BigInt(got.row._cdc_source_ts);
        if (src < at - 1000n || src > at + 60000000n) problems.push(`${where}: _cdc_source_ts ${src} is not the change's commit (${at})`);
      } else if (w.op !== 'r' && mode.name !== 'unwrap') problems.push(`${where}: _cdc_source_ts is null`);
      if (got.row._cdc_ts === null && mode.name !== 'unwrap') problems.push(`${where}: _cdc_ts is null`);
      if (mode.name !== 'unwrap') problems.push(...checkSource(mode, table, spec, w, got.row, expected.snapshotLsn, where));
      for (const [column, pgType] of Object.entries(spec.columns)) {
        const text = w.image === null ? null : (w.image[column] ?? null);
        if (w.image !== null && !(column in w.image) && !(column in got.row)) continue; // not a column then
        const value = got.row[column] ?? null;
        const ok = mode.name === 'noschema'
          ? sameSchemaless(schemalessFromPg(pgType, text), value)
          : sameValue(canonicalFromPg(pgType, text, mode.name), value);
        compared++;
        if (!ok) problems.push(`${where} ${w.op} ${column} (${pgType}): PostgreSQL ${JSON.stringify(text)}, lake ${JSON.stringify(value)}`);
        const t = duckType(mode, pgType);
        if (t && got.types[column] && !(column === 'balance' && /^DECIMAL/.test(got.types[column])) && got.types[column] !== t) {
          problems.push(`${where} ${column}: DuckDB type ${got.types[column]}, the README maps ${pgType} to ${t}`);
        }
      }
      for (const c of Object.keys(got.row)) {
        if (!META.has(c) && !(c in spec.columns) && !c.startsWith('__')) problems.push(`${where}: unexpected column ${c}`);
      }
    }
  }
  return { problems: [...new Set(problems)], compared };
}

for (const mode of MODES) {
  test(`PostgreSQL through Debezium (${mode.name}): every change once, in order, each value as PostgreSQL holds it`, { timeout: 600000 }, async (t) => {
    const result = await runMode(mode);
    const { problems, compared } = checkMode(mode, result);
    if (result.mirrors) problems.push(...checkMirrors(mode, result.mirrors));
    if (mode.mirror) {
      const latest = await checkLatest(mode, result.files, result.db);
      problems.push(...latest.problems);
      t.diagnostic(`latest row per key, as PostgreSQL holds it: ${JSON.stringify(latest.counts)}`);
    }
    assert.ok(compared > 300, `only ${compared} values compared`);
    assert.deepEqual(problems, [], `${problems.length} differences:\n${problems.slice(0, 60).join('\n')}`);
  });
}
