// source_services.mjs -- the source side users run in front of cdc-writer, as
// plain processes on 127.0.0.1 at free ports, each in its own temporary
// directory, started and stopped by the test that needs it (stopAll() in
// services.mjs stops them too):
//
//   const pg = await startPostgres();            pg.port; await pg.sql('SELECT 1', { db })
//   await pg.createDatabase('modeA');           await pg.script(text, { db })
//   const connect = await startKafkaConnect({ kafka });
//   await connect.createConnector('name', debeziumConfig({ pg, db, prefix, slot }));
//   await connect.waitRunning('name'); await connect.deleteConnector('name')
//
// PostgreSQL 15 comes from Debian's binaries (/usr/lib/postgresql/15/bin): a
// throwaway cluster with wal_level=logical, run as the user postgres when the
// test runs as root (initdb refuses root). Kafka Connect (standalone) and
// Debezium's PostgreSQL connector come from the cache that
// tests/harness/stack/install.sh fills (component debezium).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { repoRoot, freePort, run, waitFor } from './services.mjs';
import { stackCache, ensureStack, spawnLogged, restartable } from './real_services.mjs';

const stackDir = join(repoRoot, 'tests', 'harness', 'stack');
const pinned = (file, re) => re.exec(readFileSync(join(stackDir, file), 'utf8'))[1];
export const sourceVersions = {
  connect: pinned('connect-runtime.pom.xml', /<connect\.version>([^<]+)</),
  debezium: pinned('debezium-postgres.pom.xml', /<debezium\.version>([^<]+)</),
};

const PG_BIN = '/usr/lib/postgresql/15/bin';

// The user the cluster runs as: postgres when we are root, else ourselves.
function clusterUser() {
  if (process.getuid() !== 0) return null;
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

// A PostgreSQL 15 cluster: superuser postgres, trust authentication on
// 127.0.0.1 only, UTF-8, logical decoding on. pg.sql() runs one statement
// with psql and resolves with its unaligned rows (fields split on the unit
// separator \x1f); pg.script() runs a whole script, stopping at the first error.
export async function startPostgres() {
  await ensureStack(['debezium']);
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-postgres-'));
  const user = clusterUser();
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(sock);
  mkdirSync(data, { mode: 0o700 });
  if (user) {
    chmodSync(dir, 0o755);
    for (const d of [sock, data]) chownSync(d, user.uid, user.gid);
  }
  const port = await freePort();
  const init = await runAs(user, join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], dir);
  if (init.code !== 0) throw new Error(`initdb failed:\n${init.stdout}${init.stderr}`);
  const settings = ['listen_addresses=127.0.0.1', `port=${port}`, `unix_socket_directories=${sock}`,
    'wal_level=logical', 'max_wal_senders=10', 'max_replication_slots=10', 'fsync=off',
    'synchronous_commit=off', 'full_page_writes=off', 'shared_buffers=64MB', 'TimeZone=UTC'];
  const psql = (db, extra) => ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-X',
    '-v', 'ON_ERROR_STOP=1', '-q', ...extra];
  const service = Object.assign(restartable('postgres', dir, () => {
    const mark = service.log().length;
    return spawnLogged('postgres', dir, join(PG_BIN, 'postgres'),
      ['-D', data, ...settings.flatMap((s) => ['-c', s])], {
        user, env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
        ready: (log) => log().slice(mark).includes('database system is ready to accept connections'),
      });
  }), {
    port, host: '127.0.0.1', user: 'postgres', password: 'postgres',
    // Rows of one statement, each an array of its fields' text (null as \N).
    async sql(statement, { db = 'postgres' } = {}) {
      const r = await run('psql', psql(db, ['-A', '-t', '-F', '\x1f', '-P', 'null=\\N', '-c', statement]),
        { env: { PATH: process.env.PATH, PGTZ: 'UTC', PGCLIENTENCODING: 'UTF8' } });
      if (r.code !== 0) throw new Error(`psql (${db}) failed on ${statement.slice(0, 200)}:\n${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\x1f'));
    },
    async script(text, { db = 'postgres' } = {}) {
      const r = await run('psql', psql(db, ['-f', '-']),
        { input: text, env: { PATH: process.env.PATH, PGTZ: 'UTC', PGCLIENTENCODING: 'UTF8' } });
      if (r.code !== 0) throw new Error(`psql script (${db}) failed:\n${r.stderr}`);
      return r.stdout;
    },
    async createDatabase(name) {
      await service.sql(`CREATE DATABASE "${name}"`);
    },
  });
  await service.up();
  return service;
}

function runAs(user, command, args, cwd) {
  if (!user) return run(command, args);
  return run('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--',
    'env', `HOME=${cwd}`, command, ...args]);
}

const CONNECT_LOG4J = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
`;

// The connector configuration the compose stack uses
// (deploy/debezium/postgres-connector.json), pointed at this test's cluster,
// database, topic prefix and slot; overrides add or replace settings.
export function debeziumConfig({ pg, db, prefix, slot, overrides = {} }) {
  const shipped = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'debezium', 'postgres-connector.json'), 'utf8'));
  return {
    ...shipped.config,
    'database.hostname': pg.host, 'database.port': String(pg.port), 'database.user': pg.user,
    'database.password': pg.password, 'database.dbname': db, 'topic.prefix': prefix, 'slot.name': slot,
    // The harness broker creates no topic on demand: Connect creates each one.
    'topic.creation.default.replication.factor': '1', 'topic.creation.default.partitions': '1',
    ...overrides,
  };
}

// Kafka Connect in standalone mode against kafka, with Debezium's PostgreSQL
// connector on its plugin path; connectors are added over its REST API.
export async function startKafkaConnect({ kafka }) {
  await ensureStack(['debezium']);
  const dir = mkdtempSync(join(tmpdir(), 'cdcw-connect-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const libs = join(stackCache, `connect-${sourceVersions.connect}`, 'libs', '*');
  const plugins = join(stackCache, `debezium-postgres-${sourceVersions.debezium}`);
  writeFileSync(join(dir, 'log4j2.properties'), CONNECT_LOG4J);
  const props = join(dir, 'worker.properties');
  writeFileSync(props, [
    `bootstrap.servers=${kafka.bootstrap}`,
    'key.converter=org.apache.kafka.connect.json.JsonConverter',
    'value.converter=org.apache.kafka.connect.json.JsonConverter',
    `offset.storage.file.filename=${join(dir, 'offsets')}`, 'offset.flush.interval.ms=1000',
    `plugin.path=${plugins}`, `listeners=${base}`, '',
  ].join('\n'));
  const api = async (method, path, body) => {
    const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
    return { status: r.status, body: parsed };
  };
  const service = Object.assign(restartable('connect', dir, () => spawnLogged('connect', dir, 'java', [
    '-Xms128m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', libs,
    'org.apache.kafka.connect.cli.ConnectStandalone', props,
  ], {
    timeoutMs: 180000,
    ready: async () => (await fetch(`${base}/connectors`).then((r) => r.status, () => 0)) === 200,
  })), {
    port, url: base, api,
    async createConnector(name, config) {
      const r = await api('PUT', `/connectors/${encodeURIComponent(name)}/config`, config);
      if (r.status !== 200 && r.status !== 201) throw new Error(`creating connector ${name} failed (${r.status}): ${JSON.stringify(r.body)}`);
    },
    async deleteConnector(name) {
      const r = await api('DELETE', `/connectors/${encodeURIComponent(name)}`);
      if (r.status !== 204 && r.status !== 404) throw new Error(`deleting connector ${name} failed (${r.status})`);
    },
    // Resolves once the connector and its task run; a FAILED task throws its trace.
    async waitRunning(name, timeoutMs = 120000) {
      return waitFor(async () => {
        const r = await api('GET', `/connectors/${encodeURIComponent(name)}/status`);
        if (r.status !== 200) return false;
        const task = r.body.tasks?.[0];
        if (task?.state === 'FAILED' || r.body.connector?.state === 'FAILED') {
          throw new Error(`connector ${name} failed: ${task?.trace ?? r.body.connector?.trace}`);
        }
        return r.body.connector?.state === 'RUNNING' && task?.state === 'RUNNING';
      }, { timeoutMs, intervalMs: 250, what: `connector ${name} running`, log: () => service.log() });
    },
  });
  await service.up();
  return service;
}
