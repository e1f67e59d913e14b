/**
 * `privtrak migrate` for the journal directory: finds the users of legacy records and checkpoints
 * (keyed by passkeys, legacy-data.ts) and rewrites them under user keys.
 *
 * Crash-safe by construction: each file is rewritten whole as a new file, fsynced when
 * configured, and renamed over the old one, so after a crash every file is either still legacy or
 * fully rekeyed, and a legacy file names its own state (record magic, checkpoint version).
 * Running migrate again finishes the job; a rekeyed file is never rekeyed twice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { legacyRecordOffsets, recordUser, upgradeLegacyRecord } from '../../accounting/delta-record.js';
import { mapAll, type Rekey } from '../../accounting/legacy-data.js';
import { nodeFs, replaceFileSync, type DurableFs } from '../../durable-fs.js';
import { CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, isLegacyCheckpoint, readCheckpoint, rekeyCheckpointFile } from './checkpoint.js';
import { segmentFiles } from './journal.js';
import type { Progress } from '../../progress/progress.js';

const CHECKPOINTS = [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE];

export interface LegacyJournalData {
  /** Files holding legacy data. */
  readonly files: string[];
  /** Every legacy user key in them (with repeats). */
  readonly keys: Buffer[];
}

/** What in `dir` is legacy (read only). */
export function findLegacyJournalData(dir: string): LegacyJournalData {
  const files: string[] = [];
  const keys: Buffer[] = [];
  if (!existsSync(dir)) return { files, keys };
  for (const seg of segmentFiles(dir)) {
    const data = readFileSync(seg.path);
    const offsets = legacyRecordOffsets(data);
    if (offsets.length === 0) continue;
    files.push(seg.path);
    for (const off of offsets) keys.push(recordUser(data, off));
  }
  for (const file of CHECKPOINTS) {
    // From the header first: a current checkpoint is none of migrate's business, damaged or not.
    if (!isLegacyCheckpoint(dir, file)) continue;
    const cp = readCheckpoint(dir, file);
    if (cp === undefined || !cp.legacy) continue;
    files.push(join(dir, file));
    for (const e of cp.entries) keys.push(Buffer.from(e.key.subarray(0, 16)));
  }
  return { files, keys };
}

/**
 * Rekeys every legacy file in `dir` (the journal directory's lock must be held). Throws
 * UnmappedUserKeysError, before changing anything, if `rekey` maps some user to nothing.
 * Returns the files rewritten. `progress` (unit bytes, total journalBytes) counts the legacy
 * records rekeyed, segment by segment.
 */
export function rekeyJournalDir(dir: string, rekey: Rekey, fsync: boolean, fs: DurableFs = nodeFs, progress?: Progress): string[] {
  const found = findLegacyJournalData(dir);
  const map = mapAll(dir, found.keys, rekey);
  const to = (user: Buffer) => map.get(user.toString('latin1'))!;
  const done: string[] = [];
  let position = 0;
  for (const seg of segmentFiles(dir)) {
    const data = readFileSync(seg.path);
    position += data.length;
    const offsets = legacyRecordOffsets(data);
    if (offsets.length > 0) {
      for (const off of offsets) upgradeLegacyRecord(data, off, to(recordUser(data, off)));
      replaceFileSync(seg.path, data, fsync, fs);
      done.push(seg.path);
    }
    progress?.add(offsets.length, position);
  }
  for (const file of CHECKPOINTS) if (rekeyCheckpointFile(dir, file, to, fsync, fs)) done.push(join(dir, file));
  if (fsync && done.length > 0) fs.fsyncDirSync(dir);
  return done;
}

