/**
 * UNIT3D-Announce's announce rules (../shared/sites/README.md A.3), one refusal test each, through
 * a real tracker with `site: unit3d` over HTTP (and one UDP announce with BEP 41 URL data).
 * Expected messages are the ones docs/errors.md lists; each test also shows the same announce
 * passing once the cause is gone, so a rule that refused everything would fail too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UdpClient } from '../../support/udp-client.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import { GROUP, TORRENT, USER, ih, pk, seedSite, siteDb, startSite, type SiteDb, type SiteTracker } from './support.js';

describe('site unit3d: announce rules', () => {
  let db: SiteDb | undefined;
  let site: SiteTracker;

  before(async (t) => {
    db = await siteDb(t as never);
    if (db === undefined) return;
    await seedSite(db);
    site = await startSite(db.url);
  });
  after(async () => {
    await site?.stop();
    await db?.drop();
  });

  const ok = async (p: Promise<{ failure: string | undefined }>) => assert.equal((await p).failure, undefined);

  it('refuses an unknown passkey (and a deleted user\'s)', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.match((await site.announce('ffffffffffffffffffffffffffffffff', TORRENT.approved.hash)).failure ?? '', /^unknown passkey/);
    assert.match((await site.announce(pk(USER.deleted), TORRENT.approved.hash)).failure ?? '', /^unknown passkey/);
    await ok(site.announce(pk(USER.alice), TORRENT.approved.hash));
  });

  it('refuses users of the banned, validating and disabled groups', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.equal((await site.announce(pk(USER.banned), TORRENT.approved.hash)).failure, 'account banned');
    assert.equal((await site.announce(pk(USER.validating), TORRENT.approved.hash)).failure, 'account validating');
    assert.equal((await site.announce(pk(USER.disabled), TORRENT.approved.hash)).failure, 'account disabled');
  });

  it('can_download = 0 refuses leeching but not seeding', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.equal((await site.announce(pk(USER.noDownload), TORRENT.approved.hash, { left: 500 })).failure, 'download privileges revoked: seeding only');
    await ok(site.announce(pk(USER.noDownload), TORRENT.approved.hash, { left: 0 }));
  });

  it('refuses an unknown info_hash, a deleted torrent and one not approved', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.equal((await site.announce(pk(USER.alice), ih(0x99))).failure, 'torrent not registered with this tracker');
    assert.equal((await site.announce(pk(USER.alice), TORRENT.deleted.hash)).failure, 'torrent has been deleted');
    assert.equal((await site.announce(pk(USER.alice), TORRENT.pending.hash)).failure, 'torrent not approved (pending moderation)');
  });

  it('refuses blocked ports: 0-1023, 1214, 3389, 4662, 6346, 6347, 6699, 8080, 8081', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    for (const port of [1, 80, 1023, 1214, 3389, 4662, 6346, 6347, 6699, 8080, 8081]) {
      assert.equal((await site.announce(pk(USER.bob), TORRENT.third.hash, { port })).failure,
        `port ${port} is blocked: choose another listening port in your client`, `port ${port}`);
    }
    for (const port of [1024, 6881, 8082, 65535]) await ok(site.announce(pk(USER.bob), TORRENT.third.hash, { port, left: 0, peerId: '-qB4520-portsportspo' }));
  });

  it('refuses agents over 64 characters and browsers; UDP without an agent passes', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.equal((await site.announce(pk(USER.alice), TORRENT.approved.hash, { agent: 'q'.repeat(65) })).failure, 'user agent too long (at most 64 characters)');
    for (const agent of ['Mozilla/5.0 (X11; Linux x86_64)', 'Chrome/120', 'Safari', 'AppleWebKit/537', 'Opera/9.8', 'Links (2.1)', 'Lynx/2.8', 'SomeBrowser']) {
      assert.equal((await site.announce(pk(USER.alice), TORRENT.approved.hash, { agent })).failure,
        'browsers are not allowed to announce: use a BitTorrent client', agent);
    }
    await ok(site.announce(pk(USER.alice), TORRENT.approved.hash, { agent: 'q'.repeat(64), peerId: '-qB4520-agentagent01', left: 0 }));
    await ok(site.announce(pk(USER.alice), TORRENT.approved.hash, { agent: null, peerId: '-qB4520-agentagent01', left: 0 }));
  });

  it('refuses a peer_id with a blacklisted prefix', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.equal((await site.announce(pk(USER.alice), TORRENT.approved.hash, { peerId: '-BC0150-000000000001' })).failure, 'client banned (-BC0150-)');
    await ok(site.announce(pk(USER.alice), TORRENT.approved.hash, { peerId: '-BC1150-000000000001', left: 0 }));
  });

  it('allows max_peers_per_torrent_per_user (3) peers per user per torrent; a stopped frees a slot', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const h = TORRENT.other.hash;
    for (const i of [1, 2, 3]) await ok(site.announce(pk(USER.alice), h, { peerId: `-qB4520-limitlimit0${i}` }));
    // The same three again: known peers are not new peers.
    for (const i of [1, 2, 3]) await ok(site.announce(pk(USER.alice), h, { peerId: `-qB4520-limitlimit0${i}` }));
    assert.equal((await site.announce(pk(USER.alice), h, { peerId: '-qB4520-limitlimit04' })).failure, 'too many peers on this torrent (at most 3 per user)');
    // Another user on the same torrent has slots of their own.
    await ok(site.announce(pk(USER.bob), h, { peerId: '-qB4520-limitlimit05' }));
    await ok(site.announce(pk(USER.alice), h, { peerId: '-qB4520-limitlimit01', event: 'stopped' }));
    await ok(site.announce(pk(USER.alice), h, { peerId: '-qB4520-limitlimit04' }));
  });

  it('a group\'s download slots make leech peers beyond them invisible; seeding is not limited', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const visibleOf = async (torrentId: number, peerId: string) => {
      const r = await site.push('GET', `/torrents/${torrentId}`);
      const peers = (JSON.parse(r.text) as { peers: Array<{ peer_id: string; is_visible: boolean }> }).peers;
      return peers.find((p) => p.peer_id === Buffer.from(peerId).toString('hex'))?.is_visible;
    };
    // Group "leech" has download_slots = 1.
    await ok(site.announce(pk(USER.slotted), TORRENT.approved.hash, { peerId: '-qB4520-slotslot0001' }));
    assert.equal(await visibleOf(TORRENT.approved.id, '-qB4520-slotslot0001'), true);
    await ok(site.announce(pk(USER.slotted), TORRENT.other.hash, { peerId: '-qB4520-slotslot0002', port: 7002 }));
    assert.equal(await visibleOf(TORRENT.other.id, '-qB4520-slotslot0002'), false, 'a second leech is announced but invisible');
    // Invisible: not handed to other peers (the ports they are given; all peers here are 127.0.0.1).
    const portsSeenBy = async (peerId: string) => {
      const r = await site.announce(pk(USER.bob), TORRENT.other.hash, { peerId, port: 7100 });
      assert.equal(r.failure, undefined);
      const peers = (decode(r.body) as Record<string, Buffer | undefined>)['peers'] ?? Buffer.alloc(0);
      return Array.from({ length: peers.length / 6 }, (_, i) => peers.readUInt16BE(i * 6 + 4));
    };
    assert.ok(!(await portsSeenBy('-qB4520-bobbobbob001')).includes(7002), 'the invisible leecher is not handed out');
    // Re-announcing keeps the first visible, the second waiting.
    await ok(site.announce(pk(USER.slotted), TORRENT.approved.hash, { peerId: '-qB4520-slotslot0001' }));
    assert.equal(await visibleOf(TORRENT.approved.id, '-qB4520-slotslot0001'), true);
    await ok(site.announce(pk(USER.slotted), TORRENT.third.hash, { peerId: '-qB4520-slotslot0003', left: 0 }));
    assert.equal(await visibleOf(TORRENT.third.id, '-qB4520-slotslot0003'), true, 'a seeder uses no slot');
    // The slot frees when the first leech stops: the waiting one takes it on its next announce,
    // and a new leech then waits in turn.
    await ok(site.announce(pk(USER.slotted), TORRENT.approved.hash, { peerId: '-qB4520-slotslot0001', event: 'stopped' }));
    await ok(site.announce(pk(USER.slotted), TORRENT.other.hash, { peerId: '-qB4520-slotslot0002', port: 7002 }));
    assert.equal(await visibleOf(TORRENT.other.id, '-qB4520-slotslot0002'), true);
    const seen2 = await portsSeenBy('-qB4520-bobbobbob002');
    assert.ok(seen2.includes(7002), `visible now: handed out (${JSON.stringify(seen2)})`);
    await ok(site.announce(pk(USER.slotted), TORRENT.halfFreeDouble.hash, { peerId: '-qB4520-slotslot0004' }));
    assert.equal(await visibleOf(TORRENT.halfFreeDouble.id, '-qB4520-slotslot0004'), false);
    const user = JSON.parse((await site.push('GET', `/users/${USER.slotted}`)).text) as { num_leeching: number; num_seeding: number };
    assert.deepEqual([user.num_leeching, user.num_seeding], [1, 1], 'only visible peers count');
    // PeerExtras carries the visibility to the writer.
    const { siteUserKey } = await import('../../../src/accounting/user-key.js');
    const extras = (site.tracker.site as unknown as { hook: { deps: { extras: { get(u: Buffer, i: Buffer, p: Buffer): { visible: boolean; agent: string } | undefined } } } }).hook.deps.extras;
    assert.equal(extras.get(siteUserKey(USER.slotted), TORRENT.halfFreeDouble.hash, Buffer.from('-qB4520-slotslot0004'))?.visible, false);
    assert.equal(extras.get(siteUserKey(USER.slotted), TORRENT.other.hash, Buffer.from('-qB4520-slotslot0002'))?.visible, true);
    assert.equal(extras.get(siteUserKey(USER.slotted), TORRENT.other.hash, Buffer.from('-qB4520-slotslot0002'))?.agent, 'qBittorrent/4.5.2');
    assert.equal(GROUP.slots, 5);
  });

  it('a UDP announce with BEP 41 URL data /announce/<passkey> reaches the rules', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const udp = new UdpClient(site.udpPort);
    try {
      const good = await udp.announce({ infoHash: TORRENT.approved.hash, urlData: `/announce/${pk(USER.bob)}`, peerId: Buffer.from('-qB4520-udpudpudp001'), port: 6881 });
      assert.equal(good.error, undefined);
      assert.equal(site.lastCtx()?.siteUserId, USER.bob);
      assert.equal(site.lastCtx()?.siteTorrentId, TORRENT.approved.id);
      const bad = await udp.announce({ infoHash: TORRENT.approved.hash, urlData: `/announce/${pk(USER.banned)}`, peerId: Buffer.from('-qB4520-udpudpudp002') });
      assert.equal(bad.error, 'account banned');
      const port = await udp.announce({ infoHash: TORRENT.approved.hash, urlData: `/announce/${pk(USER.bob)}`, peerId: Buffer.from('-qB4520-udpudpudp003'), port: 8080 });
      assert.match(port.error ?? '', /^port 8080 is blocked/);
    } finally {
      udp.close();
    }
  });
});
