// services.mjs -- starts the real local services tests need, each in its own
// process on 127.0.0.1 with a random port, and stops exactly what it started.
//
//   const kafka = await startKafka({ topics: ['cdc.x.public.t:2'] });
//   kafka.bootstrap                      "127.0.0.1:PORT"
//   await kafka.command('broker_down 1') fault injection (see tests/tools/mock_kafka.c)
//   const s3 = await startS3({ buckets: ['datalake'] });   s3.url, s3.dir
//   const prefect = await startPrefect({ deployments: ['flow/deployment'] });
//   prefect.url ("http://127.0.0.1:PORT/api"), await prefect.requests(), prefect.fail({...})
//   await stopAll()                       stops every service this module started
//
// Binaries come from the environment CTest sets (CDCW_MOCK_KAFKA, CDCW_KAFKA_TOOL,
// CDCW_BIN), or from ./build when run by hand.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');

function builtBinary(envName, name) {
  if (process.env[envName]) return process.env[envName];
  for (const p of [join(repoRoot, 'build', 'tests', name), join(repoRoot, 'build', name)]) {
    if (existsSync(p)) return p;
  }
  throw new Error(`${envName} is not set and ${name} is not built in ./build`);
}

export const binaries = {
  get mockKafka() { return builtBinary('CDCW_MOCK_KAFKA', 'mock_kafka'); },
  get kafkaTool() { return builtBinary('CDCW_KAFKA_TOOL', 'kafka_tool'); },
  get cdcWriter() { return builtBinary('CDCW_BIN', 'cdc-writer'); },
  get s3Tool() { return builtBinary('CDCW_S3_TOOL', 's3_tool'); },
};

const running = new Set();

// Services started elsewhere (real_services.mjs) that stopAll() stops too:
// each has stop().
export function track(service) { running.add(service); }
export function untrack(service) { running.delete(service); }

// Spawns a service that prints its address on the first stdout line. Its
// stdin stays open: closing it (or our death) makes the service exit.
function spawnService(name, command, args, { timeoutMs = 20000, env } = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(d));
  let first = null;
  const firstLine = new Promise((resolve, reject) => {
    first = { resolve, reject };
  });
  let gotFirst = false;
  lines.on('line', (line) => {
    if (!gotFirst) {
      gotFirst = true;
      first.resolve(line.trim());
    } else if (waiting.length) {
      waiting.shift()(line);
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  exited.then(({ code, signal }) => {
    if (!gotFirst) {
      first.reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready: ${Buffer.concat(stderr)}`));
    }
    for (const w of waiting.splice(0)) w(null);
  });
  const timer = setTimeout(() => {
    if (!gotFirst) first.reject(new Error(`${name} did not start within ${timeoutMs} ms`));
  }, timeoutMs);
  const service = {
    name,
    pid: child.pid,
    child,
    exited,
    stderr: () => Buffer.concat(stderr).toString(),
    // Sends one control line; resolves with the service's one-line answer.
    command(line) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${line}\n`);
      });
    },
    // With keep, its files stay (for a restart that takes them over).
    async stop({ keep = false } = {}) {
      running.delete(service);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(killer);
      }
      if (!keep) service.cleanup?.();
    },
  };
  running.add(service);
  return firstLine.finally(() => clearTimeout(timer)).then((address) => ({ service, address }));
}

export async function startKafka({ brokers = 1, topics = [] } = {}) {
  const args = ['--brokers', String(brokers)];
  for (const t of topics) args.push('--topic', t);
  const { service, address } = await spawnService('mock_kafka', binaries.mockKafka, args);
  service.bootstrap = address;
  return service;
}

// startS3({ port, dir }) starts it again where one stopped with stop({ keep: true }):
// same address, same objects; the new service owns dir from then on.
export async function startS3({ buckets = ['datalake'], tls = null, port = 0, dir = null } = {}) {
  const where = dir ?? mkdtempSync(join(tmpdir(), 'cdcw-s3-'));
  const { service, address } = await spawnService('s3rver', process.execPath, [
    '--openssl-legacy-provider', join(here, 's3_server.mjs'), ...(port ? ['--port', String(port)] : []),
    ...(tls ? ['--tls', tls.cert, tls.key] : []), where, ...buckets,
  ]);
  service.url = address;
  service.dir = where;
  service.port = Number(new URL(address).port);
  service.cleanup = () => rmSync(where, { recursive: true, force: true });
  return service;
}

// A TCP port that was free a moment ago, for a service that takes a fixed port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A proxy in front of target that fails on demand (tests/harness/flaky_proxy.mjs).
export async function startFlakyProxy(target) {
  const { service, address } = await spawnService('flaky_proxy', process.execPath, [
    join(here, 'flaky_proxy.mjs'), target,
  ]);
  service.url = address;
  service.plan = async (steps) => fetch(`${address}/_control/plan`, { method: 'POST', body: JSON.stringify(steps) });
  service.requests = async () => (await fetch(`${address}/_control/requests`)).json();
  service.held = async () => (await (await fetch(`${address}/_control/held`)).json()).held;
  service.release = async () => (await (await fetch(`${address}/_control/release`, { method: 'POST' })).json()).released;
  return service;
}

export async function startPrefect({ deployments = [] } = {}) {
  const { service, address } = await spawnService('prefect_double', process.execPath, [
    join(here, 'prefect_double.mjs'), ...deployments,
  ]);
  service.url = address;
  const base = address.replace(/\/api$/, '');
  service.requests = async () => (await fetch(`${base}/_control/requests`)).json();
  service.fail = async (spec) => fetch(`${base}/_control/fail`, {
    method: 'POST', body: JSON.stringify(spec),
  });
  service.addDeployment = async (flow, deployment) => (await fetch(`${base}/_control/deployments`, {
    method: 'POST', body: JSON.stringify({ flow, deployment }),
  })).json();
  return service;
}

export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()));
}

// Runs a command to completion; resolves with { code, stdout, stderr }.
export function run(command, args, { input, env, timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // A command that exits without reading its input must not fail the caller with EPIPE.
    child.stdin.on('error', (e) => { if (e.code !== 'EPIPE') reject(e); });
    child.stdin.end(input ?? '');
  });
}

const jsonLines = (text) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

// Produces messages ({topic, partition?, key?, value|null, value_hex?, timestamp?});
// resolves with one {topic, partition, offset} per message.
export async function produce(bootstrap, messages) {
  const input = messages.map((m) => JSON.stringify(m)).join('\n');
  const r = await run(binaries.kafkaTool, ['produce', bootstrap], { input });
  if (r.code !== 0) throw new Error(`produce failed (${r.code}): ${r.stderr}${r.stdout}`);
  return jsonLines(r.stdout);
}

// A producer that stays up: send(messages) hands it messages as they come
// (a live stream), end() resolves with one {topic, partition, offset} per message.
export function startProducer(bootstrap) {
  const child = spawn(binaries.kafkaTool, ['produce', bootstrap], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const producer = {
    sent: 0,
    send(messages) {
      producer.sent += messages.length;
      child.stdin.write(messages.map((m) => `${JSON.stringify(m)}\n`).join(''));
    },
    async end() {
      running.delete(producer);
      child.stdin.end();
      const code = await closed;
      if (code !== 0) throw new Error(`producer failed (${code}): ${Buffer.concat(err)}`);
      return jsonLines(Buffer.concat(out).toString());
    },
    stop: async () => { child.kill('SIGKILL'); await closed; },
  };
  running.add(producer);
  return producer;
}

// Reads `count` messages as consumer group `group` subscribed to `pattern`,
// from another process. Resolves with the messages; rejects on time-out.
export async function consume(bootstrap, group, pattern, count, timeoutMs = 30000, { commit = false } = {}) {
  const args = ['consume', bootstrap, group, pattern, String(count), String(timeoutMs)];
  if (commit) args.push('--commit');
  const r = await run(binaries.kafkaTool, args, { timeoutMs: timeoutMs + 30000 });
  const messages = jsonLines(r.stdout);
  if (r.code !== 0) throw new Error(`consume got ${messages.length} of ${count} messages: ${r.stderr}`);
  return messages;
}

// Committed offsets of `group` on `topic` partitions 0..partitions-1.
export async function committedOffsets(bootstrap, group, topic, partitions) {
  const r = await run(binaries.kafkaTool, ['committed', bootstrap, group, topic, String(partitions)]);
  if (r.code !== 0) throw new Error(`committed failed: ${r.stderr}`);
  return jsonLines(r.stdout);
}

// Waits until predicate() is truthy (polling a condition the test can observe).
// With `log` (a function giving a process's log), a time-out quotes its end.
export async function waitFor(predicate, { timeoutMs = 30000, intervalMs = 100, what = 'condition', log } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) {
      const tail = log ? `; the log ends:\n${log().slice(-3000)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// True when a process with this pid still exists.
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Starts cdc-writer with env (added to a minimal environment); resolves at
// once. writer.exited resolves with {code, signal}; writer.log() is its stderr.
export function startWriter(env) {
  const child = spawn(binaries.cdcWriter, [], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, ...env },
  });
  const err = [];
  child.stderr.on('data', (d) => err.push(d));
  child.stdout.on('data', (d) => err.push(d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const writer = {
    pid: child.pid,
    child,
    exited,
    log: () => Buffer.concat(err).toString(),
    async stop(signal = 'SIGTERM') {
      running.delete(writer);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(writer);
  return writer;
}

// The MINIO_* variables that reach an S3 server of the harness (s3rver takes
// any credentials; MinIO's are its own; over https, its test CA is trusted).
export function s3ClientEnv(s3) {
  return {
    MINIO_ENDPOINT: new URL(s3.url).host,
    MINIO_ACCESS_KEY: s3.accessKey ?? 'S3RVER',
    MINIO_SECRET_KEY: s3.secretKey ?? 'S3RVER',
    ...(s3.url.startsWith('https:') ? { MINIO_USE_SSL: 'true', ...(s3.tls ? { MINIO_CA_BUNDLE: s3.tls.ca } : {}) } : {}),
  };
}

// The environment that points cdc-writer at the harness's services.
export function writerEnv({ kafka, s3, prefect, extra = {} }) {
  return {
    KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap,
    KAFKA_TOPIC_PATTERN: '^cdc\\.oltp_dabi\\.public\\.(.*)',
    CONSUMER_GROUP_ID: 'lake-writer',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS: '1000',
    ...s3ClientEnv(s3),
    MINIO_BUCKET: 'datalake',
    MINIO_RETRY_BASE_MS: '50',
    WRITE_INTERVAL_SECONDS: '1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'INFO',
    ...(prefect ? { PREFECT_API_URL: prefect.url } : {}),
    ...extra,
  };
}

// Downloads every object under prefix from the S3 server's bucket into dir; resolves
// with [{key, path, size}].
export async function fetchObjects(s3, prefix, dir, bucket = 'datalake') {
  const env = { PATH: process.env.PATH, ...s3ClientEnv(s3), MINIO_BUCKET: bucket, LOG_LEVEL: 'ERROR' };
  const got = await run(binaries.s3Tool, ['fetch', prefix, dir], { env });
  if (got.code !== 0) throw new Error(`fetch ${prefix} failed: ${got.stderr}`);
  return got.stdout.split('\n').filter(Boolean).map((line) => {
    const key = line.slice(0, line.lastIndexOf(' '));
    return { key, path: join(dir, key.replaceAll('/', '__')), size: Number(line.slice(line.lastIndexOf(' ') + 1)) };
  });
}
