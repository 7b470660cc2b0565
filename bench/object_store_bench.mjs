// object_store_bench.mjs -- cdc-writer's S3 client against curl --aws-sigv4,
// in one run, on the same local s3rver: 200 objects of 64 KiB and 4 objects
// of 64 MiB each. curl uploads everything of a size in one process over one
// kept-alive connection; curl -T sends x-amz-content-sha256: UNSIGNED-PAYLOAD.
// cdc-writer is measured three ways:
//   signed      one connection, one put after another, body hashed into the
//               signature (MINIO_PAYLOAD_SIGNING=signed, the default over http)
//   unsigned    the same with UNSIGNED-PAYLOAD, as curl sends (the default over https)
//   uploader    the daemon's own upload path: MINIO_UPLOAD_CONCURRENCY=4 workers,
//               each with its own connection, bodies signed
// Every client runs ROUNDS times, alternating, and its best run counts: the
// machine's other work and s3rver's garbage collection make single runs vary
// by 20%. s3rver's directory is on tmpfs (/dev/shm) when there is one, so the
// kernel's write-back of earlier runs does not land in later ones.
//
//   node bench/object_store_bench.mjs [BUILD_DIR]       (ROUNDS=3 by default)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startS3, stopAll } from '../tests/harness/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = process.argv[2] ?? join(root, 'build');
const rounds = Number(process.env.ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'cdcw-osbench-'));
const s3dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cdcw-osbench-s3-'));
const fmt = (x, d = 1) => x.toFixed(d);
const ours = [
  { name: 'cdc-writer signed', env: { MINIO_PAYLOAD_SIGNING: 'signed' }, args: [] },
  { name: 'cdc-writer unsigned', env: { MINIO_PAYLOAD_SIGNING: 'unsigned' }, args: [] },
  { name: 'cdc-writer uploader', env: { MINIO_PAYLOAD_SIGNING: 'signed' }, args: ['--workers', '4'] },
];
try {
  const s3 = await startS3({ buckets: ['datalake'], dir: s3dir });
  const host = new URL(s3.url).host;
  const env = { ...process.env, MINIO_ENDPOINT: host, MINIO_ACCESS_KEY: 'S3RVER', MINIO_SECRET_KEY: 'S3RVER',
    MINIO_BUCKET: 'datalake', LOG_LEVEL: 'WARNING' };
  for (const [count, size] of [[200, 64 << 10], [4, 64 << 20]]) {
    const file = join(dir, `payload-${size}`);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 13;
    writeFileSync(file, data);
    const args = ['-s', '-f', '-o', '/dev/null', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', 'S3RVER:S3RVER',
      '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD'];
    for (let i = 0; i < count; i++) {
      args.push('-T', file, `${s3.url}/datalake/bench/curl/${size}/${String(i).padStart(6, '0')}.bin`);
    }
    const clients = [
      ...ours.map((o) => ({ name: o.name, run: () => JSON.parse(execFileSync(join(build, 'tests', 's3_tool'),
        [...o.args, 'bench', String(count), String(size)], { env: { ...env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
        .toString()).seconds })),
      { name: 'curl --aws-sigv4', run: () => {
        const start = process.hrtime.bigint();
        execFileSync('curl', args);
        return Number(process.hrtime.bigint() - start) / 1e9;
      } },
    ];
    const best = new Map();
    for (let r = 0; r < rounds; r++) {
      for (const c of (r % 2 ? [...clients].reverse() : clients)) {
        const s = c.run();
        best.set(c.name, Math.min(best.get(c.name) ?? Infinity, s));
      }
    }
    const label = `${count} x ${size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`}`;
    const curlSecs = best.get('curl --aws-sigv4');
    for (const c of clients) {
      const secs = best.get(c.name);
      console.log(`${label.padEnd(12)} ${c.name.padEnd(20)} ${fmt(count / secs).padStart(7)} objects/s`
        + ` ${fmt(count * size / secs / 1e6).padStart(7)} MB/s  ${fmt(curlSecs / secs, 2)}x curl`);
    }
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  rmSync(s3dir, { recursive: true, force: true });
}
