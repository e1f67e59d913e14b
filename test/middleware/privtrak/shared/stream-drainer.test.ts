/**
 * The shared mode's stream drainer against the real Redis (test/support/redis.ts: a key prefix of
 * its own per test, deleted afterwards) and real sinks (SQLite in a temp dir; PostgreSQL in a
 * schema of its own when reachable). Entries are XADDed here in the design's format (entry ID
 * `<seq>-1`, field `r` = encodeRecord of a delta whose seq is the group's), as pt_counted writes them.
 */
import { describe, it, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { StreamDrainer, type StreamDrainerOptions } from '../../../../src/middleware/privtrak/shared/stream-drainer.js';
import { DrainMetrics } from '../../../../src/middleware/privtrak/shared/drain-metrics.js';
import { DrainLease } from '../../../../src/middleware/privtrak/shared/drain-lease.js';
import { drainKeys } from '../../../../src/middleware/privtrak/shared/drain-keys.js';
import { SqliteSink } from '../../../../src/sinks/sqlite-sink.js';
import { PostgresSink } from '../../../../src/sinks/postgres-sink.js';
import type { DeltaSink } from '../../../../src/sinks/sink.js';
import { RecordBatch } from '../../../../src/accounting/record-batch.js';
import { encodeRecord } from '../../../../src/accounting/delta-record.js';
import { delta, USER_A, USER_B } from '../../../sinks/sink-suite.js';
import { deletePrefix, freshPrefix, redisUrlOrSkip } from '../../../support/redis.js';
import { postgresUrlOrSkip, freshSchema } from '../../../support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-drainer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const logger = pino({ level: 'silent' });
const GROUPS = 4;

/** Delta `seq` of group g: user A or B by parity, 2^(seq mod 40) bytes up, so a sum says which seqs were applied. */
const bytesOf = (seq: number) => 2 ** (seq % 40);
const record = (g: number, seq: number) => encodeRecord(delta(seq, {
  user: seq % 2 ? USER_A : USER_B, infoHash: Buffer.alloc(20, g + 1), deltaUp: bytesOf(seq),
}));

interface Setup {
  redis: Redis;
  prefix: string;
  sink: DeltaSink;
  /** XADDs group g's seqs from..to. */
  add(g: number, from: number, to: number): Promise<void>;
  drainer(over?: Partial<StreamDrainerOptions>): { drainer: StreamDrainer; metrics: DrainMetrics };
  /** Uploaded bytes in the sink over all users. */
  uploaded(): Promise<bigint>;
  /** What the sink should hold for group seqs applied exactly once. */
  expected(ranges: Array<[g: number, from: number, to: number]>): bigint;
  xlen(g: number): Promise<number>;
}

async function setup(t: TestContext, sinkKind: 'sqlite' | 'postgres' = 'sqlite'): Promise<Setup | undefined> {
  const url = await redisUrlOrSkip(t);
  if (url === undefined) return undefined;
  let sink: DeltaSink;
  if (sinkKind === 'postgres') {
    const pgUrl = await postgresUrlOrSkip(t);
    if (pgUrl === undefined) return undefined;
    const schema = await freshSchema(pgUrl);
    t.after(() => schema.drop());
    sink = new PostgresSink({ url: pgUrl, schema: schema.name });
    await sink.migrate();
  } else {
    sink = new SqliteSink({ path: join(dir, `s${n++}.sqlite`) });
  }
  await sink.open();
  const redis = new Redis(url);
  const prefix = freshPrefix();
  const keys = drainKeys(prefix, GROUPS);
  const drainers: StreamDrainer[] = [];
  const clients: Redis[] = [];
  t.after(async () => {
    for (const d of drainers) await d.stop();
    for (const c of clients) c.disconnect();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await sink.close();
  });
  return {
    redis, prefix, sink,
    async add(g, from, to) {
      for (let seq = from; seq <= to; seq++) await redis.xadd(keys.stream(g), `${seq}-1`, 'r', record(g, seq));
    },
    drainer(over = {}) {
      const metrics = new DrainMetrics(new Registry());
      const client = redis.duplicate();
      clients.push(client);
      const drainer = new StreamDrainer(client, sink, {
        keyPrefix: prefix, groups: GROUPS, batchSize: 10, intervalMs: 20, leaseMs: 1000, holderId: `h${n++}`, maxBackoffMs: 200, ...over,
      }, metrics, logger);
      drainers.push(drainer);
      return { drainer, metrics };
    },
    async uploaded() {
      return (await sink.totals({ byTorrent: false })).reduce((s, r) => s + r.uploaded, 0n);
    },
    expected(ranges) {
      let sum = 0n;
      for (const [, from, to] of ranges) for (let s = from; s <= to; s++) sum += BigInt(bytesOf(s));
      return sum;
    },
    xlen: (g) => redis.xlen(keys.stream(g)),
  };
}

const value = async (m: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await m.get()).values[0]?.value ?? 0;

async function until(what: string, cond: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('stream drainer', () => {
  for (const kind of ['sqlite', 'postgres'] as const) {
    it(`applies every stream entry exactly once, across groups and batches, and trims what it applied (${kind})`, async (t) => {
      const s = await setup(t, kind);
      if (s === undefined) return;
      await s.add(0, 1, 25);
      await s.add(2, 1, 7);
      const { drainer, metrics } = s.drainer();
      await drainer.drainOnce();
      assert.ok(drainer.holding);
      assert.equal(await s.uploaded(), s.expected([[0, 1, 25], [2, 1, 7]]));
      assert.equal((await s.sink.load(`${s.prefix}g0`)).appliedThrough, 25);
      assert.equal((await s.sink.load(`${s.prefix}g2`)).appliedThrough, 7);
      assert.equal((await s.sink.load(`${s.prefix}g1`)).appliedThrough, 0);
      assert.deepEqual([await s.xlen(0), await s.xlen(2)], [0, 0], 'applied entries are trimmed');
      assert.equal(await value(metrics.drained), 32);
      // More entries later, and rounds with nothing new: each seq counted once.
      await s.add(0, 26, 30);
      await drainer.drainOnce();
      await drainer.drainOnce();
      assert.equal(await s.uploaded(), s.expected([[0, 1, 30], [2, 1, 7]]));
      assert.equal(await value(metrics.drained), 37);
      assert.equal(await value(metrics.leaseHeld), 1);
    });
  }

  it('with two drainers running at once, only the lease holder writes; when it stops the other takes over', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    const a = s.drainer();
    const b = s.drainer();
    a.drainer.start();
    b.drainer.start();
    for (let i = 0; i < 20; i++) {
      await s.add(i % GROUPS, Math.floor(i / GROUPS) * 10 + 1, Math.floor(i / GROUPS) * 10 + 10);
      await new Promise((r) => setTimeout(r, 10));
    }
    const all: Array<[number, number, number]> = Array.from({ length: GROUPS }, (_, g) => [g, 1, 50]);
    await until('all 200 deltas applied', async () => (await s.uploaded()) === s.expected(all));
    const [da, db] = [await value(a.metrics.drained), await value(b.metrics.drained)];
    assert.equal(da + db, 200);
    assert.ok(da === 0 || db === 0, `one drainer wrote everything (a: ${da}, b: ${db})`);
    assert.notEqual(a.drainer.holding, b.drainer.holding, 'exactly one holds the lease');
    const [holder, other] = a.drainer.holding ? [a, b] : [b, a];
    await holder.drainer.stop(); // releases the lease: the other takes over without waiting for the ttl
    await s.add(1, 51, 60);
    await until('the other drainer applied the rest', async () => (await value(other.metrics.drained)) === 10);
    assert.equal(await s.uploaded(), s.expected([...all, [1, 51, 60]]));
    assert.ok(other.drainer.holding);
  });

  it('refuses a paused drainer that resumes with an old token (FencedError at the sink): nothing written twice or lost', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    // A believes its lease lasts a minute: it neither renews nor re-checks within this test.
    const a = s.drainer({ leaseMs: 60_000 });
    await s.add(0, 1, 5);
    await a.drainer.drainOnce();
    assert.equal(a.drainer.lease.token > 0 && a.drainer.holding, true);
    // A is paused past its lease: the key expires (deleted here), B takes the lease and drains.
    await s.redis.del(drainKeys(s.prefix, GROUPS).lease);
    const b = s.drainer();
    await s.add(0, 6, 8);
    await b.drainer.drainOnce();
    assert.ok(b.drainer.lease.token > a.drainer.lease.token);
    await s.add(0, 9, 10);
    // A resumes: it still thinks it holds the lease and applies 6..10 with its old token.
    await a.drainer.drainOnce();
    assert.equal(await value(a.metrics.fenced), 1, 'the sink refused the old token');
    assert.equal(a.drainer.holding, false, 'A stopped draining at once');
    assert.equal(await s.uploaded(), s.expected([[0, 1, 8]]), 'nothing of A\'s stale batch was written');
    await a.drainer.drainOnce(); // A tries the lease again: B has it
    assert.equal(a.drainer.holding, false);
    await b.drainer.drainOnce();
    assert.equal(await s.uploaded(), s.expected([[0, 1, 10]]));
    assert.equal(await value(a.metrics.drained), 5);
    assert.equal(await value(b.metrics.drained), 5);
  });

  it('counts nothing twice after a crash between the sink\'s commit and the stream trim', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    await s.add(3, 1, 8);
    // The crashed holder: took the lease, applied 1..5 with its token, died before XTRIM.
    const keys = drainKeys(s.prefix, GROUPS);
    const crashed = new DrainLease(s.redis, keys, 'crashed', 60_000);
    assert.ok(await crashed.acquire());
    const applied = Buffer.concat(Array.from({ length: 5 }, (_, i) => record(3, i + 1)));
    await s.sink.apply(new RecordBatch(keys.instance(3), applied, { name: keys.fenceName, token: crashed.token }));
    await s.redis.del(keys.lease); // its lease ran out
    assert.equal(await s.xlen(3), 8, 'the applied entries are still in the stream');
    const { drainer, metrics } = s.drainer();
    await drainer.drainOnce();
    assert.equal(await s.uploaded(), s.expected([[3, 1, 8]]));
    assert.equal(await value(metrics.drained), 3, 'only 6..8 were new');
    assert.equal(await s.xlen(3), 0);
  });

  it('backs off while the sink fails, keeping the entries in the stream, and drains them once it is back', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    await s.add(1, 1, 4);
    const { drainer, metrics } = s.drainer({ maxBackoffMs: 300 });
    await s.sink.close(); // a real failure: the sink is not open
    await drainer.drainOnce();
    assert.equal(await value(metrics.failures), 1);
    assert.equal(await s.xlen(1), 4, 'nothing was trimmed');
    await s.sink.open();
    await drainer.drainOnce(); // within the backoff: not retried yet
    assert.equal(await value(metrics.drained), 0);
    await new Promise((r) => setTimeout(r, 350));
    await drainer.drainOnce();
    assert.equal(await value(metrics.drained), 4);
    assert.equal(await s.uploaded(), s.expected([[1, 1, 4]]));
  });

  it('refuses a stream entry that is not a delta record of its ID\'s seq, applying nothing of the batch', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    await s.add(0, 1, 2);
    await s.redis.xadd(drainKeys(s.prefix, GROUPS).stream(0), '3-1', 'r', record(0, 4)); // seq 4 under ID 3-1
    const { drainer, metrics } = s.drainer();
    await drainer.drainOnce();
    assert.equal(await value(metrics.failures), 1);
    assert.equal(await s.uploaded(), 0n);
    assert.equal(await s.xlen(0), 3);
  });
});
