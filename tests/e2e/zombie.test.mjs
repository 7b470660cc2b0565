// A zombie cannot overwrite a newer file: conditional writes (If-None-Match: *)
// on Apache Kafka and MinIO. Instance A stalls (SIGSTOP) past its session
// timeout with an upload on the way; B takes the partition over, writes a
// longer file under the same first-offset key and commits it; then A's
// upload lands and A runs on. Without conditional writes A's shorter file
// replaced B's and the rows only B's held were lost.
//
// A's upload is held by tests/harness/flaky_proxy.mjs in front of MinIO: a
// stalled client's request that arrives late is what no real server can be
// asked to produce on its own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  startWriter, writerEnv, stopAll, produce, committedOffsets, fetchObjects, waitFor, startFlakyProxy, freePort,
  startPrefect,
} from '../harness/services.mjs';
import { parsePrometheusText, sum } from '../harness/prom_text.mjs';
import { startRealKafka, startMinio } from '../harness/real_services.mjs';
import { query } from '../harness/parquet_reader.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-zombie-'));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const T = 'zombie';
const topic = `cdc.oltp_dabi.public.${T}`;
const sql = (s) => `'${s.replaceAll("'", "''")}'`;
const rows = (from, to) => Array.from({ length: to - from }, (_, k) => ({
  topic, partition: 0, key: `k${from + k}`,
  value: JSON.stringify({ op: 'c', ts_ms: 1764633600000 + from + k, after: { id: from + k } }),
}));

async function committed(kafka, group = 'lake') {
  return (await committedOffsets(kafka.bootstrap, group, topic, 1))[0].offset;
}

// How often each offset of [0, n) is in the lake's files of table T.
async function lakeTally(minio, n) {
  const files = (await fetchObjects(minio, `cdc_events/${T}/`, mkdtempSync(join(work, 'lake-')))).map((o) => o.path);
  const counts = await query(`SELECT _kafka_offset::BIGINT AS o, count(*)::INTEGER AS n
    FROM read_parquet([${files.map(sql).join(', ')}]) GROUP BY ALL`);
  const byOffset = new Map(counts.map((r) => [Number(r.o), r.n]));
  const lost = [], twice = [];
  for (let o = 0; o < n; o++) {
    const k = byOffset.get(o) ?? 0;
    if (k === 0) lost.push(o);
    if (k > 1) twice.push(o);
  }
  return { lost, twice };
}

test('a stalled instance whose upload lands after the new owner\'s file does not overwrite it: every row once', async () => {
  const kafka = await startRealKafka({ topics: [`${topic}:1`] });
  const minio = await startMinio();
  const proxy = await startFlakyProxy(minio.url);
  const base = { CONSUMER_GROUP_ID: 'lake', KAFKA_TOPIC_PATTERN: `^cdc\\.oltp_dabi\\.public\\.(${T})$`,
    WRITE_INTERVAL_SECONDS: '2', KAFKA_SESSION_TIMEOUT_MS: '6000' };
  await produce(kafka.bootstrap, rows(0, 500));

  // A: its first data file's PUT is held on the way.
  await proxy.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }]);
  const a = startWriter(writerEnv({ kafka, s3: { ...minio, url: proxy.url },
    extra: { ...base, MINIO_TIMEOUT_SECONDS: '300' } }));
  await waitFor(async () => (await proxy.held()) === 1, { timeoutMs: 60000, what: "A's upload on the way" });
  process.kill(a.pid, 'SIGSTOP');
  await produce(kafka.bootstrap, rows(500, 800));

  // B takes over once A's session has expired and writes up to offset 799.
  const b = startWriter(writerEnv({ kafka, s3: minio, extra: base }));
  await waitFor(async () => (await committed(kafka)) === 800, { timeoutMs: 90000, what: 'B committed 800' });

  // A's late upload arrives, and A runs on.
  assert.equal(await proxy.release(), 1);
  process.kill(a.pid, 'SIGCONT');
  await waitFor(() => /was already stored, up to offset \d+, by another writer|flushed cdc\.oltp_dabi\.public\.zombie \[0\]/.test(a.log()),
    { timeoutMs: 60000, what: "A's upload answered" });
  await produce(kafka.bootstrap, rows(800, 1000));
  await waitFor(async () => (await committed(kafka)) === 1000, { timeoutMs: 90000, what: 'committed to the end' });
  await b.stop();
  await a.stop();

  const { lost, twice } = await lakeTally(minio, 1000);
  assert.deepEqual({ lost: lost.length, twice: twice.length }, { lost: 0, twice: 0 },
    `first lost ${lost.slice(0, 5)}, first twice ${twice.slice(0, 5)}\nA:\n${a.log().slice(-3000)}`);
  assert.match(a.log(), /was already stored, up to offset \d+, by another writer: left as it is/);
});

// B's first flush finds its key taken by a longer file of A's that landed
// late; meanwhile B sealed its next batch at a day change. That batch follows
// B's shorter cut, so it repeats rows A's file holds: it must go with the
// conflict, and B reads on from where A's file ends. Before the fix the
// commit's answer submitted the sealed batch, and offsets 6 and 7 were twice.
// B's Prefect run for that key names A's file with A's 8 rows, which A
// recorded in the file's metadata, not B's 6 (the double records what B
// asks; the real server is in prefect.test.mjs).
test('a flush that finds its key taken drops the batch sealed after it and reads on where the other file ends: every row once', async () => {
  const kafka = await startRealKafka({ topics: [`${topic}:1`] });
  const minio = await startMinio();
  const proxyA = await startFlakyProxy(minio.url);
  const proxyB = await startFlakyProxy(minio.url);
  const group = 'sealed';
  const base = { CONSUMER_GROUP_ID: group, KAFKA_TOPIC_PATTERN: `^cdc\\.oltp_dabi\\.public\\.(${T})$`,
    WRITE_INTERVAL_SECONDS: '2', KAFKA_SESSION_TIMEOUT_MS: '6000', MINIO_TIMEOUT_SECONDS: '300' };
  // Offsets 0..7 at the end of a day, 8..15 at the start of the next (Kafka timestamps).
  const midnight = 1764633600000;
  const at = (o) => (o < 8 ? midnight - 8000 + o * 1000 : midnight + (o - 8) * 1000);
  await produce(kafka.bootstrap, Array.from({ length: 16 }, (_, o) => ({
    topic, partition: 0, key: `k${o}`, timestamp: at(o),
    value: JSON.stringify({ op: 'c', ts_ms: at(o), after: { id: o } }),
  })));

  // A cuts at the day change: its file holds 0..7; its PUT is held, A stalls.
  await proxyA.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }]);
  const a = startWriter(writerEnv({ kafka, s3: { ...minio, url: proxyA.url }, extra: base }));
  await waitFor(async () => (await proxyA.held()) === 1, { timeoutMs: 60000, what: "A's upload on the way" });
  process.kill(a.pid, 'SIGSTOP');

  // B finds no file at offset 0 and cuts after 6 rows; its PUT is held too,
  // so the day change at offset 8 seals 6..7 while that flush is busy.
  const port = await freePort();
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  await proxyB.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }]);
  const b = startWriter(writerEnv({ kafka, s3: { ...minio, url: proxyB.url }, prefect,
    extra: { ...base, PREFECT_SEND_PARAMETERS: 'true', MAX_BATCH_SIZE: '6', HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' } }));
  const dayCuts = async () => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
    return text ? sum(parsePrometheusText(text), 'cdcw_flushes_total', { reason: 'day-change' }) : 0;
  };
  await waitFor(async () => (await proxyB.held()) === 1 && (await dayCuts()) >= 1,
    { timeoutMs: 90000, what: "B's upload on the way and its next batch sealed at the day change" });

  // A's file lands first; then B's conditional PUT finds the key taken.
  assert.equal(await proxyA.release(), 1);
  await waitFor(async () => (await fetchObjects(minio, `cdc_events/${T}/`, mkdtempSync(join(work, 'peek-')))).length === 1,
    { timeoutMs: 30000, what: "A's file in the store" });
  process.kill(a.pid, 'SIGKILL');
  assert.equal(await proxyB.release(), 1);
  await waitFor(async () => (await committed(kafka, group)) === 16, { timeoutMs: 90000, what: 'B committed to the end' });
  assert.equal((await b.stop('SIGTERM')).code, 0, b.log());

  assert.match(b.log(), /was already stored, up to offset 7, by another writer/);
  const runs = (await prefect.requests()).filter((r) => r.path.endsWith('/create_flow_run'))
    .map((r) => r.body.parameters).filter((p) => p.keys[0].endsWith('_o0000000000000000000.parquet'));
  assert.deepEqual(runs.map((p) => p.rows), [8], "the run of A's file, with its rows");
  const { lost, twice } = await lakeTally(minio, 16);
  assert.deepEqual({ lost, twice }, { lost: [], twice: [] }, b.log());
});
