// The whole original system on the real services: Apache Kafka, MinIO, a
// Prefect 3 server with the shipped flow (deploy/prefect/) served as
// cdc_minio_to_duckdb_flow/dwh-pipeline, and cdc-writer. Each triggered run
// must reach COMPLETED and the DuckDB warehouse hold every row once.
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
for (t,) in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall():
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
});
