/**
 * The privtrak hook: identifies the user, turns the announce into an exact StatDelta
 * (rules.ts), journals it before the response, and batches it to the sink (flusher.ts).
 *
 * It is a pre-hook on purpose: if the sink falls behind, pending deltas grow to
 * `max_pending` and announces are refused with a retryable "tracker busy" — the tracker
 * slows clients down instead of growing memory without bound. A refused announce changes
 * nothing, so the client's retry counts its bytes. Place it last among the pre-hooks, so
 * an announce another hook refuses is never counted.
 */
import type { Logger } from 'pino';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../registry.js';
import { parseHookOptions } from '../options.js';
import type { DeltaSink } from '../../sinks/sink.js';
import { createSink } from '../../sinks/index.js';
import { BaselineStore } from './baselines.js';
import { computeDelta, FLAG_COUNTER_REGRESSION, FLAG_UNKNOWN_PEER } from './rules.js';
import type { StatDelta } from './delta.js';
import { Journal } from './journal.js';
import { Flusher } from './flusher.js';
import { PrivtrakMetrics } from './metrics.js';
import { createPasskeyIdentifier, type UserIdentifier } from './identifier.js';
import { privtrakOptionsSchema, type PrivtrakOptions } from './options.js';

/** Key under which the user ID is also stored in ctx.values, for hooks that want it by name. */
export const USER_ID = 'privtrak.userId';

export class PrivtrakHook implements Hook {
  readonly name = 'privtrak';
  readonly baselines: BaselineStore;
  readonly flusher: Flusher;
  private readonly journal: Journal;
  private readonly metrics: PrivtrakMetrics;
  private readonly identifier: UserIdentifier;
  private readonly maxGapMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private gcShard = 0;
  private readonly deltaCounters: { none: { inc(): void }; unknown: { inc(): void }; regression: { inc(): void } };

  constructor(
    readonly options: PrivtrakOptions,
    readonly sink: DeltaSink,
    private readonly deps: Pick<HookDeps, 'logger' | 'metrics' | 'announceIntervalMs'>,
  ) {
    this.baselines = new BaselineStore(options.shard_count);
    this.journal = new Journal(options.journal_dir, options.journal_fsync);
    this.metrics = new PrivtrakMetrics(deps.metrics);
    this.identifier = createPasskeyIdentifier(options.identifier);
    this.maxGapMs = 2 * deps.announceIntervalMs;
    this.flusher = new Flusher(sink, this.journal, {
      instance: options.instance,
      batchSize: options.batch_size,
      flushIntervalMs: options.flush_interval,
      maxBackoffMs: options.max_retry_backoff,
    }, this.metrics, deps.logger);
    this.deltaCounters = {
      none: this.metrics.deltas.labels('none'),
      unknown: this.metrics.deltas.labels('unknown_peer'),
      regression: this.metrics.deltas.labels('counter_regression'),
    };
  }

  private get logger(): Logger {
    return this.deps.logger;
  }

  /** Restores state: baselines from the sink, then every journalled delta the sink has not applied. */
  async start(): Promise<void> {
    await this.sink.open();
    const now = Date.now();
    const state = await this.sink.load(this.options.instance, now - this.options.baseline_lifetime);
    for (const b of state.baselines) this.baselines.set(BaselineStore.key(b.user, b.infoHash, b.peerId), b.baseline);
    this.seq = state.appliedThrough;
    this.flusher.appliedThrough = state.appliedThrough;
    let replayed = 0;
    for (const d of this.journal.replay()) {
      if (d.seq <= state.appliedThrough) continue;
      const key = BaselineStore.key(d.user, d.infoHash, d.peerId);
      if (d.baseline === null) this.baselines.delete(key);
      else this.baselines.set(key, d.baseline);
      this.flusher.enqueue(d);
      if (d.seq > this.seq) this.seq = d.seq;
      replayed++;
    }
    this.journal.roll(this.seq + 1);
    this.journal.prune(state.appliedThrough);
    this.logger.info({ baselines: this.baselines.size, appliedThrough: state.appliedThrough, replayed }, 'privtrak state restored');
    this.flusher.start();
    this.timers.push(setInterval(() => this.collectGarbage(Date.now()), this.options.gc_interval).unref());
    this.timers.push(setInterval(() => this.report(), this.options.prometheus_reporting_interval).unref());
    this.report();
    this.state = 'running';
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    if (this.state !== 'running') {
      this.metrics.refused.labels('closing').inc();
      throw new ClientError('CLOSING', 'tracker closing, retry later');
    }
    let user: Buffer;
    try {
      user = this.identifier.identify(ctx);
    } catch (err) {
      this.metrics.refused.labels('identity').inc();
      throw err;
    }
    ctx.userId = user;
    ctx.values.set(USER_ID, user);
    if (this.flusher.pending >= this.options.max_pending) {
      this.metrics.refused.labels('busy').inc();
      throw new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
    }
    const now = Date.now();
    const key = BaselineStore.key(user, req.infoHash, req.peer.id);
    const out = computeDelta(this.baselines.get(key), {
      uploaded: req.uploaded, downloaded: req.downloaded, left: req.left, event: req.event, nowMs: now,
    }, this.maxGapMs);
    const delta: StatDelta = {
      seq: this.seq + 1,
      user,
      infoHash: req.infoHash,
      peerId: req.peer.id,
      ip: req.peer.ip,
      port: req.peer.port,
      event: req.event,
      uploaded: req.uploaded,
      downloaded: req.downloaded,
      left: req.left,
      deltaUp: out.deltaUp,
      deltaDown: out.deltaDown,
      seedTime: out.seedTime,
      leechTime: out.leechTime,
      snatch: out.snatch,
      flags: out.flags,
      timeMs: now,
      baseline: out.next,
    };
    // Journal first: if this throws (disk full), nothing below happens and the client is refused.
    this.journal.append(delta);
    this.seq = delta.seq;
    if (out.next === null) this.baselines.delete(key);
    else this.baselines.set(key, out.next);
    this.flusher.enqueue(delta);
    if (out.flags === 0) this.deltaCounters.none.inc();
    if (out.flags & FLAG_UNKNOWN_PEER) this.deltaCounters.unknown.inc();
    if (out.flags & FLAG_COUNTER_REGRESSION) this.deltaCounters.regression.inc();
  }

  handleScrape(ctx: RequestContext): void {
    // Scrapes are not counted, but they are only for known users.
    ctx.userId = this.identifier.identify(ctx);
  }

  /** Purges baselines silent for longer than baseline_lifetime, one shard per event-loop turn. */
  collectGarbage(nowMs: number): Promise<number> {
    const cutoff = nowMs - this.options.baseline_lifetime;
    const end = this.metrics.gcDuration.startTimer();
    return new Promise((resolve) => {
      let removed = 0;
      let shard = 0;
      const step = () => {
        try {
          removed += this.baselines.collectShard(shard, cutoff);
        } catch (err) {
          this.logger.error({ err, shard }, 'baseline gc failed on a shard');
        }
        shard++;
        if (shard < this.baselines.shardCount && this.state === 'running') {
          setImmediate(step);
          return;
        }
        end();
        this.sink.expireBaselines(this.options.instance, cutoff).catch((err: unknown) => this.logger.warn({ err }, 'sink baseline expiry failed'));
        resolve(removed);
      };
      step();
    });
  }

  private report(): void {
    this.metrics.pending.set(this.flusher.pending);
    const oldest = this.flusher.oldestPendingMs();
    this.metrics.oldestPendingAge.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
    this.metrics.users.set(this.baselines.users);
    this.metrics.peers.set(this.baselines.size);
  }

  /** Refuses new announces, flushes what is pending, closes the journal and the sink. */
  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    for (const t of this.timers) clearInterval(t);
    const left = await this.flusher.drain(Date.now() + 3000);
    if (left > 0) this.logger.warn({ pending: left }, 'sink unavailable at shutdown: pending deltas stay in the journal and are replayed at start');
    this.journal.close();
    await this.sink.close();
    this.state = 'closed';
  }
}

export function createPrivtrakHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const opts = parseHookOptions(privtrakOptionsSchema, options, path);
  return new PrivtrakHook(opts, createSink(opts.sink), deps);
}
