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
  startWriter, writerEnv, stopAll, produce, committedOffsets, fetchObjects, waitFor, startFlakyProxy,
} from '../harness/services.mjs';
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

async function committed(kafka) {
  return (await committedOffsets(kafka.bootstrap, 'lake', topic, 1))[0].offset;
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

  const files = (await fetchObjects(minio, `cdc_events/${T}/`, mkdtempSync(join(work, 'lake-')))).map((o) => o.path);
  const counts = await query(`SELECT _kafka_offset::BIGINT AS o, count(*)::INTEGER AS n
    FROM read_parquet([${files.map(sql).join(', ')}]) GROUP BY ALL`);
  const byOffset = new Map(counts.map((r) => [Number(r.o), r.n]));
  const lost = [], twice = [];
  for (let o = 0; o < 1000; o++) {
    const n = byOffset.get(o) ?? 0;
    if (n === 0) lost.push(o);
    if (n > 1) twice.push(o);
  }
  assert.deepEqual({ lost: lost.length, twice: twice.length }, { lost: 0, twice: 0 },
    `first lost ${lost.slice(0, 5)}, first twice ${twice.slice(0, 5)}\nA:\n${a.log().slice(-3000)}`);
  assert.match(a.log(), /was already stored, up to offset \d+, by another writer: left as it is/);
});
