/**
 * `privtrak recover`: rebuilds a damaged baseline checkpoint from the previous one and the
 * journal (middleware/privtrak/recovery.ts), with the tracker stopped. The sink's applied mark
 * is read so the report can say where the sink stands; the journal itself is not changed, so
 * every delta the sink has not applied is still replayed at the next start.
 *
 * Reading the journal is the long part: its progress goes to stderr (progress/outputs.ts),
 * ending with `privtrak: recover: N records in T (R records/s), D damaged stretches skipped`.
 */
import { mkdirSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { lockDir } from '../../middleware/privtrak/dir-lock.js';
import { recoverState, type RecoveryReport } from '../../middleware/privtrak/recovery.js';
import { journalBytes } from '../../middleware/privtrak/journal.js';
import { cliProgress } from '../../progress/outputs.js';
import { createSink } from '../../sinks/index.js';
import { privtrakOptionsFromConfig } from './sink-from-config.js';

export async function runRecover(config: Config, out: (line: string) => void): Promise<RecoveryReport> {
  const opts = privtrakOptionsFromConfig(config);
  mkdirSync(opts.journal_dir, { recursive: true });
  const unlock = lockDir(opts.journal_dir);
  const sink = createSink(opts.sink);
  try {
    await sink.open();
    const { appliedThrough } = await sink.load(opts.instance);
    const progress = cliProgress({
      task: 'recover', unit: 'bytes', total: journalBytes(opts.journal_dir), rowsName: 'journal records', rejectsName: 'damaged stretches skipped',
    });
    let report: RecoveryReport;
    try {
      report = await recoverState({
        dir: opts.journal_dir, cutoffMs: Date.now() - opts.baseline_lifetime, appliedThrough,
        shardCount: opts.shard_count, fsync: opts.journal_fsync, progress,
      });
    } catch (err) {
      progress.abandon(); // the error says why
      throw err;
    }
    progress.finish();
    for (const m of report.movedAside) out(`privtrak: ${m.file}: ${m.why}; moved aside to ${m.to}`);
    if (report.outcome === 'sound') {
      out(`privtrak: ${opts.journal_dir}: the baseline checkpoint (seq ${report.seq}, ${report.baselines} baselines) is sound; nothing to recover`);
      return report;
    }
    const base = report.base === 'previous' ? `the previous checkpoint (seq ${report.baseSeq})` : 'no checkpoint (none was readable)';
    out(`privtrak: rebuilt the baseline checkpoint at seq ${report.seq}: ${report.baselines} baselines from ${base} and ${report.replayed} journal records; the sink has applied through seq ${appliedThrough}`);
    if (report.missing !== undefined) {
      out(`privtrak: warning: the journal holds no records for seq ${report.missing.fromSeq}..${report.missing.toSeq}: `
        + 'peers whose last announce was in that range have no baseline (their next announce counts as an unknown peer)');
    }
    return report;
  } finally {
    await sink.close().catch(() => undefined);
    unlock();
  }
}
