/**
 * The privtrak hook's state back from disk. Baselines come from a checkpoint, then the journal is
 * replayed in seq order: records above the checkpoint restore baselines, records above the sink's
 * applied mark go to the sink again. After a `kill -9` the totals resume exactly where they stood,
 * including the last announce before the crash.
 *
 * - `restoreState` (start-up) uses the current checkpoint, or the previous one if a crash came
 *   between the two renames of a checkpoint write. A damaged checkpoint stops the start with the
 *   file's name and what to do: run `privtrak recover`.
 * - `recoverState` (`privtrak recover`) moves a damaged checkpoint aside and rebuilds it from
 *   the previous checkpoint and the journal, which is kept back to that one (checkpoint.ts): no
 *   baseline the journal holds is lost. If both checkpoints are damaged it rebuilds from the
 *   journal alone and says how much of the sequence was not there.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StatDelta } from '../../accounting/delta.js';
import { BaselineStore } from './baselines.js';
import { Journal } from './journal.js';
import type { Progress } from '../../progress/progress.js';
import {
  CHECKPOINT_FILE, CheckpointDamagedError, PREVIOUS_CHECKPOINT_FILE, checkpointSeqOf, readCheckpoint, refuseLegacyCheckpoints, writeCheckpoint, type Checkpoint,
} from './checkpoint.js';

export interface RestoreOptions {
  readonly dir: string;
  /** Baselines last seen before this (epoch ms) are not restored: they would be purged anyway. */
  readonly cutoffMs: number;
  /** The highest seq the sink has applied. */
  readonly appliedThrough: number;
  /** Reports the journal replay (unit bytes, total journalBytes); the caller finishes it. */
  readonly progress?: Progress;
}

export interface RestoredState {
  /** The highest seq in use: the next announce gets seq + 1. */
  readonly seq: number;
  readonly checkpointSeq: number;
  /** The seq of the checkpoint before it (the journal is kept back to it); 0 if none is readable. */
  readonly previousCheckpointSeq: number;
  /** Journal records read (they count towards the next checkpoint). */
  readonly records: number;
  /** Records handed to `resend` (above the sink's mark). */
  readonly replayed: number;
}

/** Advice for an operator whose checkpoint is damaged. */
const RECOVER_ADVICE = 'run `privtrak recover` with the same --config to rebuild it from the previous checkpoint and the journal (nothing the journal holds is lost), then start again';

/** Puts a checkpoint's baselines (those seen since `cutoffMs`) into the store; returns its seq (0: none). */
function loadBaselines(checkpoint: Checkpoint | undefined, baselines: BaselineStore, cutoffMs: number): number {
  for (const e of checkpoint?.entries ?? []) if (e.baseline.lastMs >= cutoffMs) baselines.set(e.key, e.baseline);
  return checkpoint?.seq ?? 0;
}

/**
 * Replays journal records above `baseSeq` onto the baselines (each record holds its peer's whole
 * baseline afterwards, so the last one per peer wins); returns how many it replayed.
 */
function replayBaselines(records: readonly StatDelta[], baseSeq: number, baselines: BaselineStore): number {
  let replayed = 0;
  for (const d of records) {
    if (d.seq <= baseSeq) continue;
    baselines.put(d.user, d.infoHash, d.peerId, d.baseline);
    replayed++;
  }
  return replayed;
}

export function restoreState(opts: RestoreOptions, baselines: BaselineStore, journal: Journal, resend: (d: StatDelta) => void, logger: Logger): RestoredState {
  const { appliedThrough } = opts;
  // Baselines keyed by passkeys would start every user afresh under a new key: refuse (legacy-data.ts).
  refuseLegacyCheckpoints(opts.dir);
  let checkpoint: Checkpoint | undefined;
  let previousCheckpointSeq = 0;
  try {
    checkpoint = readCheckpoint(opts.dir);
    previousCheckpointSeq = checkpoint === undefined ? 0 : checkpointSeqOf(opts.dir, PREVIOUS_CHECKPOINT_FILE) ?? 0;
    if (checkpoint === undefined) {
      // A crash between moving the current checkpoint aside and putting the new one in place.
      checkpoint = readCheckpoint(opts.dir, PREVIOUS_CHECKPOINT_FILE);
      if (checkpoint !== undefined) logger.warn({ seq: checkpoint.seq }, `no ${CHECKPOINT_FILE}: restoring from ${PREVIOUS_CHECKPOINT_FILE}`);
    }
  } catch (err) {
    if (err instanceof CheckpointDamagedError) throw new CheckpointDamagedError(err.path, `${err.why}; ${RECOVER_ADVICE}`);
    throw err;
  }
  const checkpointSeq = loadBaselines(checkpoint, baselines, opts.cutoffMs);
  const records = journal.replay(opts.progress);
  if (journal.damaged > 0) logger.warn({ damaged: journal.damaged }, 'journal: skipped damaged records');
  // The journal must hold every record above min(mark, checkpoint): otherwise deltas or baselines
  // are lost. Only possible if the journal directory was lost, replaced or damaged.
  const from = Math.min(appliedThrough, checkpointSeq);
  const gap = records.length === 0 ? Math.max(appliedThrough, checkpointSeq) > from : records[0]!.seq > from + 1;
  if (gap) {
    logger.error({ checkpointSeq, appliedThrough, journalFrom: records[0]?.seq },
      'journal: records are missing after the checkpoint or the sink mark; some deltas or baselines are lost');
  }
  replayBaselines(records, checkpointSeq, baselines);
  let replayed = 0;
  for (const d of records) {
    if (d.seq <= appliedThrough) continue;
    resend(d);
    replayed++;
  }
  const seq = Math.max(appliedThrough, checkpointSeq, records.at(-1)?.seq ?? 0);
  journal.roll(seq + 1);
  return { seq, checkpointSeq, previousCheckpointSeq, records: records.length, replayed };
}

export interface RecoverOptions extends RestoreOptions {
  readonly shardCount: number;
  readonly fsync: boolean;
}

export interface RecoveryReport {
  /** 'sound': the current checkpoint reads whole, nothing was changed. */
  readonly outcome: 'sound' | 'rebuilt';
  /** Damaged checkpoint files, and the names they were moved aside to. */
  readonly movedAside: ReadonlyArray<{ readonly file: string; readonly to: string; readonly why: string }>;
  /** What the checkpoint now in place rests on. */
  readonly base: 'current' | 'previous' | 'journal only';
  readonly baseSeq: number;
  /** Journal records replayed onto the base. */
  readonly replayed: number;
  readonly baselines: number;
  /** The seq the rebuilt checkpoint is at. */
  readonly seq: number;
  /** Set when the journal does not reach back to the base: baselines of peers last seen in that range are gone. */
  readonly missing?: { readonly fromSeq: number; readonly toSeq: number };
}

/** Moves a damaged checkpoint out of the way, keeping it for inspection. */
function moveAside(dir: string, file: string, why: string, stamp: string): { file: string; to: string; why: string } {
  const to = `${file}.damaged-${stamp}`;
  renameSync(join(dir, file), join(dir, to));
  return { file, to, why };
}

/** `privtrak recover`: see the file comment. The journal directory must not be in use (the caller holds its lock). */
export async function recoverState(opts: RecoverOptions): Promise<RecoveryReport> {
  refuseLegacyCheckpoints(opts.dir);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const movedAside: Array<{ file: string; to: string; why: string }> = [];
  const readOrMoveAside = (file: string): Checkpoint | undefined => {
    try {
      return readCheckpoint(opts.dir, file);
    } catch (err) {
      if (!(err instanceof CheckpointDamagedError)) throw err;
      movedAside.push(moveAside(opts.dir, file, err.why, stamp));
      return undefined;
    }
  };
  const current = readOrMoveAside(CHECKPOINT_FILE);
  const journal = new Journal(opts.dir, { io: 'write' });
  const records = journal.replay(opts.progress);
  if (current !== undefined) {
    return { outcome: 'sound', movedAside, base: 'current', baseSeq: current.seq, replayed: 0, baselines: current.entries.length, seq: current.seq };
  }
  const previous = readOrMoveAside(PREVIOUS_CHECKPOINT_FILE);
  const baselines = new BaselineStore(opts.shardCount);
  const baseSeq = loadBaselines(previous, baselines, opts.cutoffMs);
  const replayed = replayBaselines(records, baseSeq, baselines);
  const seq = Math.max(baseSeq, opts.appliedThrough, records.at(-1)?.seq ?? 0);
  const firstNeeded = baseSeq + 1;
  const journalFrom = records.find((d) => d.seq > baseSeq)?.seq;
  const missing = journalFrom !== undefined && journalFrom > firstNeeded ? { fromSeq: firstNeeded, toSeq: journalFrom - 1 }
    : journalFrom === undefined && seq > baseSeq ? { fromSeq: firstNeeded, toSeq: seq } : undefined;
  await writeCheckpoint(opts.dir, seq, baselines, { fsync: opts.fsync, sinceMs: opts.cutoffMs });
  return { outcome: 'rebuilt', movedAside, base: previous === undefined ? 'journal only' : 'previous', baseSeq, replayed, baselines: baselines.size, seq, missing };
}
