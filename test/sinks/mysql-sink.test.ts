/**
 * The MySQL/MariaDB sink against the real server (test/support/mysql.ts: 127.0.0.1:3306, root,
 * no password), each sink in a database of its own (privtrak_t_<random>), dropped afterwards, so
 * this file can run beside others. Unreachable: FAIL when CI=true, otherwise skip.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { MysqlSink } from '../../src/sinks/mysql-sink.js';
import type { DeltaSink } from '../../src/sinks/sink.js';
import { SCHEMA_VERSION, schemaStatements } from '../../src/sinks/sql-schema.js';
import { createSink, sinkOptionsSchema } from '../../src/sinks/index.js';
import { FencedError, SinkSchemaError, SinkTimeoutError } from '../../src/sinks/sink-errors.js';
import { runSinkSuite, delta, USER_A, USER_B, IH1 } from './sink-suite.js';
import { MYSQL_URL, freshDatabase, mysqlExec, mysqlProblem } from '../support/mysql.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const unreachable = await mysqlProblem();

if (unreachable !== undefined) {
  describe('mysql sink', () => {
    if (process.env['CI'] === 'true') {
      it('needs MariaDB in CI', () => assert.fail(`MariaDB is required in CI but unreachable at ${MYSQL_URL}: ${unreachable}`));
    } else {
      it('needs MariaDB', { skip: `MariaDB not reachable at ${MYSQL_URL} (${unreachable})` }, () => {});
    }
  });
} else {
  const drops: Array<() => Promise<void>> = [];
  const dropAll = async () => {
    for (const drop of drops.splice(0)) await drop();
  };
  const database = async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    return db;
  };
  const migrated = async (opts: { deltaLog?: boolean; timeoutMs?: number; chunkRows?: number } = {}) => {
    const db = await database();
    const sink = new MysqlSink({ url: db.url, ...opts });
    await sink.migrate();
    await sink.open();
    return { sink, db };
  };

  const urls = new WeakMap<DeltaSink, string>();
  runSinkSuite('mysql', async () => {
    const { sink, db } = await migrated({ deltaLog: true, chunkRows: 2 });
    urls.set(sink, db.url);
    return sink;
  }, dropAll, {
    secondSink: async (sink) => {
      const other = new MysqlSink({ url: urls.get(sink)! });
      await other.open();
      return other;
    },
    // A 15-byte user id violates CHECK (length(user_id) = 16) in the second of the batch's statements.
    atomicFailure: async (sink) => {
      await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }), /CONSTRAINT/i);
    },
  });

  describe('mysql sink', () => {
    after(dropAll);

    it('refuses to open without the schema and names `privtrak migrate`; migrate is idempotent', async () => {
      const db = await database();
      const sink = new MysqlSink({ url: db.url });
      try {
        await assert.rejects(sink.open(), (err: unknown) => err instanceof SinkSchemaError && /run `privtrak migrate`/.test(err.message));
        await sink.migrate();
        await sink.migrate();
        await sink.open();
        const [versions] = await mysqlExec(db.url, ['SELECT version FROM privtrak_schema_version']);
        assert.deepEqual(versions, [{ version: SCHEMA_VERSION }]);
      } finally {
        await sink.close();
      }
    });

    it('a schema 2 database (no privtrak_fences) is refused at open, then `migrate` adds the table and keeps its totals', async () => {
      const db = await database();
      const v2 = schemaStatements('mysql').filter((sql) => !sql.includes('privtrak_fences'));
      await mysqlExec(db.url, [...v2, 'INSERT INTO privtrak_schema_version (version) VALUES (2)']);
      const sink = new MysqlSink({ url: db.url });
      try {
        await assert.rejects(sink.open(), (err: unknown) => err instanceof SinkSchemaError && /schema version 2, this privtrak needs 3: run `privtrak migrate`/.test(err.message));
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 5 })] }); // an unfenced batch needs no fence table
        await sink.migrate();
        await sink.open();
        await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 7 })], fence: { name: 'drain', token: 2 } });
        await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 9 })], fence: { name: 'drain', token: 1 } }), FencedError);
        assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 12n);
        const [versions] = await mysqlExec(db.url, ['SELECT version FROM privtrak_schema_version ORDER BY 1']);
        assert.deepEqual(versions, [{ version: 2 }, { version: 3 }]);
      } finally {
        await sink.close();
      }
    });

    it('creates InnoDB tables with the binary ids of the shared schema', async () => {
      const { sink, db } = await migrated();
      await sink.close();
      const [tables] = await mysqlExec(db.url, [[`SELECT table_name AS t, engine AS e FROM information_schema.tables WHERE table_schema = ? ORDER BY 1`, [db.name]]]);
      assert.deepEqual(tables, ['privtrak_batches', 'privtrak_delta_log', 'privtrak_fences', 'privtrak_schema_version', 'privtrak_torrent_stats', 'privtrak_user_stats']
        .map((t) => ({ t, e: 'InnoDB' })));
      const [cols] = await mysqlExec(db.url, [[`SELECT column_type AS c FROM information_schema.columns
        WHERE table_schema = ? AND table_name = 'privtrak_torrent_stats' AND column_name IN ('user_id', 'info_hash', 'uploaded') ORDER BY column_name`, [db.name]]]);
      assert.deepEqual(cols, [{ c: 'varbinary(20)' }, { c: 'bigint(20)' }, { c: 'varbinary(16)' }]);
    });

    it('keeps totals exact up to 2^63 and stores nothing of a batch that would overflow BIGINT', async () => {
      const { sink, db } = await migrated();
      try {
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 1 })] });
        // A lifetime of uploads: 2^62 + 1 already stored (beyond any double's exactness).
        await mysqlExec(db.url, [`UPDATE privtrak_user_stats SET uploaded = ${2n ** 62n + 1n}`, `UPDATE privtrak_torrent_stats SET uploaded = ${2n ** 62n + 1n}`]);
        await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 2 ** 53 - 1 })] });
        const expected = 2n ** 62n + 1n + (2n ** 53n - 1n);
        assert.equal((await sink.totals({ user: USER_A, byTorrent: false }))[0]!.uploaded, expected);
        assert.equal((await sink.totals({ user: USER_A, byTorrent: true }))[0]!.uploaded, expected);
        // Past 2^63 - 1 the server refuses the upsert: the batch fails whole, mark included.
        await mysqlExec(db.url, [`UPDATE privtrak_user_stats SET uploaded = ${2n ** 63n - 2n}`]);
        await assert.rejects(sink.apply({ id: 4, instance: 'a', deltas: [delta(3, { user: USER_B, deltaUp: 5 }), delta(4, { deltaUp: 2 })] }), /out of range/i);
        assert.equal((await sink.load('a')).appliedThrough, 2);
        assert.deepEqual(await sink.totals({ user: USER_B, byTorrent: false }), []);
      } finally {
        await sink.close();
      }
    });

    it('writes the delta log only for applied deltas, and only when asked', async () => {
      const on = await migrated({ deltaLog: true });
      const off = await migrated({ deltaLog: false });
      try {
        for (const { sink } of [on, off]) {
          await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { deltaUp: 5, event: 'started', ip: '::1' }), delta(2, { snatch: true, event: 'completed' })] });
          await sink.apply({ id: 3, instance: 'a', deltas: [delta(2), delta(3, { flags: 2, user: USER_B })] });
        }
        const [log] = await mysqlExec(on.db.url, [`SELECT instance, seq, event, ip, delta_up, snatch, flags, hex(user_id) AS u FROM privtrak_delta_log ORDER BY seq`]);
        assert.deepEqual(log, [
          { instance: 'a', seq: 1, event: 'started', ip: '::1', delta_up: 5, snatch: 0, flags: 0, u: USER_A.toString('hex').toUpperCase() },
          { instance: 'a', seq: 2, event: 'completed', ip: '10.0.0.1', delta_up: 0, snatch: 1, flags: 0, u: USER_A.toString('hex').toUpperCase() },
          { instance: 'a', seq: 3, event: 'none', ip: '10.0.0.1', delta_up: 0, snatch: 0, flags: 2, u: USER_B.toString('hex').toUpperCase() },
        ]);
        assert.deepEqual(await mysqlExec(off.db.url, ['SELECT count(*) AS n FROM privtrak_delta_log']), [[{ n: 0 }]]);
      } finally {
        await on.sink.close();
        await off.sink.close();
      }
    });


    it('fails a batch within its timeout when the server stops answering, and applies it once after', async () => {
      const { sink: direct, db } = await migrated();
      await direct.close();
      const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(MYSQL_URL).port || 3306) });
      const sink = new MysqlSink({ url: proxy.rewrite(db.url), timeoutMs: 1000 });
      try {
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 1 })] });
        proxy.freeze(); // mid-session: no RST, packets just stop
        const started = Date.now();
        await assert.rejects(sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 10 })] }), SinkTimeoutError);
        assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms, not within the 1 s timeout`);
        // New connections are black-holed too: the reconnect fails within the timeout as well.
        await assert.rejects(sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 10 })] }));
        assert.ok(Date.now() - started < 6000);
        proxy.restore();
        await sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 10 }), delta(3, { deltaUp: 100, infoHash: IH1 })] });
        assert.equal((await sink.totals({ user: USER_A, byTorrent: false }))[0]!.uploaded, 111n);
        assert.equal((await sink.load('a')).appliedThrough, 3);
        // A connection reset (server restart) is survived the same way: the next apply reconnects.
        proxy.cut();
        await sink.apply({ id: 4, instance: 'a', deltas: [delta(4, { deltaUp: 1000 })] }).catch(() => undefined);
        await sink.apply({ id: 4, instance: 'a', deltas: [delta(4, { deltaUp: 1000 })] });
        assert.equal((await sink.totals({ user: USER_A, byTorrent: false }))[0]!.uploaded, 1111n);
      } finally {
        await sink.close();
        await proxy.close();
      }
    });

    it('is built by createSink from the `sink:` options (mysql:// and mariadb://, timeout as a duration)', async () => {
      assert.throws(() => sinkOptionsSchema.parse({ name: 'mysql' }), /url/);
      assert.throws(() => sinkOptionsSchema.parse({ name: 'mysql', url: 'postgres://h/db' }), /mysql:\/\//);
      assert.throws(() => sinkOptionsSchema.parse({ name: 'mysql', url: 'mysql://root@h' }), /naming a database/);
      assert.throws(() => sinkOptionsSchema.parse({ name: 'mysql', url: 'mysql://root@h/db', timeout: 'soon' }), /not a duration/);
      assert.throws(() => sinkOptionsSchema.parse({ name: 'mysql', url: 'mysql://root@h/db', tables: 'x' }), /tables/);
      const parsed = sinkOptionsSchema.parse({ name: 'mysql', url: 'mariadb://root@h/db', timeout: '5s' });
      assert.deepEqual(parsed, { name: 'mysql', url: 'mariadb://root@h/db', delta_log: false, timeout: 5000 });
      assert.deepEqual(sinkOptionsSchema.parse({ name: 'mysql', url: 'mysql://root@h/db' }), { name: 'mysql', url: 'mysql://root@h/db', delta_log: false, timeout: 30_000 });
      const db = await database();
      const sink = createSink(sinkOptionsSchema.parse({ name: 'mysql', url: db.url.replace(/^mysql:/, 'mariadb:') }));
      assert.equal(sink.name, 'mysql');
      try {
        await sink.migrate();
        await sink.open();
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 3 })] });
        assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 3n);
      } finally {
        await sink.close();
      }
    });
  });
}
