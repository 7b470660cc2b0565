// pipeline_bench.mjs -- cdc-writer end to end against a plain librdkafka
// consumer, in one run, on the same topic of the local mock Kafka cluster.
//
//   node bench/pipeline_bench.mjs [MESSAGES] [PARTITIONS] [BUILD_DIR]
//
// (a) tests/tools/kafka_tool consumes every message in a group, doing nothing with them;
// (b) cdc-writer consumes them, writes Parquet to s3rver and commits, until every
//     offset is committed. Prints messages/s of both, b/a, the CPU seconds per million
//     messages of both, cdc-writer's peak RSS and files written, and what the mock and
//     s3rver spent meanwhile, and how each run's time splits into joining the group,
//     consuming and the last uploads, with the share of the machine's cores busy in
//     each (measured from /proc/stat), and cdc-writer's CPU by thread (from
//     /proc/<pid>/task) against the plain consumer's polling thread. The mock keeps
//     only 5 MiB per partition: MESSAGES x ~1 KB must fit in PARTITIONS x 5 MiB.
//     BENCH_KAFKA=real runs both on Apache Kafka (one KRaft node, the test stack's)
//     instead, which has no such limit and costs far less CPU per fetch.
// BENCH_INTERVAL (comma-separated WRITE_INTERVAL_SECONDS) and BENCH_WORKERS
// (comma-separated DECODE_WORKERS) give one (b) run per pair, side by side;
// BENCH_WRITER_ENV (JSON of more variables) applies to each.
//
// BENCH_SHAPE=sparse takes instead flattened records (ExtractNewRecordState's
// shape, schema-less) of ~50 bytes that each set 2 of 120 columns, 500,000 by
// default, with MAX_BUFFER_BYTES=64MiB and a one-hour interval unless
// BENCH_WRITER_ENV and BENCH_INTERVAL say otherwise: memory flushes alone
// drain the buffers until every message is consumed, then SIGTERM flushes the
// rest and commits. Its peak RSS is what to compare with MAX_BUFFER_BYTES + 64 MiB.
import { readFileSync, readdirSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  startKafka, startS3, startWriter, writerEnv, stopAll, produce, run, committedOffsets, waitFor, binaries, freePort,
} from '../tests/harness/services.mjs';
import { startRealKafka } from '../tests/harness/real_services.mjs';
import { parsePrometheusText, sum } from '../tests/harness/prom_text.mjs';
import { envelopeValue } from './envelope.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sparse = process.env.BENCH_SHAPE === 'sparse';
if (process.env.BENCH_SHAPE && !sparse) throw new Error(`BENCH_SHAPE='${process.env.BENCH_SHAPE}': expected sparse or nothing`);
const n = Number(process.argv[2] ?? (sparse ? 500000 : 1000000));
const partitions = Number(process.argv[3] ?? 256);
if (process.argv[4]) {
  process.env.CDCW_BIN = join(process.argv[4], 'cdc-writer');
}
const topic = 'cdc.oltp_dabi.public.bench';

// Column x = i % 120 and another one, different, that moves with i / 120, so
// that the batch's columns are all 120; an integer in one, a text in the other.
function sparseMessage(i) {
  const x = i % 120, y = (x + 1 + (Math.floor(i / 120) % 119)) % 120;
  return { topic, key: `k${i}`, value: JSON.stringify({ __op: 'c', [`c${x}`]: i, [`c${y}`]: `t${i % 1000}` }) };
}

function message(i) {
  if (sparse) return sparseMessage(i);
  return { topic, key: `k${i}`, value: envelopeValue(i, 'bench') };
}

// Jiffies of the whole machine: all, and busy (all but idle and iowait).
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const all = f.slice(0, 8).reduce((x, y) => x + y, 0);
  return { all, busy: all - f[3] - f[4] };
}

function busyShare(from, to) {
  return to.all > from.all ? (to.busy - from.busy) / (to.all - from.all) : 0;
}

// A MAX_BUFFER_BYTES value as cdc-writer reads it: a number with an optional
// KiB/MiB/GiB (or KB/MB/GB, binary too) suffix.
function sizeBytes(text) {
  const m = /^\s*(\d+)\s*([KMG]i?B)?\s*$/i.exec(text);
  if (!m) throw new Error(`MAX_BUFFER_BYTES='${text}': expected a size such as 256MiB`);
  return Number(m[1]) * 1024 ** (m[2] ? ' KMG'.indexOf(m[2][0].toUpperCase()) : 0);
}

function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = 100;
  const cpu = (Number(stat[11]) + Number(stat[12])) / ticks;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpu, peakRss: Number(hwm[1]) * 1024 };
}

// CPU seconds of each kind of thread of a live process, from /proc/<pid>/task:
// the consumer thread is the process's first (its tid is the pid); the others
// are grouped by name (rdk:* librdkafka's, cdcw-upload the upload workers).
function threadCpu(pid) {
  const split = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text;
    try { text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; } // ended meanwhile
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const kind = tid === String(pid) ? 'consumer' : comm.startsWith('rdk:') ? 'librdkafka' : comm.startsWith('cdcw-') ? comm : `other (${comm})`;
    split.set(kind, (split.get(kind) ?? 0) + (Number(stat[11]) + Number(stat[12])) / 100);
  }
  return split;
}

try {
  const real = process.env.BENCH_KAFKA === 'real';
  const kafka = real ? await startRealKafka({ topics: [`${topic}:${partitions}`] }) : await startKafka({ topics: [`${topic}:${partitions}`] });
  // On tmpfs when there is one, so that disk write-back does not add noise.
  const s3 = await startS3({ dir: existsSync('/dev/shm') ? mkdtempSync('/dev/shm/cdcw-bench-s3-') : null });
  for (let start = 0; start < n; start += 50000) {
    const batch = Array.from({ length: Math.min(50000, n - start) }, (_, k) => message(start + k));
    await produce(kafka.bootstrap, batch);
  }
  const size = JSON.stringify(message(0).value).length;
  console.log(`produced ${n.toLocaleString('en-US')} messages of ~${size} bytes to ${partitions} partitions`);

  const cpu0 = machineCpu();
  const t0 = process.hrtime.bigint();
  // Through bash, whose `times` then reports the consumer's CPU seconds.
  const plain = await run('bash', ['-c', '"$@"; status=$?; times; exit $status', 'bash', binaries.kafkaTool, 'consume',
    kafka.bootstrap, 'plain', `^${topic.replaceAll('.', '\\.')}$`, String(n), '600000', '--quiet'], { timeoutMs: 900000 });
  const plainSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  const plainBusy = busyShare(cpu0, machineCpu());
  if (plain.code !== 0) throw new Error(`plain consumer: ${plain.stderr}`);
  const plainOut = JSON.parse(plain.stdout.split('\n').find((l) => l.startsWith('{')));
  const plainJoin = plainOut.first_message_ms / 1000;
  const plainPollCpu = plainOut.poll_cpu_s; // its polling thread's alone
  const childTimes = plain.stdout.trim().split('\n').at(-1).split(/\s+/)
    .map((t) => { const [, m, sec] = /(\d+)m([\d.]+)s/.exec(t); return Number(m) * 60 + Number(sec); });
  const plainCpu = childTimes[0] + childTimes[1];

  const a = n / plainSecs;
  console.log(`(a) plain librdkafka consumer  ${Math.round(a).toLocaleString('en-US')} msgs/s (${plainSecs.toFixed(1)} s, group join included; ${(plainCpu / (n / 1e6)).toFixed(1)} CPU s per million messages)`);
  console.log(`(a) phases                      joining ${plainJoin.toFixed(1)} s, consuming and leaving ${(plainSecs - plainJoin).toFixed(1)} s (cores ${Math.round(100 * plainBusy)}% busy over both)`);
  // One (b) run per interval in BENCH_INTERVAL (comma-separated), each in its own group.
  // And one per DECODE_WORKERS value in BENCH_WORKERS (comma-separated; unset: the default).
  const runs = (process.env.BENCH_INTERVAL ?? (sparse ? '3600' : '1,2')).split(',')
    .flatMap((interval) => (process.env.BENCH_WORKERS ?? '').split(',').map((workers) => ({ interval, workers })));
  for (const { interval, workers } of runs) {
    // An interval too long to wait for: wait until every message is consumed, then stop.
    const stopAtEnd = Number(interval) >= 60;
    const group = `bench-${interval}-${workers}`;
    const port = await freePort();
    const env = writerEnv({ kafka, s3, extra: { CONSUMER_GROUP_ID: group, LOG_LEVEL: process.env.BENCH_LOG ? 'INFO' : 'WARNING', WRITE_INTERVAL_SECONDS: interval, HTTP_PORT: String(port), ...(sparse ? { MAX_BUFFER_BYTES: '64MiB' } : {}), ...(workers ? { DECODE_WORKERS: workers } : {}), ...JSON.parse(process.env.BENCH_WRITER_ENV ?? '{}') } });
    const servicesBefore = [procStats(kafka.pid).cpu, procStats(s3.pid).cpu];
    const t1 = process.hrtime.bigint();
    const writer = startWriter(env);
    let stats = { cpu: 0, peakRss: 0 };
    let metrics = new Map();
    // Phases: until the first message is consumed (group join), until the last one
    // is, until the last offset is committed; and the machine's busy share in each.
    const marks = [{ t: t1, cpu: machineCpu() }];
    // The writer's own committed-offset gauges, read over HTTP every 100 ms (a
    // Kafka client per check would cost the same cores more), then checked
    // against the group's offsets in Kafka.
    await waitFor(async () => {
      if (writer.child.exitCode !== null || writer.child.signalCode !== null) {
        throw new Error(`cdc-writer exited (${writer.child.exitCode ?? writer.child.signalCode}); its log ends:\n${writer.log().slice(-3000)}`);
      }
      stats = procStats(writer.pid);
      metrics = parsePrometheusText(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => ''));
      const consumed = sum(metrics, 'cdcw_messages_consumed_total');
      if ((marks.length === 1 && consumed > 0) || (marks.length === 2 && consumed === n)) {
        marks.push({ t: process.hrtime.bigint(), cpu: machineCpu() });
      }
      return stopAtEnd ? consumed === n : sum(metrics, 'cdcw_committed_offset') === n;
    }, { timeoutMs: 900000, intervalMs: 100, what: stopAtEnd ? 'cdc-writer consuming every message' : 'cdc-writer committing every message' });
    let threads = threadCpu(writer.pid);
    if (stopAtEnd) {
      // SIGTERM: the last flushes and the commit; the figures are read until it exits.
      writer.child.kill('SIGTERM');
      let gone = false;
      writer.exited.then(() => { gone = true; });
      while (!gone) {
        try {
          stats = procStats(writer.pid);
          threads = threadCpu(writer.pid);
        } catch { break; } // exited (a zombie has no VmHWM)
        await new Promise((resolve) => setTimeout(resolve, 20)); // sampling, not waiting on a condition
      }
      const exit = await writer.exited;
      if (exit.code !== 0) throw new Error(`cdc-writer exited with ${JSON.stringify(exit)}: ${writer.log().slice(-2000)}`);
    }
    const writerSecs = Number(process.hrtime.bigint() - t1) / 1e9;
    marks.push({ t: process.hrtime.bigint(), cpu: machineCpu() });
    if (!stopAtEnd) {
      stats = procStats(writer.pid);
      threads = threadCpu(writer.pid);
    }
    const servicesCpu = [procStats(kafka.pid).cpu - servicesBefore[0], procStats(s3.pid).cpu - servicesBefore[1]];
    const committed = await committedOffsets(kafka.bootstrap, group, topic, partitions);
    const inKafka = committed.reduce((total, c) => total + Math.max(c.offset, 0), 0);
    if (inKafka !== n) throw new Error(`the group's committed offsets add up to ${inKafka}, not ${n}`);
    const files = sum(metrics, 'cdcw_files_written_total');
    await writer.stop();
    if (process.env.BENCH_LOG) writeFileSync(`${process.env.BENCH_LOG}.${interval}${workers ? `.${workers}` : ''}`, writer.log());
    const b = n / writerSecs;
    console.log(`(b) cdc-writer to ${env.MINIO_ENDPOINT.startsWith('file://') ? 'file://      ' : 's3rver       '}  ${Math.round(b).toLocaleString('en-US')} msgs/s (${writerSecs.toFixed(1)} s until every offset was committed${stopAtEnd ? ', by SIGTERM once all were consumed' : ''}; WRITE_INTERVAL_SECONDS=${interval}${workers ? `, DECODE_WORKERS=${workers}` : ''})`);
    console.log(`b/a                             ${(b / a).toFixed(2)}`);
    if (marks.length === 4) {
      const phase = (i) => `${(Number(marks[i + 1].t - marks[i].t) / 1e9).toFixed(1)} s (cores ${Math.round(100 * busyShare(marks[i].cpu, marks[i + 1].cpu))}% busy)`;
      console.log(`(b) phases                      joining ${phase(0)}, consuming ${phase(1)}, last uploads and commits ${phase(2)}`);
      console.log(`(b) while consuming             ${Math.round(n / (Number(marks[2].t - marks[1].t) / 1e9)).toLocaleString('en-US')} msgs/s (first message consumed to last)`);
    }
    console.log(`cdc-writer CPU                  ${(stats.cpu / (n / 1e6)).toFixed(1)} s per million messages`);
    console.log(`cdc-writer CPU by thread        ${[...threads].map(([kind, secs]) => `${kind} ${(secs / (n / 1e6)).toFixed(1)}`).join(', ')} s per million messages (plain consumer: polling thread ${(plainPollCpu / (n / 1e6)).toFixed(2)}, whole process ${(plainCpu / (n / 1e6)).toFixed(1)})`);
    console.log(`consumer thread / plain polling ${((threads.get('consumer') ?? 0) / plainPollCpu).toFixed(2)}x (DECODE_WORKERS=${env.DECODE_WORKERS ?? 'default'})`);
    console.log(`during (b), CPU s of   ${real ? 'Apache Kafka' : 'mock Kafka'} ${servicesCpu[0].toFixed(1)}, s3rver ${servicesCpu[1].toFixed(1)} (the same 2 cores)`);
    console.log(`files written                   ${files}${stopAtEnd ? ' before the stop' : ''} (${files > 0 ? Math.round(n / files) : '-'} rows each on average${servicesCpu[1] > 0 && files > 0 ? `; s3rver ${(servicesCpu[1] * 1000 / files).toFixed(1)} ms CPU per PUT` : ''})`);
    const budget = sizeBytes(env.MAX_BUFFER_BYTES ?? '256MiB') / 1048576;
    console.log(`cdc-writer peak RSS             ${(stats.peakRss / 1048576).toFixed(0)} MiB (MAX_BUFFER_BYTES ${budget} MiB + 64 MiB = ${budget + 64} MiB)`);
  }
} finally {
  await stopAll();
}
