// The test harness itself: each real local service starts on a random port,
// does its job across processes, and stops with nothing left behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  startKafka, startS3, startPrefect, stopAll, produce, consume, committedOffsets, alive,
} from '../harness/services.mjs';
import { query, readParquet } from '../harness/parquet_reader.mjs';

after(stopAll);

function portOpen(hostPort) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const sock = createConnection({ host, port: Number(port) });
    sock.on('connect', () => { sock.destroy(); resolve(true); });
    sock.on('error', () => resolve(false));
  });
}

test('mock Kafka: a consumer group in another process reads produced messages by regex', async () => {
  const kafka = await startKafka({
    topics: ['cdc.oltp_dabi.public.customers:2', 'cdc.oltp_dabi.public.orders:1', 'other.topic:1'],
  });
  assert.match(kafka.bootstrap, /^127\.0\.0\.1:\d+$/);
  const sent = [
    { topic: 'cdc.oltp_dabi.public.customers', partition: 0, key: 'k1', value: '{"id":1}' },
    { topic: 'cdc.oltp_dabi.public.customers', partition: 1, key: 'k2', value: '{"id":2}' },
    { topic: 'cdc.oltp_dabi.public.orders', partition: 0, key: 'k3', value: null },
    { topic: 'other.topic', partition: 0, key: 'k4', value: 'not matched' },
  ];
  const delivered = await produce(kafka.bootstrap, sent);
  assert.equal(delivered.length, 4);
  for (const d of delivered) assert.equal(d.error, undefined);

  const got = await consume(kafka.bootstrap, 'harness-group', '^cdc\\.oltp_dabi\\.public\\..*', 3);
  const byKey = Object.fromEntries(got.map((m) => [m.key, m]));
  assert.deepEqual(Object.keys(byKey).sort(), ['k1', 'k2', 'k3']);
  assert.equal(byKey.k1.value, '{"id":1}');
  assert.equal(byKey.k2.partition, 1);
  assert.equal(byKey.k3.value, null, 'a tombstone stays a null value');
  assert.equal(byKey.k3.topic, 'cdc.oltp_dabi.public.orders');

  // Offsets committed by one process are visible to another.
  await consume(kafka.bootstrap, 'committing-group', '^cdc\\.oltp_dabi\\.public\\.orders$', 1, 30000, { commit: true });
  const offsets = await committedOffsets(kafka.bootstrap, 'committing-group', 'cdc.oltp_dabi.public.orders', 1);
  assert.deepEqual(offsets, [{ partition: 0, offset: 1 }]);

  // Fault injection is reachable through the control channel.
  assert.equal(await kafka.command('push_errors 0 6 6'), 'ok');
  assert.equal(await kafka.command('clear_errors 0'), 'ok');
  assert.equal(await kafka.command('topic cdc.oltp_dabi.public.late 3'), 'ok');
  assert.match(await kafka.command('no_such_command'), /^error: /);

  const { pid, bootstrap } = kafka;
  await kafka.stop();
  assert.equal(alive(pid), false, 'the mock cluster process is gone');
  assert.deepEqual(await kafka.exited, { code: 0, signal: null }, 'it shut down cleanly (no leak report)');
  assert.equal(await portOpen(bootstrap), false, 'its port is closed');
});

test('s3rver: PUT, GET and list through path-style S3', async () => {
  const s3 = await startS3({ buckets: ['datalake'] });
  assert.match(s3.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const body = Buffer.from('hello, lake \u00fc\n'.repeat(1000));
  const key = 'cdc_events/customers/year=2026/month=11/day=24/a.parquet';
  const put = await fetch(`${s3.url}/datalake/${key}`, {
    method: 'PUT', body, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  assert.equal(put.status, 200);
  const get = await fetch(`${s3.url}/datalake/${key}`);
  assert.equal(get.status, 200);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), body);
  const list = await (await fetch(`${s3.url}/datalake?list-type=2&prefix=cdc_events/`)).text();
  assert.match(list, /<Key>cdc_events\/customers\/year=2026\/month=11\/day=24\/a.parquet<\/Key>/);
  const missing = await fetch(`${s3.url}/nobucket/x`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<Code>NoSuchBucket<\/Code>/);

  const { pid, dir } = s3;
  await s3.stop();
  assert.equal(alive(pid), false);
  assert.throws(() => readFileSync(join(dir, 'x')), /ENOENT/, 'its storage directory is removed');
});

test('Prefect double: looks up deployments, creates runs idempotently, records, fails on demand', async () => {
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  const lookup = await fetch(`${prefect.url}/deployments/name/cdc_minio_to_duckdb_flow/dwh-pipeline`, {
    headers: { authorization: 'Bearer k' },
  });
  assert.equal(lookup.status, 200);
  const { id } = await lookup.json();
  assert.match(id, /^[0-9a-f-]{36}$/);

  const missing = await fetch(`${prefect.url}/deployments/name/cdc-minio-to-duckdb-flow/dwh-pipeline`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { detail: 'Deployment not found' });

  const create = (body) => fetch(`${prefect.url}/deployments/${id}/create_flow_run`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  });
  const first = await create(JSON.stringify({ idempotency_key: 'abc', parameters: { table: 't' } }));
  assert.equal(first.status, 201);
  const run = await first.json();
  const again = await create(JSON.stringify({ idempotency_key: 'abc', parameters: { table: 't' } }));
  assert.equal(again.status, 200, 'the same idempotency key returns the existing run');
  assert.equal((await again.json()).id, run.id);
  assert.equal((await create('')).status, 422, 'an empty body is rejected like the real server');
  assert.equal((await create(JSON.stringify({ bogus: 1 }))).status, 422, 'unknown keys are rejected');

  await prefect.fail({ status: 503, times: 2, path: 'create_flow_run' });
  assert.equal((await create('{}')).status, 503);
  assert.equal((await create('{}')).status, 503);
  assert.equal((await create('{}')).status, 201);

  const recorded = await prefect.requests();
  assert.equal(recorded.length, 9);
  assert.equal(recorded[0].method, 'GET');
  assert.equal(recorded[0].authorization, 'Bearer k');
  assert.deepEqual(recorded[2].body, { idempotency_key: 'abc', parameters: { table: 't' } });
  assert.equal(recorded[2].contentType, 'application/json');

  const { pid } = prefect;
  await prefect.stop();
  assert.equal(alive(pid), false);
});

test('DuckDB reader: a Parquet file stored in and fetched from s3rver reads back typed', async () => {
  const s3 = await startS3({ buckets: ['datalake'] });
  const work = mkdtempSync(join(tmpdir(), 'cdcw-reader-'));
  try {
    const src = join(work, 'src.parquet');
    await query(`COPY (SELECT i::INTEGER AS id, 'name ' || i AS name,
                         CASE WHEN i % 2 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS score,
                         TIMESTAMPTZ '2026-11-24 10:00:00+00' + INTERVAL (i) SECOND AS ts
                  FROM range(3) t(i)) TO '${src}' (FORMAT PARQUET, COMPRESSION SNAPPY)`);
    const put = await fetch(`${s3.url}/datalake/test/src.parquet`, { method: 'PUT', body: readFileSync(src) });
    assert.equal(put.status, 200);
    const fetched = join(work, 'fetched.parquet');
    writeFileSync(fetched, Buffer.from(await (await fetch(`${s3.url}/datalake/test/src.parquet`)).arrayBuffer()));

    const { schema, columns, rows } = await readParquet(fetched, { orderBy: 'id' });
    assert.deepEqual(columns.map((c) => c.name), ['id', 'name', 'score', 'ts']);
    assert.equal(columns[3].type, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(schema.find((s) => s.name === 'name').converted_type, 'UTF8');
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r.name), ['name 0', 'name 1', 'name 2']);
    assert.deepEqual(rows.map((r) => r.score), [null, 1.5, null]);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await s3.stop();
  }
});
