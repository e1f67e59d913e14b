import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { runSinkSuite, delta, USER_A } from './sink-suite.js';
import { POSTGRES_URL, freshSchema, postgresUrlOrSkip } from '../support/postgres.js';
import pg from 'pg';

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const up = await reachable();
if (!up && process.env['CI'] === 'true') throw new Error(`PostgreSQL is required in CI but unreachable at ${POSTGRES_URL}`);

if (up) {
  const drops: Array<() => Promise<void>> = [];
  runSinkSuite('postgres', async () => {
    const schema = await freshSchema(POSTGRES_URL);
    drops.push(schema.drop);
    const sink = new PostgresSink({ url: POSTGRES_URL, schema: schema.name, deltaLog: true });
    await sink.migrate();
    await sink.open();
    return sink;
  }, {
    baselines: true,
    atomicFailure: async (sink) => {
      await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }));
    },
  });
  describe('postgres sink: operations', () => {
    it('refuses to open without the schema and tells the operator to migrate; migrate is idempotent', async () => {
      const schema = await freshSchema(POSTGRES_URL);
      const sink = new PostgresSink({ url: POSTGRES_URL, schema: schema.name, deltaLog: false });
      try {
        await assert.rejects(sink.open(), /run `privtrak migrate/);
        await sink.migrate();
        await sink.migrate();
        await sink.open();
      } finally {
        await sink.close();
        await schema.drop();
      }
    });
    it('drops the test schemas', async () => {
      for (const d of drops.splice(0)) await d();
    });
  });
} else {
  describe('postgres sink', () => {
    it('needs PostgreSQL', (t) => { void postgresUrlOrSkip(t); });
  });
}
