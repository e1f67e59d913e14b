/**
 * The state behind `peer_limits`, per user: a token bucket for the announce rate, and for each
 * torrent the peer_ids seen within the peer lifetime. Pure (time is passed in), so tests drive
 * it with any clock.
 *
 * Memory: a user costs one small object, plus one entry per torrent with peers; a torrent entry
 * holds at most `maxPeers` peer_ids. sweep() drops expired peers, empty torrents, and users with
 * neither peers nor a partly spent bucket, so idle users cost nothing.
 */

export interface PeerLimiterOptions {
  /** Distinct peer_ids per (user, torrent); 0 = unlimited. */
  readonly maxPeers: number;
  /** A peer silent for longer no longer holds a slot. */
  readonly peerLifetimeMs: number;
  /** Bucket size (announces allowed in a burst); 0 = no rate limit. */
  readonly burst: number;
  /** Tokens added per millisecond. */
  readonly refillPerMs: number;
}

interface Slots {
  /** peer_ids (latin1) and when each last announced: parallel arrays, at most maxPeers long. */
  readonly ids: string[];
  readonly seen: number[];
}

interface UserState {
  tokens: number;
  refilledMs: number;
  torrents: Map<string, Slots> | undefined;
}

export const OK = 0;
export const RATE_LIMITED = 1;
export const TOO_MANY_PEERS = 2;
export type Verdict = typeof OK | typeof RATE_LIMITED | typeof TOO_MANY_PEERS;

export class PeerLimiter {
  private readonly users = new Map<string, UserState>();

  constructor(private readonly opts: PeerLimiterOptions) {}

  get trackedUsers(): number {
    return this.users.size;
  }

  /** Counts one announce. `stopped` frees the peer's slot (and is never refused for peers). */
  announce(user: string, torrent: string, peerId: string, stopped: boolean, nowMs: number): Verdict {
    let state = this.users.get(user);
    if (state === undefined) {
      state = { tokens: this.opts.burst, refilledMs: nowMs, torrents: undefined };
      this.users.set(user, state);
    }
    if (this.opts.burst > 0) {
      state.tokens = Math.min(this.opts.burst, state.tokens + (nowMs - state.refilledMs) * this.opts.refillPerMs);
      state.refilledMs = nowMs;
      if (state.tokens < 1) return RATE_LIMITED;
      state.tokens -= 1;
    }
    if (this.opts.maxPeers === 0) return OK;
    return stopped ? this.leave(state, torrent, peerId) : this.join(state, torrent, peerId, nowMs);
  }

  private join(state: UserState, torrent: string, peerId: string, nowMs: number): Verdict {
    state.torrents ??= new Map();
    let slots = state.torrents.get(torrent);
    if (slots === undefined) {
      state.torrents.set(torrent, { ids: [peerId], seen: [nowMs] });
      return OK;
    }
    const i = slots.ids.indexOf(peerId);
    if (i >= 0) {
      slots.seen[i] = nowMs;
      return OK;
    }
    if (slots.ids.length >= this.opts.maxPeers) {
      expire(slots, nowMs - this.opts.peerLifetimeMs);
      if (slots.ids.length >= this.opts.maxPeers) return TOO_MANY_PEERS;
    }
    slots.ids.push(peerId);
    slots.seen.push(nowMs);
    return OK;
  }

  private leave(state: UserState, torrent: string, peerId: string): Verdict {
    const slots = state.torrents?.get(torrent);
    if (slots === undefined) return OK;
    const i = slots.ids.indexOf(peerId);
    if (i >= 0) {
      slots.ids.splice(i, 1);
      slots.seen.splice(i, 1);
      if (slots.ids.length === 0) state.torrents!.delete(torrent);
    }
    return OK;
  }

  /** Where the current sweep stands (Map iterators stay valid across deletions). */
  private cursor: Iterator<[string, UserState]> | undefined;

  /**
   * Drops expired state. Walks at most `budget` users per call, from where the last call
   * stopped; returns true when a full pass is complete (so GC can yield between calls).
   */
  sweep(nowMs: number, budget: number): boolean {
    const cutoff = nowMs - this.opts.peerLifetimeMs;
    this.cursor ??= this.users.entries();
    for (let n = 0; n < budget; n++) {
      const next = this.cursor.next();
      if (next.done) {
        this.cursor = undefined;
        return true;
      }
      const [user, state] = next.value;
      if (state.torrents !== undefined) {
        for (const [torrent, slots] of state.torrents) {
          expire(slots, cutoff);
          if (slots.ids.length === 0) state.torrents.delete(torrent);
        }
        if (state.torrents.size === 0) state.torrents = undefined;
      }
      const bucketFull = this.opts.burst === 0
        || state.tokens + (nowMs - state.refilledMs) * this.opts.refillPerMs >= this.opts.burst;
      if (state.torrents === undefined && bucketFull) this.users.delete(user);
    }
    return false;
  }
}

function expire(slots: Slots, cutoff: number): void {
  for (let i = slots.ids.length - 1; i >= 0; i--) {
    if (slots.seen[i]! < cutoff) {
      slots.ids.splice(i, 1);
      slots.seen.splice(i, 1);
    }
  }
}
