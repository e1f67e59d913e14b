/**
 * Steady announce load for outage drills (test/integration/outage-drill.test.ts and
 * bench/outage-drill.mjs): peers of a few users announce over HTTP at a fixed rate, each peer's
 * counters growing as a real client's do, and the load keeps what the tracker must end up with.
 *
 * A peer's first announce is `started` at zero; each later one reports more bytes. A refused
 * announce (tracker busy) changes nothing at the tracker, so the client just reports its (higher)
 * counters next time: the bytes are counted then. A user's exact expected total is therefore the
 * sum, over the user's peers, of the counters in the peer's last *accepted* announce. A peer never
 * has two announces in flight (a real client doesn't, and a reordered pair would be a regression).
 */
import { RateDriver } from './rate-driver.js';
import { escapeBytes, get } from './http-client.js';

interface Peer {
  readonly passkey: string;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  started: boolean;
  busy: boolean;
  up: number;
  down: number;
  /** Counters of the last accepted announce. */
  countedUp: number;
  countedDown: number;
}

export interface LoadOptions {
  readonly port: number;
  /** Announces per second. */
  readonly rate: number;
  readonly users?: number;
  readonly peersPerUser?: number;
  /** Most announces in flight (beyond it, a due announce waits: the count of late ones says so). */
  readonly maxInFlight?: number;
  /** The announce path for a passkey (default `/<passkey>/announce`). */
  readonly path?: (passkey: string) => string;
}

export interface LoadCounts {
  accepted: number;
  /** Refused with the retryable "tracker busy". */
  busy: number;
  /** Anything else: another failure reason, a network error, a timeout. */
  failed: number;
  /** The first few failures' messages. */
  failures: string[];
}

export class AnnounceLoad {
  readonly counts: LoadCounts = { accepted: 0, busy: 0, failed: 0, failures: [] };
  private readonly peers: Peer[] = [];
  private next = 0;
  private inFlight = 0;
  private readonly driver: RateDriver;

  constructor(private readonly opts: LoadOptions) {
    this.driver = new RateDriver({
      rate: opts.rate, maxInFlight: opts.maxInFlight ?? 64, inFlight: () => this.inFlight,
      next: () => {
        const peer = this.pick();
        return peer === undefined ? undefined : this.announce(peer);
      },
    });
    const users = opts.users ?? 20;
    const per = opts.peersPerUser ?? 25;
    for (let u = 0; u < users; u++) {
      const passkey = (0xa0000000 + u).toString(16).padStart(8, '0').repeat(4);
      for (let p = 0; p < per; p++) {
        const infoHash = Buffer.alloc(20, 0);
        infoHash.writeUInt32BE(0xd0d0d0d0, 0);
        infoHash.writeUInt32BE(u * per + p, 16);
        const peerId = Buffer.from(`-qB4520-${String(u).padStart(4, '0')}${String(p).padStart(8, '0')}`);
        this.peers.push({ passkey, infoHash, peerId, started: false, busy: false, up: 0, down: 0, countedUp: 0, countedDown: 0 });
      }
    }
  }

  start(): void {
    this.driver.start();
  }

  /** Stops sending and waits for the announces in flight. */
  stop(): Promise<void> {
    return this.driver.stop();
  }

  /** The users' passkeys, in user order. */
  passkeys(): string[] {
    return [...new Set(this.peers.map((p) => p.passkey))];
  }

  /** Every peer's info_hash (one torrent per peer). */
  infoHashes(): Buffer[] {
    return this.peers.map((p) => p.infoHash);
  }

  /**
   * After the load: every peer announces once more until one is accepted (bounded by `timeoutMs`),
   * so the tracker has every peer's final counters however the last ones fared (a reply lost in a
   * crash). Then `expected()` is exactly what the tracker must count.
   */
  async finalRound(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const queue = [...this.peers];
    const worker = async () => {
      for (let peer = queue.shift(); peer !== undefined; peer = queue.shift()) {
        for (;;) {
          if (Date.now() > deadline) throw new Error(`final round: not every peer accepted within ${timeoutMs} ms (${JSON.stringify(this.counts)})`);
          await this.announce(peer);
          // Accepted: the counters it just sent are the ones counted.
          if (peer.started && peer.countedUp === peer.up && peer.countedDown === peer.down) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  private pick(): Peer | undefined {
    for (let i = 0; i < this.peers.length; i++) {
      const peer = this.peers[this.next++ % this.peers.length]!;
      if (!peer.busy) return peer;
    }
    return undefined;
  }

  private async announce(peer: Peer): Promise<void> {
    peer.busy = true;
    this.inFlight++;
    if (peer.started) {
      peer.up += 1 + Math.floor(Math.random() * 5_000_000);
      peer.down += Math.floor(Math.random() * 1_000_000);
    }
    const up = peer.up;
    const down = peer.down;
    const path = this.opts.path ? this.opts.path(peer.passkey) : `/${peer.passkey}/announce`;
    const target = `${path}?info_hash=${escapeBytes(peer.infoHash)}&peer_id=${escapeBytes(peer.peerId)}&port=6881`
      + `&uploaded=${up}&downloaded=${down}&left=0&numwant=5${peer.started ? '' : '&event=started'}`;
    try {
      const reply = await get(this.opts.port, target);
      const body = reply.body.toString('latin1');
      if (!body.includes('failure reason')) {
        peer.started = true;
        peer.countedUp = up;
        peer.countedDown = down;
        this.counts.accepted++;
      } else if (body.includes('tracker busy')) {
        this.counts.busy++;
      } else {
        this.fail(body);
      }
    } catch (err) {
      this.fail((err as Error).message);
    } finally {
      peer.busy = false;
      this.inFlight--;
    }
  }

  private fail(why: string): void {
    this.counts.failed++;
    if (this.counts.failures.length < 5) this.counts.failures.push(why);
  }

  /** What every user's totals must be: the sum of its peers' last accepted counters (hex user → bytes). */
  expected(): Map<string, { up: bigint; down: bigint }> {
    const out = new Map<string, { up: bigint; down: bigint }>();
    for (const p of this.peers) {
      if (!p.started) continue;
      const t = out.get(p.passkey) ?? { up: 0n, down: 0n };
      t.up += BigInt(p.countedUp);
      t.down += BigInt(p.countedDown);
      out.set(p.passkey, t);
    }
    return out;
  }
}
