/**
 * The work slicer's pacing (work-slicer.ts), on a simulated clock: slices back to back while the
 * loop is idle, and no more than BUSY_SHARE of the time while its turns serve work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY_SHARE, BUSY_TURN_MS, SLICE_MS, WorkSlicer, type SliceClock } from '../src/work-slicer.js';

/** A clock that moves only when told: each turn costs `turnMs` (the announces served in it). */
class SimClock implements SliceClock {
  t = 1_000;
  sleeps: number[] = [];
  constructor(public turnMs: number) {}
  now(): number {
    return this.t;
  }
  async turn(): Promise<void> {
    this.t += this.turnMs;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    // A timer fires no earlier than asked; the loop serves announces meanwhile.
    this.t += ms;
  }
}

/**
 * Runs `units` units of work costing `unitMs` each through a slicer on `clock`, as a reload does,
 * and returns the share of the time the work took and how many slices it ran in.
 */
async function run(clock: SimClock, units: number, unitMs: number): Promise<{ share: number; slices: number }> {
  const slicer = new WorkSlicer(SLICE_MS, clock);
  const start = clock.t;
  let slices = 1;
  for (let i = 0; i < units; i++) {
    clock.t += unitMs;
    if (slicer.due()) {
      await slicer.nextTurn();
      slices++;
    }
  }
  return { share: (units * unitMs) / (clock.t - start), slices };
}

describe('WorkSlicer pacing', () => {
  it('runs slice after slice while the loop is idle', async () => {
    const clock = new SimClock(0.005);
    const { share, slices } = await run(clock, 64 * 400, 0.001);
    assert.deepEqual(clock.sleeps, [], 'no waits on an idle loop');
    assert.ok(slices >= 40, `the work was sliced (${slices} slices)`);
    assert.ok(share > 0.95, `an idle loop leaves the work nearly all the time (${share.toFixed(3)})`);
  });

  it('keeps to BUSY_SHARE of the time when every turn serves announces', async () => {
    const clock = new SimClock(0.3);
    const { share, slices } = await run(clock, 64 * 400, 0.001);
    assert.ok(slices >= 40, `the work was sliced (${slices} slices)`);
    assert.equal(clock.sleeps.length, slices - 1, 'each turn that served work is followed by a wait');
    // Each slice ends at the first due() check past SLICE_MS: at most 63 units (0.063 ms) late.
    const slice = SLICE_MS + 0.063;
    for (const ms of clock.sleeps) {
      assert.ok(ms > 0 && ms <= slice / BUSY_SHARE - slice - 0.3 + 1e-9, `a wait of ${ms} ms after a slice and a 0.3 ms turn`);
    }
    assert.ok(share <= BUSY_SHARE + 1e-9 && share > BUSY_SHARE * 0.9, `the work took ${share.toFixed(3)} of the time`);
  });

  it('waits no more when the turn itself already took the rest of the time', async () => {
    // A turn (a burst of announces) longer than the rest of the cycle the share asks for.
    const clock = new SimClock((SLICE_MS + 0.1) / BUSY_SHARE);
    const { share } = await run(clock, 64 * 100, 0.001);
    assert.deepEqual(clock.sleeps, []);
    assert.ok(share < BUSY_SHARE);
  });

  it('counts a turn as busy from BUSY_TURN_MS on', async () => {
    const idle = new SimClock(BUSY_TURN_MS * 0.9);
    await run(idle, 64 * 50, 0.001);
    assert.deepEqual(idle.sleeps, []);
    const busy = new SimClock(BUSY_TURN_MS);
    await run(busy, 64 * 50, 0.001);
    assert.ok(busy.sleeps.length > 0);
  });

  it('really yields on the real loop: timers and I/O callbacks run between slices', async () => {
    // The default clock: a timer set before the work fires while it is still running.
    const slicer = new WorkSlicer();
    let fired = false;
    setTimeout(() => (fired = true), 1);
    const until = performance.now() + 30;
    let spins = 0;
    while (performance.now() < until) {
      spins++;
      if (slicer.due()) await slicer.nextTurn();
    }
    assert.ok(fired, `a 1 ms timer fired during 30 ms of sliced work (${spins} spins)`);
  });
});
