/**
 * The privtrak hook: identifies the user, turns the announce into an exact StatDelta
 * (rules.ts), journals it before the response (committer.ts), and batches it to the sink
 * (flusher.ts). Baselines reach disk through the journal and periodic checkpoints
 * (checkpointer.ts), never row by row in the sink; at start-up they come back from both
 * (recovery.ts).
 *
 * It is a pre-hook on purpose: if the sink falls behind, pending deltas grow to
 * `max_pending` and announces are refused with a retryable "tracker busy" — the tracker
 * slows clients down instead of growing memory without bound. Place it last among the
 * pre-hooks, so an announce another hook refuses is never counted.
 *
 * Users are user keys (accounting/user-key.ts): the site user's key when `user_approval` found a
 * site user ID (ctx.siteUserId), so a passkey change keeps the user's totals and its peers'
 * baselines; otherwise a keyed hash of the passkey, under the installation's secret
 * (user-key-secret.ts: loaded or created at start, or with a registry when first needed). No
 * passkey reaches the journal or the sink.
 */
import type { Logger } from 'pino';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import type { Baseline } from '../../accounting/delta.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook, HookDeps } from '../hook.js';
import type { RequestContext } from '../context.js';
import { parseHookOptions } from '../options.js';
import type { AdoptedBaseline, DeltaSink } from '../../sinks/sink.js';
import { createSink } from '../../sinks/index.js';
import { ConfigError } from '../../config/errors.js';
import { BaselineStore } from './baselines.js';
import { computeDelta, ReusableOutcome } from './rules.js';
import { DeltaScratch } from './delta-scratch.js';
import { Journal, journalBytes } from './journal.js';
import { Committer } from './committer.js';
import { Checkpointer } from './checkpointer.js';
import { Flusher } from './flusher.js';
import { restoreState } from './recovery.js';
import { collectBaselines } from './baseline-gc.js';
import { PrivtrakMetrics } from './metrics.js';
import { registerJournalDiskMetrics } from './journal-disk-metrics.js';
import { lockDir } from './dir-lock.js';
import type { MmapAddon } from '../../native/mmap.js';
import type { DurableFs } from '../../durable-fs.js';
import { mkdirSync } from 'node:fs';
import { RequestUser } from './request-user.js';
import { privtrakOptionsSchema, type PrivtrakOptions } from './options.js';
import { isSharedAccounting } from '../../storage/redis/shared-accounting.js';
import { SharedPrivtrakHook } from './shared/shared-privtrak-hook.js';
import { logProgress, stderrTty } from '../../progress/outputs.js';

/** What tests may put in place of the real thing (the mmap addon, the file-system seam). */
export interface PrivtrakInternals {
  readonly mm?: MmapAddon;
  readonly fs?: DurableFs;
  /** The user-key secret itself, instead of reading (or creating) the file. */
  readonly userKeySecret?: Buffer;
}

/** How long one failed journal write keeps /ready at 503 (see notReady). */
const JOURNAL_NOT_READY_MS = 5000;

export class PrivtrakHook implements Hook {
  readonly name = 'privtrak';
  readonly baselines: BaselineStore;
  readonly flusher: Flusher;
  private readonly journal: Journal;
  private readonly committer: Committer;
  private readonly checkpointer: Checkpointer;
  private readonly metrics: PrivtrakMetrics;
  private readonly user: RequestUser;
  private readonly maxGapMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private unlock: (() => void) | undefined;
  // Reused on every announce: an announce allocates no delta, outcome or baseline object.
  private readonly delta = new DeltaScratch();
  private readonly outcome = new ReusableOutcome();
  private readonly prev: Baseline = { uploaded: 0, downloaded: 0, left: 0, lastMs: 0 };

  constructor(
    readonly options: PrivtrakOptions,
    readonly sink: DeltaSink,
    private readonly deps: Pick<HookDeps, 'logger' | 'prometheus' | 'announceIntervalMs' | 'buildInfo' | 'userKeySecretPath' | 'accessRegistry'>,
    private readonly internals: PrivtrakInternals = {},
  ) {
    this.baselines = new BaselineStore(options.shard_count);
    this.metrics = new PrivtrakMetrics(deps.prometheus, { maxPending: options.max_pending });
    registerJournalDiskMetrics(deps.prometheus, options.journal_dir);
    this.journal = new Journal(options.journal_dir, {
      fsync: options.journal_fsync, io: options.journal_io, mm: internals.mm, fs: internals.fs,
      onIoFallback: (reason) => {
        this.metrics.journalIoFallbacks.inc();
        deps.buildInfo?.note('journal_io', 'write', reason, true);
        if (deps.buildInfo === undefined) deps.logger.warn({ reason }, 'journal_io: write (fallback)');
      },
    });
    deps.buildInfo?.note('journal_io', this.journal.io, this.journal.ioReason, this.journal.ioFallback);
    this.user = new RequestUser(options.identifier, () => this.metrics.refused.labels('identity').inc());
    this.maxGapMs = 2 * deps.announceIntervalMs;
    this.committer = new Committer(this.journal, this.baselines, {
      committed: (records, count) => {
        // The flusher keeps the journal's bytes, not the objects (pending-queue.ts).
        this.flusher.enqueueRecords(records);
        this.checkpointer.counted(count);
      },
      undone: () => this.checkpointer.invalidate(),
    }, this.metrics, deps.logger);
    this.flusher = new Flusher(sink, {
      beforeApply: () => this.journal.sync(),
      afterApply: () => this.checkpointer.pruneJournal(),
    }, {
      instance: options.instance,
      batchSize: options.batch_size,
      flushIntervalMs: options.flush_interval,
      maxBackoffMs: options.max_retry_backoff,
    }, this.metrics, deps.logger);
    this.checkpointer = new Checkpointer({
      dir: options.journal_dir,
      fsync: options.journal_fsync,
      baselineLifetimeMs: options.baseline_lifetime,
      checkpointRecords: options.checkpoint_records,
      fs: internals.fs,
    }, this.baselines, this.journal, this.committer, () => this.flusher.appliedThrough, this.metrics, deps.logger);
  }

  private get logger(): Logger {
    return this.deps.logger;
  }

  /** Restores baselines and unapplied deltas (recovery.ts), then starts flushing, GC, checkpoints and gauges. */
  async start(): Promise<void> {
    this.user.start(this.internals.userKeySecret, this.deps.userKeySecretPath, this.deps.accessRegistry === undefined);
    mkdirSync(this.options.journal_dir, { recursive: true });
    this.unlock = lockDir(this.options.journal_dir);
    try {
      await this.restore();
    } catch (err) {
      this.unlock();
      throw err;
    }
  }

  private async restore(): Promise<void> {
    await this.sink.open();
    this.logWriterPriority();
    const { appliedThrough } = await this.sink.load(this.options.instance);
    this.flusher.appliedThrough = appliedThrough;
    // A journal of millions of records takes a while to read: say how far it is (a bar when a
    // terminal watches stderr, a log line every 5 s otherwise) and how it ended.
    const progress = logProgress(this.logger, {
      task: 'journal replay', unit: 'bytes', total: journalBytes(this.options.journal_dir),
      rowsName: 'records', rejectsName: 'damaged stretches skipped', tty: stderrTty(),
    });
    let restored: ReturnType<typeof restoreState>;
    try {
      restored = restoreState({
        dir: this.options.journal_dir, cutoffMs: Date.now() - this.options.baseline_lifetime, appliedThrough, progress,
      }, this.baselines, this.journal, (d) => this.flusher.enqueue(d), this.logger);
    } catch (err) {
      progress.abandon(); // the start fails with the error
      throw err;
    }
    progress.finish();
    this.committer.seq = restored.seq;
    this.checkpointer.checkpointSeq = restored.checkpointSeq;
    this.checkpointer.previousCheckpointSeq = restored.previousCheckpointSeq;
    this.checkpointer.sinceCheckpoint = restored.records;
    const fresh = restored.seq === 0 && restored.records === 0 && appliedThrough === 0 && this.baselines.size === 0;
    const adopted = fresh && this.sink.adoptableBaselines !== undefined ? await this.adopt(this.sink.adoptableBaselines.bind(this.sink)) : 0;
    this.logger.info({
      baselines: this.baselines.size, appliedThrough, checkpointSeq: restored.checkpointSeq, replayed: restored.replayed, journalIo: this.journal.io,
    }, 'privtrak state restored');
    this.flusher.start();
    this.timers.push(setInterval(() => void this.collectGarbage(Date.now()), this.options.gc_interval).unref());
    this.timers.push(setInterval(() => this.report(), this.options.prometheus_reporting_interval).unref());
    this.timers.push(setInterval(() => void this.checkpoint(), this.options.checkpoint_interval).unref());
    this.report();
    this.state = 'running';
    // A restart starts from a fresh checkpoint, so the journal it replayed can go; adopted
    // baselines are in no journal record, so a checkpoint keeps them across a crash.
    if (adopted > 0) await this.checkpoint();
    else if (restored.records > 0) void this.checkpoint();
  }

  /**
   * First start in front of a site: the previous announce server's last counters of each live peer
   * become baselines (DeltaSink.adoptableBaselines), so a peer's next announce is counted from them.
   */
  private async adopt(read: () => Promise<AdoptedBaseline[]>): Promise<number> {
    const cutoff = Date.now() - this.options.baseline_lifetime;
    let n = 0;
    for (const a of await read()) {
      if (a.baseline.lastMs < cutoff) continue;
      this.baselines.put(a.user, a.infoHash, a.peerId, a.baseline);
      n++;
    }
    this.logger.info({ adopted: n }, 'privtrak: first start: adopted the site\'s last peer counters as baselines');
    return n;
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): Promise<void> | undefined {
    if (this.state !== 'running') {
      this.metrics.refused.labels('closing').inc();
      throw new ClientError('CLOSING', 'tracker closing, retry later');
    }
    const user = this.user.ofAnnounce(ctx);
    // Later hooks read the user key from the typed ctx.userId.
    ctx.userId = user;
    if (this.flusher.pending + this.committer.grouped >= this.options.max_pending) {
      this.metrics.refused.labels('busy').inc();
      throw new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
    }
    const now = Date.now();
    const slot = this.baselines.slotOf(user, req.infoHash, req.peer.id);
    const prev = slot < 0 ? undefined : this.baselines.readInto(slot, this.prev);
    const out = computeDelta(prev, req, now, this.maxGapMs, this.outcome);
    const delta = this.delta.fill(this.committer.seq + 1, user, req, ctx, out, now);
    const later = this.committer.record(delta, slot, prev);
    this.metrics.countDelta(out.flags);
    return later;
  }

  handleScrape(ctx: RequestContext): void {
    ctx.userId = this.user.ofScrape(ctx);
  }

  /**
   * For `GET /ready`: ready while the sink takes batches or pending deltas are below max_pending.
   * Not ready once both fail: every announce is then refused as busy until the sink is back.
   * (A reachable but slow sink at the limit stays ready: its flushes free room within seconds.)
   */
  notReady(): string | undefined {
    if (this.state !== 'running') return this.state === 'new' ? 'starting' : 'closing';
    // A journal that cannot be written (disk full, read-only) refuses every announce: this node
    // cannot count. Each failure holds /ready at 503 for a while, so a balancer that took the node
    // out sees it come back once writes succeed again (announces it still receives retry them).
    if (this.committer.lastJournalFailureMs !== 0 && Date.now() - this.committer.lastJournalFailureMs < JOURNAL_NOT_READY_MS) {
      return 'journal write failed in the last 5 s';
    }
    const pending = this.flusher.pending + this.committer.grouped;
    if (!this.flusher.failing || pending < this.options.max_pending) return undefined;
    return `sink unreachable and ${pending} deltas pending (max_pending ${this.options.max_pending})`;
  }

  /** Writes a baseline checkpoint now (checkpointer.ts). */
  checkpoint(): Promise<void> {
    return this.checkpointer.checkpoint();
  }

  /** Purges baselines silent for longer than baseline_lifetime, one shard per event-loop turn. */
  collectGarbage(nowMs: number): Promise<number> {
    return collectBaselines(this.baselines, nowMs - this.options.baseline_lifetime, () => this.state === 'running', this.metrics, this.logger);
  }

  private report(): void {
    const now = Date.now();
    this.metrics.report({
      journalRecords: this.checkpointer.sinceCheckpoint,
      pending: this.flusher.pending,
      oldestPendingMs: this.flusher.oldestPendingMs(),
      users: this.baselines.users,
      peers: this.baselines.size,
      peersActive: this.baselines.countSeenSince(now - this.options.peer_lifetime),
    }, now);
  }

  /**
   * Says once at start whether the sink's writer thread yields the core to announces
   * (sinks/writer-priority.ts), and how to allow it where it cannot.
   */
  private logWriterPriority(): void {
    const state = this.sink.writerPriority?.state;
    if (state === 'low') this.logger.info({ sink: this.sink.name }, 'sink writer thread at low CPU priority (nice 19; normal again while it falls behind)');
    else if (state === 'unavailable') {
      this.logger.info({ sink: this.sink.name }, 'sink writer thread at normal CPU priority: this process may not lower a nice value back '
        + '(give it CAP_SYS_NICE or RLIMIT_NICE, e.g. systemd LimitNICE=+0, so the writer yields a shared core to announces)');
    }
  }

  /** Refuses new announces, flushes what is pending, checkpoints, closes the journal and the sink. */
  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    for (const t of this.timers) clearInterval(t);
    this.committer.commit();
    const left = await this.flusher.drain(Date.now() + 3000);
    if (left > 0) this.logger.warn({ pending: left }, 'sink unavailable at shutdown: pending deltas stay in the journal and are replayed at start');
    // A final checkpoint makes the next start read one file instead of replaying the journal.
    try {
      if (this.checkpointer.busy !== undefined) await this.checkpointer.busy;
      if (this.checkpointer.sinceCheckpoint > 0) await this.checkpoint();
      await this.journal.deleted;
      this.journal.close();
      await this.sink.close();
    } finally {
      // Released even if closing failed: this process no longer writes the journal.
      this.unlock?.();
      this.state = 'closed';
    }
  }
}

export function createPrivtrakHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const opts = parseHookOptions(privtrakOptionsSchema, options, path);
  if (isSharedAccounting(deps.store)) {
    // storage: {name: redis}: baselines and deltas live in Redis (shared/shared-privtrak-hook.ts).
    if (deps.siteSink !== undefined) {
      throw new ConfigError(`${path}`, 'the site writers do not check the shared mode\'s drain fence yet: a site block needs storage: {name: memory}');
    }
    if (opts.sink.name === 'log') {
      throw new ConfigError(`${path}.options.sink`, 'shared mode (storage: {name: redis}) needs a SQL sink (sqlite, postgres or mysql): the log sink cannot refuse a stale drainer\'s batch');
    }
    return new SharedPrivtrakHook(opts, createSink(opts.sink), deps.store, deps);
  }
  if (deps.siteSink !== undefined) {
    // A site profile writes the site's own tables (src/sites/): that is this hook's sink.
    if (options['sink'] !== undefined) {
      throw new ConfigError(`${path}.options.sink`, 'the site block writes the site\'s own tables: remove sink (or set site.readonly: true to count into this sink in a dry run)');
    }
    return new PrivtrakHook(opts, deps.siteSink, deps);
  }
  return new PrivtrakHook(opts, createSink(opts.sink), deps);
}
