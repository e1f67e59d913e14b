/**
 * The frame of every shared-mode fault test (test/integration/shared-faults-*.test.ts): a private
 * Redis (or three-master Cluster) started by the test, a fresh PostgreSQL schema, a fleet of
 * `privtrak serve` instances on them (shared-fleet.ts), an announce load over the instances
 * (shared-load.ts). The test's `chaos` runs its faults under the load; then, with everything
 * healthy, every peer announces its last counters and stops, the delta streams drain to empty,
 * and the sink's totals per user must equal the load's model exactly: raw and credited bytes
 * (freeleech: upload ×2, download ×0) and snatches. Also checked: the swarms' gauges are back to
 * zero, no instance exited that the test did not kill, every instance still answers, a graceful
 * stop exits 0 and leaves the totals as they were.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { KeySpace } from '../../src/storage/redis/keys.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { hashedPasskeyKey } from '../../src/accounting/user-key.js';
import { FREELEECH, SharedFleet } from './shared-fleet.js';
import { passkeyOf, SharedLoad } from './shared-load.js';
import { freshSchema, postgresUrlOrSkip } from './postgres.js';
import { redisBinariesOrSkip, startPrivateRedis, startRedisCluster, type PrivateRedis, type PrivateRedisOptions, type RedisCluster } from './redis-cluster.js';
import { freshPrefix } from './redis.js';
import { TcpProxy } from './tcp-proxy.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const GROUPS = 16;

export interface FaultContext {
  readonly t: TestContext;
  readonly fleet: SharedFleet;
  readonly load: SharedLoad;
  /** The private Redis node (undefined on a cluster). */
  readonly redis: PrivateRedis | undefined;
  readonly cluster: RedisCluster | undefined;
  /** The PostgreSQL connection of the trackers, through a proxy the test may cut (with `sinkProxy`). */
  readonly sinkProxy: TcpProxy | undefined;
  /** A client of the test's own on the keyspace (fails fast while Redis is down). */
  readonly admin: Redis | Cluster;
  readonly keys: KeySpace;
  /** The sink's database (the trackers' own connection may go through sinkProxy). */
  readonly pg: { readonly url: string; readonly schema: string };
  /** Things that happened, for the test's diagnostic line. */
  readonly events: string[];
}

export interface FaultScenario {
  readonly instances: number;
  /** Redis: a private node with these persistence options (default AOF, appendfsync always), or a three-master Cluster. */
  readonly redis: PrivateRedisOptions | 'cluster';
  readonly rate: number;
  readonly storage?: Record<string, unknown>;
  readonly privtrak?: Record<string, unknown>;
  /** The trackers reach PostgreSQL through a TCP proxy (ctx.sinkProxy). */
  readonly sinkProxy?: boolean;
  /**
   * Announces that may have been counted although the load was told "busy": those Redis had run
   * when it was killed or paused, before the reply reached the tracker (at most the announces in
   * flight then). Default 0: every delta in the sink is an accepted announce or one whose reply
   * was lost in flight.
   */
  readonly inDoubt?: number;
  /** The faults, run under the load. The load is stopped after it returns. */
  chaos(ctx: FaultContext): Promise<void>;
}

/** XLEN of every group's delta stream. */
export async function streamLengths(admin: Redis | Cluster, keys: KeySpace): Promise<number[]> {
  return Promise.all(Array.from({ length: keys.groups }, (_, g) => admin.xlen(keys.group(g).d)));
}

async function waitDrained(admin: Redis | Cluster, keys: KeySpace, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lengths = await streamLengths(admin, keys);
    if (lengths.every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`the delta streams did not drain within ${timeoutMs} ms: ${lengths.join(',')}`);
    await sleep(100);
  }
}

interface SinkTotals {
  raw: string;
  credited: string;
  snatches: number;
}

/** The sink's totals per user key (hex), read straight from PostgreSQL. */
async function sinkTotals(url: string, schema: string): Promise<Map<string, SinkTotals>> {
  const sink = new PostgresSink({ url, schema });
  await sink.open();
  try {
    return new Map((await sink.totals({ byTorrent: false })).map((r) => [r.user.toString('hex'), {
      raw: `${r.rawUploaded}/${r.rawDownloaded}`, credited: `${r.uploaded}/${r.downloaded}`, snatches: Number(r.snatched),
    }]));
  } finally {
    await sink.close();
  }
}

/** The model in the sink's terms: user key → totals (users who moved no byte and snatched nothing have no row). */
function modelTotals(load: SharedLoad, secret: Buffer): Map<string, SinkTotals> {
  const out = new Map<string, SinkTotals>();
  for (const [u, e] of load.expected()) {
    out.set(hashedPasskeyKey(secret, passkeyOf(u)).toString('hex'), {
      raw: `${e.up}/${e.down}`,
      credited: `${e.up * BigInt(FREELEECH.upload)}/${e.down * BigInt(FREELEECH.download)}`,
      snatches: e.snatches,
    });
  }
  return out;
}

/** Rows of the sink's delta log: one per delta applied. */
async function deltaCount(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM privtrak_delta_log')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Sums the groups' swarm gauges (`T:n`). */
async function swarmGauges(admin: Redis | Cluster, keys: KeySpace): Promise<{ seeders: number; leechers: number }> {
  const total = { seeders: 0, leechers: 0 };
  for (let g = 0; g < keys.groups; g++) {
    const [s, l] = await admin.hmget(keys.group(g).n, 'seeders', 'leechers');
    total.seeders += Number(s ?? 0);
    total.leechers += Number(l ?? 0);
  }
  return total;
}

/** Runs one fault scenario end to end (see the file comment); skips without Redis binaries or PostgreSQL. */
export async function runFaultScenario(t: TestContext, sc: FaultScenario): Promise<void> {
  if (!redisBinariesOrSkip(t)) return;
  const pgUrl = await postgresUrlOrSkip(t);
  if (pgUrl === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-shared-faults-'));
  const schema = await freshSchema(pgUrl);
  const cleanups: Array<() => Promise<void> | void> = [() => schema.drop(), () => rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  };
  let fleet: SharedFleet | undefined;
  try {
    let redis: PrivateRedis | undefined;
    let cluster: RedisCluster | undefined;
    if (sc.redis === 'cluster') {
      cluster = await startRedisCluster();
      cleanups.push(() => cluster!.stop());
    } else {
      redis = await startPrivateRedis({ appendfsync: 'always', ...sc.redis });
      cleanups.push(() => redis!.stop());
    }
    let sinkProxy: TcpProxy | undefined;
    if (sc.sinkProxy === true) {
      const target = new URL(pgUrl);
      sinkProxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
      cleanups.push(() => sinkProxy!.close());
    }
    const keyPrefix = freshPrefix();
    const keys = new KeySpace(keyPrefix, GROUPS);
    const admin = cluster !== undefined
      ? new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })), { enableOfflineQueue: false, redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 1 } })
      : new Redis(redis!.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
    if (admin instanceof Redis) await admin.connect();
    cleanups.push(() => admin.disconnect());
    fleet = await SharedFleet.start({
      dir, instances: sc.instances, keyPrefix, postgres: { url: pgUrl, schema: schema.name },
      redis: cluster !== undefined ? { clusterNodes: cluster.nodes } : { url: redis!.url },
      storage: sc.storage, privtrak: sc.privtrak, sinkUrl: sinkProxy?.rewrite(pgUrl),
    });
    const f = fleet;
    cleanups.push(() => f.killAll());
    const load = new SharedLoad({ ports: () => f.httpPorts, rate: sc.rate });
    const events: string[] = [];
    load.start();
    try {
      await sc.chaos({ t, fleet: f, load, redis, cluster, sinkProxy, admin, keys, pg: { url: pgUrl, schema: schema.name }, events });
    } finally {
      await load.stop();
    }
    // Everything healthy again: every instance up, then the final round.
    for (let i = 0; i < f.size; i++) assert.ok(f.alive(i), `instance ${i} is running after the chaos`);
    const beforeFinal = { ...load.counts };
    await load.finalRound(30_000);
    assert.equal(load.activePeers, 0, 'every peer stopped');
    await waitDrained(admin, keys, 20_000);
    const want = modelTotals(load, f.secret);
    const got = await sinkTotals(pgUrl, schema.name);
    t.diagnostic(`${events.join('; ')}`);
    t.diagnostic(`announces: ${load.counts.accepted} ok, ${load.counts.busy} refused busy, ${load.counts.closing} closing, `
      + `${load.counts.unreachable} unreachable (${load.counts.lostReplies} replies lost in flight), ${load.counts.otherFailures} other failures (before the final round: ${beforeFinal.accepted} ok, `
      + `${beforeFinal.busy} busy); accepted by event ${JSON.stringify(load.events)}; kills ${f.kills}, restarts ${f.restarts}`);
    if (load.counts.samples.length > 0) t.diagnostic(`samples: ${[...new Set(load.counts.samples)].join(' | ')}`);
    assert.deepEqual(f.unexpectedExits.map((e) => `instance ${e.instance} exited (${e.code ?? e.signal}): ${e.logTail}`), [], 'no tracker exited by itself');
    assert.equal(load.counts.otherFailures, 0, `no failure but "tracker busy"/"closing": ${load.counts.samples.join(' | ')}`);
    assert.ok(load.events.completed > 0 && load.events.stopped > load.users, `whole client lives: ${JSON.stringify(load.events)}`);
    assert.deepEqual(got, want, 'the sink\'s totals per user = the model, to the byte (raw and credited), and the snatches');
    // Every accepted announce is one delta; a refused one is none, except those in doubt (reply lost, Redis gone mid-reply).
    const deltas = await deltaCount(pgUrl, schema.name);
    const extra = deltas - load.counts.accepted;
    t.diagnostic(`deltas applied ${deltas}: ${extra} more than accepted announces (replies lost in flight ${load.counts.lostReplies}, in doubt ${sc.inDoubt ?? 0})`);
    assert.ok(extra >= 0, `every accepted announce made a delta (${deltas} deltas, ${load.counts.accepted} accepted)`);
    assert.ok(extra <= load.counts.lostReplies + (sc.inDoubt ?? 0), `no refused announce was counted (${extra} deltas beyond the accepted announces)`);
    assert.deepEqual(await swarmGauges(admin, keys), { seeders: 0, leechers: 0 }, 'every peer stopped: the swarm gauges are back to zero');
    for (let i = 0; i < f.size; i++) assert.ok((await f.metricsText(i)).includes('privtrak_drain_lease_held'), `instance ${i} still answers`);
    const codes = await f.stopAll();
    assert.deepEqual([...codes.values()], Array.from({ length: f.size }, () => 0), 'a graceful stop exits 0');
    assert.deepEqual(await sinkTotals(pgUrl, schema.name), want, 'unchanged after the instances stopped');
  } catch (err) {
    if (fleet !== undefined) for (let i = 0; i < fleet.size; i++) t.diagnostic(`instance ${i} log tail:\n${fleet.log(i).slice(-2500)}`);
    throw err;
  } finally {
    await cleanup();
  }
}

/** Polls `check` every 50 ms until it is true; throws after `ms`. Returns the time it took. */
export async function waitUntil(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

/**
 * Takes Redis away with `down`, keeps it away for `outageMs` and checks that announces meanwhile
 * are refused as busy (and none accepted), brings it back with `up`, and waits (bounded) until
 * announces are accepted again. Records what happened in ctx.events.
 */
export async function redisOutage(ctx: FaultContext, what: string, outageMs: number, down: () => Promise<void>, up: () => Promise<void>): Promise<void> {
  const { load, events } = ctx;
  await down();
  const busy0 = load.counts.busy;
  // Announces already past Redis when it went away may still be answered: count from a moment later.
  await sleep(300);
  const accepted0 = load.counts.accepted;
  await sleep(Math.max(0, outageMs - 300));
  const refused = load.counts.busy - busy0;
  const acceptedDuring = load.counts.accepted - accepted0;
  await up();
  const accepted1 = load.counts.accepted;
  const resumeMs = await waitUntil(`service resumes after ${what}`, 15_000, () => load.counts.accepted > accepted1 + 20);
  events.push(`${what}: ${refused} announces refused busy during ${outageMs} ms, ${acceptedDuring} accepted; service back ${resumeMs} ms after Redis`);
  assert.ok(refused > 0, `announces were refused as busy during ${what}`);
  assert.equal(acceptedDuring, 0, `no announce accepted while Redis was away (${what})`);
}
