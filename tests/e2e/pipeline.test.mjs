// cdc-writer end to end on the real systems: Apache Kafka (one KRaft node per
// test) and MinIO, with the daemon; the lake is read back with DuckDB. The
// Prefect double stays where a test needs Prefect to fail or hang on demand,
// or must see every request as sent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import {
  startPrefect, startFlakyProxy, startWriter, writerEnv, stopAll, produce, committedOffsets,
  fetchObjects, waitFor, repoRoot, freePort,
} from '../harness/services.mjs';
import { startRealKafka as startKafka, startMinio as startS3 } from '../harness/real_services.mjs';
import { query } from '../harness/parquet_reader.mjs';
import { parsePrometheusText, sum } from '../harness/prom_text.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-pipe-'));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const TOPICS = { customers: 3, orders: 2, items: 2 };
const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const sample = (name) => JSON.parse(readFileSync(join(repoRoot, 'tests', 'fixtures', 'debezium', name), 'utf8'));

// Events for the three tables: customers with schema (from Debezium's own
// samples), orders without schema, items with schema; tombstones and
// malformed messages among them.
function events(round = 0) {
  const msgs = [];
  const create = sample('pg_create_with_schema.json');
  const update = sample('pg_update_with_schema.json');
  for (let i = 0; i < 30; i++) {
    const id = round * 1000 + i;
    const m = structuredClone(i % 3 === 2 ? update : create);
    m.payload.after.id = id;
    m.payload.after.email = `user${id}@example.com`;
    // Every fifth with headers: one repeated, one binary.
    const headers = i % 5 === 0 ? { headers: [['trace', `t${id}`], ['bin', { hex: 'ff00' }], ['trace', null]] } : {};
    msgs.push({ topic: topic('customers'), key: `c${id}`, value: JSON.stringify(m), ...headers });
    if (i % 10 === 9) msgs.push({ topic: topic('customers'), key: `c${id}`, value: null });
  }
  for (let i = 0; i < 40; i++) {
    const id = round * 1000 + i;
    msgs.push({ topic: topic('orders'), key: `o${id}`, value: JSON.stringify({
      op: 'c', ts_ms: 1700000000000 + i, source: { ts_ms: 1700000000000 + i, table: 'orders' },
      before: null, after: { order_id: id, amount: i + 0.5, status: i % 2 ? 'paid' : 'new' },
    }) });
  }
  msgs.push({ topic: topic('orders'), key: 'bad1', value: '{"op": "c", "after": {"order_id": 1' });
  msgs.push({ topic: topic('orders'), key: 'bad2', value: '[1, 2, 3]' });
  const itemSchema = {
    type: 'struct', name: 'x.Envelope', fields: [
      { type: 'struct', optional: true, field: 'after', fields: [
        { type: 'int64', optional: false, field: 'item_id' },
        { type: 'bytes', optional: true, field: 'price', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '8' } },
        { type: 'int64', optional: true, field: 'added_at', name: 'io.debezium.time.MicroTimestamp' }] },
      { type: 'string', optional: false, field: 'op' }],
  };
  for (let i = 0; i < 25; i++) {
    const id = round * 1000 + i;
    const price = Buffer.alloc(4);
    price.writeInt32BE(i * 199 - 1000);
    msgs.push({ topic: topic('items'), key: `i${id}`, value: JSON.stringify({
      schema: itemSchema, payload: { op: 'r', after: { item_id: id, price: price.toString('base64'), added_at: 1700000000000000 + i } },
    }) });
  }
  return msgs;
}

async function endOffsets(bootstrap, delivered) {
  const ends = {};
  for (const d of delivered) {
    const k = `${d.topic}/${d.partition}`;
    ends[k] = Math.max(ends[k] ?? 0, d.offset + 1);
  }
  return ends;
}

async function allCommitted(kafka, group, ends) {
  for (const [t, n] of Object.entries(TOPICS)) {
    const committed = await committedOffsets(kafka.bootstrap, group, topic(t), n);
    for (const c of committed) {
      const want = ends[`${topic(t)}/${c.partition}`];
      if (want !== undefined && c.offset !== want) return false;
    }
  }
  return true;
}

const sql = (s) => `'${s.replaceAll("'", "''")}'`;

async function lakeRows(s3, dir) {
  const objects = await fetchObjects(s3, 'cdc_events/', dir);
  const files = objects.map((o) => o.path);
  if (files.length === 0) return { objects, rows: [] };
  const rows = await query(`SELECT _kafka_topic AS t, _kafka_partition AS p, _kafka_offset::BIGINT AS o, _cdc_op AS op
    FROM read_parquet([${files.map(sql).join(', ')}], union_by_name = true)`);
  return { objects, rows };
}

test('three tables: every row once, typed, under the documented keys; offsets committed; Prefect told', async () => {
  const kafka = await startKafka({ topics: Object.entries(TOPICS).map(([t, n]) => `${topic(t)}:${n}`).concat(['other.topic:1']) });
  const s3 = await startS3();
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  const started = new Date();
  const msgs = events();
  const delivered = await produce(kafka.bootstrap, [...msgs, { topic: 'other.topic', key: 'x', value: '{}' }]);
  const ends = await endOffsets(kafka.bootstrap, delivered.filter((d) => d.topic !== 'other.topic'));

  const writer = startWriter(writerEnv({ kafka, s3, prefect, extra: { CDC_METADATA: 'source,key,headers' } }));
  await waitFor(() => allCommitted(kafka, 'lake-writer', ends), { timeoutMs: 60000, what: 'every offset committed' });
  const { code } = await writer.stop('SIGTERM');
  assert.equal(code, 0, writer.log());

  const dir = mkdtempSync(join(work, 'lake-'));
  const { objects, rows } = await lakeRows(s3, dir);
  const good = msgs.filter((m) => m.value !== null && !m.key.startsWith('bad'));
  assert.equal(rows.length, good.length, 'one row per decodable message, tombstones excluded');
  const ids = new Set(rows.map((r) => `${r.t}/${r.p}/${r.o}`));
  assert.equal(ids.size, rows.length, 'no (topic, partition, offset) twice');
  for (const o of objects) {
    assert.match(o.key, /^cdc_events\/(customers|orders|items)\/year=\d{4}\/month=\d{2}\/day=\d{2}\/\1_\d{8}T\d{6}Z_p\d+_o\d{19}\.parquet$/, o.key);
  }
  // The date parts come from the Kafka timestamps, which the producer set during this test.
  const partsOf = (d) => { const [y, m, dd] = d.toISOString().slice(0, 10).split('-'); return `year=${y}/month=${m}/day=${dd}`; };
  const days = new Set([partsOf(started), partsOf(new Date())]);
  for (const o of objects) assert.ok([...days].some((d) => o.key.includes(`/${d}/`)), `${o.key}: date of its first message`);

  const items = objects.filter((o) => o.key.startsWith('cdc_events/items/')).map((o) => sql(o.path));
  const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet([${items.join(', ')}])`)).map((r) => [r.column_name, r.column_type]));
  assert.equal(types.price, 'DECIMAL(8,2)');
  assert.equal(types.added_at, 'TIMESTAMP');
  const [itemRow] = await query(`SELECT price::VARCHAR AS price FROM read_parquet([${items.join(', ')}]) WHERE item_id = 3`);
  assert.equal(itemRow.price, '-4.03');
  // The record's key, timestamp and headers, and the envelope's source position.
  const customers = objects.filter((o) => o.key.startsWith('cdc_events/customers/')).map((o) => sql(o.path));
  const meta = await query(`SELECT id, _kafka_key AS k, epoch_ms(_kafka_timestamp) AS ts, _kafka_headers AS h, _cdc_lsn::BIGINT AS lsn,
      _cdc_source AS src FROM read_parquet([${customers.join(', ')}], union_by_name = true) ORDER BY id`);
  assert.equal(meta.length, 30);
  for (const r of meta) {
    assert.equal(r.k, `c${r.id}`, 'a text key as it is');
    assert.ok(Number(r.ts) >= started.getTime() - 1000 && Number(r.ts) <= Date.now(), `${r.ts}: the producer's timestamp`);
    assert.equal(r.h, r.id % 5 === 0 ? `{"trace":["t${r.id}",null],"bin":{"base64":"/wA="}}` : null);
    assert.equal(r.lsn, r.id % 3 === 2 ? '24023160' : '24023128', 'source.lsn of the sample');
    assert.equal(r.src, 'postgres.public.customers');
  }
  const orders = objects.filter((o) => o.key.startsWith('cdc_events/orders/')).map((o) => sql(o.path));
  const [sum] = await query(`SELECT sum(amount) AS s, count(*)::INTEGER AS n FROM read_parquet([${orders.join(', ')}])`);
  assert.equal(sum.n, 40);
  assert.equal(sum.s, 40 * 0.5 + (39 * 40) / 2);

  const errors = await fetchObjects(s3, 'cdc_errors/', dir);
  assert.ok(errors.length >= 1, 'the refused messages were stored');
  assert.match(errors[0].key, /^cdc_errors\/orders\/year=\d{4}\/month=\d{2}\/day=\d{2}\/orders_\d{8}T\d{6}Z_p\d+_o\d{19}\.parquet$/);
  const bad = await query(`SELECT decode(_kafka_key) AS k, decode(_kafka_value) AS v, _error AS e
    FROM read_parquet([${errors.map((o) => sql(o.path)).join(', ')}]) ORDER BY k`);
  assert.deepEqual(bad.map((b) => b.k), ['bad1', 'bad2']);
  assert.equal(bad[1].v, '[1, 2, 3]', 'the raw value is kept');
  assert.equal(bad[1].e, 'not a JSON object: the message is an array');

  const calls = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run'));
  assert.ok(calls.length >= 3, `at least one run per table, got ${calls.length}`);
  for (const c of calls) assert.match(c.body.idempotency_key, /^cdc-writer-[0-9a-f]{64}$/);
  const keys = calls.map((c) => c.body.idempotency_key);
  assert.equal(new Set(keys).size, keys.length, 'one run per flush');
  assert.match(writer.log(), /flushed cdc\.oltp_dabi\.public\.orders \[\d\] reason=\w+ rows=\d+ refused=/);
});

test('killed after the upload, before the commit: the restart overwrites, every row once', async () => {
  const kafka = await startKafka({ topics: Object.entries(TOPICS).map(([t, n]) => `${topic(t)}:${n}`) });
  const s3 = await startS3();
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  const msgs = events(1);
  const delivered = await produce(kafka.bootstrap, msgs);
  const ends = await endOffsets(kafka.bootstrap, delivered);
  const env = writerEnv({ kafka, s3, prefect, extra: { CONSUMER_GROUP_ID: 'crashing' } });

  const first = startWriter({ ...env, CDCW_FAILPOINT: 'kill-before-commit' });
  const result = await first.exited;
  assert.equal(result.signal, 'SIGKILL', first.log());
  // Other workers may have been cut off mid-upload by the kill; MinIO, like S3,
  // keeps no object of a cut-off body, so every file read below is whole.
  const dir1 = mkdtempSync(join(work, 'crash-'));
  const before = await fetchObjects(s3, 'cdc_events/', dir1);
  assert.ok(before.length > 0, 'the crashed run uploaded files');
  const triggersBefore = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run')).length;

  const second = startWriter(env);
  await waitFor(() => allCommitted(kafka, 'crashing', ends), { timeoutMs: 60000, what: 'every offset committed' });
  assert.equal((await second.stop()).code, 0, second.log());
  const dir2 = mkdtempSync(join(work, 'after-'));
  const { rows } = await lakeRows(s3, dir2);
  const good = msgs.filter((m) => m.value !== null && !m.key.startsWith('bad'));
  const ids = new Set(rows.map((r) => `${r.t}/${r.p}/${r.o}`));
  assert.equal(ids.size, good.length, 'every row is there');
  assert.equal(rows.length, good.length, 'and only once');
  // The Prefect double here, not the real server: the test reads every
  // create_flow_run request as sent, and the real server folds a repeated
  // idempotency key into its first run (prefect.test.mjs asserts that part).
  // Prefect is told before the commit, so the crashed run triggered too. One
  // run per data file, keyed by the file's key alone: the restart rewrites the
  // crashed run's files and asks again with the same idempotency keys, so
  // Prefect keeps one run per file however the rounds grouped the uploads.
  const calls = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run'));
  const crashed = calls.slice(0, triggersBefore);
  const idem = (key) => `cdc-writer-${createHash('sha256').update(`${key}\0`).digest('hex')}`;
  const lakeKeys = new Map((await fetchObjects(s3, 'cdc_events/', mkdtempSync(join(work, 'keys-')))).map((o) => [idem(o.key), o.key]));
  assert.ok(crashed.length > 0, 'the crashed run triggered');
  for (const c of calls) assert.ok(lakeKeys.has(c.body.idempotency_key), `${c.body.idempotency_key} is one data file's`);
  const restartKeys = new Set(calls.slice(triggersBefore).map((r) => r.body.idempotency_key));
  for (const c of crashed) assert.ok(restartKeys.has(c.body.idempotency_key), `the replay of ${lakeKeys.get(c.body.idempotency_key)} asked with the same key`);
  assert.deepEqual(new Set(calls.map((r) => r.body.idempotency_key)), new Set(lakeKeys.keys()), 'every file triggered');
});

test('Prefect failing: data and commits are unaffected', async () => {
  const kafka = await startKafka({ topics: [`${topic('orders')}:1`] });
  const s3 = await startS3();
  const prefect = await startPrefect({ deployments: [] }); // the deployment does not exist: 404
  const msgs = events(2).filter((m) => m.topic === topic('orders'));
  const delivered = await produce(kafka.bootstrap, msgs);
  const ends = await endOffsets(kafka.bootstrap, delivered);
  const writer = startWriter(writerEnv({ kafka, s3, prefect, extra: { CONSUMER_GROUP_ID: 'noprefect' } }));
  await waitFor(async () => {
    const [c] = await committedOffsets(kafka.bootstrap, 'noprefect', topic('orders'), 1);
    return c.offset === ends[`${topic('orders')}/0`];
  }, { timeoutMs: 60000, what: 'the offsets committed' });
  assert.equal((await writer.stop()).code, 0);
  assert.match(writer.log(), /Prefect trigger for orders failed \(data and commits are not affected\): Prefect deployment 'cdc_minio_to_duckdb_flow\/dwh-pipeline' not found/);
  const { rows } = await lakeRows(s3, mkdtempSync(join(work, 'np-')));
  assert.equal(rows.length, 40);
});

function orders(from, count) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { topic: topic('orders'), key: `o${i}`, value: JSON.stringify({
      op: 'c', ts_ms: 1700000000000 + i, source: { ts_ms: 1700000000000 + i }, after: { order_id: i, note: `order ${i}` },
    }) };
  });
}

async function groupCaughtUp(kafka, group, partitions, ends) {
  const committed = await committedOffsets(kafka.bootstrap, group, topic('orders'), partitions);
  return committed.every((c) => (ends[`${topic('orders')}/${c.partition}`] ?? -1001) === c.offset
    || (ends[`${topic('orders')}/${c.partition}`] === undefined));
}

test('Prefect hanging: one flush round waits for its time-out, later ones skip it; data and commits go on', async () => {
  const kafka = await startKafka({ topics: [`${topic('orders')}:1`] });
  const s3 = await startS3();
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  await prefect.fail({ status: 'hang', times: 1000, path: 'create_flow_run' });
  const writer = startWriter(writerEnv({ kafka, s3, prefect, extra: { CONSUMER_GROUP_ID: 'hungprefect', PREFECT_TIMEOUT_SECONDS: '1' } }));
  const committed = async () => (await committedOffsets(kafka.bootstrap, 'hungprefect', topic('orders'), 1))[0].offset;
  const batch = (from) => events(3 + from).filter((m) => m.topic === topic('orders') && !m.key.startsWith('bad'));
  await produce(kafka.bootstrap, batch(0));
  await waitFor(async () => (await committed()) === 40, { timeoutMs: 60000, what: 'the first batch committed despite the hang' });
  await produce(kafka.bootstrap, batch(1));
  await waitFor(async () => (await committed()) === 80, { timeoutMs: 60000, what: 'the second batch committed' });
  assert.equal((await writer.stop()).code, 0, writer.log());
  assert.match(writer.log(), /Prefect trigger for orders failed \(data and commits are not affected\): .*(timed out|Timeout)/i);
  assert.match(writer.log(), /Prefect triggers skipped for 30 s, from cdc_events\/orders\/.*: a trigger just failed/);
  const tries = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run'));
  assert.equal(tries.length, 3, 'one trigger, three tries, then skipped');
  const { rows } = await lakeRows(s3, mkdtempSync(join(work, 'hung-')));
  assert.equal(rows.length, 80);
});

test('two instances share the partitions; killing one hands them over; every row once', async () => {
  const kafka = await startKafka({ topics: [`${topic('orders')}:4`] });
  const s3 = await startS3();
  const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: 'pair', MAX_BATCH_SIZE: '50' } });
  let delivered = await produce(kafka.bootstrap, orders(0, 400));
  const a = startWriter(env);
  await waitFor(async () => (await committedOffsets(kafka.bootstrap, 'pair', topic('orders'), 4)).some((c) => c.offset > 0),
    { timeoutMs: 60000, what: 'the first instance committing' });
  const b = startWriter(env);
  await waitFor(() => /assigned cdc\.oltp_dabi\.public\.orders/.test(b.log()), { timeoutMs: 60000, what: 'the second instance getting partitions' });
  await a.stop('SIGKILL');
  delivered = delivered.concat(await produce(kafka.bootstrap, orders(400, 200)));
  const ends = await endOffsets(kafka.bootstrap, delivered);
  await waitFor(() => groupCaughtUp(kafka, 'pair', 4, ends), { timeoutMs: 90000, what: 'the survivor committing everything' });
  assert.equal((await b.stop()).code, 0, b.log());
  const { rows } = await lakeRows(s3, mkdtempSync(join(work, 'pair-')));
  assert.equal(new Set(rows.map((r) => `${r.p}/${r.o}`)).size, 600, 'every row is there');
  assert.equal(rows.length, 600, 'and only once');
});

test('SIGTERM during a busy run loses nothing', async () => {
  const kafka = await startKafka({ topics: [`${topic('orders')}:2`] });
  const s3 = await startS3();
  const delivered = await produce(kafka.bootstrap, orders(0, 3000));
  const ends = await endOffsets(kafka.bootstrap, delivered);
  const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: 'busy', MAX_BATCH_SIZE: '300', WRITE_INTERVAL_SECONDS: '60' } });
  const first = startWriter(env);
  await waitFor(() => /flushed .* reason=rows/.test(first.log()), { timeoutMs: 60000, what: 'a first flush' });
  assert.equal((await first.stop('SIGTERM')).code, 0, first.log());
  assert.match(first.log(), /reason=shutdown|stopping/);
  const committed = await committedOffsets(kafka.bootstrap, 'busy', topic('orders'), 2);
  const mid = await lakeRows(s3, mkdtempSync(join(work, 'busy1-')));
  for (const c of committed) {
    const inLake = mid.rows.filter((r) => r.p === c.partition);
    assert.equal(inLake.length, Math.max(c.offset, 0), `partition ${c.partition}: every committed message is in the lake, nothing more`);
  }
  const second = startWriter(env);
  await waitFor(() => /consuming /.test(second.log()), { timeoutMs: 30000, what: 'the second writer running' });
  // The last rows of each partition wait for the 60 s interval.
  await waitFor(() => groupCaughtUp(kafka, 'busy', 2, ends), { timeoutMs: 150000, what: 'the rest committed' });
  const end = await second.stop();
  assert.deepEqual(end, { code: 0, signal: null }, second.log());
  const { rows } = await lakeRows(s3, mkdtempSync(join(work, 'busy2-')));
  assert.equal(rows.length, 3000);
  assert.equal(new Set(rows.map((r) => `${r.p}/${r.o}`)).size, 3000);
});

// Flattened records that each set 2 of 120 columns: ~50 bytes of JSON, but the
// buffers take ~85 bytes a row (metadata, the Kafka timestamp and key, two
// 16-byte cells, a bit per column; the other 118 nulls no cell). Memory, not
// message bytes, must count against MAX_BUFFER_BYTES; with a one-hour interval
// only the memory flushes can drain them.
test('sparse rows: buffers are bounded by the memory they take, and memory flushes alone keep consumption going', async () => {
  // ~85 bytes a row in the buffers: 17 MB in all, past the buffers' share several times over.
  const n = 200000;
  const kafka = await startKafka({ topics: [`${topic('sparse')}:4`] });
  const s3 = await startS3();
  const msgs = Array.from({ length: n }, (_, i) => ({ topic: topic('sparse'), key: `s${i}`,
    value: JSON.stringify({ [`c${i % 60}`]: i, [`d${(i * 7) % 60}`]: i % 3, __op: 'c' }) }));
  const delivered = [];
  for (let from = 0; from < n; from += 20000) delivered.push(...await produce(kafka.bootstrap, msgs.slice(from, from + 20000)));
  const ends = await endOffsets(kafka.bootstrap, delivered);
  const port = await freePort();
  const budget = 8 << 20;
  // What buffers get of it: librdkafka's queue and fetch an eighth each (at
  // least 1 MiB), an eighth stays for writing.
  const limit = budget - (2 << 20) - budget / 8;
  const writer = startWriter(writerEnv({ kafka, s3, extra: {
    CONSUMER_GROUP_ID: 'sparse', WRITE_INTERVAL_SECONDS: '3600', MAX_BUFFER_BYTES: String(budget),
    MAX_BATCH_BYTES: '8MiB', HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1',
  } }));
  const consumed = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text(), () => '');
    return sum(parsePrometheusText(r), 'cdcw_messages_consumed_total');
  };
  await waitFor(async () => (await consumed()) === n, { timeoutMs: 120000, what: `all ${n} messages consumed` });
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${writer.pid}/status`, 'utf8'))[1]) * 1024;
  assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log());

  const memoryFlushes = [...writer.log().matchAll(/flushed \S+ \[\d+\] reason=memory rows=(\d+)/g)].map((m) => Number(m[1]));
  assert.ok(memoryFlushes.length >= 4, `memory flushes drained the buffers (${memoryFlushes.length} of them)`);
  // Each file's rows took over 67 bytes each in the buffers (35 of metadata, two
  // 16-byte cells): none may hold more than the buffers' share allows (counting
  // ~50 bytes of JSON a row, they would).
  for (const rows of memoryFlushes) assert.ok(rows * 67 < limit, `a memory flush of ${rows} rows fits the buffers' ${limit} bytes`);
  if (process.env.CDCW_SANITIZED !== '1') {
    // AddressSanitizer's shadow memory and quarantine would make RSS meaningless.
    assert.ok(hwm < budget + (64 << 20), `peak RSS ${(hwm / 1048576).toFixed(0)} MiB within MAX_BUFFER_BYTES + 64 MiB`);
  }
  const committed = await committedOffsets(kafka.bootstrap, 'sparse', topic('sparse'), 4);
  for (const c of committed) assert.equal(c.offset, ends[`${topic('sparse')}/${c.partition}`], `partition ${c.partition} committed to its end`);
  const { rows } = await lakeRows(s3, mkdtempSync(join(work, 'sparse-')));
  assert.equal(rows.length, n);
  assert.equal(new Set(rows.map((r) => `${r.p}/${r.o}`)).size, n, 'every row once');
});

// Cuts that must come before a message: the event day changes, then a column
// changes type, while the partition's first upload waits for its retry (the
// proxy in front of MinIO, tests/harness/flaky_proxy.mjs, fails its first two
// PUTs). The later batches wait,
// sealed, for the partition; every file holds one day and one schema.
test('day and schema changes while the partition is busy: one file per day and schema, every row once, in order', async () => {
  const t = 'cuts';
  const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
  const s3 = await startS3();
  const proxy = await startFlakyProxy(s3.url);
  await proxy.plan([{ method: 'PUT', status: 503, code: 'SlowDown' }, { method: 'PUT', status: 503, code: 'SlowDown' }]);
  const day1 = Date.parse('2026-11-30T23:59:00Z');
  const day2 = Date.parse('2026-12-01T00:01:00Z');
  const schema = (aType) => ({ type: 'struct', name: 'x.Envelope', fields: [
    { type: 'struct', optional: true, field: 'after', fields: [
      { type: 'int64', optional: false, field: 'id' }, { type: aType, optional: true, field: 'a' }] },
    { type: 'string', optional: false, field: 'op' }] });
  const msgs = [];
  for (let i = 0; i < 60; i++) {
    msgs.push({ topic: topic(t), key: `k${i}`, timestamp: i < 20 ? day1 + i : day2 + i, value: JSON.stringify({
      schema: schema(i < 40 ? 'int64' : 'string'), payload: { op: 'c', after: { id: i, a: i < 40 ? i : `text ${i}` } },
    }) });
  }
  const delivered = await produce(kafka.bootstrap, msgs);
  const writer = startWriter(writerEnv({ kafka, s3: { ...s3, url: proxy.url }, extra: { CONSUMER_GROUP_ID: 'cuts', MINIO_MAX_ATTEMPTS: '2' } }));
  await waitFor(async () => (await committedOffsets(kafka.bootstrap, 'cuts', topic(t), 1))[0].offset === 60,
    { timeoutMs: 60000, what: 'every offset committed' });
  assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log());
  assert.equal(delivered.length, 60);
  assert.match(writer.log(), /flush of cdc\.oltp_dabi\.public\.cuts \[0\] \(\S+, \d+ rows\) failed, kept uncommitted, retrying/);
  assert.match(writer.log(), /reason=schema-change rows=\d+/);
  const objects = await fetchObjects(s3, 'cdc_events/', mkdtempSync(join(work, 'cuts-')));
  const files = [];
  for (const o of objects) {
    const rows = await query(`SELECT min(_kafka_offset)::INTEGER AS lo, max(_kafka_offset)::INTEGER AS hi, count(*)::INTEGER AS n,
      typeof(any_value(a)) AS type FROM read_parquet(${sql(o.path)})`);
    files.push({ day: /day=(\d\d)/.exec(o.key)[1], ...rows[0] });
  }
  files.sort((x, y) => x.lo - y.lo);
  // Where the interval cuts depends on timing; the day (at 20) and the type (at 40) never share a file.
  let next = 0;
  for (const f of files) {
    assert.equal(f.lo, next, `files follow each other: ${JSON.stringify(files)}`);
    assert.equal(f.n, f.hi - f.lo + 1, 'no offset twice or missing within a file');
    assert.equal(f.day, f.hi < 20 ? '30' : '01', `one day per file: ${JSON.stringify(f)}`);
    assert.ok(f.hi < 20 || f.lo >= 20, `no file spans the day change: ${JSON.stringify(f)}`);
    assert.ok(f.hi < 40 || f.lo >= 40, `no file spans the schema change: ${JSON.stringify(f)}`);
    assert.equal(f.type, f.lo >= 40 ? 'VARCHAR' : 'BIGINT');
    next = f.hi + 1;
  }
  assert.equal(next, 60, 'every row once');
});

// PARTITION_TIME=source.ts_ms: a file is dated by when the database made its
// first change, and never holds changes of two such days. The Kafka timestamps
// are all of one later day (Debezium catching up). A message without
// source.ts_ms, and a refused one, are placed by their Kafka timestamp and
// counted. A second consumer group writing the same messages into another
// bucket gives the same keys (a replay is deterministic); a third with
// PARTITION_TIME=ts_ms dates every file by Debezium's clock.
test('PARTITION_TIME: files by the source or envelope clock, one day each, the same keys on a replay; fallbacks counted', async () => {
  const t = 'ptime';
  const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
  const s3 = await startS3({ buckets: ['datalake', 'replay', 'envelope'] });
  const at = (iso) => Date.parse(iso);
  const kafkaTs = at('2026-12-03T10:00:00Z');
  const envTs = at('2026-12-02T08:00:00Z');
  const dayOf = (ms) => new Date(ms).toISOString().slice(0, 10);
  // offset -> the source time of its change (null: none), in produce order
  const plan = [];
  for (let i = 0; i < 20; i++) plan.push(i === 10 ? 'tombstone' : at('2026-11-30T23:59:00Z') + i);
  for (let i = 0; i < 10; i++) plan.push(at('2026-12-01T00:01:00Z') + i);
  for (let i = 0; i < 5; i++) plan.push(null);
  plan.push('refused');
  for (let i = 0; i < 4; i++) plan.push({ flat: at('2026-12-01T12:00:00Z') + i });
  for (let i = 0; i < 5; i++) plan.push(at('2026-11-30T12:00:00Z') + i); // older changes again
  const msgs = plan.map((p, i) => {
    const base = { topic: topic(t), key: `k${i}`, timestamp: kafkaTs + i };
    if (p === 'tombstone') return { ...base, value: null };
    if (p === 'refused') return { ...base, value: '{"op": "c", "after": ' };
    if (p !== null && typeof p === 'object') {
      return { ...base, value: JSON.stringify({ id: i, v: `flat ${i}`, __op: 'u', __ts_ms: envTs + i, __source_ts_ms: p.flat }) };
    }
    return { ...base, value: JSON.stringify({ op: 'c', ts_ms: envTs + i, ...(p === null ? {} : { source: { ts_ms: p } }),
      before: null, after: { id: i, v: `row ${i}` } }) };
  });
  const delivered = await produce(kafka.bootstrap, msgs);
  assert.equal(delivered.length, plan.length);
  // Where PARTITION_TIME=source.ts_ms must place message i: its source time, else its Kafka timestamp.
  const placedAt = (i) => {
    const p = plan[i];
    if (p === null || p === 'refused') return kafkaTs + i;
    return typeof p === 'object' ? p.flat : p;
  };

  async function writeAll(group, bucket, clock) {
    const port = await freePort();
    const writer = startWriter(writerEnv({ kafka, s3, extra: {
      CONSUMER_GROUP_ID: group, MINIO_BUCKET: bucket, PARTITION_TIME: clock, WRITE_INTERVAL_SECONDS: '3600',
      HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1',
    } }));
    const scrape = async () => parsePrometheusText(await fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text(), () => ''));
    await waitFor(async () => sum(await scrape(), 'cdcw_messages_consumed_total') === plan.length,
      { timeoutMs: 60000, what: `${group}: every message consumed` });
    const fallbacks = sum(await scrape(), 'cdcw_partition_time_fallbacks_total');
    assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log());
    assert.equal((await committedOffsets(kafka.bootstrap, group, topic(t), 1))[0].offset, plan.length, `${group}: committed to the end`);
    const dir = mkdtempSync(join(work, `${group}-`));
    const events = await fetchObjects(s3, 'cdc_events/', dir, bucket);
    const errors = await fetchObjects(s3, 'cdc_errors/', dir, bucket);
    const files = [];
    for (const o of events) {
      const offsets = (await query(`SELECT _kafka_offset::INTEGER AS o FROM read_parquet(${sql(o.path)}) ORDER BY 1`)).map((r) => r.o);
      files.push({ key: o.key, offsets });
    }
    files.sort((a, b) => a.offsets[0] - b.offsets[0]);
    return { files, errors: errors.map((o) => o.key), fallbacks };
  }

  const keyParts = (key) => {
    const m = /year=(\d{4})\/month=(\d\d)\/day=(\d\d)\/ptime_(\d{8}T\d{6}Z)_p0_o(\d{19})\.parquet$/.exec(key);
    assert.ok(m, `key layout: ${key}`);
    return { day: `${m[1]}-${m[2]}-${m[3]}`, stamp: m[4], first: Number(m[5]) };
  };
  const stampOf = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

  const first = await writeAll('ptime-a', 'datalake', 'source.ts_ms');
  const rowsOffsets = plan.map((p, i) => i).filter((i) => plan[i] !== 'tombstone' && plan[i] !== 'refused');
  assert.deepEqual(first.files.flatMap((f) => f.offsets), rowsOffsets, 'every row once, in order');
  for (const f of first.files) {
    const k = keyParts(f.key);
    const days = new Set(f.offsets.map((o) => dayOf(placedAt(o))));
    assert.deepEqual([...days], [k.day], `${f.key}: every change of the file is of the key's day`);
    assert.equal(k.first, f.offsets[0], `${f.key}: named by its first offset`);
    assert.equal(k.stamp, stampOf(placedAt(f.offsets[0])), `${f.key}: stamped with the first change's time`);
  }
  // Five days in source order (30, 01, the fallbacks' 03, 01 flattened, 30 again): the tombstone at 10 cuts nothing.
  assert.deepEqual(first.files.map((f) => keyParts(f.key).day),
    ['2026-11-30', '2026-12-01', '2026-12-03', '2026-12-01', '2026-11-30']);
  assert.equal(first.errors.length, 1);
  assert.match(first.errors[0], /^cdc_errors\/ptime\/year=2026\/month=12\/day=03\/ptime_\d{8}T\d{6}Z_p0_o0000000000000000035\.parquet$/);
  assert.equal(first.fallbacks, 6, 'five messages without source.ts_ms and one refused were placed by their Kafka timestamp');

  const replay = await writeAll('ptime-b', 'replay', 'source.ts_ms');
  assert.deepEqual(replay.files.map((f) => f.key), first.files.map((f) => f.key), 'a replay writes the same keys');
  assert.deepEqual(replay.errors, first.errors);

  const envelope = await writeAll('ptime-c', 'envelope', 'ts_ms');
  assert.deepEqual(envelope.files.flatMap((f) => f.offsets), rowsOffsets);
  for (const f of envelope.files) assert.equal(keyParts(f.key).day, '2026-12-02', `${f.key}: dated by ts_ms`);
  assert.equal(envelope.fallbacks, 1, 'only the refused message lacks ts_ms');
});

// Three schema changes while the partition's first upload is held on the way
// (the proxy in front of MinIO keeps it, as a store that is slow to answer
// would): each later cut is sealed behind it, so the consumer never waits
// and takes every message meanwhile. Before, the second cut while a batch was
// sealed waited for the held upload, and consuming stopped there.
test('schema changes while an upload is held: the cuts queue up, consuming goes on, then every row once', async () => {
  const t = 'queued';
  const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
  const s3 = await startS3();
  const proxy = await startFlakyProxy(s3.url);
  await proxy.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }]);
  const schema = (aType) => ({ type: 'struct', name: 'x.Envelope', fields: [
    { type: 'struct', optional: true, field: 'after', fields: [
      { type: 'int64', optional: false, field: 'id' }, { type: aType, optional: true, field: 'a' }] },
    { type: 'string', optional: false, field: 'op' }] });
  const text = (i) => Math.floor(i / 20) % 2 === 1;
  const msgs = Array.from({ length: 80 }, (_, i) => ({ topic: topic(t), key: `k${i}`, value: JSON.stringify({
    schema: schema(text(i) ? 'string' : 'int64'), payload: { op: 'c', after: { id: i, a: text(i) ? `text ${i}` : i } },
  }) }));
  await produce(kafka.bootstrap, msgs);
  const port = await freePort();
  const writer = startWriter(writerEnv({ kafka, s3: { ...s3, url: proxy.url }, extra: {
    CONSUMER_GROUP_ID: t, WRITE_INTERVAL_SECONDS: '5', MINIO_TIMEOUT_SECONDS: '300',
    HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' } }));
  const metric = async (name) => {
    const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
    return body ? sum(parsePrometheusText(body), name) : 0;
  };
  await waitFor(async () => (await proxy.held()) === 1, { timeoutMs: 60000, what: 'the first upload held', log: writer.log });
  await waitFor(async () => (await metric('cdcw_messages_consumed_total')) === 80,
    { timeoutMs: 20000, what: 'every message consumed while the upload is held', log: writer.log });
  assert.equal(await proxy.held(), 1, 'still held: nothing was stored meanwhile');
  assert.ok((await metric('cdcw_flushes_total')) >= 3, 'the schema cuts at 40 and 60 came while the upload was held');
  assert.equal(await proxy.release(), 1);
  await waitFor(async () => (await committedOffsets(kafka.bootstrap, t, topic(t), 1))[0].offset === 80,
    { timeoutMs: 60000, what: 'every offset committed', log: writer.log });
  assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log());
  const objects = await fetchObjects(s3, `cdc_events/${t}/`, mkdtempSync(join(work, 'queued-')));
  const files = [];
  for (const o of objects) {
    files.push((await query(`SELECT min(_kafka_offset)::INTEGER AS lo, max(_kafka_offset)::INTEGER AS hi,
      count(*)::INTEGER AS n, typeof(any_value(a)) AS type FROM read_parquet(${sql(o.path)})`))[0]);
  }
  files.sort((x, y) => x.lo - y.lo);
  // Where the interval cuts depends on timing; a schema change never shares a file.
  let next = 0;
  for (const f of files) {
    assert.equal(f.lo, next, `files follow each other: ${JSON.stringify(files)}`);
    assert.equal(f.n, f.hi - f.lo + 1, 'no offset twice or missing within a file');
    assert.equal(Math.floor(f.lo / 20), Math.floor(f.hi / 20), `no file spans a schema change: ${JSON.stringify(f)}`);
    assert.equal(f.type, text(f.lo) ? 'VARCHAR' : 'BIGINT');
    next = f.hi + 1;
  }
  assert.equal(next, 80, 'every row once');
});

// SIGTERM while the partition's first upload waits for its retry and newer
// rows are buffered: the first file goes in on a later try, the newer rows
// cannot be written, and the exit status says so. They used to be left to the
// revocation in rd_kafka_consumer_close(), after the status was decided
// (exit 0). The failing proxy is in front of MinIO.
test('SIGTERM while an upload waits for its retry: newer rows that cannot be written give exit 1, uncommitted', async () => {
  const t = 'stopretry';
  const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
  const s3 = await startS3();
  const proxy = await startFlakyProxy(s3.url);
  const key = (offset) => `_p0_o${String(offset).padStart(19, '0')}`;
  await proxy.plan([...Array(4).fill({ method: 'PUT', path: key(0), status: 503, code: 'SlowDown' }),
    ...Array(20).fill({ method: 'PUT', path: key(50), status: 503, code: 'SlowDown' })]);
  const row = (i) => ({ topic: topic(t), key: `k${i}`, value: JSON.stringify({ op: 'c', after: { id: i } }) });
  await produce(kafka.bootstrap, Array.from({ length: 50 }, (_, i) => row(i)));
  const port = await freePort();
  const writer = startWriter(writerEnv({ kafka, s3: { ...s3, url: proxy.url },
    extra: { CONSUMER_GROUP_ID: t, MINIO_MAX_ATTEMPTS: '1', HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' } }));
  const failures = () => writer.log().match(/flush of \S+ \[0\] \(interval, 50 rows\) failed/g)?.length ?? 0;
  await waitFor(() => failures() >= 1, { timeoutMs: 60000, what: 'the first upload failing', log: writer.log });
  await produce(kafka.bootstrap, Array.from({ length: 50 }, (_, i) => row(50 + i)));
  const consumed = async () => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
    return sum(parsePrometheusText(text), 'cdcw_messages_consumed_total');
  };
  await waitFor(async () => (await consumed()) === 100, { timeoutMs: 30000, what: 'the newer rows buffered', log: writer.log });
  await waitFor(() => failures() >= 2, { timeoutMs: 30000, what: 'the first retry failing too', log: writer.log });
  const exit = await Promise.race([writer.stop('SIGTERM'), new Promise((r) => setTimeout(() => r(null), 90000))]);
  assert.ok(exit !== null, `still running 90 s after SIGTERM:\n${writer.log().slice(-3000)}`);
  assert.equal(exit.code, 1, writer.log().slice(-3000));
  assert.match(writer.log(), /could not be written; it stays uncommitted in Kafka/);
  const [c] = await committedOffsets(kafka.bootstrap, t, topic(t), 1);
  assert.ok(c.offset <= 50, `nothing of the newer rows committed (committed ${c.offset})`);
});
