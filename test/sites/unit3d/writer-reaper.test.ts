/**
 * The UNIT3D writer's reaper: stale active peers rows become inactive (updated_at kept), their
 * torrents' counters drop by what each counted, history.active follows the peers left active,
 * old inactive rows are deleted, and the reaper and batches never run at once.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlUrlOrSkip } from '../../support/mysql.js';
import { at, makeWriter, metricValue, siteDb, u3, T0 } from './writer-setup.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.splice(0)) await c().catch(() => undefined); });

const MIN = 60_000;

describe('unit3d writer: the reaper', () => {
  it('deactivates stale rows, fixes counters and history.active, deletes old inactive rows', async (t) => {
    const base = await mysqlUrlOrSkip(t);
    if (base === undefined) return;
    const db = await siteDb(base, [1, 2, 3], [10, 11]);
    const { writer, registry } = makeWriter(db.url, { peerLifetimeMs: 40 * MIN });
    cleanups.push(async () => { await writer.close(); await db.close(); });
    await writer.open();
    // User 1: two seeds on torrent 10, one silent since T0, one announcing at T0 + 60 min.
    // User 2: a leecher on torrent 10 silent since T0. User 3: a seed on torrent 11 silent since T0.
    await writer.apply({ id: 5, instance: 'a', deltas: [
      u3(1, 1, 10, 1, 0, { event: 'started', left: 0 }),
      u3(2, 1, 10, 2, 0, { event: 'started', left: 0 }),
      u3(3, 2, 10, 3, 0, { event: 'started', left: 500 }),
      u3(4, 3, 11, 4, 0, { event: 'started', left: 0 }),
      u3(5, 1, 10, 2, 3600, { left: 0, seedTime: 3600 }),
    ] });
    // Rows UNIT3D-Announce or an earlier run left: inactive since 3 days (deleted) and since 1 day (kept).
    await db.exec(`INSERT INTO peers (peer_id, ip, port, agent, uploaded, downloaded, \`left\`, seeder, created_at, updated_at, torrent_id, user_id, connectable, active, visible)
      VALUES (X'${'aa'.repeat(20)}', X'0a000002', 1, 'x', 0, 0, 0, 1, '2024-02-27 00:00:00', '2024-02-27 00:00:00', 11, 2, 0, 0, 1),
             (X'${'bb'.repeat(20)}', X'0a000002', 1, 'x', 0, 0, 0, 1, '2024-02-29 12:00:00', '2024-02-29 12:00:00', 11, 2, 0, 0, 1)`);
    assert.deepEqual(await counters(), [[10, 2, 1], [11, 1, 0]]);

    const r = await writer.reap(T0 + 70 * MIN); // cutoff T0 + 30 min: peers 1, 3, 4 are stale
    assert.deepEqual(r, { deactivated: 3, deleted: 1 });
    const peers = await db.rows('SELECT user_id, torrent_id, HEX(peer_id) AS p, active, CAST(updated_at AS CHAR) AS u FROM peers ORDER BY user_id, torrent_id, peer_id');
    assert.deepEqual(peers.map((p) => [Number(p['user_id']), Number(p['torrent_id']), Number(p['active']), p['u']]), [
      [1, 10, 0, at(0)], // stale: inactive, updated_at kept
      [1, 10, 1, at(3600)],
      [2, 10, 0, at(0)],
      [2, 11, 0, '2024-02-29 12:00:00'], // inactive for 1 day: kept (inactive_peer_ttl 2 days)
      [3, 11, 0, at(0)],
    ]);
    assert.deepEqual(await counters(), [[10, 1, 0], [11, 0, 0]]);
    const history = await db.rows('SELECT user_id, torrent_id, active FROM history ORDER BY user_id, torrent_id');
    assert.deepEqual(history.map((h) => [Number(h['user_id']), Number(h['torrent_id']), Number(h['active'])]), [[1, 10, 1], [2, 10, 0], [3, 11, 0]]);
    assert.equal(await metricValue(registry, 'privtrak_site_reaper_actions_total', { action: 'deactivated' }), 3);
    assert.equal(await metricValue(registry, 'privtrak_site_reaper_actions_total', { action: 'deleted' }), 1);

    // A second round finds nothing; a reaped peer that announces again counts again.
    assert.deepEqual(await writer.reap(T0 + 71 * MIN), { deactivated: 0, deleted: 0 });
    await writer.apply({ id: 6, instance: 'a', deltas: [u3(6, 2, 10, 3, 4300, { left: 200 })] });
    assert.deepEqual(await counters(), [[10, 1, 1], [11, 0, 0]]);
    assert.equal(Number((await db.rows('SELECT active FROM history WHERE user_id = 2'))[0]!['active']), 1);

    async function counters() {
      const rows = await db.rows('SELECT id, seeders, leechers FROM torrents ORDER BY id');
      return rows.map((x) => [Number(x['id']), Number(x['seeders']), Number(x['leechers'])]);
    }
  });

  it('a round and batches queued together run one after another, and the counters stay right', async (t) => {
    const base = await mysqlUrlOrSkip(t);
    if (base === undefined) return;
    const db = await siteDb(base, [1, 2], [10]);
    const { writer } = makeWriter(db.url, { peerLifetimeMs: 40 * MIN });
    cleanups.push(async () => { await writer.close(); await db.close(); });
    await writer.open();
    await writer.apply({ id: 2, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started', left: 0 }), u3(2, 2, 10, 2, 0, { event: 'started', left: 0 })] });
    // Not awaited in between: the writer serializes them on its one session.
    const results = await Promise.all([
      writer.reap(T0 + 70 * MIN),
      writer.apply({ id: 3, instance: 'a', deltas: [u3(3, 1, 10, 1, 4200, { left: 0 })] }),
      writer.reap(T0 + 71 * MIN),
    ]);
    assert.deepEqual(results[0], { deactivated: 2, deleted: 0 });
    assert.deepEqual(results[2], { deactivated: 0, deleted: 0 }, 'peer 1 announced at T0 + 70 min: fresh');
    const [c] = await db.rows('SELECT seeders, leechers FROM torrents WHERE id = 10');
    const [p] = await db.rows('SELECT SUM(active = 1 AND seeder = 1) AS s FROM peers WHERE torrent_id = 10');
    assert.equal(Number(c!['seeders']), 1);
    assert.equal(Number(p!['s']), 1);
  });
});
