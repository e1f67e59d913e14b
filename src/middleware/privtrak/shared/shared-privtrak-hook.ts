/**
 * The privtrak hook in shared mode (storage: {name: redis}; design-shared.md): several tracker
 * instances count into one state. Per announce, one atomic step in Redis (SharedAccounting
 * .countedAnnounce, the library's pt_counted) applies the rule table to the peer's baseline kept
 * in Redis, appends the delta record to its group's stream, updates the swarm and reads the
 * reply's view, so a delta exists exactly when its baseline moved, whichever instance took the
 * announce. The view goes to ctx.swarmView: the response hook answers from it and the swarm
 * post-hook does nothing. Every instance runs a StreamDrainer into this hook's sink; the one
 * holding the drain lease writes.
 *
 * No journal, no checkpoints, no local baselines: Redis holds the state (its persistence
 * settings decide what a Redis crash can lose). These `privtrak` options are therefore ignored
 * here: journal_dir (not created, not locked), journal_io, journal_fsync, checkpoint_interval,
 * checkpoint_records, shard_count, gc_interval and baseline_lifetime (baselines expire in Redis:
 * the store's GC), max_pending (the bound is storage.config.max_stream_entries: pt_counted
 * refuses with TRACKER_BUSY over it), instance (the sink's instances are `<key_prefix>g<g>`, one
 * per stream) and peer_lifetime (its gauge). Used: identifier, sink, batch_size (entries per
 * drained batch), flush_interval (how often the drainer wakes), max_retry_backoff.
 *
 * As in single-instance mode, place it last among the pre-hooks: the step that counts the
 * announce also changes the swarm, so a later pre-hook refusing the announce cannot undo either.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AnnounceRequest, AnnounceResponse } from '../../../bittorrent/types.js';
import { roleAfter } from '../../../bittorrent/types.js';
import { ClientError } from '../../../bittorrent/errors.js';
import type { Hook, HookDeps } from '../../hook.js';
import type { RequestContext } from '../../context.js';
import type { DeltaSink } from '../../../sinks/sink.js';
import type { PeerStore } from '../../../storage/peer-store.js';
import type { SharedAccounting } from '../../../storage/redis/shared-accounting.js';
import { encodeRecord } from '../../../accounting/delta-record.js';
import { DeltaScratch } from '../delta-scratch.js';
import type { DeltaOutcome } from '../rules.js';
import { PrivtrakMetrics } from '../metrics.js';
import { RequestUser } from '../request-user.js';
import type { PrivtrakOptions } from '../options.js';
import { StreamDrainer } from './stream-drainer.js';
import { DrainMetrics } from './drain-metrics.js';
import { storeClient, type RedisClient } from './redis-client.js';

/** The record template's outcome: pt_counted writes the real one into the record. */
const ZERO_OUTCOME: DeltaOutcome = { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null };

/** What tests may put in place of the real thing. */
export interface SharedPrivtrakInternals {
  /** The user-key secret itself, instead of reading (or creating) the file. */
  readonly userKeySecret?: Buffer;
  /** The drainer's Redis connection (default: a duplicate of the store's client, closed at stop). */
  readonly drainRedis?: RedisClient;
}

/** How long one busy refusal keeps /ready at 503 (see notReady). */
const BUSY_NOT_READY_MS = 5000;

export type SharedPrivtrakDeps = Pick<HookDeps, 'logger' | 'prometheus' | 'announceIntervalMs' | 'userKeySecretPath' | 'accessRegistry'>;

export class SharedPrivtrakHook implements Hook {
  readonly name = 'privtrak';
  private readonly metrics: PrivtrakMetrics;
  private readonly drainMetrics: DrainMetrics;
  private readonly user: RequestUser;
  private readonly maxGapMs: number;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private readonly scratch = new DeltaScratch();
  private drainer: StreamDrainer | undefined;
  private ownRedis: RedisClient | undefined;
  /** Until when (epoch ms) /ready says busy: set when Redis refuses an announce as busy. */
  private busyUntilMs = 0;

  constructor(
    readonly options: PrivtrakOptions,
    readonly sink: DeltaSink,
    readonly store: PeerStore & SharedAccounting,
    private readonly deps: SharedPrivtrakDeps,
    private readonly internals: SharedPrivtrakInternals = {},
  ) {
    this.metrics = new PrivtrakMetrics(deps.prometheus);
    this.drainMetrics = new DrainMetrics(deps.prometheus, store.maxStreamEntries);
    this.user = new RequestUser(options.identifier, () => this.metrics.refused.labels('identity').inc());
    this.maxGapMs = 2 * deps.announceIntervalMs;
  }

  private get logger(): Logger {
    return this.deps.logger;
  }

  /** The active drainer's state, for tests and status. */
  get drainerHolding(): boolean {
    return this.drainer?.holding ?? false;
  }

  /** Opens the sink and starts this instance's stream drainer. */
  async start(): Promise<void> {
    this.user.start(this.internals.userKeySecret, this.deps.userKeySecretPath, this.deps.accessRegistry === undefined);
    await this.sink.open();
    this.store.setBaselineLifetime(this.options.baseline_lifetime);
    let redis = this.internals.drainRedis;
    if (redis === undefined) {
      const client = storeClient(this.store);
      if (client === undefined) throw new Error('privtrak shared mode: the store lends no Redis client for the stream drainer');
      // A connection of its own: a drained batch (up to batch_size records) must not queue announces behind it.
      redis = this.ownRedis = client.duplicate();
      // The store's client fails fast instead of queueing (no offline queue): connect before the first command.
      if (redis.status === 'wait') await redis.connect();
    }
    this.drainer = new StreamDrainer(redis, this.sink, {
      keyPrefix: this.store.keyPrefix,
      groups: this.store.groups,
      batchSize: this.options.batch_size,
      intervalMs: this.options.flush_interval,
      // A crashed holder blocks draining this long; renewed every third of it.
      leaseMs: Math.max(3000, 10 * this.options.flush_interval),
      holderId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      maxBackoffMs: this.options.max_retry_backoff,
    }, this.drainMetrics, this.logger);
    this.drainer.start();
    this.state = 'running';
    this.logger.info({ keyPrefix: this.store.keyPrefix, groups: this.store.groups }, 'privtrak: shared mode (baselines and deltas in Redis)');
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): Promise<void> {
    if (this.state !== 'running') {
      this.metrics.refused.labels('closing').inc();
      throw new ClientError('CLOSING', 'tracker closing, retry later');
    }
    const user = this.user.ofAnnounce(ctx);
    ctx.userId = user;
    const now = Date.now();
    // The request's facts as a record; pt_counted patches in seq, deltas, credit and baseline.
    // A new Buffer per announce: the client may still hold it after this returns.
    const record = encodeRecord(this.scratch.fill(0, user, req, ctx, ZERO_OUTCOME, now));
    return this.store.countedAnnounce({
      infoHash: req.infoHash, peer: req.peer, role: roleAfter(req), event: req.event, numWant: req.numWant,
      hidden: ctx.hidden === true, user, record,
      upMult: ctx.uploadMultiplier ?? 1, downMult: ctx.downloadMultiplier ?? 1, nowMs: now, maxGapMs: this.maxGapMs,
    }).then((result) => {
      ctx.swarmView = result.view;
      this.metrics.countDelta(result.outcome.flags);
    }, (err: unknown) => {
      if (err instanceof ClientError && err.code === 'TRACKER_BUSY') {
        this.metrics.refused.labels('busy').inc();
        this.busyUntilMs = Date.now() + BUSY_NOT_READY_MS;
      }
      throw err;
    });
  }

  handleScrape(ctx: RequestContext): void {
    ctx.userId = this.user.ofScrape(ctx);
  }

  /**
   * For `GET /ready`. Here the pending bound is in Redis (max_stream_entries) and only the drain
   * lease holder sees the sink: what every instance knows is whether Redis just refused an
   * announce as busy. That answer only holds for BUSY_NOT_READY_MS, because an instance a load
   * balancer took out gets no announce to learn the streams have room again.
   */
  notReady(): string | undefined {
    if (this.state !== 'running') return this.state === 'new' ? 'starting' : 'closing';
    if (Date.now() < this.busyUntilMs) return 'announces refused as busy: the delta streams are at storage.config.max_stream_entries';
    return undefined;
  }

  /**
   * Refuses new announces, drains what it can while holding the lease, releases the lease (another
   * instance takes over at once) and closes the sink. Undrained deltas stay in Redis.
   */
  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    try {
      if (this.drainer !== undefined) {
        if (this.drainer.holding) await this.drainer.drainOnce();
        await this.drainer.stop();
      }
      await this.sink.close();
    } finally {
      this.ownRedis?.disconnect();
      this.state = 'closed';
    }
  }
}
