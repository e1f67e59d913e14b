/**
 * The delta rule table: how one announce turns into credited bytes, given the peer's
 * baseline (the counters of its previous counted announce). Pure: no clock, no I/O.
 * Every row of the table in the README is one branch here and one test.
 *
 * | case                                                   | credited                   | baseline afterwards |
 * |--------------------------------------------------------|----------------------------|---------------------|
 * | unknown peer, started                                  | counters in full           | counters            |
 * | unknown peer, none/completed                           | 0, flag unknown_peer       | counters            |
 * | unknown peer, stopped                                  | 0, flag unknown_peer       | none                |
 * | known peer, counters ≥ baseline (any event)            | counters − baseline        | counters            |
 * | known peer, a counter < baseline, started              | counters in full (session) | counters            |
 * | known peer, a counter < baseline, not started          | 0 for it, counter_regression | unchanged for it  |
 * | known peer, stopped                                    | counters − baseline        | removed             |
 * | completed                                              | as above + one snatch      | —                   |
 */
import type { AnnounceEvent } from '../../bittorrent/types.js';

export const FLAG_UNKNOWN_PEER = 1;
export const FLAG_COUNTER_REGRESSION = 2;

export interface Baseline {
  uploaded: number;
  downloaded: number;
  left: number;
  /** Epoch ms of the last counted announce. */
  lastMs: number;
}

export interface Counters {
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event: AnnounceEvent;
  readonly nowMs: number;
}

export interface DeltaOutcome {
  deltaUp: number;
  deltaDown: number;
  /** Seconds spent seeding/leeching since the previous announce, capped. */
  seedTime: number;
  leechTime: number;
  snatch: boolean;
  flags: number;
  /** The baseline to keep, or null to remove it. */
  next: Baseline | null;
}

/**
 * Applies the rule table. `maxGapMs` caps seed/leech time (twice the announce interval):
 * a client silent for a day did not seed for a day as far as the tracker can tell.
 */
export function computeDelta(prev: Baseline | undefined, c: Counters, maxGapMs: number): DeltaOutcome {
  const snatch = c.event === 'completed';
  if (prev === undefined) {
    const started = c.event === 'started';
    return {
      deltaUp: started ? c.uploaded : 0,
      deltaDown: started ? c.downloaded : 0,
      seedTime: 0,
      leechTime: 0,
      snatch,
      flags: started ? 0 : FLAG_UNKNOWN_PEER,
      next: c.event === 'stopped' ? null : { uploaded: c.uploaded, downloaded: c.downloaded, left: c.left, lastMs: c.nowMs },
    };
  }
  let flags = 0;
  let deltaUp: number;
  let deltaDown: number;
  let nextUp = c.uploaded;
  let nextDown = c.downloaded;
  const regressed = c.uploaded < prev.uploaded || c.downloaded < prev.downloaded;
  if (regressed && c.event === 'started') {
    // A new session of the same peer_id: BEP 3 counters restart at `started`.
    deltaUp = c.uploaded;
    deltaDown = c.downloaded;
  } else {
    if (c.uploaded >= prev.uploaded) {
      deltaUp = c.uploaded - prev.uploaded;
    } else {
      deltaUp = 0;
      nextUp = prev.uploaded;
      flags |= FLAG_COUNTER_REGRESSION;
    }
    if (c.downloaded >= prev.downloaded) {
      deltaDown = c.downloaded - prev.downloaded;
    } else {
      deltaDown = 0;
      nextDown = prev.downloaded;
      flags |= FLAG_COUNTER_REGRESSION;
    }
  }
  // Time is attributed to the state the peer was in since its previous announce.
  let gap = c.nowMs - prev.lastMs;
  if (gap < 0) gap = 0;
  if (gap > maxGapMs) gap = maxGapMs;
  const seconds = Math.floor(gap / 1000);
  const late = (flags & FLAG_COUNTER_REGRESSION) !== 0;
  return {
    deltaUp,
    deltaDown,
    seedTime: late ? 0 : prev.left === 0 ? seconds : 0,
    leechTime: late ? 0 : prev.left === 0 ? 0 : seconds,
    snatch,
    flags,
    next: c.event === 'stopped' ? null : { uploaded: nextUp, downloaded: nextDown, left: c.left, lastMs: late ? prev.lastMs : c.nowMs },
  };
}
