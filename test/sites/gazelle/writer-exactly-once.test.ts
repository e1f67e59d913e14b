/**
 * The Gazelle writer's exactly-once contract (src/sinks/sink.ts) in the site's own tables, both
 * layouts, real MariaDB: a batch applied twice, or again by a new writer after a restart, changes
 * nothing the second time; a batch failing in its last statement leaves nothing; small chunks
 * (max_records_per_batch) and a 20,000-delta batch give the totals a plain sum over the deltas gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StatDelta } from '../../../src/accounting/delta.js';
import { T0, gazelleTestSite, gd, peerIdOf, type GazelleTestSite, withSite } from './writer-fixture.js';
import type { GazelleSchema } from './schema.js';


/** A mixed batch: credits, a snatch, a token, a stop, on torrents 10 and `failFid`. */
function mixedBatch(from: number, failFid = 11): StatDelta[] {
  return [
    gd(from, 1, 10, { deltaUp: 100, creditUp: 200, deltaDown: 30, creditDown: 0, left: 5 }),
    gd(from + 1, 1, 10, { deltaUp: 1, creditUp: 2, left: 0, snatch: true, event: 'completed', leechTime: 10 }),
    gd(from + 2, 2, 10, { deltaDown: 40, creditDown: 40, left: 9, leechTime: 5 }),
    gd(from + 3, 2, failFid, { deltaUp: 8, creditUp: 8, left: 0, event: 'stopped', baseline: null }),
  ];
}

/**
 * n deltas, one peer each, spread over `users` users and `torrents` torrents, and what Ocelot's
 * semantics make of them, summed plainly: credited totals per user; per torrent active seeders and
 * leechers, snatches and raw balance.
 */
function spread(n: number, users: number, torrents: number) {
  const deltas: StatDelta[] = [];
  const up = new Map<number, bigint>();
  const down = new Map<number, bigint>();
  const tor = new Map<number, { s: number; l: number; sn: number; bal: bigint }>();
  for (let i = 0; i < n; i++) {
    const uid = 1 + (i % users);
    const fid = 1 + ((i * 7) % torrents);
    const left = i % 3 === 0 ? 0 : 100 + i;
    const stopped = i % 10 === 9;
    const d = gd(i + 1, uid, fid, {
      peerId: peerIdOf('-qB4520-', i), uploaded: i * 10, downloaded: i, left, deltaUp: i % 13, deltaDown: i % 5,
      creditUp: 2 * (i % 13), creditDown: i % 4 === 0 ? 0 : i % 5, seedTime: left === 0 ? 60 : 0, leechTime: left === 0 ? 0 : 60,
      snatch: i % 17 === 0, event: stopped ? 'stopped' : 'none', baseline: stopped ? null : { uploaded: 0, downloaded: 0, left, lastMs: T0 },
      timeMs: T0 + i,
    });
    deltas.push(d);
    up.set(uid, (up.get(uid) ?? 0n) + BigInt(d.creditUp));
    down.set(uid, (down.get(uid) ?? 0n) + BigInt(d.creditDown));
    const t = tor.get(fid) ?? { s: 0, l: 0, sn: 0, bal: 0n };
    if (!stopped) {
      if (left === 0) t.s++;
      else t.l++;
    }
    if (d.snatch) t.sn++;
    t.bal += BigInt(d.deltaUp - d.deltaDown);
    tor.set(fid, t);
  }
  return { deltas, up, down, tor };
}

async function assertSpread(site: GazelleTestSite, exp: ReturnType<typeof spread>): Promise<void> {
  const ops = site.layout === 'ops';
  const users = await site.rows(ops ? 'SELECT UserID AS id, Uploaded, Downloaded FROM users_leech_stats ORDER BY UserID'
    : 'SELECT ID AS id, Uploaded, Downloaded FROM users_main ORDER BY ID');
  for (const r of users) {
    const id = Number(r['id']);
    assert.equal(BigInt(r['Uploaded'] as string), exp.up.get(id) ?? 0n, `user ${id} Uploaded`);
    assert.equal(BigInt(r['Downloaded'] as string), exp.down.get(id) ?? 0n, `user ${id} Downloaded`);
  }
  const torrents = await site.rows(ops ? 'SELECT TorrentID AS id, Seeders, Leechers, Snatched, Balance FROM torrents_leech_stats ORDER BY TorrentID'
    : 'SELECT ID AS id, Seeders, Leechers, Snatched, Balance FROM torrents ORDER BY ID');
  assert.equal(torrents.length, exp.tor.size);
  for (const r of torrents) {
    const e = exp.tor.get(Number(r['id']))!;
    assert.deepEqual([Number(r['Seeders']), Number(r['Leechers']), Number(r['Snatched']), BigInt(r['Balance'] as string)], [e.s, e.l, e.sn, e.bal], `torrent ${String(r['id'])}`);
  }
  const [peers] = await site.rows('SELECT COUNT(*) AS n, SUM(announced) AS a FROM xbt_files_users');
  assert.equal(Number(peers?.['n']), exp.deltas.length);
  assert.equal(Number(peers?.['a']), exp.deltas.length);
  const [sn] = await site.rows('SELECT COUNT(*) AS n FROM xbt_snatched');
  assert.equal(Number(sn?.['n']), exp.deltas.filter((d) => d.snatch).length);
}

for (const layout of ['ops', 'whatcd'] as const) {
  describe(`gazelle writer, exactly once (${layout})`, () => {
    it('the same batch applied twice changes nothing the second time', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([10, 11]);
        await site.conn.query("INSERT INTO users_freeleeches (UserID, TorrentID, Time) VALUES (1, 10, NOW())");
        site.facts.tokens.add('1/10');
        const w = await site.writer();
        const batch = { id: 4, instance: 'a', deltas: mixedBatch(1) };
        await w.apply(batch);
        const once = await site.dump();
        await w.apply(batch);
        assert.equal(await site.dump(), once);
        assert.deepEqual(await site.userStats(1), { up: 202n, down: 0n });
        assert.equal((await site.rows('SELECT Downloaded FROM users_freeleeches'))[0]?.['Downloaded'], '30');
      });
    });

    it('a new writer after a restart resumes from the mark: an overlapping batch applies only what is new', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2, 3]);
        await site.addTorrents([10, 11]);
        const first = await site.writer();
        await first.apply({ id: 4, instance: 'a', deltas: mixedBatch(1) });
        await first.close();
        const once = await site.dump();
        const second = await site.writer();
        assert.equal((await second.load('a')).appliedThrough, 4);
        await second.apply({ id: 4, instance: 'a', deltas: mixedBatch(1) });
        assert.equal(await site.dump(), once);
        // seqs 3..6: 3 and 4 were applied before; 5 and 6 are new.
        await second.apply({ id: 6, instance: 'a', deltas: [...mixedBatch(1).slice(2), gd(5, 3, 11, { creditUp: 1, left: 0 }), gd(6, 3, 11, { creditUp: 2, left: 0 })] });
        assert.deepEqual(await site.userStats(2), { up: 8n, down: 40n });
        assert.deepEqual(await site.userStats(3), { up: 3n, down: 0n });
        const ts = await site.torrentStats(11);
        assert.equal(ts?.seeders, 1, "user 2's peer stopped, user 3's seeds");
        assert.equal((await second.load('a')).appliedThrough, 6);
        // Another instance has its own mark.
        assert.equal((await second.load('b')).appliedThrough, 0);
      });
    });

    it('a batch failing in its last statement leaves nothing; retried, it applies once', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([10, 99]);
        await site.conn.query("INSERT INTO users_freeleeches (UserID, TorrentID, Time) VALUES (1, 10, NOW())");
        site.facts.tokens.add('1/10');
        const table = layout === 'ops' ? 'torrents_leech_stats' : 'torrents';
        const key = layout === 'ops' ? 'TorrentID' : 'ID';
        // The torrent counters are written last, after every other table: failing there proves the rollback.
        for (const when of ['INSERT', 'UPDATE']) {
          await site.conn.query(`CREATE TRIGGER fail_${when.toLowerCase()} BEFORE ${when} ON ${table} FOR EACH ROW
            BEGIN IF NEW.${key} = 99 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: failing midway'; END IF; END`);
        }
        const w = await site.writer();
        const before = await site.dump();
        const batch = { id: 4, instance: 'a', deltas: mixedBatch(1, 99) };
        await assert.rejects(w.apply(batch), /failing midway/);
        assert.equal(await site.dump(), before);
        assert.equal((await w.load('a')).appliedThrough, 0);
        await site.conn.query('DROP TRIGGER fail_insert; DROP TRIGGER fail_update');
        await w.apply(batch);
        await w.apply(batch);
        assert.deepEqual(await site.userStats(1), { up: 202n, down: 0n });
        assert.deepEqual(await site.userStats(2), { up: 8n, down: 40n });
        assert.equal((await site.torrentStats(10))?.snatched, 1);
        assert.equal((await site.torrentStats(10))?.seeders, 1);
        assert.equal((await site.torrentStats(10))?.leechers, 1);
        assert.equal((await site.torrentStats(99))?.balance, 8n);
        assert.equal((await site.rows('SELECT * FROM xbt_snatched')).length, 1);
        assert.equal((await site.rows('SELECT Downloaded FROM users_freeleeches'))[0]?.['Downloaded'], '30');
      });
    });

    it('max_records_per_batch: 2 (many small statements) gives the same totals', async (t) => {
      await withSite(t, layout, async (site) => {
        const exp = spread(300, 7, 5);
        await site.addUsers([1, 2, 3, 4, 5, 6, 7]);
        await site.addTorrents([1, 2, 3, 4, 5]);
        await site.conn.query("INSERT INTO users_freeleeches (UserID, TorrentID, Time) VALUES (1, 1, NOW()), (2, 2, NOW()), (3, 3, NOW())");
        for (const k of ['1/1', '2/2', '3/3']) site.facts.tokens.add(k);
        const w = await site.writer({ max_records_per_batch: 2 });
        await w.apply({ id: 300, instance: 'a', deltas: exp.deltas });
        await assertSpread(site, exp);
        const tokens = await site.rows('SELECT UserID, TorrentID, Downloaded FROM users_freeleeches ORDER BY UserID');
        const expTokens = [[1, 1], [2, 2], [3, 3]].map(([u, f]) => exp.deltas
          .filter((d) => d.user.readBigUInt64BE(1) === BigInt(u!) && d.siteTorrentId === f).reduce((s, d) => s + d.deltaDown, 0));
        assert.deepEqual(tokens.map((r) => Number(r['Downloaded'])), expTokens);
      });
    });

    it('20,000 deltas in one batch', async (t) => {
      await withSite(t, layout, async (site) => {
        const exp = spread(20_000, 5_000, 2_000);
        await site.addUsers(Array.from({ length: 5_000 }, (_, i) => i + 1));
        await site.addTorrents(Array.from({ length: 2_000 }, (_, i) => i + 1));
        const w = await site.writer();
        const started = process.hrtime.bigint();
        await w.apply({ id: 20_000, instance: 'a', deltas: exp.deltas });
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        t.diagnostic(`${layout}: 20,000 deltas (5,000 users, 2,000 torrents, 20,000 peer rows) applied in ${ms.toFixed(0)} ms`);
        await assertSpread(site, exp);
        const again = await site.dump();
        await w.apply({ id: 20_000, instance: 'a', deltas: exp.deltas });
        assert.equal(await site.dump(), again);
      });
    });
  });
}
