/**
 * Long work on the event loop in slices of half a millisecond: a full registry reload
 * (100,000 users: ~350 ms of parsing and indexing) or a baseline checkpoint (100,000 peers:
 * ~100 ms) runs between announces instead of holding every one of them for its whole length
 * (issue 14, point 1). Slices are timed rather than counted, so a slow machine does not get
 * longer ones.
 *
 * Slices also keep to a share of the time while the tracker is busy. After a slice the loop gets
 * a turn (I/O first); if that turn found work waiting (it took BUSY_TURN_MS or more), the next
 * slice waits until the work has had at most BUSY_SHARE of the time since this slice began.
 * Without that, a slice took its 0.5 ms in every loop iteration, and at 9,000 HTTP announces/s
 * with connection close (an iteration serves one or two connections) a reload took more than half
 * of the tracker's time: announces queued behind it for the whole reload (bench/open-loop.sh with
 * REGISTRY_TOUCH: p99.9 270 ms). An idle tracker (start-up, a quiet night) still runs slice after
 * slice.
 *
 *   const slicer = new WorkSlicer();
 *   for (const row of rows) { work(row); if (slicer.due()) await slicer.nextTurn(); }
 */
import { performance } from 'node:perf_hooks';

/**
 * Milliseconds of work per slice. Small, because an iteration reads at most 32 datagrams from a
 * UDP socket (libuv): with 2 ms slices a tracker at half its maximum (17,700 UDP announces/s here)
 * could only read ~11,000/s while a reload ran; with 0.5 ms it keeps up.
 */
export const SLICE_MS = 0.5;

/**
 * The most of the time sliced work takes while the tracker is busy. bench/open-loop.sh offers half
 * the maximum, which keeps the tracker's core 70-80% busy (with its GC and writer thread): a tenth
 * more still fits. A fifth did not: at 9,000 HTTP announces/s with connection close, p99 52 ms and
 * p99.9 98 ms with a reload every 20 s, against 21 and 58 ms with a tenth. A reload of 100,000 users
 * then takes 2-3 s under load instead of 0.3-0.5 s; the old copy answers meanwhile.
 */
export const BUSY_SHARE = 0.1;

/**
 * A turn that takes this long served something (an announce costs 10-40 µs of the loop's time, a
 * turn with nothing to do a few µs): the tracker is busy, and the next slice waits for its share.
 */
export const BUSY_TURN_MS = 0.1;

/** Time and turns, as the slicer sees them (real ones by default; tests give their own). */
export interface SliceClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** One event-loop turn: pending I/O is served before it resolves. */
  turn(): Promise<void>;
  /** Resolves after about `ms` milliseconds (the loop serves meanwhile). */
  sleep(ms: number): Promise<void>;
}

export const loopClock: SliceClock = {
  now: () => performance.now(),
  // setImmediate runs after the poll phase: I/O that was ready when the slice ended is served first.
  turn: () => new Promise<void>((resolve) => setImmediate(resolve)),
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

export class WorkSlicer {
  private started: number;
  private deadline: number;
  private calls = 0;

  constructor(private readonly sliceMs = SLICE_MS, private readonly clock: SliceClock = loopClock) {
    this.started = clock.now();
    this.deadline = this.started + sliceMs;
  }

  /** True when this slice's time is up (the clock is read every 64 calls: cheap in a tight loop). */
  due(): boolean {
    return (++this.calls & 63) === 0 && this.clock.now() >= this.deadline;
  }

  /**
   * Lets the event loop run, then starts a new slice: at once if the loop had nothing waiting,
   * else once this slice is no more than BUSY_SHARE of the time since it began.
   */
  async nextTurn(): Promise<void> {
    const sliceEnd = this.clock.now();
    const worked = sliceEnd - this.started;
    await this.clock.turn();
    const turnEnd = this.clock.now();
    if (turnEnd - sliceEnd >= BUSY_TURN_MS) {
      const wait = worked / BUSY_SHARE - (turnEnd - this.started);
      if (wait > 0) await this.clock.sleep(wait);
    }
    this.started = this.clock.now();
    this.deadline = this.started + this.sliceMs;
  }
}
