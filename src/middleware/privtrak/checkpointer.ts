/**
 * When baselines are checkpointed, and what of the journal can then go. A checkpoint is taken
 * every checkpoint_interval or after checkpoint_records journal records, one at a time, while
 * announces go on (checkpoint.ts). Journal segments that both the sink (applied) and the
 * previous checkpoint cover are deleted: the journal reaches back to the checkpoint before the
 * current one, so a damaged current checkpoint can be rebuilt without loss (recovery.ts).
 */
import type { Logger } from 'pino';
import type { BaselineStore } from './baselines.js';
import type { Journal } from './journal.js';
import type { PrivtrakMetrics } from './metrics.js';
import { writeCheckpoint } from './checkpoint.js';
import type { DurableFs } from '../../durable-fs.js';

export interface CheckpointerOptions {
  readonly dir: string;
  readonly fsync: boolean;
  readonly baselineLifetimeMs: number;
  readonly checkpointRecords: number;
  readonly fs?: DurableFs;
}

/** What the checkpointer needs from the announce path: the seq reached, and a way to close the turn's group first. */
export interface CommitPosition {
  readonly seq: number;
  commit(): void;
}

export class Checkpointer {
  /** Highest seq covered by the checkpoint on disk. */
  checkpointSeq = 0;
  /** The seq of the checkpoint before it (0: none); the journal is kept back to it. */
  previousCheckpointSeq = 0;
  /** Journal records since the last checkpoint started. */
  sinceCheckpoint = 0;
  /** Bumped when a commit is undone: a checkpoint being written may hold undone states and is abandoned. */
  private epoch = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly opts: CheckpointerOptions,
    private readonly baselines: BaselineStore,
    private readonly journal: Journal,
    private readonly position: CommitPosition,
    /** The highest seq the sink has applied. */
    private readonly appliedThrough: () => number,
    private readonly metrics: PrivtrakMetrics,
    private readonly logger: Logger,
  ) {}

  /** Counts committed records; starts a checkpoint once checkpoint_records have accumulated. */
  counted(records: number): void {
    this.sinceCheckpoint += records;
    if (this.sinceCheckpoint >= this.opts.checkpointRecords && this.running === undefined) void this.checkpoint();
  }

  /** A commit was undone: abandon a checkpoint being written (it may hold the undone states). */
  invalidate(): void {
    this.epoch++;
  }

  /** Whether a checkpoint is being written. */
  get busy(): Promise<void> | undefined {
    return this.running;
  }

  /**
   * Writes every baseline to a checkpoint at the current seq (in the background, in slices of
   * loop time: work-slicer.ts) and then deletes the journal segments it and the sink both cover. One at a time.
   */
  checkpoint(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.position.commit();
    const seq = this.position.seq;
    const epoch = this.epoch;
    const stopTimer = this.metrics.checkpointDuration.startTimer();
    const run = async (): Promise<void> => {
      try {
        this.journal.roll(seq + 1);
        this.sinceCheckpoint = 0;
        const written = await writeCheckpoint(this.opts.dir, seq, this.baselines, {
          fsync: this.opts.fsync,
          sinceMs: Date.now() - this.opts.baselineLifetimeMs,
          stillValid: () => this.epoch === epoch,
          fs: this.opts.fs,
        });
        if (!written) return;
        this.previousCheckpointSeq = this.checkpointSeq;
        this.checkpointSeq = seq;
        stopTimer();
        this.pruneJournal();
        // Deleted off the event loop (journal.ts); a checkpoint is done once they are gone.
        await this.journal.deleted;
      } catch (err) {
        this.metrics.checkpointFailures.inc();
        this.logger.error({ err }, 'baseline checkpoint failed; the journal is kept until one succeeds');
      } finally {
        this.running = undefined;
      }
    };
    this.running = run();
    return this.running;
  }

  /** Deletes journal segments that both the sink (applied) and the previous checkpoint (baselines) cover. */
  pruneJournal(): void {
    this.journal.prune(Math.min(this.appliedThrough(), this.previousCheckpointSeq));
  }
}
