// envelope.mjs -- the benchmarks' Debezium envelope: schemaless, about 1 KB,
// the i-th of a table's rows (the same one in pipeline_bench, peers_bench and
// small_batches_bench, so their figures compare).
const pad = 'x'.repeat(560);

// The envelope's JSON text for row i of table.
export function envelopeValue(i, table) {
  return JSON.stringify({
    before: null,
    after: { id: i, customer_id: i % 9973, status: ['new', 'paid', 'shipped'][i % 3], amount: (i % 100000) / 100,
      email: `user${i % 50000}@example.com`, created_at: 1735689600000000 + i, note: pad },
    source: { version: '2.7.3.Final', connector: 'postgresql', name: 'shop', ts_ms: 1735689600000 + i, db: 'shop',
      schema: 'public', table, txId: i, lsn: 24023128 + i },
    op: 'c', ts_ms: 1735689600000 + i,
  });
}
