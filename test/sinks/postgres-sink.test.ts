/**
 * The PostgreSQL sink against the real server (test/support/postgres.ts: 127.0.0.1:5432, trust
 * auth, database `test`), each sink in a schema of its own, dropped afterwards. Unreachable:
 * FAIL when CI=true, otherwise skip with a one-line reason.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import type { DeltaSink } from '../../src/sinks/sink.js';
import { createSink, sinkOptionsSchema } from '../../src/sinks/index.js';
import { runSinkSuite, delta, USER_A, USER_B } from './sink-suite.js';
import { POSTGRES_URL, freshSchema } from '../support/postgres.js';
import { SCHEMA_VERSION, schemaStatements } from '../../src/sinks/sql-schema.js';
import { FencedError, SinkSchemaError } from '../../src/sinks/sink-errors.js';

async function problem(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const unreachable = await problem();

if (unreachable !== undefined) {
  if (process.env['CI'] === 'true') {
    describe('postgres sink', () => {
      it('needs PostgreSQL in CI', () => {
        assert.fail(`PostgreSQL is required in CI but unreachable at ${POSTGRES_URL}: ${unreachable}`);
      });
    });
  } else {
    describe('postgres sink', () => {
      it('needs PostgreSQL', { skip: `PostgreSQL not reachable at ${POSTGRES_URL} (${unreachable})` }, () => {});
    });
  }
} else {
  const drops: Array<() => Promise<void>> = [];
  const dropAll = async () => {
    for (const drop of drops.splice(0)) await drop();
  };
  const migrated = async (deltaLog: boolean) => {
    const schema = await freshSchema(POSTGRES_URL);
    drops.push(schema.drop);
    const sink = new PostgresSink({ url: POSTGRES_URL, schema: schema.name, deltaLog });
    await sink.migrate();
    await sink.open();
    return { sink, schema: schema.name };
  };
  const query = async (schema: string, sql: string, args: unknown[] = []) => {
    const c = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      return (await c.query(sql, args)).rows;
    } finally {
      await c.end();
    }
  };

  const schemas = new WeakMap<DeltaSink, string>();
  runSinkSuite('postgres', async () => {
    const { sink, schema } = await migrated(true);
    schemas.set(sink, schema);
    return sink;
  }, dropAll, {
    secondSink: async (sink) => {
      const other = new PostgresSink({ url: POSTGRES_URL, schema: schemas.get(sink)! });
      await other.open();
      return other;
    },
    // A 15-byte user id violates CHECK (octet_length(user_id) = 16): the whole statement fails.
    atomicFailure: async (sink) => {
      await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }), /check constraint/);
    },
  });

  describe('postgres sink', () => {
    after(dropAll);

    it('refuses to open without the schema and tells the operator to run `privtrak migrate`; migrate is idempotent', async () => {
      const schema = await freshSchema(POSTGRES_URL);
      drops.push(schema.drop);
      const sink = new PostgresSink({ url: POSTGRES_URL, schema: schema.name });
      try {
        await assert.rejects(sink.open(), /run `privtrak migrate`/);
        await sink.migrate();
        await sink.migrate();
        await sink.open();
        assert.deepEqual(await query(schema.name, 'SELECT version FROM privtrak_schema_version'), [{ version: SCHEMA_VERSION }]);
      } finally {
        await sink.close();
      }
    });

    it('a schema 2 database (no privtrak_fences) is refused at open, then `migrate` adds the table and keeps its totals', async () => {
      const schema = await freshSchema(POSTGRES_URL);
      drops.push(schema.drop);
      // Schema 2 as an older privtrak left it: its tables (no privtrak_fences) and one applied batch.
      const v2 = schemaStatements('postgres').filter((sql) => !sql.includes('privtrak_fences'));
      for (const sql of [...v2, 'INSERT INTO privtrak_schema_version (version) VALUES (2)']) await query(schema.name, sql);
      await query(schema.name, `INSERT INTO privtrak_user_stats (user_id, uploaded, raw_uploaded, first_seen_ms, last_seen_ms) VALUES ($1, 5, 5, 1, 1)`, [USER_A]);
      await query(schema.name, `INSERT INTO privtrak_batches (instance, applied_through, applied_at_ms) VALUES ('a', 1, 1)`);
      const sink = new PostgresSink({ url: POSTGRES_URL, schema: schema.name });
      try {
        await assert.rejects(sink.open(), (err: unknown) => err instanceof SinkSchemaError && /version 2, this privtrak needs 3: run `privtrak migrate`/.test(err.message));
        await sink.migrate();
        await sink.open();
        await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 7 })], fence: { name: 'drain', token: 2 } });
        await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 9 })], fence: { name: 'drain', token: 1 } }), FencedError);
        assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 12n);
        assert.deepEqual(await query(schema.name, 'SELECT version FROM privtrak_schema_version ORDER BY 1'), [{ version: 2 }, { version: 3 }]);
      } finally {
        await sink.close();
      }
    });

    it('migrate creates a schema that does not exist yet', async () => {
      const name = `privtrak_test_new_${process.pid}_${Date.now()}`;
      drops.push(async () => { await query('public', `DROP SCHEMA IF EXISTS ${name} CASCADE`); });
      const sink = new PostgresSink({ url: POSTGRES_URL, schema: name });
      try {
        await assert.rejects(sink.open(), /privtrak migrate/);
        await sink.migrate();
        await sink.open();
      } finally {
        await sink.close();
      }
    });

    it('writes the delta log only for applied deltas, and only when asked', async () => {
      const on = await migrated(true);
      const off = await migrated(false);
      try {
        for (const { sink } of [on, off]) {
          await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { deltaUp: 5, event: 'started', ip: '::1' }), delta(2, { snatch: true, event: 'completed' })] });
          await sink.apply({ id: 3, instance: 'a', deltas: [delta(2), delta(3, { flags: 2, user: USER_B })] });
        }
        assert.deepEqual(await query(on.schema, `SELECT instance, seq::int, event, ip, delta_up::int, snatch, flags, encode(user_id, 'hex') AS u
          FROM privtrak_delta_log ORDER BY seq`), [
          { instance: 'a', seq: 1, event: 'started', ip: '::1', delta_up: 5, snatch: 0, flags: 0, u: USER_A.toString('hex') },
          { instance: 'a', seq: 2, event: 'completed', ip: '10.0.0.1', delta_up: 0, snatch: 1, flags: 0, u: USER_A.toString('hex') },
          { instance: 'a', seq: 3, event: 'none', ip: '10.0.0.1', delta_up: 0, snatch: 0, flags: 2, u: USER_B.toString('hex') },
        ]);
        assert.deepEqual(await query(off.schema, 'SELECT count(*)::int AS n FROM privtrak_delta_log'), [{ n: 0 }]);
      } finally {
        await on.sink.close();
        await off.sink.close();
      }
    });


    it('is built by createSink from the `sink:` options', async () => {
      assert.throws(() => sinkOptionsSchema.parse({ name: 'postgres' }), /url/);
      const schema = await freshSchema(POSTGRES_URL);
      drops.push(schema.drop);
      const sink = createSink(sinkOptionsSchema.parse({ name: 'postgres', url: POSTGRES_URL, schema: schema.name }));
      assert.equal(sink.name, 'postgres');
      try {
        await sink.migrate();
        await sink.open();
      } finally {
        await sink.close();
      }
    });
  });
}
