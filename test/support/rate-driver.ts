/**
 * An open-loop load driver: starts `rate` jobs per second, at most `maxInFlight` at once, and when
 * it falls behind by more than a second (every sender busy, or too many in flight) it skips rather
 * than bursting later. The announce loads of the crash and fault tests (announce-load.ts,
 * shared-load.ts) drive their announces with it; what a job is, is theirs.
 */
export interface RateDriverOptions {
  readonly rate: number;
  readonly maxInFlight: number;
  /** Jobs running now (the load counts them itself: its jobs may retry inside). */
  inFlight(): number;
  /** Starts the next job and returns its promise, or undefined when no sender is free. */
  next(): Promise<unknown> | undefined;
}

export class RateDriver {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly settled = new Set<Promise<unknown>>();

  constructor(private readonly opts: RateDriverOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops starting jobs and waits for those in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.settled);
  }

  private async run(): Promise<void> {
    const t0 = Date.now();
    let sent = 0;
    const { rate, maxInFlight } = this.opts;
    while (this.running) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate) - sent;
      for (let i = 0; i < due && this.opts.inFlight() < maxInFlight; i++) {
        const job = this.opts.next();
        if (job === undefined) break;
        sent++;
        const p: Promise<unknown> = job.finally(() => this.settled.delete(p));
        this.settled.add(p);
      }
      if (due > rate) sent += due - Math.ceil(rate);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
