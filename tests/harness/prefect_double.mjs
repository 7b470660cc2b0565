// prefect_double.mjs -- a test double of the two Prefect REST calls cdc-writer
// makes, in its own process. It records every request and can be told to fail.
//
//   node tests/harness/prefect_double.mjs [FLOW/DEPLOYMENT ...]
//
// Prints its API base URL ("http://127.0.0.1:PORT/api") on the first line of
// stdout. Exits when stdin closes or on SIGTERM.
//
// Prefect's routes, as the real server answers them:
//   GET  /api/deployments/name/{flow}/{deployment}  200 {id,...} | 404 {"detail":"Deployment not found"}
//   POST /api/deployments/{id}/create_flow_run      201 new run | 200 run with the same
//        idempotency_key | 422 body not a JSON object or unknown keys | 404 unknown deployment
// Control routes for tests:
//   GET  /_control/requests           every request received, in order
//   POST /_control/deployments        {"flow","deployment"} -> {"id"}
//   POST /_control/fail               {"status":503,"times":2,"path":"create_flow_run"}: the
//        next `times` requests whose path contains `path` answer `status`
//        ("status":"hang": they are never answered)
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const deployments = new Map(); // "flow/deployment" -> id
const runsByKey = new Map(); // deploymentId + idempotency key -> run
const requests = [];
const failures = [];
const ALLOWED_RUN_KEYS = new Set([
  'name', 'parameters', 'context', 'state', 'tags', 'idempotency_key', 'parent_task_run_id',
  'work_queue_name', 'job_variables', 'enforce_parameter_schema', 'labels',
]);

for (const spec of process.argv.slice(2)) {
  deployments.set(spec, randomUUID());
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function takeFailure(path) {
  const f = failures.find((x) => x.times > 0 && path.includes(x.path ?? ''));
  if (!f) return null;
  f.times -= 1;
  return f.status;
}

function handle(req, res, raw) {
  const url = new URL(req.url, 'http://localhost');
  const path = url.pathname;
  if (path.startsWith('/_control/')) {
    if (req.method === 'GET' && path === '/_control/requests') return send(res, 200, requests);
    const body = raw.length ? JSON.parse(raw) : {};
    if (req.method === 'POST' && path === '/_control/deployments') {
      const id = randomUUID();
      deployments.set(`${body.flow}/${body.deployment}`, id);
      return send(res, 200, { id });
    }
    if (req.method === 'POST' && path === '/_control/fail') {
      failures.push({ status: body.status ?? 503, times: body.times ?? 1, path: body.path ?? '' });
      return send(res, 200, { ok: true });
    }
    return send(res, 404, { detail: 'Not Found' });
  }

  let parsed = null;
  let bodyIsJson = false;
  try {
    parsed = raw.length ? JSON.parse(raw) : null;
    bodyIsJson = raw.length > 0;
  } catch {
    bodyIsJson = false;
  }
  requests.push({
    method: req.method,
    path,
    authorization: req.headers.authorization ?? null,
    contentType: req.headers['content-type'] ?? null,
    body: bodyIsJson ? parsed : raw || null,
  });

  const failStatus = takeFailure(path);
  if (failStatus === 'hang') return undefined; // the client's time-out is under test
  if (failStatus) return send(res, failStatus, { detail: `injected failure ${failStatus}` });

  let m = path.match(/^\/api\/deployments\/name\/([^/]+)\/([^/]+)$/);
  if (m && req.method === 'GET') {
    const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    const id = deployments.get(key);
    if (!id) return send(res, 404, { detail: 'Deployment not found' });
    const [flow, name] = key.split('/');
    return send(res, 200, { id, name, flow_name: flow, parameters: {}, tags: [] });
  }
  m = path.match(/^\/api\/deployments\/([^/]+)\/create_flow_run$/);
  if (m && req.method === 'POST') {
    const deploymentId = m[1];
    if (![...deployments.values()].includes(deploymentId)) {
      return send(res, 404, { detail: 'Deployment not found' });
    }
    if (!bodyIsJson || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return send(res, 422, { exception_message: 'Invalid request received.', exception_detail: [{ msg: 'body must be a JSON object' }] });
    }
    const unknown = Object.keys(parsed).filter((k) => !ALLOWED_RUN_KEYS.has(k));
    if (unknown.length) {
      return send(res, 422, { exception_message: 'Invalid request received.', exception_detail: unknown.map((k) => ({ loc: ['body', k], msg: 'extra fields not permitted' })) });
    }
    const key = parsed.idempotency_key ? `${deploymentId}/${parsed.idempotency_key}` : null;
    if (key && runsByKey.has(key)) return send(res, 200, runsByKey.get(key));
    const run = {
      id: randomUUID(),
      deployment_id: deploymentId,
      name: parsed.name ?? `run-${requests.length}`,
      parameters: parsed.parameters ?? {},
      idempotency_key: parsed.idempotency_key ?? null,
      state: { type: 'SCHEDULED', name: 'Scheduled' },
    };
    if (key) runsByKey.set(key, run);
    return send(res, 201, run);
  }
  return send(res, 404, { detail: 'Not Found' });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      handle(req, res, Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      send(res, 500, { detail: String(e) });
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/api\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
