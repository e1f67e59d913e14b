/**
 * The shared mode's sink writer: applies the Redis delta streams (one per group, `{Pg<g>}:d`,
 * entry ID `<seq>-1`, field `r` = a 208-byte delta record) to the sink. Every tracker instance
 * runs one; the one holding the drain lease (drain-lease.ts) writes, the others only wait to take
 * over.
 *
 * Exactly once, per group g: the sink's mark for instance `Pg<g>` is the last seq applied, moved
 * in the same transaction as the totals (sink.ts). The drainer reads the entries after it
 * (XRANGE `(<mark>-1`), applies them as one RecordBatch carrying the lease's fence, and only
 * then trims the stream below the mark (XTRIM MINID). A crash between apply and trim leaves
 * applied entries in the stream: the next read starts after the mark, and the sink skips any
 * seq at or below it anyway. A drainer paused past its lease is stopped by the fence: once its
 * successor has written, the sink refuses the old token (FencedError) and nothing is written.
 *
 * Failures: a lost lease or a FencedError stops draining at once (logged), and the lease is tried
 * again at the next tick; a sink or Redis error backs off as the flusher does (entries stay in
 * the stream, where the per-group bound turns a long outage into refused announces).
 */
import type { Logger } from 'pino';
import type { DeltaSink } from '../../../sinks/sink.js';
import { FencedError } from '../../../sinks/sink-errors.js';
import { RecordBatch } from '../../../accounting/record-batch.js';
import { RECORD, RECORD_SIZE, get64 } from '../../../accounting/delta-record.js';
import { DrainLease } from './drain-lease.js';
import { drainKeys, type DrainKeys } from './drain-keys.js';
import type { DrainMetrics } from './drain-metrics.js';
import type { RedisClient } from './redis-client.js';

export interface StreamDrainerOptions {
  /** `storage.config.key_prefix`. */
  readonly keyPrefix: string;
  /** The keyspace's shard groups: one stream each. */
  readonly groups: number;
  /** Entries per batch (XRANGE COUNT). */
  readonly batchSize: number;
  /** How often the drainer wakes: takes or renews the lease, drains every group. Keep it below leaseMs / 3. */
  readonly intervalMs: number;
  /** The lease's ttl: how long a dead holder blocks the others. */
  readonly leaseMs: number;
  /** Unique per process (host, pid, random): the lease's value. */
  readonly holderId: string;
  /** Longest wait between retries after a failure. */
  readonly maxBackoffMs: number;
}

type Entry = [id: Buffer, fields: Buffer[]];

const R_FIELD = Buffer.from('r');

export class StreamDrainer {
  readonly lease: DrainLease;
  private readonly keys: DrainKeys;
  /** Per group: the last seq known applied (loaded from the sink, then moved by our applies). */
  private readonly marks = new Map<number, number>();
  /** Per group: the seq below which the stream was last trimmed. */
  private readonly trimmed = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private failures = 0;
  private retryAtMs = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly sink: DeltaSink,
    private readonly opts: StreamDrainerOptions,
    private readonly metrics: DrainMetrics,
    private readonly logger: Logger,
  ) {
    this.keys = drainKeys(opts.keyPrefix, opts.groups);
    this.lease = new DrainLease(redis, this.keys, opts.holderId, opts.leaseMs);
  }

  /** Whether this drainer holds the lease (as far as it can tell). */
  get holding(): boolean {
    return this.lease.held;
  }

  start(): void {
    this.stopping = false;
    this.timer = setInterval(() => void this.drainOnce(), this.opts.intervalMs);
    this.timer.unref();
  }

  /**
   * One round: take or renew the lease, then drain every group until its stream is empty (or the
   * lease is gone). Rounds never overlap; a call during one waits for it. Never rejects.
   */
  drainOnce(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    if (this.stopping || Date.now() < this.retryAtMs) return;
    try {
      if (!(await this.holdLease())) return;
      await this.reportBacklog();
      for (let g = 0; g < this.opts.groups; g++) {
        if (!(await this.drainGroup(g))) break;
      }
      this.failures = 0;
      this.retryAtMs = 0;
    } catch (err) {
      if (err instanceof FencedError) {
        this.metrics.fenced.inc();
        this.lost('the sink refused the fence token: another instance holds the drain lease now', err);
        return;
      }
      this.failures++;
      this.metrics.failures.inc();
      const backoff = Math.min(this.opts.maxBackoffMs, 100 * 2 ** Math.min(this.failures, 20));
      this.retryAtMs = Date.now() + backoff;
      this.logger.error({ err, retryInMs: backoff }, 'draining the delta streams failed; entries stay in Redis');
    }
  }

  /** Takes the lease if free, or keeps ours. False: not the active drainer. */
  private async holdLease(): Promise<boolean> {
    if (!(await this.keepLease())) {
      if (!(await this.lease.acquire())) {
        this.metrics.leaseHeld.set(0);
        return false;
      }
      // A new holding: marks cached under the last one may be behind another holder's applies.
      this.marks.clear();
      this.trimmed.clear();
      this.logger.info({ token: this.lease.token, holder: this.opts.holderId }, 'took the drain lease: this instance applies the delta streams to the sink');
    }
    this.metrics.leaseHeld.set(1);
    return true;
  }

  /**
   * Renews our holding when a third of the ttl has passed, or when the local deadline has (the
   * lease may still be ours in Redis: compare-and-pexpire tells). False: not held.
   */
  private async keepLease(): Promise<boolean> {
    if (this.lease.token !== 0 && (!this.lease.held || this.lease.dueForRenewal) && !(await this.lease.renew())) {
      this.lost('the drain lease ran out or passed to another instance');
    }
    return this.lease.token !== 0 && this.lease.held;
  }

  private lost(why: string, err?: unknown): void {
    this.lease.drop();
    this.marks.clear();
    this.trimmed.clear();
    this.metrics.leaseHeld.set(0);
    this.logger.warn({ err, holder: this.opts.holderId }, `stopped draining: ${why}`);
  }

  /** Drains group g until its stream has nothing after the mark. False: the lease is gone, stop the round. */
  private async drainGroup(g: number): Promise<boolean> {
    const instance = this.keys.instance(g);
    let mark = this.marks.get(g);
    if (mark === undefined) {
      mark = (await this.sink.load(instance)).appliedThrough;
      this.marks.set(g, mark);
    }
    for (;;) {
      if (this.stopping || !(await this.keepLease())) return false;
      const entries = await this.redis.xrangeBuffer(this.keys.stream(g), `(${mark}-1`, '+', 'COUNT', this.opts.batchSize) as Entry[];
      if (entries.length > 0) {
        // Checked again: the read may have taken long, and a holding past its deadline must not write.
        if (!(await this.keepLease())) return false;
        const batch = new RecordBatch(instance, recordsOf(entries, g), { name: this.keys.fenceName, token: this.lease.token });
        await this.sink.apply(batch);
        mark = batch.id;
        this.marks.set(g, mark);
        this.metrics.drained.inc(batch.size);
      }
      if (mark > (this.trimmed.get(g) ?? -1)) await this.trim(g, mark);
      if (entries.length < this.opts.batchSize) return true;
    }
  }

  /** Trims group g's stream below the sink's mark: only applied entries go. A failure is logged; the next round tries again. */
  private async trim(g: number, mark: number): Promise<void> {
    try {
      await this.redis.xtrim(this.keys.stream(g), 'MINID', `${mark + 1}-0`);
      this.trimmed.set(g, mark);
    } catch (err) {
      this.logger.warn({ err, group: g }, 'trimming an applied delta stream failed; retried next round');
    }
  }

  private async reportBacklog(): Promise<void> {
    const lengths = await Promise.all(Array.from({ length: this.opts.groups }, (_, g) => this.redis.xlen(this.keys.stream(g))));
    this.metrics.backlog.set(lengths.reduce((a, b) => a + b, 0));
  }

  /** Stops the timer, waits for the round in flight, and releases the lease (another instance takes over at once). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running !== undefined) await this.running;
    try {
      await this.lease.release();
    } catch (err) {
      this.logger.warn({ err }, 'releasing the drain lease failed; it expires by itself');
    }
    this.metrics.leaseHeld.set(0);
  }
}

/**
 * The `r` fields of the entries back to back, checked: each is one record whose seq is its entry
 * ID's (`<seq>-1`), in increasing order. Anything else is not this format: fail the round rather
 * than apply (or skip) it.
 */
function recordsOf(entries: Entry[], g: number): Buffer {
  const out = Buffer.allocUnsafe(entries.length * RECORD_SIZE);
  let previous = 0;
  entries.forEach(([id, fields], i) => {
    let r: Buffer | undefined;
    for (let f = 0; f + 1 < fields.length; f += 2) if (fields[f]!.equals(R_FIELD)) r = fields[f + 1];
    const seq = Number(id.toString('latin1').split('-')[0]);
    if (r === undefined || r.length !== RECORD_SIZE || get64(r, RECORD.seq) !== seq || seq <= previous) {
      throw new Error(`group ${g}: stream entry ${id.toString('latin1')} is not a delta record of seq ${seq} (field r of ${RECORD_SIZE} bytes, increasing)`);
    }
    previous = seq;
    r.copy(out, i * RECORD_SIZE);
  });
  return out;
}
