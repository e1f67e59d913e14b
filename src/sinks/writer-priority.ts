/**
 * The CPU priority of a sink's writer thread (the SQLite sink's worker, the UNIT3D writer's).
 *
 * Why: where the writer shares a core with the announce thread (a small server, or a tracker
 * pinned to one core), the kernel splits the core evenly between the two while a batch is
 * written, so for that time the announce thread runs at half speed and announces queue behind
 * it. At 22,000 UDP announces/s (half the maximum, bench/open-loop.sh) that was p90 1.1 ms and
 * p99 7.7 ms; with the writer at nice 19 it writes in the core's idle time: p90 0.2 ms, p99 3.3 ms.
 *
 * Low priority alone would starve the writer when the announce thread is saturated: pending
 * deltas would grow to max_pending and announces would be refused as busy (measured: the closed
 * loop maximum fell from ~44,000/s to ~25,000/s). So a write that takes longer than WRITE_BUDGET_MS
 * gets normal priority, and keeps it while writes follow each other: only after IDLE_MS with
 * nothing to write does the writer go back to low priority. (Taking it back as soon as one write
 * ended was not enough: the flusher hands over 10,000 deltas at a time, each new batch waited out
 * its budget at low priority again, and at saturation pending deltas reached max_pending within
 * seconds: bench/run.sh, its "refused busy" column.)
 *
 * "Normal" is the nice value the thread started with (the process's: 0 unless the operator started
 * privtrak under `nice`). Getting it back needs the right to lower a nice value (root with
 * CAP_SYS_NICE, or RLIMIT_NICE: systemd's `LimitNICE=+0`). That is probed when the thread starts:
 * raise the nice value by one and lower it back. Where lowering fails the writer stays at normal priority (nice 1
 * at most: the probe's step) as before, and `state` says 'unavailable'. Linux only: elsewhere
 * (no /proc/thread-self) the same.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The nice value of an idle-time writer: the lowest priority there is. */
export const LOW_NICE = 19;
/** A write running this long gets normal priority until the writer is idle again. */
export const WRITE_BUDGET_MS = 500;
/** Idle this long (no write in flight), a writer with normal priority goes back to low. */
export const IDLE_MS = 100;

/** Sets a thread's nice value, throwing if the system refuses (os.setPriority by default; tests give their own). */
export type SetNice = (tid: number, nice: number) => void;
/** Reads a thread's nice value (os.getPriority by default). */
export type GetNice = (tid: number) => number;

export type PriorityState = 'unknown' | 'low' | 'normal' | 'unavailable';

/** The calling thread's kernel thread ID (Linux), or undefined where there is none to be had. */
export function currentThreadId(): number | undefined {
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/')[2]);
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

export class WriterPriority {
  private tid: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private current: PriorityState = 'unknown';
  /** The thread's nice value when it started (the process's: 0, or what the operator started it with): "normal". */
  private base = 0;
  /** How many writes ran past the budget and were given normal priority. */
  promotions = 0;

  constructor(private readonly opts: {
    readonly lowNice?: number; readonly budgetMs?: number; readonly idleMs?: number; readonly setNice?: SetNice; readonly getNice?: GetNice;
  } = {}) {}

  get state(): PriorityState {
    return this.current;
  }

  /** The writer thread's kernel thread ID (not Node's worker threadId), once it has told it. */
  get kernelThreadId(): number | undefined {
    return this.tid;
  }

  /** A new writer thread: probe whether its priority can be raised back, then lower it. */
  attach(tid: number | undefined): void {
    this.clearTimer();
    this.tid = tid;
    if (tid === undefined) {
      this.current = 'unavailable';
      return;
    }
    try {
      this.base = (this.opts.getNice ?? getPriority)(tid);
      if (this.base >= (this.opts.lowNice ?? LOW_NICE)) throw new Error('already at low priority');
      this.set(this.base + 1);
    } catch {
      this.current = 'unavailable';
      return;
    }
    try {
      this.set(this.base);
    } catch {
      // Stuck one step below normal (nice 1: weight 820 against 1,024): nearly the normal share.
      this.current = 'unavailable';
      return;
    }
    this.lower();
  }

  /**
   * A write was sent to the thread: at low priority, if it is still running after the budget it gets
   * normal priority; at normal priority it keeps it (a demotion waiting for IDLE_MS is called off).
   */
  writing(): void {
    if (this.current === 'normal') {
      this.clearTimer();
      return;
    }
    if (this.current !== 'low' || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.current !== 'low') return;
      try {
        this.set(this.base);
        this.current = 'normal';
        this.promotions++;
      } catch {
        this.current = 'unavailable';
      }
    }, this.opts.budgetMs ?? WRITE_BUDGET_MS);
    this.timer.unref();
  }

  /** The thread has nothing left to do: back to low priority once it stays idle for IDLE_MS. */
  idle(): void {
    this.clearTimer();
    if (this.current !== 'normal') return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.current === 'normal') this.lower();
    }, this.opts.idleMs ?? IDLE_MS);
    this.timer.unref();
  }

  /** The thread is gone. */
  detach(): void {
    this.clearTimer();
    this.tid = undefined;
    this.current = 'unknown';
  }

  private lower(): void {
    try {
      this.set(this.opts.lowNice ?? LOW_NICE);
      this.current = 'low';
    } catch {
      this.current = 'unavailable';
    }
  }

  private set(nice: number): void {
    (this.opts.setNice ?? setPriority)(this.tid!, nice);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
