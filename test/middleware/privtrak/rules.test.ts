import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeDelta as computeAt, ReusableOutcome, FLAG_COUNTER_REGRESSION, FLAG_UNKNOWN_PEER, type Baseline } from '../../../src/middleware/privtrak/rules.js';
import type { AnnounceEvent } from '../../../src/bittorrent/types.js';

const GAP = 2 * 1800 * 1000;
const T0 = 1_700_000_000_000;

function at(uploaded: number, downloaded: number, left: number, event: AnnounceEvent, nowMs = T0) {
  return { uploaded, downloaded, left, event, nowMs };
}

/** The rule at the announce's own time (`at` carries it). */
const computeDelta = (prev: Baseline | undefined, c: ReturnType<typeof at>, gap: number) => computeAt(prev, c, c.nowMs, gap);

const base = (uploaded: number, downloaded: number, left = 100, lastMs = T0 - 60_000): Baseline => ({ uploaded, downloaded, left, lastMs });

describe('delta rule table', () => {
  it('unknown peer, started: credits the reported counters in full, baseline = counters', () => {
    const out = computeDelta(undefined, at(500, 300, 10, 'started'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.flags, out.snatch], [500, 300, 0, false]);
    assert.deepEqual(out.next, { uploaded: 500, downloaded: 300, left: 10, lastMs: T0 });
  });

  for (const event of ['none', 'completed'] as const) {
    it(`unknown peer, ${event}: credits 0, flags unknown_peer, baseline = counters`, () => {
      const out = computeDelta(undefined, at(500, 300, 0, event), GAP);
      assert.deepEqual([out.deltaUp, out.deltaDown, out.flags], [0, 0, FLAG_UNKNOWN_PEER]);
      assert.deepEqual(out.next, { uploaded: 500, downloaded: 300, left: 0, lastMs: T0 });
      assert.equal(out.snatch, event === 'completed');
    });
  }

  it('unknown peer, stopped: credits 0, flagged, no baseline', () => {
    const out = computeDelta(undefined, at(500, 300, 0, 'stopped'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.flags, out.next], [0, 0, FLAG_UNKNOWN_PEER, null]);
  });

  for (const event of ['none', 'started', 'completed'] as const) {
    it(`known peer, counters ≥ baseline, ${event}: credits the difference, baseline = counters`, () => {
      const out = computeDelta(base(100, 50), at(180, 50, 0, event), GAP);
      assert.deepEqual([out.deltaUp, out.deltaDown, out.flags], [80, 0, 0]);
      assert.deepEqual(out.next, { uploaded: 180, downloaded: 50, left: 0, lastMs: T0 });
    });
  }

  it('known peer, a counter lower, started: a new session, credits counters in full', () => {
    const out = computeDelta(base(1000, 800), at(20, 900, 5, 'started'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.flags], [20, 900, 0]);
    assert.deepEqual(out.next, { uploaded: 20, downloaded: 900, left: 5, lastMs: T0 });
  });

  it('known peer, a counter lower, no started: 0 for that counter, flagged, baseline kept for it', () => {
    const prev = base(1000, 800);
    const out = computeDelta(prev, at(900, 850, 5, 'none'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.flags], [0, 50, FLAG_COUNTER_REGRESSION]);
    assert.deepEqual(out.next, { uploaded: 1000, downloaded: 850, left: 5, lastMs: prev.lastMs });
    // A late duplicate earns no seed or leech time either: the next on-time announce gets it.
    assert.deepEqual([out.seedTime, out.leechTime], [0, 0]);
  });

  it('known peer, stopped: credits the difference and removes the baseline', () => {
    const out = computeDelta(base(100, 50), at(150, 70, 0, 'stopped'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.next], [50, 20, null]);
  });

  it('known peer, stopped with a regressed counter: 0 for it, flagged, baseline removed', () => {
    const out = computeDelta(base(100, 50), at(90, 70, 0, 'stopped'), GAP);
    assert.deepEqual([out.deltaUp, out.deltaDown, out.flags, out.next], [0, 20, FLAG_COUNTER_REGRESSION, null]);
  });

  it('completed, or a known leecher now reporting left = 0 (a client that skips `completed`): one snatch', () => {
    assert.equal(computeDelta(base(0, 50), at(0, 100, 0, 'completed'), GAP).snatch, true);
    assert.equal(computeDelta(undefined, at(0, 100, 0, 'completed'), GAP).snatch, true, 'unknown peer, completed');
    assert.equal(computeDelta(base(0, 50), at(0, 100, 0, 'none'), GAP).snatch, true, 'leecher to seeder without completed');
    assert.equal(computeDelta(base(0, 50), at(0, 100, 0, 'stopped'), GAP).snatch, true, 'aria2: stopped with left=0, no completed');
    assert.equal(computeDelta(base(0, 50, 0), at(0, 50, 0, 'none'), GAP).snatch, false, 'a seeder staying a seeder');
    assert.equal(computeDelta(base(0, 50), at(0, 60, 10, 'none'), GAP).snatch, false, 'still leeching');
    assert.equal(computeDelta(undefined, at(0, 100, 0, 'started'), GAP).snatch, false, 'a seeder that starts complete');
    assert.equal(computeDelta(base(0, 50), at(0, 40, 0, 'none'), GAP).snatch, false, 'a late announce is not a transition');
  });

  it('seed time counts when the previous state was seeding, leech time otherwise, capped at twice the interval', () => {
    const seeding = computeDelta(base(0, 0, 0, T0 - 90_000), at(0, 0, 0, 'none'), GAP);
    assert.deepEqual([seeding.seedTime, seeding.leechTime], [90, 0]);
    const leeching = computeDelta(base(0, 0, 10, T0 - 90_500), at(0, 0, 0, 'completed'), GAP);
    assert.deepEqual([leeching.seedTime, leeching.leechTime], [0, 90]);
    const silent = computeDelta(base(0, 0, 0, T0 - 86_400_000), at(0, 0, 0, 'none'), GAP);
    assert.equal(silent.seedTime, 3600);
    const clockWentBack = computeDelta(base(0, 0, 0, T0 + 5000), at(0, 0, 0, 'none'), GAP);
    assert.equal(clockWentBack.seedTime, 0);
  });

  it('computes into a reused outcome exactly as into a new one, whatever it held before', () => {
    const reused = new ReusableOutcome();
    const cases: Array<[Baseline | undefined, ReturnType<typeof at>]> = [
      [undefined, at(500, 300, 10, 'started')],
      [base(100, 50), at(90, 70, 0, 'stopped')],
      [base(1000, 800), at(900, 850, 5, 'none')],
      [undefined, at(1, 2, 3, 'stopped')],
      [base(0, 0, 10, T0 - 90_500), at(0, 0, 0, 'completed')],
      [base(100, 50), at(180, 50, 0, 'none')],
    ];
    for (const [prev, c] of cases) {
      const fresh = computeDelta(prev, c, GAP);
      const again = computeAt(prev, c, c.nowMs, GAP, reused);
      assert.equal(again, reused);
      assert.deepEqual({ ...again, kept: undefined, next: again.next && { ...again.next } }, { ...fresh, kept: undefined, next: fresh.next && { ...fresh.next } });
    }
  });
});
