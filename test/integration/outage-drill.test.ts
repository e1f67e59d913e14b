/**
 * Outage drill (issue 11): a real tracker (in process) with the privtrak hook, its PostgreSQL or
 * MariaDB sink reached through a TCP proxy (test/support/tcp-proxy.ts), under steady announce load.
 *
 * 1. The database stops answering for 12 s (connections frozen, new ones black-holed: no RST, so
 *    only the sink's timeout can notice). Below max_pending no announce fails, memory stays put,
 *    and after recovery the database's totals are exactly what the clients reported.
 * 2. The database is down (connections reset, new ones refused) until pending reaches a small
 *    max_pending: announces are then refused with the retryable "tracker busy", nothing else
 *    fails, and after recovery the totals are exact — a refused announce was not half-counted.
 *
 * The full 10-minute drill at a stated rate is bench/outage-drill.mjs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import type { DeltaSink } from '../../src/sinks/sink.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { MysqlSink } from '../../src/sinks/mysql-sink.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { AnnounceLoad } from '../support/announce-load.js';
import { POSTGRES_URL, freshSchema, postgresUrlOrSkip } from '../support/postgres.js';
import { MYSQL_URL, freshDatabase, mysqlUrlOrSkip } from '../support/mysql.js';

const RATE = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Db {
  /** The sink options, with `url` to be rewritten to the proxy. */
  readonly sink: Record<string, unknown> & { url: string };
  /** A sink straight to the server (migrate, read totals). */
  direct(): DeltaSink;
  drop(): Promise<void>;
}

const databases: Record<string, (t: { skip(m: string): void }) => Promise<Db | undefined>> = {
  postgres: async (t) => {
    if ((await postgresUrlOrSkip(t)) === undefined) return undefined;
    const schema = await freshSchema(POSTGRES_URL);
    return {
      sink: { name: 'postgres', url: POSTGRES_URL, schema: schema.name },
      direct: () => new PostgresSink({ url: POSTGRES_URL, schema: schema.name }),
      drop: schema.drop,
    };
  },
  mysql: async (t) => {
    if ((await mysqlUrlOrSkip(t)) === undefined) return undefined;
    const db = await freshDatabase(MYSQL_URL);
    return { sink: { name: 'mysql', url: db.url }, direct: () => new MysqlSink({ url: db.url }), drop: db.drop };
  },
};

/** Totals per user as sorted [up, down] pairs: compared without assuming how a passkey maps to a user key. */
async function dbTotals(sink: DeltaSink): Promise<string[]> {
  await sink.open();
  try {
    return (await sink.totals({ byTorrent: false })).map((r) => `${r.uploaded}/${r.downloaded}`).sort();
  } finally {
    await sink.close();
  }
}

function expectedTotals(load: AnnounceLoad): string[] {
  return [...load.expected().values()].map((t) => `${t.up}/${t.down}`).sort();
}

async function gauge(tracker: Tracker, name: string): Promise<number> {
  const m = await tracker.metrics.prometheus.getSingleMetric(name)?.get();
  return m?.values.reduce((s, v) => s + v.value, 0) ?? 0;
}

async function drill(db: Db, maxPending: number, body: (ctx: { tracker: Tracker; proxy: TcpProxy; load: AnnounceLoad }) => Promise<void>): Promise<void> {
  const migrator = db.direct();
  await migrator.migrate();
  await migrator.close();
  const target = new URL(db.sink.url);
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-outage-'));
  const tracker = new Tracker(validateConfig({
    metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
    prehooks: [{ name: 'privtrak', options: {
      journal_dir: join(dir, 'journal'), flush_interval: '200ms', max_retry_backoff: '1s', max_pending: maxPending,
      prometheus_reporting_interval: '100ms',
      // A short timeout so a hung connection fails its batch quickly in the test (default 30 s).
      sink: { ...db.sink, url: proxy.rewrite(db.sink.url), timeout: '1s' },
    } }],
  }), pino({ level: 'silent' }), { defaultMetrics: false });
  await tracker.start();
  const load = new AnnounceLoad({ port: tracker.port('http'), rate: RATE });
  let stopped = false;
  try {
    await body({ tracker, proxy, load });
    await load.stop();
    proxy.restore();
    stopped = true;
    assert.deepEqual(await tracker.stop(), [], 'the tracker stops cleanly, everything flushed');
    assert.deepEqual(await dbTotals(db.direct()), expectedTotals(load), 'the database holds exactly what the clients reported');
  } finally {
    if (!stopped) {
      await load.stop();
      proxy.restore();
      await tracker.stop();
    }
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

for (const [name, database] of Object.entries(databases)) {
  describe(`outage drill: ${name}`, () => {
    it('rides out 12 s of a database that stops answering: no announce fails, memory bounded, totals exact after', async (t) => {
      const db = await database(t);
      if (db === undefined) return;
      await drill(db, 200_000, async ({ tracker, proxy, load }) => {
        load.start();
        await sleep(2000);
        assert.ok(await gauge(tracker, 'privtrak_deltas_pending') < RATE, 'before the outage the sink keeps up');
        const rss0 = process.memoryUsage().rss;
        proxy.freeze();
        let peakPending = 0;
        let peakRss = rss0;
        for (let i = 0; i < 24; i++) {
          await sleep(500);
          peakPending = Math.max(peakPending, await gauge(tracker, 'privtrak_deltas_pending'));
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
        }
        assert.deepEqual({ busy: load.counts.busy, failed: load.counts.failed, failures: load.counts.failures }, { busy: 0, failed: 0, failures: [] });
        assert.ok(peakPending > RATE * 8, `the sink was really cut off (pending peaked at ${peakPending})`);
        assert.ok(await gauge(tracker, 'privtrak_flush_failures_total') >= 3, 'hung flushes failed by timeout and were retried');
        assert.ok(peakRss - rss0 < 64 * 1024 * 1024, `RSS grew by ${((peakRss - rss0) / 2 ** 20).toFixed(1)} MB during the outage`);
        proxy.restore();
        const t0 = Date.now();
        while (await gauge(tracker, 'privtrak_deltas_pending') > RATE && Date.now() - t0 < 20_000) await sleep(100);
        assert.ok(Date.now() - t0 < 20_000, 'the backlog drained after recovery');
        await sleep(500);
        await load.stop();
        assert.equal(load.counts.failed, 0, load.counts.failures.join('; '));
        assert.ok(load.counts.accepted > RATE * 14, `steady load throughout (${load.counts.accepted} accepted)`);
      });
    });

    it('refuses announces with the retryable busy error at max_pending, and counts nothing of them', async (t) => {
      const db = await database(t);
      if (db === undefined) return;
      const maxPending = 300;
      await drill(db, maxPending, async ({ tracker, proxy, load }) => {
        load.start();
        await sleep(1000);
        proxy.setMode('refuse');
        proxy.cut();
        const t0 = Date.now();
        while (load.counts.busy < 50 && Date.now() - t0 < 15_000) await sleep(100);
        assert.ok(load.counts.busy >= 50, `announces refused as busy once pending reached max_pending (${load.counts.busy})`);
        assert.ok(await gauge(tracker, 'privtrak_deltas_pending') <= maxPending);
        assert.equal(load.counts.failed, 0, load.counts.failures.join('; '));
        proxy.restore();
        const t1 = Date.now();
        const busy = load.counts.busy;
        while (await gauge(tracker, 'privtrak_deltas_pending') > RATE && Date.now() - t1 < 20_000) await sleep(100);
        await sleep(1500);
        await load.stop();
        assert.equal(load.counts.failed, 0, load.counts.failures.join('; '));
        assert.ok(load.counts.busy - busy < RATE * 3, 'refusals stop once the sink is back');
      });
    });
  });
}
