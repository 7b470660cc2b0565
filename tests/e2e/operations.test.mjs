// Operating cdc-writer: /metrics agrees with what was produced and written,
// /healthz and /readyz follow the main loop and the object store, and
// --check names each unreachable dependency. On the real systems: Apache
// Kafka, MinIO (stopped and started again for /readyz) and a Prefect server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  startWriter, writerEnv, stopAll, produce, committedOffsets,
  fetchObjects, waitFor, freePort, run, binaries, startS3,
} from '../harness/services.mjs';
import { startRealKafka as startKafka, startMinio, startRealPrefect } from '../harness/real_services.mjs';
import { query } from '../harness/parquet_reader.mjs';
import { parsePrometheusText, sum } from '../harness/prom_text.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-ops-'));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const sql = (s) => `'${s.replaceAll("'", "''")}'`;

async function get(port, path, method = 'GET') {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

async function scrape(port) {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(r.body);
}

function ends(delivered) {
  const out = {};
  for (const d of delivered) out[`${d.topic}/${d.partition}`] = Math.max(out[`${d.topic}/${d.partition}`] ?? 0, d.offset + 1);
  return out;
}

async function allCommitted(kafka, group, want, partitionsOf) {
  for (const [t, n] of Object.entries(partitionsOf)) {
    for (const c of await committedOffsets(kafka.bootstrap, group, t, n)) {
      const w = want[`${t}/${c.partition}`];
      if (w !== undefined && c.offset !== w) return false;
    }
  }
  return true;
}

function account(i) {
  return JSON.stringify({ op: 'c', ts_ms: 1700000000000 + i, source: { ts_ms: 1700000000000 + i, table: 'accounts' },
    before: null, after: { account_id: i, owner: `owner ${i}`, balance: i * 1.25 } });
}

test('/metrics agrees with what was produced, written, refused and committed', async () => {
  const partitionsOf = { [topic('accounts')]: 2, [topic('payments')]: 2 };
  const kafka = await startKafka({ topics: Object.entries(partitionsOf).map(([t, n]) => `${t}:${n}`) });
  const s3 = await startMinio();
  const prefect = await startRealPrefect({ s3 });
  const msgs = [];
  for (let i = 0; i < 60; i++) {
    msgs.push({ topic: topic('accounts'), key: `a${i}`, value: account(i) });
    if (i % 20 === 19) msgs.push({ topic: topic('accounts'), key: `a${i}`, value: null });
  }
  for (let i = 0; i < 50; i++) {
    msgs.push({ topic: topic('payments'), key: `p${i}`, value: JSON.stringify({ op: 'u', ts_ms: 1700000000000, after: { payment_id: i, cents: i * 100 } }) });
    if (i % 12 === 11) msgs.push({ topic: topic('payments'), key: `bad${i}`, value: '{"op": "c", "after": ' });
  }
  const delivered = await produce(kafka.bootstrap, msgs);
  const want = ends(delivered);
  const port = await freePort();
  const writer = startWriter(writerEnv({ kafka, s3, prefect, extra: { HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' } }));

  await waitFor(async () => (await get(port, '/readyz').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30000, what: '/readyz ready' });
  await waitFor(() => allCommitted(kafka, 'lake-writer', want, partitionsOf), { timeoutMs: 60000, what: 'every offset committed' });
  // The lag gauges are sampled about once a second: wait until they show the commits.
  const m = await waitFor(async () => {
    const f = await scrape(port);
    const lags = f.get('cdcw_consumer_lag')?.samples ?? [];
    return lags.length === 4 && lags.every((s) => s.value === 0) ? f : null;
  }, { timeoutMs: 15000, what: 'consumer lag 0 on the four partitions' });

  const dir = mkdtempSync(join(work, 'lake-'));
  const events = await fetchObjects(s3, 'cdc_events/', dir);
  const errors = await fetchObjects(s3, 'cdc_errors/', dir);
  const counts = Object.fromEntries((await query(`SELECT _kafka_topic AS t, count(*)::INTEGER AS n
    FROM read_parquet([${events.map((o) => sql(o.path)).join(', ')}], union_by_name = true) GROUP BY 1`)).map((r) => [r.t, r.n]));
  assert.deepEqual(counts, { [topic('accounts')]: 60, [topic('payments')]: 50 });

  assert.equal(sum(m, 'cdcw_messages_consumed_total'), msgs.length);
  assert.equal(sum(m, 'cdcw_messages_consumed_total', { topic: topic('accounts') }), 63);
  assert.equal(sum(m, 'cdcw_tombstones_total'), 3);
  assert.equal(sum(m, 'cdcw_messages_routed_to_errors_total', { topic: topic('payments') }), 4);
  for (const [t, n] of Object.entries(counts)) assert.equal(sum(m, 'cdcw_rows_written_total', { topic: t }), n, t);
  assert.equal(sum(m, 'cdcw_files_written_total', { kind: 'events' }), events.length);
  assert.equal(sum(m, 'cdcw_files_written_total', { kind: 'errors' }), errors.length);
  assert.equal(sum(m, 'cdcw_parquet_bytes_written_total'), [...events, ...errors].reduce((a, o) => a + o.size, 0));
  const rawBytes = msgs.reduce((a, x) => a + Buffer.byteLength(x.key) + (x.value ? Buffer.byteLength(x.value) : 0), 0);
  assert.equal(sum(m, 'cdcw_message_bytes_consumed_total'), rawBytes);
  assert.ok(sum(m, 'cdcw_flushes_total') >= sum(m, 'cdcw_flush_duration_seconds'));
  assert.ok(sum(m, 'cdcw_flush_duration_seconds') >= 1);
  assert.ok(sum(m, 'cdcw_s3_requests_total', { method: 'PUT' }) >= events.length + errors.length);
  const runs = await prefect.flowRuns();
  assert.equal(sum(m, 'cdcw_prefect_triggers_total', { result: 'ok' }), runs.length);
  assert.ok(runs.length >= 2);
  for (const s of m.get('cdcw_committed_offset').samples) {
    assert.equal(s.value, want[`${s.labels.topic}/${s.labels.partition}`], JSON.stringify(s.labels));
  }
  assert.equal(sum(m, 'cdcw_assigned_partitions'), 4);
  assert.equal(sum(m, 'cdcw_paused_partitions'), 0);
  assert.ok(sum(m, 'process_resident_memory_bytes') > 1 << 20);
  assert.equal(m.get('cdcw_build_info').samples.length, 1);

  const live = await get(port, '/healthz');
  assert.equal(live.status, 200);
  assert.match(live.body, /^ok: the main loop turned \d+ ms ago\n$/);
  assert.match((await get(port, '/readyz')).body, /^ok: 4 partitions assigned, object store reachable\n$/);
  assert.equal((await get(port, '/nowhere')).status, 404);
  assert.equal((await get(port, '/metrics', 'POST')).status, 405);

  const { code } = await writer.stop('SIGTERM');
  assert.equal(code, 0, writer.log());
});

test('/readyz turns unready while MinIO is stopped and ready when it is back; nothing is lost', async () => {
  const t = topic('ledger');
  const kafka = await startKafka({ topics: [`${t}:1`] });
  const s3 = await startMinio();
  const port = await freePort();
  const writer = startWriter(writerEnv({ kafka, s3, extra: {
    HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1', HEALTH_STORE_CHECK_SECONDS: '1',
    MINIO_MAX_ATTEMPTS: '2', MINIO_TIMEOUT_SECONDS: '2',
  } }));
  const committed = async () => (await committedOffsets(kafka.bootstrap, 'lake-writer', t, 1))[0].offset;
  const batch = (from) => Array.from({ length: 10 }, (_, k) => ({ topic: t, key: `l${from + k}`, value: account(from + k) }));

  await produce(kafka.bootstrap, batch(0));
  await waitFor(async () => (await committed()) === 10, { timeoutMs: 30000, what: 'first batch committed' });
  assert.equal((await get(port, '/readyz')).status, 200);

  await s3.down();
  const down = await waitFor(async () => {
    const r = await get(port, '/readyz');
    return r.status === 503 ? r : null;
  }, { timeoutMs: 15000, what: '/readyz unready' });
  assert.match(down.body, /^not ready: object store unreachable: /);
  assert.equal((await get(port, '/healthz')).status, 200, 'still live: the loop turns');

  await produce(kafka.bootstrap, batch(10));
  await waitFor(async () => sum(await scrape(port), 'cdcw_upload_failures_total') >= 1, { timeoutMs: 30000, what: 'a failed upload' });
  assert.equal(await committed(), 10, 'nothing committed that is not stored');
  // cdcw_buffered_bytes is sampled once a second: the failure can be counted first.
  const during = await waitFor(async () => {
    const m = await scrape(port);
    return sum(m, 'cdcw_buffered_bytes') > 0 ? m : null;
  }, { timeoutMs: 5000, what: 'cdcw_buffered_bytes > 0 while the upload fails' });
  assert.ok(sum(during, 'cdcw_s3_errors_total', { code: 'connection' }) >= 1);
  assert.ok(sum(during, 'cdcw_buffered_bytes') > 0);

  await s3.up();
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { timeoutMs: 20000, what: '/readyz ready again' });
  await waitFor(async () => (await committed()) === 20, { timeoutMs: 60000, what: 'second batch committed' });

  const dir = mkdtempSync(join(work, 'ledger-'));
  const objects = await fetchObjects(s3, 'cdc_events/ledger/', dir);
  const rows = await query(`SELECT _kafka_offset::INTEGER AS o FROM read_parquet([${objects.map((o) => sql(o.path)).join(', ')}]) ORDER BY 1`);
  assert.deepEqual(rows.map((r) => r.o), Array.from({ length: 20 }, (_, k) => k), 'every row once');
  const { code } = await writer.stop('SIGTERM');
  assert.equal(code, 0, writer.log());
});

test('--check reports every dependency by name: ok, or failed with a reason', async () => {
  const kafka = await startKafka({ topics: [`${topic('things')}:1`, 'unrelated:1'] });
  const s3 = await startMinio();
  const prefect = await startRealPrefect({ s3 });
  const check = (extra) => run(binaries.cdcWriter, ['--check'], { env: { PATH: process.env.PATH, ...writerEnv({ kafka, s3, prefect, extra }) } });

  const ok = await check({});
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const lines = ok.stdout.trim().split('\n');
  assert.equal(lines.length, 4, ok.stdout);
  assert.equal(lines[0], 'configuration: ok');
  assert.match(lines[1], /^kafka: ok: 1 brokers, 1 topics match \S+ \(e\.g\. cdc\.oltp_dabi\.public\.things\)$/);
  assert.match(lines[2], /^object store: ok: bucket datalake reachable at 127\.0\.0\.1:\d+; conditional writes honoured$/);
  const probes = await fetchObjects(s3, '.cdc-writer-check/', mkdtempSync(join(tmpdir(), 'cdcw-probe-')));
  assert.deepEqual(probes, [], "--check's conditional-write probe is deleted");
  assert.match(lines[3], /^prefect: ok: deployment cdc_minio_to_duckdb_flow\/dwh-pipeline found \(id [0-9a-f-]+\)$/);

  const closed = await freePort();
  const bad = await check({ KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${closed}`, CHECK_TIMEOUT_SECONDS: '2',
    MINIO_BUCKET: 'no-such-bucket', PREFECT_DEPLOYMENT_NAME: 'missing' });
  assert.equal(bad.code, 1);
  const [, k, o, p] = bad.stdout.trim().split('\n');
  assert.match(k, new RegExp(`^kafka: FAILED: no metadata from KAFKA_BOOTSTRAP_SERVERS=127\\.0\\.0\\.1:${closed} within 2 s: `));
  assert.match(o, /^object store: FAILED: .*no-such-bucket.*404/);
  assert.match(p, /^prefect: FAILED: Prefect deployment 'cdc_minio_to_duckdb_flow\/missing' not found/);

  const none = await check({ KAFKA_TOPIC_PATTERN: '^nothing\\.here\\.(.*)' });
  assert.equal(none.code, 1);
  assert.match(none.stdout, /^kafka: FAILED: 1 brokers reachable, but none of the \d+ topics matches KAFKA_TOPIC_PATTERN=\^nothing/m);
  assert.match(none.stdout, /^object store: ok/m);

  // s3rver ignores If-None-Match: *, which --check names, with the way out.
  const s3rver = await startS3();
  const lax = (extra) => run(binaries.cdcWriter, ['--check'], { env: { PATH: process.env.PATH, ...writerEnv({ kafka, s3: s3rver, prefect, extra }) } });
  let r = await lax({});
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^object store: FAILED: conditional writes are not honoured: a second If-None-Match: \* put of \S+ was accepted, .*set MINIO_CONDITIONAL_WRITES=false/m);
  r = await lax({ MINIO_CONDITIONAL_WRITES: 'false' });
  assert.match(r.stdout, /^object store: ok: bucket datalake reachable at 127\.0\.0\.1:\d+$/m);

  const invalid = await check({ WRITE_INTERVAL_SECONDS: 'soon' });
  assert.equal(invalid.code, 2, 'a bad configuration is reported before any connection is tried');
  assert.doesNotMatch(invalid.stdout, /kafka:/);
});

test('the strict exposition-format parser rejects what the format forbids', () => {
  const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1\\"q\\\\\\n"} 3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n';
  const f = parsePrometheusText(good);
  assert.equal(f.get('a_total').samples[0].labels.x, '1"q\\\n');
  assert.equal(sum(f, 'h'), 2);
  const bad = {
    'no final newline': 'a 1',
    'bad metric name': '1a 1\n',
    'bad value': 'a one\n',
    'unquoted label': 'a{x=1} 1\n',
    'bad escape': 'a{x="\\t"} 1\n',
    'duplicate sample': 'a{x="1"} 1\na{x="1"} 2\n',
    'TYPE after samples': 'a 1\n# TYPE a gauge\n',
    'unknown type': '# TYPE a meter\n',
    'not contiguous': 'a 1\nb 1\na{x="2"} 1\n',
    'negative counter': '# TYPE c counter\nc -1\n',
    'histogram without +Inf': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    'histogram not cumulative': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
    '+Inf bucket differs from count': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
  };
  for (const [what, text] of Object.entries(bad)) assert.throws(() => parsePrometheusText(text), Error, what);
});
