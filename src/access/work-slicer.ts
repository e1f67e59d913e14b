/**
 * Long work on the event loop in slices of half a millisecond: a full registry reload
 * (100,000 users: ~350 ms of parsing and indexing) runs between announces instead of holding
 * every one of them for its whole length (issue 14, point 1). Slices are timed rather than
 * counted, so a slow machine does not get longer ones.
 *
 *   const slicer = new WorkSlicer();
 *   for (const row of rows) { work(row); if (slicer.due()) await slicer.nextTurn(); }
 */
import { performance } from 'node:perf_hooks';

/**
 * Milliseconds of work per slice. Small, because the slice takes its share of every event-loop
 * iteration, and an iteration reads at most 32 datagrams from a UDP socket (libuv): with 2 ms
 * slices a tracker at half its maximum (17,700 UDP announces/s here) could only read ~11,000/s
 * while a reload ran, and queued announces for the whole reload (p99 100 ms, bench/open-loop.sh
 * with REGISTRY_TOUCH); with 0.5 ms it keeps up, and an idle tracker reloads about as fast.
 */
export const SLICE_MS = 0.5;

export class WorkSlicer {
  private deadline = performance.now() + SLICE_MS;
  private calls = 0;

  constructor(private readonly sliceMs = SLICE_MS) {}

  /** True when this slice's time is up (the clock is read every 64 calls: cheap in a tight loop). */
  due(): boolean {
    return (++this.calls & 63) === 0 && performance.now() >= this.deadline;
  }

  /** Lets the event loop run (I/O first: setImmediate runs after the poll phase), then starts a new slice. */
  async nextTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.deadline = performance.now() + this.sliceMs;
  }
}
