// The object store client against s3rver, a failing proxy, TLS and a local
// directory, through tests/tools/s3_tool (configured by MINIO_* like the daemon).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

import { startS3, startFlakyProxy, stopAll, run, binaries } from '../harness/services.mjs';
import { startMinio } from '../harness/real_services.mjs';

let dir;
before(() => { dir = mkdtempSync(join(tmpdir(), 'cdcw-os-')); });
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b) => createHash('sha256').update(b).digest('hex');

function envFor(url, extra = {}) {
  const u = new URL(url);
  return {
    PATH: process.env.PATH,
    MINIO_ENDPOINT: u.host,
    MINIO_USE_SSL: u.protocol === 'https:' ? 'true' : 'false',
    MINIO_ACCESS_KEY: 'S3RVER',
    MINIO_SECRET_KEY: 'S3RVER',
    MINIO_BUCKET: 'datalake',
    MINIO_RETRY_BASE_MS: '20',
    LOG_LEVEL: 'WARNING',
    ...extra,
  };
}

// The client's environment for a started server (MinIO's credentials, or s3rver's).
const envOf = (server, extra = {}) => envFor(server.url, {
  MINIO_ACCESS_KEY: server.accessKey ?? 'S3RVER', MINIO_SECRET_KEY: server.secretKey ?? 'S3RVER', ...extra,
});

// Requests as MinIO checks them (every signature) and as s3rver takes them.
const servers = { MinIO: startMinio, s3rver: startS3 };

async function s3(env, ...args) {
  const r = await run(binaries.s3Tool, args, { env });
  const lines = r.stderr.trim().split('\n');
  const counters = JSON.parse(lines.pop());
  return { ...r, counters, errors: lines.join('\n') };
}

function file(name, bytes) {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

for (const [serverName, startServer] of Object.entries(servers)) test(`${serverName}: put, get and list with prefix and paging; keys with =, spaces, +, ~, ü and %`, async () => {
  const server = await startServer();
  const env = envOf(server);
  assert.equal((await s3(env, 'check')).code, 0);
  const keys = [
    'cdc_events/customers/year=2026/month=11/day=24/customers_20261124T101500Z_p0_o0000000000000000042.parquet',
    'cdc_events/customers/year=2026/month=11/day=24/a b+c~d.parquet',
    'cdc_events/customers/year=2026/month=11/day=25/m\u00fcnchen 100%.parquet',
    'cdc_events/orders/year=2026/month=11/day=24/x.parquet',
  ];
  const bodies = keys.map((k, i) => randomBytes(1000 + i * 7919));
  for (let i = 0; i < keys.length; i++) {
    const r = await s3(env, 'put', keys[i], file(`b${i}`, bodies[i]));
    assert.equal(r.code, 0, r.errors);
  }
  for (let i = 0; i < keys.length; i++) {
    const out = join(dir, `out${i}`);
    const r = await s3(env, 'get', keys[i], out);
    assert.equal(r.code, 0, r.errors);
    assert.equal(sha(readFileSync(out)), sha(bodies[i]), `${keys[i]} round-trips byte for byte`);
  }
  for (let p = 1; p <= 4; p++) {
    const r = await s3(env, 'put', `cdc_events/customers/year=2026/month=12/day=01/f${p}.parquet`, file('small', 'x'));
    assert.equal(r.code, 0, r.errors);
  }
  const listed = await s3(env, 'list', 'cdc_events/customers/', '2');
  assert.equal(listed.code, 0, listed.errors);
  const names = listed.stdout.trim().split('\n').map((l) => l.slice(0, l.lastIndexOf(' ')));
  assert.equal(names.length, 7, 'every page was followed');
  assert.ok(listed.counters.requests >= 4, `paging took ${listed.counters.requests} requests`);
  assert.ok(names.includes(keys[2]));
  assert.ok(!names.some((n) => n.startsWith('cdc_events/orders/')));
  assert.deepEqual(names, [...names].sort());
});

test('multipart: 12 MiB in 5 MiB parts round-trips byte-identical, streamed or not', async () => {
  const server = await startS3();
  const proxy = await startFlakyProxy(server.url);
  const env = envFor(proxy.url);
  const big = randomBytes(12 << 20);
  const path = file('big', big);
  const opts = ['--part-size', String(5 << 20), '--threshold', String(6 << 20)];
  let r = await s3(env, ...opts, 'put', 'big/object.bin', path);
  assert.equal(r.code, 0, r.errors);
  r = await s3(env, ...opts, 'stream', 'big/streamed.bin', path, String(300000));
  assert.equal(r.code, 0, r.errors);
  for (const key of ['big/object.bin', 'big/streamed.bin']) {
    const out = join(dir, 'bigout');
    r = await s3(env, 'get', key, out);
    assert.equal(r.code, 0, r.errors);
    assert.equal(sha(readFileSync(out)), sha(big), `${key} is byte-identical`);
  }
  const seen = await proxy.requests();
  const parts = seen.filter((q) => q.method === 'PUT' && q.query.includes('partNumber'));
  assert.equal(parts.length, 6, 'three parts per upload: 5 + 5 + 2 MiB');
  assert.equal(seen.filter((q) => q.method === 'POST' && q.query.includes('uploadId')).length, 2, 'two completions');
});

// A multipart put sends each part from the caller's bytes: s3_tool holds the
// file once, so its peak memory stays well under twice the object (before,
// the object was copied whole into the upload's buffer first).
test('multipart put: no copy of the object, peak memory under 1.5 times its size', async () => {
  const minio = await startMinio();
  assert.equal((await s3(envOf(minio), 'check', '--create')).code, 0);
  const size = 96 << 20;
  const path = file('huge', randomBytes(size));
  const r = await s3(envOf(minio), '--part-size', String(8 << 20), '--threshold', String(8 << 20),
    'put', 'huge/object.bin', path);
  assert.equal(r.code, 0, r.errors);
  assert.equal(r.counters.requests, 14, 'create, 12 parts, complete');
  const peak = r.counters.max_rss_kib * 1024;
  console.log(`multipart put of ${size >> 20} MiB: peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(peak < size * 1.5, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB for a ${size >> 20} MiB object`);
});

test('HeadBucket on a missing bucket gives a clear error', async () => {
  const server = await startS3();
  const r = await s3(envFor(server.url, { MINIO_BUCKET: 'no-such-bucket' }), 'check');
  assert.equal(r.code, 1);
  assert.match(r.errors, /bucket 'no-such-bucket' does not exist at 127\.0\.0\.1:\d+ \(HTTP 404; set MINIO_CREATE_BUCKET=true to create it\)/);
  const created = await s3(envFor(server.url, { MINIO_BUCKET: 'no-such-bucket' }), 'check', '--create');
  assert.equal(created.code, 0, created.errors);
  assert.equal((await s3(envFor(server.url, { MINIO_BUCKET: 'no-such-bucket' }), 'check')).code, 0);
});

test('retries: 503 twice then success; 403 fails at once with its code; a dropped upload is retried intact', async () => {
  const server = await startS3();
  const proxy = await startFlakyProxy(server.url);
  const env = envFor(proxy.url);
  const body = randomBytes(200000);
  const path = file('retry', body);

  await proxy.plan([{ method: 'PUT', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
    { method: 'PUT', status: 503, code: 'ServiceUnavailable' }]);
  let r = await s3(env, 'put', 'retry/a.bin', path);
  assert.equal(r.code, 0, r.errors);
  assert.equal(r.counters.retries, 2);
  assert.equal(r.counters.requests, 3);

  await proxy.plan([{ method: 'PUT', status: 403, code: 'AccessDenied', message: 'Access Denied' }]);
  r = await s3(env, 'put', 'retry/b.bin', path);
  assert.equal(r.code, 1);
  assert.equal(r.counters.requests, 1, '403 is never retried');
  assert.match(r.errors, /PutObject retry\/b\.bin: HTTP 403 AccessDenied: Access Denied \(attempt 1 of 6\)/);

  await proxy.plan([{ method: 'PUT', drop: true }]);
  r = await s3(env, 'put', 'retry/c.bin', path);
  assert.equal(r.code, 0, r.errors);
  assert.equal(r.counters.retries, 1);
  const out = join(dir, 'retry-out');
  r = await s3(env, 'get', 'retry/c.bin', out);
  assert.equal(sha(readFileSync(out)), sha(body), 'the retried upload is not corrupted');

  await proxy.plan([{ status: 400, code: 'RequestTimeout', message: 'Your socket connection to the server was not read from or written to within the timeout period.' }]);
  r = await s3(env, 'put', 'retry/d.bin', path);
  assert.equal(r.code, 0, r.errors);
  assert.equal(r.counters.retries, 1, '400 RequestTimeout is retried');

  await proxy.plan([{ status: 400, code: 'InvalidArgument', message: 'bad' }]);
  r = await s3(env, 'put', 'retry/e.bin', path);
  assert.equal(r.code, 1);
  assert.equal(r.counters.retries, 0, 'other 400s are not');

  await proxy.plan(Array.from({ length: 6 }, () => ({ status: 500, code: 'InternalError', message: 'boom' })));
  r = await s3(env, 'put', 'retry/f.bin', path);
  assert.equal(r.code, 1);
  assert.match(r.errors, /HTTP 500 InternalError: boom \(attempt 6 of 6\)/);
});

test('payload signing: bodies hashed into the signature over http by default, UNSIGNED-PAYLOAD when asked', async () => {
  const server = await startS3();
  const proxy = await startFlakyProxy(server.url);
  const body = randomBytes(70000);
  const path = file('signing', body);
  for (const [mode, expected] of [[undefined, sha(body)], ['signed', sha(body)], ['unsigned', 'UNSIGNED-PAYLOAD']]) {
    const env = envFor(proxy.url, mode ? { MINIO_PAYLOAD_SIGNING: mode } : {});
    const key = `signing/${mode ?? 'auto'}.bin`;
    const r = await s3(env, 'put', key, path);
    assert.equal(r.code, 0, r.errors);
    const put = (await proxy.requests()).filter((q) => q.method === 'PUT' && q.path.endsWith(key));
    assert.deepEqual(put.map((q) => q.contentSha256), [expected], `MINIO_PAYLOAD_SIGNING=${mode ?? '(auto)'}`);
    const out = join(dir, 'signing-out');
    assert.equal((await s3(env, 'get', key, out)).code, 0);
    assert.equal(sha(readFileSync(out)), sha(body));
  }
  // Requests without a body always carry the empty body's hash.
  const gets = (await proxy.requests()).filter((q) => q.method === 'GET');
  assert.ok(gets.length >= 3);
  for (const q of gets) assert.equal(q.contentSha256, sha(Buffer.alloc(0)));
});

test('TLS: verified with a CA bundle, refused without it, and a loud opt-out', async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const server = await startS3({ tls: { cert, key } });
  assert.match(server.url, /^https:/);
  let r = await s3(envFor(server.url, { MINIO_CA_BUNDLE: cert }), 'check');
  assert.equal(r.code, 0, r.errors);
  r = await s3(envFor(server.url), 'check');
  assert.equal(r.code, 1);
  assert.match(r.errors, /HeadBucket datalake: .*(certificate|SSL)/i);
  assert.equal(r.counters.requests, 1, 'a certificate error is not retried');
  r = await s3(envFor(server.url, { MINIO_TLS_VERIFY: 'false' }), 'check');
  assert.equal(r.code, 0, r.errors);
  assert.match(r.errors, /WARNING +TLS certificate verification of the object store is OFF/);
});

test('file:// target: same keys, written atomically', async () => {
  const root = join(dir, 'lake');
  const env = envFor('http://unused', { MINIO_ENDPOINT: `file://${root}` });
  let r = await s3(env, 'check');
  assert.equal(r.code, 1);
  assert.match(r.errors, /bucket 'datalake' does not exist: no directory/);
  assert.equal((await s3(env, 'check', '--create')).code, 0);
  const body = randomBytes(100000);
  const key = 'cdc_events/t/year=2026/month=11/day=24/a b.parquet';
  r = await s3(env, 'put', key, file('f', body));
  assert.equal(r.code, 0, r.errors);
  assert.equal(sha(readFileSync(join(root, 'datalake', key))), sha(body));
  assert.deepEqual(readdirSync(join(root, 'datalake', 'cdc_events/t/year=2026/month=11/day=24')), ['a b.parquet'],
    'no temporary file is left behind');
  const listed = await s3(env, 'list', 'cdc_events/');
  assert.equal(listed.stdout.trim(), `${key} 100000`);
  r = await s3(env, 'put', '../escape', file('g', 'x'));
  assert.equal(r.code, 1);
  assert.match(r.errors, /not allowed for a file:\/\/ target/);
});

// The metadata a replay reads back (cdc-last-offset): signed x-amz-meta-*
// headers on a single PUT and on CreateMultipartUpload; on file://, beside the bucket.
test('user metadata: stored with single and multipart puts and read back by HEAD; a missing key is an answer', async () => {
  const minio = await startMinio();
  const server = await startS3();
  const root = join(dir, 'metalake');
  for (const env of [envOf(minio), envOf(server), envFor('http://unused', { MINIO_ENDPOINT: `file://${root}`, MINIO_CREATE_BUCKET: 'true' })]) {
    assert.equal((await s3(env, 'check', '--create')).code, 0);
    const opts = ['--part-size', String(5 << 20), '--threshold', String(6 << 20)];
    for (const [key, size] of [['m/small.parquet', 1000], ['m/multi.parquet', 12 << 20]]) {
      let r = await s3(env, ...opts, 'put', key, file('meta-body', randomBytes(size)), `cdc-last-offset=${size + 7}`);
      assert.equal(r.code, 0, r.errors);
      r = await s3(env, 'head', key, 'cdc-last-offset');
      assert.equal(r.code, 0, r.errors);
      assert.deepEqual(JSON.parse(r.stdout), { found: true, value: String(size + 7) }, `${env.MINIO_ENDPOINT} ${key}`);
    }
    let r = await s3(env, 'put', 'm/small.parquet', file('meta-body', 'x'));
    assert.equal(r.code, 0, r.errors);
    r = await s3(env, 'head', 'm/small.parquet', 'cdc-last-offset');
    assert.deepEqual(JSON.parse(r.stdout), { found: true, value: '' }, 'an overwrite without metadata keeps none of the old');
    r = await s3(env, 'head', 'm/absent.parquet', 'cdc-last-offset');
    assert.equal(r.code, 0, r.errors);
    assert.deepEqual(JSON.parse(r.stdout), { found: false, value: '' });
    const listed = await s3(env, 'list', '');
    assert.deepEqual(listed.stdout.trim().split('\n').map((l) => l.split(' ')[0]).sort(), ['m/multi.parquet', 'm/small.parquet'],
      'the metadata is not listed as an object');
  }
});

// MinIO checks every signature: a wrong secret key is refused, with S3's own code.
test('MinIO: a wrong secret key is refused with SignatureDoesNotMatch, and the secret is not in the error', async () => {
  const minio = await startMinio();
  const wrong = 'not-the-secret-of-this-server';
  let r = await s3(envOf(minio, { MINIO_SECRET_KEY: wrong }), 'put', 'k/x.bin', file('wrong', 'x'));
  assert.equal(r.code, 1);
  assert.match(r.errors, /PutObject k\/x\.bin: HTTP 403 SignatureDoesNotMatch/);
  assert.ok(!r.errors.includes(wrong) && !r.stdout.includes(wrong), 'the secret is never printed');
  r = await s3(envOf(minio), 'put', 'k/x.bin', file('right', 'x'));
  assert.equal(r.code, 0, r.errors);
});

// Conditional writes, as the daemon makes them (MINIO_CONDITIONAL_WRITES):
// a key that is taken is not overwritten, single and multipart; MinIO and a
// file:// target refuse, and the file there keeps its bytes and metadata.
test('conditional writes: a taken key is refused, single and multipart, and keeps what it holds', async () => {
  const minio = await startMinio();
  const root = join(dir, 'condlake');
  for (const env of [envOf(minio), envFor('http://unused', { MINIO_ENDPOINT: `file://${root}`, MINIO_CREATE_BUCKET: 'true' })]) {
    assert.equal((await s3(env, 'check', '--create')).code, 0);
    const opts = ['--part-size', String(5 << 20), '--threshold', String(6 << 20)];
    for (const [key, size] of [['c/small.parquet', 1000], ['c/multi.parquet', 12 << 20]]) {
      const first = randomBytes(size);
      let r = await s3(env, ...opts, 'put-new', key, file('cond-1', first), 'cdc-last-offset=41');
      assert.equal(r.code, 0, r.errors);
      assert.deepEqual(JSON.parse(r.stdout), { result: 'stored' }, `${env.MINIO_ENDPOINT} ${key}`);
      r = await s3(env, ...opts, 'put-new', key, file('cond-2', randomBytes(size)), 'cdc-last-offset=99');
      assert.equal(r.code, 0, r.errors);
      assert.deepEqual(JSON.parse(r.stdout), { result: 'exists' }, `${env.MINIO_ENDPOINT} ${key}: refused`);
      const out = join(dir, 'cond-out');
      assert.equal((await s3(env, 'get', key, out)).code, 0);
      assert.equal(sha(readFileSync(out)), sha(first), 'the first file is kept byte for byte');
      r = await s3(env, 'head', key, 'cdc-last-offset');
      assert.deepEqual(JSON.parse(r.stdout), { found: true, value: '41' }, 'and its metadata');
    }
    const listed = await s3(env, 'list', 'c/');
    assert.equal(listed.stdout.trim().split('\n').length, 2, 'no multipart upload left behind as an object');
  }
});
