/**
 * Cut-over from Ocelot: on privtrak's first start the counters Ocelot left in xbt_files_users
 * become the live peers' baselines, so a peer's first announce to privtrak (no `started`: the
 * client was already running) is counted from them instead of being an unknown peer's zero.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import { get, escapeBytes } from '../../support/http-client.js';
import { mysqlExec } from '../../support/mysql.js';
import { ALICE, BOB, IH, QB, SECRET, siteDatabase } from './harness.js';

describe('gazelle: adopting Ocelot\'s last peer counters', () => {
  it('a live peer\'s first announce is counted from its xbt_files_users row; a peer without one is not', async (t) => {
    const now = Math.floor(Date.now() / 1000);
    const db = await siteDatabase(t, 'ops', [
      `INSERT INTO xbt_files_users (uid, fid, active, uploaded, downloaded, remaining, peer_id, mtime, ip)
       VALUES (1, 10, 1, 1000, 200, 0, X'${QB.toString('hex')}', ${now - 600}, '10.0.0.1')`,
    ]);
    if (db === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-adopt-'));
    const tracker = new Tracker(validateConfig({
      log_level: 'silent', metrics_addr: '', http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, user_key_secret: join(dir, 'secret'),
      site: { name: 'gazelle', url: db.url, secret: SECRET },
      prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), flush_interval: '20ms' } }],
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    try {
      await tracker.start();
      const port = tracker.port('http');
      const announce = (passkey: string, up: number, down: number) => get(port, `/${passkey}/announce?info_hash=${escapeBytes(IH.normal)}`
        + `&peer_id=${escapeBytes(QB)}&port=6881&uploaded=${up}&downloaded=${down}&left=0`);
      await announce(ALICE, 1500, 200); // Alice's client, running before the cut-over
      await announce(BOB, 900, 0); // Bob's has no row: an unknown peer, counted from its next announce
      await tracker.stop();
      const [rows] = await mysqlExec(db.url, ['SELECT UserID, Uploaded, Downloaded FROM users_leech_stats ORDER BY UserID']) as [Array<Record<string, unknown>>];
      assert.deepEqual(rows.map((r) => [r['UserID'], Number(r['Uploaded']), Number(r['Downloaded'])]), [[1, 500, 0]], 'Alice counted from 1,000 / 200; Bob (unknown peer) nothing yet, so no row');
    } finally {
      await tracker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
