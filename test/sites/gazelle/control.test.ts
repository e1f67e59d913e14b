/**
 * Gazelle's control channel (GET /{secret}/update?action=…, ../shared/sites B.3): every action
 * Gazelle sends takes effect on the next announce; Ocelot's `success` reply; a wrong secret is
 * refused ("Authentication failure") and changes nothing. Binary info_hashes are sent the way
 * Gazelle sends them: raw bytes, percent-escaped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import { ALICE, BOB, DAVE, IH, QB, SECRET, TR, creditOf, escapeBytes, startSite, type Site } from './harness.js';

const NEWKEY = '0e300000' + '0e300000'.repeat(3);
const FRANK = 'f4a4c000f4a4c000f4a4c000f4a4c000';

async function ok(s: Site, query: string): Promise<void> {
  const r = await s.update(query);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'success', `update ${query}`);
}

/** A torrent's download and upload over one session: started, then 100 up / 300 down. */
async function session(s: Site, infoHash: Buffer, passkey = ALICE): Promise<void> {
  assert.equal((await s.announce({ passkey, infoHash, left: 1000, event: 'started' })).failure, undefined);
  assert.equal((await s.announce({ passkey, infoHash, up: 100, down: 300, left: 700 })).failure, undefined);
}

describe('Gazelle /update', () => {
  it('a wrong secret is refused as Ocelot refuses it, and changes nothing', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      const r = await s.update(`action=add_torrent&id=99&info_hash=${escapeBytes(IH.unknown)}&freetorrent=0`, 'not-the-secret-000000000000000000');
      assert.equal(r.status, 200);
      assert.deepEqual(decode(r.body), { 'failure reason': Buffer.from('Authentication failure') });
      assert.equal((await s.announce({ infoHash: IH.unknown })).failure, 'Unregistered torrent');
      // A secret that is a prefix of the right one is just as wrong.
      assert.match((await s.update('action=remove_user&passkey=' + ALICE, SECRET.slice(0, -1))).body.toString(), /Authentication failure/);
      assert.equal((await s.announce({})).failure, undefined);
    } finally {
      await s.close();
    }
  });

  it('change_passkey: the old passkey is refused, the new one is the same user', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ passkey: ALICE, left: 1000, event: 'started' })).failure, undefined);
      await ok(s, `action=change_passkey&oldpasskey=${ALICE}&newpasskey=${NEWKEY}`);
      assert.equal((await s.announce({ passkey: ALICE })).failure, 'Passkey not found');
      assert.equal((await s.announce({ passkey: NEWKEY, up: 100, down: 300, left: 700 })).failure, undefined);
      const rows = await s.stopAndTotals();
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.normal), [100, 300, 100, 300], 'one user across the change');
    } finally {
      await s.close();
    }
  });

  it('add_torrent: registered on the next announce, with its freeleech type', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ infoHash: IH.unknown })).failure, 'Unregistered torrent');
      await ok(s, `action=add_torrent&id=99&info_hash=${escapeBytes(IH.unknown)}&freetorrent=1`);
      assert.equal(s.site.state.torrent(IH.unknown)?.id, 99);
      await session(s, IH.unknown);
      assert.deepEqual(creditOf(await s.stopAndTotals(), siteUserKey(1), IH.unknown), [100, 0, 100, 300]);
    } finally {
      await s.close();
    }
  });

  it('update_torrent: neutral from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ infoHash: IH.normal, left: 1000, event: 'started' })).failure, undefined);
      await ok(s, `action=update_torrent&info_hash=${escapeBytes(IH.normal)}&freetorrent=2`);
      assert.equal((await s.announce({ infoHash: IH.normal, up: 100, down: 300, left: 700 })).failure, undefined);
      assert.deepEqual(creditOf(await s.stopAndTotals(), siteUserKey(1), IH.normal), [0, 0, 100, 300]);
    } finally {
      await s.close();
    }
  });

  it('update_torrents: several info_hashes concatenated, all free from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, `action=update_torrents&info_hashes=${escapeBytes(Buffer.concat([IH.normal, IH.other]))}&freetorrent=1`);
      await session(s, IH.normal);
      await session(s, IH.other);
      await session(s, IH.expired);
      const rows = await s.stopAndTotals();
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.normal), [100, 0, 100, 300]);
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.other), [100, 0, 100, 300]);
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.expired), [100, 300, 100, 300], 'a torrent not named is unchanged');
    } finally {
      await s.close();
    }
  });

  it('delete_torrent: unregistered on the next announce, with Gazelle\'s reason when given', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, `action=delete_torrent&info_hash=${escapeBytes(IH.normal)}&reason=0`);
      assert.equal((await s.announce({ infoHash: IH.normal })).failure, 'Unregistered torrent: Dupe');
      await ok(s, `action=delete_torrent&info_hash=${escapeBytes(IH.other)}&reason=14`);
      assert.equal((await s.announce({ infoHash: IH.other })).failure, 'Unregistered torrent: Specifically Banned');
      await ok(s, `action=delete_torrent&info_hash=${escapeBytes(IH.free)}`);
      assert.equal((await s.announce({ infoHash: IH.free })).failure, 'Unregistered torrent');
      // Its tokens went with it: added again, the torrent has none.
      await ok(s, `action=delete_torrent&info_hash=${escapeBytes(IH.token)}&reason=1`);
      await ok(s, `action=add_torrent&id=13&info_hash=${escapeBytes(IH.token)}&freetorrent=0`);
      assert.equal(s.site.state.hasToken(1, 13), false);
    } finally {
      await s.close();
    }
  });

  it('info_torrent: the torrent\'s ID and freeleech type, or fail', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      const r = await s.update(`action=info_torrent&info_hash=${escapeBytes(IH.free)}`);
      assert.deepEqual(JSON.parse(r.body.toString()), { hash: IH.free.toString('hex'), id: 11, free: 1 });
      const none = await s.update(`action=info_torrent&info_hash=${escapeBytes(IH.unknown)}`);
      assert.deepEqual(JSON.parse(none.body.toString()), { hash: IH.unknown.toString('hex'), fail: 1 });
    } finally {
      await s.close();
    }
  });

  it('add_token / remove_token: the download is not counted while the user holds a token', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, `action=add_token&info_hash=${escapeBytes(IH.normal)}&userid=1`);
      await session(s, IH.normal);
      await ok(s, `action=remove_token&info_hash=${escapeBytes(IH.token)}&userid=1`);
      await session(s, IH.token);
      const rows = await s.stopAndTotals();
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.normal), [100, 0, 100, 300], 'token added');
      assert.deepEqual(creditOf(rows, siteUserKey(1), IH.token), [100, 300, 100, 300], 'token removed');
    } finally {
      await s.close();
    }
  });

  it('add_user: the passkey announces from the next announce, as the user ID given; visible=0 protects its IP', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ passkey: FRANK })).failure, 'Passkey not found');
      await ok(s, `action=add_user&id=6&passkey=${FRANK}&visible=0`);
      await session(s, IH.normal, FRANK);
      assert.equal(s.site.state.isProtected(6), true);
      assert.deepEqual(creditOf(await s.stopAndTotals(), siteUserKey(6), IH.normal), [100, 300, 100, 300]);
    } finally {
      await s.close();
    }
  });

  it('remove_user and remove_users (passkeys concatenated): refused from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, `action=remove_user&passkey=${ALICE}`);
      assert.equal((await s.announce({ passkey: ALICE })).failure, 'Passkey not found');
      assert.equal((await s.announce({ passkey: BOB, left: 0 })).failure, undefined);
      await ok(s, `action=remove_users&passkeys=${BOB}${DAVE}`);
      assert.equal((await s.announce({ passkey: BOB, left: 0 })).failure, 'Passkey not found');
      assert.equal((await s.announce({ passkey: DAVE })).failure, 'Passkey not found');
    } finally {
      await s.close();
    }
  });

  it('update_user: can_leech and visible from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, `action=update_user&passkey=${ALICE}&can_leech=0&visible=0`);
      assert.equal((await s.announce({ left: 500 })).failure, 'Access denied, leeching forbidden');
      assert.equal(s.site.state.isProtected(1), true);
      await ok(s, `action=update_user&passkey=${BOB}&can_leech=1&visible=1`);
      assert.equal((await s.announce({ passkey: BOB, left: 500 })).failure, undefined);
      assert.equal(s.site.state.isProtected(2), false);
    } finally {
      await s.close();
    }
  });

  it('add_whitelist / edit_whitelist / remove_whitelist: the client check from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, 'action=add_whitelist&peer_id=-qB');
      assert.equal((await s.announce({ peerId: TR })).failure, 'Your client is not on the whitelist');
      assert.equal((await s.announce({ peerId: QB })).failure, undefined);
      await ok(s, 'action=edit_whitelist&old_peer_id=-qB&new_peer_id=-TR3');
      assert.equal((await s.announce({ peerId: QB })).failure, 'Your client is not on the whitelist');
      assert.equal((await s.announce({ peerId: TR })).failure, undefined);
      await ok(s, 'action=remove_whitelist&peer_id=-TR3');
      assert.equal((await s.announce({ peerId: Buffer.from('XXXXXXXXXXXXXXXXXXXX') })).failure, undefined, 'an empty list checks nothing');
    } finally {
      await s.close();
    }
  });

  it('update_announce_interval / update_announce_jitter: the interval clients get from the next announce', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      await ok(s, 'action=update_announce_interval&new_announce_interval=1234');
      const r = await s.announce({});
      assert.equal(r.interval, 1234);
      assert.equal(r.minInterval, 1234, 'Ocelot: min interval = announce interval');
      await ok(s, 'action=update_announce_jitter&new_announce_jitter=10');
      for (let i = 0; i < 5; i++) {
        const j = await s.announce({});
        assert.ok(j.interval! >= 1234 && j.interval! <= 1244, `interval ${j.interval} within 1234 + 0…10`);
        assert.equal(j.minInterval, 1234);
      }
      // A malformed value is refused and changes nothing (Ocelot would read it as 0).
      const bad = await s.update('action=update_announce_interval&new_announce_interval=soon');
      assert.match(bad.body.toString(), /failure reason.*new_announce_interval/);
      await ok(s, 'action=update_announce_jitter&new_announce_jitter=0');
      assert.equal((await s.announce({})).interval, 1234);
    } finally {
      await s.close();
    }
  });
});
