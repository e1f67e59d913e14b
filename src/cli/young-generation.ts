/**
 * The size of V8's young generation, which privtrak asks to be started with (`npm start`, the
 * systemd unit): `--max-semi-space-size=32` (MB per semi-space; V8's default is 16).
 *
 * Why: a scavenge promotes whatever is still alive to the old generation, and the old generation
 * is collected by full mark-compacts, whose pauses and marking steps held announces for 10-40 ms.
 * Under load an announce allocates ~7 KB (HTTP with connection close), so with 16 MB semi-spaces a
 * scavenge came every ~0.2 s, and anything that lived a little longer (a reply waiting for its
 * journal commit, requests queued behind a registry reload's slice) was promoted. With 32 MB the
 * scavenges come half as often, much less is promoted, and the full collections that made the
 * 99.9th percentile were rarer in the runs in BENCHMARKS.md (issue 14, point 1). The price is
 * ~30 MB more memory (measured), once, whatever the number of peers.
 *
 * V8 reads the size when the heap is created, so it cannot be set from here: it must be on the
 * node command line or in NODE_OPTIONS. This module only reads what was given, for the log line at
 * start, so an operator who starts `privtrak` some other way learns how to set it.
 */
import type { Logger } from '../log.js';

export const RECOMMENDED_SEMI_SPACE_MB = 32;

/** The --max-semi-space-size given to this process (MB), from its flags or NODE_OPTIONS; undefined if none. */
export function semiSpaceSizeMb(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  let found: number | undefined;
  // NODE_OPTIONS first: flags on the command line come after it and win.
  for (const arg of [...(nodeOptions ?? '').split(/\s+/), ...execArgv]) {
    const m = /^--max[-_]semi[-_]space[-_]size(?:=(\d+))?$/.exec(arg);
    if (m?.[1] !== undefined) found = Number(m[1]);
  }
  return found;
}

/** A line for the start-up log: the young generation's size, and how to set it when it is V8's default. */
export function youngGenerationNote(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS']): { semiSpaceMb: number | 'default'; hint?: string } {
  const mb = semiSpaceSizeMb(execArgv, nodeOptions);
  if (mb !== undefined && mb >= RECOMMENDED_SEMI_SPACE_MB) return { semiSpaceMb: mb };
  return {
    semiSpaceMb: mb ?? 'default',
    hint: `for fewer full garbage collections under load start node with --max-semi-space-size=${RECOMMENDED_SEMI_SPACE_MB} `
      + `(e.g. NODE_OPTIONS=--max-semi-space-size=${RECOMMENDED_SEMI_SPACE_MB}; npm start and the systemd unit do)`,
  };
}

/** Says once at start how big the young generation is, with how to set it if it is smaller than recommended. */
export function logYoungGeneration(logger: Logger, note = youngGenerationNote()): void {
  const { semiSpaceMb, hint } = note;
  if (hint === undefined) logger.info({ semiSpaceMb }, 'V8 young generation set for the tracker');
  else logger.info({ semiSpaceMb }, `V8 young generation at ${semiSpaceMb === 'default' ? "V8's default" : `${semiSpaceMb} MB per semi-space`}: ${hint}`);
}
