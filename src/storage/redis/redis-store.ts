/**
 * Swarm storage in Redis, shared by every tracker instance on it. Each operation is one call of
 * the function library (lua/privtrak.lua) on the keys of one group: atomic, one Cluster slot, the
 * group's gauges (`T:n`) updated in the same step, so counts stay exact with any number of
 * instances writing at once (chihaya#471: counters updated outside the transaction went negative).
 * Also the shared accounting step (SharedAccounting, pt_counted) of the privtrak hook.
 *
 * On the announce path any Redis trouble (unreachable, timeout, backlog over its bound) is a
 * ClientError TRACKER_BUSY: retryable, and the function either ran whole or not at all.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Peer, ScrapeCounts, SwarmRole } from '../../bittorrent/types.js';
import { PackedPeerList } from '../../bittorrent/peer-list.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { RedisStorageConfig } from '../../config/schema.js';
import type { AnnounceView, PeerStore } from '../peer-store.js';
import { FN, KeySpace } from './keys.js';
import { createRedisClient, GroupsMismatchError, prepareRedis, redisSettingWarnings, type RedisClient } from './connection.js';
import { LeasedCollector } from './gc.js';
import type { CountedAnnounce, CountedResult, SharedAccounting } from './shared-accounting.js';

/** Swarm changes of pt_announce (op) and the view's role, as the library spells them. */
type Op = 's' | 'l' | 'g' | 'd' | 'v';
const ROLE: Record<SwarmRole, string> = { seeder: 's', leecher: 'l', gone: 'g' };
const FAMILY = { 4: '4', 6: '6' } as const;
/** Fields before the peers in a pt_counted reply. */
const COUNTED_HEAD = 11;

export const DEFAULT_BASELINE_LIFETIME_MS = 7 * 24 * 3600_000;

function busy(cause: unknown): ClientError {
  if (cause instanceof ClientError) return cause;
  const err = new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
  (err as { cause?: unknown }).cause = cause;
  return err;
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_m, auth: string) => `//${auth.includes(':') ? `${auth.slice(0, auth.indexOf(':'))}:***` : auth}@`);
}

/**
 * The view of a reply: counts first, then at index `head` one string of <peer_id 20><compact>
 * pairs, all of the announcer's family (one reply element, whatever the peer count). The reply's
 * Buffer is the list's own: no object per peer (peer-list.ts).
 */
function viewOf(reply: unknown[], head: number, family: 4 | 6): AnnounceView {
  return { peers: new PackedPeerList(reply[head] as Buffer, family), complete: Number(reply[0]), incomplete: Number(reply[1]) };
}

export interface RedisPeerStoreOptions {
  readonly config: RedisStorageConfig;
  readonly clock: Clock;
  /** A client to use instead of one built from `config` (tests). The store owns it either way. */
  readonly client?: RedisClient;
  /** Baselines silent for longer are collected (the privtrak hook's baseline_lifetime; setBaselineLifetime). */
  readonly baselineLifetimeMs?: number;
  /** pt_gc batch size. */
  readonly gcBatch?: number;
  /** Where connection trouble is reported: once when the connection is lost, once when it is back. */
  readonly logger?: Logger;
}

export class RedisPeerStore implements PeerStore, SharedAccounting {
  readonly keys: KeySpace;
  readonly client: RedisClient;
  /** Unique per store instance: the GC lease holder id and the heartbeat's name. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly cfg: RedisStorageConfig;
  private readonly clock: Clock;
  /** Per group bound of `T:d`: ceil(max_stream_entries / groups). */
  private readonly maxStream: number;
  private readonly collector: LeasedCollector;
  private baselineLifetimeMs: number;
  /** Connection errors seen (each failed reconnect attempt counts). */
  connectionErrors = 0;
  /** Library loads after the first (on reconnects, or after 'Function not found'): tests, diagnostics. */
  reloads = 0;
  private lost = false;
  private reloading: Promise<void> | undefined;
  private readonly logger: Logger | undefined;

  constructor(opts: RedisPeerStoreOptions) {
    this.cfg = opts.config;
    this.logger = opts.logger;
    this.clock = opts.clock;
    this.keys = new KeySpace(this.cfg.key_prefix, this.cfg.groups);
    this.client = opts.client ?? createRedisClient(this.cfg);
    this.maxStream = Math.ceil(this.cfg.max_stream_entries / this.cfg.groups);
    this.baselineLifetimeMs = opts.baselineLifetimeMs ?? DEFAULT_BASELINE_LIFETIME_MS;
    const leaseMs = Math.max(2 * this.cfg.gc_interval, 30_000);
    this.collector = new LeasedCollector(this.client, this.keys, this.instanceId, leaseMs, opts.gcBatch);
    // Without a listener ioredis prints every failed reconnect attempt; report a loss once instead.
    this.client.on('error', (err: Error) => {
      this.connectionErrors++;
      if (!this.lost) opts.logger?.warn({ err }, 'Redis connection lost: announces are refused as busy until it is back');
      this.lost = true;
    });
    this.client.on('ready', () => {
      if (this.lost) opts.logger?.info('Redis connection back');
      this.lost = false;
    });
  }

  get groups(): number {
    return this.keys.groups;
  }

  /** `storage.config.key_prefix`: the sink instance of group g's stream is `<keyPrefix>g<g>`. */
  get keyPrefix(): string {
    return this.cfg.key_prefix;
  }

  /** `storage.config.max_stream_entries`: the bound of the delta backlog (all groups), published as privtrak_drain_backlog_limit. */
  get maxStreamEntries(): number {
    return this.cfg.max_stream_entries;
  }

  /** Connects, loads the function library and checks the keyspace's group count. */
  async start(): Promise<void> {
    try {
      await prepareRedis(this.client, this.keys);
    } catch (err) {
      if (err instanceof GroupsMismatchError) throw err;
      const where = this.cfg.cluster_nodes.length > 0 ? `cluster ${this.cfg.cluster_nodes.join(',')}` : redactUrl(this.cfg.url ?? '');
      throw new Error(`storage: cannot start the Redis store at ${where}: ${(err as Error).message}`, { cause: err });
    }
    for (const warning of await redisSettingWarnings(this.client)) this.logger?.warn(`Redis: ${warning}`);
    // A Redis that comes back empty (restarted without persistence) has lost the library: load it
    // again on every reconnect, so service resumes by itself. Until then announces are refused (busy).
    this.client.on('ready', () => {
      prepareRedis(this.client, this.keys).then(() => { this.reloads++; }, () => undefined);
    });
  }

  /** The privtrak hook's baseline_lifetime: baselines silent for longer are collected by the GC walk. */
  setBaselineLifetime(ms: number): void {
    this.baselineLifetimeMs = ms;
  }

  private async fcall(fn: string, keys: Buffer[], args: (string | Buffer)[]): Promise<unknown[]> {
    try {
      return (await this.client.callBuffer('FCALL', fn, keys.length, ...keys, ...args)) as unknown[];
    } catch (err) {
      // A node that lost the library without this client reconnecting (a Cluster master restarted
      // behind ioredis's back): load it again, once at a time; this announce is refused meanwhile.
      if (/Function not found/i.test((err as Error).message ?? '') && this.reloading === undefined) {
        this.reloading = prepareRedis(this.client, this.keys).then(() => { this.reloads++; }, () => undefined)
          .finally(() => { this.reloading = undefined; });
      }
      throw busy(err);
    }
  }

  private announce(op: Op, infoHash: Buffer, peer: Peer, role: SwarmRole, numWant: number): Promise<unknown[]> {
    // One key, the group's tag: the library builds the group's key names from it (lua/privtrak.lua
    // announceContext), so the call carries 8 arguments instead of 17.
    const k = this.keys.group(this.keys.groupOf(infoHash));
    const now = this.clock.nowMs();
    return this.fcall(FN.announce, [k.tag], [
      `${op}${FAMILY[peer.family]}${ROLE[role]}`, peer.id, infoHash, peer.compact, String(now), String(now - this.cfg.peer_lifetime), String(numWant),
    ]);
  }

  async putSeeder(infoHash: Buffer, peer: Peer): Promise<void> {
    await this.announce('s', infoHash, peer, 'seeder', 0);
  }

  async putLeecher(infoHash: Buffer, peer: Peer): Promise<void> {
    await this.announce('l', infoHash, peer, 'leecher', 0);
  }

  async deleteSeeder(infoHash: Buffer, peer: Peer): Promise<void> {
    await this.announce('d', infoHash, peer, 'gone', 0);
  }

  async deleteLeecher(infoHash: Buffer, peer: Peer): Promise<void> {
    await this.announce('d', infoHash, peer, 'gone', 0);
  }

  async graduateLeecher(infoHash: Buffer, peer: Peer): Promise<void> {
    await this.announce('g', infoHash, peer, 'seeder', 0);
  }

  async announceView(infoHash: Buffer, announcer: Peer, role: SwarmRole, numWant: number): Promise<AnnounceView> {
    return viewOf(await this.announce('v', infoHash, announcer, role, numWant), 2, announcer.family);
  }

  async countedAnnounce(a: CountedAnnounce): Promise<CountedResult> {
    // The swarm change the swarm hook would make (swarm-hook.ts), in the same atomic step.
    const op: Op = a.role === 'gone' || a.hidden ? 'd' : a.event === 'completed' ? 'g' : a.role === 'seeder' ? 's' : 'l';
    const g = this.keys.groupOf(a.infoHash);
    const k = this.keys.group(g);
    // The numbers as doubles (exactly the JS values), in one argument.
    const params = Buffer.allocUnsafe(48);
    params.writeDoubleBE(a.numWant, 0);
    params.writeDoubleBE(a.upMult, 8);
    params.writeDoubleBE(a.downMult, 16);
    params.writeDoubleBE(a.maxGapMs, 24);
    params.writeDoubleBE(this.maxStream, 32);
    // A baseline's expiry score is rewritten once its lastMs moved 1/8 of the lifetime past it.
    params.writeDoubleBE(Math.max(1, Math.floor(this.baselineLifetimeMs / 8)), 40);
    const reply = await this.fcall(FN.counted, [k.tag], [
      `${op}${FAMILY[a.peer.family]}${ROLE[a.role]}`, a.peer.id, a.infoHash, a.peer.compact, String(a.nowMs),
      String(a.nowMs - this.cfg.peer_lifetime), a.record, params,
      // The deadline (real clock, not the announce's): Redis refuses the call once we have given up on it (lua, pt_counted).
      String(Date.now() + this.cfg.command_timeout),
    ]);
    const n = (i: number) => Number(reply[i]);
    return {
      view: viewOf(reply, COUNTED_HEAD, a.peer.family),
      outcome: {
        flags: n(2), deltaUp: n(3), deltaDown: n(4), creditUp: n(5), creditDown: n(6), seedTime: n(7), leechTime: n(8),
        snatch: n(9) === 1, seq: n(10), group: g,
      },
    };
  }

  async scrapeSwarm(infoHash: Buffer): Promise<ScrapeCounts> {
    const g = this.keys.groupOf(infoHash);
    const s = this.keys.swarm(infoHash, g);
    const r = await this.fcall(FN.scrape, [s.s4, s.l4, s.s6, s.l6, this.keys.group(g).dl], [infoHash]);
    return { complete: Number(r[0]), incomplete: Number(r[1]), downloaded: Number(r[2]) };
  }

  /**
   * Runs the GC walk if this instance holds the GC lease (else returns 0 at once): every
   * instance's StoreMaintenance calls this, one of them collects. Baselines older than the
   * baseline lifetime go in the same walk.
   */
  async collectGarbage(cutoffMs: number): Promise<number> {
    const r = await this.collector.collect(cutoffMs, this.clock.nowMs() - this.baselineLifetimeMs);
    return r.peers;
  }

  /** The collector itself, for callers that want baselines removed and whether the lease was held. */
  get gc(): LeasedCollector {
    return this.collector;
  }

  /** Sums the groups' gauges (`T:n`): O(groups), no key walk. */
  async stats(): Promise<{ swarms: number; seeders: number; leechers: number }> {
    const rows = await Promise.all(Array.from({ length: this.keys.groups }, (_, g) =>
      this.client.hmget(this.keys.group(g).n, 'swarms', 'seeders', 'leechers')));
    const total = { swarms: 0, seeders: 0, leechers: 0 };
    for (const [sw, se, le] of rows) {
      total.swarms += Number(sw ?? 0);
      total.seeders += Number(se ?? 0);
      total.leechers += Number(le ?? 0);
    }
    return total;
  }

  async stop(): Promise<void> {
    if (this.client.status === 'ready') {
      await this.collector.release().catch(() => undefined);
      await this.client.quit().catch(() => undefined);
    }
    this.client.disconnect();
  }
}
