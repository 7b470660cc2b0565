// demo.mjs -- the local default stack and cdc-writer on it (see scripts/demo.sh).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startKafka, startS3, startPrefect, stopAll, produce, run, binaries, repoRoot,
} from '../tests/harness/services.mjs';

const TOPIC = 'cdc.oltp_dabi.public.customers';
const fixtures = join(repoRoot, 'tests', 'fixtures', 'debezium');

function say(text) {
  process.stdout.write(`demo: ${text}\n`);
}

try {
  const kafka = await startKafka({ topics: [`${TOPIC}:2`] });
  say(`Kafka (mock cluster) at ${kafka.bootstrap}, topic ${TOPIC}`);
  const s3 = await startS3({ buckets: ['datalake'] });
  say(`S3 (s3rver) at ${s3.url}, bucket datalake`);
  const prefect = await startPrefect({ deployments: ['cdc_minio_to_duckdb_flow/dwh-pipeline'] });
  say(`Prefect (test double) at ${prefect.url}`);

  const samples = readdirSync(fixtures).filter((f) => f.startsWith('pg_') && f.endsWith('.json')).sort();
  const messages = samples.map((f, i) => ({
    topic: TOPIC,
    partition: i % 2,
    key: JSON.stringify({ id: i }),
    value: JSON.stringify(JSON.parse(readFileSync(join(fixtures, f), 'utf8'))),
  }));
  const delivered = await produce(kafka.bootstrap, messages);
  say(`produced ${delivered.length} Debezium events (${samples.join(', ')})`);

  const env = {
    PATH: process.env.PATH,
    KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap,
    MINIO_ENDPOINT: s3.url.replace(/^http:\/\//, ''),
    MINIO_SECRET_KEY: 'minioadmin',
    WRITE_INTERVAL_SECONDS: '2',
    PREFECT_API_URL: prefect.url,
    HTTP_PORT: '0',
    LOG_LEVEL: 'INFO',
  };
  const check = await run(binaries.cdcWriter, ['--check'], { env });
  say(`cdc-writer --check: exit ${check.code}: ${(check.stdout + check.stderr).trim()}`);

  const daemon = await run(binaries.cdcWriter, [], { env, timeoutMs: 60000 });
  process.stderr.write(daemon.stderr);
  say(`cdc-writer exited with status ${daemon.code}`);
  if (daemon.code !== 0) {
    say('the consume-and-write pipeline is not built yet (issue 6); the stack above is what it will run on');
  }
} finally {
  await stopAll();
  say('stopped every service the demo started');
}
