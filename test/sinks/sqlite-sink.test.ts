import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { runSinkSuite, delta, USER_A } from './sink-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runSinkSuite('sqlite', async () => {
  const sink = new SqliteSink({ path: join(dir, `s${n++}`, 'privtrak.sqlite'), deltaLog: true });
  await sink.open();
  return sink;
}, {
  baselines: true,
  // A 15-byte user id violates the schema's CHECK halfway through the batch.
  atomicFailure: async (sink) => {
    await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }));
  },
});
