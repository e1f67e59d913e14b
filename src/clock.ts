/**
 * A coarse clock: Date.now() read once per tick (default 1 s) instead of per request,
 * as aquatic does. Swarm timestamps need second precision, not a syscall per announce.
 */
export interface Clock {
  nowMs(): number;
}

export class CoarseClock implements Clock {
  private now = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(tickMs = 1000) {
    this.timer = setInterval(() => {
      this.now = Date.now();
    }, tickMs);
    this.timer.unref();
  }

  nowMs(): number {
    return this.now;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A clock tests can move by hand. */
export class ManualClock implements Clock {
  constructor(private now = 0) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
  set(ms: number): void {
    this.now = ms;
  }
}
