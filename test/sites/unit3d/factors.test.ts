/**
 * UNIT3D-Announce's credit factors (../shared/sites/README.md A.3), in percent:
 *   upload   = max(UPLOAD_FACTOR, group double upload ? 200 : 100, torrent doubleup ? 200 : 100); featured → 200
 *   download = min(DOWNLOAD_FACTOR, group freeleech ? 0 : 100, 100 - min(free, 100)); personal freeleech, token, featured → 0
 * First as a table over factors.ts, then through a tracker (the multipliers the rules set, and
 * the credited bytes the privtrak hook books with them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { downloadFactor, uploadFactor, type FactorInputs } from '../../../src/sites/unit3d/factors.js';
import { SqliteSink } from '../../../src/sinks/sqlite-sink.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { TORRENT, USER, pk, seedSite, siteDb, startSite, type SiteDb } from './support.js';

const base: FactorInputs = {
  siteUpload: 100, siteDownload: 100, groupUpload: 100, groupDownload: 100, torrentUpload: 100, torrentDownload: 100,
  featured: false, personalFreeleech: false, token: false,
};

describe('site unit3d: credit factors', () => {
  it('upload: the largest of site, group and torrent; featured sets 200', () => {
    const cases: Array<[Partial<FactorInputs>, number]> = [
      [{}, 100],
      [{ siteUpload: 150 }, 150],
      [{ groupUpload: 200 }, 200],
      [{ torrentUpload: 200 }, 200],
      [{ siteUpload: 300, groupUpload: 200, torrentUpload: 200 }, 300],
      [{ siteUpload: 0 }, 100],
      [{ featured: true }, 200],
      [{ featured: true, siteUpload: 300 }, 200],
    ];
    for (const [over, want] of cases) assert.equal(uploadFactor({ ...base, ...over }), want, JSON.stringify(over));
  });

  it('download: the smallest of site, group and torrent; personal freeleech, a token or featured set 0', () => {
    const cases: Array<[Partial<FactorInputs>, number]> = [
      [{}, 100],
      [{ siteDownload: 50 }, 50],
      [{ groupDownload: 0 }, 0],
      [{ torrentDownload: 75 }, 75],
      [{ siteDownload: 50, torrentDownload: 25 }, 25],
      [{ siteDownload: 25, torrentDownload: 50 }, 25],
      [{ personalFreeleech: true }, 0],
      [{ token: true }, 0],
      [{ featured: true }, 0],
    ];
    for (const [over, want] of cases) assert.equal(downloadFactor({ ...base, ...over }), want, JSON.stringify(over));
  });

  describe('through a tracker', () => {
    let db: SiteDb | undefined;
    before(async (t) => {
      db = await siteDb(t as never);
      if (db !== undefined) await seedSite(db);
    });
    after(async () => {
      await db?.drop();
    });

    it('group and torrent factors set the multipliers, and the privtrak hook credits with them', async (t) => {
      if (db === undefined) return t.skip('no MariaDB');
      const site = await startSite(db.url);
      try {
        const factors = async (passkey: string, hash: Buffer, o: { uploaded?: number; downloaded?: number; event?: string; peerId: string }) => {
          const r = await site.announce(passkey, hash, { left: 5000, ...o });
          assert.equal(r.failure, undefined);
          return [site.lastCtx()!.uploadMultiplier, site.lastCtx()!.downloadMultiplier];
        };
        // Group double upload on a torrent with free 50 and doubleup: ×2 up, ×0.5 down.
        assert.deepEqual(await factors(pk(USER.double), TORRENT.halfFreeDouble.hash, { peerId: '-qB4520-factor000001', event: 'started' }), [2, 0.5]);
        assert.deepEqual(await factors(pk(USER.double), TORRENT.halfFreeDouble.hash, { peerId: '-qB4520-factor000001', uploaded: 1000, downloaded: 1000 }), [2, 0.5]);
        // Group freeleech on an ordinary torrent: ×1 up, ×0 down.
        assert.deepEqual(await factors(pk(USER.free), TORRENT.approved.hash, { peerId: '-qB4520-factor000002', event: 'started' }), [1, 0]);
        assert.deepEqual(await factors(pk(USER.free), TORRENT.approved.hash, { peerId: '-qB4520-factor000002', uploaded: 300, downloaded: 700 }), [1, 0]);
        // An ordinary user on an ordinary torrent: ×1.
        assert.deepEqual(await factors(pk(USER.alice), TORRENT.approved.hash, { peerId: '-qB4520-factor000003' }), [1, 1]);
      } finally {
        await site.tracker.stop();
      }
      const sink = new SqliteSink({ path: join(site.dir, 'stats.sqlite') });
      await sink.open();
      try {
        const [d] = await sink.totals({ user: siteUserKey(USER.double), byTorrent: false });
        assert.deepEqual([d!.uploaded, d!.downloaded, d!.rawUploaded, d!.rawDownloaded], [2000n, 500n, 1000n, 1000n]);
        const [f] = await sink.totals({ user: siteUserKey(USER.free), byTorrent: true });
        assert.deepEqual([f!.uploaded, f!.downloaded, f!.rawDownloaded, f!.siteTorrentId], [300n, 0n, 700n, BigInt(TORRENT.approved.id)]);
      } finally {
        await sink.close();
        rmSync(site.dir, { recursive: true, force: true });
      }
    });

    it('the site-wide upload_factor and download_factor apply', async (t) => {
      if (db === undefined) return t.skip('no MariaDB');
      const site = await startSite(db.url, { upload_factor: 150, download_factor: 50 });
      try {
        const r = await site.announce(pk(USER.alice), TORRENT.approved.hash, { peerId: '-qB4520-factor000004' });
        assert.equal(r.failure, undefined);
        assert.deepEqual([site.lastCtx()!.uploadMultiplier, site.lastCtx()!.downloadMultiplier], [1.5, 0.5]);
        // free 50 is no better than the site's 50; doubleup 200 beats the site's 150.
        await site.announce(pk(USER.alice), TORRENT.halfFreeDouble.hash, { peerId: '-qB4520-factor000005' });
        assert.deepEqual([site.lastCtx()!.uploadMultiplier, site.lastCtx()!.downloadMultiplier], [2, 0.5]);
      } finally {
        await site.stop();
      }
    });
  });
});
