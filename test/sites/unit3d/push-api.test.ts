/**
 * UNIT3D's push API (../shared/sites/README.md A.5): every call, with the body UNIT3D sends,
 * takes effect on the very next announce; a wrong key and bad bodies are refused and change
 * nothing. A real tracker with `site: unit3d`; calls over plain fetch on the announce listener.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { API_KEY, GROUP, TORRENT, USER, ih, pk, seedSite, siteDb, startSite, userRow, type SiteDb, type SiteTracker } from './support.js';

describe('site unit3d: push API', () => {
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

  const torrentBody = (id: number, hash: Buffer, over: Record<string, unknown> = {}) => ({
    id, status: 1, info_hash: hash.toString('hex'), is_deleted: false, seeders: 0, leechers: 0, times_completed: 0,
    download_factor: 100, upload_factor: 100, ...over,
  });
  const userBody = (id: number, over: Record<string, unknown> = {}) => ({
    id, group_id: GROUP.user, passkey: pk(id), can_download: true, is_donor: false, is_lifetime: false, num_seeding: 0, num_leeching: 0, ...over,
  });
  const put = async (path: string, body: unknown) => assert.equal((await site.push('PUT', path, body)).status, 200, `PUT ${path}`);
  const del = async (path: string, body: unknown) => assert.equal((await site.push('DELETE', path, body)).status, 200, `DELETE ${path}`);
  /** The multipliers the rules set for an announce that must pass. */
  const factors = async (passkey: string, hash: Buffer, peerId: string) => {
    const r = await site.announce(passkey, hash, { peerId });
    assert.equal(r.failure, undefined);
    return [site.lastCtx()!.uploadMultiplier, site.lastCtx()!.downloadMultiplier];
  };

  it('GET /announce/health/ping answers PONG (no key)', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const res = await fetch(`http://127.0.0.1:${site.port}/announce/health/ping`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'PONG');
  });

  it('PUT /torrents registers a torrent, and its status, deletion and factors; DELETE removes it', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const h = ih(0x40);
    assert.match((await site.announce(pk(USER.alice), h)).failure ?? '', /not registered/);
    await put('/torrents', torrentBody(400, h));
    assert.deepEqual(await factors(pk(USER.alice), h, '-qB4520-torrent00001'), [1, 1]);
    assert.equal(site.lastCtx()!.siteTorrentId, 400);
    await put('/torrents', torrentBody(400, h, { download_factor: 25, upload_factor: 200 }));
    assert.deepEqual(await factors(pk(USER.alice), h, '-qB4520-torrent00001'), [2, 0.25]);
    await put('/torrents', torrentBody(400, h, { status: 2 }));
    assert.equal((await site.announce(pk(USER.alice), h)).failure, 'torrent not approved (rejected)');
    await put('/torrents', torrentBody(400, h, { is_deleted: true }));
    assert.equal((await site.announce(pk(USER.alice), h)).failure, 'torrent has been deleted');
    await put('/torrents', torrentBody(400, h));
    await del('/torrents', torrentBody(400, h));
    assert.equal((await site.announce(pk(USER.alice), h)).failure, 'torrent not registered with this tracker');
  });

  it('GET /torrents/{id} returns the torrent and its peers', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const h = ih(0x41);
    await put('/torrents', torrentBody(401, h, { times_completed: 7 }));
    assert.equal((await site.announce(pk(USER.alice), h, { peerId: '-qB4520-getget000001', left: 10 })).failure, undefined);
    assert.equal((await site.announce(pk(USER.bob), h, { peerId: '-TR3000-getget000002', left: 0, port: 51413, agent: 'Transmission/3.00' })).failure, undefined);
    const r = await site.push('GET', '/torrents/401');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text) as Record<string, unknown> & { peers: Array<Record<string, unknown>> };
    assert.equal(body['id'], 401);
    assert.equal(body['info_hash'], h.toString('hex'));
    assert.equal(body['status'], 1);
    assert.deepEqual([body['seeders'], body['leechers'], body['times_completed']], [1, 1, 7]);
    const peers = body.peers.map((p) => [p['user_id'], Buffer.from(String(p['peer_id']), 'hex').toString(), p['port'], p['is_seeder'], p['agent']]).sort();
    assert.deepEqual(peers, [
      [USER.alice, '-qB4520-getget000001', 6881, false, 'qBittorrent/4.5.2'],
      [USER.bob, '-TR3000-getget000002', 51413, true, 'Transmission/3.00'],
    ]);
    // The leecher completes: one more completed download, one seeder more.
    assert.equal((await site.announce(pk(USER.alice), h, { peerId: '-qB4520-getget000001', left: 0, event: 'completed' })).failure, undefined);
    const after = JSON.parse((await site.push('GET', '/torrents/401')).text) as Record<string, unknown>;
    assert.deepEqual([after['seeders'], after['leechers'], after['times_completed']], [2, 0, 8]);
    assert.equal((await site.push('GET', '/torrents/99999')).status, 404);
  });

  it('PUT /users adds a user, changes can_download and group; new_passkey retires the old passkey; DELETE removes', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const h = TORRENT.approved.hash;
    assert.match((await site.announce(pk(500), h)).failure ?? '', /^unknown passkey/);
    await put('/users', userBody(500));
    assert.equal((await site.announce(pk(500), h, { peerId: '-qB4520-users0000001' })).failure, undefined);
    assert.equal(site.lastCtx()!.siteUserId, 500);
    await put('/users', userBody(500, { can_download: false }));
    assert.equal((await site.announce(pk(500), h, { peerId: '-qB4520-users0000001' })).failure, 'download privileges revoked: seeding only');
    await put('/users', userBody(500, { group_id: GROUP.banned }));
    assert.equal((await site.announce(pk(500), h, { peerId: '-qB4520-users0000001' })).failure, 'account banned');
    const fresh = 'abcdefabcdefabcdefabcdefabcdef01';
    await put('/users', userBody(500, { new_passkey: fresh }));
    assert.match((await site.announce(pk(500), h, { peerId: '-qB4520-users0000001' })).failure ?? '', /^unknown passkey/);
    assert.equal((await site.announce(fresh, h, { peerId: '-qB4520-users0000001' })).failure, undefined);
    assert.equal(site.lastCtx()!.siteUserId, 500, 'the same user under the new passkey');
    await del('/users', { id: 500 });
    assert.match((await site.announce(fresh, h, { peerId: '-qB4520-users0000001' })).failure ?? '', /^unknown passkey/);
  });

  it('GET /users/{id} returns the user with its live seeding and leeching counts', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await put('/users', userBody(501, { is_donor: true }));
    assert.equal((await site.announce(pk(501), TORRENT.approved.hash, { peerId: '-qB4520-getuser00001', left: 0 })).failure, undefined);
    assert.equal((await site.announce(pk(501), TORRENT.other.hash, { peerId: '-qB4520-getuser00002', left: 5 })).failure, undefined);
    assert.equal((await site.announce(pk(501), TORRENT.third.hash, { peerId: '-qB4520-getuser00003', left: 5 })).failure, undefined);
    const r = await site.push('GET', '/users/501');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), {
      id: 501, group_id: GROUP.user, passkey: pk(501), can_download: true, is_donor: true, is_lifetime: false, num_seeding: 1, num_leeching: 2,
    });
    assert.equal((await site.push('GET', '/users/424242')).status, 404);
  });

  it('PUT /groups changes a group\'s slug, slots and factors; DELETE /groups removes it', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await put('/groups', { id: 50, slug: 'power-user', download_slots: null, is_immune: false, is_freeleech: false, is_double_upload: false });
    await put('/users', userBody(502, { group_id: 50 }));
    assert.deepEqual(await factors(pk(502), TORRENT.approved.hash, '-qB4520-groups000001'), [1, 1]);
    await put('/groups', { id: 50, slug: 'power-user', download_slots: null, is_immune: true, is_freeleech: true, is_double_upload: true });
    assert.deepEqual(await factors(pk(502), TORRENT.approved.hash, '-qB4520-groups000001'), [2, 0]);
    assert.equal((site.tracker.site as unknown as { hook: { deps: { state: { immune(id: number): boolean } } } }).hook.deps.state.immune(502), true);
    await put('/groups', { id: 50, slug: 'disabled', download_slots: null, is_immune: false, is_freeleech: false, is_double_upload: false });
    assert.equal((await site.announce(pk(502), TORRENT.approved.hash, { peerId: '-qB4520-groups000001' })).failure, 'account disabled');
    await del('/groups', { id: 50 });
    assert.equal((await site.announce(pk(502), TORRENT.approved.hash, { peerId: '-qB4520-groups000001' })).failure, 'your user group is unknown to the tracker');
  });

  it('PUT/DELETE /blacklisted-agents bans and unbans a peer_id prefix', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await put('/blacklisted-agents', { peer_id_prefix: '-DE13' });
    assert.equal((await site.announce(pk(USER.bob), TORRENT.approved.hash, { peerId: '-DE13F0-blacklist001' })).failure, 'client banned (-DE13F0-)');
    await del('/blacklisted-agents', { peer_id_prefix: '-DE13' });
    assert.equal((await site.announce(pk(USER.bob), TORRENT.approved.hash, { peerId: '-DE13F0-blacklist001' })).failure, undefined);
  });

  it('PUT/DELETE /freeleech-tokens, /personal-freeleech and /featured-torrents change the factors', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await put('/users', userBody(503));
    const h = TORRENT.third.hash;
    const id = TORRENT.third.id;
    const f = () => factors(pk(503), h, '-qB4520-factors00001');
    assert.deepEqual(await f(), [1, 1]);
    await put('/freeleech-tokens', { user_id: 503, torrent_id: id });
    assert.deepEqual(await f(), [1, 0]);
    assert.deepEqual(await factors(pk(USER.bob), h, '-qB4520-factors00002'), [1, 1], 'the token is the user\'s only');
    await del('/freeleech-tokens', { user_id: 503, torrent_id: id });
    assert.deepEqual(await f(), [1, 1]);
    await put('/personal-freeleech', { user_id: 503 });
    assert.deepEqual(await f(), [1, 0]);
    await del('/personal-freeleech', { user_id: 503 });
    assert.deepEqual(await f(), [1, 1]);
    await put('/featured-torrents', { torrent_id: id });
    assert.deepEqual(await f(), [2, 0]);
    assert.deepEqual(await factors(pk(USER.bob), h, '-qB4520-factors00002'), [2, 0], 'featured is for everyone');
    await del('/featured-torrents', { torrent_id: id });
    assert.deepEqual(await f(), [1, 1]);
  });

  it('POST /config/reload reads the database again', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await db.exec([userRow(600, GROUP.user), 'UPDATE torrents SET status = 0 WHERE id = 105']);
    assert.match((await site.announce(pk(600), TORRENT.approved.hash)).failure ?? '', /^unknown passkey/);
    const r = await site.push('POST', '/config/reload');
    assert.equal(r.status, 200);
    assert.equal((await site.announce(pk(600), TORRENT.approved.hash, { peerId: '-qB4520-reload000001' })).failure, undefined);
    assert.equal((await site.announce(pk(600), TORRENT.third.hash)).failure, 'torrent not approved (pending moderation)');
    // Users added over the API but not in the database are gone after a reload, as in the site.
    assert.equal((await site.push('GET', '/users/503')).status, 404);
    await db.exec(['UPDATE torrents SET status = 1 WHERE id = 105']);
    assert.equal((await site.push('POST', '/config/reload')).status, 200);
  });

  it('GET /stats counts requests and answered announces', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const before = JSON.parse((await site.push('GET', '/stats')).text) as Record<string, number | string | null>;
    for (const k of ['created_at', 'last_request_at', 'last_announce_response_at']) assert.match(String(before[k]), /^\d{4}-\d\d-\d\dT/, k);
    for (const w of [1, 10, 60, 900, 7200]) {
      assert.equal(typeof before[`requests_per_${w}s`], 'number');
      assert.equal(typeof before[`announce_responses_per_${w}s`], 'number');
    }
    const count = (s: Record<string, unknown>, k: string) => Math.round(Number(s[k]) * 7200);
    assert.equal((await site.announce(pk(USER.bob), TORRENT.approved.hash, { peerId: '-qB4520-stats0000001' })).failure, undefined);
    assert.equal((await site.announce(pk(USER.bob), ih(0x77))).failure, 'torrent not registered with this tracker');
    const after = JSON.parse((await site.push('GET', '/stats')).text) as Record<string, unknown>;
    assert.equal(count(after, 'requests_per_7200s') - count(before, 'requests_per_7200s'), 2);
    assert.equal(count(after, 'announce_responses_per_7200s') - count(before, 'announce_responses_per_7200s'), 1);
  });

  it('a wrong key is refused with 403, counted, and changes nothing', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const metric = async () => {
      const m = await site.tracker.metrics.prometheus.getSingleMetricAsString('privtrak_site_api_refused_total');
      return Number(/site="unit3d"} (\d+)/.exec(m)?.[1] ?? 0);
    };
    const before = await metric();
    const wrong = API_KEY.slice(0, -1) + 'X';
    for (const [method, path, body] of [['PUT', '/users', userBody(700)], ['GET', '/users/1', undefined], ['GET', '/stats', undefined], ['POST', '/config/reload', undefined]] as const) {
      assert.equal((await site.push(method, path, body, wrong)).status, 403, `${method} ${path}`);
    }
    assert.equal((await site.push('PUT', '/users', userBody(700), 'short')).status, 403);
    assert.equal(await metric(), before + 5);
    assert.match((await site.announce(pk(700), TORRENT.approved.hash)).failure ?? '', /^unknown passkey/);
  });

  it('bad bodies, unknown routes and methods are refused with a reason; nothing changes', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const bad = async (method: string, path: string, body: unknown, why: RegExp, status = 400) => {
      const r = await site.push(method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}`);
      assert.match(r.text, why);
    };
    await bad('PUT', '/users', '{not json', /not JSON/);
    await bad('PUT', '/users', '', /not JSON/);
    await bad('PUT', '/users', { ...userBody(701), id: undefined }, /^id: /);
    await bad('PUT', '/users', { ...userBody(701), can_download: 'yes' }, /^can_download: /);
    await bad('PUT', '/torrents', torrentBody(702, ih(0x70), { info_hash: 'zz' }), /^info_hash: must be 40 hexadecimal digits/);
    await bad('PUT', '/torrents', { ...torrentBody(702, ih(0x70)), status: undefined }, /^status: /);
    await bad('PUT', '/groups', { id: 1, slug: 'user' }, /^download_slots: /);
    await bad('PUT', '/freeleech-tokens', { user_id: 1 }, /^torrent_id: /);
    await bad('PUT', '/featured-torrents', [1, 2], /Expected object/);
    await bad('PUT', '/nope', {}, /not found/, 404);
    await bad('PATCH', '/users', userBody(701), /method not allowed/, 405);
    await bad('GET', '/users/abc', undefined, /not found/, 404);
    assert.match((await site.announce(pk(701), TORRENT.approved.hash)).failure ?? '', /^unknown passkey/);
    assert.match((await site.announce(pk(USER.alice), ih(0x70))).failure ?? '', /not registered/);
    // The tracker still answers after all of that.
    assert.equal((await fetch(`http://127.0.0.1:${site.port}/announce/health/ping`)).status, 200);
  });
});
