// s3_server.mjs -- s3rver (a local S3 implementation) in its own process.
//
//   node --openssl-legacy-provider tests/harness/s3_server.mjs [--port N] [--tls CERT KEY] DIR [BUCKET...]
//
// Serves path-style S3 on 127.0.0.1 at a random port (or N), storing objects under
// DIR, with the given buckets created. Prints its base URL on the first line
// of stdout. Exits when stdin closes (its parent went away) or on SIGTERM.
// s3rver does NOT verify request signatures: the signer has its own tests.
import { readFileSync } from 'node:fs';
import S3rver from 's3rver';

const args = process.argv.slice(2);
let tls = null;
let port = 0;
if (args[0] === '--port') {
  port = Number(args[1]);
  args.splice(0, 2);
}
if (args[0] === '--tls') {
  tls = { cert: readFileSync(args[1]), key: readFileSync(args[2]) };
  args.splice(0, 3);
}
const [dir, ...buckets] = args;
if (!dir) {
  console.error('usage: s3_server.mjs DIR [BUCKET...]');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
  ...(tls ?? {}),
});
const listening = await server.run();
process.stdout.write(`${tls ? 'https' : 'http'}://127.0.0.1:${listening.port}\n`);

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  await server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
