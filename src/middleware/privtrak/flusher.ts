/**
 * Batches pending deltas to the sink, off the announce path. A flush starts when a batch
 * is full or `flush_interval` has passed; only one flush runs at a time, so the same deltas
 * are never in two flushes at once. A failed flush keeps its deltas and is retried with
 * exponential backoff (the sink's seq check makes a retry of an applied batch harmless).
 */
import type { Logger } from 'pino';
import type { DeltaSink } from '../../sinks/sink.js';
import type { StatDelta } from '../../accounting/delta.js';
import { PendingQueue } from './pending-queue.js';
import { RecordBatch } from '../../accounting/record-batch.js';
import type { PrivtrakMetrics } from './metrics.js';

export interface FlusherOptions {
  readonly instance: string;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly maxBackoffMs: number;
}

/** What the owner does around a flush (the privtrak hook: journal fsync and pruning). */
export interface FlushListener {
  /** Before a batch goes to the sink. May throw: logged, the flush goes on. */
  beforeApply(): void;
  /** After the sink applied everything through `id`. May throw: logged. */
  afterApply(id: number): void;
}

export class Flusher {
  /** Pending deltas in seq order, as journal records (pending-queue.ts). */
  private readonly queue = new PendingQueue();
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private retryAtMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;
  /**
   * The last batch's memory, reused for the next (undefined while a batch has it). A batch is
   * megabytes: fresh memory for each one cost a page fault per 4 KiB, about 6 ms per batch of
   * 10,000 deltas on the benchmark machine, on the announce thread.
   */
  private room: Buffer | undefined;
  appliedThrough = 0;

  constructor(
    private readonly sink: DeltaSink,
    private readonly listener: FlushListener,
    private readonly opts: FlusherOptions,
    private readonly metrics: PrivtrakMetrics,
    private readonly logger: Logger,
  ) {}

  get pending(): number {
    return this.queue.size;
  }

  /** Whether the last flush failed (the sink is unreachable or refusing), until one succeeds. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Receive time of the oldest pending delta, or undefined. */
  oldestPendingMs(): number | undefined {
    return this.queue.oldestTimeMs();
  }

  start(): void {
    this.timer = setInterval(() => this.maybeFlush(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  enqueue(delta: StatDelta): void {
    this.queue.push(delta);
    this.kickIfFull();
  }

  /** Enqueues deltas already encoded as journal records (the commit path: the journal's own bytes). */
  enqueueRecords(records: Buffer): void {
    this.queue.pushRecords(records);
    this.kickIfFull();
  }

  private kickIfFull(): void {
    if (this.pending >= this.opts.batchSize && !this.kicked && this.flushing === undefined) {
      this.kicked = true;
      setImmediate(() => {
        this.kicked = false;
        this.maybeFlush();
      });
    }
  }

  private maybeFlush(): void {
    if (this.flushing !== undefined || this.pending === 0 || Date.now() < this.retryAtMs) return;
    void this.flush();
  }

  /** Flushes one batch. Resolves when it is applied or has failed (never rejects). */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    if (this.pending === 0) return Promise.resolve();
    const room = this.room;
    this.room = undefined;
    const records = this.queue.peekRecords(this.opts.batchSize, room);
    const keep = room !== undefined && records.buffer === room.buffer ? room : records;
    const batch = new RecordBatch(this.opts.instance, records);
    const id = batch.id;
    try {
      this.listener.beforeApply();
    } catch (err) {
      this.logger.error({ err }, 'before-flush step failed');
    }
    const stopTimer = this.metrics.flushDuration.startTimer();
    if (this.failures > 0) this.metrics.batchesRetried.inc();
    this.flushing = this.sink.apply(batch).then(
      () => {
        this.room = keep;
        stopTimer();
        this.queue.drop(batch.size);
        this.appliedThrough = id;
        this.failures = 0;
        this.retryAtMs = 0;
        try {
          this.listener.afterApply(id);
        } catch (err) {
          this.logger.warn({ err }, 'after-flush step failed');
        }
        this.flushing = undefined;
        if (this.pending >= this.opts.batchSize) this.maybeFlush();
      },
      (err: unknown) => {
        this.room = keep;
        stopTimer();
        this.failures++;
        this.metrics.flushFailures.inc();
        const backoff = Math.min(this.opts.maxBackoffMs, 100 * 2 ** Math.min(this.failures, 20));
        this.retryAtMs = Date.now() + backoff;
        this.logger.error({ err, pending: this.pending, retryInMs: backoff }, 'flush to sink failed; deltas kept');
        this.flushing = undefined;
      },
    );
    return this.flushing;
  }

  /** Flushes everything pending, retrying until `deadlineMs`. Returns how many deltas remain. */
  async drain(deadlineMs: number): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.flushing) await this.flushing;
    while (this.pending > 0 && Date.now() < deadlineMs) {
      const wait = this.retryAtMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, deadlineMs - Date.now())));
      await this.flush();
    }
    return this.pending;
  }
}
