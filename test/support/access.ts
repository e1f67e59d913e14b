/** Helpers for access-hook tests: a registry over fixed records, hook deps, announces. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AccessRegistry } from '../../src/access/registry.js';
import type { RegistrySource, RegistryUpdate } from '../../src/access/source.js';
import { torrentKey, type TorrentRecord, type UserRecord } from '../../src/access/records.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import type { AnnounceRequest, AnnounceResponse } from '../../src/bittorrent/types.js';
import type { HookDeps } from '../../src/middleware/hook.js';
import { MemoryPeerStore } from '../../src/storage/memory/memory-store.js';
import { ManualClock } from '../../src/clock.js';
import { NO_PEERS } from '../../src/bittorrent/peer-list.js';

/** A source whose next refresh returns whatever the test queued (or throws `failWith`). */
export class FixedSource implements RegistrySource {
  readonly name = 'file';
  readonly refreshIntervalMs = 3_600_000;
  next: RegistryUpdate = {};
  failWith: Error | undefined;
  constructor(private readonly initial: RegistryUpdate) {}
  async load(): Promise<RegistryUpdate> {
    return this.initial;
  }
  async refresh(): Promise<RegistryUpdate> {
    if (this.failWith) throw this.failWith;
    const n = this.next;
    this.next = {};
    return n;
  }
  async close(): Promise<void> {}
}

export function user(passkey: string, over: Partial<UserRecord> = {}): UserRecord {
  return { passkey, siteId: null, enabled: true, canLeech: true, ...over };
}

export function torrent(infoHash: Buffer, over: Partial<Omit<TorrentRecord, 'key'>> = {}): TorrentRecord {
  return { key: torrentKey(infoHash), siteId: null, banned: false, downloadMultiplier: null, uploadMultiplier: null, ...over };
}

export async function fixedRegistry(users: UserRecord[], torrents: TorrentRecord[] = [], metrics = new Registry()): Promise<{ registry: AccessRegistry; source: FixedSource }> {
  const source = new FixedSource({ allUsers: users, allTorrents: torrents });
  const registry = new AccessRegistry(source, { logger: pino({ level: 'silent' }), prometheus: metrics });
  await registry.start();
  await registry.stop(); // no timer in unit tests: refresh() is called by hand
  return { registry, source };
}

export function hookDeps(registry?: AccessRegistry, metrics = new Registry()): HookDeps {
  return {
    store: new MemoryPeerStore(new ManualClock(0)), logger: pino({ level: 'silent' }), prometheus: metrics,
    announceIntervalMs: 1_800_000, accessRegistry: registry,
  };
}

export function announceReq(over: Partial<AnnounceRequest> & { peerIdText?: string } = {}): AnnounceRequest {
  const { peerIdText, ...rest } = over;
  return {
    infoHash: Buffer.alloc(20, 1), peer: makePeer(Buffer.from(peerIdText ?? '-qB4520-000000000001', 'latin1'), '127.0.0.1', 6881),
    event: 'none', uploaded: 0, downloaded: 0, left: 100, numWant: 50, compact: true, noPeerId: false, transport: 'http', ...rest,
  };
}

export function emptyResponse(): AnnounceResponse {
  return { interval: 1800, minInterval: 900, complete: 0, incomplete: 0, ipv4Peers: NO_PEERS, ipv6Peers: NO_PEERS };
}
