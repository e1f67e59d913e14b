/**
 * How much disk the journal takes and how much its file system has left, read when Prometheus
 * scrapes (a readdir, a stat per file and one statfs: the directory holds a few segments and two
 * checkpoints, and a scrape comes every few seconds at most). While the sink is down the journal
 * keeps every pending delta, so a full disk is the next failure: these gauges let an alert see it
 * coming (contrib/prometheus/privtrak-alerts.yml).
 */
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';

/** Bytes of the regular files directly in `dir` (segments, checkpoints, the lock file). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    // A segment deleted between readdir and stat (pruned after a flush) counts as nothing.
    total += await stat(join(dir, entry.name)).then((s) => s.size, () => 0);
  }
  return total;
}

export function registerJournalDiskMetrics(registry: Registry, dir: string): void {
  const registers = [registry];
  // A failed read (the directory not created yet, a file system gone) reports NaN instead of
  // failing the scrape: a comparison with NaN is false, so "unknown" never fires "disk full".
  new Gauge({
    name: 'privtrak_journal_bytes', help: 'Bytes of the files in journal_dir (journal segments and checkpoints), read at scrape time.', registers,
    async collect() {
      this.set(await directoryBytes(dir).catch(() => NaN));
    },
  });
  // One statfs per gauge: the registry collects all metrics of a scrape at once, so one gauge
  // cannot set the other's value in time for the same scrape.
  const fromStatfs = (name: string, help: string, read: (fs: { blocks: number; bavail: number; bsize: number }) => number) => new Gauge({
    name, help, registers,
    async collect() {
      this.set(await statfs(dir).then(read, () => NaN));
    },
  });
  fromStatfs('privtrak_journal_disk_free_bytes', 'Bytes available to the tracker on the file system of journal_dir (statfs bavail × bsize), read at scrape time.',
    (fs) => fs.bavail * fs.bsize);
  fromStatfs('privtrak_journal_disk_size_bytes', 'Size of the file system of journal_dir (statfs blocks × bsize), read at scrape time.',
    (fs) => fs.blocks * fs.bsize);
}
