// Failed commits and hand-overs: a stored file whose commit failed is never
// followed by the partition's next file, and a new owner's first file ends
// where an earlier owner's uncommitted one ends. The lake is counted by
// (topic, partition, offset) from the files themselves.
//
// The failed-commit tests run on librdkafka's mock cluster and s3rver: only
// the mock can fail the next two OffsetCommit requests with a chosen error
// code on demand. The rest run on Apache Kafka and MinIO.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  startKafka, startS3, startWriter, startProducer, writerEnv, stopAll, committedOffsets,
  fetchObjects, waitFor, freePort, startFlakyProxy, produce,
} from '../harness/services.mjs';
import { startRealKafka, startMinio } from '../harness/real_services.mjs';
import { query } from '../harness/parquet_reader.mjs';
import { parsePrometheusText, sum } from '../harness/prom_text.mjs';

const work = mkdtempSync(join(tmpdir(), 'cdcw-handover-'));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

const topic = (t) => `cdc.oltp_dabi.public.${t}`;
const sql = (s) => `'${s.replaceAll("'", "''")}'`;

function envelope(t, i) {
  return { topic: topic(t), key: `k${i}`, value: JSON.stringify({
    op: 'c', ts_ms: 1700000000000 + i, source: { ts_ms: 1700000000000 + i }, after: { id: i, note: `row ${i}` },
  }) };
}

// Sends `perTick` envelopes of each table every 100 ms until stopped.
function stream(producer, tables, perTick) {
  let i = 0;
  const timer = setInterval(() => {
    const batch = [];
    for (let k = 0; k < perTick; k++, i++) for (const t of tables) batch.push(envelope(t, i));
    producer.send(batch);
  }, 100);
  return () => clearInterval(timer);
}

function ends(delivered) {
  const e = {};
  for (const d of delivered) e[`${d.topic}/${d.partition}`] = Math.max(e[`${d.topic}/${d.partition}`] ?? 0, d.offset + 1);
  return e;
}

async function caughtUp(kafka, group, tables, partitions, want) {
  for (const t of tables) {
    for (const c of await committedOffsets(kafka.bootstrap, group, topic(t), partitions)) {
      const w = want[`${topic(t)}/${c.partition}`];
      if (w !== undefined && c.offset !== w) return false;
    }
  }
  return true;
}

// Every (topic, partition, offset) in the lake's files for these tables, with how often.
async function lakeCounts(s3, tables) {
  const dir = mkdtempSync(join(work, 'lake-'));
  const files = [];
  for (const t of tables) files.push(...(await fetchObjects(s3, `cdc_events/${t}/`, dir)).map((o) => o.path));
  if (files.length === 0) return new Map();
  const rows = await query(`SELECT _kafka_topic AS t, _kafka_partition AS p, _kafka_offset::BIGINT AS o, count(*)::INTEGER AS n
    FROM read_parquet([${files.map(sql).join(', ')}]) GROUP BY ALL`);
  return new Map(rows.map((r) => [`${r.t}/${r.p}/${r.o}`, r.n]));
}

function tally(counts, delivered) {
  let lost = 0;
  let twice = 0;
  for (const d of delivered) {
    const n = counts.get(`${d.topic}/${d.partition}/${d.offset}`) ?? 0;
    if (n === 0) lost++;
    if (n > 1) twice += n - 1;
  }
  const extra = counts.size - delivered.filter((d) => counts.has(`${d.topic}/${d.partition}/${d.offset}`)).length;
  return { lost, twice, extra };
}

const failedCommits = (log) => (log.match(/commit of .* failed/g) ?? []).length;

async function metric(port, name) {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
  return sum(parsePrometheusText(text), name);
}

// The smallest reproduction: after a first good commit, the next two
// OffsetCommit requests fail (INVALID_COMMIT_OFFSET_SIZE), and the writer is
// SIGKILLed right after the second failure. Before the fix the partition's
// next file went ahead after the first failure, so two stored files were
// uncommitted and the restart's longer first file repeated the second's rows.
// With asynchronous commits a commit counts as done only once acknowledged,
// so the same holds.
for (const { name, t, errors, kill, async } of [
  { name: 'a failed commit is retried before the next file; SIGKILL after two failures, restart: every row once', t: 'retry', errors: '28 28', kill: true },
  { name: 'the same with KAFKA_COMMIT_ASYNCHRONOUS=true: a commit counts once acknowledged', t: 'retryasync', errors: '28 28', kill: true, async: true },
  { name: 'commits failing with ILLEGAL_GENERATION: the writer rejoins, every row once', t: 'rejoin', errors: '22 22', kill: false },
]) {
  test(name, async () => {
    const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
    const s3 = await startS3();
    const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: `g-${t}`, KAFKA_COMMIT_ASYNCHRONOUS: async ? 'true' : 'false' } });
    const producer = startProducer(kafka.bootstrap);
    const stopStream = stream(producer, [t], 1); // 10 envelopes a second
    const first = startWriter(env);
    await waitFor(async () => (await committedOffsets(kafka.bootstrap, `g-${t}`, topic(t), 1))[0].offset > 0,
      { timeoutMs: 60000, what: 'a first commit' });
    assert.equal(await kafka.command(`push_errors 8 ${errors}`), 'ok');
    await waitFor(() => failedCommits(first.log()) >= 2, { timeoutMs: 30000, intervalMs: 5, what: 'two failed commits' });
    let second = first;
    if (kill) {
      await first.stop('SIGKILL');
      second = startWriter(env);
    }
    await new Promise((r) => setTimeout(r, 1500)); // the stream goes on through the restart
    stopStream();
    const delivered = await producer.end();
    await waitFor(() => caughtUp(kafka, `g-${t}`, [t], 1, ends(delivered)), { timeoutMs: 60000, what: 'every offset committed' });
    assert.equal((await second.stop('SIGTERM')).code, 0, second.log());
    const got = tally(await lakeCounts(s3, [t]), delivered);
    assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, `${delivered.length} messages\n${first.log()}\n${kill ? second.log() : ''}`);
    if (!kill) assert.match(first.log(), /commit of .* failed: .*generation/i);
  });
}

// SIGTERM while the group has moved on without this member: the mock fails
// the next twelve OffsetCommit requests with REBALANCE_IN_PROGRESS, more than
// the loop and the shutdown's rounds send. The file is stored and its next
// owner rewrites it exactly, so that is a warning and exit 0, not the exit 1
// of a commit the broker could not take (before, it exited 1). Only the mock
// can refuse a given number of commits with a chosen code.
test('SIGTERM while commits are refused with REBALANCE_IN_PROGRESS: a warning, exit 0; the restart rewrites the same file, every row once', async () => {
  const t = 'fenced';
  const kafka = await startKafka({ topics: [`${topic(t)}:1`] });
  const s3 = await startS3();
  const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: `g-${t}` } });
  const producer = startProducer(kafka.bootstrap);
  const stopStream = stream(producer, [t], 1);
  const first = startWriter(env);
  await waitFor(async () => (await committedOffsets(kafka.bootstrap, `g-${t}`, topic(t), 1))[0].offset > 0,
    { timeoutMs: 60000, what: 'a first commit', log: first.log });
  assert.equal(await kafka.command(`push_errors 8 ${Array(12).fill(27).join(' ')}`), 'ok');
  await waitFor(() => failedCommits(first.log()) >= 2, { timeoutMs: 30000, intervalMs: 5, what: 'two failed commits', log: first.log });
  stopStream();
  const delivered = await producer.end();
  const exit = await first.stop('SIGTERM');
  assert.equal(exit.code, 0, first.log());
  assert.match(first.log(), /WARNING +shutdown: 1 partitions' files are stored but their commits were refused because the group is rebalancing without this instance/);
  const second = startWriter(env);
  await waitFor(() => caughtUp(kafka, `g-${t}`, [t], 1, ends(delivered)), { timeoutMs: 90000, what: 'every offset committed', log: second.log });
  assert.equal((await second.stop('SIGTERM')).code, 0, second.log());
  const got = tally(await lakeCounts(s3, [t]), delivered);
  assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, `${delivered.length} messages\n${first.log()}\n${second.log()}`);
});

// A previous owner stored several files without committing them (commits
// lost, as a writer before this fix could leave them); the new owner cuts its
// files differently (longer interval, larger batches), yet its first files end
// where the stored ones end, so each row is in the lake once.
test('an earlier owner left several uncommitted files: the new owner cuts where they end, every row once', async () => {
  const t = 'replaycut';
  const kafka = await startRealKafka({ topics: [`${topic(t)}:2`] });
  const s3 = await startMinio();
  const producer = startProducer(kafka.bootstrap);
  const stopStream = stream(producer, [t], 20);
  const first = startWriter({ ...writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: `g-${t}` } }), CDCW_FAILPOINT: 'skip-commits' });
  await waitFor(() => (first.log().match(/flushed /g) ?? []).length >= 6, { timeoutMs: 60000, what: 'several uncommitted files' });
  await first.stop('SIGKILL');
  stopStream();
  const delivered = await producer.end();
  const committed = await committedOffsets(kafka.bootstrap, `g-${t}`, topic(t), 2);
  assert.ok(committed.every((c) => c.offset < 0), 'the first owner committed nothing');
  const second = startWriter(writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: `g-${t}`, WRITE_INTERVAL_SECONDS: '5', MAX_BATCH_SIZE: '100000' } }));
  await waitFor(() => caughtUp(kafka, `g-${t}`, [t], 2, ends(delivered)), { timeoutMs: 60000, what: 'every offset committed' });
  assert.equal((await second.stop('SIGTERM')).code, 0, second.log());
  assert.match(second.log(), /are stored, not committed, in cdc_events\/replaycut\/.*: this file ends at \d+ too/);
  const got = tally(await lakeCounts(s3, [t]), delivered);
  assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, second.log());
});

// A second instance joins while the first holds rows of four partitions: the
// two partitions that move are flushed side by side, so both their uploads
// are on the way at once (the proxy in front of MinIO holds them, as a slow
// store would). Before, they went one after another, each waited for, and
// only one upload was ever on the way.
test('revoked partitions are flushed side by side, then every row once', async () => {
  const t = 'sidebyside';
  const group = `g-${t}`;
  const kafka = await startRealKafka({ topics: [`${topic(t)}:4`] });
  const s3 = await startMinio();
  const proxy = await startFlakyProxy(s3.url);
  const delivered = await produce(kafka.bootstrap, Array.from({ length: 400 }, (_, i) => ({
    ...envelope(t, i), partition: i % 4 })));
  const port = await freePort();
  const env = (store, extra) => writerEnv({ kafka, s3: store, extra: {
    CONSUMER_GROUP_ID: group, WRITE_INTERVAL_SECONDS: '300', MINIO_TIMEOUT_SECONDS: '300', ...extra } });
  const a = startWriter(env({ ...s3, url: proxy.url }, { HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' }));
  await waitFor(async () => (await metric(port, 'cdcw_messages_consumed_total')) === 400,
    { timeoutMs: 60000, what: 'the first instance holding every row', log: a.log });
  await proxy.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }, { method: 'PUT', path: 'cdc_events/', hold: true }]);
  const b = startWriter(env(s3, {}));
  await waitFor(async () => (await proxy.held()) === 2,
    { timeoutMs: 60000, intervalMs: 50, what: 'both revoked partitions\' uploads on the way at once', log: a.log });
  assert.equal(await proxy.release(), 2);
  await waitFor(() => (a.log().match(/revoked .* after flushing it/g) ?? []).length === 2,
    { timeoutMs: 60000, what: 'the revocation done', log: a.log });
  const [ea, eb] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
  assert.equal(ea.code, 0, a.log());
  assert.equal(eb.code, 0, b.log());
  await waitFor(() => caughtUp(kafka, group, [t], 4, ends(delivered)), { timeoutMs: 30000, what: 'every offset committed' });
  const got = tally(await lakeCounts(s3, [t]), delivered);
  assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, `${a.log()}\n${b.log()}`);
});

// A store that accepts the connection and never answers: a revocation waits
// for the revoked partition's upload at most half of max.poll.interval.ms,
// then gives that partition up uncommitted (its upload left to the worker)
// and polls on, so the member stays in the group, nothing is "lost" and
// /healthz stays 200. When the store comes back, the late upload finds the
// new owner's file under its key and is dropped: every row once. Before, the
// revocation waited for the upload's every attempt (here 300 s each), past
// max.poll.interval.ms, and librdkafka took the member out of the group.
// The proxy holds the requests: a server that never answers on demand.
test('a revocation against a store that never answers gives the partition up within half of max.poll.interval.ms: still a member, /healthz 200, every row once', async () => {
  const t = 'hung';
  const group = `g-${t}`;
  const kafka = await startRealKafka({ topics: [`${topic(t)}:2`] });
  const s3 = await startMinio();
  const proxy = await startFlakyProxy(s3.url);
  const first = await produce(kafka.bootstrap, Array.from({ length: 200 }, (_, i) => ({
    ...envelope(t, i), partition: i % 2 })));
  const port = await freePort();
  const env = (store, extra) => writerEnv({ kafka, s3: store, extra: {
    CONSUMER_GROUP_ID: group, WRITE_INTERVAL_SECONDS: '2', MINIO_TIMEOUT_SECONDS: '300',
    KAFKA_MAX_POLL_INTERVAL_MS: '20000', ...extra } });
  await proxy.plan([{ method: 'PUT', path: 'cdc_events/', hold: true }, { method: 'PUT', path: 'cdc_events/', hold: true }]);
  const a = startWriter(env({ ...s3, url: proxy.url }, { HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1' }));
  await waitFor(async () => (await proxy.held()) === 2,
    { timeoutMs: 60000, what: 'both partitions\' uploads held', log: a.log });
  const b = startWriter(env(s3, {}));
  const joined = Date.now();
  // Polling goes on: B gets its partition and commits it while A's uploads hang.
  await waitFor(async () => (await committedOffsets(kafka.bootstrap, group, topic(t), 2)).some((c) => c.offset === 100),
    { timeoutMs: 60000, what: 'B committing its partition', log: b.log });
  assert.doesNotMatch(a.log(), /lost cdc\.|maximum poll interval|max\.poll\.interval\.ms exceeded/i);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200, await health.text());
  assert.match(a.log(), /revocation: not every revoked partition was stored and committed within 10 s/);
  assert.match(a.log(), /revoked cdc\.oltp_dabi\.public\.hung \[\d\] could not be flushed/);
  assert.ok(Date.now() - joined < 45000, `B took ${Date.now() - joined} ms`);
  // The store comes back; more rows; both run on to the end.
  assert.equal(await proxy.release(), 2);
  const more = await produce(kafka.bootstrap, Array.from({ length: 200 }, (_, i) => ({
    ...envelope(t, 200 + i), partition: i % 2 })));
  const delivered = [...first, ...more];
  await waitFor(() => caughtUp(kafka, group, [t], 2, ends(delivered)), { timeoutMs: 90000, what: 'every offset committed', log: a.log });
  assert.doesNotMatch(a.log(), /lost cdc\./);
  const [ea, eb] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
  assert.equal(ea.code, 0, a.log());
  assert.equal(eb.code, 0, b.log());
  const got = tally(await lakeCounts(s3, [t]), delivered);
  assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, `${a.log()}\n${b.log()}`);
});

// The replay probe (a HEAD before a partition's first file) runs while the
// consumer thread waits for the partition's decode lane: against a store
// that never answers it gives up after two attempts of 5 s, whatever
// MINIO_TIMEOUT_SECONDS says, and no partition probes for 30 s, so polling
// goes on and the member is not evicted. Before, the HEAD waited
// MINIO_TIMEOUT_SECONDS for each of its 6 attempts. The proxy holds the
// HEADs: a server that never answers on demand. Four, so that both attempts
// fail whether the two partitions probe one after the other (one lane, or
// inline) or side by side (two lanes).
test('a replay probe against a store that never answers is bounded: the consumer polls on and every row is written once', async () => {
  const t = 'hungprobe';
  const group = `g-${t}`;
  const kafka = await startRealKafka({ topics: [`${topic(t)}:2`] });
  const s3 = await startMinio();
  const proxy = await startFlakyProxy(s3.url);
  const delivered = await produce(kafka.bootstrap, Array.from({ length: 200 }, (_, i) => ({
    ...envelope(t, i), partition: i % 2 })));
  await proxy.plan(Array.from({ length: 4 }, () => ({ method: 'HEAD', path: 'cdc_events/', hold: true })));
  const a = startWriter(writerEnv({ kafka, s3: { ...s3, url: proxy.url }, extra: {
    CONSUMER_GROUP_ID: group, WRITE_INTERVAL_SECONDS: '2', MINIO_TIMEOUT_SECONDS: '300',
    KAFKA_MAX_POLL_INTERVAL_MS: '20000' } }));
  const started = Date.now();
  await waitFor(() => caughtUp(kafka, group, [t], 2, ends(delivered)), { timeoutMs: 60000, what: 'every offset committed', log: a.log });
  assert.ok(Date.now() - started < 45000, `took ${Date.now() - started} ms`);
  assert.match(a.log(), /could not check for an earlier owner's file at offset 0 .*no partition checks for 30 s/);
  assert.doesNotMatch(a.log(), /lost cdc\.|maximum poll interval/i);
  assert.equal((await a.stop('SIGTERM')).code, 0, a.log());
  await proxy.release();
  const got = tally(await lakeCounts(s3, [t]), delivered);
  assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, a.log());
});

// Two instances in one group over two topics of 8 partitions, a live stream
// of about 2,000 envelopes a second, WRITE_INTERVAL_SECONDS=1: one instance
// is SIGKILLed, the other takes its partitions, and it is started again.
// Five runs in a row, each with its own topics and group, on the mock cluster
// (whose slow rebalances fail the survivor's commits, which made rows twice
// before the fix) and on Apache Kafka with MinIO.
const stacks = {
  mock: { kafka: startKafka, s3: startS3 },
  real: { kafka: startRealKafka, s3: startMinio },
};
for (const [stack, start] of Object.entries(stacks)) for (let run = 1; run <= 5; run++) {
  test(`hand-over under a live stream on the ${stack} broker, SIGKILL and restart, run ${run} of 5: no row lost, none twice`, async () => {
    const tables = [`ho${stack}${run}a`, `ho${stack}${run}b`];
    const group = `handover-${stack}-${run}`;
    const kafka = await start.kafka({ topics: tables.map((t) => `${topic(t)}:8`) });
    const s3 = await start.s3();
    const ports = [await freePort(), await freePort()];
    const env = (port) => writerEnv({ kafka, s3, extra: {
      CONSUMER_GROUP_ID: group, HTTP_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1',
    } });
    const producer = startProducer(kafka.bootstrap);
    const stopStream = stream(producer, tables, 100); // 2 x 100 per 100 ms
    let a = startWriter(env(ports[0]));
    const b = startWriter(env(ports[1]));
    const assigned = (port) => metric(port, 'cdcw_assigned_partitions');
    await waitFor(async () => (await assigned(ports[0])) > 0 && (await assigned(ports[1])) > 0,
      { timeoutMs: 60000, what: 'both instances holding partitions' });
    await waitFor(async () => (await metric(ports[0], 'cdcw_files_written_total')) > 0, { timeoutMs: 30000, what: 'the first instance writing' });
    await a.stop('SIGKILL');
    const killedLog = a.log();
    await waitFor(async () => (await assigned(ports[1])) === 16, { timeoutMs: 60000, what: 'the survivor taking every partition' });
    a = startWriter(env(ports[0]));
    await waitFor(async () => (await assigned(ports[0])) > 0, { timeoutMs: 60000, what: 'the restarted instance getting partitions' });
    await new Promise((r) => setTimeout(r, 2000)); // both instances busy on the live stream
    stopStream();
    const delivered = await producer.end();
    await waitFor(() => caughtUp(kafka, group, tables, 8, ends(delivered)), { timeoutMs: 90000, what: 'every offset committed' });
    const [ea, eb] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
    assert.equal(ea.code, 0, a.log());
    assert.equal(eb.code, 0, b.log());
    const got = tally(await lakeCounts(s3, tables), delivered);
    const failed = failedCommits(killedLog) + failedCommits(a.log()) + failedCommits(b.log());
    console.log(`hand-over run ${run} (${stack}): ${delivered.length} messages, ${got.lost} lost, ${got.twice} twice, ${failed} failed commits`);
    assert.deepEqual(got, { lost: 0, twice: 0, extra: 0 }, `${delivered.length} messages; survivor's log:\n${b.log().slice(-20000)}`);
    await kafka.stop();
    await s3.stop();
  });
}
