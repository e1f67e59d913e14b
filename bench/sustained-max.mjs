// The closed-loop maximum the tracker can keep up (bench/open-loop.sh, issue 14 point 1).
//
// Why: in a closed loop the announce thread answers as fast as it can, while the SQLite writer
// (a thread of the same process, on the same core) folds and writes the deltas behind it. When
// the writer falls behind, the answered rate overstates what the tracker sustains: the deltas
// pile up (privtrak_deltas_pending) until max_pending, and from then on announces are refused as
// busy. Half of such a "maximum" was not half: in the ten-minute UDP run of 2026-12-01 the tracker
// queued near capacity from minute five on. So the maximum counted here is the rate at which
// deltas were applied: the answered rate less the backlog's growth per second (never more than
// the answered rate: a backlog that shrank was left over from before the window).
//
// usage: node bench/sustained-max.mjs BEFORE.prom AFTER.prom ANSWERED_PER_S SECONDS
//   BEFORE/AFTER: the tracker's /metrics scraped when the measured closed loop starts and ends.
// prints: "<sustained>/s <pending before> <pending after>"; the sustained rate is a whole number.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** privtrak_deltas_pending in a Prometheus text scrape; 0 when absent (no privtrak hook). */
export function pendingDeltas(text) {
  const m = /^privtrak_deltas_pending(?:\{[^}]*\})? ([0-9.eE+-]+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** The announces per second whose deltas were applied, at most the answered rate. */
export function sustainedRate({ answeredPerSecond, seconds, pendingBefore, pendingAfter }) {
  if (!(seconds > 0)) throw new RangeError(`seconds must be positive (got ${seconds})`);
  const growth = Math.max(0, pendingAfter - pendingBefore) / seconds;
  return Math.max(0, Math.floor(answeredPerSecond - growth));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [before, after, answered, seconds] = process.argv.slice(2);
  if (after === undefined || answered === undefined || seconds === undefined) {
    console.error('usage: node sustained-max.mjs BEFORE.prom AFTER.prom ANSWERED_PER_S SECONDS');
    process.exit(2);
  }
  const pendingBefore = pendingDeltas(readFileSync(before, 'utf8'));
  const pendingAfter = pendingDeltas(readFileSync(after, 'utf8'));
  const rate = sustainedRate({ answeredPerSecond: Number(answered), seconds: Number(seconds), pendingBefore, pendingAfter });
  console.log(`${rate} ${pendingBefore} ${pendingAfter}`);
}
