/**
 * Garbage collection of the shared store under a lease: of all instances, the one holding
 * `P{gc}:lease` walks every group with pt_gc, each call bounded; the others do nothing (chihaya's
 * Redis store had every instance walk the whole keyspace). Announces also pop up to 2 expired
 * peers of their group (lazy GC in the library), so groups stay bounded between walks. A removal
 * is counted only by the call whose HDEL removed the peer, so two collectors (a lease that
 * expired during a pause) never count a peer twice.
 */
import { FN, type KeySpace } from './keys.js';
import type { RedisClient } from './connection.js';

export interface GcResult {
  /** False when another instance holds the lease (nothing was done). */
  readonly held: boolean;
  readonly peers: number;
  readonly baselines: number;
}

export class LeasedCollector {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: KeySpace,
    /** This instance's holder id (unique per process). */
    private readonly holder: string,
    /** Lease time: longer than one walk and than the GC interval, so the holder keeps it between walks. */
    private readonly leaseMs: number,
    /** Peers (and baselines) removed per pt_gc call: bounds the time Redis spends in one call. */
    private readonly batch = 500,
  ) {}

  private async lease(): Promise<boolean> {
    return Number(await this.client.call('FCALL', FN.lease, 1, this.keys.gcLease, this.holder, String(this.leaseMs))) === 1;
  }

  /** Walks every group if this instance holds (or takes) the lease. */
  async collect(peerCutoffMs: number, baselineCutoffMs: number): Promise<GcResult> {
    let peers = 0;
    let baselines = 0;
    for (let g = 0; g < this.keys.groups; g++) {
      // Renewed per group: a holder that lost the lease (paused past its ttl) stops at once.
      if (!(await this.lease())) return { held: g > 0, peers, baselines };
      const k = this.keys.group(g);
      for (;;) {
        // looked = baselines examined: a lagging expiry score (pt_counted refreshes it lazily) is
        // moved up instead of removing its live baseline, so `b` alone may stay below the batch.
        const [p, b, looked] = (await this.client.callBuffer('FCALL', FN.gc, 4, k.seen, k.n, k.b, k.bseen,
          String(peerCutoffMs), String(baselineCutoffMs), String(this.batch), k.tag)) as [number, number, number];
        peers += p;
        baselines += b;
        if (p < this.batch && looked < this.batch) break;
      }
    }
    return { held: true, peers, baselines };
  }

  /** Gives the lease up (on stop), so another instance takes over without waiting for its ttl. */
  async release(): Promise<void> {
    await this.client.call('FCALL', FN.leaseRelease, 1, this.keys.gcLease, this.holder);
  }
}
