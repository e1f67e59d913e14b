/**
 * The rules hook on its own, with a clock the test moves: what a tracker test cannot see in a
 * few milliseconds (a silent peer freeing its slot after the peer lifetime) and what goes to the
 * writer (unregistered info_hashes by known users; the agent of a UDP peer named from its peer_id).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { makePeer } from '../../../src/bittorrent/ip.js';
import type { AnnounceEvent, AnnounceRequest, AnnounceResponse } from '../../../src/bittorrent/types.js';
import { createContext } from '../../../src/middleware/context.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { unit3dSiteSchema } from '../../../src/sites/config.js';
import { PeerExtras } from '../../../src/sites/peer-extras.js';
import { RequestStats } from '../../../src/sites/unit3d/request-stats.js';
import { Unit3dRulesHook } from '../../../src/sites/unit3d/rules-hook.js';
import { Unit3dState } from '../../../src/sites/unit3d/state.js';
import { NO_PEERS } from '../../../src/bittorrent/peer-list.js';

const LIFETIME = 31 * 60_000;
const PASSKEY = 'a'.repeat(32);
const KNOWN = Buffer.alloc(20, 1);
const DELETED = Buffer.alloc(20, 2);

function setup() {
  const state = new Unit3dState({ donorImmunityOverride: null, lifetimeDonorImmunityOverride: null }, LIFETIME);
  state.replace({
    users: [{ id: 7, groupId: 1, passkey: PASSKEY, canDownload: true, isDonor: false, isLifetime: false, numSeeding: 0, numLeeching: 0 }],
    torrents: [
      { id: 70, infoHash: KNOWN, status: 1, isDeleted: false, seeders: 0, leechers: 0, timesCompleted: 0, downloadFactor: 100, uploadFactor: 100 },
      { id: 71, infoHash: DELETED, status: 1, isDeleted: true, seeders: 0, leechers: 0, timesCompleted: 0, downloadFactor: 100, uploadFactor: 100 },
    ],
    groups: [{ id: 1, slug: 'user', downloadSlots: null, isImmune: false, downloadFactor: 100, uploadFactor: 100 }],
    blacklistedPrefixes: [], freeleechTokens: [], personalFreeleech: [], featured: [], peers: [],
  }, false, 0);
  const notes: Array<[number, string]> = [];
  const extras = new PeerExtras();
  let now = 1_000_000;
  const config = unit3dSiteSchema.parse({ name: 'unit3d', url: 'mysql://u@h/db', api_key: 'k'.repeat(16) });
  const hook = new Unit3dRulesHook(config, {
    state, extras, stats: new RequestStats(0), prometheus: new Registry(), now: () => now,
    unregistered: { noteUnregistered: (userId, ih) => notes.push([userId, ih.toString('hex')]) },
  });
  const resp = (): AnnounceResponse => ({ interval: 1, minInterval: 1, complete: 0, incomplete: 0, ipv4Peers: NO_PEERS, ipv6Peers: NO_PEERS });
  const announce = (passkey: string, ih: Buffer, peerId: string, o: { event?: AnnounceEvent; left?: number; agent?: string; udp?: boolean } = {}) => {
    const req: AnnounceRequest = {
      infoHash: ih, peer: makePeer(Buffer.from(peerId), '192.0.2.9', 6881), event: o.event ?? 'none', uploaded: 0, downloaded: 0,
      left: o.left ?? 10, numWant: 50, compact: true, noPeerId: true, transport: o.udp ? 'udp' : 'http',
    };
    hook.handleAnnounce(createContext({ passkey }, {}, o.udp ? undefined : (o.agent ?? 'qBittorrent/4.6.0')), req, resp());
  };
  return { state, notes, extras, announce, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('site unit3d: rules hook', () => {
  it('tells the writer about unknown and deleted info_hashes announced by known users only', () => {
    const s = setup();
    assert.throws(() => s.announce(PASSKEY, Buffer.alloc(20, 9), '-qB4600-000000000001'), /torrent not registered/);
    assert.throws(() => s.announce(PASSKEY, DELETED, '-qB4600-000000000001'), /torrent has been deleted/);
    assert.throws(() => s.announce('b'.repeat(32), Buffer.alloc(20, 8), '-qB4600-000000000001'), /unknown passkey/);
    assert.deepEqual(s.notes, [[7, Buffer.alloc(20, 9).toString('hex')], [7, DELETED.toString('hex')]]);
  });

  it('a peer silent for longer than the peer lifetime frees its slot; sweep() drops it from the counts', () => {
    const s = setup();
    for (const i of [1, 2, 3]) s.announce(PASSKEY, KNOWN, `-qB4600-00000000000${i}`);
    assert.throws(() => s.announce(PASSKEY, KNOWN, '-qB4600-000000000004'), /too many peers/);
    assert.equal(s.state.usersById.get(7)!.numLeeching, 3);
    s.advance(LIFETIME - 1000);
    s.announce(PASSKEY, KNOWN, '-qB4600-000000000001'); // one stays alive
    s.advance(2000);
    s.announce(PASSKEY, KNOWN, '-qB4600-000000000004'); // the two silent ones expired
    assert.equal(s.state.usersById.get(7)!.numLeeching, 2);
    s.advance(LIFETIME + 1);
    assert.equal(s.state.peers.sweep(s.now()), 2);
    assert.deepEqual([s.state.usersById.get(7)!.numLeeching, s.state.torrentsById.get(70)!.leechers, s.state.peers.size], [0, 0, 0]);
  });

  it('records the agent: the User-Agent over HTTP, the client named by the peer_id over UDP', () => {
    const s = setup();
    s.announce(PASSKEY, KNOWN, '-qB4600-000000000001', { agent: 'qBittorrent/4.6.0' });
    s.announce(PASSKEY, KNOWN, '-TR3000-000000000002', { udp: true });
    const agent = (peerId: string) => s.extras.get(siteUserKey(7), KNOWN, Buffer.from(peerId))?.agent;
    assert.equal(agent('-qB4600-000000000001'), 'qBittorrent/4.6.0');
    assert.match(agent('-TR3000-000000000002') ?? '', /^Transmission\/3\.0/);
  });
});
