/**
 * In-memory swarm storage. Swarms are keyed by the info_hash bytes (latin1 string); each holds one
 * packed peer table per address family (peer-table.ts: rows in typed arrays, seeders before
 * leechers, ≈ 40 bytes an IPv4 peer with its index), so a million peers are a few thousand typed
 * arrays for V8's collector instead of millions of objects. Put, delete and role changes are O(1),
 * peer selection O(numwant); garbage collection runs in bounded steps, one per event-loop turn
 * (gc-pass.ts). Last-seen times are whole seconds since the store was built (the clock is coarse
 * anyway), in 32 bits.
 */
import type { AddressFamily, Peer, ScrapeCounts, SwarmRole } from '../../bittorrent/types.js';
import type { AnnounceView, PeerStore } from '../peer-store.js';
import type { Clock } from '../../clock.js';
import { PeerTable, STRIDE4, STRIDE6, packId } from './peer-table.js';
import { NO_PEERS, PackedPeerList, packedStride, type PeerList } from '../../bittorrent/peer-list.js';
import { GcPass, type GcSwarm, type GcTarget } from './gc-pass.js';
import { BlockPool } from './block-pool.js';
import { RecordIndex, torrentKeyWords } from '../../record-index.js';

/**
 * Rows and swarms a garbage-collection step visits per event-loop turn: 0.35 ms (median) when
 * half of them expire, 0.65 ms when all do (1M peers over 1,000 swarms; 16,384 took 1.4–2.6 ms).
 */
export const GC_STEP = 4096;

class Swarm implements GcSwarm {
  v4: PeerTable | null = null;
  v6: PeerTable | null = null;
}

const newByHash = (): RecordIndex<Swarm> => new RecordIndex(20, torrentKeyWords);

export class MemoryPeerStore implements PeerStore, GcTarget {
  /** Swarms by the latin1 string of their info_hash: what garbage collection walks (gc-pass.ts). */
  private readonly swarms = new Map<string, Swarm>();
  /**
   * The same swarms by the info_hash's bytes, for the two look-ups of every announce: no latin1
   * string made and hashed per look-up (src/record-index.ts). Kept in step with `swarms`.
   */
  private byHash = newByHash();
  /** Completed downloads per info_hash: kept apart from swarms so the count outlives an empty swarm. */
  private readonly downloads = new Map<string, number>();
  private readonly clock: Clock;
  /** Whole seconds (epoch) that row times count from. */
  private readonly epochSec: number;
  /** The peer_id being looked up, packed (one per store: no allocation per lookup). */
  private readonly id = new Int32Array(5);
  /** Rows picked for a reply (grows to the largest numwant seen). */
  private picked = new Int32Array(64);
  private seeders = 0;
  private leechers = 0;
  /** Where the tables' small arrays come from (block-pool.ts). */
  private pool = new BlockPool();

  constructor(clock: Clock) {
    this.clock = clock;
    this.epochSec = Math.floor(clock.nowMs() / 1000);
  }

  putSeeder(infoHash: Buffer, peer: Peer): void {
    this.put(infoHash, peer, true);
  }

  putLeecher(infoHash: Buffer, peer: Peer): void {
    this.put(infoHash, peer, false);
  }

  deleteSeeder(infoHash: Buffer, peer: Peer): void {
    this.remove(infoHash, peer);
  }

  deleteLeecher(infoHash: Buffer, peer: Peer): void {
    this.remove(infoHash, peer);
  }

  graduateLeecher(infoHash: Buffer, peer: Peer): void {
    this.put(infoHash, peer, true);
    const ih = infoHash.toString('latin1');
    this.downloads.set(ih, (this.downloads.get(ih) ?? 0) + 1);
  }

  /** Adds or refreshes a peer; a peer is in one role at a time (a leecher with left=0 moves over). */
  private put(infoHash: Buffer, peer: Peer, seeder: boolean): void {
    let swarm = this.swarmOf(infoHash);
    if (swarm === undefined) {
      swarm = new Swarm();
      const key = infoHash.toString('latin1');
      this.swarms.set(key, swarm);
      if (infoHash.length === 20) this.byHash.set(key, swarm);
    }
    let table = peer.family === 4 ? swarm.v4 : swarm.v6;
    if (table === null) {
      table = new PeerTable(peer.family === 4 ? STRIDE4 : STRIDE6, this.pool);
      if (peer.family === 4) swarm.v4 = table;
      else swarm.v6 = table;
    }
    packId(peer.id, this.id);
    const s0 = table.seeders;
    const n0 = table.size;
    table.put(this.id, table.find(this.id), peer, this.nowSec(), seeder);
    this.count(table, s0, n0);
  }

  private remove(infoHash: Buffer, peer: Peer): void {
    const swarm = this.swarmOf(infoHash);
    if (swarm === undefined) return;
    const table = peer.family === 4 ? swarm.v4 : swarm.v6;
    if (table === null) return;
    packId(peer.id, this.id);
    const row = table.find(this.id);
    if (row >= 0) this.evict(infoHash.toString('latin1'), swarm, table, row);
  }

  /** The swarm of an info_hash (20 bytes: by its bytes; anything else, which no frontend passes, by its string). */
  private swarmOf(infoHash: Buffer): Swarm | undefined {
    return infoHash.length === 20 ? this.byHash.getBytes(infoHash) : this.swarms.get(infoHash.toString('latin1'));
  }

  /** Removes a row, keeps the totals, drops an empty table and an empty swarm (GcTarget). */
  evict(key: string, swarm: GcSwarm, table: PeerTable, row: number): void {
    const s0 = table.seeders;
    const n0 = table.size;
    table.removeAt(row);
    this.count(table, s0, n0);
    if (table.size > 0) return;
    table.release();
    if (swarm.v4 === table) swarm.v4 = null;
    else if (swarm.v6 === table) swarm.v6 = null;
    if (swarm.v4 === null && swarm.v6 === null && this.swarms.get(key) === swarm) {
      this.swarms.delete(key);
      this.byHash.delete(key); // a key that is not 20 characters is in no index: false, nothing done
    }
  }

  /** Keeps the store's totals (stats() is O(1)) from a table's counts before a change. */
  private count(table: PeerTable, seedersBefore: number, sizeBefore: number): void {
    this.seeders += table.seeders - seedersBefore;
    this.leechers += table.size - table.seeders - (sizeBefore - seedersBefore);
  }

  announceView(infoHash: Buffer, announcer: Peer, role: SwarmRole, numWant: number): AnnounceView {
    let peers = NO_PEERS;
    let complete = 0;
    let incomplete = 0;
    const swarm = this.swarmOf(infoHash);
    if (swarm !== undefined) {
      complete = seedersOf(swarm);
      incomplete = leechersOf(swarm);
      const table = announcer.family === 4 ? swarm.v4 : swarm.v6;
      if (table !== null) {
        packId(announcer.id, this.id);
        const self = table.find(this.id);
        // The announcer as it stands now, before the swarm hook applies its announce.
        if (self >= 0 && self < table.seeders) complete--;
        else if (self >= 0) incomplete--;
        if (role !== 'gone' && numWant > 0) {
          if (this.picked.length < numWant) this.picked = new Int32Array(numWant);
          let n = 0;
          if (role === 'leecher') n = table.pick(this.picked, n, numWant, 0, table.seeders, self);
          n = table.pick(this.picked, n, numWant, table.seeders, table.size, self);
          peers = replyPeers(table, this.picked, n, announcer.family);
        }
      }
    }
    if (role === 'seeder') complete++;
    else if (role === 'leecher') incomplete++;
    return { peers, complete, incomplete };
  }

  scrapeSwarm(infoHash: Buffer): ScrapeCounts {
    const key = infoHash.toString('latin1');
    const swarm = this.swarms.get(key);
    const downloaded = this.downloads.get(key) ?? 0;
    if (swarm === undefined) return { complete: 0, incomplete: 0, downloaded };
    return { complete: seedersOf(swarm), incomplete: leechersOf(swarm), downloaded };
  }

  /**
   * A garbage-collection pass that the caller steps (GcPass.step): peers last seen before
   * `cutoffMs` are removed. collectGarbage drives one to the end; tests step one by hand.
   */
  gcPass(cutoffMs: number): GcPass {
    // A row seen within the cutoff's second is kept: a peer may live up to a second longer, never shorter.
    return new GcPass(this.swarms.entries(), this, Math.floor(cutoffMs / 1000) - this.epochSec);
  }

  /** Runs a pass to the end, GC_STEP rows per event-loop turn, so announces are served in between. */
  collectGarbage(cutoffMs: number): Promise<number> {
    const pass = this.gcPass(cutoffMs);
    return new Promise((resolve, reject) => {
      const step = () => {
        try {
          pass.step(GC_STEP);
        } catch (err) {
          reject(err);
          return;
        }
        if (pass.done) resolve(pass.removed);
        else setImmediate(step);
      };
      step();
    });
  }

  stats(): { swarms: number; seeders: number; leechers: number } {
    return { swarms: this.swarms.size, seeders: this.seeders, leechers: this.leechers };
  }

  async stop(): Promise<void> {
    this.swarms.clear();
    this.byHash = newByHash();
    this.downloads.clear();
    this.seeders = 0;
    this.leechers = 0;
    this.pool = new BlockPool();
  }

  private nowSec(): number {
    return Math.floor(this.clock.nowMs() / 1000) - this.epochSec;
  }
}

function seedersOf(swarm: Swarm): number {
  return (swarm.v4?.seeders ?? 0) + (swarm.v6?.seeders ?? 0);
}

function leechersOf(swarm: Swarm): number {
  return (swarm.v4 === null ? 0 : swarm.v4.size - swarm.v4.seeders) + (swarm.v6 === null ? 0 : swarm.v6.size - swarm.v6.seeders);
}

/** The reply's peers, copied out of the table into one Buffer the reply owns (peer-list.ts). */
function replyPeers(table: PeerTable, rows: Int32Array, n: number, family: AddressFamily): PeerList {
  if (n === 0) return NO_PEERS;
  const per = packedStride(family);
  const bytes = Buffer.allocUnsafe(n * per);
  for (let i = 0; i < n; i++) table.writeRow(rows[i]!, bytes, i * per);
  return new PackedPeerList(bytes, family);
}
