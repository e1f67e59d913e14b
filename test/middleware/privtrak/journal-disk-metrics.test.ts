/** The gauges alerts read about the journal's disk (journal-disk-metrics.ts) and the pending limit (metrics.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { registerJournalDiskMetrics } from '../../../src/middleware/privtrak/journal-disk-metrics.js';
import { PrivtrakMetrics } from '../../../src/middleware/privtrak/metrics.js';

async function value(registry: Registry, name: string): Promise<number | undefined> {
  const json = await registry.getMetricsAsJSON();
  return json.find((m) => m.name === name)?.values[0]?.value;
}

describe('journal disk metrics', () => {
  it('report the bytes of the journal directory and its file system, read at each scrape', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-disk-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const registry = new Registry();
    registerJournalDiskMetrics(registry, dir);
    writeFileSync(join(dir, 'seg-1'), Buffer.alloc(1000));
    writeFileSync(join(dir, 'checkpoint'), Buffer.alloc(234));
    mkdirSync(join(dir, 'sub')); // not a file: not counted
    assert.equal(await value(registry, 'privtrak_journal_bytes'), 1234);
    writeFileSync(join(dir, 'seg-2'), Buffer.alloc(66));
    assert.equal(await value(registry, 'privtrak_journal_bytes'), 1300, 'read again at the next scrape');
    const fs = statfsSync(dir);
    const size = await value(registry, 'privtrak_journal_disk_size_bytes');
    const free = await value(registry, 'privtrak_journal_disk_free_bytes');
    assert.equal(size, fs.blocks * fs.bsize);
    assert.ok(free! > 0 && free! <= size!, `free ${free} of ${size}`);
    // Within what other processes may write between the two statfs calls.
    assert.ok(Math.abs(free! - fs.bavail * fs.bsize) < 256 * 1024 * 1024, `free ${free} vs ${fs.bavail * fs.bsize}`);
  });

  it('report NaN, not zero, for a directory that cannot be read (no false "disk full")', async () => {
    const registry = new Registry();
    registerJournalDiskMetrics(registry, join(tmpdir(), 'privtrak-no-such-dir-' + process.pid));
    for (const name of ['privtrak_journal_bytes', 'privtrak_journal_disk_free_bytes', 'privtrak_journal_disk_size_bytes']) {
      assert.ok(Number.isNaN(await value(registry, name)), name);
    }
  });
});

describe('privtrak_pending_limit', () => {
  it('is max_pending when given, and absent otherwise (shared mode)', async () => {
    const single = new Registry();
    new PrivtrakMetrics(single, { maxPending: 4321 });
    assert.equal(await value(single, 'privtrak_pending_limit'), 4321);
    const shared = new Registry();
    new PrivtrakMetrics(shared);
    assert.equal(shared.getSingleMetric('privtrak_pending_limit'), undefined);
  });
});
