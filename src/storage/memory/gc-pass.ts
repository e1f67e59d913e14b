/**
 * One garbage-collection pass over the memory store, in bounded steps: `step(budget)` visits at
 * most `budget` rows and swarms, so a pass over a million peers is a few hundred event-loop turns
 * of under a millisecond each instead of one stall of 120 ms (MemoryPeerStore.collectGarbage runs
 * one step per turn, GC_STEP rows).
 *
 * Announces run between steps. The pass holds a live Map iterator (it sees deletions, and swarms
 * added later are visited at the end) and walks each table from its last row down, as
 * PeerTable.removeAt moves rows only from above a hole into it: within a step every row is seen
 * once. Between steps an announce may move an unvisited row above the cursor (a new seeder pushes
 * the first leecher to the end) or a visited one below it; such a peer is seen twice or not at
 * all in this pass, and the next pass (gc_interval later) gets it. A pass never removes a peer
 * that is not expired: every removal checks the row's own time.
 */
import type { PeerTable } from './peer-table.js';

export interface GcSwarm {
  v4: PeerTable | null;
  v6: PeerTable | null;
}

export interface GcTarget {
  /** Removes `row` of `table` (in `swarm`, stored under `key`); drops the table or swarm once empty. */
  evict(key: string, swarm: GcSwarm, table: PeerTable, row: number): void;
}

export class GcPass {
  /** Peers removed so far. */
  removed = 0;
  done = false;
  private key = '';
  private swarm: GcSwarm | null = null;
  /** Which table of `swarm` comes next: 0 its IPv4 one, 1 its IPv6 one, 2 none. */
  private next = 2;
  private table: PeerTable | null = null;
  private row = -1;

  /** `cutoff`: rows last seen before it (the store's seconds) are removed. */
  constructor(
    private readonly swarms: Iterator<[string, GcSwarm]>,
    private readonly target: GcTarget,
    private readonly cutoff: number,
  ) {}

  /** Visits up to `budget` rows and swarms; returns how many it visited. */
  step(budget: number): number {
    let visited = 0;
    while (visited < budget && !this.done) {
      const t = this.table;
      if (t === null) {
        visited += this.advance();
        continue;
      }
      // Announces may have removed rows since the last step.
      if (this.row >= t.size) this.row = t.size - 1;
      const stop = Math.max(-1, this.row - (budget - visited));
      for (let r = this.row; r > stop; r--) {
        if (t.seenAt(r) < this.cutoff) {
          this.target.evict(this.key, this.swarm!, t, r);
          this.removed++;
        }
      }
      visited += this.row - stop;
      this.row = stop;
      if (stop < 0) this.table = null;
    }
    return visited;
  }

  /** Moves to the next table, or the next swarm (which counts as one visit). */
  private advance(): number {
    const s = this.swarm;
    if (s !== null && this.next < 2) {
      const t = this.next === 0 ? s.v4 : s.v6;
      this.next++;
      if (t !== null) {
        this.table = t;
        this.row = t.size - 1;
      }
      return 0;
    }
    const it = this.swarms.next();
    if (it.done === true) {
      this.done = true;
      this.swarm = null;
      return 0;
    }
    this.key = it.value[0];
    this.swarm = it.value[1];
    this.next = 0;
    return 1;
  }
}
