/**
 * Start-up: the privtrak hook's state back from disk. Baselines come from the checkpoint, then
 * the journal is replayed in seq order: records above the checkpoint restore baselines, records
 * above the sink's applied mark go to the sink again. After a `kill -9` the totals resume exactly
 * where they stood, including the last announce before the crash.
 */
import type { Logger } from 'pino';
import type { StatDelta } from '../../accounting/delta.js';
import type { BaselineStore } from './baselines.js';
import type { Journal } from './journal.js';
import { readCheckpoint } from './checkpoint.js';

export interface RestoreOptions {
  readonly dir: string;
  /** Baselines last seen before this (epoch ms) are not restored: they would be purged anyway. */
  readonly cutoffMs: number;
  /** The highest seq the sink has applied. */
  readonly appliedThrough: number;
}

export interface RestoredState {
  /** The highest seq in use: the next announce gets seq + 1. */
  readonly seq: number;
  readonly checkpointSeq: number;
  /** Journal records read (they count towards the next checkpoint). */
  readonly records: number;
  /** Records handed to `resend` (above the sink's mark). */
  readonly replayed: number;
}

export function restoreState(opts: RestoreOptions, baselines: BaselineStore, journal: Journal, resend: (d: StatDelta) => void, logger: Logger): RestoredState {
  const { appliedThrough } = opts;
  const checkpoint = readCheckpoint(opts.dir);
  for (const e of checkpoint?.entries ?? []) if (e.baseline.lastMs >= opts.cutoffMs) baselines.set(e.key, e.baseline);
  const checkpointSeq = checkpoint?.seq ?? 0;
  const records = journal.replay();
  if (journal.damaged > 0) logger.warn({ damaged: journal.damaged }, 'journal: skipped damaged records');
  // The journal must hold every record above min(mark, checkpoint): otherwise deltas or baselines
  // are lost. Only possible if the journal directory was lost, replaced or damaged.
  const from = Math.min(appliedThrough, checkpointSeq);
  const gap = records.length === 0 ? Math.max(appliedThrough, checkpointSeq) > from : records[0]!.seq > from + 1;
  if (gap) {
    logger.error({ checkpointSeq, appliedThrough, journalFrom: records[0]?.seq },
      'journal: records are missing after the checkpoint or the sink mark; some deltas or baselines are lost');
  }
  let seq = Math.max(appliedThrough, checkpointSeq);
  let replayed = 0;
  for (const d of records) {
    if (d.seq > checkpointSeq) baselines.put(d.user, d.infoHash, d.peerId, d.baseline);
    if (d.seq > appliedThrough) {
      resend(d);
      replayed++;
    }
    if (d.seq > seq) seq = d.seq;
  }
  journal.roll(seq + 1);
  return { seq, checkpointSeq, records: records.length, replayed };
}
