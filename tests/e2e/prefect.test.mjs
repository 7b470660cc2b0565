// The whole original system on the real services: Apache Kafka, MinIO, a
// Prefect 3 server with the shipped flow (deploy/prefect/) served as
// cdc_minio_to_duckdb_flow/dwh-pipeline, and cdc-writer. Each triggered run
// must reach COMPLETED and the DuckDB warehouse hold every row once. The
// second test checks the flow's mirror tables on files it writes itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { startWriter, writerEnv, stopAll, produce, committedOffsets, waitFor } from '../harness/services.mjs';
import { startRealKafka, startMinio, startRealPrefect, python } from '../harness/real_services.mjs';

after(stopAll);

const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const TABLES = { customers: 3, orders: 2 };

function messages(round) {
  const msgs = [];
  for (const [t, n] of Object.entries(TABLES)) {
    for (let i = 0; i < 40 * n; i++) {
      const id = round * 10000 + i;
      msgs.push({ topic: topic(t), key: `${t}-${id}`, value: JSON.stringify({
        op: i % 5 === 4 ? 'u' : 'c', ts_ms: 1700000000000 + id, source: { ts_ms: 1700000000000 + id },
        after: { id, name: `${t} ${id}`, amount: i + 0.25 },
      }) });
    }
  }
  return msgs;
}

// The warehouse read with the venv's DuckDB and, for the same rows, pyarrow.
const WAREHOUSE = `
import json, sys, duckdb
db = duckdb.connect(sys.argv[1], read_only=True)
out = {}
for (t,) in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND starts_with(table_name, 'cdc_')").fetchall():
    rows, distinct, ids = db.execute(f'SELECT count(*), count(DISTINCT (_kafka_topic, _kafka_partition, _kafka_offset)), sum(id) FROM "{t}"').fetchone()
    arrow = db.execute(f'SELECT * FROM "{t}"').to_arrow_table()
    out[t] = {"rows": rows, "distinct": distinct, "id_sum": int(ids), "arrow_rows": arrow.num_rows,
              "arrow_id_sum": int(sum(arrow.column("id").to_pylist()))}
print(json.dumps(out))
`;

test('triggered runs of the real deployment complete, and the warehouse holds every row once', async () => {
  const kafka = await startRealKafka({ topics: Object.entries(TABLES).map(([t, n]) => `${topic(t)}:${n}`) });
  const s3 = await startMinio();
  const prefect = await startRealPrefect({ s3 });
  const env = writerEnv({ kafka, s3, prefect, extra: { CONSUMER_GROUP_ID: 'dwh', PREFECT_SEND_PARAMETERS: 'true' } });

  const msgs = [...messages(0), ...messages(1)];
  const delivered = await produce(kafka.bootstrap, msgs);
  const ends = {};
  for (const d of delivered) ends[`${d.topic}/${d.partition}`] = Math.max(ends[`${d.topic}/${d.partition}`] ?? 0, d.offset + 1);
  const writer = startWriter(env);
  await waitFor(async () => {
    for (const [t, n] of Object.entries(TABLES)) {
      for (const c of await committedOffsets(kafka.bootstrap, 'dwh', topic(t), n)) {
        if (c.offset !== (ends[`${topic(t)}/${c.partition}`] ?? -1001)) return false;
      }
    }
    return true;
  }, { timeoutMs: 90000, what: 'every offset committed' });
  assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log());
  assert.match(writer.log(), /Prefect flow run requested for (customers|orders)/);

  const runs = await waitFor(async () => {
    const all = await prefect.flowRuns();
    return all.length > 0 && all.every((r) => ['COMPLETED', 'FAILED', 'CRASHED'].includes(r.state_type)) ? all : null;
  }, { timeoutMs: 240000, intervalMs: 500, what: 'every flow run finished' });
  for (const r of runs) assert.equal(r.state_type, 'COMPLETED', `${r.name}: ${JSON.stringify(r.state)}\n${prefect.log().slice(-6000)}`);
  for (const r of runs) {
    assert.match(r.idempotency_key, /^cdc-writer-[0-9a-f]{64}$/);
    // One run per data file, keyed by that file's key alone (a replay finds the same run).
    assert.equal(r.parameters.keys.length, 1, JSON.stringify(r.parameters));
    assert.ok(r.parameters.keys[0].startsWith(`cdc_events/${r.parameters.table}/`), JSON.stringify(r.parameters));
    assert.equal(r.idempotency_key, `cdc-writer-${createHash('sha256').update(`${r.parameters.keys[0]}\0`).digest('hex')}`);
  }

  const wh = await python(WAREHOUSE, [prefect.warehouse]);
  for (const [t, n] of Object.entries(TABLES)) {
    const want = msgs.filter((m) => m.topic === topic(t));
    const idSum = want.reduce((s, m) => s + JSON.parse(m.value).after.id, 0);
    assert.deepEqual(wh[`cdc_${t}`], { rows: want.length, distinct: want.length, id_sum: idSum, arrow_rows: want.length, arrow_id_sum: idSum },
      `cdc_${t} (${n} partitions)`);
  }

  // A repeated idempotency key gives back the same run, not a second one.
  const dep = await prefect.api('GET', '/deployments/name/cdc_minio_to_duckdb_flow/dwh-pipeline');
  const again = await prefect.api('POST', `/deployments/${dep.body.id}/create_flow_run`, { idempotency_key: runs[0].idempotency_key });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.id, runs[0].id);
  assert.equal((await prefect.flowRuns()).length, runs.length);
  await stopAll(); // the cores for the next test
});

// The mirror, on the real Prefect server and MinIO without Kafka or cdc-writer:
// the test writes the event files itself (pyarrow, in the shape of README's
// "Rows and columns", with _kafka_key and _cdc_lsn) and triggers the runs.
const META = [['_cdc_op', 'string'], ['_cdc_ts', 'ts_ms'], ['_cdc_source_ts', 'ts_ms'], ['_processed_at', 'ts_us'],
  ['_kafka_topic', 'string'], ['_kafka_partition', 'int32'], ['_kafka_offset', 'int64'], ['_kafka_key', 'string']];

const UPLOAD = `
import json, os, sys, tempfile
import pyarrow as pa, pyarrow.parquet as pq
from minio import Minio
spec = json.loads(sys.argv[1])
types = {"int32": pa.int32(), "int64": pa.int64(), "double": pa.float64(), "string": pa.string(),
         "ts_ms": pa.timestamp("ms", tz="UTC"), "ts_us": pa.timestamp("us", tz="UTC")}
store = Minio(spec["endpoint"], access_key=spec["access"], secret_key=spec["secret"], secure=False)
with tempfile.TemporaryDirectory() as tmp:
    for i, f in enumerate(spec["files"]):
        schema = pa.schema([(n, types[t]) for n, t in f["columns"]])
        path = os.path.join(tmp, f"{i}.parquet")
        pq.write_table(pa.table({n: [r.get(n) for r in f["rows"]] for n, _ in f["columns"]}, schema=schema), path)
        store.fput_object(spec["bucket"], f["key"], path)
print(json.dumps(len(spec["files"])))
`;

// Each table of the warehouse: its columns, and the rows of a mirror (data
// columns, then bookkeeping) ordered by every column, or for events how many
// rows and distinct positions.
const DUMP = `
import json, sys, duckdb
db = duckdb.connect(sys.argv[1], read_only=True)
out = {}
for (t,) in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall():
    out[t] = {"columns": [[r[0], r[1]] for r in db.execute(f'DESCRIBE "{t}"').fetchall()]}
    if t.startswith("mirror_"):
        book = "_mirror_key, _mirror_lsn, _mirror_partition, _mirror_offset"
        out[t]["rows"] = [list(r) for r in db.execute(f'SELECT * EXCLUDE ({book}), {book} FROM "{t}" ORDER BY ALL').fetchall()]
    else:
        out[t]["events"] = list(db.execute(f'SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM "{t}"').fetchone())
print(json.dumps(out))
`;

// One file of events of a table's partition: data columns [name, type], then
// the metadata; each change is [op, offset, row, lsn]. The key is the row's
// key fields as JSON (a delete's before image has them), null without keyFields
// and for a truncate.
function eventFile(table, partition, data, keyFields, changes, { lsn = true } = {}) {
  const first = changes[0][1];
  const rows = changes.map(([op, offset, row, pos]) => ({
    ...row, _cdc_op: op, _cdc_ts: 1714521600000 + offset, _cdc_source_ts: 1714521600000 + offset,
    _processed_at: 1714521600000000 + offset, _kafka_topic: topic(table), _kafka_partition: partition, _kafka_offset: offset,
    _kafka_key: keyFields && op !== 't' ? JSON.stringify(Object.fromEntries(keyFields.map((k) => [k, row[k]]))) : null,
    _cdc_lsn: pos ?? null,
  }));
  return {
    key: `cdc_events/${table}/year=2024/month=05/day=01/${table}_20240501T000000Z_p${partition}_o${String(first).padStart(19, '0')}.parquet`,
    columns: [...data, ...META, ...(lsn ? [['_cdc_lsn', 'int64']] : [])], rows,
  };
}

// accounts: key {"id":N}, with LSNs; a1 and a2 in partition 0, a3 in partition 1
// with LSNs older than a2's (by partition and offset it would come after a2).
const ACC = [['id', 'int64'], ['name', 'string'], ['balance', 'double']];
const acc = (id, name, balance, more = {}) => ({ id, name, balance, ...more });
const a1 = eventFile('accounts', 0, ACC, ['id'], [
  ['r', 0, acc(1, 'ann', 10), 100], ['r', 1, acc(2, 'bob', 20), 100], ['c', 2, acc(3, 'cy', 30), 110],
  ['u', 3, acc(1, 'ann2', 11), 120],
  ['d', 4, acc(2, null, null), 130], // REPLICA IDENTITY DEFAULT: only the key in the before image
  ['c', 5, acc(4, 'dee', 40), 140], ['c', 6, acc(6, 'eve', 60), 150],
]);
const a2 = eventFile('accounts', 0, [...ACC, ['email', 'string']], ['id'], [ // a column added
  ['u', 7, acc(3, 'cy', 31, { email: 'cy@x' }), 200], ['c', 8, acc(5, 'fay', 50, { email: 'fay@x' }), 210],
  ['d', 9, acc(4, 'dee', 40, { email: null }), 220], ['c', 10, acc(40, 'dee', 40, { email: null }), 220], // id 4 became 40
  ['d', 11, acc(1, 'ann2', 11, { email: null }), 230], // REPLICA IDENTITY FULL: the whole before image
]);
const a3 = eventFile('accounts', 1, ACC, ['id'], [
  ['u', 0, acc(3, 'stale', 0), 115], ['c', 1, acc(4, 'zombie', 0), 135], ['c', 2, acc(9, 'gus', 90), 160],
]);

// pairs: composite key {"a":..,"b":..}, files without _cdc_lsn (ordered by
// partition and offset); p2 starts with a truncate, p0 holds older changes.
const PAIR = [['a', 'int64'], ['b', 'string'], ['v', 'string']];
const pair = (a, b, v) => ({ a, b, v });
const p1 = eventFile('pairs', 0, PAIR, ['a', 'b'], [
  ['c', 10, pair(1, 'x', 'one')], ['c', 11, pair(1, 'y', 'two')], ['c', 12, pair(2, 'x', 'three')],
], { lsn: false });
const p2 = eventFile('pairs', 0, PAIR, ['a', 'b'], [
  ['t', 13, {}], ['c', 14, pair(3, 'z', 'four')], ['c', 15, pair(4, 'w', 'five')], ['u', 16, pair(3, 'z', 'four2')],
  ['d', 17, pair(4, 'w', null)],
], { lsn: false });
const p0 = eventFile('pairs', 0, PAIR, ['a', 'b'], [
  ['c', 0, pair(5, 'q', 'old')], ['c', 1, pair(3, 'z', 'older')], ['d', 2, pair(3, 'z', null)],
], { lsn: false });

// notes: no primary key (REPLICA IDENTITY FULL), so no Kafka key.
const NOTE = [['body', 'string'], ['n', 'int64']];
const note = (body, n) => ({ body, n });
const n1 = eventFile('notes', 0, NOTE, null, [
  ['c', 0, note('a', 1), 300], ['c', 1, note('a', 1), 301], ['c', 2, note('b', null), 302], ['c', 3, note('c', 3), 303],
  ['d', 4, note('a', 1), 304], ['c', 5, note('b', null), 305], ['d', 6, note('b', null), 306], ['c', 7, note('d', 4), 307],
]);
// f's delete finds no row (one that existed before the capture): it takes none later.
const n2 = eventFile('notes', 0, NOTE, null, [
  ['d', 8, note('c', 3), 308], ['d', 9, note('b', null), 309], ['d', 10, note('f', 6), 310], ['c', 11, note('e', 5), 311],
  ['c', 12, note('f', 6), 312],
]);

test('the flow keeps mirror_<table>, the current state, in source order per key, idempotent', async () => {
  const s3 = await startMinio();
  const prefect = await startRealPrefect({ s3 });
  await python(UPLOAD, [JSON.stringify({ endpoint: new URL(s3.url).host, access: s3.accessKey, secret: s3.secretKey,
    bucket: 'datalake', files: [a1, a2, a3, p1, p2, p0, n1, n2] })]);
  const dep = await prefect.api('GET', '/deployments/name/cdc_minio_to_duckdb_flow/dwh-pipeline');
  assert.equal(dep.status, 200, JSON.stringify(dep.body));

  // Starts one run per [table, files], waits until every one has finished.
  const runAll = async (batch) => {
    const ids = [];
    for (const [table, files] of batch) {
      const r = await prefect.api('POST', `/deployments/${dep.body.id}/create_flow_run`, {
        parameters: { bucket: 'datalake', table, keys: files.map((f) => f.key), rows: null } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    const done = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'];
    const runs = await waitFor(async () => {
      const all = await Promise.all(ids.map((id) => prefect.api('GET', `/flow_runs/${id}`).then((r) => r.body)));
      return all.every((r) => done.includes(r.state_type)) ? all : null;
    }, { timeoutMs: 240000, intervalMs: 500, what: `the runs of ${batch.map(([t]) => t).join(', ')}` });
    for (const r of runs) assert.equal(r.state_type, 'COMPLETED', `${JSON.stringify(r.parameters)}: ${JSON.stringify(r.state)}\n${prefect.log().slice(-6000)}`);
  };
  const BOOK = [['_mirror_key', 'VARCHAR'], ['_mirror_lsn', 'BIGINT'], ['_mirror_partition', 'INTEGER'], ['_mirror_offset', 'BIGINT']];

  await runAll([['accounts', [a1, a2]], ['pairs', [p1, p2]], ['notes', [n1]]]);
  let wh = await python(DUMP, [prefect.warehouse]);
  assert.deepEqual(Object.keys(wh), ['cdc_accounts', 'cdc_notes', 'cdc_pairs', 'mirror_accounts', 'mirror_notes', 'mirror_pairs']);
  // The bookkeeping, then the data columns, email added by a2.
  assert.deepEqual(wh.mirror_accounts.columns,
    [...BOOK, ['id', 'BIGINT'], ['name', 'VARCHAR'], ['balance', 'DOUBLE'], ['email', 'VARCHAR']]);
  assert.deepEqual(wh.mirror_pairs.columns, [...BOOK, ['a', 'BIGINT'], ['b', 'VARCHAR'], ['v', 'VARCHAR']]);
  assert.deepEqual(wh.mirror_notes.columns, [...BOOK, ['body', 'VARCHAR'], ['n', 'BIGINT']]);
  // Inserts, updates, deletes of both shapes (1, 2), a key change (4 to 40);
  // 6 was written before email existed.
  const accounts = [
    [3, 'cy', 31, 'cy@x', '{"id":3}', 200, 0, 7],
    [5, 'fay', 50, 'fay@x', '{"id":5}', 210, 0, 8],
    [6, 'eve', 60, null, '{"id":6}', 150, 0, 6],
    [40, 'dee', 40, null, '{"id":40}', 220, 0, 10],
  ];
  assert.deepEqual(wh.mirror_accounts.rows, accounts);
  // The truncate at offset 13 removed the rows of p1, loaded before it.
  const pairs = [[3, 'z', 'four2', '{"a":3,"b":"z"}', null, 0, 16]];
  assert.deepEqual(wh.mirror_pairs.rows, pairs);
  // Without key: of two equal rows a delete takes the older, also with a null.
  const notes = [['a', 1, null, 301, 0, 1], ['b', null, null, 305, 0, 5], ['c', 3, null, 303, 0, 3], ['d', 4, null, 307, 0, 7]];
  assert.deepEqual(wh.mirror_notes.rows, notes);

  // Older changes after newer ones: a3 (new, older by LSN), a1 and n1 again,
  // p0 (new, older than the truncate and than the key's changes).
  await runAll([['accounts', [a3, a1]], ['pairs', [p0]], ['notes', [n1, n2]]]);
  wh = await python(DUMP, [prefect.warehouse]);
  // Only 9 is new: 3 keeps its newer update, 4 and 1 stay deleted.
  assert.deepEqual(wh.mirror_accounts.rows, [...accounts.slice(0, 3), [9, 'gus', 90, null, '{"id":9}', 160, 1, 2], accounts[3]]);
  assert.deepEqual(wh.mirror_pairs.rows, pairs);
  // n1 applied once: n2's deletes find one row each of c and b, loaded before.
  assert.deepEqual(wh.mirror_notes.rows, [notes[0], notes[3], ['e', 5, null, 311, 0, 11], ['f', 6, null, 312, 0, 12]]);
  assert.deepEqual([wh.cdc_accounts.events, wh.cdc_pairs.events, wh.cdc_notes.events], [[15, 15], [11, 11], [13, 13]]);
});
