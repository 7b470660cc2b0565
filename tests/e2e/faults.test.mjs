// Faults with the real processes, under a live stream: Apache Kafka stopped
// for 20 s, MinIO stopped for 30 s, cdc-writer SIGKILLed again and again.
// After each: nothing lost and nothing duplicated in the lake (counted by
// topic, partition and offset from the files), offsets committed to the end,
// the daemon up on its own through the outage, peak RSS within
// MAX_BUFFER_BYTES + 64 MiB. The outage lengths are the faults themselves,
// not waits for a condition.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  startWriter, startProducer, writerEnv, stopAll, committedOffsets, fetchObjects, waitFor, freePort,
} from '../harness/services.mjs';
import { startRealKafka, startMinio } from '../harness/real_services.mjs';
import { query } from '../harness/parquet_reader.mjs';
import { parsePrometheusText, sum } from '../harness/prom_text.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-faults-'));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const sql = (s) => `'${s.replaceAll("'", "''")}'`;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const BUDGET = 64 << 20;

function envelope(t, i) {
  return { topic: topic(t), key: `k${i}`, value: JSON.stringify({
    op: 'c', ts_ms: 1700000000000 + i, source: { ts_ms: 1700000000000 + i }, after: { id: i, note: `row ${i} of ${t}` },
  }) };
}

// Sends perTick envelopes every 100 ms until `count` are sent or stopped; resolves when done.
function stream(producer, t, perTick, count = Infinity) {
  let i = 0;
  let timer;
  const done = new Promise((resolve) => {
    timer = setInterval(() => {
      const batch = [];
      for (let k = 0; k < perTick && i < count; k++, i++) batch.push(envelope(t, i));
      if (batch.length) producer.send(batch);
      if (i >= count) { clearInterval(timer); resolve(); }
    }, 100);
  });
  return { done, stop: () => { clearInterval(timer); } };
}

function ends(delivered) {
  const e = {};
  for (const d of delivered) e[`${d.topic}/${d.partition}`] = Math.max(e[`${d.topic}/${d.partition}`] ?? 0, d.offset + 1);
  return e;
}

async function caughtUp(kafka, group, t, partitions, want) {
  for (const c of await committedOffsets(kafka.bootstrap, group, topic(t), partitions)) {
    if ((want[`${topic(t)}/${c.partition}`] ?? -1001) !== c.offset) return false;
  }
  return true;
}

async function lakeTally(s3, t, delivered) {
  const files = (await fetchObjects(s3, `cdc_events/${t}/`, mkdtempSync(join(work, 'lake-')))).map((o) => o.path);
  const rows = files.length === 0 ? [] : await query(`SELECT _kafka_partition AS p, _kafka_offset::BIGINT AS o, count(*)::INTEGER AS n
    FROM read_parquet([${files.map(sql).join(', ')}]) GROUP BY ALL`);
  const counts = new Map(rows.map((r) => [`${r.p}/${r.o}`, r.n]));
  let lost = 0;
  let twice = 0;
  for (const d of delivered) {
    const n = counts.get(`${d.partition}/${d.offset}`) ?? 0;
    if (n === 0) lost++;
    if (n > 1) twice += n - 1;
  }
  return { lost, twice, extra: counts.size - (delivered.length - lost) };
}

const peakRss = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

function assertRss(hwm) {
  // AddressSanitizer's shadow memory and quarantine would make RSS meaningless.
  if (process.env.CDCW_SANITIZED !== '1') {
    assert.ok(hwm < BUDGET + (64 << 20), `peak RSS ${(hwm / 1048576).toFixed(0)} MiB within MAX_BUFFER_BYTES + 64 MiB`);
  }
}

for (const { name, which, downMs } of [
  { name: 'Apache Kafka stopped for 20 s and started again', which: 'kafka', downMs: 20000 },
  { name: 'MinIO stopped for 30 s and started again', which: 's3', downMs: 30000 },
]) {
  test(`${name} under a live stream: every row once, committed to the end, the daemon up throughout`, async () => {
    const t = `fault${which}`;
    const group = `g-${t}`;
    const kafka = await startRealKafka({ topics: [`${topic(t)}:4`] });
    const s3 = await startMinio();
    const port = await freePort();
    const writer = startWriter(writerEnv({ kafka, s3, extra: {
      CONSUMER_GROUP_ID: group, MAX_BUFFER_BYTES: String(BUDGET), HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1',
    } }));
    const producer = startProducer(kafka.bootstrap);
    const live = stream(producer, t, 50); // 500 a second
    const committed = async () => sum(parsePrometheusText(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '')), 'cdcw_commits_total', { result: 'ok' });
    await waitFor(async () => (await committed()) >= 3, { timeoutMs: 60000, what: 'commits before the outage' });
    const service = which === 'kafka' ? kafka : s3;
    await service.down();
    await pause(downMs);
    assert.equal(writer.child.exitCode, null, `cdc-writer stays up while ${which} is down:\n${writer.log().slice(-4000)}`);
    await service.up();
    const before = await committed();
    await waitFor(async () => (await committed()) > before, { timeoutMs: 90000, what: 'commits after the outage' });
    live.stop();
    const delivered = await producer.end();
    await waitFor(() => caughtUp(kafka, group, t, 4, ends(delivered)), { timeoutMs: 120000, what: 'every offset committed' });
    const hwm = peakRss(writer.pid);
    assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log().slice(-6000));
    assert.deepEqual(await lakeTally(s3, t, delivered), { lost: 0, twice: 0, extra: 0 }, `${delivered.length} messages`);
    assertRss(hwm);
    await kafka.stop();
    await s3.stop();
  });
}

test('cdc-writer SIGKILLed 10 times at random moments while 100,000 messages are produced: every row once', async () => {
  const t = 'faultkill';
  const group = `g-${t}`;
  const kafka = await startRealKafka({ topics: [`${topic(t)}:4`] });
  const s3 = await startMinio();
  const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: group, MAX_BUFFER_BYTES: String(BUDGET) } });
  const producer = startProducer(kafka.bootstrap);
  const live = stream(producer, t, 250, 100000); // 2,500 a second for 40 s
  let writer = startWriter(env);
  let hwm = 0;
  let seed = 12345;
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  for (let kill = 0; kill < 10; kill++) {
    await pause(1500 + random() * 2500); // a random moment: joining, consuming, uploading or committing
    hwm = Math.max(hwm, peakRss(writer.pid));
    await writer.stop('SIGKILL');
    writer = startWriter(env);
  }
  await live.done;
  const delivered = await producer.end();
  assert.equal(delivered.length, 100000);
  await waitFor(() => caughtUp(kafka, group, t, 4, ends(delivered)), { timeoutMs: 180000, what: 'every offset committed' });
  hwm = Math.max(hwm, peakRss(writer.pid));
  assert.equal((await writer.stop('SIGTERM')).code, 0, writer.log().slice(-6000));
  assert.deepEqual(await lakeTally(s3, t, delivered), { lost: 0, twice: 0, extra: 0 });
  assertRss(hwm);
});
