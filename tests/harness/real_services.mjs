// real_services.mjs -- the real systems users run, as plain processes on
// 127.0.0.1, each at free ports in its own temporary directory, started and
// stopped by the test that needs it (stopAll() in services.mjs stops them too):
//
//   const kafka = await startRealKafka({ topics: ['cdc.x.public.t:8'] });
//   kafka.bootstrap; await kafka.createTopics(['t2:4']); await kafka.down(); await kafka.up()
//   const s3 = await startMinio();   s3.url, s3.accessKey, s3.secretKey; down() / up()
//
// With a test CA made here (makeTestCA), Kafka gets a second listener,
// SASL_SSL with SCRAM-SHA-512 (startRealKafka({ sasl: { users } }):
// kafka.saslBootstrap), and MinIO serves https (startMinio({ tls })).
//
// Apache Kafka (one KRaft node, broker and controller in one JVM) and MinIO
// come from the cache tests/harness/stack/install.sh fills ($CDCW_STACK_CACHE,
// default ~/.cache/cdc-writer-stack); ensureStack() runs it, which fetches and
// builds nothing when the cache is complete. Each service's output goes to a
// log file in its directory: service.log() reads it, and a service that dies
// on its own prints the end of it.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

import { repoRoot, freePort, run, binaries, track, untrack, waitFor, s3ClientEnv } from './services.mjs';

export const stackCache = process.env.CDCW_STACK_CACHE ?? join(homedir(), '.cache', 'cdc-writer-stack');
const stackDir = join(repoRoot, 'tests', 'harness', 'stack');
const pinned = (file, re) => re.exec(readFileSync(join(stackDir, file), 'utf8'))[1];
export const versions = {
  kafka: pinned('kafka-runtime.pom.xml', /<kafka\.version>([^<]+)</),
  minio: pinned('install.sh', /^MINIO_VERSION=(\S+)/m),
  prefect: pinned('requirements.txt', /^prefect==(\S+)/m),
};

// Fetches or builds what is missing (nothing on a warm cache).
export async function ensureStack(components = ['kafka', 'minio']) {
  const r = await run(join(stackDir, 'install.sh'), components, { timeoutMs: 40 * 60000 });
  if (r.code !== 0) throw new Error(`the real stack could not be installed:\n${r.stderr}${r.stdout}`);
}

// A process whose output goes to dir/name.log; resolves once ready() says so.
// user: { uid, gid } runs it as that user (the caller being root).
export async function spawnLogged(name, dir, command, args, { env, ready, timeoutMs = 90000, user = null }) {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: env ?? process.env, cwd: dir, ...(user ?? {}) });
  closeSync(fd);
  const proc = { child, stopping: false, exited: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))) };
  proc.exited.then(({ code, signal }) => {
    if (!proc.stopping) {
      const text = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
      process.stderr.write(`${name} exited on its own (code ${code}, signal ${signal}); the end of its log:\n${text.slice(-4000)}\n`);
    }
  });
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  try {
    await waitFor(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${log().slice(-4000)}`);
      return ready(log);
    }, { timeoutMs, intervalMs: 100, what: `${name} ready` });
  } catch (e) {
    proc.stopping = true;
    child.kill('SIGKILL');
    throw e;
  }
  return proc;
}

export async function stopProc(proc, signal = 'SIGTERM', graceMs = 30000) {
  if (proc == null) return;
  proc.stopping = true;
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill(signal);
    const killer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(killer);
  }
}

// A service whose process can be stopped and started again on the same
// directory and ports: up() starts it (start() resolves with the process),
// down() stops it (SIGKILL with hard), stop() stops it for good and removes
// its directory unless keep. stopAll() stops it too.
export function restartable(name, dir, start) {
  let proc = null;
  const service = {
    name, dir,
    get pid() { return proc?.child.pid; },
    log() {
      const p = join(dir, `${name}.log`);
      return existsSync(p) ? readFileSync(p, 'utf8') : '';
    },
    async up() { proc = await start(); },
    async down({ hard = false } = {}) {
      await stopProc(proc, hard ? 'SIGKILL' : 'SIGTERM');
      proc = null;
    },
    async stop({ keep = false } = {}) {
      untrack(service);
      await service.down();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  track(service);
  return service;
}

// A throwaway certificate authority in dir and one server certificate it
// signed, for localhost and 127.0.0.1. OpenSSL 3 writes PKCS#8 keys ("BEGIN
// PRIVATE KEY"), the only PEM form Kafka's PEM key store reads.
// Resolves with { ca, cert, key, pem } (pem: key then certificate, Kafka's form).
export function makeTestCA(dir, name = 'test-ca') {
  mkdirSync(dir, { recursive: true });
  const f = (n) => join(dir, n);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', `/CN=${name}`);
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('san.ext'), '-out', f('server.crt'));
  writeFileSync(f('server.pem'), readFileSync(f('server.key'), 'utf8') + readFileSync(f('server.crt'), 'utf8'));
  return { ca: f('ca.pem'), cert: f('server.crt'), key: f('server.key'), pem: f('server.pem') };
}

const KAFKA_LOG4J = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
`;

// Apache Kafka in KRaft mode: one process that is broker and controller.
// A heap of 256 MiB to 1 GiB suits a 2-core machine shared with the test.
// sasl: { users: { name: password } } adds a SASL_SSL listener with
// SCRAM-SHA-512 and PLAIN for those users, its certificate from a test CA made here
// (kafka.tls.ca is the CA's PEM); kafka.saslBootstrap is localhost:<port>.
// The controller and the PLAINTEXT listener stay as they are.
export async function startRealKafka({ topics = [], heap = '1g', sasl = null } = {}) {
  await ensureStack(['kafka']);
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-kafka-'));
  const [port, controller] = [await freePort(), await freePort()];
  const saslPort = sasl ? await freePort() : 0;
  const tls = sasl ? makeTestCA(join(dir, 'tls'), 'kafka-test-ca') : null;
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controller}`];
  const advertised = [...listeners];
  const saslLines = [];
  if (sasl) {
    listeners.push(`SASL_SSL://127.0.0.1:${saslPort}`);
    advertised.push(`SASL_SSL://localhost:${saslPort}`);
    const plainUsers = Object.entries(sasl.users).map(([name, password]) => `user_${name}="${password}"`).join(' ');
    saslLines.push('sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
      'listener.name.sasl_ssl.ssl.keystore.type=PEM', `listener.name.sasl_ssl.ssl.keystore.location=${tls.pem}`);
  }
  const libs = join(stackCache, `kafka-${versions.kafka}`, 'libs', '*');
  writeFileSync(join(dir, 'log4j2.properties'), KAFKA_LOG4J);
  mkdirSync(join(dir, 'data'));
  const props = join(dir, 'server.properties');
  writeFileSync(props, [
    'process.roles=broker,controller', 'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controller}`,
    `listeners=${listeners.join(',')}`, `advertised.listeners=${advertised.join(',')}`,
    'inter.broker.listener.name=PLAINTEXT', 'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL', ...saslLines,
    `log.dirs=${join(dir, 'data')}`, 'num.partitions=1', 'auto.create.topics.enable=false',
    'offsets.topic.replication.factor=1', 'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4', 'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1', 'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2', 'num.io.threads=2', 'log.flush.interval.ms=600000', '',
  ].join('\n'));
  const java = (main, ...args) => ['java', [`-Xms256m`, `-Xmx${heap}`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dir}`, '-cp', libs, main, ...args]];
  // A cluster id is a random UUID in Kafka's base64url form; like Kafka's own,
  // never one that starts with '-', which the tool would take for an option.
  let clusterId;
  do clusterId = randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'));
  const scram = Object.entries(sasl?.users ?? {}).flatMap(([name, password]) =>
    ['--add-scram', `SCRAM-SHA-512=[name="${name}",password="${password}"]`]);
  const [cmd, args] = java('kafka.tools.StorageTool', 'format', '--standalone', `--cluster-id=${clusterId}`, '--config', props, ...scram);
  const formatted = await run(cmd, args, { timeoutMs: 120000 });
  if (formatted.code !== 0) throw new Error(`Kafka storage format failed:\n${formatted.stdout}${formatted.stderr}`);

  const service = Object.assign(restartable('kafka', dir, () => {
    const mark = service.log().length;
    const [c, a] = java('kafka.Kafka', props);
    return spawnLogged('kafka', dir, c, a, { ready: (log) => log().slice(mark).includes('Kafka Server started') });
  }), {
    port, bootstrap: `127.0.0.1:${port}`, tls, ...(sasl ? { saslPort, saslBootstrap: `localhost:${saslPort}` } : {}),
    async createTopics(specs) {
      if (specs.length === 0) return;
      const r = await run(binaries.kafkaTool, ['create', service.bootstrap, ...specs], { timeoutMs: 90000 });
      if (r.code !== 0) throw new Error(`creating topics ${specs.join(' ')} failed: ${r.stderr}`);
    },
  });
  await service.up();
  await service.createTopics(topics);
  return service;
}

// MinIO, built from its Go module: real SigV4 checks, multipart, conditional writes.
// tls: true serves https only, with a certificate from a test CA made here
// (s3.tls.ca is the CA's PEM, s3.url https://127.0.0.1:<port>).
export async function startMinio({ buckets = ['datalake'], tls = false } = {}) {
  await ensureStack(['minio']);
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-minio-'));
  const [port, consolePort] = [await freePort(), await freePort()];
  const accessKey = 'cdcwtest';
  const secretKey = `secret-${randomBytes(8).toString('hex')}`;
  const bin = join(stackCache, 'bin', `minio-${versions.minio}`);
  const env = {
    PATH: process.env.PATH, HOME: dir, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey,
    MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_CALLHOME_ENABLE: 'off',
  };
  // MinIO takes its certificate as public.crt and private.key in --certs-dir.
  const certs = join(dir, 'certs');
  const ca = tls ? makeTestCA(join(dir, 'tls'), 'minio-test-ca') : null;
  if (tls) {
    mkdirSync(certs);
    writeFileSync(join(certs, 'public.crt'), readFileSync(ca.cert));
    writeFileSync(join(certs, 'private.key'), readFileSync(ca.key));
  }
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const health = `${url}/minio/health/ready`;
  const ready = tls
    ? () => new Promise((resolve) => {
      httpsRequest(health, { ca: readFileSync(ca.ca) }, (res) => { res.resume(); resolve(res.statusCode === 200); })
        .on('error', () => resolve(false)).end();
    })
    : async () => (await fetch(health).then((r) => r.status, () => 0)) === 200;
  const service = Object.assign(restartable('minio', dir, () => spawnLogged('minio', dir, bin, [
    'server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`,
    '--certs-dir', certs, '--quiet',
  ], { env, ready })), {
    port, url, accessKey, secretKey, tls: ca,
  });
  await service.up();
  for (const bucket of buckets) {
    const r = await run(binaries.s3Tool, ['check', '--create'], {
      env: { PATH: process.env.PATH, ...s3ClientEnv(service), MINIO_BUCKET: bucket, LOG_LEVEL: 'ERROR' },
    });
    if (r.code !== 0) throw new Error(`creating bucket ${bucket} on MinIO failed: ${r.stderr}`);
  }
  return service;
}

export const venvPython = () => join(stackCache, `venv-prefect-${versions.prefect}`, 'bin', 'python');

// Runs a Python snippet in the stack's virtual environment (pyarrow, DuckDB);
// resolves with what it printed as JSON.
export async function python(code, args = [], { env } = {}) {
  await ensureStack(['prefect']);
  const r = await run(venvPython(), ['-c', code, ...args], { env: env ?? process.env, timeoutMs: 300000 });
  if (r.code !== 0) throw new Error(`python failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// A Prefect 3 server on its default SQLite database, and the shipped flow
// (deploy/prefect/cdc_minio_to_duckdb_flow.py) served as the deployment
// cdc_minio_to_duckdb_flow/dwh-pipeline by a process that runs its flow runs
// against the given S3 server, loading into the DuckDB file prefect.warehouse.
export async function startRealPrefect({ s3 }) {
  await ensureStack(['prefect']);
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-prefect-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/api`;
  const bin = join(stackCache, `venv-prefect-${versions.prefect}`, 'bin');
  const env = {
    PATH: `${bin}:${process.env.PATH}`, HOME: dir, PREFECT_HOME: join(dir, 'home'), PREFECT_API_URL: base,
    PREFECT_SERVER_ANALYTICS_ENABLED: 'false', PREFECT_SERVER_UI_ENABLED: 'false',
    PREFECT_LOGGING_LEVEL: 'INFO', PYTHONUNBUFFERED: '1',
  };
  const warehouse = join(dir, 'warehouse.duckdb');
  let server = null;
  let runner = null;
  const service = {
    name: 'prefect', dir, url: base, warehouse,
    log: () => ['prefect-server', 'prefect-flow'].map((n) => {
      const p = join(dir, `${n}.log`);
      return existsSync(p) ? `--- ${n}\n${readFileSync(p, 'utf8')}` : '';
    }).join('\n'),
    // One API call. Prefect's server answers 503 while its SQLite database is
    // busy (seen under the flow runs' load on 2 cores): asked again then.
    async api(method, path, body) {
      for (let attempt = 1; ; attempt++) {
        const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        if (r.status !== 503 || attempt === 10) return { status: r.status, body: text ? JSON.parse(text) : null };
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    },
    // The flow runs of the deployment, newest first.
    async flowRuns() {
      const r = await service.api('POST', '/flow_runs/filter', {
        deployments: { name: { any_: ['dwh-pipeline'] } }, limit: 200, sort: 'ID_DESC',
      });
      return r.body;
    },
    async stop({ keep = false } = {}) {
      untrack(service);
      await stopProc(runner);
      await stopProc(server);
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  track(service);
  server = await spawnLogged('prefect-server', dir, join(bin, 'prefect'),
    ['server', 'start', '--host', '127.0.0.1', '--port', String(port), '--analytics-off', '--no-ui'], {
      env, timeoutMs: 180000,
      ready: async () => (await fetch(`${base}/health`).then((r) => r.text(), () => '')) === 'true',
    });
  runner = await spawnLogged('prefect-flow', dir, join(bin, 'python'),
    [join(repoRoot, 'deploy', 'prefect', 'cdc_minio_to_duckdb_flow.py')], {
      env: { ...env, MINIO_ENDPOINT: new URL(s3.url).host, MINIO_ACCESS_KEY: s3.accessKey, MINIO_SECRET_KEY: s3.secretKey,
        MINIO_USE_SSL: 'false', WAREHOUSE_PATH: warehouse },
      timeoutMs: 180000,
      ready: async () => (await fetch(`${base}/deployments/name/cdc_minio_to_duckdb_flow/dwh-pipeline`).then((r) => r.status, () => 0)) === 200,
    });
  return service;
}
