// flaky_proxy.mjs -- an HTTP proxy in front of an S3 server that fails on
// demand, to test the object store client's retries. Its own process.
//
//   node tests/harness/flaky_proxy.mjs TARGET_URL
//
// Prints its base URL on the first stdout line. Control routes:
//   POST /_control/plan   [{"method":"PUT","path":"part","status":503,"code":"SlowDown"},
//                          {"drop":true}, ...]: each request takes the first
//                          planned failure it matches, once; {"drop": true} reads
//                          part of the request body, then closes the connection;
//                          {"hold": true} keeps the request until a release.
//   POST /_control/release forwards every held request (as a stalled
//                          client's would arrive late); answers how many.
//   GET  /_control/held    how many requests are held.
//   GET  /_control/requests  every proxied request: {method, path, query, outcome,
//                          contentSha256 (its x-amz-content-sha256 header)}
// Exits when stdin closes or on SIGTERM.
import http from 'node:http';

const target = new URL(process.argv[2]);
const plan = [];
const requests = [];
const held = [];

function errorXml(code, message) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>flaky</RequestId></Error>`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://proxy');
  if (url.pathname === '/_control/plan' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      plan.push(...JSON.parse(Buffer.concat(chunks).toString()));
      res.end('{"ok":true}');
    });
    return;
  }
  if (url.pathname === '/_control/release' && req.method === 'POST') {
    const n = held.length;
    for (const forward of held.splice(0)) forward();
    res.end(JSON.stringify({ released: n }));
    return;
  }
  if (url.pathname === '/_control/held') {
    res.end(JSON.stringify({ held: held.length }));
    return;
  }
  if (url.pathname === '/_control/requests') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(requests));
    return;
  }
  const idx = plan.findIndex((p) => (!p.method || p.method === req.method)
    && (!p.path || `${url.pathname}${url.search}`.includes(p.path)));
  const action = idx >= 0 ? plan.splice(idx, 1)[0] : null;
  const entry = { method: req.method, path: url.pathname, query: url.search, outcome: 'forwarded',
    contentSha256: req.headers['x-amz-content-sha256'] };
  requests.push(entry);
  if (action?.drop) {
    entry.outcome = 'dropped';
    let seen = 0;
    req.on('data', (c) => {
      seen += c.length;
      if (seen > 1024) req.socket.destroy();
    });
    req.on('end', () => req.socket.destroy());
    return;
  }
  if (action?.status) {
    entry.outcome = `failed ${action.status}`;
    req.resume();
    req.on('end', () => {
      const body = errorXml(action.code ?? 'InternalError', action.message ?? 'injected failure');
      res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  const forward = (body) => {
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    if (body === undefined) req.pipe(upstream);
    else upstream.end(body);
  };
  if (action?.hold) {
    entry.outcome = 'held';
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => held.push(() => forward(Buffer.concat(chunks))));
    return;
  }
  forward();
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
