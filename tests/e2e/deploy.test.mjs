// The container image, the compose stack and the Kubernetes manifest cannot run
// here (no container engine): this checks what can be checked. Each file parses;
// the Dockerfile's runtime packages are exactly those of the libraries the
// built binary links; every variable the files set is one cdc-writer knows;
// the connector's topics match the pattern the writer subscribes to; the
// probes, the secrets as files and the memory sizing agree with the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

import { run, binaries, repoRoot } from '../harness/services.mjs';

const read = (p) => readFileSync(join(repoRoot, p), 'utf8');

// The variables `cdc-writer --help` lists, and which of them are secrets.
async function knownVariables() {
  const r = await run(binaries.cdcWriter, ['--help']);
  assert.equal(r.code, 0);
  const vars = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^ {2}([A-Z][A-Z0-9_]+) +default: /.exec(line);
    if (m) vars.set(m[1], { secret: line.includes('[secret') });
  }
  assert.ok(vars.size > 30, `--help listed ${vars.size} variables`);
  return vars;
}

function assertKnown(vars, name, where) {
  const base = name.endsWith('_FILE') ? name.slice(0, -5) : name;
  if (vars.has(name)) return;
  if (name !== base && vars.get(base)?.secret) return;
  assert.fail(`${where}: ${name} is not a cdc-writer variable`);
}

// "256MiB" / "384Mi" -> bytes.
function bytes(text) {
  const m = /^(\d+)\s*(Ki|Mi|Gi|KiB|MiB|GiB)?$/.exec(String(text));
  assert.ok(m, `not a size: ${text}`);
  return Number(m[1]) * { undefined: 1, Ki: 1024, KiB: 1024, Mi: 1 << 20, MiB: 1 << 20, Gi: 1 << 30, GiB: 1 << 30 }[m[2]];
}

// Debian package of each shared library the binary needs directly.
async function linkedPackages(binary) {
  const dyn = await run('readelf', ['-d', binary]);
  // The sanitizer runtimes of the test build are not the image's business.
  const needed = [...dyn.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
    .filter((lib) => !/^lib(asan|ubsan|lsan|tsan)\.so/.test(lib))
    .filter((lib) => !/^ld-linux/.test(lib)); // the dynamic loader, libc6's, which the base image has
  assert.ok(needed.includes('libssl.so.3'), needed.join(' '));
  assert.ok(!needed.some((lib) => lib.startsWith('librdkafka')), `librdkafka is linked statically (the pinned build): ${needed.join(' ')}`);
  const ldd = (await run('ldd', [binary])).stdout;
  const packages = new Set();
  for (const lib of needed) {
    const path = new RegExp(`^\\s*${lib.replaceAll('.', '\\.')} => (\\S+)`, 'm').exec(ldd)?.[1];
    assert.ok(path, `ldd does not resolve ${lib}`);
    let owner = await run('dpkg', ['-S', path]);
    if (owner.code !== 0) owner = await run('dpkg', ['-S', `/usr${path}`]);
    assert.equal(owner.code, 0, `no package owns ${path}`);
    packages.add(owner.stdout.split(':')[0]);
  }
  return packages;
}

function installedBy(stage) {
  const m = /apt-get install -y --no-install-recommends\s*\\\n([\s\S]*?)&& rm -rf/.exec(stage);
  assert.ok(m, 'an apt-get install line');
  return new Set(m[1].replaceAll('\\', ' ').split(/\s+/).filter(Boolean));
}

test('Dockerfile: multi-stage, bookworm-slim, non-root, the exact runtime libraries, a HEALTHCHECK', async () => {
  const text = read('Dockerfile');
  const stages = text.split(/^FROM /m).slice(1);
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  assert.match(stages[0], /^debian:bookworm-slim AS build\n/);
  assert.match(stages[0], /scripts\/build-librdkafka\.sh/, 'the build stage links the pinned librdkafka');
  assert.match(stages[0], /-DCDCW_RDKAFKA_PREFIX=/);
  const runtime = stages[1];
  assert.match(runtime, /^debian:bookworm-slim\n/);
  assert.match(runtime, /^COPY --from=build \/build\/cdc-writer \/usr\/local\/bin\/cdc-writer$/m);
  assert.match(runtime, /^ENTRYPOINT \["\/usr\/local\/bin\/cdc-writer"\]$/m);
  const user = /^USER (\S+)$/m.exec(runtime)?.[1];
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as ${user}`);
  assert.match(runtime, /useradd --system --uid 10001/);
  assert.match(runtime, /^HEALTHCHECK .*\n\s+CMD curl -fsS "http:\/\/127\.0\.0\.1:\$\{HTTP_PORT\}\/healthz"/m);

  const expected = await linkedPackages(binaries.cdcWriter);
  expected.delete('libc6'); // in the base image
  for (const extra of ['ca-certificates', 'curl']) expected.add(extra);
  assert.deepEqual([...installedBy(runtime)].sort(), [...expected].sort(), 'runtime packages = linked libraries');

  // The build stage has the -dev package of every pkg-config module CMake asks for (tests aside).
  const cmake = read('CMakeLists.txt');
  // librdkafka aside: the image builds the pinned one (CDCW_RDKAFKA_PREFIX).
  const modules = [...cmake.matchAll(/pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+)\)/g)].map((m) => m[1])
    .filter((mod) => mod !== 'rdkafka');
  assert.ok(modules.length >= 7);
  const dev = installedBy(stages[0]);
  for (const mod of modules) {
    const pc = await run('pkg-config', ['--variable=pcfiledir', mod]);
    const owner = await run('dpkg', ['-S', `${pc.stdout.trim()}/${mod}.pc`]);
    assert.equal(owner.code, 0, `no package owns ${mod}.pc`);
    const pkg = owner.stdout.split(':')[0];
    assert.ok(dev.has(pkg), `build stage lacks ${pkg} (for ${mod})`);
  }
  assert.ok(existsSync(join(repoRoot, '.dockerignore')));
});

test('docker-compose.yml: the whole stack, pinned images, variables cdc-writer knows, topics it matches', async () => {
  const compose = parse(read('docker-compose.yml'));
  const services = compose.services;
  for (const name of ['postgres', 'kafka', 'connect', 'register-connector', 'minio', 'prefect', 'cdc-writer']) {
    assert.ok(services[name], `service ${name}`);
  }
  for (const [name, s] of Object.entries(services)) {
    assert.ok(s.image || s.build, `${name} has an image or a build`);
    if (s.image && !s.build) assert.match(s.image, /:[\w.-]+$/, `${name}: pinned tag`);
    if (s.image && !s.build) assert.doesNotMatch(s.image, /:latest$/, `${name}: not latest`);
    for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(services[dep], `${name} depends on ${dep}`);
    for (const v of s.volumes ?? []) {
      const host = v.split(':')[0];
      if (host.startsWith('./')) assert.ok(existsSync(join(repoRoot, host)), `${name}: ${host} exists`);
    }
    for (const secret of s.secrets ?? []) assert.ok(compose.secrets[secret], `${name}: secret ${secret} defined`);
  }
  for (const s of Object.values(compose.secrets)) assert.ok(existsSync(join(repoRoot, s.file)), s.file);
  assert.match(services.postgres.command.join(' '), /wal_level=logical/);
  assert.equal(services.kafka.environment.KAFKA_PROCESS_ROLES, 'broker,controller', 'KRaft, no ZooKeeper');
  // The same versions as the real services the tests run (tests/harness/stack/).
  const pins = read('tests/harness/stack/kafka-runtime.pom.xml') + read('tests/harness/stack/requirements.txt');
  const kafkaVersion = /<kafka\.version>([^<]+)</.exec(pins)[1];
  const prefectVersion = /^prefect==(\S+)/m.exec(pins)[1];
  assert.equal(services.kafka.image, `apache/kafka:${kafkaVersion}`);
  for (const name of ['prefect', 'prefect-flow']) assert.match(services[name].image, new RegExp(`^prefecthq/prefect:${prefectVersion.replaceAll('.', '\\.')}-`));
  assert.ok(services['prefect-flow'].volumes.includes('./deploy/prefect:/flow:ro'), 'the flow service runs the shipped flow');
  assert.match(services['prefect-flow'].command.join(' '), /python \/flow\/cdc_minio_to_duckdb_flow\.py/);
  for (const dep of ['duckdb', 'minio', 'pyarrow']) {
    const v = new RegExp(`^${dep}==(\\S+)`, 'm').exec(pins)[1];
    assert.match(services['prefect-flow'].command.join(' '), new RegExp(`${dep}==${v.replaceAll('.', '\\.')}`), `${dep} as pinned`);
  }

  const vars = await knownVariables();
  const env = services['cdc-writer'].environment;
  for (const name of Object.keys(env)) assertKnown(vars, name, 'docker-compose.yml cdc-writer');
  for (const original of ['KAFKA_BOOTSTRAP_SERVERS', 'KAFKA_TOPIC_PATTERN', 'CONSUMER_GROUP_ID', 'MINIO_ENDPOINT', 'MINIO_BUCKET', 'WRITE_INTERVAL_SECONDS', 'PREFECT_API_URL']) {
    assert.ok(original in env, `sets ${original}`);
  }
  assert.equal(env.KAFKA_BOOTSTRAP_SERVERS, 'kafka:29092');
  assert.ok(services.kafka.environment.KAFKA_ADVERTISED_LISTENERS.includes('PLAINTEXT://kafka:29092'));
  assert.equal(env.MINIO_SECRET_KEY_FILE, '/run/secrets/minio_secret_key');

  // The connector's topics (<topic.prefix>.<schema>.<table>) are the ones the writer subscribes to.
  const connector = JSON.parse(read('deploy/debezium/postgres-connector.json'));
  assert.equal(connector.config['connector.class'], 'io.debezium.connector.postgresql.PostgresConnector');
  assert.equal(connector.config['value.converter'], 'org.apache.kafka.connect.json.JsonConverter');
  assert.equal(services.connect.environment.BOOTSTRAP_SERVERS, env.KAFKA_BOOTSTRAP_SERVERS);
  const pattern = new RegExp(env.KAFKA_TOPIC_PATTERN);
  const tables = [...read('deploy/postgres/init.sql').matchAll(/^CREATE TABLE (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(tables, ['customers', 'orders']);
  for (const t of tables) {
    const m = pattern.exec(`${connector.config['topic.prefix']}.public.${t}`);
    assert.ok(m, `topic of ${t} matches ${env.KAFKA_TOPIC_PATTERN}`);
    assert.equal(m[1], t, 'capture group 1 is the table');
  }
});

test('Kubernetes manifest: replicas in one group, probes, secrets as files, memory from MAX_BUFFER_BYTES', async () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/cdc-writer.yaml')).map((d) => {
    assert.equal(d.errors.length, 0, String(d.errors[0]));
    return d.toJS();
  });
  const config = docs.find((d) => d.kind === 'ConfigMap');
  const deployment = docs.find((d) => d.kind === 'Deployment');
  assert.ok(config && deployment);
  assert.ok(deployment.spec.replicas >= 2, 'several replicas share the group');
  const vars = await knownVariables();
  for (const name of Object.keys(config.data)) assertKnown(vars, name, 'ConfigMap');
  assert.ok(config.data.CONSUMER_GROUP_ID, 'one consumer group for every replica');

  const pod = deployment.spec.template.spec;
  assert.ok(pod.securityContext.runAsNonRoot);
  assert.equal(pod.securityContext.runAsUser, 10001, 'the image\'s user');
  const [init] = pod.initContainers;
  assert.deepEqual(init.args, ['--check']);
  const [c] = pod.containers;
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.ports.find((p) => p.name === c.livenessProbe.httpGet.port).containerPort, Number(config.data.HTTP_PORT));
  const mount = c.volumeMounts.find((v) => v.name === 'credentials');
  const secretVolume = pod.volumes.find((v) => v.name === 'credentials').secret;
  for (const container of [init, c]) {
    for (const e of container.env) {
      assertKnown(vars, e.name, `${container.name} env`);
      assert.match(e.name, /_FILE$/, 'secrets come as files');
      assert.ok(e.value.startsWith(`${mount.mountPath}/`));
      assert.ok(secretVolume.items.some((i) => `${mount.mountPath}/${i.path}` === e.value), `${e.value} is mounted`);
    }
  }
  assert.ok(pod.terminationGracePeriodSeconds >= 60, 'time to flush on SIGTERM');

  const buffer = bytes(config.data.MAX_BUFFER_BYTES);
  const request = bytes(c.resources.requests.memory);
  const limit = bytes(c.resources.limits.memory);
  assert.equal(request, buffer + 128 * (1 << 20), 'requests.memory = MAX_BUFFER_BYTES + 128 MiB');
  assert.equal(limit, 2 * buffer, 'limits.memory = 2 x MAX_BUFFER_BYTES');
  assert.ok(request >= buffer + 64 * (1 << 20));
});
