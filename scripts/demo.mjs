// demo.mjs -- cdc-writer on a local stack (see scripts/demo.sh): Apache
// Kafka, MinIO and a Prefect server serving the shipped flow, or with --mock
// the quick doubles (librdkafka's mock cluster, s3rver, a Prefect double).
// Produces Debezium events for three tables, runs the daemon until every
// offset is committed, stops it with SIGTERM, and shows what is in the lake
// and, on the real stack, in the DuckDB warehouse the flow runs loaded.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startKafka, startS3, startPrefect, startWriter, writerEnv, stopAll, produce, committedOffsets,
  fetchObjects, waitFor, repoRoot, freePort,
} from '../tests/harness/services.mjs';
import { query } from '../tests/harness/parquet_reader.mjs';
import { startRealKafka, startMinio, startRealPrefect, python } from '../tests/harness/real_services.mjs';

const mock = process.argv.includes('--mock');

const say = (text) => process.stdout.write(`demo: ${text}\n`);
const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const fixture = (name) => JSON.parse(readFileSync(join(repoRoot, 'tests', 'fixtures', 'debezium', name), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'cdcw-demo-'));

try {
  const topics = [`${topic('customers')}:2`, `${topic('orders')}:2`, `${topic('payments')}:1`];
  let kafka, s3, prefect;
  if (mock) {
    kafka = await startKafka({ topics });
    s3 = await startS3({ buckets: ['datalake'] });
    prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
    say(`Kafka (librdkafka mock cluster) ${kafka.bootstrap}; S3 (s3rver) ${s3.url}; Prefect (double) ${prefect.url}`);
  } else {
    say('starting Apache Kafka (one KRaft node), MinIO and a Prefect server with the flow deploy/prefect/ (about a minute)');
    kafka = await startRealKafka({ topics });
    s3 = await startMinio();
    prefect = await startRealPrefect({ s3 });
    say(`Kafka ${kafka.bootstrap}; MinIO ${s3.url}; Prefect ${prefect.url} serving cdc_minio_to_duckdb_flow/dwh-pipeline`);
  }

  const messages = [];
  for (const f of ['pg_read_snapshot_with_schema.json', 'pg_create_with_schema.json', 'pg_update_with_schema.json',
    'pg_delete_with_schema.json']) {
    messages.push({ topic: topic('customers'), key: '{"id":1}', value: JSON.stringify(fixture(f)) });
  }
  messages.push({ topic: topic('customers'), key: '{"id":1}', value: null }); // the tombstone after the delete
  for (let i = 1; i <= 200; i++) {
    messages.push({ topic: topic('orders'), key: `{"order_id":${i}}`, value: JSON.stringify({
      op: i % 5 === 0 ? 'u' : 'c', ts_ms: Date.now(), source: { ts_ms: Date.now(), table: 'orders' }, before: null,
      after: { order_id: i, customer_id: 1 + (i % 7), amount: Math.round(i * 137.5) / 100, status: ['new', 'paid', 'shipped'][i % 3] },
    }) });
  }
  for (const f of ['flattened_create.json', 'flattened_delete_rewrite.json']) {
    messages.push({ topic: topic('payments'), key: '{"id":1}', value: JSON.stringify(fixture(f)) });
  }
  messages.push({ topic: topic('orders'), key: 'broken', value: '{"op": "c", "after": {"order_id": ' });
  const delivered = await produce(kafka.bootstrap, messages);
  say(`produced ${delivered.length} messages to 3 topics (one of them malformed, one a tombstone)`);

  const ends = {};
  for (const d of delivered) ends[`${d.topic}/${d.partition}`] = Math.max(ends[`${d.topic}/${d.partition}`] ?? 0, d.offset + 1);
  const port = await freePort();
  const env = writerEnv({ kafka, s3, prefect, extra: { WRITE_INTERVAL_SECONDS: '2', CONSUMER_GROUP_ID: 'dabi2-minio-lake-writer',
    HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1', PREFECT_SEND_PARAMETERS: mock ? 'false' : 'true' } });
  say('starting cdc-writer (its log follows)');
  const writer = startWriter(env);
  writer.child.stderr.pipe(process.stderr);
  await waitFor(async () => {
    for (const [key, end] of Object.entries(ends)) {
      const [t, p] = key.split('/');
      const committed = await committedOffsets(kafka.bootstrap, 'dabi2-minio-lake-writer', t, Number(p) + 1);
      if (committed[Number(p)].offset !== end) return false;
    }
    return true;
  }, { timeoutMs: 60000, what: 'every offset committed' });
  say(`every offset is committed; /readyz says: ${(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text()).trim()}`);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  say('a few lines of /metrics:');
  for (const line of metrics.split('\n').filter((l) => /^cdcw_(rows_written_total|files_written_total|messages_routed_to_errors_total|consumer_lag)\{/.test(l))) say(`  ${line}`);
  say('stopping cdc-writer with SIGTERM');
  const { code } = await writer.stop();
  say(`cdc-writer exited with status ${code}`);

  const objects = await fetchObjects(s3, '', work);
  say(`the lake (bucket datalake) holds ${objects.length} objects:`);
  for (const o of objects) say(`  ${o.key} (${o.size} bytes)`);
  const data = objects.filter((o) => o.key.startsWith('cdc_events/'));
  for (const table of ['customers', 'orders', 'payments']) {
    const files = data.filter((o) => o.key.startsWith(`cdc_events/${table}/`)).map((o) => `'${o.path}'`);
    const rows = await query(`SELECT * EXCLUDE (_processed_at, _kafka_topic) FROM read_parquet([${files.join(',')}]) ORDER BY _kafka_partition, _kafka_offset LIMIT 4`);
    say(`${table}, read back with DuckDB (first rows):`);
    for (const r of rows) say(`  ${JSON.stringify(r)}`);
  }
  if (mock) {
    const runs = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run'));
    say(`Prefect (double) received ${runs.length} create_flow_run requests`);
  } else {
    const runs = await waitFor(async () => {
      const all = await prefect.flowRuns();
      return all.length > 0 && all.every((r) => r.state_type && ['COMPLETED', 'FAILED', 'CRASHED'].includes(r.state_type)) ? all : null;
    }, { timeoutMs: 180000, intervalMs: 500, what: 'the flow runs to finish' });
    say(`Prefect ran the flow ${runs.length} times: ${[...new Set(runs.map((r) => r.state_type))].join(', ')}`);
    const wh = await python(`
import json, sys, duckdb
db = duckdb.connect(sys.argv[1], read_only=True)
out = {}
book = "_mirror_key, _mirror_lsn, _mirror_partition, _mirror_offset"
for (t,) in db.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall():
    if t.startswith("mirror_"):
        out[t] = [list(map(str, r)) for r in db.execute(f'SELECT * EXCLUDE ({book}) FROM "{t}" ORDER BY _mirror_key LIMIT 3').fetchall()]
    else:
        out[t] = [list(map(str, r)) for r in db.execute(f'SELECT _cdc_op, _kafka_partition, _kafka_offset, * EXCLUDE (_cdc_op, _kafka_partition, _kafka_offset, _kafka_topic, _processed_at) FROM "{t}" ORDER BY 2, 3 LIMIT 3').fetchall()]
    out[t].insert(0, db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
print(json.dumps(out))`, [prefect.warehouse]);
    say(`the DuckDB warehouse the flow runs loaded (${prefect.warehouse}, removed with the stack):`);
    for (const [t, [count, ...rows]] of Object.entries(wh)) {
      say(`  ${t}: ${count} rows; the first:`);
      for (const r of rows) say(`    ${r.join(' | ')}`);
    }
  }
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
