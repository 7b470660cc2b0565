// small_batches_bench.mjs -- cdc-writer against a plain librdkafka consumer when every
// Kafka record batch holds one message (a producer with linger.ms=0 under light
// load, as Kafka Connect's is by default), side by side in one run on the same data.
//
//   node bench/small_batches_bench.mjs [mock|real|both] [MESSAGES] [PARTITIONS]
//
// Default: both (the mock cluster, then Apache Kafka of tests/harness/real_services.mjs),
// 30,000 envelopes of ~1 KB in 16 partitions, produced by kafka_tool with
// --batch-messages 1 (batch.num.messages=1). On the real broker the batches are counted
// in the partitions' segment files. Then, on each cluster:
// (a) kafka_tool consume with cdc-writer's consumer properties (src/kafka_conf.c at
//     the default MAX_BUFFER_BYTES) committing its positions synchronously every
//     1000/PARTITIONS ms (cdc-writer at WRITE_INTERVAL_SECONDS=1 commits each partition
//     about once a second);
// (b) cdc-writer writing to s3rver at WRITE_INTERVAL_SECONDS=1 until every offset is
//     committed (its cdcw_committed_offset gauges, then the group's offsets in Kafka).
// Prints msg/s of both (group join included in each) and b/a.
// BENCH_WRITERS: name=path,... runs (b) with each of those binaries in turn, on the same
// data, each in its own group (default: built=the harness's cdc-writer), e.g. a build
// before and after a change; CDCW_KAFKA_TOOL and CDCW_MOCK_KAFKA choose those tools.
// BENCH_WRITER_ENV: a JSON object of more variables for (b); BENCH_LOG: a file prefix
// for cdc-writer's log (.<cluster>.<name> appended); BENCH_MOCK_BROKERS: the mock's brokers (1).
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';

import {
  startKafka, startS3, startWriter, writerEnv, stopAll, produce, run, committedOffsets, waitFor, binaries, freePort,
} from '../tests/harness/services.mjs';
import { startRealKafka } from '../tests/harness/real_services.mjs';
import { parsePrometheusText, sum } from '../tests/harness/prom_text.mjs';
import { envelopeValue } from './envelope.mjs';

const which = process.argv[2] ?? 'both';
const n = Number(process.argv[3] ?? 30000);
const partitions = Number(process.argv[4] ?? 16);
const topic = 'cdc.oltp_dabi.public.small';
// BENCH_WRITERS=name=path,...: each cdc-writer binary in turn as (b), in its own group.
const writers = (process.env.BENCH_WRITERS ?? `built=${binaries.cdcWriter}`).split(',').map((w) => w.split('='));

// The benchmarks' envelope (bench/envelope.mjs), one partition after another.
function message(i) {
  return { topic, partition: i % partitions, key: `k${i}`, value: envelopeValue(i, 'small') };
}

// cdc-writer's own consumer properties at the default MAX_BUFFER_BYTES (256 MiB):
// see kafka_conf_build(); the harness's session and heartbeat settings are kafka_tool's too.
const writerProps = [
  'enable.auto.offset.store=false', 'partition.assignment.strategy=cooperative-sticky', 'client.id=cdc-writer',
  'queued.max.messages.kbytes=32768', 'fetch.max.bytes=33554432',
  // Not fetch.queue.backoff.ms=20 (librdkafka 2.2+ only, and 2.0.2 builds of kafka_tool
  // run this too): 30,000 envelopes never fill the 32 MiB queue, so it does not apply.
];

async function produceSingles(bootstrap) {
  const input = Array.from({ length: n }, (_, i) => JSON.stringify(message(i))).join('\n');
  const r = await run(binaries.kafkaTool, ['produce', bootstrap, '--batch-messages', '1'], { input, timeoutMs: 600000 });
  if (r.code !== 0) throw new Error(`produce failed (${r.code}): ${r.stderr}`);
}

// Record batches and records in the real broker's segment files of the topic, read
// in Kafka's record batch format (v2): baseOffset int64, batchLength int32, then
// batchLength bytes, of which the records count is the int32 at byte 57 of the batch.
function countBatches(kafka) {
  const data = join(kafka.dir, 'data');
  let batches = 0;
  let records = 0;
  for (const d of readdirSync(data).filter((name) => name.startsWith(`${topic}-`))) {
    for (const f of readdirSync(join(data, d)).filter((name) => name.endsWith('.log'))) {
      const b = readFileSync(join(data, d, f));
      for (let at = 0; at + 61 <= b.length; at += 12 + b.readInt32BE(at + 8)) {
        if (b.readInt8(at + 16) !== 2) throw new Error(`${d}/${f}: a batch at byte ${at} is not of format v2`);
        batches++;
        records += b.readInt32BE(at + 57);
      }
    }
  }
  return { batches, records };
}

async function plainConsumer(kafka, group) {
  const t0 = process.hrtime.bigint();
  const args = ['consume', kafka.bootstrap, group, `^${topic.replaceAll('.', '\\.')}$`, String(n), '600000', '--quiet',
    '--commit-every', String(Math.round(1000 / partitions)), ...writerProps.flatMap((p) => ['--conf', p])];
  const r = await run(binaries.kafkaTool, args, { timeoutMs: 900000 });
  if (r.code !== 0) throw new Error(`plain consumer: ${r.stderr}`);
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function writer(kafka, s3, group, label, bin) {
  process.env.CDCW_BIN = bin;
  const port = await freePort();
  const env = writerEnv({ kafka, s3, extra: {
    CONSUMER_GROUP_ID: group, LOG_LEVEL: process.env.BENCH_LOG ? 'INFO' : 'WARNING', WRITE_INTERVAL_SECONDS: '1',
    HTTP_PORT: String(port), ...JSON.parse(process.env.BENCH_WRITER_ENV ?? '{}'),
  } });
  const t0 = process.hrtime.bigint();
  const w = startWriter(env);
  await waitFor(async () => {
    const metrics = parsePrometheusText(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => ''));
    return sum(metrics, 'cdcw_committed_offset') === n;
  }, { timeoutMs: 900000, intervalMs: 50, what: 'cdc-writer committing every message', log: w.log });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await w.stop();
  if (process.env.BENCH_LOG) writeFileSync(`${process.env.BENCH_LOG}.${label}`, w.log());
  const committed = await committedOffsets(kafka.bootstrap, group, topic, partitions);
  const inKafka = committed.reduce((total, c) => total + Math.max(c.offset, 0), 0);
  if (inKafka !== n) throw new Error(`the group's committed offsets add up to ${inKafka}, not ${n}`);
  return n / secs;
}

async function bench(label, kafka) {
  const s3 = await startS3({ dir: existsSync('/dev/shm') ? mkdtempSync('/dev/shm/cdcw-bench-s3-') : null });
  await produceSingles(kafka.bootstrap);
  let batches = '';
  if (label === 'real') {
    const c = countBatches(kafka);
    if (c.records !== n) throw new Error(`the segment files hold ${c.records} records, not ${n}`);
    batches = `, ${c.batches.toLocaleString('en-US')} record batches in the segment files (${(c.records / c.batches).toFixed(2)} messages each)`;
  }
  console.log(`${label}: produced ${n.toLocaleString('en-US')} messages to ${partitions} partitions with batch.num.messages=1${batches}`);
  const a = await plainConsumer(kafka, `plain-${label}`);
  console.log(`${label}: (a) plain consumer   ${Math.round(a).toLocaleString('en-US')} msg/s`);
  for (const [name, bin] of writers) {
    const b = await writer(kafka, s3, `writer-${label}-${name}`, `${label}.${name}`, bin);
    console.log(`${label}: (b) cdc-writer ${name.padEnd(8)} ${Math.round(b).toLocaleString('en-US')} msg/s, b/a ${(b / a).toFixed(2)}`);
  }
  await s3.stop();
}

try {
  if (which === 'mock' || which === 'both') {
    const kafka = await startKafka({ brokers: Number(process.env.BENCH_MOCK_BROKERS ?? 1), topics: [`${topic}:${partitions}`] });
    await bench('mock', kafka);
    await kafka.stop();
  }
  if (which === 'real' || which === 'both') {
    const kafka = await startRealKafka({ topics: [`${topic}:${partitions}`] });
    await bench('real', kafka);
    await kafka.stop();
  }
} finally {
  await stopAll();
}
