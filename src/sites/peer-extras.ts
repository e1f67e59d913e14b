/**
 * What a site's tables hold about a peer that a delta does not carry: the client's User-Agent
 * (UNIT3D `peers.agent`/`history.agent`, Gazelle `xbt_files_users.useragent`) and whether the
 * peer is shown to others (UNIT3D's download slots make new leechers `visible = false`).
 *
 * The site's rules hook records them on each announce; the site's sink reads them when it writes
 * the batch. Kept in memory only: after a crash the journal replays deltas whose extras are gone,
 * and the sink then names the client from its peer_id (bittorrent/client-id.ts) — the row is
 * still written, with a client name instead of the exact header. Entries silent for longer than
 * the lifetime are swept, so the map holds about one entry per live peer.
 */
export interface PeerExtra {
  agent: string;
  visible: boolean;
  seenMs: number;
}

/** The bytes as latin1 text, without copying them first (Buffer.from of an array would). */
function latin1(b: Uint8Array): string {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('latin1');
}

/** The map key: the delta's user key, info_hash and peer_id bytes as one latin1 string. */
export function extraKey(userKey: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): string {
  return latin1(userKey) + latin1(infoHash) + latin1(peerId);
}

export class PeerExtras {
  private readonly map = new Map<string, PeerExtra>();

  set(userKey: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array, agent: string, visible: boolean, nowMs: number): void {
    const key = extraKey(userKey, infoHash, peerId);
    const e = this.map.get(key);
    if (e === undefined) this.map.set(key, { agent, visible, seenMs: nowMs });
    else {
      e.agent = agent;
      e.visible = visible;
      e.seenMs = nowMs;
    }
  }

  get(userKey: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): PeerExtra | undefined {
    return this.map.get(extraKey(userKey, infoHash, peerId));
  }

  /** get() by a key already made (extraKey's string: the three ids' bytes as latin1). */
  getByKey(key: string): PeerExtra | undefined {
    return this.map.get(key);
  }

  /** Drops entries not seen since `beforeMs`; returns how many. */
  sweep(beforeMs: number): number {
    let n = 0;
    for (const [k, e] of this.map) {
      if (e.seenMs < beforeMs) {
        this.map.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.map.size;
  }
}
