/**
 * The start-up load against MariaDB with Gazelle's tables (OPS and WhatCD layouts): what Ocelot
 * reads (../shared/sites B.1), nothing written, and a failed read naming what failed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadGazelle, GazelleLoadError } from '../../../src/sites/gazelle/loader.js';
import { GazelleState } from '../../../src/sites/gazelle/state.js';
import { gazelleSiteSchema, type GazelleSiteConfig } from '../../../src/sites/config.js';
import { mysqlExec } from '../../support/mysql.js';
import { ALICE, BOB, DAVE, EVE, IH, siteDatabase } from './harness.js';
import type { GazelleSchema } from './schema.js';

function config(url: string, schema: GazelleSchema): GazelleSiteConfig {
  return gazelleSiteSchema.parse({ name: 'gazelle', url, secret: 'x'.repeat(32), schema, timeout: '5s' });
}

for (const schema of ['ops', 'whatcd'] as const) {
  describe(`loading a Gazelle site (${schema} tables)`, () => {
    it('reads enabled users, torrents with their freeleech type and snatches, unexpired tokens, the whitelist', async (t) => {
      const db = await siteDatabase(t, schema, ["INSERT INTO xbt_client_whitelist (peer_id, vstring) VALUES ('-qB', 'qBittorrent'), ('-TR2', 'Transmission')"]);
      if (db === undefined) return;
      try {
        const snap = await loadGazelle(config(db.url, schema));
        // Users: Enabled = '1' only (carol is disabled); protected = Visible '0' (dave) or IP 127.0.0.1 (eve).
        assert.deepEqual([...snap.users].sort((a, b) => a.user.id - b.user.id), [
          { passkey: ALICE, user: { id: 1, canLeech: true, protected: false } },
          { passkey: BOB, user: { id: 2, canLeech: false, protected: false } },
          { passkey: DAVE, user: { id: 4, canLeech: true, protected: true } },
          { passkey: EVE, user: { id: 5, canLeech: true, protected: true } },
        ]);
        const torrents = [...snap.torrents].sort((a, b) => a.torrent.id - b.torrent.id)
          .map((x) => [x.infoHash.toString('hex'), x.torrent.id, x.torrent.free, x.torrent.snatched]);
        assert.deepEqual(torrents, [
          [IH.normal.toString('hex'), 10, 0, 7], [IH.free.toString('hex'), 11, 1, 0], [IH.neutral.toString('hex'), 12, 2, 0],
          [IH.token.toString('hex'), 13, 0, 0], [IH.expired.toString('hex'), 14, 0, 0], [IH.other.toString('hex'), 15, 0, 3],
        ]);
        // Only the unexpired token (torrent 13); the expired one on 14 is not.
        assert.deepEqual(snap.tokens, [{ userId: 1, torrentId: 13 }]);
        assert.deepEqual([...snap.whitelist].sort(), ['-TR2', '-qB']);

        const state = new GazelleState();
        state.replace(snap);
        assert.equal(state.hasToken(1, 13), true);
        assert.equal(state.hasToken(1, 14), false);
        assert.equal(state.isProtected(4), true);
        assert.equal(state.isProtected(5), true);
        assert.equal(state.isProtected(1), false);
        assert.equal(state.clientAllowed(Buffer.from('-TR2940-000000000000')), true);
        assert.equal(state.clientAllowed(Buffer.from('-TR3000-000000000000')), false);
      } finally {
        await db.drop();
      }
    });

    it('changes nothing in the site\'s tables (Ocelot truncates xbt_files_users and zeroes the counts; privtrak never does)', async (t) => {
      const counts = schema === 'whatcd' ? 'torrents' : 'torrents_leech_stats';
      const idCol = schema === 'whatcd' ? 'ID' : 'TorrentID';
      const db = await siteDatabase(t, schema, [
        `UPDATE ${counts} SET Seeders = 4, Leechers = 2 WHERE ${idCol} = 10`,
        "INSERT INTO xbt_files_users (uid, fid, peer_id, ip, useragent) VALUES (1, 10, '-qB4520-000000000001', '10.0.0.1', 'qBittorrent/4.5.2')",
      ]);
      if (db === undefined) return;
      try {
        await loadGazelle(config(db.url, schema));
        const [peers, swarm] = await mysqlExec(db.url, [
          'SELECT uid, fid, useragent FROM xbt_files_users',
          `SELECT Seeders, Leechers FROM ${counts} WHERE ${idCol} = 10`,
        ]) as [unknown[], unknown[]];
        assert.deepEqual(peers, [{ uid: 1, fid: 10, useragent: 'qBittorrent/4.5.2' }]);
        assert.deepEqual(swarm, [{ Seeders: 4, Leechers: 2 }]);
      } finally {
        await db.drop();
      }
    });
  });
}

describe('a failed load', () => {
  it('names the read that failed', async (t) => {
    const db = await siteDatabase(t, 'ops', ['DROP TABLE xbt_client_whitelist']);
    if (db === undefined) return;
    try {
      await assert.rejects(loadGazelle(config(db.url, 'ops')), (e: Error) => {
        assert.ok(e instanceof GazelleLoadError, String(e));
        assert.match(e.message, /loading the client whitelist \(xbt_client_whitelist\)/);
        assert.match(e.message, /xbt_client_whitelist' doesn't exist/);
        return true;
      });
    } finally {
      await db.drop();
    }
  });

  it('never shows the database password', async (t) => {
    const db = await siteDatabase(t, 'ops');
    if (db === undefined) return;
    try {
      const u = new URL(db.url);
      u.password = 'hunter2-not-the-password';
      await assert.rejects(loadGazelle(config(u.toString(), 'ops')), (e: Error) => {
        assert.ok(e instanceof GazelleLoadError, String(e));
        assert.match(e.message, /loading users \(users_main\)/);
        assert.doesNotMatch(e.message, /hunter2/);
        return true;
      });
    } finally {
      await db.drop();
    }
  });
});
