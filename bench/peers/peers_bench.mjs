// peers_bench.mjs -- cdc-writer beside its peers, one after the other in one run, on
// the same real Apache Kafka broker and the same real MinIO (tests/harness/real_services.mjs),
// over the same Debezium envelopes of about 1 KB in one topic of 64 partitions:
//
//   node bench/peers/peers_bench.mjs          PEERS_MESSAGES (default 1000000),
//   PEERS_PARTITIONS (64), PEERS_INTERVAL (WRITE_INTERVAL_SECONDS of b, b' and c; 10),
//   CDCW_BUILD (build directory, default build)
//
// (a)  a bare librdkafka consumer in a group (tests/tools/kafka_tool consume), doing nothing;
// (b)  cdc-writer with its defaults but WRITE_INTERVAL_SECONDS, into bucket peers-writer;
// (b') the same with CDC_METADATA=none (only the eight metadata columns always written);
// (c)  the original Python system (bench/peers/original_system.py: confluent-kafka, pandas,
//      pyarrow, minio; its venv from tests/harness/stack/install.sh peers) into peers-python;
// (d)  Bento: not run, the Go module proxy refuses github.com/warpstreamlabs/bento.
//
// Each run starts its process and ends when every message is committed (b, c: the
// writer's own count of committed offsets, then checked against the group's offsets in
// Kafka) or consumed (a). For each: messages/s over that time (the group join included),
// CPU seconds per million messages of its own process (utime+stime+cutime+cstime from
// /proc/<pid>/stat at that moment; kafka_tool's getrusage() as it exits), what the broker
// and MinIO spent in the same time, its peak RSS (VmHWM), the objects and bytes it
// wrote, and a check of its output with DuckDB: every produced (topic, partition, offset)
// exactly once (the bare consumer: its count).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

import {
  startWriter, stopAll, produce, run, committedOffsets, waitFor, binaries, freePort, fetchObjects, track, untrack,
} from '../../tests/harness/services.mjs';
import { startRealKafka, startMinio, ensureStack, stackCache, python } from '../../tests/harness/real_services.mjs';
import { parsePrometheusText, sum } from '../../tests/harness/prom_text.mjs';
import { envelopeValue } from '../envelope.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const n = Number(process.env.PEERS_MESSAGES ?? 1000000);
const partitions = Number(process.env.PEERS_PARTITIONS ?? 64);
const interval = process.env.PEERS_INTERVAL ?? '10';
if (process.env.CDCW_BUILD) process.env.CDCW_BIN = join(process.env.CDCW_BUILD, 'cdc-writer');
const topic = 'cdc.oltp_dabi.public.bench';
const timeoutMs = 20 * 60000;

// The benchmarks' envelope (bench/envelope.mjs).
function message(i) {
  return { topic, key: `k${i}`, value: envelopeValue(i, 'bench') };
}

// CPU seconds of a process and of the children it waited for (clock ticks of 1/100 s).
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

function peakRssOf(pid) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

const perMillion = (seconds) => seconds / (n / 1e6);
const mib = (bytes) => bytes / 1048576;
const fmt = (x, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

// Every object of a bucket, fetched into a temporary directory; then DuckDB (the
// Prefect venv's) reads the Parquet files under cdc_events/ and answers, per partition,
// rows, distinct offsets, smallest and largest offset; and the distinct (topic,
// partition, offset) and ids over all rows.
async function checkLake(s3, bucket, ends) {
  const dir = mkdtempSync(join(tmpdir(), `cdcw-peers-${bucket}-`));
  try {
    const objects = await fetchObjects(s3, '', dir, bucket);
    const lake = objects.filter((o) => o.key.startsWith(`cdc_events/bench/year=`) && o.key.endsWith('.parquet'));
    const other = objects.filter((o) => !lake.includes(o));
    const counts = await python(`
import duckdb, json, sys
con = duckdb.connect()
files = sys.argv[1]
parts = con.execute("""SELECT _kafka_partition, count(*), count(DISTINCT _kafka_offset), min(_kafka_offset), max(_kafka_offset)
                       FROM read_parquet(?) GROUP BY 1 ORDER BY 1""", [files]).fetchall()
total = con.execute("""SELECT count(*), count(DISTINCT (_kafka_topic, _kafka_partition, _kafka_offset)), count(DISTINCT id),
                              count(DISTINCT _kafka_topic) FROM read_parquet(?)""", [files]).fetchone()
print(json.dumps({"partitions": parts, "rows": total[0], "positions": total[1], "ids": total[2], "topics": total[3]}))
`, [join(dir, 'cdc_events__*.parquet')]);
    const problems = [];
    if (other.length) problems.push(`${other.length} objects outside cdc_events/bench/ (${other[0].key} ...)`);
    if (counts.rows !== n) problems.push(`${counts.rows} rows, not ${n}`);
    if (counts.positions !== n) problems.push(`${counts.positions} distinct (topic, partition, offset), not ${n}`);
    if (counts.ids !== n) problems.push(`${counts.ids} distinct ids, not ${n}`);
    for (const [p, end] of ends.entries()) {
      const got = counts.partitions.find((row) => row[0] === p) ?? [p, 0, 0, null, null];
      if (end === 0 && got[1] === 0) continue;
      if (got[1] !== end || got[2] !== end || got[3] !== 0 || got[4] !== end - 1) {
        problems.push(`partition ${p}: ${got[1]} rows, ${got[2]} distinct offsets from ${got[3]} to ${got[4]}, not 0 to ${end - 1}`);
      }
    }
    return {
      objects: lake.length, bytes: lake.reduce((t, o) => t + o.size, 0),
      check: problems.length === 0 ? `ok: ${fmt(counts.rows)} rows, ${fmt(counts.positions)} distinct (topic, partition, offset)` : `FAILED: ${problems.slice(0, 5).join('; ')}`,
      ok: problems.length === 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The group's committed offsets in Kafka against the produced ends.
async function checkCommitted(kafka, group, ends) {
  const committed = await committedOffsets(kafka.bootstrap, group, topic, partitions);
  const wrong = committed.filter((c) => Math.max(c.offset, 0) !== ends[c.partition]);
  if (wrong.length) throw new Error(`group ${group}: partition ${wrong[0].partition} committed ${wrong[0].offset}, not ${ends[wrong[0].partition]}`);
}

function servicesMark(kafka, s3) {
  return { broker: cpuOf(kafka.pid), s3: cpuOf(s3.pid) };
}

function servicesSince(kafka, s3, mark) {
  const now = servicesMark(kafka, s3);
  return { broker: now.broker - mark.broker, s3: now.s3 - mark.s3 };
}

async function runBare(kafka, s3) {
  const mark = servicesMark(kafka, s3);
  const t0 = process.hrtime.bigint();
  const r = await run(binaries.kafkaTool, ['consume', kafka.bootstrap, 'peers-bare', `^${topic.replaceAll('.', '\\.')}$`,
    String(n), String(timeoutMs), '--quiet'], { timeoutMs: timeoutMs + 60000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const services = servicesSince(kafka, s3, mark);
  if (r.code !== 0) throw new Error(`bare consumer (${r.code}): ${r.stderr}${r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return {
    name: '(a) bare librdkafka consumer', secs, cpu: out.cpu_s, services, peakRss: out.max_rss_kib * 1024,
    objects: null, bytes: null, ok: out.count === n,
    check: out.count === n ? `ok: consumed ${fmt(out.count)}` : `FAILED: consumed ${out.count}, not ${n}`,
  };
}

async function runWriter(kafka, s3, ends, { name, bucket, group, extra = {} }) {
  const port = await freePort();
  // cdc-writer's defaults but these: where Kafka and MinIO are, the group, the bucket,
  // the interval, and the metrics port the bench reads.
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap, CONSUMER_GROUP_ID: group,
    MINIO_ENDPOINT: new URL(s3.url).host, MINIO_ACCESS_KEY: s3.accessKey, MINIO_SECRET_KEY: s3.secretKey,
    MINIO_BUCKET: bucket, WRITE_INTERVAL_SECONDS: interval, HTTP_PORT: String(port), ...extra,
  };
  const mark = servicesMark(kafka, s3);
  const t0 = process.hrtime.bigint();
  const writer = startWriter(env);
  let cpu = 0;
  let peakRss = 0;
  let services;
  try {
    await waitFor(async () => {
      if (writer.child.exitCode !== null) throw new Error(`cdc-writer exited (${writer.child.exitCode}):\n${writer.log().slice(-3000)}`);
      const metrics = parsePrometheusText(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => ''));
      return sum(metrics, 'cdcw_committed_offset') === n;
    }, { timeoutMs, intervalMs: 100, what: `${name} committing every message`, log: writer.log });
    cpu = cpuOf(writer.pid);
    peakRss = peakRssOf(writer.pid);
    services = servicesSince(kafka, s3, mark);
  } finally {
    await writer.stop();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await checkCommitted(kafka, group, ends);
  return { name, secs, cpu, services, peakRss, ...(await checkLake(s3, bucket, ends)) };
}

// The venv install.sh peers made, named by the hash of requirements.txt.
const peersVenv = () => join(stackCache,
  `venv-peers-${createHash('sha256').update(readFileSync(join(here, 'requirements.txt'))).digest('hex').slice(0, 12)}`);

async function runPython(kafka, s3, ends) {
  const venv = peersVenv();
  const bucket = 'peers-python';
  const group = 'peers-python';
  const env = {
    PATH: process.env.PATH, PYTHONUNBUFFERED: '1',
    KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap, CONSUMER_GROUP_ID: group,
    MINIO_ENDPOINT: new URL(s3.url).host, MINIO_ACCESS_KEY: s3.accessKey, MINIO_SECRET_KEY: s3.secretKey,
    MINIO_BUCKET: bucket, WRITE_INTERVAL_SECONDS: interval,
  };
  const mark = servicesMark(kafka, s3);
  const t0 = process.hrtime.bigint();
  const child = spawn(join(venv, 'bin', 'python'), [join(here, 'original_system.py')], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const service = { stop: async () => { child.kill('SIGKILL'); await exited; } };
  track(service);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err = (err + d).slice(-20000); });
  const committedRows = () => {
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    return lines.length ? JSON.parse(lines.at(-1)).committed_rows : 0;
  };
  let cpu = 0;
  let peakRss = 0;
  let services;
  try {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`original_system.py exited (${child.exitCode}):\n${err.slice(-3000)}`);
      return committedRows() >= n;
    }, { timeoutMs, intervalMs: 100, what: 'the original system committing every message', log: () => err });
    cpu = cpuOf(child.pid);
    peakRss = peakRssOf(child.pid);
    services = servicesSince(kafka, s3, mark);
  } finally {
    untrack(service);
    child.kill('SIGTERM');
    await exited;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await checkCommitted(kafka, group, ends);
  return { name: '(c) original Python system', secs, cpu, services, peakRss, ...(await checkLake(s3, bucket, ends)) };
}

try {
  await ensureStack(['kafka', 'minio', 'prefect', 'peers']);
  const kafka = await startRealKafka({ topics: [`${topic}:${partitions}`] });
  const s3 = await startMinio({ buckets: ['peers-writer', 'peers-writer-nometa', 'peers-python'] });
  const ends = new Array(partitions).fill(0);
  const p0 = process.hrtime.bigint();
  for (let start = 0; start < n; start += 50000) {
    const batch = Array.from({ length: Math.min(50000, n - start) }, (_, k) => message(start + k));
    for (const d of await produce(kafka.bootstrap, batch)) ends[d.partition] = Math.max(ends[d.partition], d.offset + 1);
  }
  if (ends.reduce((a, b) => a + b, 0) !== n) throw new Error(`the partitions' ends add up to ${ends.reduce((a, b) => a + b, 0)}, not ${n}`);
  const size = message(0).value.length;
  console.log(`Apache Kafka ${kafka.bootstrap} (one KRaft node), MinIO ${s3.url}; produced ${fmt(n)} envelopes of ${size} bytes to ${partitions} partitions in ${(Number(process.hrtime.bigint() - p0) / 1e9).toFixed(1)} s; WRITE_INTERVAL_SECONDS=${interval}`);

  const results = [];
  const report = (r) => {
    results.push(r);
    console.log(`${r.name}: ${fmt(n / r.secs)} msg/s (${r.secs.toFixed(1)} s), ${perMillion(r.cpu).toFixed(1)} CPU s per 10^6 (broker ${perMillion(r.services.broker).toFixed(1)}, MinIO ${perMillion(r.services.s3).toFixed(1)}), peak RSS ${fmt(mib(r.peakRss))} MiB${r.objects === null ? '' : `, ${r.objects} objects, ${fmt(r.bytes)} bytes`}; ${r.check}`);
  };
  report(await runBare(kafka, s3));
  report(await runWriter(kafka, s3, ends, { name: '(b) cdc-writer', bucket: 'peers-writer', group: 'peers-writer' }));
  report(await runWriter(kafka, s3, ends, { name: "(b') cdc-writer, CDC_METADATA=none", bucket: 'peers-writer-nometa', group: 'peers-writer-nometa', extra: { CDC_METADATA: 'none' } }));
  report(await runPython(kafka, s3, ends));
  console.log('(d) Bento: not run: the Go module proxy refuses github.com/warpstreamlabs/bento');

  console.log('');
  console.log('| | msg/s | CPU s per 10^6 msgs | broker CPU s per 10^6 | MinIO CPU s per 10^6 | peak RSS | objects | bytes | exactly once |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${fmt(n / r.secs)} | ${perMillion(r.cpu).toFixed(1)} | ${perMillion(r.services.broker).toFixed(1)} | ${perMillion(r.services.s3).toFixed(1)} | ${fmt(mib(r.peakRss))} MiB | ${r.objects ?? '-'} | ${r.bytes === null ? '-' : fmt(r.bytes)} | ${r.check} |`);
  }
  console.log('| (d) Bento | not run: the Go module proxy refuses github.com/warpstreamlabs/bento | | | | | | | |');
  const [, b, bNone, c] = results;
  const smallest = Math.min(b.bytes, c.bytes);
  const verdict = (ok) => (ok ? 'met' : 'missed');
  console.log('');
  console.log(`target: cdc-writer CPU per message <= 1/10 of (c)'s: (b) ${(b.cpu / c.cpu).toFixed(3)} of it, (b') ${(bNone.cpu / c.cpu).toFixed(3)}: ${verdict(b.cpu * 10 <= c.cpu)} (b), ${verdict(bNone.cpu * 10 <= c.cpu)} (b')`);
  console.log(`target: lowest peak RSS of (b) and (c): (b) ${fmt(mib(b.peakRss))} MiB, (c) ${fmt(mib(c.peakRss))} MiB, (b)/(c) ${(b.peakRss / c.peakRss).toFixed(2)}: ${verdict(b.peakRss <= c.peakRss)}`);
  console.log(`target: output bytes within 1.1x of the smallest of (b) and (c): (b) ${(b.bytes / smallest).toFixed(2)}x: ${verdict(b.bytes <= 1.1 * smallest)}; (b') ${(bNone.bytes / smallest).toFixed(2)}x: ${verdict(bNone.bytes <= 1.1 * smallest)}`);
  if (results.some((r) => !r.ok)) process.exitCode = 1;
} finally {
  await stopAll();
}
