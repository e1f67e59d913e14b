/**
 * bench/sustained-max.mjs: open-loop.sh's maximum is the rate the tracker kept up in its closed loop,
 * the answered rate less the growth of its pending deltas per second. Run as open-loop.sh runs it,
 * on two scrapes written here in the tracker's own format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCRIPT = join(ROOT, 'bench', 'sustained-max.mjs');

/** A scrape as the tracker writes it: other metrics around the gauge, one with a similar name. */
function scrape(pending: number | undefined): string {
  return [
    '# HELP privtrak_deltas_total Deltas computed, by flag (none, unknown_peer, counter_regression).',
    '# TYPE privtrak_deltas_total counter',
    'privtrak_deltas_total{flag="none"} 912345',
    '# HELP privtrak_deltas_oldest_pending_seconds Age of the oldest pending delta.',
    'privtrak_deltas_oldest_pending_seconds 0.8',
    ...(pending === undefined ? [] : [
      '# HELP privtrak_deltas_pending Deltas waiting to be applied to the sink.',
      '# TYPE privtrak_deltas_pending gauge',
      `privtrak_deltas_pending ${pending}`,
    ]),
    'privtrak_pending_limit 200000',
    '',
  ].join('\n');
}

function run(before: number | undefined, after: number | undefined, answered: string, seconds: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sustained-'));
  try {
    writeFileSync(join(dir, 'before.prom'), scrape(before));
    writeFileSync(join(dir, 'after.prom'), scrape(after));
    return spawnSync(process.execPath, [SCRIPT, join(dir, 'before.prom'), join(dir, 'after.prom'), answered, seconds], { encoding: 'utf8', timeout: 20_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a writer that fell behind: the maximum is the answered rate less the backlog growth per second', () => {
  // 38,266/s answered for 30 s while the backlog grew by 45,000: 1,500/s were not kept up.
  const r = run(2_000, 47_000, '38266', '30');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '36766 2000 47000');
});

test('a backlog that shrank or held: the answered rate, never more', () => {
  const shrank = run(30_000, 10_000, '40000', '30');
  assert.equal(shrank.status, 0, shrank.stderr);
  assert.equal(shrank.stdout.trim(), '40000 30000 10000');
  const held = run(5_000, 5_000, '40000.7', '30');
  assert.equal(held.stdout.trim(), '40000 5000 5000');
});

test('no privtrak hook (no gauge in the scrape): the answered rate', () => {
  const r = run(undefined, undefined, '61752', '30');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '61752 0 0');
});

test('a backlog that grew faster than announces were answered: 0, not a negative rate; bad input refused', () => {
  assert.equal(run(0, 3_000_000, '50000', '30').stdout.trim(), '0 0 3000000');
  const zero = run(0, 0, '50000', '0');
  assert.notEqual(zero.status, 0);
  assert.match(zero.stderr, /seconds must be positive/);
  const missing = spawnSync(process.execPath, [SCRIPT, 'only-one.prom'], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /usage/);
});
