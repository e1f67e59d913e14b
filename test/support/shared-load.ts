/**
 * Announce load for the shared mode's fault tests: peers of many users, on torrents spread over
 * every shard group, announce over HTTP to several tracker instances (each announce to one picked
 * at random; a failed one is retried, usually elsewhere), with whole client lives — `started` at
 * zero, leeching with `left` going down, `completed`, seeding, `stopped`, a new session later.
 * The load keeps the model the sink must end up with.
 *
 * The model. A refused announce changes nothing at the tracker, and an announce whose reply was
 * lost (an instance killed mid-request) may or may not have been counted; either way the peer
 * sends the same announce again — the same event, and the same counters for `started` and
 * `stopped` (their counters are final), counters that only grow for the others — until one is
 * accepted. Then the bytes the tracker counts for a session are exactly its last accepted
 * counters (BEP 3: counters start at 0 with `started`): a retry of an already counted announce
 * is credited only what it adds. So a user's raw total is the sum, over its peers' sessions, of
 * each session's last accepted counters, and its snatches are the torrents on which one of its
 * peers had a `completed` accepted (a snatch counts once per user and torrent). A peer never has
 * two announces in flight, as a real client never has.
 */
import { RateDriver } from './rate-driver.js';
import { createHash } from 'node:crypto';
import { escapeBytes, get } from './http-client.js';

type Event = 'started' | 'none' | 'completed' | 'stopped';

interface Pending {
  event: Event;
  up: number;
  down: number;
  left: number;
}

interface Peer {
  readonly user: number;
  readonly passkey: string;
  readonly torrent: number;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly size: number;
  /** Between an accepted `started` and an accepted `stopped`. */
  inSession: boolean;
  /** Has downloaded the torrent whole (sessions then start as a seeder). */
  complete: boolean;
  /** The announce to send (again) until one is accepted. */
  pending: Pending | undefined;
  /** Counters of the last accepted announce of the current session. */
  sessionUp: number;
  sessionDown: number;
  inFlight: boolean;
}

export interface SharedLoadOptions {
  /** The instances' HTTP ports: each announce goes to one picked at random. */
  readonly ports: () => readonly number[];
  /** Announces per second (bounded: at most `maxInFlight` at once). */
  readonly rate: number;
  readonly users?: number;
  readonly peersPerUser?: number;
  readonly torrents?: number;
  readonly maxInFlight?: number;
  /** Chance that a seeding peer stops (ends its session) at an announce. */
  readonly stopChance?: number;
}

export interface SharedLoadCounts {
  accepted: number;
  /** Refused with the retryable "tracker busy". */
  busy: number;
  /** Refused with "tracker closing" (an instance stopping). */
  closing: number;
  /** No reply: connection refused or reset, timeout (an instance or Redis killed). */
  unreachable: number;
  /** Of those, the ones whose request had been sent (not ECONNREFUSED): the reply was lost, the announce may have been counted. */
  lostReplies: number;
  /** Any other failure reason: never expected. */
  otherFailures: number;
  /** The first few other failures and unreachable errors. */
  samples: string[];
  /** The slowest "tracker busy" reply (ms from sending the request): a refusal must not hang. */
  maxBusyMs: number;
}

export interface UserTotals {
  up: bigint;
  down: bigint;
  snatches: number;
}

/** A user's passkey: 32 hex characters. */
export function passkeyOf(user: number): string {
  return (0xb0000000 + user).toString(16).padStart(8, '0').repeat(4);
}

export class SharedLoad {
  readonly counts: SharedLoadCounts = { accepted: 0, busy: 0, closing: 0, unreachable: 0, lostReplies: 0, otherFailures: 0, samples: [], maxBusyMs: 0 };
  /** Accepted announces per event. */
  readonly events: Record<Event, number> = { started: 0, none: 0, completed: 0, stopped: 0 };
  private readonly peers: Peer[] = [];
  /** Per user: bytes of ended sessions, and the torrents snatched. */
  private readonly ended = new Map<number, { up: bigint; down: bigint; snatched: Set<number> }>();
  private inFlight = 0;
  private readonly driver: RateDriver;
  private cursor = 0;

  constructor(private readonly opts: SharedLoadOptions) {
    this.driver = new RateDriver({
      rate: opts.rate, maxInFlight: opts.maxInFlight ?? 48, inFlight: () => this.inFlight,
      next: () => {
        const peer = this.pick();
        return peer === undefined ? undefined : this.announce(peer, this.nextFor(peer));
      },
    });
    const users = opts.users ?? 12;
    const per = opts.peersPerUser ?? 10;
    const torrents = opts.torrents ?? 40;
    for (let u = 0; u < users; u++) {
      this.ended.set(u, { up: 0n, down: 0n, snatched: new Set() });
      for (let p = 0; p < per; p++) {
        const torrent = (u * 7 + p * 3) % torrents;
        // A hash of the torrent number, its second byte the number: with 16 (or 8, 4, 2) shard groups, torrent t is in group t % groups, so every group has traffic.
        const infoHash = createHash('sha1').update(`shared-faults torrent ${torrent}`).digest();
        infoHash[0] = 0;
        infoHash[1] = torrent;
        const peerId = Buffer.from(`-qB4520-${String(u).padStart(4, '0')}${String(p).padStart(8, '0')}`);
        this.peers.push({
          user: u, passkey: passkeyOf(u), torrent, infoHash, peerId, size: 5_000_000 + ((u * 131 + p * 17) % 26) * 1_000_000,
          inSession: false, complete: false, pending: undefined, sessionUp: 0, sessionDown: 0, inFlight: false,
        });
      }
    }
  }

  get users(): number {
    return this.ended.size;
  }

  /** Every torrent's info_hash. */
  infoHashes(): Buffer[] {
    return [...new Map(this.peers.map((p) => [p.torrent, p.infoHash])).values()];
  }

  start(): void {
    this.driver.start();
  }

  /** Stops sending and waits for the announces in flight. */
  stop(): Promise<void> {
    return this.driver.stop();
  }

  private pick(): Peer | undefined {
    for (let i = 0; i < this.peers.length; i++) {
      const peer = this.peers[this.cursor++ % this.peers.length]!;
      if (!peer.inFlight) return peer;
    }
    return undefined;
  }

  /** The peer's next announce: its pending one again, or the next step of its life. */
  private nextFor(peer: Peer): Pending {
    const p = peer.pending;
    if (p !== undefined) {
      // A retry: `started`/`stopped` carry their final counters again; the others may report more upload.
      if (p.event === 'none' || p.event === 'completed') p.up += Math.floor(Math.random() * 200_000);
      return p;
    }
    let next: Pending;
    if (!peer.inSession) {
      next = { event: 'started', up: 0, down: 0, left: peer.complete ? 0 : peer.size };
    } else {
      const up = peer.sessionUp + 1 + Math.floor(Math.random() * 3_000_000);
      if (!peer.complete && peer.sessionDown < peer.size) {
        const down = Math.min(peer.size, peer.sessionDown + Math.floor(Math.random() * 8_000_000));
        next = { event: down === peer.size ? 'completed' : 'none', up, down, left: peer.size - down };
      } else {
        const stop = Math.random() < (this.opts.stopChance ?? 0.05);
        next = { event: stop ? 'stopped' : 'none', up, down: peer.sessionDown, left: 0 };
      }
    }
    peer.pending = next;
    return next;
  }

  /** Sends one announce of `peer` to a random instance; on acceptance moves the model. */
  private async announce(peer: Peer, a: Pending): Promise<boolean> {
    peer.inFlight = true;
    this.inFlight++;
    const ports = this.opts.ports();
    const port = ports[Math.floor(Math.random() * ports.length)]!;
    const target = `/${peer.passkey}/announce?info_hash=${escapeBytes(peer.infoHash)}&peer_id=${escapeBytes(peer.peerId)}&port=6881`
      + `&uploaded=${a.up}&downloaded=${a.down}&left=${a.left}&numwant=5&compact=1${a.event === 'none' ? '' : `&event=${a.event}`}`;
    const sentMs = Date.now();
    try {
      const reply = await get(port, target);
      const body = reply.body.toString('latin1');
      if (!body.includes('failure reason')) {
        this.accept(peer, a);
        return true;
      }
      if (body.includes('tracker busy')) {
        this.counts.busy++;
        this.counts.maxBusyMs = Math.max(this.counts.maxBusyMs, Date.now() - sentMs);
      } else if (body.includes('tracker closing')) this.counts.closing++;
      else this.sample('other', body, () => this.counts.otherFailures++);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') this.counts.lostReplies++;
      this.sample('unreachable', (err as Error).message, () => this.counts.unreachable++);
    } finally {
      peer.inFlight = false;
      this.inFlight--;
    }
    return false;
  }

  private accept(peer: Peer, a: Pending): void {
    this.counts.accepted++;
    this.events[a.event]++;
    peer.pending = undefined;
    peer.sessionUp = a.up;
    peer.sessionDown = a.down;
    const ended = this.ended.get(peer.user)!;
    if (a.event === 'started') peer.inSession = true;
    if (a.event === 'completed') {
      peer.complete = true;
      ended.snatched.add(peer.torrent);
    }
    if (a.event === 'stopped') {
      ended.up += BigInt(a.up);
      ended.down += BigInt(a.down);
      peer.inSession = false;
      peer.sessionUp = 0;
      peer.sessionDown = 0;
    }
  }

  private sample(kind: string, text: string, count: () => void): void {
    count();
    const line = `${kind}: ${text.slice(0, 200)}`;
    if (this.counts.samples.length < 8 && !this.counts.samples.includes(line)) this.counts.samples.push(line);
  }

  /**
   * After the faults, with everything healthy: every peer's pending announce is sent until
   * accepted, then every peer in a session stops with its last counters (until accepted), so the
   * swarms end empty and every session's bytes are final. Bounded by `timeoutMs`.
   */
  async finalRound(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const queue = [...this.peers];
    const until = async (peer: Peer) => {
      while (peer.pending !== undefined) {
        if (Date.now() > deadline) throw new Error(`final round: not every peer accepted within ${timeoutMs} ms (${JSON.stringify(this.counts)})`);
        if (!(await this.announce(peer, this.nextFor(peer)))) await new Promise((r) => setTimeout(r, 50));
      }
    };
    const worker = async () => {
      for (let peer = queue.shift(); peer !== undefined; peer = queue.shift()) {
        await until(peer);
        if (peer.inSession) {
          peer.pending = { event: 'stopped', up: peer.sessionUp, down: peer.sessionDown, left: peer.complete ? 0 : peer.size - peer.sessionDown };
          await until(peer);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  /** What every user's totals must be (user index → raw bytes and snatches), sessions in progress included. */
  expected(): Map<number, UserTotals> {
    const out = new Map<number, UserTotals>();
    for (const [u, e] of this.ended) out.set(u, { up: e.up, down: e.down, snatches: e.snatched.size });
    for (const p of this.peers) {
      if (!p.inSession) continue;
      const t = out.get(p.user)!;
      t.up += BigInt(p.sessionUp);
      t.down += BigInt(p.sessionDown);
    }
    return out;
  }

  /** Peers in a session (after finalRound: 0). */
  get activePeers(): number {
    return this.peers.filter((p) => p.inSession).length;
  }
}
