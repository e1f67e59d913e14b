/**
 * Real clients against the access hooks (user_approval + torrent_approval in whitelist mode,
 * file registry): an enabled user's aria2 downloads from another enabled user's aria2; a
 * disabled user's aria2 is refused and logs the tracker's reason; an unregistered torrent is
 * refused and aria2 logs that reason too. Bounded: the three clients run side by side.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { torrentFromRow } from '../../src/access/records.js';
import { Workspace, requireCommands, waitUntil } from './clients.js';

const SEEDER = '5eed5eed5eed5eed5eed5eed5eed5eed';
const LEECHER = '1eec1eec1eec1eec1eec1eec1eec1eec';
const BANNED = 'badbadbadbadbadbadbadbadbadbadba';

function mktorrent(url: string, file: string, out: string): void {
  const r = spawnSync('mktorrent', ['-p', '-l', '16', '-a', url, '-o', out, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
}

/** SHA-1 of the bencoded info dict (mktorrent writes keys sorted, so `info` is last). */
function infoHashOf(torrentPath: string): Buffer {
  const raw = readFileSync(torrentPath);
  return createHash('sha1').update(raw.subarray(raw.lastIndexOf('4:infod') + 6, raw.length - 1)).digest();
}

const logOf = (c: ChildProcess) => (c as ChildProcess & { logText: () => string }).logText();

describe('real clients through the access hooks', { timeout: 120_000 }, () => {
  it('an enabled user swarms; a disabled user and an unregistered torrent are refused with the reason aria2 logs', async (t) => {
    if (!requireCommands(t, ['aria2c', 'mktorrent'])) return;
    const ws = new Workspace();
    writeFileSync(ws.path('users.csv'), `passkey,site_id,enabled\n${SEEDER},1,true\n${LEECHER},2,true\n${BANNED},3,false\n`);
    writeFileSync(ws.path('torrents.csv'), 'info_hash,site_id\n');
    const config = validateConfig({
      announce_interval: '5s', min_announce_interval: '1s', metrics_addr: '', log_level: 'silent',
      http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
      registry: { source: 'file', users: ws.path('users.csv'), torrents: ws.path('torrents.csv'), poll_interval: '200ms' },
      prehooks: [{ name: 'user_approval' }, { name: 'torrent_approval', options: { mode: 'whitelist' } }],
    });
    const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    try {
      const url = (passkey: string) => `http://127.0.0.1:${tracker.port('http')}/${passkey}/announce`;
      const { payload, torrent: seedTorrent, name, seedDir } = ws.makeTorrent(url(SEEDER));
      const ih = infoHashOf(seedTorrent);
      // The site registers the torrent (written through to torrents.csv).
      await tracker.accessRegistry!.putTorrent(torrentFromRow({ info_hash: ih, site_id: 77 }));
      const leechTorrent = ws.path('leech.torrent');
      const bannedTorrent = ws.path('banned.torrent');
      mktorrent(url(LEECHER), join(seedDir, name), leechTorrent);
      mktorrent(url(BANNED), join(seedDir, name), bannedTorrent);
      assert.deepEqual([infoHashOf(leechTorrent), infoHashOf(bannedTorrent)], [ih, ih], 'one torrent, three passkeys');
      const otherDir = ws.path('other');
      mkdirSync(otherDir);
      writeFileSync(join(otherDir, 'other.bin'), randomBytes(64 * 1024));
      const unregistered = ws.path('unregistered.torrent');
      mktorrent(url(LEECHER), join(otherDir, 'other.bin'), unregistered);

      await ws.aria2(seedTorrent, seedDir, { seed: true, name: 'aria2-seed' });
      await waitUntil(() => (tracker.store.scrapeSwarm(ih) as { complete: number }).complete >= 1, 30_000, 'the seeder to announce');
      const leechDir = ws.path('leech');
      await ws.aria2(leechTorrent, leechDir, { seed: false, name: 'aria2-leech' });
      const disabled = await ws.aria2(bannedTorrent, ws.path('banned-dl'), { seed: false, name: 'aria2-disabled' });
      const unknown = await ws.aria2(unregistered, ws.path('unregistered-dl'), { seed: false, name: 'aria2-unregistered' });

      const ms = await ws.waitForFile(join(leechDir, name), payload, 90_000, 'aria2 download by an enabled user');
      t.diagnostic(`enabled user downloaded ${payload.length} bytes in ${ms} ms`);
      await waitUntil(() => logOf(disabled.proc).includes('Tracker returned failure reason: account disabled'), 30_000,
        `the disabled user's aria2 to log the refusal; its log:\n${logOf(disabled.proc).slice(-800)}`);
      await waitUntil(() => logOf(unknown.proc).includes('Tracker returned failure reason: torrent not registered'), 30_000,
        `aria2 to log the unregistered torrent's refusal; its log:\n${logOf(unknown.proc).slice(-800)}`);
      // The disabled user never entered the swarm: only the seeder and the enabled leecher are in it.
      const counts = tracker.store.scrapeSwarm(ih) as { complete: number; incomplete: number };
      assert.equal(counts.complete + counts.incomplete, 2, JSON.stringify(counts));
    } finally {
      await ws.close();
      await tracker.stop();
    }
  });
});
