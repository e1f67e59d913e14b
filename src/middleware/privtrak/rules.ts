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
 * | completed, or a known leecher (baseline left > 0) now  | as above + one snatch      | —                   |
 * |   reporting left = 0 (not a late announce)             |                            |                     |
 */
import type { AnnounceEvent } from '../../bittorrent/types.js';
import type { Baseline } from '../../accounting/delta.js';

export type { Baseline };

export const FLAG_UNKNOWN_PEER = 1;
export const FLAG_COUNTER_REGRESSION = 2;

/** What an announce reports (an AnnounceRequest is one). */
export interface Counters {
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event: AnnounceEvent;
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
 * An outcome to compute into, again and again: the announce path keeps one, so an announce
 * allocates neither the outcome nor its next baseline (`next` is `kept` or null).
 */
export class ReusableOutcome implements DeltaOutcome {
  deltaUp = 0;
  deltaDown = 0;
  seedTime = 0;
  leechTime = 0;
  snatch = false;
  flags = 0;
  next: Baseline | null = null;
  readonly kept: Baseline = { uploaded: 0, downloaded: 0, left: 0, lastMs: 0 };
}

function settle(out: ReusableOutcome, deltaUp: number, deltaDown: number, seedTime: number, leechTime: number,
  snatch: boolean, flags: number, stopped: boolean, up: number, down: number, left: number, lastMs: number): ReusableOutcome {
  out.deltaUp = deltaUp;
  out.deltaDown = deltaDown;
  out.seedTime = seedTime;
  out.leechTime = leechTime;
  out.snatch = snatch;
  out.flags = flags;
  if (stopped) {
    out.next = null;
  } else {
    const k = out.kept;
    k.uploaded = up;
    k.downloaded = down;
    k.left = left;
    k.lastMs = lastMs;
    out.next = k;
  }
  return out;
}

/**
 * Applies the rule table to one announce at `nowMs`. `maxGapMs` caps seed/leech time (twice the
 * announce interval): a client silent for a day did not seed for a day as far as the tracker can
 * tell. Writes into `out` when given (valid until its next use), else into a new outcome.
 */
export function computeDelta(prev: Baseline | undefined, c: Counters, nowMs: number, maxGapMs: number,
  out: ReusableOutcome = new ReusableOutcome()): DeltaOutcome {
  const stopped = c.event === 'stopped';
  if (prev === undefined) {
    const snatch = c.event === 'completed';
    const started = c.event === 'started';
    return settle(out, started ? c.uploaded : 0, started ? c.downloaded : 0, 0, 0, snatch,
      started ? 0 : FLAG_UNKNOWN_PEER, stopped, c.uploaded, c.downloaded, c.left, nowMs);
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
  let gap = nowMs - prev.lastMs;
  if (gap < 0) gap = 0;
  if (gap > maxGapMs) gap = maxGapMs;
  const seconds = Math.floor(gap / 1000);
  const late = (flags & FLAG_COUNTER_REGRESSION) !== 0;
  // A leecher that is now a seeder finished the download, `completed` or not: aria2 told to stop at
  // once after its download sends `stopped` with left=0 and no `completed` (seen in the e2e tests).
  // UNIT3D-Announce counts times_completed on the same leecher-to-seeder step.
  const snatch = c.event === 'completed' || (prev.left > 0 && c.left === 0 && !late);
  return settle(out, deltaUp, deltaDown, late ? 0 : prev.left === 0 ? seconds : 0, late ? 0 : prev.left === 0 ? 0 : seconds,
    snatch, flags, stopped, nextUp, nextDown, c.left, late ? prev.lastMs : nowMs);
}
