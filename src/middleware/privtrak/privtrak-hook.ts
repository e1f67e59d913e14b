/**
 * The privtrak hook: identifies the user, turns the announce into an exact StatDelta
 * (rules.ts), journals it before the response, and batches it to the sink (flusher.ts).
 *
 * Durability without a syscall per announce: the deltas of one event-loop turn form a commit
 * group; the hook returns the group's promise, and the group is written to the journal with
 * one write at the end of the turn (setImmediate), after which the replies go out. If that
 * write fails, every change the group made is undone and its announces are refused with a
 * retryable "tracker busy": nothing was counted, so their retries count in full. When turns
 * hold about one announce each, grouping only adds cost, and announces are written inline
 * (answerInline).
 * Baselines reach disk through the journal and periodic checkpoints (checkpoint.ts), never
 * row by row in the sink.
 *
 * It is a pre-hook on purpose: if the sink falls behind, pending deltas grow to
 * `max_pending` and announces are refused with a retryable "tracker busy" — the tracker
 * slows clients down instead of growing memory without bound. Place it last among the
 * pre-hooks, so an announce another hook refuses is never counted.
 */
import type { Logger } from 'pino';
import type { AnnounceEvent, AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../registry.js';
import { parseHookOptions } from '../options.js';
import type { DeltaSink } from '../../sinks/sink.js';
import { createSink } from '../../sinks/index.js';
import { BaselineStore } from './baselines.js';
import { computeDelta, ReusableOutcome } from './rules.js';
import type { StatDelta } from './delta.js';
import type { Baseline } from './rules.js';
import { Journal } from './journal.js';
import { Flusher } from './flusher.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { PrivtrakMetrics } from './metrics.js';
import { createPasskeyIdentifier, type UserIdentifier } from './identifier.js';
import { privtrakOptionsSchema, type PrivtrakOptions } from './options.js';

/** Credited bytes for raw bytes under a multiplier (freeleech): rounded down, never above 2^53 - 1. */
function credit(raw: number, multiplier: number | undefined): number {
  if (multiplier === undefined || multiplier === 1) return raw;
  const n = Math.floor(raw * multiplier);
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
}

/** The announces of one event-loop turn: written to the journal together, undone together. */
interface CommitGroup {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly firstSeq: number;
  /** Each announce's peer and what its baseline held before, in order, to undo a failed write. */
  readonly undo: UndoEntry[];
}

interface UndoEntry {
  readonly user: Buffer;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly prev: Baseline | undefined;
}

/**
 * The delta being journalled, one object for every announce: the journal encodes it at once
 * (journal-record.ts), and nothing keeps it, so an announce allocates no delta object.
 */
class DeltaScratch implements StatDelta {
  seq = 0;
  user: Buffer = NO_ID;
  infoHash: Buffer = NO_ID;
  peerId: Buffer = NO_ID;
  ip = '';
  port = 0;
  event: AnnounceEvent = 'none';
  uploaded = 0;
  downloaded = 0;
  left = 0;
  deltaUp = 0;
  deltaDown = 0;
  creditUp = 0;
  creditDown = 0;
  siteTorrentId: number | null = null;
  seedTime = 0;
  leechTime = 0;
  snatch = false;
  flags = 0;
  timeMs = 0;
  baseline: Baseline | null = null;
}
const NO_ID = Buffer.alloc(0);

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
  private group: CommitGroup | undefined;
  private readonly commitNow = () => this.commit();
  /** Highest seq covered by the checkpoint on disk. */
  private checkpointSeq = 0;
  /** Journal records since the last checkpoint started. */
  private sinceCheckpoint = 0;
  /** Bumped when a commit is undone: a checkpoint being written may hold undone states and is abandoned. */
  private epoch = 0;
  private checkpointing: Promise<void> | undefined;
  /** Average announces per commit group, and how many announces to commit inline before measuring again. */
  private avgGroup = 2;
  private inlineLeft = 0;
  /** Announces seen in the turn being measured while answering inline (-1: not measuring). */
  private probeSeen = -1;
  private readonly endProbe = () => {
    const seen = this.probeSeen;
    this.probeSeen = -1;
    this.observeGroup(seen);
  };
  // Reused on every announce (see DeltaScratch).
  private readonly delta = new DeltaScratch();
  private readonly outcome = new ReusableOutcome();
  private readonly prev: Baseline = { uploaded: 0, downloaded: 0, left: 0, lastMs: 0 };

  constructor(
    readonly options: PrivtrakOptions,
    readonly sink: DeltaSink,
    private readonly deps: Pick<HookDeps, 'logger' | 'metrics' | 'announceIntervalMs'>,
  ) {
    this.baselines = new BaselineStore(options.shard_count);
    this.journal = new Journal(options.journal_dir, { fsync: options.journal_fsync, io: options.journal_io });
    this.metrics = new PrivtrakMetrics(deps.metrics);
    this.identifier = createPasskeyIdentifier(options.identifier);
    this.maxGapMs = 2 * deps.announceIntervalMs;
    this.flusher = new Flusher(sink, {
      beforeApply: () => this.journal.sync(),
      afterApply: () => this.pruneJournal(),
    }, {
      instance: options.instance,
      batchSize: options.batch_size,
      flushIntervalMs: options.flush_interval,
      maxBackoffMs: options.max_retry_backoff,
    }, this.metrics, deps.logger);
  }

  private get logger(): Logger {
    return this.deps.logger;
  }

  /**
   * Restores state: baselines from the checkpoint, then the journal in seq order — records
   * above the checkpoint restore baselines, records above the sink's mark go to the sink again.
   */
  async start(): Promise<void> {
    await this.sink.open();
    const now = Date.now();
    const cutoff = now - this.options.baseline_lifetime;
    const checkpoint = readCheckpoint(this.options.journal_dir);
    for (const e of checkpoint?.entries ?? []) if (e.baseline.lastMs >= cutoff) this.baselines.set(e.key, e.baseline);
    this.checkpointSeq = checkpoint?.seq ?? 0;
    const { appliedThrough } = await this.sink.load(this.options.instance);
    this.flusher.appliedThrough = appliedThrough;
    const records = this.journal.replay();
    if (this.journal.damaged > 0) this.logger.warn({ damaged: this.journal.damaged }, 'journal: skipped damaged records');
    // The journal must hold every record above min(mark, checkpoint): otherwise deltas or baselines
    // are lost. Only possible if the journal directory was lost, replaced or damaged.
    const from = Math.min(appliedThrough, this.checkpointSeq);
    const gap = records.length === 0 ? Math.max(appliedThrough, this.checkpointSeq) > from : records[0]!.seq > from + 1;
    if (gap) {
      this.logger.error({ checkpointSeq: this.checkpointSeq, appliedThrough, journalFrom: records[0]?.seq },
        'journal: records are missing after the checkpoint or the sink mark; some deltas or baselines are lost');
    }
    this.seq = Math.max(appliedThrough, this.checkpointSeq);
    let replayed = 0;
    for (const d of records) {
      if (d.seq > this.checkpointSeq) {
        this.baselines.put(d.user, d.infoHash, d.peerId, d.baseline);
      }
      if (d.seq > appliedThrough) {
        this.flusher.enqueue(d);
        replayed++;
      }
      if (d.seq > this.seq) this.seq = d.seq;
    }
    this.sinceCheckpoint = records.length;
    this.journal.roll(this.seq + 1);
    this.logger.info({ baselines: this.baselines.size, appliedThrough, checkpointSeq: this.checkpointSeq, replayed, journalIo: this.journal.io }, 'privtrak state restored');
    this.flusher.start();
    this.timers.push(setInterval(() => this.collectGarbage(Date.now()), this.options.gc_interval).unref());
    this.timers.push(setInterval(() => this.report(), this.options.prometheus_reporting_interval).unref());
    this.timers.push(setInterval(() => void this.checkpoint(), this.options.checkpoint_interval).unref());
    this.report();
    this.state = 'running';
    // A restart starts from a fresh checkpoint, so the journal it replayed can go.
    if (records.length > 0) void this.checkpoint();
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): Promise<void> | undefined {
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
    // Later hooks read the user from the typed ctx.userId.
    ctx.userId = user;
    if (this.flusher.pending + (this.group?.undo.length ?? 0) >= this.options.max_pending) {
      this.metrics.refused.labels('busy').inc();
      throw new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
    }
    const now = Date.now();
    const slot = this.baselines.slotOf(user, req.infoHash, req.peer.id);
    const prev = slot < 0 ? undefined : this.baselines.readInto(slot, this.prev);
    const out = computeDelta(prev, req, now, this.maxGapMs, this.outcome);
    const delta = this.delta;
    delta.seq = this.seq + 1;
    delta.user = user;
    delta.infoHash = req.infoHash;
    delta.peerId = req.peer.id;
    delta.ip = req.peer.ip;
    delta.port = req.peer.port;
    delta.event = req.event;
    delta.uploaded = req.uploaded;
    delta.downloaded = req.downloaded;
    delta.left = req.left;
    delta.deltaUp = out.deltaUp;
    delta.deltaDown = out.deltaDown;
    delta.creditUp = credit(out.deltaUp, ctx.uploadMultiplier);
    delta.creditDown = credit(out.deltaDown, ctx.downloadMultiplier);
    delta.siteTorrentId = ctx.siteTorrentId ?? null;
    delta.seedTime = out.seedTime;
    delta.leechTime = out.leechTime;
    delta.snatch = out.snatch;
    delta.flags = out.flags;
    delta.timeMs = now;
    delta.baseline = out.next;
    this.journal.append(delta);
    if (this.answerInline()) {
      this.commitOne(delta, slot);
      this.metrics.countDelta(out.flags);
      return undefined;
    }
    const group = this.group ?? this.openGroup();
    this.seq = delta.seq;
    group.undo.push({ user, infoHash: req.infoHash, peerId: req.peer.id, prev: prev === undefined ? undefined : { ...prev } });
    this.baselines.update(user, req.infoHash, req.peer.id, slot, out.next);
    this.metrics.countDelta(out.flags);
    return group.promise;
  }

  /** Writes one announce's record now; on failure nothing of it remains and it is refused. */
  private commitOne(delta: StatDelta, slot: number): void {
    let records: Buffer;
    try {
      records = this.journal.commit(delta.seq);
    } catch (err) {
      this.journal.discard();
      this.metrics.refused.labels('journal').inc();
      this.logger.error({ err }, 'journal write failed: announce refused, nothing counted');
      throw new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
    }
    this.seq = delta.seq;
    this.baselines.update(delta.user, delta.infoHash, delta.peerId, slot, delta.baseline);
    this.committed(records, 1);
  }

  /**
   * Inline or grouped: a commit group costs a deferred reply (a promise through the hook chain)
   * per announce and a setImmediate per turn, which pays off when a turn holds many announces
   * (UDP, keep-alive under load: one copy and a burst of replies per turn) and is pure overhead
   * when it holds one (HTTP with connection close: each connection's request arrives in its own
   * turn). While turns average fewer than 2 announces, announces are answered inline, and every
   * 33rd starts a probe that counts the announces of its turn without holding any reply back.
   */
  private answerInline(): boolean {
    if (this.group !== undefined) return false;
    if (this.probeSeen >= 0) {
      this.probeSeen++;
      return true;
    }
    if (this.inlineLeft > 0) {
      this.inlineLeft--;
      return true;
    }
    if (this.avgGroup >= 2) return false;
    this.probeSeen = 1;
    setImmediate(this.endProbe);
    return true;
  }

  /** Folds one turn's announce count (a commit group's or a probe's) into the average. */
  private observeGroup(size: number): void {
    this.avgGroup += (size - this.avgGroup) * 0.25;
    this.inlineLeft = this.avgGroup < 2 ? 32 : 0;
  }

  private committed(records: Buffer, count: number): void {
    // The flusher keeps the journal's bytes, not the objects (pending-queue.ts).
    this.flusher.enqueueRecords(records);
    this.sinceCheckpoint += count;
    if (this.sinceCheckpoint >= this.options.checkpoint_records && this.checkpointing === undefined) void this.checkpoint();
  }

  private openGroup(): CommitGroup {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Every announce of the group handles the rejection; this keeps an empty group from being "unhandled".
    promise.catch(() => undefined);
    const group: CommitGroup = { promise, resolve, reject, firstSeq: this.seq + 1, undo: [] };
    this.group = group;
    setImmediate(this.commitNow);
    return group;
  }

  /** Writes the open commit group to the journal and releases its replies; on failure undoes it. */
  private commit(): void {
    const group = this.group;
    if (group === undefined) return;
    this.group = undefined;
    let records: Buffer;
    try {
      records = this.journal.commit(group.firstSeq);
    } catch (err) {
      this.journal.discard();
      for (let i = group.undo.length - 1; i >= 0; i--) {
        const u = group.undo[i]!;
        this.baselines.put(u.user, u.infoHash, u.peerId, u.prev ?? null);
      }
      this.seq = group.firstSeq - 1;
      this.epoch++;
      this.metrics.refused.labels('journal').inc(group.undo.length);
      this.logger.error({ err, announces: group.undo.length }, 'journal write failed: announces refused, nothing counted');
      group.reject(new ClientError('TRACKER_BUSY', 'tracker busy, retry later'));
      return;
    }
    this.committed(records, group.undo.length);
    this.observeGroup(group.undo.length);
    group.resolve();
  }

  /**
   * Writes every baseline to a checkpoint at the current seq (in the background, one shard per
   * turn) and then deletes the journal segments it and the sink both cover. One at a time.
   */
  checkpoint(): Promise<void> {
    if (this.checkpointing !== undefined) return this.checkpointing;
    this.commit();
    const seq = this.seq;
    const epoch = this.epoch;
    const stopTimer = this.metrics.checkpointDuration.startTimer();
    const run = async (): Promise<void> => {
      try {
        this.journal.roll(seq + 1);
        this.sinceCheckpoint = 0;
        const written = await writeCheckpoint(this.options.journal_dir, seq, this.baselines, {
          fsync: this.options.journal_fsync,
          sinceMs: Date.now() - this.options.baseline_lifetime,
          stillValid: () => this.epoch === epoch,
        });
        if (!written) return;
        this.checkpointSeq = seq;
        stopTimer();
        this.pruneJournal();
      } catch (err) {
        this.metrics.checkpointFailures.inc();
        this.logger.error({ err }, 'baseline checkpoint failed; the journal is kept until one succeeds');
      } finally {
        this.checkpointing = undefined;
      }
    };
    this.checkpointing = run();
    return this.checkpointing;
  }

  /** Deletes journal segments that both the sink (applied) and the checkpoint (baselines) cover. */
  private pruneJournal(): void {
    this.journal.prune(Math.min(this.flusher.appliedThrough, this.checkpointSeq));
  }

  handleScrape(ctx: RequestContext): void {
    // Scrapes are not counted, but they are only for users with a well-formed passkey.
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
        resolve(removed);
      };
      step();
    });
  }

  private report(): void {
    this.metrics.journalRecords.set(this.sinceCheckpoint);
    this.metrics.pending.set(this.flusher.pending);
    const oldest = this.flusher.oldestPendingMs();
    this.metrics.oldestPendingAge.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
    this.metrics.users.set(this.baselines.users);
    this.metrics.peers.set(this.baselines.size);
    this.metrics.peersActive.set(this.baselines.countSeenSince(Date.now() - this.options.peer_lifetime));
  }

  /** Refuses new announces, flushes what is pending, checkpoints, closes the journal and the sink. */
  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    for (const t of this.timers) clearInterval(t);
    this.commit();
    const left = await this.flusher.drain(Date.now() + 3000);
    if (left > 0) this.logger.warn({ pending: left }, 'sink unavailable at shutdown: pending deltas stay in the journal and are replayed at start');
    // A final checkpoint makes the next start read one file instead of replaying the journal.
    if (this.checkpointing !== undefined) await this.checkpointing;
    if (this.sinceCheckpoint > 0) await this.checkpoint();
    this.journal.close();
    await this.sink.close();
    this.state = 'closed';
  }
}

export function createPrivtrakHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const opts = parseHookOptions(privtrakOptionsSchema, options, path);
  return new PrivtrakHook(opts, createSink(opts.sink), deps);
}
