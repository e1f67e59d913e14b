/**
 * An in-process DeltaSink for hook tests that need to make the sink fail or stall on demand.
 * It follows the same contract as the real sinks (atomic, idempotent by seq); the real sinks are checked against that contract by test/sinks/sink-suite.ts.
 */
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../src/sinks/sink.js';
import type { DeltaBatch } from '../../src/accounting/delta.js';
import { aggregateBatch } from '../../src/sinks/aggregate.js';

export class MemorySink implements DeltaSink {
  readonly name = 'memory-test';
  appliedThrough = new Map<string, number>();
  torrents = new Map<string, TotalsRow>();
  batches: DeltaBatch[] = [];
  /** When set, apply() rejects with this error (nothing stored). */
  failWith: Error | undefined;
  /** When set, apply() waits for this promise first. */
  gate: Promise<void> | undefined;
  closed = false;

  async open(): Promise<void> {}
  async migrate(): Promise<void> {}

  async load(instance: string): Promise<SinkState> {
    return { appliedThrough: this.appliedThrough.get(instance) ?? 0 };
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    // A batch's records are only lent until apply settles (delta.ts): keep decoded copies.
    this.batches.push({ id: batch.id, instance: batch.instance, deltas: [...batch.deltas] });
    const agg = aggregateBatch(batch, this.appliedThrough.get(batch.instance) ?? 0);
    for (const t of agg.torrents) {
      const key = t.user.toString('hex') + t.infoHash.toString('hex');
      const old = this.torrents.get(key);
      this.torrents.set(key, {
        user: t.user, infoHash: t.infoHash,
        uploaded: (old?.uploaded ?? 0n) + BigInt(t.uploaded),
        downloaded: (old?.downloaded ?? 0n) + BigInt(t.downloaded),
        rawUploaded: (old?.rawUploaded ?? 0n) + BigInt(t.rawUploaded),
        rawDownloaded: (old?.rawDownloaded ?? 0n) + BigInt(t.rawDownloaded),
        siteTorrentId: t.siteTorrentId !== null ? BigInt(t.siteTorrentId) : old?.siteTorrentId ?? null,
        seedTime: (old?.seedTime ?? 0n) + BigInt(t.seedTime),
        leechTime: (old?.leechTime ?? 0n) + BigInt(t.leechTime),
        snatched: (old?.snatched ?? 0n) > 0n || t.snatched > 0 ? 1n : 0n,
      });
    }
    this.appliedThrough.set(batch.instance, agg.through);
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const rows = [...this.torrents.values()].filter((r) => !query.user || r.user.equals(query.user));
    if (query.byTorrent) return rows;
    const users = new Map<string, TotalsRow>();
    for (const r of rows) {
      const k = r.user.toString('hex');
      const u = users.get(k);
      users.set(k, u === undefined ? { ...r, infoHash: undefined, siteTorrentId: undefined } : {
        user: r.user, uploaded: u.uploaded + r.uploaded, downloaded: u.downloaded + r.downloaded,
        rawUploaded: u.rawUploaded + r.rawUploaded, rawDownloaded: u.rawDownloaded + r.rawDownloaded,
        seedTime: u.seedTime + r.seedTime, leechTime: u.leechTime + r.leechTime, snatched: u.snatched + r.snatched,
      });
    }
    return [...users.values()];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
